"""The score-normalizer contract."""

from __future__ import annotations

import numpy as np


class ScoreNormalizer:
    """Base class of score normalizers: rescale one video's 1-D score stream.

    ``__call__(scores)`` takes a float array of shape ``(n,)`` and returns one of the same shape.
    """

    def __call__(self, scores: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"
