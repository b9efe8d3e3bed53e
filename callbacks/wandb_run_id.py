"""The W&B run a checkpoint belongs to, recorded in the checkpoint so that resuming continues that run."""
import pytorch_lightning as pl
from pytorch_lightning.loggers import WandbLogger


class WandbRunId(pl.Callback):
    """Write the run id of the trainer's WandbLogger into every checkpoint as checkpoint["wandb"]["run_id"]
    (`lit_gans.wandb_logger.WandbLogger.resume_from` reads it). The CLI adds this callback to every run; add it
    yourself when training from Python with W&B."""

    def on_save_checkpoint(self, trainer: pl.Trainer, pl_module, checkpoint: dict) -> None:
        run_id = next((str(logger.version) for logger in trainer.loggers
                       if isinstance(logger, WandbLogger) and logger.version), None)
        if run_id:
            checkpoint["wandb"] = {"run_id": run_id}
