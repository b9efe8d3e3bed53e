"""Exponential moving average of the generator's weights (Karras et al. 2018; Yazici et al. 2019; BigGAN)."""
import pytorch_lightning as pl


class EMA(pl.Callback):
    """Make `pl_module.generator_ema` an average of G's parameters, updated right after every generator step (the
    module calls `update`; without this callback `generator_ema` is a copy of G).

    Only G is averaged; D is untouched. Parameters move as ema <- ema + (1 - beta) * (live - ema). Buffers (BatchNorm
    running statistics, spectral-norm power-iteration vectors) are copied from the live G, not averaged. Before
    generator step `start` the average is a plain copy of G.

    beta is `decay`, or, when `half_life_kimg` is given, 0.5 ** (images shown since the last update /
    (1000 * half_life_kimg)), so a snapshot's weight halves every `half_life_kimg` thousand real images. With
    `rampup`, the half-life is capped at `rampup` times the images shown so far (StyleGAN2-ADA's ramp-up).

    The average lives in the module's state dict (checkpoints, `load_from_checkpoint` and `lit-gans sample` read it);
    this callback's own counters live in the callback state. Sampling, sample grids and metrics use it.
    """

    def __init__(self, decay: float = 0.9999, start: int = 0, half_life_kimg: float | None = None,
                 rampup: float | None = None):
        if not 0 <= decay < 1:
            raise ValueError(f"EMA decay must lie in [0, 1), got {decay}")
        if half_life_kimg is not None and half_life_kimg <= 0:
            raise ValueError(f"half_life_kimg must be positive, got {half_life_kimg}")
        self.decay, self.start, self.half_life_kimg, self.rampup = decay, start, half_life_kimg, rampup
        self.updated_at_g_step = 0
        self.updated_at_images = 0

    def setup(self, trainer: pl.Trainer, pl_module, stage: str) -> None:
        pl_module.ema_updater = self

    def teardown(self, trainer: pl.Trainer, pl_module, stage: str) -> None:
        if pl_module.ema_updater is self:
            pl_module.ema_updater = None

    def update(self, pl_module) -> None:
        """Move the average after generator step `pl_module.g_steps`."""
        pl_module.update_generator_ema(self.beta(pl_module.g_steps, pl_module.images_seen))
        self.updated_at_g_step, self.updated_at_images = pl_module.g_steps, pl_module.images_seen

    def beta(self, g_steps: int, images_seen: int) -> float:
        """Weight kept by the average at this update (0 = copy)."""
        if g_steps <= self.start:
            return 0.0
        if self.half_life_kimg is None:
            return self.decay
        half_life = self.half_life_kimg * 1000
        if self.rampup is not None:
            half_life = min(half_life, images_seen * self.rampup)
        return 0.5 ** ((images_seen - self.updated_at_images) / max(half_life, 1e-8))

    def state_dict(self) -> dict:
        return {"updated_at_g_step": self.updated_at_g_step, "updated_at_images": self.updated_at_images}

    def load_state_dict(self, state_dict: dict) -> None:
        self.updated_at_g_step = state_dict["updated_at_g_step"]
        self.updated_at_images = state_dict["updated_at_images"]
