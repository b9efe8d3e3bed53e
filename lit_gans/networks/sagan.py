"""SAGAN generator and discriminator (Zhang et al., "Self-Attention Generative Adversarial Networks", 2019).

The residual networks of BigGAN (`lit_gans.networks.biggan`, which lists the channel tables) without its two
conditioning changes: every conditional BatchNorm has its own per-class gain and bias tables (no shared
embedding), and z enters whole at the input layer (no hierarchical latent). Spectral norm on every G and D layer,
a projection discriminator and one self-attention block per network, initialised as BigGAN-PyTorch's SA-GAN
script (xavier, SN eps 1e-8).

With ch=64, z_dim=128, 1000 classes and attention at 64 px, the 128 px networks have 42,017,412 (G) and
39,448,258 (D) parameters, as BigGAN-PyTorch's SA-GAN script.
"""
from lit_gans.networks.biggan import RESOLUTIONS, BigGANDiscriminator, BigGANGenerator

__all__ = ["RESOLUTIONS", "SAGANDiscriminator", "SAGANGenerator"]


class SAGANGenerator(BigGANGenerator):
    """z: (N, z_dim), y: (N,) int64 class or None -> images (N, 3, resolution, resolution) in [-1, 1]."""

    def __init__(self, resolution: int = 32, z_dim: int = 128, ch: int = 64, num_classes: int = 0,
                 attn_res: int | None = 32, bn_eps: float = 1e-5, sn_eps: float = 1e-8, init: str = "xavier"):
        super().__init__(resolution, z_dim, ch, num_classes, shared_dim=0, hier=False, attn_res=attn_res,
                         bn_eps=bn_eps, sn_eps=sn_eps, init=init)


class SAGANDiscriminator(BigGANDiscriminator):
    """images: (N, 3, resolution, resolution), y: (N,) int64 or None -> logits (N,)."""

    def __init__(self, resolution: int = 32, ch: int = 64, num_classes: int = 0, attn_res: int | None = 32,
                 sn_eps: float = 1e-8, init: str = "xavier", mbstd_group_size: int = 0, mbstd_style: str = "official"):
        super().__init__(resolution, ch, num_classes, attn_res, sn_eps, init, mbstd_group_size, mbstd_style)
