"""``RUN/versions.json``: the versions a run was trained with, and the plugins it needs.

The file records vadkit, Python, torch and each plugin whose components the run uses (with the
pip distribution that provides it), and, after a ``--resume`` under other versions, those with
the epoch it resumed from. Loading a run names a plugin it needs that is not loaded here, with the
``pip install`` that brings it back (:func:`missing_plugin_error`), and warns when a plugin it
uses is loaded here in another version than the run last trained with (:func:`changed_plugins`).
"""

from __future__ import annotations

import json
import platform
from pathlib import Path
from typing import Any

from vadkit.config import Config
from vadkit.runs.layout import VERSIONS_FILE
from vadkit.storage.io import write_text


def versions(config: Config) -> dict[str, Any]:
    """Versions of vadkit, Python, torch and of each plugin whose components ``config`` uses."""
    import torch

    from vadkit._version import __version__
    from vadkit.api import get_entry
    from vadkit.plugins import get_host

    used = [
        get_entry("backbones", config["model"]["backbone"]),
        *(get_entry("tasks", n) for n in config["tasks"]["names"]),
        get_entry("normalizers", config["score"]["normalizer"]),
    ]
    if config["score"]["error"]:
        used.append(get_entry("errors", config["score"]["error"]))
    if config.get("recipe"):
        used.append(get_entry("recipes", config["recipe"]))
    used.extend(get_entry("trackers", n) for n in config["train"].get("track", []))
    infos = get_host().plugins
    names = sorted({e.plugin for e in used})
    return {
        "vadkit": __version__,
        "python": platform.python_version(),
        "torch": torch.__version__,
        "plugins": {n: (infos[n].version if n in infos else None) for n in names},
        "distributions": {n: (infos[n].distribution if n in infos else None) for n in names},
    }


def write_versions(run_dir: str | Path, config: Config) -> Path:
    path = Path(run_dir) / VERSIONS_FILE
    write_text(path, json.dumps(versions(config), indent=2) + "\n")
    return path


def read_versions(run_dir: str | Path) -> dict[str, Any] | None:
    try:
        recorded = json.loads((Path(run_dir) / VERSIONS_FILE).read_text())
    except (OSError, ValueError):
        return None
    return recorded if isinstance(recorded, dict) else None


def _latest(recorded: dict[str, Any]) -> dict[str, Any]:
    """The versions the run last trained with (its last resume's, else the first session's)."""
    resumed = recorded.get("resumed") or []
    return resumed[-1] if resumed and isinstance(resumed[-1], dict) else recorded


def record_resume_versions(run_dir: str | Path, config: Config, epoch: int) -> bool:
    """On ``--resume`` from ``epoch``: when the versions now differ from those the run last
    trained with, append them with that epoch to ``versions.json``'s ``"resumed"`` list (the
    first session's versions stay at the top). Returns whether the file changed."""
    path = Path(run_dir) / VERSIONS_FILE
    if not path.is_file():  # a run from before versions.json: start it now
        write_versions(run_dir, config)
        return True
    recorded: dict[str, Any] = json.loads(path.read_text())
    now = versions(config)
    if all(_latest(recorded).get(key) == value for key, value in now.items()):
        return False
    resumed: list[dict[str, Any]] = list(recorded.get("resumed", []))
    recorded["resumed"] = [*resumed, {"from_epoch": epoch, **now}]
    write_text(path, json.dumps(recorded, indent=2) + "\n")
    return True


def changed_plugins(run_dir: str | Path) -> list[str]:
    """The plugins the run last trained with that are loaded here in another version, each as
    ``"'NAME' 0.1.0 (0.2.0 here)"`` (none for a run without ``versions.json``)."""
    from vadkit.plugins import get_host

    recorded = read_versions(run_dir)
    if recorded is None:
        return []
    loaded = get_host().plugins
    return [
        f"'{name}' {version} ({loaded[name].version} here)"
        for name, version in sorted((_latest(recorded).get("plugins") or {}).items())
        if version and name in loaded and loaded[name].version not in (None, version)
    ]
