"""The train / held-out test of D (BigGAN paper, Sec. 4.2) and the held-out splits behind it."""
import pickle

import numpy as np
import pytest
import torch

from callbacks import DiscriminatorMemorization, StopAt
from conftest import digits, make_trainer
from datamodules import CIFAR10DataModule, ImageFolderDataModule
from lit_gans import ProGAN, SAGAN


def test_digits_expose_their_held_out_split_through_the_public_interface():
    dm = digits()
    assert dm.has_held_out and dm.split_size("held_out") == 360 and dm.num_images == 1437
    images = dm.images([0, 5], split="held_out")
    assert images.dtype == torch.uint8 and images.shape == (2, 3, 16, 16)
    expected = ((dm.held_out_images[[0, 5]] + 1) * 127.5).round().to(torch.uint8)
    assert torch.equal(images, expected)
    assert torch.equal(dm.image_labels([0, 5], split="held_out"), dm.held_out_labels[[0, 5]])
    assert dm.images([1], resolution=8, split="held_out").shape == (1, 3, 8, 8)
    with pytest.raises(ValueError, match="unknown split 'test'"):
        dm.images([0], split="test")


def test_cifar10_test_batch_is_the_held_out_split(tmp_path):
    root = tmp_path / "cifar-10-batches-py"
    root.mkdir()
    rng = np.random.default_rng(0)
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        batch = {"data": rng.integers(0, 256, (3, 3072), dtype=np.uint8), "labels": [1, 2, 3]}
        with open(root / name, "wb") as f:
            pickle.dump(batch, f)
    dm = CIFAR10DataModule(str(root), num_workers=0)
    assert dm.has_held_out and dm.split_size("held_out") == 3 and dm.num_images == 15
    assert torch.equal(dm.images([2], split="held_out")[0].flatten(), torch.from_numpy(batch["data"][2]))
    (root / "test_batch").unlink()
    assert not CIFAR10DataModule(str(root), num_workers=0).has_held_out
    with pytest.raises(ValueError, match="has no held-out split"):
        CIFAR10DataModule(str(root), num_workers=0).images([0], split="held_out")


def test_logged_fractions_match_an_independent_computation(tiny_sagan_kwargs):
    probe = DiscriminatorMemorization(every_n_g_steps=2, num_images=50)
    model, data = SAGAN(**tiny_sagan_kwargs), digits()
    trainer = make_trainer(probe, StopAt(g_steps=4))
    trainer.fit(model, data)
    assert [row["g_step"] for row in probe.history] == [2, 4]
    last = probe.history[-1]
    assert trainer.callback_metrics["memorization/gap"] == pytest.approx(last["memorization/gap"])
    D = model.discriminator.eval()
    with torch.no_grad():
        for split in ("train", "held_out"):
            indices = np.unique(np.linspace(0, data.split_size(split) - 1, 50).round().astype(np.int64))
            x = data.images(indices, split=split).float() / 127.5 - 1
            logits = D(x, data.image_labels(indices, split=split))
            assert last[f"memorization/{split}_real_frac"] == pytest.approx(float((logits > 0).float().mean()))
            assert last[f"memorization/{split}_logit"] == pytest.approx(float(logits.mean()), rel=1e-5)
            if split == "train":
                assert last["memorization/r_t"] == pytest.approx(float(logits.sign().mean()))
    assert last["memorization/gap"] == pytest.approx(last["memorization/train_real_frac"]
                                                     - last["memorization/held_out_real_frac"])
    assert 0 <= last["memorization/fake_real_frac"] <= 1


def test_the_probe_changes_nothing_in_training(tiny_sagan_kwargs):
    states = []
    for callbacks in ([], [DiscriminatorMemorization(every_n_g_steps=1, num_images=32)]):
        torch.manual_seed(0)
        model = SAGAN(**tiny_sagan_kwargs)
        make_trainer(*callbacks, StopAt(g_steps=3)).fit(model, digits())
        states.append(model.state_dict())
    for name, value in states[0].items():
        assert torch.equal(value, states[1][name]), name


def test_without_a_held_out_split_only_the_training_side_is_logged(tmp_path):
    from PIL import Image

    root = tmp_path / "images"
    root.mkdir()
    rng = np.random.default_rng(0)
    for i in range(8):
        Image.fromarray(rng.integers(0, 256, (8, 8, 3), dtype=np.uint8)).save(root / f"{i}.png")
    data = ImageFolderDataModule(str(root), resolution=8, batch_size=4, num_workers=0, cache_dir=str(tmp_path / "c"))
    probe = DiscriminatorMemorization(every_n_g_steps=1, num_images=4)
    model = ProGAN(resolution=8, z_dim=16, fmap_base=64, fmap_max=16)
    model.set_stage(8)
    with pytest.warns(UserWarning, match="has no held-out split; logging the training side only"):
        make_trainer(probe, StopAt(g_steps=1)).fit(model, data)
    keys = set(probe.history[0])
    assert "memorization/train_real_frac" in keys and "memorization/r_t" in keys
    assert not any("held_out" in k or "gap" in k for k in keys)


def test_imagenet_validation_folder_is_the_held_out_split(tmp_path):
    from PIL import Image

    rng = np.random.default_rng(0)
    for split, count in (("train", 3), ("val", 2)):
        for wnid in ("n01", "n02"):
            (tmp_path / split / wnid).mkdir(parents=True)
            for i in range(count):
                Image.fromarray(rng.integers(0, 256, (12, 12, 3), dtype=np.uint8)).save(
                    tmp_path / split / wnid / f"{i}.png")
    from datamodules import ImageNetDataModule

    dm = ImageNetDataModule(str(tmp_path / "train"), resolution=8, num_workers=0, cache_dir=str(tmp_path / "c"),
                            val_root=str(tmp_path / "val"))
    assert dm.has_held_out and (dm.num_images, dm.split_size("held_out")) == (6, 4)
    assert dm.image_labels(range(4), split="held_out").tolist() == [0, 0, 1, 1]
    assert not ImageNetDataModule(str(tmp_path / "train"), resolution=8, num_workers=0,
                                  cache_dir=str(tmp_path / "c")).has_held_out
    (tmp_path / "val" / "n03").mkdir()  # a class the training set lacks is ignored
    Image.fromarray(rng.integers(0, 256, (12, 12, 3), dtype=np.uint8)).save(tmp_path / "val" / "n03" / "0.png")
    dm = ImageNetDataModule(str(tmp_path / "train"), resolution=8, num_workers=0, cache_dir=str(tmp_path / "c"),
                            val_root=str(tmp_path / "val"))
    assert dm.split_size("held_out") == 4
    for path in (tmp_path / "val" / "n02").iterdir():
        path.unlink()
    with pytest.raises(FileNotFoundError, match=r"classes \['n02'\] have no images"):
        ImageNetDataModule(str(tmp_path / "train"), resolution=8, num_workers=0, cache_dir=str(tmp_path / "c"),
                           val_root=str(tmp_path / "val")).has_held_out
    assert ImageNetDataModule.declared_classes(root=str(tmp_path / "train")) == 2
    assert ImageNetDataModule.declared_classes(root=str(tmp_path / "nowhere")) == 1000
