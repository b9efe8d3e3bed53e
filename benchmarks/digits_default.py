"""Benchmark of the default main job (`lit-gans fit`, no arguments): wall-clock time to classifier accuracy.

Runs the job exactly as the CLI does and prints the DigitsQuality history: generator step, kimg, seconds since the
start of training, classifier accuracy on 1,000 class-conditional EMA samples, and the digits-feature FID.

    WANDB_MODE=offline python benchmarks/digits_default.py
    WANDB_MODE=offline python benchmarks/digits_default.py --config configs/biggan/digits.yaml   # another recipe
"""
import json
import os
import platform
import sys
import time

import torch

from callbacks import DigitsQuality
from lit_gans.cli import main


def machine() -> str:
    return f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, torch {torch.__version__}, threads {torch.get_num_threads()}"


if __name__ == "__main__":
    os.environ.setdefault("WANDB_MODE", "offline")
    started = time.perf_counter()
    cli = main(["fit", *sys.argv[1:], "--trainer.enable_progress_bar=false"])
    total = time.perf_counter() - started
    quality = next(c for c in cli.trainer.callbacks if isinstance(c, DigitsQuality))
    print(f"machine: {machine()}")
    print(f"whole command incl. imports-free setup: {total:.0f} s")
    print("| G steps | kimg | seconds | accuracy | lowest class accuracy | digits FID |")
    print("|---|---|---|---|---|---|")
    for row in quality.history:
        print(f"| {row['g_step']} | {row['kimg']:.1f} | {row['seconds']:.0f} | {row['accuracy']:.3f} | "
              f"{min(row['accuracy_per_class'].values()):.2f} | {row['fid']:.1f} |")
    print(json.dumps(quality.history[-1]))
