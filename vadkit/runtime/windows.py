"""Frames to the bundle graph's input: overlapping windows of uint8 frames, batch by batch.

The graph takes the windows as they are stored, uint8 ``(B, T+1, H, W, C)``, and scales the
pixels inside itself exactly as :func:`vadkit.data.windows.window_batch` does; so the runtime only
cuts windows, as views of the frames (no copy before the batch's own), and scores the same
frames the PyTorch path scores (window ``i`` scores frame ``i + T``).
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from vadkit.errors import ConfigError, DataError
from vadkit.runtime.engines import Engine


def sliding_batches(
    frames: np.ndarray, clip_length: int, batch_size: int
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """``(scored, windows)`` for every window of uint8 frames ``(N, H, W, C)``, ``batch_size``
    at a time: ``scored`` the frame index each window scores, ``windows`` ``(B, T+1, H, W, C)``."""
    if int(batch_size) < 1:
        raise ConfigError(f"batch_size = {batch_size} must be at least 1.", hint="E.g. 32")
    array = np.asarray(frames)
    if array.dtype != np.uint8 or array.ndim != 4:
        raise DataError(
            f"Frames must be uint8 (N, H, W, C), not {array.dtype} {array.shape}.",
            hint="Preprocess frames to the bundle's size and colour first.",
        )
    t = int(clip_length)
    n_win = array.shape[0] - t
    if n_win < 1:
        return
    views = sliding_window_view(array, t + 1, axis=0)  # (N-T, H, W, C, T+1)
    for s0 in range(0, n_win, batch_size):
        s1 = min(s0 + batch_size, n_win)
        windows = np.ascontiguousarray(views[s0:s1].transpose(0, 4, 1, 2, 3))
        yield np.arange(s0, s1, dtype=np.int64) + t, windows


def score_frames(
    engine: Engine, frames: np.ndarray, clip_length: int, batch_size: int
) -> Iterator[tuple[np.ndarray, dict[str, np.ndarray]]]:
    """``(scored, streams)`` per batch: every graph output ``"task/key"`` as float64 ``(B,)``."""
    for scored, windows in sliding_batches(frames, clip_length, batch_size):
        out = engine.run(windows)
        yield scored, {name: np.asarray(v, np.float64) for name, v in out.items()}


def split_output(name: str) -> tuple[str, str]:
    """``"task/key"`` -> ``(task, key)``."""
    task, _, key = name.partition("/")
    return task, key
