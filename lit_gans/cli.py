"""`lit-gans` command line: LightningCLI with the subcommands fit, sample, evaluate, interpolate and describe, plus
`convert` (released weights to a lit-gans checkpoint, `lit_gans.convert`) and `recipes` (the installed recipes and
their cards, `lit_gans.recipe_card`).

    lit-gans fit                                   # class-conditional SAGAN on the embedded digits
    lit-gans fit --config configs/sagan/celeba64.yaml
    lit-gans fit --data datamodules.ImageFolderDataModule --data.root my_images --data.resolution 32
    lit-gans fit --trainer.devices 2               # DDP, with the strategy GAN training needs
    lit-gans fit --ckpt_path last                  # continue the newest run (e.g. after a preemption)
    lit-gans sample --ckpt_path last --num 100 --classes "[3, 7]" --out samples
    lit-gans describe --config configs/sagan/imagenet128.yaml
    lit-gans evaluate --config configs/sagan/digits.yaml --ckpt_path runs/.../last.ckpt --num_samples 10000
    lit-gans convert --source pytorch-pretrained-biggan --weights biggan-deep-128/pytorch_model.bin --out deep128.ckpt
    lit-gans recipes                               # every installed recipe; --config takes its name from any folder

With no --config, the recipe `configs/sagan/digits.yaml` applies (the file itself, installed with the package). A
--config that names a model is a whole recipe and replaces it, so a recipe is exactly its own file; a --config
without a model (callbacks, trainer settings, data) builds on the default.
The model's resolution and number of classes follow the data unless they are given explicitly (on the command
line or in a --config file); an explicit value that does not fit the data is refused with a clear message.

A run's files go to <default_root_dir or runs>/lit-gans/<run id>/. `--ckpt_path` takes a checkpoint file, a run
folder (its checkpoints/last.ckpt), `last` (the newest run's last checkpoint, `lit_gans.resume`) or Lightning's
`hpc`; `fit` with any of them continues the run in its own folder and W&B run.
A mistyped option, class path or value ends with one line naming the nearest valid one and exit status 2
(`OneLineParser`); other errors in the input end with the message and exit status 1. LIT_GANS_DEBUG=1 shows the
full usage or the traceback, and the dependencies' notices that the command line hides (`lit_gans.debug`).
"""
import importlib
import logging
import os
import sys
from pathlib import Path

import torch
import yaml
from pytorch_lightning import LightningDataModule, Trainer
from jsonargparse import ActionConfigFile
from pytorch_lightning import __version__ as pl_version
from pytorch_lightning.cli import LightningArgumentParser, LightningCLI, SaveConfigCallback
from pytorch_lightning.utilities import rank_zero_warn
from pytorch_lightning.utilities.exceptions import MisconfigurationException

import configs
from callbacks.monitor import Monitor
from callbacks.run_dir import run_dir
from lit_gans import resume
from lit_gans.commands import GANTrainer
from lit_gans.cpu_bf16 import cpu_precision
from lit_gans.debug import debugging, hide_dependency_noise
from lit_gans.gan import GAN
from lit_gans.strategy import GAN_DDP, wants_several_processes
from lit_gans.wandb_logger import PROJECT, SAVE_DIR, WandbLogger


DESCRIPTION = ("lit-gans: train, sample, evaluate and inspect GANs (SN-GAN, SAGAN, BigGAN, BigGAN-deep, ProGAN) with "
               "PyTorch Lightning. With no --config, the embedded default recipe (SAGAN on the digits shipped with "
               "scikit-learn) applies; `lit-gans recipes` lists the paper recipes, which --config takes by name from "
               "any folder.")
OTHER_SUBCOMMANDS = {  # run by `main` before any parsing; listed in the help
    "convert": "Turn released weights (BigGAN-PyTorch, TF-Hub ports, ProGAN) into a lit-gans checkpoint.",
    "recipes": "List the installed recipes; with a name, print that recipe's card against its reference.",
}


