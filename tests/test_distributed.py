"""DDP on CPU (gloo) across two simulated nodes on localhost, launched as users launch multi-node jobs: one
`python -m lit_gans fit` process per node with NODE_RANK, MASTER_ADDR=127.0.0.1 and MASTER_PORT set.

One training run with a global batch B on two processes must equal one process with batch B. Every random draw
of a batch (latents, labels, GP weights, real images, flips) is the same global batch whatever the number of
ranks, with each rank taking interleaved rows, so the only semantic difference left is BatchNorm: without
SyncBatchNorm (GPU only) each rank normalises its half. The single-process reference reproduces that by
normalising the two interleaved halves separately, and a control run without it shows the test would notice."""
import contextlib
import copy
import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml

from conftest import relative_output_difference
from lit_gans.cli import main

WORLD = 2


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def write_config(path: Path, model: dict, resolution: int, batch_size: int, callbacks: list[dict]) -> Path:
    config = {
        "seed_everything": 0,
        "model": model,
        "data": {"class_path": "datamodules.DigitsDataModule",
                 "init_args": {"resolution": resolution, "batch_size": batch_size}},
        "trainer": {"accelerator": "cpu", "devices": 1, "max_epochs": -1, "enable_progress_bar": False,
                    "enable_model_summary": False, "callbacks": callbacks,
                    "logger": {"class_path": "pytorch_lightning.loggers.CSVLogger",
                               "init_args": {"save_dir": str(path.parent / "logs"), "name": path.stem}}},
    }
    path.write_text(yaml.safe_dump(config))
    return path


def checkpoint_callback(folder: Path) -> dict:
    return {"class_path": "pytorch_lightning.callbacks.ModelCheckpoint",
            "init_args": {"dirpath": str(folder), "save_last": True, "save_top_k": 0}}


def fit_on_simulated_nodes(config: Path, *overrides: str, nodes: int = WORLD) -> None:
    """`lit-gans fit` as `nodes` single-process nodes on localhost (what a multi-node launcher sets up)."""
    port = free_port()
    processes = []
    for node in range(nodes):
        env = {**os.environ, "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": str(port), "NODE_RANK": str(node),
               "LOCAL_RANK": "0", "PYTHONWARNINGS": "ignore"}
        processes.append(subprocess.Popen(
            [sys.executable, "-m", "lit_gans", "fit", f"--config={config}", f"--trainer.num_nodes={nodes}",
             "--trainer.strategy=ddp_find_unused_parameters_true", *overrides],
            env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True))
    outputs = [p.communicate(timeout=600)[0] for p in processes]
    for node, (process, output) in enumerate(zip(processes, outputs)):
        assert process.returncode == 0, f"node {node} failed:\n{output[-4000:]}"
    assert "Initializing distributed: GLOBAL_RANK: 1, MEMBER: 2/2" in outputs[1]


@contextlib.contextmanager
def batchnorm_per_interleaved_group(groups: int):
    """Train-mode BatchNorm normalises rows g, g + groups, ... separately: per-rank BatchNorm in one process."""
    original = torch.nn.functional.batch_norm

    def batch_norm(input, running_mean, running_var, weight=None, bias=None, training=False, momentum=0.1,
                   eps=1e-5):
        if not training:
            return original(input, running_mean, running_var, weight, bias, training, momentum, eps)
        parts = [original(input[g::groups], running_mean, running_var, weight, bias, training, momentum, eps)
                 for g in range(groups)]
        return torch.stack(parts, dim=1).flatten(0, 1)

    torch.nn.functional.batch_norm = batch_norm
    try:
        yield
    finally:
        torch.nn.functional.batch_norm = original


def fit_in_process(config: Path, *overrides: str, per_rank_batchnorm: bool = False) -> tuple[dict, dict, object]:
    """Train one process with the whole batch; returns (initial state, final state, cli)."""
    cli = main([f"--config={config}", *overrides], run=False)
    initial = copy.deepcopy(cli.model.state_dict())
    with batchnorm_per_interleaved_group(WORLD) if per_rank_batchnorm else contextlib.nullcontext():
        cli.trainer.fit(cli.model, cli.datamodule)
    return initial, copy.deepcopy(cli.model.state_dict()), cli


def load_state(path: Path) -> dict:
    return torch.load(path, map_location="cpu", weights_only=True)["state_dict"]


def logged(csv_dir: Path, key: str) -> float:
    import csv

    rows = [row for path in csv_dir.rglob("metrics.csv") for row in csv.DictReader(path.open()) if row.get(key)]
    assert rows, f"{key} was not logged under {csv_dir}"
    return float(rows[-1][key])


