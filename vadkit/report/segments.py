"""The most anomalous segments of a scored run, found without labels.

Rule (fixed beforehand, never fitted to the ground truth): the threshold is the
``quantile`` of the fused scores of all scored frames of the set, pooled over its videos; a
segment is a maximal run of consecutive scored frames of one video whose fused score is above the
threshold, two runs being one segment when fewer than ``gap`` frames below the threshold separate
them; segments rank by their peak score (ties: the longer first). The labels, when known, are
only counted for display.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from vadkit.config.settings import REPORT_SEGMENT_GAP, REPORT_SEGMENT_QUANTILE
from vadkit.errors import ConfigError


@dataclass(frozen=True)
class Segment:
    """Frames ``start..end`` (inclusive, video frame numbers) of ``video``, its peak frame and
    score, mean score, and how many of its frames the ground truth marks (None: no labels)."""

    video: str
    start: int
    end: int
    peak_frame: int
    peak: float
    mean: float
    frames: int
    anomalous_frames: int | None = None

    def shown_frames(self) -> list[int]:
        """The frames shown for it: the first, the peak and the last (distinct, in order)."""
        return sorted({self.start, self.peak_frame, self.end})


def segment_threshold(fused: Sequence[np.ndarray], quantile: float) -> float:
    """The ``quantile`` of all fused scores pooled (``numpy.quantile``, linear interpolation)."""
    if not 0.0 < quantile < 1.0:
        raise ConfigError(
            f"Segment quantile {quantile!r} is not between 0 and 1.",
            hint=f"E.g. {REPORT_SEGMENT_QUANTILE} (the frames above the 95th percentile).",
        )
    pooled = np.concatenate([np.asarray(f, dtype=np.float64).reshape(-1) for f in fused])
    if pooled.size == 0:
        return float("inf")
    return float(np.quantile(pooled, quantile))


def video_segments(
    name: str,
    frames: np.ndarray,
    fused: np.ndarray,
    threshold: float,
    *,
    gap: int = REPORT_SEGMENT_GAP,
    labels: np.ndarray | None = None,
) -> list[Segment]:
    """The segments of one video: runs of ``fused > threshold`` (frames: the scored frames'
    numbers, same length), merged when the next frame above the threshold is at most ``gap``
    frames after the last one."""
    frames = np.asarray(frames, dtype=np.int64).reshape(-1)
    fused = np.asarray(fused, dtype=np.float64).reshape(-1)
    above = np.flatnonzero(fused > threshold)
    if above.size == 0:
        return []
    # split where consecutive frames above the threshold are `gap` or more frames apart
    breaks = np.flatnonzero(np.diff(frames[above]) > max(1, gap))
    out = []
    for run in np.split(above, breaks + 1):
        lo, hi = int(run[0]), int(run[-1])
        values = fused[lo : hi + 1]
        peak_at = lo + int(np.argmax(values))
        out.append(
            Segment(
                video=name,
                start=int(frames[lo]),
                end=int(frames[hi]),
                peak_frame=int(frames[peak_at]),
                peak=float(fused[peak_at]),
                mean=float(values.mean()),
                frames=hi - lo + 1,
                anomalous_frames=None if labels is None else int(np.sum(labels[lo : hi + 1])),
            )
        )
    return out


def top_segments(
    names: Sequence[str],
    frames: Sequence[np.ndarray],
    fused: Sequence[np.ndarray],
    *,
    top_k: int,
    quantile: float = REPORT_SEGMENT_QUANTILE,
    gap: int = REPORT_SEGMENT_GAP,
    labels: Sequence[np.ndarray | None] | None = None,
) -> tuple[float, list[Segment]]:
    """The threshold and the ``top_k`` segments of all videos, highest peak first."""
    threshold = segment_threshold(fused, quantile)
    found: list[Segment] = []
    for i, (name, f, s) in enumerate(zip(names, frames, fused, strict=True)):
        lab = None if labels is None else labels[i]
        found += video_segments(name, f, s, threshold, gap=gap, labels=lab)
    found.sort(key=lambda g: (-g.peak, -g.frames, g.video, g.start))
    return threshold, found[: max(0, top_k)]
