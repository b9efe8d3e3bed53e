"""Sample grids from fixed latents, written as PNG in the run folder and logged to the experiment tracker."""
import pytorch_lightning as pl
import torch

from callbacks.monitor import Monitor
from callbacks.run_dir import run_dir
from lit_gans.images import image_grid, save_png


class SampleGrid(Monitor):
    """Every `every_n_g_steps` generator steps and at the end of training, render a grid from the same latents.

    Conditional models: one row per class (`classes`, default up to 10 evenly spaced classes), `per_row` samples
    each. Unconditional models: `per_row` x `per_row` samples. Files: <run dir>/samples/g<step>.png and
    <run dir>/samples/last.png. Loggers with `log_image` (W&B) receive the uint8 grid under "samples".

    A `Monitor`: an error inside it is reported once and switches it off instead of ending the run (`strict=True`
    or LIT_GANS_DEBUG=1 lets it end the run).
    """

    def __init__(self, every_n_g_steps: int = 500, per_row: int = 10, classes: list[int] | None = None,
                 truncation: float | None = None, use_ema: bool = True, seed: int = 1234, strict: bool = False):
        if every_n_g_steps < 1:
            raise ValueError(f"every_n_g_steps must be positive, got {every_n_g_steps}")
        self.every_n_g_steps, self.per_row, self.classes = every_n_g_steps, per_row, classes
        self.truncation, self.use_ema, self.seed, self.strict = truncation, use_ema, seed, strict
        self.last_step = -1
        self.last_path = None

    def setup(self, trainer: pl.Trainer, pl_module, stage: str) -> None:
        """Check `classes` against the model before training, not at the first grid."""
        wrong = [c for c in self.classes or [] if pl_module.num_classes and not 0 <= c < pl_module.num_classes]
        if wrong:
            raise ValueError(f"classes {wrong} are not classes of this model (0 to {pl_module.num_classes - 1})")

    def on_train_batch_end(self, trainer: pl.Trainer, pl_module, outputs, batch, batch_idx: int) -> None:
        step = pl_module.g_steps
        if step != self.last_step and step % self.every_n_g_steps == 0 and step > 0:
            self.render(trainer, pl_module, f"g{step:07d}.png", trainer.fit_loop.total_batch_idx)

    def on_train_end(self, trainer: pl.Trainer, pl_module) -> None:
        self.render(trainer, pl_module, "last.png", trainer.fit_loop.total_batch_idx + 1)

    def grid(self, pl_module) -> torch.Tensor:
        """The uint8 grid (3, H', W') for the module's current (EMA) generator."""
        if pl_module.num_classes:
            classes = self.classes
            if classes is None:
                rows = min(10, pl_module.num_classes)
                classes = [round(i * (pl_module.num_classes - 1) / max(rows - 1, 1)) for i in range(rows)]
            y = torch.tensor(classes).repeat_interleave(self.per_row)
        else:
            y = None
        n = len(y) if y is not None else self.per_row**2
        images = pl_module.sample(n, y=y, truncation=self.truncation, use_ema=self.use_ema, seed=self.seed)
        return image_grid(images, nrow=self.per_row)

    def render(self, trainer: pl.Trainer, pl_module, name: str, log_step: int) -> None:
        """Write the grid; loggers get it at `log_step`, the logger step of this batch's scalars (batches, not
        trainer.global_step, which counts both optimizers)."""
        self.last_step = pl_module.g_steps
        if trainer.global_rank != 0:
            return
        grid = self.grid(pl_module)
        self.last_path = save_png(grid, run_dir(trainer) / "samples" / name)
        for logger in trainer.loggers:
            if hasattr(logger, "log_image"):
                logger.log_image("samples", [grid.permute(1, 2, 0).numpy()], step=log_step,
                                 caption=[f"g_step {pl_module.g_steps}"])
