"""Quality of class-conditional digit samples, judged by a small classifier trained on the real digits.

All numbers compare generated digits with the held-out real digits, in the classifier's 128-d feature space:
    accuracy    how often the classifier recognises the requested class (overall and per class)
    fid         Frechet distance (an FID with a digits network in place of Inception; comparable only with itself)
    precision   improved precision, k = 3 (Kynkaanniemi et al. 2019): fidelity
    recall      improved recall, k = 3: diversity
    spread      per class, the mean pairwise feature distance of the samples over that of the held-out digits of
                the class, averaged over classes (1: as varied as real digits; near 0: one digit per class)
`DigitsScorer.reference` holds the same numbers for real training digits in place of samples (100 per class, as
`score_module` draws), the floor and ceilings a generator is measured against.
"""
from dataclasses import dataclass, field

import torch
import torch.nn as nn
import torch.nn.functional as F

from lit_gans.evaluation.frechet import frechet_distance, gaussian_stats
from lit_gans.evaluation.precision_recall import mean_pairwise_distance, precision_recall


class DigitsClassifier(nn.Module):
    """images (N, 3, R, R) in [-1, 1] -> logits (N, 10); `features` gives the 128-d penultimate activations."""

    def __init__(self, num_classes: int = 10):
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(3, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(4),
            nn.Flatten(), nn.Linear(64 * 16, 128), nn.ReLU(),
        )
        self.head = nn.Linear(128, num_classes)

    def features(self, images: torch.Tensor) -> torch.Tensor:
        return self.body(images)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(images))


def train_classifier(images: torch.Tensor, labels: torch.Tensor, epochs: int = 15, seed: int = 0) -> DigitsClassifier:
    """Fit a DigitsClassifier on real images (N, 3, R, R) with Adam; a few seconds on a CPU."""
    generator = torch.Generator().manual_seed(seed)
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        model = DigitsClassifier(int(labels.max()) + 1)
    optimizer = torch.optim.Adam(model.parameters(), lr=2e-3)
    for _ in range(epochs):
        order = torch.randperm(len(images), generator=generator)
        for i in range(0, len(images), 64):
            idx = order[i : i + 64]
            shift = torch.randint(-1, 2, (2,), generator=generator).tolist()  # small translations
            batch = torch.roll(images[idx], shifts=shift, dims=(2, 3))
            loss = F.cross_entropy(model(batch), labels[idx])
            optimizer.zero_grad()
            loss.backward()  # plain PyTorch: this classifier is trained outside Lightning
            optimizer.step()
    return model.eval().requires_grad_(False)


@dataclass
class DigitsScorer:
    """Score generated digits against held-out real digits. Build with `DigitsScorer.fit(train_x, train_y, held_x, held_y)`."""

    classifier: DigitsClassifier
    real_features: torch.Tensor  # (N, 128) of the held-out digits
    real_labels: torch.Tensor  # (N,)
    real_accuracy: float
    reference: dict = field(default_factory=dict)  # the scores of real training digits
    history: list[dict] = field(default_factory=list)

    def __post_init__(self):
        self.real_mu, self.real_sigma = gaussian_stats(self.real_features)
        self.real_spread = {int(c): mean_pairwise_distance(self.real_features[self.real_labels == c])
                            for c in self.real_labels.unique()}

    @classmethod
    def fit(cls, train_images, train_labels, held_images, held_labels, seed: int = 0,
            reference_per_class: int = 100) -> "DigitsScorer":
        """Train the classifier on the training digits and score `reference_per_class` training digits of each class
        (the first of each class) as the real-vs-real reference."""
        classifier = train_classifier(train_images, train_labels, seed=seed)
        with torch.no_grad():
            real_accuracy = (classifier(held_images).argmax(1) == held_labels).float().mean().item()
            features = classifier.features(held_images)
        scorer = cls(classifier, features, held_labels.clone(), real_accuracy)
        chosen = torch.cat([torch.nonzero(train_labels == c).flatten()[:reference_per_class]
                            for c in train_labels.unique()])
        scorer.reference = scorer.score(train_images[chosen], train_labels[chosen])
        return scorer

    @torch.no_grad()
    def score(self, images: torch.Tensor, labels: torch.Tensor) -> dict:
        """images (N, 3, R, R) in [-1, 1] generated for classes `labels` (N,) -> accuracy (overall and per class),
        fid, precision, recall, spread (mean over classes and per class)."""
        images, labels = images.float().cpu(), labels.cpu()
        features = self.classifier.features(images)
        correct = (self.classifier.head(features).argmax(1) == labels).float()
        classes = [int(c) for c in labels.unique()]
        per_class = {c: correct[labels == c].mean().item() for c in classes}
        spread = {c: mean_pairwise_distance(features[labels == c]) / self.real_spread[c]
                  for c in classes if (labels == c).sum() >= 2}
        mu, sigma = gaussian_stats(features)
        return {
            "accuracy": correct.mean().item(),
            "accuracy_per_class": per_class,
            "fid": frechet_distance(mu, sigma, self.real_mu, self.real_sigma),
            **precision_recall(self.real_features.double(), features.double(), k=3),
            "spread": sum(spread.values()) / len(spread) if spread else float("nan"),
            "spread_per_class": spread,
        }

    def score_module(self, pl_module, per_class: int = 100, use_ema: bool = True, seed: int = 0) -> dict:
        """Generate `per_class` digits of each class with a lit-gans module and score them."""
        labels = torch.arange(10).repeat_interleave(per_class)
        images = pl_module.sample(len(labels), y=labels, use_ema=use_ema, seed=seed)
        return self.score(images, labels)
