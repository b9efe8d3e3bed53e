"""File-backed datasets in their real on-disk formats: JPEG folders with bad files, the CelebA layout and LSUN
lmdb; the multi-resolution cache, fade-in serving and a few training steps on each."""
import io
import json
import os

import numpy as np
import pytest
import torch
from PIL import Image

from callbacks import StopAt
from conftest import make_trainer
from datamodules import CelebADataModule, ImageFolderDataModule, ImageNetDataModule, LSUNDataModule
from datamodules.batch_stream import BatchKey
from datamodules.image_cache import ImageCache, build_image_cache
from datamodules.pyramid import box_downsample
from lit_gans import SAGAN


def random_image(rng, width, height, mode="RGB"):
    array = rng.integers(0, 256, (height, width, 3), dtype=np.uint8)
    image = Image.fromarray(array)
    return image if mode == "RGB" else image.convert(mode)


def jpeg_bytes(image, fmt="JPEG"):
    buffer = io.BytesIO()
    image.save(buffer, fmt)
    return buffer.getvalue()


@pytest.fixture
def image_folder(tmp_path):
    """Two classes of JPEG/PNG files in assorted sizes and modes, plus three unreadable files."""
    rng = np.random.default_rng(0)
    root = tmp_path / "train"
    for wnid, count in (("n01", 5), ("n02", 4)):
        (root / wnid).mkdir(parents=True)
        for i in range(count):
            random_image(rng, 40 + 3 * i, 30 + 2 * i).save(root / wnid / f"{wnid}_{i}.JPEG", quality=95)
    random_image(rng, 24, 24, "L").save(root / "n01" / "gray.png")
    random_image(rng, 24, 20, "CMYK").save(root / "n01" / "cmyk.jpg")
    random_image(rng, 20, 24, "RGBA").save(root / "n02" / "rgba.png")
    random_image(rng, 24, 24, "P").save(root / "n02" / "palette.png")
    Image.fromarray(rng.integers(0, 65536, (24, 24), dtype=np.uint16)).save(root / "n02" / "sixteen.png")
    (root / "n01" / "empty.jpg").write_bytes(b"")
    (root / "n01" / "truncated.JPEG").write_bytes(jpeg_bytes(random_image(rng, 32, 32))[:200])
    (root / "n02" / "notes.jpg").write_text("not an image")
    return root


@pytest.fixture
def celeba_root(tmp_path):
    rng = np.random.default_rng(1)
    root = tmp_path / "celeba"
    (root / "img_align_celeba").mkdir(parents=True)
    names = [f"{i:06d}.jpg" for i in range(1, 9)]
    for name in names:
        random_image(rng, 178, 218).save(root / "img_align_celeba" / name, quality=95)
    (root / "list_eval_partition.txt").write_text("".join(f"{n} {0 if i < 5 else 1 if i < 7 else 2}\n" for i, n in enumerate(names)))
    header = "5_o_Clock_Shadow Smiling Young"
    rows = "".join(f"{n} -1 {1 if i % 2 else -1} 1\n" for i, n in enumerate(names))
    (root / "list_attr_celeba.txt").write_text(f"{len(names)}\n{header}\n{rows}")
    return root


@pytest.fixture
def lsun_root(tmp_path):
    """Two categories written with the lmdb package, as LSUN ships them (key: hex id, value: encoded image)."""
    import lmdb

    rng = np.random.default_rng(2)
    root = tmp_path / "lsun"
    root.mkdir()
    for category, count in (("bedroom", 6), ("tower", 4)):
        env = lmdb.open(str(root / f"{category}_train_lmdb"), map_size=1 << 24)
        with env.begin(write=True) as txn:
            for i in range(count):
                value = jpeg_bytes(random_image(rng, 48 + i, 36)) if i != 2 else b"corrupt record"
                txn.put(f"{category[0]}{i:039x}".encode(), value)
        env.close()
    return root