class SaveRunConfig(SaveConfigCallback):
    """Write the resolved config to <run dir>/config.yaml and store it with the logger's run (e.g. W&B config)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **{**kwargs, "save_to_log_dir": False})

    def save_config(self, trainer: Trainer, pl_module, stage: str) -> None:
        path = run_dir(trainer) / self.config_filename
        path.parent.mkdir(parents=True, exist_ok=True)
        self.parser.save(self.config, str(path), skip_none=False, overwrite=True, multifile=False)
        config = yaml.safe_load(self.parser.dump(self.config, skip_none=False))
        for logger in trainer.loggers:
            logger.log_hyperparams({"config": config})


class OneLineParser(LightningArgumentParser):
    """LightningCLI's parser, whose mistakes (an unknown option, a class path that does not exist, a value of the
    wrong type) end with one line on stderr, with the nearest valid option or class where one is close, and exit
    status 2; LIT_GANS_DEBUG=1 shows jsonargparse's usage and full message instead."""

    follow_the_data = None  # GANCLI.follow_the_data: --print_config prints the resolution and classes that will run

    def dump(self, cfg, *args, **kwargs) -> str:
        """jsonargparse's; for --print_config (while the top parser holds `print_config`), after the model's
        resolution and classes follow the data, as they will when the run starts."""
        root = self
        while getattr(root, "parent_parser", None) is not None:  # --print_config marks the top parser
            root = root.parent_parser
        if hasattr(root, "print_config") and self.follow_the_data is not None:
            cfg = cfg.clone()
            self.follow_the_data(cfg)
        return super().dump(cfg, *args, **kwargs)

    def error(self, message: str, ex: Exception | None = None):
        if not self.exit_on_error or debugging():
            return super().error(message, ex)
        parser = getattr(ex, "subcommand_parser", None) or self
        words = parser.prog.replace("[options]", "").split()
        command = " ".join(["lit-gans", *words[1:]])
        sys.stderr.write(f"lit-gans: error: {one_line(message, parser)} ({command} --help lists the options)\n")
        self.exit(2)


def one_line(message: str, parser) -> str:
    """A jsonargparse error message as one line, with "did you mean ...?" for a mistyped option, class path or
    class argument."""
    import difflib
    import re

    def nearest(name: str, candidates, cutoff: float = 0.6) -> str:
        close = difflib.get_close_matches(name, list(candidates), n=1, cutoff=cutoff)
        return f"; did you mean {close[0]}?" if close else ""

    unknown = re.match(r"unrecognized arguments: (.*)", message.strip())
    if unknown:
        options = [o for o in parser._option_string_actions if o.startswith("--")]
        tips = [nearest(token.split("=", 1)[0], options, 0.75) for token in unknown.group(1).split()
                if token.startswith("--")]
        return f"unrecognized arguments: {unknown.group(1)}" + "".join(tip for tip in tips if tip)
    # a nested message: keep its innermost reasons, label them with the innermost key or class, suggest the nearest
    keys = re.findall(r'Parser key "([\w.]+)"', message)
    classes = re.findall(r"Problem with given class_path '([\w.]+)'", message)
    noise = ("Parser key", "Does not validate", "Subtypes:", "Errors:", "Given value", "Expected a <class 'NoneType'>",
             "Problem with given class_path")
    reasons = [line.strip().lstrip("- ").strip() for line in message.splitlines()]
    reasons = [r for r in reasons if r and not r.startswith(noise)]
    specific = [r for r in reasons if not r.startswith(("Expected a path but", "Expected a dot import path"))]
    reasons = specific or reasons
    tips = []
    given = re.search(r"Given value: (\w+)\s*$", message, re.M)
    if keys and keys[-1] in ("model", "data") and not classes and given:  # a short class name: --model SAGANN
        package = importlib.import_module("lit_gans" if keys[-1] == "model" else "datamodules")
        tips.append(nearest(given.group(1), [n for n in dir(package) if n[:1].isupper()]))
    for module_name, name in re.findall(r"module '([\w.]+)' has no attribute '(\w+)'", message):
        try:
            module = importlib.import_module(module_name)
            tips.append(nearest(f"{module_name}.{name}", [f"{module_name}.{n}" for n in dir(module) if n[:1].isupper()]))
        except ImportError:
            pass
    for option in re.findall(r"Option '(\w+)' is not accepted", message):
        if classes:
            import inspect

            module_name, _, name = classes[-1].rpartition(".")
            try:
                cls = getattr(importlib.import_module(module_name), name)
            except (ImportError, AttributeError):
                continue
            accepted = {p for c in cls.__mro__ if "__init__" in vars(c)
                        for p in inspect.signature(c.__init__).parameters} - {"self", "args", "kwargs"}
            tips.append(nearest(option, accepted))
    if not reasons:
        return " ".join(readable(Exception(message)).split())
    label = f"--{keys[-1]}" if keys and not classes else (classes[-1] if classes else "")
    if classes and keys and keys[-1] not in ("model", "data"):
        label = f"{classes[-1]} {keys[-1]}"
    if "has no attribute" in message:  # the reason names the class path itself
        label = ""
    return (f"{label}: " if label else "") + "; ".join(dict.fromkeys(reasons)) + "".join(t for t in tips if t)
    return " ".join(readable(Exception(message)).split())


