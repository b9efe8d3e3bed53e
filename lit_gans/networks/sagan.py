"""SAGAN generator and discriminator (Zhang et al., "Self-Attention Generative Adversarial Networks", 2019).

Residual networks in the layout of BigGAN-PyTorch's SA-GAN recipe: spectral norm on every G and D layer, class-
conditional BatchNorm with per-class gains in G, a projection discriminator, and one self-attention block in each
network. Channel widths are multiples of `ch`:

    res   G blocks (in -> out)            D blocks (in -> out, downsample)
    16    4-4, 4-4                        3-4 v, 4-4, 4-4
    32    4-4, 4-4, 4-4                   3-4 v, 4-4 v, 4-4, 4-4
    64    16-16, 16-8, 8-4, 4-2           3-1 v, 1-2 v, 2-4 v, 4-8 v, 8-16
    128   16-16, 16-8, 8-4, 4-2, 2-1      3-1 v, 1-2 v, 2-4 v, 4-8 v, 8-16 v, 16-16

With ch=64, z_dim=128, 1000 classes and attention at 64 px, the 128 px networks have 42,017,412 (G) and
39,448,258 (D) parameters, as BigGAN-PyTorch's SA-GAN script.
"""
import torch
import torch.nn as nn
import torch.nn.functional as F

from lit_gans.layers import ConditionalBatchNorm2d, DBlock, GBlock, SelfAttention, apply_spectral_norm, init_weights

G_CHANNELS = {
    16: ((4, 4), (4, 4)),
    32: ((4, 4, 4), (4, 4, 4)),
    64: ((16, 16, 8, 4), (16, 8, 4, 2)),
    128: ((16, 16, 8, 4, 2), (16, 8, 4, 2, 1)),
}
D_CHANNELS = {
    16: ((3, 4, 4), (4, 4, 4), (True, False, False)),
    32: ((3, 4, 4, 4), (4, 4, 4, 4), (True, True, False, False)),
    64: ((3, 1, 2, 4, 8), (1, 2, 4, 8, 16), (True, True, True, True, False)),
    128: ((3, 1, 2, 4, 8, 16), (1, 2, 4, 8, 16, 16), (True, True, True, True, True, False)),
}
RESOLUTIONS = tuple(sorted(G_CHANNELS))


def check_resolution(resolution: int) -> None:
    if resolution not in G_CHANNELS:
        raise ValueError(f"SAGAN supports resolutions {RESOLUTIONS}, got {resolution}")


def attention_index(block_sizes: list[int], attn_res: int | None) -> int | None:
    """Index of the first block whose output has `attn_res` pixels per side (None or 0: no attention)."""
    if not attn_res:
        return None
    if attn_res not in block_sizes:
        raise ValueError(f"attention resolution {attn_res} is not a block output size; choose from {sorted(set(block_sizes))} or 0")
    return block_sizes.index(attn_res)


class SAGANGenerator(nn.Module):
    """z: (N, z_dim), y: (N,) int64 class or None -> images (N, 3, resolution, resolution) in [-1, 1]."""

    def __init__(
        self,
        resolution: int = 32,
        z_dim: int = 128,
        ch: int = 64,
        num_classes: int = 0,
        attn_res: int | None = 32,
        bn_eps: float = 1e-5,
        sn_eps: float = 1e-8,
        init: str = "xavier",
    ):
        super().__init__()
        check_resolution(resolution)
        ins, outs = G_CHANNELS[resolution]
        self.z_dim, self.num_classes, self.bottom_channels = z_dim, num_classes, ins[0] * ch
        self.linear = nn.Linear(z_dim, self.bottom_channels * 4 * 4)
        sizes = [4 * 2 ** (i + 1) for i in range(len(ins))]
        attn_index = attention_index(sizes, attn_res)
        self.blocks = nn.ModuleList()
        for i, (cin, cout) in enumerate(zip(ins, outs)):
            self.blocks.append(GBlock(cin * ch, cout * ch, num_classes, bn_eps))
            if i == attn_index:
                self.blocks.append(SelfAttention(cout * ch))
        self.out_bn = nn.BatchNorm2d(outs[-1] * ch)
        self.out_conv = nn.Conv2d(outs[-1] * ch, 3, 3, padding=1)
        init_weights(self, init)
        apply_spectral_norm(self, sn_eps, types=(nn.Conv2d, nn.Linear))

    def forward(self, z: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        h = self.linear(z).view(z.shape[0], self.bottom_channels, 4, 4)
        for block in self.blocks:
            h = block(h, y) if isinstance(block, GBlock) else block(h)
        return torch.tanh(self.out_conv(F.relu(self.out_bn(h))))


class SAGANDiscriminator(nn.Module):
    """images: (N, 3, resolution, resolution), y: (N,) int64 or None -> logits (N,).

    Projection discriminator (Miyato & Koyama 2018): linear(h) + <embed(y), h> on globally sum-pooled features.
    """

    def __init__(
        self,
        resolution: int = 32,
        ch: int = 64,
        num_classes: int = 0,
        attn_res: int | None = 32,
        sn_eps: float = 1e-8,
        init: str = "xavier",
    ):
        super().__init__()
        check_resolution(resolution)
        ins, outs, downs = D_CHANNELS[resolution]
        self.num_classes = num_classes
        sizes = [resolution // 2 ** sum(downs[: i + 1]) for i in range(len(ins))]
        attn_index = attention_index(sizes, attn_res)
        self.blocks = nn.ModuleList()
        for i, (cin, cout, down) in enumerate(zip(ins, outs, downs)):
            cin = 3 if i == 0 else cin * ch
            self.blocks.append(DBlock(cin, cout * ch, downsample=down, preactivation=i > 0))
            if i == attn_index:
                self.blocks.append(SelfAttention(cout * ch))
        self.linear = nn.Linear(outs[-1] * ch, 1)
        self.embed = nn.Embedding(num_classes, outs[-1] * ch) if num_classes > 0 else None
        init_weights(self, init)
        apply_spectral_norm(self, sn_eps)

    def forward(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        h = x
        for block in self.blocks:
            h = block(h)
        h = F.relu(h).sum(dim=(2, 3))
        out = self.linear(h).squeeze(1)
        if self.embed is not None:
            out = out + (self.embed(y) * h).sum(dim=1)
        return out
