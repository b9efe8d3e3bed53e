"""Latent and label sampling: reproducible per (seed, rank, step) streams, and the truncation trick."""
import numpy as np
import torch


def seeded_generator(*key: int, device: torch.device | str = "cpu") -> torch.Generator:
    """A torch.Generator seeded from an integer key such as (seed, rank, stream, step).

    Latents drawn this way are a pure function of the key: DDP ranks never repeat each other, and a resumed run
    draws exactly what the uninterrupted run would have drawn, with no RNG state to checkpoint.
    """
    state = int(np.random.SeedSequence([int(k) for k in key]).generate_state(1, dtype=np.uint64)[0])
    return torch.Generator(device=device).manual_seed(state & ((1 << 63) - 1))


def truncated_normal(shape: tuple[int, ...], threshold: float, generator: torch.Generator | None = None,
                     device: torch.device | str = "cpu") -> torch.Tensor:
    """Standard normal samples restricted to [-threshold, threshold] by resampling the values outside."""
    if threshold <= 0:
        raise ValueError(f"truncation threshold must be positive, got {threshold}")
    z = torch.randn(shape, generator=generator, device=device)
    outside = z.abs() > threshold
    while outside.any():
        z[outside] = torch.randn(int(outside.sum()), generator=generator, device=device)
        outside = z.abs() > threshold
    return z


def sample_latents(n: int, z_dim: int, truncation: float | None = None, generator: torch.Generator | None = None,
                   device: torch.device | str = "cpu") -> torch.Tensor:
    """z: (n, z_dim) from N(0, I), or from the truncated normal when `truncation` is given."""
    if truncation is None:
        return torch.randn(n, z_dim, generator=generator, device=device)
    return truncated_normal((n, z_dim), truncation, generator, device)
