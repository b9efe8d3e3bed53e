"""The training objective: adversarial losses, regularisers and the augmentation slot, combined by `Objective`."""
from lit_gans.objective.adversarial import (ADVERSARIAL_LOSSES, AdversarialLoss, Hinge, LeastSquares, NonSaturating,
                                            Wasserstein, adversarial_loss)
from lit_gans.objective.augment import Augment
from lit_gans.objective.component import Component, build
from lit_gans.objective.objective import Objective
from lit_gans.objective.regularizers import Drift, GradientPenalty, Orthogonal, R1, Regularizer, StepBatch

__all__ = ["ADVERSARIAL_LOSSES", "AdversarialLoss", "Augment", "Component", "Drift", "GradientPenalty", "Hinge", "LeastSquares",
           "NonSaturating", "Objective", "Orthogonal", "R1", "Regularizer", "StepBatch", "Wasserstein",
           "adversarial_loss", "build"]
