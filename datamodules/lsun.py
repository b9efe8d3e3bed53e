"""LSUN scene categories in their lmdb release format: <root>/<category>_train_lmdb/{data.mdb, lock.mdb}."""
import os

from datamodules.cached import CachedDataModule, Decoder


def open_lmdb(path: str):
    import lmdb

    return lmdb.open(path, readonly=True, lock=False, readahead=False, meminit=False, max_readers=1)


class LSUNDecoder(Decoder):
    """Identifiers are "<category>\\t<key>"; each process opens the lmdb environments itself, on first use."""

    def __init__(self, items, resolution, paths: dict[str, str]):
        super().__init__(items, resolution)
        self.paths = paths
        self._envs, self._pid = {}, None

    def read(self, identifier: str) -> bytes:
        if self._pid != os.getpid():  # never reuse an environment opened before a fork
            self._envs, self._pid = {}, os.getpid()
        category, key = identifier.split("\t", 1)
        if category not in self._envs:
            self._envs[category] = open_lmdb(self.paths[category])
        with self._envs[category].begin(write=False) as txn:
            value = txn.get(key.encode("utf-8", "surrogateescape"))
        return value if value is not None else b""

    def __getstate__(self) -> dict:
        return {**self.__dict__, "_envs": {}, "_pid": None}


class LSUNDataModule(CachedDataModule):
    """One or more LSUN categories (the category is the class label), center-cropped to a square and resized.

    Args:
        root: folder holding the <category>_train_lmdb folders.
        categories: e.g. ["bedroom"] or ["church_outdoor", "tower"].
        max_images: keep only the first N records of each category (ProGAN's "-100k" sets use 100000).
        The others are those of `CachedDataModule`.
    """

    name = "lsun"
    layout = "<root>/<category>_train_lmdb/data.mdb, e.g. lsun/bedroom_train_lmdb"

    @classmethod
    def declared_classes(cls, **init_args) -> int | None:
        categories = init_args.get("categories") or ["bedroom"]
        return len(categories) if len(categories) > 1 else 0  # one category: nothing to condition on

    def __init__(self, root: str, categories: list[str] | None = None, resolution: int = 256,
                 max_images: int | None = None, batch_size: int = 64, num_workers: int | None = None, flip: bool = False,
                 seed: int = 0, batch_sizes: dict[int, int] | None = None, cache_dir: str | None = None):
        super().__init__(root, resolution, batch_size, num_workers, flip, seed, batch_sizes, cache_dir)
        self.categories = list(categories or ["bedroom"])
        self.max_images = max_images

    def lmdb_path(self, category: str) -> str:
        path = self.root / f"{category}_train_lmdb"
        if not (path / "data.mdb").is_file():
            raise FileNotFoundError(f"LSUN category {category!r}: {path}/data.mdb does not exist; expected {self.layout}")
        return str(path)

    def check_source(self) -> None:
        self.check_root()
        for category in self.categories:
            self.lmdb_path(category)

    def items(self) -> list[tuple[str, int]]:
        """Every record key, listed in this process with the environment closed again before any worker forks."""
        items, self._identity = [], []
        for label, category in enumerate(self.categories):
            env = open_lmdb(self.lmdb_path(category))
            try:
                with env.begin(write=False) as txn:
                    keys = []
                    for key in txn.cursor().iternext(keys=True, values=False):
                        keys.append(key.decode("utf-8", "surrogateescape"))  # any byte string
                        if self.max_images is not None and len(keys) >= self.max_images:
                            break
                self._identity.append((category, env.stat()["entries"], os.stat(self.lmdb_path(category) + "/data.mdb").st_mtime_ns))
            finally:
                env.close()
            items += [(f"{category}\t{key}", label) for key in keys]
        self.classes = list(self.categories)
        return items

    def settings(self) -> dict:
        return {"categories": self.categories, "max_images": self.max_images}

    def source_identity(self) -> list:
        return self._identity

    def decoder(self) -> LSUNDecoder:
        return LSUNDecoder(self.listed_items(), self.resolution, {c: self.lmdb_path(c) for c in self.categories})
