"""Live scoring: one window per new frame, with the run's model, as offline scoring would.

Frames arrive one at a time; :class:`StreamScorer` keeps the last T preprocessed frames, and each
new frame completes one window of T+1 frames that scores it (the window's last frame, as
offline). The raw scores equal those of ``vadkit score`` on the same frames; with a
:class:`~vadkit.stream.calibration.Calibration` they are also rescaled, fused and compared with
the alert threshold (:class:`FrameScore`). A gap in the frames' timestamps restarts the window
(:mod:`vadkit.stream.gaps`): no window holds frames from both sides of a hole.
"""

from __future__ import annotations

import itertools
import math
from collections import deque
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from vadkit import _compat
from vadkit.components import ScoreNormalizer
from vadkit.config import Settings
from vadkit.errors import ConfigError, DataError
from vadkit.scoring.core import StreamKey, WindowScorer, sliding_scores, stream_keys
from vadkit.scoring.fusion import default_alphas, resolve_alphas
from vadkit.stream.calibration import Calibration
from vadkit.stream.gaps import DEFAULT_MAX_GAP, Gap, GapDetector

if TYPE_CHECKING:
    from PIL import Image

    from vadkit.config.settings import ScoreSettings


@dataclass
class FrameScore:
    """The scores of one frame: the window that ends on it.

    ``raw[task]`` is the task's raw score (the chosen error measure, or its score stream),
    ``normalized[task]`` the calibrated one, ``fused`` their weighted sum and ``alert`` whether it
    exceeds the threshold (``normalized`` is empty and ``fused`` None without a calibration).
    ``time`` is the frame's time in the stream (seconds) when known.
    """

    frame: int
    raw: dict[str, float]
    normalized: dict[str, float] = field(default_factory=dict)
    fused: float | None = None
    alert: bool = False
    time: float | None = None
    #: With :attr:`StreamScorer.keep_maps`, an alerting frame's picture (uint8 ``(H, W, C)`` at
    #: the run's size) and fused anomaly map (float32, the maps' native size); not in the JSONL.
    view: tuple[np.ndarray, np.ndarray] | None = field(default=None, repr=False, compare=False)

    def to_dict(self) -> dict[str, Any]:
        return {
            "frame": self.frame,
            "time": self.time,
            "raw": self.raw,
            "normalized": self.normalized,
            "fused": self.fused,
            "alert": self.alert,
        }


