"""WGAN-GP gradient penalty (Gulrajani et al. 2017) with ProGAN's target (Karras et al. 2018, Appendix A.1)."""
from typing import Callable

import torch


def gradient_penalty(discriminator: Callable, real: torch.Tensor, fake: torch.Tensor, labels: torch.Tensor | None,
                     u: torch.Tensor, target: float = 1.0, scaler=None) -> torch.Tensor:
    """mean((||grad_x D(x_hat)||_2 - target)^2) / target^2 with x_hat = lerp(real, fake, u), u: (N, 1, 1, 1).

    x_hat is formed in float32 (under autocast G's fakes may be bf16). The norm runs over each sample's C x H x W. With a GradScaler (16-mixed), the gradient is taken of the scaled
    output and unscaled afterwards, so it neither underflows nor skips the loss scale. Returns a float32 scalar.
    """
    x_hat = torch.lerp(real.detach().float(), fake.detach().float(), u.float()).requires_grad_(True)
    out = discriminator(x_hat, labels).float().sum()
    if scaler is not None:
        out = scaler.scale(out)
    grad, = torch.autograd.grad(out, x_hat, create_graph=True)
    grad = grad.float()
    if scaler is not None:
        grad = grad / scaler.get_scale()
    norm = grad.flatten(1).norm(dim=1)
    return ((norm - target) ** 2).mean() / target**2
