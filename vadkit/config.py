"""Run configuration: TOML files, dotted overrides, and validation against the components.

A config is a nested dict with the tables ``data``, ``model``, ``tasks``, ``train`` and
``score`` (see :data:`DEFAULTS`). Settings resolve in this order: the defaults here, then
``--config FILE``, then each ``--set a.b=value`` (the value parsed as TOML, else kept as a
string), then the named command-line flags. :func:`validate_config` checks every key and value
and fills in what the components decide (their constructor defaults, the task loss weights), so
the resolved config written to a run folder records every choice.

The constructor of a component is its configuration schema: ``model.params`` and
``tasks.params.<name>`` are bound against ``inspect.signature`` of the registered factory.
"""

from __future__ import annotations

import copy
import difflib
import inspect
import json
import math
import re
import tomllib
import typing
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

from vadkit.errors import ConfigError, RegistryError

Config = dict[str, Any]

DEFAULTS: Config = {
    "data": {
        "root": "",  # empty: the synthetic default scene
        "format": "",  # empty: detect
        "size": [256, 256],
        "color": "gray",
        "clip_length": 16,
        "stride": 1,
        "labels": "",  # empty: detect next to the data
    },
    "model": {"backbone": "cae3d", "params": {}},
    "tasks": {"names": ["vcr", "ffp", "prp"], "weights": {}, "params": {}},
    "train": {
        "epochs": 60,
        "batch_size": 16,
        "lr": 1e-4,
        "seed": 0,
        "device": "auto",
        "precision": "auto",
        "channels_last": True,
        "workers": 0,
        "save_every": 1,
        "checkpoint_steps": 50,
        "log_steps": 10,
        "deterministic": True,
    },
    "score": {
        "error": "bpe",
        "normalizer": "minmax",
        "alphas": {},
        "frames": "protocol",
        "batch_size": 32,
        "precision": "auto",
        "smooth": 0.0,
    },
}

#: Tables whose keys are free (component parameters, per-task numbers); all others are fixed.
OPEN_TABLES = frozenset({"model.params", "tasks.weights", "tasks.params", "score.alphas"})

COLORS = ("gray", "rgb")
#: Channels per frame for each ``data.color``.
CHANNELS = {"gray": 1, "rgb": 3}
FRAME_MODES = ("protocol", "all")
PRECISION_CHOICES = ("auto", "fp32", "bf16", "fp16")


def default_config() -> Config:
    """A fresh copy of :data:`DEFAULTS`."""
    return copy.deepcopy(DEFAULTS)


# -- reading and writing TOML -------------------------------------------------------------------
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
            hint='Fix the line named above; strings need quotes, e.g. backbone = "cae3d".',
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


# -- merging and overrides ----------------------------------------------------------------------
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


def resolve_config(
    *,
    config_file: str | Path | None = None,
    overrides: Iterable[str] = (),
    flags: Mapping[str, Any] | None = None,
    base: Config | None = None,
    validate: bool = True,
) -> Config:
    """Defaults (or ``base``), then ``config_file``, then ``--set`` items, then ``flags``.

    ``flags`` maps dotted keys to values; a ``None`` value means the flag was not given.
    The result is validated and completed by :func:`validate_config` unless ``validate=False``.
    """
    config = copy.deepcopy(base) if base is not None else default_config()
    if config_file is not None:
        config = merge(config, load_toml(config_file))
    for item in overrides:
        key, value = parse_override(item)
        set_dotted(config, key, value)
    for key, value in (flags or {}).items():
        if value is not None:
            set_dotted(config, key, value)
    return validate_config(config) if validate else config


# -- validation ---------------------------------------------------------------------------------
def _suggest(name: str, options: Iterable[str]) -> str:
    close = difflib.get_close_matches(name, list(options), n=1, cutoff=0.6)
    return f"Did you mean '{close[0]}'? " if close else ""


