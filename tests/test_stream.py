"""Live scoring: stream scores equal offline ones, calibration, alerts, JSON lines, bad input."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from conftest import quiet_machine, run_cli

from vadkit.components import SCORE_KEY
from vadkit.data.live import FrameReader
from vadkit.stream import (
    FrameScore,
    StreamScorer,
    calibrate,
    read_calibration,
    run_stream,
    select_windows,
    weights_digest,
)

T = 8
TINY = [
    "model.params.channels=[4,8,8,8]",
    "data.size=[32,32]",
    "data.clip_length=8",
    "data.stride=4",
    "train.batch_size=8",
    "train.device='cpu'",
]
FLASH = 12  # white frames appended to a normal video (the camera is blinded)


@pytest.fixture(scope="module", autouse=True)
def _env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """A private frame cache and one torch thread (tiny convolutions gain nothing from two)."""
    with quiet_machine(tmp_path_factory.mktemp("cache")):
        yield


def _error(capsys: pytest.CaptureFixture[str]) -> str:
    err = capsys.readouterr().err
    assert "Traceback" not in err
    for box in "│╭╮╰╯─":
        err = err.replace(box, " ")
    return " ".join(err.split())


def write_video(path: Path, frames: np.ndarray, rate: int = 10) -> Path:
    """Gray uint8 frames (N, H, W) into a lossless FFV1 file."""
    import av

    with av.open(str(path), "w") as container:
        stream = container.add_stream("ffv1", rate=rate)
        stream.width, stream.height, stream.pix_fmt = frames.shape[2], frames.shape[1], "gray"
        for image in frames:
            container.mux(stream.encode(av.VideoFrame.from_ndarray(image, format="gray")))
        container.mux(stream.encode())
    return path


def decoded_rgb(path: Path) -> list[np.ndarray]:
    import av

    with av.open(str(path)) as container:
        return [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]


@pytest.fixture(scope="module")
def run(tiny_scene: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A run trained for one epoch on the tiny scene, calibrated on all its training windows."""
    out = tmp_path_factory.mktemp("runs") / "run"
    sets = [a for item in TINY for a in ("--set", item)]
    args = ["train", "--data", str(tiny_scene), "--epochs", "1", "--out", str(out), "--quiet"]
    assert run_cli([*args, *sets]) == 0
    assert run_cli(["watch", str(out), "--calibrate", "--device", "cpu", "--quiet"]) == 0
    return out


@pytest.fixture(scope="module")
def normal_frames(tiny_scene: Path) -> np.ndarray:
    from PIL import Image

    folder = sorted((tiny_scene / "training" / "frames").iterdir())[0]
    files = sorted(folder.glob("*.png"))
    return np.stack([np.asarray(Image.open(f).convert("L")) for f in files])


