"""What a resumed run does with the data it is given: the same images continue exactly, whatever the number of ranks
or the batch size; other images are refused unless the user says so; another seed is named. The stream across
world sizes is checked on an odd-sized dataset with real DDP processes (gloo on CPU), 1 -> 2 -> 3 ranks."""
import hashlib
import json
import logging
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import pytorch_lightning as pl
import torch
import yaml
from PIL import Image

from callbacks import StopAt
from conftest import ROOT, digits, make_trainer
from datamodules import ImageFolderDataModule
from datamodules.batch_stream import BatchStream
from lit_gans import SAGAN
from lit_gans.commands import GANTrainer
from test_distributed import free_port

ODD = 23  # images: no world size from 2 to 22 divides it


def constant(batch_size):
    return lambda images_shown: (16, 1.0, batch_size)


def global_stream(keys_by_rank: list[list], world: int) -> list[int]:
    """Interleave the ranks' batches back into the global order: rank r holds global items r, r + W, ..."""
    order = []
    for batches in zip(*keys_by_rank):
        columns = [list(b.indices) for b in batches]
        order += [columns[r][j] for j in range(len(columns[0])) for r in range(world)]
    return order


@pytest.mark.parametrize("plan", [[(1, 2, 3), (2, 2, 2), (3, 2, 2)], [(1, 4, 1), (3, 1, 3), (2, 3, 4)]])
def test_the_stream_continues_exactly_across_world_and_batch_sizes(plan):
    """(world size, batch per rank, batches) legs; the global order equals one rank's uninterrupted stream, so every
    data epoch shows each of the 23 images exactly once."""
    straight = BatchStream(ODD, constant(1), lambda: 0, 1, seed=5, flip=True)
    reference = [straight.stream(k, 1) for k in range(200)]
    reference, reference_flips = [i[0] for i, _ in reference], [f[0] for _, f in reference]
    position, served, flips = 0, [], []
    for world, batch, batches in plan:
        ranks = [BatchStream(ODD, constant(batch), lambda: position, batch, num_replicas=world, rank=r, seed=5,
                             flip=True) for r in range(world)]
        keys = [[k for _, k in zip(range(batches), iter(s))] for s in ranks]
        served += global_stream(keys, world)
        flips += [f for batches in zip(*keys) for j in range(batch) for f in [b.flips[j] for b in batches]]
        position += world * batch * batches
    assert served == reference[:len(served)] and len(served) > ODD
    assert flips == reference_flips[:len(flips)] and 0 < sum(flips) < len(flips)  # flips too, whatever the cut
    assert sorted(served[:ODD]) == list(range(ODD))  # epoch 0: each image once, none skipped


