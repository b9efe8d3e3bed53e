"""The command line as a newcomer meets it, run as a subprocess from a folder outside the checkout: help that
describes lit-gans, recipes too big for this machine or without their data refused in one line before any process
starts, --print_config showing what runs, every precision, and the same command giving the same weights."""
import subprocess
import sys

import numpy as np
import pytest
import torch
import yaml
from PIL import Image

from lit_gans.cli import main


def lit_gans(*args, cwd, timeout=300) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "lit_gans", *map(str, args)], capture_output=True, text=True,
                          timeout=timeout, cwd=cwd)


def errors(done: subprocess.CompletedProcess) -> list[str]:
    return [line for line in done.stderr.splitlines() if line.startswith("lit-gans: error")]


def test_help_describes_lit_gans_and_each_subcommand_its_own_options_first(tmp_path):
    top = lit_gans("--help", cwd=tmp_path)
    assert top.returncode == 0 and top.stdout.startswith("usage: lit-gans")
    assert "train, sample, evaluate and inspect GANs" in top.stdout and "Lightning Trainer command line" not in top.stdout
    for name in ("fit", "sample", "describe", "evaluate", "interpolate", "convert", "recipes"):
        assert f"\n    {name} " in top.stdout, name
    for gone in ("validate", "test", "predict"):
        assert f"    {gone} " not in top.stdout
        refused = lit_gans(gone, cwd=tmp_path)
        assert refused.returncode == 2 and len(refused.stderr.strip().splitlines()) == 1 and "invalid choice" in refused.stderr
    sample = lit_gans("sample", "--help", cwd=tmp_path)
    assert sample.returncode == 0
    body = sample.stdout[sample.stdout.index("\n\n"):]
    assert body.lstrip().startswith("Generate images from a checkpoint")  # its own purpose, not fit's
    assert sample.stdout.index("--ckpt_path") < sample.stdout.index("--trainer.accelerator")
    assert sample.stdout.index("--num NUM") < sample.stdout.index("--model CONFIG")
    describe = lit_gans("describe", "--help", cwd=tmp_path)
    assert describe.stdout[describe.stdout.index("\n\n"):].lstrip().startswith("Print the model's trainable parameter")


def test_a_recipe_for_more_devices_or_without_its_data_is_refused_in_one_line_before_any_process_starts(tmp_path):
    if torch.cuda.device_count() >= 8:
        pytest.skip("this machine has the recipe's 8 GPUs")
    too_big = lit_gans("fit", "--config", "configs/biggan/imagenet128.yaml", cwd=tmp_path)
    assert too_big.returncode == 1 and len(errors(too_big)) == 1
    assert "asks for 8 devices" in too_big.stderr and "--trainer.devices 1" in too_big.stderr
    assert "--model.init_args.accumulate 64 to keep its batch" in too_big.stderr  # 8 x 8 accumulations on one
    # the devices given by the user are taken; the missing data is then reported once, before any process starts
    two = lit_gans("fit", "--config", "biggan/imagenet128", "--trainer.devices", "2", "--trainer.accelerator", "cpu",
                   "--trainer.logger", "false", cwd=tmp_path)
    assert two.returncode == 1 and len(errors(two)) == 1
    assert "data/imagenet/train does not exist" in two.stderr
    assert "rank: 1" not in two.stderr and "Connection closed" not in two.stderr and "GLHF" not in two.stderr
    # a config of the user's own that states the devices is their choice too
    mine = tmp_path / "mine.yaml"
    mine.write_text(yaml.safe_dump({"trainer": {"devices": 3, "accelerator": "cpu"}}))
    chosen = lit_gans("fit", "--config", "biggan/imagenet128", "--config", mine, "--trainer.logger", "false",
                      cwd=tmp_path)
    assert "asks for" not in chosen.stderr and "data/imagenet/train does not exist" in chosen.stderr


