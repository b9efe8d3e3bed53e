"""Penalties on the discriminator's input gradient: WGAN-GP (Gulrajani et al. 2017) with ProGAN's target (Karras et
al. 2018, Appendix A.1) and R1 (Mescheder et al. 2018)."""
from typing import Callable

import torch


def input_gradient(discriminator: Callable, x: torch.Tensor, labels: torch.Tensor | None, scaler=None) -> torch.Tensor:
    """d sum(D(x)) / dx (N, C, H, W) in float32, with a graph (differentiable w.r.t. D's weights).

    With a GradScaler (16-mixed), the gradient is taken of the scaled output and unscaled afterwards, so it neither
    underflows nor skips the loss scale.
    """
    x = x.detach().float().requires_grad_(True)
    out = discriminator(x, labels).float().sum()
    if scaler is not None:
        out = scaler.scale(out)
    grad, = torch.autograd.grad(out, x, create_graph=True)
    grad = grad.float()
    return grad / scaler.get_scale() if scaler is not None else grad


def gradient_penalty(discriminator: Callable, real: torch.Tensor, fake: torch.Tensor, labels: torch.Tensor | None,
                     u: torch.Tensor, target: float = 1.0, scaler=None) -> torch.Tensor:
    """mean((||grad_x D(x_hat)||_2 - target)^2) / target^2 with x_hat = lerp(real, fake, u), u: (N, 1, 1, 1).

    x_hat is formed in float32 (under autocast G's fakes may be bf16). The norm runs over each sample's C x H x W.
    Returns a float32 scalar.
    """
    x_hat = torch.lerp(real.detach().float(), fake.detach().float(), u.float())
    norm = input_gradient(discriminator, x_hat, labels, scaler).flatten(1).norm(dim=1)
    return ((norm - target) ** 2).mean() / target**2


def r1_penalty(discriminator: Callable, real: torch.Tensor, labels: torch.Tensor | None, scaler=None) -> torch.Tensor:
    """mean(||grad_x D(x)||_2^2) over the real batch (without the gamma / 2 factor). Returns a float32 scalar."""
    return input_gradient(discriminator, real, labels, scaler).flatten(1).square().sum(dim=1).mean()