@pytest.mark.timeout(900)
def test_sagan_on_two_nodes_equals_one_process_and_so_does_its_fid(tmp_path, tiny_sagan_kwargs):
    from callbacks import EMA, ImageMetrics, StopAt  # noqa: F401  (class paths below)
    from lit_gans.evaluation.inception import inception_weights

    inception_weights()  # convert the offline FID Inception once, into the cache the processes share
    batch = 8
    metrics = {"class_path": "callbacks.ImageMetrics",
               "init_args": {"every_n_g_steps": 1000, "num_samples": 20, "num_real": 20, "batch_size": 6,
                             "kid_subsets": 2, "kid_subset_size": 10, "metrics": ["fid", "kid", "prc", "prdc", "swd"]}}
    callbacks = [{"class_path": "callbacks.StopAt", "init_args": {"g_steps": 3}},
                 {"class_path": "callbacks.EMA", "init_args": {"half_life_kimg": 0.01}},
                 metrics, checkpoint_callback(tmp_path / "ddp")]
    # ProGAN's strided minibatch-stddev groups of 4 are exactly each rank's 4 images, as on two nodes; the digits
    # default's class-grouped statistic (per rank, like every batch statistic) would not be
    model = {"class_path": "lit_gans.SAGAN",
             "init_args": {**tiny_sagan_kwargs, "lr_g": 2e-4, "lr_d": 2e-4, "mbstd_style": "official"}}
    config = write_config(tmp_path / "sagan.yaml", model, 16, batch, callbacks)
    fit_on_simulated_nodes(config, f"--data.init_args.batch_size={batch // WORLD}")

    reference = ["--trainer.logger=false", "--trainer.callbacks=[]",
                 '--trainer.callbacks+={"class_path": "callbacks.StopAt", "init_args": {"g_steps": 3}}',
                 '--trainer.callbacks+={"class_path": "callbacks.EMA", "init_args": {"half_life_kimg": 0.01}}']
    initial, single, cli = fit_in_process(config, *reference, per_rank_batchnorm=True)
    distributed = load_state(tmp_path / "ddp" / "last.ckpt")
    assert cli.model.g_steps == 3 and cli.model.images_seen == 3 * batch
    differences = relative_output_difference(cli.model, initial, single, distributed)
    assert max(differences.values()) < 1e-3, differences

    _, control, _ = fit_in_process(config, *reference)  # one process normalising the whole batch: differs
    control_differences = relative_output_difference(cli.model, initial, control, distributed)
    assert control_differences["generator"] > 30 * max(differences.values()), (control_differences, differences)

    # FID logged by the two nodes equals FID computed in one process from the same weights
    from lit_gans.evaluation import Evaluator, generated_batches

    settings = metrics["init_args"]
    evaluator = Evaluator(settings["num_real"], settings["batch_size"], settings["kid_subsets"], settings["kid_subset_size"],
                          metrics=settings["metrics"], swd_images=settings["num_samples"])
    cli.model.load_state_dict(distributed)
    cli.model.g_steps = 3  # the samples' seeds depend on the generator step
    fakes = generated_batches(cli.model, settings["num_samples"], settings["batch_size"])
    single = evaluator.score(fakes, cli.datamodule)
    assert logged(tmp_path / "logs", "metrics/fid") == pytest.approx(single["metrics/fid"], rel=1e-4)
    for name in ("precision", "recall", "density", "coverage", "swd_avg"):  # gathered features and patches
        assert logged(tmp_path / "logs", f"metrics/{name}") == pytest.approx(single[f"metrics/{name}"], rel=1e-4, abs=1e-6), name


