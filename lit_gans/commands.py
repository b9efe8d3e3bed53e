"""The subcommands `lit-gans sample`, `evaluate` and `describe`, as methods of a Trainer subclass (LightningCLI
runs a subcommand by calling the trainer method of that name with the model and data it built)."""
import json
from pathlib import Path

import torch
from pytorch_lightning import LightningDataModule, Trainer

from lit_gans.evaluation.evaluator import Evaluator, generated_batches
from lit_gans.evaluation.inception import inception_weights as find_inception_weights
from lit_gans.gan import GAN
from lit_gans.images import image_grid, save_png


class GANTrainer(Trainer):
    """Trainer with the extra subcommands `sample` and `describe`."""

    def sample(
        self,
        model: GAN,
        datamodule: LightningDataModule | None = None,
        ckpt_path: str | None = None,
        num: int = 64,
        classes: list[int] | None = None,
        truncation: float | None = None,
        seed: int = 0,
        out: str = "samples",
        grid: bool = True,
        individual: bool = False,
        per_row: int = 8,
        use_ema: bool = True,
        standing_stats: int = 0,
    ) -> list[Path]:
        """Generate images from a checkpoint: a PNG grid and/or one PNG per image.

        Args:
            ckpt_path: checkpoint to load (its hyperparameters rebuild the model).
            num: number of images.
            classes: class of each image, cycled (e.g. [3, 7] gives 3, 7, 3, 7, ...); random when omitted.
            truncation: truncate latents to [-t, t].
            seed: latent seed.
            out: output folder.
            grid: write <out>/grid.png.
            individual: write <out>/<index>_class<label>.png for each image.
            per_row: images per grid row.
            use_ema: sample from generator_ema (the moving average when the run used callbacks.EMA).
            standing_stats: re-estimate G's BatchNorm statistics over this many batches of random samples first
                (BigGAN's standing statistics; 0: use the running statistics from training).
        """
        if ckpt_path is None:
            raise ValueError("sample needs --ckpt_path")
        load_weights(model, ckpt_path)
        labels = None
        if model.num_classes:
            labels = torch.tensor(classes or [], dtype=torch.long)
            labels = labels.repeat(num // len(labels) + 1)[:num] if len(labels) else torch.randint(
                model.num_classes, (num,), generator=torch.Generator().manual_seed(seed))
        images = model.sample(num, y=labels, truncation=truncation, use_ema=use_ema, seed=seed,
                              standing_stats=standing_stats)
        written = []
        if grid:
            written.append(save_png(image_grid(images, nrow=per_row), Path(out) / "grid.png"))
        if individual:
            for i, image in enumerate(images):
                suffix = f"_class{int(labels[i])}" if labels is not None else ""
                written.append(save_png(image_grid(image[None], nrow=1), Path(out) / f"{i:05d}{suffix}.png"))
        print(json.dumps({"written": [str(p) for p in written[:3]] + (["..."] if len(written) > 3 else []),
                          "count": len(written)}))
        return written

    def evaluate(
        self,
        model: GAN,
        datamodule: LightningDataModule | None = None,
        ckpt_path: str | None = None,
        num_samples: int = 50000,
        num_real: int | None = None,
        truncation: float | None = None,
        seed: int = 0,
        batch_size: int = 100,
        kid_subset_size: int = 1000,
        inception_weights: str | None = None,
        use_ema: bool = True,
        out: str | None = None,
        truncation_sweep: list[float] | None = None,
        images: str | None = None,
    ) -> dict:
        """Compute FID and KID of a checkpoint's samples against the configured data; print and write a JSON.

        Args:
            ckpt_path: checkpoint to evaluate.
            num_samples: generated images (50,000 for published numbers).
            num_real: real images (default: as many as num_samples, or the whole set if smaller).
            truncation: truncate latents to [-t, t].
            seed: sampling seed.
            batch_size: images per generator / Inception batch.
            kid_subset_size: KID subset size (at most num_samples).
            inception_weights: FID Inception weights file (default: found offline, see README "FID weights offline").
            use_ema: evaluate generator_ema (the moving average when the run used callbacks.EMA).
            out: JSON file to write (default: <checkpoint folder>/metrics-<checkpoint name>.json).
            truncation_sweep: thresholds to evaluate one after the other (e.g. "[0.25, 0.5, 1.0, 2.0]"): adds a
                "sweep" list to the JSON and writes <out>-sweep.csv and, with matplotlib, <out>-sweep.png.
            images: score every image in this folder instead of sampling a checkpoint (same resolution as the data;
                e.g. --data datamodules.ImageFolderDataModule --data.root <reference folder> for folder vs folder).
        """
        if ckpt_path is None and images is None:
            raise ValueError("evaluate needs --ckpt_path, or --images with a folder of generated images")
        if datamodule is None:
            raise ValueError("evaluate needs the reference data (--data or --config)")
        weights, has_classifier = find_inception_weights(inception_weights)
        if images is not None:
            return self.evaluate_folder(images, datamodule, num_real, batch_size, kid_subset_size, weights, out)
        load_weights(model, ckpt_path)
        model.to("cuda" if torch.cuda.is_available() else "cpu")
        evaluator = Evaluator(num_real or num_samples, batch_size, kid_subset_size=min(kid_subset_size, num_samples),
                              inception_weights=str(weights), inception_score=has_classifier)

        def scored(threshold: float | None) -> dict:  # the reference statistics are kept; only the samples change
            fakes = generated_batches(model, num_samples, batch_size, threshold, seed, use_ema)
            return evaluator.score(fakes, datamodule, model.resolution, device=model.device)

        values = scored(truncation)
        sweep = []
        for threshold in truncation_sweep or []:
            row = scored(threshold)
            sweep.append({"truncation": threshold, "fid": row["metrics/fid"], "kid_mean": row["metrics/kid_mean"],
                          "kid_std": row["metrics/kid_std"]})
        result = {
            "fid": values["metrics/fid"], "kid_mean": values["metrics/kid_mean"], "kid_std": values["metrics/kid_std"],
            "num_samples": num_samples, "num_real": evaluator.reference_count(datamodule),
            "truncation": truncation, "seed": seed, "use_ema": use_ema, "checkpoint": str(ckpt_path),
            "g_steps": model.g_steps, "kimg": model.images_seen / 1000, "inception_weights": str(weights),
            "inception_score": ({"mean": values["metrics/is_mean"], "std": values["metrics/is_std"], "splits": 10}
                                if has_classifier else "unavailable: these Inception weights have no classifier head"),
        }
        path = Path(out) if out else Path(ckpt_path).with_name(f"metrics-{Path(ckpt_path).stem}.json")
        if sweep:
            result["sweep"] = sweep
            path.parent.mkdir(parents=True, exist_ok=True)
            write_sweep(sweep, path.with_name(f"{path.stem}-sweep"))
        return write_result(result, path)

    @staticmethod
    def evaluate_folder(images: str, datamodule: LightningDataModule, num_real: int | None, batch_size: int,
                        kid_subset_size: int, weights: Path, out: str | None) -> dict:
        """FID and KID of every image in a folder against the DataModule's images."""
        from datamodules import ImageFolderDataModule

        resolution = datamodule.resolution
        fakes = ImageFolderDataModule(images, resolution=resolution, num_workers=0, batch_size=1)
        count = fakes.num_images
        evaluator = Evaluator(num_real or count, batch_size, kid_subset_size=min(kid_subset_size, count),
                              inception_weights=str(weights))
        batches = (fakes.images(range(i, min(i + batch_size, count))) for i in range(0, count, batch_size))
        values = evaluator.score(batches, datamodule, resolution)
        result = {"fid": values["metrics/fid"], "kid_mean": values["metrics/kid_mean"],
                  "kid_std": values["metrics/kid_std"], "num_samples": count,
                  "num_real": evaluator.reference_count(datamodule), "images": str(images),
                  "resolution": resolution, "inception_weights": str(weights)}
        return write_result(result, Path(out) if out else Path(images).with_name(f"metrics-{Path(images).name}.json"))

    def describe(self, model: GAN, datamodule: LightningDataModule | None = None) -> dict:
        """Print the model's trainable parameter counts as one JSON object, without training or reading data."""
        description = model.describe()
        print(json.dumps(description))
        return description


