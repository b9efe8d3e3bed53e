from pathlib import Path

import pytorch_lightning as pl

from callbacks import SampleGrid, StopAt
from conftest import digits
from lit_gans import SAGAN
from lit_gans.wandb_logger import WandbLogger, wandb_reachable


def test_without_credentials_the_logger_goes_offline_without_touching_the_network(monkeypatch, tmp_path):
    monkeypatch.delenv("WANDB_MODE", raising=False)
    monkeypatch.delenv("WANDB_API_KEY", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))  # no ~/.netrc
    monkeypatch.setenv("NETRC", str(tmp_path / "none"))
    assert not wandb_reachable()
    logger = WandbLogger(save_dir=str(tmp_path / "runs"))
    assert logger._offline


def test_offline_run_holds_logged_metrics_and_sample_images(monkeypatch, tiny_sagan_kwargs, tmp_path):
    monkeypatch.setenv("WANDB_MODE", "offline")
    logger = WandbLogger(save_dir=str(tmp_path / "runs"))
    trainer = pl.Trainer(max_epochs=-1, logger=logger, enable_progress_bar=False, enable_checkpointing=False,
                         log_every_n_steps=1, callbacks=[StopAt(g_steps=3), SampleGrid(every_n_g_steps=2)])
    trainer.fit(SAGAN(**tiny_sagan_kwargs), digits())
    logger.experiment.finish()
    run = next((tmp_path / "runs" / "wandb").glob("offline-run-*"))
    images = list((run / "files" / "media" / "images").glob("samples_*.png"))
    assert len(images) == 2  # at generator step 2 and at the end
    records = next(run.glob("*.wandb")).read_bytes()
    assert b"loss/d_real" in records and b"kimg" in records
    assert b"attn_res" in records  # the module's hyperparameters
    local = list(Path(tmp_path / "runs" / "lit-gans").rglob("samples/*.png"))
    assert len(local) == 2
