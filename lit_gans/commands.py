"""The subcommands `lit-gans sample`, `evaluate`, `interpolate` and `describe`, as methods of a Trainer subclass (LightningCLI
runs a subcommand by calling the trainer method of that name with the model and data it built)."""
import json
import sys
from pathlib import Path

import torch
from pytorch_lightning import LightningDataModule, Trainer

from lit_gans.evaluation.evaluator import Evaluator, generated_batches
from lit_gans.evaluation.inception import inception_weights as find_inception_weights
from lit_gans.gan import GAN
from lit_gans.images import image_grid, save_png
from lit_gans.interpolation import pictures, sheet, to_frames, write_video


class GANTrainer(Trainer):
    """Lightning's Trainer (--trainer), with `sample`, `evaluate`, `interpolate` and `describe` as methods.

    LightningCLI runs a subcommand by calling the method of its name. Their --ckpt_path, like fit's, takes a file, a
    run folder or `last` (resolved by the CLI, `lit_gans.resume`)."""

    def fit(self, model: GAN, train_dataloaders=None, val_dataloaders=None,
            datamodule: LightningDataModule | None = None, ckpt_path: str | None = None,
            weights_only: bool | None = None, resume_with_other_data: bool = False) -> None:
        """Train the model (Lightning's fit).

        Args:
            resume_with_other_data: with ckpt_path, continue the checkpoint's run on other training images than it
                was trained on, which is refused otherwise (`datamodules.base.GANDataModule.load_state_dict`).
        """
        data = datamodule if datamodule is not None else train_dataloaders
        if resume_with_other_data and isinstance(data, LightningDataModule):
            data.resume_with_other_data = True
        super().fit(model, train_dataloaders, val_dataloaders, datamodule, ckpt_path, weights_only)

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
        if num < 1:
            raise ValueError(f"--num must be at least 1, got {num}")
        load_weights(model, ckpt_path)
        check_classes(model, classes)
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
        metrics: list[str] | None = None,
        swd_images: int = 16384,
        ms_ssim_pairs: int = 10000,
    ) -> dict:
        """Score a checkpoint's samples, or a folder of images, against the configured data (FID, KID and more).

        Prints and writes a JSON with every metric's values and settings.

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
            metrics: which metrics, e.g. "[fid, prc, swd]": fid, kid, is (Inception Score), prc (precision and
                recall), prdc (density and coverage), ifid (intra-class FID), swd (sliced Wasserstein distance),
                ms_ssim (MS-SSIM diversity). Default: fid and kid, and is when the weights have the classifier head.
            swd_images: images per set for SWD (16,384 in ProGAN; at most num_samples).
            ms_ssim_pairs: image pairs for MS-SSIM (10,000 in ProGAN; at most num_samples / 2).
        """
        if ckpt_path is None and images is None:
            raise ValueError("evaluate needs --ckpt_path, or --images with a folder of generated images")
        if datamodule is None:
            raise ValueError("evaluate needs the reference data (--data or --config)")
        weights, has_classifier = find_inception_weights(inception_weights)
        names = list(metrics) if metrics else ["fid", "kid"] + (["is"] if has_classifier and images is None else [])
        if images is not None:
            from datamodules import ImageFolderDataModule

            fakes = ImageFolderDataModule(images, resolution=datamodule.resolution, num_workers=0, batch_size=1)
            num_samples = fakes.num_images
        evaluator = Evaluator(num_real or num_samples, batch_size, kid_subset_size=min(kid_subset_size, num_samples),
                              inception_weights=str(weights), metrics=names, swd_images=swd_images,
                              ms_ssim_pairs=ms_ssim_pairs, seed=seed)
        if images is not None:
            batches = (fakes.images(range(i, min(i + batch_size, num_samples)))
                       for i in range(0, num_samples, batch_size))
            values = evaluator.score(batches, datamodule, datamodule.resolution)
            result = {**report(values, evaluator), "num_samples": num_samples,
                      "num_real": evaluator.reference_count(datamodule), "images": str(images),
                      "resolution": datamodule.resolution, "inception_weights": str(weights)}
            return write_result(result, Path(out) if out else Path(images).with_name(f"metrics-{Path(images).name}.json"))
        load_weights(model, ckpt_path)
        model.to("cuda" if torch.cuda.is_available() else "cpu")

        def scored(threshold: float | None) -> dict:  # the reference features are kept; only the samples change
            fakes = generated_batches(model, num_samples, batch_size, threshold, seed, use_ema)
            return evaluator.score(fakes, datamodule, model.resolution, device=model.device)

        values = scored(truncation)
        result = {
            **report(values, evaluator), "num_samples": num_samples, "num_real": evaluator.reference_count(datamodule),
            "truncation": truncation, "seed": seed, "use_ema": use_ema, "checkpoint": str(ckpt_path),
            "g_steps": model.g_steps, "kimg": model.images_seen / 1000, "inception_weights": str(weights),
        }
        if "inception_score" not in result and metrics is None:
            result["inception_score"] = "unavailable: these Inception weights have no classifier head"
        sweep = []
        for threshold in truncation_sweep or []:
            sweep.append({"truncation": threshold, **{name[len("metrics/"):]: value
                                                      for name, value in scored(threshold).items()}})
        path = Path(out) if out else Path(ckpt_path).with_name(f"metrics-{Path(ckpt_path).stem}.json")
        if sweep:
            result["sweep"] = sweep
            path.parent.mkdir(parents=True, exist_ok=True)
            write_sweep(sweep, path.with_name(f"{path.stem}-sweep"))
        return write_result(result, path)

    def interpolate(
        self,
        model: GAN,
        datamodule: LightningDataModule | None = None,
        ckpt_path: str | None = None,
        kinds: list[str] | None = None,
        rows: int = 4,
        frames: int = 8,
        video_frames: int = 48,
        classes: list[int] | None = None,
        seed: int = 0,
        truncation: float | None = None,
        thresholds: list[float] | None = None,
        out: str = "interpolations",
        video: str = "mp4",
        fps: int = 12,
    ) -> dict:
        """Pictures of a checkpoint's latent space: interpolation sheets, videos and truncation strips.

        PNG sheets and videos of latent interpolation, class interpolation and truncation strips
        (`lit_gans.interpolation`).

        Args:
            ckpt_path: checkpoint to load.
            kinds: which pictures: latent, class, truncation (default: all the model supports; class needs a
                shared class embedding, as BigGAN's).
            rows: rows per picture (one class, or one pair of endpoints, per row).
            frames: columns of the PNG sheets.
            video_frames: frames of the videos.
            classes: the rows' classes, cycled (for class interpolation: pairs a, b, a, b, ...); drawn from the
                seed when omitted.
            seed: latent seed; the latent rows' endpoints are the images of `lit-gans sample --num 2*rows
                --seed seed` with the same classes, two per row.
            truncation: truncate the latents of the latent and class pictures to [-t, t].
            thresholds: the truncation strip's thresholds (default 0.25, 0.5, 0.75, 1, 1.5, 2); its video sweeps
                from the first to the last.
            out: output folder: <out>/<kind>.png and <out>/<kind>.<video>.
            video: mp4 (H.264 through imageio's ffmpeg plugin), gif, or none.
            fps: video frame rate.
        """
        if ckpt_path is None:
            raise ValueError("interpolate needs --ckpt_path")
        if video not in ("mp4", "gif", "none"):
            raise ValueError(f"video must be mp4, gif or none, got {video!r}")
        load_weights(model, ckpt_path)
        check_classes(model, classes)
        options = dict(rows=rows, classes=classes, seed=seed, truncation=truncation, thresholds=thresholds)
        written = {}
        for kind, picture in pictures(model, kinds, frames=frames, **options).items():
            written[kind] = {"sheet": str(save_png(sheet(picture), Path(out) / f"{kind}.png")),
                             "rows": picture.shape[0], "columns": picture.shape[1]}
            if video != "none":
                moving = pictures(model, [kind], frames=video_frames, video=True, **options)[kind]
                written[kind]["video"] = str(write_video(to_frames(moving), Path(out) / f"{kind}.{video}", fps))
                written[kind]["video_frames"] = moving.shape[1]
        print(json.dumps(written))
        return written

    def describe(self, model: GAN, datamodule: LightningDataModule | None = None, ckpt_path: str | None = None) -> dict:
        """Print the model's trainable parameter counts as one JSON object, without training or reading data.

        Args:
            ckpt_path: describe the model of this checkpoint (its hyperparameters rebuild it), with its progress
                (g_steps, kimg).
        """
        if ckpt_path is not None:
            load_weights(model, ckpt_path)
        description = model.describe()
        if ckpt_path is not None:
            description.update(checkpoint=str(ckpt_path), g_steps=model.g_steps, kimg=model.images_seen / 1000)
        print(json.dumps(description))
        return description


