"""Resuming as Lightning users type it: `--ckpt_path last` continues the newest run in its own folder and W&B run,
a run folder names its own checkpoint, and `default_root_dir` places the runs."""
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
import yaml

from lit_gans.cli import checkpoint_patterns, main
from lit_gans.resume import resolve
from test_odd_datasets import lit_gans

TINY = ["--model.init_args.ch=8", "--model.init_args.z_dim=16", "--data.init_args.batch_size=16",
        "--trainer.enable_progress_bar=false", "--trainer.precision=32-true"]


def requeue_config(path: Path, g_steps: int) -> Path:
    """The default recipe's callbacks, stopped after `g_steps` generator steps, a checkpoint every 2 of them."""
    path.write_text(yaml.safe_dump({"trainer": {"callbacks": [
        {"class_path": "callbacks.StopAt", "init_args": {"g_steps": g_steps}},
        {"class_path": "callbacks.EMA", "init_args": {"half_life_kimg": 2, "rampup": 0.05}},
        {"class_path": "callbacks.SampleGrid", "init_args": {"every_n_g_steps": 4}},
        {"class_path": "pytorch_lightning.callbacks.ModelCheckpoint",
         "init_args": {"save_last": True, "every_n_train_steps": 4}}]}}))  # global steps count both optimizers
    return path


def offline_env(tmp_path: Path) -> dict:
    """W&B offline, and one CPU thread: with two, two identical runs of a D with a minibatch standard deviation
    differ at the rounding level from process to process (bit-identical weights on several threads are a matter
    of their own), and this test compares whole runs bit for bit."""
    return {**os.environ, "WANDB_MODE": "offline", "HOME": str(tmp_path), "LIT_GANS_CACHE": str(tmp_path / "cache"),
            "OMP_NUM_THREADS": "1"}


def saved_g_steps(path: Path) -> int:
    try:
        return torch.load(path, map_location="cpu", weights_only=True)["lit_gans"]["g_steps"]
    except Exception:  # being replaced right now
        return -1


