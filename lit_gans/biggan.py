"""BigGAN as a LightningModule (Brock, Donahue & Simonyan 2019, arXiv:1809.11096).

Defaults are the paper's ImageNet 128 px model and recipe: ch 96, z 120 split hierarchically, shared class embedding
128, attention at 64, orthogonal init; hinge loss, Adam(0, 0.999, eps 1e-6), lr G 5e-5 / D 2e-4, two D steps per
G step, orthogonal regularisation 1e-4. The batch (2048 in the paper) is the DataModule's batch_size times
`accumulate` times the number of devices.
"""
from lit_gans.gan import GAN
from lit_gans.objective import Orthogonal, Regularizer
from lit_gans.networks.biggan import BigGANDiscriminator, BigGANGenerator


class BigGAN(GAN):
    """BigGAN: residual G and projection D with conditional BatchNorm, hierarchical latent and self-attention.

    Args:
        resolution: image size, one of 16, 32, 64, 128, 256, 512.
        z_dim: latent size; with `hier`, divisible by the number of G blocks + 1.
        ch: channel multiplier of G and D (96 in the paper).
        d_ch: channel multiplier of D when it differs from G's (StudioGAN's CIFAR-10 BigGAN: G 96, D 48); None: ch.
        mbstd_group_size: group size of a minibatch standard deviation feature before D's last block (0: none; not in
            the paper).
        num_classes: number of classes (0: unconditional).
        shared_dim: size of the shared class embedding (0: per-class BatchNorm tables, as in the CIFAR recipe).
        hier: split z hierarchically across G's blocks.
        attn_res: feature-map size at which G and D apply self-attention (0: none).
        bn_eps, sn_eps: BatchNorm and spectral-norm epsilons.
        init: weight initialisation, "ortho", "xavier" or "N02".
        ortho_reg: strength of the orthogonal regularisation of G (`lit_gans.objective.Orthogonal`; 0: off),
            placed before any other `regularizers`.
        The remaining arguments are those of `lit_gans.GAN`.
    """

    def __init__(
        self,
        resolution: int = 128,
        z_dim: int = 120,
        ch: int = 96,
        num_classes: int = 1000,
        shared_dim: int = 128,
        hier: bool = True,
        attn_res: int = 64,
        bn_eps: float = 1e-5,
        sn_eps: float = 1e-6,
        init: str = "ortho",
        loss: str = "hinge",
        n_dis: int = 2,
        lr_g: float = 5e-5,
        lr_d: float = 2e-4,
        betas_g: tuple[float, float] = (0.0, 0.999),
        betas_d: tuple[float, float] = (0.0, 0.999),
        adam_eps: float = 1e-6,
        ortho_reg: float = 1e-4,
        regularizers: list[Regularizer] | None = None,
        d_ch: int | None = None,
        mbstd_group_size: int = 0,
        **kwargs,
    ):
        if ortho_reg < 0:
            raise ValueError(f"ortho_reg must be non-negative, got {ortho_reg}")
        own = [Orthogonal(ortho_reg)] if ortho_reg else []
        super().__init__(z_dim=z_dim, num_classes=num_classes, loss=loss, n_dis=n_dis, lr_g=lr_g, lr_d=lr_d,
                         betas_g=betas_g, betas_d=betas_d, adam_eps=adam_eps, regularizers=own + list(regularizers or []),
                         **kwargs)
        self.ortho_reg = ortho_reg
        self.save_hyperparameters()
        self.resolution = resolution
        self.set_networks(BigGANGenerator(resolution, z_dim, ch, num_classes, shared_dim, hier, attn_res, bn_eps,
                                          sn_eps, init),
                          BigGANDiscriminator(resolution, d_ch or ch, num_classes, attn_res, sn_eps, init,
                                              mbstd_group_size))
