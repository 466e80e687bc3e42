"""The scoring core: one interface that scores windows of frames, and the one loop over a video.

A test window is T+1 consecutive frames: the first T are the input clip, frame T+1 is the frame
the window scores. A :class:`WindowScorer` takes windows as uint8 frames and returns a
:class:`WindowScores`, every score stream of the batch. Two implementations exist, the trained
PyTorch model (:class:`vadkit.inference.scorer.ModelScorer`) and an exported bundle's engine
(:class:`vadkit.runtime.scorer.EngineScorer`); everything else is written once, here, and used by
both: the sliding windows of a video (:func:`sliding_scores`), windows picked across videos
(:func:`picked_scores`, for calibration and the label-free rules), the attribution of window
scores to frames (:func:`expand_window_scores`), the rule for short videos and the per-video loop
(:func:`score_videos`). Nothing here imports torch.

Frames scored (``frames_mode``): ``"protocol"``, the LUSS-AE protocol, scores frames T..N-1 (the
first T frames of a video have no window that ends on them); ``"all"`` also gives the first T
frames the first window's score.
"""

from __future__ import annotations

import abc
import warnings
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from vadkit.components.keys import SCORE_KEY
from vadkit.config.settings import FRAME_MODES
from vadkit.errors import ConfigError, DataError
from vadkit.scoring.finite import leave_out_nonfinite


# --------------------------------------------------------------------------------------------
# What a scorer returns
# --------------------------------------------------------------------------------------------
@dataclass(frozen=True, order=True)
class StreamKey:
    """One score stream: a task, and the key of its stream (the name of the error measure that
    compared the frames, or :data:`~vadkit.components.SCORE_KEY` for a task that scores by
    itself, e.g. PRP's probability). ``str(key)`` is ``"task/key"``, the name of the stream's
    output in an exported graph."""

    task: str
    key: str

    def __str__(self) -> str:
        return f"{self.task}/{self.key}"

    @classmethod
    def parse(cls, name: str) -> StreamKey:
        """``"task/key"`` -> ``StreamKey(task, key)``."""
        task, sep, key = name.partition("/")
        if not sep or not task or not key:
            raise DataError(
                f"'{name}' is not a score stream name (task/key).",
                hint="Export the run again: vadkit export RUN --out DIR",
            )
        return cls(task, key)


@dataclass(frozen=True)
class WindowScores:
    """The scores of a batch of B windows.

    ``streams[key]`` float64 ``(B,)`` for every stream the scorer gives; every score grows with
    abnormality (a similarity such as PSNR is negated). ``maps[key]`` float32 ``(B, h, w)``,
    only when asked for and only for the streams of tasks that compare frames: the error
    measure's per-pixel map averaged over the frames the task compares (pooling it as the
    measure pools gives the raw score).
    """

    streams: Mapping[StreamKey, np.ndarray]
    maps: Mapping[StreamKey, np.ndarray] = field(default_factory=dict)

    def __len__(self) -> int:
        return int(next(iter(self.streams.values())).shape[0]) if self.streams else 0

    @property
    def tasks(self) -> list[str]:
        """The tasks scored, in the scorer's order."""
        return list(dict.fromkeys(k.task for k in self.streams))

    def stream(self, task: str, key: str) -> np.ndarray:
        """The scores of one stream."""
        return self.streams[StreamKey(task, key)]

    def by_task(self) -> dict[str, dict[str, np.ndarray]]:
        """``{task: {key: scores}}``, the shape score sets store."""
        out: dict[str, dict[str, np.ndarray]] = {}
        for k, values in self.streams.items():
            out.setdefault(k.task, {})[k.key] = values
        return out

    @classmethod
    def concat(cls, parts: Sequence[WindowScores]) -> WindowScores:
        """The batches ``parts`` one after the other (same streams in each)."""
        if not parts:
            return cls(streams={})
        keys = list(parts[0].streams)
        streams = {k: np.concatenate([p.streams[k] for p in parts]) for k in keys}
        map_keys = list(parts[0].maps)
        maps = {k: np.concatenate([p.maps[k] for p in parts]) for k in map_keys}
        return cls(streams=streams, maps=maps)


