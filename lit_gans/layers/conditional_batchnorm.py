"""Conditional BatchNorm (de Vries et al. 2017; Miyato & Koyama 2018; BigGAN, Brock et al. 2019)."""
import torch
import torch.nn as nn


class ConditionalBatchNorm2d(nn.Module):
    """BatchNorm without affine parameters, then a conditional gain centred at 1 and a conditional bias.

        out = BN(x) * (1 + gain(c)) + bias(c)        x: (N, C, H, W)

    The condition c and the maps `gain`, `bias` are, by the arguments given:
        cond_dim > 0       c: (N, cond_dim) float vector; bias-free linear maps (BigGAN: [shared class embedding, z chunk])
        num_classes > 0    c: (N,) int64 class labels; per-class tables (SAGAN)
        neither            c is ignored; one learned gain and bias vector (an ordinary affine BatchNorm)

    Gains and biases start at zero, so the layer starts as plain BatchNorm; a network's `init_weights` scheme may
    re-initialise them (BigGAN-PyTorch initialises every Linear and Embedding weight, these included). The
    normalisation is a standard `nn.BatchNorm2d` child, so `nn.SyncBatchNorm.convert_sync_batchnorm` converts it
    (cross-replica BatchNorm under DDP with `Trainer(sync_batchnorm=True)`).
    """

    def __init__(self, num_features: int, num_classes: int = 0, cond_dim: int = 0, eps: float = 1e-5,
                 momentum: float = 0.1):
        super().__init__()
        self.bn = nn.BatchNorm2d(num_features, eps=eps, momentum=momentum, affine=False)
        self.cond_dim, self.num_classes = cond_dim, num_classes
        if cond_dim > 0:
            self.gain = nn.Linear(cond_dim, num_features, bias=False)
            self.bias = nn.Linear(cond_dim, num_features, bias=False)
        else:
            self.gain = nn.Embedding(max(num_classes, 1), num_features)
            self.bias = nn.Embedding(max(num_classes, 1), num_features)
        nn.init.zeros_(self.gain.weight)
        nn.init.zeros_(self.bias.weight)

    def forward(self, x: torch.Tensor, c: torch.Tensor | None = None) -> torch.Tensor:
        h = self.bn(x)
        if self.cond_dim == 0 and self.num_classes == 0:
            c = torch.zeros(x.shape[0], dtype=torch.long, device=x.device)
        gain = 1 + self.gain(c)[:, :, None, None]
        bias = self.bias(c)[:, :, None, None]
        return h * gain.to(h.dtype) + bias.to(h.dtype)
