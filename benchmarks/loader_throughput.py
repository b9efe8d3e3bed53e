"""Throughput of the cached multi-resolution loader against decoding JPEGs with torchvision's ImageFolder,
side by side in one run, at 128 px.

Builds a folder of synthetic JPEGs (ImageNet-like sizes), caches it with `ImageNetDataModule.prepare_data`, then
times (a) the cached loader's uint8 batches as the training step receives them before the device transfer,
(b) the same plus the conversion to float [-1, 1] on the CPU (on a GPU run this happens on the GPU), and (c)
torchvision ImageFolder (PIL decode, center crop, resize, to tensor, normalise). Each loader gets the same number of
worker processes and the same batch size. Peak resident memory is reported for this process and its children.

    python benchmarks/loader_throughput.py [--images 3000] [--workers 2] [--batches 40]
"""
import argparse
import platform
import resource
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch.utils.data import DataLoader
from torchvision import datasets
from torchvision.transforms import v2 as T

from datamodules import ImageNetDataModule


def make_jpegs(root: Path, count: int, classes: int = 10) -> None:
    rng = np.random.default_rng(0)
    base = rng.integers(0, 256, (180, 240, 3), dtype=np.uint8)  # upsampled noise: about the file size of photos
    for i in range(count):
        folder = root / f"n{i % classes:08d}"
        folder.mkdir(parents=True, exist_ok=True)
        width, height = int(rng.integers(400, 500)), int(rng.integers(330, 400))
        image = Image.fromarray(np.roll(base, i, axis=1)).resize((width, height), Image.Resampling.BILINEAR)
        image.save(folder / f"{i:06d}.JPEG", quality=90)


def images_per_second(batches, count: int, convert=None) -> float:
    iterator = iter(batches)
    first = next(iterator)  # exclude worker start-up
    start, seen = time.perf_counter(), 0
    for _ in range(count):
        batch = next(iterator)
        if convert is not None:
            batch = convert(batch)
        seen += len(batch[0])
    return seen / (time.perf_counter() - start)


def peak_rss_mb() -> tuple[float, float]:
    return (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--images", type=int, default=3000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--batches", type=int, default=40)
    args = parser.parse_args()
    print(f"machine: {platform.machine()}, {torch.get_num_threads()} threads, torch {torch.__version__}")
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "train"
        make_jpegs(root, args.images)
        jpeg_kb = sum(f.stat().st_size for f in root.rglob("*.JPEG")) / args.images / 1024
        print(f"{args.images} synthetic JPEGs, 400-500 x 330-400 px, {jpeg_kb:.0f} KB on average (ImageNet: ~110 KB)")
        dm = ImageNetDataModule(str(root), resolution=128, batch_size=args.batch, num_workers=args.workers,
                                cache_dir=str(Path(tmp) / "cache"))
        start = time.perf_counter()
        dm.prepare_data()
        build = time.perf_counter() - start
        dm.setup("fit")
        size_mb = sum(f.stat().st_size for f in dm.cache.folder.iterdir()) / 2**20
        print(f"cache build: {args.images} JPEGs in {build:.1f} s ({args.images / build:.0f} img/s), {size_mb:.0f} MB on disk")
        cached = images_per_second(endless(dm.train_dataloader), args.batches)
        converted = images_per_second(endless(dm.train_dataloader), args.batches, dm.on_after_batch_transfer)
        rss_cached = peak_rss_mb()
        transform = T.Compose([T.ToImage(), T.Resize(128, antialias=True), T.CenterCrop(128),
                               T.ToDtype(torch.float32, scale=True), T.Normalize([0.5] * 3, [0.5] * 3)])
        folder = datasets.ImageFolder(str(root), transform=transform)
        jpeg_batches = max(3, args.batches // 8)
        jpeg = images_per_second(endless(lambda: DataLoader(folder, args.batch, shuffle=True, num_workers=args.workers,
                                                            drop_last=True)), jpeg_batches)
        rss_all = peak_rss_mb()
    print("| loader (128 px, batch %d, %d workers) | img/s | x JPEG |" % (args.batch, args.workers))
    print("|---|---|---|")
    print(f"| cached pyramid, uint8 batches | {cached:,.0f} | {cached / jpeg:.1f} |")
    print(f"| cached pyramid + float [-1, 1] on CPU | {converted:,.0f} | {converted / jpeg:.1f} |")
    print(f"| torchvision ImageFolder, JPEG decode | {jpeg:,.0f} | 1.0 |")
    print(f"peak RSS after cached loaders: main {rss_cached[0]:.0f} MB, largest child {rss_cached[1]:.0f} MB; "
          f"after the JPEG loader: main {rss_all[0]:.0f} MB, largest child {rss_all[1]:.0f} MB")


def endless(make_loader):
    while True:
        yield from make_loader()


if __name__ == "__main__":
    main()
