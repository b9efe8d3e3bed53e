"""Time to compute FID between two sets of N images: lit-gans (the Evaluator path: FID Inception, features
extracted once and fed to torchmetrics' running float64 statistics) against torch-fidelity's own
`calculate_metrics` on the same images saved as PNG folders, with the same weights file, side by side.

    python benchmarks/fid_speed.py [--images 200] [--resolution 64] [--batch 50]
"""
import argparse
import platform
import resource
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
import torch_fidelity
from PIL import Image
from torchmetrics.image.fid import FrechetInceptionDistance

from lit_gans.evaluation.metrics import Precomputed
from lit_gans.evaluation.inception import inception_features, inception_weights


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--images", type=int, default=200)
    parser.add_argument("--resolution", type=int, default=64)
    parser.add_argument("--batch", type=int, default=50)
    args = parser.parse_args()
    print(f"machine: {platform.machine()}, {torch.get_num_threads()} threads, torch {torch.__version__}")
    rng = np.random.default_rng(0)
    sets = [np.clip(rng.normal(128 + shift, 60, (args.images, args.resolution, args.resolution, 3)), 0, 255).astype(np.uint8)
            for shift in (0, 30)]
    weights, _ = inception_weights()
    with tempfile.TemporaryDirectory() as tmp:
        folders = []
        for name, images in zip("ab", sets):
            folder = Path(tmp) / name
            folder.mkdir()
            for i, image in enumerate(images):
                Image.fromarray(image).save(folder / f"{i:05d}.png")
            folders.append(str(folder))

        rss_before = peak_rss_mb()
        start = time.perf_counter()
        extractor = inception_features(weights)
        fid = FrechetInceptionDistance(feature=Precomputed(2048))
        fid.set_dtype(torch.float64)
        with torch.no_grad():
            for real, images in zip((True, False), sets):
                tensor = torch.from_numpy(images).permute(0, 3, 1, 2)
                for i in range(0, len(tensor), args.batch):
                    fid.update(extractor(tensor[i : i + args.batch]).double(), real=real)
        ours = float(fid.compute())
        ours_s = time.perf_counter() - start
        rss_ours = peak_rss_mb()

        start = time.perf_counter()
        theirs = torch_fidelity.calculate_metrics(input1=folders[1], input2=folders[0], fid=True, cuda=False,
                                                  batch_size=args.batch, feature_extractor_weights_path=str(weights),
                                                  verbose=False, cache=False)["frechet_inception_distance"]
        theirs_s = time.perf_counter() - start
    print(f"{args.images} + {args.images} images at {args.resolution} px, batch {args.batch}, weights {weights.name}")
    print("| method | seconds | FID |")
    print("|---|---|---|")
    print(f"| lit-gans (Evaluator path) | {ours_s:.1f} | {ours:.4f} |")
    print(f"| torch-fidelity calculate_metrics | {theirs_s:.1f} | {theirs:.4f} |")
    print(f"ratio (torch-fidelity / lit-gans): {theirs_s / ours_s:.2f}; relative FID difference "
          f"{abs(ours - theirs) / theirs:.2e}")
    print(f"peak RSS: {rss_before:.0f} MB before, {rss_ours:.0f} MB after the lit-gans pass, {peak_rss_mb():.0f} MB at the end")


if __name__ == "__main__":
    main()