@pytest.fixture(scope="module")
def clip(normal_frames: np.ndarray, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A training video of the scene (normal) followed by white frames (anomalous), at 48x40 so
    that frames are resized like the run's data."""
    from PIL import Image

    big = np.stack([np.asarray(Image.fromarray(f).resize((48, 40))) for f in normal_frames])
    flash = np.full((FLASH, 40, 48), 255, np.uint8)
    return write_video(tmp_path_factory.mktemp("video") / "clip.avi", np.concatenate([big, flash]))


def _scorer(run: Path, **kw) -> StreamScorer:
    from vadkit.inference.scorer import ModelScorer, applicable_errors, scoring_runtime
    from vadkit.runs.folder import load_model

    config, model = load_model(run)
    runtime = scoring_runtime("cpu", "fp32")
    errors = applicable_errors([kw.get("error", "bpe")], (1, 32, 32))
    return StreamScorer(ModelScorer(model, errors, runtime), config, **kw)


# -- equality with offline scoring ---------------------------------------------------------------
def test_stream_scores_equal_offline_scores(run: Path, clip: Path) -> None:
    from vadkit.scoring.scoreset import load_scores

    assert (
        run_cli(
            [
                "score",
                str(run),
                str(clip),
                "--name",
                "stream",
                "--quiet",
                "--device",
                "cpu",
                "--precision",
                "fp32",
            ]
        )
        == 0
    )
    (offline,) = load_scores(run, "stream").videos
    frames = decoded_rgb(clip)
    assert offline.num_frames == len(frames)

    one = _scorer(run, max_batch=1)
    got = [s for f in frames for s in one.push(f)]
    assert [s.frame for s in got] == list(offline.frames) == list(range(T, len(frames)))
    for task, key in (("vcr", "bpe"), ("ffp", "bpe"), ("prp", SCORE_KEY)):
        np.testing.assert_allclose(
            [s.raw[task] for s in got], offline.raw[task][key], rtol=1e-5, atol=1e-7
        )
    assert one.frames_seen == len(frames) and one.windows_scored == len(frames) - T

    # catching up: several frames at once run as batches of up to max_batch windows
    batched = _scorer(run, max_batch=4, error="psnr")
    calls: list[int] = []
    encode = batched.scorer.model.backbone.encode

    def counting(x):
        calls.append(int(x.shape[0]))
        return encode(x)

    batched.scorer.model.backbone.encode = counting
    got = []
    for i in range(0, len(frames), 5):
        got += batched.push_many(frames[i : i + 5])
    assert all(n <= 4 for n in calls) and sum(calls) == len(frames) - T
    assert [s.frame for s in got] == list(offline.frames)
    # psnr is a similarity: stored negated offline, and so in the stream
    np.testing.assert_allclose([s.raw["vcr"] for s in got], offline.raw["vcr"]["psnr"], rtol=1e-5)
    assert all(s.raw["vcr"] < 0 for s in got)


def test_first_t_frames_score_nothing_and_bad_frames_are_rejected(run: Path) -> None:
    from vadkit.errors import ConfigError, DataError

    scorer = _scorer(run)
    frame = np.zeros((40, 48), np.uint8)
    assert all(scorer.push(frame) == [] for _ in range(T))
    (score,) = scorer.push(np.zeros((40, 48, 3), np.uint8))
    assert score.frame == T and score.time is None
    with pytest.raises(DataError, match="must be uint8"):
        scorer.push(np.zeros((40, 48), np.float32))
    with pytest.raises(DataError, match="preprocessed frame"):
        scorer.push_many([np.zeros((40, 48, 1), np.uint8)], preprocessed=True)
    with pytest.raises(ConfigError, match="nothing to be fitted on without a calibration"):
        _scorer(run, normalizer="robust")


# -- calibration ---------------------------------------------------------------------------------
def test_calibration_scores_training_windows(run: Path, tmp_path: Path) -> None:
    from vadkit.data import open_videos
    from vadkit.runs.folder import load_model

    copy = tmp_path / "run"
    shutil.copytree(run, copy)
    cal = calibrate(copy, windows=5, device="cpu", precision="fp32", quantile=90)
    assert read_calibration(copy) is not None
    assert cal.windows == 5 and cal.meta["data"]["windows_used"] == 5
    assert cal.meta["weights"]["sha256"] == weights_digest(copy / "checkpoints/last.safetensors")
    config, _model = load_model(copy)
    assert cal.meta["data"]["root"] == str(Path(config["data"]["root"]))
    assert set(cal.scores) == {"vcr", "ffp", "prp"} and set(cal.scores["prp"]) == {SCORE_KEY}
    assert {"mse", "bpe", "psnr"} <= set(cal.scores["vcr"])

    # each calibration score is the score of one training window, as the stream computes it
    videos = list(open_videos(config["data"]["root"], "training", size=(32, 32), progress=False))
    picks = select_windows([v.num_frames for v in videos], T, 5)
    for i, (v, s) in enumerate(picks):
        scorer = _scorer(copy)
        frames = videos[v].frames(np.arange(s, s + T + 1))
        (score,) = scorer.push_many(list(frames), preprocessed=True)
        for task in ("vcr", "ffp", "prp"):
            key = "bpe" if task != "prp" else SCORE_KEY
            np.testing.assert_allclose(score.raw[task], cal.scores[task][key][i], rtol=1e-5)

    # the normalizer (the run's score.normalizer) and the threshold, recomputed by hand
    stored = json.loads((copy / "calibration.json").read_text())
    assert config["score"]["normalizer"] == "minmax" == stored["normalizer"] == cal.normalizer
    fused, robust = 0.0, 0.0
    for task in ("vcr", "ffp", "prp"):
        key = "bpe" if task != "prp" else SCORE_KEY
        a = np.asarray(cal.scores[task][key])
        fused = fused + (a - a.min()) / (a.max() - a.min())  # default alphas: 1 per task
        q1, med, q99 = np.percentile(a, [1, 50, 99])
        robust = robust + (a - med) / (q99 - q1)
    assert stored["threshold"]["quantile"] == 90
    assert stored["threshold"]["value"] == pytest.approx(np.percentile(fused, 90))
    assert cal.threshold_for("bpe", {"vcr": 1, "ffp": 1, "prp": 1}, 50) == pytest.approx(
        np.median(fused)
    )
    assert cal.threshold_for("bpe", {"vcr": 1, "ffp": 1, "prp": 1}, 50, "robust") == (
        pytest.approx(np.median(robust))
    )
    # another normalizer on request
    again = calibrate(copy, windows=5, device="cpu", precision="fp32", normalizer="robust")
    assert json.loads((copy / "calibration.json").read_text())["normalizer"] == "robust"
    assert again.threshold == pytest.approx(np.percentile(robust, 99.5))


def test_calibration_is_written_atomically(
    run: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    copy = tmp_path / "run"
    shutil.copytree(run, copy)
    before = (copy / "calibration.json").read_bytes()

    def broken(obj, fh, **kw):
        fh.write('{"format": 1, "stats": ')
        raise OSError("disk full")

    monkeypatch.setattr(json, "dump", broken)
    with pytest.raises(OSError, match="disk full"):
        calibrate(copy, windows=3, device="cpu")
    assert (copy / "calibration.json").read_bytes() == before
    assert sorted(p.name for p in copy.iterdir() if "calibration" in p.name) == ["calibration.json"]


def test_stale_calibration_is_redone(
    run: Path, tmp_path: Path, clip: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    copy = tmp_path / "run"
    shutil.copytree(run, copy)
    path = copy / "calibration.json"
    data = json.loads(path.read_text())
    data["weights"]["sha256"] = "0" * 64
    path.write_text(json.dumps(data))
    assert run_cli(["watch", str(copy), str(clip), "--device", "cpu", "--quiet"]) == 0
    err = _error(capsys)
    assert "Calibrating" in err and "other weights" in err
    assert json.loads(path.read_text())["weights"]["sha256"] != "0" * 64
    path.unlink()
    assert run_cli(["watch", str(copy), str(clip), "--device", "cpu", "--quiet"]) == 0
    assert "has no calibration.json yet" in _error(capsys)


# -- alerts --------------------------------------------------------------------------------------
def test_alerts_where_fused_exceeds_the_threshold(run: Path, clip: Path) -> None:
    frames = decoded_rgb(clip)
    n_normal = len(frames) - FLASH
    cal = read_calibration(run)
    assert cal is not None
    scorer = _scorer(run, calibration=cal)
    scores = [s for f in frames for s in scorer.push(f)]
    fused = [float(s.fused) for s in scores if s.fused is not None]
    assert len(fused) == len(scores) == len(frames) - T
    assert scorer.threshold == pytest.approx(cal.threshold)
    assert scorer.normalizer == cal.normalizer == "minmax"  # the run's score.normalizer
    keys = {"vcr": "bpe", "ffp": "bpe", "prp": SCORE_KEY}
    for s in scores:
        for task, key in keys.items():
            a = cal.scores[task][key]
            want = (s.raw[task] - a.min()) / (a.max() - a.min())
            assert s.normalized[task] == pytest.approx(want)
        assert s.fused == pytest.approx(sum(s.normalized.values()))  # default weights: 1 each
    assert [s.alert for s in scores] == [f > cal.threshold for f in fused]
    # robust: the same live scores as the streaming of old, (a - median) / (q99 - q1) of the
    # calibration scores, and its own threshold
    robust = _scorer(run, calibration=cal, normalizer="robust")
    streamed = [s for f in frames for s in robust.push(f)]
    assert [s.raw for s in streamed] == [s.raw for s in scores]
    for s in streamed:
        for task, key in keys.items():
            q1, med, q99 = np.percentile(cal.scores[task][key], [1, 50, 99])
            assert s.normalized[task] == pytest.approx((s.raw[task] - med) / (q99 - q1))
    assert robust.threshold == pytest.approx(
        cal.threshold_for("bpe", robust.alphas, None, "robust")
    )
    assert [s.alert for s in streamed] == [s.fused > robust.threshold for s in streamed]
    assert all(s.alert for s in streamed if s.frame >= n_normal)
    # the flash is far outside the calibration: every window that ends in it alerts
    assert all(s.alert for s in scores if s.frame >= n_normal)
    # a threshold given by hand: alerts exactly where the fused score exceeds it
    middle = float(np.median(fused[: n_normal - T]))
    by_hand = _scorer(run, calibration=cal, threshold=middle)
    again = [s for f in frames for s in by_hand.push(f)]
    assert [s.alert for s in again] == [f > middle for f in fused]
    assert 0 < sum(s.alert for s in again if s.frame < n_normal) < n_normal - T


def test_watch_cli_alerts_and_jsonl(
    run: Path, clip: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "logs" / "scores.jsonl"
    n = len(decoded_rgb(clip))
    assert run_cli(["watch", str(run), str(clip), "--device", "cpu", "--jsonl", str(out)]) == 0
    text = capsys.readouterr().out
    records = [json.loads(line) for line in out.read_text().splitlines()]
    rows = [r for r in records if "event" not in r]
    alerts = [r for r in records if r.get("event") == "alert"]
    assert len(rows) + len(alerts) == len(records)
    assert [r["frame"] for r in rows] == list(range(T, n))
    assert all(set(r) == {"frame", "time", "raw", "normalized", "fused", "alert"} for r in rows)
    assert rows[0]["time"] == pytest.approx(T / 10)  # 10 fps
    # alerts are the runs of consecutive frames above the threshold, printed as they close
    runs, start = [], None
    for r in [*rows, {"frame": n, "alert": False}]:
        if r["alert"] and start is None:
            start = r["frame"]
        elif not r["alert"] and start is not None:
            runs.append((start, r["frame"] - 1))
            start = None
    assert runs and runs[-1][1] == n - 1  # the flash, closed at the end of the stream
    for a, b in runs:
        assert f"ALERT frames {a}-{b} " in text
    # each alert is recorded with the picture of its peak frame and its anomaly map beside it
    assert [(r["start_frame"], r["end_frame"]) for r in alerts] == runs
    from PIL import Image

    for r in alerts:
        pictures = r["peak_pictures"]
        assert set(pictures) == {"frame", "map"}
        for kind, path in pictures.items():
            assert Path(path).parent == out.parent / "scores_alerts"
            assert f"frame{r['peak_frame']:06d}_{kind}" in path
            with Image.open(path) as image:
                assert image.size == (32, 32) and image.mode == "RGB"
    flash = alerts[-1]["peak_pictures"]
    frame, heat = (np.asarray(Image.open(flash[k]), np.float64) for k in ("frame", "map"))
    assert frame.mean() > 200  # the white flash itself
    assert np.abs(heat - frame).max() > 0  # the map is drawn over it
    assert f"Stream ended: {n} frames, {n - T} windows scored, {len(runs)} alert(s)" in text

    # JSON summary; the file is appended to, never truncated
    assert run_cli(["watch", str(run), str(clip), "--device", "cpu", "--jsonl", str(out),
                 "--json", "--max-frames", "20", "--gap", "100"]) == 0  # fmt: skip
    summary = json.loads(capsys.readouterr().out)
    assert summary["frames"] == 20 and summary["windows"] == 20 - T
    assert summary["interrupted"] is False and summary["jsonl"] == str(out)
    lines = [json.loads(x) for x in out.read_text().splitlines()]
    assert len([r for r in lines if "event" not in r]) == (n - T) + (20 - T)


def test_watch_normalizer_option(
    run: Path, clip: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cal = read_calibration(run)
    assert cal is not None and cal.normalizer == "minmax"
    # refitted on the stored calibration scores: no new calibration, the file is unchanged
    before = (run / "calibration.json").read_bytes()
    args = ["watch", str(run), str(clip), "--device", "cpu", "--json", "--max-frames", "20"]
    assert run_cli([*args, "--normalizer", "robust"]) == 0
    summary = json.loads(capsys.readouterr().out)
    ones = {"vcr": 1.0, "ffp": 1.0, "prp": 1.0}
    assert summary["threshold"] == pytest.approx(cal.threshold_for("bpe", ones, None, "robust"))
    assert summary["threshold"] != pytest.approx(cal.threshold)
    assert (run / "calibration.json").read_bytes() == before
    # --calibrate stores the normalizer it is given
    copy = tmp_path / "run"
    shutil.copytree(run, copy)
    assert run_cli(["watch", str(copy), "--calibrate", "--normalizer", "robust", "--json",
                 "--calibration-windows", "5", "--device", "cpu"]) == 0  # fmt: skip
    shown = json.loads(capsys.readouterr().out)
    assert shown["normalizer"] == "robust" and shown["format"] == 2
    assert json.loads((copy / "calibration.json").read_text())["normalizer"] == "robust"


def test_watch_refuses_a_normalizer_that_cannot_fit(
    run: Path, clip: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from vadkit import plugins

    path = tmp_path / "halves.py"
    path.write_text(
        "import vadkit\n\n"
        "class Halves(vadkit.ScoreNormalizer):\n"
        '    """Halves the scores."""\n\n'
        "    def __call__(self, scores):\n"
        "        return scores / 2\n\n"
        "@vadkit.hookimpl\n"
        "def register_normalizers(register):\n"
        '    register("halves", Halves)\n'
    )
    try:
        code = run_cli(["--plugin", str(path), "watch", str(run), str(clip), "--device", "cpu",
                     "--normalizer", "halves"])  # fmt: skip
    finally:
        plugins.reset()
    assert code == 2
    err = _error(capsys)
    assert "Normalizer 'halves' (Halves) cannot rescale a stream" in err
    assert "Give it fit() and transform()" in err and "robust" in err


def test_jsonl_keeps_what_was_written_before_a_crash(run: Path, clip: Path, tmp_path: Path) -> None:
    scorer = _scorer(run, max_batch=2)
    reader = FrameReader(clip, preprocess=scorer.preprocess, queue_size=4)
    out = tmp_path / "crash.jsonl"
    seen: list[int] = []

    def crash(scores: list[FrameScore]) -> None:
        seen.extend(s.frame for s in scores)
        if len(seen) >= 5:
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        run_stream(scorer, reader, jsonl=out, on_scores=crash)
    assert [json.loads(line)["frame"] for line in out.read_text().splitlines()] == seen


def test_ctrl_c_stops_cleanly_with_a_summary(
    run: Path, clip: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    calls = {"n": 0}
    push_many = StreamScorer.push_many

    def interrupted(self, *args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 3:
            raise KeyboardInterrupt
        return push_many(self, *args, **kwargs)

    monkeypatch.setattr(StreamScorer, "push_many", interrupted)
    assert run_cli(["watch", str(run), str(clip), "--device", "cpu", "--max-batch", "1"]) == 0
    out = capsys.readouterr().out
    assert "Stopped (Ctrl-C): 2 frames, 0 windows scored, 0 alert(s)" in out


# -- bad input -----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["{run}", "{tmp}/nope.avi"], "Video source '{tmp}/nope.avi' does not exist"),
        (["{run}", "{tmp}/text.avi"], "Cannot open video source '{tmp}/text.avi'"),
        (["{tmp}/norun", "{clip}"], "is not a vadkit run folder"),
        (["{other}", "{clip}"], "belongs to another model"),
        (["{run}", "{short}"], "ended after 5 frame(s), before the first window"),
        (["{run}", "{clip}", "--max-frames", "3"], "--max-frames 3 is fewer than"),
        (["{run}"], "Give a SOURCE to watch"),
        (["{run}", "{clip}", "--option", "novalue"], "is not KEY=VALUE"),
        (["{run}", "{clip}", "--error", "nosuch"], "nosuch"),
        (["{run}", "{clip}", "--normalizer", "nosuch"], "nosuch"),
        (["{run}", "{clip}", "--quantile", "100"], "not in (0, 100)"),
        (["{run}", "{clip}", "--alphas", "1,2"], "2 fusion weight(s) for 3 task(s)"),
    ],
)
def test_bad_input_is_one_message_and_exit_2(
    run: Path,
    clip: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    args: list[str],
    message: str,
) -> None:
    (tmp_path / "text.avi").write_text("not a video")
    write_video(tmp_path / "short.avi", np.zeros((5, 32, 32), np.uint8))
    other = tmp_path / "other"
    shutil.copytree(run, other)
    config = other / "config.toml"
    config.write_text(config.read_text().replace("[4, 8, 8, 8]", "[4, 4, 8, 8]"))
    subs = {"run": run, "tmp": tmp_path, "clip": clip, "other": other}
    subs["short"] = tmp_path / "short.avi"
    assert run_cli(["watch", *(a.format(**subs) for a in args), "--device", "cpu"]) == 2
    assert message.format(**subs) in _error(capsys)


# -- layout --------------------------------------------------------------------------------------
def test_engine_stream_is_a_deprecated_alias(monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib
    import sys

    import vadkit.data.live
    import vadkit.stream

    monkeypatch.delitem(sys.modules, "vadkit.engine.stream", raising=False)
    with pytest.warns(DeprecationWarning, match="vadkit.engine.stream is deprecated"):
        old = importlib.import_module("vadkit.engine.stream")
    for name in vadkit.stream.__all__:
        assert getattr(old, name) is getattr(vadkit.stream, name), name
    assert old.FrameReader is vadkit.data.live.FrameReader
    assert old.check_source is vadkit.data.live.check_source
    assert set(old.__all__) == {*vadkit.stream.__all__, "FrameReader", "check_source"}
