"""The training objective: adversarial losses, regularisers and the augmentation slot, combined by `Objective`."""
from lit_gans.objective.ada import ADA
from lit_gans.objective.adversarial import (ADVERSARIAL_LOSSES, AdversarialLoss, Hinge, LeastSquares, NonSaturating,
                                            Wasserstein, adversarial_loss)
from lit_gans.objective.augment import Augment, Draws
from lit_gans.objective.component import Component, build
from lit_gans.objective.consistency import BalancedConsistency, LatentConsistency, LatentRepulsion
from lit_gans.objective.diffaugment import DiffAugment
from lit_gans.objective.objective import Objective
from lit_gans.objective.regularizers import Drift, GradientPenalty, LeCam, Orthogonal, R1, Regularizer, StepBatch

__all__ = ["ADA", "ADVERSARIAL_LOSSES", "AdversarialLoss", "Augment", "BalancedConsistency", "Component",
           "DiffAugment", "Draws", "Drift", "GradientPenalty", "Hinge", "LatentConsistency", "LatentRepulsion",
           "LeCam", "LeastSquares", "NonSaturating", "Objective", "Orthogonal", "R1", "Regularizer", "StepBatch",
           "Wasserstein", "adversarial_loss", "build"]