def run_until_killed(command: list[str], cwd: Path, env: dict, past_g_steps: int) -> int:
    """Start `command`, kill -9 it once a last.ckpt beyond `past_g_steps` generator steps exists; its g_steps."""
    process = subprocess.Popen(command, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 300
    try:
        while True:
            saved = [saved_g_steps(p) for p in (cwd / "runs").rglob("last.ckpt")]
            if saved and max(saved) > past_g_steps:
                os.kill(process.pid, signal.SIGKILL)
                process.wait()
                return max(saved)
            assert process.poll() is None, "the run ended before it could be killed"
            assert time.monotonic() < deadline
            time.sleep(0.05)
    finally:
        if process.poll() is None:
            process.kill()


@pytest.mark.timeout(900)
def test_a_requeue_loop_with_ckpt_path_last_equals_one_uninterrupted_run(tmp_path):
    g_steps = 12
    straight_dir, requeued_dir = tmp_path / "straight", tmp_path / "requeued"
    straight_dir.mkdir(), requeued_dir.mkdir()
    config = requeue_config(tmp_path / "requeue.yaml", g_steps)
    fit = [sys.executable, "-m", "lit_gans", "fit", *TINY, "--config", str(config)]

    straight = subprocess.run(fit, cwd=straight_dir, env=offline_env(tmp_path), capture_output=True, text=True)
    assert straight.returncode == 0, straight.stderr[-3000:]

    # the job script's command: the first submission starts the run, every requeued one continues it
    first = run_until_killed(fit, requeued_dir, offline_env(tmp_path), 0)
    second = run_until_killed(fit + ["--ckpt_path", "last"], requeued_dir, offline_env(tmp_path), first)
    assert 0 < first < second < g_steps
    for _ in range(2):  # the run finishes, then a requeue of the finished job trains nothing more
        done = subprocess.run(fit + ["--ckpt_path", "last"], cwd=requeued_dir, env=offline_env(tmp_path),
                              capture_output=True, text=True)
        assert done.returncode == 0, done.stderr[-3000:]

    runs = [sorted((d / "runs" / "lit-gans").iterdir()) for d in (straight_dir, requeued_dir)]
    assert [len(r) for r in runs] == [1, 1]  # one run folder, continued by every resubmission
    run_id = runs[1][0].name
    wandb_parts = sorted(p.name for p in (requeued_dir / "runs" / "wandb").glob("offline-run-*"))
    assert len(wandb_parts) == 4 and all(name.endswith(f"-{run_id}") for name in wandb_parts)
    expected = torch.load(runs[0][0] / "checkpoints" / "last.ckpt", weights_only=True)
    resumed = torch.load(runs[1][0] / "checkpoints" / "last.ckpt", weights_only=True)
    assert resumed["wandb"]["run_id"] == run_id
    assert resumed["lit_gans"] == expected["lit_gans"] and resumed["lit_gans"]["g_steps"] == g_steps
    assert resumed["global_step"] == expected["global_step"]
    for name, value in expected["state_dict"].items():  # G, D, EMA G, spectral-norm vectors, BN statistics
        assert torch.allclose(resumed["state_dict"][name].float(), value.float(), atol=1e-6), name
    for opt_expected, opt_resumed in zip(expected["optimizer_states"], resumed["optimizer_states"]):
        for key, state in opt_expected["state"].items():
            assert torch.allclose(opt_resumed["state"][key]["exp_avg"], state["exp_avg"], atol=1e-6)
    assert sorted(p.name for p in (runs[1][0] / "samples").glob("*.png")) == ["g0000004.png", "g0000008.png",
                                                                             "g0000012.png", "last.png"]


def test_ckpt_path_last_without_a_run_stops_with_one_line(tmp_path, monkeypatch, capsys):
    status, stderr, _ = lit_gans(monkeypatch, capsys, "fit", "--ckpt_path", "last", *TINY)
    assert status == 1
    looked = tmp_path / "runs" / "lit-gans" / "*" / "checkpoints" / "last*.ckpt"
    assert stderr == (f"lit-gans: error: --ckpt_path last: there is no run to resume; looked for {looked}\n"
                      "(set LIT_GANS_DEBUG=1 for the traceback)\n")
    assert not (tmp_path / "runs" / "lit-gans").exists()  # nothing started
    status, stderr, _ = lit_gans(monkeypatch, capsys, "sample", "--ckpt_path", str(tmp_path))
    assert status == 1 and stderr.startswith(f"lit-gans: error: --ckpt_path {tmp_path}: this folder holds no run "
                                             f"to resume (no {tmp_path / 'checkpoints' / 'last.ckpt'})\n")


def short_fit(*args: str):
    return main(["fit", *TINY, "--trainer.max_steps=4", "--trainer.callbacks=[]", *args])


def test_default_root_dir_places_the_run_and_last_finds_it_from_every_subcommand(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("WANDB_MODE", "offline")
    cli = short_fit("--trainer.default_root_dir=experiments", "--trainer.callbacks+=ModelCheckpoint",
                    "--trainer.callbacks.save_last=true")
    cli.trainer.logger.experiment.finish()
    run = tmp_path / "experiments" / "lit-gans" / cli.trainer.logger.version
    assert sorted(p.name for p in run.iterdir()) == ["checkpoints", "config.yaml", "interpolations"]
    assert (run / "checkpoints" / "last.ckpt").is_file() and not (tmp_path / "runs").exists()
    assert (tmp_path / "experiments" / "wandb").is_dir()  # W&B's own files go there too

    main(["describe", "--trainer.default_root_dir=experiments", "--ckpt_path=last"])
    described = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert described["checkpoint"] == str(run / "checkpoints" / "last.ckpt") and described["g_steps"] == 2
    for ckpt_path in ("last", str(run)):
        out = tmp_path / f"samples-{len(ckpt_path)}"
        main(["sample", "--trainer.default_root_dir=experiments", f"--ckpt_path={ckpt_path}", "--num=4", f"--out={out}"])
        assert (out / "grid.png").is_file()
    os.chdir(tmp_path / "experiments")  # a run folder works from anywhere
    main(["interpolate", f"--ckpt_path={run}", "--kinds=[latent]", "--rows=1", "--frames=3", "--video=none",
          f"--out={tmp_path / 'interpolations'}"])
    assert (tmp_path / "interpolations" / "latent.png").is_file()
    main(["evaluate", f"--ckpt_path={run}", "--num_samples=16", "--num_real=16", "--batch_size=16",
          "--metrics=[swd]", "--swd_images=16", f"--out={tmp_path / 'metrics.json'}"])
    assert json.loads((tmp_path / "metrics.json").read_text())["checkpoint"] == str(run / "checkpoints" / "last.ckpt")


def test_fit_with_a_run_folder_continues_that_run_in_its_own_folder_from_anywhere(tmp_path, monkeypatch):
    monkeypatch.setenv("WANDB_MODE", "offline")
    first = short_fit("--trainer.callbacks+=ModelCheckpoint", "--trainer.callbacks.save_last=true")
    run_id = first.trainer.logger.version
    first.trainer.logger.experiment.finish()
    run = tmp_path / "runs" / "lit-gans" / run_id
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    os.chdir(elsewhere)
    resumed = main(["fit", *TINY, "--trainer.max_steps=8", "--trainer.callbacks=[]", "--trainer.callbacks+=ModelCheckpoint",
                    "--trainer.callbacks.save_last=true", f"--ckpt_path={run}"])
    assert resumed.trainer.logger.version == run_id and resumed.model.g_steps == 4
    resumed.trainer.logger.experiment.finish()
    assert not (elsewhere / "runs").exists()
    assert sorted(p.name for p in (run / "checkpoints").glob("last*.ckpt")) == ["last.ckpt"]  # no last-v1.ckpt
    assert torch.load(run / "checkpoints" / "last.ckpt", weights_only=True)["lit_gans"]["g_steps"] == 4


def test_last_under_slurm_is_the_newer_of_the_requeue_and_the_last_checkpoint(tmp_path, monkeypatch):
    trainer = main(["--trainer.default_root_dir=job", "--trainer.logger=false", "--trainer.callbacks=[]",
                    "--trainer.callbacks+=ModelCheckpoint",
                    f"--trainer.callbacks.dirpath={tmp_path / 'ckpt [1]'}"], run=False).config.trainer
    last, hpc = tmp_path / "ckpt [1]" / "last.ckpt", tmp_path / "job" / "hpc_ckpt_3.ckpt"
    for path, age in ((last, 20), (hpc, 10)):
        path.parent.mkdir(parents=True, exist_ok=True)
        torch.save({"lit_gans": {}}, path)
        os.utime(path, (time.time() - age, time.time() - age))
    assert resolve("last", checkpoint_patterns(trainer, "fit")) == str(last)  # outside SLURM: hpc is Lightning's alone
    monkeypatch.setenv("SLURM_NTASKS", "1")
    monkeypatch.setenv("SLURM_JOB_NAME", "gan")
    assert Path(resolve("last", checkpoint_patterns(trainer, "fit"))).resolve() == hpc  # the newer
    os.utime(last)
    assert resolve("last", checkpoint_patterns(trainer, "fit")) == str(last)
    assert resolve("hpc", checkpoint_patterns(trainer, "fit")) == "hpc"  # Lightning's own, untouched


def test_last_refuses_a_run_with_other_model_settings_and_a_named_run_keeps_its_own(tmp_path, monkeypatch, capsys):
    short_fit("--trainer.callbacks+=ModelCheckpoint", "--trainer.callbacks.save_last=true")
    run = next((tmp_path / "runs" / "lit-gans").iterdir())
    checkpoint = run / "checkpoints" / "last.ckpt"
    other = [*TINY, "--model.init_args.ch=4", "--model.init_args.lr_g=0.0002", "--trainer.max_steps=8"]
    status, stderr, _ = lit_gans(monkeypatch, capsys, "fit", "--ckpt_path", "last", *other)
    assert status == 1  # `last` may have found another experiment's run: nothing trains
    assert stderr.startswith(f"lit-gans: error: --ckpt_path last found {checkpoint}, a run with other model settings "
                             "than this command gives: ")
    assert "ch 8 (this command: 4)" in stderr and "lr_g 0.0008 (this command: 0.0002)" in stderr
    assert torch.load(checkpoint, weights_only=True)["lit_gans"]["g_steps"] == 2

    status, stderr, raised = lit_gans(monkeypatch, capsys, "fit", "--ckpt_path", str(run), *other,
                                      "--trainer.callbacks=[]", "--trainer.callbacks+=ModelCheckpoint",
                                      "--trainer.callbacks.save_last=true")
    assert status == 0, stderr[-3000:]  # the run the user named continues, with its own settings
    assert [w for w in raised if "resumes with its own model settings, so these options are ignored" in w]
    saved = torch.load(checkpoint, weights_only=True)
    assert saved["lit_gans"]["g_steps"] == 4 and saved["hyper_parameters"]["ch"] == 8


def test_an_unreadable_newest_checkpoint_is_named_and_nothing_starts(tmp_path, monkeypatch, capsys):
    short_fit("--trainer.callbacks+=ModelCheckpoint", "--trainer.callbacks.save_last=true")
    good = next((tmp_path / "runs" / "lit-gans").rglob("last.ckpt"))
    truncated = tmp_path / "runs" / "lit-gans" / "crashed" / "checkpoints" / "last.ckpt"
    truncated.parent.mkdir(parents=True)
    truncated.write_bytes(good.read_bytes()[:1000])  # a save cut short by a node failure
    for command in ("fit", "describe"):
        status, stderr, _ = lit_gans(monkeypatch, capsys, command, "--ckpt_path", "last", *TINY)
        assert status == 1
        assert stderr.startswith(f"lit-gans: error: checkpoint {truncated} cannot be read (")
        assert "move it away to resume from an earlier one" in stderr
    truncated.rename(truncated.with_suffix(".broken"))
    status, stderr, _ = lit_gans(monkeypatch, capsys, "describe", "--ckpt_path", "last", *TINY)
    assert status == 0, stderr


def test_last_expands_a_home_folder_in_default_root_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    short_fit("--trainer.logger=false", "--trainer.default_root_dir=~/runs", "--trainer.callbacks+=ModelCheckpoint",
              "--trainer.callbacks.save_last=true")
    written = tmp_path / "home" / "runs" / "checkpoints" / "last.ckpt"
    assert written.is_file()
    resumed = main(["fit", *TINY, "--trainer.max_steps=8", "--trainer.logger=false", "--trainer.default_root_dir=~/runs",
                    "--trainer.callbacks=[]", "--ckpt_path=last"])
    assert resumed.model.g_steps == 4
