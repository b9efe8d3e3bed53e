"""Nearest-neighbour metrics of two feature sets: improved precision and recall (Kynkaanniemi et al. 2019),
density and coverage (Naeem et al. 2020), and the within-set spread.

Each set approximates its manifold by the union of balls around its points, each ball reaching the point's k-th
nearest neighbour in the same set. Precision is the fraction of generated points inside the real manifold
(fidelity), recall the fraction of real points inside the generated one (diversity); both use k = 3 and the ball
test d <= r, as the paper's code and torch-fidelity. Density counts how many real balls (k = 5, real radii only)
contain each generated point, divided by k (1 on average when the sets are alike; more when fakes crowd where the
reals are dense); coverage is the fraction of real balls holding at least one generated point; both use d < r,
as the paper's code (the `prdc` package). All values depend on the set sizes: compare them only at equal sizes.

Memory: distances are computed in blocks of `block` x `block` (default 4096 x 4096, 64 MiB in float32), never as
one N x M matrix; what is kept besides the features is O(N + M).
"""
import torch

BLOCK = 4096


def kth_neighbour_radii(features: torch.Tensor, k: int = 3, block: int = BLOCK) -> torch.Tensor:
    """features (N, D) -> (N,) distance of each point to its k-th nearest other point of the set."""
    if len(features) <= k:
        raise ValueError(f"the k-th neighbour needs more than k = {k} points, got {len(features)}")
    radii = []
    for rows in features.split(block):
        nearest = None  # (b, k + 1) smallest distances so far, the point itself (0) included
        for columns in features.split(block):
            distances = torch.cdist(rows, columns)
            if nearest is not None:
                distances = torch.cat([nearest, distances], dim=1)
            nearest = distances.topk(min(k + 1, distances.shape[1]), dim=1, largest=False).values
        radii.append(nearest[:, -1])
    return torch.cat(radii)


def ball_counts(points: torch.Tensor, centres: torch.Tensor, radii: torch.Tensor, strict: bool = False,
                block: int = BLOCK) -> tuple[torch.Tensor, torch.Tensor]:
    """For points (N, D) and balls (centres (M, D), radii (M,)): (N,) how many balls hold each point, and (M,)
    whether each ball holds at least one point. A point is inside when d <= r (d < r with `strict`)."""
    counts = torch.zeros(len(points), dtype=torch.long, device=points.device)
    occupied = torch.zeros(len(centres), dtype=torch.bool, device=points.device)
    for i, rows in zip(range(0, len(points), block), points.split(block)):
        for j, columns in zip(range(0, len(centres), block), centres.split(block)):
            distances = torch.cdist(rows, columns)
            inside = distances < radii[j : j + block] if strict else distances <= radii[j : j + block]
            counts[i : i + block] += inside.sum(dim=1)
            occupied[j : j + block] |= inside.any(dim=0)
    return counts, occupied


def precision_recall(real: torch.Tensor, fake: torch.Tensor, k: int = 3, block: int = BLOCK) -> dict[str, float]:
    """real (N, D), fake (M, D) features -> {"precision", "recall"} in [0, 1] (computed in the features' dtype).
    One pass over the real-fake distances serves both: precision asks whether a fake lies in some real ball,
    recall whether a real lies in some fake ball."""
    real_radii, fake_radii = kth_neighbour_radii(real, k, block), kth_neighbour_radii(fake, k, block)
    fake_inside = torch.zeros(len(fake), dtype=torch.bool, device=fake.device)
    real_inside = torch.zeros(len(real), dtype=torch.bool, device=real.device)
    for i, rows in zip(range(0, len(fake), block), fake.split(block)):
        for j, columns in zip(range(0, len(real), block), real.split(block)):
            distances = torch.cdist(rows, columns)
            fake_inside[i : i + block] |= (distances <= real_radii[j : j + block]).any(dim=1)
            real_inside[j : j + block] |= (distances <= fake_radii[i : i + block, None]).any(dim=0)
    return {"precision": fake_inside.double().mean().item(), "recall": real_inside.double().mean().item()}


def density_coverage(real: torch.Tensor, fake: torch.Tensor, k: int = 5, block: int = BLOCK) -> dict[str, float]:
    """real (N, D), fake (M, D) features -> {"density" (>= 0, ~1 for alike sets), "coverage" in [0, 1]}."""
    counts, occupied = ball_counts(fake, real, kth_neighbour_radii(real, k, block), strict=True, block=block)
    return {"density": counts.double().sum().item() / (k * len(fake)), "coverage": occupied.double().mean().item()}


def mean_pairwise_distance(features: torch.Tensor) -> float:
    """Mean Euclidean distance over the N (N - 1) / 2 distinct pairs of features (N, D), N >= 2."""
    if len(features) < 2:
        raise ValueError(f"a pairwise distance needs at least 2 points, got {len(features)}")
    distances = torch.pdist(features.double())
    return distances.mean().item()
