"""Files that appear whole or not at all, and survive a power cut once written: write a temporary file in the
destination's own folder, fsync it, `os.replace` it over the destination, then fsync the folder.

A temporary file anywhere else (fsspec's transactions use $TMPDIR) is not enough: where $TMPDIR is on another file
system (node-local scratch, a tmpfs), the final move is a copy into the truncated old file, and a kill during it
leaves neither the old nor the new one.
"""
import os
from pathlib import Path
from typing import BinaryIO, Callable

TEMPORARY = ".{name}.partial-"  # hidden, so that no glob for the destination's pattern matches it


def fsync_folder(folder: str | os.PathLike) -> None:
    """Make a rename inside `folder` durable (a no-op where folders cannot be opened, e.g. Windows)."""
    try:
        descriptor = os.open(folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:
        return
    try:
        os.fsync(descriptor)
    except OSError:
        pass  # some file systems (e.g. certain network mounts) refuse fsync on folders
    finally:
        os.close(descriptor)


def leftovers(path: Path) -> list[Path]:
    """Temporary files that killed processes left in `path`'s folder, from writes to any file there (named
    .<name>.partial-<process id>; those of a process still running here are not leftovers)."""
    found = []
    for candidate in path.parent.glob(".*.partial-*"):
        pid = candidate.name.rsplit(".partial-", 1)[1]
        if pid.isdigit() and not running(pid):
            found.append(candidate)
    return found


def running(pid: str) -> bool:
    """Whether process `pid` runs on this machine, other than this one (whose own writes are never in flight)."""
    try:
        os.kill(int(pid), 0)
    except (ValueError, ProcessLookupError):
        return False
    except PermissionError:
        return True  # another user's process
    return int(pid) != os.getpid()


def write_atomically(path: str | os.PathLike, write: Callable[[BinaryIO], None]) -> None:
    """Call `write(file)` on a temporary file beside `path`, then put it in place of `path` atomically.

    Until `os.replace` returns, `path` keeps its previous content; a kill at any moment leaves either the old file
    or the new one, never a partial one. Temporary files that an earlier kill left are removed first.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    for stale in leftovers(path):
        stale.unlink(missing_ok=True)
    temporary = path.with_name(f"{TEMPORARY.format(name=path.name)}{os.getpid()}")
    try:
        with open(temporary, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    fsync_folder(path.parent)


def write_bytes_atomically(path: str | os.PathLike, data: bytes) -> None:
    write_atomically(path, lambda f: f.write(data))