def fit_steps(datamodule, resolution, num_classes, g_steps=2):
    model = SAGAN(resolution=resolution, z_dim=16, ch=8, num_classes=num_classes, attn_res=resolution // 2)
    make_trainer(StopAt(g_steps=g_steps)).fit(model, datamodule)
    assert model.g_steps == g_steps
    return model


def test_image_folder_cache_skips_bad_files_and_converts_modes(image_folder, tmp_path):
    dm = ImageNetDataModule(str(image_folder), resolution=16, batch_size=4, num_workers=0, cache_dir=str(tmp_path / "c"))
    dm.prepare_data()
    dm.setup("fit")
    cache = dm.cache
    assert len(cache) == 9 + 5 and cache.classes == ["n01", "n02"] and dm.num_classes == 2
    assert sorted(np.bincount(cache.labels).tolist()) == [7, 7]
    skipped = (cache.folder / "skipped.txt").read_text().splitlines()
    assert sorted(line.split("\t")[0].rsplit("/", 1)[1] for line in skipped) == ["empty.jpg", "notes.jpg", "truncated.JPEG"]
    assert all(line.split("\t")[1] for line in skipped)  # each with a reason
    assert json.loads((cache.folder / "meta.json").read_text())["skipped"] == 3
    assert set(cache.meta["levels"]) == {16, 8, 4}
    for res in (16, 8, 4):
        assert cache[res].shape == (14, 3, res, res) and cache[res].dtype == np.uint8
    # every level is the rounded 2x2 box filter of the level above
    assert np.array_equal(cache[8], box_downsample(torch.from_numpy(np.array(cache[16]))).numpy())
    assert np.array_equal(cache[4], box_downsample(torch.from_numpy(np.array(cache[8]))).numpy())
    files = cache.identifiers()
    assert len(files) == 14
    gray = cache[16][[i for i, path in enumerate(files) if path.endswith("gray.png")][0]]
    assert np.array_equal(gray[0], gray[1]) and np.array_equal(gray[1], gray[2])
    # a 16-bit image keeps its top 8 bits
    sixteen = [i for i, path in enumerate(files) if path.endswith("sixteen.png")][0]
    original = np.asarray(Image.open(image_folder / "n02" / "sixteen.png"), dtype=np.int64) // 256
    expected = np.asarray(Image.fromarray(original.astype(np.uint8)).convert("RGB").resize((16, 16), Image.Resampling.LANCZOS))
    assert np.array_equal(cache[16][sixteen], expected.transpose(2, 0, 1))


def test_skipped_files_are_reported_at_every_run_not_only_when_the_cache_is_built(image_folder, tmp_path, caplog):
    import logging

    for _ in range(2):  # builds the cache, then reads it
        dm = ImageNetDataModule(str(image_folder), resolution=16, num_workers=0, cache_dir=str(tmp_path / "c"))
        with caplog.at_level(logging.INFO):
            caplog.clear()
            dm.setup("fit")
        assert [r.getMessage() for r in caplog.records if "skipped" in r.getMessage()] == [
            f"imagenet ({image_folder}): 14 images; skipped 3 unreadable files, listed in {dm.cache.folder}/skipped.txt"]


def test_workers_default_to_at_most_four_of_the_cores_this_process_may_use(image_folder, monkeypatch):
    for cores, expected in (({0}, 1), ({0, 1}, 2), (set(range(64)), 4)):
        monkeypatch.setattr(os, "sched_getaffinity", lambda pid, cores=cores: cores)
        assert ImageFolderDataModule(str(image_folder)).num_workers == expected
        assert CelebADataModule(str(image_folder)).num_workers == expected
    assert ImageFolderDataModule(str(image_folder), num_workers=7).num_workers == 7


def test_cache_is_reused_rebuilt_on_change_and_never_left_half_written(image_folder, tmp_path):
    kwargs = dict(root=str(image_folder), resolution=8, labelled=True, num_workers=0, cache_dir=str(tmp_path / "c"))
    dm = ImageFolderDataModule(**kwargs)
    dm.prepare_data()
    folder = dm.cache_folder()
    stamp = (folder / "meta.json").stat().st_mtime_ns
    again = ImageFolderDataModule(**kwargs)
    again.prepare_data()
    assert again.cache_folder() == folder and (folder / "meta.json").stat().st_mtime_ns == stamp  # reused
    assert ImageFolderDataModule(**{**kwargs, "resolution": 16}).cache_folder() != folder  # settings are keyed
    assert ImageFolderDataModule(**kwargs, classes=["n02"]).cache_folder() != folder
    target = image_folder / "n01" / "n01_0.JPEG"
    random_image(np.random.default_rng(9), 50, 50).save(target)
    os.utime(target, ns=(stamp + 10**9, stamp + 10**9))
    assert ImageFolderDataModule(**kwargs).cache_folder() != folder  # a changed source file rebuilds

    class Interrupted(torch.utils.data.Dataset):
        def __len__(self):
            return 300

        def __getitem__(self, i):
            if i == 280:
                raise KeyboardInterrupt
            return np.zeros((3, 8, 8), np.uint8), 0, str(i), ""

    target_folder = tmp_path / "c" / "interrupted"
    with pytest.raises(KeyboardInterrupt):
        build_image_cache(Interrupted(), target_folder, 8, [], "test")
    assert not target_folder.exists() and not list((tmp_path / "c").glob("interrupted*"))
    with pytest.raises(FileNotFoundError, match="not a finished lit-gans image cache"):
        ImageCache(target_folder)


def test_missing_or_empty_data_names_the_path_and_layout(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"nowhere does not exist; expected <root>/<wnid>/<image>.JPEG"):
        ImageNetDataModule(str(tmp_path / "nowhere"), resolution=8, cache_dir=str(tmp_path)).prepare_data()
    (tmp_path / "empty" / "n01").mkdir(parents=True)
    with pytest.raises(FileNotFoundError, match=r"no images found under .*empty; expected"):
        ImageNetDataModule(str(tmp_path / "empty"), resolution=8, cache_dir=str(tmp_path)).prepare_data()
    (tmp_path / "bad" / "n01").mkdir(parents=True)
    (tmp_path / "bad" / "n01" / "a.jpg").write_bytes(b"")
    with pytest.raises(FileNotFoundError, match="no readable images"):
        ImageNetDataModule(str(tmp_path / "bad"), resolution=8, cache_dir=str(tmp_path)).prepare_data()
    with pytest.raises(ValueError, match="power-of-two resolution"):
        ImageNetDataModule(str(tmp_path), resolution=48)
    (tmp_path / "lsun").mkdir()
    with pytest.raises(FileNotFoundError, match=r"lsun/kitchen_train_lmdb/data.mdb does not exist"):
        LSUNDataModule(str(tmp_path / "lsun"), ["kitchen"], resolution=8, cache_dir=str(tmp_path)).prepare_data()


def test_set_resolution_serves_the_level_and_blends_the_fade_numerically(image_folder, tmp_path):
    dm = ImageFolderDataModule(str(image_folder), resolution=16, labelled=True, batch_size=4, num_workers=0,
                               cache_dir=str(tmp_path / "c"), batch_sizes={8: 6})
    dm.setup("fit")
    dm.set_resolution(8, alpha=0.25)
    key = next(iter(dm.train_dataloader().sampler))
    assert key.resolution == 8 and key.alpha == 0.25 and len(key.indices) == 6  # per-resolution batch size
    images, labels = dm.on_after_batch_transfer(dm.train_dataloader().dataset[key])
    indices = list(key.indices)  # batches come in stream order
    x = torch.from_numpy(np.array(dm.cache[8][indices])).float() / 127.5 - 1
    coarse = x.reshape(6, 3, 4, 2, 4, 2).mean(dim=(3, 5)).repeat_interleave(2, 2).repeat_interleave(2, 3)
    assert torch.allclose(images, 0.25 * x + 0.75 * coarse, atol=1e-6)
    assert torch.equal(labels, torch.as_tensor(dm.cache.labels[indices]))
    low, high = sorted(indices)[:2]  # read front to back, served in the key's order with the key's flips
    flipped = dm.train_dataloader().dataset[BatchKey((high, low), (False, True), 16, 1.0)][0]
    assert torch.equal(flipped[0], torch.from_numpy(np.array(dm.cache[16][high])))
    assert torch.equal(flipped[1], torch.from_numpy(np.array(dm.cache[16][low])).flip(-1))
    with pytest.raises(ValueError, match=r"resolution 32 is not served; choose from \[16, 8, 4\]"):
        dm.set_resolution(32)
    with pytest.raises(ValueError, match="alpha must lie in"):
        dm.set_resolution(8, 1.5)


def test_celeba_layout_splits_crops_and_attributes(celeba_root, tmp_path):
    source = np.asarray(Image.open(celeba_root / "img_align_celeba" / "000001.jpg"))
    dm = CelebADataModule(str(celeba_root), resolution=128, split="train", crop="progan", cache_dir=str(tmp_path / "c"),
                          num_workers=0)
    dm.setup("fit")
    assert len(dm.cache) == 5 and dm.num_classes == 0
    assert np.array_equal(dm.cache[128][0], source[57:185, 25:153].transpose(2, 0, 1))  # 128x128 at (89, 121)
    centre = CelebADataModule(str(celeba_root), resolution=16, crop="center", cache_dir=str(tmp_path / "c"),
                              num_workers=0, batch_size=4)
    centre.setup("fit")
    assert len(centre.cache) == 8
    expected = Image.fromarray(source[20:198]).resize((16, 16), Image.Resampling.LANCZOS)
    assert np.array_equal(centre.cache[16][0], np.asarray(expected).transpose(2, 0, 1))
    smiling = CelebADataModule(str(celeba_root), resolution=16, split="valid", attribute="Smiling",
                               cache_dir=str(tmp_path / "c"), num_workers=0)
    smiling.setup("fit")
    assert smiling.num_classes == 2 and smiling.cache.labels.tolist() == [1, 0]  # images 6 and 7: Smiling 1, -1
    with pytest.raises(ValueError, match="unknown CelebA attribute 'Grumpy'"):
        CelebADataModule(str(celeba_root), resolution=16, attribute="Grumpy", cache_dir=str(tmp_path / "c")).prepare_data()
    fit_steps(centre, 16, 0)


def test_lsun_lmdb_categories_are_classes_and_no_key_cache_lands_in_the_working_directory(lsun_root, tmp_path,
                                                                                          monkeypatch):
    (tmp_path / "work").mkdir()
    monkeypatch.chdir(tmp_path / "work")
    dm = LSUNDataModule(str(lsun_root), ["bedroom", "tower"], resolution=16, batch_size=4, num_workers=2,
                        cache_dir=str(tmp_path / "c"))
    dm.prepare_data()  # decoded by 2 worker processes, each opening the lmdb itself
    dm.setup("fit")
    assert dm.classes == ["bedroom", "tower"] and len(dm.cache) == 5 + 3
    assert dm.cache.labels.tolist() == [0] * 5 + [1] * 3
    assert len((dm.cache.folder / "skipped.txt").read_text().splitlines()) == 2  # one corrupt record per category
    assert os.listdir(".") == []
    limited = LSUNDataModule(str(lsun_root), ["tower"], resolution=16, max_images=2, cache_dir=str(tmp_path / "c"),
                             num_workers=0)
    limited.setup("fit")
    assert len(limited.cache) == 2
    fit_steps(dm, 16, 2)  # batches read by 2 workers from the memory-mapped cache


def test_sagan_trains_on_an_image_folder(image_folder, tmp_path):
    dm = ImageNetDataModule(str(image_folder), resolution=16, batch_size=4, num_workers=0, flip=True,
                            cache_dir=str(tmp_path / "c"))
    fit_steps(dm, 16, 2)


def test_a_schedule_switches_resolution_and_batch_size_exactly_even_with_prefetching_workers():
    import pytorch_lightning as pl

    from conftest import digits

    class Recorder(pl.LightningModule):
        def __init__(self):
            super().__init__()
            self.automatic_optimization = False
            self.images_seen, self.seen = 0, []
            self.weight = torch.nn.Parameter(torch.zeros(()))

        def training_step(self, batch, batch_idx):
            images, labels = batch
            self.seen.append((self.images_seen, images.shape[-1], len(images), float(images.min())))
            self.images_seen += len(images)

        def configure_optimizers(self):
            return torch.optim.SGD(self.parameters(), lr=0.1)

    def schedule(images_shown):
        return (8, 1.0, 8) if images_shown < 40 else (16, min(1.0, (images_shown - 40) / 24), 4)

    dm = digits(batch_size=8, num_workers=2)
    dm.set_schedule(schedule)
    module = Recorder()
    make_trainer(max_epochs=1, limit_train_batches=16).fit(module, dm)
    assert [(shown, res, size) for shown, res, size, _ in module.seen] == [
        (shown, schedule(shown)[0], schedule(shown)[2]) for shown, *_ in module.seen]
    assert [res for _, res, _, _ in module.seen[:6]] == [8] * 5 + [16]
    assert all(low >= -1 for *_, low in module.seen)
