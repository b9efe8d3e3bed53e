"""BigGAN and BigGAN-deep: networks, conditioning, orthogonal regularisation, SyncBN conversion and training."""
import pytest
import torch
import torch.nn as nn
from scipy import stats

from callbacks import SingularValues, StopAt
from conftest import digits, make_trainer
from lit_gans import BigGAN, BigGANDeep
from lit_gans.latents import truncated_normal
from lit_gans.layers import ConditionalBatchNorm2d, spectral_norm_sigmas
from lit_gans.networks import biggan, biggan_deep
from lit_gans.networks.biggan import BigGANDiscriminator, BigGANGenerator
from lit_gans.networks.biggan_deep import BigGANDeepDiscriminator, BigGANDeepGenerator
from lit_gans.objective.orthogonal import add_ortho_gradient, ortho_penalty

TINY_BIGGAN = dict(resolution=16, z_dim=18, ch=8, num_classes=10, shared_dim=8, attn_res=8)
TINY_DEEP = dict(resolution=32, z_dim=8, ch=8, num_classes=10, shared_dim=8, attn_res=16)


def count(module):
    return sum(p.numel() for p in module.parameters() if p.requires_grad)


def networks(kind, resolution, num_classes):
    attn_res = min(resolution // 2, 16)  # attention memory grows with (H W)^2: keep it small on CPU
    if kind == "biggan":
        blocks = len(biggan.G_CHANNELS[resolution][0])
        G = BigGANGenerator(resolution, z_dim=4 * (blocks + 1), ch=8, num_classes=num_classes, shared_dim=8,
                            attn_res=attn_res)
        D = BigGANDiscriminator(resolution, ch=8, num_classes=num_classes, attn_res=attn_res)
    else:
        G = BigGANDeepGenerator(resolution, z_dim=8, ch=8, num_classes=num_classes, shared_dim=8, attn_res=attn_res)
        D = BigGANDeepDiscriminator(resolution, ch=8, num_classes=num_classes, attn_res=attn_res)
    return G, D


@pytest.mark.parametrize("kind,resolution", [("biggan", r) for r in biggan.RESOLUTIONS]
                         + [("deep", r) for r in biggan_deep.RESOLUTIONS])
@pytest.mark.parametrize("num_classes", [0, 5])
def test_forward_backward_shapes_at_every_resolution(kind, resolution, num_classes):
    G, D = networks(kind, resolution, num_classes)
    y = torch.tensor([0, 4]) if num_classes else None
    images = G(torch.randn(2, G.z_dim), y)
    assert images.shape == (2, 3, resolution, resolution)
    assert images.abs().max() <= 1
    logits = D(images, y)
    assert logits.shape == (2,)
    logits.sum().backward()
    missing = [n for n, p in [*G.named_parameters(), *D.named_parameters()] if p.grad is None and p.ndim > 1]
    assert not missing
    assert any(type(m).__name__ == "SelfAttention" for m in G.modules())


@pytest.mark.parametrize("build,expected", [
    # reference/biggan.md §3: BigGAN-PyTorch classes, 1000 classes unless noted
    (lambda: (BigGANGenerator(128, 120, 96, attn_res=0), BigGANDiscriminator(128, 96, attn_res=0)), (70_387_907, 87_970_849)),
    (lambda: (BigGANGenerator(64, 120, 96, attn_res=32), BigGANDiscriminator(64, 96, attn_res=32)), (70_377_348, 45_511_970)),
    (lambda: (BigGANGenerator(32, 128, 64, 10, shared_dim=0, hier=False, attn_res=0), BigGANDiscriminator(32, 64, 10, 0)),
     (4_304_387, 4_207_361)),
    (lambda: (BigGANDeepGenerator(32, 128, 64, 10, attn_res=0), BigGANDeepDiscriminator(32, 64, 10, attn_res=0)),
     (3_079_299, 651_649)),
], ids=["biggan128-no-attention", "biggan64", "biggan-cifar", "deep32"])
def test_parameter_counts_match_reference_implementation(build, expected):
    G, D = build()
    assert (count(G), count(D)) == expected


def test_biggan_128_breakdown_matches_reference():
    G = BigGANGenerator()
    parts = {name: count(child) for name, child in G.named_children()}
    assert parts["linear"] == 516_096 and parts["shared"] == 128_000
    assert count(G.blocks[0]) == 45_740_544 and count(G.blocks[4]) == 46_081  # block 0; attention at 64 px
    assert parts["out_bn"] + parts["out_conv"] == 2_787
    assert sum(count(m) for m in G.modules() if isinstance(m, ConditionalBatchNorm2d)) == 2_188_032


def test_hierarchical_latent_conditions_each_block_with_its_chunk():
    G = BigGANGenerator(**TINY_BIGGAN).eval()
    z, y = torch.randn(3, 18), torch.tensor([1, 2, 3])
    z0, conditions = G.conditions(z, y)
    assert torch.equal(z0, z[:, :6])
    assert len(conditions) == 2 and conditions[1].shape == (3, 8 + 6)
    assert torch.equal(conditions[1][:, :8], G.shared(y)) and torch.equal(conditions[1][:, 8:], z[:, 12:])
    # a class embedding can replace the label (class interpolation)
    assert torch.allclose(G(z, G.shared(y)), G(z, y))
    changed = z.clone()
    changed[:, 12:] += 1  # only the last block's chunk
    assert not torch.allclose(G(changed, y), G(z, y))


def test_latent_and_embedding_errors_are_clear():
    with pytest.raises(ValueError, match="z_dim 20 is not divisible by 3"):
        BigGANGenerator(16, z_dim=20, ch=8, num_classes=10)
    with pytest.raises(ValueError, match="needs a shared class embedding"):
        BigGANGenerator(16, z_dim=18, ch=8, num_classes=10, shared_dim=0, hier=True)
    with pytest.raises(ValueError, match=r"BigGAN-deep supports resolutions \(32, 64, 128, 256, 512\)"):
        BigGANDeepGenerator(16)


def test_shared_embedding_is_not_spectrally_normalised_but_everything_else_is():
    G, D = BigGANGenerator(**TINY_BIGGAN), BigGANDiscriminator(16, 8, 10, 8)
    assert not hasattr(G.shared, "parametrizations")
    for network in (G, D):
        for name, module in network.named_modules():
            if isinstance(module, (nn.Conv2d, nn.Linear)) or (network is D and isinstance(module, nn.Embedding)):
                assert hasattr(module, "parametrizations"), name
    assert isinstance(G.blocks[0].norm1.gain, nn.Linear) and G.blocks[0].norm1.gain.in_features == 8 + 6


def test_conditional_batchnorm_from_a_vector_is_centred_at_one():
    cbn = ConditionalBatchNorm2d(4, cond_dim=3)
    x, c = torch.randn(5, 4, 2, 2), torch.randn(5, 3)
    with torch.no_grad():
        cbn.gain.weight.copy_(torch.randn(4, 3))
        cbn.bias.weight.copy_(torch.randn(4, 3))
    expected = nn.functional.batch_norm(x, None, None, training=True, eps=cbn.bn.eps)
    expected = expected * (1 + c @ cbn.gain.weight.T)[:, :, None, None] + (c @ cbn.bias.weight.T)[:, :, None, None]
    assert torch.allclose(cbn(x, c), expected, atol=1e-5)


def test_deep_blocks_drop_and_concatenate_skip_channels():
    from lit_gans.layers import DeepDBlock, DeepGBlock

    g = DeepGBlock(16, 8, cond_dim=4, upsample=True)
    for conv in (g.conv1, g.conv2, g.conv3, g.conv4):
        nn.init.zeros_(conv.weight)
        nn.init.zeros_(conv.bias)
    x = torch.randn(2, 16, 4, 4)
    assert torch.equal(g(x, torch.randn(2, 4)), nn.functional.interpolate(x[:, :8], scale_factor=2))
    d = DeepDBlock(8, 24, downsample=True)
    assert d.conv1.out_channels == 6 and d.shortcut.out_channels == 16
    nn.init.zeros_(d.conv4.weight)
    nn.init.zeros_(d.conv4.bias)
    out = d(x[:, :8])
    assert out.shape == (2, 24, 2, 2)
    assert torch.allclose(out[:, :8], nn.functional.avg_pool2d(x[:, :8], 2))


def test_truncated_normal_bounds_and_distribution():
    generator = torch.Generator().manual_seed(0)
    samples = truncated_normal((20_000,), 0.5, generator)
    assert samples.abs().max() <= 0.5
    # a true truncated normal, not a rescaled normal: Kolmogorov-Smirnov against scipy's truncnorm(-0.5, 0.5)
    assert stats.kstest(samples.numpy(), stats.truncnorm(-0.5, 0.5).cdf).pvalue > 0.01
    assert stats.kstest((torch.randn(20_000, generator=generator) * 0.25).numpy(),
                        stats.truncnorm(-0.5, 0.5).cdf).pvalue < 1e-6


def test_ortho_penalty_and_gradient_match_autograd():
    torch.manual_seed(0)
    weights = [torch.randn(6, 3, 3, 3, requires_grad=True), torch.randn(5, 7, requires_grad=True)]
    strength = 0.3
    reference = sum(strength * ((w.flatten(1) @ w.flatten(1).T) * (1 - torch.eye(w.shape[0]))).square().sum()
                    for w in weights)
    expected = torch.autograd.grad(reference, weights)
    for w in weights:
        w.grad = torch.zeros_like(w)
    value = add_ortho_gradient(weights, strength)
    assert torch.allclose(value, reference.detach())
    assert torch.allclose(strength * sum(ortho_penalty(w.detach()) for w in weights), value)
    for w, g in zip(weights, expected):  # float32 sums in another order: tolerance relative to the largest entry
        assert torch.allclose(w.grad, g, rtol=1e-4, atol=1e-5 * g.abs().max().item())
    q, _ = torch.linalg.qr(torch.randn(4, 4))
    assert ortho_penalty(q * torch.tensor([1.0, 2.0, 3.0, 4.0])[:, None]) < 1e-10  # only the off-diagonal counts


class OrthoProbe(BigGAN):
    """Records G's weights and gradients right before and after the orthogonal regularisation hook."""

    def on_before_optimizer_step(self, optimizer):
        before = {n: p.grad.clone() for n, p in self.generator.named_parameters() if p.grad is not None}
        super().on_before_optimizer_step(optimizer)
        if optimizer is self.optimizers(use_pl_optimizer=False)[0]:
            after = {n: p.grad.clone() for n, p in self.generator.named_parameters() if p.grad is not None}
            weights = {n: p.detach().clone() for n, p in self.generator.named_parameters()}
            self.probe = before, after, weights


def test_ortho_reg_reaches_the_generator_step_and_skips_the_shared_embedding():
    strength = 0.01
    model = OrthoProbe(**TINY_BIGGAN, ortho_reg=strength)
    trainer = make_trainer(StopAt(g_steps=1))
    trainer.fit(model, digits())
    before, after, weights = model.probe
    for name, weight in weights.items():
        added = after[name] - before[name]
        if weight.ndim < 2 or name.startswith("shared."):
            assert torch.equal(added, torch.zeros_like(added)), name  # biases, gains and the shared embedding
            continue
        w = weight.clone().requires_grad_(True)
        expected, = torch.autograd.grad(strength * ortho_penalty(w), w)
        assert torch.allclose(added, expected, rtol=1e-4, atol=1e-7), name
    assert trainer.callback_metrics["loss/ortho"] > 0


def test_biggan_and_deep_fit_on_digits_with_accumulation_and_singular_values():
    for model, resolution in ((BigGAN(**TINY_BIGGAN, accumulate=2, n_dis=2, ortho_reg=1e-4), 16),
                              (BigGANDeep(**TINY_DEEP, accumulate=2, n_dis=1), 32)):
        sv = SingularValues(every_n_g_steps=1)
        trainer = make_trainer(StopAt(g_steps=2), sv)
        trainer.fit(model, digits(resolution=resolution))
        assert model.g_steps == 2 and model.d_steps == 2 * model.n_dis and model.d_micro == 2 * model.d_steps
        metrics = trainer.callback_metrics
        sigmas = spectral_norm_sigmas(model.generator)
        name = next(iter(sigmas))
        assert metrics[f"sv/G/{name}"].item() == pytest.approx(float(sigmas[name]), rel=1e-5)
        assert metrics["sv/D_max"].item() == pytest.approx(max(map(float, spectral_norm_sigmas(model.discriminator).values())), rel=1e-5)
        assert torch.isfinite(metrics["loss/g"])
        assert ("loss/ortho" in metrics) == (model.ortho_reg > 0)


def test_biggan_trains_under_bf16_autocast():
    model = BigGAN(**TINY_BIGGAN, ortho_reg=1e-4)
    trainer = make_trainer(StopAt(g_steps=2), precision="bf16-mixed")
    trainer.fit(model, digits())
    assert model.g_steps == 2 and model.skipped_steps == 0
    assert all(p.dtype == torch.float32 for p in model.parameters())  # fp32 master weights
    assert all(torch.isfinite(p).all() for p in model.parameters())


def test_singular_values_estimate_the_top_singular_value():
    D = BigGANDiscriminator(16, 8, 10, 8, init="xavier")
    for _ in range(50):  # power iterations run in training-mode forwards
        D(torch.randn(4, 3, 16, 16), torch.randint(10, (4,)))
    for name, sigma in spectral_norm_sigmas(D).items():
        layer = D.get_submodule(name)
        weight = layer.parametrizations.weight.original.detach().flatten(1)
        assert sigma.item() == pytest.approx(torch.linalg.matrix_norm(weight, 2).item(), rel=2e-2), name


def test_conditional_batchnorms_convert_to_sync_batchnorm():
    """Lightning's sync_batchnorm applies TorchSyncBatchNorm to the whole module: every CBN must be covered."""
    from pytorch_lightning.plugins import TorchSyncBatchNorm

    for model in (BigGAN(**TINY_BIGGAN), BigGANDeep(**TINY_DEEP)):
        norms = [m for m in model.generator.modules() if isinstance(m, ConditionalBatchNorm2d)]
        expected_eps = norms[0].bn.eps
        z, y = torch.randn(4, model.z_dim), torch.tensor([0, 1, 2, 3])
        model.generator.eval()
        before = model.generator(z, y)
        converted = TorchSyncBatchNorm().apply(model)
        norms = [m for m in converted.generator.modules() if isinstance(m, ConditionalBatchNorm2d)]
        assert norms and all(isinstance(m.bn, nn.SyncBatchNorm) and m.bn.eps == expected_eps for m in norms)
        assert not any(type(m) is nn.BatchNorm2d for m in converted.modules())
        assert torch.allclose(converted.generator(z, y), before, atol=1e-6)


def test_standing_stats_are_the_average_over_batches():
    from lit_gans.standing_stats import accumulate_standing_stats

    network = nn.Sequential(nn.Conv2d(3, 4, 1), nn.BatchNorm2d(4, momentum=0.1))
    batches = [torch.randn(8, 3, 5, 5) * (i + 1) + i for i in range(3)]
    accumulate_standing_stats(network, lambda i: (batches[i],), num_batches=3)
    with torch.no_grad():
        features = [network[0](x) for x in batches]
    means = torch.stack([f.mean(dim=(0, 2, 3)) for f in features]).mean(0)
    variances = torch.stack([f.transpose(0, 1).flatten(1).var(dim=1) for f in features]).mean(0)
    assert torch.allclose(network[1].running_mean, means, atol=1e-5)
    assert torch.allclose(network[1].running_var, variances, rtol=1e-4)
    assert network[1].momentum == 0.1 and not network.training


def test_sampling_with_standing_stats_leaves_the_generator_untouched():
    model = BigGAN(**TINY_BIGGAN)
    G = model.generator
    state = {k: v.clone() for k, v in G.state_dict().items()}
    copy = model.standing_stats_generator(G, num_batches=3, batch_size=16, truncation=1.0, seed=5)
    assert all(torch.equal(v, G.state_dict()[k]) for k, v in state.items())
    assert not any(m.training for m in copy.modules())
    assert any("running_mean" in k and not torch.equal(v, copy.state_dict()[k]) for k, v in state.items())
    sn_vectors = [k for k in state if k.endswith("_u") or k.endswith("_v")]
    assert sn_vectors and all(torch.equal(state[k], copy.state_dict()[k]) for k in sn_vectors)  # no power iteration
    plain = model.sample(4, y=[1, 2, 3, 4], seed=0)
    standing = model.sample(4, y=[1, 2, 3, 4], seed=0, standing_stats=2, batch_size=8)
    assert standing.shape == plain.shape == (4, 3, 16, 16) and not torch.allclose(standing, plain)
    assert all(torch.equal(v, G.state_dict()[k]) for k, v in state.items())
