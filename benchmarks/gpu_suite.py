"""The GPU suite: one command that checks and times every CUDA-only path of lit-gans.

    python -m benchmarks.gpu_suite --out gpu.json --markdown gpu.md     # on one CUDA GPU, about 8 minutes
    python -m benchmarks.gpu_suite --dry-run                           # the same code on the CPU, tiny shapes

Checks (each passes or fails, with what it measured):
    precision     a few training steps of each model at its paper width in bf16-mixed and 16-mixed: finite losses,
                  the GradScaler's scale and skipped steps, the model's own regularisers (BigGAN's orthogonal
                  regularisation, ProGAN's gradient penalty) and R1 under each
    sync_bn       DDP (`gan_ddp`) with sync_batchnorm on one process: G's BatchNorms become SyncBatchNorm, finite
    compile       torch.compile (inductor) of G and D: losses equal to eager within `COMPILE_RTOL`
    options       channels_last, fused Adam and trainer.benchmark (cuDNN autotuning): losses equal to plain fp32
                  within `OPTION_RTOL`
    fid_devices   FID of the same images with the Inception network on the GPU and on the CPU, equal to 1e-3
                  relative (random Inception weights where no weights file is installed: the check is the
                  device's arithmetic, not the weights)
Timings: images per second and peak GPU memory per model x mode (fp32, bf16, bf16 + channels_last + compile) at
the paper configs, MFU of BigGAN-128 in bf16 (FLOPs from `benchmarks.mfu`), Inception feature throughput of
lit-gans' extractor against torch-fidelity's on the same device, and the Lightning overhead over a bare loop.

The JSON holds the machine (GPU, driver, torch and Lightning versions), every check and every timing; the
Markdown is the table for `benchmarks/RESULTS.md`. The exit status is 1 when a check fails.
"""
import argparse
import contextlib
import io
import json
import math
import platform
import statistics
import sys
import time
import traceback
import warnings

import pytorch_lightning as pl
import torch

import lit_gans
from benchmarks.lightning_overhead import plain_loop
from benchmarks.mfu import PEAK_BF16_TFLOPS, training_step_flops
from benchmarks.synthetic_data import SyntheticDataModule
from callbacks import StopAt

COMPILE_RTOL = 0.05  # compiled kernels reorder float sums; a few training steps stay within 5% of eager
OPTION_RTOL = 0.05
FID_RTOL = 1e-3

# name: (class, kwargs, batch); "gpu" are the papers' configs, "dry" tiny stand-ins with the same code paths
MODELS = {
    "gpu": {
        "SAGAN-128": ("SAGAN", dict(resolution=128, z_dim=128, ch=64, num_classes=1000, attn_res=32), 256),
        "BigGAN-128": ("BigGAN", dict(n_dis=1), 256),
        "BigGAN-deep-128": ("BigGANDeep", dict(n_dis=1), 256),
        "ProGAN-256": ("ProGAN", dict(resolution=256), 32),
        "ProGAN-1024": ("ProGAN", dict(resolution=1024), 16),
    },
    "dry": {
        "SAGAN": ("SAGAN", dict(resolution=16, z_dim=16, ch=4, num_classes=10, attn_res=8), 8),
        "BigGAN": ("BigGAN", dict(resolution=16, z_dim=18, ch=4, num_classes=10, shared_dim=8, attn_res=8, n_dis=1), 8),
        "BigGAN-deep": ("BigGANDeep", dict(resolution=32, z_dim=16, ch=4, num_classes=10, shared_dim=8, attn_res=16,
                                           n_dis=1), 8),
        "ProGAN": ("ProGAN", dict(resolution=16, z_dim=16, fmap_base=64, fmap_max=16), 8),
    },
}
TIMING_MODES = ("fp32", "bf16", "bf16+channels_last+compile")


class Recorder(pl.Callback):
    """Per batch: the D and G losses, and the step time after `warmup` batches."""

    def __init__(self, warmup: int = 0):
        self.warmup, self.losses, self.times, self._start = warmup, [], [], 0.0

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
        synchronize()
        self._start = time.perf_counter()

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        synchronize()
        if batch_idx >= self.warmup:
            self.times.append(time.perf_counter() - self._start)
        logs = pl_module._logs
        self.losses.append([float(logs.get("loss/d_real", math.nan)) + float(logs.get("loss/d_fake", math.nan)),
                            float(logs.get("loss/g", math.nan))])


