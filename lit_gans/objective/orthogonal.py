"""BigGAN's orthogonal regularisation (Brock et al. 2019, Sec. 3.1, Eq. 3), off-diagonal variant.

    R(W) = strength * || W W^T * (1 - I) ||_F^2,    W: (out, in * kh * kw) with filters as rows

It pushes filters towards mutual orthogonality without constraining their norms. The gradient
4 * strength * (W W^T * (1 - I)) W is added to `.grad` after the backward pass and before the optimizer step, so
no extra graph is built. (BigGAN-PyTorch's `utils.ortho` adds half this gradient, i.e. it equals this function
at strength / 2.)
"""
from typing import Iterable

import torch


def ortho_penalty(weight: torch.Tensor) -> torch.Tensor:
    """|| W W^T * (1 - I) ||_F^2 of one weight, flattened to (out, -1)."""
    w = weight.flatten(1)
    gram = w @ w.T
    return (gram - torch.diag(torch.diagonal(gram))).square().sum()


@torch.no_grad()
def add_ortho_gradient(parameters: Iterable[torch.Tensor], strength: float) -> torch.Tensor:
    """Add strength * d ortho_penalty / dW to the `.grad` of each parameter; return the summed penalty (a scalar).

    Parameters without a gradient are skipped. Computed in float32 whatever the parameter dtype.
    """
    total = None
    for p in parameters:
        if p.grad is None:
            continue
        w = p.detach().flatten(1).float()
        gram = w @ w.T
        off_diagonal = gram - torch.diag(torch.diagonal(gram))
        p.grad.add_((4 * strength * off_diagonal @ w).view_as(p).to(p.grad.dtype))
        penalty = off_diagonal.square().sum()
        total = penalty if total is None else total + penalty
    return strength * total if total is not None else torch.zeros(())
