"""The evaluator: FID, KID and Inception Score of generated images against a DataModule's images (Heusel et al.
2017; Binkowski et al. 2018; Salimans et al. 2016), with torchmetrics and the FID Inception.

One class serves training (`callbacks.ImageMetrics` schedules it) and the command line (`lit-gans evaluate`):

    evaluator = Evaluator(num_real=10_000)
    values = evaluator.score(generated_batches(model, 10_000), datamodule, resolution=128)

Protocol of published numbers: the TF FID Inception (`lit_gans.evaluation.inception`, found offline), the
TF1-compatible resize, uint8 images rounded from [-1, 1]; FID in float64 from running sums (constant memory).
The reference is the DataModule's first `num_real` uint8 training images, read through its public interface
(`images`, `num_images`, `fingerprint`), fed once and kept; their statistics are saved under `stats_dir`
(default <lit-gans cache>/real-stats), keyed by the data's fingerprint, the resolution, the number of images, the
feature extractor and the rank layout, and reused by later runs. Under DDP every rank feeds its share of reals
and fakes and torchmetrics sums the statistics, so the values equal one process.
"""
import os
from pathlib import Path

import numpy as np
import torch
from torchmetrics.image.fid import FrechetInceptionDistance
from torchmetrics.image.inception import InceptionScore
from torchmetrics.image.kid import KernelInceptionDistance

from lit_gans.cache import default_cache_dir, fingerprint
from lit_gans.images import to_uint8


class Precomputed(torch.nn.Module):
    """The identity, standing in for the feature extractor inside torchmetrics' metrics: the evaluator extracts
    features once and feeds them to every metric."""

    def __init__(self, num_features: int):
        super().__init__()
        self.num_features = num_features

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return features