# --------------------------------------------------------------------------------------------
# The interface
# --------------------------------------------------------------------------------------------
@runtime_checkable
class WindowScorer(Protocol):
    """Scores windows of T+1 uint8 frames ``(H, W, C)`` at the run's size and colour.

    ``clip_length`` is T; ``tasks`` the tasks scored; ``error_tasks`` those that compare frames
    (scored once per error measure in ``errors``); the other tasks give one stream under
    :data:`~vadkit.components.SCORE_KEY`. :meth:`score_windows` takes any windows
    ``(B, T+1, H, W, C)``; :meth:`score_sliding` takes B+T consecutive frames ``(B+T, H, W, C)``
    and scores their B windows (an implementation may do it faster than stacking them).
    ``maps=True`` also returns the anomaly maps, where :attr:`supports_maps`. :meth:`describe`
    says what computes the scores (recorded in score sets as ``runtime``).
    """

    @property
    def clip_length(self) -> int: ...

    @property
    def frame_shape(self) -> tuple[int, int, int]: ...

    @property
    def tasks(self) -> list[str]: ...

    @property
    def error_tasks(self) -> list[str]: ...

    @property
    def errors(self) -> list[str]: ...

    @property
    def supports_maps(self) -> bool: ...

    def score_windows(self, windows: np.ndarray, *, maps: bool = False) -> WindowScores: ...

    def score_sliding(self, frames: np.ndarray, *, maps: bool = False) -> WindowScores: ...

    def describe(self) -> dict[str, Any]: ...


def stream_keys(scorer: WindowScorer, error: str) -> dict[str, str]:
    """The key each task of ``scorer`` is read under for the error measure ``error``: ``error``
    for the tasks that compare frames, :data:`SCORE_KEY` for the others."""
    error_tasks = set(scorer.error_tasks)
    return {t: error if t in error_tasks else SCORE_KEY for t in scorer.tasks}


def check_windows(windows: np.ndarray, clip_length: int) -> np.ndarray:
    """``windows`` as uint8 ``(B, T+1, H, W, C)``, or a DataError saying what they are."""
    array = np.asarray(windows)
    if array.dtype != np.uint8 or array.ndim != 5 or array.shape[1] != clip_length + 1:
        raise DataError(
            f"Windows must be uint8 (B, T+1={clip_length + 1}, H, W, C), not "
            f"{array.dtype} {array.shape}.",
            hint="Stack T+1 consecutive frames per window, preprocessed to the run's size.",
        )
    return array


def sliding_view(frames: np.ndarray, clip_length: int) -> np.ndarray:
    """The N-T windows of consecutive uint8 frames ``(N, H, W, C)`` as a read-only view
    ``(N-T, T+1, H, W, C)`` (no copy)."""
    array = np.asarray(frames)
    if array.dtype != np.uint8 or array.ndim != 4:
        raise DataError(
            f"Frames must be uint8 (N, H, W, C), not {array.dtype} {array.shape}.",
            hint="Preprocess frames to the run's size and colour first.",
        )
    views = sliding_window_view(array, clip_length + 1, axis=0)  # (N-T, H, W, C, T+1)
    return views.transpose(0, 4, 1, 2, 3)


class SlidingByStacking(abc.ABC):
    """Base of a scorer whose :meth:`WindowScorer.score_sliding` is :meth:`score_windows` of the
    stacked windows (what an engine that takes windows does)."""

    @property
    @abc.abstractmethod
    def clip_length(self) -> int: ...

    @abc.abstractmethod
    def score_windows(self, windows: np.ndarray, *, maps: bool = False) -> WindowScores: ...

    def score_sliding(self, frames: np.ndarray, *, maps: bool = False) -> WindowScores:
        windows = np.ascontiguousarray(sliding_view(frames, self.clip_length))
        return self.score_windows(windows, maps=maps)


