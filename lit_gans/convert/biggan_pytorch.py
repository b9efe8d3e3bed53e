"""BigGAN checkpoints of BigGAN-PyTorch (ajbrock/BigGAN-PyTorch): the files its `utils.save_weights` writes into
one folder, G.pth, G_ema.pth, D.pth, G_optim.pth, D_optim.pth and state_dict.pth (each with an optional
`_<suffix>`, e.g. G_best0.pth); `--weights` names G.pth (or the folder). state_dict.pth holds the run's config
(the architecture) and counters; the others are state dicts of G, its EMA, D and their Adam optimizers.

Where each part goes in `BigGANGenerator` / `BigGANDiscriminator`:

    blocks.{i}.0 (residual block), blocks.{i}.1 (attention)     -> blocks.{k}, flattened in the same order
    conv1, conv2, conv_sc                                       -> conv1, conv2, shortcut
    bn1/bn2.gain, .bias (bias-free linear), stored_mean/_var    -> norm1/norm2.gain, .bias, .bn.running_mean/_var
    theta, phi, g, o, gamma                                     -> theta, phi, g, out, gamma
    output_layer.0 (gain, bias, stored stats), output_layer.2   -> out_bn (weight, bias, running stats), out_conv
    shared, linear, (D) linear, embed                           -> the same names

Spectral norm: BigGAN-PyTorch stores u0 (1, out) and, in every forward (eval included), runs one power step from it,
v = normalize(u0 W), u = normalize(v W^T), dividing W by sigma = v W^T u^T (updating u0 only in training). Our
parametrization divides by u^T W v with its stored u, v in eval mode, so the converted vectors are that power
step's v and u: the converted layers compute exactly the weights BigGAN-PyTorch uses. In training both run one
power step per forward, ours updating u before v (torch's order), theirs v before u. sv0 only logs sigma and is
dropped.

Optimizers: the Adam moments of every parameter move to our parameter of that name, so `fit --ckpt_path` on the
converted checkpoint continues the run (counters from state_dict.pth: itr generator steps). Without the optimizer
files the checkpoint is for sampling and `init_from` fine-tuning only.
"""
from pathlib import Path

import torch
import torch.nn.functional as F

from lit_gans.biggan import BigGAN
from lit_gans.convert.checkpoint import converted_checkpoint, save_atomically
from lit_gans.convert.foreign import KeyReader, check_shapes, load_foreign, sha256

EXPECTED = "a BigGAN-PyTorch checkpoint file (utils.save_weights: G.pth, G_ema.pth, D.pth, G_optim.pth, D_optim.pth, state_dict.pth)"
BUFFERS = (".u0", ".sv0", ".stored_mean", ".stored_var", ".accumulation_counter")


def files(weights: Path) -> dict[str, Path]:
    """The checkpoint's files beside `weights` (G[_suffix].pth, or a folder holding G.pth)."""
    if weights.is_dir():
        weights = weights / "G.pth"
    if not weights.name.startswith("G") or weights.name.startswith(("G_ema", "G_optim")):
        raise ValueError(f"{weights}: --weights names the G.pth (or G_<suffix>.pth) of a BigGAN-PyTorch checkpoint, "
                         "with its other files beside it")
    suffix = weights.name[1:]  # ".pth" or "_best0.pth"
    return {name: weights.with_name(name + suffix) for name in ("G", "G_ema", "D", "G_optim", "D_optim", "state_dict")}


def read_run(path: Path) -> dict:
    """state_dict.pth: the run's counters and config. The config may hold the activation modules it trained with."""
    if not path.is_file():
        raise FileNotFoundError(f"{path} does not exist: the BigGAN-PyTorch config it holds gives the architecture")
    with torch.serialization.safe_globals([torch.nn.ReLU, torch.nn.LeakyReLU, torch.nn.ELU]):
        run = load_foreign(path, "state_dict.pth of BigGAN-PyTorch (counters and config)")
    if "config" not in run:
        raise ValueError(f"{path} has no 'config' entry (expected the state_dict.pth of BigGAN-PyTorch)")
    return run


