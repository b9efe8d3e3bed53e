"""Track the quality of the digits default during training: classifier accuracy, a digits-feature FID, precision,
recall and within-class spread."""
import time

import pytorch_lightning as pl
from pytorch_lightning.utilities import rank_zero_warn

from callbacks.monitor import Monitor
from datamodules import DigitsDataModule
from datamodules.digits import load_digits_tensors
from lit_gans.evaluation.digits import DigitsScorer


class DigitsQuality(Monitor):
    """Every `every_n_g_steps` generator steps and at the end of training, score `per_class` generated digits of each
    class (EMA generator) with a classifier trained on the real training split.

    Logs digits/accuracy, digits/fid, digits/precision, digits/recall, digits/spread and digits/accuracy_<class>
    (`lit_gans.evaluation.digits`), and once, at the start, the same numbers for real training digits under
    digits_real/ (the real-vs-real reference; also in `self.reference`). Results are kept in `self.history` (a
    list of dicts with g_step, kimg, seconds since the start of training and the scores) and `self.last`.
    It scores only class-conditional models trained on `datamodules.DigitsDataModule` and says once that it is
    skipped otherwise, so a digits config keeps working when its data is swapped. A progressive model is scored
    only once its active stage has reached the data's full resolution.

    A `Monitor`: an error inside it is reported once and switches it off instead of ending the run (`strict=True`
    or LIT_GANS_DEBUG=1 lets it end the run).
    """

    def __init__(self, every_n_g_steps: int = 250, per_class: int = 100, use_ema: bool = True, seed: int = 0,
                 strict: bool = False):
        self.every_n_g_steps, self.per_class, self.use_ema, self.seed = every_n_g_steps, per_class, use_ema, seed
        self.strict = strict
        self.scorer: DigitsScorer | None = None
        self.history: list[dict] = []
        self.last: dict | None = None
        self.last_step = -1
        self.started = time.perf_counter()

    def on_train_start(self, trainer: pl.Trainer, pl_module) -> None:
        self.started = time.perf_counter()
        if self.scorer is not None:
            metrics = {k.replace("digits/", "digits_real/"): v for k, v in self.metrics(self.reference).items()
                       if "accuracy_" not in k}
            for logger in trainer.loggers:
                logger.log_metrics(metrics, step=trainer.fit_loop.total_batch_idx)

    def setup(self, trainer: pl.Trainer, pl_module, stage: str) -> None:
        datamodule = trainer.datamodule
        if not isinstance(datamodule, DigitsDataModule) or pl_module.num_classes != 10:
            found = type(datamodule).__name__ if not isinstance(datamodule, DigitsDataModule) else (
                f"a model with num_classes={pl_module.num_classes}")
            rank_zero_warn(f"DigitsQuality: skipped, it scores class-conditional models of the digits "
                           f"(DigitsDataModule, 10 classes) and this run has {found}")
            self.scorer = None
            return
        # the whole training split, even when D trains on a fraction of it, so that scores stay comparable
        train_x, train_y, held_x, held_y = load_digits_tensors(datamodule.resolution, datamodule.held_out, datamodule.seed)
        self.scorer = DigitsScorer.fit(train_x, train_y, held_x, held_y, seed=self.seed,
                                       reference_per_class=self.per_class)

    @property
    def reference(self) -> dict | None:
        """The scores of real training digits (`per_class` of each class): what a perfect generator would get."""
        return self.scorer.reference if self.scorer is not None else None

    def on_train_batch_end(self, trainer: pl.Trainer, pl_module, outputs, batch, batch_idx: int) -> None:
        step = pl_module.g_steps
        if self.scorer is not None and step != self.last_step and step % self.every_n_g_steps == 0 and step > 0 and self.ready(pl_module):
            pl_module.log_dict(self.metrics(self.evaluate(pl_module)))

    def on_train_end(self, trainer: pl.Trainer, pl_module) -> None:
        if self.scorer is not None and pl_module.g_steps != self.last_step and self.ready(pl_module):
            metrics = self.metrics(self.evaluate(pl_module))
            for logger in trainer.loggers:  # self.log is not allowed here; same x-axis (batches) as Lightning's logs
                logger.log_metrics(metrics, step=trainer.fit_loop.total_batch_idx + 1)

    @staticmethod
    def ready(pl_module) -> bool:
        """False while a progressive model is still below its (and the data's) full resolution."""
        return pl_module.at_full_resolution()

    def evaluate(self, pl_module) -> dict:
        self.last_step = pl_module.g_steps
        result = self.scorer.score_module(pl_module, self.per_class, self.use_ema, self.seed)
        result.update(g_step=pl_module.g_steps, kimg=pl_module.images_seen / 1000,
                      seconds=time.perf_counter() - self.started)
        self.history.append(result)
        self.last = result
        return result

    @staticmethod
    def metrics(result: dict) -> dict[str, float]:
        metrics = {f"digits/{k}": result[k] for k in ("accuracy", "fid", "precision", "recall", "spread")}
        metrics.update({f"digits/accuracy_{c}": a for c, a in result["accuracy_per_class"].items()})
        return metrics
