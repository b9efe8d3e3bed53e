"""Consistency regularisation of the discriminator (Zhao et al. 2021, "Improved Consistency Regularization for
GANs"): bCR and zCR. Squared errors are means over the logits, as in the reference code, so the weights keep the
published meaning.

    bCR   D: real_weight * ||D(x) - D(T(x))||^2 + fake_weight * ||D(G(z)) - D(T(G(z)))||^2,
          T a random x-flip (probability 1/2) and integer translation of up to 1/8 of the size, reflect-padded
    zCR   D: weight * ||D(G(z)) - D(G(z + radius * n))||^2        (`LatentConsistency`)
          G: -weight * ||G(z) - G(z + radius * n)||^2             (`LatentRepulsion`: a fake's neighbours differ)
Defaults are StudioGAN's ICR configs (bCR 10 / 10; zCR radius 0.05, D 20, G 0.5; the paper: radius 0.03, D 5).
T's flips and shifts, and the latent perturbations n, are keyed draws, so a resumed run repeats them.
"""
import torch
import torch.nn.functional as F

from lit_gans.objective.augment import Draws
from lit_gans.objective.diffaugment import translate
from lit_gans.objective.regularizers import Regularizer, StepBatch

CONSISTENCY_STREAM = 5  # latent stream of bCR's transforms and zCR's perturbations
BCR_REAL, BCR_FAKE, ZCR_D, ZCR_G = range(4)


def _draws(batch: StepBatch, purpose: int) -> Draws:
    module = batch.module
    rank, world = module.rank_layout()
    return Draws((module.seed, CONSISTENCY_STREAM, purpose, batch.index), rank, world, batch.fake.device)


def flip_and_translate(images: torch.Tensor, draws: Draws, ratio: float = 0.125) -> torch.Tensor:
    """CR's transform T: mirror x with probability 1/2, then shift by whole pixels (reflect padding)."""
    flip = draws.uniform(len(images), 1, 1, 1, device=images.device) < 0.5
    images = torch.where(flip, images.flip(3), images)
    return translate(images, draws, ratio, padding="reflect")


def perturbed_latents(batch: StepBatch, purpose: int, radius: float) -> torch.Tensor:
    z = batch.z
    if z is None:
        raise ValueError("zCR needs the latents of the fakes; this training step did not pass them to the objective")
    return z + radius * _draws(batch, purpose).normal(len(z), z.shape[1], device=z.device).to(z.dtype)


class BalancedConsistency(Regularizer):
    """bCR: D's logits agree on reals and fakes and their flipped, shifted copies."""

    name, phase = "bcr", "d"

    def __init__(self, real_weight: float = 10.0, fake_weight: float = 10.0, translation_ratio: float = 0.125):
        super().__init__(1.0)
        if real_weight < 0 or fake_weight < 0:
            raise ValueError(f"BalancedConsistency: weights must be non-negative, got {real_weight}, {fake_weight}")
        self.real_weight, self.fake_weight, self.translation_ratio = float(real_weight), float(fake_weight), translation_ratio

    def penalty(self, batch: StepBatch) -> torch.Tensor:
        total = batch.logits_real.new_zeros((), dtype=torch.float32)
        for weight, images, labels, logits, purpose in (
                (self.real_weight, batch.real, batch.y_real, batch.logits_real, BCR_REAL),
                (self.fake_weight, batch.fake, batch.y_fake, batch.logits_fake, BCR_FAKE)):
            if weight:
                moved = flip_and_translate(images.detach(), _draws(batch, purpose), self.translation_ratio)
                total = total + weight * F.mse_loss(batch.discriminate(moved, labels).float(), logits.float())
        return total


class LatentConsistency(Regularizer):
    """zCR's D term: D scores G(z) and G(z + radius * n) alike."""

    name, phase = "zcr_d", "d_fake"

    def __init__(self, weight: float = 20.0, radius: float = 0.05):
        super().__init__(weight)
        self.radius = float(radius)

    def penalty(self, batch: StepBatch) -> torch.Tensor:
        generator = batch.module.generator
        with torch.no_grad():
            nearby = generator(perturbed_latents(batch, ZCR_D, self.radius), batch.y_fake)
        return F.mse_loss(batch.discriminate(nearby, batch.y_fake).float(), batch.logits_fake.float())


class LatentRepulsion(Regularizer):
    """zCR's G term: G(z) and G(z + radius * n) differ (the penalty is minus their mean squared difference)."""

    name, phase = "zcr_g", "g"

    def __init__(self, weight: float = 0.5, radius: float = 0.05):
        super().__init__(weight)
        self.radius = float(radius)

    def penalty(self, batch: StepBatch) -> torch.Tensor:
        nearby = batch.module.generator(perturbed_latents(batch, ZCR_G, self.radius), batch.y_fake)
        return -F.mse_loss(nearby.float(), batch.fake.float())
