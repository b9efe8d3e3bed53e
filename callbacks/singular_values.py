"""Top singular values of the spectrally normalised layers: the instability signal of the BigGAN paper (Sec. 4.1)."""
import pytorch_lightning as pl

from callbacks.monitor import Monitor
from lit_gans.layers import spectral_norm_sigmas


class SingularValues(Monitor):
    """Every `every_n_g_steps` generator steps, log sigma_0 of every spectrally normalised weight of G and D.

    Keys: "sv/G/<layer>", "sv/D/<layer>" (with `per_layer`) and the maxima "sv/G_max", "sv/D_max". Sigma is the
    power-iteration estimate the layer divides its weight by (no extra iteration is run). A sigma that explodes
    in the top layers of G typically precedes collapse in BigGAN training.

    A `Monitor`: an error inside it is reported once and switches it off instead of ending the run (`strict=True`
    or LIT_GANS_DEBUG=1 lets it end the run).
    """

    def __init__(self, every_n_g_steps: int = 100, per_layer: bool = True, strict: bool = False):
        if every_n_g_steps < 1:
            raise ValueError(f"every_n_g_steps must be positive, got {every_n_g_steps}")
        self.every_n_g_steps, self.per_layer, self.strict = every_n_g_steps, per_layer, strict
        self.last_step = -1

    def on_train_batch_end(self, trainer: pl.Trainer, pl_module, outputs, batch, batch_idx: int) -> None:
        step = pl_module.g_steps
        if step != self.last_step and step % self.every_n_g_steps == 0 and step > 0:
            self.last_step = step
            pl_module.log_dict(self.values(pl_module))

    def values(self, pl_module) -> dict[str, float]:
        values = {}
        for network, module in (("G", pl_module.generator), ("D", pl_module.discriminator)):
            sigmas = spectral_norm_sigmas(module)
            if not sigmas:
                continue
            if self.per_layer:
                values.update({f"sv/{network}/{name}": float(sigma) for name, sigma in sigmas.items()})
            values[f"sv/{network}_max"] = float(max(sigmas.values()))
        return values
