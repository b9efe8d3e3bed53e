"""Folders of images as users build them: symlinked subsets, phone photos, names from older tools, empty and hidden
folders, 16-bit scans, edited list files. Fixtures are real files on disk in each format."""
import os
import warnings
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from datamodules import CelebADataModule, ImageFolderDataModule, ImageNetDataModule
from datamodules.image_cache import escape
from test_datasets import celeba_root  # noqa: F401 (a fixture)


def save_images(folder: Path, count: int, seed: int = 0, size=(24, 20)) -> list[Path]:
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    paths = [folder / f"{i:03d}.png" for i in range(count)]
    for path in paths:
        Image.fromarray(rng.integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)).save(path)
    return paths


def cached(dm) -> tuple[list[str], np.ndarray]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        dm.setup("fit")
    return dm.cache.identifiers(), np.asarray(dm.cache[dm.resolution])


def test_a_subset_built_of_symlinked_class_folders_and_files_is_the_subset(tmp_path):
    full = tmp_path / "imagenet" / "train"
    for wnid, count in (("n01", 3), ("n02", 4), ("n03", 2)):
        save_images(full / wnid, count, seed=count)
    subset = tmp_path / "subset"
    subset.mkdir()
    (subset / "n01").symlink_to(full / "n01", target_is_directory=True)  # a linked class folder
    (subset / "n03").mkdir()  # a real class folder of linked files
    for path in (full / "n03").iterdir():
        (subset / "n03" / path.name).symlink_to(path)
    (subset / "n03" / "loop").symlink_to(subset, target_is_directory=True)  # a link back up: never followed round
    dm = ImageNetDataModule(str(subset), resolution=16, num_workers=0, cache_dir=str(tmp_path / "c"))
    with pytest.warns(UserWarning, match=r"(?s)1 paths are left out.*n03/loop: a link to a folder that holds it"):
        dm.setup("fit")
    assert dm.classes == ["n01", "n03"] and len(dm.cache) == 5
    assert ImageNetDataModule.declared_classes(root=str(subset)) == 2
    reference = ImageNetDataModule(str(full), resolution=16, classes=["n01", "n03"], num_workers=0,
                                   cache_dir=str(tmp_path / "c"))
    assert np.array_equal(cached(dm)[1], cached(reference)[1])  # the same images as the full tree's classes


def test_unreadable_folders_and_broken_links_are_named_and_the_rest_trains(tmp_path, monkeypatch):
    root = tmp_path / "photos"
    save_images(root / "a", 3)
    save_images(root / "b", 2)
    (root / "a" / "gone.png").symlink_to(tmp_path / "nowhere.png")
    locked = root / "b" / "locked"
    save_images(locked, 2)
    locked.chmod(0)
    if os.geteuid() == 0:  # root reads every folder: refuse this one as the kernel refuses it to everyone else
        scandir = os.scandir

        def refusing(path="."):
            if Path(path) == locked:
                raise PermissionError(13, "Permission denied", str(path))
            return scandir(path)

        monkeypatch.setattr(os, "scandir", refusing)
    try:
        dm = ImageFolderDataModule(str(root), resolution=16, labelled=True, num_workers=0, cache_dir=str(tmp_path / "c"))
        with pytest.warns(UserWarning) as record:
            dm.setup("fit")
    finally:
        locked.chmod(0o755)
    message = "\n".join(str(w.message) for w in record)
    assert "2 paths are left out" in message and f"{locked}: Permission denied" in message
    assert f"{root / 'a' / 'gone.png'}: a broken link" in message
    assert len(dm.cache) == 5


def test_broken_links_and_link_loops_are_named(tmp_path):
    root = tmp_path / "photos"
    save_images(root, 3)
    (root / "gone.png").symlink_to(tmp_path / "nowhere.png")
    (root / "again").symlink_to(root, target_is_directory=True)
    dm = ImageFolderDataModule(str(root), resolution=16, num_workers=0, cache_dir=str(tmp_path / "c"))
    with pytest.warns(UserWarning) as record:
        dm.setup("fit")
    message = "\n".join(str(w.message) for w in record)
    assert f"{root / 'gone.png'}: a broken link" in message
    assert f"{root / 'again'}: a link to a folder that holds it, not followed" in message
    assert len(dm.cache) == 3


