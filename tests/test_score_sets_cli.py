"""Score sets end to end on a tiny trained run: killed re-scores, mixed sets, short videos and an
error measure that gives NaN, each one message and the previous set kept."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from conftest import quiet_machine, run_cli
from test_data_helpers import write_video
from test_evaluate_cli import TINY, error_text

import vadkit
from vadkit import plugins


def _warnings(err: str) -> list[str]:
    """The warnings the CLI printed, one per ``warning: ...`` line."""
    return [line[len("warning: ") :] for line in err.splitlines() if line.startswith("warning: ")]


NAN_PLUGIN = '''
import torch
import vadkit


class NaNny(vadkit.ErrorMeasure):
    """MSE, but NaN for the first frame of every batch of more than two."""

    def forward(self, pred, real):
        mse = ((pred - real) ** 2).flatten(1).mean(1)
        if mse.shape[0] > 2:
            mse = mse.clone()
            mse[0] = float("nan")
        return mse


@vadkit.hookimpl
def register_errors(register):
    register("nanny", NaNny)
'''


@pytest.fixture(scope="module", autouse=True)
def _env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """A private frame cache, one torch thread, and the plugin host reset afterwards."""
    with quiet_machine(tmp_path_factory.mktemp("cache")):
        yield
    plugins.reset()


@pytest.fixture(scope="module")
def trained(tiny_scene: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A run trained for two epochs (checkpoints epoch_0001 and epoch_0002), scored with the
    first; never changed by a test (copy it first)."""
    run = tmp_path_factory.mktemp("runs") / "run"
    sets = [a for item in TINY for a in ("--set", item)]
    args = ["train", "--data", str(tiny_scene), "--epochs", "2", "--out", str(run), "--quiet"]
    assert run_cli([*args, *sets]) == 0
    assert run_cli(["score", str(run), "--checkpoint", "1", "--quiet"]) == 0
    return run


