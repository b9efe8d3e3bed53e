"""ProGAN checkpoints of pytorch_GAN_zoo's PGAN (facebookresearch/pytorch_GAN_zoo): one .pth holding
{'config', 'netG', 'netD', 'avgG'} (its `BaseGAN.save`), e.g. the released celebaHQ_s6_i80000-6196db68.pth.

Where each part goes in `ProGANGenerator` / `ProGANDiscriminator` (s = 0 is the 8 px scale; toRGB / fromRGB
index s is 4 * 2^s px):

    G formatLayer (16C, Z), one bias per element   -> input, input_bias (C, 4, 4) (`pixel_bias`)
    G groupScale0.0, scaleLayers.{s}.{0,1}         -> conv4, blocks[8 * 2^s]
    G toRGBLayers.{s}                              -> to_rgb[4 * 2^s]
    D fromRGBLayers.{s}, scaleLayers.{s}.{0,1}     -> from_rgb[4 * 2^s], blocks[8 * 2^s]
    D groupScaleZero.0, .1, decisionLayer          -> conv4 (with the stddev map), dense, out
    avgG                                           -> generator_ema

Equalised learning rate: the zoo multiplies a layer's whole output, bias included, by sqrt(2 / fan_in); ours
multiplies the weight by gain / sqrt(fan_in) (gain 1 for toRGB and D's output, sqrt(2)/4 for G's input layer) and
adds the bias unscaled, so weights are rescaled by sqrt(2 / fan_in) / our scale and biases by sqrt(2 / fan_in).
Its minibatch stddev groups consecutive samples with the unbiased deviation (`mbstd_style: gan-zoo`). Its fade-in
weight alpha goes from 1 to 0 (0: the new scale only); ours from 0 to 1, so the stage's alpha is 1 - alpha.
The channel widths must follow ProGAN's min(2 * fmap_base / r, fmap_max), as its released configs do.
"""
import math
import re
from pathlib import Path

import torch

from lit_gans.convert.checkpoint import converted_checkpoint, save_atomically
from lit_gans.convert.foreign import KeyReader, check_shapes, load_foreign, sha256
from lit_gans.progan import ProGAN

EXPECTED = "a pytorch_GAN_zoo PGAN checkpoint ({'config', 'netG', 'netD', 'avgG'}, written by its BaseGAN.save)"


class ZooConfig:
    """Stands in for pytorch_GAN_zoo's `models.utils.config.BaseConfig` (a plain attribute holder) so that the
    checkpoint loads with `torch.load(weights_only=True)` without its code."""


def read_checkpoint(path: Path) -> dict:
    with torch.serialization.safe_globals([(ZooConfig, "models.utils.config.BaseConfig")]):
        checkpoint = load_foreign(path, EXPECTED)
    missing = [k for k in ("config", "netG") if k not in checkpoint]
    if missing:
        raise ValueError(f"{path} lacks {', '.join(missing)} (expected {EXPECTED})")
    config = checkpoint["config"]
    checkpoint["config"] = vars(config) if isinstance(config, ZooConfig) else dict(config)
    return checkpoint


