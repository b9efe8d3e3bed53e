"""Random uint8 images in the lit-gans pyramid layout, for benchmarks that must not depend on a dataset."""
import numpy as np
import torch

from datamodules.base import GANDataModule
from datamodules.pyramid import build_pyramid


class SyntheticDataModule(GANDataModule):
    """`num_images` random images, with labels in [0, num_classes) (0: unlabelled), at every level down to 4 px."""

    def __init__(self, resolution: int, batch_size: int, num_images: int = 1024, num_classes: int = 0,
                 num_workers: int = 0):
        super().__init__(resolution, batch_size, num_workers)
        self.count, self.num_classes = num_images, num_classes

    def load(self):
        rng = np.random.default_rng(0)
        images = rng.integers(0, 256, (self.count, 3, self.resolution, self.resolution), np.uint8)
        return build_pyramid(torch.from_numpy(images)), rng.integers(0, max(self.num_classes, 1), self.count)
