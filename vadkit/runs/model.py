"""The model a resolved config describes: its clip shape, its spec and the untrained model.

The spec (backbone and tasks with their parameters, clip shape) is stored in every weights file a
run saves and compared with the config's when the file is loaded
(:func:`vadkit.runs.checkpoints.load_weights`): weights made for another model are refused.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from vadkit.config import Config, Settings

if TYPE_CHECKING:
    from vadkit.model import VADModel


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