def channel_schedule(depths: list[int], path: Path) -> tuple[int, int]:
    """(fmap_base, fmap_max) with min(2 * fmap_base / r, fmap_max) = depths[i] at r = 4 * 2^i, or a ValueError."""
    resolutions = [4 << i for i in range(len(depths))]
    fmap_max = max(depths)
    below = [(d, r) for d, r in zip(depths, resolutions) if d < fmap_max]
    fmap_base = below[0][0] * below[0][1] // 2 if below else fmap_max * resolutions[-1] // 2
    if [min(2 * fmap_base // r, fmap_max) for r in resolutions] != depths:
        raise ValueError(f"{path}: channel widths {depths} (4 px upwards) do not follow ProGAN's "
                         "min(2 * fmap_base / r, fmap_max), the only schedule lit-gans' ProGAN builds")
    return fmap_base, fmap_max


def build_model(config: dict, path: Path) -> ProGAN:
    unsupported = [f"{key}={config.get(key)!r}" for key, ok in (
        ("lossCriterion", config.get("lossCriterion", "WGANGP") == "WGANGP"),
        ("categoryVectorDim", not config.get("categoryVectorDim", 0)), ("miniBatchStdDev", config.get("miniBatchStdDev", True)),
        ("equalizedlR", config.get("equalizedlR", True)), ("perChannelNormalization", config.get("perChannelNormalization", True)),
        ("leakyReluLeak", config.get("leakyReluLeak", 0.2) == 0.2), ("dimOutput", config.get("dimOutput", 3) == 3),
        ("GDPP", not config.get("GDPP", False))) if not ok]
    if unsupported:
        raise ValueError(f"{path}: this converter reads the unconditional WGAN-GP PGAN of the releases (equalised "
                         f"lr, pixel norm, minibatch stddev, leaky ReLU 0.2, RGB); this run has {', '.join(unsupported)}")
    depths = [config["depthScale0"], *config.get("depthOtherScales", [])]
    fmap_base, fmap_max = channel_schedule(depths, path)
    resolution = 4 << (len(depths) - 1)
    model = ProGAN(resolution=resolution, z_dim=config.get("latentVectorDim", config.get("noiseVectorDim", 512)),
                   fmap_base=fmap_base, fmap_max=fmap_max, mbstd_group_size=4, mbstd_style="gan-zoo", pixel_bias=True,
                   gp_weight=config.get("lambdaGP", 10.0), drift=config.get("epsilonD", 0.001),
                   lr_g=config.get("learningRate", 0.001), lr_d=config.get("learningRate", 0.001))
    model.set_stage(resolution, 1.0 - float(config.get("alpha", 0.0)))
    return model


def equalized(read: KeyReader, source: str, target: str, layer) -> dict[str, torch.Tensor]:
    """A zoo equalised layer (output times sqrt(2 / fan_in), bias included) as ours (weight times layer.scale)."""
    weight, bias = read(f"{source}.weight"), read(f"{source}.bias")
    if read.missing:
        return {}
    he = math.sqrt(2.0 / weight[0].numel())
    state = {f"{target}.weight": weight * (he / layer.scale)}
    if layer.bias is not None:
        state[f"{target}.bias"] = bias * he
    return state


def generator_state(read: KeyReader, network) -> dict[str, torch.Tensor]:
    state = equalized(read, "formatLayer", "input", network.input)
    bias = read("formatLayer.bias")
    if bias.numel():
        state["input_bias"] = (bias * math.sqrt(2.0 / network.input.weight.shape[1])).view(network.input_bias.shape)
    state |= equalized(read, "groupScale0.0", "conv4", network.conv4)
    for s, r in enumerate(network.resolutions[1:]):
        for j in (0, 1):
            state |= equalized(read, f"scaleLayers.{s}.{j}", f"blocks.{r}.{j}", network.blocks[str(r)][j])
    for s, r in enumerate(network.resolutions):
        state |= equalized(read, f"toRGBLayers.{s}", f"to_rgb.{r}", network.to_rgb[str(r)])
    return state


def discriminator_state(read: KeyReader, network) -> dict[str, torch.Tensor]:
    state = {}
    for s, r in enumerate(network.resolutions):
        state |= equalized(read, f"fromRGBLayers.{s}", f"from_rgb.{r}", network.from_rgb[str(r)])
    for s, r in enumerate(network.resolutions[1:]):
        for j in (0, 1):
            state |= equalized(read, f"scaleLayers.{s}.{j}", f"blocks.{r}.{j}", network.blocks[str(r)][j])
    state |= equalized(read, "groupScaleZero.0", "conv4", network.conv4)
    state |= equalized(read, "groupScaleZero.1", "dense", network.dense)
    state |= equalized(read, "decisionLayer", "out", network.out)
    return state


def without_module(state: dict) -> dict:
    """Keys as `layer.weight`: the zoo stores `layer.module.weight` (older checkpoints omit `.module`)."""
    return {k.replace(".module.", "."): v for k, v in state.items()}


def check_name_hash(path: Path, digest: str) -> None:
    """The released files are named as torch.hub names them, `<name>-<first hex digits of the SHA-256>.pth`
    (celebaHQ_s6_i80000-6196db68.pth): refuse a file whose content does not match its name."""
    match = re.search(r"-([0-9a-f]{8,})\.pth$", path.name)
    if match and not digest.startswith(match.group(1)):
        raise ValueError(f"{path} is corrupt or incomplete: its SHA-256 starts with {digest[:len(match.group(1))]}, "
                         f"but its name says {match.group(1)}")


def convert(weights: str | Path, out: str | Path, resolution: int | None = None) -> Path:
    """Convert a pytorch_GAN_zoo PGAN checkpoint to a lit-gans ProGAN checkpoint holding G, the moving-average G
    (as generator_ema) and D at the checkpoint's resolution and fade-in stage."""
    path = Path(weights)
    digest = sha256(path) if path.is_file() else ""
    check_name_hash(path, digest)
    checkpoint = read_checkpoint(path)
    model = build_model(checkpoint["config"], path)
    if resolution is not None and resolution != model.resolution:
        raise ValueError(f"{path} holds a {model.resolution} px PGAN, not {resolution} px")
    networks = []
    for key, name, build in (("netG", "generator", generator_state), ("avgG", "generator_ema", generator_state),
                             ("netD", "discriminator", discriminator_state)):
        if key not in checkpoint:
            continue
        network = getattr(model, name)
        read = KeyReader(without_module(checkpoint[key]), path, f"the {key} of a {model.resolution} px PGAN as its config describes it")
        converted = build(read, network)
        read.check()
        template = network.state_dict()
        check_shapes(converted, template, path, f"{key} of the config's PGAN")
        network.load_state_dict({**template, **converted})
        networks.append(name)
    if "generator_ema" not in networks:
        model.generator_ema.load_state_dict(model.generator.state_dict())
        networks.append("generator_ema")
    config = checkpoint["config"]
    source = {"source": "gan-zoo-pgan", "weights": str(path), "sha256": digest,
              "config": {k: v for k, v in config.items() if isinstance(v, (int, float, str, bool, list, type(None)))}}
    return save_atomically(converted_checkpoint(model, tuple(networks), source), out)
