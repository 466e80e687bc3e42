"""Run folders: the model a config describes, its checkpoints, and loading them back.

Layout (every file written atomically)::

    RUN/config.toml                      the resolved config
    RUN/versions.json                    vadkit, python, torch and plugin versions
    RUN/metrics.jsonl                    one JSON object per logged step / epoch
    RUN/checkpoints/last.safetensors     weights; metadata "vadkit" = JSON model spec
    RUN/checkpoints/last.state.pt        optimizer + progress (torch.save; loaded weights_only)
    RUN/checkpoints/epoch_0005.safetensors

How checkpoints are saved atomically and loaded without running code is
:mod:`vadkit.runs.checkpoints`; its names are re-exported here.
"""

from __future__ import annotations

import json
import platform
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

from vadkit.config import Config, Settings, dumps_toml, load_toml, validate_config
from vadkit.errors import CheckpointError as CheckpointError
from vadkit.errors import ConfigError

# The run folder's checkpoints live in vadkit.runs.checkpoints; re-exported here.
from vadkit.runs.checkpoints import (
    CHECKPOINT_DIR as CHECKPOINT_DIR,
)
from vadkit.runs.checkpoints import (
    LAST as LAST,
)
from vadkit.runs.checkpoints import (
    PENDING as PENDING,
)
from vadkit.runs.checkpoints import (
    STATE_FORMAT as STATE_FORMAT,
)
from vadkit.runs.checkpoints import (
    STATE_SUFFIX as STATE_SUFFIX,
)
from vadkit.runs.checkpoints import (
    WEIGHTS_SUFFIX as WEIGHTS_SUFFIX,
)
from vadkit.runs.checkpoints import (
    Progress as Progress,
)
from vadkit.runs.checkpoints import (
    checkpoint_dir as checkpoint_dir,
)
from vadkit.runs.checkpoints import (
    checkpoint_path as checkpoint_path,
)
from vadkit.runs.checkpoints import (
    epoch_name as epoch_name,
)
from vadkit.runs.checkpoints import (
    load_training_checkpoint as load_training_checkpoint,
)
from vadkit.runs.checkpoints import (
    load_weights as load_weights,
)
from vadkit.runs.checkpoints import (
    read_state as read_state,
)
from vadkit.runs.checkpoints import (
    read_weights as read_weights,
)
from vadkit.runs.checkpoints import (
    recover_checkpoint as recover_checkpoint,
)
from vadkit.runs.checkpoints import (
    save_checkpoint as save_checkpoint,
)
from vadkit.runs.checkpoints import (
    state_path as state_path,
)
from vadkit.runs.checkpoints import (
    weights_bytes as weights_bytes,
)
from vadkit.runs.checkpoints import (
    weights_progress as weights_progress,
)
from vadkit.runs.checkpoints import (
    weights_spec as weights_spec,
)
from vadkit.storage.io import write_text

CONFIG_FILE = "config.toml"
VERSIONS_FILE = "versions.json"
METRICS_FILE = "metrics.jsonl"

if TYPE_CHECKING:
    from vadkit.model import VADModel


# -- the model a config describes ---------------------------------------------------------------
def clip_shape(config: Config) -> tuple[int, int, int, int]:
    """``(C, T, H, W)`` of the clips a run's model takes."""
    return Settings.from_config(config).clip_shape


def model_spec(config: Config) -> dict[str, Any]:
    """What identifies a model: backbone and tasks with their parameters, clip shape, version."""
    from vadkit._version import __version__

    return {
        "backbone": {"name": config["model"]["backbone"], "params": config["model"]["params"]},
        "tasks": [
            {"name": n, "params": config["tasks"]["params"].get(n, {})}
            for n in config["tasks"]["names"]
        ],
        "clip_shape": list(clip_shape(config)),
        "vadkit": __version__,
    }


def build_model(config: Config) -> VADModel:
    """The untrained :class:`~vadkit.model.VADModel` of a resolved config (seed torch first)."""
    from vadkit.config.params import build_component
    from vadkit.model import VADModel

    model = config["model"]
    backbone = build_component("backbones", model["backbone"], model["params"])
    tasks = {
        name: build_component("tasks", name, config["tasks"]["params"].get(name))
        for name in config["tasks"]["names"]
    }
    return VADModel(backbone, tasks, clip_shape(config))


# -- run folder files ---------------------------------------------------------------------------
def write_config(run_dir: str | Path, config: Config) -> Path:
    path = Path(run_dir) / CONFIG_FILE
    write_text(path, dumps_toml(config))
    return path


def read_config(run_dir: str | Path) -> Config:
    """The resolved config of a run, validated again (its components must still exist)."""
    path = Path(run_dir) / CONFIG_FILE
    if not path.is_file():
        raise ConfigError(
            f"'{run_dir}' is not a vadkit run folder: {path.name} is missing.",
            hint="Pass the folder that `vadkit train` wrote (its --out).",
        )
    raw = load_toml(path)
    try:
        return validate_config(raw)
    except ConfigError as exc:  # an unknown component (a RegistryError, wrapped by the config)
        missing = missing_plugins(run_dir) if "Unknown " in exc.message else []
        if not missing:
            raise
        from vadkit.plugins import missing_plugin_error

        raise missing_plugin_error(exc, missing, "run") from None


def versions(config: Config) -> dict[str, Any]:
    """Versions of vadkit, Python, torch and of each plugin whose components ``config`` uses."""
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
    resumed: list[dict[str, Any]] = list(recorded.get("resumed", []))
    latest = resumed[-1] if resumed else recorded
    if all(latest.get(key) == value for key, value in now.items()):
        return False
    recorded["resumed"] = [*resumed, {"from_epoch": epoch, **now}]
    write_text(path, json.dumps(recorded, indent=2) + "\n")
    return True


# -- a run that needs a plugin that is not loaded -----------------------------------------------
def missing_plugins(run_dir: str | Path) -> list[dict[str, Any]]:
    """Plugins that the run's ``versions.json`` records but that are not loaded now
    (:func:`vadkit.plugins.missing_plugins`)."""
    from vadkit.plugins import missing_plugins as not_loaded

    try:
        recorded = json.loads((Path(run_dir) / VERSIONS_FILE).read_text())
    except (OSError, ValueError):
        return []
    return not_loaded(recorded) if isinstance(recorded, dict) else []


# -- the shared entry point for scoring ---------------------------------------------------------
def load_model(
    run_dir: str | Path, *, checkpoint: str | int = LAST, device: str | torch.device = "cpu"
) -> tuple[Config, VADModel]:
    """The resolved config and trained model of a run (in eval mode, on ``device``).

    ``checkpoint`` is ``"last"``, an epoch number or name (``5``, ``"epoch_0005"``), or a path
    to a ``.safetensors`` file. Raises :class:`CheckpointError` when the file is missing, damaged
    or made for another model, and :class:`ConfigError` when the run's config is unusable.
    """
    config = read_config(run_dir)
    model = build_model(config)
    load_weights(checkpoint_path(run_dir, checkpoint), model, model_spec(config))
    model.to(device)
    model.eval()
    return config, model
