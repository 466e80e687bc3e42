"""``vadkit train`` end to end on a tiny synthetic scene, and its answers to bad input."""

from __future__ import annotations

import json
import subprocess
import sys
import tomllib
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import TINY_MODEL, quiet_machine, run_cli

from vadkit.runs import checkpoints
from vadkit.runs import folder as runs

TINY = [
    *TINY_MODEL,
    "data.stride=4",
    "train.batch_size=4",
    "train.checkpoint_steps=2",
]
SETS = [arg for item in TINY for arg in ("--set", item)]


@pytest.fixture(scope="module", autouse=True)
def _env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """A private frame cache and one torch thread (OMP_NUM_THREADS for the subprocesses)."""
    with quiet_machine(tmp_path_factory.mktemp("cache"), OMP_NUM_THREADS="1"):
        yield


@pytest.fixture(scope="module")
def scene(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from vadkit.data import generate_scene

    root = tmp_path_factory.mktemp("scene") / "tiny"
    return generate_scene(root, size=32, train_videos=2, test_videos=1, frames=(20, 24))


def test_train_writes_every_run_folder_file_then_resumes_longer(
    scene: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import vadkit.data

    # no --data: the default synthetic scene (here the tiny one, to stay fast)
    monkeypatch.setattr(vadkit.data, "default_data_root", lambda *a, **k: scene)
    run = tmp_path / "run"
    code = run_cli(
        ["train", "--tasks", "vcr,prp", "--error", "mse", "--normalizer", "robust",
         "--backbone", "cae3d", "--epochs", "1", "--out", str(run), "--quiet", *SETS]
    )  # fmt: skip
    assert code == 0
    files = sorted(str(p.relative_to(run)) for p in run.rglob("*") if p.is_file())
    assert files == [
        "checkpoints/epoch_0001.safetensors",
        "checkpoints/epoch_0001.safetensors.sha256",
        "checkpoints/last.safetensors",
        "checkpoints/last.safetensors.sha256",
        "checkpoints/last.state.pt",
        "checkpoints/last.state.pt.sha256",
        "config.toml",
        "metrics.jsonl",
        "versions.json",
    ]
    config = tomllib.loads((run / "config.toml").read_text())
    assert config["data"]["root"] == ""  # the default scene, recorded as such
    assert config["tasks"]["names"] == ["vcr", "prp"]
    assert config["tasks"]["weights"] == {"vcr": 0.6, "prp": 1.0}
    assert config["score"]["error"] == "mse" and config["score"]["normalizer"] == "robust"
    assert config["train"]["epochs"] == 1 and config["model"]["params"]["channels"] == [
        8,
        8,
        16,
        16,
    ]
    versions = json.loads((run / "versions.json").read_text())
    assert set(versions) == {"vadkit", "python", "torch", "plugins", "distributions"}
    assert "luss" in versions["plugins"] and versions["distributions"]["luss"] == "vadkit"
    events = [json.loads(x)["event"] for x in (run / "metrics.jsonl").read_text().splitlines()]
    assert events[-1] == "epoch" and "step" in events

    loaded_config, model = runs.load_model(run)  # what scoring does
    assert list(model.tasks) == ["vcr", "prp"] and loaded_config["score"]["error"] == "mse"

    assert run_cli(["train", "--resume", str(run), "--epochs", "2", "--quiet"]) == 0
    assert (run / "checkpoints" / "epoch_0002.safetensors").is_file()
    assert tomllib.loads((run / "config.toml").read_text())["train"]["epochs"] == 2
    state = checkpoints.read_state(run / "checkpoints" / "last.state.pt")
    assert state["progress"]["epoch"] == 2


def test_progress_display_shows_losses_and_speed(
    scene: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = run_cli(
        ["train", "--data", str(scene), "--tasks", "vcr,ffp", "--epochs", "1",
         "--out", str(tmp_path / "run"), *SETS]
    )  # fmt: skip
    assert code == 0
    out = capsys.readouterr().out
    assert "Training vcr, ffp on cae3d" in out
    assert "epoch 1/1" in out and "clips/s" in out and "vcr " in out and "ffp " in out
    assert "Done: 1 epochs" in out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--set", "train.epoch=3"], "Unknown config key 'train.epoch'"),
        (["--backbone", "cae"], "Unknown backbone 'cae'"),
        (["--tasks", "vcr,fpx"], "Unknown task 'fpx'"),
        (["--set", "model.params.chanels=[8,8,16,16]"], "model.params.chanels"),
        (["--config", "/no/such/run.toml"], "/no/such/run.toml"),
        (["--data", "/no/such/dataset"], "/no/such/dataset"),
        (["--resume", "/no/such/run"], "not a vadkit run folder"),
        (["--epochs", "0"], "--epochs"),
    ],
)
def test_bad_input_is_one_message_and_exit_code_2(
    args: list[str], message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = run_cli(["train", "--out", str(tmp_path / "run"), "--quiet", *SETS, *args])
    err = capsys.readouterr().err
    assert code == 2
    assert message in " ".join(err.split())  # rich may wrap long lines
    assert "Traceback" not in err
    assert not (tmp_path / "run").exists()  # checked before anything is written


def test_resume_with_other_settings_is_refused(
    scene: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run = tmp_path / "run"
    runs.write_config(run, _tiny_config(scene))
    code = run_cli(["train", "--resume", str(run), "--set", "train.lr=0.1", "--quiet"])
    assert code == 2
    assert "cannot change --set" in " ".join(capsys.readouterr().err.split())


def _tiny_config(scene: Path) -> dict:
    from vadkit.config import resolve_config

    return resolve_config(overrides=TINY, flags={"data.root": str(scene)})


def test_bad_input_from_a_real_process_has_no_traceback(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "vadkit", "train", "--set", "train.batch_size=big",
         "--out", str(tmp_path / "run")],
        capture_output=True,
        text=True,
        timeout=120,
    )  # fmt: skip
    assert proc.returncode == 2
    assert "train.batch_size" in proc.stderr and "Traceback" not in proc.stderr
    assert not (tmp_path / "run").exists()  # nothing written for a rejected config
