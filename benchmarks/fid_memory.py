"""Memory of the FID and KID statistics as the number of samples grows to 50,000, with the metric objects the
`Evaluator` (behind `callbacks.ImageMetrics` and `lit-gans evaluate`) uses (torchmetrics FID with float64 running sums, KID).

The Inception forward is replaced by random 2048-d features: its time is linear in N and measured by
`benchmarks/fid_speed.py`, its memory is set by the batch, not by N. What is measured here is what grows with N.
Each metric runs in a fresh process, so peak RSS is its own.

    python -m benchmarks.fid_memory [--samples 50000] [--batch 500]
"""
import argparse
import json
import platform
import resource
import subprocess
import sys
import time

import torch
from torchmetrics.image.fid import FrechetInceptionDistance
from torchmetrics.image.kid import KernelInceptionDistance

from lit_gans.evaluation.metrics import Precomputed


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run_one(metric: str, samples: int, batch: int) -> dict:
    torch.manual_seed(0)
    if metric == "fid":
        target = FrechetInceptionDistance(feature=Precomputed(2048), reset_real_features=False)
        target.set_dtype(torch.float64)
    else:
        target = KernelInceptionDistance(feature=Precomputed(2048), subsets=100, subset_size=1000,
                                         reset_real_features=False)
    before = rss_mb()
    start = time.perf_counter()
    checkpoints = {}
    for real in (True, False):
        for done in range(0, samples, batch):
            features = torch.randn(batch, 2048) + (0 if real else 0.1)
            target.update(features.double() if metric == "fid" else features, real=real)
            if not real and done + batch in (samples // 10, samples):
                checkpoints[done + batch] = round(rss_mb() - before)
    value = target.compute()
    return {"metric": metric, "samples": samples, "seconds": round(time.perf_counter() - start, 1),
            "rss_growth_mb_by_fake_samples": checkpoints, "peak_rss_mb": round(rss_mb()),
            "value": float(value if metric == "fid" else value[0])}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--samples", type=int, default=50000)
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--one", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print("RESULT " + json.dumps(run_one(args.one, args.samples, args.batch)), flush=True)
        return
    print(f"machine: {platform.machine()}, {torch.get_num_threads()} threads, torch {torch.__version__}; "
          f"{args.samples} real + {args.samples} generated samples, 2048-d features, batches of {args.batch}")
    for metric in ("fid", "kid"):
        done = subprocess.run([sys.executable, "-m", "benchmarks.fid_memory", "--one", metric, "--samples",
                               str(args.samples), "--batch", str(args.batch)], capture_output=True, text=True)
        line = next((l for l in done.stdout.splitlines() if l.startswith("RESULT ")), None)
        print(line[len("RESULT "):] if line else f"{metric} failed: {done.stderr[-2000:]}", flush=True)


if __name__ == "__main__":
    main()
