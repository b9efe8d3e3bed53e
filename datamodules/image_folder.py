"""Any folder of images, labelled by subfolder or unlabelled; ImageNet (train/<wnid>/*.JPEG); CelebA-HQ.

Folders are walked as users build them (`ImageWalk`): symbolic links to files and folders are followed, each folder
and each file is read once however many links lead to it (a link back to a folder that holds it is never followed
round), hidden files and folders (`.*`, such as .ipynb_checkpoints) and the system folders `@eaDir` and `__MACOSX`
are ignored, and every folder that cannot be read, every broken link and every path not read twice is named in a
warning.
"""
import os
from pathlib import Path
from typing import Iterator

from pytorch_lightning.utilities import rank_zero_warn

from datamodules.cached import CachedDataModule, file_identity

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".webp", ".ppm", ".tif", ".tiff", ".gif"}
SYSTEM_FOLDERS = {"@eaDir", "__MACOSX"}  # Synology thumbnails, macOS archive metadata


def ignored(name: str) -> bool:
    return name.startswith(".") or name in SYSTEM_FOLDERS


def identity(stat: os.stat_result) -> tuple[int, int]:
    return stat.st_dev, stat.st_ino


class ImageWalk:
    """The image files under `root`, links followed, each folder and file once; what was left out, and why, in
    `problems` ("<path>: <what>")."""

    def __init__(self, root: Path):
        self.root, self.problems = root, []
        self.read: set[tuple[int, int]] = set()  # folders and files already read, by (device, inode)
        self.root_key = identity(root.stat())

    def entries(self, folder: Path) -> list[os.DirEntry]:
        """The entries of `folder` that are not ignored, sorted by name (so which of two paths to one file is
        kept never depends on the file system's order); [] with a problem when it cannot be read."""
        try:
            return sorted((e for e in os.scandir(folder) if not ignored(e.name)), key=lambda e: e.name)
        except OSError as error:
            self.problems.append(f"{folder}: {error.strerror or error}")
            return []

    def images(self, folder: Path, ancestors: frozenset = frozenset()) -> Iterator[Path]:
        """The image files under `folder` at any depth, in path order within each folder."""
        try:
            key = identity(folder.stat())
        except OSError as error:
            self.problems.append(f"{folder}: {error.strerror or error}")
            return
        if key in self.read:  # a class folder that another class's link already led to
            self.problems.append(f"{folder}: another path to a folder already read, not read again")
            return
        self.read.add(key)
        ancestors = ancestors | {key}
        for entry in self.entries(folder):
            path = Path(entry.path)
            try:
                if entry.is_dir():  # follows a link
                    key = identity(entry.stat())
                    if key in ancestors or key == self.root_key:
                        self.problems.append(f"{path}: a link to a folder that holds it, not followed")
                    elif key in self.read:
                        self.problems.append(f"{path}: another path to a folder already read, not read again")
                    else:
                        yield from self.images(path, ancestors)
                elif entry.is_symlink() and not path.exists():
                    self.problems.append(f"{path}: a broken link")
                elif path.suffix.lower() in IMAGE_SUFFIXES:
                    key = identity(entry.stat())
                    if not entry.is_file():
                        self.problems.append(f"{path}: not a file")
                    elif key in self.read:
                        self.problems.append(f"{path}: another path to a file already read, not read again")
                    else:
                        self.read.add(key)
                        yield path
            except OSError as error:
                self.problems.append(f"{path}: {error.strerror or error}")

    def class_folders(self) -> tuple[list[str], int]:
        """(the names of root's first-level folders, the number of images directly in root)."""
        names, loose = [], 0
        for entry in self.entries(self.root):
            path = Path(entry.path)
            if entry.is_dir():
                names.append(entry.name)
            elif entry.is_symlink() and not path.exists():
                self.problems.append(f"{path}: a broken link")
            elif path.suffix.lower() in IMAGE_SUFFIXES:
                loose += 1
        return names, loose

    def warn(self) -> None:
        if self.problems:
            shown = "".join(f"\n  {line}" for line in self.problems[:10])
            more = f"\n  ... and {len(self.problems) - 10} more" if len(self.problems) > 10 else ""
            rank_zero_warn(f"{self.root}: {len(self.problems)} paths are left out:{shown}{more}")


def count_classes(root: Path) -> int:
    """The first-level folders of `root` that hold an image at any depth (links followed, hidden ones ignored)."""
    walk = ImageWalk(root)
    names, _ = walk.class_folders()
    return sum(next(walk.images(root / name), None) is not None for name in names)


