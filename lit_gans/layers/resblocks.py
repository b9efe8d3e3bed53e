"""Residual blocks of the SAGAN/BigGAN generator and discriminator (BigGAN paper, Fig. 15)."""
import torch
import torch.nn as nn
import torch.nn.functional as F

from lit_gans.layers.conditional_batchnorm import ConditionalBatchNorm2d


class GBlock(nn.Module):
    """CBN -> ReLU -> up x2 -> conv3x3 -> CBN -> ReLU -> conv3x3, plus up x2 -> conv1x1 shortcut.

    x: (N, C_in, H, W), c: the condition of both CBNs (see `ConditionalBatchNorm2d`) -> (N, C_out, 2H, 2W)
    """

    def __init__(self, in_channels: int, out_channels: int, num_classes: int = 0, cond_dim: int = 0,
                 bn_eps: float = 1e-5):
        super().__init__()
        self.norm1 = ConditionalBatchNorm2d(in_channels, num_classes, cond_dim, eps=bn_eps)
        self.conv1 = nn.Conv2d(in_channels, out_channels, 3, padding=1)
        self.norm2 = ConditionalBatchNorm2d(out_channels, num_classes, cond_dim, eps=bn_eps)
        self.conv2 = nn.Conv2d(out_channels, out_channels, 3, padding=1)
        self.shortcut = nn.Conv2d(in_channels, out_channels, 1)

    def forward(self, x: torch.Tensor, c: torch.Tensor | None = None) -> torch.Tensor:
        h = F.interpolate(F.relu(self.norm1(x, c)), scale_factor=2, mode="nearest")
        h = self.conv2(F.relu(self.norm2(self.conv1(h), c)))
        return h + self.shortcut(F.interpolate(x, scale_factor=2, mode="nearest"))


class DBlock(nn.Module):
    """[ReLU] -> conv3x3 -> ReLU -> conv3x3 -> [avgpool 2], plus a shortcut.

    The first block of D skips the leading ReLU (its input is the image) and pools before its 1x1 shortcut conv;
    later blocks convolve then pool. The shortcut is learnable when channels change or the block downsamples,
    and the identity otherwise. The first conv maps to `hidden_channels` (default: `out_channels`; SN-GAN's
    STL-10 D keeps the input width). x: (N, C_in, H, W) -> (N, C_out, H/2, W/2) or (N, C_out, H, W).
    """

    def __init__(self, in_channels: int, out_channels: int, downsample: bool = True, preactivation: bool = True,
                 hidden_channels: int | None = None):
        super().__init__()
        hidden_channels = hidden_channels or out_channels
        self.conv1 = nn.Conv2d(in_channels, hidden_channels, 3, padding=1)
        self.conv2 = nn.Conv2d(hidden_channels, out_channels, 3, padding=1)
        learnable = in_channels != out_channels or downsample
        self.shortcut = nn.Conv2d(in_channels, out_channels, 1) if learnable else None
        self.downsample = downsample
        self.preactivation = preactivation

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = F.relu(x) if self.preactivation else x
        h = self.conv2(F.relu(self.conv1(h)))
        if self.downsample:
            h = F.avg_pool2d(h, 2)
        return h + self._shortcut(x)

    def _shortcut(self, x: torch.Tensor) -> torch.Tensor:
        if self.preactivation:
            x = self.shortcut(x) if self.shortcut is not None else x
            return F.avg_pool2d(x, 2) if self.downsample else x
        x = F.avg_pool2d(x, 2) if self.downsample else x
        return self.shortcut(x) if self.shortcut is not None else x