class GANCLI(LightningCLI):
    """LightningCLI with lit-gans' subcommands, the model shape taken from the data, and the GAN strategy for
    several processes."""

    def init_parser(self, **kwargs) -> LightningArgumentParser:
        """Lightning's parser, as `OneLineParser` (one-line mistakes)."""
        kwargs.setdefault("dump_header", [f"pytorch_lightning=={pl_version}"])
        kwargs.setdefault("prog", "lit-gans")
        kwargs.setdefault("allow_abbrev", False)  # --trainer.max_step must not pass for --trainer.max_steps
        kwargs.setdefault("description", DESCRIPTION)
        parser = OneLineParser(**kwargs)
        parser.follow_the_data = self.follow_the_data
        parser.add_argument("-c", "--config", action=ActionConfigFile,
                            help="Path to a configuration file in json or yaml format, or the name of an installed "
                                 "recipe (lit-gans recipes lists them).")
        return parser

    @staticmethod
    def subcommands() -> dict[str, set[str]]:
        """The Trainer methods `lit-gans` runs, each with the arguments the CLI builds itself. Lightning's validate,
        test and predict are not among them: a GAN has no validation or test loss; `evaluate` measures it."""
        return {
            "fit": LightningCLI.subcommands()["fit"],
            "sample": {"model", "datamodule"},
            "describe": {"model", "datamodule"},
            "evaluate": {"model", "datamodule"},
            "interpolate": {"model", "datamodule"},
        }

    def _add_subcommands(self, parser: LightningArgumentParser, **kwargs) -> None:
        """Lightning's subcommands, then `convert` and `recipes`, which `main` runs before any parsing: listed here so
        that `lit-gans --help` names every subcommand."""
        super()._add_subcommands(parser, **kwargs)
        subcommands = parser._subcommands_action
        for name, purpose in OTHER_SUBCOMMANDS.items():
            subcommands.add_subcommand(name, OneLineParser(prog=f"lit-gans {name}", description=purpose), help=purpose)

    def _prepare_subcommand_parser(self, klass: type, subcommand: str, **kwargs) -> LightningArgumentParser:
        """Lightning's subcommand parser with the subcommand's own options first in its help, then the model's,
        the data's and the trainer's."""
        parser = self.init_parser(**kwargs)
        skip = set(self.subcommands()[subcommand])
        self._subcommand_method_arguments[subcommand] = parser.add_method_arguments(klass, subcommand, skip=skip)
        self._add_arguments(parser)
        return parser

    def parse_arguments(self, parser: LightningArgumentParser, args) -> None:
        """Lightning's, then the run's folder and the checkpoint --ckpt_path names (before Lightning reads the
        checkpoint's hyperparameters)."""
        argv = sys.argv[1:] if args is None else args
        self.explicit_model_args = explicit_model_args(argv)  # before parsing: --print_config prints while parsing
        super().parse_arguments(parser, args)
        self.explicit_precision = not isinstance(argv, dict) and any(
            str(a).split("=", 1)[0] == "--trainer.precision" for a in argv)
        self.explicit_devices = explicit_devices(argv)
        subcommand = self.config.get("subcommand")
        config = self.config[subcommand] if subcommand else self.config
        place_runs(config.trainer)
        if subcommand and config.get("ckpt_path"):
            given = str(config.ckpt_path)
            config.ckpt_path = resume.resolve(given, checkpoint_patterns(config.trainer, subcommand))
            saved = resume.saved_state(config.ckpt_path) if Path(config.ckpt_path).is_file() else None
            if subcommand == "fit" and saved is not None:
                self.keep_the_run_settings(config, given, saved.get("hyper_parameters") or {})
                continue_in(config.trainer, Path(config.ckpt_path), (saved.get("wandb") or {}).get("run_id"))
        if subcommand not in (None, "fit"):  # after `last` was found where the logger keeps its runs
            quiet_trainer(config.trainer, start_up_lines=args is not None)

    def keep_the_run_settings(self, config, given: str, saved: dict) -> None:
        """A resumed run keeps the model settings its checkpoint holds (`saved`, its hyperparameters: Lightning
        rebuilds the model from them). An option given with another value is refused for `--ckpt_path last`, which
        may have found another experiment's run, and ignored with a warning for a checkpoint or run the user
        named."""
        init_args = config.model.get("init_args") or {}
        options = {name: init_args[name] for name in self.explicit_model_args if name in init_args}
        differing = resume.ignored_settings(options, saved)
        if not differing:
            return
        listed = ", ".join(f"{name} {old!r} (this command: {new!r})" for name, (old, new) in differing.items())
        if given == "last":
            raise ValueError(f"--ckpt_path last found {config.ckpt_path}, a run with other model settings than this "
                             f"command gives: {listed}. A resumed run keeps its own settings: drop these options to "
                             "resume it, or give each experiment its own --trainer.default_root_dir")
        rank_zero_warn(f"{config.ckpt_path} resumes with its own model settings, so these options are ignored: {listed}")

    def before_instantiate_classes(self) -> None:
        config = self.config[self.subcommand] if self.subcommand else self.config
        self.follow_the_data(config)
        trainer = config.trainer
        if self.subcommand == "fit" and not self.explicit_devices:  # the others run in this process
            check_devices(trainer, config.get("model"))
        if self.subcommand in ("fit", "evaluate"):
            check_data(config.get("data"))
        if trainer.get("accumulate_grad_batches") not in (None, 1):
            raise ValueError(f"--trainer.accumulate_grad_batches {trainer.accumulate_grad_batches}: a GAN step accumulates "
                             "its own gradients; use --model.init_args.accumulate instead")
        if self.subcommand == "fit" and str(trainer.precision) == "16-true":
            raise ValueError("precision 16-true keeps weights and optimizer state in float16, where the GAN losses "
                             "overflow at the first step: use 16-mixed, bf16-mixed or bf16-true")
        if trainer.get("deterministic") is None and on_cpu(trainer.accelerator):
            # the same command gives the same weights: CPU kernels without a fixed reduction order (e.g. embedding
            # gradients) are swapped for deterministic ones, 2.4% slower on 2 CPU cores (benchmarks/deterministic_cost.py);
            # "warn", not True: an operation with no deterministic version warns instead of ending the run
            trainer.deterministic = "warn"
        self.avoid_emulated_bf16(trainer)
        if trainer.strategy == "auto" and wants_several_processes(trainer.accelerator, trainer.devices, trainer.num_nodes):
            trainer.strategy = GAN_DDP

    def follow_the_data(self, config) -> None:
        """Set the model's `resolution` and `num_classes` from the data, where the user did not give them (with
        --ckpt_path, the checkpoint's hyperparameters decide). Not jsonargparse's `link_arguments`: a linked
        target silently overrides a value the user gave, and a mismatch given explicitly must be refused."""
        model, data = config.get("model"), config.get("data")
        if config.get("ckpt_path") or model is None or data is None or model.get("init_args") is None or data.get("init_args") is None:
            return
        given = self.explicit_model_args
        resolution = data.init_args.get("resolution")
        if "resolution" not in given and resolution is not None and "resolution" in model.init_args:
            model.init_args.resolution = resolution
        if "num_classes" not in given and "num_classes" in model.init_args:
            classes = declared_classes(data)
            if classes is not None:
                model.init_args.num_classes = classes

    def avoid_emulated_bf16(self, trainer) -> None:
        """On a CPU without bf16 units (`lit_gans.cpu_bf16`), train in 32-true instead of an emulated bf16 precision
        from a config file (the run's saved config records the change); --trainer.precision on the command line is
        kept as given."""
        fallback = cpu_precision(trainer.precision, trainer.accelerator)
        if fallback is None:
            return
        if self.explicit_precision:
            rank_zero_warn(f"precision {trainer.precision} on a CPU without bf16 units is emulated and runs about 11-33x "
                           "slower than 32-true")
            return
        rank_zero_warn(f"this CPU has no bf16 units (AVX512-BF16 or AMX), where {trainer.precision} would be emulated "
                       f"and about 11-33x slower: training in {fallback} instead (--trainer.precision "
                       f"{trainer.precision} on the command line insists)")
        trainer.precision = fallback

    def before_fit(self) -> None:
        """`fit --ckpt_path` (or a requeued SLURM job, which Lightning resumes from its requeue checkpoint) continues
        the checkpoint's W&B run rather than opening a new one."""
        ckpt_path = self.config[self.subcommand].get("ckpt_path")
        if ckpt_path in (None, "hpc"):
            ckpt_path = requeue_checkpoint(self.trainer, under_slurm_only=ckpt_path is None)
        if ckpt_path and Path(ckpt_path).is_file():
            for logger in self.trainer.loggers:
                if isinstance(logger, WandbLogger):
                    logger.resume_from(ckpt_path)

    def after_fit(self) -> None:
        """Name once more, at the end, the monitors an error switched off (their warnings may be far above)."""
        off = [callback for callback in self.trainer.callbacks if isinstance(callback, Monitor) and callback.failure]
        if off:
            names = ", ".join(type(callback).__name__ for callback in off)
            rank_zero_warn(f"switched off during this run by an error (see its warning above): {names}")


