"""An endless, reproducible stream of batches whose resolution, fade-in alpha and size follow a schedule of the
number of images shown."""
from dataclasses import dataclass
from typing import Callable, Iterator

import numpy as np
import torch
from torch.utils.data import DistributedSampler


@dataclass(frozen=True)
class BatchKey:
    """What one batch holds: dataset indices, per-image horizontal flips, resolution and fade-in alpha."""

    indices: tuple[int, ...]
    flips: tuple[bool, ...]
    resolution: int
    alpha: float


Schedule = Callable[[int], tuple[int, float, int]]  # images shown (all ranks) -> (resolution, alpha, batch size)


class BatchStream(DistributedSampler):
    """Yields `BatchKey`s, one per batch, for a DataLoader with `batch_size=None`.

    Per rank, the data is an endless stream of images: image k is item k % L of data epoch k // L, where L is this
    rank's share of an epoch and each data epoch is a permutation seeded by seed + epoch, sharded across ranks as
    DistributedSampler does. Each `__iter__` starts at `position()`, the number of images this rank has trained on,
    and cuts batches from the stream whose resolution, alpha and size are `schedule(images shown by all ranks)` at
    the batch's start. So a batch depends only on where it starts in the stream: a resumed run continues the exact
    stream of the uninterrupted run, and batches prefetched before a resolution switch already have the new
    resolution. Horizontal flips (with `flip`) are a fixed function of (seed, global stream position). One `__iter__`
    yields `len(self)` batches. Subclassing DistributedSampler keeps Lightning from replacing it under DDP.
    """

    def __init__(self, num_items: int, schedule: Schedule, position: Callable[[], int], base_batch_size: int,
                 num_replicas: int = 1, rank: int = 0, seed: int = 0, flip: bool = False):
        super().__init__(range(num_items), num_replicas=num_replicas, rank=rank, shuffle=True, seed=seed,
                         drop_last=True)
        if self.num_samples < base_batch_size:
            ranks = f" on each of {num_replicas} ranks" if num_replicas > 1 else ""
            fix = f"set data.batch_size to at most {self.num_samples}" if self.num_samples else "use fewer ranks"
            raise ValueError(f"{num_items} images cannot fill one batch of {base_batch_size}{ranks}; {fix}")
        self.schedule, self.position, self.flip = schedule, position, flip
        self.batches_per_epoch = self.num_samples // base_batch_size
        self._epoch_cache: tuple[int, np.ndarray] | None = None

    def epoch_indices(self, epoch: int) -> np.ndarray:
        """This rank's indices for data epoch `epoch` (the latest epoch's permutation is kept)."""
        if self._epoch_cache is None or self._epoch_cache[0] != epoch:
            order = torch.randperm(len(self.dataset), generator=torch.Generator().manual_seed(self.seed + epoch))
            self._epoch_cache = epoch, order[: self.total_size][self.rank :: self.num_replicas].numpy()
        return self._epoch_cache[1]

    def stream(self, start: int, count: int) -> tuple[list[int], list[bool]]:
        """Indices and flips of stream items start, ..., start + count - 1."""
        indices = [int(self.epoch_indices(k // self.num_samples)[k % self.num_samples]) for k in range(start, start + count)]
        flips = [False] * count
        if self.flip:  # drawn for the global batch and sliced like the indices, so independent of the world size
            rng = np.random.default_rng([self.seed, start * self.num_replicas])
            flips = (rng.random(count * self.num_replicas) < 0.5)[self.rank :: self.num_replicas]
        return indices, [bool(f) for f in flips]

    def __iter__(self) -> Iterator[BatchKey]:
        position = self.position()
        for _ in range(self.batches_per_epoch):
            resolution, alpha, batch_size = self.schedule(position * self.num_replicas)
            indices, flips = self.stream(position, batch_size)
            yield BatchKey(tuple(indices), tuple(flips), resolution, float(alpha))
            position += batch_size

    def __len__(self) -> int:
        return self.batches_per_epoch

    def set_epoch(self, epoch: int) -> None:
        """Ignored: the order follows the stream position, not Lightning's epoch counter."""
