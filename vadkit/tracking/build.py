"""The trackers of a run: built from its config for training, and told of its evaluation and
report afterwards.

A run records the trackers it logs to in its config (``train.track``, parameters in
``[train.track_params.NAME]``), so the commands that come after training find them there:
``vadkit evaluate`` logs the evaluation and ``vadkit report`` the page to the same trackers, in
the same record of the run (:func:`log_evaluation`, :func:`log_report`). A tracker whose package
is missing stops training before it starts (:func:`trackers_for`); after training, it is one
warning (the evaluation and the report are written all the same).
"""

from __future__ import annotations

import importlib.util
import json
import warnings
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from vadkit.api import get_entry
from vadkit.config.params import coerce_params
from vadkit.config.settings import Config
from vadkit.config.toml import load_toml
from vadkit.errors import ConfigError, PluginError, VadkitError
from vadkit.runs.layout import CONFIG_FILE, METRICS_FILE
from vadkit.tracking.base import Tracker, TrackingWarning


def missing_package(module: str) -> bool:
    """Whether ``module`` cannot be imported here (found without importing it)."""
    try:
        return importlib.util.find_spec(module) is None
    except (ImportError, ValueError):
        return True


def require(name: str, factory: Callable[..., Any]) -> None:
    """A :class:`~vadkit.errors.ConfigError` naming the install when a module that tracker
    ``name`` needs (its ``requires``) is not installed."""
    requires: Mapping[str, str] = getattr(factory, "requires", {}) or {}
    for module, install in requires.items():
        if missing_package(module):
            raise ConfigError(
                f"The tracker '{name}' needs the package '{module}', which is not installed: "
                f"{install}",
                hint=f"Install it, or leave '{name}' out of --track and train.track.",
            )


def trackers_for(config: Config) -> list[Tracker]:
    """The trackers ``train.track`` names, built with ``[train.track_params.NAME]``.

    Raises :class:`~vadkit.errors.ConfigError` when a tracker's package is missing (before
    anything is trained) and :class:`~vadkit.errors.PluginError` when a plugin's factory does
    not build a :class:`Tracker`.
    """
    train = config.get("train") or {}
    params = train.get("track_params") or {}
    trackers = []
    for name in train.get("track") or []:
        entry = get_entry("trackers", name)
        factory = entry.load()
        require(name, factory)
        tracker = entry.create(**coerce_params(factory, params.get(name) or {}))
        if not isinstance(tracker, Tracker):
            raise PluginError(
                f"The tracker '{name}' of plugin '{entry.plugin}' is a "
                f"{type(tracker).__name__}, not a vadkit.tracking.Tracker.",
                hint=f"Fix the plugin '{entry.plugin}', or leave '{name}' out of --track.",
            )
        tracker.name = name
        trackers.append(tracker)
    return trackers


def last_step(run_dir: Path) -> int:
    """The last step the run trained, from its ``metrics.jsonl`` (0 when it has none)."""
    path = Path(run_dir) / METRICS_FILE
    step = 0
    if path.is_file():
        for line in path.read_text(encoding="utf-8").splitlines():
            try:
                record = json.loads(line)
            except json.JSONDecodeError:
                continue
            if isinstance(record, dict) and isinstance(record.get("step"), int):
                step = max(step, record["step"])
    return step


def _recorded(run_dir: Path) -> Config | None:
    """The run's config when it names trackers (None for a run without any, or no run)."""
    path = Path(run_dir) / CONFIG_FILE
    if not path.is_file():
        return None
    config = load_toml(path)
    return config if (config.get("train") or {}).get("track") else None


def _tell(run_dir: Path, what: str, action: Callable[[Tracker, int], None]) -> None:
    """Open each of the run's trackers on its existing record, do ``action(tracker, step)``
    and close it; a problem is one warning per tracker (what was written stays written)."""
    run_dir = Path(run_dir)
    config = _recorded(run_dir)
    if config is None:
        return
    try:
        trackers = trackers_for(config)
    except VadkitError as exc:
        hint = f" {exc.hint}" if exc.hint else ""
        warnings.warn(
            TrackingWarning(
                f"The {what} was not logged to the run's trackers: {exc.message}{hint}"
            ),
            stacklevel=3,
        )
        return
    step = last_step(run_dir)
    for tracker in trackers:
        try:
            tracker.start(run_dir, config, training=False)
        except VadkitError as exc:
            warnings.warn(
                TrackingWarning(f"The {what} was not logged to '{tracker.label}': {exc.message}"),
                stacklevel=3,
            )
            continue
        tracker.guard(f"log the {what}", action, tracker, step)
        tracker.stop(None)


def log_evaluation(run_dir: str | Path, evaluation: Mapping[str, Any], path: str | Path) -> None:
    """Log an evaluation of the run (written to ``path``) to the trackers it trained with."""
    _tell(
        Path(run_dir),
        "evaluation",
        lambda tracker, step: tracker.log_evaluation(evaluation, Path(path), step),
    )


def log_report(run_dir: str | Path, path: str | Path) -> None:
    """Log a report page of the run to the trackers it trained with."""
    _tell(Path(run_dir), "report", lambda tracker, step: tracker.log_report(Path(path)))
