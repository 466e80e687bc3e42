"""vadkit: a plugin-based framework for video anomaly detection.

Importing vadkit is cheap: torch and the components are imported when first used.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from vadkit import _compat
from vadkit._version import __version__
from vadkit.api import (
    create_backbone,
    create_component,
    create_dataset,
    create_error,
    create_normalizer,
    create_pseudo_anomaly,
    create_task,
    get_entry,
    list_backbones,
    list_components,
    list_datasets,
    list_errors,
    list_normalizers,
    list_pseudo_anomalies,
    list_recipes,
    list_tasks,
    list_trackers,
)
from vadkit.errors import (
    CheckpointError,
    ConfigError,
    DataError,
    PluginError,
    RegistryError,
    VadkitError,
)
from vadkit.hookspecs import hookimpl, hookspec
from vadkit.plugins import KINDS, configure, get_host

_compat.install()  # the import paths of vadkit 0.1 (vadkit.engine.*), deprecated

_LAZY = {
    "Backbone": "vadkit.components",
    "Batch": "vadkit.components",
    "ErrorMeasure": "vadkit.components",
    "Features": "vadkit.components",
    "ProxyTask": "vadkit.components",
    "PseudoAnomaly": "vadkit.components",
    "SCORE_KEY": "vadkit.components",
    "ScoreNormalizer": "vadkit.components",
    "Recipe": "vadkit.components",
    "PublishedResult": "vadkit.components",
    "VADModel": "vadkit.model",
    "Settings": "vadkit.config",
    "Tracker": "vadkit.tracking",
    "train": "vadkit.workflow",
    "load": "vadkit.workflow",
    "Run": "vadkit.workflow",
    "Detector": "vadkit.workflow",
}

if TYPE_CHECKING:
    from vadkit.components import (
        SCORE_KEY,
        Backbone,
        Batch,
        ErrorMeasure,
        Features,
        ProxyTask,
        PseudoAnomaly,
        PublishedResult,
        Recipe,
        ScoreNormalizer,
    )
    from vadkit.config import Settings
    from vadkit.model import VADModel
    from vadkit.tracking import Tracker
    from vadkit.workflow import Detector, Run, load, train


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'vadkit' has no attribute {name!r}")


__all__ = [
    "KINDS",
    "SCORE_KEY",
    "Backbone",
    "Batch",
    "CheckpointError",
    "ConfigError",
    "DataError",
    "Detector",
    "ErrorMeasure",
    "Features",
    "PluginError",
    "ProxyTask",
    "PseudoAnomaly",
    "PublishedResult",
    "Recipe",
    "RegistryError",
    "Run",
    "ScoreNormalizer",
    "Settings",
    "Tracker",
    "VADModel",
    "VadkitError",
    "__version__",
    "configure",
    "create_backbone",
    "create_component",
    "create_dataset",
    "create_error",
    "create_normalizer",
    "create_pseudo_anomaly",
    "create_task",
    "get_entry",
    "get_host",
    "hookimpl",
    "hookspec",
    "list_backbones",
    "list_components",
    "list_datasets",
    "list_errors",
    "list_normalizers",
    "list_pseudo_anomalies",
    "list_recipes",
    "list_tasks",
    "list_trackers",
    "load",
    "train",
]
