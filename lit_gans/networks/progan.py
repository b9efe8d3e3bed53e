"""ProGAN generator and discriminator (Karras, Aila, Laine & Lehtinen, "Progressive Growing of GANs for Improved
Quality, Stability, and Variation", ICLR 2018, arXiv:1710.10196, Table 2 and Appendix A).

Every stage from 4x4 to the final resolution is built up front; `set_stage(resolution, alpha)` selects the active
one, so growing never rebuilds optimizers or the DDP wrapper, and inactive stages simply receive no gradient. The
stage lives in buffers (`stage_resolution`, `alpha`), so checkpoints and EMA copies carry it.

Channels of the block at resolution r: min(2 * fmap_base / r, fmap_max) (512 up to 32 px, then 256, 128, 64, 32, 16
at 1024 with the defaults). Equalized learning rate everywhere (gain sqrt(2); 1 for toRGB and D's output; sqrt(2)/4
for G's input layer), leaky ReLU 0.2, pixel norm after every G layer, minibatch stddev at D's 4x4 block, nearest
upsampling, average-pool downsampling, linear toRGB output. At 1024 px the networks active at full resolution have
23,071,507 (G) and 23,077,137 (D) parameters, the paper's 23.1M; with every toRGB / fromRGB kept, 23,079,115 and
23,087,249.

Two variants read the checkpoints of pytorch_GAN_zoo's PGAN (`lit-gans convert --source gan-zoo-pgan`):
`pixel_bias` (G's input layer has one bias per channel and pixel of the 4x4 map instead of one per channel) and
`mbstd_style: gan-zoo` (consecutive groups and the unbiased deviation, `lit_gans.layers.minibatch_stddev`).

Class conditioning (optional, a choice of this package): the one-hot label is concatenated to z before the pixel
norm, as the official code does, and D uses a projection head instead of the official AC-GAN classifier.
"""
import math

import torch
import torch.nn as nn
import torch.nn.functional as F

from lit_gans.layers import EqualizedConv2d, EqualizedLinear, mbstd_batch_multiple, minibatch_stddev, pixel_norm
from lit_gans.parameters import count_parameters


