"""The augmentation slot: one differentiable transform of every image the discriminator sees.

`Objective` applies `augment` to reals and fakes alike, in the discriminator step and in the generator step (so
G's gradient flows through it), and inside the input-gradient penalties. Augmenting reals only would shift the
distribution D learns (Zhao et al. 2020; Karras et al. 2020), so a transform never sees one side only.

A transform is an `nn.Module` mapping images (N, C, H, W) in [-1, 1] to images of the same shape; its buffers (for
instance an adaptive probability) live in the model's state dict and so in checkpoints.
"""
import torch

from lit_gans.objective.component import Component


class Augment(Component):
    """Base class and the default: the identity."""

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return images