def synchronize() -> None:
    if torch.cuda.is_available():
        torch.cuda.synchronize()


def build(spec: tuple, **options) -> tuple[pl.LightningModule, SyntheticDataModule]:
    class_name, kwargs, batch = spec
    torch.manual_seed(0)
    model = getattr(lit_gans, class_name)(**{**kwargs, **options})
    data = SyntheticDataModule(model.resolution, batch, num_images=4 * batch, num_classes=model.num_classes)
    return model, data


def train(spec: tuple, steps: int, device: str, precision: str = "32-true", warmup: int = 0, trainer_args=None,
          **options) -> tuple[pl.LightningModule, Recorder, pl.Trainer]:
    """Train `steps` batches of a fresh model (seed 0) on synthetic data."""
    model, data = build(spec, **options)
    recorder = Recorder(warmup)
    trainer_args = dict(trainer_args or {})
    if device == "cpu" and precision == "16-mixed":  # Lightning turns a plain 16-mixed on the CPU into bf16
        from pytorch_lightning.plugins.precision import MixedPrecision

        trainer_args["plugins"] = [MixedPrecision("16-mixed", "cpu", scaler=torch.amp.GradScaler("cpu"))]
    else:
        trainer_args["precision"] = precision
    trainer = pl.Trainer(accelerator=device, devices=1, max_epochs=-1, max_steps=-1, logger=False,
                         enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False,
                         callbacks=[StopAt(g_steps=steps), recorder], **trainer_args)
    with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
        warnings.simplefilter("ignore")
        trainer.fit(model, data)
    return model, recorder, trainer


def relative_difference(a: list, b: list) -> float:
    a, b = torch.tensor(a, dtype=torch.float64), torch.tensor(b, dtype=torch.float64)
    return float(((a - b).abs() / b.abs().clamp_min(1e-3)).max())


# ------------------------------------------------------------------------------------------------------ checks

def check_precision(models: dict, device: str, steps: int) -> list[dict]:
    results = []
    r1 = [lit_gans.objective.R1(gamma=1.0, interval=2)]
    for name, spec in models.items():
        for precision in ("bf16-mixed", "16-mixed"):
            model, recorder, trainer = train(spec, steps, device, precision, regularizers=r1)
            scaler = model.grad_scaler()
            terms = sorted(k for k in model._logs if k in ("loss/ortho", "loss/gp", "loss/drift", "loss/r1"))
            finite = all(math.isfinite(v) for pair in recorder.losses for v in pair)
            results.append({"check": "precision", "model": name, "precision": precision, "passed": finite,
                            "steps": len(recorder.losses), "final_losses": recorder.losses[-1], "terms": terms,
                            "skipped_steps": model.skipped_steps,
                            "grad_scale": scaler.get_scale() if scaler is not None else None})
    return results


def check_sync_batchnorm(models: dict, device: str, steps: int) -> list[dict]:
    """On the CPU (a dry run) Lightning refuses SyncBatchNorm, so DDP runs there without it."""
    spec = models[next(n for n in models if n.startswith("BigGAN"))]
    sync = device == "gpu"
    model, recorder, _ = train(spec, steps, device, trainer_args=dict(strategy="gan_ddp", sync_batchnorm=sync))
    synced = sum(isinstance(m, torch.nn.SyncBatchNorm) for m in model.generator.modules())
    finite = all(math.isfinite(v) for pair in recorder.losses for v in pair)
    return [{"check": "sync_bn", "model": "BigGAN", "passed": finite and (synced > 0 or not sync),
             "sync_batchnorms": synced if sync else "not on the CPU", "final_losses": recorder.losses[-1]}]


def check_compile(models: dict, device: str, steps: int) -> list[dict]:
    results = []
    for name in [n for n in models if n.startswith(("SAGAN", "BigGAN"))][: 1 if device == "cpu" else 2]:
        _, eager, _ = train(models[name], steps, device)
        _, compiled, _ = train(models[name], steps, device, compile=True)
        difference = relative_difference(compiled.losses, eager.losses)
        results.append({"check": "compile", "model": name, "backend": "inductor", "passed": difference <= COMPILE_RTOL,
                        "max_relative_loss_difference": difference, "tolerance": COMPILE_RTOL})
    return results


