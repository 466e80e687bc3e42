"""Deep merges and ``--set a.b=value`` overrides."""

from __future__ import annotations

import copy
import json
import tomllib
from collections.abc import Mapping
from typing import Any

from vadkit.config.settings import Config
from vadkit.errors import ConfigError


def merge(base: Config, update: Mapping[str, Any]) -> Config:
    """Deep-merge ``update`` into a copy of ``base`` (tables merge, other values replace)."""
    out = copy.deepcopy(base)
    for key, value in update.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def parse_value(text: str) -> Any:
    """A ``--set`` value: TOML (``32``, ``1e-4``, ``true``, ``[64, 64]``, ``"x"``), else the text."""
    try:
        return tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        return text


def parse_override(item: str) -> tuple[str, Any]:
    """``"train.batch_size=32"`` -> ``("train.batch_size", 32)``."""
    key, sep, value = item.partition("=")
    key = key.strip()
    if not sep or not key or any(not part for part in key.split(".")):
        raise ConfigError(
            f"--set {item!r} is not of the form key=value.",
            hint="Write the dotted key, '=', and the value, e.g. --set train.batch_size=32",
        )
    return key, parse_value(value.strip())


def parse_component_params(items: list[str], flag: str, example: str) -> dict[str, dict[str, Any]]:
    """``NAME.PARAM=VALUE`` items (``flag``, e.g. ``--param noise.std=4``, repeated) as a table
    per component: ``{"noise": {"std": 4}}``. ``example`` is one valid item, for the hint."""
    out: dict[str, dict[str, Any]] = {}
    for item in items:
        key, value = parse_override(item)
        name, _, param = key.partition(".")
        if not param or "." in param:
            raise ConfigError(
                f"{flag} {item!r} is not of the form NAME.PARAM=VALUE.",
                hint=f"For example: {flag} {example}",
            )
        out.setdefault(name, {})[param] = value
    return out


def set_dotted(config: Config, key: str, value: Any) -> None:
    """Set ``config[a][b] = value`` for ``key = "a.b"``, creating tables on the way."""
    node = config
    parts = key.split(".")
    for i, part in enumerate(parts[:-1]):
        child = node.get(part)
        if child is None:
            child = node[part] = {}
        elif not isinstance(child, dict):
            prefix = ".".join(parts[: i + 1])
            raise ConfigError(
                f"Cannot set '{key}': '{prefix}' is a value ({child!r}), not a table.",
                hint=f"Set '{prefix}' itself, e.g. --set {prefix}=...",
            )
        node = child
    node[parts[-1]] = value


#: A value of a flattened config: what experiment trackers take as a parameter.
Scalar = str | int | float | bool


def flatten(config: Mapping[str, Any], prefix: str = "") -> dict[str, Scalar]:
    """Every leaf of ``config`` under its dotted key (``{"train.lr": 0.0001, ...}``): the inverse
    of :func:`set_dotted`. Lists become their JSON text (``"[32, 32]"``); empty tables vanish."""
    out: dict[str, Scalar] = {}
    for key, value in config.items():
        dotted = f"{prefix}{key}"
        if isinstance(value, Mapping):
            out.update(flatten(value, f"{dotted}."))
        elif isinstance(value, str | int | float | bool):
            out[dotted] = value
        else:
            out[dotted] = json.dumps(value)
    return out
