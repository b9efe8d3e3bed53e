"""Building blocks of the networks: spectral norm, conditional BatchNorm, self-attention, residual blocks,
equalized learning rate, pixel norm and minibatch standard deviation."""
from lit_gans.layers.conditional_batchnorm import ConditionalBatchNorm2d
from lit_gans.layers.deep_resblocks import DeepDBlock, DeepGBlock
from lit_gans.layers.equalized_lr import EqualizedConv2d, EqualizedLinear
from lit_gans.layers.init import init_weights
from lit_gans.layers.progan_ops import mbstd_batch_multiple, minibatch_stddev, pixel_norm
from lit_gans.layers.resblocks import DBlock, GBlock
from lit_gans.layers.self_attention import SelfAttention
from lit_gans.layers.spectral_norm import apply_spectral_norm, spectral_norm_layers, spectral_norm_sigmas

__all__ = [
    "ConditionalBatchNorm2d",
    "DBlock",
    "DeepDBlock",
    "DeepGBlock",
    "EqualizedConv2d",
    "EqualizedLinear",
    "GBlock",
    "SelfAttention",
    "apply_spectral_norm",
    "init_weights",
    "mbstd_batch_multiple",
    "minibatch_stddev",
    "pixel_norm",
    "spectral_norm_layers",
    "spectral_norm_sigmas",
]