def _unknown_keys(config: Mapping[str, Any], schema: Mapping[str, Any], prefix: str = "") -> None:
    for key, value in config.items():
        dotted = f"{prefix}{key}"
        if key not in schema:
            table = prefix.rstrip(".") or "the top level"
            raise ConfigError(
                f"Unknown config key '{dotted}'.",
                hint=f"{_suggest(key, schema)}Keys of {table}: {', '.join(schema)}.",
            )
        if dotted in OPEN_TABLES:
            if not isinstance(value, Mapping):
                raise ConfigError(
                    f"Config key '{dotted}' must be a table, not {value!r}.",
                    hint=f"Write it as [{dotted}] with keys below, or --set {dotted}.NAME=VALUE",
                )
            continue
        if isinstance(schema[key], Mapping):
            if not isinstance(value, Mapping):
                raise ConfigError(
                    f"Config key '{dotted}' must be a table, not {value!r}.",
                    hint=f"Set its keys instead, e.g. --set {dotted}.{next(iter(schema[key]))}=...",
                )
            _unknown_keys(value, schema[key], f"{dotted}.")


def _type_name(value: Any) -> str:
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    return type(value).__name__


def _check_scalar(key: str, value: Any, default: Any) -> Any:
    """Check ``value`` has the type of ``default`` (ints are accepted for floats)."""
    ok = (
        isinstance(value, bool)
        if isinstance(default, bool)
        else (isinstance(value, int) and not isinstance(value, bool))
        if isinstance(default, int)
        else (isinstance(value, int | float) and not isinstance(value, bool))
        if isinstance(default, float)
        else isinstance(value, str)
        if isinstance(default, str)
        else True
    )
    if not ok:
        raise ConfigError(
            f"Config key '{key}' must be {_type_name(default)}, not {value!r}.",
            hint=f"For example: --set {key}={_toml_value(default, key)}",
        )
    if isinstance(default, float) and not math.isfinite(value):
        raise ConfigError(
            f"Config key '{key}' must be a finite number, not {value!r}.",
            hint=f"For example: --set {key}={_toml_value(default, key)}",
        )
    return float(value) if isinstance(default, float) else value


def _check_min(key: str, value: float, low: float, strict: bool = False) -> None:
    if value < low or (strict and value == low):
        bound = f"greater than {low}" if strict else f"at least {low}"
        example = DEFAULTS.get(key.split(".")[0], {}).get(key.split(".")[-1], low)
        raise ConfigError(
            f"Config key '{key}' must be {bound}, not {value}.",
            hint=f"For example: --set {key}={_toml_value(example, key)}",
        )


def _check_choice(key: str, value: str, choices: Iterable[str]) -> None:
    options = list(choices)
    if value not in options:
        raise ConfigError(
            f"Config key '{key}' = {value!r} is not one of {', '.join(repr(o) for o in options)}.",
            hint=f"{_suggest(value, options)}For example: --set {key}={options[0]}",
        )


def _entry(kind: str, name: Any, key: str) -> Any:
    """The registry entry for ``name``; unknown names become a ConfigError naming ``key``."""
    from vadkit.api import get_entry

    if not isinstance(name, str):
        raise ConfigError(
            f"Config key '{key}' must be a name, not {name!r}.",
            hint=f"See the names with: vadkit list {kind}",
        )
    try:
        return get_entry(kind, name)
    except RegistryError as exc:
        raise ConfigError(f"{key}: {exc.message}", hint=exc.hint) from None


def _hints(factory: Callable[..., Any]) -> dict[str, Any]:
    target = factory.__init__ if inspect.isclass(factory) else factory
    try:
        return typing.get_type_hints(target)
    except Exception:  # unresolvable annotations: skip the type checks
        return {}


def _accepts(annotation: Any, value: Any) -> bool:
    """Whether ``value`` (read from TOML) fits a simple ``annotation``; unknown kinds pass."""
    if annotation is Any:
        return True
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, getattr(__import__("types"), "UnionType", None)):
        return any(_accepts(a, value) for a in typing.get_args(annotation))
    if annotation is type(None):
        return value is None
    if annotation is bool:
        return isinstance(value, bool)
    if annotation is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if annotation is float:
        return isinstance(value, int | float) and not isinstance(value, bool)
    if annotation is str:
        return isinstance(value, str)
    if origin in (tuple, list) or annotation in (tuple, list):
        if not isinstance(value, list | tuple):
            return False
        args = [a for a in typing.get_args(annotation) if a is not Ellipsis]
        if origin is tuple and args and Ellipsis not in typing.get_args(annotation):
            return len(args) == len(value) and all(
                _accepts(a, v) for a, v in zip(args, value, strict=True)
            )
        return not args or all(_accepts(args[0], v) for v in value)
    if typing.get_origin(annotation) is typing.Literal:
        return value in typing.get_args(annotation)
    return True


