"""Adversarial losses. Each takes discriminator logits (N,) and returns a scalar, computed in float32.

hinge (Lim & Ye 2017; SAGAN, BigGAN):  L_D = E[relu(1 - D(x))] + E[relu(1 + D(G(z)))],  L_G = -E[D(G(z))]
ns    (Goodfellow et al. 2014, non-saturating): L_D = E[softplus(-D(x))] + E[softplus(D(G(z)))], L_G = E[softplus(-D(G(z)))]
wgan  (Arjovsky et al. 2017): L_D = E[D(G(z))] - E[D(x)],  L_G = -E[D(G(z))]
"""
import torch
import torch.nn.functional as F


def d_loss_real(kind: str, logits: torch.Tensor) -> torch.Tensor:
    logits = logits.float()
    if kind == "hinge":
        return F.relu(1 - logits).mean()
    if kind == "ns":
        return F.softplus(-logits).mean()
    return -logits.mean()


def d_loss_fake(kind: str, logits: torch.Tensor) -> torch.Tensor:
    logits = logits.float()
    if kind == "hinge":
        return F.relu(1 + logits).mean()
    if kind == "ns":
        return F.softplus(logits).mean()
    return logits.mean()


def g_loss(kind: str, logits: torch.Tensor) -> torch.Tensor:
    logits = logits.float()
    if kind == "ns":
        return F.softplus(-logits).mean()
    return -logits.mean()


LOSSES = ("hinge", "ns", "wgan")
