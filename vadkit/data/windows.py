"""Test windows: the one place where frames become the batches a model scores.

A test window is T+1 consecutive frames: the first T are the input clip, frame T+1 is the frame
the window scores (a prediction task's target). Window ``i`` starts at frame ``i`` and scores frame
``i + T``; a video of N frames has ``N - T`` windows. Offline scoring, streaming, calibration and
the Python API all build their batches here, so a frame is scored the same way on every path.

Which frames get a score is decided afterwards, on the per-window scores
(:func:`vadkit.scoring.core.expand_window_scores`): the protocol scores frames T..N-1; ``"all"``
gives the first T frames the first window's score.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import numpy as np
import torch

from vadkit.components import Batch
from vadkit.config.settings import DataSettings, ScoreSettings
from vadkit.data.video import scale_pixels_
from vadkit.errors import ConfigError, DataError

if TYPE_CHECKING:
    from vadkit.data.video import Video


def _positive(name: str, value: int) -> int:
    if int(value) < 1:
        raise ConfigError(f"{name} = {value} must be at least 1.", hint=f"E.g. {name}=16")
    return int(value)


def split_windows(
    windows: torch.Tensor, clip_length: int, memory_format: torch.memory_format | None = None
) -> Batch:
    """``(B, C, T+1, H, W)`` windows in [-1, 1] -> ``Batch(clip=(B, C, T, H, W), target=(B, C, H, W))``."""
    clip = windows[:, :, :clip_length].contiguous(
        memory_format=memory_format or torch.contiguous_format
    )
    return Batch(clip=clip, target=windows[:, :, clip_length].contiguous())


def window_batch(
    frames: np.ndarray,
    clip_length: int,
    *,
    device: torch.device | str = "cpu",
    memory_format: torch.memory_format | None = None,
) -> Batch:
    """A batch of windows given as uint8 frames ``(B, T+1, H, W, C)`` (e.g. picked at random)."""
    array = np.asarray(frames)
    if array.dtype != np.uint8 or array.ndim != 5 or array.shape[1] != clip_length + 1:
        raise DataError(
            f"Windows must be uint8 (B, T+1={clip_length + 1}, H, W, C), not "
            f"{array.dtype} {array.shape}.",
            hint="Stack T+1 consecutive frames per window.",
        )
    x = torch.from_numpy(np.ascontiguousarray(array)).to(device)
    x = scale_pixels_(x.permute(0, 4, 1, 2, 3).float())  # (B, C, T+1, H, W)
    return split_windows(x, clip_length, memory_format)


def sliding_batch(
    frames: np.ndarray,
    clip_length: int,
    *,
    device: torch.device | str = "cpu",
    memory_format: torch.memory_format | None = None,
) -> Batch:
    """The B windows of B+T consecutive uint8 frames ``(B+T, H, W, C)`` as one batch.

    Only the B+T frames are moved and converted; the overlapping windows are taken from them
    with ``Tensor.unfold`` (views, no copy before the batch's own).
    """
    t = _positive("clip_length", clip_length)
    chunk = torch.from_numpy(np.ascontiguousarray(frames)).to(device)
    chunk = scale_pixels_(chunk.permute(3, 0, 1, 2).float())  # (C, L, H, W)
    windows = chunk.unfold(1, t + 1, 1)  # (C, B, H, W, T+1)
    windows = windows.permute(1, 0, 4, 2, 3)  # (B, C, T+1, H, W)
    return split_windows(windows, t, memory_format)


def sliding_windows(
    frames: np.ndarray,
    clip_length: int,
    batch_size: int,
    *,
    device: torch.device | str = "cpu",
    memory_format: torch.memory_format | None = None,
) -> Iterator[tuple[np.ndarray, Batch]]:
    """Every window of consecutive uint8 frames ``(N, H, W, C)``, ``batch_size`` at a time.

    Yields ``(scored, batch)``: ``scored`` the index of the frame each window scores (``start +
    T``), ``batch`` the windows as :func:`sliding_batch` makes them. Fewer than T+1 frames yield
    nothing.
    """
    t = _positive("clip_length", clip_length)
    bs = _positive("batch_size", batch_size)
    n_win = int(frames.shape[0]) - t
    for s0 in range(0, max(n_win, 0), bs):
        s1 = min(s0 + bs, n_win)
        batch = sliding_batch(frames[s0 : s1 + t], t, device=device, memory_format=memory_format)
        yield np.arange(s0, s1, dtype=np.int64) + t, batch


def test_windows(
    video: Video,
    *,
    clip_length: int = DataSettings.clip_length,
    batch_size: int = ScoreSettings.batch_size,
    pad_start: bool = False,
) -> Iterator[tuple[np.ndarray, Batch]]:
    """The windows of ``video`` (decoded once), as :func:`sliding_windows`.

    A video shorter than ``clip_length + 1`` frames is a :class:`DataError`. ``pad_start`` is
    no longer supported: a frame before the first window's is scored by the one rule of
    ``score.frames = "all"`` (it takes the first window's score), not by a window of its own.
    """
    if pad_start:
        raise ConfigError(
            "test_windows(pad_start=True) is no longer supported.",
            hint='Score every frame with score.frames = "all" (the first T frames take the first '
            "window's score).",
        )
    t = _positive("clip_length", clip_length)
    n = video.num_frames
    if n < t + 1:
        raise DataError(
            f"Video '{video.name}' ('{video.source}') has {n} frames, fewer than the "
            f"clip_length+1 = {t + 1} that one window needs.",
            hint="Use a shorter clip_length, or leave the video out.",
        )
    return sliding_windows(video.frames(np.arange(n)), t, batch_size)


test_windows.__test__ = False  # type: ignore[attr-defined]  # not a pytest test
