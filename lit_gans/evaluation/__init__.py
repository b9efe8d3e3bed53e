"""Evaluation: the evaluator and its metrics, and the digits scorer."""
from lit_gans.evaluation.digits import DigitsClassifier, DigitsScorer
from lit_gans.evaluation.evaluator import Evaluator, generated_batches
from lit_gans.evaluation.frechet import frechet_distance
from lit_gans.evaluation.metrics import METRICS

__all__ = ["DigitsClassifier", "DigitsScorer", "Evaluator", "METRICS", "frechet_distance", "generated_batches"]
