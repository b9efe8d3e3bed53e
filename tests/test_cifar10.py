import pickle

import numpy as np
import pytest
import torch

from datamodules import CIFAR10DataModule


@pytest.fixture
def cifar_root(tmp_path):
    """The extracted cifar-10-python layout: pickled dicts with uint8 rows of 3072 values (R, G, B planes)."""
    root = tmp_path / "cifar-10-batches-py"
    root.mkdir()
    rng = np.random.default_rng(0)
    for i in range(1, 6):
        batch = {"batch_label": f"training batch {i} of 5",
                 "data": rng.integers(0, 256, (4, 3072), dtype=np.uint8),
                 "labels": [int(v) for v in rng.integers(0, 10, 4)],
                 "filenames": [f"img{i}_{j}.png" for j in range(4)]}
        with open(root / f"data_batch_{i}", "wb") as f:
            pickle.dump(batch, f)
    return root


def test_cifar10_serves_the_pickled_training_batches(cifar_root):
    dm = CIFAR10DataModule(str(cifar_root), batch_size=5, num_workers=0)
    dm.setup("fit")
    assert len(dm.labels) == 20
    with open(cifar_root / "data_batch_2", "rb") as f:
        batch = pickle.load(f)
    image, label = dm.levels[32][4], dm.labels[4]  # first image of batch 2
    assert torch.equal(image, torch.from_numpy(batch["data"][0].reshape(3, 32, 32))) and label == batch["labels"][0]
    images, labels = dm.on_after_batch_transfer(next(iter(dm.train_dataloader())))
    assert images.shape == (5, 3, 32, 32) and images.min() >= -1 and images.max() <= 1


def test_cifar10_errors_name_the_missing_or_corrupt_file(cifar_root):
    (cifar_root / "data_batch_3").unlink()
    with pytest.raises(FileNotFoundError, match="data_batch_3 is missing"):
        CIFAR10DataModule(str(cifar_root)).setup("fit")
    (cifar_root / "data_batch_3").write_bytes(b"not a pickle")
    with pytest.raises(ValueError, match="data_batch_3 is corrupt"):
        CIFAR10DataModule(str(cifar_root)).setup("fit")
    with pytest.raises(ValueError, match="resolution must be 32"):
        CIFAR10DataModule(str(cifar_root), resolution=64)


def test_biggan_cifar_recipe_trains_a_few_steps(cifar_root):
    from conftest import make_trainer
    from callbacks import StopAt
    from lit_gans import BigGAN

    model = BigGAN(resolution=32, z_dim=16, ch=8, num_classes=10, shared_dim=0, hier=False, attn_res=0, init="N02",
                   n_dis=4, lr_g=2e-4, lr_d=2e-4, ortho_reg=0.0)
    make_trainer(StopAt(g_steps=1)).fit(model, CIFAR10DataModule(str(cifar_root), batch_size=4, num_workers=0))
    assert model.g_steps == 1 and model.d_steps == 4
