"""Experiment tracking: TensorBoard and MLflow read back from their local stores against the
run's own files, a plugin's tracker given the same calls, a missing package stopped before
training, rank 0 alone logging, and a failing tracker contained.

One tiny run is tracked by all three trackers: its first session crashes after a step that was
logged but not yet checkpointed, a second session resumes it (``vadkit train --resume``), then
it is scored, evaluated and reported through the CLI.
"""

from __future__ import annotations

import contextlib
import importlib.util
import io
import json
import shutil
import warnings
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
from conftest import TINY_RUN_SETTINGS, quiet_machine, run_cli
from test_evaluate_cli import TINY, error_text

from vadkit import plugins
from vadkit.config import flatten, load_toml
from vadkit.errors import ConfigError
from vadkit.runs.checkpoints import Progress
from vadkit.testing.tracking import CHECK_CONFIG, PretendTrainer
from vadkit.tracking import Tracker, TrackingWarning, evaluation_metrics

PLUGIN = Path(__file__).parent / "data" / "recorder_tracker.py"
TRACKERS = ["tensorboard", "mlflow", "recorder"]
#: The first session stops after this step (logged, not checkpointed: 2 steps per epoch).
CRASH_STEP = 3


@pytest.fixture(scope="module", autouse=True)
def _env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    plugins.reset()
    with quiet_machine(tmp_path_factory.mktemp("cache")):
        yield
    plugins.reset()


class Crash:
    """A callback that stops training with an error after step ``at``."""

    def __init__(self, at: int) -> None:
        self.at = at

    def on_step_end(self, trainer: Any, progress: Progress) -> None:
        if progress.step == self.at:
            raise RuntimeError("crash for the test")


def cli(*args: str) -> dict[str, Any]:
    """``vadkit --plugin RECORDER ARGS --json``: its JSON output."""
    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer):
        assert run_cli(["--plugin", str(PLUGIN), *args, "--json"]) == 0
    return json.loads(buffer.getvalue())


