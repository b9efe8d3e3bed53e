"""Monitors never end a run: an error inside one is reported once and switches it off; D scores any number of
images in forwards its minibatch standard deviation accepts."""
import sys
from pathlib import Path

import pytest
import torch
from pytorch_lightning.callbacks import ModelCheckpoint

import callbacks
from callbacks import (DigitsQuality, DiscriminatorMemorization, ImageMetrics, Interpolations, Monitor, MonitorWarning,
                       SampleGrid, SingularValues, StopAt)
from conftest import digits, make_trainer
from lit_gans import SAGAN, ProGAN
from lit_gans.discriminate import discriminate, windows

MONITORS = (DigitsQuality, DiscriminatorMemorization, ImageMetrics, Interpolations, SampleGrid, SingularValues)


@pytest.mark.parametrize("multiple", [1, 3, 4, 16])
@pytest.mark.parametrize("batch_size", [1, 4, 10, 256])
def test_windows_score_every_image_once_in_batches_the_layer_accepts(multiple, batch_size):
    for n in range(70):
        scored = []
        for start, stop, keep in windows(n, batch_size, multiple):
            size = stop - start
            assert 0 <= start < stop <= n and 0 < keep <= size
            assert size <= max(batch_size, multiple)
            assert size <= multiple or size % multiple == 0  # min(group, N) divides N, as training batches
            scored.extend(range(stop - keep, stop))
        assert scored == list(range(n)), (n, batch_size, multiple)


def tiny_d(kind: str, style: str, num_classes: int = 10):
    if kind == "progan":
        model = ProGAN(resolution=8, z_dim=8, num_classes=num_classes, fmap_base=64, fmap_max=16, mbstd_style=style)
        return model.discriminator.eval(), 8
    model = SAGAN(resolution=16, z_dim=8, ch=4, num_classes=num_classes, attn_res=0, mbstd_group_size=4, mbstd_style=style)
    return model.discriminator.eval(), 16


@pytest.mark.parametrize("kind, style, num_classes", [("sagan", "official", 10), ("sagan", "gan-zoo", 10),
                                                      ("sagan", "class", 10), ("sagan", "class", 0),
                                                      ("progan", "official", 0), ("progan", "gan-zoo", 0)])
