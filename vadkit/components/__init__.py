"""The contracts every component implements.

Importing this package is cheap and needs no torch: the contracts built on torch (backbone,
batch, error measure, task) are imported when first used, so the torch-free runtime
(:mod:`vadkit.runtime`) can use the normalizer contract and :data:`SCORE_KEY`; the
pseudo-anomaly contract needs no torch either.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from vadkit.components.keys import SCORE_KEY
from vadkit.components.normalizer import ScoreNormalizer, supports_fit
from vadkit.components.pseudo import PseudoAnomaly, PseudoWindow
from vadkit.components.recipe import PublishedResult, Recipe

_LAZY = {
    "Backbone": "vadkit.components.backbone",
    "ClipShape": "vadkit.components.backbone",
    "Batch": "vadkit.components.base",
    "Features": "vadkit.components.base",
    "ErrorMeasure": "vadkit.components.error",
    "ProxyTask": "vadkit.components.task",
}

if TYPE_CHECKING:
    from vadkit.components.backbone import Backbone, ClipShape
    from vadkit.components.base import Batch, Features
    from vadkit.components.error import ErrorMeasure
    from vadkit.components.task import ProxyTask


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "SCORE_KEY",
    "Backbone",
    "Batch",
    "ClipShape",
    "ErrorMeasure",
    "Features",
    "ProxyTask",
    "PseudoAnomaly",
    "PseudoWindow",
    "PublishedResult",
    "Recipe",
    "ScoreNormalizer",
    "supports_fit",
]
