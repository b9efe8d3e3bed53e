"""Callbacks that observe training and never end it: an error inside one is reported once and switches it off."""
import functools
import traceback
import warnings
from pathlib import Path

import pytorch_lightning as pl
import torch

from lit_gans.debug import debugging

# Errors that mean the run itself is broken, wherever they surface: they end the run even from a monitor. A failed
# CPU allocation is a RuntimeError ("DefaultCPUAllocator: can't allocate memory"), recognised by its message.
FATAL = (torch.cuda.OutOfMemoryError, MemoryError)
OUT_OF_MEMORY = ("can't allocate memory", "out of memory")


def fatal(error: Exception) -> bool:
    """Whether `error` means the run itself is broken: out of memory, on the GPU or the CPU."""
    return isinstance(error, FATAL) or isinstance(error, RuntimeError) and any(
        text in str(error) for text in OUT_OF_MEMORY)


# The Callback hooks a monitor's errors are caught in (every hook but the state-dict pair, whose return value a
# checkpoint needs).
HOOKS = tuple(name for name, value in vars(pl.Callback).items()
              if callable(value) and (name.startswith("on_") or name in ("setup", "teardown")))


class MonitorWarning(UserWarning):
    """A monitor raised an error and was switched off for the rest of the run."""


class Monitor(pl.Callback):
    """Base class of the callbacks that observe training without changing it: sample grids, metrics, probes.

    Every hook a subclass defines (`HOOKS`) is guarded: an exception raised inside it does not end the run. It is
    reported once, as a `MonitorWarning` naming the callback, the hook, the error and where it was raised, and the
    callback is switched off for the rest of the run (its hooks do nothing). Training, checkpoints and the exit
    status are unaffected. Out-of-memory errors (`fatal`) still end the run, as do errors raised by the training
    step itself (non-finite losses, data errors), which no monitor catches.

    `strict = True` on an instance, or LIT_GANS_DEBUG=1 in the environment, lets every error end the run again
    (development). `failure` holds the report of the error that switched the callback off (None while it runs).

    Under DDP each rank decides for itself; an error raised on some ranks only, inside a metric that gathers
    across ranks, leaves the other ranks waiting in the collective, as any one-sided error does.
    """

    strict: bool = False
    failure: str | None = None

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        for name in HOOKS:
            if name in cls.__dict__:
                setattr(cls, name, guarded(cls.__dict__[name]))


def guarded(hook):
    """`hook` (self, trainer, ...) -> the same hook, which reports an error and switches its monitor off instead
    of raising it."""
    if getattr(hook, "__guarded__", False):
        return hook

    @functools.wraps(hook)
    def run(self: Monitor, trainer: pl.Trainer, *args, **kwargs):
        if self.failure is not None:
            return None
        try:
            return hook(self, trainer, *args, **kwargs)
        except Exception as error:
            if self.strict or debugging() or fatal(error):
                raise
            self.failure = report(self, hook.__name__, error, trainer)
            code = hook.__code__  # the warning points at the hook, not at Lightning's caller
            warnings.warn_explicit(self.failure, MonitorWarning, code.co_filename, code.co_firstlineno, hook.__module__)
            return None

    run.__guarded__ = True
    return run


def report(monitor: Monitor, hook: str, error: Exception, trainer: pl.Trainer) -> str:
    """One paragraph: which monitor, which hook, the error and the line that raised it, and what happens now."""
    frame = traceback.extract_tb(error.__traceback__)[-1]
    where = f"{Path(frame.filename).name}:{frame.lineno}"
    rank = f"rank {trainer.global_rank}: " if getattr(trainer, "world_size", 1) > 1 else ""
    message = str(error).strip().splitlines()[0] if str(error).strip() else ""
    return (f"{rank}{type(monitor).__name__} is switched off for the rest of the run: its {hook} hook raised "
            f"{type(error).__name__}{': ' + message if message else ''} ({where}). Training, checkpoints and the "
            f"exit status are unaffected; set LIT_GANS_DEBUG=1 (or strict=True on the callback) to make such "
            f"errors end the run.")
