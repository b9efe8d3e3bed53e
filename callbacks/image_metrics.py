"""FID and KID during training (Heusel et al. 2017; Binkowski et al. 2018), with torchmetrics and the FID Inception."""
import os
from pathlib import Path

import numpy as np
import pytorch_lightning as pl
import torch
from torchmetrics.image.fid import FrechetInceptionDistance
from torchmetrics.image.inception import InceptionScore
from torchmetrics.image.kid import KernelInceptionDistance

from datamodules.image_cache import default_cache_dir, fingerprint
from lit_gans.images import to_uint8


class Precomputed(torch.nn.Module):
    """The identity, standing in for the feature extractor inside torchmetrics' FID and KID: the callback extracts
    features once and feeds them to both metrics."""

    def __init__(self, num_features: int):
        super().__init__()
        self.num_features = num_features

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return features


class ImageMetrics(pl.Callback):
    """Every `every_n_g_steps` generator steps and at the end of training, log FID and KID of `num_samples`
    generated images against `num_real` training images.

    Protocol of published numbers: the TF FID Inception (`lit_gans.evaluation.inception`, found offline), the
    TF1-compatible resize, uint8 images rounded from [-1, 1]; FID in float64 from running sums (constant memory).
    Reals are the DataModule's uint8 images at the model's resolution, fed once and kept (`reset_real_features`
    off); their statistics are saved under `stats_dir` (default <lit-gans cache>/real-stats), keyed by a
    fingerprint of the dataset, resolution, number of images, feature extractor and rank layout, and reused by
    later runs and by `lit-gans evaluate`. Samples come from the EMA generator (optional truncation); under
    DDP every rank generates and feeds its rows of the same global set of samples and torchmetrics sums the
    statistics, so FID matches one process.
    Progressive models are scored once their active stage reaches the full resolution. The metric objects live
    here, never in the LightningModule, so checkpoints carry no Inception weights.

    Logs metrics/fid, metrics/kid_mean and metrics/kid_std, and with `inception_score` (weights with the classifier
    head required) metrics/is_mean and metrics/is_std over 10 splits; `self.history` keeps every evaluation.
    """

    def __init__(self, every_n_g_steps: int = 5000, num_samples: int = 10000, num_real: int | None = None,
                 truncation: float | None = None, batch_size: int = 100, kid_subsets: int = 100,
                 kid_subset_size: int = 1000, inception_weights: str | None = None, use_ema: bool = True,
                 seed: int = 0, stats_dir: str | None = None, inception_score: bool = False):
        if every_n_g_steps < 1 or num_samples < 2:
            raise ValueError(f"every_n_g_steps must be >= 1 and num_samples >= 2, got {every_n_g_steps}, {num_samples}")
        if kid_subset_size > num_samples:
            raise ValueError(f"kid_subset_size {kid_subset_size} exceeds num_samples {num_samples}")
        self.every_n_g_steps, self.num_samples, self.num_real = every_n_g_steps, num_samples, num_real or num_samples
        self.with_inception_score = inception_score
        self.truncation, self.batch_size, self.use_ema, self.seed = truncation, batch_size, use_ema, seed
        self.kid_subsets, self.kid_subset_size, self.inception_weights = kid_subsets, kid_subset_size, inception_weights
        self.stats_dir = Path(stats_dir).expanduser() if stats_dir else default_cache_dir() / "real-stats"
        self.extractor: torch.nn.Module | None = None  # the Inception; tests may set a small stand-in
        self.extractor_identity = None
        self.fid = self.kid = None
        self.logits_extractor: torch.nn.Module | None = None  # set to compute Inception Score (needs the classifier)
        self.inception_score = None
        self.reals_fed = False
        self.last_step = -1
        self.history: list[dict] = []

    def setup(self, trainer: pl.Trainer | None, pl_module, stage: str) -> None:
        if self.extractor is None:
            from lit_gans.evaluation.inception import inception_features, inception_weights

            weights, has_classifier = inception_weights(self.inception_weights)
            if self.with_inception_score and not has_classifier:
                raise ValueError(f"inception_score needs Inception weights with the classifier head; {weights} has "
                                 "only the pool features (give torch-fidelity's weights file as inception_weights)")
            self.extractor = inception_features(weights)
            self.extractor_identity = (weights.name, weights.stat().st_size)
            if self.with_inception_score:
                self.logits_extractor = inception_features(weights, "logits_unbiased")
        with torch.no_grad():
            num_features = self.extractor(torch.zeros(1, 3, 8, 8, dtype=torch.uint8)).shape[-1]
        self.fid = FrechetInceptionDistance(feature=Precomputed(num_features), reset_real_features=False)
        self.fid.set_dtype(torch.float64)
        self.kid = KernelInceptionDistance(feature=Precomputed(num_features), subsets=self.kid_subsets,
                                           subset_size=self.kid_subset_size, reset_real_features=False)

    def on_train_batch_end(self, trainer: pl.Trainer, pl_module, outputs, batch, batch_idx: int) -> None:
        step = pl_module.g_steps
        if step != self.last_step and step % self.every_n_g_steps == 0 and step > 0 and self.ready(pl_module):
            pl_module.log_dict(self.evaluate(pl_module, trainer.datamodule, trainer.global_rank, trainer.world_size))

    def on_train_end(self, trainer: pl.Trainer, pl_module) -> None:
        if pl_module.g_steps != self.last_step and self.ready(pl_module):
            values = self.evaluate(pl_module, trainer.datamodule, trainer.global_rank, trainer.world_size)
            for logger in trainer.loggers:
                logger.log_metrics(values, step=trainer.fit_loop.total_batch_idx + 1)

    @staticmethod
    def ready(pl_module) -> bool:
        return pl_module.at_full_resolution()

    @torch.no_grad()
    def evaluate(self, pl_module, datamodule, rank: int = 0, world: int = 1) -> dict[str, float]:
        """FID and KID of this rank's share of samples (all ranks must call it together under DDP)."""
        self.last_step = pl_module.g_steps
        if world > 1:  # per-rank BatchNorm statistics differ without SyncBatchNorm: all ranks sample with rank 0's
            buffers = list(self.sampling_generator(pl_module).buffers())
            for buffer, value in zip(buffers, pl_module.trainer.strategy.broadcast([b.cpu() for b in buffers], 0)):
                buffer.copy_(value)
        values = self.score(self.generated(pl_module, rank, world), datamodule, pl_module.resolution, rank, world,
                            pl_module.device)
        self.history.append({"g_step": pl_module.g_steps, "kimg": pl_module.images_seen / 1000, **values})
        return values

    def generated(self, pl_module, rank: int, world: int):
        """This rank's share of `num_samples` EMA samples as uint8 batches. The samples come in chunks of
        `batch_size`, each seeded by (seed, g_step, chunk start); the ranks take interleaved rows of `world` chunks
        at a time, so the set of samples is the same for any number of ranks."""
        generator = self.sampling_generator(pl_module)
        starts = range(0, self.num_samples, self.batch_size)
        for first in range(0, len(starts), world):
            inputs = [pl_module.sample_inputs(min(self.batch_size, self.num_samples - start), truncation=self.truncation,
                                              seed=int(np.random.SeedSequence([self.seed, pl_module.g_steps, start])
                                                       .generate_state(1)[0]))
                      for start in starts[first : first + world]]
            z = torch.cat([z for z, _ in inputs])[rank::world]
            labels = None if inputs[0][1] is None else torch.cat([y for _, y in inputs])[rank::world]
            if len(z):
                yield to_uint8(pl_module.generate(z, labels, generator))

    def sampling_generator(self, pl_module) -> torch.nn.Module:
        return pl_module.generator_ema if self.use_ema and pl_module.generator_ema is not None else pl_module.generator

    @torch.no_grad()
    def score(self, fake_batches, datamodule, resolution: int, rank: int = 0, world: int = 1,
              device: torch.device | str = "cpu") -> dict[str, float]:
        """FID, KID (and IS with a logits extractor) of uint8 fake batches against the DataModule's reals."""
        for metric in (self.fid, self.kid, self.extractor):
            metric.to(device)
        if not self.reals_fed:
            self.feed_reals(datamodule, resolution, rank, world, device)
        self.fid.reset()  # keeps the real statistics
        self.kid.reset()
        if self.logits_extractor is not None:
            self.logits_extractor.to(device)
            self.inception_score = InceptionScore(feature=Precomputed(1008), splits=10).to(device)
        for images in fake_batches:
            self.update(images.to(device), real=False)
        kid_mean, kid_std = self.kid.compute()
        values = {"metrics/fid": float(self.fid.compute()), "metrics/kid_mean": float(kid_mean),
                  "metrics/kid_std": float(kid_std)}
        if self.inception_score is not None:
            is_mean, is_std = self.inception_score.compute()
            values.update({"metrics/is_mean": float(is_mean), "metrics/is_std": float(is_std)})
        return values

    def update(self, images: torch.Tensor, real: bool) -> None:
        """Extract features of uint8 images (B, 3, H, W) once and add them to both metrics."""
        features = self.extractor(images).double()
        self.fid.update(features, real=real)
        self.kid.update(features.float(), real=real)
        if not real and self.inception_score is not None:
            self.inception_score.update(self.logits_extractor(images))

    def stats_path(self, datamodule, resolution: int, rank: int, world: int) -> Path:
        cache = getattr(datamodule, "cache", None)
        dataset = cache.folder.name if cache is not None else [type(datamodule).__name__, str(getattr(datamodule, "root", "")),
                                                                getattr(datamodule, "seed", 0), len(datamodule.labels)]
        extractor = self.extractor_identity or type(self.extractor).__qualname__
        key = fingerprint(dataset, resolution, self.num_real, extractor, rank, world)
        return self.stats_dir / f"real-{resolution}px-{key}.pt"

    def feed_reals(self, datamodule, resolution: int, rank: int, world: int, device) -> None:
        """Feed this rank's share of real images, or load the statistics a previous run saved for exactly them."""
        path = self.stats_path(datamodule, resolution, rank, world)
        if path.is_file():
            saved = torch.load(path, map_location=device, weights_only=True)
            self.fid.real_features_sum = saved["fid_sum"]
            self.fid.real_features_cov_sum = saved["fid_cov_sum"]
            self.fid.real_features_num_samples = saved["fid_count"]
            self.kid.real_features = [saved["kid_features"]]
        else:
            for images in self.real_batches(datamodule, resolution, rank, world):
                self.update(images.to(device), real=True)
            path.parent.mkdir(parents=True, exist_ok=True)
            partial = path.with_name(f"{path.name}.partial-{os.getpid()}")
            torch.save({"fid_sum": self.fid.real_features_sum, "fid_cov_sum": self.fid.real_features_cov_sum,
                        "fid_count": self.fid.real_features_num_samples,
                        "kid_features": torch.cat(self.kid.real_features)}, partial)
            os.replace(partial, path)
        self.reals_fed = True

    def real_batches(self, datamodule, resolution: int, rank: int, world: int):
        """This rank's share of the first `num_real` training images, uint8 (B, 3, R, R), straight from the pyramid."""
        if datamodule is None or getattr(datamodule, "levels", None) is None:
            raise ValueError("ImageMetrics needs a lit-gans DataModule (it reads the real images from its pyramid)")
        level = datamodule.levels[resolution]
        indices = np.arange(min(self.num_real, len(datamodule.labels)))[rank::world]
        for start in range(0, len(indices), self.batch_size):
            yield torch.as_tensor(np.asarray(level[indices[start : start + self.batch_size]]))
