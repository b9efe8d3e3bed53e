"""Files a user points lit-gans at never run code: every pickle-based format is read with an allow-list (CIFAR-10,
tests/test_cifar10.py) or torch's weights-only loader, including where a dependency would load it unsafely."""
import pickle

import pytest
import torch


class RunsACommand:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        import os

        return os.system, (f"touch {self.marker}",)


def test_tampered_inception_weights_are_refused_and_nothing_runs(tmp_path, monkeypatch):
    """torch-fidelity and torchmetrics load the InceptionV3 file with weights_only=False."""
    from lit_gans.evaluation.inception import inception_features

    marker, weights = tmp_path / "ran", tmp_path / "weights-inception-2015-12-05-6726825d.pth"
    torch.save({"Conv2d_1a_3x3.conv.weight": RunsACommand(marker)}, weights)
    monkeypatch.setenv("LIT_GANS_INCEPTION_WEIGHTS", str(weights))
    with pytest.raises(ValueError, match=f"{weights} is not a PyTorch weights file"):
        inception_features()
    assert not marker.exists()
    with pytest.raises(ValueError, match=f"{weights} is not a PyTorch weights file"):
        inception_features(str(weights))
    assert not marker.exists()
    torch.load(weights, weights_only=False)  # the loader those libraries use does run it
    assert marker.exists()


def test_a_tampered_checkpoint_is_refused_by_every_command(tmp_path, monkeypatch, capsys):
    from test_odd_datasets import lit_gans

    marker, checkpoint = tmp_path / "ran", tmp_path / "last.ckpt"
    torch.save({"state_dict": {}, "lit_gans": RunsACommand(marker)}, checkpoint)
    for command in ("fit", "sample", "describe", "evaluate"):
        status, stderr, _ = lit_gans(monkeypatch, capsys, command, f"--ckpt_path={checkpoint}")
        assert status == 1 and f"checkpoint {checkpoint} cannot be read" in stderr, (command, stderr[-1000:])
    assert not marker.exists()
