"""Model FLOPs utilisation (MFU) of BigGAN at 128 px (the paper's model) training at batch 256 in bf16-mixed.

FLOPs are those of one batch as `GAN.training_step` runs it with n_dis 1: G forward without gradient, D forward
and backward on reals and fakes (2 x batch), then G forward, D forward and the backward through both. They are
counted by torch's FlopCounterMode (convolutions and matrix products, forward and backward) on the meta device,
so counting needs no memory and no accelerator. On a CUDA GPU the script also times the training step through
the Trainer and reports MFU = FLOPs per step / seconds per step / the GPU's dense bf16 peak.

    python -m benchmarks.mfu                # FLOP count only (any machine)
    python -m benchmarks.mfu --gpu          # FLOPs, step time and MFU on a CUDA GPU
"""
import argparse

import torch
from torch.utils.flop_counter import FlopCounterMode

from lit_gans import BigGAN
from lit_gans.objective import Hinge

PEAK_BF16_TFLOPS = {"H100": 989.4, "H200": 989.4, "A100": 312.0}  # dense tensor-core peaks (SXM parts)


def training_step_flops(model: BigGAN, batch: int) -> dict[str, int]:
    """FLOPs of one D step and one G step at `batch` images, counted on the meta device."""
    model = model.to("meta")
    generator, discriminator = model.generator, model.discriminator
    z = torch.randn(batch, model.z_dim, device="meta")
    y = torch.zeros(batch, dtype=torch.long, device="meta")
    real = torch.randn(batch, 3, model.resolution, model.resolution, device="meta")
    counts = {}
    with FlopCounterMode(display=False) as counter:
        with torch.no_grad():
            fake = generator(z, y)
        logits = discriminator(torch.cat([real, fake]), torch.cat([y, y]))
        (Hinge().d_real(logits[:batch]) + Hinge().d_fake(logits[batch:])).backward()
    counts["d_step"] = counter.get_total_flops()
    discriminator.requires_grad_(False)
    with FlopCounterMode(display=False) as counter:
        Hinge().g(discriminator(generator(z, y), y)).backward()
    counts["g_step"] = counter.get_total_flops()
    counts["total"] = counts["d_step"] + counts["g_step"]
    return counts


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--gpu", action="store_true")
    parser.add_argument("--peak_tflops", type=float, help="dense bf16 peak of the GPU (default: from its name)")
    args = parser.parse_args()
    counts = training_step_flops(BigGAN(n_dis=1), args.batch)
    print(f"BigGAN-128 (70.4M / 88.0M parameters), batch {args.batch}, one D step + one G step:")
    for name, flops in counts.items():
        print(f"  {name}: {flops / 1e12:.2f} TFLOP ({flops / args.batch / 1e9:.1f} GFLOP per image)")
    if not args.gpu:
        return
    from benchmarks.train_step import run_one

    name = torch.cuda.get_device_name()
    peak = args.peak_tflops or next((v for k, v in PEAK_BF16_TFLOPS.items() if k in name), None)
    result = run_one("BigGAN-128", "bf16", gpu=True, steps=10, warmup=3)
    achieved = counts["total"] / result["step_s"] / 1e12
    print(f"{name}: {result['step_s']:.3f} s per step, {result['img_per_s']} img/s, {achieved:.1f} TFLOP/s, peak GPU "
          f"memory {result['peak_gpu_mb']} MB" + (f", MFU {achieved / peak:.1%} of {peak} TFLOP/s" if peak else ""))


if __name__ == "__main__":
    main()
