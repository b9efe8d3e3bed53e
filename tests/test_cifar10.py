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


class RunsACommand:
    """A pickle payload: loading it calls os.system, which writes a marker file."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        import os

        return os.system, (f"touch {self.marker}",)


@pytest.mark.parametrize("name", [f"data_batch_{i}" for i in range(1, 6)])
def test_a_tampered_batch_is_refused_and_nothing_in_it_runs(cifar_root, tmp_path, name):
    marker = tmp_path / "ran"
    with open(cifar_root / name, "rb") as f:
        batch = pickle.load(f)
    with open(cifar_root / name, "wb") as f:
        pickle.dump({**batch, "labels": RunsACommand(marker)}, f, protocol=2)
    with pytest.raises(ValueError, match=rf"{name} is corrupt .*names (posix|os)\.system.*refused without running it"):
        CIFAR10DataModule(str(cifar_root)).setup("fit")
    assert not marker.exists()
    pickle.loads(pickle.dumps(RunsACommand(marker)))  # the same payload, loaded by pickle itself, does run
    assert marker.exists()


def test_batches_pickled_as_the_official_python_2_files_load(cifar_root):
    """The released batches were written by Python 2 at protocol 2: byte strings for every str, and arrays rebuilt by
    numpy.core.multiarray._reconstruct."""
    reference = CIFAR10DataModule(str(cifar_root), num_workers=0)
    reference.setup("fit")
    for i in range(1, 6):
        path = cifar_root / f"data_batch_{i}"
        with open(path, "rb") as f:
            batch = pickle.load(f)
        payload = pickle.dumps(batch, protocol=2)
        assert b"numpy._core.multiarray\n_reconstruct" in payload
        for key in (b"data", b"labels"):  # Python 2's str: SHORT_BINSTRING, which latin1 decodes to str
            payload = payload.replace(b"X" + len(key).to_bytes(4, "little") + key, b"U" + bytes([len(key)]) + key)
        path.write_bytes(payload.replace(b"numpy._core.multiarray", b"numpy.core.multiarray"))
    dm = CIFAR10DataModule(str(cifar_root), num_workers=0)
    dm.setup("fit")
    assert torch.equal(dm.levels[32], reference.levels[32]) and (dm.labels == reference.labels).all()


def test_the_archive_loads_when_its_checksum_is_the_official_one(cifar_root, tmp_path, monkeypatch):
    import tarfile

    from datamodules import cifar10

    archive = tmp_path / "cifar-10-python.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(cifar_root, arcname="cifar-10-batches-py")
    with pytest.raises(ValueError, match=f"not the official cifar-10-python.tar.gz: its MD5 is {cifar10.md5(archive)}"):
        CIFAR10DataModule(str(archive)).setup("fit")
    monkeypatch.setattr(cifar10, "ARCHIVE_MD5", cifar10.md5(archive))  # this archive stands in for the official one
    folder, packed = CIFAR10DataModule(str(cifar_root), num_workers=0), CIFAR10DataModule(str(archive), num_workers=0)
    folder.setup("fit"), packed.setup("fit")
    assert torch.equal(packed.levels[32], folder.levels[32]) and (packed.labels == folder.labels).all()
    assert not packed.has_held_out  # the fixture has no test_batch
    archive.rename(cifar_root.parent / "cifar-10-python.tar.gz")
    import shutil

    shutil.rmtree(cifar_root)
    parent = CIFAR10DataModule(str(tmp_path), num_workers=0)  # a folder holding the archive
    parent.setup("fit")
    assert torch.equal(parent.levels[32], folder.levels[32])


FORGED = '''
import pickle, struct, sys
import numpy as np
from numpy._core.multiarray import _reconstruct


class ForgedDtype:  # an object dtype whose state says its items need no pickling: numpy would read bytes as pointers
    def __reduce__(self):
        return np.dtype, (sys.argv[2], False, True), (3, "|", None, None, None, -1, -1, int(sys.argv[3]))


class PointerArray:
    def __reduce__(self):
        return _reconstruct, (np.ndarray, (0,), b"b"), (1, (4,), ForgedDtype(), False, struct.pack("<Q", 0x41) * 4)


with open(sys.argv[1], "wb") as f:
    pickle.dump({"data": np.zeros((4, 3072), np.uint8), "labels": PointerArray()}, f, protocol=2)
'''


@pytest.mark.parametrize("dtype, flags", [("O8", 0), ("O8", 63), ("u8", 63), ("V8", 0)])
def test_a_batch_whose_arrays_forge_their_dtype_is_refused(cifar_root, tmp_path, dtype, flags):
    """A dtype built by the pickle with a forged state (flags), or of a type no batch holds, is refused before numpy
    builds an array from it (an object array made of the file's bytes dereferences them: a crash or worse)."""
    import subprocess
    import sys

    from conftest import ROOT

    script = tmp_path / "forge.py"
    script.write_text(FORGED)
    subprocess.run([sys.executable, str(script), str(cifar_root / "data_batch_2"), dtype, str(flags)], check=True)
    check = ("from datamodules import CIFAR10DataModule\n"
             f"try:\n    CIFAR10DataModule({str(cifar_root)!r}, num_workers=0).setup('fit')\n"
             "except ValueError as error:\n    print(error)\n")
    done = subprocess.run([sys.executable, "-c", check], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]  # no crash
    assert "data_batch_2 is corrupt" in done.stdout and "never holds" in done.stdout