class ImageFolderDataModule(CachedDataModule):
    """Images under `root` (any depth), center-cropped to a square on the short side and resized to `resolution`.

    With `labelled=True` each first-level subfolder is a class (sorted names -> 0, 1, ...); `classes` restricts
    training to a subset of them. Files that do not decode are skipped and listed (see `image_cache`).

    Args:
        root: dataset folder.
        labelled: take class labels from the first-level subfolders.
        classes: optional list of subfolder names to keep (labelled only).
        The others are those of `CachedDataModule`.
    """

    name = "folder"

    def __init__(self, root: str, resolution: int = 64, labelled: bool = False, classes: list[str] | None = None,
                 batch_size: int = 64, num_workers: int | None = None, flip: bool = False, seed: int = 0,
                 batch_sizes: dict[int, int] | None = None, cache_dir: str | None = None):
        super().__init__(root, resolution, batch_size, num_workers, flip, seed, batch_sizes, cache_dir)
        if classes is not None and not labelled:
            raise ValueError("a class subset needs labelled=True")
        self.labelled, self.class_subset = labelled, classes
        self.layout = "<root>/<class>/<image>.jpg" if labelled else "<root>/**/<image>.jpg"

    @classmethod
    def declared_classes(cls, **init_args) -> int | None:
        if not init_args.get("labelled", True):
            return 0
        if init_args.get("classes"):
            return len(init_args["classes"])
        root = Path(str(init_args.get("root", ""))).expanduser()
        if not root.is_dir():
            return None
        try:
            return count_classes(root)
        except OSError:
            return None  # the data module reports it

    def files(self) -> list[Path]:
        """Every image file under root (under its class folders when labelled), sorted; problems are warned about,
        and class folders without images named."""
        walk = ImageWalk(self.root)
        if not self.labelled:
            files = sorted(walk.images(self.root))
        else:
            names, loose = walk.class_folders()
            if loose:
                rank_zero_warn(f"{self.root}: {loose} images lie directly in the root, in no class folder, and are "
                               "left out (labelled: each class is a subfolder)")
            by_class = {name: list(walk.images(self.root / name)) for name in names}
            empty = [name for name, found in by_class.items() if not found]
            if empty:
                rank_zero_warn(f"{self.root}: {len(empty)} class folders hold no images and are not classes: "
                               f"{', '.join(empty[:20])}{' ...' if len(empty) > 20 else ''}")
            files = sorted(p for found in by_class.values() for p in found)
        walk.warn()
        return files

    def items(self) -> list[tuple[str, int]]:
        self._files = self.files()
        if not self.labelled:
            self.classes = []
            return [(str(p), 0) for p in self._files]
        found = sorted({p.relative_to(self.root).parts[0] for p in self._files})
        if self.class_subset is not None:
            missing = sorted(set(self.class_subset) - set(found))
            if missing:
                raise FileNotFoundError(f"classes {missing} have no images under {self.root}; found {len(found)} classes")
            found = sorted(self.class_subset)
        self.classes = found
        index = {name: i for i, name in enumerate(found)}
        self._files = [p for p in self._files if p.relative_to(self.root).parts[0] in index]
        return [(str(p), index[p.relative_to(self.root).parts[0]]) for p in self._files]

    def source_identity(self) -> list:
        return file_identity(self.root, self._files)


class ImageNetDataModule(ImageFolderDataModule):
    """ImageNet (ILSVRC-2012) train split in the ImageFolder layout, <root>/<wnid>/*.JPEG, 1000 classes (or the
    `classes` subset), labels from the sorted wnids; center crop on the short side, then resize (BigGAN's
    preprocessing). With `val_root`, the validation images in the same layout (<val_root>/<wnid>/*.JPEG, the usual
    reorganisation of ILSVRC2012_img_val) are the held-out split, cached like the training images.

    Args:
        val_root: optional validation folder holding every training class (others are ignored).
        The others are those of `ImageFolderDataModule`.
    """

    name = "imagenet"

    @classmethod
    def declared_classes(cls, **init_args) -> int | None:
        counted = super().declared_classes(**{**init_args, "labelled": True})
        return counted if counted is not None else 1000  # the full ImageNet, when the folder is not here

    def __init__(self, root: str, resolution: int = 128, classes: list[str] | None = None, batch_size: int = 64,
                 num_workers: int | None = None, flip: bool = False, seed: int = 0, batch_sizes: dict[int, int] | None = None,
                 cache_dir: str | None = None, val_root: str | None = None):
        super().__init__(root, resolution, True, classes, batch_size, num_workers, flip, seed, batch_sizes, cache_dir)
        self.layout = "<root>/<wnid>/<image>.JPEG, e.g. ILSVRC2012/train/n01440764/n01440764_10026.JPEG"
        self.val_root = val_root

    def load_held_out(self):
        if self.val_root is None:
            return None
        validation = ImageNetDataModule(self.val_root, self.resolution, self.class_subset or self.classes,
                                        num_workers=self.num_workers, cache_dir=str(self.cache_dir))
        validation.setup("fit")  # restricted to the training classes, with the same labels; a missing one is an error
        return validation.levels, validation.labels


class CelebAHQDataModule(ImageFolderDataModule):
    """CelebA-HQ as a folder of the 30,000 square 1024x1024 images (any file names), unlabelled, served at
    `resolution` <= 1024."""

    name = "celeba-hq"

    @classmethod
    def declared_classes(cls, **init_args) -> int | None:
        return 0

    def __init__(self, root: str, resolution: int = 1024, batch_size: int = 16, num_workers: int | None = None,
                 flip: bool = True, seed: int = 0, batch_sizes: dict[int, int] | None = None,
                 cache_dir: str | None = None):
        if resolution > 1024:
            raise ValueError(f"CelebA-HQ images are 1024x1024; resolution must be at most 1024, got {resolution}")
        super().__init__(root, resolution, False, None, batch_size, num_workers, flip, seed, batch_sizes, cache_dir)
        self.layout = "<root>/<image>.png (or .jpg), 1024x1024 each"