def quiet_trainer(trainer, start_up_lines: bool) -> None:
    """For sample, evaluate, interpolate and describe: no logger (they write files and print; a W&B run would only
    be empty), and, on the command line (not `start_up_lines`), none of Lightning's start-up lines about
    accelerators, precision and seeds, which concern training. (From Python, the process's logging is the
    caller's.)"""
    trainer.logger = False
    if start_up_lines:
        return
    for name in START_UP_LOGGERS:
        logger = logging.getLogger(name)
        QUIETED.setdefault(name, logger.level)
        logger.setLevel(logging.WARNING)


START_UP_LOGGERS = ("pytorch_lightning.utilities.rank_zero", "lightning_fabric.utilities.rank_zero",
                    "lightning_fabric.utilities.seed")
QUIETED: dict[str, int] = {}  # logger name -> its level before `quiet_trainer`; `console` restores them


def restore_start_up_lines() -> None:
    while QUIETED:
        name, level = QUIETED.popitem()
        logging.getLogger(name).setLevel(level)


def check_data(data) -> None:
    """The data a config names is where its DataModule looks (`GANDataModule.check_source`): checked before the
    model is built (a minute for the ImageNet recipes on a CPU) and before any worker process starts, so a missing
    dataset is one line, once. The DataModule built here reads nothing; the run builds its own."""
    if data is None or not getattr(data, "class_path", None):
        return
    cls = named_class(data.class_path)
    if hasattr(cls, "check_source"):
        init_args = data.init_args.as_dict() if data.get("init_args") is not None else {}
        cls(**init_args).check_source()