@pytest.fixture
def run(trained: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "run"
    shutil.copytree(trained, copy)
    return copy


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def record(run: Path, name: str = "testing") -> dict:
    return json.loads((run / "scores" / name / "set.json").read_text())


def evaluation(run: Path, capsys: pytest.CaptureFixture[str], *args: str) -> dict:
    """``vadkit evaluate RUN --json``'s numbers (without the time it was made)."""
    capsys.readouterr()
    assert run_cli(["evaluate", str(run), "--json", "--no-plots", *args]) == 0
    result = json.loads(capsys.readouterr().out)
    return {k: result[k] for k in ("protocol", "results", "per_video")}


def hidden(run: Path) -> list[str]:
    return sorted(p.name for p in (run / "scores").glob(".*"))


# -- a killed re-score -------------------------------------------------------------------------
def test_rescore_interrupted_after_two_videos_keeps_the_previous_set(
    run: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import vadkit.scoring.core as core

    before = evaluation(run, capsys)
    assert record(run)["identity"]["weights_sha256"] == sha256(
        run / "checkpoints" / "epoch_0001.safetensors"
    )
    scorer = core.score_videos

    def interrupted(*args, **kwargs):
        for i, video in enumerate(scorer(*args, **kwargs)):
            if i == 2:
                raise KeyboardInterrupt  # Ctrl+C after two of the three videos
            yield video

    monkeypatch.setattr(core, "score_videos", interrupted)  # the loop score_run runs
    assert run_cli(["score", str(run), "--checkpoint", "2", "--quiet"]) == 130
    assert evaluation(run, capsys) == before
    assert before["protocol"]["checkpoint_sha256"] == sha256(
        run / "checkpoints" / "epoch_0001.safetensors"
    )
    assert hidden(run) == []


@pytest.mark.skipif(os.name != "posix", reason="SIGKILL is POSIX")
def test_rescore_killed_with_sigkill_keeps_the_previous_set(
    run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import vadkit_luss

    before = evaluation(run, capsys)
    marker = tmp_path / "two-written"
    script = textwrap.dedent(
        """
        import sys, time
        from pathlib import Path
        import vadkit.scoring.scoreset as scoreset
        from vadkit.cli import main

        write, count = scoreset.write_video_scores, [0]

        def write_then_hang(path, video, extra=None):
            write(path, video, extra)
            count[0] += 1
            if count[0] == 2:  # two of three videos written: wait to be killed
                Path(sys.argv[1]).write_text(str(path.parent))
                time.sleep(600)

        scoreset.write_video_scores = write_then_hang
        main(sys.argv[2:])
        """
    )
    paths = [Path(vadkit.__file__).parents[1], Path(vadkit_luss.__file__).parents[1]]
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(map(str, paths)))
    args = ["score", str(run), "--checkpoint", "2", "--quiet", "--device", "cpu"]
    proc = subprocess.Popen([sys.executable, "-c", script, str(marker), *args], env=env)
    try:
        deadline = time.monotonic() + 300
        while not marker.exists() and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.2)
        assert marker.exists(), f"the scorer did not reach its second video (rc {proc.poll()})"
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.kill()
        proc.wait()
    staging = Path(marker.read_text())
    assert staging.name == f".testing.staging-{proc.pid}"
    assert len(list(staging.glob("*.npz"))) == 2 and not (staging / "set.json").exists()
    assert evaluation(run, capsys) == before  # the previous set, whole
    assert run_cli(["score", str(run), "--checkpoint", "2", "--quiet"]) == 0
    assert not staging.exists() and hidden(run) == []  # the next score cleans up
    assert record(run)["identity"]["weights_sha256"] == sha256(
        run / "checkpoints" / "epoch_0002.safetensors"
    )


HANG_AFTER_TWO = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    import vadkit.scoring.scoreset as scoreset
    from vadkit.cli import main

    write, count = scoreset.write_video_scores, [0]

    def write_then_hang(path, video, extra=None):
        write(path, video, extra)
        count[0] += 1
        if count[0] == 2:  # two of three videos written: wait for the signal
            Path(sys.argv[1]).write_text(str(path.parent))
            time.sleep(600)

    scoreset.write_video_scores = write_then_hang
    main(sys.argv[2:])
    """
)


@pytest.mark.skipif(os.name != "posix", reason="signals are POSIX")
def test_a_background_rescore_stopped_with_sigint_exits_130_and_keeps_the_previous_set(
    run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``vadkit score RUN &`` starts with SIGINT ignored (as a shell starts background jobs);
    ``kill -INT`` still stops it: exit 130, one line, the previous set whole, nothing left."""
    import vadkit_luss

    before = evaluation(run, capsys)
    marker = tmp_path / "two-written"
    paths = [Path(vadkit.__file__).parents[1], Path(vadkit_luss.__file__).parents[1]]
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(map(str, paths)))
    args = ["score", str(run), "--checkpoint", "2", "--quiet", "--device", "cpu"]
    proc = subprocess.Popen(
        [sys.executable, "-c", HANG_AFTER_TWO, str(marker), *args],
        env=env,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN),  # a background job
    )
    try:
        deadline = time.monotonic() + 300
        while not marker.exists() and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.2)
        assert marker.exists(), f"the scorer did not reach its second video (rc {proc.poll()})"
        os.kill(proc.pid, signal.SIGINT)
        try:
            _, err = proc.communicate(timeout=120)
        except subprocess.TimeoutExpired:
            pytest.fail("kill -INT did not stop the background score (SIGINT still ignored)")
    finally:
        proc.kill()
        proc.wait()
    assert proc.returncode == 130, err
    assert err.strip() == "Interrupted." and "Traceback" not in err
    assert not Path(marker.read_text()).exists() and hidden(run) == []  # staging removed
    assert evaluation(run, capsys) == before  # the previous set, whole


def test_interruptible_restores_sigint_only_where_it_was_ignored() -> None:
    from vadkit.cli.common import interruptible

    found = signal.getsignal(signal.SIGINT)
    try:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        with interruptible():
            assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
            with pytest.raises(KeyboardInterrupt):
                os.kill(os.getpid(), signal.SIGINT)
                time.sleep(5)  # the signal arrives here
        assert signal.getsignal(signal.SIGINT) is signal.SIG_IGN  # as found
        mine = signal.signal(signal.SIGINT, lambda signum, frame: None)
        with interruptible():  # a handler of its own is left alone
            assert signal.getsignal(signal.SIGINT) is not signal.default_int_handler
        del mine
    finally:
        signal.signal(signal.SIGINT, found)


