"""Linear learning-rate decay for both networks, scheduled by the module's own counters."""
import pytorch_lightning as pl

UNITS = ("kimg", "g_steps")


class LRDecay(pl.Callback):
    """Scale every learning rate linearly from its initial value at `start` to `final` times it at `end`, and hold
    it there; `unit` is "kimg" (thousand real images shown to D) or "g_steps" (generator steps).

    SN-GAN decays to zero over its whole run (Miyato et al. 2018: `LRDecay(0, 50000, unit="g_steps")`); the digits
    default over its last part. The rate is a function of the module's counters and each parameter group keeps its
    initial rate in the optimizer state ("initial_lr", as torch's schedulers do), so a resumed run continues on the
    same schedule. The module logs the rates (lr/g, lr/d). Not for `ProGrowth` with per-resolution `lrates`,
    which set the rates themselves.
    """

    def __init__(self, start: float, end: float, unit: str = "kimg", final: float = 0.0):
        if unit not in UNITS:
            raise ValueError(f"LRDecay: unit must be one of {UNITS}, got {unit!r}")
        if not 0 <= start < end:
            raise ValueError(f"LRDecay: need 0 <= start < end, got start={start}, end={end}")
        if not 0 <= final <= 1:
            raise ValueError(f"LRDecay: final is a fraction of the initial rate in [0, 1], got {final}")
        self.start, self.end, self.unit, self.final = start, end, unit, final

    def scale(self, position: float) -> float:
        """The factor on the initial rates at `position` (in `unit`)."""
        t = min(max((position - self.start) / (self.end - self.start), 0.0), 1.0)
        return 1.0 - t * (1.0 - self.final)

    def position(self, pl_module) -> float:
        return pl_module.images_seen / 1000 if self.unit == "kimg" else float(pl_module.g_steps)

    def on_train_batch_start(self, trainer: pl.Trainer, pl_module, batch, batch_idx: int) -> None:
        scale = self.scale(self.position(pl_module))
        for optimizer in trainer.optimizers:
            for group in optimizer.param_groups:
                group.setdefault("initial_lr", group["lr"])
                group["lr"] = group["initial_lr"] * scale