def test_empty_and_hidden_folders_are_not_classes(tmp_path, monkeypatch, capsys):
    from test_odd_datasets import lit_gans

    root = tmp_path / "photos"
    save_images(root / "cats", 9, seed=1)
    save_images(root / "dogs", 9, seed=2)
    (root / "empty").mkdir()
    save_images(root / ".ipynb_checkpoints", 2, seed=3)
    save_images(root / "dogs" / "@eaDir", 2, seed=4)  # a NAS's thumbnails
    save_images(root / "__MACOSX" / "cats", 2, seed=5)
    (root / "cats" / "._000.png").write_bytes(b"\x00\x05\x16\x07 AppleDouble")
    assert ImageFolderDataModule.declared_classes(root=str(root), labelled=True) == 2
    monkeypatch.setenv("LIT_GANS_CACHE", str(tmp_path / "c"))
    monkeypatch.chdir(tmp_path)
    status, stderr, raised = lit_gans(monkeypatch, capsys, "fit", "--data", "datamodules.ImageFolderDataModule",
                                      f"--data.root={root}", "--data.labelled=true", "--data.resolution=16",
                                      "--data.batch_size=6", "--trainer.max_steps=2", "--trainer.enable_progress_bar=false")
    assert status == 0, stderr[-2000:]
    assert any("1 class folders hold no images and are not classes: empty" in w for w in raised)
    dm = ImageFolderDataModule(str(root), resolution=16, labelled=True, num_workers=0, cache_dir=str(tmp_path / "c"))
    identifiers, _ = cached(dm)
    assert dm.classes == ["cats", "dogs"] and len(identifiers) == 18
    assert not [i for i in identifiers if "@eaDir" in i or ".ipynb" in i or "MACOSX" in i or "/._" in i]


def test_a_portrait_photo_is_cached_upright(tmp_path):
    """A phone stores a portrait photo as a landscape frame with EXIF Orientation 6 (rotate 90 degrees clockwise)."""
    upright = np.zeros((32, 16, 3), np.uint8)  # a 16x32 portrait picture, white on its left half
    upright[:, :8] = 255
    stored = Image.fromarray(upright).transpose(Image.Transpose.ROTATE_90)  # the sensor's landscape frame
    exif = Image.Exif()
    exif[0x0112] = 6
    root = tmp_path / "photos"
    root.mkdir()
    stored.save(root / "portrait.jpg", exif=exif, quality=100)
    assert Image.open(root / "portrait.jpg").size == (32, 16)
    dm = ImageFolderDataModule(str(root), resolution=16, num_workers=0, cache_dir=str(tmp_path / "c"))
    _, images = cached(dm)
    image = images[0].astype(int)  # the centre 16x16 of the upright picture: white left, black right
    assert image[:, :, :6].mean() > 235 and image[:, :, 10:].mean() < 20
    assert image[:, :6].mean() - image[:, 10:].mean() < 20  # not white at the bottom, as the frame is stored


def test_a_file_name_that_is_not_utf8_is_cached_and_listed_escaped(tmp_path):
    root = tmp_path / "photos"
    save_images(root, 2)
    name = os.fsdecode(b"caf\xe9.png")  # Latin-1, as older tools wrote it
    os.rename(root / "000.png", root / name)
    (root / os.fsdecode(b"bad\xff.png")).write_bytes(b"not an image")
    dm = ImageFolderDataModule(str(root), resolution=16, num_workers=0, cache_dir=str(tmp_path / "c"))
    identifiers, _ = cached(dm)
    assert identifiers == [f"{root}/001.png", f"{root}/caf\\xe9.png"]
    assert (dm.cache.folder / "skipped.txt").read_text().startswith(f"{root}/bad\\xff.png\tUnidentifiedImageError")
    assert escape("a\\b\tc\nd") == "a\\\\b\\tc\\nd"  # backslashes, tabs and newlines cannot be mistaken either


def test_sixteen_bit_images_are_scaled_by_the_container_not_by_their_own_maximum(tmp_path):
    frame = np.full((16, 16), 200 * 256 + 17, np.uint16)
    dark = np.full((16, 16), 200, np.uint16)  # a dim frame: 200 of 65535
    root = tmp_path / "scans"
    root.mkdir()
    Image.fromarray(frame).save(root / "a.png")
    bright = frame.copy()
    bright[0, 0] = 256 * 255 + 255
    Image.fromarray(bright).save(root / "b.png")  # the same frame, one pixel brighter
    Image.fromarray(dark).save(root / "c.png")
    dm = ImageFolderDataModule(str(root), resolution=16, num_workers=0, cache_dir=str(tmp_path / "c"))
    _, images = cached(dm)
    assert images[0, :, 5, 5].tolist() == [200] * 3 and images[1, :, 5, 5].tolist() == [200] * 3
    assert images[2].max() == 0  # dim in the container's range, not stretched to its own maximum


def test_an_edited_celeba_attribute_file_builds_a_new_cache(celeba_root, tmp_path):
    root = celeba_root
    dm = CelebADataModule(str(root), resolution=16, attribute="Smiling", num_workers=0, cache_dir=str(tmp_path / "c"))
    _, _ = cached(dm)
    before = (dm.cache.folder, dm.cache.labels.copy())
    path = root / "list_attr_celeba.txt"
    lines = path.read_text().splitlines()
    row = lines[2].split()  # name, 5_o_Clock_Shadow, Smiling, Young
    row[2] = "1" if row[2] == "-1" else "-1"
    lines[2] = " ".join(row)
    path.write_text("\n".join(lines) + "\n")
    os.utime(path, ns=(path.stat().st_atime_ns, path.stat().st_mtime_ns + 10**9))
    again = CelebADataModule(str(root), resolution=16, attribute="Smiling", num_workers=0, cache_dir=str(tmp_path / "c"))
    cached(again)
    assert again.cache.folder != before[0]
    assert again.cache.labels[0] != before[1][0] and (again.cache.labels[1:] == before[1][1:]).all()


