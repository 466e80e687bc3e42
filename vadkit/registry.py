"""Named component registries.

A :class:`Registry` maps a name to a factory (a class or a function), remembers the plugin that
registered it, and imports a lazily registered factory (``"package.module:Class"``) only when the
component is first created or described. ``vadkit list`` reads summaries without importing anything.
"""

from __future__ import annotations

import ast
import difflib
import fnmatch
import importlib
import importlib.util
import inspect
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from vadkit.errors import RegistryError
from vadkit.installation import missing_dependency

T = TypeVar("T")

NAME_RULE = re.compile(r"^[a-z][a-z0-9_]*$")
#: Recipes (``luss-ae-paper``) and dataset formats (``video-folder``) may hold single hyphens.
RECIPE_NAME_RULE = re.compile(r"^[a-z][a-z0-9_]*(-[a-z0-9_]+)*$")


def singular(kind: str) -> str:
    """The word for one component of ``kind``: ``errors`` -> ``error``, ``pseudo_anomalies`` ->
    ``pseudo_anomaly``."""
    if kind.endswith("ies"):
        return kind[:-3] + "y"
    return kind[:-1] if kind.endswith("s") else kind


def closest_name(name: str, names: Iterable[str]) -> str | None:
    """The name of ``names`` closest to ``name`` (a likely typo of it), or None."""
    close = difflib.get_close_matches(str(name), list(names), n=1, cutoff=0.5)
    return close[0] if close else None


def _doc_summary(doc: str | None) -> str:
    if not doc:
        return ""
    for line in inspect.cleandoc(doc).splitlines():
        if line.strip():
            return line.strip()
    return ""


def _static_summary(target: str) -> str:
    """Summary line of ``"module:attr"``'s docstring, read from source without importing it."""
    module, _, attr = target.partition(":")
    try:
        spec = importlib.util.find_spec(module)
    except (ImportError, ValueError):
        return ""
    if spec is None or not spec.origin or not spec.origin.endswith(".py"):
        return ""
    try:
        with open(spec.origin, encoding="utf-8") as fh:
            tree = ast.parse(fh.read())
    except (OSError, SyntaxError):
        return ""
    for node in tree.body:
        if (
            isinstance(node, ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef)
            and node.name == attr
        ):
            return _doc_summary(ast.get_docstring(node))
    return ""


@dataclass
class Entry(Generic[T]):
    """One registered component: its name, factory (or lazy target) and provenance."""

    name: str
    kind: str
    target: Callable[..., T] | str
    plugin: str
    summary_text: str | None = None
    extras: dict[str, Any] = field(default_factory=dict)

    @property
    def is_loaded(self) -> bool:
        return not isinstance(self.target, str)

    @property
    def target_path(self) -> str:
        """``module:qualname`` of the factory, without importing it."""
        if isinstance(self.target, str):
            return self.target
        return f"{self.target.__module__}:{getattr(self.target, '__qualname__', self.target)}"

    @property
    def summary(self) -> str:
        """First line of the factory's docstring (or the summary given at registration)."""
        if self.summary_text is not None:
            return self.summary_text
        if isinstance(self.target, str):
            return _static_summary(self.target)
        return _doc_summary(self.target.__doc__)

    def load(self) -> Callable[..., T]:
        """The factory, importing it first when it was registered as ``"module:attr"``."""
        if isinstance(self.target, str):
            module_name, _, attr = self.target.partition(":")
            try:
                module = importlib.import_module(module_name)
                obj: Any = module
                for part in attr.split("."):
                    obj = getattr(obj, part)
            except (ImportError, AttributeError) as exc:
                if isinstance(exc, ImportError):  # torch in the light install: not the plugin
                    missing = missing_dependency(exc, f"The {singular(self.kind)} '{self.name}'")
                    if missing is not None:
                        raise missing from exc
                raise RegistryError(
                    f"The {singular(self.kind)} '{self.name}' of plugin '{self.plugin}' points to "
                    f"'{self.target}', which cannot be imported: {exc}",
                    hint=f"Fix or reinstall the plugin '{self.plugin}', or block it with "
                    f"--block {self.plugin}.",
                ) from exc
            self.target = obj
            return obj
        return self.target

    def create(self, **params: Any) -> T:
        factory = self.load()
        try:
            inspect.signature(factory).bind(**params)
        except TypeError as exc:
            raise RegistryError(
                f"Cannot create {singular(self.kind)} '{self.name}' with {sorted(params)}: {exc}",
                hint=f"See its parameters with: vadkit describe {self.kind} {self.name}",
            ) from exc
        except ValueError:  # builtins without a signature
            pass
        return factory(**params)


