"""DataModules over image files or records, served from the multi-resolution uint8 cache (`image_cache`)."""
import os
from pathlib import Path

from pytorch_lightning.utilities import rank_zero_info
from torch.utils.data import Dataset

from datamodules.base import GANDataModule
from datamodules.decode import Box, decode_square
from datamodules.image_cache import FORMAT_VERSION, ImageCache, build_image_cache, is_complete, wait_for_cache
from lit_gans.cache import default_cache_dir, fingerprint


class Decoder(Dataset):
    """items[i] = (identifier, label) -> (uint8 (3, R, R) or None, label, identifier, reason); identifiers are paths."""

    def __init__(self, items: list[tuple[str, int]], resolution: int, box: Box | None = None):
        self.items, self.resolution, self.box = items, resolution, box

    def __len__(self) -> int:
        return len(self.items)

    def read(self, identifier: str):
        return identifier

    def __getitem__(self, index: int):
        identifier, label = self.items[index]
        image, reason = decode_square(self.read(identifier), self.resolution, self.box)
        return image, label, identifier, reason


class CachedDataModule(GANDataModule):
    """Base of the file-backed datasets: `prepare_data()` (rank 0 of each node) decodes every image once into the
    pyramid cache; `setup()` memory-maps it (other ranks wait for it). The cache folder is
    <cache_dir>/<name>-<fingerprint>, where the fingerprint covers the source (file names, sizes and modification
    times, or record counts) and every preprocessing setting, so changing either builds a new cache.

    Subclasses define `name`, `layout` (shown in errors), `items()` -> [(identifier, label)], `classes`,
    `source_identity()` and optionally `decoder()` and `settings()`.

    Args:
        root: dataset location.
        cache_dir: where caches live (default: $LIT_GANS_CACHE or ~/.cache/lit-gans).
        The others are those of `GANDataModule`.
    """

    name = "images"
    layout = "<root>/**/<image>.jpg"

    def __init__(self, root: str, resolution: int = 64, batch_size: int = 64, num_workers: int | None = None,
                 flip: bool = False, seed: int = 0, batch_sizes: dict[int, int] | None = None, cache_dir: str | None = None):
        super().__init__(resolution, batch_size, num_workers, flip, seed, batch_sizes)
        self.root = Path(root).expanduser()
        self.cache_dir = Path(cache_dir).expanduser() if cache_dir else default_cache_dir()
        self.classes: list[str] = []
        self._folder: Path | None = None
        self._items: list[tuple[str, int]] | None = None
        self.cache: ImageCache | None = None

    # ---------------------------------------------------------------------------------------- subclass interface

    @classmethod
    def declared_classes(cls, **init_args) -> int | None:
        return None

    def items(self) -> list[tuple[str, int]]:
        raise NotImplementedError

    def source_identity(self) -> list:
        raise NotImplementedError

    def settings(self) -> dict:
        return {}

    def decoder(self) -> Dataset:
        return Decoder(self.listed_items(), self.resolution)

    # ------------------------------------------------------------------------------------------------------ cache

    def check_root(self) -> None:
        if not self.root.exists():
            raise FileNotFoundError(f"{type(self).__name__}: {self.root} does not exist; expected {self.layout}")

    def check_source(self) -> None:
        self.check_root()

    def listed_items(self) -> list[tuple[str, int]]:
        if self._items is None:
            self.check_root()
            self._items = self.items()
            if not self._items:
                raise FileNotFoundError(f"{type(self).__name__}: no images found under {self.root}; expected {self.layout}")
        return self._items

    def cache_folder(self) -> Path:
        if self._folder is None:
            self.listed_items()
            key = fingerprint(type(self).__name__, FORMAT_VERSION, str(self.root.resolve()), self.resolution,
                              self.classes, self.settings(), self.source_identity())
            self._folder = self.cache_dir / f"{self.name}-{self.resolution}-{key}"
        return self._folder

    def identity(self) -> list:
        return [self.cache_folder().name]  # the cache is named by the source identity and every setting

    def prepare_data(self) -> None:
        folder = self.cache_folder()
        if not is_complete(folder):
            build_image_cache(self.decoder(), folder, self.resolution, self.classes, f"{self.name} ({self.root})",
                              num_workers=self.num_workers)

    def load(self):
        folder = self.cache_folder()
        distributed = self.trainer is not None and self.trainer.world_size > 1
        if not is_complete(folder) and not distributed:
            self.prepare_data()  # used outside a Trainer, or prepare_data was skipped
        self.cache = wait_for_cache(folder)
        skipped = self.cache.describe_skipped()
        if skipped:  # said at every run, not only when the cache is built
            rank_zero_info(f"{self.name} ({self.root}): {len(self.cache)} images; {skipped}")
        self.classes = self.cache.classes
        self.num_classes = len(self.classes)
        return self.cache, self.cache.labels


def file_identity(root: Path, files: list[Path]) -> list:
    """(relative path, size, mtime) of every file: cheap to compute, and changes whenever a file does."""
    identity = []
    for path in files:
        stat = os.stat(path)
        identity.append((str(path.relative_to(root)), stat.st_size, stat.st_mtime_ns))
    return identity
