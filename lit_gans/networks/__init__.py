"""Plain `nn.Module` generator and discriminator definitions, usable without Lightning."""
from lit_gans.networks.sagan import SAGANDiscriminator, SAGANGenerator

__all__ = ["SAGANDiscriminator", "SAGANGenerator"]
