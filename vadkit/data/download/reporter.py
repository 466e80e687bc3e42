"""How a download reports what it does: the engine never prints, it calls a :class:`Reporter`.

The command line hands one that draws rich progress bars (:mod:`vadkit.cli.progress`); from
Python, :class:`SilentReporter` (the default) drops everything.
"""

from __future__ import annotations

from typing import Protocol


class Reporter(Protocol):
    """Receives a download's notes and byte counts."""

    def note(self, text: str, *, warning: bool = False) -> None:
        """One line worth showing: an archive reused, a mirror down and the next one tried (a
        ``warning``), a resumed transfer."""

    def progress(self, task: str, done: int, total: int | None) -> None:
        """``done`` of ``total`` bytes (None: unknown) of ``task`` (``"download FILE"``,
        ``"verify FILE"``, ``"extract FILE"``); called often, the last time with the final count."""

    def finish(self, task: str) -> None:
        """``task`` ended (completed or not)."""


class SilentReporter:
    """A :class:`Reporter` that shows nothing."""

    def note(self, text: str, *, warning: bool = False) -> None:
        pass

    def progress(self, task: str, done: int, total: int | None) -> None:
        pass

    def finish(self, task: str) -> None:
        pass
