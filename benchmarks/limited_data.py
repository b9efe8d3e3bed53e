"""Limited data: the digits recipe trained on a tenth of the training digits (143 of 1,437), with each
data-efficient component alone and combined, at the same budget of generator steps.

Each variant is the given recipe (default: the embedded default, `configs/sagan/digits.yaml`) with its model, data,
EMA and precision settings, plus the component; scores are DigitsQuality's at the end (1,000 EMA samples against the 360
held-out digits; the classifier is trained on the whole training split). Variants run in parallel processes of one
thread each.

    python -m benchmarks.limited_data                       # every variant, 2 processes
    python -m benchmarks.limited_data --only none,diffaugment --g-steps 300
    python -m benchmarks.limited_data --only none,ada --g-steps 4000 --every 500   # with each variant's trajectory

It also scores the floor that the fraction sets: 100 digits per class drawn with replacement from the training
fraction itself, i.e. a generator that reproduces its training images exactly.
"""
import argparse
import json
import multiprocessing
import os
import time
import warnings

import yaml

VARIANTS = {
    "none": ({}, []),
    "diffaugment": ({"class_path": "lit_gans.objective.DiffAugment"}, []),
    "diffaugment-tc": ({"class_path": "lit_gans.objective.DiffAugment", "init_args": {"policy": "translation,cutout"}}, []),
    "diffaugment-t": ({"class_path": "lit_gans.objective.DiffAugment", "init_args": {"policy": "translation"}}, []),
    "ada": ({"class_path": "lit_gans.objective.ADA", "init_args": {"speed_kimg": 10}}, []),
    "ada-p0.3": ({"class_path": "lit_gans.objective.ADA", "init_args": {"p": 0.3, "target": None}}, []),
    "ada-p0.6": ({"class_path": "lit_gans.objective.ADA", "init_args": {"p": 0.6, "target": None}}, []),
    "lecam": ({}, [{"class_path": "lit_gans.objective.LeCam", "init_args": {"start": 100}}]),
    "r1": ({}, [{"class_path": "lit_gans.objective.R1", "init_args": {"gamma": 0.1, "interval": 4}}]),
    "bcr": ({}, [{"class_path": "lit_gans.objective.BalancedConsistency"}]),
    "zcr": ({}, [{"class_path": "lit_gans.objective.LatentConsistency"}, {"class_path": "lit_gans.objective.LatentRepulsion"}]),
    "diffaugment+lecam": ({"class_path": "lit_gans.objective.DiffAugment"},
                          [{"class_path": "lit_gans.objective.LeCam", "init_args": {"start": 100}}]),
    "ada+lecam": ({"class_path": "lit_gans.objective.ADA", "init_args": {"speed_kimg": 10}},
                  [{"class_path": "lit_gans.objective.LeCam", "init_args": {"start": 100}}]),
}


def run(job: tuple[str, str, int, float, int]) -> dict:
    name, config, g_steps, fraction, every = job
    import torch

    torch.set_num_threads(1)
    warnings.filterwarnings("ignore")
    import pytorch_lightning as pl

    import lit_gans
    from callbacks import EMA, DigitsQuality, DiscriminatorMemorization, StopAt
    from datamodules import DigitsDataModule
    from lit_gans.objective import build, Augment, Regularizer

    recipe = yaml.safe_load(open(config))
    model_class = getattr(lit_gans, recipe["model"]["class_path"].rsplit(".", 1)[1])
    model_args = dict(recipe["model"].get("init_args") or {})
    data_args = dict(recipe["data"].get("init_args") or {})
    ema_args = next(c.get("init_args", {}) for c in recipe["trainer"]["callbacks"] if c["class_path"].endswith("EMA"))
    augment, regularizers = VARIANTS[name]
    model_args.setdefault("num_classes", 10)
    model_args.setdefault("resolution", data_args.get("resolution", 16))
    pl.seed_everything(recipe.get("seed_everything", 0), verbose=False)
    model = model_class(**model_args, augment=build(augment, Augment) if augment else None,
                        regularizers=[build(r, Regularizer) for r in regularizers] or None)
    quality = DigitsQuality(every_n_g_steps=every or 10 ** 9)
    probe = DiscriminatorMemorization(every_n_g_steps=every or 10 ** 9, num_images=256)  # all 143 of a tenth
    trainer = pl.Trainer(max_epochs=-1, logger=False, enable_checkpointing=False, enable_progress_bar=False,
                         enable_model_summary=False, precision=recipe["trainer"].get("precision"),
                         callbacks=[StopAt(g_steps=g_steps), EMA(**ema_args), quality, probe])
    started = time.perf_counter()
    trainer.fit(model, DigitsDataModule(**{**data_args, "train_fraction": fraction}))
    return {"variant": name, "seconds": time.perf_counter() - started, **summary(quality.last),
            "real": summary(quality.reference), "history": [summary(row) for row in quality.history],
            "memorization": probe.history, "memorizer": summary(memorizer_scores(quality.scorer, trainer.datamodule)),
            "augment_p": float(model.objective.augment.p) if hasattr(model.objective.augment, "p") else None}


