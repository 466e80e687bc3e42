"""Experiment tracking: a run's settings, losses, epoch times, evaluation and report, also
logged to TensorBoard, MLflow or a plugin's tracker.

A tracker is a trainer callback (:class:`Tracker`); ``train.track`` (``vadkit train --track
NAME``) names the ones a run logs to, and the run records them, so that ``vadkit evaluate`` and
``vadkit report`` log to the same ones afterwards (:mod:`vadkit.tracking.build`). Importing this
package is cheap (the plugin that registers the built-in trackers lives in it): its names are
imported when first used.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

_LAZY = {
    "Outcome": "vadkit.tracking.base",
    "Tracker": "vadkit.tracking.base",
    "TrackingWarning": "vadkit.tracking.base",
    "epoch_metrics": "vadkit.tracking.base",
    "evaluation_metrics": "vadkit.tracking.base",
    "step_metrics": "vadkit.tracking.base",
    "log_evaluation": "vadkit.tracking.build",
    "log_report": "vadkit.tracking.build",
    "require": "vadkit.tracking.build",
    "trackers_for": "vadkit.tracking.build",
}

if TYPE_CHECKING:
    from vadkit.tracking.base import (
        Outcome,
        Tracker,
        TrackingWarning,
        epoch_metrics,
        evaluation_metrics,
        step_metrics,
    )
    from vadkit.tracking.build import log_evaluation, log_report, require, trackers_for


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'vadkit.tracking' has no attribute {name!r}")


__all__ = [
    "Outcome",
    "Tracker",
    "TrackingWarning",
    "epoch_metrics",
    "evaluation_metrics",
    "log_evaluation",
    "log_report",
    "require",
    "step_metrics",
    "trackers_for",
]