@pytest.fixture(scope="module")
def tracked(tiny_scene: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tracked run: trained 3 epochs over two sessions, scored, evaluated and reported."""
    import vadkit

    run = tmp_path_factory.mktemp("tracked") / "run"
    vadkit.configure(plugins=[str(PLUGIN)])
    settings = {
        **TINY_RUN_SETTINGS,
        "train.log_steps": 1,
        "train.checkpoint_steps": 2,
        "train.track": TRACKERS,
    }
    with pytest.raises(RuntimeError, match="crash for the test"):
        vadkit.train(tiny_scene, run, epochs=3, settings=settings, callbacks=[Crash(CRASH_STEP)])
    assert run_cli(["--plugin", str(PLUGIN), "train", "--resume", str(run), "--quiet"]) == 0
    assert run_cli(["--plugin", str(PLUGIN), "score", str(run), "--quiet"]) == 0
    cli("evaluate", str(run), "--no-plots")
    cli("report", str(run), "--no-maps")
    return run


def records(run: Path, event: str) -> list[dict[str, Any]]:
    lines = (run / "metrics.jsonl").read_text().splitlines()
    return [r for r in map(json.loads, lines) if r.get("event") == event]


def expected(run: Path) -> dict[str, list[tuple[int, float]]]:
    """Each metric the trackers must hold, as ``(step, value)`` in step order: the losses of
    ``metrics.jsonl``'s step records, its epochs' durations and losses, the evaluation."""
    out: dict[str, list[tuple[int, float]]] = {}
    for r in records(run, "step"):
        for task, value in {"": r["loss"], **{f"_{k}": v for k, v in r["losses"].items()}}.items():
            out.setdefault(f"train/loss{task}", []).append((r["step"], value))
    for r in records(run, "epoch"):
        out.setdefault("epoch/seconds", []).append((r["step"], r["seconds"]))
        out.setdefault("epoch/loss", []).append((r["step"], r["loss"]))
    last = records(run, "epoch")[-1]["step"]
    evaluation = json.loads((run / "evaluation.json").read_text())
    for key, value in evaluation_metrics(evaluation).items():
        out[key] = [(last, value)]
    return out


def test_the_run_crashed_after_a_logged_step_and_resumed(tracked: Path) -> None:
    steps = [r["step"] for r in records(tracked, "step")]
    assert steps == [1, 2, 3, 4, 5, 6]  # step 3 trained twice, recorded once
    assert len(records(tracked, "epoch")) == 3
    assert any(k.startswith("eval/fused/") for k in expected(tracked))


# -- TensorBoard ---------------------------------------------------------------------------------
def test_tensorboard_holds_the_runs_numbers(tracked: Path) -> None:
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    board = EventAccumulator(str(tracked / "tensorboard"), size_guidance={"scalars": 0})
    board.Reload()
    for tag, want in expected(tracked).items():
        got = [(e.step, e.value) for e in board.Scalars(tag)]
        assert [s for s, _ in got] == [s for s, _ in want], tag  # each step once, in order
        assert [v for _, v in got] == pytest.approx([v for _, v in want], rel=1e-6), tag


def test_tensorboard_holds_the_settings_and_files(tracked: Path) -> None:
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    from tensorboard.plugins.hparams.plugin_data_pb2 import HParamsPluginData

    board = EventAccumulator(str(tracked / "tensorboard"))
    board.Reload()
    content = board.PluginTagToContent("hparams")["_hparams_/session_start_info"]
    hparams = HParamsPluginData.FromString(content).session_start_info.hparams
    settings = flatten(load_toml(tracked / "config.toml"))
    assert set(hparams) == set(settings)
    for key, value in settings.items():
        logged = hparams[key]
        got = logged.string_value if isinstance(value, str) else logged.number_value
        assert got == (value if isinstance(value, str) else float(value)), key
    for name in ("evaluation.json", "report.html"):
        copy = tracked / "tensorboard" / "artifacts" / name
        assert copy.read_bytes() == (tracked / name).read_bytes()


# -- MLflow --------------------------------------------------------------------------------------
def mlflow_client(run: Path) -> Any:
    """A client of the run's own MLflow store (the default: SQLite in RUN/mlflow)."""
    from mlflow.tracking import MlflowClient

    return MlflowClient(tracking_uri=f"sqlite:///{run.resolve() / 'mlflow' / 'mlflow.db'}")


@pytest.fixture(scope="module")
def mlflow_run(tracked: Path) -> tuple[Any, str]:
    run_id = json.loads((tracked / "mlflow" / "run.json").read_text())["run_id"]
    return mlflow_client(tracked), run_id


def test_mlflow_holds_the_runs_numbers(tracked: Path, mlflow_run: tuple[Any, str]) -> None:
    client, run_id = mlflow_run
    for key, want in expected(tracked).items():
        history = sorted(client.get_metric_history(run_id, key), key=lambda m: m.step)
        assert [(m.step, m.value) for m in history] == want, key


def test_mlflow_holds_the_settings_and_files(tracked: Path, mlflow_run: tuple[Any, str]) -> None:
    client, run_id = mlflow_run
    run = client.get_run(run_id)
    settings = flatten(load_toml(tracked / "config.toml"))
    assert run.data.params == {k: str(v) for k, v in settings.items()}
    assert run.info.status == "FINISHED"
    experiment = client.get_experiment(run.info.experiment_id)
    assert experiment.name == "vadkit"
    assert len(client.search_runs([experiment.experiment_id])) == 1  # the resume continued it
    assert {a.path for a in client.list_artifacts(run_id)} == {"evaluation.json", "report.html"}
    folder = Path(client.download_artifacts(run_id, "report.html", str(tracked.parent)))
    assert folder.read_bytes() == (tracked / "report.html").read_bytes()


# -- a plugin's tracker -----------------------------------------------------------------------------
def recorded(run: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (run / "recorder.jsonl").read_text().splitlines()]


def test_a_plugins_tracker_gets_the_same_calls(tracked: Path, mlflow_run: tuple[Any, str]) -> None:
    calls = recorded(tracked)
    opens = [(c["training"], c["fresh"]) for c in calls if c["call"] == "open"]
    assert opens == [(True, True), (True, False), (False, False), (False, False)]
    closes = [c["outcome"] for c in calls if c["call"] == "close"]
    assert closes == ["failed", "finished", None, None]  # crash, resume, evaluate, report
    params = [c["params"] for c in calls if c["call"] == "params"]
    assert params == [flatten(load_toml(tracked / "config.toml"))]
    logged = {
        (key, c["step"], value)
        for c in calls
        if c["call"] == "metrics"
        for key, value in c["metrics"].items()
    }
    client, run_id = mlflow_run
    in_mlflow = {
        (key, m.step, m.value)
        for key in client.get_run(run_id).data.metrics
        for m in client.get_metric_history(run_id, key)
    }
    assert logged == in_mlflow
    artifacts = [Path(c["path"]).name for c in calls if c["call"] == "artifact"]
    assert artifacts == ["evaluation.json", "report.html"]


# -- missing packages ------------------------------------------------------------------------------
def hide(monkeypatch: pytest.MonkeyPatch, package: str) -> None:
    """``package`` looks uninstalled to ``importlib.util.find_spec``."""
    find_spec = importlib.util.find_spec

    def fake(name: str, *args: Any, **kwargs: Any) -> Any:
        return None if name.split(".")[0] == package else find_spec(name, *args, **kwargs)

    monkeypatch.setattr(importlib.util, "find_spec", fake)


@pytest.mark.parametrize("package", ["tensorboard", "mlflow"])
def test_a_missing_package_stops_training_before_it_starts(
    package: str,
    tiny_scene: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    hide(monkeypatch, package)
    out = tmp_path / "run"
    sets = [a for item in TINY for a in ("--set", item)]
    args = ["train", "--data", str(tiny_scene), "--epochs", "1", "--out", str(out), "--quiet"]
    assert run_cli(["--plugin", str(PLUGIN), *args, *sets, "--track", f"recorder,{package}"]) == 2
    text = error_text(capsys)
    assert f"The tracker '{package}' needs the package '{package}'" in text
    assert f"pip install {package}" in text
    assert not out.exists()  # nothing trained, nothing written


def test_a_missing_package_after_training_is_one_warning(
    tracked: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    run = tmp_path / "copy"
    shutil.copytree(tracked, run)
    (run / "evaluation.json").unlink()
    hide(monkeypatch, "mlflow")
    capsys.readouterr()
    assert run_cli(["--plugin", str(PLUGIN), "evaluate", str(run), "--no-plots"]) == 0
    err = " ".join(capsys.readouterr().err.split())
    assert "warning: The evaluation was not logged to the run's trackers" in err
    assert "pip install mlflow" in err
    assert (run / "evaluation.json").is_file()


def test_a_moved_run_never_writes_mlflow_artifacts_to_its_old_place(
    tracked: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run = tmp_path / "moved"
    shutil.copytree(tracked, run)
    before = sorted(p.name for p in (tracked / "mlflow" / "artifacts").rglob("*"))
    capsys.readouterr()
    assert run_cli(["--plugin", str(PLUGIN), "evaluate", str(run), "--no-plots"]) == 0
    err = " ".join(capsys.readouterr().err.split())
    assert "outside the run folder (was it moved?)" in err
    assert sorted(p.name for p in (tracked / "mlflow" / "artifacts").rglob("*")) == before
    client = mlflow_client(run)
    run_id = json.loads((run / "mlflow" / "run.json").read_text())["run_id"]
    assert len(client.get_metric_history(run_id, "eval/fused/micro_auroc")) == 2  # metrics: yes


# -- config ----------------------------------------------------------------------------------------
def test_flatten_gives_every_leaf_under_its_dotted_key() -> None:
    config = {"recipe": "r", "data": {"size": [32, 32], "root": ""}, "score": {"alphas": {}}}
    config["train"] = {"lr": 1e-4, "ema": False, "track_params": {"mlflow": {"uri": ""}}}
    assert flatten(config) == {
        "recipe": "r",
        "data.size": "[32, 32]",
        "data.root": "",
        "train.lr": 1e-4,
        "train.ema": False,
        "train.track_params.mlflow.uri": "",
    }


def test_tracker_names_and_parameters_are_validated() -> None:
    from vadkit.config import resolve_config

    flags = {"recipe": "luss-ae"}
    with pytest.raises(ConfigError, match="Did you mean 'tensorboard'"):
        resolve_config(flags={**flags, "train.track": ["tensorbord"]})
    with pytest.raises(ConfigError, match=r"Unknown parameter 'train.track_params.mlflow.url'"):
        resolve_config(flags={**flags, "train.track_params.mlflow.url": "sqlite:///x.db"})
    with pytest.raises(ConfigError, match="flush_secs"):
        resolve_config(flags={**flags, "train.track_params.tensorboard.flush_secs": "often"})
    config = resolve_config(flags={**flags, "train.track": "mlflow, tensorboard,mlflow"})
    assert config["train"]["track"] == ["mlflow", "tensorboard"]
    assert config["train"]["track_params"]["mlflow"] == {
        "uri": "",
        "experiment": "vadkit",
        "run_name": "",
    }


def test_a_resumed_run_may_change_its_trackers(tracked: Path) -> None:
    from vadkit.training.launch import resolve_train_config

    _, config = resolve_train_config(
        resume=tracked,
        overrides=["train.track_params.tensorboard.flush_secs=5"],
        flags={"train.track": ["tensorboard"]},
    )
    assert config["train"]["track"] == ["tensorboard"]
    assert config["train"]["track_params"]["tensorboard"]["flush_secs"] == 5


# -- the callback layer ----------------------------------------------------------------------------
class Calls(Tracker):
    """Keeps its calls in memory; ``fail`` names a primitive that raises."""

    def __init__(self, *, fail: str = "") -> None:
        self.fail = fail
        self.calls: list[tuple[str, Any]] = []

    def _call(self, name: str, value: Any = None) -> None:
        if name == self.fail:
            raise OSError(f"{name} failed")
        self.calls.append((name, value))

    def open(self, run_dir: Path, *, training: bool) -> bool:
        self._call("open", training)
        return True

    def log_params(self, params: Mapping[str, Any]) -> None:
        self._call("params", len(params))

    def log_metrics(self, metrics: Mapping[str, float], step: int) -> None:
        self._call("metrics", step)

    def log_artifact(self, path: Path) -> None:
        self._call("artifact", path.name)

    def close(self, outcome: str | None) -> None:
        self._call("close", outcome)


STEP = {"event": "step", "step": 1, "loss": 0.5, "losses": {"vcr": 0.5}}
EPOCH = {"event": "epoch", "step": 1, "loss": 0.5, "losses": {"vcr": 0.5}, "seconds": 2.0}


def train_once(tracker: Tracker, trainer: PretendTrainer) -> None:
    """The trainer's calls of one epoch of one step."""
    tracker.on_train_start(trainer)
    tracker.on_log(trainer, STEP)
    tracker.on_checkpoint(trainer, trainer.run_dir, Progress(1, 0, 1))
    tracker.on_epoch_end(trainer, EPOCH)
    tracker.on_train_end(trainer)


def test_only_rank_zero_logs(tmp_path: Path) -> None:
    from types import SimpleNamespace

    other = Calls()
    train_once(
        other, PretendTrainer(tmp_path, world=SimpleNamespace(is_main=False, rank=1, size=2))
    )
    assert other.calls == []
    main = Calls()
    train_once(main, PretendTrainer(tmp_path, world=SimpleNamespace(is_main=True, rank=0, size=2)))
    assert [name for name, _ in main.calls] == ["open", "params", "metrics", "metrics", "close"]


def test_steps_reach_a_tracker_only_with_their_checkpoint(tmp_path: Path) -> None:
    tracker, trainer = Calls(), PretendTrainer(tmp_path)
    tracker.on_train_start(trainer)
    tracker.on_log(trainer, STEP)
    assert [name for name, _ in tracker.calls] == ["open", "params"]
    tracker.on_train_error(trainer, RuntimeError("crash"))  # before the checkpoint
    assert tracker.calls[2:] == [("close", "failed")]


def test_a_failing_tracker_is_left_out_with_one_warning(tmp_path: Path) -> None:
    tracker = Calls(fail="metrics")
    with pytest.warns(TrackingWarning, match="could not log the losses") as caught:
        train_once(tracker, PretendTrainer(tmp_path))
    assert len(caught) == 1  # the epoch is not tried, the close is quiet
    settings = len(flatten(CHECK_CONFIG))
    assert tracker.calls == [("open", True), ("params", settings), ("close", "finished")]


def test_a_tracker_that_cannot_start_stops_training(tmp_path: Path) -> None:
    tracker = Calls(fail="open")
    tracker.name = "calls"
    with pytest.raises(ConfigError, match=r"The tracker 'calls' could not start: OSError"):
        tracker.on_train_start(PretendTrainer(tmp_path))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        tracker.on_train_error(PretendTrainer(tmp_path), RuntimeError("after"))  # nothing to close


def test_the_mlflow_tracker_takes_a_tracking_uri(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A URI from the config: MLflow's file store (MLflow 3 wants it asked for by name)."""
    from mlflow.tracking import MlflowClient

    from vadkit.tracking.mlflow import MLflow

    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")
    uri = (tmp_path / "store").as_uri()
    tracker = MLflow(uri=uri, experiment="elsewhere")
    train_once(tracker, PretendTrainer(tmp_path / "run"))
    client = MlflowClient(tracking_uri=uri)
    experiment = client.get_experiment_by_name("elsewhere")
    (run,) = client.search_runs([experiment.experiment_id])
    assert run.data.metrics["epoch/seconds"] == 2.0 and run.info.status == "FINISHED"
    assert run.info.run_name == "run"
    assert not (tmp_path / "run" / "mlflow" / "mlflow.db").exists()  # no store in the run