def explicit_devices(argv) -> bool:
    """Whether the user chose the device count: --trainer.devices on the command line, or a --config file of their
    own (not an installed recipe) that states it. A recipe's `devices: 8` is the reference's setup, not a choice
    made for this machine."""
    if isinstance(argv, dict):
        return "devices" in (argv.get("trainer") or {})
    if any(str(a).split("=", 1)[0] == "--trainer.devices" for a in argv):
        return True
    recipes = {path.read_text() for path in configs.recipes()}
    return any("devices" in (content.get("trainer") or {}) for content in config_files(argv, skip=recipes))


def on_cpu(accelerator) -> bool:
    """Whether Trainer(accelerator) trains on the CPU."""
    return str(accelerator) == "cpu" or str(accelerator) == "auto" and not torch.cuda.is_available() and not (
        torch.backends.mps.is_available())


def check_devices(trainer, model) -> None:
    """Refuse, in one line and before any process starts, a recipe that asks for more devices than this machine
    has, saying what to pass: e.g. an 8-GPU ImageNet recipe started on a laptop."""
    try:
        wanted = int(trainer.devices)
    except (TypeError, ValueError):  # "auto", a list of indices: Lightning checks those
        return
    on_gpu = str(trainer.accelerator) in ("auto", "gpu", "cuda") and torch.cuda.is_available()
    have = torch.cuda.device_count() if on_gpu else 0
    if wanted <= max(have, 1):
        return
    use = max(have, 1)
    accumulate = (model.get("init_args") or {}).get("accumulate") if model is not None else None
    keep = (f" and --model.init_args.accumulate {accumulate * wanted // use} to keep its batch"
            if isinstance(accumulate, int) and (accumulate * wanted) % use == 0 else "")
    where = f"{have} GPU{'s' if have != 1 else ''}" if have else "no GPU"
    raise ValueError(f"the recipe asks for {wanted} devices (trainer.devices) and this machine has {where}: pass "
                     f"--trainer.devices {use}{keep}, or --trainer.devices {wanted} to start {wanted} processes anyway")


