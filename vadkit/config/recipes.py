"""Recipes in settings: finding the one to start from, and the settings it gives."""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING

from vadkit.config.settings import Config
from vadkit.errors import ConfigError, RegistryError

if TYPE_CHECKING:
    from vadkit.components.recipe import Recipe


def load_recipe(name: str) -> Recipe:
    """The recipe registered as ``name`` (a :class:`ConfigError` naming the available ones)."""
    from vadkit.api import get_entry
    from vadkit.components.recipe import Recipe

    try:
        entry = get_entry("recipes", name)
    except RegistryError as exc:
        raise ConfigError(f"recipe: {exc.message}", hint=exc.hint) from None
    recipe = entry.create()
    if not isinstance(recipe, Recipe):
        raise ConfigError(
            f"The recipe '{name}' of plugin '{entry.plugin}' is a {type(recipe).__name__}, "
            "not a vadkit.components.Recipe.",
            hint=f"Fix the plugin '{entry.plugin}', or block it with --block {entry.plugin}.",
        )
    return recipe


def default_recipe(role: str) -> str | None:
    """The recipe that claims ``role`` (``"datasets"`` or ``"synthetic"``), None if none does."""
    from vadkit.api import get_entry, list_components

    claims = [n for n in list_components("recipes") if role in load_recipe(n).default_for]
    if len(claims) > 1:
        plugins = ", ".join(f"'{n}' ({get_entry('recipes', n).plugin})" for n in claims)
        raise ConfigError(
            f"Several recipes are the default for {role}: {plugins}.",
            hint="Name one with --recipe NAME, or block one of the plugins with --block NAME.",
        )
    return claims[0] if claims else None


def recipe_settings(name: str) -> Config:
    """The partial config a recipe gives: its settings, its presets and its name."""
    recipe = load_recipe(name)
    config: Config = copy.deepcopy(dict(recipe.settings))
    for table, value in config.items():
        if not isinstance(value, dict):
            raise ConfigError(
                f"The recipe '{name}' sets '{table}' to {value!r}; a recipe's settings are tables.",
                hint="Nest the settings as a TOML file is: data, model, tasks, train, score.",
            )
    if recipe.presets:
        score = config.setdefault("score", {})
        score["presets"] = {k: dict(v) for k, v in recipe.presets.items()}
    config["recipe"] = name
    return config
