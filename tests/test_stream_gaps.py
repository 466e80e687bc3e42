"""Gaps in a stream's timestamps: the window restarts, no alert spans the hole, both reported."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from conftest import run_cli
from test_stream import T, _env, _scorer, clip, normal_frames, run  # noqa: F401
from test_stream_helpers import FakeReader, write_timed_video

from vadkit.errors import ConfigError
from vadkit.stream import (
    DEFAULT_MAX_GAP,
    FrameScore,
    Gap,
    GapDetector,
    read_calibration,
    run_stream,
)

HOLE = 21  # frames missing from the stream
CUT = 14  # frames before the hole


def _gaps(times: list[float | None], **kw) -> list[Gap]:
    detector = GapDetector(**kw)
    found = [detector.check(i, t) for i, t in enumerate(times)]
    return [g for g in found if g is not None]


def _same_raw(got: list[FrameScore], want: list[FrameScore]) -> None:
    assert len(got) == len(want)
    for task in want[0].raw:
        a, b = ([s.raw[task] for s in x] for x in (got, want))
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-7, err_msg=task)


def _holed_times(n: int, rate: float = 10.0) -> list[float]:
    """Times of ``n`` frames at ``rate`` with HOLE frames missing after the first CUT."""
    return [(i if i < CUT else i + HOLE) / rate for i in range(n)]


# -- the detector, by hand -----------------------------------------------------------------------
def test_a_21_frame_hole_is_one_gap() -> None:
    (gap,) = _gaps(_holed_times(40))
    assert (gap.frame, gap.previous_time, gap.time) == (CUT, 1.3, 3.5)
    assert gap.interval == pytest.approx(0.1)
    assert gap.missing_frames == HOLE
    assert gap.to_dict() == {
        "event": "gap",
        "frame": CUT,
        "time": 3.5,
        "previous_time": 1.3,
        "seconds": 2.2,
        "interval": 0.1,
        "missing_frames": HOLE,
    }


def test_what_is_and_is_not_a_gap() -> None:
    assert DEFAULT_MAX_GAP == 2
    steady = [i / 10 for i in range(10)]
    # one dropped frame (a jump of 2 intervals) is tolerated, two are a gap
    assert _gaps([*steady, 1.1, 1.2]) == []
    (two,) = _gaps([*steady, 1.2, 1.3])
    assert (two.frame, two.missing_frames) == (10, 2)
    # timestamps rounded to the millisecond at 30 fps, one frame dropped: no gap
    rounded = [round(i / 30, 3) for i in range(12) if i != 8]
    assert _gaps(rounded) == []
    assert len(_gaps([round(i / 30, 3) for i in range(12) if i not in (7, 8)])) == 1
    # --max-gap counts whole intervals; 0 turns detection off
    assert _gaps(_holed_times(40), max_gap=HOLE + 1) == []
    assert len(_gaps(_holed_times(40), max_gap=HOLE)) == 1
    assert _gaps(_holed_times(40), max_gap=0) == _gaps(_holed_times(40), max_gap=None) == []
    # time that runs backwards (a source that restarted) is a gap too
    (back,) = _gaps([*steady, 0.0, 0.1])
    assert (back.frame, back.seconds, back.missing_frames) == (10, -0.9, None)
    # frames without a time are skipped over: the next time is compared with the last one
    assert _gaps([0.0, 0.1, 0.2, None, None, 0.3, 0.4]) == []
    assert [g.frame for g in _gaps([0.0, 0.1, 0.2, 0.3, None, 3.0])] == [5]
    # equal times (a duplicated frame) are no gap
    assert _gaps([0.0, 0.1, 0.2, 0.2, 0.3]) == []


def test_the_interval_is_declared_first_then_measured() -> None:
    # a hole between the first frames is only seen with a declared frame rate
    early = [0.0, 0.1, 2.0, 2.1, 2.2, 2.3]
    assert _gaps(early) == []
    assert [g.frame for g in _gaps(early, frame_interval=0.1)] == [2]
    # a wrong declared rate (1000 fps for a 10 fps source) is overruled once 3 intervals are in
    wrong = _gaps([i / 10 for i in range(30)], frame_interval=0.001)
    assert [g.frame for g in wrong] == [1, 2, 3]
    # against the measured interval, one dropped frame of a 5 fps source declared at 25 fps is
    # no gap
    slow = [i / 5 for i in range(20) if i != 12]
    assert [g.frame for g in _gaps(slow, frame_interval=0.04)] == [1, 2, 3]


def test_bad_max_gap_is_refused() -> None:
    for bad in (-1, 1.5, float("nan")):
        with pytest.raises(ConfigError, match="must be a whole number"):
            GapDetector(max_gap=bad)  # type: ignore[arg-type]


# -- the scorer: no window holds frames from both sides ------------------------------------------
def test_no_window_spans_a_hole(run: Path, normal_frames: np.ndarray) -> None:  # noqa: F811
    frames = list(normal_frames)
    n = len(frames)
    times = _holed_times(n)
    scorer = _scorer(run, max_batch=3)
    scores = [s for f, t in zip(frames, times, strict=True) for s in scorer.push(f, t)]
    (gap,) = scorer.gaps
    assert (gap.frame, gap.missing_frames) == (CUT, HOLE)
    # the next T frames after the hole only refill the window
    assert [s.frame for s in scores] == [*range(T, CUT), *range(CUT + T, n)]
    assert [s.time for s in scores] == [times[s.frame] for s in scores]
    # each side is scored as if it were a stream of its own: no window saw the other side
    before, after = _scorer(run), _scorer(run)
    alone = [s for f in frames[:CUT] for s in before.push(f)]
    alone += [s for f in frames[CUT:] for s in after.push(f)]
    _same_raw(scores, alone)
    # the same frames with consecutive times: windows span the cut
    steady = _scorer(run, max_batch=3)
    spanning = steady.push_many(frames, [i / 10 for i in range(n)])
    assert steady.gaps == [] and [s.frame for s in spanning] == list(range(T, n))
    # all frames in one push_many: the same cut, the same scores
    batched = _scorer(run, max_batch=5)
    _same_raw(batched.push_many(frames, times), scores)
    assert [g.frame for g in batched.gaps] == [CUT]
    # reset() forgets the last time too: no gap is reported across a reset by hand
    manual = _scorer(run)
    manual.push_many(frames[:CUT], times[:CUT])
    manual.reset()
    manual.push_many(frames[CUT:], times[CUT:])
    assert manual.gaps == []


def test_an_alert_does_not_straddle_a_hole(
    run: Path,  # noqa: F811
    normal_frames: np.ndarray,  # noqa: F811
    tmp_path: Path,
) -> None:
    cal = read_calibration(run)
    assert cal is not None
    n = len(normal_frames)
    scorer = _scorer(run, calibration=cal, threshold=-1e9)  # every window alerts
    frames = [scorer.preprocess(f) for f in normal_frames]
    reader = FakeReader(frames, _holed_times(n), rate=10.0)
    alerts, gaps = [], []
    out = tmp_path / "scores.jsonl"
    # --gap 100 would bridge the hole if the gap did not close the alert
    summary = run_stream(
        scorer, reader, jsonl=out, gap=100, on_alert=alerts.append, on_gap=gaps.append
    )
    assert [(a.start_frame, a.end_frame) for a in alerts] == [(T, CUT - 1), (CUT + T, n - 1)]
    assert alerts[0].end_time == pytest.approx(1.3) and alerts[1].start_time == pytest.approx(4.3)
    assert [g.frame for g in gaps] == [CUT]
    assert summary["gaps"] == [gaps[0].to_dict()] and len(summary["alerts"]) == 2
    # the gap is written between the last frame before the hole and the first after it
    records = [json.loads(line) for line in out.read_text().splitlines()]
    rows = [r for r in records if r.get("event") != "alert"]
    assert [(r["start_frame"], r["end_frame"]) for r in records if r.get("event") == "alert"] == [
        (a.start_frame, a.end_frame) for a in alerts
    ]
    assert [r.get("event", r["frame"]) for r in rows] == [
        *range(T, CUT),
        "gap",
        *range(CUT + T, n),
    ]
    assert rows[CUT - T]["missing_frames"] == HOLE and rows[CUT - T]["frame"] == CUT


# -- the command ---------------------------------------------------------------------------------
def test_watch_reports_a_gap_in_a_file(
    run: Path,  # noqa: F811
    normal_frames: np.ndarray,  # noqa: F811
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    n = len(normal_frames)
    path = write_timed_video(
        tmp_path / "hole.mkv", normal_frames, [round(t * 10) for t in _holed_times(n)]
    )
    out = tmp_path / "scores.jsonl"
    assert run_cli(["watch", str(run), str(path), "--device", "cpu", "--jsonl", str(out)]) == 0
    text = " ".join(capsys.readouterr().out.split())
    assert (
        f"GAP before frame {CUT}: stream time 1.30 s -> 3.50 s (about {HOLE} frame(s) missing)"
        in text
    )
    assert f"Stream ended: {n} frames, {n - 2 * T} windows scored" in text
    assert "1 gap(s)" in text
    records = [json.loads(line) for line in out.read_text().splitlines()]
    rows = [r for r in records if r.get("event") != "alert"]  # normal frames may alert too
    assert [r.get("event", r["frame"]) for r in rows] == [*range(T, CUT), "gap", *range(CUT + T, n)]
    # a hole within --max-gap is no gap; --max-gap 0 turns the check off
    for max_gap in ("0", str(HOLE + 1)):
        assert run_cli(["watch", str(run), str(path), "--device", "cpu", "--json",
                     "--max-gap", max_gap]) == 0  # fmt: skip
        summary = json.loads(capsys.readouterr().out)
        assert summary["gaps"] == [] and summary["windows"] == n - T
    assert run_cli(["watch", str(run), str(path), "--device", "cpu", "--json",
                 "--max-gap", str(HOLE)]) == 0  # fmt: skip
    summary = json.loads(capsys.readouterr().out)
    assert [g["frame"] for g in summary["gaps"]] == [CUT]
