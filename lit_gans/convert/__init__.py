"""Released weights in: `lit-gans convert --source SOURCE --weights PATH --out CKPT`.

Each source's converter reads the files a peer project publishes (nothing is downloaded) and writes a lit-gans
checkpoint that `sample`, `evaluate`, `interpolate`, `GAN.load_from_checkpoint` and fine-tuning
(`--model.init_args.init_from CKPT`) accept, with the architecture in its hyperparameters and the origin of the
weights (file, SHA-256, the networks it holds) under checkpoint["lit_gans"]["converted"].

    pytorch-pretrained-biggan   BigGAN-deep 128/256/512 generators of TF Hub (`lit_gans.convert.pretrained_biggan`)
    biggan-pytorch              BigGAN checkpoints of BigGAN-PyTorch: G, EMA G, D, optimizers, counters
                                (`lit_gans.convert.biggan_pytorch`)
    gan-zoo-pgan                ProGAN checkpoints of pytorch_GAN_zoo: G, moving-average G, D (`lit_gans.convert.gan_zoo`)
"""
import importlib
from pathlib import Path

SOURCES = {  # source: the module whose convert(weights, out, resolution) reads it
    "pytorch-pretrained-biggan": "lit_gans.convert.pretrained_biggan",
    "biggan-pytorch": "lit_gans.convert.biggan_pytorch",
    "gan-zoo-pgan": "lit_gans.convert.gan_zoo",
}


def convert(source: str, weights: str, out: str, resolution: int | None = None) -> Path:
    """Convert released weights to a lit-gans checkpoint.

    Args:
        source: the layout of the weights: pytorch-pretrained-biggan (BigGAN-deep; --weights names its
            pytorch_model.bin, with config.json beside it) or biggan-pytorch (--weights names G.pth, with the
            other files of the checkpoint beside it) or gan-zoo-pgan (--weights names the .pth).
        weights: the file the source publishes.
        out: the checkpoint to write (atomically).
        resolution: if given, the image size the weights must have (a mismatch is refused).
    """
    if source not in SOURCES:
        raise ValueError(f"unknown source {source!r}; choose from {', '.join(SOURCES)}")
    path = importlib.import_module(SOURCES[source]).convert(weights, out, resolution)
    print(f"wrote {path}")
    return path


def main(args: list[str]) -> Path:
    """The `lit-gans convert` subcommand."""
    from jsonargparse import CLI

    return CLI(convert, args=args, as_positional=False)
