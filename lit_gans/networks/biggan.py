"""BigGAN generator and discriminator (Brock, Donahue & Simonyan, "Large Scale GAN Training for High Fidelity
Natural Image Synthesis", ICLR 2019, arXiv:1809.11096, Appendix B).

Residual G with conditional BatchNorm and a projection D, spectral norm on every layer except G's shared class
embedding, one self-attention block in each network. Channel widths are multiples of `ch`:

    res   G blocks (in -> out), each up x2           D blocks (in -> out; v = downsample)
    16    4-4, 4-4                                   3-4 v, 4-4, 4-4
    32    4-4, 4-4, 4-4                              3-4 v, 4-4 v, 4-4, 4-4
    64    16-16, 16-8, 8-4, 4-2                      3-1 v, 1-2 v, 2-4 v, 4-8 v, 8-16
    128   16-16, 16-8, 8-4, 4-2, 2-1                 3-1 v, 1-2 v, 2-4 v, 4-8 v, 8-16 v, 16-16
    256   16-16, 16-8, 8-8, 8-4, 4-2, 2-1            3-1 v, 1-2 v, 2-4 v, 4-8 v, 8-8 v, 8-16 v, 16-16
    512   16-16, 16-8, 8-8, 8-4, 4-2, 2-1, 1-1       3-1 v, 1-1 v, 1-2 v, 2-4 v, 4-8 v, 8-8 v, 8-16 v, 16-16

The 16 px tables are a small-image extension for CPU recipes; 32-256 follow BigGAN-PyTorch; the 512 px D follows
the paper's table (BigGAN-PyTorch has no 512 px D).

Conditioning (paper Sec. 3 and Fig. 15): with `shared_dim`, one class embedding (not spectrally normalised) is
shared by all conditional BatchNorms, whose gains and biases are linear maps of it. With `hier`, z is split into
len(blocks) + 1 equal chunks: the first feeds the input linear layer, chunk i + 1 is concatenated after the class
embedding to condition block i. Without `shared_dim`, every BatchNorm has per-class gain and bias tables (the
SAGAN and BigGAN-PyTorch CIFAR layout).

Paper configuration at 128 px (ch 96, z 120, shared 128, hier, attention 64, 1000 classes): G 70,433,988 and
D 87,982,370 parameters.
"""
import torch
import torch.nn as nn
import torch.nn.functional as F

from lit_gans.layers import (DBlock, GBlock, SelfAttention, apply_spectral_norm, init_weights, mbstd_batch_multiple,
                             minibatch_stddev)

G_CHANNELS = {
    16: ((4, 4), (4, 4)),
    32: ((4, 4, 4), (4, 4, 4)),
    64: ((16, 16, 8, 4), (16, 8, 4, 2)),
    128: ((16, 16, 8, 4, 2), (16, 8, 4, 2, 1)),
    256: ((16, 16, 8, 8, 4, 2), (16, 8, 8, 4, 2, 1)),
    512: ((16, 16, 8, 8, 4, 2, 1), (16, 8, 8, 4, 2, 1, 1)),
}
D_CHANNELS = {
    16: ((3, 4, 4), (4, 4, 4), (True, False, False)),
    32: ((3, 4, 4, 4), (4, 4, 4, 4), (True, True, False, False)),
    64: ((3, 1, 2, 4, 8), (1, 2, 4, 8, 16), (True, True, True, True, False)),
    128: ((3, 1, 2, 4, 8, 16), (1, 2, 4, 8, 16, 16), (True,) * 5 + (False,)),
    256: ((3, 1, 2, 4, 8, 8, 16), (1, 2, 4, 8, 8, 16, 16), (True,) * 6 + (False,)),
    512: ((3, 1, 1, 2, 4, 8, 8, 16), (1, 1, 2, 4, 8, 8, 16, 16), (True,) * 7 + (False,)),
}
RESOLUTIONS = tuple(sorted(G_CHANNELS))


def check_resolution(resolution: int, supported: tuple[int, ...] = RESOLUTIONS, name: str = "BigGAN") -> None:
    if resolution not in supported:
        raise ValueError(f"{name} supports resolutions {supported}, got {resolution}")


def attention_index(block_sizes: list[int], attn_res: int | None) -> int | None:
    """Index of the first block whose output has `attn_res` pixels per side (None or 0: no attention)."""
    if not attn_res:
        return None
    if attn_res not in block_sizes:
        raise ValueError(f"attention resolution {attn_res} is not a block output size; choose from {sorted(set(block_sizes))} or 0")
    return block_sizes.index(attn_res)


def hierarchical_chunk(z_dim: int, num_blocks: int) -> int:
    """Size of each of the num_blocks + 1 equal z chunks of the hierarchical latent."""
    slots = num_blocks + 1
    if z_dim % slots:
        raise ValueError(f"the hierarchical latent splits z into {slots} equal chunks (one per G block plus the input "
                         f"layer), but z_dim {z_dim} is not divisible by {slots}; use e.g. {z_dim // slots * slots}")
    return z_dim // slots


