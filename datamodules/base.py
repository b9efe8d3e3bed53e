"""Base DataModule: batching, mirror augmentation, DDP sharding and exact resume for every dataset."""
import pytorch_lightning as pl
import torch
from torch.utils.data import DataLoader, Dataset

from datamodules.sampler import StreamSampler


class Mirrored(Dataset):
    """Doubles a dataset with horizontally flipped copies: item i + len(base) is item i flipped (StyleGAN's --mirror)."""

    def __init__(self, base: Dataset):
        self.base = base

    def __len__(self) -> int:
        return 2 * len(self.base)

    def __getitem__(self, index: int):
        image, label = self.base[index % len(self.base)]
        return (image.flip(-1) if index >= len(self.base) else image), label


class GANDataModule(pl.LightningDataModule):
    """Subclasses set `self.train_set` in `setup()`: a Dataset of (image (3, H, W) float in [-1, 1], label int).

    Batches are (images (B, 3, H, W) float in [-1, 1], labels (B,) int64). The shuffling order is a pure function of
    `seed` and the number of batches the model has trained on (`StreamSampler`), so resumed runs see the same data.

    Args:
        resolution: side of the square images served.
        batch_size: images per rank per discriminator micro-batch.
        num_workers: DataLoader worker processes.
        flip: add horizontally flipped copies of every image (each epoch shows both orientations).
        seed: seed of the shuffling order.
    """

    num_classes: int = 0

    def __init__(self, resolution: int, batch_size: int = 64, num_workers: int = 0, flip: bool = False, seed: int = 0):
        super().__init__()
        if batch_size < 1:
            raise ValueError(f"batch_size must be positive, got {batch_size}")
        self.resolution, self.batch_size, self.num_workers, self.flip, self.seed = (
            resolution, batch_size, num_workers, flip, seed)
        self.train_set: Dataset | None = None

    def train_dataloader(self) -> DataLoader:
        dataset = Mirrored(self.train_set) if self.flip else self.train_set
        trainer = self.trainer
        sampler = StreamSampler(
            dataset,
            self.batch_size,
            position=self._batches_trained,
            num_replicas=trainer.world_size if trainer else 1,
            rank=trainer.global_rank if trainer else 0,
            seed=self.seed,
        )
        return DataLoader(dataset, self.batch_size, sampler=sampler, num_workers=self.num_workers, drop_last=True,
                          pin_memory=torch.cuda.is_available(), persistent_workers=self.num_workers > 0)

    def _batches_trained(self) -> int:
        """Micro-batches this rank's model has trained on (0 outside of a Trainer)."""
        module = self.trainer.lightning_module if self.trainer is not None else None
        return getattr(module, "d_micro", 0)