class StreamScorer:
    """Scores a stream frame by frame with a :class:`~vadkit.scoring.core.WindowScorer` (a run's
    model or a bundle's engine), as offline scoring would.

    Each pushed frame is preprocessed like the run's training data (colour and size, with
    :func:`vadkit.data.sources.preprocess_native`); the scorer keeps the last T of them, and
    every new frame completes a window of T+1 frames that scores it. Windows that arrive
    together (:meth:`push_many`, e.g. when the model fell behind a live source) run as one batch
    of up to ``max_batch``.

    Frames pushed with their times are checked for gaps: when two consecutive frames are more
    than ``max_gap`` frame intervals apart (or time runs backwards), the window restarts at the
    frame after the hole (the next T frames only fill it again) and the :class:`Gap` is appended
    to :attr:`gaps`.

    Args:
        scorer: what scores the windows: :class:`vadkit.inference.scorer.ModelScorer` (a run's
            model, see :func:`vadkit.stream.session.open_for_stream`) or
            :class:`vadkit.runtime.scorer.EngineScorer` (a bundle).
        settings: the run's settings (frame size and colour, score defaults), or its resolved
            config.
        error: the error measure of the tasks that compare frames (default ``score.error``).
        alphas: fusion weights, as ``vadkit evaluate --alphas`` (default ``score.alphas``).
        calibration: a :class:`Calibration` of the run; None gives raw scores only.
        normalizer: the registered normalizer fitted on the calibration scores that rescales
            live scores (default: the calibration's own); needs a calibration.
        threshold: the fused alert threshold (default: the calibration's percentile).
        quantile: the percentile of the fused calibration scores used as threshold (default the
            calibration's own).
        max_batch: the most windows run in one batch.
        max_gap: frame intervals between consecutive frames beyond which the window restarts
            (:data:`~vadkit.stream.gaps.DEFAULT_MAX_GAP`; 0 or None: never).
        frame_interval: the source's declared seconds between frames (1 / frame rate), used to
            find gaps until the stream's own interval has been measured.

    Example::

        opened = open_for_stream("runs/ped2")  # the scored weights and their calibration
        scorer = StreamScorer(opened.scorer, opened.settings, calibration=opened.calibration)
        for frame in frames:  # uint8 (H, W, 3) or (H, W)
            for score in scorer.push(frame):
                print(score.frame, score.fused, score.alert)

    ``StreamScorer(model, config, device=..., precision=...)`` with a
    :class:`~vadkit.model.VADModel`, the form of vadkit 0.1, still works (deprecated).
    """

    def __init__(
        self,
        scorer: WindowScorer,
        settings: Settings | Mapping[str, Any],
        *,
        error: str | None = None,
        alphas: Any = None,
        calibration: Calibration | None = None,
        normalizer: str | None = None,
        threshold: float | None = None,
        quantile: float | None = None,
        max_batch: int = 8,
        max_gap: int | None = DEFAULT_MAX_GAP,
        frame_interval: float | None = None,
        device: str | None = None,
        precision: str | None = None,
    ) -> None:
        if int(max_batch) < 1:
            raise ConfigError(f"max_batch = {max_batch} must be at least 1.", hint="E.g. 8")
        settings = (
            settings if isinstance(settings, Settings) else Settings.from_config(dict(settings))
        )
        sset = settings.score
        self.error = error or sset.error
        if not isinstance(scorer, WindowScorer):  # a VADModel: the form of vadkit 0.1
            scorer = _compat.model_stream_scorer(scorer, settings, self.error, device, precision)
        elif device is not None or precision is not None:
            raise ConfigError(
                "device and precision belong to the scorer, not to StreamScorer.",
                hint="Build the scorer on its device and precision (open_for_stream(..., "
                "device=, precision=)).",
            )
        self.scorer = scorer
        self.settings = settings
        self.clip_length = scorer.clip_length
        height, width, self.channels = scorer.frame_shape
        self.size = (height, width)
        self.color = settings.data.color
        self.max_batch = int(max_batch)
        self.tasks = scorer.tasks
        if scorer.error_tasks and self.error not in scorer.errors:
            raise ConfigError(
                f"Error measure {self.error!r} is not one this scorer computes.",
                hint=f"Available: {', '.join(scorer.errors) or 'none'}.",
            )
        self.keys = stream_keys(scorer, self.error)
        self._calibrate(sset, alphas, calibration, normalizer, threshold, quantile)
        self._start(max_gap, frame_interval)

    def _start(self, max_gap: int | None, frame_interval: float | None) -> None:
        """An empty window, no frame seen yet."""
        self._context: deque[np.ndarray] = deque(maxlen=self.clip_length)
        self._times: deque[float | None] = deque(maxlen=self.clip_length)
        self.frames_seen = 0
        self.windows_scored = 0
        self.gap_detector = GapDetector(max_gap, frame_interval)
        #: The gaps found so far, in stream order.
        self.gaps: list[Gap] = []
        #: Attach to every alerting frame its picture and fused anomaly map (``FrameScore.view``):
        #: the same network pass gives them (:meth:`VADModel.window_maps`). The fused map is
        #: each task's map rescaled by the task's calibrated normalizer, weighted as the fused
        #: score (a task without maps adds its normalized score as a flat plane).
        self.keep_maps = False
        #: The anomaly maps of the batch :meth:`_columns` yielded last (empty unless keep_maps).
        self._batch_maps: Mapping[StreamKey, np.ndarray] = {}

    def _calibrate(
        self,
        sset: ScoreSettings,
        alphas: Any,
        calibration: Calibration | None,
        normalizer: str | None,
        threshold: float | None,
        quantile: float | None,
    ) -> None:
        """Fusion weights, the normalizers fitted on the calibration, and the alert threshold."""
        self.alphas = resolve_alphas(
            alphas,
            self.tasks,
            default=default_alphas(sset.alphas, self.tasks),
            presets=sset.presets,
        )
        self.calibration = calibration
        #: The normalizer of every task, fitted on its calibration scores (empty without one).
        self.normalizers: dict[str, ScoreNormalizer] = {}
        self.normalizer: str | None = None
        self.threshold: float | None = None
        if calibration is None and normalizer is not None:
            raise ConfigError(
                f"Normalizer '{normalizer}' has nothing to be fitted on without a calibration.",
                hint="Pass calibration=read_calibration(RUN) (or calibrate the run first).",
            )
        if calibration is not None:
            self.normalizer = normalizer or calibration.normalizer
            self.normalizers = {
                t: calibration.fitted(t, k, self.normalizer) for t, k in self.keys.items()
            }
            self.threshold = calibration.threshold_for(
                self.error, self.alphas, quantile, self.normalizer
            )
        if threshold is not None:
            if not math.isfinite(float(threshold)):
                raise ConfigError(f"Threshold {threshold!r} is not a finite number.", hint="1.5")
            self.threshold = float(threshold)

    @property
    def frame_shape(self) -> tuple[int, int, int]:
        """``(H, W, C)`` of a preprocessed frame."""
        return (self.size[0], self.size[1], self.channels)

    def preprocess(self, frame: np.ndarray | Image.Image) -> np.ndarray:
        """A native frame (uint8 ``(H, W)``, ``(H, W, 1|3|4)`` or a PIL image) as the run's data."""
        from vadkit.data.sources import preprocess_native

        return preprocess_native(frame, self.size, self.color)

    def reset(self) -> None:
        """Forget the buffered frames (e.g. after a gap in the stream): the next T frames only
        fill the window again, and the next frame's time is not compared with the last one."""
        self._context.clear()
        self._times.clear()
        self.gap_detector.forget()

    def push(self, frame: np.ndarray | Image.Image, time: float | None = None) -> list[FrameScore]:
        """Add one frame; returns the score of the window it completes (none for the first T)."""
        return self.push_many([frame], [time])

    def push_many(
        self,
        frames: Sequence[Any],
        times: Sequence[float | None] | None = None,
        *,
        preprocessed: bool = False,
    ) -> list[FrameScore]:
        """Add frames in order; their windows run in batches of up to ``max_batch``.

        A gap in ``times`` restarts the window at the frame after it (see :attr:`gaps`).
        """
        if not len(frames):
            return []
        new = [np.asarray(f) if preprocessed else self.preprocess(f) for f in frames]
        for f in new:
            if f.shape != self.frame_shape or f.dtype != np.uint8:
                raise DataError(
                    f"A preprocessed frame is {f.dtype} {f.shape}, the run needs uint8 "
                    f"{self.frame_shape}.",
                    hint="Push native frames (preprocessed=False) to have them converted.",
                )
        stamps: list[float | None] = list(times) if times is not None else [None] * len(new)
        if len(stamps) != len(new):
            raise ValueError(f"{len(new)} frames but {len(stamps)} times")
        base = self.frames_seen
        cuts: dict[int, Gap] = {}
        for i, stamp in enumerate(stamps):
            gap = self.gap_detector.check(base + i, stamp)
            if gap is not None:
                cuts[i] = gap
        out: list[FrameScore] = []
        bounds = sorted({0, *cuts, len(new)})
        for lo, hi in itertools.pairwise(bounds):
            if lo in cuts:
                self.gaps.append(cuts[lo])
                self._context.clear()
                self._times.clear()
            out.extend(self._score(new[lo:hi], stamps[lo:hi]))
        return out

    def _score(self, new: list[np.ndarray], stamps: list[float | None]) -> list[FrameScore]:
        """Score the windows that ``new`` completes with the buffered frames (no gap inside)."""
        first = self.frames_seen - len(self._context)  # stream index of chunk[0]
        chunk = [*self._context, *new]
        chunk_times = [*self._times, *stamps]
        self.frames_seen += len(new)
        self._context.extend(new)
        self._times.extend(stamps)
        t = self.clip_length
        if len(chunk) <= t:
            return []
        out: list[FrameScore] = []
        for positions, columns in self._columns(np.stack(chunk)):
            rescaled = {t: n.transform(columns[t]) for t, n in self.normalizers.items()}
            for j, pos in enumerate(positions):
                score = FrameScore(
                    frame=first + int(pos),
                    raw={task: float(columns[task][j]) for task in self.tasks},
                    time=chunk_times[int(pos)],
                )
                if rescaled:
                    self._fuse(score, {t: float(v[j]) for t, v in rescaled.items()})
                if score.alert and self._batch_maps:
                    score.view = (
                        chunk[int(pos)],
                        self._fused_map(self._batch_maps, j, score.normalized),
                    )
                out.append(score)
        self.windows_scored += len(out)
        return out

    def _columns(self, frames: np.ndarray) -> Iterator[tuple[np.ndarray, dict[str, np.ndarray]]]:
        """``(scored, raw)`` per batch of the windows of ``frames``: the index of the frame each
        window scores, and each task's raw scores (float64) for this scorer's error measure."""
        maps = self.keep_maps and bool(self.normalizers) and self.scorer.supports_maps
        for positions, scores in sliding_scores(self.scorer, frames, self.max_batch, maps=maps):
            self._batch_maps = scores.maps
            yield positions, {task: scores.stream(task, key) for task, key in self.keys.items()}

    def _fused_map(
        self, maps: Mapping[StreamKey, np.ndarray], j: int, normalized: dict[str, float]
    ) -> np.ndarray:
        """Window ``j``'s fused anomaly map (see :attr:`keep_maps`)."""
        total: np.ndarray | None = None
        planes = {
            k.task: np.asarray(m[j], np.float64) for k, m in maps.items() if k.key == self.error
        }
        shape = next(iter(planes.values())).shape if planes else (1, 1)
        for task, weight in self.alphas.items():
            if task in planes:
                values = self.normalizers[task].transform(planes[task].reshape(-1)).reshape(shape)
            else:
                values = np.full(shape, normalized[task])
            total = weight * values if total is None else total + weight * values
        assert total is not None
        return total.astype(np.float32)

    def _fuse(self, score: FrameScore, normalized: dict[str, float]) -> None:
        score.normalized = normalized
        score.fused = float(sum(w * normalized[t] for t, w in self.alphas.items()))
        score.alert = self.threshold is not None and score.fused > self.threshold
