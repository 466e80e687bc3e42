"""Checked reading of the JSON records vadkit writes (``bundle.json``, a score set's ``set.json``).

A :class:`JsonFields` wraps one JSON object of a record: each read checks the field (present,
of the right type, in range) and a wrong one is a :class:`~vadkit.errors.DataError` naming the
file and the field's path (``export.openvino.usable``, ``videos.2.file``), with the record's own
fix as the hint. The typed records (:class:`vadkit.runtime.bundlemeta.BundleMeta`,
:class:`vadkit.scoring.record.ScoreSetRecord`) read themselves through it, so an edited or
damaged file never reaches the code that uses its values.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any, Self, TypeVar

from vadkit.errors import DataError

T = TypeVar("T")
#: A JSON object kept as it is (a record of facts, or a record with a reader of its own).
JsonObject = dict[str, Any]


def whole(minimum: int) -> Callable[[Any], bool]:
    """The check of a whole number (not a bool) ``>= minimum``."""
    return lambda v: isinstance(v, int) and not isinstance(v, bool) and v >= minimum


def finite(value: Any) -> bool:
    """Whether ``value`` is a finite number (not a bool)."""
    ok = isinstance(value, int | float) and not isinstance(value, bool)
    return ok and math.isfinite(value)


def strings(value: Any) -> bool:
    """Whether ``value`` is a list of strings."""
    return isinstance(value, list) and all(isinstance(v, str) for v in value)


class JsonFields:
    """One JSON object of a record read from ``source``; ``where`` is its path in the record
    ('' at the top) and ``fix`` what the user does about a wrong field (the hint's last
    sentence)."""

    def __init__(self, data: Any, where: str, source: str, fix: str) -> None:
        self.where, self.source, self.fix = where, source, fix
        if not isinstance(data, dict):
            raise self.bad("", "a JSON object", data)
        self.data: dict[str, Any] = data

    def path(self, key: str) -> str:
        return f"{self.where}.{key}" if self.where and key else (key or self.where)

    def bad(self, key: str, expected: str, value: Any) -> DataError:
        shown = repr(value)
        shown = shown if len(shown) <= 80 else shown[:77] + "..."
        return DataError(
            f"'{self.source}': field '{self.path(key) or '(top)'}' must be {expected}, "
            f"not {shown}.",
            hint=f"The file was edited or damaged. {self.fix}",
        )

    def wrong(self, key: str, why: str) -> DataError:
        return DataError(
            f"'{self.source}': field '{self.path(key)}' {why}.",
            hint=f"The file was edited or damaged. {self.fix}",
        )

    def get(self, key: str, expected: str, check: Callable[[Any], bool], *, null: bool) -> Any:
        """The value of ``key`` when ``check`` accepts it; with ``null``, None when the key is
        missing or null."""
        if key not in self.data:
            if null:
                return None
            raise DataError(
                f"'{self.source}': field '{self.path(key)}' is missing.",
                hint=f"The file was edited, damaged or written by another version. {self.fix}",
            )
        value = self.data[key]
        if value is None and null:
            return None
        if not check(value):
            raise self.bad(key, expected + (" or null" if null else ""), value)
        return value

    def text(self, key: str, *, null: bool = False) -> Any:
        return self.get(key, "a string", lambda v: isinstance(v, str), null=null)

    def choice(self, key: str, choices: tuple[str, ...]) -> str:
        expected = "one of " + ", ".join(repr(c) for c in choices)
        return str(self.get(key, expected, lambda v: v in choices, null=False))

    def whole(self, key: str, minimum: int = 0, *, null: bool = False) -> Any:
        return self.get(key, f"a whole number >= {minimum}", whole(minimum), null=null)

    def number(self, key: str, *, null: bool = False) -> Any:
        """A finite number as it was written (an int stays an int: the record is rewritten
        exactly)."""
        return self.get(key, "a finite number", finite, null=null)

    def flag(self, key: str, *, null: bool = False) -> Any:
        return self.get(key, "true or false", lambda v: isinstance(v, bool), null=null)

    def texts(self, key: str, *, null: bool = False) -> Any:
        value = self.get(key, "a list of strings", strings, null=null)
        return None if value is None else tuple(value)

    def obj(self, key: str, *, null: bool = False) -> Any:
        value = self.get(key, "a JSON object", lambda v: isinstance(v, dict), null=null)
        return None if value is None else dict(value)

    def sub(self, key: str) -> Self:
        self.get(key, "a JSON object", lambda v: isinstance(v, dict), null=False)
        return type(self)(self.data[key], self.path(key), self.source, self.fix)

    def maybe(self, key: str, parse: Callable[[Self], T]) -> T | None:
        """The object ``key`` parsed by ``parse``, or None when it is missing or null."""
        if self.data.get(key) is None:
            return None
        return parse(self.sub(key))

    def each(self, key: str, parse: Callable[[Self], T]) -> dict[str, T]:
        """An object of objects, each parsed by ``parse``."""
        outer = self.sub(key)
        return {name: parse(outer.sub(name)) for name in outer.data}

    def items(self, key: str, parse: Callable[[Self], T]) -> tuple[T, ...]:
        """A list of objects, each parsed by ``parse`` (named ``key.0``, ``key.1``, ...)."""
        values = self.get(key, "a list", lambda v: isinstance(v, list), null=False)
        return tuple(
            parse(type(self)(item, self.path(f"{key}.{i}"), self.source, self.fix))
            for i, item in enumerate(values)
        )

    def numbers(self, key: str) -> dict[str, Any]:
        """An object of finite numbers (names to values, e.g. fusion weights)."""
        inner = self.sub(key)
        return {name: inner.number(name) for name in inner.data}