def _takes(factory: Callable[..., Any], name: str) -> bool:
    try:
        return name in inspect.signature(factory).parameters
    except (TypeError, ValueError):
        return False


def _tomlable(value: Any) -> bool:
    if isinstance(value, bool | int | float | str):
        return True
    if isinstance(value, list | tuple):
        return all(_tomlable(v) for v in value)
    return False


def component_params(
    factory: Callable[..., Any], params: Mapping[str, Any], key: str, describe: str
) -> dict[str, Any]:
    """Check ``params`` against ``factory``'s signature and complete them with its defaults.

    Raises :class:`ConfigError` naming ``key.<param>`` for an unknown parameter, a missing
    required one, or a value of the wrong type. Defaults that TOML can hold are filled in (tuples
    as lists), so the resolved config records the value each parameter had.
    """
    try:
        sig = inspect.signature(factory)
    except (TypeError, ValueError):
        return dict(params)
    accepted = [
        p.name for p in sig.parameters.values() if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
    ]
    has_var_kw = any(p.kind is p.VAR_KEYWORD for p in sig.parameters.values())
    for name in params:
        if name not in accepted and not has_var_kw:
            raise ConfigError(
                f"Unknown parameter '{key}.{name}'.",
                hint=f"{_suggest(name, accepted)}Parameters: {', '.join(accepted) or '(none)'}. "
                f"See: {describe}",
            )
    try:
        sig.bind(**params)
    except TypeError as exc:
        raise ConfigError(
            f"{key}: {exc}.", hint=f"Give every required parameter under [{key}]. See: {describe}"
        ) from None
    hints = _hints(factory)
    resolved: dict[str, Any] = {}
    for p in sig.parameters.values():
        if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
            continue
        if p.name in params:
            value = params[p.name]
            if p.name in hints and not _accepts(hints[p.name], value):
                shown = getattr(hints[p.name], "__name__", None) or str(hints[p.name])
                raise ConfigError(
                    f"{key}.{p.name} = {value!r} does not fit its type {shown}.",
                    hint=f"See the parameter's type and default with: {describe}",
                )
            resolved[p.name] = list(value) if isinstance(value, tuple) else value
        elif p.default is not p.empty and p.default is not None and _tomlable(p.default):
            default = p.default
            resolved[p.name] = list(default) if isinstance(default, tuple) else default
    for name, value in params.items():  # extra **kwargs
        resolved.setdefault(name, value)
    return resolved


def coerce_params(factory: Callable[..., Any], params: Mapping[str, Any]) -> dict[str, Any]:
    """TOML lists become tuples (and ints floats) where the constructor's annotation says so."""
    hints = _hints(factory)
    out: dict[str, Any] = {}
    for name, value in params.items():
        ann = hints.get(name)
        origin = typing.get_origin(ann)
        if origin in (typing.Union, getattr(__import__("types"), "UnionType", None)):
            args = [a for a in typing.get_args(ann) if a is not type(None)]
            ann = args[0] if len(args) == 1 else ann
            origin = typing.get_origin(ann)
        if isinstance(value, list) and (origin is tuple or ann is tuple):
            value = tuple(value)
        elif ann is float and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        out[name] = value
    return out


def _validate_data(data: Config) -> None:
    defaults = DEFAULTS["data"]
    for key in ("root", "format", "color", "labels"):
        data[key] = _check_scalar(f"data.{key}", data[key], defaults[key])
    for key in ("clip_length", "stride"):
        data[key] = _check_scalar(f"data.{key}", data[key], defaults[key])
        _check_min(f"data.{key}", data[key], 1)
    size = data["size"]
    if isinstance(size, int) and not isinstance(size, bool):
        size = [size, size]
    if (
        not isinstance(size, list | tuple)
        or len(size) != 2
        or not all(isinstance(s, int) and not isinstance(s, bool) and s > 0 for s in size)
    ):
        raise ConfigError(
            f"Config key 'data.size' must be [height, width] in pixels, not {size!r}.",
            hint="For example: --set data.size=[64,64]",
        )
    data["size"] = list(size)
    _check_choice("data.color", data["color"], COLORS)


