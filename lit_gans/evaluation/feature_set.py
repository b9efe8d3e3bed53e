"""The features of one image set as the metrics need them: running float64 sums for the Gaussian of FID (constant
memory), and, only when a metric needs every point (KID, precision/recall, density/coverage, intra-class FID),
the features themselves in float32 (N x 2048 x 4 bytes: 0.4 GB at 50k) with the images' class labels."""
import torch
import torch.distributed as dist


def distributed() -> bool:
    return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


def gather_rows(tensor: torch.Tensor) -> torch.Tensor:
    """Concatenate every rank's rows (ranks may hold different counts); the tensor itself in one process."""
    if not distributed():
        return tensor
    from torchmetrics.utilities.distributed import gather_all_tensors

    return torch.cat(gather_all_tensors(tensor.contiguous()))


class FeatureSet:
    """Features (B, F) of a set, added batch by batch.

    Args:
        keep: keep every feature vector and label (else only the sums of the Gaussian).
    """

    def __init__(self, keep: bool = False):
        self.keep = keep
        self.sum = self.outer = None
        self.count = 0
        self.kept: list[torch.Tensor] = []
        self.kept_labels: list[torch.Tensor] = []

    def add(self, features: torch.Tensor, labels: torch.Tensor | None = None) -> None:
        features64 = features.double()
        if self.sum is None:
            self.sum = features64.new_zeros(features.shape[1])
            self.outer = features64.new_zeros(features.shape[1], features.shape[1])
        self.sum += features64.sum(dim=0)
        self.outer += features64.T @ features64
        self.count += len(features)
        if self.keep:
            self.kept.append(features.float())
            self.kept_labels.append(torch.full((len(features),), -1, dtype=torch.long, device=features.device)
                                    if labels is None else labels.to(features.device, torch.long))

    def gaussian(self) -> tuple[torch.Tensor, torch.Tensor]:
        """(F,) mean and (F, F) unbiased covariance in float64."""
        mean = self.sum / self.count
        return mean, (self.outer - self.count * torch.outer(mean, mean)) / (self.count - 1)

    @property
    def features(self) -> torch.Tensor:
        """(N, F) float32, every feature kept."""
        if not self.keep:
            raise RuntimeError("this FeatureSet keeps only the sums (keep=False)")
        if len(self.kept) > 1:  # concatenated once, then kept as one tensor
            self.kept = [torch.cat(self.kept)]
        return self.kept[0]

    @property
    def labels(self) -> torch.Tensor:
        """(N,) int64 class labels of the kept features (-1: unlabelled)."""
        if len(self.kept_labels) > 1:
            self.kept_labels = [torch.cat(self.kept_labels)]
        return self.kept_labels[0]

    def gathered(self) -> "FeatureSet":
        """The union of every rank's set (this set itself in one process)."""
        if not distributed():
            return self
        union = FeatureSet(self.keep)
        union.sum, union.outer = self.sum.clone(), self.outer.clone()
        count = torch.tensor(self.count, dtype=torch.long, device=self.sum.device)
        for tensor in (union.sum, union.outer, count):
            dist.all_reduce(tensor)
        union.count = int(count)
        if self.keep:
            union.kept, union.kept_labels = [gather_rows(self.features)], [gather_rows(self.labels)]
        return union

    def state_dict(self) -> dict:
        state = {"sum": self.sum, "outer": self.outer, "count": self.count, "keep": self.keep}
        if self.keep:
            state.update(features=self.features, labels=self.labels)
        return state

    @classmethod
    def from_state_dict(cls, state: dict, device: torch.device | str = "cpu") -> "FeatureSet":
        features = cls(state["keep"])
        features.sum, features.outer, features.count = state["sum"].to(device), state["outer"].to(device), state["count"]
        if features.keep:
            features.kept, features.kept_labels = [state["features"].to(device)], [state["labels"].to(device)]
        return features

    def subset(self, mask: torch.Tensor) -> "FeatureSet":
        """A kept set of the features where `mask` (N,) is true (e.g. one class)."""
        part = FeatureSet(keep=True)
        part.add(self.features[mask], self.labels[mask])
        return part
