"""Small and odd folders of images through the default recipe, as a user with their own data meets it: each one
either trains to the end (every monitor working, exit status 0) or stops before training with one clear line."""
import os
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from callbacks import MonitorWarning
from lit_gans.cli import console


def image_folder(root: Path, count: int, classes: int = 0) -> Path:
    """`count` PNGs of varied sizes and aspect ratios, spread over `classes` subfolders (0: all in `root`)."""
    rng = np.random.default_rng(count)
    for i in range(count):
        folder = root / f"class_{i % classes}" if classes else root
        folder.mkdir(parents=True, exist_ok=True)
        Image.fromarray(rng.integers(0, 256, (20 + i % 7, 24 + i % 5, 3), dtype=np.uint8)).save(folder / f"{i:03d}.png")
    return root


def lit_gans(monkeypatch, capsys, *args: str) -> tuple[int, str, list[str]]:
    """Run the `lit-gans` console script in this process: (exit status, stderr, the warnings it raised)."""
    monkeypatch.setattr(sys, "argv", ["lit-gans", *args])
    capsys.readouterr()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            console()
            status = 0
        except SystemExit as exit_info:
            status = exit_info.code
    return status, capsys.readouterr().err, [f"{w.category.__name__}: {w.message}" for w in caught]


# count, class folders (0: unlabelled), resolution, batch size (None: the recipe's 64), the error it stops with
BATTERY = [
    (1, 0, 16, 1, None),
    (1, 1, 16, 1, None),
    (3, 1, 16, 3, None),  # one class folder
    (17, 2, 64, 16, None),
    (17, 0, 64, 16, None),
    (53, 0, 16, 16, None),
    (63, 2, 16, 16, None),
    (63, 0, 16, 16, None),
    (17, 2, 8, 16, "SAGAN supports resolutions (16, 32, 64, 128, 256, 512), got 8"),
    (3, 0, 16, None, "3 images cannot fill one batch of 64; set data.batch_size to at most 3"),
]


@pytest.mark.parametrize("count, classes, resolution, batch_size, error", BATTERY,
                         ids=[f"{c}img-{k}cls-{r}px-batch{b}" for c, k, r, b, _ in BATTERY])
def test_odd_datasets_train_through_the_default_recipe_or_stop_before_training_with_one_line(
        count, classes, resolution, batch_size, error, tmp_path, monkeypatch, capsys):
    root = image_folder(tmp_path / "photos", count, classes)
    args = ["fit", "--data", "datamodules.ImageFolderDataModule", f"--data.root={root}",
            f"--data.labelled={bool(classes)}", f"--data.resolution={resolution}", "--trainer.max_steps=4",
            "--trainer.enable_progress_bar=false"] + ([f"--data.batch_size={batch_size}"] if batch_size else [])
    status, stderr, raised = lit_gans(monkeypatch, capsys, *args)
    checkpoints = list((tmp_path / "runs").rglob("last.ckpt"))
    if error is None:
        assert status == 0, stderr[-3000:]
        assert not [w for w in raised if w.startswith(MonitorWarning.__name__)]  # every monitor worked
        assert len(checkpoints) == 1
        saved = torch.load(checkpoints[0], weights_only=True)
        assert saved["lit_gans"]["g_steps"] == 2 and saved["hyper_parameters"]["num_classes"] == classes
        assert sorted(p.name for p in checkpoints[0].parents[1].glob("samples/*.png")) == ["last.png"]
    else:
        assert status == 1
        assert stderr == f"lit-gans: error: {error}\n(set LIT_GANS_DEBUG=1 for the traceback)\n"
        assert not checkpoints  # stopped before training


@pytest.mark.timeout(300)
def test_a_small_folder_with_odd_and_unreadable_files_trains_to_a_clean_exit(tmp_path):
    """The folder and the command of a new user: 48 RGB JPEGs in two classes, 5 images in odd formats and 3
    files that do not decode. The end-of-run probe scores all 53 images, a count D's groups of 4 do not divide."""
    rng = np.random.default_rng(0)
    root = tmp_path / "my_images"
    for i in range(48):
        (root / f"class_{i % 2}").mkdir(parents=True, exist_ok=True)
        Image.fromarray(rng.integers(0, 256, (40, 56, 3), dtype=np.uint8)).save(root / f"class_{i % 2}" / f"{i}.jpg")
    odd = root / "class_0"
    Image.fromarray(rng.integers(0, 256, (40, 40, 3), dtype=np.uint8)).convert("CMYK").save(odd / "cmyk.jpg")
    Image.fromarray(rng.integers(0, 65536, (40, 40), dtype=np.uint16)).save(odd / "sixteen_bit.png")
    Image.fromarray(rng.integers(0, 256, (40, 40, 4), dtype=np.uint8), "RGBA").save(odd / "rgba.png")
    Image.fromarray(rng.integers(0, 256, (40, 40, 3), dtype=np.uint8)).convert("P").save(odd / "palette.png")
    Image.fromarray(rng.integers(0, 256, (40, 40), dtype=np.uint8)).save(odd / "grey.png")
    (root / "class_1" / "not_an_image.jpg").write_bytes(b"not an image")
    (root / "class_1" / "empty.png").write_bytes(b"")
    (root / "class_1" / "truncated.jpg").write_bytes((root / "class_1" / "1.jpg").read_bytes()[:300])

    command = [sys.executable, "-m", "lit_gans", "fit", "--data", "datamodules.ImageFolderDataModule", "--data.root",
               str(root), "--data.resolution", "32", "--data.batch_size", "16", "--trainer.max_steps", "8"]
    env = {**os.environ, "WANDB_MODE": "disabled", "LIT_GANS_CACHE": str(tmp_path / "cache")}
    done = subprocess.run(command, capture_output=True, text=True, timeout=300, cwd=tmp_path, env=env)
    output = done.stdout + done.stderr
    assert done.returncode == 0, output[-3000:]
    assert "53 images; skipped 3 unreadable files, listed in" in output
    assert "switched off" not in output and "Traceback" not in output
    saved = torch.load(next((tmp_path / "runs").rglob("last.ckpt")), weights_only=True)
    assert saved["lit_gans"]["g_steps"] == 4
