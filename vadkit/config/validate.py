"""Validation: every key and value of a config checked once, and completed.

:func:`validate_config` checks a nested dict against :data:`~vadkit.config.settings.DEFAULTS`
(unknown keys, types, ranges, choices), checks every component name against its registry and
every component parameter against the constructor's signature, and fills in what the components
decide (their constructor defaults, the task loss weights), so the resolved config written to a
run folder records every choice.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from vadkit.config.overrides import merge
from vadkit.config.params import (
    _takes,
    build_component,
    component_params,
    configured_params,
    params_key,
    suggest,
)
from vadkit.config.settings import (
    CHANNELS,
    COLORS,
    DEFAULTS,
    FRAME_MODES,
    OPEN_TABLES,
    PRECISION_CHOICES,
    SCHEDULES,
    WEIGHT_CHOICES,
    WEIGHT_CRITERIA,
    Config,
    default_config,
)
from vadkit.config.toml import toml_value
from vadkit.errors import ConfigError, RegistryError


def _unknown_keys(config: Mapping[str, Any], schema: Mapping[str, Any], prefix: str = "") -> None:
    for key, value in config.items():
        dotted = f"{prefix}{key}"
        if key not in schema:
            table = prefix.rstrip(".") or "the top level"
            raise ConfigError(
                f"Unknown config key '{dotted}'.",
                hint=f"{suggest(key, schema)}Keys of {table}: {', '.join(schema)}.",
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
            hint=f"For example: --set {key}={toml_value(default, key)}",
        )
    if isinstance(default, float) and not math.isfinite(value):
        raise ConfigError(
            f"Config key '{key}' must be a finite number, not {value!r}.",
            hint=f"For example: --set {key}={toml_value(default, key)}",
        )
    return float(value) if isinstance(default, float) else value


def _check_min(key: str, value: float, low: float, strict: bool = False) -> None:
    if value < low or (strict and value == low):
        bound = f"greater than {low}" if strict else f"at least {low}"
        example = DEFAULTS.get(key.split(".")[0], {}).get(key.split(".")[-1], low)
        raise ConfigError(
            f"Config key '{key}' must be {bound}, not {value}.",
            hint=f"For example: --set {key}={toml_value(example, key)}",
        )


def _check_choice(key: str, value: str, choices: Iterable[str]) -> None:
    options = list(choices)
    if value not in options:
        raise ConfigError(
            f"Config key '{key}' = {value!r} is not one of {', '.join(repr(o) for o in options)}.",
            hint=f"{suggest(value, options)}For example: --set {key}={options[0]}",
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


def _validate_data(data: Config) -> None:
    defaults = DEFAULTS["data"]
    for key in ("root", "format", "color", "labels"):
        data[key] = _check_scalar(f"data.{key}", data[key], defaults[key])
    for key in ("clip_length", "stride"):
        data[key] = _check_scalar(f"data.{key}", data[key], defaults[key])
        _check_min(f"data.{key}", data[key], 1)
    data["val_videos"] = _check_scalar("data.val_videos", data["val_videos"], 0)
    _check_min("data.val_videos", data["val_videos"], 0)
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
    for key in ("workers", "save_every", "checkpoint_steps", "seed", "validate_every"):
        _check_min(f"train.{key}", train[key], 0)
    _check_min("train.lr", train["lr"], 0.0, strict=True)
    _check_choice("train.precision", train["precision"], PRECISION_CHOICES)
    for key in ("weight_decay", "warmup_lr", "min_lr", "warmup_epochs"):
        _check_min(f"train.{key}", train[key], 0)
    _check_choice("train.schedule", train["schedule"], SCHEDULES)
    if train["warmup_epochs"] >= train["epochs"] and train["schedule"] != "constant":
        raise ConfigError(
            f"Config key 'train.warmup_epochs' = {train['warmup_epochs']} leaves no epoch of "
            f"the {train['epochs']} for the {train['schedule']} schedule.",
            hint="Warm up for fewer epochs than train.epochs, e.g. --set train.warmup_epochs=1",
        )
    if not 0.0 <= train["ema_decay"] < 1.0:
        raise ConfigError(
            f"Config key 'train.ema_decay' must be in [0, 1), not {train['ema_decay']}.",
            hint="For example: --set train.ema_decay=0.999",
        )
    train["track"] = _tracker_names(train["track"])
    train["track_params"] = _tracker_params(train["track_params"], train["track"])
    if train["optimizer"] != defaults["optimizer"]:  # importing timm takes seconds: only then
        from timm.optim import list_optimizers

        names = [str(n) for n in list_optimizers()]
        if train["optimizer"] not in names:
            raise ConfigError(
                f"Config key 'train.optimizer' = {train['optimizer']!r} is not a timm optimizer.",
                hint=f"{suggest(train['optimizer'], names)}See timm.optim.list_optimizers(); "
                "for example: --set train.optimizer=adamw",
            )


def _tracker_names(value: Any) -> list[str]:
    """``train.track``: registered tracker names (a comma-separated string is accepted), each
    once, in the order given."""
    names = [n.strip() for n in value.split(",") if n.strip()] if isinstance(value, str) else value
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        raise ConfigError(
            f"Config key 'train.track' must be a list of tracker names, not {value!r}.",
            hint='For example: --track tensorboard  or  --set train.track=["tensorboard"]',
        )
    for name in names:
        _entry("trackers", name, "train.track")
    return list(dict.fromkeys(names))


def _tracker_params(table: Mapping[str, Any], names: list[str]) -> dict[str, dict[str, Any]]:
    """``[train.track_params.NAME]`` checked against each tracker's constructor and completed
    with its defaults, for every tracker in ``train.track`` and every one the table names."""
    for name, params in table.items():
        if not isinstance(params, Mapping):
            raise ConfigError(
                f"Config key 'train.track_params.{name}' must be a table of parameters, "
                f"not {params!r}.",
                hint=f"Write [train.track_params.{name}] with the parameters below it.",
            )
    return {
        name: component_params(
            _entry("trackers", name, f"train.track_params.{name}").load(),
            table.get(name, {}),
            f"train.track_params.{name}",
            f"vadkit describe trackers {name}",
        )
        for name in dict.fromkeys([*names, *table])
    }


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
    cfg["recipe"] = _check_scalar("recipe", cfg["recipe"], "")
    _validate_data(cfg["data"])
    _validate_train(cfg["train"])

    model = cfg["model"]
    model["backbone"] = _check_scalar("model.backbone", model["backbone"], "")
    _require(model["backbone"], "model.backbone", "--backbone NAME", "backbones")
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
    _require(names, "tasks.names", "--tasks NAME,NAME", "tasks")
    if not isinstance(names, list) or not names or not all(isinstance(n, str) for n in names):
        raise ConfigError(
            f"Config key 'tasks.names' must be a non-empty list of task names, not {names!r}.",
            hint='For example: --tasks NAME,NAME  or  --set tasks.names=["NAME","NAME"]',
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
    for key in ("error", "normalizer", "frames", "precision", "weights"):
        score[key] = _check_scalar(f"score.{key}", score[key], DEFAULTS["score"][key])
    score["batch_size"] = _check_scalar("score.batch_size", score["batch_size"], 1)
    _check_min("score.batch_size", score["batch_size"], 1)
    if any(getattr(f, "uses_error", True) for f in factories.values()):
        _require(score["error"], "score.error", "--error NAME", "errors")
    if score["error"]:
        _entry("errors", score["error"], "score.error")
    _require(score["normalizer"], "score.normalizer", "--normalizer NAME", "normalizers")
    _entry("normalizers", score["normalizer"], "score.normalizer")
    score["error_params"] = _score_params(score, "errors", "error_params", score["error"])
    score["normalizer_params"] = _score_params(
        score, "normalizers", "normalizer_params", score["normalizer"]
    )
    _check_choice("score.frames", score["frames"], FRAME_MODES)
    _check_choice("score.precision", score["precision"], PRECISION_CHOICES)
    _check_choice("score.weights", score["weights"], WEIGHT_CHOICES)
    score["average_last"] = _check_scalar("score.average_last", score["average_last"], 1)
    _check_min("score.average_last", score["average_last"], 2)
    score["agreement_windows"] = _check_scalar(
        "score.agreement_windows", score["agreement_windows"], 1
    )
    _check_min("score.agreement_windows", score["agreement_windows"], 1)
    score["agreement_min"] = _check_scalar("score.agreement_min", score["agreement_min"], 0.0)
    if not -1.0 <= score["agreement_min"] <= 1.0:
        raise ConfigError(
            f"Config key 'score.agreement_min' is a rank correlation, in [-1, 1]; not "
            f"{score['agreement_min']}.",
            hint="For example: --set score.agreement_min=0.99",
        )
    _validate_pseudo(score)
    if cfg["train"]["validate_every"] and cfg["data"]["val_videos"] < 1:
        raise ConfigError(
            f"train.validate_every = {cfg['train']['validate_every']} validates on held-out "
            "training videos, but data.val_videos = 0 holds out none.",
            hint="Hold some out: --set data.val_videos=1 (or more), or leave "
            "train.validate_every at 0.",
        )
    score["alphas"] = _per_task_numbers(score["alphas"], "score.alphas", names, lambda n: 1.0)
    score["smooth"] = float(_check_scalar("score.smooth", score["smooth"], 0.0))
    _check_min("score.smooth", score["smooth"], 0.0)
    for preset, weights in score["presets"].items():
        if not isinstance(weights, Mapping):
            raise ConfigError(
                f"Config key 'score.presets.{preset}' must be a table task = weight, "
                f"not {weights!r}.",
                hint=f"Write [score.presets.{preset}] with one weight per task below it.",
            )
        score["presets"][preset] = _per_task_numbers(
            weights, f"score.presets.{preset}", list(weights), lambda n: 1.0
        )
    return cfg


def _score_params(score: Config, kind: str, field: str, chosen: str) -> dict[str, dict[str, Any]]:
    """``score.<field>`` checked and completed: each table names a registered component of
    ``kind`` and holds parameters its constructor takes, of its types and values (a component
    given other values than its defaults is built once, so a value its constructor refuses is
    caught here, naming the key). The run's chosen component (``chosen``) gets its table too,
    defaults filled in, so the run records every parameter of the measure and normalizer it
    scores with."""
    table = score[field]
    for name, params in table.items():
        key = f"score.{field}.{name}"
        _entry(kind, name, key)
        if not isinstance(params, Mapping):
            raise ConfigError(
                f"Config key '{key}' must be a table of parameters, not {params!r}.",
                hint=f"Write [{key}] with the parameters below it, or --set {key}.PARAM=VALUE "
                f"(see `vadkit describe {kind} {name}`).",
            )
    names = list(table) + ([chosen] if chosen and chosen not in table else [])
    out: dict[str, dict[str, Any]] = {}
    for name in names:
        out[name] = configured_params(kind, name, table.get(name, {}))
        if out[name] == configured_params(kind, name):
            continue  # the constructor's own defaults: nothing to check by building it
        try:
            build_component(kind, name, out[name])
        except (ValueError, TypeError) as exc:  # ConfigError is a ValueError
            message = exc.message if isinstance(exc, ConfigError) else str(exc)
            raise ConfigError(
                f"{params_key(kind, name)}: {message}",
                hint=getattr(exc, "hint", None)
                or f"See its parameters with: vadkit describe {kind} {name}",
            ) from None
    return out


def _validate_pseudo(score: Config) -> None:
    """The settings of label-free validation (``vadkit validate``) and of what it may choose."""
    defaults = DEFAULTS["score"]
    score["weights_criterion"] = _check_scalar(
        "score.weights_criterion", score["weights_criterion"], defaults["weights_criterion"]
    )
    _check_choice("score.weights_criterion", score["weights_criterion"], WEIGHT_CRITERIA)
    for key, low in (("pseudo_windows", 2), ("pseudo_seed", 0)):
        score[key] = _check_scalar(f"score.{key}", score[key], defaults[key])
        _check_min(f"score.{key}", score[key], low)
    kinds = score["pseudo_kinds"]
    if isinstance(kinds, str):
        kinds = [k.strip() for k in kinds.split(",") if k.strip()]
    if not isinstance(kinds, list) or not all(isinstance(k, str) for k in kinds):
        raise ConfigError(
            f"Config key 'score.pseudo_kinds' must be a list of pseudo-anomaly names, not "
            f"{kinds!r}.",
            hint='For example: --set score.pseudo_kinds=["blur","reverse"] (empty: all of them; '
            "see `vadkit list pseudo_anomalies`)",
        )
    for kind in kinds:
        _entry("pseudo_anomalies", kind, "score.pseudo_kinds")
    score["pseudo_kinds"] = list(dict.fromkeys(kinds))
    score["pseudo_params"] = _score_params(score, "pseudo_anomalies", "pseudo_params", "")


def _require(value: Any, key: str, flag: str, kind: str) -> None:
    """An empty component setting names the two ways to fill it: a recipe or the flag."""
    if not value:
        raise ConfigError(
            f"Config key '{key}' is not set.",
            hint=f"Choose a recipe (--recipe NAME; see `vadkit list recipes`), or set it with "
            f"{flag} (see `vadkit list {kind}`).",
        )
