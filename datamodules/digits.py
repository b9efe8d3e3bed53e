"""The handwritten digits that ship with scikit-learn: real data, no download (the embedded default dataset)."""
import torch
import torch.nn.functional as F

from datamodules.base import GANDataModule
from datamodules.pyramid import build_pyramid


def load_digits_tensors(resolution: int, held_out: float = 0.2, seed: int = 0):
    """UCI optical digits (1,797 images, 8x8, 10 classes), white ink on black, upsampled to `resolution`.

    Returns (train_images, train_labels, held_out_images, held_out_labels); images (N, 3, R, R) float in [-1, 1].
    The held-out split is stratified by class and fixed by `seed`.
    """
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    digits = load_digits()
    images = torch.as_tensor(digits.images, dtype=torch.float32)[:, None] / 16.0  # (N, 1, 8, 8) in [0, 1]
    images = F.interpolate(images, size=(resolution, resolution), mode="bilinear", align_corners=False)
    images = (images.clamp(0, 1) * 2 - 1).expand(-1, 3, -1, -1).contiguous()
    labels = torch.as_tensor(digits.target, dtype=torch.long)
    train_idx, held_idx = train_test_split(torch.arange(len(labels)).numpy(), test_size=held_out,
                                           stratify=labels.numpy(), random_state=seed)
    return images[train_idx], labels[train_idx], images[held_idx], labels[held_idx]


def keep_classes(images: torch.Tensor, labels: torch.Tensor, classes: list[int]) -> tuple[torch.Tensor, torch.Tensor]:
    """The images of `classes` only, labelled by their position in `classes`."""
    relabel = torch.full((10,), -1, dtype=torch.long)
    relabel[torch.tensor(classes)] = torch.arange(len(classes))
    keep = relabel[labels] >= 0
    return images[keep], relabel[labels[keep]]


def quantize(images: torch.Tensor) -> torch.Tensor:
    """[-1, 1] float -> the uint8 the pyramid stores."""
    return ((images + 1) * 127.5).round().to(torch.uint8)


class DigitsDataModule(GANDataModule):
    """Class-conditional digits at `resolution` px (8x8 originals, bilinearly upsampled, stored as uint8), 10 classes.

    Args:
        held_out: fraction of images kept out of training (stratified) for evaluation.
        train_fraction: train on this stratified fraction of the training split only (limited-data experiments:
            0.1 keeps 144 of the 1,437); the held-out split does not change.
        classes: keep only these digits (in both splits), relabelled 0, 1, ... in the order given, e.g. [5, 6, 7,
            8, 9] for a 5-class fine-tuning set; None: all ten.
        The others are those of `GANDataModule`.
    """

    num_classes = 10

    def __init__(self, resolution: int = 16, batch_size: int = 64, num_workers: int = 0, held_out: float = 0.2,
                 train_fraction: float = 1.0, seed: int = 0, batch_sizes: dict[int, int] | None = None,
                 classes: list[int] | None = None):
        if resolution < 8:
            raise ValueError(f"digits are 8x8; resolution must be at least 8, got {resolution}")
        super().__init__(resolution, batch_size, num_workers, flip=False, seed=seed, batch_sizes=batch_sizes)
        if not 0 < held_out < 1:
            raise ValueError(f"held_out must be a fraction in (0, 1), got {held_out}")
        if not 0 < train_fraction <= 1:
            raise ValueError(f"train_fraction must be a fraction in (0, 1], got {train_fraction}")
        if classes is not None and (not classes or len(set(classes)) != len(classes) or not set(classes) <= set(range(10))):
            raise ValueError(f"classes must be distinct digits 0-9, got {classes}")
        self.held_out, self.train_fraction = held_out, train_fraction
        self.classes = None if classes is None else [int(c) for c in classes]
        self.num_classes = len(self.classes) if self.classes else 10
        self.train_images: torch.Tensor | None = None
        self.train_labels: torch.Tensor | None = None
        self.held_out_images: torch.Tensor | None = None
        self.held_out_labels: torch.Tensor | None = None

    @classmethod
    def declared_classes(cls, **init_args) -> int:
        return len(init_args["classes"]) if init_args.get("classes") else cls.num_classes

    def identity(self) -> list:
        return ([*super().identity(), self.held_out] + ([self.train_fraction] if self.train_fraction < 1 else [])
                + ([self.classes] if self.classes else []))

    def load(self):
        train_x, train_y, held_x, held_y = load_digits_tensors(self.resolution, self.held_out, self.seed)
        if self.classes:
            train_x, train_y = keep_classes(train_x, train_y, self.classes)
            held_x, held_y = keep_classes(held_x, held_y, self.classes)
        if self.train_fraction < 1:
            from sklearn.model_selection import train_test_split

            keep, _ = train_test_split(torch.arange(len(train_y)).numpy(), train_size=self.train_fraction,
                                       stratify=train_y.numpy(), random_state=self.seed)
            train_x, train_y = train_x[keep], train_y[keep]
        self.train_images, self.train_labels = train_x, train_y
        self.held_out_images, self.held_out_labels = held_x, held_y
        return build_pyramid(quantize(train_x)), train_y.numpy()

    def load_held_out(self):
        """The stratified held-out digits (`held_out` of the 1,797), never shown to D."""
        return build_pyramid(quantize(self.held_out_images)), self.held_out_labels.numpy()
