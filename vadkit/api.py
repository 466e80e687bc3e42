"""``create_<kind>`` and ``list_<kind>`` for every component registry."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from vadkit.plugins import get_host
from vadkit.registry import Entry

if TYPE_CHECKING:
    from vadkit.components import (
        Backbone,
        ErrorMeasure,
        ProxyTask,
        PseudoAnomaly,
        ScoreNormalizer,
    )
    from vadkit.data.formats import DatasetFormat

Patterns = str | Iterable[str]


def get_entry(kind: str, name: str) -> Entry[Any]:
    """The registry entry of component ``name`` of ``kind`` (raises RegistryError if unknown)."""
    return get_host().registry(kind).get(name)


def list_components(kind: str, include: Patterns = "*", exclude: Patterns = ()) -> list[str]:
    """Names of the components of ``kind`` that match ``include`` and not ``exclude``."""
    return get_host().registry(kind).names(include, exclude)


def create_component(kind: str, name: str, **params: Any) -> Any:
    return get_host().registry(kind).create(name, **params)


def create_backbone(name: str, **params: Any) -> Backbone:
    """Build the backbone registered as ``name``, e.g. ``create_backbone("cae3d")``."""
    return create_component("backbones", name, **params)


def create_task(name: str, **params: Any) -> ProxyTask:
    """Build the proxy task registered as ``name``, e.g. ``create_task("ffp")``."""
    return create_component("tasks", name, **params)


def create_error(name: str, **params: Any) -> ErrorMeasure:
    """Build the error measure registered as ``name``, e.g. ``create_error("bpe")``."""
    return create_component("errors", name, **params)


def create_normalizer(name: str, **params: Any) -> ScoreNormalizer:
    """Build the score normalizer registered as ``name``, e.g. ``create_normalizer("robust")``."""
    return create_component("normalizers", name, **params)


def create_dataset(name: str, **params: Any) -> DatasetFormat:
    """Build the dataset format registered as ``name``."""
    return create_component("datasets", name, **params)


def create_pseudo_anomaly(name: str, **params: Any) -> PseudoAnomaly:
    """Build the pseudo-anomaly registered as ``name``, e.g. ``create_pseudo_anomaly("blur")``."""
    return create_component("pseudo_anomalies", name, **params)


def list_backbones(include: Patterns = "*", exclude: Patterns = ()) -> list[str]:
    return list_components("backbones", include, exclude)


def list_tasks(include: Patterns = "*", exclude: Patterns = ()) -> list[str]:
    return list_components("tasks", include, exclude)


def list_errors(include: Patterns = "*", exclude: Patterns = ()) -> list[str]:
    return list_components("errors", include, exclude)


def list_normalizers(include: Patterns = "*", exclude: Patterns = ()) -> list[str]:
    return list_components("normalizers", include, exclude)


def list_datasets(include: Patterns = "*", exclude: Patterns = ()) -> list[str]:
    return list_components("datasets", include, exclude)


def list_recipes(include: Patterns = "*", exclude: Patterns = ()) -> list[str]:
    return list_components("recipes", include, exclude)


def list_trackers(include: Patterns = "*", exclude: Patterns = ()) -> list[str]:
    return list_components("trackers", include, exclude)


def list_pseudo_anomalies(include: Patterns = "*", exclude: Patterns = ()) -> list[str]:
    return list_components("pseudo_anomalies", include, exclude)