# --------------------------------------------------------------------------------------------
# Windows of a video, and windows picked across videos
# --------------------------------------------------------------------------------------------
def _positive(name: str, value: int) -> int:
    if int(value) < 1:
        raise ConfigError(f"{name} = {value} must be at least 1.", hint="E.g. 32")
    return int(value)


def sliding_scores(
    scorer: WindowScorer, frames: np.ndarray, batch_size: int, *, maps: bool = False
) -> Iterator[tuple[np.ndarray, WindowScores]]:
    """``(scored, scores)`` for every window of consecutive uint8 frames ``(N, H, W, C)``,
    ``batch_size`` windows at a time: ``scored`` the index of the frame each window scores
    (``start + T``). Fewer than T+1 frames yield nothing."""
    bs = _positive("batch_size", batch_size)
    t = scorer.clip_length
    n_win = int(np.asarray(frames).shape[0]) - t
    for s0 in range(0, max(n_win, 0), bs):
        s1 = min(s0 + bs, n_win)
        scored = np.arange(s0, s1, dtype=np.int64) + t
        yield scored, scorer.score_sliding(frames[s0 : s1 + t], maps=maps)


class VideoLike(Protocol):
    """What scoring needs of a video (``vadkit.data.Video`` has it)."""

    @property
    def name(self) -> str: ...
    @property
    def num_frames(self) -> int: ...
    @property
    def labels(self) -> np.ndarray | None: ...
    def frames(self, indices: np.ndarray) -> np.ndarray: ...  # (N, H, W, C) uint8


Window = tuple[int, int]
"""A window picked across videos: ``(video index, first frame)``."""


def select_windows(lengths: Sequence[int], clip_length: int, count: int) -> list[Window]:
    """``count`` windows ``(video index, start)`` evenly spread over every stride-1 window of
    videos of ``lengths`` frames (all of them when there are fewer)."""
    span = clip_length + 1
    per_video = [max(0, int(n) - span + 1) for n in lengths]
    total = sum(per_video)
    if total == 0:
        return []
    picks = np.unique(np.linspace(0, total - 1, num=min(count, total)).round().astype(np.int64))
    bounds = np.cumsum([0, *per_video])
    out = []
    for p in picks:
        v = int(np.searchsorted(bounds, p, side="right") - 1)
        out.append((v, int(p - bounds[v])))
    return out


def picked_windows(
    videos: Sequence[VideoLike], picks: Sequence[Window], clip_length: int, batch_size: int
) -> Iterator[np.ndarray]:
    """The uint8 windows ``(B, T+1, H, W, C)`` at ``picks``, ``batch_size`` at a time."""
    bs = _positive("batch_size", batch_size)
    for b0 in range(0, len(picks), bs):
        yield np.stack(
            [videos[v].frames(np.arange(s, s + clip_length + 1)) for v, s in picks[b0 : b0 + bs]]
        )


def picked_scores(
    scorer: WindowScorer,
    videos: Sequence[VideoLike],
    picks: Sequence[Window],
    batch_size: int,
    *,
    on_progress: Callable[[int, int], None] | None = None,
) -> WindowScores:
    """The scores of the windows at ``picks`` (in that order), ``batch_size`` at a time:
    calibration, the label-free precision rule and the int8 rule all score windows this way."""
    parts = []
    done = 0
    for windows in picked_windows(videos, picks, scorer.clip_length, batch_size):
        parts.append(scorer.score_windows(windows))
        done += len(windows)
        if on_progress is not None:
            on_progress(done, len(picks))
    return WindowScores.concat(parts)


# --------------------------------------------------------------------------------------------
# From window scores to frame scores
# --------------------------------------------------------------------------------------------
def check_frames_mode(mode: str) -> str:
    value = str(mode).strip().lower()
    if value not in FRAME_MODES:
        raise ConfigError(
            f"frames = {mode!r} is not a scoring mode.",
            hint="Use 'protocol' (drop the first T frames of each video) or 'all'.",
        )
    return value


