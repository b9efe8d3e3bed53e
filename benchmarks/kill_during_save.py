"""Kill -9 during checkpoint saves, with $TMPDIR on a tmpfs and the run on disk (a node-local $TMPDIR and a shared
run folder, the usual cluster layout): does `lit-gans fit --ckpt_path last` resume every time?

Each trial starts `lit-gans fit` on the digits with a 16 MB checkpoint written every other step, waits for two
saves, then sends SIGKILL at a random moment (0-30 ms) after the next save starts, and resumes with
`--ckpt_path last` for two more generator steps. Lightning's own writer (fsspec: a temporary file in $TMPDIR,
then a move) runs the same trials as the control.

    python -m benchmarks.kill_during_save --trials 10
"""
import argparse
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch
import yaml
from lightning_fabric.plugins.io.torch_io import TorchCheckpointIO

from benchmarks.digits_default import machine


class LightningsWriter(TorchCheckpointIO):
    """Lightning's TorchCheckpointIO under another class name, which `lit_gans.checkpoint_io.install` keeps."""


RECIPE = {
    "seed_everything": 0,
    "model": {"class_path": "lit_gans.SAGAN", "init_args": {"z_dim": 64, "ch": 48, "attn_res": 8, "n_dis": 1}},
    "data": {"class_path": "datamodules.DigitsDataModule", "init_args": {"resolution": 16, "batch_size": 16,
                                                                         "num_workers": 0}},
    "trainer": {"max_epochs": -1, "precision": "32-true", "logger": False, "enable_progress_bar": False,
                "enable_model_summary": False,
                "callbacks": [{"class_path": "pytorch_lightning.callbacks.ModelCheckpoint",
                               "init_args": {"save_last": True, "save_top_k": 0, "every_n_train_steps": 2}}]},
}


def fit(folder: Path, recipe: Path, writer: str, *args: str) -> subprocess.Popen:
    env = {**os.environ, "TMPDIR": "/dev/shm", "WANDB_MODE": "disabled", "PYTHONWARNINGS": "ignore"}
    plugins = ["--trainer.plugins=benchmarks.kill_during_save.LightningsWriter"] if writer == "lightning" else []
    return subprocess.Popen([sys.executable, "-m", "lit_gans", "fit", f"--config={recipe}",
                             f"--trainer.default_root_dir={folder}", *plugins, *args],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=env)


def saving(last: Path, writer: str, before) -> bool:
    """Whether a save of `last` is under way: its temporary file exists (atomic writer), or the file changed."""
    if writer == "atomic":
        return any(p.name.startswith(f".{last.name}.partial-") for p in last.parent.glob(".*"))
    now = last.stat()
    return (now.st_ino, now.st_size, now.st_mtime_ns) != before


def trial(root: Path, recipe: Path, writer: str, rng: random.Random) -> tuple[bool, bool, str]:
    """(killed during a save, resumed, note)."""
    folder = Path(tempfile.mkdtemp(dir=root))
    process = fit(folder, recipe, writer, "--trainer.callbacks+=callbacks.StopAt", "--trainer.callbacks.g_steps=100000")
    try:
        deadline = time.monotonic() + 300
        lasts = []
        while not lasts and time.monotonic() < deadline:
            lasts = list(folder.rglob("last.ckpt"))
            time.sleep(0.01)
        last = lasts[0]
        time.sleep(0.5)  # a few more saves
        before = (last.stat().st_ino, last.stat().st_size, last.stat().st_mtime_ns)
        while not saving(last, writer, before) and time.monotonic() < deadline:
            time.sleep(0.0002)
        time.sleep(rng.uniform(0, 0.03))
        during = saving(last, writer, before) if writer == "atomic" else True
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=60)
    finally:
        process.kill()
    try:
        steps = torch.load(last, map_location="cpu", weights_only=True)["lit_gans"]["g_steps"]
    except Exception as error:
        return during, False, f"{last} unreadable ({last.stat().st_size} bytes): {type(error).__name__}"
    resumed = fit(folder, recipe, writer, "--ckpt_path=last", "--trainer.callbacks+=callbacks.StopAt",
                  f"--trainer.callbacks.g_steps={steps + 2}")
    _, stderr = resumed.communicate(timeout=600)
    after = torch.load(last, map_location="cpu", weights_only=True)["lit_gans"]["g_steps"]
    ok = resumed.returncode == 0 and after == steps + 2
    return during, ok, f"g_steps {steps} -> {after}" if ok else stderr[-500:]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--trials", type=int, default=10)
    parser.add_argument("--writers", nargs="+", default=["atomic", "lightning"])
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(dir=Path.cwd(), prefix=".kill-battery-"))  # on disk, not on the tmpfs
    recipe = root / "recipe.yaml"
    recipe.write_text(yaml.safe_dump(RECIPE))
    rng = random.Random(0)
    print(f"machine: {machine()}; TMPDIR=/dev/shm (tmpfs), runs in {root}")
    for writer in args.writers:
        results = [trial(root, recipe, writer, rng) for _ in range(args.trials)]
        for during, ok, note in results:
            print(f"  {writer}: killed during a save {during}, resumed {ok}: {note}")
        print(f"{writer}: {sum(ok for _, ok, _ in results)}/{len(results)} resumed "
              f"({sum(d for d, _, _ in results)} kills landed during a save)")
    shutil.rmtree(root)


if __name__ == "__main__":
    main()