def _validate_train(train: Config) -> None:
    defaults = DEFAULTS["train"]
    for key, default in defaults.items():
        train[key] = _check_scalar(f"train.{key}", train[key], default)
    for key in ("epochs", "batch_size", "log_steps"):
        _check_min(f"train.{key}", train[key], 1)
    for key in ("workers", "save_every", "checkpoint_steps", "seed"):
        _check_min(f"train.{key}", train[key], 0)
    _check_min("train.lr", train["lr"], 0.0, strict=True)
    _check_choice("train.precision", train["precision"], PRECISION_CHOICES)


def _per_task_numbers(
    table: Mapping[str, Any], key: str, names: list[str], default: Callable[[str], float]
) -> dict[str, float]:
    for name, value in table.items():
        if name not in names:
            _entry("tasks", name, f"{key}.{name}")  # a typo is an error, an unused task is not
        if (
            isinstance(value, bool)
            or not isinstance(value, int | float)
            or not math.isfinite(value)
            or value < 0
        ):
            raise ConfigError(
                f"Config key '{key}.{name}' must be a number >= 0, not {value!r}.",
                hint=f"For example: --set {key}.{name}=0.5",
            )
    return {n: float(table[n]) if n in table else default(n) for n in names}


def validate_config(config: Mapping[str, Any]) -> Config:
    """Check every key and value of ``config`` and return the completed, resolved copy.

    Raises :class:`ConfigError` naming the key and the fix for an unknown key, a value of the
    wrong type or range, an unknown component name (with the available names and the closest),
    or component parameters that its constructor does not take.
    """
    _unknown_keys(config, DEFAULTS)
    cfg = merge(default_config(), config)
    _validate_data(cfg["data"])
    _validate_train(cfg["train"])

    model = cfg["model"]
    model["backbone"] = _check_scalar("model.backbone", model["backbone"], "")
    entry = _entry("backbones", model["backbone"], "model.backbone")
    factory = entry.load()
    given = dict(model["params"])
    if "in_channels" not in given and _takes(factory, "in_channels"):
        given["in_channels"] = CHANNELS[cfg["data"]["color"]]  # follow the data's colour mode
    model["params"] = component_params(
        factory,
        given,
        "model.params",
        f"vadkit describe backbones {entry.name}",
    )

    tasks = cfg["tasks"]
    names = tasks["names"]
    if isinstance(names, str):
        names = [n.strip() for n in names.split(",") if n.strip()]
    if not isinstance(names, list) or not names or not all(isinstance(n, str) for n in names):
        raise ConfigError(
            f"Config key 'tasks.names' must be a non-empty list of task names, not {names!r}.",
            hint='For example: --tasks vcr,ffp  or  --set tasks.names=["vcr","ffp"]',
        )
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise ConfigError(
            f"Config key 'tasks.names' lists {', '.join(duplicates)} more than once.",
            hint="Name each task once.",
        )
    tasks["names"] = list(names)
    factories = {n: _entry("tasks", n, "tasks.names").load() for n in names}
    for name, params in tasks["params"].items():
        if not isinstance(params, Mapping):
            raise ConfigError(
                f"Config key 'tasks.params.{name}' must be a table of parameters, not {params!r}.",
                hint=f"Write [tasks.params.{name}] with the parameters below it.",
            )
        if name not in names:
            _entry("tasks", name, f"tasks.params.{name}")
    tasks["params"] = {
        n: component_params(
            factories[n],
            tasks["params"].get(n, {}),
            f"tasks.params.{n}",
            f"vadkit describe tasks {n}",
        )
        for n in names
    }
    tasks["weights"] = _per_task_numbers(
        tasks["weights"],
        "tasks.weights",
        names,
        lambda n: float(getattr(factories[n], "default_weight", 1.0)),
    )

    score = cfg["score"]
    for key in ("error", "normalizer", "frames", "precision"):
        score[key] = _check_scalar(f"score.{key}", score[key], DEFAULTS["score"][key])
    score["batch_size"] = _check_scalar("score.batch_size", score["batch_size"], 1)
    _check_min("score.batch_size", score["batch_size"], 1)
    _entry("errors", score["error"], "score.error")
    _entry("normalizers", score["normalizer"], "score.normalizer")
    _check_choice("score.frames", score["frames"], FRAME_MODES)
    _check_choice("score.precision", score["precision"], PRECISION_CHOICES)
    score["alphas"] = _per_task_numbers(score["alphas"], "score.alphas", names, lambda n: 1.0)
    score["smooth"] = float(_check_scalar("score.smooth", score["smooth"], 0.0))
    _check_min("score.smooth", score["smooth"], 0.0)
    return cfg
