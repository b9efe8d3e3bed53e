"""CIFAR-10 in its "python version" layout (cifar-10-batches-py/data_batch_1 ... data_batch_5), 32x32, 10 classes."""
import pickle
from pathlib import Path

import numpy as np
import torch
from datamodules.base import GANDataModule
from datamodules.pyramid import build_pyramid

TRAIN_BATCHES = tuple(f"data_batch_{i}" for i in range(1, 6))
TEST_BATCHES = ("test_batch",)


def load_cifar10(root: Path, batches: tuple[str, ...] = TRAIN_BATCHES) -> tuple[torch.Tensor, torch.Tensor]:
    """The images (N, 3, 32, 32) uint8 and labels (N,) int64 of the pickled batches under root (default: the
    50,000 training images)."""
    images, labels = [], []
    for name in batches:
        path = root / name
        if not path.is_file():
            raise FileNotFoundError(f"CIFAR-10 batch {path} is missing; expected {root}/data_batch_1 ... data_batch_5 "
                                    "(the extracted cifar-10-python.tar.gz)")
        try:
            with open(path, "rb") as f:
                batch = pickle.load(f, encoding="latin1")
            images.append(np.asarray(batch["data"], dtype=np.uint8).reshape(-1, 3, 32, 32))
            labels.append(np.asarray(batch["labels"], dtype=np.int64))
        except (pickle.UnpicklingError, EOFError, KeyError, ValueError) as error:
            raise ValueError(f"CIFAR-10 batch {path} is corrupt or not a CIFAR-10 python batch: {error}") from error
    return torch.from_numpy(np.concatenate(images)), torch.from_numpy(np.concatenate(labels))


class CIFAR10DataModule(GANDataModule):
    """The CIFAR-10 training set held in memory as a uint8 pyramid (200 MB), class-conditional. The 10,000 test
    images (`test_batch`, when present) are the held-out split.

    Args:
        root: the extracted `cifar-10-batches-py` folder.
        The others are those of `GANDataModule`; `resolution` must be 32.
    """

    num_classes = 10

    def __init__(self, root: str, resolution: int = 32, batch_size: int = 64, num_workers: int | None = None,
                 flip: bool = False, seed: int = 0, batch_sizes: dict[int, int] | None = None):
        if resolution != 32:
            raise ValueError(f"CIFAR-10 images are 32x32; resolution must be 32, got {resolution}")
        super().__init__(resolution, batch_size, num_workers, flip, seed, batch_sizes)
        self.root = Path(root).expanduser()

    def identity(self) -> list:
        return [*super().identity(), str(self.root.resolve())]

    def load(self):
        images, labels = load_cifar10(self.root)
        return build_pyramid(images), labels.numpy()

    def load_held_out(self):
        if not (self.root / TEST_BATCHES[0]).is_file():
            return None
        images, labels = load_cifar10(self.root, TEST_BATCHES)
        return build_pyramid(images), labels.numpy()
