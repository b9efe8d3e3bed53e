from pathlib import Path

import pytorch_lightning as pl

from callbacks import SampleGrid, StopAt, WandbRunId
from conftest import digits
from lit_gans import SAGAN
from lit_gans.wandb_logger import WandbLogger, wandb_reachable


def written_records(run: Path, expected: bytes, timeout: float = 60.0) -> bytes:
    """The bytes of an offline run's .wandb file once they hold `expected` (W&B's service process may still be
    writing after `finish()` returns on a loaded machine), or whatever is there after `timeout` seconds."""
    import time

    deadline = time.monotonic() + timeout
    while True:
        records = b"".join(path.read_bytes() for path in run.glob("*.wandb"))
        if expected in records or time.monotonic() > deadline:
            return records
        time.sleep(0.5)


def test_without_credentials_the_logger_goes_offline_without_touching_the_network(monkeypatch, tmp_path):
    monkeypatch.delenv("WANDB_MODE", raising=False)
    monkeypatch.delenv("WANDB_API_KEY", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))  # no ~/.netrc
    monkeypatch.setenv("NETRC", str(tmp_path / "none"))
    assert not wandb_reachable()
    logger = WandbLogger(save_dir=str(tmp_path / "runs"))
    assert logger._offline


def test_offline_run_holds_logged_metrics_and_sample_images(monkeypatch, tiny_sagan_kwargs, tmp_path):
    from callbacks import ImageMetrics, Interpolations
    from test_metrics import ChannelStats

    monkeypatch.setenv("WANDB_MODE", "offline")
    logger = WandbLogger(save_dir=str(tmp_path / "runs"))
    metrics = ImageMetrics(every_n_g_steps=2, num_samples=16, num_real=32, batch_size=16, metrics=["fid", "prc"])
    metrics.evaluator.extractor = ChannelStats()
    trainer = pl.Trainer(max_epochs=-1, logger=logger, enable_progress_bar=False, enable_checkpointing=False,
                         log_every_n_steps=1, callbacks=[StopAt(g_steps=3), SampleGrid(every_n_g_steps=2), metrics,
                                                         Interpolations(rows=2, frames=3)])
    trainer.fit(SAGAN(**tiny_sagan_kwargs), digits())
    logger.experiment.finish()
    run = next((tmp_path / "runs" / "wandb").glob("offline-run-*"))
    images = list((run / "files" / "media" / "images").glob("samples_*.png"))
    assert len(images) == 2  # at generator step 2 and at the end
    media = sorted(p.name for p in (run / "files" / "media").rglob("*") if p.is_file())
    assert any(name.startswith("latent_") for name in media) and any(name.startswith("truncation_") for name in media)
    assert any(name.startswith("metrics_") and name.endswith(".table.json") for name in media), media
    records = written_records(run, b"loss/d_real")
    assert b"loss/d_real" in records and b"kimg" in records
    assert b"attn_res" in records  # the module's hyperparameters
    local = list(Path(tmp_path / "runs" / "lit-gans").rglob("samples/*.png"))
    assert len(local) == 2


def test_resuming_from_a_checkpoint_continues_the_same_wandb_run(monkeypatch, tiny_sagan_kwargs, tmp_path):
    monkeypatch.setenv("WANDB_MODE", "offline")
    first = WandbLogger(save_dir=str(tmp_path / "runs"))
    trainer = pl.Trainer(max_epochs=-1, logger=first, enable_progress_bar=False, enable_checkpointing=False,
                         callbacks=[StopAt(g_steps=2), WandbRunId()])
    trainer.fit(SAGAN(**tiny_sagan_kwargs), digits())
    trainer.save_checkpoint(tmp_path / "last.ckpt")
    run_id = first.version
    first.experiment.finish()
    import torch

    assert torch.load(tmp_path / "last.ckpt", weights_only=True)["wandb"]["run_id"] == run_id

    second = WandbLogger(save_dir=str(tmp_path / "runs"))
    assert second.resume_from(tmp_path / "last.ckpt") == run_id
    trainer = pl.Trainer(max_epochs=-1, logger=second, enable_progress_bar=False, enable_checkpointing=False,
                         callbacks=[StopAt(g_steps=4)])
    trainer.fit(SAGAN(**tiny_sagan_kwargs), digits(), ckpt_path=tmp_path / "last.ckpt")
    assert second.experiment.id == run_id
    second.experiment.finish()
    runs = sorted(p.name for p in (tmp_path / "runs" / "wandb").glob("offline-run-*"))
    assert len(runs) == 2 and all(f"-{run_id}" in name for name in runs)  # both parts belong to one run
    assert WandbLogger(save_dir=str(tmp_path / "runs"), id="explicit").resume_from(tmp_path / "last.ckpt") is None