def loggers(trainer) -> list:
    """The logger configs of a parsed trainer config (Namespaces with class_path and init_args)."""
    value = trainer.get("logger")
    return [v for v in (value if isinstance(value, list) else [value]) if hasattr(v, "init_args")]


def place_runs(trainer) -> None:
    """Where a lit-gans W&B logger puts the run: `--trainer.default_root_dir DIR` places it, as it does for
    Lightning's own default logger, when the logger is left at its default save_dir (runs): DIR/<project>/<run
    id>/. The save_dir is made absolute, so that a run resumed from another working folder names its checkpoint
    folder exactly as before, and ModelCheckpoint carries on with its files (last.ckpt, not last-v1.ckpt)."""
    for logger in loggers(trainer):
        if logger.class_path == f"{WandbLogger.__module__}.WandbLogger" and logger.init_args.get("save_dir"):
            if logger.init_args.save_dir == SAVE_DIR and trainer.get("default_root_dir") is not None:
                logger.init_args.save_dir = trainer.default_root_dir
            logger.init_args.save_dir = os.path.abspath(os.path.expanduser(logger.init_args.save_dir))


def checkpoint_patterns(trainer, subcommand: str) -> list[str]:
    """Where runs of this trainer config keep their last checkpoints (glob patterns, for `--ckpt_path last`):
    ModelCheckpoint's own dirpath where one is given; <save_dir>/<project>/*/checkpoints/ of the first logger, or
    <default_root_dir>/checkpoints/ without one (and for a subcommand other than fit, which needs no logger, also
    the default runs/lit-gans/*/checkpoints/); under SLURM, fit's requeue checkpoints <default_root_dir>/hpc_ckpt_*,
    so that `last` is the newer of the two."""
    from pytorch_lightning.plugins.environments import SLURMEnvironment

    patterns = [resume.in_folder(Path(callback.init_args.dirpath).expanduser(), resume.LAST)
                for callback in trainer.get("callbacks") or []
                if callback.class_path.endswith("ModelCheckpoint") and callback.init_args.get("dirpath")]
    root = Path(trainer.get("default_root_dir") or ".").expanduser()
    logger = next(iter(loggers(trainer)), None)
    save_dir = logger.init_args.get("save_dir") if logger is not None else None
    if save_dir:
        name = logger.init_args.get("project") or logger.init_args.get("name") or ""
        patterns.append(resume.in_folder(Path(save_dir) / name, f"*/checkpoints/{resume.LAST}"))
    else:
        patterns.append(resume.in_folder(root / "checkpoints", resume.LAST))
        if subcommand != "fit":
            default = Path(trainer.get("default_root_dir") or SAVE_DIR).expanduser() / PROJECT
            patterns.append(resume.in_folder(default, f"*/checkpoints/{resume.LAST}"))
    if subcommand == "fit" and SLURMEnvironment.detect():
        patterns.append(resume.in_folder(root, "hpc_ckpt_*.ckpt"))
    return patterns


def continue_in(trainer, checkpoint: Path, run_id: str | None) -> None:
    """`fit` from a checkpoint of a run folder, <save_dir>/<project>/<run id>/checkpoints/ (`--ckpt_path last`, a run
    folder, or a file in one; `run_id` is the W&B run it records): continue in that folder wherever it lies, so the
    logger's save_dir and project follow it (the W&B run id is the checkpoint's, `before_fit`). Other checkpoints
    leave the logger as configured."""
    run = checkpoint.parent.parent
    if checkpoint.parent.name != "checkpoints" or run_id != run.name:
        return
    for logger in loggers(trainer)[:1]:
        if "save_dir" in logger.init_args and "project" in logger.init_args:
            logger.init_args.save_dir, logger.init_args.project = os.path.abspath(run.parent.parent), run.parent.name


def explicit_model_args(args) -> set[str]:
    """The model init arguments given on the command line or in --config files (not the defaults, nor the
    default recipe): those are kept, the others follow the data."""
    if isinstance(args, dict):
        return set((args.get("model") or {}).get("init_args") or {})
    given = set()
    for arg in (str(a) for a in args):
        prefix = next((p for p in ("--model.init_args.", "--model.") if arg.startswith(p)), None)
        if prefix is not None:
            given.add(arg[len(prefix):].split("=", 1)[0])
    for content in config_files(args):
        model = content.get("model") or {}
        given |= set(model.get("init_args") or {}) if isinstance(model, dict) else set()
    return given


