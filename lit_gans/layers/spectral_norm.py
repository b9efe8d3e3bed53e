"""Spectral normalisation (Miyato et al. 2018) through torch's parametrization.

Networks are built from plain layers, initialised, and then normalised in one pass, so the power-iteration
vectors are estimated from the final initial weights.
"""
from typing import Iterator

import torch
import torch.nn as nn
from torch.nn.utils import parametrize
from torch.nn.utils.parametrizations import _SpectralNorm


class Float32SpectralNorm(_SpectralNorm):
    """torch's spectral-norm parametrization with the power iteration and sigma always in float32: under CUDA
    autocast, `torch.mv` would otherwise run in bf16/fp16 and sigma would carry its rounding into every weight."""

    def forward(self, weight: torch.Tensor) -> torch.Tensor:
        device = weight.device.type
        if not (torch.amp.is_autocast_available(device) and torch.is_autocast_enabled(device)):
            return super().forward(weight)
        with torch.autocast(device, enabled=False):
            return super().forward(weight.float()).to(weight.dtype)


def apply_spectral_norm(
    module: nn.Module,
    eps: float = 1e-8,
    types: tuple[type[nn.Module], ...] = (nn.Conv2d, nn.Linear, nn.Embedding),
) -> nn.Module:
    """Register spectral norm (1 power iteration per training forward, in float32) on the `weight` of every layer
    of `types`, as `torch.nn.utils.parametrizations.spectral_norm` does (same state-dict keys)."""
    for layer in module.modules():
        if isinstance(layer, types) and not parametrize.is_parametrized(layer, "weight"):
            parametrize.register_parametrization(
                layer, "weight", Float32SpectralNorm(layer.weight, n_power_iterations=1, dim=0, eps=eps))
    return module


def spectral_norm_layers(module: nn.Module) -> Iterator[tuple[str, nn.Module]]:
    """(name, layer) for every spectrally normalised layer below `module`."""
    for name, layer in module.named_modules():
        if parametrize.is_parametrized(layer, "weight"):
            yield name, layer


@torch.no_grad()
def spectral_norm_sigmas(module: nn.Module) -> dict[str, torch.Tensor]:
    """Estimated top singular value of every spectrally normalised weight below `module`, before normalisation.

    sigma = u^T W v with the power-iteration vectors of the parametrization: the value the layer divides by, and
    the quantity whose growth the BigGAN paper tracks as the signal of imminent collapse (Sec. 4.1). No power
    iteration is run, so training is not affected.
    """
    sigmas = {}
    for name, layer in spectral_norm_layers(module):
        parametrization = layer.parametrizations.weight[0]
        matrix = parametrization._reshape_weight_to_matrix(layer.parametrizations.weight.original)
        sigmas[name] = torch.dot(parametrization._u, torch.mv(matrix, parametrization._v))
    return sigmas
