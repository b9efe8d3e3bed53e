import os
from pathlib import Path

import pytest

os.environ["WANDB_MODE"] = "disabled"
os.environ["WANDB_SILENT"] = "true"

ROOT = Path(__file__).resolve().parents[1]
TINY_SAGAN = dict(resolution=16, z_dim=16, ch=8, num_classes=10, attn_res=8)


@pytest.fixture
def tiny_sagan_kwargs():
    return dict(TINY_SAGAN)


@pytest.fixture(autouse=True)
def _run_in_tmp(tmp_path, monkeypatch):
    """Every test runs in its own folder with its own lit-gans cache and a fixed torch seed, so runs/, samples/,
    caches and random draws never leak between tests; a W&B run a test leaves open is finished, and W&B's
    process-wide settings are dropped (they keep the mode of the first run, so one disabled run would disable every
    later offline one)."""
    import torch

    torch.manual_seed(0)  # every test sees the same random numbers whatever ran before it
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("LIT_GANS_CACHE", str(tmp_path / "lit-gans-cache"))  # never the user's cache
    yield
    import wandb

    if wandb.run is not None:
        wandb.finish()
    wandb.teardown()


def make_trainer(*callbacks, **kwargs):
    import pytorch_lightning as pl

    defaults = dict(max_epochs=-1, logger=False, enable_checkpointing=False, enable_progress_bar=False,
                    enable_model_summary=False, accelerator="cpu", devices=1)
    return pl.Trainer(callbacks=list(callbacks), **{**defaults, **kwargs})


def digits(batch_size=8, resolution=16, **kwargs):
    from datamodules import DigitsDataModule

    return DigitsDataModule(resolution=resolution, batch_size=batch_size, **kwargs)


def relative_output_difference(model, initial: dict, state_a: dict, state_b: dict) -> dict[str, float]:
    """How differently two trained states of `model` behave, relative to how much training changed it:
    || f_b(x) - f_a(x) || / || f_a(x) - f_initial(x) || for G (train-mode BatchNorm) and D on fixed inputs.

    Comparing outputs rather than weights ignores directions the outputs do not depend on (a bias before a
    BatchNorm has a gradient of pure rounding noise, which Adam's first step turns into a full-size update)."""
    import torch

    generator = torch.Generator().manual_seed(1234)
    n, resolution = 16, model.resolution
    z = torch.randn(n, model.z_dim, generator=generator)
    y = torch.randint(model.num_classes, (n,), generator=generator) if model.num_classes else None
    x = torch.rand(n, 3, resolution, resolution, generator=generator) * 2 - 1

    def outputs(state):
        for name in ("generator", "discriminator"):
            prefix = f"{name}."
            getattr(model, name).load_state_dict({k[len(prefix):]: v for k, v in state.items() if k.startswith(prefix)})
        with torch.no_grad():
            return model.generator.train()(z, y), model.discriminator.eval()(x, y)

    (g0, d0), (ga, da), (gb, db) = outputs(initial), outputs(state_a), outputs(state_b)
    return {"generator": float((gb - ga).norm() / (ga - g0).norm()),
            "discriminator": float((db - da).norm() / (da - d0).norm())}
