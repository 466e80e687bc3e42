"""Rescaling of a score stream (Lohani et al., VISAPP 2023, section 3.2.2).

Each normalizer has scikit-learn's shape: ``fit(reference)`` learns statistics from a finite 1-D
array of scores, ``transform(scores)`` applies them to any 1-D array (a non-finite score stays
non-finite) and returns float64 of the same shape; ``fit_transform(scores)``, or calling the
normalizer, rescales one video by its own statistics (the paper's per-video use). Fitting on an
empty or non-finite array raises :class:`vadkit.errors.DataError` (a ``ValueError``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Self

import numpy as np
from sklearn.exceptions import NotFittedError
from sklearn.preprocessing import MinMaxScaler, RobustScaler

from vadkit.components import ScoreNormalizer
from vadkit.errors import ConfigError, DataError


def _as_values(scores: np.ndarray, owner: str) -> np.ndarray:
    """``scores`` as a float64 1-D array."""
    arr = np.asarray(scores, dtype=np.float64)
    if arr.ndim != 1:
        raise DataError(
            f"{owner} rescales one video's 1-D score stream; got an array of shape {arr.shape}.",
            hint="Pass the scores of one video as a flat array of shape (n,).",
        )
    return arr


def _as_stream(scores: np.ndarray, owner: str) -> np.ndarray:
    """``scores`` as a float64 1-D array, checked to be non-empty and finite."""
    arr = _as_values(scores, owner)
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


class _Scaled(ScoreNormalizer):
    """A normalizer computed by a scikit-learn scaler on one column of scores."""

    def _scaler(self) -> MinMaxScaler | RobustScaler:
        raise NotImplementedError

    def fit(self, reference: np.ndarray) -> Self:
        """Learn the statistics of ``reference``, a non-empty finite 1-D array."""
        arr = _as_stream(reference, type(self).__name__)
        self.scaler_ = self._scaler().fit(arr[:, None])
        return self

    def transform(self, scores: np.ndarray) -> np.ndarray:
        """``scores`` rescaled with the fitted statistics; NaN and inf pass through unchanged
        (the scale is positive, so an infinite score keeps its sign)."""
        name = type(self).__name__
        arr = _as_values(scores, name)
        scaler = getattr(self, "scaler_", None)
        if scaler is None:
            raise NotFittedError(f"{name} is not fitted: call fit(reference) before transform.")
        out = arr.copy()
        finite = np.isfinite(arr)
        if finite.any():
            out[finite] = scaler.transform(arr[finite][:, None])[:, 0]
        return out


class Identity(ScoreNormalizer):
    """No rescaling: scores are returned as they are (as float64).

    ``a~_t = a_t``. No parameters. Reference: none (the raw scores of section 3.2.2).
    """

    def fit(self, reference: np.ndarray) -> Self:
        """Check ``reference`` (non-empty, finite, 1-D); there is nothing to learn."""
        _as_stream(reference, "Identity")
        return self

    def transform(self, scores: np.ndarray) -> np.ndarray:
        return _as_values(scores, "Identity").copy()


class MinMax(_Scaled):
    """Min-max rescaling: the reference's minimum maps to 0, its maximum to 1.

    ``a~_t = (a_t - min_i r_i) / (max_i r_i - min_i r_i)`` for a reference ``r`` (per video: the
    video's own scores, so they land in [0, 1]); a constant reference (range below
    ``10 * float64 eps``) divides by 1 instead, so it maps to zeros. Computed by scikit-learn's
    ``MinMaxScaler``.

    No parameters. Reference: Lohani et al., VISAPP 2023, section 3.2.2 (the common rescaling of
    Liu et al. 2018, Gong et al. 2019, Park et al. 2020).
    """

    def _scaler(self) -> MinMaxScaler:
        return MinMaxScaler()


class Robust(_Scaled):
    """Robust rescaling by the median and an inter-quantile range (eq. 16).

    ``a~_t = (a_t - med_i r_i) / (q_high - q_low)``, where the median, ``q_low`` and ``q_high``
    are those of a reference ``r`` (per video: the video's own scores), ``q_low`` and ``q_high``
    its ``quantile_range`` percentiles (linear interpolation, as ``np.percentile``). A zero range
    (below ``10 * float64 eps``) divides by 1. Computed by scikit-learn's ``RobustScaler``.

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

    def _scaler(self) -> RobustScaler:
        return RobustScaler(quantile_range=self.quantile_range)

    def __repr__(self) -> str:
        return f"Robust(quantile_range={self.quantile_range})"
