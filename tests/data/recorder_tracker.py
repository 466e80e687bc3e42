"""A third-party experiment tracker, as a one-off plugin: it writes every call it receives to
``RUN/recorder.jsonl`` (tests/test_tracking.py compares them with TensorBoard's and MLflow's)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import vadkit
from vadkit.tracking import Tracker

FILE = "recorder.jsonl"


class Recorder(Tracker):
    """Records every call in RUN/recorder.jsonl."""

    def __init__(self, *, note: str = "") -> None:
        self.note = note
        self.path: Path | None = None

    def _write(self, call: str, **data: Any) -> None:
        assert self.path is not None
        with open(self.path, "a", encoding="utf-8") as fh:
            fh.write(json.dumps({"call": call, **data}) + "\n")

    def open(self, run_dir: Path, *, training: bool) -> bool:
        self.path = run_dir / FILE
        fresh = not self.path.exists()
        self._write("open", training=training, fresh=fresh, note=self.note)
        return fresh

    def log_params(self, params: Mapping[str, Any]) -> None:
        self._write("params", params=dict(params))

    def log_metrics(self, metrics: Mapping[str, float], step: int) -> None:
        self._write("metrics", metrics=dict(metrics), step=step)

    def log_artifact(self, path: Path) -> None:
        self._write("artifact", path=str(path))

    def close(self, outcome: str | None) -> None:
        self._write("close", outcome=outcome)


@vadkit.hookimpl
def register_trackers(register: Any) -> None:
    register("recorder", Recorder)
