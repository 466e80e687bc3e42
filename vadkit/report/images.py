"""The pictures of a report: frames of the top segments and their anomaly-map overlays, as
compact ``data:`` URIs (JPEG) so that the page needs no other file.

Frames are read as the run saw them (its ``data.size`` and ``data.color``) from the data the
score set records (a dataset's ``testing`` split, or the video files). Overlays are the fused
anomaly map over the frame (:mod:`vadkit.inference.maps`), on one colour scale per segment: the maps
the score set stores when it was scored with ``--maps``, computed otherwise (:class:`MapSource`).
When the data or the maps cannot be had, the report says why and shows what it has.
"""

from __future__ import annotations

import base64
import io
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np

from vadkit.errors import VadkitError
from vadkit.evaluation.result import EvalProtocol
from vadkit.report.segments import Segment
from vadkit.scoring.record import ScoreSetRecord
from vadkit.scoring.scoreset import ScoreSet

#: Longest side of a thumbnail in pixels (small frames are enlarged to it, large ones reduced).
THUMB_SIDE = 128
JPEG_QUALITY = 82
#: Opacity of the hottest map pixels over the frame (cooler ones let more of the frame through).
OVERLAY_ALPHA = 0.7


def data_uri(image: np.ndarray, *, side: int = THUMB_SIDE, quality: int = JPEG_QUALITY) -> str:
    """``uint8 (H, W, C)`` (C = 1 or 3) as a JPEG ``data:`` URI, resized to ``side`` pixels on
    its longest side."""
    from PIL import Image

    array = np.asarray(image)
    if array.ndim == 3 and array.shape[2] == 1:
        array = array[:, :, 0]
    picture = Image.fromarray(np.ascontiguousarray(array.astype(np.uint8)))
    h, w = array.shape[:2]
    scale = side / max(h, w)
    if abs(scale - 1.0) > 1e-6:
        resample = Image.Resampling.NEAREST if scale >= 2 else Image.Resampling.BILINEAR
        size = (max(1, round(w * scale)), max(1, round(h * scale)))
        picture = picture.resize(size, resample)
    buffer = io.BytesIO()
    picture.save(buffer, format="JPEG", quality=quality, optimize=True)
    return "data:image/jpeg;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


@dataclass
class Picture:
    """One shown frame: its number, the frame and (when maps are available) its overlay."""

    frame: int
    image: str
    overlay: str | None = None


class FrameSource:
    """The frames of a score set's videos, opened once; ``problem`` says why there are none."""

    def __init__(self, meta: ScoreSetRecord) -> None:
        self.meta = meta
        self.problem: str | None = None
        self._videos: dict[str, Any] | None = None

    def _open(self) -> dict[str, Any]:
        if self._videos is not None:
            return self._videos
        meta = self.meta
        size, color, source = meta.size, meta.color, meta.source
        self._videos = {}
        if size is None or color is None:
            self.problem = "the score set records no frame size (scored by an older vadkit)"
            return self._videos
        try:
            if source.kind == "files":
                from vadkit.data import open_video_file

                for path in source.files or ():
                    video = open_video_file(path, size=size, color=color)
                    self._videos[video.name] = video
            else:
                from vadkit.data import open_videos

                root = source.root
                if not root or not Path(root).exists():
                    self.problem = f"the data the run was scored on is not at '{root}' any more"
                    return self._videos
                vset = open_videos(
                    root,
                    source.split or "testing",
                    size=size,
                    color=color,
                    format=meta.dataset_format,  # None: detected again
                    progress=False,
                    with_labels=False,  # frames only: the labels come with the evaluation
                )
                self._videos = {v.name: v for v in vset}
        except VadkitError as exc:
            self.problem = f"the frames cannot be read: {exc.message}"
            self._videos = {}
        return self._videos

    def frames(self, video: str, numbers: Sequence[int]) -> np.ndarray | None:
        """``uint8 (N, H, W, C)`` frames of ``video``, or None (see :attr:`problem`)."""
        videos = self._open()
        if video not in videos:
            if self.problem is None and videos:
                self.problem = f"video '{video}' is not in the data any more"
            return None
        return np.asarray(videos[video].frames(list(numbers)))

    def native(self, video: str, numbers: Sequence[int]) -> np.ndarray | None:
        """``uint8 (N, H, W, 3)`` frames of ``video`` at their original size (the run's size
        when the source cannot be read so), or None (see :attr:`problem`)."""
        from vadkit.inference.mapviews import native_images

        frames = self.frames(video, numbers)
        if frames is None:
            return None
        return native_images(self._open()[video].source, numbers, frames)


def stored_maps_problem(scores: ScoreSet, error: str) -> str | None:
    """None when the score set holds the anomaly maps of ``error`` for every video (``vadkit
    score --maps``), else why it does not."""
    info = scores.meta.maps
    if info is None:
        return "the score set holds no anomaly maps (scored without --maps)"
    if info.error != error:
        return f"the score set holds the maps of '{info.error}', not of '{error}'"
    if not scores.videos or any(not v.maps for v in scores.videos):
        return "some videos of the score set have no stored maps"
    return None