def check_options(models: dict, device: str, steps: int) -> list[dict]:
    spec = models[next(n for n in models if n.startswith("BigGAN"))]
    _, plain, _ = train(spec, steps, device)
    results = []
    for option, kwargs, trainer_args in (("channels_last", dict(channels_last=True), None),
                                         ("fused_adam", dict(fused_adam=True), None),
                                         ("trainer.benchmark", {}, dict(benchmark=True))):
        _, recorder, _ = train(spec, steps, device, trainer_args=trainer_args, **kwargs)
        difference = relative_difference(recorder.losses, plain.losses)
        results.append({"check": "options", "option": option, "model": "BigGAN", "passed": difference <= OPTION_RTOL,
                        "max_relative_loss_difference": difference, "tolerance": OPTION_RTOL})
    return results


def inception_network(dry_run: bool):
    """The FID Inception: with the installed weights, else (and always in a dry run) random weights, seed 0."""
    from lit_gans.evaluation.inception import inception_features, inception_skeleton

    if not dry_run:
        try:
            return inception_features(), "FID weights"
        except FileNotFoundError:
            pass
    torch.manual_seed(0)
    return inception_skeleton(), "random weights"


def features_of(network, images: torch.Tensor) -> torch.Tensor:
    """(N, 2048) float64 on the CPU; torch-fidelity's extractor returns a tuple of feature sets."""
    out = network(images)
    out = out[0] if isinstance(out, (tuple, list)) else out
    return out.reshape(len(images), -1).double().cpu()


def fid(features_a: torch.Tensor, features_b: torch.Tensor) -> float:
    from lit_gans.evaluation.frechet import frechet_distance, gaussian_stats

    return frechet_distance(*gaussian_stats(features_a), *gaussian_stats(features_b))


def check_fid_devices(device: str, dry_run: bool) -> list[dict]:
    network, weights = inception_network(dry_run)
    network.eval()
    n, size = (12, 32) if dry_run else (512, 128)
    rng = torch.Generator().manual_seed(0)
    noise = torch.randint(0, 256, (n, 3, size, size), generator=rng, dtype=torch.uint8)
    ramp = torch.linspace(0, 255, size).view(1, 1, 1, size).expand(n, 3, size, size)
    smooth = (ramp * torch.rand(n, 3, 1, 1, generator=rng)).to(torch.uint8)
    sets = [noise, smooth]  # two different distributions, so the FID is far from 0
    values, features = {}, {}
    for where in dict.fromkeys(("cpu", device)):
        net = network.to(where)
        with torch.no_grad():
            features[where] = [torch.cat([features_of(net, s[i : i + 64].to(where)) for i in range(0, n, 64)])
                               for s in sets]
        values[where] = fid(*features[where])
    difference = abs(values[device] - values["cpu"]) / max(abs(values["cpu"]), 1e-12)
    feature_difference = max(float((g - c).abs().max() / c.abs().max().clamp_min(1e-12))
                             for g, c in zip(features[device], features["cpu"]))
    # random weights can give near-constant features and an FID near 0: then the features are compared instead
    passed = difference <= FID_RTOL if values["cpu"] > 1e-3 else feature_difference <= FID_RTOL
    return [{"check": "fid_devices", "passed": passed, "weights": weights, "images": 2 * n, "fid": values,
             "relative_difference": difference, "feature_relative_difference": feature_difference,
             "tolerance": FID_RTOL}]


# ------------------------------------------------------------------------------------------------------ timings

def time_models(models: dict, device: str, steps: int, warmup: int) -> list[dict]:
    """On the CPU (a dry run) the compiled mode is left out: inductor's C++ builds take minutes there, and the
    compile check already covers that path."""
    results = []
    modes = TIMING_MODES if device == "gpu" else [m for m in TIMING_MODES if "compile" not in m]
    for name, spec in models.items():
        for mode in modes:
            options = dict(channels_last=True, compile=True) if "compile" in mode else {}
            precision = "bf16-mixed" if mode.startswith("bf16") else "32-true"
            row = {"timing": "train_step", "model": name, "mode": mode, "batch": spec[2]}
            try:
                if torch.cuda.is_available():
                    torch.cuda.reset_peak_memory_stats()
                _, recorder, _ = train(spec, steps + warmup, device, precision, warmup=warmup,
                                       trainer_args=dict(benchmark=device == "gpu"), **options)
                step = statistics.median(recorder.times)
                row.update(step_s=step, img_per_s=spec[2] / step)
                if torch.cuda.is_available():
                    row["peak_gpu_mb"] = torch.cuda.max_memory_allocated() / 2**20
            except Exception as error:  # an out-of-memory at one size must not hide the other rows
                row["error"] = f"{type(error).__name__}: {str(error).splitlines()[0][:200]}"
            results.append(row)
    return results