def test_print_config_shows_the_resolution_and_classes_that_will_run(tmp_path):
    images = tmp_path / "images" / "a"
    images.mkdir(parents=True)
    for i in range(4):
        Image.fromarray(np.random.default_rng(i).integers(0, 255, (40, 40, 3), dtype=np.uint8)).save(images / f"{i}.png")
    overlay = tmp_path / "over.yaml"
    overlay.write_text(yaml.safe_dump({"data": {"class_path": "datamodules.ImageFolderDataModule", "init_args": {
        "root": str(tmp_path / "images"), "resolution": 32, "labelled": False}}}))
    done = lit_gans("fit", "--config", overlay, "--print_config", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    printed = yaml.safe_load(done.stdout)
    assert printed["model"]["init_args"]["resolution"] == 32 and printed["model"]["init_args"]["num_classes"] == 0
    given = yaml.safe_load(lit_gans("fit", "--config", overlay, "--model.init_args.resolution", "16",
                                    "--print_config", cwd=tmp_path).stdout)
    assert given["model"]["init_args"]["resolution"] == 16  # an explicit value is printed (and refused at fit)


@pytest.mark.parametrize("precision", ["bf16-true", "64-true"])
def test_true_precisions_train(precision, tmp_path):
    import warnings

    cli = main([f"--trainer.precision={precision}", "--trainer.max_steps=4", "--trainer.logger=false",
                "--trainer.enable_progress_bar=false", f"--trainer.default_root_dir={tmp_path}"],
               run=False)  # with the recipe's callbacks: sample grids, interpolations, checkpoints
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        cli.trainer.fit(cli.model, datamodule=cli.datamodule)
    assert not [w for w in caught if "switched off" in str(w.message)], [str(w.message) for w in caught]
    dtype = {"bf16-true": torch.bfloat16, "64-true": torch.float64}[precision]
    assert cli.model.g_steps == 2 and next(cli.model.generator.parameters()).dtype == dtype
    assert all(torch.isfinite(p).all() for p in cli.model.parameters())


def test_the_same_command_gives_the_same_weights_and_a_resumed_run_the_uninterrupted_ones(tmp_path):
    """The default recipe itself, twice, and interrupted after 3 G steps and resumed, in 32-true on the CPU."""
    torch.use_deterministic_algorithms(False)

    def fit(name: str, steps: int, *extra) -> dict:
        callbacks = [{"class_path": "pytorch_lightning.callbacks.ModelCheckpoint",
                      "init_args": {"dirpath": str(tmp_path / name), "save_last": True}}]
        done = lit_gans("fit", "--trainer.precision", "32-true", "--trainer.max_steps", steps, "--trainer.logger",
                        "false", "--trainer.callbacks", yaml.safe_dump(callbacks, default_flow_style=True).strip(),
                        "--trainer.default_root_dir", tmp_path / "runs", *extra, cwd=tmp_path)
        assert done.returncode == 0, done.stderr[-3000:]
        assert "not resumable" not in done.stderr
        return torch.load(tmp_path / name / "last.ckpt", map_location="cpu", weights_only=False)["state_dict"]

    first, second = fit("first", 12), fit("second", 12)
    fit("interrupted", 6)
    resumed = fit("resumed", 12, "--ckpt_path", tmp_path / "interrupted" / "last.ckpt")
    for name, value in first.items():
        assert torch.equal(value, second[name]), name
        assert torch.equal(value, resumed[name]), name


def test_commands_that_do_not_train_print_no_training_start_up_lines(tmp_path):
    done = lit_gans("describe", cwd=tmp_path)
    assert done.returncode == 0 and json_line(done.stdout)["model"] == "SAGAN"
    for line in ("GPU available", "Automatic Mixed Precision", "Seed set", "W&B", "wandb"):
        assert line not in done.stderr, (line, done.stderr)
    assert not (tmp_path / "runs").exists()  # no logger, so no empty run folder either


def json_line(stdout: str) -> dict:
    import json

    return json.loads(stdout.strip().splitlines()[-1])


def test_classes_are_checked_against_the_model():
    from lit_gans import SAGAN
    from lit_gans.commands import check_classes

    unconditional = SAGAN(resolution=16, z_dim=8, ch=4, num_classes=0, attn_res=8)
    with pytest.raises(ValueError, match=r"--classes \[3\]: this model is unconditional"):
        check_classes(unconditional, [3])
    conditional = SAGAN(resolution=16, z_dim=8, ch=4, num_classes=10, attn_res=8)
    with pytest.raises(ValueError, match=r"\[10, -1\] not among this model's classes 0 to 9"):
        check_classes(conditional, [3, 10, -1])
    check_classes(conditional, [0, 9])
    check_classes(unconditional, None)


def test_the_progress_bar_shows_the_last_steps_kimg(tmp_path):
    cli = main(["--trainer.max_steps=6", "--trainer.logger=false", "--trainer.callbacks=[]",
                "--trainer.enable_checkpointing=false", f"--trainer.default_root_dir={tmp_path}"], run=False)
    cli.trainer.fit(cli.model, datamodule=cli.datamodule)
    batch = cli.datamodule.batch_size
    assert cli.model.images_seen == 3 * batch
    assert float(cli.trainer.progress_bar_metrics["kimg"]) == pytest.approx(3 * batch / 1000)


@pytest.mark.parametrize("args, says", [
    (["--trainer.precision", "16-true"], "use 16-mixed, bf16-mixed or bf16-true"),
    (["--trainer.devices", "0"], "Trainer(devices='0')"),
    (["--trainer.accumulate_grad_batches", "2"], "use --model.init_args.accumulate instead"),
    (["--trainer.max_step", "4"], "did you mean --trainer.max_steps?"),  # no abbreviations
])
def test_trainer_settings_that_cannot_run_are_one_line(args, says, tmp_path):
    done = lit_gans("fit", *args, "--trainer.logger", "false", "--trainer.max_steps", "2", cwd=tmp_path)
    assert done.returncode in (1, 2) and says in done.stderr
    assert len(errors(done)) == 1 and "Traceback" not in done.stderr
