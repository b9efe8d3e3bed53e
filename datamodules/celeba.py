"""CelebA in torchvision's layout: <root>/img_align_celeba/*.jpg, <root>/list_eval_partition.txt and, for
attribute labels, <root>/list_attr_celeba.txt."""
from pathlib import Path

from datamodules.cached import CachedDataModule, Decoder, file_identity
from datamodules.decode import Box

SPLITS = {"train": "0", "valid": "1", "test": "2"}
# The aligned images are 178x218. "center": the centred 178x178 square; "progan": the 128x128 square centred at
# (x 89, y 121), rows 57-185 and columns 25-153, as ProGAN's dataset tool.
CROPS: dict[str, Box | None] = {"center": None, "progan": (25, 57, 153, 185)}


def read_table(path: Path) -> list[list[str]]:
    return [line.split() for line in path.read_text().splitlines() if line.strip()]


class CelebADataModule(CachedDataModule):
    """Aligned CelebA (202,599 images), cropped square and resized.

    Args:
        root: the folder holding img_align_celeba/ and the list files.
        split: "all" (every image, as ProGAN), or "train", "valid", "test" from list_eval_partition.txt.
        crop: "center" (178x178 centre square) or "progan" (128x128 centred at (89, 121)).
        attribute: optional attribute name from list_attr_celeba.txt (e.g. "Smiling"): labels 1 where present,
            0 otherwise, for class-conditional training with 2 classes.
        The others are those of `CachedDataModule`.
    """

    name = "celeba"
    layout = "<root>/img_align_celeba/<000001.jpg ...> and <root>/list_eval_partition.txt"

    @classmethod
    def declared_classes(cls, **init_args) -> int | None:
        return 2 if init_args.get("attribute") else 0

    def __init__(self, root: str, resolution: int = 64, split: str = "all", crop: str = "center",
                 attribute: str | None = None, batch_size: int = 64, num_workers: int | None = None, flip: bool = True,
                 seed: int = 0, batch_sizes: dict[int, int] | None = None, cache_dir: str | None = None):
        super().__init__(root, resolution, batch_size, num_workers, flip, seed, batch_sizes, cache_dir)
        if split not in ("all", *SPLITS):
            raise ValueError(f"unknown CelebA split {split!r}; choose all, train, valid or test")
        if crop not in CROPS:
            raise ValueError(f"unknown CelebA crop {crop!r}; choose one of {list(CROPS)}")
        self.split, self.crop, self.attribute = split, crop, attribute

    def check_source(self) -> None:
        self.check_root()
        images = self.root / "img_align_celeba"
        if not images.is_dir():
            raise FileNotFoundError(f"CelebA images folder {images} does not exist; expected {self.layout}")

    def items(self) -> list[tuple[str, int]]:
        self.check_source()
        images = self.root / "img_align_celeba"
        names = sorted(p.name for p in images.iterdir() if p.suffix.lower() in (".jpg", ".png"))
        if self.split != "all":
            partition = self.root / "list_eval_partition.txt"
            if not partition.is_file():
                raise FileNotFoundError(f"split {self.split!r} needs {partition}; expected {self.layout}")
            keep = {row[0] for row in read_table(partition) if row[1] == SPLITS[self.split]}
            names = [n for n in names if n in keep]
        labels = {name: 0 for name in names}
        self.classes = []
        if self.attribute is not None:
            labels = self.attribute_labels()
            missing = [n for n in names if n not in labels]
            if missing:
                raise ValueError(f"list_attr_celeba.txt has no row for {missing[0]} (and {len(missing) - 1} more)")
            self.classes = [f"not {self.attribute}", self.attribute]
        self._files = [images / n for n in names]
        return [(str(images / n), labels[n]) for n in names]

    def attribute_labels(self) -> dict[str, int]:
        path = self.root / "list_attr_celeba.txt"
        if not path.is_file():
            raise FileNotFoundError(f"attribute labels need {path}")
        rows = read_table(path)
        header = rows[1]  # rows[0] is the image count
        if self.attribute not in header:
            raise ValueError(f"unknown CelebA attribute {self.attribute!r}; choose from {header}")
        column = header.index(self.attribute) + 1
        return {row[0]: int(row[column] == "1") for row in rows[2:]}

    def settings(self) -> dict:
        return {"split": self.split, "crop": self.crop, "attribute": self.attribute}

    def source_identity(self) -> list:
        """The images and every list file this module reads: a changed partition or attribute file builds a new
        cache (labels and splits come from them)."""
        lists = [self.root / "list_eval_partition.txt"] if self.split != "all" else []
        lists += [self.root / "list_attr_celeba.txt"] if self.attribute is not None else []
        return file_identity(self.root, [*self._files, *lists])

    def decoder(self) -> Decoder:
        return Decoder(self.listed_items(), self.resolution, CROPS[self.crop])