@pytest.mark.timeout(900)
def test_g_on_twice_ds_batch_on_two_nodes_equals_one_process(tmp_path, tiny_sagan_kwargs):
    """SN-GAN's recipe trains G on twice D's batch (`g_batch_multiple`): G's batch is one global draw too, so two
    nodes equal one process. Two G steps: later ones amplify float rounding chaotically (reordering the
    additions of one process alone moves G's outputs by 4e-6 to 3e-4 relative after three), hence G's bound of
    5e-3, against 0.2 where a difference is real."""
    batch = 8
    stop = {"class_path": "callbacks.StopAt", "init_args": {"g_steps": 2}}
    model = {"class_path": "lit_gans.SAGAN", "init_args": {**tiny_sagan_kwargs, "lr_g": 2e-4, "lr_d": 2e-4,
                                                           "g_batch_multiple": 2}}
    config = write_config(tmp_path / "sagan.yaml", model, 16, batch, [stop, checkpoint_callback(tmp_path / "ddp")])
    fit_on_simulated_nodes(config, f"--data.init_args.batch_size={batch // WORLD}")
    reference = ["--trainer.logger=false", "--trainer.callbacks=[]", f"--trainer.callbacks+={json.dumps(stop)}"]
    initial, single, cli = fit_in_process(config, *reference, per_rank_batchnorm=True)
    distributed = load_state(tmp_path / "ddp" / "last.ckpt")
    differences = relative_output_difference(cli.model, initial, single, distributed)
    _, control, _ = fit_in_process(config, *reference)  # G's step normalising all 16 images at once: differs
    control_differences = relative_output_difference(cli.model, initial, control, distributed)
    # measured: G 8e-4 (float rounding, amplified by Adam), D 3e-7; per-rank BatchNorm ignored: G 0.21
    assert differences["discriminator"] < 1e-3 and differences["generator"] < 5e-3, differences
    assert control_differences["generator"] > 30 * differences["generator"], (differences, control_differences)


@pytest.mark.timeout(900)
def test_progan_on_two_nodes_equals_one_process_through_a_fade_in(tmp_path):
    from callbacks import ProGrowth, StopAt  # noqa: F401  (class paths below)

    batch = 8  # 4 per rank: with minibatch-stddev groups of 4, each rank's batch is one group of the global batch
    growth = {"class_path": "callbacks.ProGrowth",
              "init_args": {"start_resolution": 4, "stabilize_kimg": 0.008, "fade_kimg": 0.016}}
    callbacks = [{"class_path": "callbacks.StopAt", "init_args": {"g_steps": 3}}, growth,
                 checkpoint_callback(tmp_path / "ddp")]
    model = {"class_path": "lit_gans.ProGAN",
             "init_args": {"resolution": 8, "z_dim": 16, "fmap_base": 64, "fmap_max": 16, "mbstd_group_size": 4}}
    config = write_config(tmp_path / "progan.yaml", model, 8, batch, callbacks)
    fit_on_simulated_nodes(config, f"--data.init_args.batch_size={batch // WORLD}")

    initial, single, cli = fit_in_process(config, "--trainer.logger=false", "--trainer.callbacks=[]",
                                          '--trainer.callbacks+={"class_path": "callbacks.StopAt", "init_args": {"g_steps": 3}}',
                                          "--trainer.callbacks+=" + yaml.safe_dump(growth, default_flow_style=True).strip())
    distributed = torch.load(tmp_path / "ddp" / "last.ckpt", map_location="cpu", weights_only=True)
    assert cli.model.stage() == (8, pytest.approx(0.5))  # the run ended inside the 4 -> 8 fade
    assert int(distributed["state_dict"]["generator.stage_resolution"]) == 8
    differences = relative_output_difference(cli.model, initial, single, distributed["state_dict"])
    assert max(differences.values()) < 1e-3, differences
    assert distributed["lit_gans"]["images_seen"] == cli.model.images_seen == 3 * batch
    assert np.isclose(float(distributed["state_dict"]["generator.alpha"]), 0.5)


def slurm_env(tmp_path: Path) -> dict:
    """The environment of a one-task SLURM job, with W&B offline so that the run has an id to continue."""
    return {**os.environ, "SLURM_NTASKS": "1", "SLURM_NTASKS_PER_NODE": "1", "SLURM_JOB_NAME": "lit-gans-test",
            "SLURM_JOB_ID": "4242", "SLURM_PROCID": "0", "SLURM_LOCALID": "0", "SLURM_NODEID": "0",
            "SLURM_NODELIST": "127.0.0.1", "WANDB_MODE": "offline", "PYTHONWARNINGS": "ignore",
            "PATH": os.environ.get("PATH", "")}


def wait_for(path: Path, process: subprocess.Popen, seconds: float = 300) -> None:
    import time

    deadline = time.monotonic() + seconds
    while not path.exists():
        assert process.poll() is None, f"the job ended before {path} appeared:\n{process.stdout.read()[-4000:]}"
        assert time.monotonic() < deadline, f"{path} did not appear within {seconds} s"
        time.sleep(0.2)