def time_mfu(models: dict, timings: list[dict], dry_run: bool) -> list[dict]:
    name = next(n for n in models if n.startswith("BigGAN") and "deep" not in n)
    class_name, kwargs, batch = models[name]
    flops = training_step_flops(getattr(lit_gans, class_name)(**kwargs), batch)["total"]
    gpu = torch.cuda.get_device_name() if torch.cuda.is_available() else "cpu"
    peak = next((v for k, v in PEAK_BF16_TFLOPS.items() if k in gpu), None)
    rows = []
    for row in timings:
        if row["model"] == name and row["mode"].startswith("bf16") and "step_s" in row:
            achieved = flops / row["step_s"] / 1e12
            rows.append({"timing": "mfu", "model": name, "mode": row["mode"], "tflop_per_step": flops / 1e12,
                         "achieved_tflops": achieved, "peak_tflops": peak,
                         "mfu": achieved / peak if peak and not dry_run else None})
    return rows


def time_inception(device: str, dry_run: bool) -> list[dict]:
    network, weights = inception_network(dry_run)
    n, size, batch = (4, 32, 2) if dry_run else (2048, 128, 256)
    images = torch.randint(0, 256, (n, 3, size, size), dtype=torch.uint8)
    extractors = {"lit-gans": network}
    try:
        from torch_fidelity.feature_extractor_inceptionv3 import FeatureExtractorInceptionV3

        from lit_gans.evaluation.inception import inception_skeleton

        extractors["torch-fidelity"] = inception_skeleton() if weights == "random weights" else \
            FeatureExtractorInceptionV3("inception-v3-compat", ["2048"],
                                        feature_extractor_weights_path=str(lit_gans.evaluation.inception.inception_weights()[0]))
    except ImportError:
        pass
    rows = []
    for name, net in extractors.items():
        net = net.to(device if device == "cpu" else "cuda").eval()
        where = next(net.parameters()).device
        with torch.no_grad():
            net(images[:batch].to(where))  # warm-up
            synchronize()
            start = time.perf_counter()
            for i in range(0, n, batch):
                net(images[i : i + batch].to(where))
            synchronize()
        rows.append({"timing": "inception", "extractor": name, "weights": weights, "images": n,
                     "img_per_s": n / (time.perf_counter() - start)})
    return rows


def time_overhead(models: dict, device: str, steps: int) -> list[dict]:
    """The same SAGAN batches by the bare hand-written loop of `benchmarks.lightning_overhead` and through the
    Trainer, alternated three times."""
    name = next(n for n in models if n.startswith("SAGAN"))
    where = "cuda" if device == "gpu" else "cpu"

    def bare() -> float:
        model, data = build(models[name])
        data.setup("fit")
        return plain_loop(model, data, steps, where) / steps

    def lightning() -> float:
        _, recorder, _ = train(models[name], steps, device, warmup=2)
        return statistics.median(recorder.times)

    rounds = [(bare(), lightning()) for _ in range(3)]
    plain, through = statistics.median(r[0] for r in rounds), statistics.median(r[1] for r in rounds)
    return [{"timing": "lightning_overhead", "model": name, "bare_step_s": plain, "lightning_step_s": through,
             "overhead": through / plain - 1}]


# ------------------------------------------------------------------------------------------------------ report

def machine() -> dict:
    info = {"torch": torch.__version__, "pytorch_lightning": pl.__version__, "python": platform.python_version(),
            "cpu": platform.machine(), "cuda": torch.version.cuda}
    if torch.cuda.is_available():
        info["gpu"] = torch.cuda.get_device_name()
        try:
            import subprocess

            info["driver"] = subprocess.run(["nvidia-smi", "--query-gpu=driver_version", "--format=csv,noheader"],
                                            capture_output=True, text=True).stdout.strip()
        except OSError:
            info["driver"] = None
    return info


