"""Benchmark of the default main job (`lit-gans fit`, no arguments): wall-clock time to classifier accuracy.

Runs the job exactly as the CLI does and prints the DigitsQuality history: generator step, kimg, seconds since the
start of training, and the scores of 1,000 class-conditional EMA samples (classifier accuracy, digits-feature FID,
precision, recall, within-class spread), with the real-vs-real reference and the targets; then the
DiscriminatorMemorization history (D's train vs held-out scores) as a table and, with matplotlib, the plot
benchmarks/memorization_<config name>.png.

    WANDB_MODE=offline python benchmarks/digits_default.py
    WANDB_MODE=offline python benchmarks/digits_default.py --config configs/biggan/digits.yaml   # another recipe
"""
import json
import os
import platform
import sys
import time
from pathlib import Path

import torch

from callbacks import DigitsQuality, DiscriminatorMemorization
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
    print("| G steps | kimg | seconds | accuracy | lowest class accuracy | digits FID | precision | recall | spread |")
    print("|---|---|---|---|---|---|---|---|---|")
    real = quality.reference
    for row in [*quality.history, {**real, "g_step": "real digits", "kimg": float("nan"), "seconds": float("nan")}]:
        print(f"| {row['g_step']} | {row['kimg']:.1f} | {row['seconds']:.0f} | {row['accuracy']:.3f} | "
              f"{min(row['accuracy_per_class'].values()):.2f} | {row['fid']:.1f} | {row['precision']:.3f} | "
              f"{row['recall']:.3f} | {row['spread']:.3f} |")
    last = quality.history[-1]
    print("targets: accuracy >= 0.95: {}; FID <= 2.5 x real ({:.1f}): {}; recall >= 0.8 x real ({:.3f}): {}; "
          "spread >= 0.8: {}".format(last["accuracy"] >= 0.95, 2.5 * real["fid"], last["fid"] <= 2.5 * real["fid"],
                                     0.8 * real["recall"], last["recall"] >= 0.8 * real["recall"], last["spread"] >= 0.8))
    print(json.dumps({k: v for k, v in last.items() if not k.endswith("per_class")}))
    probe = next((c for c in cli.trainer.callbacks if isinstance(c, DiscriminatorMemorization)), None)
    if probe is not None and probe.history:
        print("| G steps | kimg | train scored real | held-out scored real | gap | fakes scored real | r_t |")
        print("|---|---|---|---|---|---|---|")
        for row in probe.history:
            print(f"| {row['g_step']} | {row['kimg']:.1f} | {row['memorization/train_real_frac']:.3f} | "
                  f"{row.get('memorization/held_out_real_frac', float('nan')):.3f} | "
                  f"{row.get('memorization/gap', float('nan')):.3f} | {row['memorization/fake_real_frac']:.3f} | "
                  f"{row['memorization/r_t']:.3f} |")
        config = next((Path(a).stem for a in sys.argv[1:] if a.endswith(".yaml")), "digits")
        recipe = next((Path(a).parent.name for a in sys.argv[1:] if a.endswith(".yaml")), "sagan")
        try:
            import matplotlib

            matplotlib.use("Agg")
            import matplotlib.pyplot as plt
        except ImportError:
            sys.exit(0)
        kimg = [row["kimg"] for row in probe.history]
        figure, axis = plt.subplots(figsize=(6.5, 3.5))
        axis.plot(kimg, [row["memorization/train_real_frac"] for row in probe.history], "o-", label="training digits")
        if "memorization/held_out_real_frac" in probe.history[0]:
            axis.plot(kimg, [row["memorization/held_out_real_frac"] for row in probe.history], "s-",
                      label="held-out digits")
        axis.plot(kimg, [row["memorization/fake_real_frac"] for row in probe.history], "^-", label="fresh fakes")
        axis.set(xlabel="kimg (real images shown to D)", ylabel="fraction D scores as real", ylim=(-0.02, 1.02),
                 title=f"{recipe}/{config}: D on 256 training vs 256 held-out digits")
        axis.legend()
        figure.tight_layout()
        path = Path(__file__).parent / f"memorization_{recipe}_{config}.png"
        figure.savefig(path, dpi=100)
        print(f"plot: {path}")
