"""Component parameters: a constructor's signature is its configuration schema.

``model.params``, ``tasks.params.<name>``, ``score.error_params.<name>`` and
``score.normalizer_params.<name>`` (:data:`PARAM_TABLES`) are bound against ``inspect.signature``
of the registered factory, checked against its type annotations, and completed with its
defaults. :func:`build_component` is the one function that builds a component with its configured
parameters: the model's backbone and tasks, and every error measure and normalizer that scoring,
evaluation, streaming, calibration and export use.
"""

from __future__ import annotations

import difflib
import inspect
import typing
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from vadkit.errors import ConfigError

#: The config key that holds the parameters of a component of each kind (``{name}``: its name).
PARAM_TABLES = {
    "backbones": "model.params",
    "tasks": "tasks.params.{name}",
    "errors": "score.error_params.{name}",
    "normalizers": "score.normalizer_params.{name}",
    "pseudo_anomalies": "score.pseudo_params.{name}",
}


def suggest(name: str, options: Iterable[str]) -> str:
    close = difflib.get_close_matches(name, list(options), n=1, cutoff=0.6)
    return f"Did you mean '{close[0]}'? " if close else ""


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


def schema_signature(factory: Callable[..., Any]) -> inspect.Signature | None:
    """The signature that is a component's configuration schema (None when it has none).

    A class without a constructor of its own (its ``__init__`` is ``object``'s or a torch base
    class's, e.g. ``nn.Module(*args, **kwargs)``) takes no parameters: an empty signature.
    """
    if inspect.isclass(factory):
        owner = next((c for c in factory.__mro__ if "__init__" in vars(c)), object)
        if owner is object or owner.__module__.split(".")[0] == "torch":
            return inspect.Signature()
    try:
        return inspect.signature(factory)
    except (TypeError, ValueError):
        return None


def component_params(
    factory: Callable[..., Any], params: Mapping[str, Any], key: str, describe: str
) -> dict[str, Any]:
    """Check ``params`` against ``factory``'s signature and complete them with its defaults.

    Raises :class:`ConfigError` naming ``key.<param>`` for an unknown parameter, a missing
    required one, or a value of the wrong type. Defaults that TOML can hold are filled in (tuples
    as lists), so the resolved config records the value each parameter had.
    """
    sig = schema_signature(factory)
    if sig is None:
        return dict(params)
    accepted = [
        p.name for p in sig.parameters.values() if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
    ]
    has_var_kw = any(p.kind is p.VAR_KEYWORD for p in sig.parameters.values())
    for name in params:
        if name not in accepted and not has_var_kw:
            raise ConfigError(
                f"Unknown parameter '{key}.{name}'.",
                hint=f"{suggest(name, accepted)}Parameters: {', '.join(accepted) or '(none)'}. "
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
    """TOML lists become tuples (and ints floats, in them too) where the constructor's
    annotation says so."""
    hints = _hints(factory)
    return {name: _coerce(hints.get(name), value) for name, value in params.items()}


def _coerce(ann: Any, value: Any) -> Any:
    """``value`` (from TOML) as the annotation ``ann`` takes it: a list as a tuple, an int as a
    float, item by item in lists and tuples."""
    origin = typing.get_origin(ann)
    if origin in (typing.Union, getattr(__import__("types"), "UnionType", None)):
        args = [a for a in typing.get_args(ann) if a is not type(None)]
        ann = args[0] if len(args) == 1 else ann
        origin = typing.get_origin(ann)
    if isinstance(value, list | tuple) and (origin in (tuple, list) or ann in (tuple, list)):
        items: list[Any]
        kinds = typing.get_args(ann)
        if origin is tuple and kinds and Ellipsis not in kinds and len(kinds) == len(value):
            items = [_coerce(a, v) for a, v in zip(kinds, value, strict=True)]
        else:
            items = [_coerce(kinds[0] if kinds else None, v) for v in value]
        return tuple(items) if origin is tuple or ann is tuple else items
    if ann is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    return value


def params_key(kind: str, name: str) -> str:
    """The config key of the parameters of component ``name`` of ``kind`` (:data:`PARAM_TABLES`),
    e.g. ``score.error_params.bpe``."""
    return PARAM_TABLES[kind].format(name=name)


def configured_params(kind: str, name: str, params: Mapping[str, Any] | None = None) -> dict:
    """``params`` of component ``name`` of ``kind`` as a run records them: checked against its
    constructor (:func:`component_params`: a :class:`ConfigError` naming
    ``<params_key>.<param>`` for an unknown parameter or a wrong type), completed with its
    defaults, numbers as the annotation says (an int given for a float is a float) and tuples as
    lists, so the same parameters always read, and hash, the same."""
    from vadkit.api import get_entry

    factory = get_entry(kind, name).load()
    resolved = component_params(
        factory, params or {}, params_key(kind, name), f"vadkit describe {kind} {name}"
    )
    return {k: _as_toml(v) for k, v in coerce_params(factory, resolved).items()}


def _as_toml(value: Any) -> Any:
    return [_as_toml(v) for v in value] if isinstance(value, list | tuple) else value


def build_component(kind: str, name: str, params: Mapping[str, Any] | None = None) -> Any:
    """The component ``name`` of ``kind`` built with ``params`` (its own table of the config, e.g.
    ``score.error_params.bpe``; none: its defaults), checked as :func:`configured_params` checks
    them and coerced to the constructor's types (:func:`coerce_params`).

    The one way vadkit builds a configured component: ``vadkit score``, ``evaluate``,
    ``watch``, calibration and export all build their error measures and normalizers here, so a
    parameter set for a run reaches every one of them.
    """
    from vadkit.api import get_entry

    entry = get_entry(kind, name)
    return entry.create(**coerce_params(entry.load(), configured_params(kind, name, params)))
