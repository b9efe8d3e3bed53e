"""Adversarial losses: one small class per formulation, all called the same way.

Each takes discriminator logits (N,) and returns a scalar computed in float32:

    loss.d_real(D(x))     the discriminator's term on reals
    loss.d_fake(D(G(z)))  the discriminator's term on fakes
    loss.g(D(G(z)))       the generator's loss

    hinge  (Lim & Ye 2017; SAGAN, BigGAN):  L_D = E[relu(1 - D(x))] + E[relu(1 + D(G(z)))],  L_G = -E[D(G(z))]
    ns     (Goodfellow et al. 2014, non-saturating): L_D = E[softplus(-D(x))] + E[softplus(D(G(z)))],
           L_G = E[softplus(-D(G(z)))]
    wgan   (Arjovsky et al. 2017): L_D = E[D(G(z))] - E[D(x)],  L_G = -E[D(G(z))]
    ls     (Mao et al. 2017, least squares with 0-1 targets): L_D = E[(D(x) - 1)^2] / 2 + E[D(G(z))^2] / 2,
           L_G = E[(D(G(z)) - 1)^2] / 2
"""
import torch
import torch.nn.functional as F


class AdversarialLoss:
    """Base class; `name` is the key a config uses (`loss: hinge`)."""

    name = ""

    def d_real(self, logits: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def d_fake(self, logits: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def g(self, logits: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


class Hinge(AdversarialLoss):
    name = "hinge"

    def d_real(self, logits):
        return F.relu(1 - logits.float()).mean()

    def d_fake(self, logits):
        return F.relu(1 + logits.float()).mean()

    def g(self, logits):
        return -logits.float().mean()


class NonSaturating(AdversarialLoss):
    name = "ns"

    def d_real(self, logits):
        return F.softplus(-logits.float()).mean()

    def d_fake(self, logits):
        return F.softplus(logits.float()).mean()

    def g(self, logits):
        return F.softplus(-logits.float()).mean()


class Wasserstein(AdversarialLoss):
    name = "wgan"

    def d_real(self, logits):
        return -logits.float().mean()

    def d_fake(self, logits):
        return logits.float().mean()

    def g(self, logits):
        return -logits.float().mean()


class LeastSquares(AdversarialLoss):
    name = "ls"

    def d_real(self, logits):
        return (logits.float() - 1).square().mean() / 2

    def d_fake(self, logits):
        return logits.float().square().mean() / 2

    def g(self, logits):
        return (logits.float() - 1).square().mean() / 2


ADVERSARIAL_LOSSES: dict[str, type[AdversarialLoss]] = {cls.name: cls for cls in (Hinge, NonSaturating, Wasserstein, LeastSquares)}


def adversarial_loss(name: str) -> AdversarialLoss:
    """The loss registered under `name`; a clear error for an unknown one."""
    if name not in ADVERSARIAL_LOSSES:
        raise ValueError(f"unknown loss {name!r}; choose one of {tuple(ADVERSARIAL_LOSSES)}")
    return ADVERSARIAL_LOSSES[name]()
