"""SN-GAN's ResNet generator and discriminator (Miyato, Kataoka, Koyama & Yoshida, "Spectral Normalization for
Generative Adversarial Networks", ICLR 2018, arXiv:1802.05957, Appendix B; class conditioning as in the projection
discriminator paper, Miyato & Koyama 2018).

    res  bottom  G blocks (in -> out, each up x2)        D blocks (in -> out; v = downsample)
    32   4       c-c, c-c, c-c             (c = 256)     3-d v, d-d v, d-d, d-d                    (d = 128)
    48   6       c-c/2, c/2-c/4, c/4-c/8   (c = 512)     3-d/16 v, d/16-d/8 v, d/8-d/4 v, d/4-d/2 v, d/2-d
                                                                                                   (d = 1024)

G: linear z -> (c, bottom, bottom), residual up-blocks with BatchNorm (per-class gains and biases when
conditional), BN -> ReLU -> conv3x3 -> tanh; no spectral norm. D: an "optimized" first block (conv, ReLU, conv,
pool; shortcut pool then conv1x1), pre-activation blocks whose hidden width is their input width, ReLU, global
sum pooling and a linear head (+ projection of a class embedding); spectral norm on every D layer. Initialisation:
Glorot-uniform with gain sqrt(2) in the residual convolutions and 1 elsewhere, zero biases.

Parameters: 32 px, unconditional G 4,276,739 / D 1,053,825, 10 classes G 4,304,387 / D 1,055,105; 48 px,
unconditional G 4,878,083 / D 10,141,441.
"""
import math

import torch
import torch.nn as nn

from lit_gans.layers import ConditionalBatchNorm2d, DBlock, GBlock, apply_spectral_norm
from lit_gans.layers.init import batchnorm_tables
from lit_gans.networks.biggan import projection_head

# resolution: (bottom size, G widths as fractions of ch, D widths as fractions of ch, D downsampling)
LAYOUTS = {
    32: (4, (1, 1, 1, 1), (1, 1, 1, 1), (True, True, False, False)),
    48: (6, (1, 1 / 2, 1 / 4, 1 / 8), (1 / 16, 1 / 8, 1 / 4, 1 / 2, 1), (True, True, True, True, False)),
}
DEFAULT_WIDTHS = {32: (256, 128), 48: (512, 1024)}  # (G ch, D ch) of the paper's models
RESOLUTIONS = tuple(LAYOUTS)


def check_resolution(resolution: int) -> None:
    if resolution not in LAYOUTS:
        raise ValueError(f"SNGAN supports resolutions {RESOLUTIONS}, got {resolution}")


def init_sngan(module: nn.Module) -> nn.Module:
    """Glorot-uniform weights (gain sqrt(2) in residual convolutions, 1 elsewhere) and zero biases, as the
    reference's Chainer initialisers. BatchNorm gains start at 1 and biases at 0, conditional or not, as Chainer's
    `BatchNormalization` and the reference's `CategoricalConditionalBatchNormalization` do: their tables are not
    re-initialised. D's class embedding (`l_y`) is Glorot-uniform, as the reference's."""
    residual = {id(m) for block in module.modules() if isinstance(block, (GBlock, DBlock))
                for m in (block.conv1, block.conv2)}
    batchnorm = batchnorm_tables(module, conditional=True)
    for layer in module.modules():
        if isinstance(layer, (nn.Conv2d, nn.Linear, nn.Embedding)) and id(layer) not in batchnorm:
            nn.init.xavier_uniform_(layer.weight, gain=math.sqrt(2) if id(layer) in residual else 1.0)
            if getattr(layer, "bias", None) is not None:
                nn.init.zeros_(layer.bias)
    return module


class SNGANGenerator(nn.Module):
    """z: (N, z_dim), y: (N,) int64 class or None -> images (N, 3, resolution, resolution) in [-1, 1]."""

    def __init__(self, resolution: int = 32, z_dim: int = 128, ch: int | None = None, num_classes: int = 0,
                 bn_eps: float = 2e-5):
        super().__init__()
        check_resolution(resolution)
        self.bottom, widths, _, _ = LAYOUTS[resolution]
        ch = ch or DEFAULT_WIDTHS[resolution][0]
        widths = [int(f * ch) for f in widths]
        self.z_dim, self.num_classes = z_dim, num_classes
        self.linear = nn.Linear(z_dim, widths[0] * self.bottom**2)
        self.blocks = nn.ModuleList(GBlock(cin, cout, num_classes, bn_eps=bn_eps) for cin, cout in zip(widths, widths[1:]))
        self.out_bn = ConditionalBatchNorm2d(widths[-1], eps=bn_eps)
        self.out_conv = nn.Conv2d(widths[-1], 3, 3, padding=1)
        init_sngan(self)

    def forward(self, z: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        h = self.linear(z).view(z.shape[0], -1, self.bottom, self.bottom)
        for block in self.blocks:
            h = block(h, y if self.num_classes else None)
        return torch.tanh(self.out_conv(torch.relu(self.out_bn(h))))


class SNGANDiscriminator(nn.Module):
    """images: (N, 3, resolution, resolution), y: (N,) int64 or None -> logits (N,)."""

    def __init__(self, resolution: int = 32, ch: int | None = None, num_classes: int = 0, sn_eps: float = 1e-8):
        super().__init__()
        check_resolution(resolution)
        _, _, widths, downs = LAYOUTS[resolution]
        ch = ch or DEFAULT_WIDTHS[resolution][1]
        widths = [int(f * ch) for f in widths]
        self.num_classes = num_classes
        self.blocks = nn.ModuleList()
        for i, (cout, down) in enumerate(zip(widths, downs)):
            cin = 3 if i == 0 else widths[i - 1]
            self.blocks.append(DBlock(cin, cout, downsample=down, preactivation=i > 0,
                                      hidden_channels=cout if i == 0 else cin))
        self.linear = nn.Linear(widths[-1], 1)
        self.embed = nn.Embedding(num_classes, widths[-1]) if num_classes > 0 else None
        init_sngan(self)
        apply_spectral_norm(self, sn_eps)

    def forward(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        h = x
        for block in self.blocks:
            h = block(h)
        return projection_head(h, y, self.linear, self.embed)