class Evaluator:
    """Scores uint8 image batches (B, 3, H, W) against reference images.

    Args:
        num_real: reference images (the first `num_real` training images, or all if fewer).
        batch_size: images per Inception batch for the reference images.
        kid_subsets, kid_subset_size: KID's subsets (the subset size must not exceed the number of fakes scored).
        inception_weights: FID Inception weights file (default: found offline, see README "FID weights offline").
        inception_score: also compute the Inception Score over 10 splits (needs weights with the classifier head).
        stats_dir: where reference statistics are cached.
        extractor: the feature extractor uint8 images -> (B, F) features (default: the FID Inception, 2048-d);
            tests use small stand-ins.
    """

    def __init__(self, num_real: int = 10000, batch_size: int = 100, kid_subsets: int = 100,
                 kid_subset_size: int = 1000, inception_weights: str | None = None, inception_score: bool = False,
                 stats_dir: str | None = None, extractor: torch.nn.Module | None = None):
        if num_real < 2:
            raise ValueError(f"num_real must be at least 2, got {num_real}")
        self.num_real, self.batch_size = num_real, batch_size
        self.kid_subsets, self.kid_subset_size = kid_subsets, kid_subset_size
        self.inception_weights, self.with_inception_score = inception_weights, inception_score
        self.stats_dir = Path(stats_dir).expanduser() if stats_dir else default_cache_dir() / "real-stats"
        self.extractor, self.extractor_identity = extractor, None
        self.logits_extractor: torch.nn.Module | None = None
        self.fid = self.kid = self.inception_score = None
        self.reference_key = None  # which reference the metrics hold

    def prepare(self) -> None:
        """Load the feature extractor (once); refuse the Inception Score without the classifier head."""
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
        if self.fid is None:
            with torch.no_grad():
                num_features = self.extractor(torch.zeros(1, 3, 8, 8, dtype=torch.uint8)).shape[-1]
            self.fid = FrechetInceptionDistance(feature=Precomputed(num_features), reset_real_features=False)
            self.fid.set_dtype(torch.float64)
            self.kid = KernelInceptionDistance(feature=Precomputed(num_features), subsets=self.kid_subsets,
                                               subset_size=self.kid_subset_size, reset_real_features=False)

    @torch.no_grad()
    def score(self, fake_batches, data, resolution: int | None = None, rank: int = 0, world: int = 1,
              device: torch.device | str = "cpu") -> dict[str, float]:
        """metrics/fid, metrics/kid_mean, metrics/kid_std (and metrics/is_mean, metrics/is_std) of this rank's
        uint8 fake batches against `data`'s reference images at `resolution` (default: the data's)."""
        self.prepare()
        resolution = resolution or data.resolution
        for metric in (self.fid, self.kid, self.extractor):
            metric.to(device)
        key = (data.fingerprint(), resolution, rank, world)
        if self.reference_key != key:
            self.feed_reference(data, resolution, rank, world, device)
            self.reference_key = key
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
        """Extract features of uint8 images (B, 3, H, W) once and add them to every metric."""
        features = self.extractor(images).double()
        self.fid.update(features, real=real)
        self.kid.update(features.float(), real=real)
        if not real and self.inception_score is not None:
            self.inception_score.update(self.logits_extractor(images))

    def reference_count(self, data) -> int:
        return min(self.num_real, data.num_images)

    def stats_path(self, data, resolution: int, rank: int, world: int) -> Path:
        extractor = self.extractor_identity or type(self.extractor).__qualname__
        key = fingerprint(data.fingerprint(), resolution, self.num_real, extractor, rank, world)
        return self.stats_dir / f"real-{resolution}px-{key}.pt"

    def feed_reference(self, data, resolution: int, rank: int, world: int, device) -> None:
        """Feed this rank's share of reference images, or load the statistics a previous run saved for them."""
        path = self.stats_path(data, resolution, rank, world)
        if path.is_file():
            saved = torch.load(path, map_location=device, weights_only=True)
            self.fid.real_features_sum = saved["fid_sum"]
            self.fid.real_features_cov_sum = saved["fid_cov_sum"]
            self.fid.real_features_num_samples = saved["fid_count"]
            self.kid.real_features = [saved["kid_features"]]
            return
        self.fid.reset_real_features, self.kid.reset_real_features = True, True
        self.fid.reset()
        self.kid.reset()
        self.fid.reset_real_features, self.kid.reset_real_features = False, False
        indices = np.arange(self.reference_count(data))[rank::world]
        for start in range(0, len(indices), self.batch_size):
            self.update(data.images(indices[start : start + self.batch_size], resolution).to(device), real=True)
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(f"{path.name}.partial-{os.getpid()}")
        torch.save({"fid_sum": self.fid.real_features_sum, "fid_cov_sum": self.fid.real_features_cov_sum,
                    "fid_count": self.fid.real_features_num_samples,
                    "kid_features": torch.cat(self.kid.real_features)}, partial)
        os.replace(partial, path)


def generated_batches(module, num_samples: int, batch_size: int = 100, truncation: float | None = None,
                      seed: int = 0, use_ema: bool = True, rank: int = 0, world: int = 1):
    """This rank's share of `num_samples` samples of a GAN as uint8 batches (B, 3, H, W).

    The samples come in chunks of `batch_size`, each seeded by (seed, generator step, chunk start); the ranks take
    interleaved rows of `world` chunks at a time, so the set of samples is the same for any number of ranks."""
    generator = module.generator_ema if use_ema else module.generator
    starts = range(0, num_samples, batch_size)
    for first in range(0, len(starts), world):
        inputs = [module.sample_inputs(min(batch_size, num_samples - start), truncation=truncation,
                                       seed=int(np.random.SeedSequence([seed, module.g_steps, start]).generate_state(1)[0]))
                  for start in starts[first : first + world]]
        z = torch.cat([z for z, _ in inputs])[rank::world]
        labels = None if inputs[0][1] is None else torch.cat([y for _, y in inputs])[rank::world]
        if len(z):
            yield to_uint8(module.generate(z, labels, generator))
