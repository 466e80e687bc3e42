"""A score normalizer: rescale a 1-D score stream by statistics learnt from a reference."""

import numpy as np

import vadkit


class ZScore(vadkit.ScoreNormalizer):
    """Standard score: (x - mean) / std of a reference.

    ``z_t = (a_t - mean(r)) / max(std(r), eps)``, where ``r`` is the reference given to ``fit``:
    offline, each video's own scores (``fit_transform``); in ``vadkit watch``, the scores of
    normal training windows. A constant reference maps to zeros.

    Parameters:
        eps: smallest standard deviation divided by, so that constant streams stay finite.
    """

    def __init__(self, *, eps: float = 1e-8):
        self.eps = eps

    def fit(self, reference: np.ndarray) -> "ZScore":
        reference = np.asarray(reference, dtype=np.float64)
        self.mean_ = float(reference.mean())
        self.std_ = max(float(reference.std()), self.eps)
        return self

    def transform(self, scores: np.ndarray) -> np.ndarray:
        return (np.asarray(scores, dtype=np.float64) - self.mean_) / self.std_
