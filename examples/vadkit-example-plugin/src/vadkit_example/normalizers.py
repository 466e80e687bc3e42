"""A score normalizer: rescale the 1-D score stream of one video."""

import numpy as np

import vadkit


class ZScore(vadkit.ScoreNormalizer):
    """Standard score per video: (x - mean) / std.

    ``z_t = (a_t - mean(a)) / max(std(a), eps)``: a constant stream maps to zeros.

    Parameters:
        eps: smallest standard deviation divided by, so that constant streams stay finite.
    """

    def __init__(self, *, eps: float = 1e-8):
        self.eps = eps

    def __call__(self, scores: np.ndarray) -> np.ndarray:
        scores = np.asarray(scores, dtype=np.float64)
        return (scores - scores.mean()) / max(float(scores.std()), self.eps)
