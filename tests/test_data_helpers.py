"""Helpers for the data tests: tiny frame folders and video files (this module has no tests)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image


def write_frames(folder: Path, values, *, size=(16, 12), ext="png", start=0, digits=3) -> None:
    """One frame per value, each a flat grey image; files named from ``start``."""
    folder.mkdir(parents=True, exist_ok=True)
    for i, v in enumerate(values):
        img = Image.fromarray(np.full((size[1], size[0]), v, np.uint8)).convert("RGB")
        img.save(folder / f"{start + i:0{digits}d}.{ext}")


def write_video(path: Path, values, *, codec="mpeg4", size=(32, 24), rate=10) -> Path:
    """A tiny video whose frame i is a flat grey image of ``values[i]``."""
    import av

    path.parent.mkdir(parents=True, exist_ok=True)
    with av.open(str(path), "w") as container:
        stream = container.add_stream(codec, rate=rate)
        stream.width, stream.height = size
        stream.pix_fmt = "yuv420p"
        for v in values:
            img = np.full((size[1], size[0], 3), v, np.uint8)
            for packet in stream.encode(av.VideoFrame.from_ndarray(img, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path
