"""Does D memorise its training set? The train / held-out test of the BigGAN paper (Brock et al. 2019, Sec. 4.2):
a discriminator that has memorised the training images scores them as real far more often than images of the
same distribution it never saw (there: over 98% vs 50-55% on ImageNet)."""
import numpy as np
import pytorch_lightning as pl
import torch
from pytorch_lightning.utilities import rank_zero_warn

from callbacks.monitor import Monitor
from lit_gans.discriminate import discriminate

FAKE_SEED = 7919  # the fresh fakes of every evaluation come from this fixed seed, never from the training streams


class DiscriminatorMemorization(Monitor):
    """Every `every_n_g_steps` generator steps and at the end of training, score fixed subsets of `num_images`
    training reals, held-out reals and fresh fakes with D, and log under "memorization/":

        train_real_frac, held_out_real_frac, fake_real_frac   fraction of each set D scores as real (logit > 0)
        train_logit, held_out_logit, fake_logit               mean logits
        gap                                                   train_real_frac - held_out_real_frac
        r_t                                                   ADA's overfitting heuristic E[sign(D(x))] on the
                                                              training reals (Karras et al. 2020, Sec. 3)

    The subsets are evenly spaced over each split; the held-out split comes from the DataModule's public interface
    (`has_held_out`, `images(..., split="held_out")`), and without one only the training side is logged (said
    once). D runs in eval mode (no spectral-norm power iteration), G in eval mode without gradients, with their
    modes restored, and the fakes draw from their own seed: training, its weights and its random streams are
    unaffected. Progressive models are scored at their active stage's resolution. `self.history` keeps every
    evaluation (with g_step and kimg).

    A `Monitor`: an error inside it is reported once and switches it off instead of ending the run (`strict=True`
    or LIT_GANS_DEBUG=1 lets it end the run).
    """

    def __init__(self, every_n_g_steps: int = 250, num_images: int = 256, batch_size: int = 256, strict: bool = False):
        if every_n_g_steps < 1 or num_images < 1 or batch_size < 1:
            raise ValueError(f"every_n_g_steps, num_images and batch_size must be positive, got "
                             f"{every_n_g_steps}, {num_images}, {batch_size}")
        self.every_n_g_steps, self.num_images, self.batch_size = every_n_g_steps, num_images, batch_size
        self.strict = strict
        self.history: list[dict] = []
        self.last_step = -1
        self.held_out = False

    def setup(self, trainer: pl.Trainer, pl_module, stage: str) -> None:
        data = trainer.datamodule
        self.held_out = bool(getattr(data, "has_held_out", False))
        if not self.held_out:
            rank_zero_warn(f"DiscriminatorMemorization: {type(data).__name__} has no held-out split; logging the "
                           "training side only")

    def on_train_batch_end(self, trainer: pl.Trainer, pl_module, outputs, batch, batch_idx: int) -> None:
        step = pl_module.g_steps
        if step != self.last_step and step > 0 and step % self.every_n_g_steps == 0:
            pl_module.log_dict(self.evaluate(pl_module, trainer.datamodule))

    def on_train_end(self, trainer: pl.Trainer, pl_module) -> None:
        if pl_module.g_steps != self.last_step:
            values = self.evaluate(pl_module, trainer.datamodule)
            for logger in trainer.loggers:
                logger.log_metrics(values, step=trainer.fit_loop.total_batch_idx + 1)

    def subset(self, data, split: str) -> np.ndarray:
        count = data.split_size(split)
        return np.unique(np.linspace(0, count - 1, min(self.num_images, count)).round().astype(np.int64))

    @torch.no_grad()
    def evaluate(self, pl_module, data) -> dict[str, float]:
        self.last_step = pl_module.g_steps
        discriminator = pl_module.discriminator
        resolution = pl_module.stage()[0] if hasattr(pl_module, "stage") else pl_module.resolution
        was_training = discriminator.training
        discriminator.eval()
        try:
            train = self.logits(pl_module, data, "train", resolution)
            held_out = self.logits(pl_module, data, "held_out", resolution) if self.held_out else None
            z, y = pl_module.sample_inputs(self.num_images, seed=FAKE_SEED)
            fakes = pl_module.generate(z, y, pl_module.generator, self.batch_size)
            fake = discriminate(discriminator, fakes, y, self.batch_size)
        finally:
            discriminator.train(was_training)
        values = {"memorization/train_real_frac": float((train > 0).float().mean()),
                  "memorization/train_logit": float(train.mean()),
                  "memorization/fake_real_frac": float((fake > 0).float().mean()),
                  "memorization/fake_logit": float(fake.mean()),
                  "memorization/r_t": float(train.sign().mean())}
        if held_out is not None:
            values.update({"memorization/held_out_real_frac": float((held_out > 0).float().mean()),
                           "memorization/held_out_logit": float(held_out.mean())})
            values["memorization/gap"] = values["memorization/train_real_frac"] - values["memorization/held_out_real_frac"]
        self.history.append({"g_step": pl_module.g_steps, "kimg": pl_module.images_seen / 1000, **values})
        return values

    def logits(self, pl_module, data, split: str, resolution: int) -> torch.Tensor:
        indices = self.subset(data, split)
        images = data.images(indices, resolution, split=split).to(pl_module.device).float() / 127.5 - 1
        labels = data.image_labels(indices, split=split).to(pl_module.device) if pl_module.num_classes else None
        return discriminate(pl_module.discriminator, images, labels, self.batch_size)
