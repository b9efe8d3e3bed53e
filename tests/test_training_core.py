import pytest
import torch

from callbacks import StopAt
from conftest import digits, make_trainer
from lit_gans import SAGAN


def snapshot(module):
    return {k: v.detach().clone() for k, v in module.state_dict().items()}


def changed(before, module):
    """Names of parameters (not buffers) that differ from `before`."""
    params = {name for name, _ in module.named_parameters()}
    after = module.state_dict()
    return {k for k in params if not torch.equal(before[k], after[k])}


class Recorder(StopAt):
    """Records which network each batch changed."""

    def __init__(self, g_steps):
        super().__init__(g_steps=g_steps)
        self.changes = []

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
        self.g, self.d = snapshot(pl_module.generator), snapshot(pl_module.discriminator)

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        self.changes.append((bool(changed(self.g, pl_module.generator)), bool(changed(self.d, pl_module.discriminator))))
        super().on_train_batch_end(trainer, pl_module, outputs, batch, batch_idx)


def test_each_step_changes_only_its_own_network(tiny_sagan_kwargs):
    model = SAGAN(**tiny_sagan_kwargs, n_dis=2)
    recorder = Recorder(g_steps=2)
    make_trainer(recorder).fit(model, digits())
    # batch 1: D step only; batch 2: D step, then G step (which must not touch D's weights)
    assert recorder.changes == [(False, True), (True, True), (False, True), (True, True)]
    assert (model.d_steps, model.g_steps, model.images_seen) == (4, 2, 32)


def test_generator_step_leaves_discriminator_gradients_untouched(tiny_sagan_kwargs):
    model = SAGAN(**tiny_sagan_kwargs)
    make_trainer(StopAt(g_steps=1)).fit(model, digits())
    # after each optimizer step the gradients are cleared; the G step ran with D toggled off
    assert all(p.grad is None for p in model.discriminator.parameters())
    assert all(p.requires_grad for p in model.discriminator.parameters())


def test_gradient_accumulation_steps_every_k_micro_batches(tiny_sagan_kwargs):
    model = SAGAN(**tiny_sagan_kwargs, accumulate=3, n_dis=1)
    recorder = Recorder(g_steps=2)
    make_trainer(recorder).fit(model, digits())
    assert [d for _, d in recorder.changes] == [False, False, True] * 2
    assert [g for g, _ in recorder.changes] == [False, False, True] * 2
    assert (model.d_micro, model.d_steps, model.g_steps) == (6, 2, 2)


def test_accumulated_gradient_equals_full_batch_gradient(tiny_sagan_kwargs):
    """loss/k summed over k micro-batches gives the gradient of the mean loss over the whole batch."""
    model = SAGAN(**tiny_sagan_kwargs)
    D = model.discriminator
    D.eval()  # freeze the spectral-norm power iteration so both passes see the same weights
    x, y = torch.randn(8, 3, 16, 16), torch.randint(10, (8,))
    from lit_gans.objective import Hinge

    Hinge().d_real(D(x, y)).backward()
    full = [p.grad.clone() for p in D.parameters()]
    D.zero_grad()
    for chunk in range(2):
        (Hinge().d_real(D(x[chunk * 4:(chunk + 1) * 4], y[chunk * 4:(chunk + 1) * 4])) / 2).backward()
    for a, p in zip(full, D.parameters()):
        assert torch.allclose(a, p.grad, atol=1e-6)


def test_ranks_draw_interleaved_rows_of_one_global_batch(tiny_sagan_kwargs, monkeypatch):
    model = SAGAN(**tiny_sagan_kwargs)
    trainer = make_trainer()
    model.trainer = trainer
    z_single, y_single = model._latents(8, 0, 7)  # one process, global batch 8
    assert torch.equal(z_single, model._latents(8, 0, 7)[0])  # a pure function of (seed, stream, index)
    monkeypatch.setattr(type(trainer), "world_size", property(lambda self: 2))
    rows = {}
    for rank in (0, 1):
        monkeypatch.setattr(type(trainer), "global_rank", property(lambda self, rank=rank: rank))
        rows[rank] = model._latents(4, 0, 7)  # each of two processes: batch 4
    assert not torch.allclose(rows[0][0], rows[1][0])
    assert torch.equal(torch.stack([rows[0][0], rows[1][0]], 1).flatten(0, 1), z_single)
    assert torch.equal(torch.stack([rows[0][1], rows[1][1]], 1).flatten(), y_single)


