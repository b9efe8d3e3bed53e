"""lit-gans: paper-faithful large GANs (SAGAN, BigGAN, BigGAN-deep, ProGAN) as PyTorch Lightning modules."""
from lit_gans.gan import GAN
from lit_gans.sagan import SAGAN

__version__ = "0.1.0"
__all__ = ["GAN", "SAGAN"]
