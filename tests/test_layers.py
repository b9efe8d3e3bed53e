import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

from lit_gans.objective import adversarial_loss
from lit_gans.latents import seeded_generator, truncated_normal
from lit_gans.layers import ConditionalBatchNorm2d, DBlock, GBlock, SelfAttention, apply_spectral_norm, spectral_norm_layers


def top_singular_value(weight: torch.Tensor) -> float:
    return torch.linalg.matrix_norm(weight.flatten(1), ord=2).item()


def test_spectral_norm_brings_top_singular_value_to_one():
    torch.manual_seed(0)
    net = nn.Sequential(nn.Conv2d(8, 16, 3), nn.Linear(16, 32))
    for layer in net:
        nn.init.normal_(layer.weight)  # top singular values far above 1
    assert all(top_singular_value(layer.weight) > 5 for layer in net)
    apply_spectral_norm(net)
    net.train()
    for _ in range(20):  # power iteration runs once per training forward
        net[0](torch.randn(1, 8, 5, 5)), net[1](torch.randn(1, 16))
    for layer in net:
        assert abs(top_singular_value(layer.weight) - 1) < 1e-3
    assert len(list(spectral_norm_layers(net))) == 2


def test_spectral_norm_respects_layer_types():
    net = apply_spectral_norm(nn.Sequential(nn.Linear(4, 4), nn.Embedding(3, 4)), types=(nn.Linear,))
    assert [name for name, _ in spectral_norm_layers(net)] == ["0"]


def test_conditional_batchnorm_gain_starts_at_one():
    torch.manual_seed(0)
    cbn = ConditionalBatchNorm2d(6, num_classes=4)
    x, y = torch.randn(8, 6, 5, 5), torch.randint(4, (8,))
    expected = F.batch_norm(x, None, None, training=True, eps=cbn.bn.eps)
    assert torch.allclose(cbn(x, y), expected, atol=1e-5)
    assert torch.equal(cbn.gain.weight, torch.zeros(4, 6))


def test_conditional_batchnorm_applies_per_class_gain_and_bias():
    cbn = ConditionalBatchNorm2d(2, num_classes=3)
    with torch.no_grad():
        cbn.gain.weight[1] = torch.tensor([1.0, -0.5])
        cbn.bias.weight[1] = torch.tensor([0.25, 2.0])
    x = torch.randn(4, 2, 3, 3)
    y = torch.tensor([1, 1, 0, 2])
    normalised = F.batch_norm(x, None, None, training=True, eps=cbn.bn.eps)
    out = cbn(x, y)
    assert torch.allclose(out[0, 0], normalised[0, 0] * 2 + 0.25, atol=1e-5)
    assert torch.allclose(out[1, 1], normalised[1, 1] * 0.5 + 2.0, atol=1e-5)
    assert torch.allclose(out[2], normalised[2], atol=1e-5)


def test_unconditional_batchnorm_has_one_affine_pair():
    cbn = ConditionalBatchNorm2d(5, num_classes=0)
    assert sum(p.numel() for p in cbn.parameters()) == 10
    x = torch.randn(3, 5, 2, 2)
    assert cbn(x).shape == x.shape


def test_attention_gain_starts_at_zero_and_output_equals_input():
    attention = SelfAttention(16)
    assert attention.gamma.item() == 0
    x = torch.randn(2, 16, 8, 8)
    assert torch.equal(attention(x), x)
    with torch.no_grad():
        attention.gamma.fill_(1.0)
    assert not torch.allclose(attention(x), x)


def test_blocks_change_resolution_as_documented():
    y = torch.tensor([0, 1])
    assert GBlock(8, 4, num_classes=2)(torch.randn(2, 8, 4, 4), y).shape == (2, 4, 8, 8)
    assert DBlock(3, 8, downsample=True, preactivation=False)(torch.randn(2, 3, 8, 8)).shape == (2, 8, 4, 4)
    identity = DBlock(8, 8, downsample=False)
    assert identity.shortcut is None and identity(torch.randn(2, 8, 4, 4)).shape == (2, 8, 4, 4)


def test_hinge_loss_on_known_logits():
    real = torch.tensor([2.0, 0.5, -1.0])
    fake = torch.tensor([-2.0, 0.0, 1.0])
    assert adversarial_loss("hinge").d_real(real).item() == pytest.approx((0 + 0.5 + 2.0) / 3)
    assert adversarial_loss("hinge").d_fake(fake).item() == pytest.approx((0 + 1.0 + 2.0) / 3)
    assert adversarial_loss("hinge").g(fake).item() == pytest.approx((2.0 + 0 - 1.0) / 3)


def test_non_saturating_and_wgan_losses_on_known_logits():
    logits = torch.tensor([0.0, 2.0])
    assert torch.isclose(adversarial_loss("ns").d_real(logits), F.softplus(-logits).mean())
    assert torch.isclose(adversarial_loss("ns").d_fake(logits), (F.softplus(torch.tensor(0.0)) + F.softplus(torch.tensor(2.0))) / 2)
    assert adversarial_loss("wgan").d_real(logits).item() == -1.0
    assert adversarial_loss("wgan").d_fake(logits).item() == 1.0
    assert adversarial_loss("wgan").g(logits).item() == -1.0


def test_truncated_normal_stays_within_threshold_and_is_normal_inside():
    z = truncated_normal((200_000,), 0.5, seeded_generator(1))
    assert z.abs().max() <= 0.5
    # a standard normal restricted to [-0.5, 0.5] has std 0.2838 (closed form)
    assert abs(z.std().item() - 0.2838) < 0.005
    assert abs(z.mean().item()) < 0.005


def test_seeded_generator_streams_are_reproducible_and_distinct():
    a = torch.randn(4, generator=seeded_generator(0, 0, 1, 5))
    assert torch.equal(a, torch.randn(4, generator=seeded_generator(0, 0, 1, 5)))
    assert not torch.equal(a, torch.randn(4, generator=seeded_generator(0, 1, 1, 5)))  # another rank
