"""The evaluator: every image metric of lit-gans, for training (`callbacks.ImageMetrics` schedules it) and the
command line (`lit-gans evaluate`):

    evaluator = Evaluator(num_real=10_000, metrics=["fid", "kid", "prc"])
    values = evaluator.score(generated_batches(model, 10_000), datamodule, resolution=128)

Metrics (`lit_gans.evaluation.metrics`): fid, kid, is (Heusel et al. 2017; Binkowski et al. 2018; Salimans et al.
2016, through torchmetrics), prc (improved precision and recall, k = 3), prdc (density and coverage, k = 5), ifid
(intra-class FID), swd (ProGAN's sliced Wasserstein distance) and ms_ssim (MS-SSIM diversity).

Protocol of published numbers: the TF FID Inception (`lit_gans.evaluation.inception`, found offline), the
TF1-compatible resize, uint8 images rounded from [-1, 1]. The reference is the DataModule's first `num_real`
uint8 training images, read through its public interface (`images`, `image_labels`, `num_images`,
`fingerprint`). Their Inception features and labels are extracted once and saved under `stats_dir` (default
<lit-gans cache>/real-stats), keyed by the data's fingerprint, the resolution, the number of images, the feature
extractor and the rank layout, and reused by later runs; the reference patches of SWD and pairs of MS-SSIM are
read from the images when those metrics are asked for.

Memory: generated features are kept (float32, 8 KiB per image) only when kid, prc, prdc or ifid is asked for;
FID alone keeps float64 sums (constant in N). The reference features are always kept. Nearest neighbours are
computed in 4096 x 4096 blocks. Under DDP every rank feeds its share of reals and fakes; sums are reduced and
kept features gathered, so the values equal one process (MS-SSIM pairs consecutive images of each rank's
batches: other pairs than one process, from the same distribution).
"""
import os
from pathlib import Path

import numpy as np
import torch

from lit_gans.cache import default_cache_dir, fingerprint
from lit_gans.evaluation.feature_set import FeatureSet, gather_rows
from lit_gans.evaluation.metrics import SampleSet, build_metrics
from lit_gans.evaluation.ms_ssim import pair_scores
from lit_gans.evaluation.sliced_wasserstein import PatchSet
from lit_gans.images import to_uint8

DEFAULT_METRICS = ("fid", "kid")
REFERENCE_FORMAT = 2  # version of the saved reference features (2: features and labels)


