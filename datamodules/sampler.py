"""An endless, reproducible stream of shuffled indices, positioned by the number of batches already trained on."""
from typing import Callable, Iterator

import torch
from torch.utils.data import Dataset, DistributedSampler


class StreamSampler(DistributedSampler):
    """Serves an endless stream of batches one epoch-length window at a time.

    Per rank, batch k of the stream is batch k % L of data epoch k // L, where L = batches per epoch and each data
    epoch is a permutation seeded by seed + epoch, sharded across ranks as DistributedSampler does. Each `__iter__`
    starts at `position()`, the number of batches this rank has trained on, so what a run sees depends only on that
    count: a run resumed from any checkpoint continues the exact stream of the uninterrupted run, wherever
    Lightning's own epoch counter stands. Subclassing DistributedSampler keeps Lightning from replacing it under DDP.
    """

    def __init__(self, dataset: Dataset, batch_size: int, position: Callable[[], int], num_replicas: int = 1,
                 rank: int = 0, seed: int = 0):
        super().__init__(dataset, num_replicas=num_replicas, rank=rank, shuffle=True, seed=seed, drop_last=True)
        self.batch_size, self.position = batch_size, position
        self.batches_per_epoch = self.num_samples // batch_size
        if self.batches_per_epoch < 1:
            raise ValueError(f"{len(dataset)} images cannot fill one batch of {batch_size} on each of {num_replicas} ranks")

    def epoch_indices(self, epoch: int) -> list[int]:
        """This rank's indices for data epoch `epoch`, whole batches only."""
        order = torch.randperm(len(self.dataset), generator=torch.Generator().manual_seed(self.seed + epoch))
        mine = order[: self.total_size][self.rank :: self.num_replicas]
        return mine[: self.batches_per_epoch * self.batch_size].tolist()

    def __iter__(self) -> Iterator[int]:
        start = self.position()
        epoch, indices = None, []
        for k in range(start, start + self.batches_per_epoch):
            if k // self.batches_per_epoch != epoch:
                epoch = k // self.batches_per_epoch
                indices = self.epoch_indices(epoch)
            offset = (k % self.batches_per_epoch) * self.batch_size
            yield from indices[offset : offset + self.batch_size]

    def __len__(self) -> int:
        return self.batches_per_epoch * self.batch_size

    def set_epoch(self, epoch: int) -> None:
        """Ignored: the order follows the stream position, not Lightning's epoch counter."""
