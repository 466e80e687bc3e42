"""The spread of a metric over runs (e.g. the seeds of one recipe): mean, standard deviation and a
confidence interval of the mean.

The interval is Student's t-interval of the mean over runs (``scipy.stats.t.interval``):
``mean +- t(1 - a/2, n - 1) * s / sqrt(n)``, ``s`` the sample standard deviation (``ddof=1``).
A bootstrap over runs is not used: with the 3 to 5 seeds of a study it has only a handful of
distinct resamples, and its percentile interval never reaches past the smallest and largest run,
so it is too narrow exactly when the runs are few. The t-interval assumes roughly normal values
and says how well the *mean* is known, not where a new run will land; with 2 runs its factor
``t(0.975, 1)`` is 12.7, so the interval is wide. Metrics are fractions, so the interval is
clipped to [0, 1] (the mean lies there; clipping keeps its coverage).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from vadkit.config.settings import REPORT_CONFIDENCE

#: How the page and the docs name the interval.
INTERVAL_NAME = "t-interval of the mean over runs"


@dataclass(frozen=True)
class Spread:
    """The values of one metric over runs (None: a run without it, e.g. no macro AUROC), their
    mean, sample standard deviation (``ddof=1``; None for one value) and the ``confidence``
    t-interval of the mean (``low``, ``high``; None for one value)."""

    values: tuple[float | None, ...]
    mean: float | None
    std: float | None
    low: float | None
    high: float | None
    confidence: float = REPORT_CONFIDENCE

    @property
    def measured(self) -> list[float]:
        """The values that exist."""
        return [v for v in self.values if v is not None]

    @property
    def n(self) -> int:
        return len(self.measured)

    @property
    def minimum(self) -> float | None:
        return min(self.measured) if self.measured else None

    @property
    def maximum(self) -> float | None:
        return max(self.measured) if self.measured else None

    def contains(self, value: float) -> bool | None:
        """Whether ``value`` lies in the interval (None: no interval)."""
        if self.low is None or self.high is None:
            return None
        return self.low <= value <= self.high

    def as_dict(self) -> dict[str, Any]:
        return {
            "n": self.n,
            "values": list(self.values),
            "mean": self.mean,
            "std": self.std,
            "std_ddof": 1,
            "interval": None if self.low is None else [self.low, self.high],
            "confidence": self.confidence,
            "interval_kind": INTERVAL_NAME,
            "min": self.minimum,
            "max": self.maximum,
        }


def spread(
    values: Sequence[float | None],
    confidence: float = REPORT_CONFIDENCE,
    bounds: tuple[float, float] = (0.0, 1.0),
) -> Spread:
    """Mean, sample standard deviation and the ``confidence`` t-interval of the mean of the
    values that are not None, the interval clipped to ``bounds``."""
    kept = tuple(None if v is None else float(v) for v in values)
    x = np.array([v for v in kept if v is not None], dtype=np.float64)
    if x.size == 0:
        return Spread(kept, None, None, None, None, confidence)
    mean = float(np.mean(x))
    if x.size == 1:
        return Spread(kept, mean, None, None, None, confidence)
    from scipy import stats

    std = float(np.std(x, ddof=1))
    sem = std / math.sqrt(x.size)
    if sem == 0.0:  # identical values: scipy's interval of a zero scale is NaN
        low = high = mean
    else:
        low, high = (float(b) for b in stats.t.interval(confidence, x.size - 1, mean, sem))
    low, high = max(bounds[0], low), min(bounds[1], high)
    return Spread(kept, mean, std, low, high, confidence)
