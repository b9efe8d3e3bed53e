"""`AtomicCheckpointIO`: Lightning's checkpoint writer, with saves to local paths that never destroy the previous
file (`lit_gans.atomic`), wherever $TMPDIR is. Remote URLs (s3://, gs://, ...) keep fsspec's transactional upload.

Every `GAN` installs it in place of Lightning's default writer when it is set up for training (`install`), so runs
from the command line and from Python get it alike; a CheckpointIO plugin the user gives is kept.
"""
from pathlib import Path
from typing import Any

import torch
from fsspec.utils import get_protocol
from lightning_fabric.plugins.io.torch_io import TorchCheckpointIO


def is_local(path) -> bool:
    return get_protocol(str(path)) in ("file", "local")


class AtomicCheckpointIO(TorchCheckpointIO):
    """TorchCheckpointIO whose local saves are atomic and durable: a temporary file beside the checkpoint, fsynced,
    then renamed over it. A kill during a save leaves the previous checkpoint loadable."""

    def save_checkpoint(self, checkpoint: dict[str, Any], path, storage_options: Any | None = None) -> None:
        if not is_local(path):
            return super().save_checkpoint(checkpoint, path, storage_options)
        if storage_options is not None:
            raise TypeError(f"{type(self).__name__}.save_checkpoint takes no storage_options, got {storage_options!r}")
        from lit_gans.atomic import write_atomically

        write_atomically(Path(str(path).removeprefix("file://")), lambda f: torch.save(checkpoint, f))


def install(trainer) -> None:
    """Make `AtomicCheckpointIO` the trainer's checkpoint writer unless a plugin chose another (any subclass of
    Lightning's TorchCheckpointIO, or another writer, is kept)."""
    strategy = trainer.strategy
    if type(strategy.checkpoint_io) is TorchCheckpointIO:
        strategy.checkpoint_io = AtomicCheckpointIO()
