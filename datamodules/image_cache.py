"""The on-disk multi-resolution uint8 cache: every pyramid level of a dataset as one memory-mapped array.

Layout of a cache folder (named <dataset>-<fingerprint>):
    meta.json            count, resolution, levels, classes, source, skipped count, format version
    level_<res>.u8       uint8 (count, 3, res, res), C order, one file per pyramid level (res, res/2, ..., 4)
    labels.i64           int64 (count,)
    identifiers.txt      the source path or key of each cached image, in order (`escape`d)
    skipped.txt          one unreadable source path or key per line (`escape`d), a tab, and the reason

The cache is written into a temporary sibling folder, every file fsynced, and renamed into place as the last step,
so an interrupted build (or a power cut) never leaves a folder that looks complete. A build that finds no readable
image keeps its list of skipped files beside the cache folder (<folder>.skipped.txt) and names the reasons.
Training memory-maps the levels: nothing is decoded and the set is
never loaded into RAM as a whole.
"""
import json
import os
import shutil
import time
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset
from tqdm import tqdm

from datamodules.pyramid import build_pyramid, pyramid_resolutions
from lit_gans.atomic import fsync_folder, write_bytes_atomically

FORMAT_VERSION = 2  # 2: EXIF orientation applied; 16-bit samples always keep their top 8 bits
CHUNK = 256


def is_complete(folder: Path) -> bool:
    return (folder / "meta.json").is_file()


def escape(identifier: str) -> str:
    """A path or key as one line of UTF-8 text: backslash, tab and newline escaped as \\\\, \\t and \\n, and bytes
    that are not UTF-8 (file names from older tools, held by Python as surrogates) as \\xNN."""
    text = identifier.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")
    return text.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


def write_lines(path: Path, lines: list[str]) -> None:
    write_bytes_atomically(path, "".join(f"{line}\n" for line in lines).encode())


def _as_is(item):
    return item


class ImageCache:
    """A finished cache folder, memory-mapped: `levels[res]` is a read-only uint8 array (count, 3, res, res)."""

    def __init__(self, folder: Path):
        self.folder = Path(folder)
        if not is_complete(self.folder):
            raise FileNotFoundError(f"{self.folder} is not a finished lit-gans image cache (no meta.json)")
        self.meta = json.loads((self.folder / "meta.json").read_text())
        self.labels = np.fromfile(self.folder / "labels.i64", dtype=np.int64)
        self.classes: list[str] = self.meta["classes"]
        self.levels = self._map_levels()

    def _map_levels(self) -> dict[int, np.memmap]:
        count = self.meta["count"]
        return {res: np.memmap(self.folder / f"level_{res:04d}.u8", np.uint8, "r", shape=(count, 3, res, res))
                for res in self.meta["levels"]}

    def __getstate__(self) -> dict:
        return {**self.__dict__, "levels": None}  # DataLoader workers re-map the files instead of copying them

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        self.levels = self._map_levels()

    def __len__(self) -> int:
        return self.meta["count"]

    def __getitem__(self, resolution: int) -> np.memmap:
        return self.levels[resolution]

    def describe_skipped(self) -> str | None:
        """"skipped N unreadable files, listed in <folder>/skipped.txt", or None when every file was read."""
        count = self.meta.get("skipped", 0)
        return f"skipped {count} unreadable files, listed in {self.folder / 'skipped.txt'}" if count else None

    def identifiers(self) -> list[str]:
        """The source path or record key of each cached image."""
        return (self.folder / "identifiers.txt").read_text().split("\n")[:-1]  # names may hold other line breaks


def build_image_cache(decoder: Dataset, folder: Path, resolution: int, classes: list[str], source: str,
                      num_workers: int = 0) -> ImageCache:
    """Decode every item of `decoder` once and write the pyramid cache to `folder` atomically.

    decoder[i] -> (uint8 array (3, resolution, resolution) or None when unreadable, label, identifier, reason).
    Unreadable items are skipped, counted and listed in skipped.txt.
    """
    folder = Path(folder)
    folder.parent.mkdir(parents=True, exist_ok=True)
    partial = folder.with_name(f"{folder.name}.partial-{os.getpid()}-{time.time_ns()}")
    partial.mkdir()
    levels = pyramid_resolutions(resolution)
    try:
        files = {res: open(partial / f"level_{res:04d}.u8", "wb") for res in levels}
        labels, identifiers, skipped, chunk = [], [], [], []

        def flush():
            if chunk:
                for res, level in build_pyramid(torch.stack(chunk)).items():
                    files[res].write(level.contiguous().numpy().tobytes())
                chunk.clear()

        loader = DataLoader(decoder, batch_size=None, num_workers=min(num_workers, len(decoder)), collate_fn=_as_is)
        for image, label, identifier, reason in tqdm(loader, total=len(decoder), desc=f"caching {source}",
                                                     unit="img", mininterval=2, disable=None):
            if image is None:
                skipped.append((identifier, reason))
                continue
            chunk.append(torch.from_numpy(np.asarray(image)))
            labels.append(label)
            identifiers.append(identifier)
            if len(chunk) == CHUNK:
                flush()
        flush()
        for f in files.values():
            f.flush()
            os.fsync(f.fileno())
            f.close()
        skipped_lines = [f"{escape(identifier)}\t{escape(reason)}" for identifier, reason in skipped]
        if not labels:
            listing = folder.with_name(f"{folder.name}.skipped.txt")
            write_lines(listing, skipped_lines)
            raise FileNotFoundError(f"no readable images in {source}: {len(skipped)} unreadable files, listed with "
                                    f"their reasons in {listing}" + "".join(f"\n  {line}" for line in skipped_lines[:5]))
        write_bytes_atomically(partial / "labels.i64", np.asarray(labels, dtype=np.int64).tobytes())
        write_lines(partial / "identifiers.txt", [escape(i) for i in identifiers])
        write_lines(partial / "skipped.txt", skipped_lines)
        meta = {"format": FORMAT_VERSION, "count": len(labels), "resolution": resolution, "levels": levels,
                "classes": classes, "source": source, "skipped": len(skipped)}
        write_bytes_atomically(partial / "meta.json", json.dumps(meta, indent=1).encode())
        try:
            os.replace(partial, folder)  # atomic on one filesystem: the cache appears whole or not at all
        except OSError:
            if not is_complete(folder):  # another process finished the same cache first: keep theirs
                raise
        fsync_folder(folder.parent)
    finally:
        if partial.exists():
            shutil.rmtree(partial, ignore_errors=True)
    return ImageCache(folder)


def wait_for_cache(folder: Path, timeout_s: float = 24 * 3600, poll_s: float = 5.0) -> ImageCache:
    """Open a cache that another process (rank 0's prepare_data) is building, waiting until it is complete."""
    deadline = time.monotonic() + timeout_s
    while not is_complete(folder):
        if time.monotonic() > deadline:
            raise TimeoutError(f"waited {timeout_s:.0f} s for the image cache {folder}; is prepare_data running on rank 0?")
        time.sleep(poll_s)
    return ImageCache(folder)
