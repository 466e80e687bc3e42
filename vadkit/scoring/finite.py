"""Non-finite scores: where they are, and what scoring and evaluation do about them (no torch).

At scoring, an error measure that gives a NaN or an infinite score is left out of the score set
with a warning naming it, the task, the video and the frames; the other measures are kept
(:func:`leave_out_nonfinite`). A task's own score (a task without error measures) that is not
finite is an error. At evaluation only the streams asked for are read, and a non-finite one is
an error naming the task, the error measure, the video and the frames (:func:`check_finite`).
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np

from vadkit.components.keys import SCORE_KEY
from vadkit.errors import DataError


def nonfinite_where(values: np.ndarray, frames: np.ndarray | None = None) -> str | None:
    """Where a score stream is not finite, e.g. ``"3 of 20 scores (NaN, inf) at frames 12-30"``
    (frame numbers from ``frames``, positions otherwise); None when every score is finite."""
    arr = np.asarray(values, dtype=np.float64)
    bad = ~np.isfinite(arr)
    if not bad.any():
        return None
    at = np.flatnonzero(bad)
    numbered = frames is not None and len(frames) == arr.size
    where = np.asarray(frames)[at] if numbered else at
    kinds = [
        k
        for k, m in (("NaN", np.isnan), ("inf", np.isposinf), ("-inf", np.isneginf))
        if m(arr).any()
    ]
    span = f"{where[0]}" if at.size == 1 else f"{where[0]}-{where[-1]}"
    unit = "frame" if numbered else "position"
    return (
        f"{at.size} of {arr.size} scores ({', '.join(kinds)}) at {unit}{'s' if at.size > 1 else ''} "
        f"{span}"
    )


def check_finite(
    values: np.ndarray, *, video: str, frames: np.ndarray, task: str, key: str
) -> np.ndarray:
    """``values`` (the stream ``key`` of ``task`` in ``video``, scored at ``frames``), or a
    DataError naming the task, the error measure, the video and the frames when some of them
    are NaN or infinite."""
    where = nonfinite_where(values, frames)
    if where is None:
        return values
    measure = "its own score" if key == SCORE_KEY else f"error measure '{key}'"
    raise DataError(
        f"Non-finite scores: task '{task}', {measure}, video '{video}': {where}.",
        hint=(
            "The task's scores are not finite on these frames: check the checkpoint (did "
            "training diverge?) and these frames, then re-score."
            if key == SCORE_KEY
            else f"The error measure '{key}' is unstable on these frames; evaluate with another "
            "one (--error NAME)."
        ),
    )


def leave_out_nonfinite(
    video: str,
    raw: dict[str, dict[str, np.ndarray]],
    frames: np.ndarray,
    active: dict[str, Any],
    left_out: dict[str, str],
) -> None:
    """Remove from ``raw`` and ``active`` every error measure with a non-finite score (warning
    and recording why in ``left_out``); a task's own non-finite score is a DataError."""
    for task, keys in raw.items():
        for key, values in list(keys.items()):
            where = nonfinite_where(values, frames)
            if where is None or key in left_out:
                continue
            if key == SCORE_KEY or key not in active:
                raise DataError(
                    f"Non-finite scores: task '{task}', video '{video}': {where}.",
                    hint="The model gives non-finite outputs on these frames: check the "
                    "checkpoint (did training diverge?) and these frames.",
                )
            reason = f"non-finite scores: task '{task}', video '{video}': {where}"
            left_out[key] = reason
            del active[key]
            warnings.warn(
                f"error measure '{key}' left out of this score set ({reason}); the other "
                "measures are kept",
                stacklevel=3,
            )
    for keys in raw.values():
        for key in left_out:
            keys.pop(key, None)
    if left_out and not active and any(not keys for keys in raw.values()):
        raise DataError(
            f"Every error measure gave non-finite scores on video '{video}': "
            + "; ".join(f"{k}: {v}" for k, v in left_out.items())
            + ".",
            hint="Check the checkpoint (did training diverge?) and the video's frames.",
        )
