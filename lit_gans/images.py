"""Image conversions shared by sampling, grids and metrics."""
from pathlib import Path

import torch
from torchvision.io import write_png
from torchvision.utils import make_grid


def to_uint8(images: torch.Tensor) -> torch.Tensor:
    """(N, C, H, W) float in [-1, 1] -> uint8 in [0, 255], rounded and clamped (x * 127.5 + 127.5)."""
    return (images.float() * 127.5 + 127.5).round().clamp(0, 255).to(torch.uint8)


def image_grid(images: torch.Tensor, nrow: int) -> torch.Tensor:
    """(N, 3, H, W) float in [-1, 1] -> one uint8 grid (3, H', W') with `nrow` images per row."""
    return make_grid(to_uint8(images.cpu()), nrow=nrow, padding=2, pad_value=0)


def save_png(image: torch.Tensor, path: str | Path) -> Path:
    """Write a uint8 (3, H, W) tensor as PNG, creating the folder; the file appears whole or not at all."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    write_png(image.cpu(), str(tmp))
    tmp.replace(path)
    return path