def build_model(config: dict, path: Path) -> BigGAN:
    """Our BigGAN with the run's architecture and optimizer, or a ValueError naming what this layout lacks."""
    get = lambda key, default=None: config.get(key, default)  # noqa: E731
    unsupported = [f"{key}={get(key)!r}" for key, ok in (
        ("G_shared", get("G_shared", False)), ("num_G_SVs", get("num_G_SVs", 1) == 1), ("num_D_SVs", get("num_D_SVs", 1) == 1),
        ("G_attn", get("G_attn", "64") == get("D_attn", "64") and "_" not in str(get("G_attn", "64"))),
        ("mybn", not get("mybn", False)), ("norm_style", get("norm_style", "bn") == "bn"), ("D_wide", get("D_wide", True)),
        ("G_param", get("G_param", "SN") == "SN"), ("model", get("model", "BigGAN") == "BigGAN")) if not ok]
    if unsupported:
        raise ValueError(f"{path}: this converter reads BigGAN-PyTorch's BigGAN with a shared embedding, one "
                         f"singular vector, one attention resolution shared by G and D and plain BatchNorm; this run "
                         f"has {', '.join(unsupported)}")
    z_dim, attn = get("dim_z", 128), int(get("G_attn", "64"))
    blocks = {32: 3, 64: 4, 128: 5, 256: 6, 512: 7}.get(get("resolution"), 5)
    if get("hier", False):
        z_dim = z_dim // (blocks + 1) * (blocks + 1)  # BigGAN-PyTorch rounds z down to equal chunks
    return BigGAN(resolution=get("resolution"), z_dim=z_dim, ch=get("G_ch", 64), d_ch=get("D_ch", 64),
                  num_classes=get("n_classes", 1000), shared_dim=get("shared_dim", 0) or z_dim, hier=get("hier", False),
                  attn_res=attn, bn_eps=get("BN_eps", 1e-5), sn_eps=get("SN_eps", 1e-12),
                  init=get("G_init", "ortho"), n_dis=get("num_D_steps", 2), accumulate=get("num_D_accumulations", 1),
                  lr_g=get("G_lr", 5e-5), lr_d=get("D_lr", 2e-4), betas_g=(get("G_B1", 0.0), get("G_B2", 0.999)),
                  betas_d=(get("D_B1", 0.0), get("D_B2", 0.999)), adam_eps=get("adam_eps", 1e-8),
                  ortho_reg=get("G_ortho", 0.0))


class Mapping:
    """Collects our tensors (`state`) and, for the optimizer states, our name of each of their parameters
    (`names`) while reading one network's state dict."""

    def __init__(self, read: KeyReader, eps: float):
        self.read, self.eps = read, eps
        self.state: dict[str, torch.Tensor] = {}
        self.names: dict[str, str] = {}

    def plain(self, source: str, target: str) -> None:
        self.state[target] = self.read(source)
        self.names[source] = target

    def spectral(self, source: str, target: str, bias: bool = True) -> None:
        """A BigGAN-PyTorch SN layer as our parametrization's tensors: u, v from the power step its forward runs."""
        weight, u0 = self.read(f"{source}.weight"), self.read(f"{source}.u0")
        self.read.used.add(f"{source}.sv0")
        self.names[f"{source}.weight"] = f"{target}.parametrizations.weight.original"
        if bias:
            self.plain(f"{source}.bias", f"{target}.bias")
        if self.read.missing:
            return
        matrix = weight.flatten(1)
        v = F.normalize(u0 @ matrix, eps=self.eps)
        u = F.normalize(v @ matrix.t(), eps=self.eps)
        self.state |= {f"{target}.parametrizations.weight.original": weight,
                       f"{target}.parametrizations.weight.0._u": u[0], f"{target}.parametrizations.weight.0._v": v[0]}

    def blocks(self, conditional: bool) -> None:
        """The residual and attention blocks, flattened in forward order (G's with their conditional BatchNorms)."""
        pairs = sorted({tuple(int(p) for p in key.split(".")[1:3]) for key in self.read.state if key.startswith("blocks.")})
        for k, (i, j) in enumerate(pairs):
            source, target = f"blocks.{i}.{j}", f"blocks.{k}"
            if f"{source}.gamma" in self.read:
                for theirs, ours in (("theta", "theta"), ("phi", "phi"), ("g", "g"), ("o", "out")):
                    self.spectral(f"{source}.{theirs}", f"{target}.{ours}", bias=False)
                self.plain(f"{source}.gamma", f"{target}.gamma")
                gamma = self.state[f"{target}.gamma"]
                self.state[f"{target}.gamma"] = gamma.reshape(()) if gamma.numel() == 1 else gamma
                continue
            for theirs, ours in (("conv1", "conv1"), ("conv2", "conv2"), ("conv_sc", "shortcut")):
                if f"{source}.{theirs}.weight" in self.read or conditional:  # D's identity shortcuts have no conv
                    self.spectral(f"{source}.{theirs}", f"{target}.{ours}")
            for n in (1, 2) if conditional else ():
                bn, norm = f"{source}.bn{n}", f"{target}.norm{n}"
                self.spectral(f"{bn}.gain", f"{norm}.gain", bias=False)
                self.spectral(f"{bn}.bias", f"{norm}.bias", bias=False)
                self.state[f"{norm}.bn.running_mean"] = self.read(f"{bn}.stored_mean")
                self.state[f"{norm}.bn.running_var"] = self.read(f"{bn}.stored_var")


