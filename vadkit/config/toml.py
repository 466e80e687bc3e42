"""Reading and writing the TOML files of configs and run folders: read with the standard
library's ``tomllib``, written with ``tomli-w`` (imported when a file is written: the light
install that only scores bundles reads configs and writes none)."""

from __future__ import annotations

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


#: Leaf values a config holds (None: not set, left out of the file).
_LEAVES = (bool, int, float, str)


def _plain(value: Any, where: str) -> Any:
    """``value`` as TOML can hold it: tables without their None values (TOML has no null; a key
    left out reads back as not set), lists as lists. Anything else is a :class:`ConfigError`
    naming the key, before a byte is written."""
    if isinstance(value, Mapping):
        out = {}
        for key, item in value.items():
            if not isinstance(key, str):
                raise ConfigError(
                    f"{where or 'The config'} has the key {key!r}, which is not text.",
                    hint="Config keys are strings.",
                )
            if item is not None:
                out[key] = _plain(item, f"{where}.{key}" if where else key)
        return out
    if isinstance(value, list | tuple):
        return [_plain(item, where) for item in value]
    if isinstance(value, _LEAVES):
        return value
    raise ConfigError(
        f"{where} = {value!r} cannot be written to TOML.",
        hint="Config values are strings, numbers, booleans, lists or tables.",
    )


def _one_line_arrays(text: str) -> str:
    """tomli-w writes every array one item per line; a config reads better with ``[64, 64]``.
    Its strings never hold a raw line break (it escapes them), so every line break between
    ``[`` / ``,`` and the next item is the array's layout, and is joined."""
    text = re.sub(r"\[\n\s*", "[", text)
    text = re.sub(r",\n\s*\]", "]", text)
    return re.sub(r",\n\s*", ", ", text)


def toml_value(value: Any, where: str = "value") -> str:
    """One value as TOML writes it on one line (``64``, ``"bpe"``, ``[64, 64]``, ``{a = 1}``),
    e.g. for a ``--set KEY=VALUE`` hint."""
    import tomli_w

    plain = _plain(value, where)
    if isinstance(plain, dict):  # alone, a table would be a [section]: written inline here
        items = (f"{_key(k)} = {toml_value(v, f'{where}.{k}')}" for k, v in plain.items())
        return "{" + ", ".join(items) + "}"
    return _one_line_arrays(tomli_w.dumps({"v": plain})).strip()[len("v = ") :]


def _key(key: str) -> str:
    """``key`` as tomli-w writes a key: bare when it can be, else quoted."""
    import tomli_w

    return tomli_w.dumps({key: 0})[: -len(" = 0\n")]


def dumps_toml(config: Mapping[str, Any]) -> str:
    """Serialise a nested dict to TOML with tomli-w (tables as ``[a.b]`` sections, in insertion
    order; None values left out; arrays on one line). Any text round-trips, e.g. a path with
    characters outside the Basic Multilingual Plane (they are written as they are)."""
    import tomli_w

    return _one_line_arrays(tomli_w.dumps(_plain(config, "")))