def expand_window_scores(
    window_scores: np.ndarray, num_frames: int, clip_length: int, mode: str
) -> tuple[np.ndarray, np.ndarray]:
    """``(frames, scores)`` for one video from its per-window scores (window i -> frame i+T)."""
    n_win = num_frames - clip_length
    if window_scores.shape[0] != n_win:
        raise ValueError(f"{window_scores.shape[0]} window scores for {n_win} windows")
    if mode == "protocol":
        return np.arange(clip_length, num_frames, dtype=np.int64), window_scores
    head = np.repeat(window_scores[:1], clip_length, axis=0)
    return np.arange(num_frames, dtype=np.int64), np.concatenate([head, window_scores])


def skip_short(
    video: VideoLike, clip_length: int, skipped: list[dict[str, Any]] | None = None
) -> bool:
    """The rule for a video shorter than one window (``clip_length + 1`` frames): it is not
    scored, a warning names it, and it is listed in ``skipped``. Returns whether it is skipped."""
    n = int(video.num_frames)
    if n >= clip_length + 1:
        return False
    msg = f"video '{video.name}' has {n} frames, fewer than clip_length + 1 = {clip_length + 1}"
    warnings.warn(msg + ": not scored", stacklevel=3)  # the caller's caller: who iterates
    if skipped is not None:
        skipped.append({"name": video.name, "num_frames": n, "reason": "too short"})
    return True


def check_scorable(videos: Sequence[VideoLike], clip_length: int) -> None:
    """A DataError unless some video has a test window (``clip_length + 1`` frames).

    A video shorter than a window cannot be scored in either frames mode; scoring skips it with
    a warning (:func:`skip_short`), and fails when no video is left.
    """
    need = clip_length + 1
    if any(int(v.num_frames) >= need for v in videos):
        return
    listed = ", ".join(f"'{v.name}' ({int(v.num_frames)} frames)" for v in list(videos)[:5])
    more = f" and {len(videos) - 5} more" if len(videos) > 5 else ""
    raise DataError(
        f"No video can be scored: a test window is clip_length + 1 = {need} frames, and "
        + (f"every video is shorter: {listed}{more}." if videos else "there is no video.")
        + " Nothing was written.",
        hint=f"Score videos of at least {need} frames (in either frames mode), or train a run "
        "with a smaller data.clip_length.",
    )


@dataclass
class VideoScores:
    """The scores of one video: ``raw[task][key]`` per scored frame (``frames`` says which),
    key an error measure's name or :data:`SCORE_KEY`."""

    name: str
    num_frames: int
    frames: np.ndarray
    labels: np.ndarray | None = None
    raw: dict[str, dict[str, np.ndarray]] = field(default_factory=dict)
    #: Raw anomaly maps per error-based task, ``[F, h, w]`` (stored as float16; ``--maps``).
    maps: dict[str, np.ndarray] = field(default_factory=dict)
    #: Pixel masks ``[F, h, w]`` bool at the maps' size, when the dataset has them.
    masks: np.ndarray | None = None

    def stream_key(self, task: str, error: str) -> str:
        """The key of the stream :meth:`stream` returns: ``error``, or :data:`SCORE_KEY` for a
        task without error measures."""
        return error if error in self.raw.get(task, {}) else SCORE_KEY

    def stream(self, task: str, error: str) -> np.ndarray:
        """The task's raw score stream for ``error`` (a task without error measures has one)."""
        keys = self.raw.get(task)
        if keys is None:
            raise DataError(
                f"Video '{self.name}' has no scores for task '{task}'.",
                hint=f"Scored tasks: {', '.join(sorted(self.raw)) or 'none'}.",
            )
        if error in keys:
            return keys[error]
        if SCORE_KEY in keys:
            return keys[SCORE_KEY]
        raise ConfigError(
            f"Task '{task}' was not scored with the error measure '{error}'.",
            hint=f"Scored error measures: {', '.join(sorted(keys))}. Re-run `vadkit score` "
            "after installing the plugin that provides it.",
        )