def generator_state(read: KeyReader, eps: float) -> Mapping:
    mapping = Mapping(read, eps)
    mapping.plain("shared.weight", "shared.weight")
    mapping.spectral("linear", "linear")
    mapping.blocks(conditional=True)
    for theirs, ours in (("gain", "weight"), ("bias", "bias")):
        mapping.plain(f"output_layer.0.{theirs}", f"out_bn.{ours}")
    mapping.state["out_bn.running_mean"] = read("output_layer.0.stored_mean")
    mapping.state["out_bn.running_var"] = read("output_layer.0.stored_var")
    mapping.spectral("output_layer.2", "out_conv")
    return mapping


def discriminator_state(read: KeyReader, eps: float) -> Mapping:
    mapping = Mapping(read, eps)
    mapping.blocks(conditional=False)
    mapping.spectral("linear", "linear")
    mapping.spectral("embed", "embed", bias=False)
    return mapping


def optimizer_state(path: Path, network_state: dict, names: dict[str, str], network) -> dict:
    """Their Adam state dict re-indexed for our optimizer over `network.named_parameters()` (one group)."""
    saved = load_foreign(path, "an Adam state dict of BigGAN-PyTorch (G_optim.pth / D_optim.pth)")
    theirs = [k for k in network_state if not k.endswith(BUFFERS)]  # parameters, in registration order
    groups = saved.get("param_groups", [])
    if len(groups) != 1 or len(groups[0]["params"]) != len(theirs):
        raise ValueError(f"{path} holds {sum(len(g['params']) for g in groups)} parameters in {len(groups)} groups; "
                         f"the network beside it has {len(theirs)} in one")
    ours = [name for name, _ in network.named_parameters()]
    index = {name: i for i, name in enumerate(ours)}
    state = {}
    for position, key in zip(groups[0]["params"], theirs):
        if position in saved["state"]:
            state[index[names[key]]] = saved["state"][position]
    return {"state": state, "param_groups": [{**groups[0], "params": list(range(len(ours)))}]}


def convert(weights: str | Path, out: str | Path, resolution: int | None = None) -> Path:
    """Convert a BigGAN-PyTorch checkpoint (`weights`: its G.pth) to a lit-gans BigGAN checkpoint holding G, its
    EMA and D (those present), the optimizer states when both optimizer files are there, and the counters."""
    paths = files(Path(weights))
    if not paths["G"].is_file():
        raise FileNotFoundError(f"{paths['G']} does not exist (expected {EXPECTED})")
    run = read_run(paths["state_dict"])
    config = run["config"]
    if resolution is not None and resolution != config.get("resolution"):
        raise ValueError(f"{paths['state_dict']} describes a {config.get('resolution')} px model, not {resolution} px")
    model = build_model(config, paths["state_dict"])
    eps = config.get("SN_eps", 1e-12)
    networks, names, states = [], {}, {}
    for name, network, build in (("G", model.generator, generator_state), ("G_ema", model.generator_ema, generator_state),
                                 ("D", model.discriminator, discriminator_state)):
        if not paths[name].is_file():
            continue
        state = load_foreign(paths[name], EXPECTED)
        read = KeyReader(state, paths[name], f"the {name} of a BigGAN-PyTorch BigGAN as {paths['state_dict'].name} describes it")
        mapping = build(read, eps)
        converted, names[name] = mapping.state, mapping.names
        read.check()
        template = network.state_dict()
        check_shapes(converted, template, paths[name], f"that {paths['state_dict'].name} describes")
        network.load_state_dict({**template, **converted})
        states[name] = state
        networks.append({"G": "generator", "G_ema": "generator_ema", "D": "discriminator"}[name])
    if "generator_ema" not in networks:
        model.generator_ema.load_state_dict(model.generator.state_dict())
        networks.append("generator_ema")
    optimizers = None
    if all(paths[n].is_file() for n in ("G_optim", "D_optim")) and "discriminator" in networks:
        optimizers = [optimizer_state(paths["G_optim"], states["G"], names["G"], model.generator),
                      optimizer_state(paths["D_optim"], states["D"], names["D"], model.discriminator)]
    g_steps = int(run.get("itr", 0))
    d_steps = g_steps * model.n_dis
    counters = {"g_steps": g_steps, "d_steps": d_steps, "d_micro": d_steps * model.accumulate,
                "images_seen": d_steps * model.accumulate * int(config.get("batch_size", 0))}
    source = {"source": "biggan-pytorch", "weights": str(paths["G"]), "sha256": sha256(paths["G"]),
              "itr": g_steps, "epoch": int(run.get("epoch", 0)),
              "files": [str(p) for n, p in paths.items() if p.is_file()]}
    return save_atomically(converted_checkpoint(model, tuple(networks), source, counters, optimizers), out)
