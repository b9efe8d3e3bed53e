import pytest
import torch

from callbacks import EMA, StopAt
from conftest import digits, make_trainer
from lit_gans import SAGAN


def test_ema_arithmetic_averages_parameters_and_copies_buffers(tiny_sagan_kwargs):
    model = SAGAN(**tiny_sagan_kwargs)
    ema = EMA(decay=0.9, start=0)
    ema.setup(None, model, "fit")
    old = {k: v.clone() for k, v in model.generator_ema.state_dict().items()}
    with torch.no_grad():
        for p in model.generator.parameters():
            p.add_(1.0)
        model.generator.out_bn.running_mean.fill_(3.0)
    model.g_steps = 1
    ema.update(model)
    live = model.generator.state_dict()
    params = {name for name, _ in model.generator.named_parameters()}
    for name, value in model.generator_ema.state_dict().items():
        if name in params:
            assert torch.allclose(value, 0.9 * old[name] + 0.1 * live[name], atol=1e-6), name
        else:
            assert torch.equal(value, live[name]), name  # BN statistics, spectral-norm vectors
    assert torch.equal(model.generator_ema.out_bn.running_mean, torch.full_like(old["out_bn.running_mean"], 3.0))


def test_ema_copies_before_start_and_half_life_sets_beta():
    ema = EMA(decay=0.99, start=10)
    assert ema.beta(g_steps=10, images_seen=1000) == 0.0
    assert ema.beta(g_steps=11, images_seen=1000) == 0.99
    halflife = EMA(half_life_kimg=2.0)
    halflife.updated_at_images = 1000
    assert halflife.beta(g_steps=5, images_seen=3000) == pytest.approx(0.5)
    rampup = EMA(half_life_kimg=10.0, rampup=0.5)
    rampup.updated_at_images = 0
    assert rampup.beta(g_steps=5, images_seen=1000) == pytest.approx(0.5 ** (1000 / 500))


def test_ema_tracks_generator_only_and_updates_once_per_generator_step(tiny_sagan_kwargs):
    model = SAGAN(**tiny_sagan_kwargs, n_dis=2)
    ema = EMA(decay=0.5, start=0)
    updates = []
    original_update = ema.update
    ema.update = lambda m: (updates.append(m.g_steps), original_update(m))
    make_trainer(ema, StopAt(g_steps=3)).fit(model, digits())
    assert updates == [1, 2, 3]
    assert all(not p.requires_grad for p in model.generator_ema.parameters())
    assert not any(name.startswith("discriminator") for name, _ in model.generator_ema.named_parameters())
    assert any(not torch.equal(a, b) for a, b in zip(model.generator_ema.parameters(), model.generator.parameters()))


def test_sampling_uses_the_ema_generator(tiny_sagan_kwargs):
    model = SAGAN(**tiny_sagan_kwargs)
    with torch.no_grad():
        for p in model.generator_ema.parameters():
            p.add_(0.5)
    assert not torch.equal(model.sample(4, y=1, seed=0), model.sample(4, y=1, seed=0, use_ema=False))
