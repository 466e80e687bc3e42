"""A third-party experiment tracker in one file: every setting, metric and artifact of a run as
a row of ``RUN/tracked.csv``.

Load it with ``vadkit --plugin examples/python/tracker_plugin.py train --track csv ...``, or run
this file: it loads itself and runs the conformance check vadkit runs on its own trackers.
"""

import csv
from collections.abc import Mapping
from pathlib import Path

import vadkit


class CsvTracker(vadkit.Tracker):
    """Rows of RUN/tracked.csv: kind (setting, metric, artifact), name, step, value."""

    def __init__(self, *, file: str = "tracked.csv") -> None:
        self.file = file
        self.path: Path | None = None

    def _rows(self, *rows: tuple) -> None:
        with open(self.path, "a", newline="") as fh:
            csv.writer(fh).writerows(rows)

    def open(self, run_dir: Path, *, training: bool) -> bool:
        # training: True when training starts or resumes; False for an evaluation or report
        self.path = run_dir / self.file
        fresh = not self.path.exists()  # True: a new record, vadkit logs the settings next
        if fresh:
            self._rows(("kind", "name", "step", "value"))
        return fresh

    def log_params(self, params: Mapping[str, object]) -> None:
        self._rows(*(("setting", key, "", value) for key, value in params.items()))

    def log_metrics(self, metrics: Mapping[str, float], step: int) -> None:
        self._rows(*(("metric", key, step, value) for key, value in metrics.items()))

    def log_artifact(self, path: Path) -> None:
        self._rows(("artifact", path.name, "", str(path)))

    def close(self, outcome: str | None) -> None:
        if outcome is not None:  # how training ended: finished, failed or killed
            self._rows(("outcome", "training", "", outcome))


@vadkit.hookimpl
def register_trackers(register):
    register("csv", CsvTracker)


if __name__ == "__main__":
    from vadkit.testing import check_tracker

    vadkit.configure(plugins=[__file__])  # what --plugin does on the command line
    print(vadkit.list_trackers())  # ['csv', 'mlflow', 'tensorboard']
    check_tracker("csv")  # a pretend run: its training, evaluation and report calls