def write_result(result: dict, path: Path) -> dict:
    """Write an evaluation result as JSON and print it on one line."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result, indent=1))
    print(json.dumps(result))
    return result


def write_sweep(rows: list[dict], stem: Path) -> None:
    """A truncation sweep as <stem>.csv and, when matplotlib is installed, <stem>.png (FID and KID per threshold)."""
    lines = ["truncation,fid,kid_mean,kid_std"] + [f"{r['truncation']},{r['fid']},{r['kid_mean']},{r['kid_std']}" for r in rows]
    stem.with_suffix(".csv").write_text("\n".join(lines) + "\n")
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib is not installed: wrote the sweep as CSV only (pip install \".[metrics]\" for the plot)")
        return
    figure, (left, right) = plt.subplots(1, 2, figsize=(9, 3.5))
    thresholds = [r["truncation"] for r in rows]
    left.plot(thresholds, [r["fid"] for r in rows], "o-")
    left.set(xlabel="truncation threshold", ylabel="FID")
    right.errorbar(thresholds, [r["kid_mean"] for r in rows], yerr=[r["kid_std"] for r in rows], fmt="o-")
    right.set(xlabel="truncation threshold", ylabel="KID")
    figure.tight_layout()
    figure.savefig(stem.with_suffix(".png"), dpi=100)
    plt.close(figure)


def load_weights(model: GAN, ckpt_path: str) -> None:
    """Load a training checkpoint's weights (EMA generator included) into an already built model."""
    if not Path(ckpt_path).is_file():
        raise FileNotFoundError(f"checkpoint {ckpt_path} does not exist")
    checkpoint = torch.load(ckpt_path, map_location="cpu", weights_only=True)
    model.on_load_checkpoint(checkpoint)
    model.load_state_dict(checkpoint["state_dict"])