# -- a mixed set -------------------------------------------------------------------------------
def test_a_set_with_a_file_from_another_checkpoint_is_refused_naming_it(
    run: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run_cli(["evaluate", str(run), "--no-plots"]) == 0
    kept = (run / "evaluation.json").read_text()
    assert run_cli(["score", str(run), "--checkpoint", "2", "--name", "other", "--quiet"]) == 0
    file = record(run)["videos"][1]["file"]  # testing/<second video>.npz
    shutil.copy(run / "scores" / "other" / Path(file).name, run / "scores" / file)
    capsys.readouterr()
    assert run_cli(["evaluate", str(run)]) == 2
    text = error_text(capsys)
    assert f"Score set 'testing' of {run} mixes scores" in text and f"{file} (checkpoint" in text
    assert "Nothing was evaluated" in text
    assert (run / "evaluation.json").read_text() == kept
    assert run_cli(["search", str(run)]) == 2 and "mixes scores" in error_text(capsys)


# -- short videos ------------------------------------------------------------------------------
def test_score_of_only_short_videos_exits_2_and_registers_nothing(
    run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    short = write_video(tmp_path / "short.mp4", [10, 20, 30, 40, 50])
    index = (run / "scores" / "index.json").read_text()
    capsys.readouterr()
    assert run_cli(["score", str(run), str(short)]) == 2
    text = error_text(capsys)
    assert "No video can be scored" in text and "'short' (5 frames)" in text
    assert "clip_length + 1 = 9" in text and "Nothing was written" in text
    assert not (run / "scores" / "videos").exists() and hidden(run) == []
    assert (run / "scores" / "index.json").read_text() == index


def test_a_short_video_beside_others_is_skipped_and_listed(
    run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    short = write_video(tmp_path / "short.mp4", [10, 20, 30, 40, 50])
    ok = write_video(tmp_path / "ok.mp4", list(range(0, 240, 20)))  # 12 frames
    capsys.readouterr()
    assert run_cli(["score", str(run), str(short), str(ok), "--name", "mix"]) == 0
    captured = capsys.readouterr()
    warned = _warnings(captured.err)  # the CLI prints each warning as one line
    assert any("video 'short' has 5 frames" in w for w in warned)
    out = " ".join(captured.out.split())
    assert "Not scored: short (5 frames, fewer than clip_length + 1 = 9)" in out
    saved = record(run, "mix")
    assert [v["name"] for v in saved["videos"]] == ["ok"]
    assert saved["skipped"] == [{"name": "short", "num_frames": 5, "reason": "too short"}]


# -- an error measure that gives NaN -----------------------------------------------------------
def test_a_measure_that_gives_nan_is_left_out_and_the_others_still_score(
    run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    plugin = tmp_path / "nanplug.py"
    plugin.write_text(NAN_PLUGIN)
    capsys.readouterr()
    code = run_cli(["--plugin", str(plugin), "score", str(run), "--name", "nan", "--quiet"])
    assert code == 0
    warned = _warnings(capsys.readouterr().err)
    warning = next(w for w in warned if w.startswith("error measure 'nanny' left out"))
    first = record(run)["videos"][0]["name"]
    assert f"video '{first}'" in warning and "scores (NaN) at frame" in warning
    saved = record(run, "nan")
    assert "nanny" not in saved["errors"] and {"mse", "psnr", "bpe"} <= set(saved["errors"])
    assert saved["left_out_errors"]["nanny"].startswith("non-finite scores: task '")
    assert len(saved["videos"]) == 3
    mse = evaluation(run, capsys, "--scores", "nan", "--error", "mse")
    assert mse["results"]["fused"]["micro_auroc"] > 0
    assert run_cli(["evaluate", str(run), "--scores", "nan", "--error", "nanny"]) == 2
    text = error_text(capsys)
    assert "The error measure 'nanny' was left out of score set 'nan' at scoring" in text
    assert f"video '{first}'" in text and "--error" in text


def test_a_default_measure_that_gives_nan_leaves_no_fused_score_and_says_so(
    run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    plugin = tmp_path / "nanplug.py"
    plugin.write_text(NAN_PLUGIN)
    config = run / "config.toml"
    text = config.read_text()
    assert 'error = "bpe"' in text
    config.write_text(text.replace('error = "bpe"', 'error = "nanny"'))
    capsys.readouterr()
    assert run_cli(["--plugin", str(plugin), "score", str(run), "--quiet"]) == 0
    warned = _warnings(capsys.readouterr().err)
    assert any(w.startswith("error measure 'nanny' left out") for w in warned)
    assert any(w.startswith("score.error 'nanny' was left out, so the set") for w in warned)
    saved = record(run)
    assert saved["defaults"]["error"] == "nanny" and "nanny" in saved["left_out_errors"]
    for entry in saved["videos"]:
        with np.load(run / "scores" / entry["file"]) as data:
            assert "fused" not in data.files
            assert not any(k.endswith(".nanny") for k in data.files)
    capsys.readouterr()
    assert run_cli(["evaluate", str(run), "--no-plots"]) == 2
    assert "'nanny' was left out of score set 'testing'" in error_text(capsys)
    assert evaluation(run, capsys, "--error", "mse")["protocol"]["error"] == "mse"
