"""Images per second and peak memory of full training steps (one D step + one G step per batch, through the
Lightning Trainer exactly as `lit-gans fit` runs them) for every model and numeric mode. Each (model, mode) runs
in a fresh process, so peak memory is its own.

    python -m benchmarks.train_step                 # small configs on the CPU
    python -m benchmarks.train_step --gpu           # paper configs on a CUDA GPU
    python -m benchmarks.train_step --models SAGAN --modes fp32 bf16

Modes: fp32; bf16 (bf16-mixed autocast); channels_last; fused_adam; compile (torch.compile of G and D; its
compilation time is excluded by the warm-up steps and reported separately).
"""
import argparse
import json
import platform
import resource
import statistics
import subprocess
import sys
import time

import torch
import pytorch_lightning as pl

# name: (class, kwargs, per-step batch, resolution, classes)
CPU_CONFIGS = {
    "SAGAN": ("SAGAN", dict(resolution=32, z_dim=128, ch=32, num_classes=10, attn_res=16), 32),
    "BigGAN": ("BigGAN", dict(resolution=32, z_dim=128, ch=32, num_classes=10, shared_dim=32, attn_res=16, n_dis=1), 32),
    "BigGAN-deep": ("BigGANDeep", dict(resolution=32, z_dim=64, ch=32, num_classes=10, shared_dim=32, attn_res=16,
                                       n_dis=1), 32),
    "ProGAN": ("ProGAN", dict(resolution=32, z_dim=128, fmap_base=512, fmap_max=128), 32),
}
GPU_CONFIGS = {  # the papers' 128 px ImageNet models (ProGAN: 1024 px CelebA-HQ at its final stage)
    "SAGAN-128": ("SAGAN", dict(resolution=128, z_dim=128, ch=64, num_classes=1000, attn_res=32), 256),
    "BigGAN-128": ("BigGAN", dict(n_dis=1), 256),
    "BigGAN-deep-128": ("BigGANDeep", dict(n_dis=1), 256),
    "ProGAN-1024": ("ProGAN", dict(mbstd_group_size=4), 16),
}
MODES = ["fp32", "bf16", "channels_last", "fused_adam", "compile"]


class StepTimer(pl.Callback):
    def __init__(self, warmup: int, steps: int):
        self.warmup, self.steps, self.times, self.start = warmup, steps, [], None
        self.compile_seconds = 0.0

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
        if torch.cuda.is_available():
            torch.cuda.synchronize()
        self.start = time.perf_counter()

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        if torch.cuda.is_available():
            torch.cuda.synchronize()
        elapsed = time.perf_counter() - self.start
        if batch_idx < self.warmup:
            self.compile_seconds += elapsed
        else:
            self.times.append(elapsed)
        if len(self.times) >= self.steps:
            trainer.should_stop = True


def run_one(name: str, mode: str, gpu: bool, steps: int, warmup: int) -> dict:
    import lit_gans
    from benchmarks.synthetic_data import SyntheticDataModule

    class_name, kwargs, batch = (GPU_CONFIGS if gpu else CPU_CONFIGS)[name]
    options = {"channels_last": dict(channels_last=True), "fused_adam": dict(fused_adam=True),
               "compile": dict(compile=True)}.get(mode, {})
    torch.manual_seed(0)
    model = getattr(lit_gans, class_name)(**kwargs, **options)
    data = SyntheticDataModule(model.resolution, batch, num_images=max(4 * batch, 64), num_classes=model.num_classes)
    timer = StepTimer(warmup, steps)
    trainer = pl.Trainer(accelerator="gpu" if gpu else "cpu", devices=1, max_epochs=-1, logger=False,
                         enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False,
                         precision="bf16-mixed" if mode == "bf16" else "32-true", callbacks=[timer],
                         benchmark=gpu)
    trainer.fit(model, data)
    step = statistics.median(timer.times)
    result = {"model": name, "mode": mode, "batch": batch, "step_s": round(step, 4),
              "img_per_s": round(batch / step, 1), "warmup_s": round(timer.compile_seconds, 1),
              "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)}
    if gpu:
        result["peak_gpu_mb"] = round(torch.cuda.max_memory_allocated() / 2**20)
    return result


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--gpu", action="store_true")
    parser.add_argument("--models", nargs="*")
    parser.add_argument("--modes", nargs="*", default=MODES)
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--one", nargs=2, metavar=("MODEL", "MODE"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print("RESULT " + json.dumps(run_one(*args.one, args.gpu, args.steps, args.warmup)), flush=True)
        return
    device = torch.cuda.get_device_name() if args.gpu else f"{platform.machine()} CPU, {torch.get_num_threads()} threads"
    print(f"machine: {device}, torch {torch.__version__}, pytorch_lightning {pl.__version__}")
    print("| model | mode | batch | s / step | img / s | warm-up s | peak RSS MB |" + (" peak GPU MB |" if args.gpu else ""))
    print("|---|---|---|---|---|---|---|" + ("---|" if args.gpu else ""))
    for name in args.models or (GPU_CONFIGS if args.gpu else CPU_CONFIGS):
        for mode in args.modes:
            command = [sys.executable, "-m", "benchmarks.train_step", "--one", name, mode, "--steps", str(args.steps),
                       "--warmup", str(args.warmup)] + (["--gpu"] if args.gpu else [])
            done = subprocess.run(command, capture_output=True, text=True)
            lines = [line for line in done.stdout.splitlines() if line.startswith("RESULT ")]
            if not lines:
                print(f"| {name} | {mode} | failed: {done.stderr.strip().splitlines()[-1:]} |", flush=True)
                continue
            r = json.loads(lines[0][len("RESULT "):])
            print(f"| {name} | {mode} | {r['batch']} | {r['step_s']} | {r['img_per_s']} | {r['warmup_s']} | "
                  f"{r['peak_rss_mb']} |" + (f" {r['peak_gpu_mb']} |" if args.gpu else ""), flush=True)


if __name__ == "__main__":
    main()
