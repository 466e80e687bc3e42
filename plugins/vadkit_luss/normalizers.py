"""Per-video rescaling of a score stream (Lohani et al., VISAPP 2023, section 3.2.2).

Each normalizer takes one video's scores, a finite 1-D array, and returns a float64 array of the
same shape. Empty or non-finite input raises :class:`vadkit.errors.DataError` (a ``ValueError``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from vadkit.components import ScoreNormalizer
from vadkit.errors import ConfigError, DataError

#: A range below this is treated as zero and replaced by 1, as scikit-learn's scalers do.
_ZERO_RANGE = 10 * np.finfo(np.float64).eps


def _as_stream(scores: np.ndarray, owner: str) -> np.ndarray:
    """``scores`` as a float64 1-D array, checked to be non-empty and finite."""
    arr = np.asarray(scores, dtype=np.float64)
    if arr.ndim != 1:
        raise DataError(
            f"{owner} rescales one video's 1-D score stream; got an array of shape {arr.shape}.",
            hint="Pass the scores of one video as a flat array of shape (n,).",
        )
    if arr.size == 0:
        raise DataError(
            f"{owner} got an empty score stream: there is nothing to rescale.",
            hint="Check that the video has at least one scored frame (it may be shorter than "
            "the clip length + 1).",
        )
    bad = ~np.isfinite(arr)
    if bad.any():
        first = int(np.flatnonzero(bad)[0])
        raise DataError(
            f"{owner} got {int(bad.sum())} non-finite score(s) (NaN or inf), the first at index "
            f"{first}: {arr[first]!r}.",
            hint="The model produced non-finite outputs: check the checkpoint and the input frames.",
        )
    return arr


def _safe_range(value: float) -> float:
    return 1.0 if value < _ZERO_RANGE else value


class Identity(ScoreNormalizer):
    """No rescaling: scores are returned as they are (as float64).

    ``a~_t = a_t``. No parameters. Reference: none (the raw scores of section 3.2.2).
    """

    def __call__(self, scores: np.ndarray) -> np.ndarray:
        return _as_stream(scores, "Identity").copy()


class MinMax(ScoreNormalizer):
    """Per-video min-max rescaling to [0, 1].

    ``a~_t = (a_t - min_i a_i) / (max_i a_i - min_i a_i)``; a constant stream (range below
    ``10 * float64 eps``) is divided by 1 instead, so it maps to zeros (as scikit-learn's
    ``MinMaxScaler``).

    No parameters. Reference: Lohani et al., VISAPP 2023, section 3.2.2 (the common rescaling of
    Liu et al. 2018, Gong et al. 2019, Park et al. 2020).
    """

    def __call__(self, scores: np.ndarray) -> np.ndarray:
        arr = _as_stream(scores, "MinMax")
        low = float(arr.min())
        return (arr - low) / _safe_range(float(arr.max()) - low)


class Robust(ScoreNormalizer):
    """Per-video robust rescaling by the median and an inter-quantile range (eq. 16).

    ``a~_t = (a_t - med_i a_i) / (q_high - q_low)``, where ``q_low`` and ``q_high`` are the
    ``quantile_range`` percentiles of the video's scores (linear interpolation, as ``np.percentile``
    and scikit-learn's ``RobustScaler``). A zero range (below ``10 * float64 eps``) divides by 1.

    Parameters:
        quantile_range: ``(low, high)`` percentiles in [0, 100], low < high; paper: (1, 99).

    Reference: Lohani et al., VISAPP 2023, eq. (16).
    """

    def __init__(self, *, quantile_range: tuple[float, float] = (1.0, 99.0)) -> None:
        self.quantile_range = self._check_range(quantile_range)

    @staticmethod
    def _check_range(value: Sequence[float]) -> tuple[float, float]:
        hint = "Give two percentiles low < high in [0, 100], e.g. [1, 99] (paper) or [25, 75]."
        try:
            low, high = (float(v) for v in value)
        except (TypeError, ValueError):
            raise ConfigError(
                f"Robust: quantile_range must be two numbers (low, high), not {value!r}.",
                hint=hint,
            ) from None
        if not (math.isfinite(low) and math.isfinite(high) and 0.0 <= low < high <= 100.0):
            raise ConfigError(
                f"Robust: quantile_range {value!r} is not two percentiles with "
                "0 <= low < high <= 100.",
                hint=hint,
            )
        return (low, high)

    def __call__(self, scores: np.ndarray) -> np.ndarray:
        arr = _as_stream(scores, "Robust")
        q_low, median, q_high = np.percentile(
            arr, [self.quantile_range[0], 50.0, self.quantile_range[1]]
        )
        return (arr - median) / _safe_range(float(q_high - q_low))

    def __repr__(self) -> str:
        return f"Robust(quantile_range={self.quantile_range})"
