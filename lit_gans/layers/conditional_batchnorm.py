"""Class-conditional BatchNorm (de Vries et al. 2017; Miyato & Koyama 2018), as used by SAGAN."""
import torch
import torch.nn as nn


class ClassEmbedding(nn.Embedding):
    """Per-class gain or bias table: its own type, so `init_weights` leaves the zero initialisation alone."""


class ConditionalBatchNorm2d(nn.Module):
    """BatchNorm without affine parameters, then a per-class gain centred at 1 and a per-class bias.

        out = BN(x) * (1 + gain[y]) + bias[y]        x: (N, C, H, W), y: (N,) int64

    Gains and biases start at zero, so at initialisation the layer is plain BatchNorm with gain 1. With
    `num_classes=0` there is one gain and one bias vector (an ordinary affine BatchNorm) and `y` is ignored.
    """

    def __init__(self, num_features: int, num_classes: int = 0, eps: float = 1e-5, momentum: float = 0.1):
        super().__init__()
        self.bn = nn.BatchNorm2d(num_features, eps=eps, momentum=momentum, affine=False)
        self.gain = ClassEmbedding(max(num_classes, 1), num_features, _weight=torch.zeros(max(num_classes, 1), num_features))
        self.bias = ClassEmbedding(max(num_classes, 1), num_features, _weight=torch.zeros(max(num_classes, 1), num_features))
        self.num_classes = num_classes

    def forward(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        h = self.bn(x)
        if self.num_classes == 0:
            y = torch.zeros(x.shape[0], dtype=torch.long, device=x.device)
        gain = 1 + self.gain(y)[:, :, None, None]
        bias = self.bias(y)[:, :, None, None]
        return h * gain.to(h.dtype) + bias.to(h.dtype)
