"""ProGAN's feature operations (Karras et al. 2018, Sec. 3 and 4.2)."""
import torch


def pixel_norm(x: torch.Tensor, eps: float = 1e-8) -> torch.Tensor:
    """Normalise each pixel's feature vector to unit RMS: x / sqrt(mean_c(x^2) + eps). x: (N, C, ...)."""
    return x * torch.rsqrt(x.square().mean(dim=1, keepdim=True) + eps)


def minibatch_stddev(x: torch.Tensor, group_size: int = 4, eps: float = 1e-8) -> torch.Tensor:
    """Append one feature map holding each group's average standard deviation. (N, C, H, W) -> (N, C + 1, H, W).

    Groups of min(group_size, N) samples are strided, as in the official code: with M = N / G, group m holds
    samples m, m + M, m + 2M, ... The statistic is the biased standard deviation over the group, for every
    feature and pixel, averaged over features and pixels, computed in float32. N must be divisible by the group.
    """
    n, c, h, w = x.shape
    group = min(group_size, n)
    if n % group:
        raise ValueError(f"minibatch stddev needs a batch divisible by the group size {group}, got {n}")
    y = x.float().reshape(group, n // group, c, h, w)
    std = (y - y.mean(dim=0)).square().mean(dim=0).add(eps).sqrt()  # (M, C, H, W)
    stat = std.mean(dim=(1, 2, 3))  # (M,)
    stat = stat.repeat(group)[:, None, None, None].expand(n, 1, h, w).to(x.dtype)
    return torch.cat([x, stat], dim=1)
