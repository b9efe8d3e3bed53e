"""Pictures of the latent space: latent interpolation, class interpolation and truncation strips.

Every picture is a tensor (rows, columns, 3, H, W) in [-1, 1] from a GAN's `generator_ema` in eval mode:
- `latent_interpolation`: per row one class and two latents z_a, z_b, joined by spherical interpolation (slerp,
  as for Gaussian latents: the path keeps the norm typical of N(0, I); White 2016). The endpoints are exactly the
  images of `model.sample(2 * rows, y=..., truncation=..., seed=seed)`: z_a is sample 2r, z_b sample 2r + 1.
- `class_interpolation`: per row one z and two classes a, b; G gets the linear blend of their shared class
  embeddings, (1 - t) E[a] + t E[b] (BigGAN Fig. 8); needs a generator with a shared embedding (BigGAN,
  BigGAN-deep).
- `truncation_strip`: per row one z at increasing truncation thresholds (BigGAN Sec. 3.1); every threshold
  resamples only the values outside it, so the values within stay those of the same z (in the "scale" style of
  converted TF-Hub weights, the same z is scaled instead, and thresholds lie in (0, 1]).
`to_frames` turns a picture into video frames (one grid of the rows per column); `write_video` writes MP4 (through
imageio's ffmpeg plugin) or GIF.
"""
from pathlib import Path

import numpy as np
import torch

from lit_gans.images import image_grid
from lit_gans.latents import sample_latents, seeded_generator
from lit_gans.layers.truncation_stats import tabulated_norms

THRESHOLDS = (0.25, 0.5, 0.75, 1.0, 1.5, 2.0)  # the truncation strip's default thresholds
TABULATED_THRESHOLDS = (0.2, 0.4, 0.6, 0.8, 1.0)  # ... for generators with statistics tabulated over (0, 1]


def default_thresholds(model) -> tuple[float, ...]:
    return TABULATED_THRESHOLDS if tabulated_norms(model.generator_ema) else THRESHOLDS