class Registry(Generic[T]):
    """Name -> factory map for one kind of component (``backbones``, ``errors``, ...)."""

    def __init__(self, kind: str, name_rule: re.Pattern[str] = NAME_RULE) -> None:
        self.kind = kind
        self.name_rule = name_rule
        self._entries: dict[str, Entry[T]] = {}

    @property
    def singular(self) -> str:
        return singular(self.kind)

    def add(
        self,
        name: str,
        target: Callable[..., T] | str,
        *,
        plugin: str,
        summary: str | None = None,
        **extras: Any,
    ) -> Entry[T]:
        """Register ``target`` under ``name``; a name already taken is an error naming both."""
        if not isinstance(name, str) or not self.name_rule.fullmatch(name):
            allowed = "digits, underscores" + (
                " and single hyphens" if self.name_rule is RECIPE_NAME_RULE else ""
            )
            raise RegistryError(
                f"Plugin '{plugin}' tried to register the {self.singular} name {name!r}, "
                "which is not a valid name.",
                hint=f"Names are lower case letters, {allowed}, starting with a letter.",
            )
        if isinstance(target, str):
            if ":" not in target:
                raise RegistryError(
                    f"Plugin '{plugin}' registered {self.singular} '{name}' as {target!r}.",
                    hint="A lazy factory is written 'package.module:Attribute'.",
                )
        elif not callable(target):
            raise RegistryError(
                f"Plugin '{plugin}' registered {self.singular} '{name}' with {target!r}, "
                "which is not callable.",
                hint="Register a class, a function, or a 'package.module:Attribute' string.",
            )
        if name in self._entries:
            other = self._entries[name]
            raise RegistryError(
                f"Two plugins register the {self.singular} '{name}': "
                f"'{other.plugin}' and '{plugin}'.",
                hint=f"Rename one of them, or block one with --block {plugin}.",
            )
        entry: Entry[T] = Entry(name, self.kind, target, plugin, summary, dict(extras))
        self._entries[name] = entry
        return entry

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def __iter__(self) -> Iterator[str]:
        return iter(sorted(self._entries))

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, name: str) -> Entry[T]:
        """The entry for ``name``; an unknown name lists what exists and suggests the nearest."""
        try:
            return self._entries[name]
        except KeyError:
            pass
        available = sorted(self._entries)
        close = closest_name(name, available)
        hint = f"Did you mean '{close}'? " if close else ""
        hint += (
            f"Available {self.kind}: {', '.join(available)}."
            if available
            else f"No {self.kind} are registered; is a plugin blocked?"
        )
        raise RegistryError(f"Unknown {self.singular} '{name}'.", hint=hint) from None

    def create(self, name: str, **params: Any) -> T:
        return self.get(name).create(**params)

    def names(
        self, include: str | Iterable[str] = "*", exclude: str | Iterable[str] = ()
    ) -> list[str]:
        """Sorted names matching any ``include`` pattern and no ``exclude`` pattern (fnmatch)."""
        inc = [include] if isinstance(include, str) else list(include)
        exc = [exclude] if isinstance(exclude, str) else list(exclude)
        return [
            n
            for n in sorted(self._entries)
            if any(fnmatch.fnmatchcase(n, p) for p in inc)
            and not any(fnmatch.fnmatchcase(n, p) for p in exc)
        ]

    def entries(
        self, include: str | Iterable[str] = "*", exclude: str | Iterable[str] = ()
    ) -> list[Entry[T]]:
        return [self._entries[n] for n in self.names(include, exclude)]
