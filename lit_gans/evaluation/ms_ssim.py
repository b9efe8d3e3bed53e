"""MS-SSIM diversity (Wang et al. 2003; used for GAN samples by Odena et al. 2017 and ProGAN, Karras et al. 2018).

The mean multi-scale structural similarity over pairs of images of one set: lower means more varied. The formula
and constants follow ProGAN's code (metrics/ms_ssim.py): max value 255, an 11 x 11 Gaussian window with sigma 1.5
that shrinks with the image (size min(11, H, W), sigma scaled alike), 'valid' filtering, k1 = 0.01, k2 = 0.03,
SSIM and contrast-structure maps averaged over height, width and channels, 5 scales with weights
(0.0448, 0.2856, 0.3001, 0.2363, 0.1333) and 2 x 2 average downsampling between them, values clipped at 0:
    MS-SSIM = prod_{l < 5} cs_l^{w_l} * ssim_5^{w_5}.
Pairs are consecutive images (0, 1), (2, 3), ... of independent samples; the paper uses 10,000 pairs.
Why not torchmetrics' MS-SSIM: its fixed 11 x 11 window needs images of 176 px and more, and it averages the SSIM
map over the reflect-padded border too (its contrast terms, and its SSIM maps cropped to the valid region, equal
the ones here; tested).
"""
import torch
import torch.nn.functional as F

WEIGHTS = (0.0448, 0.2856, 0.3001, 0.2363, 0.1333)


def gaussian_window(size: int, sigma: float, dtype=torch.float64) -> torch.Tensor:
    """(size, size) normalised Gaussian; for an even size the taps sit at half-integer offsets."""
    offsets = torch.arange(size, dtype=dtype) - (size - 1) / 2
    window = torch.exp(-(offsets[:, None] ** 2 + offsets[None, :] ** 2) / (2 * sigma**2))
    return window / window.sum()


def ssim_and_contrast(a: torch.Tensor, b: torch.Tensor, max_value: float = 255.0, filter_size: int = 11,
                      filter_sigma: float = 1.5, k1: float = 0.01, k2: float = 0.03) -> tuple[torch.Tensor, torch.Tensor]:
    """a, b (B, C, H, W) float -> (B,) SSIM and (B,) contrast-structure term, each map averaged over C, H, W."""
    channels, height, width = a.shape[1:]
    size = min(filter_size, height, width)
    sigma = size * filter_sigma / filter_size
    window = gaussian_window(size, sigma, a.dtype).to(a.device).expand(channels, 1, size, size)

    def filtered(x):
        return F.conv2d(x, window, groups=channels)

    mu_a, mu_b = filtered(a), filtered(b)
    var_a = filtered(a * a) - mu_a**2
    var_b = filtered(b * b) - mu_b**2
    covariance = filtered(a * b) - mu_a * mu_b
    c1, c2 = (k1 * max_value) ** 2, (k2 * max_value) ** 2
    contrast = (2 * covariance + c2) / (var_a + var_b + c2)
    ssim = (2 * mu_a * mu_b + c1) / (mu_a**2 + mu_b**2 + c1) * contrast
    return ssim.mean(dim=(1, 2, 3)), contrast.mean(dim=(1, 2, 3))


def ms_ssim(a: torch.Tensor, b: torch.Tensor, **kwargs) -> torch.Tensor:
    """Images a, b (B, C, H, W) in [0, 255] (uint8 or float; H, W >= 16) -> (B,) MS-SSIM of each pair a_i, b_i."""
    if min(a.shape[-2:]) < 2 ** (len(WEIGHTS) - 1):
        raise ValueError(f"MS-SSIM's {len(WEIGHTS)} scales need images of at least {2 ** (len(WEIGHTS) - 1)} px, "
                         f"got {tuple(a.shape[-2:])}")
    a, b = a.double(), b.double()
    ssims, contrasts = [], []
    for scale in range(len(WEIGHTS)):
        ssim, contrast = ssim_and_contrast(a, b, **kwargs)
        ssims.append(ssim.clamp(min=0))
        contrasts.append(contrast.clamp(min=0))
        if scale < len(WEIGHTS) - 1:
            a, b = F.avg_pool2d(a, 2), F.avg_pool2d(b, 2)
    weights = torch.tensor(WEIGHTS, dtype=a.dtype, device=a.device)
    value = ssims[-1] ** weights[-1]
    for contrast, weight in zip(contrasts[:-1], weights[:-1]):
        value = value * contrast**weight
    return value


def pair_scores(images: torch.Tensor) -> torch.Tensor:
    """uint8 images (2P, 3, H, W) -> (P,) MS-SSIM of the pairs (0, 1), (2, 3), ...; an odd last image is unused."""
    pairs = len(images) // 2
    return ms_ssim(images[0 : 2 * pairs : 2], images[1 : 2 * pairs : 2])
