"""LIT_GANS_DEBUG=1: what the command line hides by default, shown for development.

With it set, errors in the input end with their traceback (`lit_gans.cli.console`), an error inside a monitor
(`callbacks.Monitor`) ends the run, and the dependencies' notices that a user cannot act on are printed again.
"""
import logging
import os
import warnings

# What Lightning prints that says nothing about the user's run: its advertisements (log records starting with this)
# and the model summary's warning that it sizes bf16 weights as 32-bit ones (regular expressions of warnings).
LIGHTNING_TIP = "💡 Tip:"
LIGHTNING_NOTICES = (r"Precision \S+ is not supported by the model summary",)


def debugging() -> bool:
    """Whether LIT_GANS_DEBUG is set to anything but "" or "0"."""
    return os.environ.get("LIT_GANS_DEBUG", "") not in ("", "0")


class _DropNotices(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return not record.getMessage().startswith(LIGHTNING_TIP)


def hide_dependency_noise() -> None:
    """Silence, for this process, what a user of the command line cannot act on: deprecation warnings
    (DeprecationWarning, PendingDeprecationWarning, FutureWarning: they ask the authors of the calling code, not
    the user, to change something), Lightning's advertisements and `LIGHTNING_NOTICES`. Warnings that ask the user
    to do something (a config mistake, a skipped callback, a slow precision) are kept. No effect under
    LIT_GANS_DEBUG=1."""
    if debugging():
        return
    for category in (DeprecationWarning, PendingDeprecationWarning, FutureWarning):
        warnings.filterwarnings("ignore", category=category)
    for message in LIGHTNING_NOTICES:
        warnings.filterwarnings("ignore", message=message)
    for name in ("pytorch_lightning.utilities.rank_zero", "lightning_fabric.utilities.rank_zero",
                 "lightning_utilities.core.rank_zero"):
        logger = logging.getLogger(name)
        if not any(isinstance(f, _DropNotices) for f in logger.filters):
            logger.addFilter(_DropNotices())
