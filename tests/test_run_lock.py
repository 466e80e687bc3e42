"""One writer per run folder: the lock of train, score and search, and train --out's refusal."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

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


@pytest.fixture
def held(tmp_path: Path) -> Iterator[tuple[Path, subprocess.Popen[str]]]:
    """A run folder whose lock another live process holds."""
    run = tmp_path / "run"
    run.mkdir()
    (run / "config.toml").write_text("")
    proc = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(run)], stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None and proc.stdout.readline().strip() == "held"
    try:
        yield run, proc
    finally:
        proc.kill()
        proc.wait()


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
