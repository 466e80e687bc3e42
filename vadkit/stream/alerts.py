"""Alerts: runs of frames whose fused score exceeds the threshold."""

from __future__ import annotations

import datetime as _dt
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

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
    #: The peak frame's picture and fused map when the scorer keeps maps (not serialized).
    view: tuple[np.ndarray, np.ndarray] | None = field(default=None, repr=False, compare=False)
    #: Paths of the pictures written for the peak (``frame``, ``map``), once written.
    pictures: dict[str, str] = field(default_factory=dict)

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
            **({"peak_pictures": dict(self.pictures)} if self.pictures else {}),
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
                    view=score.view,
                )
            else:
                self.current.end_frame, self.current.end_time = score.frame, score.time
                if fused > self.current.peak_score:
                    self.current.peak_score, self.current.peak_frame = fused, score.frame
                    self.current.view = score.view
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


def write_peak_pictures(alert: Alert, folder: Path) -> dict[str, str]:
    """Write the alert's peak frame and its fused anomaly map over it as PNGs under ``folder``
    (atomically); records and returns their paths (nothing without a view)."""
    if alert.view is None:
        return {}
    from PIL import Image

    from vadkit.config.settings import MapSettings
    from vadkit.inference.mapviews import colour_range, overlay, rgb_frames
    from vadkit.storage.io import atomic_write

    image, heat = alert.view
    picture = rgb_frames(np.asarray(image)[None])[0]
    vmin, vmax = colour_range(heat, MapSettings.percentiles)
    stamp = "".join(c for c in alert.opened_at if c.isalnum())[:17] or "alert"
    stem = f"alert_{stamp}_frame{alert.peak_frame:06d}"
    paths = {"frame": folder / f"{stem}_frame.png", "map": folder / f"{stem}_map.png"}
    layers = {"frame": picture, "map": overlay(picture, heat, vmin=vmin, vmax=vmax)}
    for kind, path in paths.items():
        with atomic_write(path, "wb") as fh:
            Image.fromarray(layers[kind]).save(fh, format="png")
    alert.pictures = {k: str(p) for k, p in paths.items()}
    alert.view = None  # written: the arrays are not needed any more
    return alert.pictures
