"""BigGAN-deep generators of TF Hub in the layout of the PyPI package `pytorch-pretrained-biggan` (0.1.1):
`pytorch_model.bin` (a state dict) with `config.json` beside it.

Layout of the package (its `model.py`), and where each part goes in `BigGANDeepGenerator`:

    embeddings.weight (E, classes)             Linear on a one-hot class -> shared.weight (classes, E), transposed
    generator.gen_z (4*4*16ch, Z+E)            input Linear on [z, embedding], its output read as NHWC -> linear:
                                               rows reordered to NCHW, columns to [embedding, z]
    generator.layers.{k}                       GenBlocks and, at `attention_layer_position`, the attention block, in
                                               the order of our `blocks.{k}`
        bn_{i}.scale / .offset                 -> norm{i+1}.gain / .bias (columns to [embedding, z])
        bn_{i}.running_means / _vars (51, C)   -> norm{i+1}.bn.truncation_mean / _var (the statistics per truncation;
                                                  the running statistics get the row of truncation 1)
        conv_{i}                               -> conv{i+1}
        snconv1x1_{theta,phi,g,o_conv}, gamma  -> theta, phi, g, out, gamma
    generator.bn (weight, bias, stats)         -> out_bn
    generator.conv_to_rgb (ch -> ch, 3x3)      -> out_conv (ch -> 3): only its first 3 output channels are used

Every convolution and linear layer is spectrally normalised with torch's old `spectral_norm` (weight_orig,
weight_u, weight_v), whose eval-mode sigma u^T W v uses the stored vectors, as our parametrization's does; the
vectors move with the rows and columns. The RGB convolution keeps 3 of its 128 rows, whose sigma would differ, so
its u is rescaled to give the 128-row sigma: the converted layer computes the same weights in eval mode, and
training re-estimates u from the 3-row matrix. BatchNorm and spectral norm use eps 1e-4 (`config.eps`).

Truncation: the package feeds z = t * truncnorm(-2, 2) and uses the statistics blended for t (see
`lit_gans.layers.truncation_stats`); the converted model records `truncation_style: scale` so that
`model.sample(n, truncation=t)` draws z the same way.
"""
import json
from pathlib import Path

import torch

from lit_gans.biggan_deep import BigGANDeep
from lit_gans.convert.checkpoint import converted_checkpoint, save_atomically
from lit_gans.convert.foreign import KeyReader, check_shapes, load_foreign, sha256
from lit_gans.networks.biggan import G_CHANNELS

EXPECTED = "the pytorch_model.bin of pytorch-pretrained-biggan (a BigGAN-deep generator state dict)"


def read_config(weights: Path) -> dict:
    """The package's config.json beside `weights`, with its defaults filled in."""
    path = weights.with_name("config.json")
    if not path.is_file():
        raise FileNotFoundError(f"{path} does not exist: pytorch-pretrained-biggan weights come with a config.json "
                                f"beside {weights.name}, which gives the architecture")
    try:
        given = json.loads(path.read_text())
    except json.JSONDecodeError as error:
        raise ValueError(f"{path} is not valid JSON ({error})") from None
    config = {"output_dim": 128, "z_dim": 128, "class_embed_dim": 128, "channel_width": 128, "num_classes": 1000,
              "attention_layer_position": 8, "eps": 1e-4, "n_stats": 51, **given}
    config.setdefault("layers", expected_layers(config["output_dim"]))
    return config


def expected_layers(resolution: int) -> list[list]:
    """The package's `layers` list [(upsample, in, out) in channel multiples] for our BigGAN-deep at `resolution`."""
    if resolution not in G_CHANNELS:
        raise ValueError(f"BigGAN-deep has no {resolution} px generator; the releases are 128, 256 and 512 px")
    layers = []
    for cin, cout in zip(*G_CHANNELS[resolution]):
        layers += [[False, cin, cin], [True, cin, cout]]
    return layers


def build_model(config: dict, config_path: Path) -> BigGANDeep:
    """A BigGANDeep with the architecture `config` describes, or a ValueError saying what does not fit."""
    resolution = config["output_dim"]
    layers = [list(layer) for layer in config["layers"]]
    if resolution not in G_CHANNELS or layers != expected_layers(resolution):
        raise ValueError(f"{config_path}: the layers of a {resolution} px BigGAN-deep generator are not {layers}; "
                         "this converter reads the 128, 256 and 512 px TF-Hub generators")
    if config["class_embed_dim"] != config["z_dim"]:
        raise ValueError(f"{config_path}: the package conditions on [z, embedding] of 2 * z_dim, so class_embed_dim "
                         f"must equal z_dim ({config['z_dim']}), got {config['class_embed_dim']}")
    position = config["attention_layer_position"]
    attn_res = 4 * 2 ** sum(bool(up) for up, _, _ in layers[:position])
    return BigGANDeep(resolution=resolution, z_dim=config["z_dim"], ch=config["channel_width"],
                      num_classes=config["num_classes"], shared_dim=config["z_dim"], attn_res=attn_res,
                      bn_eps=config["eps"], sn_eps=config["eps"], truncation_stats=config["n_stats"],
                      truncation_style="scale")


