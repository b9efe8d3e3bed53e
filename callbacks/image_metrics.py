"""Image metrics during training (FID, KID, IS, precision/recall, density/coverage, intra-class FID, SWD,
MS-SSIM): a schedule around `lit_gans.evaluation.Evaluator`."""
import pytorch_lightning as pl
import torch

from callbacks.monitor import Monitor
from lit_gans.evaluation.evaluator import Evaluator, generated_batches


class ImageMetrics(Monitor):
    """Every `every_n_g_steps` generator steps and at the end of training, log the evaluator's `metrics` (default
    FID and KID; any of fid, kid, is, prc, prdc, ifid, swd, ms_ssim; `inception_score` adds IS over 10 splits) of
    `num_samples` generated images against `num_real` training images.

    The evaluator (`self.evaluator`) owns the metrics, the feature extractor and the cached reference statistics;
    see `lit_gans.evaluation.evaluator` for the protocol. Samples come from `generator_ema` (optional truncation);
    under DDP every rank generates and scores its rows of the same global set of samples with rank 0's BatchNorm
    statistics, so the values match one process. Progressive models are scored once their active stage reaches
    the full resolution. Nothing of the evaluator lives in the LightningModule, so checkpoints carry no
    Inception weights.

    Logs metrics/fid, metrics/kid_mean, metrics/kid_std, metrics/is_mean, metrics/is_std, metrics/precision,
    metrics/recall, metrics/density, metrics/coverage, metrics/ifid, metrics/swd_<level> and metrics/swd_avg,
    metrics/ms_ssim and metrics/ms_ssim_real, as asked; `self.history` keeps every evaluation, and loggers with
    `log_table` (W&B) receive it as the table "metrics" at the end of training.

    A `Monitor`: an error inside it is reported once and switches it off instead of ending the run (`strict=True`
    or LIT_GANS_DEBUG=1 lets it end the run).
    """

    def __init__(self, every_n_g_steps: int = 5000, num_samples: int = 10000, num_real: int | None = None,
                 truncation: float | None = None, batch_size: int = 100, kid_subsets: int = 100,
                 kid_subset_size: int = 1000, inception_weights: str | None = None, use_ema: bool = True,
                 seed: int = 0, stats_dir: str | None = None, inception_score: bool = False,
                 metrics: list[str] | None = None, swd_images: int = 16384, ms_ssim_pairs: int = 10000,
                 strict: bool = False):
        if every_n_g_steps < 1 or num_samples < 2:
            raise ValueError(f"every_n_g_steps must be >= 1 and num_samples >= 2, got {every_n_g_steps}, {num_samples}")
        if (metrics is None or "kid" in metrics) and kid_subset_size > num_samples:
            raise ValueError(f"kid_subset_size {kid_subset_size} exceeds num_samples {num_samples}")
        self.every_n_g_steps, self.num_samples = every_n_g_steps, num_samples
        self.truncation, self.batch_size, self.use_ema, self.seed = truncation, batch_size, use_ema, seed
        self.strict = strict
        self.evaluator = Evaluator(num_real or num_samples, batch_size, kid_subsets, kid_subset_size, inception_weights,
                                   inception_score, stats_dir, metrics=metrics, swd_images=swd_images,
                                   ms_ssim_pairs=ms_ssim_pairs, seed=seed)
        self.last_step = -1
        self.history: list[dict] = []

    def setup(self, trainer: pl.Trainer, pl_module, stage: str) -> None:
        self.evaluator.prepare()

    def on_train_batch_end(self, trainer: pl.Trainer, pl_module, outputs, batch, batch_idx: int) -> None:
        step = pl_module.g_steps
        if step != self.last_step and step % self.every_n_g_steps == 0 and step > 0 and pl_module.at_full_resolution():
            pl_module.log_dict(self.evaluate(trainer, pl_module))

    def on_train_end(self, trainer: pl.Trainer, pl_module) -> None:
        if pl_module.g_steps != self.last_step and pl_module.at_full_resolution():
            values = self.evaluate(trainer, pl_module)
            for logger in trainer.loggers:
                logger.log_metrics(values, step=trainer.fit_loop.total_batch_idx + 1)
        if self.history and trainer.is_global_zero:
            columns = list(self.history[-1])
            for logger in trainer.loggers:
                if hasattr(logger, "log_table"):
                    logger.log_table("metrics", columns=columns, data=[[row.get(c) for c in columns] for row in self.history])

    @torch.no_grad()
    def evaluate(self, trainer: pl.Trainer, pl_module) -> dict[str, float]:
        """The metrics of the current generator (all ranks must call it together under DDP)."""
        self.last_step = pl_module.g_steps
        rank, world = trainer.global_rank, trainer.world_size
        if world > 1:  # per-rank BatchNorm statistics differ without SyncBatchNorm: all ranks sample with rank 0's
            generator = pl_module.generator_ema if self.use_ema else pl_module.generator
            buffers = list(generator.buffers())
            for buffer, value in zip(buffers, trainer.strategy.broadcast([b.cpu() for b in buffers], 0)):
                buffer.copy_(value)
        fakes = generated_batches(pl_module, self.num_samples, self.batch_size, self.truncation, self.seed,
                                  self.use_ema, rank, world)
        values = self.evaluator.score(fakes, trainer.datamodule, pl_module.resolution, rank, world, pl_module.device)
        self.history.append({"g_step": pl_module.g_steps, "kimg": pl_module.images_seen / 1000, **values})
        return values
