"""Requests: the many options of one call (``vadkit score``, a calibration) as one typed object.

A function that takes a dozen options takes a frozen dataclass that subclasses :class:`Request`
instead; :meth:`Request.of` also accepts the options as keywords, so ``score_run(RUN,
name="x")`` and ``score_run(RUN, ScoreRequest(name="x"))`` are the same call, and an option
that does not exist is one clear error rather than a ``TypeError``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import fields
from typing import Any, ClassVar, TypeVar

from vadkit.errors import ConfigError

R = TypeVar("R", bound="Request")


class Request:
    """Base of the request dataclasses (subclasses are ``@dataclass(frozen=True)``)."""

    #: The function that takes the request, for messages.
    taken_by: ClassVar[str] = "this call"

    @classmethod
    def of(cls: type[R], request: R | None, options: Mapping[str, Any]) -> R:
        """``request``, or one made of keyword ``options`` (an unknown one is a ConfigError)."""
        if request is not None and options:
            raise ConfigError(
                f"Give {cls.taken_by} a {cls.__name__} or keyword options, not both.",
                hint=f"{cls.taken_by}(..., {cls.__name__}(...)) or {cls.taken_by}(..., name=...)",
            )
        if request is not None:
            return request
        known = {f.name for f in fields(cls)}  # type: ignore[arg-type]
        unknown = sorted(set(options) - known)
        if unknown:
            raise ConfigError(
                f"{cls.taken_by}() got unknown option(s): {', '.join(unknown)}.",
                hint=f"Options: {', '.join(sorted(known))}.",
            )
        return cls(**options)
