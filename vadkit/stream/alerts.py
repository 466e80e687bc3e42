"""Alerts: runs of frames whose fused score exceeds the threshold."""

from __future__ import annotations

import datetime as _dt
import math
from dataclasses import dataclass
from typing import Any

from vadkit.errors import ConfigError
from vadkit.stream.scorer import FrameScore


@dataclass
class Alert:
    """A run of frames whose fused score exceeds the threshold (gaps up to ``gap`` frames)."""

    start_frame: int
    end_frame: int
    peak_frame: int
    peak_score: float
    start_time: float | None = None
    end_time: float | None = None
    opened_at: str = ""

    @property
    def frames(self) -> int:
        return self.end_frame - self.start_frame + 1

    def to_dict(self) -> dict[str, Any]:
        return {
            "start_frame": self.start_frame,
            "end_frame": self.end_frame,
            "peak_frame": self.peak_frame,
            "peak_score": self.peak_score,
            "start_time": self.start_time,
            "end_time": self.end_time,
            "opened_at": self.opened_at,
        }


class AlertTracker:
    """Turns per-frame alert flags into alerts: one opens on the first frame above the threshold
    and closes after ``gap + 1`` frames in a row below it (its end is its last frame above)."""

    def __init__(self, gap: int = 0) -> None:
        if gap < 0:
            raise ConfigError(f"Alert gap {gap} must not be negative.", hint="E.g. --gap 5")
        self.gap = int(gap)
        self.current: Alert | None = None
        self.closed: list[Alert] = []
        self._below = 0

    def update(self, score: FrameScore) -> Alert | None:
        """Feed one frame's score; returns the alert it closes, if any."""
        if score.alert:
            fused = float(score.fused if score.fused is not None else math.nan)
            if self.current is None:
                now = _dt.datetime.now(_dt.UTC).astimezone()
                self.current = Alert(
                    score.frame,
                    score.frame,
                    score.frame,
                    fused,
                    start_time=score.time,
                    end_time=score.time,
                    opened_at=now.isoformat(timespec="milliseconds"),
                )
            else:
                self.current.end_frame, self.current.end_time = score.frame, score.time
                if fused > self.current.peak_score:
                    self.current.peak_score, self.current.peak_frame = fused, score.frame
            self._below = 0
            return None
        if self.current is None:
            return None
        self._below += 1
        return self.close() if self._below > self.gap else None

    def close(self) -> Alert | None:
        """Close the open alert (at the end of the stream); returns it, if any."""
        alert, self.current, self._below = self.current, None, 0
        if alert is not None:
            self.closed.append(alert)
        return alert