def named_class(class_path: str) -> type:
    """The class a config's `class_path` names ("datamodules.CIFAR10DataModule")."""
    module_name, _, class_name = class_path.rpartition(".")
    return getattr(importlib.import_module(module_name), class_name)


def declared_classes(data) -> int | None:
    """The number of classes a DataModule config declares without reading any data (None when unknown)."""
    declare = getattr(named_class(data.class_path), "declared_classes", None)
    return declare(**vars(data.init_args)) if declare is not None else None


def requeue_checkpoint(trainer: Trainer, under_slurm_only: bool = True) -> Path | None:
    """The checkpoint a SLURM job saved before it was requeued (`<default_root_dir>/hpc_ckpt_<n>.ckpt`, highest n),
    which Lightning resumes from when a job runs under SLURM without --ckpt_path (and with --ckpt_path hpc
    anywhere); None when there is none, or outside SLURM with `under_slurm_only`."""
    from pytorch_lightning.plugins.environments import SLURMEnvironment

    if under_slurm_only and not SLURMEnvironment.detect():
        return None
    saved = sorted(Path(trainer.default_root_dir).glob("hpc_ckpt_*.ckpt"), key=lambda p: int(p.stem.rsplit("_", 1)[1]))
    return saved[-1] if saved else None


def main(args: list[str] | None = None, run: bool = True) -> GANCLI:
    """Parse `args` (default: the command line) and run the subcommand; with run=False, only build the model,
    data and trainer from a config (no subcommand in `args`), e.g. to train from Python."""
    from callbacks import Interpolations, WandbRunId

    argv = sys.argv[1:] if args is None else args
    if run and isinstance(argv, list) and argv[:1] == ["convert"]:  # not a Trainer method: no model or data to build
        from lit_gans.convert import main as convert

        return convert(argv[1:])
    if run and isinstance(argv, list) and argv[:1] == ["recipes"]:
        recipes(argv[1:])
        return None
    if isinstance(argv, list):
        found = find_recipes(argv)
        if found != argv:
            if args is None:
                sys.argv[1:] = found
            else:
                args = found
            argv = found
    defaults = {"default_config_files": [] if names_a_recipe(argv) else [str(configs.recipe())]}
    return GANCLI(
        GAN,
        LightningDataModule,
        trainer_class=GANTrainer,
        subclass_mode_model=True,
        subclass_mode_data=True,
        auto_configure_optimizers=False,
        save_config_callback=SaveRunConfig,
        trainer_defaults={"callbacks": [WandbRunId(), Interpolations()]},
        parser_kwargs={name: dict(defaults) for name in GANCLI.subcommands()} if run else defaults,
        args=args,
        run=run,
    )


def find_recipes(argv: list[str]) -> list[str]:
    """`argv` with every --config value that names no file here but an installed recipe replaced by that recipe's
    path (`configs.installed`), saying so in one line on stderr: the README's `--config configs/...` works from any
    folder after `pip install`."""
    found, previous = [], None
    for arg in argv:
        flag, value = (arg.split("=", 1) + [None])[:2] if str(arg).startswith(("--config=", "-c=")) else (None, None)
        value = value if flag else (arg if previous in ("--config", "-c") else None)
        path = configs.installed(value) if value else None
        if path is not None:
            print(f"lit-gans: --config {value}: no such file here, using the installed recipe {path}", file=sys.stderr)
            arg = f"--config={path}" if flag else str(path)
        found.append(arg)
        previous = arg
    return found


def recipes(names: list[str]) -> None:
    """`lit-gans recipes`: the table of recipes; `lit-gans recipes NAME...`: each recipe's card (the reference's
    settings with file and line, what runs, each deviation and why). An unknown name is one line and exit 2."""
    import difflib

    from lit_gans import recipe_card

    if "-h" in names or "--help" in names:
        print(f"usage: lit-gans recipes [NAME ...]\n\n{OTHER_SUBCOMMANDS['recipes']} NAME is a recipe as --config "
              "takes it, e.g. biggan/imagenet128.\n")
        names = []
    if not names:
        print(recipe_table())
        return
    known = [str(p.relative_to(configs.recipe().parents[1]).with_suffix("")) for p in configs.recipes()]
    for name in names:
        name = name.removeprefix("./").removeprefix("configs/").removesuffix(".yaml")
        if name not in known:
            close = difflib.get_close_matches(name, known, n=3, cutoff=0.5)
            print(f"lit-gans recipes: no recipe {name!r}" + (f"; did you mean {' or '.join(close)}?" if close else
                  "; lit-gans recipes lists them"), file=sys.stderr)
            raise SystemExit(2)
        card = recipe_card.card_path(name)
        print(recipe_card.markdown(card) if card.is_file() else
              f"{name}: this recipe names no published reference, so it has no card")