def spectral_layer(read: KeyReader, source: str, target: str, rows: torch.Tensor | None = None,
                   columns: torch.Tensor | None = None, bias: bool = True) -> dict[str, torch.Tensor]:
    """An old-style spectrally normalised layer as our parametrization's tensors, its output rows and input columns
    (of the [out, -1] matrix) reordered by the index tensors `rows` and `columns` (None: unchanged)."""
    weight, u, v = read(f"{source}.weight_orig"), read(f"{source}.weight_u"), read(f"{source}.weight_v")
    b = read(f"{source}.bias") if bias else None
    if read.missing:  # reported by read.check() once every key has been looked up
        return {}
    if rows is not None:
        weight, u, b = weight[rows], u[rows], None if b is None else b[rows]
    if columns is not None:
        weight, v = weight[:, columns], v[columns]
    out = {f"{target}.parametrizations.weight.original": weight, f"{target}.parametrizations.weight.0._u": u,
           f"{target}.parametrizations.weight.0._v": v}
    if b is not None:
        out[f"{target}.bias"] = b
    return out


def tabulated_norm(read: KeyReader, source: str, target: str) -> dict[str, torch.Tensor]:
    means, variances = read(f"{source}.running_means"), read(f"{source}.running_vars")
    if read.missing:
        return {}
    return {f"{target}.truncation_mean": means, f"{target}.truncation_var": variances,
            f"{target}.running_mean": means[-1].clone(), f"{target}.running_var": variances[-1].clone()}


def generator_state(read: KeyReader, config: dict) -> dict[str, torch.Tensor]:
    """Our BigGANDeepGenerator's tensors from the package's state dict."""
    z_dim, ch = config["z_dim"], config["channel_width"]
    bottom = 16 * ch
    to_nchw = torch.arange(16 * bottom).view(16, bottom).t().reshape(-1)  # our row c*16 + hw is the package's hw*C + c
    embedding_first = torch.cat([torch.arange(z_dim, 2 * z_dim), torch.arange(z_dim)])  # [z, e] -> [e, z]
    state = {"shared.weight": read("embeddings.weight").t().contiguous()}
    state |= spectral_layer(read, "generator.gen_z", "linear", rows=to_nchw, columns=embedding_first)
    position = config["attention_layer_position"]
    for k in range(len(config["layers"]) + 1):
        source, target = f"generator.layers.{k}", f"blocks.{k}"
        if k == position:
            for theirs, ours in (("theta", "theta"), ("phi", "phi"), ("g", "g"), ("o_conv", "out")):
                state |= spectral_layer(read, f"{source}.snconv1x1_{theirs}", f"{target}.{ours}", bias=False)
            gamma = read(f"{source}.gamma")
            state[f"{target}.gamma"] = gamma.reshape(()) if gamma.numel() == 1 else gamma
            continue
        for i in range(4):
            norm = f"{target}.norm{i + 1}"
            state |= spectral_layer(read, f"{source}.bn_{i}.scale", f"{norm}.gain", columns=embedding_first, bias=False)
            state |= spectral_layer(read, f"{source}.bn_{i}.offset", f"{norm}.bias", columns=embedding_first, bias=False)
            state |= tabulated_norm(read, f"{source}.bn_{i}", f"{norm}.bn")
            state |= spectral_layer(read, f"{source}.conv_{i}", f"{target}.conv{i + 1}")
    state["out_bn.weight"], state["out_bn.bias"] = read("generator.bn.weight"), read("generator.bn.bias")
    state |= tabulated_norm(read, "generator.bn", "out_bn")
    state |= rgb_layer(read)
    return state


def rgb_layer(read: KeyReader) -> dict[str, torch.Tensor]:
    """The first 3 output channels of conv_to_rgb, with u rescaled so that u^T W3 v equals the full layer's sigma."""
    full = spectral_layer(read, "generator.conv_to_rgb", "out_conv")
    if not full:
        return full
    weight = full["out_conv.parametrizations.weight.original"]
    u, v = full["out_conv.parametrizations.weight.0._u"], full["out_conv.parametrizations.weight.0._v"]
    matrix = weight.flatten(1)
    sigma = torch.dot(u, matrix @ v)
    kept = matrix[:3] @ v
    return {"out_conv.parametrizations.weight.original": weight[:3],
            "out_conv.parametrizations.weight.0._u": sigma * kept / torch.dot(kept, kept),
            "out_conv.parametrizations.weight.0._v": v, "out_conv.bias": full["out_conv.bias"][:3]}


def convert(weights: str | Path, out: str | Path, resolution: int | None = None) -> Path:
    """Convert a pytorch-pretrained-biggan generator (`weights`: its pytorch_model.bin, config.json beside it) to a
    lit-gans BigGANDeep checkpoint at `out` holding G (as generator and generator_ema) and no discriminator.
    `resolution`, if given, must be the one the files hold."""
    weights = Path(weights)
    state = load_foreign(weights, EXPECTED)
    config = read_config(weights)
    config_path = weights.with_name("config.json")
    blocks = len({key.split(".")[2] for key in state if key.startswith("generator.layers.")})
    if blocks and blocks != len(config["layers"]) + 1:
        raise ValueError(f"{weights} holds {blocks} generator layers, but {config_path} describes a "
                         f"{config['output_dim']} px generator with {len(config['layers']) + 1}")
    if resolution is not None and resolution != config["output_dim"]:
        raise ValueError(f"{weights} holds a {config['output_dim']} px generator, not {resolution} px")
    model = build_model(config, config_path)
    read = KeyReader(state, weights, EXPECTED)
    converted = generator_state(read, config)
    read.check()
    generator = model.generator.state_dict()
    check_shapes(converted, generator, weights,
                 f"that {config_path.name} describes ({config['output_dim']} px, channel width {config['channel_width']})")
    model.generator.load_state_dict({**generator, **converted})
    model.generator_ema.load_state_dict(model.generator.state_dict())
    source = {"source": "pytorch-pretrained-biggan", "weights": str(weights), "sha256": sha256(weights),
              "config": {k: config[k] for k in sorted(config)}}
    return save_atomically(converted_checkpoint(model, ("generator", "generator_ema"), source), out)
