"""The evaluator's metrics: one small class per paper formulation, all called the same way.

Each metric reads what the evaluator collected from the real and the generated set (`SampleSet`) and returns its
values (`compute`) and the settings that reproduce them (`settings`). `build_metrics(names, ...)` makes them from
the names used on the command line: fid, kid, is, prc, prdc, ifid, swd, ms_ssim.
"""
from dataclasses import dataclass

import torch
from torchmetrics.image.inception import InceptionScore as TorchmetricsInceptionScore
from torchmetrics.image.kid import KernelInceptionDistance

from lit_gans.evaluation.feature_set import FeatureSet
from lit_gans.evaluation.precision_recall import density_coverage, precision_recall
from lit_gans.evaluation.sliced_wasserstein import swd


@dataclass
class SampleSet:
    """What the evaluator collected from one set of images, gathered over ranks."""

    features: FeatureSet | None = None  # Inception pool features
    logits: torch.Tensor | None = None  # (N, 1008) Inception logits (generated set, for IS)
    patches: object | None = None  # sliced_wasserstein.PatchSet
    pair_scores: torch.Tensor | None = None  # (P,) MS-SSIM of image pairs


class Precomputed(torch.nn.Module):
    """The identity, standing in for the feature extractor inside torchmetrics' metrics: the evaluator extracts
    features once and feeds them to every metric."""

    def __init__(self, num_features: int):
        super().__init__()
        self.num_features = num_features

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return features


def frechet_distance_of(real: FeatureSet, fake: FeatureSet) -> float:
    """FID between the Gaussians of two sets (float64), by torchmetrics' formula (eigenvalues of S1 S2)."""
    from torchmetrics.image.fid import _compute_fid

    for features in (real, fake):
        if features.count < 2:
            raise ValueError(f"a Frechet distance needs at least 2 images per set, got {features.count}")
    return float(_compute_fid(*real.gaussian(), *fake.gaussian()))


class Metric:
    """The interface: `name`, what it needs collected (`needs`: "features", "all_features", "logits", "patches",
    "pairs"), `compute(real, fake) -> {name: value}` and `settings(real, fake) -> dict`."""

    name = ""
    needs = "features"

    def compute(self, real: SampleSet, fake: SampleSet) -> dict[str, float]:
        raise NotImplementedError

    def settings(self, real: SampleSet, fake: SampleSet) -> dict:
        return {}


class FID(Metric):
    """Frechet Inception distance (Heusel et al. 2017), from running sums: constant memory in N."""

    name, needs = "fid", "features"

    def compute(self, real, fake):
        return {"fid": frechet_distance_of(real.features, fake.features)}

    def settings(self, real, fake):
        return {"num_real": real.features.count, "num_fake": fake.features.count, "precision": "float64"}


class KID(Metric):
    """Kernel Inception distance (Binkowski et al. 2018): cubic polynomial kernel MMD over random subsets."""

    name, needs = "kid", "all_features"

    def __init__(self, subsets: int = 100, subset_size: int = 1000):
        self.subsets, self.subset_size = subsets, subset_size

    def compute(self, real, fake):
        smallest = min(real.features.count, fake.features.count)
        if self.subset_size > smallest:
            raise ValueError(f"KID's subset size {self.subset_size} exceeds the {smallest} images of the smaller set; "
                             "lower kid_subset_size")
        metric = KernelInceptionDistance(feature=Precomputed(len(real.features.sum)), subsets=self.subsets,
                                         subset_size=self.subset_size, sync_on_compute=False)
        metric.update(real.features.features, real=True)
        metric.update(fake.features.features, real=False)
        mean, std = metric.compute()
        return {"kid_mean": float(mean), "kid_std": float(std)}

    def settings(self, real, fake):
        return {"subsets": self.subsets, "subset_size": self.subset_size, "kernel": "polynomial, degree 3",
                "num_real": real.features.count, "num_fake": fake.features.count}


class InceptionScore(Metric):
    """Inception Score (Salimans et al. 2016) of the generated set over `splits` splits."""

    name, needs = "is", "logits"

    def __init__(self, splits: int = 10):
        self.splits = splits

    def compute(self, real, fake):
        metric = TorchmetricsInceptionScore(feature=Precomputed(fake.logits.shape[1]), splits=self.splits,
                                            sync_on_compute=False)
        metric.update(fake.logits)
        mean, std = metric.compute()
        return {"is_mean": float(mean), "is_std": float(std)}

    def settings(self, real, fake):
        return {"splits": self.splits, "num_fake": len(fake.logits)}


class PrecisionRecall(Metric):
    """Improved precision and recall (Kynkaanniemi et al. 2019) on the Inception pool features, as
    torch-fidelity's `prc` with the Inception: k-th neighbour balls, d <= r."""

    name, needs = "prc", "all_features"

    def __init__(self, k: int = 3):
        self.k = k

    def compute(self, real, fake):
        return precision_recall(real.features.features, fake.features.features, self.k)

    def settings(self, real, fake):
        return {"k": self.k, "ball_test": "<=", "num_real": real.features.count, "num_fake": fake.features.count}