def progan_channels(resolution: int, fmap_base: int = 8192, fmap_max: int = 512) -> int:
    """Feature maps of the block at `resolution`: min(fmap_base / 2^(log2(resolution) - 1), fmap_max)."""
    return min(2 * fmap_base // resolution, fmap_max)


def stage_resolutions(resolution: int) -> list[int]:
    if resolution < 4 or resolution & (resolution - 1):
        raise ValueError(f"ProGAN needs a power-of-two resolution >= 4, got {resolution}")
    return [4 << i for i in range(resolution.bit_length() - 2)]


def lrelu(x: torch.Tensor) -> torch.Tensor:
    return F.leaky_relu(x, 0.2)


class Staged(nn.Module):
    """Holds the active stage as buffers: `stage_resolution` (int) and `alpha` (float, 1 outside a fade-in)."""

    def __init__(self, resolution: int):
        super().__init__()
        self.resolutions = stage_resolutions(resolution)
        self.register_buffer("stage_resolution", torch.tensor(resolution))
        self.register_buffer("alpha", torch.tensor(1.0))

    def set_stage(self, resolution: int, alpha: float = 1.0) -> None:
        if resolution not in self.resolutions:
            raise ValueError(f"stage resolution {resolution} is not one of {self.resolutions}")
        if not 0 <= alpha <= 1:
            raise ValueError(f"alpha must lie in [0, 1], got {alpha}")
        self.stage_resolution.fill_(resolution)
        self.alpha.fill_(alpha)

    def stage(self) -> tuple[int, float]:
        resolution, alpha = int(self.stage_resolution), float(self.alpha)
        return resolution, (1.0 if resolution == 4 else alpha)


class ProGANGenerator(Staged):
    """z: (N, z_dim), y: (N,) int64 or None -> images (N, 3, r, r), r the active stage's resolution (not clamped).

    During a fade-in to r: lerp(up(toRGB_{r/2}(h_{r/2})), toRGB_r(h_r), alpha).
    """

    def __init__(self, resolution: int = 1024, z_dim: int = 512, num_classes: int = 0, fmap_base: int = 8192,
                 fmap_max: int = 512, pixel_bias: bool = False):
        super().__init__(resolution)
        self.z_dim, self.num_classes = z_dim, num_classes
        ch = {r: progan_channels(r, fmap_base, fmap_max) for r in self.resolutions}
        self.input = EqualizedLinear(z_dim + num_classes, ch[4] * 16, gain=math.sqrt(2) / 4, bias=False)
        # one bias per channel of the 4x4 map (official), or per channel and pixel (pytorch_GAN_zoo)
        self.input_bias = nn.Parameter(torch.zeros((ch[4], 4, 4) if pixel_bias else ch[4]))
        self.conv4 = EqualizedConv2d(ch[4], ch[4], 3)
        self.blocks = nn.ModuleDict({
            str(r): nn.ModuleList([EqualizedConv2d(ch[r // 2], ch[r], 3), EqualizedConv2d(ch[r], ch[r], 3)])
            for r in self.resolutions[1:]
        })
        self.to_rgb = nn.ModuleDict({str(r): EqualizedConv2d(ch[r], 3, 1, gain=1.0) for r in self.resolutions})

    def forward(self, z: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        resolution, alpha = self.stage()
        if self.num_classes:
            z = torch.cat([z, F.one_hot(y, self.num_classes).to(z.dtype)], dim=1)
        bias = self.input_bias if self.input_bias.dim() == 3 else self.input_bias[:, None, None]
        h = self.input(pixel_norm(z)).view(z.shape[0], -1, 4, 4) + bias
        h = pixel_norm(lrelu(h))
        h = pixel_norm(lrelu(self.conv4(h)))
        previous = h
        for r in self.resolutions[1:]:
            if r > resolution:
                break
            previous = h
            up = F.interpolate(h, scale_factor=2, mode="nearest")
            conv1, conv2 = self.blocks[str(r)]
            h = pixel_norm(lrelu(conv2(pixel_norm(lrelu(conv1(up))))))
        images = self.to_rgb[str(resolution)](h)
        if alpha < 1:
            coarse = F.interpolate(self.to_rgb[str(resolution // 2)](previous), scale_factor=2, mode="nearest")
            images = torch.lerp(coarse, images, alpha)
        return images

    def parameters_at(self, resolution: int) -> int:
        """Parameters of the network active at `resolution`, with that stage's toRGB only (paper Table 2)."""
        shared = self.input.weight.numel() + self.input_bias.numel() + count_parameters(self.conv4)
        blocks = sum(count_parameters(self.blocks[str(r)]) for r in self.resolutions[1:] if r <= resolution)
        return shared + blocks + count_parameters(self.to_rgb[str(resolution)])


class ProGANDiscriminator(Staged):
    """images: (N, 3, r, r) at the active stage's resolution, y: (N,) int64 or None -> scores (N,).

    During a fade-in to r: lerp(fromRGB_{r/2}(avgpool(x)), block_r(fromRGB_r(x)), alpha), then the lower blocks.
    """

    batch_dependent = True  # minibatch standard deviation: reals and fakes go through D in separate forwards

    def __init__(self, resolution: int = 1024, num_classes: int = 0, fmap_base: int = 8192, fmap_max: int = 512,
                 mbstd_group_size: int = 4, mbstd_style: str = "official"):
        super().__init__(resolution)
        self.num_classes, self.mbstd_group_size, self.mbstd_style = num_classes, mbstd_group_size, mbstd_style
        self.batch_multiple = mbstd_batch_multiple(mbstd_group_size, mbstd_style)  # the statistic sees no labels
        ch = {r: progan_channels(r, fmap_base, fmap_max) for r in self.resolutions}
        self.from_rgb = nn.ModuleDict({str(r): EqualizedConv2d(3, ch[r], 1) for r in self.resolutions})
        self.blocks = nn.ModuleDict({
            str(r): nn.ModuleList([EqualizedConv2d(ch[r], ch[r], 3), EqualizedConv2d(ch[r], ch[r // 2], 3)])
            for r in self.resolutions[1:]
        })
        self.conv4 = EqualizedConv2d(ch[4] + 1, ch[4], 3)
        self.dense = EqualizedLinear(ch[4] * 16, ch[4])
        self.out = EqualizedLinear(ch[4], 1, gain=1.0)
        self.embed = nn.Embedding(num_classes, ch[4]) if num_classes else None

    def block(self, r: int, h: torch.Tensor) -> torch.Tensor:
        conv1, conv2 = self.blocks[str(r)]
        return F.avg_pool2d(lrelu(conv2(lrelu(conv1(h)))), 2)

    def forward(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        resolution, alpha = self.stage()
        if x.shape[-1] != resolution:
            raise ValueError(f"D is at the {resolution} px stage but got {x.shape[-1]} px images")
        h = lrelu(self.from_rgb[str(resolution)](x))
        if resolution > 4:
            h = self.block(resolution, h)
            if alpha < 1:
                skip = lrelu(self.from_rgb[str(resolution // 2)](F.avg_pool2d(x, 2)))
                h = torch.lerp(skip, h, alpha)
            for r in reversed(self.resolutions[1:]):
                if r < resolution:
                    h = self.block(r, h)
        h = lrelu(self.conv4(minibatch_stddev(h, self.mbstd_group_size, style=self.mbstd_style)))
        h = lrelu(self.dense(h.flatten(1)))
        out = self.out(h).squeeze(1)
        if self.embed is not None:
            out = out + (self.embed(y) * h).sum(dim=1)
        return out

    def parameters_at(self, resolution: int) -> int:
        """Parameters of the network active at `resolution`, with that stage's fromRGB only (paper Table 2)."""
        head = sum(count_parameters(m) for m in (self.conv4, self.dense, self.out, self.embed))
        blocks = sum(count_parameters(self.blocks[str(r)]) for r in self.resolutions[1:] if r <= resolution)
        return head + blocks + count_parameters(self.from_rgb[str(resolution)])
