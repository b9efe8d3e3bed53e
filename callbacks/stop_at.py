"""Stop training after a number of images shown or generator steps, counted by the module itself."""
import pytorch_lightning as pl


class StopAt(pl.Callback):
    """Stop when `kimg` thousand real images have been shown to D, or after `g_steps` generator steps.

    Unlike `Trainer(max_steps=...)`, which counts the steps of both optimizers, these count what GAN papers report.
    The run stops at the end of the batch in which a limit is reached; None disables a limit. A run resumed at or
    past a limit (a requeued job that had already finished) trains no further batch.
    """

    def __init__(self, kimg: float | None = None, g_steps: int | None = None):
        if kimg is not None and kimg <= 0 or g_steps is not None and g_steps <= 0:
            raise ValueError(f"StopAt limits must be positive, got kimg={kimg}, g_steps={g_steps}")
        self.kimg, self.g_steps = kimg, g_steps

    def reached(self, pl_module) -> bool:
        return (self.kimg is not None and pl_module.images_seen >= self.kimg * 1000
                or self.g_steps is not None and pl_module.g_steps >= self.g_steps)

    def on_train_start(self, trainer: pl.Trainer, pl_module) -> None:
        if self.reached(pl_module):
            trainer.should_stop = True

    def on_train_batch_end(self, trainer: pl.Trainer, pl_module, outputs, batch, batch_idx: int) -> None:
        if self.reached(pl_module):
            trainer.should_stop = True
