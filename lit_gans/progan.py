"""ProGAN as a LightningModule (Karras et al. 2018, arXiv:1710.10196).

Defaults are the paper's: 1024 px, 512-d latent, WGAN-GP with lambda 10 and drift 0.001, Adam(0, 0.99, eps 1e-8)
with lr 0.001 for G and D, one D step per G step. Growing is driven by `callbacks.ProGrowth`, which calls
`set_stage(resolution, alpha)` from the number of images shown.
"""
from lit_gans.gan import GAN
from lit_gans.networks.progan import ProGANDiscriminator, ProGANGenerator
from lit_gans.objective import Drift, GradientPenalty, Regularizer


class ProGAN(GAN):
    """Progressive GAN: every stage built up front; `set_stage` picks the active resolution and fade-in alpha.

    Args:
        resolution: final image size (a power of two >= 4).
        z_dim: latent size (512 in the paper).
        num_classes: 0 for unconditional; else one-hot labels join z and D gets a projection head.
        fmap_base, fmap_max: channels of the block at resolution r are min(2 * fmap_base / r, fmap_max).
        mbstd_group_size: minibatch standard-deviation group size (4; 16 in the paper's CelebA-HQ preset).
        mbstd_style, pixel_bias: the layout of pytorch_GAN_zoo's PGAN ("gan-zoo", True) instead of the official
            one ("official", False); see `lit_gans.networks.progan`.
        loss: "wgan" (the paper's), "hinge" or "ns".
        gp_weight, gp_target: WGAN-GP lambda and target norm gamma (10 and 1; CIFAR used gamma 750). 0: no penalty.
        drift: weight of drift * D(x)^2 on reals (0.001).
        The drift term and the gradient penalty (`lit_gans.objective.Drift`, `GradientPenalty`) come before any
        other `regularizers`.
        The remaining arguments are those of `lit_gans.GAN`.
    """

    def __init__(
        self,
        resolution: int = 1024,
        z_dim: int = 512,
        num_classes: int = 0,
        fmap_base: int = 8192,
        fmap_max: int = 512,
        mbstd_group_size: int = 4,
        mbstd_style: str = "official",
        pixel_bias: bool = False,
        loss: str = "wgan",
        gp_weight: float = 10.0,
        gp_target: float = 1.0,
        drift: float = 0.001,
        n_dis: int = 1,
        lr_g: float = 0.001,
        lr_d: float = 0.001,
        betas_g: tuple[float, float] = (0.0, 0.99),
        betas_d: tuple[float, float] = (0.0, 0.99),
        regularizers: list[Regularizer] | None = None,
        **kwargs,
    ):
        if gp_weight < 0 or drift < 0 or gp_target <= 0:
            raise ValueError(f"gp_weight and drift must be >= 0 and gp_target > 0, got {gp_weight}, {drift}, {gp_target}")
        own = [Drift(drift)] + ([GradientPenalty(gp_weight, gp_target)] if gp_weight else [])
        super().__init__(z_dim=z_dim, num_classes=num_classes, loss=loss, n_dis=n_dis, lr_g=lr_g, lr_d=lr_d,
                         betas_g=betas_g, betas_d=betas_d, regularizers=own + list(regularizers or []), **kwargs)
        self.save_hyperparameters()
        self.resolution = resolution
        self.gp_weight, self.gp_target, self.drift = gp_weight, gp_target, drift
        self.set_networks(ProGANGenerator(resolution, z_dim, num_classes, fmap_base, fmap_max, pixel_bias),
                          ProGANDiscriminator(resolution, num_classes, fmap_base, fmap_max, mbstd_group_size,
                                              mbstd_style))

    def set_stage(self, resolution: int, alpha: float = 1.0) -> None:
        """Activate the `resolution` stage of G, D and the EMA generator, faded in with weight `alpha`."""
        for network in (self.generator, self.discriminator, self.generator_ema):
            network.set_stage(resolution, alpha)

    def stage(self) -> tuple[int, float]:
        return self.generator.stage()

    def at_full_resolution(self) -> bool:
        return self.stage()[0] == self.resolution
