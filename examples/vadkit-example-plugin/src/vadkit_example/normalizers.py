import numpy as np

import vadkit


class ZScore(vadkit.ScoreNormalizer):
    """Standard score per video: (x - mean) / std."""

    def __init__(self, *, eps: float = 1e-8):
        self.eps = eps

    def __call__(self, scores: np.ndarray) -> np.ndarray:
        scores = np.asarray(scores, dtype=np.float64)
        return (scores - scores.mean()) / max(float(scores.std()), self.eps)
