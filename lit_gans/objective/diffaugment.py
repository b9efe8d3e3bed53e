"""DiffAugment (Zhao et al. 2020, "Differentiable Augmentation for Data-Efficient GAN Training").

Every image D sees, real or fake, in both steps, goes through the same random, differentiable transforms, always
applied (no probability), with parameters drawn per image:
    color        brightness + U(-0.5, 0.5); saturation x U(0, 2) about the per-pixel channel mean;
                 contrast x U(0.5, 1.5) about the image mean
    translation  integer shifts of up to int(H * 1/8 + 0.5) px in x and y, zeros shifted in
    cutout       a zeroed square of int(H / 2 + 0.5) px, its centre uniform over the image, clipped at the borders
The paper recommends all three for datasets of about a hundred images; its BigGAN CIFAR-10 scripts use
"translation,cutout", and the authors use translation alone for ImageNet.
"""
import torch

from lit_gans.objective.augment import Augment, Draws

POLICIES = ("color", "translation", "cutout")


def adjust_color(x: torch.Tensor, draws: Draws) -> torch.Tensor:
    """Brightness, saturation and contrast, in that order; x (N, C, H, W)."""
    n, kw = x.shape[0], dict(device=x.device)
    x = x + (draws.uniform(n, 1, 1, 1, **kw) - 0.5).to(x.dtype)
    mean = x.mean(dim=1, keepdim=True)
    x = (x - mean) * (2 * draws.uniform(n, 1, 1, 1, **kw)).to(x.dtype) + mean
    mean = x.mean(dim=(1, 2, 3), keepdim=True)
    return (x - mean) * (draws.uniform(n, 1, 1, 1, **kw) + 0.5).to(x.dtype) + mean


def translate(x: torch.Tensor, draws: Draws, ratio: float = 0.125, padding: str = "constant") -> torch.Tensor:
    """Shift each image by whole pixels, up to int(size * ratio + 0.5) in each direction, filling with zeros
    (`padding="constant"`) or the reflected image ("reflect")."""
    n, _, h, w = x.shape
    sy, sx = int(h * ratio + 0.5), int(w * ratio + 0.5)
    ty = draws.integers(n, -sy, sy + 1, 1, 1, device=x.device)
    tx = draws.integers(n, -sx, sx + 1, 1, 1, device=x.device)
    rows = torch.arange(h, device=x.device).view(1, h, 1) - ty + sy  # source row in the zero-padded image
    cols = torch.arange(w, device=x.device).view(1, 1, w) - tx + sx
    padded = torch.nn.functional.pad(x, (sx, sx, sy, sy), mode=padding).permute(0, 2, 3, 1)  # (N, H + 2sy, W + 2sx, C)
    batch = torch.arange(n, device=x.device).view(n, 1, 1)
    return padded[batch, rows, cols].permute(0, 3, 1, 2)


def cutout(x: torch.Tensor, draws: Draws, ratio: float = 0.5) -> torch.Tensor:
    """Zero a square of int(size * ratio + 0.5) px per image, its centre uniform over the image, clipped."""
    n, _, h, w = x.shape
    ch, cw = int(h * ratio + 0.5), int(w * ratio + 0.5)
    cy = draws.integers(n, 0, h + (1 - ch % 2), 1, device=x.device)
    cx = draws.integers(n, 0, w + (1 - cw % 2), 1, device=x.device)
    rows = torch.arange(h, device=x.device).view(1, h) - (cy - ch // 2)  # inside the square: 0 <= rows < ch
    cols = torch.arange(w, device=x.device).view(1, w) - (cx - cw // 2)
    inside = ((rows >= 0) & (rows < ch)).unsqueeze(2) & ((cols >= 0) & (cols < cw)).unsqueeze(1)  # (N, H, W)
    return x * (~inside).unsqueeze(1).to(x.dtype)


class DiffAugment(Augment):
    """DiffAugment with a comma-separated `policy` of "color", "translation" and "cutout" (applied in that
    order); `translation_ratio` and `cutout_ratio` are the paper's 1/8 and 1/2 of the image size. An empty policy
    is the identity."""

    def __init__(self, policy: str = "color,translation,cutout", translation_ratio: float = 0.125,
                 cutout_ratio: float = 0.5):
        super().__init__()
        ops = [op.strip() for op in policy.split(",") if op.strip()]
        unknown = [op for op in ops if op not in POLICIES]
        if unknown:
            raise ValueError(f"DiffAugment: unknown policy {unknown}; choose from {POLICIES}, comma-separated")
        if not 0 <= translation_ratio < 0.5 or not 0 <= cutout_ratio <= 1:
            raise ValueError("DiffAugment: translation_ratio must lie in [0, 0.5) and cutout_ratio in [0, 1], got "
                             f"{translation_ratio} and {cutout_ratio}")
        self.policy, self.translation_ratio, self.cutout_ratio = policy, translation_ratio, cutout_ratio
        self.ops = sorted(set(ops), key=POLICIES.index)

    def forward(self, images: torch.Tensor, draws: Draws | None = None) -> torch.Tensor:
        draws = draws or Draws()
        for op in self.ops:
            if op == "color":
                images = adjust_color(images, draws)
            elif op == "translation":
                images = translate(images, draws, self.translation_ratio)
            else:
                images = cutout(images, draws, self.cutout_ratio)
        return images
