"""Run settings: defaults, recipes, TOML files, dotted overrides, validation, typed settings.

Settings resolve in this order: the framework's defaults (:mod:`vadkit.config.settings`, which
name no component), then a recipe (``--recipe NAME``, or the recipe that claims the role: one for
datasets, one for the synthetic scene when no data is given), then ``--config FILE``, then each
``--set a.b=value`` (the value parsed as TOML, else kept as a string), then the named command-line
flags. :func:`validate_config` checks every key and value once and fills in what the components
decide (their constructor defaults, the task loss weights), so the resolved config written to a
run folder records every choice; :meth:`Settings.from_config` gives the typed view the engine
reads.

The constructor of a component is its configuration schema: ``model.params``,
``tasks.params.<name>``, ``score.error_params.<name>`` and ``score.normalizer_params.<name>`` are
bound against ``inspect.signature`` of the registered factory, and
:func:`vadkit.config.params.build_component` builds every configured component with them.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from vadkit.config.overrides import flatten, merge, parse_override, parse_value, set_dotted
from vadkit.config.params import coerce_params, component_params
from vadkit.config.recipes import default_recipe, load_recipe, recipe_settings
from vadkit.config.settings import (
    CHANNELS,
    COLORS,
    DEFAULTS,
    FRAME_MODES,
    OPEN_TABLES,
    PRECISION_CHOICES,
    Config,
    DataSettings,
    ModelSettings,
    ScoreSettings,
    Settings,
    TaskSettings,
    TrainSettings,
    default_config,
)
from vadkit.config.toml import dumps_toml, load_toml
from vadkit.config.validate import validate_config


def resolve_config(
    *,
    config_file: str | Path | None = None,
    overrides: Iterable[str] = (),
    flags: Mapping[str, Any] | None = None,
    base: Config | None = None,
    validate: bool = True,
) -> Config:
    """Defaults and recipe (or ``base``), then ``config_file``, ``--set`` items, ``flags``.

    ``flags`` maps dotted keys to values (``"recipe"`` names the recipe); a ``None`` value means
    the flag was not given. Without ``base``, the recipe is the one named by the flags, the
    config file or ``--set recipe=NAME``, else the default recipe for the data (datasets when
    ``data.root`` is set, the synthetic scene when not); with ``base`` (a run's own config) no
    recipe is applied again. The result is validated and completed by :func:`validate_config`
    unless ``validate=False``.
    """
    user: Config = {}
    if config_file is not None:
        user = merge(user, load_toml(config_file))
    for item in overrides:
        key, value = parse_override(item)
        set_dotted(user, key, value)
    for key, value in (flags or {}).items():
        if value is not None:
            set_dotted(user, key, value)
    if base is not None:
        config = merge(copy.deepcopy(base), user)
    else:
        name = user.get("recipe") or None
        if name is None:
            data = user.get("data")
            root = data.get("root") if isinstance(data, Mapping) else None
            name = default_recipe("datasets" if root else "synthetic")
        config = default_config()
        if name:
            recipe = recipe_settings(str(name))
            given = (
                user.get("model", {}).get("backbone")
                if isinstance(user.get("model"), Mapping)
                else None
            )
            if given and given != recipe.get("model", {}).get("backbone"):
                recipe.get("model", {}).pop("params", None)  # they are the recipe backbone's
            config = merge(config, recipe)
        config = merge(config, user)
    return validate_config(config) if validate else config


def resolve_settings(**kwargs: Any) -> Settings:
    """:func:`resolve_config`, typed."""
    return Settings.from_config(resolve_config(**kwargs))


__all__ = [
    "CHANNELS",
    "COLORS",
    "DEFAULTS",
    "FRAME_MODES",
    "OPEN_TABLES",
    "PRECISION_CHOICES",
    "Config",
    "DataSettings",
    "ModelSettings",
    "ScoreSettings",
    "Settings",
    "TaskSettings",
    "TrainSettings",
    "coerce_params",
    "component_params",
    "default_config",
    "default_recipe",
    "dumps_toml",
    "flatten",
    "load_recipe",
    "load_toml",
    "merge",
    "parse_override",
    "parse_value",
    "recipe_settings",
    "resolve_config",
    "resolve_settings",
    "set_dotted",
    "validate_config",
]