class Evaluator:
    """Scores uint8 image batches (B, 3, H, W), or (images, labels) pairs, against reference images.

    Args:
        num_real: reference images (the first `num_real` training images, or all if fewer).
        batch_size: images per Inception batch for the reference images.
        kid_subsets, kid_subset_size: KID's subsets (the subset size must not exceed the number of fakes scored).
        inception_weights: FID Inception weights file (default: found offline, see README "FID weights offline").
        inception_score: also compute the Inception Score (the metric "is"; needs the classifier head).
        stats_dir: where reference features are cached.
        extractor: the feature extractor uint8 images -> (B, F) features (default: the FID Inception, 2048-d);
            tests use small stand-ins.
        metrics: names of the metrics to compute (default fid and kid): fid, kid, is, prc, prdc, ifid, swd, ms_ssim.
        prc_k, prdc_k: neighbourhood sizes of precision/recall (3) and density/coverage (5).
        swd_images: images per set for SWD (16,384 in ProGAN; at most the number scored).
        ms_ssim_pairs: pairs of generated (and of reference) images for MS-SSIM (10,000 in ProGAN).
        seed: seeds SWD's patches and directions and MS-SSIM's reference pairs.
    """

    def __init__(self, num_real: int = 10000, batch_size: int = 100, kid_subsets: int = 100,
                 kid_subset_size: int = 1000, inception_weights: str | None = None, inception_score: bool = False,
                 stats_dir: str | None = None, extractor: torch.nn.Module | None = None,
                 metrics: list[str] | tuple[str, ...] | None = None, prc_k: int = 3, prdc_k: int = 5,
                 swd_images: int = 16384, ms_ssim_pairs: int = 10000, seed: int = 0):
        if num_real < 2:
            raise ValueError(f"num_real must be at least 2, got {num_real}")
        names = list(metrics or DEFAULT_METRICS) + (["is"] if inception_score else [])
        self.metrics = build_metrics(names, kid_subsets, kid_subset_size, prc_k=prc_k, prdc_k=prdc_k,
                                     swd_images=swd_images, ms_ssim_pairs=ms_ssim_pairs, seed=seed)
        self.needs = {metric.needs for metric in self.metrics}
        self.num_real, self.batch_size, self.seed = num_real, batch_size, seed
        self.swd_images, self.ms_ssim_pairs = swd_images, ms_ssim_pairs
        self.inception_weights = inception_weights
        self.with_inception_score = "is" in names
        self.stats_dir = Path(stats_dir).expanduser() if stats_dir else default_cache_dir() / "real-stats"
        self.extractor, self.extractor_identity = extractor, None
        self.logits_extractor: torch.nn.Module | None = None
        self.num_features: int | None = None
        self.real: FeatureSet | None = None
        self.reference_key = None  # which reference `self.real` holds
        self.real_image_sets: dict = {}  # reference patches and pair scores, by (reference key, count)
        self.last: dict = {}  # the settings of the last scoring, by metric name
        self.produced: dict = {}  # the value names each metric gave in the last scoring

    @property
    def metric_names(self) -> list[str]:
        return [metric.name for metric in self.metrics]

    def metric(self, name: str):
        return next(metric for metric in self.metrics if metric.name == name)

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
        if self.num_features is None:  # one probe image: a broken extractor fails here, before any training
            with torch.no_grad():
                self.num_features = self.extractor(torch.zeros(1, 3, 8, 8, dtype=torch.uint8)).shape[-1]

    @torch.no_grad()
    def score(self, fake_batches, data, resolution: int | None = None, rank: int = 0, world: int = 1,
              device: torch.device | str = "cpu") -> dict[str, float]:
        """{"metrics/<value>": value} of this rank's uint8 fake batches (or (images, labels) pairs) against `data`'s
        reference images at `resolution` (default: the data's); all ranks call it together under DDP."""
        self.prepare()
        resolution = resolution or data.resolution
        self.extractor.to(device)
        if self.logits_extractor is not None:
            self.logits_extractor.to(device)
        key = (data.fingerprint(), resolution, rank, world)
        if self.reference_key != key:
            self.real = self.reference_features(data, resolution, rank, world, device)
            self.reference_key = key
        fake = self.collect(fake_batches, resolution, world, device)
        real = self.reference_images(data, resolution, rank, world, device, fake)
        real.features = self.real.gathered()
        values, self.last, self.produced = {}, {}, {}
        for metric in self.metrics:
            produced = metric.compute(real, fake)
            values.update(produced)
            self.produced[metric.name] = list(produced)
            self.last[metric.name] = metric.settings(real, fake)
        return {f"metrics/{name}": value for name, value in values.items()}

    def collect(self, batches, resolution: int, world: int, device) -> SampleSet:
        """Features, logits, patches and pair scores of this rank's generated batches, gathered over ranks."""
        features = FeatureSet(keep="all_features" in self.needs)
        logits, scores, num_pairs = [], [], 0
        patches = PatchSet(resolution, seed=self.seed + 1) if "patches" in self.needs else None
        patch_limit, pair_limit = -(-self.swd_images // world), -(-self.ms_ssim_pairs // world)
        for batch in batches:
            images, labels = batch if isinstance(batch, tuple) else (batch, None)
            images = images.to(device)
            self.update(images, labels, features)
            if self.logits_extractor is not None:
                logits.append(self.logits_extractor(images))
            if patches is not None and patches.num_images < patch_limit:
                patches.add(images[: patch_limit - patches.num_images].cpu())
            if "pairs" in self.needs and num_pairs < pair_limit:
                scores.append(pair_scores(images)[: pair_limit - num_pairs])
                num_pairs += len(scores[-1])
        gathered = features.gathered()
        fake = SampleSet(features=gathered)
        if logits:
            fake.logits = gather_rows(torch.cat(logits))
        if patches is not None:
            fake.patches = patches.gathered(self.swd_images)
        if "pairs" in self.needs:
            fake.pair_scores = gather_rows(torch.cat(scores))[: self.ms_ssim_pairs]
        return fake

    def update(self, images: torch.Tensor, labels: torch.Tensor | None, features: FeatureSet) -> None:
        """Extract features of uint8 images (B, 3, H, W) once and add them to the set."""
        features.add(self.extractor(images), labels)

    def reference_count(self, data) -> int:
        return min(self.num_real, data.num_images)

    def stats_path(self, data, resolution: int, rank: int, world: int) -> Path:
        extractor = self.extractor_identity or type(self.extractor).__qualname__
        key = fingerprint(data.fingerprint(), resolution, self.num_real, extractor, rank, world, REFERENCE_FORMAT)
        return self.stats_dir / f"real-{resolution}px-{key}.pt"

    def reference_features(self, data, resolution: int, rank: int, world: int, device) -> FeatureSet:
        """This rank's share of the reference features and labels, from the cache or extracted (then saved)."""
        path = self.stats_path(data, resolution, rank, world)
        if path.is_file():
            return FeatureSet.from_state_dict(torch.load(path, map_location=device, weights_only=True), device)
        real = FeatureSet(keep=True)
        indices = np.arange(self.reference_count(data))[rank::world]
        for start in range(0, len(indices), self.batch_size):
            chunk = indices[start : start + self.batch_size]
            self.update(data.images(chunk, resolution).to(device), data.image_labels(chunk), real)
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(f"{path.name}.partial-{os.getpid()}")
        torch.save(real.state_dict(), partial)
        os.replace(partial, path)
        return real

    def reference_images(self, data, resolution: int, rank: int, world: int, device, fake: SampleSet) -> SampleSet:
        """SWD's reference patches (as many images as `fake` has) and MS-SSIM's reference pair scores."""
        real = SampleSet()
        if fake.patches is not None:
            count = min(fake.patches.num_images, self.reference_count(data))
            if count < fake.patches.num_images:
                fake.patches = fake.patches.gathered(count)
            cache_key = ("patches", self.reference_key, count)
            if cache_key not in self.real_image_sets:
                patches = PatchSet(resolution, seed=self.seed + 1)
                indices = np.arange(count)[rank::world]
                for start in range(0, len(indices), self.batch_size):
                    patches.add(data.images(indices[start : start + self.batch_size], resolution))
                self.real_image_sets[cache_key] = patches.gathered(count)
            real.patches = self.real_image_sets[cache_key]
        if fake.pair_scores is not None:
            count = min(len(fake.pair_scores), self.reference_count(data) // 2)
            cache_key = ("pairs", self.reference_key, count)
            if cache_key not in self.real_image_sets:
                order = np.random.default_rng(self.seed).permutation(self.reference_count(data))[: 2 * count]
                pairs = order.reshape(-1, 2)[rank::world]
                scores = []
                for start in range(0, len(pairs), self.batch_size):
                    chunk = pairs[start : start + self.batch_size].reshape(-1)
                    scores.append(pair_scores(read_images(data, chunk, resolution).to(device)))
                self.real_image_sets[cache_key] = gather_rows(torch.cat(scores))
            real.pair_scores = self.real_image_sets[cache_key]
        return real


def read_images(data, indices: np.ndarray, resolution: int) -> torch.Tensor:
    """data.images at `indices` in the order given, read in ascending order (the fastest for every store)."""
    order = np.argsort(indices, kind="stable")
    images = data.images(indices[order], resolution)
    restored = torch.empty_like(images)
    restored[torch.as_tensor(order)] = images
    return restored


def generated_batches(module, num_samples: int, batch_size: int = 100, truncation: float | None = None,
                      seed: int = 0, use_ema: bool = True, rank: int = 0, world: int = 1):
    """This rank's share of `num_samples` samples of a GAN as (uint8 images (B, 3, H, W), labels (B,) or None).

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
            yield to_uint8(module.generate(z, labels, generator, truncation=truncation)), labels
