"""lit-gans: paper-faithful large GANs (SN-GAN, SAGAN, BigGAN, BigGAN-deep, ProGAN) as PyTorch Lightning modules."""
from lit_gans.biggan import BigGAN
from lit_gans.biggan_deep import BigGANDeep
from lit_gans.gan import GAN
from lit_gans.progan import ProGAN
from lit_gans.sagan import SAGAN
from lit_gans.sngan import SNGAN
from lit_gans import strategy  # noqa: F401  (registers the "gan_ddp" strategy)

__version__ = "0.1.0"
__all__ = ["BigGAN", "BigGANDeep", "GAN", "ProGAN", "SAGAN", "SNGAN"]
