"""Callbacks: EMA of the generator, sample grids, quality checks, diagnostics and stopping rules. All composable in
Python. The ones that only observe are `Monitor`s: an error inside one never ends the run."""
from callbacks.digits_quality import DigitsQuality
from callbacks.discriminator_memorization import DiscriminatorMemorization
from callbacks.ema import EMA
from callbacks.image_metrics import ImageMetrics
from callbacks.interpolations import Interpolations
from callbacks.lr_decay import LRDecay
from callbacks.monitor import Monitor, MonitorWarning
from callbacks.progrowth import ProGrowth
from callbacks.sample_grid import SampleGrid
from callbacks.singular_values import SingularValues
from callbacks.stop_at import StopAt
from callbacks.wandb_run_id import WandbRunId

__all__ = ["DigitsQuality", "DiscriminatorMemorization", "EMA", "ImageMetrics", "Interpolations", "LRDecay", "Monitor",
           "MonitorWarning", "ProGrowth", "SampleGrid", "SingularValues", "StopAt", "WandbRunId"]
