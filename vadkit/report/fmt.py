"""How the report writes values into its HTML tables (every value escaped by the caller)."""

from __future__ import annotations

from collections.abc import Sequence
from html import escape
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from vadkit.evaluation.result import EvalProtocol


def fmt(value: Any, digits: int = 4) -> str:
    """A value as text: floats to ``digits`` decimals, tables as ``k=v`` lists, None as ``-``."""
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    if isinstance(value, dict):
        return ", ".join(f"{k}={fmt(v, 3)}" for k, v in value.items())
    if isinstance(value, list | tuple):
        return ", ".join(fmt(v, 3) for v in value)
    return str(value)


def cells(values: Sequence[Any], tag: str = "td") -> str:
    """Table cells of ``values`` (formatted by :func:`fmt`, escaped)."""
    return "".join(f"<{tag}>{escape(fmt(v))}</{tag}>" for v in values)


def score_label(key: str, protocol: EvalProtocol) -> str:
    """How a row of the evaluation is named: ``fused``, or ``vcr alone (bpe)`` for a task
    whose score is an error measure."""
    if key == "fused":
        return "fused"
    label = f"{key} alone"
    if key in protocol.error_tasks:
        label += f" ({protocol.error})"
    return label


def setting_text(value: Any) -> str:
    """A setting as ``--set`` would take it: ``[256, 256]``, ``robust``, ``0.0001``; a table
    as ``vcr=0.1, ffp=0.8``; ``-`` when the run has none."""
    if value is None:
        return "-"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, list | tuple):
        return "[" + ", ".join(setting_text(v) for v in value) + "]"
    if isinstance(value, dict):
        return ", ".join(f"{k}={setting_text(v)}" for k, v in value.items())
    return str(value)
