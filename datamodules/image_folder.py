"""Any folder of images, labelled by subfolder or unlabelled; ImageNet (train/<wnid>/*.JPEG); CelebA-HQ."""
from pathlib import Path

from datamodules.cached import CachedDataModule, file_identity

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".webp", ".ppm", ".tif", ".tiff", ".gif"}


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
        return sum(1 for p in root.iterdir() if p.is_dir()) if root.is_dir() else None

    def files(self) -> list[Path]:
        files = sorted(p for p in self.root.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())
        if self.labelled:
            files = [p for p in files if p.parent != self.root]
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
