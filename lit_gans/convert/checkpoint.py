"""Writing a converted model as a lit-gans checkpoint: the layout Lightning writes, so that `sample`, `evaluate`,
`interpolate`, `GAN.load_from_checkpoint` and `init_from` fine-tuning read it like a trained run's."""
import os
from pathlib import Path

import pytorch_lightning as pl
import torch

from lit_gans.gan import GAN


def converted_checkpoint(model: GAN, networks: tuple[str, ...], source: dict, counters: dict | None = None,
                         optimizer_states: list[dict] | None = None) -> dict:
    """The checkpoint of `model` holding the state of `networks` only (e.g. no discriminator when none was
    released), its hyperparameters (and class path, for the CLI), zero counters unless given, and `source`
    (where the weights came from) under checkpoint["lit_gans"]["converted"]."""
    state = {k: v for k, v in model.state_dict().items() if k.split(".", 1)[0] in networks}
    hparams = dict(model.hparams)
    cls = type(model)
    hparams["_class_path"] = f"{cls.__module__}.{cls.__qualname__}"  # as LightningCLI writes them: the CLI and
    hparams["_instantiator"] = "pytorch_lightning.cli.instantiate_module"  # load_from_checkpoint rebuild the class
    counters = {"d_micro": 0, "d_steps": 0, "g_steps": 0, "images_seen": 0, "skipped_steps": 0, **(counters or {})}
    checkpoint = {
        "state_dict": state,
        "hyper_parameters": hparams,
        "lit_gans": {"model": cls.__name__, **counters, "converted": {**source, "networks": list(networks)}},
        "pytorch-lightning_version": pl.__version__,
        "epoch": 0,
        "global_step": 0,
    }
    if optimizer_states is not None:
        checkpoint["optimizer_states"] = optimizer_states
        checkpoint["lr_schedulers"] = []
    return checkpoint


def save_atomically(checkpoint: dict, path: str | Path) -> Path:
    """torch.save to `path` through a temporary file in the same folder: the file appears whole or not at all."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".partial-{path.name}")
    torch.save(checkpoint, partial)
    os.replace(partial, path)
    return path
