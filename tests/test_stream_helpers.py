"""Helpers of the streaming tests: a stand-in for the live decoder and videos with set times."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np


class FakeReader:
    """Hands preprocessed ``frames`` with their ``times`` to :func:`run_stream` a few at a time,
    as :class:`~vadkit.data.live.FrameReader` does; raises ``error`` after the last one if given
    (a source that breaks), else ends."""

    def __init__(
        self,
        frames: Sequence[np.ndarray],
        times: Sequence[float | None],
        *,
        rate: float | None = None,
        chunk: int = 3,
        error: BaseException | None = None,
    ) -> None:
        self.source = "<fake>"
        self.rate = rate
        self.items = list(zip(frames, times, strict=True))
        self.chunk = chunk
        self.error = error
        self.backlog = 0
        self.pos = 0
        self.stopped = False

    def start(self) -> None:
        pass

    def get(self, max_items: int) -> list[tuple[Any, float | None]]:
        if self.pos >= len(self.items):
            if self.error is not None:
                raise self.error
            return []
        take = self.items[self.pos : self.pos + min(max_items, self.chunk)]
        self.pos += len(take)
        return take

    def stop(self) -> None:
        self.stopped = True


def write_timed_video(path: Path, frames: np.ndarray, pts: Sequence[int], rate: int = 10) -> Path:
    """Gray uint8 frames (N, H, W) into a lossless FFV1 Matroska file, frame i shown at
    ``pts[i] / rate`` seconds (a jump in ``pts`` is a hole in the stream)."""
    import av

    with av.open(str(path), "w") as container:
        stream = container.add_stream("ffv1", rate=rate)
        stream.width, stream.height, stream.pix_fmt = frames.shape[2], frames.shape[1], "gray"
        for image, stamp in zip(frames, pts, strict=True):
            frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(image), format="gray")
            frame.pts = int(stamp)
            container.mux(stream.encode(frame))
        container.mux(stream.encode())
    return path
