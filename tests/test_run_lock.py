"""One writer per run folder: the lock of train, score and search (and of maps, report and watch's
calibration when they write into the run), and train --out's refusal."""

from __future__ import annotations

import contextlib
import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import run_cli

from vadkit.cli import main
from vadkit.storage.lock import HOLDER_FILE, RunLockedError, run_lock

HOLD = (
    "import sys, time\n"
    "from vadkit.storage.lock import run_lock\n"
    "with run_lock(sys.argv[1], 'vadkit score'):\n"
    "    print('held', flush=True)\n"
    "    time.sleep(120)\n"
)


def _unboxed(text: str) -> str:
    """The text of a rich panel, its border and line breaks removed."""
    return " ".join(re.sub(r"[│╭╮╰╯─]", " ", text).split())


@contextlib.contextmanager
def holding(run: Path) -> Iterator[subprocess.Popen[str]]:
    """Another live process holds the lock of ``run`` inside the block."""
    proc = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(run)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "held"
        yield proc
    finally:
        proc.kill()
        proc.wait()


@pytest.fixture
def held(tmp_path: Path) -> Iterator[tuple[Path, subprocess.Popen[str]]]:
    """A run folder whose lock another live process holds."""
    run = tmp_path / "run"
    run.mkdir()
    (run / "config.toml").write_text("")
    with holding(run) as proc:
        yield run, proc


def test_a_second_writer_is_refused_naming_the_holder(held) -> None:
    run, proc = held
    with pytest.raises(RunLockedError) as exc, run_lock(run, "vadkit train"):
        pass
    assert f"pid {proc.pid}" in exc.value.message and "vadkit score" in exc.value.message


def test_the_cli_refuses_a_second_writer_with_exit_2(held, capsys) -> None:
    run, proc = held
    with pytest.raises(SystemExit) as done:
        main(["score", str(run), "--quiet"])
    assert done.value.code == 2
    err = _unboxed(capsys.readouterr().err)
    assert "is being written by" in err and str(proc.pid) in err
    assert "Traceback" not in err


def test_a_dead_holder_is_taken_over_with_a_warning(tmp_path: Path) -> None:
    run = tmp_path / "run"
    run.mkdir()
    dead = {"pid": 999999, "host": "h", "command": "vadkit train", "since": "2026-01-01"}
    (run / HOLDER_FILE).write_text(json.dumps(dead))
    with pytest.warns(UserWarning, match="pid 999999 .*did not finish"), run_lock(run, "x"):
        holder = json.loads((run / HOLDER_FILE).read_text())
        assert holder["pid"] == os.getpid() and holder["command"] == "x"
    assert not (run / HOLDER_FILE).exists()  # released: no note left
    with run_lock(run, "y"):  # and the next one takes it quietly
        pass


def test_the_lock_is_released_when_its_holder_is_killed(held) -> None:
    run, proc = held
    proc.kill()
    proc.wait()
    time.sleep(0.1)
    with pytest.warns(UserWarning, match="did not finish"), run_lock(run, "vadkit score"):
        pass


def test_train_out_refuses_a_non_empty_folder_that_is_not_a_run(tmp_path: Path, capsys) -> None:
    out = tmp_path / "notes"
    out.mkdir()
    (out / "thesis.tex").write_text("precious")
    with pytest.raises(SystemExit) as done:
        main(["train", "--out", str(out), "--epochs", "1", "--quiet"])
    assert done.value.code == 2
    assert "is not empty and is not a vadkit run" in _unboxed(capsys.readouterr().err)
    assert sorted(p.name for p in out.iterdir()) == ["thesis.tex"]
    assert (out / "thesis.tex").read_text() == "precious"


def test_a_refused_run_leaves_no_folder_behind(tmp_path: Path) -> None:
    out = tmp_path / "new"
    with pytest.raises(RuntimeError), run_lock(out, "vadkit train"):
        raise RuntimeError("bad settings")
    assert not out.exists()


# -- commands that write into a run only sometimes: maps, report, watch's calibration ---------
def _refused(capsys: pytest.CaptureFixture[str], proc: subprocess.Popen[str]) -> bool:
    err = _unboxed(capsys.readouterr().err)
    return "is being written by" in err and str(proc.pid) in err and "Traceback" not in err


def test_a_report_inside_a_run_takes_its_lock_and_one_written_elsewhere_does_not(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from test_score_sets import scored

    from vadkit.config import resolve_config
    from vadkit.runs.folder import write_config

    run = tmp_path / "run"
    write_config(run, resolve_config(flags={"recipe": "luss-ae"}))
    scored(run)  # a score set with labels: a report needs no data, no weights with --no-maps
    elsewhere = tmp_path / "elsewhere" / "page.html"
    elsewhere.parent.mkdir()
    with holding(run) as proc:
        assert run_cli(["report", str(run), "--no-maps"]) == 2  # RUN/report.html
        assert _refused(capsys, proc)
        assert not (run / "report.html").exists()
        inside = run / "pages" / "page.html"
        assert run_cli(["report", str(run), "--no-maps", "--out", str(inside)]) == 2
        assert _refused(capsys, proc)
        assert run_cli(["report", str(run), "--no-maps", "--out", str(elsewhere)]) == 0
        assert elsewhere.is_file()  # read while another writes: no lock taken
    assert run_cli(["report", str(run), "--no-maps"]) == 0
    assert (run / "report.html").is_file()


@pytest.fixture(scope="module")
def real_run(tiny_run, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The tiny trained run (tests/conftest.py), on one torch thread and a private cache."""
    from conftest import quiet_machine

    with quiet_machine(tmp_path_factory.mktemp("cache")):
        yield Path(tiny_run.path)


def test_maps_into_a_run_take_its_lock(
    real_run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with holding(real_run) as proc:
        assert run_cli(["maps", str(real_run), "02", "--frames", "9:11", "--device", "cpu"]) == 2
        assert _refused(capsys, proc)
        assert not (real_run / "maps").exists()
        out = tmp_path / "maps"
        args = ["maps", str(real_run), "02", "--frames", "9:11", "--device", "cpu", "--json"]
        assert run_cli([*args, "--out", str(out)]) == 0  # written elsewhere: no lock taken
        assert any(out.glob("*.png"))


def test_watch_calibration_takes_the_run_lock(
    real_run: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    calibrate = ["watch", str(real_run), "--calibrate", "--calibration-windows", "4"]
    calibrate += ["--device", "cpu", "--quiet"]
    stored = real_run / "calibration.json"
    before = stored.read_bytes() if stored.is_file() else None
    with holding(real_run) as proc:
        assert run_cli(calibrate) == 2
        assert _refused(capsys, proc)
    assert (stored.read_bytes() if stored.is_file() else None) == before  # nothing written
    assert run_cli(calibrate) == 0
    assert (real_run / "calibration.json").is_file()
