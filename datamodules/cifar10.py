"""CIFAR-10 in its "python version": the archive cifar-10-python.tar.gz or its extracted folder cifar-10-batches-py
(data_batch_1 ... data_batch_5, test_batch), 32x32, 10 classes.

The batches are pickles, and a pickle can name any callable to run while it loads. They are read with
`BatchUnpickler`, which admits only what the format holds (dicts, lists, strings, numbers and uint8 numpy arrays),
so a tampered batch is refused before anything in it runs. The archive, when given, must also match the official
checksum.
"""
import hashlib
import io
import pickle
import struct
import tarfile
from pathlib import Path

import numpy as np
import torch

from datamodules.base import GANDataModule
from datamodules.pyramid import build_pyramid

TRAIN_BATCHES = tuple(f"data_batch_{i}" for i in range(1, 6))
TEST_BATCHES = ("test_batch",)
ARCHIVE = "cifar-10-python.tar.gz"
ARCHIVE_MD5 = "c58f30108f718f92721af3b95e74349a"  # the official archive (www.cs.toronto.edu/~kriz/cifar.html)
FOLDER = "cifar-10-batches-py"


NUMERIC = {"b1", "i1", "u1", "i2", "u2", "i4", "u4", "i8", "u8", "f4", "f8"}  # the dtypes a batch may hold


def _latin1(text: str, encoding: str = "latin1") -> bytes:
    """`_codecs.encode` as Python 3 pickles bytes at protocol 2, for the one encoding such pickles name."""
    if encoding.lower().replace("-", "") != "latin1":
        raise pickle.UnpicklingError(f"bytes encoded as {encoding!r}, not latin1")
    return text.encode("latin1")


def numeric(dtype) -> np.dtype:
    """`dtype` if it is a plain number type (never objects, whose bytes numpy would read as pointers)."""
    if not isinstance(dtype, np.dtype) or dtype.str[1:] not in NUMERIC or dtype.hasobject or dtype.flags:
        raise pickle.UnpicklingError(f"an array of {dtype!r}, which a CIFAR-10 batch never holds")
    return dtype


def _dtype(name, align=False, copy=True) -> np.dtype:
    """numpy.dtype as pickles call it, for plain number types only."""
    if not isinstance(name, str) or name.lstrip("<>|=") not in NUMERIC:
        raise pickle.UnpicklingError(f"a dtype {name!r}, which a CIFAR-10 batch never holds")
    return np.dtype(name, bool(align), True)


def _reconstruct(subtype, shape, typecode):
    """numpy's array constructor for pickles, for plain ndarrays only."""
    from numpy._core.multiarray import _reconstruct

    if subtype is not np.ndarray or tuple(shape) != (0,):  # numpy's pickles build an empty array, then set its state
        raise pickle.UnpicklingError(f"an array of class {subtype!r} and shape {shape!r}")
    return _reconstruct(np.ndarray, (0,), typecode)


def _frombuffer(buffer, dtype, shape, order):
    from numpy._core.numeric import _frombuffer

    return _frombuffer(buffer, numeric(dtype), shape, order)


class BatchUnpickler(pickle._Unpickler):
    """Loads a CIFAR batch and nothing else. The only callables a pickle may name are numpy's array and dtype
    constructors, restricted to plain number types; any other (os.system, builtins.eval, ...) raises
    UnpicklingError before it is called. The state a pickle gives a dtype or an array (BUILD) is checked before it is
    set: a forged dtype state could make numpy read the file's bytes as object pointers. Python's own unpickler
    (not the C one) is used because only it lets BUILD be checked; a batch still loads in about 0.1 s."""

    ADMITTED = {**{(module, "_reconstruct"): _reconstruct for module in ("numpy.core.multiarray", "numpy._core.multiarray")},
                **{(module, "_frombuffer"): _frombuffer for module in ("numpy.core.numeric", "numpy._core.numeric")},
                ("numpy", "ndarray"): np.ndarray, ("numpy", "dtype"): _dtype, ("_codecs", "encode"): _latin1}

    def find_class(self, module: str, name: str):
        try:
            return self.ADMITTED[module, name]
        except KeyError:
            raise pickle.UnpicklingError(f"it names {module}.{name}, which a CIFAR-10 batch never holds; refused "
                                         "without running it") from None

    def load_build(self):
        state, target = self.stack[-1], self.stack[-2]
        if isinstance(target, np.dtype):
            if state != target.__reduce__()[2]:  # anything but the standard state of a plain number type
                raise pickle.UnpicklingError(f"a dtype {target} with the state {state!r}, which a CIFAR-10 batch never "
                                             "holds")
        elif isinstance(target, np.ndarray):
            if not (isinstance(state, tuple) and len(state) == 5 and isinstance(state[4], (bytes, str))):
                raise pickle.UnpicklingError("an array whose state is not (version, shape, dtype, order, bytes), which "
                                             "a CIFAR-10 batch never holds")
            numeric(state[2])
        else:
            raise pickle.UnpicklingError(f"a {type(target).__name__} with a state, which a CIFAR-10 batch never holds")
        super().load_build()

    dispatch = {**pickle._Unpickler.dispatch, pickle.BUILD[0]: load_build}