class MapSink(Protocol):
    """Keeps the anomaly maps of a video's batches (``vadkit score --maps``, ``vadkit maps``)."""

    def add(self, scores: WindowScores) -> None: ...

    def result(self, num_frames: int, clip_length: int, mode: str) -> dict[str, np.ndarray]: ...


def score_video(
    scorer: WindowScorer,
    frames: np.ndarray,
    *,
    batch_size: int,
    frames_mode: str,
    maps: MapSink | None = None,
    on_progress: Callable[[int, int], None] | None = None,
) -> tuple[np.ndarray, dict[str, dict[str, np.ndarray]]]:
    """One video's sliding-window pass: ``frames`` ``(N, H, W, C)`` uint8 (N > T) scored in
    batches of windows; returns the frames the scores belong to and, per task and key, the raw
    scores attributed to them by ``frames_mode`` (:func:`expand_window_scores`). With ``maps``,
    each batch's anomaly maps go into it. ``on_progress(done, total)`` counts windows."""
    n = int(np.asarray(frames).shape[0])
    t = scorer.clip_length
    parts: list[WindowScores] = []
    done = 0
    for _, scores in sliding_scores(scorer, frames, batch_size, maps=maps is not None):
        if maps is not None:
            maps.add(scores)
        parts.append(WindowScores(streams=scores.streams))  # the maps are the sink's
        done += len(scores)
        if on_progress is not None:
            on_progress(done, n - t)
    raw: dict[str, dict[str, np.ndarray]] = {}
    expanded = np.zeros(0, np.int64)
    for key, values in WindowScores.concat(parts).streams.items():
        expanded, raw.setdefault(key.task, {})[key.key] = expand_window_scores(
            values, n, t, frames_mode
        )
    return expanded, raw


def score_videos(
    scorer: WindowScorer,
    videos: Iterable[VideoLike],
    *,
    batch_size: int,
    frames_mode: str,
    on_progress: Callable[[str, int, int], None] | None = None,
    skipped: list[dict[str, Any]] | None = None,
    left_out: dict[str, str] | None = None,
    maps: Callable[[], MapSink] | None = None,
) -> Iterator[VideoScores]:
    """Score each video: the one per-video loop of vadkit (a run's model or a bundle's engine).

    A video shorter than T+1 frames has no window: it is skipped with a warning (and listed in
    ``skipped``). An error measure that gives a non-finite score is left out from then on with a
    warning naming it, the task, the video and the frames, and recorded in ``left_out`` (the
    caller removes it from the videos already scored); the other measures are unaffected. A
    task's own score that is not finite is a :class:`DataError`. A video's ``labels``, when it
    has some (frames given in memory with their labels), are kept for the frames scored.
    ``maps()`` makes a :class:`MapSink` per video, whose maps the video's scores keep.
    ``on_progress(video name, windows done, windows of the video)``.
    """
    mode = check_frames_mode(frames_mode)
    _positive("batch_size", batch_size)
    left_out = {} if left_out is None else left_out
    active: dict[str, Any] = {e: None for e in scorer.errors}
    t = scorer.clip_length
    for video in videos:
        if skip_short(video, t, skipped):
            continue
        n = int(video.num_frames)
        sink = None if maps is None else maps()
        progress = None
        if on_progress is not None:
            name = video.name

            def progress(done: int, total: int, name: str = name) -> None:
                on_progress(name, done, total)

        frames, raw = score_video(
            scorer,
            video.frames(np.arange(n)),
            batch_size=batch_size,
            frames_mode=mode,
            maps=sink,
            on_progress=progress,
        )
        leave_out_nonfinite(video.name, raw, frames, active, left_out)
        labels = None if video.labels is None else np.asarray(video.labels)
        if labels is not None and labels.shape[0] != n:
            raise DataError(
                f"Video '{video.name}' has {n} frames but {labels.shape[0]} labels.",
                hint="Check the ground-truth file for this dataset.",
            )
        yield VideoScores(
            name=video.name,
            num_frames=n,
            frames=frames,
            labels=None if labels is None else labels[frames].astype(np.uint8),
            raw=raw,
            maps={} if sink is None else sink.result(n, t, mode),
        )
