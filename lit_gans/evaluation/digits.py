"""Quality of class-conditional digit samples, judged by a small classifier trained on the real digits.

Two numbers: the accuracy with which the classifier recognises the requested class in generated digits (per class
and overall), and a Frechet distance between generated and held-out real digits in the classifier's 128-d feature
space (an FID with a digits network in place of Inception; comparable only with itself).
"""
from dataclasses import dataclass, field

import torch
import torch.nn as nn
import torch.nn.functional as F

from lit_gans.evaluation.frechet import frechet_distance, gaussian_stats


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
    real_mu: object
    real_sigma: object
    real_accuracy: float
    history: list[dict] = field(default_factory=list)

    @classmethod
    def fit(cls, train_images, train_labels, held_images, held_labels, seed: int = 0) -> "DigitsScorer":
        classifier = train_classifier(train_images, train_labels, seed=seed)
        with torch.no_grad():
            real_accuracy = (classifier(held_images).argmax(1) == held_labels).float().mean().item()
            mu, sigma = gaussian_stats(classifier.features(held_images))
        return cls(classifier, mu, sigma, real_accuracy)

    @torch.no_grad()
    def score(self, images: torch.Tensor, labels: torch.Tensor) -> dict:
        """images (N, 3, R, R) in [-1, 1] generated for classes `labels` (N,) -> accuracy, per-class accuracy, fid."""
        images, labels = images.float().cpu(), labels.cpu()
        predicted = self.classifier(images).argmax(1)
        correct = (predicted == labels).float()
        per_class = {int(c): correct[labels == c].mean().item() for c in labels.unique()}
        mu, sigma = gaussian_stats(self.classifier.features(images))
        return {
            "accuracy": correct.mean().item(),
            "accuracy_per_class": per_class,
            "fid": frechet_distance(mu, sigma, self.real_mu, self.real_sigma),
        }

    def score_module(self, pl_module, per_class: int = 100, use_ema: bool = True, seed: int = 0) -> dict:
        """Generate `per_class` digits of each class with a lit-gans module and score them."""
        labels = torch.arange(10).repeat_interleave(per_class)
        images = pl_module.sample(len(labels), y=labels, use_ema=use_ema, seed=seed)
        return self.score(images, labels)
