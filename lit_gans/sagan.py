"""SAGAN as a LightningModule (Zhang et al. 2019): hinge loss, TTUR (lr G 1e-4, D 4e-4), Adam(0, 0.9)."""
from lit_gans.gan import GAN
from lit_gans.networks.sagan import SAGANDiscriminator, SAGANGenerator


class SAGAN(GAN):
    """Self-Attention GAN with the paper's optimiser by default (Adam(0, 0.9), lr G 1e-4, D 4e-4, one D step).

    Args:
        resolution: image size, one of 16, 32, 64, 128.
        ch: channel multiplier of G and D (64 in the paper at 128 px).
        attn_res: feature-map size at which G and D apply self-attention (0: none).
        bn_eps, sn_eps: BatchNorm and spectral-norm epsilons.
        init: weight initialisation, "xavier", "ortho" or "N02".
        mbstd_group_size: group size of a minibatch standard deviation feature before D's last block (0: none; not in
            the paper).
        mbstd_style: "official" (ProGAN's strided groups) or "class" (the group of a sample is its class in the
            batch; `lit_gans.layers.minibatch_stddev`).
        The remaining arguments are those of `lit_gans.GAN`.
    """

    def __init__(
        self,
        resolution: int = 16,
        z_dim: int = 64,
        ch: int = 16,
        num_classes: int = 10,
        attn_res: int = 8,
        bn_eps: float = 1e-5,
        sn_eps: float = 1e-8,
        init: str = "xavier",
        loss: str = "hinge",
        n_dis: int = 1,
        lr_g: float = 1e-4,
        lr_d: float = 4e-4,
        betas_g: tuple[float, float] = (0.0, 0.9),
        betas_d: tuple[float, float] = (0.0, 0.9),
        mbstd_group_size: int = 0,
        mbstd_style: str = "official",
        **kwargs,
    ):
        super().__init__(z_dim=z_dim, num_classes=num_classes, loss=loss, n_dis=n_dis, lr_g=lr_g, lr_d=lr_d,
                         betas_g=betas_g, betas_d=betas_d, **kwargs)
        self.save_hyperparameters()
        self.resolution = resolution
        self.set_networks(SAGANGenerator(resolution, z_dim, ch, num_classes, attn_res, bn_eps, sn_eps, init),
                          SAGANDiscriminator(resolution, ch, num_classes, attn_res, sn_eps, init, mbstd_group_size,
                                             mbstd_style))