def test_no_readable_image_keeps_every_reason(tmp_path):
    root = tmp_path / "broken"
    root.mkdir()
    (root / "a.jpg").write_bytes(b"")
    (root / "b.png").write_bytes(b"\x89PNG\r\n\x1a\n truncated")
    dm = ImageFolderDataModule(str(root), resolution=16, num_workers=0, cache_dir=str(tmp_path / "c"))
    with pytest.raises(FileNotFoundError) as raised:
        dm.setup("fit")
    message = str(raised.value)
    listing = Path(message.split("listed with their reasons in ")[1].split("\n")[0])
    assert f"{root}/a.jpg\tUnidentifiedImageError" in message and f"{root}/b.png\t" in message
    assert listing.read_text().splitlines() == message.splitlines()[1:][0:2] or \
        sorted(listing.read_text().splitlines()) == sorted(line.strip() for line in message.splitlines()[1:])
    assert not list((tmp_path / "c").glob("*.partial-*"))


def test_links_that_lead_nowhere_or_twice_to_one_place_are_named_and_each_image_is_read_once(tmp_path):
    root = tmp_path / "photos"
    save_images(root / "cat", 2, seed=1)
    save_images(root / "zebra", 2, seed=2)
    (root / "dog").symlink_to(tmp_path / "unmounted" / "dog", target_is_directory=True)  # a disk not mounted
    (root / "cat" / "again").symlink_to(root / "zebra", target_is_directory=True)  # a second path to zebra
    (root / "zebra" / "copy.png").symlink_to(root / "zebra" / "000.png")  # a second path to one file
    save_images(root, 1, seed=3)  # an image directly in the root
    dm = ImageFolderDataModule(str(root), resolution=16, labelled=True, num_workers=0, cache_dir=str(tmp_path / "c"))
    with pytest.warns(UserWarning) as record:
        dm.setup("fit")
    message = "\n".join(str(w.message) for w in record)
    assert f"{root / 'dog'}: a broken link" in message
    assert "1 images lie directly in the root, in no class folder" in message
    assert f"{root / 'zebra'}: another path to a folder already read, not read again" in message
    assert f"{root / 'cat' / 'again' / 'copy.png'}: another path to a file already read, not read again" in message
    assert dm.classes == ["cat"] and len(dm.cache) == 4  # zebra's images came first through cat/again
    assert "1 class folders hold no images and are not classes: zebra" in message
    unlabelled = ImageFolderDataModule(str(root / "cat"), resolution=16, num_workers=0, cache_dir=str(tmp_path / "d"))
    (root / "cat" / "part2").symlink_to(tmp_path / "unmounted" / "part2", target_is_directory=True)
    with pytest.warns(UserWarning, match=f"{root / 'cat' / 'part2'}: a broken link"):
        unlabelled.setup("fit")


def test_a_web_of_links_is_read_in_linear_time(tmp_path):
    """Each folder links twice to the next: 2**depth paths, one image."""
    import time

    depth = 24
    for level in range(depth):
        (tmp_path / "web" / f"l{level}").mkdir(parents=True)
    save_images(tmp_path / "web" / f"l{depth - 1}", 1)
    for level in range(depth - 1):
        for name in ("a", "b"):
            (tmp_path / "web" / f"l{level}" / name).symlink_to(tmp_path / "web" / f"l{level + 1}")
    started = time.perf_counter()
    from datamodules.image_folder import ImageWalk

    walk = ImageWalk(tmp_path / "web" / "l0")
    assert len(list(walk.images(walk.root))) == 1 and time.perf_counter() - started < 10
    assert len(walk.problems) == depth - 1  # each second link named once


def test_the_command_lines_class_count_is_the_datas_with_a_link_back_to_the_root(tmp_path):
    root = tmp_path / "photos"
    save_images(root / "a", 2)
    (root / "b").mkdir()
    (root / "b" / "up").symlink_to(root, target_is_directory=True)
    assert ImageFolderDataModule.declared_classes(root=str(root), labelled=True) == 1
    dm = ImageFolderDataModule(str(root), resolution=16, labelled=True, num_workers=0, cache_dir=str(tmp_path / "c"))
    cached(dm)
    assert dm.classes == ["a"]


def test_identifiers_with_any_line_break_in_a_name_stay_one_per_image(tmp_path):
    root = tmp_path / "photos"
    paths = save_images(root, 4)
    for path, odd in zip(paths, ["form\x0cfeed", "line\u2028sep", "next\x85line", "group\x1dsep"]):
        path.rename(root / f"{odd}.png")
    dm = ImageFolderDataModule(str(root), resolution=16, num_workers=0, cache_dir=str(tmp_path / "c"))
    identifiers, _ = cached(dm)
    assert len(identifiers) == 4 and identifiers[0] == f"{root}/form\x0cfeed.png"
