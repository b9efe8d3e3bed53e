"""Resolution pyramids of uint8 images: each level the 2x2 box filter of the uint8 level above, rounded half to
even, from the full resolution down to 4x4.

ProGAN's dataset tool differs slightly: it halves the unrounded float values and rounds only when it writes each
level. Rounding every level instead changes no level by more than 1 of 255 and is unbiased (from 32 px down,
about 16% of pixels differ by +-1), and each level stays a function of the stored level above.
"""
import numpy as np
import torch
import torch.nn.functional as F


def pyramid_resolutions(resolution: int) -> list[int]:
    """[resolution, resolution / 2, ..., 4]; `resolution` must be a power of two >= 4."""
    if resolution < 4 or resolution & (resolution - 1):
        raise ValueError(f"multi-resolution data needs a power-of-two resolution >= 4, got {resolution}")
    return [resolution >> i for i in range(resolution.bit_length() - 2)]


def box_downsample(images: torch.Tensor) -> torch.Tensor:
    """uint8 (N, C, H, W) -> uint8 (N, C, H/2, W/2): mean of each 2x2 block, rounded half to even."""
    return F.avg_pool2d(images.float(), 2).round_().to(torch.uint8)


def build_pyramid(images: torch.Tensor | np.ndarray) -> dict[int, torch.Tensor]:
    """uint8 (N, 3, R, R) -> {R: images, R/2: ..., 4: ...}, every level a rounded box filter of the one above."""
    level = torch.as_tensor(images)
    levels = {level.shape[-1]: level}
    for resolution in pyramid_resolutions(level.shape[-1])[1:]:
        level = box_downsample(level)
        levels[resolution] = level
    return levels


def fade(images: torch.Tensor, alpha: float) -> torch.Tensor:
    """ProGAN's real-image fade-in: lerp(up(down(x)), x, alpha) with 2x2 average pooling and nearest upsampling.

    images: float (N, C, H, W); alpha 1 returns the images unchanged, alpha 0 their half-resolution version.
    """
    if alpha >= 1:
        return images
    coarse = F.interpolate(F.avg_pool2d(images, 2), scale_factor=2, mode="nearest")
    return torch.lerp(coarse, images, alpha)
