"""Mixed precision, non-finite steps, gradient clipping and the speed switches (fused Adam, channels-last,
torch.compile). The 16-mixed GradScaler paths run on CPU through Lightning's MixedPrecision plugin with a CPU
GradScaler (a plain `precision="16-mixed"` silently becomes bf16 on CPU)."""
import copy
import functools
import warnings

import pytest
import torch
from pytorch_lightning.plugins.precision import MixedPrecision

from callbacks import StopAt
from conftest import TINY_SAGAN, digits, make_trainer, relative_output_difference
from lit_gans import SAGAN, BigGAN, BigGANDeep, ProGAN


def fp16_scaler(init_scale: float = 2.0**16) -> MixedPrecision:
    return MixedPrecision("16-mixed", "cpu", scaler=torch.amp.GradScaler("cpu", init_scale=init_scale))


class RecordingSAGAN(SAGAN):
    """Records, for every optimizer step, the gradient norm the optimizer is about to apply (after clipping)."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.applied_norms: list[float] = []

    def on_before_optimizer_step(self, optimizer) -> None:
        super().on_before_optimizer_step(optimizer)
        grads = [p.grad for group in optimizer.param_groups for p in group["params"] if p.grad is not None]
        if grads:
            self.applied_norms.append(float(torch.nn.utils.get_total_norm(grads)))


def parameters(model) -> dict[str, torch.Tensor]:
    return {name: p.detach().clone() for name, p in model.named_parameters()}


def test_fp16_overflow_steps_are_skipped_by_the_scaler_counted_and_quiet():
    model = SAGAN(**TINY_SAGAN)
    before = parameters(model)
    trainer = make_trainer(StopAt(g_steps=12), plugins=[fp16_scaler(init_scale=2.0**24)])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        trainer.fit(model, digits())
    scaler = trainer.precision_plugin.scaler
    assert 0 < model.skipped_steps < 24 and scaler.get_scale() < 2.0**24  # overflows halved the scale
    assert not [w for w in caught if "non-finite" in str(w.message)]  # routine for a GradScaler: no warning
    after = parameters(model)
    assert all(torch.isfinite(p).all() for p in after.values())
    assert any(not torch.equal(before[n], after[n]) for n in before if n.startswith("discriminator."))


TINY_MODELS = {
    "SAGAN": (SAGAN, TINY_SAGAN, 16),
    "BigGAN": (BigGAN, dict(resolution=16, z_dim=18, ch=8, num_classes=10, shared_dim=8, attn_res=8, n_dis=1), 16),
    "BigGANDeep": (BigGANDeep, dict(resolution=32, z_dim=8, ch=8, num_classes=10, shared_dim=8, attn_res=16, n_dis=1), 32),
    "ProGAN": (ProGAN, dict(resolution=8, z_dim=16, fmap_base=64, fmap_max=16), 8),
}


@pytest.mark.parametrize("name", sorted(TINY_MODELS))
@pytest.mark.parametrize("precision", ["bf16-mixed", "16-mixed-cpu-scaler"])
def test_every_model_trains_under_mixed_precision(name, precision):
    cls, kwargs, resolution = TINY_MODELS[name]
    model = cls(**kwargs)
    before = parameters(model)
    options = {"plugins": [fp16_scaler(init_scale=2.0**8)]} if precision != "bf16-mixed" else {"precision": precision}
    trainer = make_trainer(StopAt(g_steps=3), **options)
    trainer.fit(model, digits(resolution=resolution))
    after = parameters(model)
    assert model.g_steps == 3 and all(torch.isfinite(p).all() for p in after.values())
    for network in ("generator.", "discriminator."):
        assert any(not torch.equal(before[n], after[n]) for n in before if n.startswith(network)), network
    if "plugins" in options:
        assert trainer.precision_plugin.scaler is options["plugins"][0].scaler  # the GradScaler path ran


def test_consecutive_scaler_skips_stop_the_run():
    model = SAGAN(**TINY_SAGAN, max_nonfinite=2)
    with pytest.raises(FloatingPointError, match="2 consecutive optimizer steps were skipped"):
        make_trainer(StopAt(g_steps=12), plugins=[fp16_scaler(init_scale=2.0**60)]).fit(model, digits())


@pytest.mark.parametrize("precision", ["32-true", "16-mixed-cpu-scaler"])
def test_grad_clip_acts_on_the_unscaled_gradient(precision):
    plugins = [fp16_scaler(init_scale=2.0**8)] if precision == "16-mixed-cpu-scaler" else None
    model = RecordingSAGAN(**TINY_SAGAN, grad_clip=0.5)
    trainer = make_trainer(StopAt(g_steps=4), plugins=plugins)
    trainer.fit(model, digits())
    applied = model.applied_norms
    assert applied and max(applied) <= 0.5 * (1 + 1e-3)
    assert max(applied) > 0.49  # clipped to 0.5 in true units; clipping scaled gradients would leave ~0.5 / scale
    assert float(trainer.callback_metrics["grad_norm/d"]) > 0.5  # the logged norm is the one before clipping


class NaNGradient(torch.autograd.Function):
    """Identity forward, NaN gradient: a finite loss whose gradient is not finite."""

    @staticmethod
    def forward(ctx, x):
        return x.clone()

    @staticmethod
    def backward(ctx, grad):
        return torch.full_like(grad, float("nan"))


def test_a_non_finite_gradient_with_a_finite_loss_skips_the_step():
    model = SAGAN(**TINY_SAGAN, max_nonfinite=100)
    forward = model.discriminator.forward
    model.discriminator.forward = lambda x, y=None: NaNGradient.apply(forward(x, y))
    before = parameters(model)
    with pytest.warns(UserWarning, match="non-finite discriminator gradient"):
        make_trainer(StopAt(g_steps=3)).fit(model, digits())
    after = parameters(model)
    assert model.skipped_steps == 6  # every D step, and every G step (its gradient passes through D)
    assert all(torch.equal(before[n], after[n]) for n in before)  # nothing non-finite reached the weights
    opt_d = model.trainer.optimizers[1]
    assert not opt_d.state  # Adam never stepped: no moments were updated


def test_gradient_penalty_under_the_fp16_scaler_matches_fp32():
    penalties = {}
    for precision in ("32-true", "16-mixed"):
        torch.manual_seed(0)
        model = ProGAN(resolution=8, z_dim=16, fmap_base=64, fmap_max=16)
        plugins = [fp16_scaler(init_scale=2.0**8)] if precision == "16-mixed" else None
        trainer = make_trainer(StopAt(g_steps=1), plugins=plugins)
        trainer.fit(model, digits(resolution=8))
        penalties[precision] = float(trainer.callback_metrics["loss/d_penalty"])
    assert penalties["32-true"] > 0.1  # an active penalty at initialisation
    assert penalties["16-mixed"] == pytest.approx(penalties["32-true"], rel=0.02)  # unscaled: not ~256x off


def test_a_penalty_that_overflows_in_fp16_lowers_the_scale_until_training_proceeds():
    model = ProGAN(resolution=8, z_dim=16, fmap_base=64, fmap_max=16)
    trainer = make_trainer(StopAt(g_steps=12), plugins=[fp16_scaler(init_scale=2.0**30)])
    trainer.fit(model, digits(resolution=8))
    assert model.skipped_steps > 0 and trainer.precision_plugin.scaler.get_scale() < 2.0**30
    assert torch.isfinite(trainer.callback_metrics["loss/d_penalty"])  # the last steps ran with a working scale
    assert all(torch.isfinite(p).all() for p in model.parameters())


@pytest.fixture
def fast_compile(monkeypatch):
    """`nn.Module.compile` with the aot_eager backend: the same graph capture and autograd, no C++ build."""
    monkeypatch.setattr(torch.nn.Module, "compile",
                        functools.partialmethod(torch.nn.Module.compile, backend="aot_eager"))
    yield
    torch._dynamo.reset()


@pytest.mark.parametrize("switch", ["fused_adam", "channels_last", "compile"])
def test_speed_switches_train_like_the_default(switch, request):
    if switch == "compile":
        request.getfixturevalue("fast_compile")
    states = {}
    for options in ({}, {switch: True}):
        torch.manual_seed(0)
        model = SAGAN(**TINY_SAGAN, **options)
        initial = copy.deepcopy(model.state_dict())
        make_trainer(StopAt(g_steps=2)).fit(model, digits())
        states[bool(options)] = initial, copy.deepcopy(model.state_dict())
    (initial, default), (initial_switched, switched) = states[False], states[True]
    assert all(torch.equal(initial[n], initial_switched[n]) for n in initial)
    assert set(default) == set(switched)  # parameter names (and so checkpoints) are unchanged
    differences = relative_output_difference(SAGAN(**TINY_SAGAN), initial, default, switched)
    assert max(differences.values()) < 1e-3, differences
    if switch == "channels_last":
        conv = model.discriminator.blocks[0].conv1.parametrizations.weight.original
        assert conv.is_contiguous(memory_format=torch.channels_last)
    if switch == "compile":
        assert model.generator._compiled_call_impl is not None and model.discriminator._compiled_call_impl is not None
    if switch == "fused_adam":
        assert all(group["fused"] for opt in model.trainer.optimizers for group in opt.param_groups)


def test_compile_leaves_a_spectrally_normalised_batch_dependent_d_eager(fast_compile):
    from lit_gans.gan import compilable_discriminator

    model = SAGAN(**TINY_SAGAN, mbstd_group_size=4, mbstd_style="class", compile=True)
    assert not compilable_discriminator(model.discriminator)
    assert compilable_discriminator(SAGAN(**TINY_SAGAN).discriminator)  # one forward of cat([reals, fakes])
    assert compilable_discriminator(ProGAN(resolution=8, fmap_base=64, fmap_max=16).discriminator)  # no SN
    with pytest.warns(UserWarning, match="D stays eager, G is compiled"):
        make_trainer(StopAt(g_steps=2)).fit(model, digits())
    assert model.g_steps == 2 and model.generator._compiled_call_impl is not None
    assert model.discriminator._compiled_call_impl is None


def test_compiled_progan_keeps_the_gradient_penalty_eager(fast_compile):
    model = ProGAN(resolution=8, z_dim=16, fmap_base=64, fmap_max=16, compile=True)
    trainer = make_trainer(StopAt(g_steps=2))
    trainer.fit(model, digits(resolution=8))
    assert model.g_steps == 2 and torch.isfinite(trainer.callback_metrics["loss/d_penalty"])


def test_spectral_norm_power_iteration_runs_in_float32_under_autocast(monkeypatch):
    from lit_gans.layers.spectral_norm import apply_spectral_norm

    layer = apply_spectral_norm(torch.nn.Linear(16, 8))
    autocast_during_mv = []
    original_mv = torch.mv

    def spy(*args, **kwargs):
        autocast_during_mv.append(torch.is_autocast_enabled("cpu"))
        return original_mv(*args, **kwargs)

    monkeypatch.setattr(torch, "mv", spy)  # CUDA autocast would run mv in bf16; this sees whether autocast is on
    with torch.autocast("cpu", dtype=torch.bfloat16):
        weight = layer.weight
    assert autocast_during_mv and not any(autocast_during_mv)
    assert weight.dtype == torch.float32 and layer.parametrizations.weight[0]._u.dtype == torch.float32


def test_batchnorm_statistics_accumulate_in_float32_under_bf16_autocast():
    bn = torch.nn.BatchNorm2d(4, momentum=1.0)  # running stats = this batch's statistics
    x = (1 + 0.01 * torch.randn(64, 4, 8, 8)).to(torch.bfloat16)  # a bf16 activation, 4096 values per channel
    with torch.autocast("cpu", dtype=torch.bfloat16):
        bn(x)
    expected = x.double().mean(dim=(0, 2, 3))  # a bf16 accumulator would stall at 256 / 4096 = 0.0625
    assert bn.running_mean.dtype == torch.float32
    assert torch.allclose(bn.running_mean.double(), expected, rtol=1e-5)
