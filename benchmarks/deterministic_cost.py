"""What deterministic mode costs on the CPU: the default recipe trained through `lit-gans fit` (32-true) with
`--trainer.deterministic` false and "warn" (the CPU default), in alternating rounds in one process, from the same
seed. The figure is the median over rounds of the time `Trainer.fit` takes for `--steps` optimizer steps, start-up
excluded, and whether two deterministic runs give bit-identical weights.

    python -m benchmarks.deterministic_cost [--rounds 3] [--steps 60]
"""
import argparse
import contextlib
import io
import platform
import statistics
import time

import torch

from lit_gans.cli import main


def train(steps: int, deterministic: str) -> tuple[float, dict]:
    """Seconds of `fit` for `steps` optimizer steps of the default recipe, and the generator's final weights."""
    cli = main(["--trainer.precision=32-true", f"--trainer.max_steps={steps}", "--trainer.logger=false",
                "--trainer.enable_checkpointing=false", "--trainer.enable_progress_bar=false",
                "--trainer.callbacks=[]", f"--trainer.deterministic={deterministic}"], run=False)
    with contextlib.redirect_stdout(io.StringIO()):
        start = time.perf_counter()
        cli.trainer.fit(cli.model, datamodule=cli.datamodule)
        seconds = time.perf_counter() - start
    torch.use_deterministic_algorithms(False)
    return seconds, {k: v.clone() for k, v in cli.model.generator.state_dict().items()}


def run(rounds: int, steps: int) -> None:
    times = {"false": [], "warn": []}
    weights = {}
    for i in range(rounds):
        for mode in (("false", "warn") if i % 2 == 0 else ("warn", "false")):
            seconds, state = train(steps, mode)
            times[mode].append(seconds)
            weights.setdefault(mode, []).append(state)

    def largest_difference(states):
        return max((states[0][k].float() - states[1][k].float()).abs().max().item() for k in states[0])

    off, on = statistics.median(times["false"]), statistics.median(times["warn"])
    print(f"machine: {platform.processor() or platform.machine()}, {torch.get_num_threads()} threads, "
          f"torch {torch.__version__}")
    print(f"{steps} steps of the default recipe (32-true): deterministic off {off:.2f} s, on {on:.2f} s "
          f"(ratio {on / off:.3f}; rounds off {[round(t, 2) for t in times['false']]}, "
          f"on {[round(t, 2) for t in times['warn']]})")
    if rounds > 1:
        print(f"largest weight difference between two runs: off {largest_difference(weights['false']):.3g}, "
              f"on {largest_difference(weights['warn']):.3g}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--steps", type=int, default=60)
    args = parser.parse_args()
    run(args.rounds, args.steps)