def markdown(report: dict) -> str:
    m = report["machine"]
    lines = [f"GPU suite on {m.get('gpu', 'CPU (dry run)')}, driver {m.get('driver', '-')}, torch {m['torch']}, "
             f"CUDA {m['cuda']}, pytorch-lightning {m['pytorch_lightning']}" + (" (dry run)" if report["dry_run"] else ""),
             "", "| check | what | result | measured |", "|---|---|---|---|"]
    for c in report["checks"]:
        what = " ".join(str(c[k]) for k in ("model", "precision", "option", "backend") if c.get(k))
        measured = {k: v for k, v in c.items() if k not in ("check", "model", "precision", "option", "backend", "passed")}
        lines.append(f"| {c['check']} | {what} | {'pass' if c['passed'] else 'FAIL'} | {json.dumps(measured, default=str)} |")
    lines += ["", "| model | mode | batch | s / step | img / s | peak GPU MB |", "|---|---|---|---|---|---|"]
    for t in report["timings"]:
        if t["timing"] == "train_step":
            if "error" in t:
                lines.append(f"| {t['model']} | {t['mode']} | {t['batch']} | {t['error']} | | |")
            else:
                lines.append(f"| {t['model']} | {t['mode']} | {t['batch']} | {t['step_s']:.4f} | {t['img_per_s']:.1f} | "
                             f"{t.get('peak_gpu_mb', float('nan')):.0f} |")
    for t in report["timings"]:
        if t["timing"] == "mfu":
            mfu = f"{t['mfu']:.1%}" if t["mfu"] is not None else "-"
            lines.append(f"\nMFU {t['model']} {t['mode']}: {t['achieved_tflops']:.1f} TFLOP/s of {t['peak_tflops']} "
                         f"({t['tflop_per_step']:.2f} TFLOP per step): {mfu}")
        elif t["timing"] == "inception":
            lines.append(f"\nInception features, {t['extractor']} ({t['weights']}): {t['img_per_s']:.0f} img/s")
        elif t["timing"] == "lightning_overhead":
            lines.append(f"\nLightning overhead ({t['model']}): {t['lightning_step_s'] * 1000:.1f} ms vs "
                         f"{t['bare_step_s'] * 1000:.1f} ms bare per step: {t['overhead']:+.1%}")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dry-run", action="store_true", help="run on the CPU with tiny shapes (what CI runs)")
    parser.add_argument("--out", help="write the report as JSON here")
    parser.add_argument("--markdown", help="write the Markdown tables here")
    parser.add_argument("--only", choices=("checks", "timings"), help="run one half")
    args = parser.parse_args(argv)
    if not args.dry_run and not torch.cuda.is_available():
        parser.error("no CUDA GPU is visible; run with --dry-run to exercise the suite on the CPU")
    device, models = ("cpu", MODELS["dry"]) if args.dry_run else ("gpu", MODELS["gpu"])
    steps, warmup = (2, 1) if args.dry_run else (4, 3)
    report = {"dry_run": args.dry_run, "machine": machine(), "checks": [], "timings": []}
    sections = []
    if args.only != "timings":
        sections += [("checks", lambda: check_precision(models, device, steps)),
                     ("checks", lambda: check_sync_batchnorm(models, device, steps)),
                     ("checks", lambda: check_compile(models, device, steps + 1)),
                     ("checks", lambda: check_options(models, device, steps)),
                     ("checks", lambda: check_fid_devices(device, args.dry_run))]
    if args.only != "checks":
        sections += [("timings", lambda: time_models(models, device, 2 if args.dry_run else 10, warmup)),
                     ("timings", lambda: time_mfu(models, report["timings"], args.dry_run)),
                     ("timings", lambda: time_inception(device, args.dry_run)),
                     ("timings", lambda: time_overhead(models, device, 4 if args.dry_run else 30))]
    for key, section in sections:
        started = time.perf_counter()
        try:
            rows = section()
        except Exception as error:  # a broken section is reported, and the others still run
            traceback.print_exc()
            rows = [{key[:-1]: "error", "passed": False, "error": f"{type(error).__name__}: {error}"}]
        for row in rows:
            row["seconds"] = round(time.perf_counter() - started, 1)
            print(json.dumps(row, default=str), flush=True)
        report[key] += rows
    text = markdown(report)
    print(text)
    if args.out:
        with open(args.out, "w") as f:
            json.dump(report, f, indent=1, default=str)
    if args.markdown:
        with open(args.markdown, "w") as f:
            f.write(text)
    failed = [c for c in report["checks"] if not c.get("passed")]
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