@pytest.mark.timeout(600)
def test_a_requeued_slurm_job_resumes_from_its_requeue_checkpoint_and_w_and_b_run(tmp_path, tiny_sagan_kwargs):
    import signal
    import time

    run = tmp_path / "run"
    callbacks = [{"class_path": "pytorch_lightning.callbacks.ModelCheckpoint",
                  "init_args": {"dirpath": str(tmp_path / "ckpt"), "save_last": True, "every_n_train_steps": 2}},
                 {"class_path": "callbacks.StopAt", "init_args": {"g_steps": 1000}}]  # last: the override below
    config = write_config(tmp_path / "slurm.yaml", {"class_path": "lit_gans.SAGAN", "init_args": tiny_sagan_kwargs},
                          16, 8, callbacks)
    config.write_text(config.read_text().replace("pytorch_lightning.loggers.CSVLogger", "lit_gans.wandb_logger.WandbLogger")
                      .replace(f"name: {config.stem}", "project: requeue"))
    command = [sys.executable, "-m", "lit_gans", "fit", f"--config={config}", f"--trainer.default_root_dir={run}"]

    first = subprocess.Popen(command, env=slurm_env(tmp_path), cwd=tmp_path, stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT, text=True)
    try:
        wait_for(tmp_path / "ckpt" / "last.ckpt", first)  # training is under way (the signal handler is set)
        first.send_signal(signal.SIGUSR1)  # what SLURM sends before a time limit or preemption (--signal)
        wait_for(run / "hpc_ckpt_1.ckpt", first)
        time.sleep(1)
    finally:
        first.kill()  # the scheduler stops the job
        first.communicate()
    checkpoint = torch.load(run / "hpc_ckpt_1.ckpt", map_location="cpu", weights_only=True)
    saved, run_id = checkpoint["lit_gans"], checkpoint["wandb"]["run_id"]
    assert saved["g_steps"] >= 1 and run_id

    second = subprocess.run(command + [f"--trainer.callbacks.init_args.g_steps={saved['g_steps'] + 3}"],
                            env=slurm_env(tmp_path), cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert second.returncode == 0, second.stdout[-3000:] + second.stderr[-3000:]
    output = second.stdout + second.stderr
    assert "hpc_ckpt_1.ckpt" in output and f"W&B: resuming run {run_id}" in output
    final = torch.load(tmp_path / "ckpt" / "last.ckpt", map_location="cpu", weights_only=True)
    assert final["lit_gans"]["g_steps"] == saved["g_steps"] + 3  # continued from the requeue checkpoint, not from scratch
    assert final["wandb"]["run_id"] == run_id


def test_the_example_sbatch_command_parses(capsys, monkeypatch):
    root = Path(__file__).parents[1]
    monkeypatch.chdir(root)  # the script runs from the repository root
    script = (root / "examples" / "slurm.sbatch").read_text()
    line = script[script.index("srun lit-gans fit"):].split("\n# ")[0]
    variables = {"$SLURM_CPUS_PER_TASK": "8", "$SLURM_NNODES": "2", "$SLURM_NTASKS_PER_NODE": "8", "$RUN_DIR": "runs/x"}
    for name, value in variables.items():
        line = line.replace(f'"{name}"', value)
    line = line.replace("${SLURM_RESTART_COUNT:+--ckpt_path last}", "")  # the first submission
    args = [a for a in line.replace("\\\n", " ").split()[3:]]
    with pytest.raises(SystemExit) as exit_info:
        main(["fit", *args, "--print_config"])
    assert exit_info.value.code in (None, 0)
    printed = yaml.safe_load(capsys.readouterr().out)
    assert printed["trainer"]["num_nodes"] == 2 and int(printed["trainer"]["devices"]) == 8
    assert printed["trainer"]["strategy"] == "ddp_find_unused_parameters_true" and printed["trainer"]["sync_batchnorm"]
    assert printed["data"]["init_args"]["num_workers"] == 8


@pytest.mark.timeout(600)
def test_torchrun_launch_as_documented(tmp_path, tiny_sagan_kwargs):
    callbacks = [{"class_path": "callbacks.StopAt", "init_args": {"g_steps": 2}}, checkpoint_callback(tmp_path / "ckpt")]
    config = write_config(tmp_path / "torchrun.yaml", {"class_path": "lit_gans.SAGAN", "init_args": tiny_sagan_kwargs},
                          16, 4, callbacks)
    done = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--nnodes", "1", "--nproc_per_node", "2",
                           "--master_addr", "127.0.0.1", "--master_port", str(free_port()),
                           "-m", "lit_gans", "fit", f"--config={config}", "--trainer.devices=2",
                           "--trainer.strategy=ddp_find_unused_parameters_true"],
                          env={**os.environ, "PYTHONWARNINGS": "ignore"}, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    saved = torch.load(tmp_path / "ckpt" / "last.ckpt", map_location="cpu", weights_only=True)["lit_gans"]
    assert saved["g_steps"] == 2 and saved["images_seen"] == 2 * 4 * 2  # two ranks of 4 images per step