class DensityCoverage(Metric):
    """Density and coverage (Naeem et al. 2020) on the Inception pool features: real k-th neighbour balls, d < r."""

    name, needs = "prdc", "all_features"

    def __init__(self, k: int = 5):
        self.k = k

    def compute(self, real, fake):
        return density_coverage(real.features.features, fake.features.features, self.k)

    def settings(self, real, fake):
        return {"k": self.k, "ball_test": "<", "num_real": real.features.count, "num_fake": fake.features.count}


class IntraClassFID(Metric):
    """Intra-class FID: the FID of each class's generated images against that class's reference images, and their
    plain mean over the classes of the reference (as StudioGAN reports it). `per_class` keeps the last values."""

    name, needs = "ifid", "all_features"

    def __init__(self):
        self.per_class: dict[int, float] = {}

    def compute(self, real, fake):
        real_labels, fake_labels = real.features.labels, fake.features.labels
        if (fake_labels < 0).all():
            raise ValueError("ifid needs class-conditional samples; this model draws no classes")
        self.per_class = {}
        for c in real_labels.unique().tolist():
            real_count, fake_count = int((real_labels == c).sum()), int((fake_labels == c).sum())
            if min(real_count, fake_count) < 2:
                raise ValueError(f"ifid needs at least 2 real and 2 generated images of each class; class {c} has "
                                 f"{real_count} real and {fake_count} generated (raise num_real / num_samples)")
            self.per_class[c] = frechet_distance_of(real.features.subset(real_labels == c),
                                                    fake.features.subset(fake_labels == c))
        return {"ifid": sum(self.per_class.values()) / len(self.per_class)}

    def settings(self, real, fake):
        real_counts = torch.bincount(real.features.labels[real.features.labels >= 0])
        fake_counts = torch.bincount(fake.features.labels[fake.features.labels >= 0])
        return {"classes": len(self.per_class), "reduction": "mean over the reference's classes",
                "real_per_class": [int(real_counts[real_counts > 0].min()), int(real_counts.max())],
                "fake_per_class": [int(fake_counts[fake_counts > 0].min()), int(fake_counts.max())],
                "per_class": {str(c): v for c, v in self.per_class.items()}}


class SlicedWasserstein(Metric):
    """ProGAN's sliced Wasserstein distance on Laplacian-pyramid patches, x 10^3 per level and averaged
    (`lit_gans.evaluation.sliced_wasserstein`). `num_images` of each set (16,384 in the paper)."""

    name, needs = "swd", "patches"

    def __init__(self, num_images: int = 16384, patches_per_image: int = 128, patch_size: int = 7,
                 repeats: int = 4, directions: int = 128, seed: int = 0):
        self.num_images, self.patches_per_image, self.patch_size = num_images, patches_per_image, patch_size
        self.repeats, self.directions, self.seed = repeats, directions, seed

    def compute(self, real, fake):
        values = swd(real.patches, fake.patches, self.repeats, self.directions, self.seed)
        return {f"swd_{level}": value for level, value in values.items()}

    def settings(self, real, fake):
        return {"num_images": fake.patches.num_images, "patches_per_image": self.patches_per_image,
                "patch_size": self.patch_size, "directions": f"{self.repeats} x {self.directions}",
                "levels": fake.patches.resolutions, "scale": 1000, "normalisation": "per set and colour channel"}


class MSSSIM(Metric):
    """MS-SSIM diversity of `num_pairs` pairs of generated images, and of as many pairs of reference images
    (`lit_gans.evaluation.ms_ssim`; 10,000 pairs in ProGAN). Lower is more varied."""

    name, needs = "ms_ssim", "pairs"

    def __init__(self, num_pairs: int = 10000, seed: int = 0):
        self.num_pairs, self.seed = num_pairs, seed

    def compute(self, real, fake):
        return {"ms_ssim": fake.pair_scores.mean().item(), "ms_ssim_real": real.pair_scores.mean().item()}

    def settings(self, real, fake):
        return {"num_pairs": len(fake.pair_scores), "num_real_pairs": len(real.pair_scores),
                "pairs": "consecutive generated images; reference pairs from a permutation seeded by "
                         f"{self.seed}", "window": "Gaussian 11, sigma 1.5, shrunk to the image",
                "scales": 5, "max_value": 255}


METRICS = {metric.name: metric for metric in (FID, KID, InceptionScore, PrecisionRecall, DensityCoverage,
                                              IntraClassFID, SlicedWasserstein, MSSSIM)}


def build_metrics(names, kid_subsets: int = 100, kid_subset_size: int = 1000, is_splits: int = 10,
                  prc_k: int = 3, prdc_k: int = 5, swd_images: int = 16384, ms_ssim_pairs: int = 10000,
                  seed: int = 0) -> list[Metric]:
    """Metrics by name, in the order given (each once)."""
    unknown = [name for name in names if name not in METRICS]
    if unknown:
        raise ValueError(f"unknown metric {unknown[0]!r}; choose from {', '.join(METRICS)}")
    options = {"kid": dict(subsets=kid_subsets, subset_size=kid_subset_size), "is": dict(splits=is_splits),
               "prc": dict(k=prc_k), "prdc": dict(k=prdc_k), "swd": dict(num_images=swd_images, seed=seed),
               "ms_ssim": dict(num_pairs=ms_ssim_pairs, seed=seed)}
    return [METRICS[name](**options.get(name, {})) for name in dict.fromkeys(names)]
