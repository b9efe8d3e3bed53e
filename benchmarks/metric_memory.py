"""Memory and time of the evaluator's feature metrics as the number of samples grows to 50,000: FID (float64
running sums), KID, precision/recall (k = 3), density/coverage (k = 5) and intra-class FID, each computed by the
metric classes `lit_gans.evaluation.metrics` that `ImageMetrics` and `lit-gans evaluate` use.

The Inception forward is replaced by random 2048-d features (10 classes): its time is linear in N and measured by
`benchmarks/fid_speed.py`, its memory is set by the batch, not by N. What is measured here is what grows with N:
the kept features and the nearest-neighbour passes (blocks of 4096 x 4096). Each metric runs in a fresh process,
so its peak RSS is its own.

    python -m benchmarks.metric_memory [--samples 50000] [--batch 500] [--metrics fid kid prc prdc ifid]
"""
import argparse
import json
import platform
import resource
import subprocess
import sys
import time

import torch

from lit_gans.evaluation.feature_set import FeatureSet
from lit_gans.evaluation.metrics import SampleSet, build_metrics

CLASSES = 10


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run_one(name: str, samples: int, batch: int) -> dict:
    torch.manual_seed(0)
    metric = build_metrics([name], kid_subsets=100, kid_subset_size=1000)[0]
    keep = metric.needs == "all_features"
    before = rss_mb()
    start = time.perf_counter()
    growth = {}
    sets = {}
    for real in (True, False):
        features = FeatureSet(keep=keep)
        for done in range(0, samples, batch):
            labels = torch.randint(CLASSES, (batch,))
            features.add(torch.randn(batch, 2048) + labels[:, None] * 0.01 + (0 if real else 0.1), labels)
            if not real and done + batch in (samples // 10, samples):
                growth[done + batch] = round(rss_mb() - before)
        sets[real] = SampleSet(features=features)
    fed = time.perf_counter() - start
    values = metric.compute(sets[True], sets[False])
    return {"metric": name, "samples": samples, "feed_seconds": round(fed, 1),
            "compute_seconds": round(time.perf_counter() - start - fed, 1), "rss_growth_mb_by_fake_samples": growth,
            "peak_rss_mb": round(rss_mb()), "values": values}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--samples", type=int, default=50000)
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--metrics", nargs="+", default=["fid", "kid", "prc", "prdc", "ifid"])
    parser.add_argument("--one", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print("RESULT " + json.dumps(run_one(args.one, args.samples, args.batch)), flush=True)
        return
    print(f"machine: {platform.machine()}, {torch.get_num_threads()} threads, torch {torch.__version__}; "
          f"{args.samples} real + {args.samples} generated samples, 2048-d features, batches of {args.batch}")
    for metric in args.metrics:
        done = subprocess.run([sys.executable, "-m", "benchmarks.metric_memory", "--one", metric, "--samples",
                               str(args.samples), "--batch", str(args.batch)], capture_output=True, text=True)
        line = next((l for l in done.stdout.splitlines() if l.startswith("RESULT ")), None)
        print(line[len("RESULT "):] if line else f"{metric} failed: {done.stderr[-2000:]}", flush=True)


if __name__ == "__main__":
    main()
