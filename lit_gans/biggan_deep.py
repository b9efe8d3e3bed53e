"""BigGAN-deep as a LightningModule (Brock, Donahue & Simonyan 2019, Appendix B).

Defaults are the paper's ImageNet 128 px BigGAN-deep: ch 128, z 128 concatenated with a 128-d shared class
embedding, attention at 64, orthogonal init, trained with the paper's ImageNet recipe (hinge loss, Adam(0, 0.999,
eps 1e-6), lr G 5e-5 / D 2e-4, two D steps per G step, orthogonal regularisation 1e-4).
"""
from lit_gans.gan import GAN
from lit_gans.objective import Orthogonal, Regularizer
from lit_gans.networks.biggan_deep import BigGANDeepDiscriminator, BigGANDeepGenerator


class BigGANDeep(GAN):
    """BigGAN-deep: bottleneck residual blocks, two per resolution, with channel-dropping / concatenating skips.

    Args:
        resolution: image size, one of 32, 64, 128, 256, 512.
        z_dim: latent size.
        ch: channel multiplier of G and D (128 in the paper).
        num_classes: number of classes (0: unconditional).
        shared_dim: size of the shared class embedding.
        attn_res: feature-map size at which G and D apply self-attention (0: none).
        bn_eps, sn_eps: BatchNorm and spectral-norm epsilons.
        init: weight initialisation, "ortho", "xavier" or "N02".
        truncation_stats: rows of G's BatchNorm statistics tabulated per truncation (51 for the converted TF-Hub
            weights, `lit-gans convert --source pytorch-pretrained-biggan`; 0: none, the running statistics).
        ortho_reg: strength of the orthogonal regularisation of G (`lit_gans.objective.Orthogonal`; 0: off),
            placed before any other `regularizers`.
        The remaining arguments are those of `lit_gans.GAN`.
    """

    def __init__(
        self,
        resolution: int = 128,
        z_dim: int = 128,
        ch: int = 128,
        num_classes: int = 1000,
        shared_dim: int = 128,
        attn_res: int = 64,
        bn_eps: float = 1e-5,
        sn_eps: float = 1e-6,
        init: str = "ortho",
        truncation_stats: int = 0,
        loss: str = "hinge",
        n_dis: int = 2,
        lr_g: float = 5e-5,
        lr_d: float = 2e-4,
        betas_g: tuple[float, float] = (0.0, 0.999),
        betas_d: tuple[float, float] = (0.0, 0.999),
        adam_eps: float = 1e-6,
        ortho_reg: float = 1e-4,
        regularizers: list[Regularizer] | None = None,
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
        self.set_networks(BigGANDeepGenerator(resolution, z_dim, ch, num_classes, shared_dim, attn_res, bn_eps,
                                              sn_eps, init, truncation_stats),
                          BigGANDeepDiscriminator(resolution, ch, num_classes, attn_res, sn_eps, init))
