"""SN-GAN as a LightningModule (Miyato et al. 2018, arXiv:1802.05957): the ResNet models of the paper's CIFAR-10
(32 px) and STL-10 (48 px) experiments, trained with its recipe: hinge loss, five D steps per G step, Adam(0, 0.9)
with lr 2e-4 for G and D, batch 64."""
from lit_gans.gan import GAN
from lit_gans.networks.sngan import SNGANDiscriminator, SNGANGenerator


class SNGAN(GAN):
    """Spectrally normalised ResNet D, BatchNorm ResNet G (`lit_gans.networks.sngan` lists the layouts).

    Args:
        resolution: image size, 32 (CIFAR-10 layout) or 48 (STL-10 layout; the DataModules serve powers of two
            only, so the 48 px networks are for use outside them).
        z_dim: latent size (128).
        g_ch, d_ch: channel widths of G and D (None: the paper's, 256 / 128 at 32 px and 512 / 1024 at 48 px).
        num_classes: 0 for unconditional; else class-conditional BatchNorm in G and a projection head in D.
        bn_eps, sn_eps: BatchNorm and spectral-norm epsilons (2e-5: Chainer's BatchNormalization, the reference's).
        The remaining arguments are those of `lit_gans.GAN`.
    """

    def __init__(
        self,
        resolution: int = 32,
        z_dim: int = 128,
        g_ch: int | None = None,
        d_ch: int | None = None,
        num_classes: int = 0,
        bn_eps: float = 2e-5,
        sn_eps: float = 1e-8,
        loss: str = "hinge",
        n_dis: int = 5,
        lr_g: float = 2e-4,
        lr_d: float = 2e-4,
        betas_g: tuple[float, float] = (0.0, 0.9),
        betas_d: tuple[float, float] = (0.0, 0.9),
        **kwargs,
    ):
        super().__init__(z_dim=z_dim, num_classes=num_classes, loss=loss, n_dis=n_dis, lr_g=lr_g, lr_d=lr_d,
                         betas_g=betas_g, betas_d=betas_d, **kwargs)
        self.save_hyperparameters()
        self.resolution = resolution
        self.set_networks(SNGANGenerator(resolution, z_dim, g_ch, num_classes, bn_eps),
                          SNGANDiscriminator(resolution, d_ch, num_classes, sn_eps))
