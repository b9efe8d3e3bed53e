"""Where the time of one training step of the digits default goes: each phase of a D step and a G step, timed.

Builds the networks of `configs/sagan/digits.yaml` (SAGAN, 16 px, batch 64, class-grouped minibatch stddev, so D
sees reals and fakes in separate forwards) and runs the step in plain PyTorch, as the module does it: G without
grad, D on reals and on fakes, D's backward and Adam; G with grad, D frozen, the backward through both and Adam.
Each numeric mode runs in a fresh process; modes alternate over `--repeats` rounds, because this machine's speed
drifts by tens of percent within minutes, so only figures of one round compare.

    python -m benchmarks.step_phases                          # bf16+channels-last, bf16, fp32; batch 64
    python -m benchmarks.step_phases --modes bf16-cl --batch 32 128
"""
import argparse
import json
import platform
import subprocess
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F
import yaml

CONFIG = Path(__file__).resolve().parents[1] / "configs" / "sagan" / "digits.yaml"
MODES = ("bf16-cl", "bf16", "fp32")
PHASES = ("G no-grad forward", "D forward (reals, fakes)", "D backward", "D Adam", "G forward", "D forward (G step)",
          "G-step backward", "G Adam")


def time_phases(mode: str, batch: int, warmup: int, steps: int) -> dict:
    from lit_gans import SAGAN

    torch.manual_seed(0)
    args = yaml.safe_load(CONFIG.read_text())["model"]["init_args"]
    channels_last, bf16 = mode.endswith("-cl"), mode.startswith("bf16")
    model = SAGAN(**{**args, "channels_last": channels_last})
    G, D = model.generator, model.discriminator
    layout = torch.channels_last if channels_last else torch.contiguous_format
    G.to(memory_format=layout), D.to(memory_format=layout)
    opt_g = torch.optim.Adam(G.parameters(), args["lr_g"], betas=tuple(args["betas_g"]))
    opt_d = torch.optim.Adam(D.parameters(), args["lr_d"], betas=tuple(args["betas_d"]))
    real = torch.randn(batch, 3, 16, 16).contiguous(memory_format=layout)
    labels = torch.arange(batch) % 10
    totals = dict.fromkeys(PHASES, 0.0)

    def autocast():
        return torch.autocast("cpu", torch.bfloat16, enabled=bf16)

    def train_only(trained, frozen):
        for p in trained.parameters():
            p.requires_grad_(True)
        for p in frozen.parameters():
            p.requires_grad_(False)

    def step():
        marks = [time.perf_counter()]
        mark = lambda: marks.append(time.perf_counter())  # noqa: E731
        train_only(D, G)
        with autocast():
            with torch.no_grad():
                fake = G(torch.randn(batch, G.z_dim), labels)
            mark()
            loss = F.softplus(-D(real, labels)).mean() + F.softplus(D(fake, labels)).mean()
        mark()
        opt_d.zero_grad(set_to_none=True)
        loss.backward()
        mark()
        opt_d.step()
        mark()
        train_only(G, D)
        with autocast():
            fake = G(torch.randn(batch, G.z_dim), labels)
            mark()
            loss = F.softplus(-D(fake, labels)).mean()
        mark()
        opt_g.zero_grad(set_to_none=True)
        loss.backward()
        mark()
        opt_g.step()
        mark()
        return [b - a for a, b in zip(marks, marks[1:])]

    for _ in range(warmup):
        step()
    started = time.perf_counter()
    for _ in range(steps):
        for phase, seconds in zip(PHASES, step()):
            totals[phase] += seconds
    per_step = (time.perf_counter() - started) / steps
    return {"mode": mode, "batch": batch, "ms_per_step": 1000 * per_step,
            **{phase: 1000 * seconds / steps for phase, seconds in totals.items()}}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--modes", nargs="+", choices=MODES, default=list(MODES))
    parser.add_argument("--batch", nargs="+", type=int, default=[64])
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--worker", nargs=2, metavar=("MODE", "BATCH"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        print(json.dumps(time_phases(args.worker[0], int(args.worker[1]), args.warmup, args.steps)))
        return
    print(f"machine: {platform.machine()}, threads {torch.get_num_threads()}, torch {torch.__version__}")
    print("| round | mode | batch | ms per step | " + " | ".join(PHASES) + " |")
    print("|---" * (4 + len(PHASES)) + "|")
    for round_ in range(1, args.repeats + 1):
        for batch in args.batch:
            for mode in args.modes:
                out = subprocess.run([sys.executable, "-m", "benchmarks.step_phases", "--worker", mode, str(batch),
                                      "--warmup", str(args.warmup), "--steps", str(args.steps)],
                                     check=True, capture_output=True, text=True).stdout
                row = json.loads(out.strip().splitlines()[-1])
                print(f"| {round_} | {mode} | {batch} | {row['ms_per_step']:.0f} | "
                      + " | ".join(f"{row[p]:.0f}" for p in PHASES) + " |", flush=True)


if __name__ == "__main__":
    main()
