"""Evaluation: the FID/KID/IS evaluator and the digits scorer."""
from lit_gans.evaluation.digits import DigitsClassifier, DigitsScorer
from lit_gans.evaluation.evaluator import Evaluator, generated_batches
from lit_gans.evaluation.frechet import frechet_distance

__all__ = ["DigitsClassifier", "DigitsScorer", "Evaluator", "frechet_distance", "generated_batches"]