def slerp(a: torch.Tensor, b: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """Spherical interpolation of a, b (D,) at t (T,) in [0, 1] -> (T, D); t = 0 gives a and t = 1 gives b exactly."""
    cosine = (a @ b / (a.norm() * b.norm())).clamp(-1, 1)
    angle = torch.arccos(cosine)
    t = t[:, None].to(a.dtype)
    if angle.abs() < 1e-6:  # parallel: the linear path
        path = (1 - t) * a + t * b
    else:
        path = (torch.sin((1 - t) * angle) * a + torch.sin(t * angle) * b) / torch.sin(angle)
    path[t[:, 0] == 0], path[t[:, 0] == 1] = a, b
    return path


def row_classes(model, rows: int, classes: list[int] | None, seed: int) -> torch.Tensor | None:
    """One class per row: `classes` cycled, or drawn from the seed; None for unconditional models."""
    if not model.num_classes:
        return None
    if classes:
        return torch.tensor(classes, dtype=torch.long).repeat(rows // len(classes) + 1)[:rows].to(model.device)
    return torch.randint(model.num_classes, (rows,), generator=seeded_generator(seed, 1), device="cpu").to(model.device)


@torch.no_grad()
def latent_interpolation(model, rows: int = 4, frames: int = 8, classes: list[int] | None = None, seed: int = 0,
                         truncation: float | None = None) -> torch.Tensor:
    """(rows, frames, 3, H, W): per row, slerp from sample 2r to sample 2r + 1 of `model.sample(2 * rows, ...)`."""
    labels = row_classes(model, rows, classes, seed)
    pairs = None if labels is None else labels.repeat_interleave(2)
    z, pairs = model.sample_inputs(2 * rows, y=pairs, truncation=truncation, seed=seed)
    t = torch.linspace(0, 1, frames, device=z.device)
    path = torch.cat([slerp(z[2 * r], z[2 * r + 1], t) for r in range(rows)])
    path_labels = None if labels is None else labels.repeat_interleave(frames)
    return model.generate(path, path_labels, truncation=truncation).unflatten(0, (rows, frames))


@torch.no_grad()
def class_interpolation(model, rows: int = 4, frames: int = 8, classes: list[int] | None = None, seed: int = 0,
                        truncation: float | None = None) -> torch.Tensor:
    """(rows, frames, 3, H, W): per row one z, G's shared class embedding blended linearly from class a to b.
    `classes` gives the (a, b) pairs in turn, e.g. [1, 7, 3, 8] for rows 1 -> 7 and 3 -> 8 (default: drawn)."""
    generator = model.generator_ema
    embedding = getattr(generator, "shared", None)
    if not model.num_classes or embedding is None:
        raise ValueError(f"class interpolation needs a class-conditional generator with a shared class embedding "
                         f"(BigGAN, BigGAN-deep); {type(generator).__name__} has "
                         f"{'no classes' if not model.num_classes else 'per-class BatchNorm tables instead'}")
    if classes is not None and len(classes) % 2:
        raise ValueError(f"class interpolation takes pairs of classes (a, b, a, b, ...), got {classes}")
    ends = row_classes(model, 2 * rows, classes, seed).view(rows, 2)
    z, _ = model.sample_inputs(rows, y=ends[:, 0], truncation=truncation, seed=seed)
    t = torch.linspace(0, 1, frames, device=z.device)[:, None]
    blends = torch.cat([(1 - t) * embedding.weight[a] + t * embedding.weight[b] for a, b in ends.tolist()])
    return model.generate(z.repeat_interleave(frames, dim=0), blends, generator,
                          truncation=truncation).unflatten(0, (rows, frames))


@torch.no_grad()
def truncation_strip(model, rows: int = 4, thresholds: list[float] | None = None, classes: list[int] | None = None,
                     seed: int = 0) -> torch.Tensor:
    """(rows, len(thresholds), 3, H, W): per row one z (from `seed`) truncated at each threshold in turn."""
    thresholds = thresholds or default_thresholds(model)
    labels = row_classes(model, rows, classes, seed)
    columns = []
    for threshold in thresholds:
        z = sample_latents(rows, model.z_dim, threshold, seeded_generator(seed, 2, device=model.device), model.device,
                           model.truncation_style)
        columns.append(model.generate(z, labels, truncation=threshold))
    return torch.stack(columns, dim=1)


def sheet(picture: torch.Tensor) -> torch.Tensor:
    """(rows, columns, 3, H, W) in [-1, 1] -> one uint8 grid (3, H', W'), a row of the grid per row."""
    return image_grid(picture.flatten(0, 1), nrow=picture.shape[1])


def to_frames(picture: torch.Tensor) -> np.ndarray:
    """(rows, columns, 3, H, W) -> uint8 video frames (columns, H', W', 3), frame k the grid of column k's images
    side by side; sizes are even (as the H.264 encoder needs)."""
    frames = [image_grid(picture[:, k], nrow=picture.shape[0]).permute(1, 2, 0).numpy() for k in range(picture.shape[1])]
    return np.stack(frames)


def write_video(frames: np.ndarray, path: str | Path, fps: int = 12) -> Path:
    """Write uint8 frames (T, H, W, 3) as MP4 (H.264, through imageio's ffmpeg plugin) or GIF, by the suffix; the
    file appears whole or not at all."""
    import imageio.v2 as imageio

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f"partial-{path.name}")
    if path.suffix == ".mp4":
        with imageio.get_writer(partial, format="FFMPEG", fps=fps, codec="libx264", quality=9, macro_block_size=2,
                                pixelformat="yuv420p") as writer:
            for frame in frames:
                writer.append_data(frame)
    elif path.suffix == ".gif":
        imageio.mimsave(partial, list(frames), format="GIF", duration=1000 / fps, loop=0)
    else:
        raise ValueError(f"videos are written as .mp4 or .gif, got {path.name}")
    partial.replace(path)
    return path


PICTURES = ("latent", "class", "truncation")


def pictures(model, kinds: list[str] | None = None, frames: int = 8, rows: int = 4, classes: list[int] | None = None,
             seed: int = 0, truncation: float | None = None, thresholds: list[float] | None = None,
             video: bool = False) -> dict[str, torch.Tensor]:
    """{kind: (rows, frames, 3, H, W)} for `kinds` (default: every kind the model supports). With `video`, the
    truncation strip sweeps `frames` thresholds evenly from the first threshold to the last."""
    unknown = [kind for kind in kinds or [] if kind not in PICTURES]
    if unknown:
        raise ValueError(f"unknown picture {unknown[0]!r}; choose from {', '.join(PICTURES)}")
    if kinds is None:
        kinds = [kind for kind in PICTURES if kind != "class" or has_shared_embedding(model)]
    made = {}
    for kind in kinds:
        if kind == "latent":
            made[kind] = latent_interpolation(model, rows, frames, classes, seed, truncation)
        elif kind == "class":
            made[kind] = class_interpolation(model, rows, frames, classes, seed, truncation)
        else:
            steps = list(thresholds or default_thresholds(model))
            if video:
                steps = torch.linspace(steps[0], steps[-1], frames).tolist()
            made[kind] = truncation_strip(model, rows, steps, classes, seed)
    return made


def has_shared_embedding(model) -> bool:
    return bool(model.num_classes) and getattr(model.generator_ema, "shared", None) is not None
