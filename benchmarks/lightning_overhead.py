"""Lightning overhead: the same networks, losses, optimizers and batches trained by a minimal hand-written PyTorch
loop and through the Lightning Trainer (lit-gans' `GAN.training_step`), side by side in one process.

Rounds run plain / Lightning / Lightning with progress bar and logger in rotating order, each from a copy of the
same initial model, so drifts of a shared machine hit all three alike; the figure is the median over rounds of the time for
`--steps` batches (one D step and one G step each), data loading included, Trainer start-up excluded.

    python -m benchmarks.lightning_overhead [--rounds 9] [--steps 40] [--config default]

On a CPU, glibc's default allocator returns large blocks to the system and faults them in again on every step,
which costs each loop differently depending on its allocation history. Keeping them (as CUDA's caching allocator
does on a GPU) isolates the loops' own cost:

    MALLOC_MMAP_THRESHOLD_=4294967296 MALLOC_TRIM_THRESHOLD_=17179869184 python -m benchmarks.lightning_overhead

The plain loop is the strongest fair baseline: no logging, no finiteness checks, D frozen during the G step. The
Lightning module additionally computes both gradient norms, checks losses and gradients for non-finite values and
logs about ten values per step, so the ratio bounds what lit-gans costs over a bare loop, not Lightning alone.
"""
import argparse
import contextlib
import copy
import io
import platform
import statistics
import time

import pytorch_lightning as pl
import torch
from pytorch_lightning.loggers import CSVLogger

from callbacks import StopAt
from datamodules import DigitsDataModule
from lit_gans import SAGAN
from lit_gans.objective import Hinge

CONFIGS = {
    "default": (dict(resolution=16, z_dim=64, ch=16, num_classes=10, attn_res=8, lr_g=2e-4, lr_d=2e-4), 64),
    "sagan32": (dict(resolution=32, z_dim=128, ch=32, num_classes=10, attn_res=16), 32),
}


def plain_loop(model: SAGAN, data, steps: int, device: str = "cpu") -> float:
    """Seconds for `steps` batches of alternating hinge-loss D and G steps, written out by hand, on `device`
    (the model is moved there; "cuda" waits for the GPU at the end)."""
    model.to(device)
    generator, discriminator = model.generator, model.discriminator
    opt_g, opt_d = model.configure_optimizers()
    batches = (batch for _ in iter(int, 1) for batch in data.train_dataloader())  # epoch after epoch
    rng = torch.Generator(device=device).manual_seed(0)
    start = time.perf_counter()
    for _ in range(steps):
        images, labels, alpha = next(batches)
        real, labels = data.on_after_batch_transfer((images.to(device), labels.to(device), alpha))
        n = real.shape[0]
        z = torch.randn(n, model.z_dim, generator=rng, device=device)
        y = torch.randint(model.num_classes, (n,), generator=rng, device=device)
        with torch.no_grad():
            fake = generator(z, y)
        logits = discriminator(torch.cat([real, fake]), torch.cat([labels, y]))
        loss_d = Hinge().d_real(logits[:n]) + Hinge().d_fake(logits[n:])
        opt_d.zero_grad(set_to_none=True)
        loss_d.backward()
        opt_d.step()

        discriminator.requires_grad_(False)
        z = torch.randn(n, model.z_dim, generator=rng, device=device)
        y = torch.randint(model.num_classes, (n,), generator=rng, device=device)
        loss_g = Hinge().g(discriminator(generator(z, y), y))
        opt_g.zero_grad(set_to_none=True)
        loss_g.backward()
        opt_g.step()
        discriminator.requires_grad_(True)
    if device != "cpu":
        torch.cuda.synchronize()
    return time.perf_counter() - start


class Stopwatch(pl.Callback):
    """Wall time from the start of the first batch to the end of the last one."""

    def __init__(self):
        self.start = self.end = None

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
        if self.start is None:
            self.start = time.perf_counter()

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        self.end = time.perf_counter()


def lightning_loop(model: SAGAN, data: DigitsDataModule, steps: int, logged: bool, folder: str) -> float:
    watch = Stopwatch()
    trainer = pl.Trainer(accelerator="cpu", devices=1, max_epochs=-1, enable_checkpointing=False,
                         enable_model_summary=False, enable_progress_bar=logged, log_every_n_steps=10,
                         logger=CSVLogger(folder) if logged else False, callbacks=[StopAt(g_steps=steps), watch])
    with contextlib.redirect_stdout(io.StringIO()):  # the progress bar is drawn (and paid for), not shown
        trainer.fit(model, data)
    # the first batch's start is the reference, so the time covers `steps - 1` batches and the gaps between them
    return (watch.end - watch.start) * steps / (steps - 1) if steps > 1 else watch.end - watch.start


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=9)
    parser.add_argument("--steps", type=int, default=40)
    parser.add_argument("--config", choices=sorted(CONFIGS), default="default")
    parser.add_argument("--logs", default="runs/lightning-overhead")
    args = parser.parse_args()
    kwargs, batch = CONFIGS[args.config]
    print(f"machine: {platform.machine()}, {torch.get_num_threads()} threads, torch {torch.__version__}, "
          f"pytorch_lightning {pl.__version__}; SAGAN {kwargs}, batch {batch}, {args.steps} batches per round")
    torch.manual_seed(0)
    initial = SAGAN(**kwargs)
    data = DigitsDataModule(resolution=kwargs["resolution"], batch_size=batch)
    data.setup("fit")
    loops = {
        "plain": lambda model: plain_loop(model, data, args.steps),
        "lightning": lambda model: lightning_loop(model, data, args.steps, False, args.logs),
        "lightning + progress bar + CSV logger": lambda model: lightning_loop(model, data, args.steps, True, args.logs),
    }
    times = {name: [] for name in loops}
    names = list(loops)
    for round_index in range(args.rounds):
        for name in names[round_index % 3:] + names[: round_index % 3]:  # each loop runs first, second and third
            times[name].append(loops[name](copy.deepcopy(initial)))
        print(f"round {round_index}: " + ", ".join(f"{k} {v[-1]:.2f} s" for k, v in times.items()), flush=True)
    plain = statistics.median(times["plain"])
    print("| loop | median s per round | ms per batch | ratio to plain |")
    print("|---|---|---|---|")
    for name, values in times.items():
        median = statistics.median(values)
        print(f"| {name} | {median:.2f} | {1000 * median / args.steps:.1f} | {median / plain:.3f} |")


if __name__ == "__main__":
    main()
