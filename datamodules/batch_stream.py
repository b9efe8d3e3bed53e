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


FLIP_BLOCK = 4096  # stream positions whose flips are drawn together

Schedule = Callable[[int], tuple[int, float, int]]  # images shown (all ranks) -> (resolution, alpha, batch size)


class BatchStream(DistributedSampler):
    """Yields `BatchKey`s, one per batch, for a DataLoader with `batch_size=None`.

    All ranks together read one endless global stream of images: image k of the stream is item k % N of data epoch
    k // N, each data epoch a permutation of the N items seeded by seed + epoch. A global batch of B images per rank
    starting at stream position p takes images p, ..., p + B * W - 1, and rank r takes every W-th of them, p + r,
    p + r + W, ... Each `__iter__` starts at `position()`, the number of images all ranks have trained on, and the
    batch's resolution, alpha and size are `schedule(position)` at its start.

    So within every data epoch each image is shown exactly once, whatever the world size and whether or not it
    divides N (a global batch may straddle two epochs); a batch depends only on where it starts in the stream; and a
    run resumed with another world size or batch size continues the same stream at the same image, flips included.
    Where W divides N, rank r's images are those of DistributedSampler's shard. Horizontal flips (with `flip`) are
    a fixed function of (seed, stream position). One `__iter__` yields `len(self)` batches.
    Subclassing DistributedSampler keeps Lightning from replacing it under DDP.
    """

    def __init__(self, num_items: int, schedule: Schedule, position: Callable[[], int], base_batch_size: int,
                 num_replicas: int = 1, rank: int = 0, seed: int = 0, flip: bool = False):
        super().__init__(range(num_items), num_replicas=num_replicas, rank=rank, shuffle=True, seed=seed,
                         drop_last=True)
        if num_items < base_batch_size * num_replicas:
            ranks = f" on each of {num_replicas} ranks" if num_replicas > 1 else ""
            per_rank = num_items // num_replicas
            fix = f"set data.batch_size to at most {per_rank}" if per_rank else "use fewer ranks"
            raise ValueError(f"{num_items} images cannot fill one batch of {base_batch_size}{ranks}; {fix}")
        self.num_items, self.schedule, self.position, self.flip = num_items, schedule, position, flip
        self.batches_per_epoch = num_items // (base_batch_size * num_replicas)
        self._permutations: dict[int, np.ndarray] = {}

    def permutation(self, epoch: int) -> np.ndarray:
        """The order of data epoch `epoch` (the two latest are kept: a batch spans at most two epochs)."""
        if epoch not in self._permutations:
            generator = torch.Generator().manual_seed(self.seed + epoch)
            self._permutations = {e: p for e, p in self._permutations.items() if e == epoch - 1}
            self._permutations[epoch] = torch.randperm(self.num_items, generator=generator).numpy()
        return self._permutations[epoch]

    def stream(self, start: int, count: int) -> tuple[list[int], list[bool]]:
        """This rank's indices and flips of the global batch of `count` images per rank at stream position `start`."""
        positions = start + self.rank + self.num_replicas * np.arange(count)
        epochs, offsets = np.divmod(positions, self.num_items)
        indices = [int(self.permutation(int(e))[o]) for e, o in zip(epochs, offsets)]
        flips = self.flips(positions) if self.flip else np.zeros(count, bool)
        return indices, [bool(f) for f in flips]

    def flips(self, positions: np.ndarray) -> np.ndarray:
        """Whether the images at these stream positions are mirrored: a fixed function of (seed, position), drawn
        in blocks of FLIP_BLOCK positions, so it depends neither on the world size nor on how batches are cut."""
        blocks, offsets = np.divmod(positions, FLIP_BLOCK)
        flips = np.empty(len(positions), bool)
        for block in np.unique(blocks):
            draws = np.random.default_rng([self.seed, int(block)]).random(FLIP_BLOCK) < 0.5
            flips[blocks == block] = draws[offsets[blocks == block]]
        return flips

    def __iter__(self) -> Iterator[BatchKey]:
        position = self.position()
        for _ in range(self.batches_per_epoch):
            resolution, alpha, batch_size = self.schedule(position)
            indices, flips = self.stream(position, batch_size)
            yield BatchKey(tuple(indices), tuple(flips), resolution, float(alpha))
            position += batch_size * self.num_replicas

    def __len__(self) -> int:
        return self.batches_per_epoch

    def set_epoch(self, epoch: int) -> None:
        """Ignored: the order follows the stream position, not Lightning's epoch counter."""
