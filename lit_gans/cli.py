"""`lit-gans` command line: LightningCLI with the subcommands fit, validate, sample, evaluate and describe.

    lit-gans fit                                   # class-conditional SAGAN on the embedded digits
    lit-gans fit --config configs/sagan/celeba64.yaml
    lit-gans fit --config configs/biggan/digits.yaml
    lit-gans sample --ckpt_path runs/.../last.ckpt --num 100 --classes "[3, 7]" --out samples
    lit-gans describe --config configs/sagan/imagenet128.yaml
    lit-gans evaluate --config configs/sagan/digits.yaml --ckpt_path runs/.../last.ckpt --num_samples 10000

With no --config, the defaults below (identical to configs/sagan/digits.yaml) apply.
"""
import json
from pathlib import Path

import torch
import yaml
from pytorch_lightning import LightningDataModule, Trainer
from pytorch_lightning.cli import LightningArgumentParser, LightningCLI, SaveConfigCallback

from callbacks.run_dir import run_dir
from lit_gans.gan import GAN
from lit_gans.images import image_grid, save_png
from lit_gans.wandb_logger import WandbLogger

DEFAULTS = {
    "seed_everything": 0,
    "model": {
        "class_path": "lit_gans.SAGAN",
        "init_args": {"resolution": 16, "z_dim": 64, "ch": 16, "num_classes": 10, "attn_res": 8, "loss": "hinge",
                      "n_dis": 1, "lr_g": 2e-4, "lr_d": 2e-4, "betas_g": [0.5, 0.999], "betas_d": [0.5, 0.999]},
    },
    "data": {"class_path": "datamodules.DigitsDataModule", "init_args": {"resolution": 16, "batch_size": 64}},
    "trainer.max_epochs": -1,
    "trainer.log_every_n_steps": 10,
    "trainer.logger": {"class_path": "lit_gans.wandb_logger.WandbLogger",
                       "init_args": {"project": "lit-gans", "save_dir": "runs"}},
    "trainer.callbacks": [
        {"class_path": "callbacks.StopAt", "init_args": {"kimg": 80}},
        {"class_path": "callbacks.EMA", "init_args": {"half_life_kimg": 2, "rampup": 0.05}},
        {"class_path": "callbacks.SampleGrid", "init_args": {"every_n_g_steps": 250}},
        {"class_path": "callbacks.DigitsQuality", "init_args": {"every_n_g_steps": 250}},
        {"class_path": "pytorch_lightning.callbacks.ModelCheckpoint", "init_args": {"save_last": True}},
    ],
}


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
            use_ema: sample from the EMA generator when the checkpoint has one.
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
            use_ema: evaluate the EMA generator when the checkpoint has one.
            out: JSON file to write (default: <checkpoint folder>/metrics-<checkpoint name>.json).
            truncation_sweep: thresholds to evaluate one after the other (e.g. "[0.25, 0.5, 1.0, 2.0]"): adds a
                "sweep" list to the JSON and writes <out>-sweep.csv and, with matplotlib, <out>-sweep.png.
            images: score every image in this folder instead of sampling a checkpoint (same resolution as the data;
                e.g. --data datamodules.ImageFolderDataModule --data.root <reference folder> for folder vs folder).
        """
        from callbacks.image_metrics import ImageMetrics
        from lit_gans.evaluation.inception import inception_weights as find_weights

        if ckpt_path is None and images is None:
            raise ValueError("evaluate needs --ckpt_path, or --images with a folder of generated images")
        if datamodule is None:
            raise ValueError("evaluate needs the reference data (--data or --config)")
        datamodule.prepare_data()
        datamodule.setup("fit")
        if images is not None:
            return self.evaluate_folder(images, datamodule, num_real, batch_size, kid_subset_size, inception_weights, out)
        load_weights(model, ckpt_path)
        model.to("cuda" if torch.cuda.is_available() else "cpu")
        from lit_gans.evaluation.inception import inception_features

        weights, has_classifier = find_weights(inception_weights)
        metrics = ImageMetrics(num_samples=num_samples, num_real=num_real, truncation=truncation,
                               batch_size=batch_size, kid_subset_size=min(kid_subset_size, num_samples),
                               inception_weights=str(weights), use_ema=use_ema, seed=seed)
        metrics.setup(None, model, "evaluate")
        if has_classifier:
            metrics.logits_extractor = inception_features(weights, "logits_unbiased")
        values = metrics.evaluate(model, datamodule)
        sweep = []
        for threshold in truncation_sweep or []:
            metrics.truncation = threshold
            row = metrics.evaluate(model, datamodule)  # the real statistics are kept; only the samples change
            sweep.append({"truncation": threshold, "fid": row["metrics/fid"], "kid_mean": row["metrics/kid_mean"],
                          "kid_std": row["metrics/kid_std"]})
        result = {
            "fid": values["metrics/fid"], "kid_mean": values["metrics/kid_mean"], "kid_std": values["metrics/kid_std"],
            "num_samples": num_samples, "num_real": min(metrics.num_real, len(datamodule.labels)),
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
                        kid_subset_size: int, inception_weights: str | None, out: str | None) -> dict:
        """FID and KID of every image in a folder against the DataModule's reals."""
        import numpy as np

        from callbacks.image_metrics import ImageMetrics
        from datamodules import ImageFolderDataModule
        from lit_gans.evaluation.inception import inception_weights as find_weights

        resolution = datamodule.resolution
        fakes = ImageFolderDataModule(images, resolution=resolution, num_workers=0, batch_size=1)
        fakes.setup("fit")
        count = len(fakes.labels)
        weights, _ = find_weights(inception_weights)
        metrics = ImageMetrics(num_samples=count, num_real=num_real or count, batch_size=batch_size,
                               kid_subset_size=min(kid_subset_size, count), inception_weights=str(weights))
        metrics.setup(None, None, "evaluate")
        level = fakes.cache[resolution]
        batches = (torch.as_tensor(np.asarray(level[i : i + batch_size])) for i in range(0, count, batch_size))
        values = metrics.score(batches, datamodule, resolution)
        result = {"fid": values["metrics/fid"], "kid_mean": values["metrics/kid_mean"],
                  "kid_std": values["metrics/kid_std"], "num_samples": count,
                  "num_real": min(metrics.num_real, len(datamodule.labels)), "images": str(images),
                  "resolution": resolution, "inception_weights": str(weights)}
        return write_result(result, Path(out) if out else Path(images).with_name(f"metrics-{Path(images).name}.json"))

    def describe(self, model: GAN, datamodule: LightningDataModule | None = None) -> dict:
        """Print the model's trainable parameter counts as one JSON object, without training or reading data."""
        description = describe_model(model)
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