def test_where_the_world_size_divides_the_data_a_rank_reads_distributed_samplers_shard():
    from torch.utils.data import DistributedSampler

    for world in (1, 2, 4):
        for rank in range(world):
            stream = BatchStream(24, constant(24 // world), lambda: 0, 24 // world, num_replicas=world, rank=rank, seed=3)
            sampler = DistributedSampler(range(24), num_replicas=world, rank=rank, shuffle=True, seed=3, drop_last=True)
            assert list(next(iter(stream)).indices) == list(sampler)


def images_folder(root: Path, count: int = ODD) -> Path:
    rng = np.random.default_rng(7)
    root.mkdir(parents=True)
    for i in range(count):
        Image.fromarray(rng.integers(0, 256, (16, 16, 3), dtype=np.uint8)).save(root / f"{i:02d}.png")
    return root


class ServedImages(pl.Callback):
    """Appends, for every trained batch, the stream position and a hash of each image to <folder>/rank<r>.jsonl."""

    def __init__(self, folder: str):
        self.folder = Path(folder)

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
        images = ((batch[0] + 1) * 127.5).round().to(torch.uint8)
        hashes = [hashlib.sha1(image.numpy().tobytes()).hexdigest() for image in images]
        with open(self.folder / f"rank{trainer.global_rank}.jsonl", "a") as f:
            f.write(json.dumps({"position": pl_module.images_seen, "images": hashes}) + "\n")


def fit_ranks(config: Path, world: int, *overrides: str, env_extra: dict | None = None) -> list[str]:
    """`lit-gans fit` on `world` single-process simulated nodes; their outputs."""
    port, processes = free_port(), []
    for node in range(world):
        env = {**os.environ, "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": str(port), "NODE_RANK": str(node),
               "LOCAL_RANK": "0", "PYTHONWARNINGS": "ignore", "OMP_NUM_THREADS": "1",
               "PYTHONPATH": os.pathsep.join([str(ROOT / "tests"), str(ROOT)]), **(env_extra or {})}
        processes.append(subprocess.Popen(
            [sys.executable, "-m", "lit_gans", "fit", f"--config={config}", f"--trainer.num_nodes={world}",
             *(["--trainer.strategy=ddp_find_unused_parameters_true"] if world > 1 else []), *overrides],
            env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True))
    outputs = [p.communicate(timeout=600)[0] for p in processes]
    for node, (process, output) in enumerate(zip(processes, outputs)):
        assert process.returncode == 0, f"node {node} of {world} failed:\n{output[-4000:]}"
    return outputs


@pytest.mark.timeout(900)
def test_a_run_resumed_on_one_then_two_then_three_ranks_shows_the_uninterrupted_stream(tmp_path, tiny_sagan_kwargs):
    data = images_folder(tmp_path / "odd")
    record = tmp_path / "served"
    record.mkdir()
    config = tmp_path / "run.yaml"
    config.write_text(yaml.safe_dump({
        "seed_everything": 0,
        "model": {"class_path": "lit_gans.SAGAN", "init_args": {**tiny_sagan_kwargs, "num_classes": 0, "n_dis": 1}},
        "data": {"class_path": "datamodules.ImageFolderDataModule",
                 "init_args": {"root": str(data), "resolution": 16, "batch_size": 2, "num_workers": 0,
                               "cache_dir": str(tmp_path / "cache")}},
        "trainer": {"accelerator": "cpu", "devices": 1, "max_epochs": -1, "enable_progress_bar": False,
                    "enable_model_summary": False, "logger": False, "default_root_dir": str(tmp_path / "runs"),
                    "callbacks": [{"class_path": "test_resume_data.ServedImages", "init_args": {"folder": str(record)}},
                                  {"class_path": "pytorch_lightning.callbacks.ModelCheckpoint",
                                   "init_args": {"dirpath": str(tmp_path / "ckpt"), "save_last": True, "save_top_k": 0}}]},
    }))
    last = str(tmp_path / "ckpt" / "last.ckpt")
    fit_ranks(config, 1, "--trainer.callbacks+=callbacks.StopAt", "--trainer.callbacks.g_steps=3")  # images 0-5
    outputs = fit_ranks(config, 2, f"--ckpt_path={last}", "--trainer.callbacks+=callbacks.StopAt",
                        "--trainer.callbacks.g_steps=6")  # 6-17
    assert ("resuming with world size 2 x batch 2 per rank (the checkpoint's run: 1 x 2): the same image stream "
            "continues at image 6") in outputs[0]
    fit_ranks(config, 3, f"--ckpt_path={last}", "--trainer.callbacks+=callbacks.StopAt",
              "--trainer.callbacks.g_steps=11")  # 18-47: across the end of data epoch 0 (23 images)

    served = {}
    for path in record.glob("rank*.jsonl"):
        for line in path.read_text().splitlines():
            entry = json.loads(line)
            served.setdefault(entry["position"], []).append(entry["images"])
    assert sorted(served) == [0, 2, 4, 6, 10, 14, 18, 24, 30, 36, 42]
    dm = ImageFolderDataModule(str(data), resolution=16, batch_size=2, num_workers=0, cache_dir=str(tmp_path / "cache"))
    dm.setup("fit")
    hashes = [hashlib.sha1(np.asarray(dm.levels[16][i]).tobytes()).hexdigest() for i in range(ODD)]
    straight = BatchStream(ODD, constant(1), lambda: 0, 1, seed=0)
    reference = [hashes[straight.stream(k, 1)[0][0]] for k in range(48)]
    shown = []
    for position in sorted(served):
        batches = sorted(served[position], key=lambda b: reference.index(b[0], position))  # rank order
        shown += [batches[r][j] for j in range(len(batches[0])) for r in range(len(batches))]
    assert shown == reference
    assert sorted(shown[:ODD]) == sorted(hashes)  # data epoch 0: every image once


def train(data, g_steps, ckpt_path=None, **fit_args):
    model = SAGAN(resolution=16, z_dim=16, ch=8, num_classes=10, attn_res=8)
    trainer = GANTrainer(max_epochs=-1, logger=False, enable_checkpointing=False, enable_progress_bar=False,
                         enable_model_summary=False, accelerator="cpu", devices=1, callbacks=[StopAt(g_steps=g_steps)])
    trainer.fit(model, datamodule=data, ckpt_path=ckpt_path, **fit_args)
    return model, trainer


def test_resuming_on_other_images_is_refused_unless_asked_and_other_settings_are_named(tmp_path, caplog):
    model, trainer = train(digits(batch_size=8), 2)
    trainer.save_checkpoint(tmp_path / "run.ckpt")
    saved = torch.load(tmp_path / "run.ckpt", weights_only=True)["DigitsDataModule"]
    assert saved["count"] == 1437 and saved["batch_size"] == 8 and saved["world_size"] == 1 and saved["seed"] == 0

    with pytest.raises(ValueError, match=r"the checkpoint's run trained on other images \(1,437 images, fingerprint "
                                         r"\w+\) than this data serves \(1,034, \w+\).*--resume_with_other_data true"):
        train(digits(batch_size=8, train_fraction=0.72), 4, tmp_path / "run.ckpt")
    with pytest.warns(UserWarning, match="continuing on these images at stream position 16"):
        other, _ = train(digits(batch_size=8, train_fraction=0.72), 4, tmp_path / "run.ckpt", resume_with_other_data=True)
    assert other.g_steps == 4

    with pytest.raises(ValueError, match="other images"):  # the digits' seed also chooses the held-out split
        train(digits(batch_size=8, seed=7), 4, tmp_path / "run.ckpt")
    with caplog.at_level(logging.INFO):
        resumed, _ = train(digits(batch_size=4), 4, tmp_path / "run.ckpt")
    assert resumed.images_seen == 16 + 2 * 4
    assert ("resuming with world size 1 x batch 4 per rank (the checkpoint's run: 1 x 8): the same image stream "
            "continues at image 16, cut into other batches") in caplog.text


def test_another_seed_or_flip_on_the_same_images_is_named(tmp_path):
    from test_real_folders import save_images

    save_images(tmp_path / "photos", 12)
    data = lambda **kwargs: ImageFolderDataModule(str(tmp_path / "photos"), resolution=16, batch_size=4, num_workers=0,
                                                  cache_dir=str(tmp_path / "c"), **kwargs)
    model = SAGAN(resolution=16, z_dim=16, ch=8, num_classes=0, attn_res=8)
    trainer = make_trainer(StopAt(g_steps=2))
    trainer.fit(model, data())
    trainer.save_checkpoint(tmp_path / "run.ckpt")
    model = SAGAN(resolution=16, z_dim=16, ch=8, num_classes=0, attn_res=8)
    with pytest.warns(UserWarning, match=r"resuming with data seed 3 \(the checkpoint's run: 0\) and flip True \(the "
                                         r"checkpoint's run: False\): the images from image 8 on follow another order"):
        make_trainer(StopAt(g_steps=3)).fit(model, data(seed=3, flip=True), ckpt_path=tmp_path / "run.ckpt")
    assert model.images_seen == 12


def test_a_checkpoint_of_another_data_module_class_is_checked_too(tmp_path):
    from test_real_folders import save_images

    _, trainer = train(digits(batch_size=4), 2)
    trainer.save_checkpoint(tmp_path / "run.ckpt")
    save_images(tmp_path / "photos", 12)
    folder = ImageFolderDataModule(str(tmp_path / "photos"), resolution=16, batch_size=4, num_workers=0)
    model = SAGAN(resolution=16, z_dim=16, ch=8, num_classes=0, attn_res=8)
    with pytest.raises(ValueError, match="other images"):
        make_trainer(StopAt(g_steps=3)).fit(model, folder, ckpt_path=tmp_path / "run.ckpt")
