"""Where each network's BatchNorm gains and biases start, as its reference starts them.

- SN-GAN (pfnet-research/sngan_projection, Chainer): `BatchNormalization` and
  `CategoricalConditionalBatchNormalization` start at gamma 1, beta 0, conditional or not.
- BigGAN, SAGAN (BigGAN-PyTorch): the class-conditional `ccbn` gain and bias layers are re-initialised by
  `init_weights` with every other Linear and Embedding (gain 1 + W y); unconditional BatchNorms are its `bn`, whose
  gain and bias Parameters start at 1 and 0, and `init_weights` does not touch them.
"""
import pytest
import torch

from lit_gans import SAGAN, SNGAN
from lit_gans.layers import ConditionalBatchNorm2d


def batchnorms(network) -> list[ConditionalBatchNorm2d]:
    layers = [m for m in network.modules() if isinstance(m, ConditionalBatchNorm2d)]
    assert layers
    return layers


def starts_plain(layer: ConditionalBatchNorm2d) -> bool:
    """Gain 1 + 0 and bias 0 for every class."""
    return bool(torch.all(layer.gain.weight == 0) and torch.all(layer.bias.weight == 0))


@pytest.mark.parametrize("num_classes", [0, 10])
def test_sngan_batchnorms_start_at_gain_one_and_bias_zero(num_classes):
    model = SNGAN(resolution=32, num_classes=num_classes)
    assert all(starts_plain(layer) for layer in batchnorms(model.generator))
    if num_classes:  # D's projection embedding stays Glorot-uniform, as the reference's SNEmbedID
        embedding = [m for m in model.discriminator.modules() if isinstance(m, torch.nn.Embedding)]
        assert embedding and all(float(e.weight.abs().max()) > 0 for e in embedding)


def test_sagan_unconditional_batchnorms_start_plain_and_conditional_ones_as_biggan_pytorch():
    unconditional = SAGAN(resolution=32, z_dim=16, ch=8, num_classes=0, attn_res=16)
    assert all(starts_plain(layer) for layer in batchnorms(unconditional.generator))
    conditional = SAGAN(resolution=32, z_dim=16, ch=8, num_classes=10, attn_res=16)
    tables = batchnorms(conditional.generator)
    assert not any(starts_plain(layer) for layer in tables)  # BigGAN-PyTorch's init_weights reaches ccbn


def test_training_latents_are_standard_normal():
    """Every reference draws z ~ N(0, I) for training (sngan_projection `sample_continuous`, BigGAN-PyTorch
    `prepare_z_y`, StudioGAN `sample_normal`)."""
    from scipy import stats

    from lit_gans.latents import sample_latents

    z = sample_latents(4000, 64, generator=torch.Generator().manual_seed(0)).flatten().numpy()
    assert stats.kstest(z, "norm").pvalue > 0.01
    assert stats.kstest(z * 1.1, "norm").pvalue < 1e-6  # the test tells a 10% wider spread apart


def test_sngan_weights_are_glorot_uniform_with_gain_sqrt2_in_residual_convolutions_and_biases_zero():
    """The reference's Chainer initialisers (gen_models/resblocks.py, dis_models/resblocks.py): GlorotUniform(sqrt 2)
    in each block's two 3x3 convolutions, GlorotUniform(1) in shortcuts, linear layers and the output convolution."""
    import math

    from lit_gans.networks.sngan import DBlock, GBlock

    torch.manual_seed(0)
    model = SNGAN(resolution=32, num_classes=0)
    residual = {id(m) for block in model.modules() if isinstance(block, (GBlock, DBlock))
                for m in (block.conv1, block.conv2)}
    checked = {1.0: 0, math.sqrt(2): 0}
    for network in (model.generator, model.discriminator):
        for layer in network.modules():
            if not isinstance(layer, (torch.nn.Conv2d, torch.nn.Linear)):
                continue
            parametrized = getattr(layer, "parametrizations", None)
            weight = (parametrized.weight.original if parametrized is not None else layer.weight).detach()
            fan_in, fan_out = weight.shape[1] * weight[0, 0].numel(), weight.shape[0] * weight[0, 0].numel()
            gain = math.sqrt(2) if id(layer) in residual else 1.0
            bound = gain * math.sqrt(6 / (fan_in + fan_out))
            assert float(weight.abs().max()) <= bound * (1 + 1e-6)
            if weight.numel() >= 10_000:  # uniform on [-bound, bound]: std bound / sqrt(3)
                assert abs(float(weight.std()) / (bound / math.sqrt(3)) - 1) < 0.03, (layer, gain)
                checked[gain] += 1
            if layer.bias is not None:
                assert torch.all(layer.bias == 0)
    assert checked[1.0] >= 2 and checked[math.sqrt(2)] >= 8
