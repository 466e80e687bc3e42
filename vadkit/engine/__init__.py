"""The engine: device selection, run folders and checkpoints, training (plain torch).

Scoring and evaluation live beside it; the CLI only calls into these modules. Importing this
package is cheap: the names below are imported when first used.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from vadkit.engine.io import atomic_write

_LAZY = {
    "Runtime": "vadkit.engine.device",
    "build_model": "vadkit.engine.runs",
    "load_model": "vadkit.engine.runs",
    "Trainer": "vadkit.engine.train",
    "TrainStep": "vadkit.engine.train",
    "TrainingInterrupted": "vadkit.engine.train",
}

if TYPE_CHECKING:
    from vadkit.engine.device import Runtime
    from vadkit.engine.runs import build_model, load_model
    from vadkit.engine.train import Trainer, TrainingInterrupted, TrainStep


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'vadkit.engine' has no attribute {name!r}")


__all__ = [
    "Runtime",
    "TrainStep",
    "Trainer",
    "TrainingInterrupted",
    "atomic_write",
    "build_model",
    "load_model",
]
