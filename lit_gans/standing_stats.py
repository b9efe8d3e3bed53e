"""Standing statistics (BigGAN, Brock et al. 2019, Sec. 4.1 and Appendix C): re-estimate G's BatchNorm
statistics from many generated batches before sampling, instead of using the running averages from training."""
from typing import Callable

import torch
import torch.nn as nn

BATCH_NORMS = (nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d, nn.SyncBatchNorm)


@torch.no_grad()
def accumulate_standing_stats(generator: nn.Module, make_inputs: Callable[[int], tuple], num_batches: int) -> nn.Module:
    """Replace the running mean/var of every BatchNorm in `generator` by their average over `num_batches` forwards.

    make_inputs(i) -> the generator's positional inputs for batch i, e.g. (z, y). Only the BatchNorm layers switch
    to training mode, so spectral-norm vectors and everything else stay untouched; the generator is left in eval
    mode. Modifies `generator` in place and returns it.
    """
    if num_batches < 1:
        raise ValueError(f"standing statistics need at least one batch, got {num_batches}")
    norms = [m for m in generator.modules() if isinstance(m, BATCH_NORMS)]
    if not norms:
        raise ValueError("the generator has no BatchNorm layers, so it has no statistics to re-estimate")
    generator.eval()
    momenta = [m.momentum for m in norms]
    for m in norms:
        m.reset_running_stats()
        m.momentum = None  # cumulative moving average: the mean over all batches seen since the reset
        m.train()
    try:
        for i in range(num_batches):
            generator(*make_inputs(i))
    finally:
        for m, momentum in zip(norms, momenta):
            m.momentum = momentum
            m.eval()
    return generator
