"""Videos and video sets: frames read from the memory-mapped cache, labels, provenance."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, overload

import numpy as np

from vadkit.data import cache as frame_cache
from vadkit.data.formats import check_split, resolve_format
from vadkit.data.labels import find_label_candidates, read_labels
from vadkit.data.sources import (
    FrameSource,
    VideoFile,
    check_color,
    check_resample,
    check_size,
)
from vadkit.errors import DataError

if TYPE_CHECKING:
    import torch


class Video:
    """One video: name, frame count, source, frame labels, and its preprocessed frames.

    Frames live in a ``uint8`` file of shape ``(num_frames, H, W, C)`` that is memory-mapped on
    first use (and again in each DataLoader worker: a pickled Video carries only the path), or in
    an in-memory array (:meth:`from_array`).
    """

    def __init__(
        self,
        name: str,
        *,
        num_frames: int,
        source: str,
        frame_shape: tuple[int, int, int],
        path: Path | None = None,
        array: np.ndarray | None = None,
        labels: np.ndarray | None = None,
    ) -> None:
        self.name = name
        self.num_frames = int(num_frames)
        self.source = source
        self.frame_shape = tuple(frame_shape)
        self.path = path
        self.labels = labels
        self._array = array

    @classmethod
    def from_array(
        cls, name: str, frames: np.ndarray, *, labels: np.ndarray | None = None, source: str = ""
    ) -> Video:
        """A video held in memory: ``frames`` is ``uint8`` ``(N, H, W, C)`` (for tests, demos)."""
        frames = np.asarray(frames)
        if frames.ndim != 4 or frames.dtype != np.uint8:
            raise DataError(
                f"Frames of video '{name}' must be uint8 (N, H, W, C), not {frames.dtype} "
                f"{frames.shape}.",
                hint="Add a channel axis and convert with .astype(np.uint8).",
            )
        if labels is not None and len(labels) != len(frames):
            raise DataError(
                f"Video '{name}' has {len(frames)} frames but {len(labels)} labels.",
                hint="Give one label per frame.",
            )
        return cls(
            name,
            num_frames=len(frames),
            source=source or f"<array {name}>",
            frame_shape=frames.shape[1:],
            array=frames,
            labels=None if labels is None else np.asarray(labels, dtype=np.uint8),
        )

    @property
    def shape(self) -> tuple[int, int, int, int]:
        """``(num_frames, H, W, C)``."""
        h, w, c = self.frame_shape
        return (self.num_frames, h, w, c)

    def _frames(self) -> np.ndarray:
        if self._array is None:
            if self.path is None:
                raise DataError(f"Video '{self.name}' has no frames.", hint="Reopen the dataset.")
            try:
                self._array = np.memmap(self.path, dtype=np.uint8, mode="r", shape=self.shape)
            except (OSError, ValueError) as exc:
                raise DataError(
                    f"Cannot read the cached frames of video '{self.name}' ('{self.path}'): {exc}.",
                    hint="The frame cache changed underneath: open the dataset again.",
                ) from None
        return self._array

    def frames(self, indices: Sequence[int] | np.ndarray | slice | range) -> np.ndarray:
        """Frames at ``indices`` (clamped to ``[0, num_frames - 1]``): ``uint8 (N, H, W, C)``."""
        if isinstance(indices, slice):
            indices = range(*indices.indices(self.num_frames))
        idx = np.clip(np.asarray(indices, dtype=np.int64).reshape(-1), 0, self.num_frames - 1)
        data = self._frames()
        if idx.size and idx[-1] - idx[0] == idx.size - 1 and np.all(np.diff(idx) == 1):
            return np.array(data[idx[0] : idx[-1] + 1])  # contiguous: one slice read
        return np.asarray(data[idx])

    def __len__(self) -> int:
        return self.num_frames

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        if self.path is not None:
            state["_array"] = None  # workers reopen the memmap lazily
        return state

    def __repr__(self) -> str:
        return f"Video({self.name!r}, {self.num_frames} frames, {self.source!r})"


class VideoSet(Sequence[Video]):
    """The videos of one split of a dataset, in order, with where they and their labels came from.

    Attributes: ``root``, ``split``, ``format`` (the dataset format's name), ``size`` (H, W),
    ``color``, ``ground_truth`` (the label file or folder used, or None), ``label_alternatives``
    (other ground truth found next to the data and not used), ``total_frames``.
    """

    def __init__(
        self,
        videos: Sequence[Video],
        *,
        root: Path,
        split: str,
        format: str,
        size: tuple[int, int],
        color: str,
        ground_truth: str | None = None,
        label_alternatives: Sequence[str] = (),
    ) -> None:
        self.videos = list(videos)
        self.root = root
        self.split = split
        self.format = format
        self.size = size
        self.color = color
        self.ground_truth = ground_truth
        self.label_alternatives = list(label_alternatives)

    @overload
    def __getitem__(self, index: int) -> Video: ...
    @overload
    def __getitem__(self, index: slice) -> list[Video]: ...
    def __getitem__(self, index: int | slice) -> Video | list[Video]:
        return self.videos[index]

    def __len__(self) -> int:
        return len(self.videos)

    def __iter__(self) -> Iterator[Video]:
        return iter(self.videos)

    def get(self, name: str) -> Video:
        """The video called ``name``."""
        for video in self.videos:
            if video.name == name:
                return video
        raise DataError(
            f"No video '{name}' in the {self.split} split of '{self.root}'.",
            hint=f"Videos: {', '.join(v.name for v in self.videos)}.",
        )

    @property
    def total_frames(self) -> int:
        return sum(v.num_frames for v in self.videos)

    @property
    def anomalous_frames(self) -> int | None:
        """Frames labelled anomalous, or None when the set has no labels."""
        if self.ground_truth is None:
            return None
        return int(sum(int(v.labels.sum()) for v in self.videos if v.labels is not None))

    def __repr__(self) -> str:
        return (
            f"VideoSet({str(self.root)!r}, {self.split!r}, format={self.format!r}, "
            f"{len(self)} videos, {self.total_frames} frames, ground_truth={self.ground_truth!r})"
        )


def _progress(enabled: bool, total: int | None, description: str) -> Any:
    if not enabled:
        return contextlib.nullcontext(None)
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
    )

    progress = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=Console(stderr=True),
        transient=True,
    )
    progress.add_task(description, total=total)
    return progress


def cache_sources(
    sources: Sequence[FrameSource],
    *,
    size: tuple[int, int],
    color: str,
    resample: str,
    cache_dir: Path,
    progress: bool = False,
) -> list[frame_cache.CacheEntry]:
    """Cache every source (decoding only those whose cache is missing or stale)."""
    fingerprints = [s.fingerprint() for s in sources]
    entries = [
        frame_cache.lookup(s, size, color, resample, cache_dir, fp)
        for s, fp in zip(sources, fingerprints, strict=True)
    ]
    todo = [i for i, e in enumerate(entries) if e is None]
    if todo:
        expected = [sources[i].expected_frames() for i in todo]
        total = None if any(e is None for e in expected) else sum(e or 0 for e in expected)
        show = progress and (total is None or total >= 200)
        with _progress(show, total, f"Caching {len(todo)} videos") as bar:
            step = None if bar is None else (lambda: bar.advance(bar.task_ids[0]))
            for i in todo:
                entries[i] = frame_cache.build(
                    sources[i], size, color, resample, cache_dir, step, fingerprints[i]
                )
    return [e for e in entries if e is not None]


def _read_ground_truth(
    path: Path, sources: Sequence[FrameSource], counts: Sequence[int], cache_dir: Path
) -> dict[str, np.ndarray]:
    videos = [(s.name, c) for s, c in zip(sources, counts, strict=True)]
    return read_labels(path, videos, cache_dir=cache_dir)


def open_videos(
    root: str | Path,
    split: str,
    *,
    size: int | tuple[int, int] = (256, 256),
    color: str = "gray",
    format: str | None = None,
    labels: str | Path | None = None,
    cache_dir: str | Path | None = None,
    progress: bool = True,
    resample: str = "bilinear",
    with_labels: bool = True,
) -> VideoSet:
    """Open a split of a dataset: find its videos and labels, and cache its frames once.

    ``split`` is ``"training"`` or ``"testing"``; ``format`` a name in the ``datasets`` registry
    (None: detect); ``labels`` an explicit ground-truth file or folder (None: detect next to the
    data, testing split only); ``cache_dir`` defaults to ``$VADKIT_CACHE`` or ``~/.cache/vadkit``.
    Frames are converted to ``color`` and resized to ``size`` = (H, W) with ``resample``.
    ``with_labels=False`` looks for no ground truth and opens no label file (``vadkit score``:
    it records where the ground truth is, :mod:`vadkit.data.truth`, for ``vadkit evaluate``).
    """
    root = Path(root).expanduser()
    check_split(split)
    hw = check_size(size)
    check_color(color)
    check_resample(resample)
    cache_path = Path(cache_dir).expanduser() if cache_dir else frame_cache.default_cache_dir()
    fmt_name, fmt = resolve_format(root, split, format)
    sources = fmt.list_videos(root, split)
    if not sources:
        raise DataError(
            f"'{root}' has no {split} videos.", hint="Check the dataset root and its layout."
        )

    if labels and not with_labels:
        raise ValueError("labels given with with_labels=False")
    label_path: Path | None = Path(labels).expanduser() if labels else None
    alternatives: list[Path] = []
    if label_path is None and split == "testing" and with_labels:
        found = find_label_candidates(fmt.label_dirs(root, split))
        if found:
            label_path, alternatives = found[0], found[1:]

    per_video: dict[str, np.ndarray] | None = None
    known = [s.expected_frames() for s in sources]
    if label_path is not None and all(k is not None for k in known):  # fail before decoding
        per_video = _read_ground_truth(label_path, sources, [k or 0 for k in known], cache_path)

    entries = cache_sources(
        sources, size=hw, color=color, resample=resample, cache_dir=cache_path, progress=progress
    )
    if label_path is not None and per_video is None:
        per_video = _read_ground_truth(
            label_path, sources, [e.num_frames for e in entries], cache_path
        )

    videos = []
    for source, entry in zip(sources, entries, strict=True):
        if entry.num_frames != (source.expected_frames() or entry.num_frames):
            raise DataError(
                f"Video '{source.name}' ('{source.source}') changed while it was being cached.",
                hint="Open the dataset again once its files no longer change.",
            )
        videos.append(
            Video(
                source.name,
                num_frames=entry.num_frames,
                source=source.source,
                frame_shape=entry.shape[1:],
                path=entry.path,
                labels=None if per_video is None else per_video[source.name],
            )
        )
    return VideoSet(
        videos,
        root=root,
        split=split,
        format=fmt_name,
        size=hw,
        color=color,
        ground_truth=None if label_path is None else str(label_path.resolve()),
        label_alternatives=[str(p.resolve()) for p in alternatives],
    )


def open_video_file(
    path: str | Path,
    *,
    size: int | tuple[int, int] = (256, 256),
    color: str = "gray",
    cache_dir: str | Path | None = None,
    resample: str = "bilinear",
    progress: bool = False,
) -> Video:
    """Open one video file (any format FFmpeg reads, via PyAV) for scoring; frames are cached."""
    path = Path(path).expanduser()
    if not path.is_file():
        raise DataError(
            f"Video file '{path}' does not exist.", hint="Check the path of the video to score."
        )
    hw = check_size(size)
    check_color(color)
    check_resample(resample)
    cache_path = Path(cache_dir).expanduser() if cache_dir else frame_cache.default_cache_dir()
    source = VideoFile(path.stem, path)
    (entry,) = cache_sources(
        [source], size=hw, color=color, resample=resample, cache_dir=cache_path, progress=progress
    )
    return Video(
        source.name,
        num_frames=entry.num_frames,
        source=source.source,
        frame_shape=entry.shape[1:],
        path=entry.path,
    )


def scale_pixels_(pixels: torch.Tensor) -> torch.Tensor:
    """In place: a float tensor of uint8 pixel values -> [-1, 1] (``x / 127.5 - 1``).

    The one pixel scaling of vadkit: training batches, test windows and live frames all use it.
    """
    return pixels.div_(127.5).sub_(1.0)


def frames_to_tensor(frames: np.ndarray, *, shared: bool = False) -> torch.Tensor:
    """``uint8`` frames ``(N, H, W, C)`` -> float32 tensor ``(C, N, H, W)`` in [-1, 1] (x/127.5-1).

    A batch ``(B, N, H, W, C)`` gives ``(B, C, N, H, W)``. ``shared`` allocates the result in
    shared memory (a DataLoader worker then hands it over without copying it).
    """
    import torch

    array = np.asarray(frames)
    if array.dtype != np.uint8 or array.ndim not in (4, 5):
        raise DataError(
            f"frames_to_tensor takes uint8 frames (N, H, W, C), not {array.dtype} {array.shape}.",
            hint="Read frames with Video.frames(...).",
        )
    order = (3, 0, 1, 2) if array.ndim == 4 else (0, 4, 1, 2, 3)
    src = torch.from_numpy(np.ascontiguousarray(array)).permute(order)
    tensor = torch.empty(src.shape, dtype=torch.float32)
    if shared:
        tensor.share_memory_()
    return scale_pixels_(tensor.copy_(src))
