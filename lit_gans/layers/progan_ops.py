"""ProGAN's feature operations (Karras et al. 2018, Sec. 3 and 4.2)."""
import torch
import torch.nn.functional as F


def pixel_norm(x: torch.Tensor, eps: float = 1e-8) -> torch.Tensor:
    """Normalise each pixel's feature vector to unit RMS: x / sqrt(mean_c(x^2) + eps). x: (N, C, ...)."""
    return x * torch.rsqrt(x.square().mean(dim=1, keepdim=True) + eps)


MBSTD_STYLES = ("official", "gan-zoo", "class")


def minibatch_stddev(x: torch.Tensor, group_size: int = 4, eps: float = 1e-8, style: str = "official",
                     labels: torch.Tensor | None = None) -> torch.Tensor:
    """Append one feature map holding each group's average standard deviation. (N, C, H, W) -> (N, C + 1, H, W).

    style "official" (the ProGAN release): groups of min(group_size, N) samples are strided, with M = N / G group m
    holds samples m, m + M, m + 2M, ...; the biased standard deviation; N must be divisible by the group.
    style "gan-zoo" (pytorch_GAN_zoo's PGAN): groups of consecutive samples, the whole batch when N is not divisible
    by the group, the unbiased standard deviation, and zeros for groups of one.
    style "class" (this package's, for class-conditional D): the group of a sample is every sample of its class in
    the batch (`labels` (N,)), so the statistic measures the variety *within* a class, which a mixed-class group
    hides behind the differences between classes; the biased deviation; `group_size` is unused. Without labels
    it falls back to "official".
    Either way the statistic, sqrt(var + eps) for every feature and pixel averaged over features and pixels, is
    computed in float32.
    """
    if style not in MBSTD_STYLES:
        raise ValueError(f"minibatch stddev style must be one of {MBSTD_STYLES}, got {style!r}")
    n, c, h, w = x.shape
    group = min(group_size, n)
    if style == "class" and labels is not None:
        stat = class_stddev(x, labels, eps)
    elif style == "gan-zoo":
        group = group if n % group == 0 else n
        if group == 1:
            return torch.cat([x, torch.zeros_like(x[:, :1])], dim=1)
        std = x.float().reshape(n // group, group, c, h, w).var(dim=1).add(eps).sqrt()  # (M, C, H, W)
        stat = std.mean(dim=(1, 2, 3)).repeat_interleave(group)
    else:
        if n % group:
            raise ValueError(f"minibatch stddev needs a batch divisible by the group size {group}, got {n}")
        y = x.float().reshape(group, n // group, c, h, w)
        std = (y - y.mean(dim=0)).square().mean(dim=0).add(eps).sqrt()  # (M, C, H, W)
        stat = std.mean(dim=(1, 2, 3)).repeat(group)
    return torch.cat([x, stat[:, None, None, None].expand(n, 1, h, w).to(x.dtype)], dim=1)


def mbstd_batch_multiple(group_size: int, style: str = "official", labelled: bool = False) -> int:
    """The batch sizes a minibatch stddev layer groups as in training: above this many images, a multiple of it.
    1 (any size) without the layer, or for class groups with labels; else the group size (a "gan-zoo" layer
    accepts any size, but one that is not a multiple becomes a single group). `lit_gans.discriminate` splits a
    forward of any number of images accordingly."""
    return 1 if group_size <= 0 or (style == "class" and labelled) else group_size


def class_stddev(x: torch.Tensor, labels: torch.Tensor, eps: float = 1e-8) -> torch.Tensor:
    """(N,): for each sample, sqrt(var + eps) over the samples of its class, per feature and pixel, averaged; in
    float32 (also under autocast). Under DDP the classmates are those on the same device, as for every batch
    statistic of D."""
    with torch.autocast(x.device.type, enabled=False):
        members = F.one_hot(labels).float()  # (N, K)
        counts = members.sum(dim=0).clamp(min=1)[:, None]  # (K, 1)
        flat = x.float().flatten(1)  # (N, C*H*W)
        mean = members.t() @ flat / counts
        var = members.t() @ (flat - mean[labels]).square() / counts
        return var.add(eps).sqrt().mean(dim=1)[labels]