def check_classes(model: GAN, classes: list[int] | None) -> None:
    """--classes names classes the model has: none for an unconditional model, each in [0, num_classes)."""
    if not classes:
        return
    if not model.num_classes:
        raise ValueError(f"--classes {classes}: this model is unconditional (num_classes 0); leave --classes out")
    wrong = [c for c in classes if not 0 <= c < model.num_classes]
    if wrong:
        raise ValueError(f"--classes: {wrong} not among this model's classes 0 to {model.num_classes - 1}")


def write_result(result: dict, path: Path) -> dict:
    """Write an evaluation result as JSON and print it on one line."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result, indent=1))
    print(json.dumps(result))
    print(f"lit-gans evaluate: wrote {path}", file=sys.stderr)
    return result


def report(values: dict[str, float], evaluator: Evaluator) -> dict:
    """The evaluator's values as the JSON of `evaluate`: each value at the top level (fid, kid_mean, precision,
    ...; the Inception Score as {"mean", "std", "splits"}), and under "metrics" every metric's values and the
    settings that reproduce them."""
    values = {name[len("metrics/"):]: value for name, value in values.items()}
    result = {name: value for name, value in values.items() if not name.startswith("is_")}
    if "is_mean" in values:
        result["inception_score"] = {"mean": values["is_mean"], "std": values["is_std"],
                                     "splits": evaluator.metric("is").splits}
    result["metrics"] = {name: {"values": {k: values[k] for k in produced}, "settings": evaluator.last[name]}
                         for name, produced in evaluator.produced.items()}
    return result


def write_sweep(rows: list[dict], stem: Path) -> None:
    """A truncation sweep as <stem>.csv and, when matplotlib is installed, <stem>.png (FID, KID, precision and
    recall per threshold, those computed)."""
    columns = list(rows[0])
    lines = [",".join(columns)] + [",".join(str(row[c]) for c in columns) for row in rows]
    stem.with_suffix(".csv").write_text("\n".join(lines) + "\n")
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib is not installed: wrote the sweep as CSV only (pip install \".[metrics]\" for the plot)")
        return
    labels = {"fid": "FID", "kid_mean": "KID", "precision": "precision", "recall": "recall"}
    plotted = [column for column in labels if column in rows[0]]
    figure, axes = plt.subplots(1, len(plotted), figsize=(4.5 * len(plotted), 3.5), squeeze=False)
    thresholds = [r["truncation"] for r in rows]
    for axis, column in zip(axes[0], plotted):
        if column == "kid_mean":
            axis.errorbar(thresholds, [r["kid_mean"] for r in rows], yerr=[r["kid_std"] for r in rows], fmt="o-")
        else:
            axis.plot(thresholds, [r[column] for r in rows], "o-")
        axis.set(xlabel="truncation threshold", ylabel=labels[column])
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
