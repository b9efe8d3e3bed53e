"""Base DataModule: multi-resolution serving with ProGAN's fade-in, flips, DDP sharding and exact resume."""
import hashlib
import os
import warnings

import numpy as np
import pytorch_lightning as pl
import torch
from pytorch_lightning.utilities import rank_zero_info, rank_zero_warn
from torch.utils.data import DataLoader, Dataset, get_worker_info

from datamodules.batch_stream import BatchKey, BatchStream, Schedule
from datamodules.pyramid import fade, pyramid_resolutions
from lit_gans.cache import fingerprint

DATA_RECORD = "lit_gans_data"  # marks the data's record in a checkpoint (`GANDataModule.state_dict`)


# Lightning warns, on a resume mid-epoch, that the DataLoader "is not resumable". Here the DataModule is: its
# state_dict holds the position in the global batch order (`BatchStream`), which Lightning saves and restores with
# the checkpoint, so the resumed run draws exactly the batches the uninterrupted one would have.
warnings.filterwarnings("ignore", message=r".*ended before the epoch ended and your dataloader is not resumable")


def default_workers(limit: int = 4) -> int:
    """min(limit, the CPU cores this process may run on): its affinity mask (a SLURM or container allocation), not
    the machine's count, so that torch never warns of more workers than cores."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # macOS, Windows
        cores = os.cpu_count() or 1
    return max(1, min(limit, cores))


class PyramidBatches(Dataset):
    """Whole batches from a resolution pyramid: dataset[BatchKey] -> (uint8 images (B, 3, r, r), labels (B,), alpha).

    Images come in stream order, with their labels and flips; they are read from the memory map front to back
    (ascending index) and put back in order, so that batches are exact slices of the stream (for DDP: every rank's
    batch is an interleaved slice of the same global batch).

    `levels` maps each resolution to a uint8 array-like (N, 3, r, r): in-memory tensors or a memory-mapped cache.
    """

    def __init__(self, levels, labels: np.ndarray):
        self.levels, self.labels = levels, np.asarray(labels)

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, key: BatchKey) -> tuple[torch.Tensor, torch.Tensor, float]:
        indices, flips = np.asarray(key.indices), torch.as_tensor(key.flips)
        order = np.argsort(indices, kind="stable")
        level = self.levels[key.resolution]
        images = torch.empty((len(indices), *level.shape[1:]), dtype=torch.uint8)
        if get_worker_info() is not None:
            images.share_memory_()  # filled in place and handed to the main process without another copy
        images.numpy()[order] = np.take(level, indices[order], axis=0)  # sequential read, then stream order
        if flips.any():
            images[flips] = images[flips].flip(-1)
        labels = torch.as_tensor(self.labels[indices], dtype=torch.long)
        return images, labels, key.alpha


class StreamLoader(DataLoader):
    """The DataLoader of a `BatchStream`, resumable as Lightning defines it (`state_dict` / `load_state_dict`):
    every `__iter__` restarts the stream at the position the model's image counter gives, which the checkpoint
    already holds, so the loader has no state of its own to save."""

    def state_dict(self) -> dict:
        return {}

    def load_state_dict(self, state_dict: dict) -> None:
        pass


class GANDataModule(pl.LightningDataModule):
    """Serves (images (B, 3, r, r) float in [-1, 1], labels (B,) int64) batches from a uint8 resolution pyramid.

    Subclasses implement `load()` -> (levels, labels): levels maps every resolution from `resolution` down to 4
    to a uint8 array-like (N, 3, res, res). Workers send uint8 batches; the conversion to [-1, 1] and the fade-in
    run after the transfer to the device (`on_after_batch_transfer`).

    Resolution and fade-in (ProGAN): `set_resolution(res, alpha)` serves reals at `res`; while alpha < 1 they are
    blended toward their own half-resolution version, x = lerp(up(down(x)), x, alpha). For exact, prefetch-proof
    schedules, `set_schedule(fn)` with fn(images shown) -> (resolution, alpha, batch size) makes every batch a pure
    function of its position in the stream. `batch_sizes` maps resolutions to batch sizes (others use `batch_size`).

    Args:
        resolution: the largest side served (a power of two >= 4).
        batch_size: images per rank per discriminator micro-batch.
        num_workers: DataLoader worker processes (None: `default_workers()`, min(4, the cores this process may use)).
        flip: horizontally flip each image with probability 1/2 (a fixed function of seed and stream position).
        seed: seed of the shuffling order and of the flips.
        batch_sizes: optional per-resolution batch sizes, e.g. {256: 14, 512: 6, 1024: 3}.
    """

    num_classes: int = 0
    resume_with_other_data: bool = False  # `fit --resume_with_other_data true`: see `load_state_dict`

    def __init__(self, resolution: int, batch_size: int = 64, num_workers: int | None = 0, flip: bool = False,
                 seed: int = 0, batch_sizes: dict[int, int] | None = None):
        super().__init__()
        if batch_size < 1 or any(b < 1 for b in (batch_sizes or {}).values()):
            raise ValueError(f"batch sizes must be positive, got {batch_size} and {batch_sizes}")
        self.resolutions = pyramid_resolutions(resolution)
        self.resolution, self.batch_size, self.flip, self.seed = resolution, batch_size, flip, seed
        self.num_workers = default_workers() if num_workers is None else num_workers
        self.batch_sizes = {int(k): int(v) for k, v in (batch_sizes or {}).items()}
        self.current_resolution, self.current_alpha = resolution, 1.0
        self._schedule: Schedule | None = None
        self.levels = None
        self.labels: np.ndarray | None = None
        self.held_out_levels = None  # the held-out split, when the dataset has one (see `load_held_out`)
        self.held_out_labels_array: np.ndarray | None = None
        self._content_fingerprint: str | None = None

    @classmethod
    def declared_classes(cls, **init_args) -> int | None:
        """The number of classes a DataModule built with `init_args` will serve, known without reading any data
        (None when only the data can tell). The CLI sets the model's `num_classes` from it."""
        return cls.num_classes

    def check_source(self) -> None:
        """Raise FileNotFoundError, in one line, when the data is not where this DataModule looks, without reading
        it: the CLI calls it in the launching process, before any worker process starts."""

    def load(self):
        """(levels {res: uint8 (N, 3, res, res)}, labels int64 (N,)) for resolutions `self.resolutions`."""
        raise NotImplementedError

    def load_held_out(self):
        """(levels, labels) of images kept out of training (a test or validation split), as `load` returns them,
        or None when the dataset has none. Subclasses with a held-out split override it."""
        return None

    def setup(self, stage: str | None = None) -> None:
        if self.levels is None:
            self.levels, self.labels = self.load()
            held_out = self.load_held_out()
            if held_out is not None:
                self.held_out_levels, self.held_out_labels_array = held_out

    # ------------------------------------------------------------------------- reference images (public interface)
    # What evaluation and callbacks read; nothing outside `datamodules/` touches levels, caches or their files.

    def fingerprint(self) -> str:
        """A short identity of the training images served (source and preprocessing): equal fingerprints mean
        the same images in the same order, so statistics computed from them can be reused."""
        return fingerprint(type(self).__name__, self.identity())

    def identity(self) -> list:
        """What `fingerprint` hashes; subclasses add their source and settings."""
        return [self.resolution, self.seed, self.num_images]

    @property
    def num_images(self) -> int:
        """Number of training images (loads the data on first use)."""
        return self.split_size("train")

    @property
    def has_held_out(self) -> bool:
        """Whether the dataset has images kept out of training (split "held_out")."""
        self.setup("fit")
        return self.held_out_levels is not None

    def split_size(self, split: str = "train") -> int:
        """Number of images of a split: "train" or "held_out"."""
        return len(self._split(split)[1])

    def images(self, indices, resolution: int | None = None, split: str = "train") -> torch.Tensor:
        """Images of a split ("train" or "held_out") at `indices` (ascending reads are fastest) as uint8
        (B, 3, r, r), r = `resolution` (default: the full resolution), unflipped."""
        levels, _ = self._split(split)
        resolution = resolution or self.resolution
        if resolution not in self.resolutions:
            raise ValueError(f"resolution {resolution} is not served; choose from {self.resolutions}")
        return torch.as_tensor(np.asarray(levels[resolution][np.asarray(indices)]))

    def image_labels(self, indices, split: str = "train") -> torch.Tensor:
        """Class labels (B,) int64 of the images of a split at `indices`."""
        return torch.as_tensor(self._split(split)[1][np.asarray(indices)], dtype=torch.long)

    def _split(self, split: str):
        self.setup("fit")
        if split == "train":
            return self.levels, self.labels
        if split != "held_out":
            raise ValueError(f"unknown split {split!r}; choose 'train' or 'held_out'")
        if self.held_out_levels is None:
            raise ValueError(f"{type(self).__name__} has no held-out split")
        return self.held_out_levels, self.held_out_labels_array

    # ------------------------------------------------------------------------------------------ resolution control

    def set_resolution(self, resolution: int, alpha: float = 1.0) -> None:
        """Serve reals at `resolution`, faded in with weight `alpha` (1: no fade) from the next batch drawn."""
        if resolution not in self.resolutions:
            raise ValueError(f"resolution {resolution} is not served; choose from {self.resolutions}")
        if not 0 <= alpha <= 1:
            raise ValueError(f"alpha must lie in [0, 1], got {alpha}")
        self.current_resolution, self.current_alpha = resolution, float(alpha)

    def set_schedule(self, schedule: Schedule | None) -> None:
        """schedule(images shown by all ranks) -> (resolution, alpha, batch size); None: use set_resolution's values."""
        self._schedule = schedule

    def schedule(self, images_shown: int) -> tuple[int, float, int]:
        if self._schedule is not None:
            resolution, alpha, batch_size = self._schedule(images_shown)
            if resolution not in self.resolutions:
                raise ValueError(f"the schedule asks for {resolution} px, but this data serves {self.resolutions}")
            return resolution, alpha, batch_size
        return self.current_resolution, self.current_alpha, self.batch_size_for(self.current_resolution)

    def batch_size_for(self, resolution: int) -> int:
        return self.batch_sizes.get(resolution, self.batch_size)

    # ---------------------------------------------------------------------------------------------------- loading

    def train_dataloader(self) -> DataLoader:
        trainer = self.trainer
        stream = BatchStream(
            len(self.labels),
            self.schedule,
            position=self._images_shown,
            base_batch_size=self.batch_size,
            num_replicas=self._world_size(),
            rank=trainer.global_rank if trainer else 0,
            seed=self.seed,
            flip=self.flip,
        )
        return StreamLoader(PyramidBatches(self.levels, self.labels), batch_size=None, sampler=stream,
                            num_workers=self.num_workers, pin_memory=torch.cuda.is_available(),
                            persistent_workers=self.num_workers > 0)

    def on_after_batch_transfer(self, batch, dataloader_idx: int = 0):
        """(uint8 images, labels, alpha) -> (float images in [-1, 1], faded in by alpha, labels)."""
        images, labels, alpha = batch
        return fade(images.float() / 127.5 - 1, alpha), labels

    def _world_size(self) -> int:
        return self.trainer.world_size if self.trainer is not None else 1

    def _images_shown(self) -> int:
        """Images the model has trained on, summed over all ranks: the position in the stream (0 outside a Trainer)."""
        module = self.trainer.lightning_module if self.trainer is not None else None
        return getattr(module, "images_seen", 0)

    # ----------------------------------------------------------------------------------------------------- resume

    def content_fingerprint(self) -> str:
        """A hash of the training images as served, wherever their files are: their number, class labels and 4x4
        level (any image added, removed, changed or reordered changes it), computed once (a sequential read of
        48 bytes per image)."""
        if self._content_fingerprint is None:
            levels, labels = self._split("train")
            digest = hashlib.sha256(np.ascontiguousarray(labels, dtype=np.int64).tobytes())
            smallest = levels[self.resolutions[-1]]
            for start in range(0, len(labels), 1 << 16):
                digest.update(np.ascontiguousarray(np.asarray(smallest[start:start + (1 << 16)])).tobytes())
            self._content_fingerprint = digest.hexdigest()[:16]
        return self._content_fingerprint

    def state_dict(self) -> dict:
        """What a checkpoint records of the data (Lightning saves it under the class name): the images served and
        how the stream is cut, so that a resumed run can say what changed (`load_state_dict`)."""
        if self.levels is None:
            return {}
        return {DATA_RECORD: 1, "images": self.content_fingerprint(), "count": self.num_images, "seed": self.seed,
                "flip": self.flip, "batch_size": self.batch_size, "batch_sizes": dict(self.batch_sizes),
                "world_size": self._world_size()}

    def load_state_dict(self, state: dict) -> None:
        """Resume from a checkpoint's data record: other images are refused (unless `resume_with_other_data`);
        another seed or flip setting changes the order from here on (a warning); another batch size or world
        size continues the same stream at the same image (one line says so)."""
        if not state.get(DATA_RECORD):
            return
        position = self._images_shown()
        if state["images"] != self.content_fingerprint():
            what = (f"the checkpoint's run trained on other images ({state['count']:,} images, fingerprint "
                    f"{state['images']}) than this data serves ({self.num_images:,}, {self.content_fingerprint()})")
            if not self.resume_with_other_data:
                raise ValueError(f"{what}; resuming would mix two datasets in one run. Resume with the same data, or "
                                 "pass --resume_with_other_data true (from Python: datamodule.resume_with_other_data "
                                 "= True) to continue on these images")
            rank_zero_warn(f"{what}: continuing on these images at stream position {position:,}, as "
                           "resume_with_other_data allows")
        changed = [f"{name} {new} (the checkpoint's run: {state[name]})" for name, new in
                   (("seed", self.seed), ("flip", self.flip)) if state[name] != new]
        if changed:
            rank_zero_warn(f"resuming with data {' and '.join(changed)}: the images from image {position:,} on follow "
                           "another order than the uninterrupted run's")
        world_size = self._world_size()
        cut = (self.batch_size, dict(self.batch_sizes), world_size)
        if cut != (state["batch_size"], dict(state["batch_sizes"]), state["world_size"]):
            per_resolution = lambda sizes: f" ({sizes} by resolution)" if sizes else ""
            rank_zero_info(f"resuming with world size {world_size} x batch {self.batch_size} per rank"
                           f"{per_resolution(self.batch_sizes)} (the checkpoint's run: {state['world_size']} x "
                           f"{state['batch_size']}{per_resolution(state['batch_sizes'])}): the same image stream "
                           f"continues at image {position:,}, cut into other batches")