class MapSource:
    """The fused anomaly maps of a run's segment frames, with the error measure, normalizer and
    fusion weights of the report's curves (``protocol``).

    When the score set was scored with ``--maps`` for that error measure, the maps are read from
    it (``stored`` is True): each video's stored task maps fused as
    :func:`vadkit.evaluation.pixeleval.fused_video_maps` fuses them for the pixel metrics, at the
    stored size, over the frames at their original size. They come from the set's own network
    pass, so from the weights its record names: no network runs. Otherwise they are computed
    (:func:`vadkit.inference.framemaps.frame_maps`: one network pass per video with a segment, with the
    weights the score set was scored with, as
    :func:`~vadkit.inference.weights.recorded_weights` gives them, and default fusion weights); ``why_computed`` says why.
    """

    def __init__(
        self,
        run_dir: Path,
        scores: ScoreSet,
        protocol: EvalProtocol,
        frames: FrameSource,
        *,
        weights: Mapping[str, Any] | None = None,
    ) -> None:
        self.run_dir, self.scores, self.frames = run_dir, scores, frames
        #: How to load the weights the score set was scored with (``recorded_weights``).
        self.weights = dict(weights or {})
        self.error: str = protocol.error
        self.normalizer: str = protocol.normalizer
        self.alphas: dict[str, float] = dict(protocol.alphas)
        self.why_computed = stored_maps_problem(scores, self.error)
        self.stored = self.why_computed is None
        self.problem: str | None = None
        self._maps: ModuleType | None = None
        self._views: ModuleType | None = None
        self._kept: dict[tuple[str, int], tuple[np.ndarray, np.ndarray]] = {}
        try:
            from vadkit.inference import framemaps, mapviews
        except ImportError:
            self.problem = "this vadkit has no anomaly maps (vadkit.inference.framemaps)"
        else:
            self._maps, self._views = framemaps, mapviews

    def fetch(self, wanted: dict[str, set[int]]) -> None:
        """Get the maps of the frames ``wanted[video]``: from the score set, or computed (one
        network pass per video over the range from its first to its last wanted frame)."""
        if self._maps is None:
            return
        for video, numbers in wanted.items():
            if self.problem is not None or not numbers:
                return
            try:
                if self.stored:
                    self._read(video, sorted(numbers))
                else:
                    self._compute(video, numbers)
            except VadkitError as exc:
                how = "read" if self.stored else "computed"
                self.problem = f"the anomaly maps cannot be {how}: {exc.message}"
                return

    def _read(self, video: str, numbers: list[int]) -> None:
        from vadkit.evaluation.pixeleval import fused_video_maps

        scored = next((v for v in self.scores.videos if v.name == video), None)
        if scored is None:
            return
        _, norm = self.scores.normalizer(self.normalizer)
        fused = fused_video_maps(scored, self.scores.tasks, self.alphas, norm)
        row = {int(f): i for i, f in enumerate(np.asarray(scored.frames).tolist())}
        numbers = [n for n in numbers if n in row]
        images = self.frames.native(video, numbers)
        if images is None:
            return
        for number, image in zip(numbers, images, strict=True):
            self._kept[(video, number)] = (image, np.asarray(fused[row[number]], np.float32))

    def _compute(self, video: str, numbers: set[int]) -> None:
        assert self._maps is not None
        fm = self._maps.frame_maps(
            self.run_dir,
            video,
            frames=(min(numbers), max(numbers) + 1),
            error=self.error,
            normalizer=self.normalizer,
            **self.weights,
        )
        for i, number in enumerate(np.asarray(fm.frames).tolist()):
            if number in numbers:
                heat = np.asarray(fm.fused[i], dtype=np.float32)
                self._kept[(video, number)] = (np.asarray(fm.images[i]), heat)

    def maps(self, video: str, numbers: Sequence[int]) -> tuple[np.ndarray, np.ndarray] | None:
        """The frames ``numbers`` of ``video`` (at their original size) and their fused maps,
        as :meth:`fetch` got them, or None (see :attr:`problem`)."""
        if self.problem is not None or any((video, n) not in self._kept for n in numbers):
            return None
        pairs = [self._kept[(video, n)] for n in numbers]
        return np.stack([p[0] for p in pairs]), np.stack([p[1] for p in pairs])

    def overlay(self, image: np.ndarray, heat: np.ndarray, vmin: float, vmax: float) -> np.ndarray:
        """The heat map over the frame (the heat resized to the frame, bilinearly)."""
        assert self._views is not None
        return np.asarray(
            self._views.overlay(image, heat, vmin=vmin, vmax=vmax, alpha=OVERLAY_ALPHA)
        )


def segment_pictures(
    segments: Sequence[Segment], frames: FrameSource, maps: MapSource | None
) -> list[list[Picture]]:
    """For each segment, its shown frames (:meth:`Segment.shown_frames`) and, when maps are
    available, the fused map over each, on one colour scale per segment (from the lowest value
    to the 99.5th percentile of its frames' maps: a scale common to the whole run let the
    hottest segment wash out the others)."""
    shown = [seg.shown_frames() for seg in segments]
    images = [
        frames.frames(seg.video, numbers) for seg, numbers in zip(segments, shown, strict=True)
    ]
    if maps is not None:
        wanted: dict[str, set[int]] = {}
        for seg, numbers in zip(segments, shown, strict=True):
            wanted.setdefault(seg.video, set()).update(numbers)
        maps.fetch(wanted)
    heat = [
        None if maps is None else maps.maps(seg.video, n)
        for seg, n in zip(segments, shown, strict=True)
    ]
    out = []
    for numbers, imgs, hm in zip(shown, images, heat, strict=True):
        pictures = []
        if hm is not None:
            vmin, vmax = float(hm[1].min()), float(np.quantile(hm[1], 0.995))
            vmax = max(vmax, vmin + 1e-6)
        for i, number in enumerate(numbers):
            if hm is not None and maps is not None:
                frame = hm[0][i]  # the frame the map was computed on
                over: str | None = data_uri(maps.overlay(frame, hm[1][i], vmin, vmax))
            else:
                frame, over = (None if imgs is None else imgs[i]), None
            if frame is not None:
                pictures.append(Picture(number, data_uri(frame), over))
        out.append(pictures)
    return out
