"""Progressive growing schedule of ProGAN (Karras et al. 2018, Sec. 3 and Appendix A.1)."""
import math
from collections import defaultdict

import pytorch_lightning as pl


class ProGrowth(pl.Callback):
    """Grow a `lit_gans.ProGAN` from `start_resolution` to its final resolution as a function of images shown.

    Each phase stabilises for `stabilize_kimg`, then fades in the next resolution over `fade_kimg`. With R =
    log2(final resolution), phase = stabilize_kimg + fade_kimg and k = kimg shown (the official formula):

        lod   = R - log2(start_resolution) - floor(k / phase) - max(k mod phase - stabilize_kimg, 0) / fade_kimg,
                clamped at >= 0
        resolution = 2^(R - floor(lod)),   alpha = 1 - (lod - floor(lod))

    so during a fade the new, higher resolution is already active (its batch size, learning rate and data) and
    alpha rises from 0 to 1. Before every batch the callback sets the stage on G, D and the EMA generator; the
    DataModule follows the same schedule (`set_schedule`), serving reals at that resolution, faded in by alpha,
    with `batch_sizes[resolution]` per batch. `lrates[resolution]` sets the learning rate of G and D (default:
    the module's lr_g / lr_d). With `reset_optimizer`, Adam's state is cleared whenever floor(lod) or ceil(lod)
    changes, i.e. at the start of every fade and every stabilisation, as the official code does. Everything is a
    function of the module's images_seen, so a run resumed mid-fade continues exactly.

    Defaults are the official code's (600 / 600 kimg); the paper used 800 / 800.
    """

    def __init__(self, start_resolution: int = 4, stabilize_kimg: float = 600, fade_kimg: float = 600,
                 batch_sizes: dict[int, int] | None = None, lrates: dict[int, float] | None = None,
                 reset_optimizer: bool = True):
        if start_resolution < 4 or start_resolution & (start_resolution - 1):
            raise ValueError(f"start_resolution must be a power of two >= 4, got {start_resolution}")
        if stabilize_kimg <= 0 or fade_kimg <= 0:
            raise ValueError(f"stabilize_kimg and fade_kimg must be positive, got {stabilize_kimg} and {fade_kimg}")
        self.start_resolution, self.stabilize_kimg, self.fade_kimg = start_resolution, stabilize_kimg, fade_kimg
        self.batch_sizes = {int(k): int(v) for k, v in (batch_sizes or {}).items()}
        self.lrates = {int(k): float(v) for k, v in (lrates or {}).items()}
        self.reset_optimizer = reset_optimizer
        self.final_resolution: int | None = None
        self.data_batch_size = None  # the DataModule's batch size for a resolution
        self.lod_bounds: tuple[int, int] | None = None  # (floor, ceil) of lod at the last batch

    def lod(self, kimg: float) -> float:
        phase = self.stabilize_kimg + self.fade_kimg
        phase_index = math.floor(kimg / phase)
        phase_kimg = kimg - phase_index * phase
        lod = (math.log2(self.final_resolution) - math.log2(self.start_resolution) - phase_index
               - max(phase_kimg - self.stabilize_kimg, 0.0) / self.fade_kimg)
        return max(lod, 0.0)

    def stage(self, images_shown: int) -> tuple[int, float]:
        """(resolution, alpha) after `images_shown` real images."""
        lod = self.lod(images_shown / 1000)
        return self.final_resolution >> math.floor(lod), 1.0 - (lod - math.floor(lod))

    def schedule(self, images_shown: int) -> tuple[int, float, int]:
        resolution, alpha = self.stage(images_shown)
        return resolution, alpha, self.batch_sizes.get(resolution, self.data_batch_size(resolution))

    def setup(self, trainer: pl.Trainer, pl_module, stage: str) -> None:
        if not hasattr(pl_module, "set_stage"):
            raise TypeError(f"ProGrowth needs a progressive model with set_stage(), got {type(pl_module).__name__}")
        self.final_resolution = pl_module.resolution
        if self.start_resolution > self.final_resolution:
            raise ValueError(f"start_resolution {self.start_resolution} exceeds the model's {self.final_resolution}")
        datamodule = trainer.datamodule
        if datamodule is None or not hasattr(datamodule, "set_schedule"):
            raise TypeError("ProGrowth needs a lit-gans DataModule (one with set_schedule) passed to fit()")
        self.data_batch_size = datamodule.batch_size_for
        datamodule.set_schedule(self.schedule)

    def on_train_batch_start(self, trainer: pl.Trainer, pl_module, batch, batch_idx: int) -> None:
        images = pl_module.images_seen
        resolution, alpha = self.stage(images)
        pl_module.set_stage(resolution, alpha)
        lod = self.lod(images / 1000)
        bounds = (math.floor(lod), math.ceil(lod))
        if self.reset_optimizer and self.lod_bounds is not None and bounds != self.lod_bounds:
            for optimizer in trainer.optimizers:
                optimizer.state = defaultdict(dict)
        self.lod_bounds = bounds
        if self.lrates:
            opt_g, opt_d = trainer.optimizers
            for optimizer, base in ((opt_g, pl_module.lr_g), (opt_d, pl_module.lr_d)):
                for group in optimizer.param_groups:
                    group["lr"] = self.lrates.get(resolution, base)
        pl_module.log_dict({"progress/resolution": float(resolution), "progress/alpha": alpha}, prog_bar=True)

    def state_dict(self) -> dict:
        return {"lod_bounds": self.lod_bounds}

    def load_state_dict(self, state_dict: dict) -> None:
        bounds = state_dict.get("lod_bounds")
        self.lod_bounds = tuple(bounds) if bounds is not None else None
