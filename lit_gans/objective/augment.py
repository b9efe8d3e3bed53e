"""The augmentation slot: one differentiable transform of every image the discriminator sees.

`Objective` applies `augment` to reals and fakes alike, in the discriminator step and in the generator step (so
G's gradient flows through it), and inside the input-gradient penalties. Augmenting reals only would shift the
distribution D learns (Zhao et al. 2020; Karras et al. 2020), so a transform never sees one side only.

A transform is an `nn.Module` mapping images (N, C, H, W) in [-1, 1] and a `Draws` to images of the same shape.
Its random parameters come from the `Draws` the objective hands it, a function of (seed, step, which images), so
a resumed run augments exactly as the uninterrupted one. Its buffers (for instance ADA's probability p) live in
the model's state dict and so in checkpoints.
"""
import torch

from lit_gans.latents import seeded_generator
from lit_gans.objective.component import Component


class Draws:
    """Random numbers for one augmentation call, one row per image.

    Rows are rows rank, rank + world, ... of a draw for the batch of all ranks from a generator seeded by `key`,
    like the latents (`GAN._latents`): the global batch is augmented the same for any number of ranks. Without a
    key (outside training) the global RNG is used.
    """

    def __init__(self, key: tuple[int, ...] | None = None, rank: int = 0, world: int = 1,
                 device: torch.device | str = "cpu"):
        self.key, self.rank, self.world, self.device = key, rank, world, device
        self._generator = None

    @property
    def generator(self) -> torch.Generator | None:
        """The keyed generator, made on first use (an identity transform costs nothing)."""
        if self._generator is None and self.key is not None:
            self._generator = seeded_generator(*self.key, device=self.device)
        return self._generator

    def uniform(self, n: int, *shape: int, device: torch.device | str = "cpu", low: float = 0.0,
                high: float = 1.0) -> torch.Tensor:
        """(n, *shape) uniform in [low, high)."""
        u = torch.rand(n * self.world, *shape, generator=self.generator, device=device)[self.rank :: self.world]
        return low + (high - low) * u

    def normal(self, n: int, *shape: int, device: torch.device | str = "cpu", std: float = 1.0) -> torch.Tensor:
        """(n, *shape) from N(0, std^2)."""
        return std * torch.randn(n * self.world, *shape, generator=self.generator, device=device)[self.rank :: self.world]

    def integers(self, n: int, low: int, high: int, *shape: int, device: torch.device | str = "cpu") -> torch.Tensor:
        """(n, *shape) int64 uniform in [low, high)."""
        return torch.randint(low, high, (n * self.world, *shape), generator=self.generator,
                             device=device)[self.rank :: self.world]


class Augment(Component):
    """Base class and the default: the identity. Subclasses implement `forward(images, draws)`; an adaptive one
    also `observe(logits_real, images_seen)`, called with D's logits on (augmented) reals after each D step."""

    def forward(self, images: torch.Tensor, draws: Draws | None = None) -> torch.Tensor:
        return images

    def observe(self, logits_real: torch.Tensor, num_images: int) -> dict[str, torch.Tensor]:
        """Adapt to D's logits on the reals of one D micro-batch (`num_images` real images over all ranks);
        return the values to log. The identity has nothing to adapt."""
        return {}
