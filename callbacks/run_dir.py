"""Where a run writes its files: the folder that holds `checkpoints/`, so samples and configs sit beside them."""
from pathlib import Path

import pytorch_lightning as pl


def run_dir(trainer: pl.Trainer) -> Path:
    """<save_dir>/<logger name>/<logger version>, as ModelCheckpoint resolves it; default_root_dir without a logger.

    With a W&B logger this creates the W&B run: call it on global rank 0 only.
    """
    if not trainer.loggers:
        return Path(trainer.default_root_dir)
    logger = trainer.loggers[0]
    version = logger.version if isinstance(logger.version, str) else f"version_{logger.version}"
    return Path(logger.save_dir or trainer.default_root_dir) / str(logger.name) / version