def recipe_table() -> str:
    """`lit-gans recipes`: every installed recipe with its model, data, resolution, devices, parameter counts and
    source (the first line of its header comment)."""
    import re

    rows = ["| recipe | model | data | px | devices | G / D parameters | source |", "|---|---|---|---|---|---|---|"]
    root = configs.recipe().parents[1]
    for path in configs.recipes():
        text = path.read_text()
        recipe = yaml.safe_load(text)
        model, data = recipe.get("model") or {}, recipe.get("data") or {}
        counts = re.search(r"Parameters: G ([\d,]+), D ([\d,]+)", text)
        header = next((line[1:].strip() for line in text.splitlines() if line.startswith("#")), "").split(":")[0]
        if header.count("(") > header.count(")"):  # a parenthesis the next line closes
            header = header[:header.rindex("(")].strip()
        rows.append(" | ".join([
            f"| {path.relative_to(root).with_suffix('')}", model.get("class_path", "").split(".")[-1],
            data.get("class_path", "").split(".")[-1].removesuffix("DataModule"),
            str((data.get("init_args") or {}).get("resolution", "")),
            str((recipe.get("trainer") or {}).get("devices", 1)),
            f"{counts.group(1)} / {counts.group(2)}" if counts else "",
            header + " |"]))
    return "\n".join(rows) + ("\n\nRun one from any folder: lit-gans fit --config <recipe> (e.g. biggan/cifar32). "
                              "Its card (the reference's settings and every deviation): lit-gans recipes <recipe>.")


def names_a_recipe(argv) -> bool:
    """Whether a --config file names a model: it is then a whole recipe and replaces the embedded default, so it
    never inherits a setting that only the default states (a precision, a regulariser). A --config without a model
    (callbacks, trainer settings, other data) still builds on the default."""
    if isinstance(argv, dict):
        return "model" in argv
    return any("model" in content for content in config_files(argv))


def config_files(argv: list, skip: set[str] = frozenset()) -> list[dict]:
    """The content of every --config (or -c) file in `argv` that reads as a YAML mapping, except files whose text
    is in `skip`; inline config strings and files that cannot be read are left to the parser, which reports them."""
    argv = [str(a) for a in argv]
    values = [a.split("=", 1)[1] for a in argv if a.startswith(("--config=", "-c="))]
    values += [value for flag, value in zip(argv, argv[1:]) if flag in ("--config", "-c")]
    contents = []
    for value in values:
        try:
            path = Path(value)
            text = path.read_text() if path.is_file() else None
            content = yaml.safe_load(text) if text is not None and text not in skip else None
        except (OSError, ValueError, yaml.YAMLError):
            content = None
        if isinstance(content, dict):
            contents.append(content)
    return contents


def console() -> None:
    """The `lit-gans` console script: exit status 0 on success; bad input ends with its message and status 1
    (LIT_GANS_DEBUG=1 re-raises, with the traceback)."""
    hide_dependency_noise()
    try:
        if debugging():
            main()
            return
        try:
            main()
        except (ValueError, TypeError, FileNotFoundError, PermissionError, FloatingPointError, KeyError,
                RuntimeError, ImportError, MisconfigurationException) as error:  # ImportError: e.g. a precision's
            print(f"lit-gans: error: {readable(error)}\n(set LIT_GANS_DEBUG=1 for the traceback)", file=sys.stderr)
            sys.exit(1)
    finally:
        restore_start_up_lines()  # a caller in the same process (a test, a notebook) keeps its logging


def readable(error: BaseException) -> str:
    """The message of an error, without jsonargparse's dump of every type a value failed to validate against."""
    message = str(error).strip() or type(error).__name__
    if "Does not validate against any of the" not in message:
        return message
    problems = [line.strip()[2:] for line in message.splitlines() if line.strip().startswith("- ")
                and "Expected a <class 'NoneType'>" not in line]
    return "\n".join(problems) or message.splitlines()[0]
