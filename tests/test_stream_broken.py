"""A source that breaks mid-stream: reported as such, exit 2 as `score` gives, nothing lost."""

from __future__ import annotations

import json
import re
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest
from conftest import run_cli
from test_stream import (  # noqa: F401
    FLASH,
    T,
    _env,
    _scorer,
    clip,
    normal_frames,
    run,
)
from test_stream_helpers import FakeReader, write_timed_video

from vadkit.data.live import FrameReader, SourceError
from vadkit.errors import DataError
from vadkit.stream import read_calibration, run_stream

CPU = ["--device", "cpu", "--precision", "fp32"]


@pytest.fixture(scope="module")
def flash_frames(normal_frames: np.ndarray) -> np.ndarray:  # noqa: F811
    """A normal video of the scene followed by FLASH white frames (anomalous)."""
    flash = np.full((FLASH, *normal_frames.shape[1:]), 255, np.uint8)
    return np.concatenate([normal_frames, flash])


def _plain(text: str) -> str:
    """Printed text on one line, without the error panel's frame (and never a traceback)."""
    assert "Traceback" not in text
    for box in "│╭╮╰╯─":
        text = text.replace(box, " ")
    return " ".join(text.split())


def _message(text: str, name: str) -> str:
    """The first sentence of the error about the video file ``name``, as printed."""
    found = re.search(rf"Video file '[^']*{re.escape(name)}' [^.]*\.(?:\d+[^.]*\.)*", text)
    assert found is not None, text
    return found.group(0)


def _watch_and_score(run: Path, path: Path, out: Path, capsys: Any) -> tuple[str, str, str]:  # noqa: F811
    """(watch's stdout, watch's error, score's error) on the same file; both exit 2."""
    assert run_cli(["watch", str(run), str(path), *CPU, "--jsonl", str(out)]) == 2
    watch = capsys.readouterr()
    assert run_cli(["score", str(run), str(path), "--name", "broken", "--quiet", *CPU]) == 2
    return _plain(watch.out), _plain(watch.err), _plain(capsys.readouterr().err)


@pytest.mark.parametrize(
    ("ext", "keep", "reason"),
    [
        ("mkv", 0.5, r"ends early: (\d+) frames decoded, its header declares"),  # decodes silently
        ("avi", 0.9, r"stops decoding after (\d+) frames: "),  # FFmpeg fails mid-stream
    ],
    ids=["mkv-ends-early", "avi-decoding-error"],
)
def test_a_truncated_file_ends_the_watch_as_score_refuses_it(
    run: Path,  # noqa: F811
    flash_frames: np.ndarray,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    ext: str,
    keep: float,
    reason: str,
) -> None:
    n = len(flash_frames)
    path = tmp_path / f"cut.{ext}"
    if ext == "mkv":
        write_timed_video(path, flash_frames, range(n))
    else:
        from test_stream import write_video

        write_video(path, flash_frames)
    # the whole file: a normal end, exit 0, no gap and no error
    assert run_cli(["watch", str(run), str(path), *CPU, "--json"]) == 0
    whole = json.loads(capsys.readouterr().out)
    assert whole["frames"] == n and whole["broken"] is None and whole["gaps"] == []
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * keep)])
    out = tmp_path / "scores.jsonl"
    watch_out, watch_err, score_err = _watch_and_score(run, path, out, capsys)
    # the same sentence and hint as `vadkit score`, which refuses the file
    said = _message(score_err, path.name)
    assert _message(watch_err, path.name) == said
    found = re.search(reason, said)
    assert found is not None, said
    broke = int(found.group(1))
    assert T + 1 < broke < n
    assert "The file is truncated or corrupt" in watch_err and "truncated or corrupt" in score_err
    # the summary says where and why it broke; what came before is scored and written
    why = said.split(f"{path.name}' ", 1)[1].removesuffix(".")
    assert f"Source broke at frame {broke} ({why}): {broke} frames," in watch_out
    assert f": {broke} frames, {broke - T} windows scored" in watch_out
    assert "Stream ended" not in watch_out
    records = [json.loads(line) for line in out.read_text().splitlines()]
    rows = [r for r in records if r.get("event") != "alert"]  # alert records: see below
    assert [r["frame"] for r in rows[:-1]] == list(range(T, broke))
    assert rows[-1]["event"] == "source_error" and rows[-1]["frame"] == broke
    assert rows[-1]["message"] == said
    # watching only part of the damaged file, up to what it still holds, is a normal end
    assert run_cli(["watch", str(run), str(path), *CPU, "--max-frames", str(T + 2)]) == 0
    assert "Stream ended: 10 frames" in capsys.readouterr().out


