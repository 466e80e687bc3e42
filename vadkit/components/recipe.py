"""The recipe contract: a method's settings, named and documented beside its components."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

#: When a recipe is used without being named: ``"datasets"`` when data is given, ``"synthetic"``
#: when the run trains on vadkit's synthetic scene (no data).
DEFAULT_ROLES = ("datasets", "synthetic")


@dataclass(frozen=True)
class Recipe:
    """A named set of defaults that make a method work: what ``vadkit train --recipe`` starts from.

    A plugin registers a function that returns a Recipe (``register_recipes``); the function's
    docstring documents it (``vadkit describe recipes NAME``). A run records the recipe it started
    from; settings resolve as: the framework's defaults, then the recipe, then the config file,
    ``--set`` items and flags.

    Attributes:
        settings: a partial config, nested as a TOML file is (tables ``data``, ``model``,
            ``tasks``, ``train``, ``score``): backbone and its parameters, tasks with their loss
            weights and parameters, error measure, normalizer, frame size, clip length, ...
        presets: fusion weights by name (``vadkit evaluate --alphas NAME``), e.g. the weights a
            paper found for each dataset: ``{"ped2": {"vcr": 0.1, "ffp": 0.8, "prp": 1.0}}``.
        default_for: the roles in :data:`DEFAULT_ROLES` in which the recipe is used when none is
            named. At most one recipe of all plugins may claim each role.
    """

    settings: Mapping[str, Any]
    presets: Mapping[str, Mapping[str, float]] = field(default_factory=dict)
    default_for: tuple[str, ...] = ()