class BigGANGenerator(nn.Module):
    """z: (N, z_dim), y: (N,) int64 labels, (N, shared_dim) class embeddings, or None
    -> images (N, 3, resolution, resolution) in [-1, 1].

    Passing embeddings instead of labels (with `shared_dim`) interpolates between classes: G(z, lerp(E[a], E[b], t))
    with E = `generator.shared.weight`.
    """

    ortho_exempt = ("shared.",)  # orthogonal regularisation leaves the shared class embedding alone

    def __init__(
        self,
        resolution: int = 128,
        z_dim: int = 120,
        ch: int = 96,
        num_classes: int = 1000,
        shared_dim: int = 128,
        hier: bool = True,
        attn_res: int | None = 64,
        bn_eps: float = 1e-5,
        sn_eps: float = 1e-6,
        init: str = "ortho",
    ):
        super().__init__()
        check_resolution(resolution, name=type(self).__name__.removesuffix("Generator"))
        ins, outs = G_CHANNELS[resolution]
        conditional = num_classes > 0
        if conditional and hier and not shared_dim:
            raise ValueError("a class-conditional hierarchical latent needs a shared class embedding (shared_dim > 0)")
        self.z_dim, self.num_classes, self.bottom_channels = z_dim, num_classes, ins[0] * ch
        self.chunk = hierarchical_chunk(z_dim, len(ins)) if hier else 0
        self.shared = nn.Embedding(num_classes, shared_dim) if conditional and shared_dim else None
        cond_dim = (shared_dim if self.shared is not None else 0) + self.chunk
        self.linear = nn.Linear(self.chunk or z_dim, self.bottom_channels * 4 * 4)
        sizes = [4 * 2 ** (i + 1) for i in range(len(ins))]
        attn_index = attention_index(sizes, attn_res)
        self.blocks = nn.ModuleList()
        for i, (cin, cout) in enumerate(zip(ins, outs)):
            self.blocks.append(GBlock(cin * ch, cout * ch, 0 if cond_dim else num_classes, cond_dim, bn_eps))
            if i == attn_index:
                self.blocks.append(SelfAttention(cout * ch))
        self.out_bn = nn.BatchNorm2d(outs[-1] * ch)
        self.out_conv = nn.Conv2d(outs[-1] * ch, 3, 3, padding=1)
        init_weights(self, init)
        apply_spectral_norm(self, sn_eps, types=(nn.Conv2d, nn.Linear))

    def conditions(self, z: torch.Tensor, y: torch.Tensor | None) -> tuple[torch.Tensor, list]:
        """Split the inputs into the input layer's z and the condition of each G block."""
        num_blocks = sum(isinstance(b, GBlock) for b in self.blocks)
        chunks = list(z.split(self.chunk, dim=1)) if self.chunk else [z] + [None] * num_blocks
        if self.shared is None:
            return chunks[0], [c if c is not None else y for c in chunks[1:]]
        embedding = y if y.is_floating_point() else self.shared(y)
        return chunks[0], [embedding if c is None else torch.cat([embedding, c], dim=1) for c in chunks[1:]]

    def forward(self, z: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        z0, conditions = self.conditions(z, y)
        h = self.linear(z0).view(z.shape[0], self.bottom_channels, 4, 4)
        conditions = iter(conditions)
        for block in self.blocks:
            h = block(h, next(conditions)) if isinstance(block, GBlock) else block(h)
        return torch.tanh(self.out_conv(F.relu(self.out_bn(h))))


class BigGANDiscriminator(nn.Module):
    """images: (N, 3, resolution, resolution), y: (N,) int64 or None -> logits (N,).

    Projection discriminator (Miyato & Koyama 2018): linear(h) + <embed(y), h> on globally sum-pooled features.
    With `mbstd_group_size`, ProGAN's minibatch standard deviation (Karras et al. 2018, Sec. 3) of groups of that many
    images joins the input of the last block as one more feature map, so D can see a batch that lacks variety.
    """

    def __init__(
        self,
        resolution: int = 128,
        ch: int = 96,
        num_classes: int = 1000,
        attn_res: int | None = 64,
        sn_eps: float = 1e-6,
        init: str = "ortho",
        mbstd_group_size: int = 0,
        mbstd_style: str = "official",
    ):
        super().__init__()
        check_resolution(resolution, name=type(self).__name__.removesuffix("Discriminator"))
        ins, outs, downs = D_CHANNELS[resolution]
        self.num_classes, self.mbstd_group_size, self.mbstd_style = num_classes, mbstd_group_size, mbstd_style
        self.batch_dependent = mbstd_group_size > 0  # reals and fakes then go through D in separate forwards
        self.batch_multiple = mbstd_batch_multiple(mbstd_group_size, mbstd_style, labelled=num_classes > 0)
        sizes = [resolution // 2 ** sum(downs[: i + 1]) for i in range(len(ins))]
        attn_index = attention_index(sizes, attn_res)
        self.blocks = nn.ModuleList()
        for i, (cin, cout, down) in enumerate(zip(ins, outs, downs)):
            cin = 3 if i == 0 else cin * ch + (1 if mbstd_group_size and i == len(ins) - 1 else 0)
            self.blocks.append(DBlock(cin, cout * ch, downsample=down, preactivation=i > 0))
            if i == attn_index:
                self.blocks.append(SelfAttention(cout * ch))
        self.linear = nn.Linear(outs[-1] * ch, 1)
        self.embed = nn.Embedding(num_classes, outs[-1] * ch) if num_classes > 0 else None
        init_weights(self, init)
        apply_spectral_norm(self, sn_eps)

    def forward(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        h = x
        last = len(self.blocks) - 1
        for i, block in enumerate(self.blocks):
            if self.mbstd_group_size and i == last:
                h = minibatch_stddev(h, self.mbstd_group_size, style=self.mbstd_style, labels=y)
            h = block(h)
        return projection_head(h, y, self.linear, self.embed)


def projection_head(h: torch.Tensor, y: torch.Tensor | None, linear: nn.Linear, embed: nn.Embedding | None) -> torch.Tensor:
    """ReLU, global sum pooling, then linear(h) + <embed(y), h>. h: (N, C, H, W) -> logits (N,)."""
    h = F.relu(h).sum(dim=(2, 3))
    out = linear(h).squeeze(1)
    if embed is not None:
        out = out + (embed(y) * h).sum(dim=1)
    return out
