"""Plain `nn.Module` generator and discriminator definitions, usable without Lightning."""
from lit_gans.networks.biggan import BigGANDiscriminator, BigGANGenerator
from lit_gans.networks.biggan_deep import BigGANDeepDiscriminator, BigGANDeepGenerator
from lit_gans.networks.progan import ProGANDiscriminator, ProGANGenerator
from lit_gans.networks.sagan import SAGANDiscriminator, SAGANGenerator
from lit_gans.networks.sngan import SNGANDiscriminator, SNGANGenerator

__all__ = ["BigGANDeepDiscriminator", "BigGANDeepGenerator", "BigGANDiscriminator", "BigGANGenerator",
           "ProGANDiscriminator", "ProGANGenerator", "SAGANDiscriminator", "SAGANGenerator",
           "SNGANDiscriminator", "SNGANGenerator"]
