"""Alerts from per-frame flags: runs of frames above the threshold, bridged over short gaps."""

from __future__ import annotations

import pytest

from vadkit.errors import ConfigError
from vadkit.stream import Alert, AlertTracker, FrameScore


def _flags(flags: str) -> list[FrameScore]:
    return [
        FrameScore(frame=i, raw={}, fused=float(i), alert=c == "x") for i, c in enumerate(flags)
    ]


def _track(flags: str, gap: int) -> list[tuple[int, int, int]]:
    tracker = AlertTracker(gap)
    out: list[Alert | None] = [tracker.update(s) for s in _flags(flags)]
    out.append(tracker.close())
    return [(a.start_frame, a.end_frame, a.peak_frame) for a in out if a is not None]


def test_alert_tracker_by_hand() -> None:
    assert _track(".xx.x..x", gap=0) == [(1, 2, 2), (4, 4, 4), (7, 7, 7)]
    assert _track(".xx.x..x", gap=1) == [(1, 4, 4), (7, 7, 7)]
    assert _track(".xx.x..x", gap=2) == [(1, 7, 7)]
    assert _track("....", gap=0) == []


def test_alert_peak_times_and_negative_gap() -> None:
    tracker = AlertTracker(0)
    scores = [
        FrameScore(frame=f, raw={}, fused=v, alert=v > 1.0, time=f / 10)
        for f, v in [(3, 0.5), (4, 2.0), (5, 3.5), (6, 1.5), (7, 0.2)]
    ]
    closed = [a for a in (tracker.update(s) for s in scores) if a is not None]
    assert len(closed) == 1 and tracker.current is None
    alert = closed[0]
    assert (alert.start_frame, alert.end_frame, alert.frames) == (4, 6, 3)
    assert (alert.peak_frame, alert.peak_score) == (5, 3.5)
    assert (alert.start_time, alert.end_time) == (0.4, 0.6)
    assert alert.to_dict()["opened_at"] == alert.opened_at != ""
    with pytest.raises(ConfigError, match="must not be negative"):
        AlertTracker(-1)