def test_fit_with_ckpt_path_on_the_command_line_resumes_the_run(monkeypatch, tmp_path):
    from lit_gans.cli import main

    monkeypatch.setenv("WANDB_MODE", "offline")
    common = ["--model.init_args.ch=8", "--model.init_args.z_dim=16", "--data.init_args.batch_size=16",
              "--trainer.enable_progress_bar=false", "--trainer.callbacks=[]", f"--trainer.default_root_dir={tmp_path}",
              f"--trainer.logger.init_args.save_dir={tmp_path / 'runs'}"]
    cli = main(["fit", *common, "--trainer.max_steps=4"])
    run_id = cli.trainer.logger.version
    ckpt = tmp_path / "resume.ckpt"
    cli.trainer.save_checkpoint(ckpt)
    cli.trainer.logger.experiment.finish()
    resumed = main(["fit", *common, "--trainer.max_steps=8", f"--ckpt_path={ckpt}"])
    assert resumed.trainer.logger.version == run_id
    resumed.trainer.logger.experiment.finish()


def test_sample_grids_reach_the_logger_at_the_step_of_their_batch(tiny_sagan_kwargs):
    from pytorch_lightning.loggers.logger import Logger

    class Recorder(Logger):
        name, version = "recorder", "0"

        def __init__(self):
            super().__init__()
            self.scalars, self.images = [], []

        def log_hyperparams(self, params, *args, **kwargs):
            pass

        def log_metrics(self, metrics, step=None):
            self.scalars.append((step, metrics.get("progress/g_steps")))

        def log_image(self, key, images, step=None, **kwargs):
            self.images.append((step, kwargs["caption"][0]))

    logger = Recorder()
    trainer = pl.Trainer(max_epochs=-1, logger=logger, enable_progress_bar=False, enable_checkpointing=False,
                         log_every_n_steps=1, callbacks=[StopAt(g_steps=3), SampleGrid(every_n_g_steps=2)])
    trainer.fit(SAGAN(**tiny_sagan_kwargs), digits())
    step_of_g2 = next(step for step, g in logger.scalars if g == 2.0)
    assert logger.images[0] == (step_of_g2, "g_step 2")  # same x as the scalars of that batch
    assert logger.images[-1][0] == max(step for step, _ in logger.scalars) + 1


def test_checkpoints_are_logged_as_model_artifacts_even_offline(monkeypatch, tiny_sagan_kwargs, tmp_path):
    from pytorch_lightning.callbacks import ModelCheckpoint

    monkeypatch.setenv("WANDB_MODE", "offline")
    logger = WandbLogger(save_dir=str(tmp_path / "runs"), log_model="all")
    checkpoints = ModelCheckpoint(dirpath=tmp_path / "ckpt", save_last=True, every_n_train_steps=4)
    trainer = pl.Trainer(max_epochs=-1, logger=logger, enable_progress_bar=False, callbacks=[StopAt(g_steps=4), checkpoints])
    trainer.fit(SAGAN(**tiny_sagan_kwargs), digits())
    run_id = logger.experiment.id
    logger.experiment.finish()
    run = next((tmp_path / "runs" / "wandb").glob(f"offline-run-*-{run_id}"))
    records = written_records(run, f"model-{run_id}".encode())
    assert f"model-{run_id}".encode() in records and b"model.ckpt" in records  # artifact records of the run
    assert records.count(b"original_filename") >= 2  # saves at global steps 4 and 8 (generator steps 2 and 4)
