"""Frechet distance between two Gaussians (Heusel et al. 2017), the formula behind FID."""
import warnings

import numpy as np
import scipy.linalg
import torch


def gaussian_stats(features: torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
    """features (N, D) -> mean (D,) and covariance (D, D) in float64 (unbiased, N - 1)."""
    x = features.double().cpu().numpy()
    return x.mean(axis=0), np.cov(x, rowvar=False)


def frechet_distance(mu1: np.ndarray, sigma1: np.ndarray, mu2: np.ndarray, sigma2: np.ndarray) -> float:
    """|mu1 - mu2|^2 + tr(S1 + S2 - 2 (S1 S2)^(1/2))."""
    with warnings.catch_warnings():  # a singular product (fewer samples than features) still has a square root;
        warnings.simplefilter("ignore", scipy.linalg.LinAlgWarning)  # a failed one is non-finite, handled below
        covmean = scipy.linalg.sqrtm(sigma1 @ sigma2)
    if not np.isfinite(covmean).all():
        offset = np.eye(len(mu1)) * 1e-6
        covmean = scipy.linalg.sqrtm((sigma1 + offset) @ (sigma2 + offset))
    covmean = covmean.real
    return float(((mu1 - mu2) ** 2).sum() + np.trace(sigma1) + np.trace(sigma2) - 2 * np.trace(covmean))
