"""Reading and writing the TOML files of configs and run folders (stdlib ``tomllib``)."""

from __future__ import annotations

import json
import math
import re
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from vadkit.config.settings import Config
from vadkit.errors import ConfigError


def load_toml(path: str | Path) -> Config:
    """Read a TOML file; a missing or malformed file is a :class:`ConfigError` naming it."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(
            f"Config file '{p}' does not exist.", hint="Check the path given to --config."
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(
            f"Config file '{p}' cannot be read: {exc}", hint="Pass a UTF-8 TOML file."
        ) from None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(
            f"Config file '{p}' is not valid TOML: {exc}",
            hint='Fix the line named above; strings need quotes, e.g. backbone = "NAME".',
        ) from None


_BARE_KEY = re.compile(r"^[A-Za-z0-9_-]+$")


def _toml_key(key: str) -> str:
    return key if _BARE_KEY.match(key) else json.dumps(key)


def _toml_value(value: Any, where: str) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        text = repr(value)
        return text if any(c in text for c in ".en") else f"{text}.0"
    if isinstance(value, str):
        return json.dumps(value)  # a JSON string is a valid TOML basic string
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_toml_value(v, where) for v in value) + "]"
    if isinstance(value, Mapping):
        inner = ", ".join(f"{_toml_key(k)} = {_toml_value(v, where)}" for k, v in value.items())
        return "{" + inner + "}"
    raise ConfigError(
        f"{where} = {value!r} cannot be written to TOML.",
        hint="Config values are strings, numbers, booleans, lists or tables.",
    )


def dumps_toml(config: Mapping[str, Any]) -> str:
    """Serialise a nested dict to TOML (tables as ``[a.b]`` sections, in insertion order)."""
    lines: list[str] = []

    def table(prefix: str, data: Mapping[str, Any]) -> None:
        scalars = [(k, v) for k, v in data.items() if not isinstance(v, Mapping)]
        tables = [(k, v) for k, v in data.items() if isinstance(v, Mapping)]
        if prefix:
            if lines:
                lines.append("")
            lines.append(f"[{prefix}]")
        for k, v in scalars:
            if v is None:
                continue
            lines.append(f"{_toml_key(k)} = {_toml_value(v, f'{prefix}.{k}'.strip('.'))}")
        for k, v in tables:
            table(f"{prefix}.{_toml_key(k)}" if prefix else _toml_key(k), v)

    table("", config)
    return "\n".join(lines) + "\n"
