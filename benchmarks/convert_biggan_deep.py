"""The BigGAN-deep converter at full width: pytorch-pretrained-biggan's 128 px generator (its `BigGANConfig`
defaults: ch 128, z 128, 1000 classes, 51 truncation rows) with random weights, written as the package lays out a
release, converted with `lit-gans convert`, and compared image for image with the package's own forward.

No released file is read (nothing can be downloaded here): the random weights exercise every tensor of the real
layout, and `tests/test_convert.py` runs the same comparison at small width.

    python -m benchmarks.convert_biggan_deep [--resolution 128] [--batch 4] [--truncations 0.1 0.405 0.7 1.0]
"""
import argparse
import json
import platform
import tempfile
import time
from pathlib import Path

import torch


def write_random_release(folder: Path, **config):
    """The package's BigGAN-deep from a BigGANConfig (defaults: the 128 px release) with random weights, random
    statistics tables and one power iteration, saved as folder/pytorch_model.bin + config.json. Returns the model,
    in eval mode."""
    from pytorch_pretrained_biggan import BigGAN, BigGANConfig

    config = BigGANConfig(**config)
    reference = BigGAN(config)
    with torch.no_grad():
        for parameter in reference.parameters():
            parameter.normal_(0, 0.3 if parameter.dim() > 1 else 0.2)
        for name, buffer in reference.named_buffers():
            if name.endswith("running_means"):
                buffer.normal_(0, 0.3)
            elif name.endswith("running_vars"):
                buffer.uniform_(0.3, 2.0)
        reference.train()(torch.zeros(2, config.z_dim), torch.eye(config.num_classes)[:2], 1.0)  # one power step
    reference.eval()
    folder.mkdir(parents=True, exist_ok=True)
    torch.save(reference.state_dict(), folder / "pytorch_model.bin")
    (folder / "config.json").write_text(config.to_json_string())
    return reference


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--resolution", type=int, default=128, choices=(128, 256, 512))
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--truncations", type=float, nargs="+", default=[0.1, 0.405, 0.7, 1.0])
    args = parser.parse_args()
    from pytorch_pretrained_biggan import convert_tf_to_pytorch as layouts

    from lit_gans import BigGANDeep
    from lit_gans.convert import convert

    torch.manual_seed(0)
    layout = {128: layouts.BigGAN128, 256: layouts.BigGAN256, 512: layouts.BigGAN512}[args.resolution]
    with tempfile.TemporaryDirectory() as folder:
        folder = Path(folder)
        reference = write_random_release(folder / "release", **layout.to_dict())
        start = time.perf_counter()
        path = convert("pytorch-pretrained-biggan", str(folder / "release" / "pytorch_model.bin"), str(folder / "c.ckpt"))
        convert_s = time.perf_counter() - start
        model = BigGANDeep.load_from_checkpoint(path, map_location="cpu")
        params = sum(p.numel() for p in model.generator.parameters())
        rows = []
        for truncation in args.truncations:
            y = torch.arange(args.batch) * 97 % 1000
            start = time.perf_counter()
            images = model.sample(args.batch, y=y, truncation=truncation, seed=1)
            ours_s = time.perf_counter() - start
            z, labels = model.sample_inputs(args.batch, y=y, truncation=truncation, seed=1)
            start = time.perf_counter()
            with torch.no_grad():
                expected = reference(z, torch.eye(1000)[labels], truncation)
            theirs_s = time.perf_counter() - start
            rows.append({"truncation": truncation, "max_abs_diff": float((images - expected).abs().max()),
                         "image_std": float(expected.std()), "lit_gans_s": round(ours_s, 2),
                         "package_s": round(theirs_s, 2)})
    print(json.dumps({"resolution": args.resolution, "generator_params": params, "batch": args.batch,
                      "convert_s": round(convert_s, 1), "rows": rows, "machine": platform.machine(),
                      "cpus": torch.get_num_threads(), "torch": torch.__version__}, indent=1))


if __name__ == "__main__":
    main()
