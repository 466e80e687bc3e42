"""Gaps in a stream's timestamps: frames that are not consecutive must not share a window.

A window of the model holds T + 1 consecutive frames, as in training. When a live source drops
frames (a network stall, a camera that reconnects, a recording with a hole), the frames on both
sides of the hole are not consecutive, and a window spanning it would compare frames the model
never saw side by side. :class:`GapDetector` watches the frames' presentation times and reports a
:class:`Gap` when two consecutive frames are more than ``max_gap`` frame intervals apart (or when
time runs backwards); the :class:`~vadkit.stream.scorer.StreamScorer` then restarts its window.
A jump is counted in whole frame intervals (rounded to the nearest), so timestamps rounded to the
millisecond and jitter of less than half a frame never make a gap.

The frame interval is the median of the last intervals between frames (once a few were seen,
the gaps' own included, so that a wrong declared rate is soon overruled), before that the
interval of the source's declared frame rate. ``max_gap`` is fixed in advance
(:data:`DEFAULT_MAX_GAP` intervals unless given), never fitted to a stream.
"""

from __future__ import annotations

import math
import statistics
from collections import deque
from dataclasses import dataclass
from typing import Any

from vadkit.errors import ConfigError

#: A jump of more than this many frame intervals between consecutive frames is a gap: one
#: dropped frame (a jump of 2 intervals) is tolerated, two or more are not.
DEFAULT_MAX_GAP = 2
#: Intervals measured before their median replaces the declared frame rate.
MIN_INTERVALS = 3
#: The median of at most this many of the last intervals is the frame interval.
HISTORY = 32


@dataclass(frozen=True)
class Gap:
    """A hole in a stream's timestamps, before frame ``frame`` (the stream index of the first
    frame after it), whose time is ``time``; the frame before it was at ``previous_time``.
    ``interval`` is the frame interval it was measured against (None when time ran backwards
    before any interval was known)."""

    frame: int
    time: float
    previous_time: float
    interval: float | None

    @property
    def seconds(self) -> float:
        """Time from the frame before the gap to the frame after it (negative: time went back)."""
        return self.time - self.previous_time

    @property
    def missing_frames(self) -> int | None:
        """About how many frames the hole holds (None when time went back or no interval)."""
        if self.interval is None or self.seconds <= 0:
            return None
        return max(0, round(self.seconds / self.interval) - 1)

    def to_dict(self) -> dict[str, Any]:
        """The gap as a JSON-lines record (``"event": "gap"``)."""
        return {
            "event": "gap",
            "frame": self.frame,
            "time": self.time,
            "previous_time": self.previous_time,
            "seconds": round(self.seconds, 6),
            "interval": None if self.interval is None else round(self.interval, 6),
            "missing_frames": self.missing_frames,
        }


def check_max_gap(max_gap: int | None) -> int | None:
    """``max_gap`` as an int, None (or 0) meaning no gap detection; a negative or fractional
    number is refused."""
    if max_gap is None or max_gap == 0:
        return None
    if isinstance(max_gap, bool) or not float(max_gap).is_integer() or max_gap < 0:
        raise ConfigError(
            f"max_gap = {max_gap!r} frame intervals: it must be a whole number, at least 1 "
            "(or 0 to turn gap detection off).",
            hint=f"E.g. --max-gap {DEFAULT_MAX_GAP}",
        )
    return int(max_gap)


class GapDetector:
    """Finds gaps between consecutive frames' times.

    Args:
        max_gap: the most frame intervals two consecutive frames may be apart, counted in whole
            intervals (None or 0: never a gap; time running backwards is then not reported
            either).
        frame_interval: the declared interval between frames in seconds (1 / frame rate), used
            until :data:`MIN_INTERVALS` intervals have been measured; None: no gap can be found
            before then.
    """

    def __init__(
        self, max_gap: int | None = DEFAULT_MAX_GAP, frame_interval: float | None = None
    ) -> None:
        self.max_gap = check_max_gap(max_gap)
        self.frame_interval = frame_interval
        self._intervals: deque[float] = deque(maxlen=HISTORY)
        self._last: float | None = None

    @property
    def interval(self) -> float | None:
        """The frame interval gaps are measured against: the median of the last intervals,
        or the declared one while too few were measured."""
        if len(self._intervals) >= MIN_INTERVALS:
            return statistics.median(self._intervals)
        declared = self.frame_interval
        return declared if declared is not None and declared > 0 else None

    def forget(self) -> None:
        """Forget the last frame's time (the next frame starts afresh; intervals are kept)."""
        self._last = None

    def check(self, frame: int, time: float | None) -> Gap | None:
        """The gap before frame ``frame`` at ``time``, if any; remembers ``time``.

        A frame without a time neither makes nor closes a gap: the next one is compared with the
        last frame that had one.
        """
        if time is None or not math.isfinite(time):
            return None
        previous, self._last = self._last, float(time)
        if previous is None or self.max_gap is None:
            return None
        step = float(time) - previous
        if step < 0:
            return Gap(frame, float(time), previous, self.interval)
        if step == 0:
            return None
        interval = self.interval
        self._intervals.append(step)
        if interval is not None and step > (self.max_gap + 0.5) * interval:  # rounded count
            return Gap(frame, float(time), previous, interval)
        return None
