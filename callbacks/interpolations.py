"""Pictures of the latent space at the end of training, written in the run folder and logged to the tracker."""
import pytorch_lightning as pl

from callbacks.monitor import Monitor
from callbacks.run_dir import run_dir
from lit_gans.images import save_png
from lit_gans.interpolation import pictures, sheet


class Interpolations(Monitor):
    """At the end of training, the sheets of `lit-gans interpolate` (latent interpolation, class interpolation
    where G has a shared class embedding, truncation strip) for `generator_ema`: written as
    <run dir>/interpolations/<kind>.png and logged to loggers with `log_image` (W&B) as uint8 images
    "interpolation/<kind>". The CLI adds it to every run.

    A `Monitor`: an error inside it is reported once and switches it off instead of ending the run (`strict=True`
    or LIT_GANS_DEBUG=1 lets it end the run).
    """

    def __init__(self, rows: int = 4, frames: int = 8, classes: list[int] | None = None, seed: int = 0,
                 truncation: float | None = None, strict: bool = False):
        self.options = dict(rows=rows, frames=frames, classes=classes, seed=seed, truncation=truncation)
        self.strict = strict
        self.written: dict = {}

    def on_train_end(self, trainer: pl.Trainer, pl_module) -> None:
        if trainer.global_rank != 0 or not pl_module.at_full_resolution():
            return
        for kind, picture in pictures(pl_module, **self.options).items():
            grid = sheet(picture)
            self.written[kind] = save_png(grid, run_dir(trainer) / "interpolations" / f"{kind}.png")
            for logger in trainer.loggers:
                if hasattr(logger, "log_image"):
                    logger.log_image(f"interpolation/{kind}", [grid.permute(1, 2, 0).numpy()],
                                     step=trainer.fit_loop.total_batch_idx + 1, caption=[f"g_step {pl_module.g_steps}"])
