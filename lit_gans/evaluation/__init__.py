"""Evaluation helpers."""
from lit_gans.evaluation.digits import DigitsClassifier, DigitsScorer
from lit_gans.evaluation.frechet import frechet_distance

__all__ = ["DigitsClassifier", "DigitsScorer", "frechet_distance"]
