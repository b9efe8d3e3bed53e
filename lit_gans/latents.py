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


TRUNCATION_STYLES = ("resample", "scale")


def sample_latents(n: int, z_dim: int, truncation: float | None = None, generator: torch.Generator | None = None,
                   device: torch.device | str = "cpu", style: str = "resample") -> torch.Tensor:
    """z: (n, z_dim) from N(0, I), or truncated when `truncation` is given, in one of two styles:

        resample   N(0, I) restricted to [-t, t] (BigGAN, Sec. 3.1)
        scale      t * (N(0, I) restricted to [-2, 2]): the TF-Hub BigGAN-deep convention, whose BatchNorm
                   statistics were tabulated for latents drawn this way
    """
    if style not in TRUNCATION_STYLES:
        raise ValueError(f"truncation style must be one of {TRUNCATION_STYLES}, got {style!r}")
    if truncation is None:
        return torch.randn(n, z_dim, generator=generator, device=device)
    if style == "scale":
        if truncation <= 0:
            raise ValueError(f"truncation must be positive, got {truncation}")
        return truncation * truncated_normal((n, z_dim), 2.0, generator, device)
    return truncated_normal((n, z_dim), truncation, generator, device)