@pytest.mark.parametrize("kwargs, message", [
    (dict(n_dis=0), "n_dis must be at least 1"),
    (dict(loss="lsgan"), "unknown loss 'lsgan'"),
    (dict(accumulate=0), "accumulate must be at least 1"),
    (dict(resolution=48), r"supports resolutions \(16, 32, 64, 128, 256, 512\)"),
])
def test_configuration_errors_are_early_and_clear(tiny_sagan_kwargs, kwargs, message):
    with pytest.raises(ValueError, match=message):
        SAGAN(**{**tiny_sagan_kwargs, **kwargs})


@pytest.mark.parametrize("loss", ["ns", "wgan"])
def test_other_losses_train(tiny_sagan_kwargs, loss):
    model = SAGAN(**tiny_sagan_kwargs, loss=loss)
    make_trainer(StopAt(g_steps=2)).fit(model, digits())
    assert model.g_steps == 2


class NaNDiscriminator(torch.nn.Module):
    def __init__(self, inner):
        super().__init__()
        self.inner = inner

    def forward(self, x, y=None):
        return self.inner(x, y) * float("nan")


def test_non_finite_losses_skip_steps_then_stop_with_a_clear_error(tiny_sagan_kwargs):
    model = SAGAN(**tiny_sagan_kwargs, max_nonfinite=3)
    model.discriminator = NaNDiscriminator(model.discriminator)
    before = snapshot(model)
    with pytest.raises(FloatingPointError, match="3 consecutive optimizer steps were skipped for a non-finite loss"):
        make_trainer(StopAt(g_steps=10)).fit(model, digits())
    assert model.skipped_steps == 3
    after = model.state_dict()
    for name, _ in model.named_parameters():
        assert torch.equal(before[name], after[name]), name  # no NaN reached the weights


def test_sample_returns_images_in_range_with_requested_classes(tiny_sagan_kwargs):
    model = SAGAN(**tiny_sagan_kwargs)
    images = model.sample(6, y=[1, 2, 3, 4, 5, 6], truncation=0.5, seed=3)
    assert images.shape == (6, 3, 16, 16) and images.min() >= -1 and images.max() <= 1
    assert torch.equal(images, model.sample(6, y=[1, 2, 3, 4, 5, 6], truncation=0.5, seed=3))
    assert model.generator.training  # sampling restores the mode
    with pytest.raises(ValueError, match=r"class labels must lie in \[0, 10\)"):
        model.sample(2, y=10)


def test_data_that_does_not_fit_the_model_is_refused_before_training(tiny_sagan_kwargs):
    with pytest.raises(ValueError, match="the data serves 32 px images but the model makes 16 px images"):
        make_trainer(StopAt(g_steps=1)).fit(SAGAN(**tiny_sagan_kwargs), digits(resolution=32))
    with pytest.raises(ValueError, match="conditioned on 7 classes but the data has 10 classes"):
        make_trainer(StopAt(g_steps=1)).fit(SAGAN(**{**tiny_sagan_kwargs, "num_classes": 7}), digits())
    unconditional = SAGAN(**{**tiny_sagan_kwargs, "num_classes": 0})
    make_trainer(StopAt(g_steps=1)).fit(unconditional, digits())  # labels are simply ignored
    assert unconditional.g_steps == 1


def test_every_logging_batch_carries_the_latest_value_of_every_scalar(tiny_sagan_kwargs, tmp_path):
    import csv

    from pytorch_lightning.loggers import CSVLogger

    model = SAGAN(**tiny_sagan_kwargs, n_dis=3)  # G steps on batches 3, 6, 9, 12; logging on 1, 4, 8, 12
    trainer = make_trainer(StopAt(g_steps=4), logger=CSVLogger(tmp_path), log_every_n_steps=4)
    trainer.fit(model, digits())
    rows = list(csv.DictReader(next(tmp_path.rglob("metrics.csv")).open()))
    steps = sorted({int(row["step"]) for row in rows})
    assert steps == [3, 7, 11]  # the logger's step counts batches from 0: batches 4, 8 and 12
    for step in steps:
        values = {k: v for row in rows if int(row["step"]) == step for k, v in row.items() if v}
        for key in ("loss/d_real", "loss/g", "grad_norm/d", "grad_norm/g", "lr/g", "kimg", "progress/g_steps"):
            assert key in values, (step, key)  # loss/g although G did not step on batches 4 and 8
    assert [float(r["progress/g_steps"]) for r in rows if r.get("progress/g_steps")] == [1.0, 2.0, 4.0]
