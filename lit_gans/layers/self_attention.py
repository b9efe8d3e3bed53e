"""Self-attention block of SAGAN (Zhang et al. 2019, Sec. 3)."""
import torch
import torch.nn as nn
import torch.nn.functional as F


class SelfAttention(nn.Module):
    """Non-local attention over all positions, added back with a learned gain `gamma` that starts at 0.

    theta, phi: 1x1 conv C -> C/8; g: 1x1 conv C -> C/2; phi and g are 2x2 max-pooled; out: 1x1 conv C/2 -> C.
    x: (N, C, H, W) -> (N, C, H, W); H and W must be even.
    """

    def __init__(self, channels: int):
        super().__init__()
        if channels % 8:
            raise ValueError(f"self-attention needs a channel count divisible by 8, got {channels}")
        self.theta = nn.Conv2d(channels, channels // 8, 1, bias=False)
        self.phi = nn.Conv2d(channels, channels // 8, 1, bias=False)
        self.g = nn.Conv2d(channels, channels // 2, 1, bias=False)
        self.out = nn.Conv2d(channels // 2, channels, 1, bias=False)
        self.gamma = nn.Parameter(torch.zeros(()))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, c, h, w = x.shape
        theta = self.theta(x).flatten(2)                        # (N, C/8, HW)
        phi = F.max_pool2d(self.phi(x), 2).flatten(2)           # (N, C/8, HW/4)
        g = F.max_pool2d(self.g(x), 2).flatten(2)               # (N, C/2, HW/4)
        attention = torch.softmax(theta.transpose(1, 2) @ phi, dim=-1)  # (N, HW, HW/4)
        o = (g @ attention.transpose(1, 2)).view(n, c // 2, h, w)
        return x + self.gamma * self.out(o)