def read_batch(file, name: str) -> tuple[np.ndarray, np.ndarray]:
    """One pickled batch (an open binary file) -> images uint8 (N, 3, 32, 32), labels int64 (N,)."""
    try:
        batch = BatchUnpickler(file, encoding="latin1").load()
        data, labels = batch["data"], batch["labels"]
        if not (isinstance(data, np.ndarray) and data.dtype == np.uint8 and data.ndim == 2 and data.shape[1] == 3072):
            raise ValueError("'data' is not a uint8 array of rows of 3072 values")
        if not (isinstance(labels, list) and all(type(label) is int and 0 <= label <= 9 for label in labels)
                and len(labels) == len(data)):
            raise ValueError(f"'labels' is not a list of one class in 0..9 for each of the {len(data)} images")
        labels = np.asarray(labels, dtype=np.int64)
    except (pickle.UnpicklingError, EOFError, KeyError, TypeError, ValueError, AttributeError, IndexError,
            OverflowError, MemoryError, struct.error) as error:
        raise ValueError(f"CIFAR-10 batch {name} is corrupt or not a CIFAR-10 python batch: {error}") from None
    return data.reshape(-1, 3, 32, 32), labels


def md5(path: Path) -> str:
    digest = hashlib.md5(usedforsecurity=False)
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 22), b""):
            digest.update(block)
    return digest.hexdigest()


def locate(root: Path) -> Path:
    """The extracted folder or the archive that `root` names: the folder or archive itself, or a folder holding
    cifar-10-batches-py/ or cifar-10-python.tar.gz."""
    if root.is_file() or (root / TRAIN_BATCHES[0]).is_file():
        return root
    for candidate in (root / FOLDER, root / ARCHIVE):
        if candidate.exists():
            return candidate
    return root


def load_cifar10(root: Path, batches: tuple[str, ...] = TRAIN_BATCHES) -> tuple[torch.Tensor, torch.Tensor]:
    """The images (N, 3, 32, 32) uint8 and labels (N,) int64 of the named batches (default: the 50,000 training
    images) in `root`: the extracted folder, or the archive (checked against the official MD5 first)."""
    if not Path(root).exists():
        raise FileNotFoundError(f"CIFAR-10 root {root} does not exist; expected the extracted {FOLDER} folder or "
                                f"{ARCHIVE}")
    source = locate(Path(root))
    if source.is_file():
        return _stack(read_archive(source, batches))
    parts = []
    for name in batches:
        path = source / name
        if not path.is_file():
            raise FileNotFoundError(f"CIFAR-10 batch {path} is missing; expected {source}/data_batch_1 ... "
                                    f"data_batch_5 (the extracted {ARCHIVE}), or the archive itself")
        with open(path, "rb") as f:
            parts.append(read_batch(f, str(path)))
    return _stack(parts)


_VERIFIED: set[tuple] = set()  # archives whose MD5 this process checked: (path, size, mtime, expected MD5)


def read_archive(archive: Path, batches: tuple[str, ...]) -> list[tuple[np.ndarray, np.ndarray]]:
    """The batches read straight from the official archive (nothing is extracted), after its MD5 is checked."""
    stat = archive.stat()
    key = (str(archive.resolve()), stat.st_size, stat.st_mtime_ns, ARCHIVE_MD5)
    digest = ARCHIVE_MD5 if key in _VERIFIED else md5(archive)
    if digest != ARCHIVE_MD5:
        raise ValueError(f"{archive} is not the official {ARCHIVE}: its MD5 is {digest}, the official one "
                         f"{ARCHIVE_MD5}; download it again (or give the extracted {FOLDER} folder)")
    _VERIFIED.add(key)
    with tarfile.open(archive, "r:gz") as tar:
        parts = []
        for name in batches:
            try:
                member = tar.getmember(f"{FOLDER}/{name}")
            except KeyError:
                raise FileNotFoundError(f"{archive} holds no {FOLDER}/{name}") from None
            parts.append(read_batch(io.BytesIO(tar.extractfile(member).read()), f"{archive}:{FOLDER}/{name}"))
    return parts


def _stack(parts: list[tuple[np.ndarray, np.ndarray]]) -> tuple[torch.Tensor, torch.Tensor]:
    return (torch.from_numpy(np.concatenate([images for images, _ in parts])),
            torch.from_numpy(np.concatenate([labels for _, labels in parts])))


class CIFAR10DataModule(GANDataModule):
    """The CIFAR-10 training set held in memory as a uint8 pyramid (200 MB), class-conditional. The 10,000 test
    images (`test_batch`, when present) are the held-out split.

    Args:
        root: the extracted `cifar-10-batches-py` folder, the archive `cifar-10-python.tar.gz` (its MD5 is
            checked), or a folder holding either.
        The others are those of `GANDataModule`; `resolution` must be 32.
    """

    num_classes = 10

    def __init__(self, root: str, resolution: int = 32, batch_size: int = 64, num_workers: int | None = None,
                 flip: bool = False, seed: int = 0, batch_sizes: dict[int, int] | None = None):
        if resolution != 32:
            raise ValueError(f"CIFAR-10 images are 32x32; resolution must be 32, got {resolution}")
        super().__init__(resolution, batch_size, num_workers, flip, seed, batch_sizes)
        self.root = Path(root).expanduser()

    def identity(self) -> list:
        return [*super().identity(), str(self.root.resolve())]

    def check_source(self) -> None:
        if not self.root.exists():
            raise FileNotFoundError(f"CIFAR-10 root {self.root} does not exist; expected the extracted {FOLDER} folder "
                                    f"or {ARCHIVE}")

    def load(self):
        images, labels = load_cifar10(self.root)
        return build_pyramid(images), labels.numpy()

    def load_held_out(self):
        source = locate(self.root)
        if source.is_dir() and not (source / TEST_BATCHES[0]).is_file():
            return None
        try:
            images, labels = load_cifar10(self.root, TEST_BATCHES)
        except FileNotFoundError:  # an archive without the test batch
            return None
        return build_pyramid(images), labels.numpy()