def summary(scores: dict) -> dict:
    return {k: v for k, v in scores.items() if not k.endswith("per_class")}


def memorizer_scores(scorer, datamodule, per_class: int = 100, seed: int = 0) -> dict:
    """The scores of `per_class` digits of each class drawn with replacement from D's training images: what a
    generator that reproduces its training set exactly would get."""
    import torch

    images, labels = datamodule.train_images, datamodule.train_labels
    generator = torch.Generator().manual_seed(seed)
    chosen = torch.cat([torch.nonzero(labels == c).flatten()[torch.randint(int((labels == c).sum()), (per_class,),
                                                                           generator=generator)]
                        for c in labels.unique()])
    return scorer.score(images[chosen], labels[chosen])


def print_by_step(title: str, results: list[dict], key: str, cell) -> None:
    """A markdown table of `cell(row)` for each variant's rows under `key`, one column per G step."""
    steps = sorted({row["g_step"] for r in results for row in r[key]})
    print(f"\n{title}\n| variant | " + " | ".join(map(str, steps)) + " |\n|---|" + "---|" * len(steps))
    for r in results:
        by_step = {row["g_step"]: row for row in r[key]}
        print(f"| {r['variant']} | " + " | ".join(cell(by_step[s]) if s in by_step else "-" for s in steps) + " |")


def main() -> None:
    from configs import recipe

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--config", default=str(recipe()))
    parser.add_argument("--g-steps", type=int, default=600)
    parser.add_argument("--fraction", type=float, default=0.1)
    parser.add_argument("--only", default=",".join(VARIANTS), help="comma-separated variants: " + ", ".join(VARIANTS))
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--every", type=int, default=0, help="also score every this many G steps (0: only at the end)")
    parser.add_argument("--out", default=None, help="write the results as JSON here")
    args = parser.parse_args()
    names = [n.strip() for n in args.only.split(",") if n.strip()]
    unknown = [n for n in names if n not in VARIANTS]
    if unknown:
        parser.error(f"unknown variants {unknown}; choose from {list(VARIANTS)}")
    os.environ.setdefault("WANDB_MODE", "disabled")
    jobs = [(n, args.config, args.g_steps, args.fraction, args.every) for n in names]
    with multiprocessing.get_context("spawn").Pool(args.jobs) as pool:
        results = pool.map(run, jobs, chunksize=1)
    real = results[0]["real"]
    baseline = next((r for r in results if r["variant"] == "none"), None)
    print(f"{args.fraction:.0%} of the training digits, {args.g_steps} G steps, recipe {args.config}")
    print("| variant | FID | FID / none | accuracy | precision | recall | spread | seconds |")
    print("|---|---|---|---|---|---|---|---|")
    for r in results:
        ratio = f"{r['fid'] / baseline['fid']:.2f}" if baseline else "-"
        print(f"| {r['variant']} | {r['fid']:.1f} | {ratio} | {r['accuracy']:.3f} | {r['precision']:.3f} | "
              f"{r['recall']:.3f} | {r['spread']:.3f} | {r['seconds']:.0f} |")
    print(f"| real digits (100 per class) | {real['fid']:.1f} | | {real['accuracy']:.3f} | {real['precision']:.3f} | "
          f"{real['recall']:.3f} | {real['spread']:.3f} | |")
    floor = results[0]["memorizer"]
    print(f"| its training images, repeated (a memorizing G) | {floor['fid']:.1f} | | {floor['accuracy']:.3f} | "
          f"{floor['precision']:.3f} | {floor['recall']:.3f} | {floor['spread']:.3f} | |")
    for r in results:
        if r["augment_p"] is not None:
            print(f"{r['variant']}: augmentation probability p at the end {r['augment_p']:.3f}")
    if args.every:
        print_by_step("Digits FID (recall) by G step:", results, "history",
                      lambda row: f"{row['fid']:.1f} ({row['recall']:.2f})")
        print_by_step("D's train / held-out gap (the fraction of training reals minus that of held-out reals that D "
                      "scores real):", results, "memorization", lambda row: f"{row['memorization/gap']:.2f}")
    if args.out:
        with open(args.out, "w") as f:
            json.dump(results, f, indent=1)


if __name__ == "__main__":
    main()
