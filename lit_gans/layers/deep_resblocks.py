"""Bottleneck residual blocks of BigGAN-deep (Brock et al. 2019, Appendix B, Fig. 16)."""
import torch
import torch.nn as nn
import torch.nn.functional as F

from lit_gans.layers.conditional_batchnorm import ConditionalBatchNorm2d


class DeepGBlock(nn.Module):
    """CBN -> ReLU -> conv1x1 -> CBN -> ReLU -> [up x2] -> conv3x3 -> CBN -> ReLU -> conv3x3 -> CBN -> ReLU -> conv1x1.

    Hidden width is in_channels // 4. The skip keeps the first out_channels channels of x (channel dropping, no
    learned shortcut) and is upsampled with the main path. x: (N, C_in, H, W), c: (N, cond_dim)
    -> (N, C_out, 2H, 2W) when `upsample`, else (N, C_out, H, W). Requires C_out <= C_in.
    """

    def __init__(self, in_channels: int, out_channels: int, cond_dim: int = 0, num_classes: int = 0,
                 upsample: bool = True, bn_eps: float = 1e-5):
        super().__init__()
        if out_channels > in_channels:
            raise ValueError(f"a BigGAN-deep G block drops skip channels, so it cannot widen {in_channels} -> {out_channels}")
        hidden = in_channels // 4
        self.norm1 = ConditionalBatchNorm2d(in_channels, num_classes, cond_dim, eps=bn_eps)
        self.conv1 = nn.Conv2d(in_channels, hidden, 1)
        self.norm2 = ConditionalBatchNorm2d(hidden, num_classes, cond_dim, eps=bn_eps)
        self.conv2 = nn.Conv2d(hidden, hidden, 3, padding=1)
        self.norm3 = ConditionalBatchNorm2d(hidden, num_classes, cond_dim, eps=bn_eps)
        self.conv3 = nn.Conv2d(hidden, hidden, 3, padding=1)
        self.norm4 = ConditionalBatchNorm2d(hidden, num_classes, cond_dim, eps=bn_eps)
        self.conv4 = nn.Conv2d(hidden, out_channels, 1)
        self.out_channels, self.upsample = out_channels, upsample

    def forward(self, x: torch.Tensor, c: torch.Tensor | None = None) -> torch.Tensor:
        h = self.conv1(F.relu(self.norm1(x, c)))
        h = F.relu(self.norm2(h, c))
        skip = x[:, : self.out_channels]
        if self.upsample:
            h = F.interpolate(h, scale_factor=2, mode="nearest")
            skip = F.interpolate(skip, scale_factor=2, mode="nearest")
        h = self.conv2(h)
        h = self.conv3(F.relu(self.norm3(h, c)))
        h = self.conv4(F.relu(self.norm4(h, c)))
        return h + skip


class DeepDBlock(nn.Module):
    """ReLU -> conv1x1 -> ReLU -> conv3x3 -> ReLU -> conv3x3 -> ReLU -> [avgpool 2] -> conv1x1.

    Hidden width is out_channels // 4. The skip is [avgpool 2] and then, when channels grow, x concatenated with a
    1x1 conv of x giving the missing C_out - C_in channels. x: (N, C_in, H, W) -> (N, C_out, H/2, W/2) when
    `downsample`, else (N, C_out, H, W). Requires C_out >= C_in.
    """

    def __init__(self, in_channels: int, out_channels: int, downsample: bool = True):
        super().__init__()
        if out_channels < in_channels:
            raise ValueError(f"a BigGAN-deep D block concatenates its skip, so it cannot narrow {in_channels} -> {out_channels}")
        hidden = out_channels // 4
        self.conv1 = nn.Conv2d(in_channels, hidden, 1)
        self.conv2 = nn.Conv2d(hidden, hidden, 3, padding=1)
        self.conv3 = nn.Conv2d(hidden, hidden, 3, padding=1)
        self.conv4 = nn.Conv2d(hidden, out_channels, 1)
        self.shortcut = nn.Conv2d(in_channels, out_channels - in_channels, 1) if out_channels > in_channels else None
        self.downsample = downsample

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.conv1(F.relu(x))
        h = self.conv2(F.relu(h))
        h = F.relu(self.conv3(F.relu(h)))
        if self.downsample:
            h = F.avg_pool2d(h, 2)
            x = F.avg_pool2d(x, 2)
        if self.shortcut is not None:
            x = torch.cat([x, self.shortcut(x)], dim=1)
        return self.conv4(h) + x
