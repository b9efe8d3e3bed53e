"""Improved precision and recall (Kynkaanniemi et al. 2019) and the within-set spread of features.

Each set of features approximates its manifold by the union of balls around its points, each ball reaching the
point's k-th nearest neighbour in the same set (k = 3 in the paper). Precision is the fraction of generated
points inside the real manifold (fidelity), recall the fraction of real points inside the generated one
(diversity). Both depend on the set sizes, so compare values only at equal sizes.
"""
import torch


def kth_neighbour_radii(features: torch.Tensor, k: int = 3, batch_size: int = 10_000) -> torch.Tensor:
    """features (N, D) -> (N,) distance of each point to its k-th nearest other point of the set."""
    if len(features) <= k:
        raise ValueError(f"the k-th neighbour needs more than k = {k} points, got {len(features)}")
    radii = [torch.cdist(features[i : i + batch_size], features).kthvalue(k + 1, dim=1).values  # +1: the point itself
             for i in range(0, len(features), batch_size)]
    return torch.cat(radii)


def coverage_fraction(points: torch.Tensor, centres: torch.Tensor, radii: torch.Tensor,
                      batch_size: int = 10_000) -> float:
    """The fraction of `points` (N, D) inside at least one ball (`centres` (M, D), `radii` (M,))."""
    inside = [(torch.cdist(points[i : i + batch_size], centres) <= radii).any(dim=1)
              for i in range(0, len(points), batch_size)]
    return torch.cat(inside).float().mean().item()


def precision_recall(real: torch.Tensor, fake: torch.Tensor, k: int = 3) -> dict[str, float]:
    """real (N, D), fake (M, D) features -> {"precision", "recall"} in [0, 1], computed in float64."""
    real, fake = real.double(), fake.double()
    return {"precision": coverage_fraction(fake, real, kth_neighbour_radii(real, k)),
            "recall": coverage_fraction(real, fake, kth_neighbour_radii(fake, k))}


def mean_pairwise_distance(features: torch.Tensor) -> float:
    """Mean Euclidean distance over the N (N - 1) / 2 distinct pairs of features (N, D), N >= 2."""
    if len(features) < 2:
        raise ValueError(f"a pairwise distance needs at least 2 points, got {len(features)}")
    distances = torch.pdist(features.double())
    return distances.mean().item()
