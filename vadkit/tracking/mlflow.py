"""The MLflow tracker: one MLflow run per vadkit run, through ``mlflow.tracking.MlflowClient``."""

from __future__ import annotations

import contextlib
import json
import logging
import time
import warnings
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from vadkit.config.overrides import Scalar
from vadkit.storage.io import write_text
from vadkit.tracking.base import Outcome, Tracker

if TYPE_CHECKING:
    from mlflow.tracking import MlflowClient

#: The folder of a run that holds the MLflow store (when ``uri`` is not set) and ``run.json``,
#: the id of the MLflow run that the evaluation and report are added to.
FOLDER = "mlflow"
RECORD = "run.json"
DATABASE = "mlflow.db"
ARTIFACTS = "artifacts"
#: MLflow's limit of parameters per ``log_batch`` call.
PARAMS_PER_BATCH = 100
#: How training ended, in MLflow's run statuses.
STATUS = {"finished": "FINISHED", "failed": "FAILED", "killed": "KILLED"}


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """MLflow's and alembic's INFO lines (creating a store's tables) and the deprecation
    warnings of MLflow's own dependencies left out of the console: none is the user's to act
    on."""
    loggers = [logging.getLogger(name) for name in ("mlflow", "alembic")]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.WARNING)
    try:
        with warnings.catch_warnings():
            for category in (DeprecationWarning, PendingDeprecationWarning, FutureWarning):
                warnings.simplefilter("ignore", category)
            yield
    finally:
        for logger, level in zip(loggers, levels, strict=True):
            logger.setLevel(level)


class MLflow(Tracker):
    """MLflow: a run in a local store under RUN/mlflow, or at any tracking URI.

    Losses, epoch times and evaluation metrics are metrics at their training step; the
    settings are parameters; ``evaluation.json`` and the report are artifacts. The id of the
    MLflow run is kept in ``RUN/mlflow/run.json``: a resumed run, its evaluation and its report
    go to the same MLflow run.

    By default the store is a SQLite database, ``RUN/mlflow/mlflow.db``, with the artifacts in
    ``RUN/mlflow/artifacts`` (see them with
    ``mlflow ui --backend-store-uri sqlite:///RUN/mlflow/mlflow.db``). MLflow's file store
    (``file://`` URIs) works only with ``MLFLOW_ALLOW_FILE_STORE=true`` in MLflow 3.

    Args:
        uri: an MLflow tracking URI (``sqlite:///PATH``, ``http://HOST:5000``, ...); empty:
            the SQLite store in the run folder.
        experiment: the MLflow experiment the run goes to (created when missing).
        run_name: the MLflow run's name; empty: the run folder's name.
    """

    requires: ClassVar[Mapping[str, str]] = {
        "mlflow": "pip install mlflow  (or: pip install 'vadkit[tracking]')"
    }

    def __init__(self, *, uri: str = "", experiment: str = "vadkit", run_name: str = "") -> None:
        self.uri = uri
        self.experiment = experiment
        self.run_name = run_name
        self.run_id: str | None = None
        self._client: MlflowClient | None = None
        #: Where the default store keeps artifacts (None with a ``uri``).
        self._artifacts: str | None = None

    def store(self, run_dir: Path) -> tuple[str, str | None]:
        """The tracking URI and the artifact location of a new experiment (None: the
        server's)."""
        if self.uri:
            return self.uri, None
        folder = (run_dir / FOLDER).resolve()
        folder.mkdir(parents=True, exist_ok=True)
        return f"sqlite:///{(folder / DATABASE).as_posix()}", (folder / ARTIFACTS).as_uri()

    def open(self, run_dir: Path, *, training: bool) -> bool:
        from mlflow.tracking import MlflowClient

        uri, artifacts = self.store(run_dir)
        self._artifacts = artifacts
        record = run_dir / FOLDER / RECORD
        with _quiet():
            client = MlflowClient(tracking_uri=uri)
            known = _read_record(record, self.uri)
            if known is not None and _active(client, known):
                self._client, self.run_id = client, known
                if training:  # a resumed run
                    client.update_run(known, status="RUNNING")
                return False
            found = client.get_experiment_by_name(self.experiment)
            experiment = (
                found.experiment_id
                if found is not None
                else client.create_experiment(self.experiment, artifact_location=artifacts)
            )
            run = client.create_run(
                experiment,
                run_name=self.run_name or run_dir.resolve().name,
                tags={"vadkit.run_dir": str(run_dir.resolve())},
            )
        self._client, self.run_id = client, run.info.run_id
        write_text(record, json.dumps({"uri": self.uri, "run_id": self.run_id}, indent=2) + "\n")
        return True

    def _c(self) -> tuple[MlflowClient, str]:
        if self._client is None or self.run_id is None:
            raise RuntimeError("the MLflow tracker is not open")
        return self._client, self.run_id

    def log_params(self, params: Mapping[str, Scalar]) -> None:
        from mlflow.entities import Param

        client, run_id = self._c()
        items = [Param(key, str(value)) for key, value in params.items()]
        with _quiet():
            for i in range(0, len(items), PARAMS_PER_BATCH):
                client.log_batch(run_id, params=items[i : i + PARAMS_PER_BATCH])

    def log_metrics(self, metrics: Mapping[str, float], step: int) -> None:
        from mlflow.entities import Metric

        client, run_id = self._c()
        if not metrics:
            return
        now = int(time.time() * 1000)
        with _quiet():
            client.log_batch(
                run_id, metrics=[Metric(key, float(v), now, step) for key, v in metrics.items()]
            )

    def log_artifact(self, path: Path) -> None:
        client, run_id = self._c()
        with _quiet():
            where = client.get_run(run_id).info.artifact_uri
            if self._artifacts is not None and not where.startswith(self._artifacts + "/"):
                raise RuntimeError(  # MLflow recorded the folder's old place: never write there
                    f"the MLflow run keeps its artifacts at {where}, outside the run folder (was "
                    f"it moved?); {path.name} stays in the run folder only"
                )
            client.log_artifact(run_id, str(path))

    def close(self, outcome: Outcome | None) -> None:
        client, run_id = self._c()
        self._client = None
        if outcome is not None:
            with _quiet():
                client.set_terminated(run_id, status=STATUS[outcome])


def _read_record(path: Path, uri: str) -> str | None:
    """The MLflow run id kept in ``path``, if it was made at the same URI setting."""
    try:
        record: Any = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(record, dict) or record.get("uri") != uri:
        return None
    run_id = record.get("run_id")
    return run_id if isinstance(run_id, str) and run_id else None


def _active(client: MlflowClient, run_id: str) -> bool:
    """Whether the store holds run ``run_id``, not deleted."""
    from mlflow.exceptions import MlflowException

    try:
        return client.get_run(run_id).info.lifecycle_stage != "deleted"
    except MlflowException:
        return False
