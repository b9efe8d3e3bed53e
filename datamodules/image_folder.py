"""Any folder of images: labelled by subfolder (ImageNet's train/<wnid>/*.JPEG layout) or unlabelled."""
from pathlib import Path

import torch
from PIL import Image
from torch.utils.data import Dataset
from torchvision.transforms import v2 as T

from datamodules.base import GANDataModule

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".webp", ".ppm", ".tif", ".tiff"}


def center_crop_square(image: torch.Tensor) -> torch.Tensor:
    """(C, H, W) -> (C, S, S), S = min(H, W), cropped at the centre."""
    return T.functional.center_crop(image, [min(image.shape[-2:])] * 2)


class ImageFiles(Dataset):
    """(image (3, R, R) in [-1, 1], label) for a list of files; center crop on the short side, then resize."""

    def __init__(self, files: list[Path], labels: list[int], resolution: int):
        self.files, self.labels = files, labels
        self.transform = T.Compose([
            T.ToImage(),
            T.Lambda(center_crop_square),
            T.Resize(resolution, antialias=True),
            T.ToDtype(torch.float32, scale=True),
            T.Normalize([0.5] * 3, [0.5] * 3),
        ])

    def __len__(self) -> int:
        return len(self.files)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        with Image.open(self.files[index]) as image:
            return self.transform(image.convert("RGB")), self.labels[index]


class ImageFolderDataModule(GANDataModule):
    """Images under `root`; with `labelled=True` each subfolder is a class (sorted names -> 0, 1, ...).

    Args:
        root: dataset folder.
        labelled: take class labels from the first-level subfolders.
        The others are those of `GANDataModule`.
    """

    def __init__(self, root: str, resolution: int = 64, labelled: bool = False, batch_size: int = 64,
                 num_workers: int = 4, flip: bool = True, seed: int = 0):
        super().__init__(resolution, batch_size, num_workers, flip, seed)
        self.root, self.labelled = Path(root).expanduser(), labelled
        self.classes: list[str] = []

    def setup(self, stage: str | None = None) -> None:
        if self.train_set is not None:
            return
        if not self.root.is_dir():
            raise FileNotFoundError(f"dataset folder {self.root} does not exist; expected {self._layout()}")
        files = sorted(p for p in self.root.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES)
        if not files:
            raise FileNotFoundError(f"no images under {self.root}; expected {self._layout()}")
        labels = [0] * len(files)
        if self.labelled:
            self.classes = sorted({p.relative_to(self.root).parts[0] for p in files if p.parent != self.root})
            index = {name: i for i, name in enumerate(self.classes)}
            files = [p for p in files if p.parent != self.root]
            labels = [index[p.relative_to(self.root).parts[0]] for p in files]
            self.num_classes = len(self.classes)
        self.train_set = ImageFiles(files, labels, self.resolution)

    def _layout(self) -> str:
        return "<root>/<class>/<image>.jpg" if self.labelled else "<root>/**/<image>.jpg"
