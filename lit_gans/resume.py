"""The checkpoint that `--ckpt_path last` or `--ckpt_path RUN_DIR` names.

A run writes its checkpoints to <run dir>/checkpoints/ (`callbacks.run_dir`), where ModelCheckpoint's `save_last`
keeps last.ckpt (last-v1.ckpt, ... when a name is taken). `last` is the newest of those files among the places a
run of the given config writes to; a run folder names its own.
"""
import glob
import os
from pathlib import Path
from typing import Iterable

import torch

LAST = "last*.ckpt"  # ModelCheckpoint's save_last files


def newest(paths: Iterable[str | Path]) -> Path | None:
    """The most recently modified of `paths` (None when there are none)."""
    paths = [Path(p) for p in paths if Path(p).is_file()]
    return max(paths, key=lambda p: p.stat().st_mtime_ns) if paths else None


def in_folder(folder: str | Path, pattern: str) -> str:
    """A glob pattern for `pattern` inside `folder`, whose own name may hold glob characters ([, *, ?)."""
    return os.path.join(glob.escape(str(folder)), pattern)


def last_checkpoint(patterns: list[str]) -> Path:
    """The newest file matching any of the glob `patterns`; FileNotFoundError, saying where it looked, if none."""
    found = newest(path for pattern in patterns for path in glob.glob(pattern))
    if found is None:
        raise FileNotFoundError(f"--ckpt_path last: there is no run to resume; looked for {' and '.join(patterns)}")
    return found


def saved_state(path: str | Path) -> dict:
    """The checkpoint at `path`, its tensors memory-mapped (not read); ValueError naming the file when it is not a
    readable checkpoint (truncated by a crash during its save, or a foreign file)."""
    try:
        return torch.load(path, map_location="cpu", weights_only=True, mmap=True)
    except Exception as error:
        reason = (str(error).strip().splitlines() or [""])[0]
        raise ValueError(f"checkpoint {path} cannot be read ({type(error).__name__}: {reason}); it may have been "
                         "truncated by a crash during its save, or not be a checkpoint: move it away to resume from "
                         "an earlier one") from error


def run_folder_checkpoint(folder: str | Path) -> Path:
    """The newest last*.ckpt of a run folder (<folder>/checkpoints/) or of a checkpoints folder itself."""
    folder = Path(folder)
    found = newest([*glob.glob(in_folder(folder / "checkpoints", LAST)), *glob.glob(in_folder(folder, LAST))])
    if found is None:
        raise FileNotFoundError(f"--ckpt_path {folder}: this folder holds no run to resume (no "
                                f"{folder / 'checkpoints' / 'last.ckpt'})")
    return found


def resolve(value: str, patterns: list[str]) -> str:
    """`--ckpt_path` as a file: "last" -> `last_checkpoint(patterns)`; a folder -> `run_folder_checkpoint`;
    "hpc", URLs and files as given. A local file that does not exist is refused here, before anything runs (read
    it with `saved_state`, which refuses one that cannot be read)."""
    if value == "hpc" or "://" in value:
        return value
    path = Path(value).expanduser()
    if value == "last":
        path = last_checkpoint(patterns)
    elif path.is_dir():
        path = run_folder_checkpoint(path)
    elif not path.is_file():
        raise FileNotFoundError(f"checkpoint {value} does not exist")
    return str(path)


def ignored_settings(given: dict, saved: dict) -> dict:
    """{name: (saved value, given value)} for the settings in `given` that a checkpoint's hyperparameters `saved`
    hold with another value: a resumed run keeps its own. Plain values and lists of them are compared; objects
    (regularisers, augmentations) are not."""

    def plain(value) -> bool:
        return value is None or isinstance(value, (bool, int, float, str)) or (
            isinstance(value, (list, tuple)) and all(plain(v) for v in value))

    def as_list(value):
        return [as_list(v) for v in value] if isinstance(value, (list, tuple)) else value

    return {name: (saved[name], value) for name, value in given.items()
            if name in saved and plain(value) and plain(saved[name]) and as_list(value) != as_list(saved[name])}
