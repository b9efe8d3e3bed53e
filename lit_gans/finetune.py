"""Fine-tuning: start a new run from the weights of a trained or converted checkpoint (`GAN(init_from=...)`).

What is loaded: G, the EMA G and D, those the checkpoint holds (a converted BigGAN-deep has no D: it starts from its
initialisation). Counters, optimizer states and latent streams start fresh. When the new run has another number
of classes, every layer whose shape depends on it (G's class embedding or per-class BatchNorm tables, D's
projection embedding) keeps its fresh initialisation; any other difference is an error listing the tensors.

FreezeD (Mo, Cho & Shin 2020, "Freeze the Discriminator"): `freeze_d = N` keeps D's input layer and its first N
blocks fixed at the loaded weights; only the later blocks and the head train.
"""
from dataclasses import dataclass, field
from pathlib import Path

import torch
import torch.nn as nn

from lit_gans.convert.foreign import listing, load_foreign
from lit_gans.layers.truncation_stats import TABLE_BUFFERS

NETWORKS = ("generator", "generator_ema", "discriminator")


@dataclass
class InitialWeights:
    """What `init_from` loads: `state` (full state-dict keys of the model -> tensors) and the names of the modules
    left at their initialisation (`fresh`), with the reason for each."""
    state: dict[str, torch.Tensor]
    fresh: dict[str, str] = field(default_factory=dict)

    def loaded_parameters(self, model: nn.Module) -> set[str]:
        """Names of the parameters of `model` this loads (a parameter's name is its state-dict key)."""
        return {name for name, _ in model.named_parameters() if name in self.state}

    def summary(self) -> str:
        fresh = "; ".join(f"{name}: {why}" for name, why in self.fresh.items())
        return f"{len(self.state)} tensors loaded" + (f"; left at their initialisation: {fresh}" if fresh else "")


def owner(key: str) -> str:
    """The module a state-dict key belongs to: "blocks.0.conv1" for "blocks.0.conv1.parametrizations.weight.0._u"."""
    return key.split(".parametrizations.")[0] if ".parametrizations." in key else key.rsplit(".", 1)[0]


def read_initial_weights(model, path: str | Path) -> InitialWeights:
    """The weights of the checkpoint at `path` that fit `model` (a GAN), or a ValueError saying what does not."""
    path = Path(path)
    checkpoint = load_foreign(path, "init_from: a lit-gans checkpoint, trained or written by `lit-gans convert`")
    info = checkpoint.get("lit_gans")
    if info is None or "state_dict" not in checkpoint:
        raise ValueError(f"init_from: {path} was not written by lit-gans (no 'lit_gans' entry); convert released "
                         "weights first with `lit-gans convert`")
    if info["model"] != type(model).__name__:
        raise ValueError(f"init_from: {path} holds a {info['model']} model, not a {type(model).__name__}")
    theirs = checkpoint["state_dict"]
    if not any(k.startswith("generator_ema.") for k in theirs):
        theirs = {**theirs, **{"generator_ema." + k[len("generator."):]: v for k, v in theirs.items()
                               if k.startswith("generator.")}}
    old_classes = checkpoint.get("hyper_parameters", {}).get("num_classes", model.num_classes)
    ours = model.state_dict()
    state, fresh, wrong, missing = {}, {}, [], []
    held = {k.split(".", 1)[0] for k in theirs}
    for network in NETWORKS:
        if network not in held:
            fresh[network] = f"not in {path.name}"
            continue
        keys = [k for k in ours if k.startswith(network + ".")]
        class_layers = {owner(k) for k in keys if k in theirs and theirs[k].shape != ours[k].shape
                        and old_classes != model.num_classes and theirs[k].dim() and theirs[k].shape[0] == old_classes}
        for module in sorted(class_layers):
            fresh[module] = f"its size follows the number of classes ({old_classes} -> {model.num_classes})"
        for key in keys:
            if owner(key) in class_layers:
                continue
            if key not in theirs:
                if not key.endswith(TABLE_BUFFERS):
                    missing.append(key)
            elif theirs[key].shape != ours[key].shape:
                wrong.append(f"{key} {tuple(theirs[key].shape)} (this model: {tuple(ours[key].shape)})")
            else:
                state[key] = theirs[key]
    unexpected = [k for k in theirs if k.split(".", 1)[0] in NETWORKS and k not in ours and not k.endswith(TABLE_BUFFERS)]
    problems = [f"{len(wrong)} tensors of another shape: {listing(wrong, 6)}"] if wrong else []
    problems += [f"{len(missing)} missing tensors: {listing(missing)}"] if missing else []
    problems += [f"{len(unexpected)} tensors this model lacks: {listing(unexpected)}"] if unexpected else []
    if problems:
        raise ValueError(f"init_from: {path} does not fit this {type(model).__name__} (compare its hyperparameters "
                         f"with this run's): " + "; ".join(problems))
    return InitialWeights(state, fresh)


def load_initial_weights(model, weights: InitialWeights) -> None:
    """Copy the weights into `model` in place (parameters keep their identity, so optimizers and DDP see them)."""
    ours = model.state_dict()
    with torch.no_grad():
        for key, value in weights.state.items():
            ours[key].copy_(value)


def frozen_blocks(discriminator: nn.Module, n: int) -> list[nn.Module]:
    """D's input layer and its first `n` blocks, in the order the forward pass runs them (FreezeD)."""
    blocks = getattr(discriminator, "blocks", None)
    if not isinstance(blocks, nn.ModuleList):
        raise ValueError(f"freeze_d needs a discriminator with a list of blocks; {type(discriminator).__name__} "
                         "grows progressively and is not supported")
    if not 0 <= n <= len(blocks):
        raise ValueError(f"freeze_d must lie in [0, {len(blocks)}] for this discriminator, got {n}")
    stem = [discriminator.stem] if n and isinstance(getattr(discriminator, "stem", None), nn.Module) else []
    return stem + list(blocks[:n])
