"""Weight initialisation schemes used by the SAGAN/BigGAN family (BigGAN-PyTorch `init_weights`)."""
import torch.nn as nn

from lit_gans.layers.conditional_batchnorm import ConditionalBatchNorm2d

INIT_SCHEMES = ("ortho", "xavier", "N02")


def batchnorm_tables(module: nn.Module, conditional: bool) -> set[int]:
    """The ids of the gain and bias layers of the ConditionalBatchNorm2d layers below `module`: of every one
    (`conditional` True), or only of the unconditional ones, which are ordinary affine BatchNorms."""
    return {id(table) for layer in module.modules() if isinstance(layer, ConditionalBatchNorm2d)
            if conditional or not (layer.num_classes or layer.cond_dim) for table in (layer.gain, layer.bias)}


def init_weights(module: nn.Module, scheme: str) -> nn.Module:
    """Initialise the weight of every Conv2d, Linear and Embedding below `module`; biases keep their defaults.

    Must run before spectral norm is applied. As BigGAN-PyTorch: the class-conditional BatchNorm gains and biases
    (its `ccbn`, a Linear or Embedding per gain and bias) are re-initialised with the rest, so they start near, not
    at, gain 1 and bias 0. Unconditional BatchNorms are BigGAN-PyTorch's `bn`, whose gain and bias Parameters start
    at 1 and 0: those tables are left at zero (gain 1 + 0).
    """
    if scheme not in INIT_SCHEMES:
        raise ValueError(f"unknown init scheme {scheme!r}; choose one of {INIT_SCHEMES}")
    plain_batchnorm = batchnorm_tables(module, conditional=False)
    for layer in module.modules():
        if isinstance(layer, (nn.Conv2d, nn.Linear, nn.Embedding)) and id(layer) not in plain_batchnorm:
            if scheme == "ortho":
                nn.init.orthogonal_(layer.weight)
            elif scheme == "xavier":
                nn.init.xavier_uniform_(layer.weight)
            else:
                nn.init.normal_(layer.weight, 0.0, 0.02)
    return module