def count_parameters(module: torch.nn.Module) -> int:
    return sum(p.numel() for p in module.parameters() if p.requires_grad)


def describe_model(model: GAN) -> dict:
    """Parameter counts of G and D, in total, per top-level layer or block, and per stage for progressive models."""

    def breakdown(network: torch.nn.Module) -> dict[str, int]:
        parts = {}
        for name, child in network.named_children():
            items = child.named_children() if isinstance(child, torch.nn.ModuleList) else [(None, child)]
            for index, part in items:
                parts[name if index is None else f"{name}.{index}"] = count_parameters(part)
        return parts

    description = {
        "model": type(model).__name__,
        "generator_params": count_parameters(model.generator),
        "discriminator_params": count_parameters(model.discriminator),
        "generator_breakdown": breakdown(model.generator),
        "discriminator_breakdown": breakdown(model.discriminator),
        "hparams": dict(model.hparams),
    }
    if hasattr(model.generator, "parameters_at"):  # progressive models: the network active at each stage
        for name, network in (("generator", model.generator), ("discriminator", model.discriminator)):
            description[f"{name}_params_by_resolution"] = {r: network.parameters_at(r) for r in network.resolutions}
    return description


def load_weights(model: GAN, ckpt_path: str) -> None:
    """Load a training checkpoint's weights (EMA generator included) into an already built model."""
    if not Path(ckpt_path).is_file():
        raise FileNotFoundError(f"checkpoint {ckpt_path} does not exist")
    checkpoint = torch.load(ckpt_path, map_location="cpu", weights_only=True)
    model.on_load_checkpoint(checkpoint)
    model.load_state_dict(checkpoint["state_dict"])


class SaveRunConfig(SaveConfigCallback):
    """Write the resolved config to <run dir>/config.yaml and store it with the logger's run (e.g. W&B config)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **{**kwargs, "save_to_log_dir": False})

    def save_config(self, trainer: Trainer, pl_module, stage: str) -> None:
        path = run_dir(trainer) / self.config_filename
        path.parent.mkdir(parents=True, exist_ok=True)
        self.parser.save(self.config, str(path), skip_none=False, overwrite=True, multifile=False)
        config = yaml.safe_load(self.parser.dump(self.config, skip_none=False))
        for logger in trainer.loggers:
            logger.log_hyperparams({"config": config})


class GANCLI(LightningCLI):
    @staticmethod
    def subcommands() -> dict[str, set[str]]:
        return {
            **LightningCLI.subcommands(),
            "sample": {"model", "datamodule"},
            "describe": {"model", "datamodule"},
            "evaluate": {"model", "datamodule"},
        }

    def add_arguments_to_parser(self, parser: LightningArgumentParser) -> None:
        parser.set_defaults(DEFAULTS)

    def before_fit(self) -> None:
        """`fit --ckpt_path` (or a requeued SLURM job, which Lightning resumes from its requeue checkpoint) continues
        the checkpoint's W&B run rather than opening a new one."""
        ckpt_path = self.config[self.subcommand].get("ckpt_path") or requeue_checkpoint(self.trainer)
        if ckpt_path and Path(ckpt_path).is_file():
            for logger in self.trainer.loggers:
                if isinstance(logger, WandbLogger):
                    logger.resume_from(ckpt_path)


def requeue_checkpoint(trainer: Trainer) -> Path | None:
    """The checkpoint a SLURM job saved before it was requeued (`<default_root_dir>/hpc_ckpt_<n>.ckpt`, highest n),
    which Lightning resumes from when a job runs under SLURM without --ckpt_path; None elsewhere."""
    from pytorch_lightning.plugins.environments import SLURMEnvironment

    if not SLURMEnvironment.detect():
        return None
    saved = sorted(Path(trainer.default_root_dir).glob("hpc_ckpt_*.ckpt"), key=lambda p: int(p.stem.rsplit("_", 1)[1]))
    return saved[-1] if saved else None


def main(args: list[str] | None = None, run: bool = True) -> GANCLI:
    """Parse `args` (default: the command line) and run the subcommand; with run=False, only build the model,
    data and trainer from a config (no subcommand in `args`), e.g. to train from Python."""
    return GANCLI(
        GAN,
        LightningDataModule,
        trainer_class=GANTrainer,
        subclass_mode_model=True,
        subclass_mode_data=True,
        auto_configure_optimizers=False,
        save_config_callback=SaveRunConfig,
        args=args,
        run=run,
    )


def console() -> None:
    """The `lit-gans` console script: exit status 0 on success (returning the CLI object would make it 1)."""
    main()
