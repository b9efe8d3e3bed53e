"""BatchNorm statistics tabulated per truncation value, as in the TF-Hub BigGAN-deep generators.

The released BigGAN-deep generators carry, for every BatchNorm, the batch statistics measured at `rows` truncation
values t_k = k / (rows - 1), k = 0 .. rows - 1 (51 rows: a step of 0.02). The statistics for a truncation t are
blended from the two rows around it exactly as the `pytorch-pretrained-biggan` package does:

    coef, k = modf(t / step)                    (Python floats, step = 1 / (rows - 1))
    stats(t) = row[k]                           if coef == 0
             = coef * row[k] + (1 - coef) * row[k + 1]   otherwise

The fractional part weighs the *lower* row, the reverse of linear interpolation: at t = 0.405 (k = 20, coef 0.25)
the row of 0.42 weighs three times the row of 0.40, i.e. the blend is linear interpolation at the mirrored point
(2k + 1) * step - t. Because modf works on the rounded quotient, some grid values fall just below their row
(0.7 / 0.02 = 34.999..., which blends rows 34 and 35 with weight ~1 on row 34, the statistics of 0.68). Both
quirks are reproduced, so the converted weights give the package's images at every truncation.

The table is a pair of buffers on each BatchNorm (`truncation_mean`, `truncation_var`, shape (rows, C)), so it
lives in the network's state dict and checkpoints. `tabulated_statistics(network, t)` puts the blended rows into
the BatchNorms' running statistics for the duration of a `with` block (eval mode uses running statistics).
"""
import math
from contextlib import contextmanager
from typing import Iterator

import torch
import torch.nn as nn

from lit_gans.standing_stats import BATCH_NORMS

TABLE_BUFFERS = ("truncation_mean", "truncation_var")  # the buffers each tabulated BatchNorm carries


def add_truncation_tables(network: nn.Module, rows: int) -> nn.Module:
    """Give every BatchNorm of `network` a statistics table of `rows` truncation values (means 0, variances 1 until
    loaded). Returns `network`."""
    if rows < 2:
        raise ValueError(f"a truncation table needs at least 2 rows (truncation 0 and 1), got {rows}")
    for norm in batch_norms(network):
        norm.register_buffer(TABLE_BUFFERS[0], torch.zeros(rows, norm.num_features))
        norm.register_buffer(TABLE_BUFFERS[1], torch.ones(rows, norm.num_features))
    return network


def batch_norms(network: nn.Module) -> list[nn.Module]:
    return [m for m in network.modules() if isinstance(m, BATCH_NORMS)]


def tabulated_norms(network: nn.Module) -> list[nn.Module]:
    """The BatchNorms of `network` that carry a truncation table."""
    return [m for m in batch_norms(network) if hasattr(m, TABLE_BUFFERS[0])]


def blend(table: torch.Tensor, truncation: float) -> torch.Tensor:
    """The statistics (C,) for `truncation` in (0, 1] from a table (rows, C), as the package blends them."""
    if not 0 < truncation <= 1:
        raise ValueError(f"tabulated BatchNorm statistics cover truncation values in (0, 1], got {truncation}")
    coef, k = math.modf(truncation / (1.0 / (table.shape[0] - 1)))
    k = int(k)
    return table[k] if coef == 0.0 else table[k] * coef + table[k + 1] * (1 - coef)


@contextmanager
def tabulated_statistics(network: nn.Module, truncation: float | None) -> Iterator[None]:
    """Within the block, every tabulated BatchNorm of `network` normalises with the statistics of `truncation`
    (None: the row of truncation 1); its running statistics are restored afterwards. No-op for networks without
    tables."""
    norms = tabulated_norms(network)
    saved = [(m.running_mean.clone(), m.running_var.clone()) for m in norms]
    t = 1.0 if truncation is None else float(truncation)
    try:
        for m in norms:
            m.running_mean.copy_(blend(m.truncation_mean, t))
            m.running_var.copy_(blend(m.truncation_var, t))
        yield
    finally:
        for m, (mean, var) in zip(norms, saved):
            m.running_mean.copy_(mean)
            m.running_var.copy_(var)
