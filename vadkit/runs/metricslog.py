"""A run's ``metrics.jsonl``: one JSON record per line, written only together with checkpoints.

Records are held in memory and appended when the trainer saves, so that the file never runs
ahead of the last checkpoint; a resumed run first drops what an unfinished save left after its
step. With several training processes only rank 0 writes (its records cover every rank's
global batch).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from vadkit.storage.io import write_text


class MetricsLog:
    """Buffered records of ``path``; ``writer`` is False on the processes that do not write."""

    def __init__(self, path: Path, *, writer: bool = True) -> None:
        self.path = path
        self.writer = writer
        self._pending: list[str] = []

    def start(self) -> None:
        """An empty file for a new run."""
        if self.writer:
            write_text(self.path, "")

    def log(self, record: dict[str, Any]) -> None:
        """Keep ``record`` until the next :meth:`flush`."""
        self._pending.append(json.dumps(record, sort_keys=False))

    def flush(self) -> None:
        """Append the kept records (atomically: the file is replaced, never half-written)."""
        lines, self._pending = self._pending, []
        if not self.writer or not lines:
            return
        old = self.path.read_text(encoding="utf-8") if self.path.exists() else ""
        write_text(self.path, old + "".join(line + "\n" for line in lines))

    def truncate(self, step: int) -> None:
        """Drop records logged after ``step`` (written before a save that did not finish) and
        lines that are not JSON."""
        if not self.writer or not self.path.exists():
            return
        kept = []
        for line in self.path.read_text(encoding="utf-8").splitlines():
            try:
                record = json.loads(line)
            except json.JSONDecodeError:
                continue
            if int(record.get("step", 0)) <= step:
                kept.append(line + "\n")
        write_text(self.path, "".join(kept))

    def world_size(self) -> int:
        """How many processes trained the last session the file records: the ``world_size`` of
        the ``world`` record a session with several processes logs when it starts (after its
        ``resumed`` record, when it resumed), 1 for a session that logged none."""
        size = 1
        if not self.path.exists():
            return size
        for line in self.path.read_text(encoding="utf-8").splitlines():
            try:
                record = json.loads(line)
            except json.JSONDecodeError:
                continue
            if record.get("event") == "resumed":  # a new session: one process until it says
                size = 1
            elif record.get("event") == "world":
                size = int(record.get("world_size", 1))
        return size
