"""BigGAN-deep generator and discriminator (Brock et al. 2019, Appendix B, Fig. 16 and Table 5).

Bottleneck residual blocks (`DeepGBlock`, `DeepDBlock`), two per resolution: G keeps the width in the first block
and changes width and upsamples in the second; D changes width and downsamples in the first. G's skips drop
channels and D's skips concatenate, so neither has learned shortcuts. z is concatenated whole with the shared class
embedding; the result feeds G's input linear layer and every conditional BatchNorm. D starts with a 3x3 conv stem.
Stage widths (multiples of `ch`):

    res   G stages (in -> out)                          D stages (in -> out; v = downsample), after a 3 -> in[0] stem
    32    4-4, 4-4, 4-4                                 4-4 v, 4-4 v, 4-4
    64    16-16, 16-8, 8-4, 4-2                         1-2 v, 2-4 v, 4-8 v, 8-16 v
    128   16-16, 16-8, 8-4, 4-2, 2-1                    1-2 v, 2-4 v, 4-8 v, 8-16 v, 16-16 v
    256   16-16, 16-8, 8-8, 8-4, 4-2, 2-1               1-2 v, 2-4 v, 4-8 v, 8-8 v, 8-16 v, 16-16 v
    512   16-16, 16-8, 8-8, 8-4, 4-2, 2-1, 1-1          1-1 v, 1-2 v, 2-4 v, 4-8 v, 8-8 v, 8-16 v, 16-16 v

Paper configuration at 128 px (ch 128, z 128, shared 128, attention 64, 1000 classes): G 50,244,484 and
D 34,590,210 parameters. The paper's 50.4M for G counts the TF-Hub model's 128-channel RGB convolution, of which
only 3 channels are used; this 3-channel output layer has 144,125 parameters fewer.
"""
import torch
import torch.nn as nn
import torch.nn.functional as F

from lit_gans.layers import DeepDBlock, DeepGBlock, SelfAttention, apply_spectral_norm, init_weights
from lit_gans.layers.truncation_stats import add_truncation_tables
from lit_gans.networks.biggan import G_CHANNELS, attention_index, check_resolution, projection_head

D_CHANNELS = {
    32: ((4, 4, 4), (4, 4, 4), (True, True, False)),
    64: ((1, 2, 4, 8), (2, 4, 8, 16), (True,) * 4),
    128: ((1, 2, 4, 8, 16), (2, 4, 8, 16, 16), (True,) * 5),
    256: ((1, 2, 4, 8, 8, 16), (2, 4, 8, 8, 16, 16), (True,) * 6),
    512: ((1, 1, 2, 4, 8, 8, 16), (1, 2, 4, 8, 8, 16, 16), (True,) * 7),
}
RESOLUTIONS = tuple(sorted(D_CHANNELS))


class BigGANDeepGenerator(nn.Module):
    """z: (N, z_dim), y: (N,) int64 labels, (N, shared_dim) class embeddings, or None
    -> images (N, 3, resolution, resolution) in [-1, 1].

    truncation_stats: if positive, every BatchNorm also carries a table of statistics for that many truncation
    values (51 in the TF-Hub release; `lit_gans.layers.truncation_stats`), which sampling uses in eval mode.
    """

    ortho_exempt = ("shared.",)  # orthogonal regularisation leaves the shared class embedding alone

    def __init__(
        self,
        resolution: int = 128,
        z_dim: int = 128,
        ch: int = 128,
        num_classes: int = 1000,
        shared_dim: int = 128,
        attn_res: int | None = 64,
        bn_eps: float = 1e-5,
        sn_eps: float = 1e-6,
        init: str = "ortho",
        truncation_stats: int = 0,
    ):
        super().__init__()
        check_resolution(resolution, RESOLUTIONS, "BigGAN-deep")
        ins, outs = G_CHANNELS[resolution]
        self.z_dim, self.num_classes, self.bottom_channels = z_dim, num_classes, ins[0] * ch
        self.shared = nn.Embedding(num_classes, shared_dim) if num_classes > 0 and shared_dim else None
        if num_classes > 0 and self.shared is None:
            raise ValueError("class-conditional BigGAN-deep needs a shared class embedding (shared_dim > 0)")
        cond_dim = z_dim + (shared_dim if self.shared is not None else 0)
        self.linear = nn.Linear(cond_dim, self.bottom_channels * 4 * 4)
        sizes = [4 * 2 ** (i + 1) for i in range(len(ins))]
        attn_index = attention_index(sizes, attn_res)
        self.blocks = nn.ModuleList()
        for i, (cin, cout) in enumerate(zip(ins, outs)):
            self.blocks.append(DeepGBlock(cin * ch, cin * ch, cond_dim, upsample=False, bn_eps=bn_eps))
            self.blocks.append(DeepGBlock(cin * ch, cout * ch, cond_dim, upsample=True, bn_eps=bn_eps))
            if i == attn_index:
                self.blocks.append(SelfAttention(cout * ch))
        self.out_bn = nn.BatchNorm2d(outs[-1] * ch, eps=bn_eps)
        self.out_conv = nn.Conv2d(outs[-1] * ch, 3, 3, padding=1)
        init_weights(self, init)
        apply_spectral_norm(self, sn_eps, types=(nn.Conv2d, nn.Linear))
        if truncation_stats:
            add_truncation_tables(self, truncation_stats)

    def forward(self, z: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        c = z
        if self.shared is not None:
            c = torch.cat([y if y.is_floating_point() else self.shared(y), z], dim=1)
        h = self.linear(c).view(z.shape[0], self.bottom_channels, 4, 4)
        for block in self.blocks:
            h = block(h, c) if isinstance(block, DeepGBlock) else block(h)
        return torch.tanh(self.out_conv(F.relu(self.out_bn(h))))


class BigGANDeepDiscriminator(nn.Module):
    """images: (N, 3, resolution, resolution), y: (N,) int64 or None -> logits (N,); projection head as BigGAN's."""

    def __init__(
        self,
        resolution: int = 128,
        ch: int = 128,
        num_classes: int = 1000,
        attn_res: int | None = 64,
        sn_eps: float = 1e-6,
        init: str = "ortho",
    ):
        super().__init__()
        check_resolution(resolution, RESOLUTIONS, "BigGAN-deep")
        ins, outs, downs = D_CHANNELS[resolution]
        self.num_classes = num_classes
        self.stem = nn.Conv2d(3, ins[0] * ch, 3, padding=1)
        sizes = [resolution // 2 ** sum(downs[: i + 1]) for i in range(len(ins))]
        attn_index = attention_index(sizes, attn_res)
        self.blocks = nn.ModuleList()
        for i, (cin, cout, down) in enumerate(zip(ins, outs, downs)):
            self.blocks.append(DeepDBlock(cin * ch, cout * ch, downsample=down))
            self.blocks.append(DeepDBlock(cout * ch, cout * ch, downsample=False))
            if i == attn_index:
                self.blocks.append(SelfAttention(cout * ch))
        self.linear = nn.Linear(outs[-1] * ch, 1)
        self.embed = nn.Embedding(num_classes, outs[-1] * ch) if num_classes > 0 else None
        init_weights(self, init)
        apply_spectral_norm(self, sn_eps)

    def forward(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        h = self.stem(x)
        for block in self.blocks:
            h = block(h)
        return projection_head(h, y, self.linear, self.embed)
