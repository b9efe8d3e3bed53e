"""Weights & Biases logging that never blocks: without credentials or network it logs offline and says how to sync."""
import netrc
import os
import socket
import threading
from pathlib import Path

from pytorch_lightning.loggers import WandbLogger as LightningWandbLogger
from pytorch_lightning.utilities import rank_zero_info

PROJECT, SAVE_DIR = "lit-gans", "runs"  # runs go to <save_dir>/<project>/<run id>/ (`callbacks.run_dir`)


def wandb_reachable(host: str = "api.wandb.ai", timeout: float = 3.0) -> bool:
    """True if W&B credentials exist and `host` accepts a TCP connection within `timeout` seconds."""
    if not os.environ.get("WANDB_API_KEY"):
        try:
            if netrc.netrc().authenticators(host) is None:
                return False
        except (FileNotFoundError, netrc.NetrcParseError):
            return False
    result = []

    def probe():
        try:
            socket.create_connection((host, 443), timeout=timeout).close()
            result.append(True)
        except OSError:
            pass

    thread = threading.Thread(target=probe, daemon=True)  # DNS lookups ignore socket timeouts
    thread.start()
    thread.join(timeout)
    return bool(result)


class WandbLogger(LightningWandbLogger):
    """Lightning's WandbLogger with `offline=None` (the default) meaning: online when W&B is reachable with
    credentials, offline otherwise. WANDB_MODE set in the environment (offline, disabled) is always respected.
    Runs are written under `save_dir` (default ./runs); offline runs are uploaded later with `wandb sync <dir>`.

    `log_model` logs ModelCheckpoint's checkpoints as W&B model artifacts ("all": every save, aliases latest and
    best; True: at the end), offline too: W&B keeps them with the offline run and `wandb sync` uploads them
    (Lightning's own logger refuses log_model when offline).
    """

    def __init__(self, project: str = PROJECT, save_dir: str = SAVE_DIR, offline: bool | None = None,
                 log_model: bool | str = False, **kwargs):
        Path(save_dir).mkdir(parents=True, exist_ok=True)
        if offline is None:
            offline = os.environ.get("WANDB_MODE") in ("offline", "dryrun") or (
                os.environ.get("WANDB_MODE") is None and not wandb_reachable())
            if offline and os.environ.get("WANDB_MODE") is None:
                rank_zero_info(f"W&B: no credentials or no network; logging offline under {Path(save_dir).resolve()}/wandb. "
                               "Upload later with: wandb sync <that folder>/offline-run-*")
        if offline and log_model:
            kwargs["mode"], offline = "offline", False  # wandb.init(mode="offline") stores the artifacts locally
        super().__init__(project=project, save_dir=save_dir, offline=offline, log_model=log_model, **kwargs)
        if self._wandb_init.get("anonymous") is None:  # W&B warns about the setting whenever it is passed at all
            self._wandb_init.pop("anonymous", None)

    def resume_from(self, ckpt_path: str | Path) -> str | None:
        """Continue the W&B run recorded in a checkpoint (by `callbacks.WandbRunId`) instead of starting a new one.

        Call before training starts (the CLI does it for `fit --ckpt_path`). Returns the run id, or None when the
        checkpoint records none or this logger already has a run or an explicit id.
        """
        import torch

        if self._experiment is not None or self._wandb_init.get("id") is not None:
            return None
        checkpoint = torch.load(ckpt_path, map_location="cpu", weights_only=True, mmap=True)
        run_id = checkpoint.get("wandb", {}).get("run_id")
        if run_id:
            self._wandb_init["id"] = self._id = run_id  # WandbLogger opens runs with resume="allow"
            rank_zero_info(f"W&B: resuming run {run_id}")
        return run_id