def test_a_source_that_raises_mid_way_keeps_scores_and_alerts(
    run: Path,  # noqa: F811
    clip: Path,  # noqa: F811
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    import av

    import vadkit.data.live

    with av.open(str(clip)) as container:
        n = container.streams.video[0].frames
    broke = n - 3  # inside the flash: an alert is open when the source breaks
    init = FrameReader.__init__

    def failing_init(self: FrameReader, *args, **kwargs) -> None:
        init(self, *args, **kwargs)
        real = self.container

        def decode(*a, **k):
            for i, frame in enumerate(real.decode(*a, **k)):
                if i == broke:
                    raise av.error.InvalidDataError(1094995529, "Invalid data found")
                yield frame

        self.container = SimpleNamespace(decode=decode, close=real.close, duration=None)

    monkeypatch.setattr(vadkit.data.live.FrameReader, "__init__", failing_init)
    out = tmp_path / "scores.jsonl"
    assert run_cli(["watch", str(run), str(clip), *CPU, "--jsonl", str(out)]) == 2
    captured = capsys.readouterr()
    text, err = _plain(captured.out), _plain(captured.err)
    reason = f"stops decoding after {broke} frames: [Errno 1094995529] Invalid data found"
    assert f"Video file '{clip}' {reason}." in err
    assert f"Source broke at frame {broke} ({reason}): {broke} frames," in text
    # the open alert is closed at the last frame read, printed, counted and recorded (with the
    # pictures of its peak) before the source error
    records = [json.loads(line) for line in out.read_text().splitlines()]
    assert records[-2]["event"] == "alert" and records[-2]["end_frame"] == broke - 1
    assert set(records[-2]["peak_pictures"]) == {"frame", "map"}
    rows = [r for r in records if r.get("event") != "alert"]
    assert [r["frame"] for r in rows[:-1]] == list(range(T, broke))
    assert rows[-1] == {
        "event": "source_error",
        "frame": broke,
        "reason": reason,
        "message": f"Video file '{clip}' {reason}.",
    }
    assert rows[-2]["alert"] is True
    start = min(r["frame"] for r in rows[:-1] if r["alert"] and r["frame"] >= n - FLASH)
    assert f"ALERT frames {start}-{broke - 1} " in text
    assert "alert(s)" in text and " 0 alert(s)" not in text
    # --json: the summary (with what broke) on stdout, the error on stderr, exit 2
    assert run_cli(["watch", str(run), str(clip), *CPU, "--json"]) == 2
    captured = capsys.readouterr()
    summary = json.loads(captured.out)
    assert summary["broken"]["frame"] == broke and summary["frames"] == broke
    assert summary["alerts"][-1]["end_frame"] == broke - 1
    assert reason in _plain(captured.err)


def test_run_stream_raises_a_broken_source_with_its_summary(
    run: Path,  # noqa: F811
    normal_frames: np.ndarray,  # noqa: F811
    tmp_path: Path,
) -> None:
    cal = read_calibration(run)
    scorer = _scorer(run, calibration=cal, threshold=-1e9)  # every window alerts
    frames = [scorer.preprocess(f) for f in normal_frames]
    n = len(frames)
    error = SourceError("Video source 'cam' stops decoding after 20 frames: EOF.", frames=n)
    reader = FakeReader(frames, [i / 10 for i in range(n)], rate=10.0, error=error)
    alerts: list = []
    out = tmp_path / "scores.jsonl"
    with pytest.raises(SourceError) as exc:
        run_stream(scorer, reader, jsonl=out, on_alert=alerts.append)
    assert exc.value is error and reader.stopped
    summary = exc.value.summary
    assert summary is not None and summary["frames"] == n and summary["windows"] == n - T
    assert summary["broken"]["frame"] == n and summary["interrupted"] is False
    assert [(a.start_frame, a.end_frame) for a in alerts] == [(T, n - 1)]
    assert summary["alerts"] == [alerts[0].to_dict()]
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r.get("event") for r in lines[-2:]] == ["alert", "source_error"]
    assert len(lines) == n - T + 2  # every window, the alert, the source error
    # broken before the first window: the broken source is what is reported, not the short one
    early = FakeReader(frames[:3], [0.0, 0.1, 0.2], error=SourceError("gone", frames=3))
    with pytest.raises(SourceError, match="gone") as exc:
        run_stream(_scorer(run), early)
    assert exc.value.summary is not None and exc.value.summary["windows"] == 0
    # a source that merely ends early stays the error it was
    with pytest.raises(DataError, match="before the first window") as short:
        run_stream(_scorer(run), FakeReader(frames[:3], [0.0, 0.1, 0.2]))
    assert not isinstance(short.value, SourceError)
