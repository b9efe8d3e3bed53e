"""Weight initialisation schemes used by the SAGAN/BigGAN family (BigGAN-PyTorch `init_weights`)."""
import torch.nn as nn

INIT_SCHEMES = ("ortho", "xavier", "N02")


def init_weights(module: nn.Module, scheme: str) -> nn.Module:
    """Initialise the weight of every Conv2d, Linear and Embedding below `module`; biases keep their defaults.

    Must run before spectral norm is applied. Layers whose weight is already initialised on purpose (for example the
    zero-initialised gains of conditional BatchNorm) are not Conv2d/Linear/Embedding instances and are left alone.
    """
    if scheme not in INIT_SCHEMES:
        raise ValueError(f"unknown init scheme {scheme!r}; choose one of {INIT_SCHEMES}")
    for layer in module.modules():
        if isinstance(layer, (nn.Conv2d, nn.Linear, nn.Embedding)):
            if scheme == "ortho":
                nn.init.orthogonal_(layer.weight)
            elif scheme == "xavier":
                nn.init.xavier_uniform_(layer.weight)
            else:
                nn.init.normal_(layer.weight, 0.0, 0.02)
    return module
