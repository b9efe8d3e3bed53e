"""Checkpoint saves that never destroy the previous checkpoint: interrupted in Python, killed with SIGKILL halfway
through the write, and with $TMPDIR on another file system (a tmpfs), the usual cluster layout."""
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from lightning_fabric.plugins.io.torch_io import TorchCheckpointIO

from callbacks import StopAt
from conftest import digits, make_trainer
from lit_gans import SAGAN
from lit_gans.atomic import leftovers
from lit_gans.checkpoint_io import AtomicCheckpointIO

BIG = {"weights": torch.arange(8_000_000, dtype=torch.float32)}  # 32 MB: a save takes long enough to be hit


def test_an_interrupted_save_leaves_the_previous_checkpoint(tmp_path, monkeypatch):
    path = tmp_path / "last.ckpt"
    io = AtomicCheckpointIO()
    io.save_checkpoint({"step": 1, **BIG}, path)
    real_save = torch.save

    def dies_halfway(obj, f, *args, **kwargs):
        f.write(b"\x00" * 1000)
        raise KeyboardInterrupt  # as a signal arrives in the middle of the write

    monkeypatch.setattr(torch, "save", dies_halfway)
    with pytest.raises(KeyboardInterrupt):
        io.save_checkpoint({"step": 2, **BIG}, path)
    monkeypatch.setattr(torch, "save", real_save)
    assert io.load_checkpoint(path, weights_only=True)["step"] == 1
    assert not leftovers(path)  # the partial file was removed


WRITER = """
import sys, torch
from lit_gans.checkpoint_io import AtomicCheckpointIO
from lightning_fabric.plugins.io.torch_io import TorchCheckpointIO
io = AtomicCheckpointIO() if sys.argv[2] == "atomic" else TorchCheckpointIO()
big = torch.arange(8_000_000, dtype=torch.float32)
for step in range(1, 10**6):
    io.save_checkpoint({"step": step, "weights": big + step}, sys.argv[1])
    print(step, flush=True)
"""


def kill_during_a_save(path: Path, writer: str, tmpdir: str) -> int:
    """Start a process that rewrites `path` over and over; SIGKILL it the moment `path` changes on disk (after two
    completed saves), which is in the middle of a copy over the old file, or just after an atomic rename; the step
    the file then holds (0 if it cannot be read)."""
    env = {**os.environ, "TMPDIR": tmpdir, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    process = subprocess.Popen([sys.executable, "-c", WRITER, str(path), writer], stdout=subprocess.PIPE, text=True,
                               env=env)
    try:
        assert process.stdout.readline().strip() == "1"  # one save completed
        completed = int(process.stdout.readline())  # a second one too: the next is under way now
        before = path.stat()
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            now = path.stat()
            if (now.st_ino, now.st_size, now.st_mtime_ns) != (before.st_ino, before.st_size, before.st_mtime_ns):
                break
            time.sleep(0.0002)
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)
    finally:
        process.kill()
    try:
        step = torch.load(path, weights_only=True)["step"]
    except Exception:
        return 0
    assert step >= completed
    return step


@pytest.mark.skipif(not Path("/dev/shm").is_dir(), reason="needs a tmpfs at /dev/shm")
def test_a_kill_during_a_save_with_tmpdir_on_a_tmpfs_leaves_a_loadable_checkpoint(tmp_path):
    for trial in range(3):
        assert kill_during_a_save(tmp_path / "last.ckpt", "atomic", "/dev/shm") > 0
    # Lightning's own writer, killed the same way, loses the file: its temporary file is on the tmpfs, and the move
    # onto the disk is a copy into the truncated old checkpoint
    assert any(kill_during_a_save(tmp_path / "lightning.ckpt", "lightning", "/dev/shm") == 0 for _ in range(3))
    AtomicCheckpointIO().save_checkpoint({"step": -1}, tmp_path / "last.ckpt")
    assert not leftovers(tmp_path / "last.ckpt")  # a later save removes what the kills left


def test_runs_save_through_the_atomic_writer_and_a_users_writer_is_kept(tmp_path):
    model = SAGAN(resolution=16, z_dim=16, ch=8, num_classes=10, attn_res=8)
    trainer = make_trainer(StopAt(g_steps=1))
    trainer.fit(model, digits(batch_size=8))
    assert type(trainer.strategy.checkpoint_io) is AtomicCheckpointIO

    class Mine(TorchCheckpointIO):
        pass

    model = SAGAN(resolution=16, z_dim=16, ch=8, num_classes=10, attn_res=8)
    trainer = make_trainer(StopAt(g_steps=1), plugins=[Mine()])
    trainer.fit(model, digits(batch_size=8))
    assert type(trainer.strategy.checkpoint_io) is Mine


def test_remote_paths_keep_fsspecs_upload(tmp_path, monkeypatch):
    calls = []
    monkeypatch.setattr(TorchCheckpointIO, "save_checkpoint", lambda self, c, p, s=None: calls.append(str(p)))
    AtomicCheckpointIO().save_checkpoint({"step": 1}, "memory://bucket/last.ckpt")
    assert calls == ["memory://bucket/last.ckpt"]


def test_leftovers_of_killed_writers_are_removed_and_a_running_writers_file_is_kept(tmp_path):
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    try:
        live = tmp_path / f".last.ckpt.partial-{sleeper.pid}"  # another process's save under way
        killed = tmp_path / f".last.ckpt.partial-{dead.pid}"
        other_name = tmp_path / f".epoch=3-step=40.ckpt.partial-{dead.pid}"  # a step-named checkpoint's leftover
        for path in (live, killed, other_name):
            path.write_bytes(b"partial")
        AtomicCheckpointIO().save_checkpoint({"step": 1}, tmp_path / "last.ckpt")
        assert live.exists() and not killed.exists() and not other_name.exists()
    finally:
        sleeper.kill()