def test_d_scores_any_number_of_images_in_the_groups_of_training(kind, style, num_classes):
    discriminator, resolution = tiny_d(kind, style, num_classes)
    generator = torch.Generator().manual_seed(0)
    images = torch.rand(63, 3, resolution, resolution, generator=generator) * 2 - 1
    labels = torch.randint(10, (63,), generator=generator) if num_classes else None

    def forward(lo, hi):
        with torch.no_grad():
            return discriminator(images[lo:hi], None if labels is None else labels[lo:hi]).float()

    for n in (1, 3, 17, 53, 63):
        scores = discriminate(discriminator, images[:n], None if labels is None else labels[:n], batch_size=16)
        assert scores.shape == (n,) and torch.isfinite(scores).all()
        multiple = discriminator.batch_multiple
        if n <= multiple:
            torch.testing.assert_close(scores, forward(0, n))
            continue
        full = n // multiple * multiple  # whole groups: the forwards of at most 16 images that training would make
        expected = [forward(lo, min(lo + 16 // multiple * multiple, full)) for lo in range(0, full, 16 // multiple * multiple)]
        if full < n:  # the rest scored in one group with the images just before it
            expected.append(forward(n - multiple, n)[multiple - (n - full):])
        torch.testing.assert_close(scores, torch.cat(expected))
    if discriminator.batch_multiple > 1 and style != "gan-zoo":  # what one forward of a data-sized count did before
        with pytest.raises(ValueError, match="divisible by the group size 4"):
            forward(0, 53)


def test_every_observing_callback_is_a_monitor():
    assert all(issubclass(monitor, Monitor) for monitor in MONITORS)
    assert not issubclass(callbacks.EMA, Monitor) and not issubclass(callbacks.StopAt, Monitor)  # they train


def boom(*args, **kwargs):
    raise RuntimeError("injected failure")


# (monitor, its arguments, the hook that fails, what inside it is made to fail)
INJECTIONS = [
    (DiscriminatorMemorization, dict(every_n_g_steps=1, num_images=8), "setup", "datamodules.base.GANDataModule.has_held_out"),
    (DiscriminatorMemorization, dict(every_n_g_steps=1, num_images=8), "on_train_batch_end", "evaluate"),
    (DiscriminatorMemorization, dict(every_n_g_steps=99, num_images=8), "on_train_end", "evaluate"),
    (ImageMetrics, dict(every_n_g_steps=1, num_samples=16, kid_subset_size=8), "setup", "lit_gans.evaluation.evaluator.Evaluator.prepare"),
    (ImageMetrics, dict(every_n_g_steps=1, num_samples=16, kid_subset_size=8), "on_train_batch_end", "evaluate"),
    (ImageMetrics, dict(every_n_g_steps=99, num_samples=16, kid_subset_size=8), "on_train_end", "evaluate"),
    (DigitsQuality, dict(every_n_g_steps=1, per_class=2), "setup", "lit_gans.evaluation.digits.DigitsScorer.fit"),
    (DigitsQuality, dict(every_n_g_steps=1, per_class=2), "on_train_start", "metrics"),
    (DigitsQuality, dict(every_n_g_steps=1, per_class=2), "on_train_batch_end", "evaluate"),
    (DigitsQuality, dict(every_n_g_steps=99, per_class=2), "on_train_end", "evaluate"),
    (SampleGrid, dict(every_n_g_steps=1), "on_train_batch_end", "grid"),
    (SampleGrid, dict(every_n_g_steps=99), "on_train_end", "grid"),
    (Interpolations, dict(rows=1, frames=2), "on_train_end", "callbacks.interpolations.pictures"),
    (SingularValues, dict(every_n_g_steps=1), "on_train_batch_end", "values"),
]


@pytest.mark.parametrize("monitor_class, options, hook, target", INJECTIONS,
                         ids=[f"{m.__name__}.{h}" for m, _, h, _ in INJECTIONS])
def test_an_error_in_any_monitor_hook_switches_it_off_and_the_run_finishes(monitor_class, options, hook, target,
                                                                           tiny_sagan_kwargs, tmp_path, monkeypatch):
    if monitor_class is ImageMetrics and target == "evaluate":
        monkeypatch.setattr("lit_gans.evaluation.evaluator.Evaluator.prepare", lambda self: None)  # no Inception
    monitor = monitor_class(**options)
    if "." in target:
        monkeypatch.setattr(target, property(boom) if target.endswith("has_held_out") else boom)
    else:
        monkeypatch.setattr(monitor, target, boom)
    checkpoints = ModelCheckpoint(dirpath=tmp_path / "ckpt", save_last=True)
    model = SAGAN(**tiny_sagan_kwargs)
    with pytest.warns(MonitorWarning) as caught:
        make_trainer(StopAt(g_steps=3), monitor, checkpoints, enable_checkpointing=True).fit(model, digits())
    reports = [str(w.message) for w in caught if issubclass(w.category, MonitorWarning)]
    assert len(reports) == 1  # reported once, then switched off
    assert reports[0].startswith(f"{monitor_class.__name__} is switched off for the rest of the run: its {hook} hook "
                                 "raised RuntimeError: injected failure (")
    assert monitor.failure == reports[0]
    assert [Path(w.filename).name for w in caught if issubclass(w.category, MonitorWarning)] == [
        Path(sys.modules[monitor_class.__module__].__file__).name]  # shown at the hook, not at Lightning's caller
    assert model.g_steps == 3  # the run went on to its end
    assert torch.load(tmp_path / "ckpt" / "last.ckpt", weights_only=True)["lit_gans"]["g_steps"] == 3


def test_strict_monitors_and_debug_mode_let_the_error_end_the_run(tiny_sagan_kwargs, monkeypatch):
    strict = SampleGrid(every_n_g_steps=1, strict=True)
    monkeypatch.setattr(strict, "grid", boom)
    with pytest.raises(RuntimeError, match="injected failure"):
        make_trainer(StopAt(g_steps=2), strict).fit(SAGAN(**tiny_sagan_kwargs), digits())
    debugged = SampleGrid(every_n_g_steps=1)
    monkeypatch.setattr(debugged, "grid", boom)
    monkeypatch.setenv("LIT_GANS_DEBUG", "1")
    with pytest.raises(RuntimeError, match="injected failure"):
        make_trainer(StopAt(g_steps=2), debugged).fit(SAGAN(**tiny_sagan_kwargs), digits())


@pytest.mark.parametrize("error", [
    torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB"),
    RuntimeError("[enforce fail at alloc_cpu.cpp:127] data. DefaultCPUAllocator: can't allocate memory: you tried "
                 "to allocate 80000000000000 bytes"),  # what torch raises when the host runs out
    MemoryError()], ids=["cuda", "cpu", "python"])
def test_running_out_of_memory_in_a_monitor_still_ends_the_run(error, tiny_sagan_kwargs, monkeypatch):
    monitor = SampleGrid(every_n_g_steps=1)

    def out_of_memory(*args):
        raise error

    monkeypatch.setattr(monitor, "grid", out_of_memory)
    with pytest.raises(type(error)):
        make_trainer(StopAt(g_steps=2), monitor).fit(SAGAN(**tiny_sagan_kwargs), digits())


def test_the_command_line_finishes_a_run_whose_monitors_fail_and_names_them_at_the_end(tmp_path, monkeypatch, capsys):
    """Two mistakes a user makes in a config: Inception weights that are not there, and a class the model lacks.
    Both monitors are switched off before the first step (in setup), the run trains to its end with exit status 0,
    and the end of the output names them again."""
    from test_odd_datasets import lit_gans

    status, stderr, raised = lit_gans(
        monkeypatch, capsys, "fit", "--model.init_args.ch=8", "--model.init_args.z_dim=16", "--trainer.max_steps=4",
        "--trainer.enable_progress_bar=false", "--trainer.callbacks+=callbacks.ImageMetrics",
        f"--trainer.callbacks.inception_weights={tmp_path / 'missing.pth'}", "--trainer.callbacks.num_samples=16",
        "--trainer.callbacks.kid_subset_size=8", "--trainer.callbacks+=callbacks.SampleGrid",
        "--trainer.callbacks.classes=[3, 99]")
    assert status == 0, stderr[-3000:]
    reports = [w for w in raised if w.startswith("MonitorWarning")]
    assert len(reports) == 2
    assert reports[0].startswith("MonitorWarning: ImageMetrics is switched off for the rest of the run: its setup "
                                 "hook raised FileNotFoundError:") and "missing.pth" in reports[0]
    assert reports[1].startswith("MonitorWarning: SampleGrid is switched off for the rest of the run: its setup hook "
                                 "raised ValueError: classes [99] are not classes of this model (0 to 9)")
    assert raised[-1] == ("UserWarning: switched off during this run by an error (see its warning above): "
                          "ImageMetrics, SampleGrid")
    saved = torch.load(next((tmp_path / "runs").rglob("last.ckpt")), weights_only=True)
    assert saved["lit_gans"]["g_steps"] == 2
