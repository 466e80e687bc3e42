"""A watch session: a run loaded with a calibration that fits it, a source scored to the end.

:func:`load_for_stream` loads a run and a calibration made with its weights (calibrating first
when there is none); :func:`run_stream` scores a :class:`~vadkit.data.live.FrameReader`'s frames
with a :class:`~vadkit.stream.scorer.StreamScorer`, batching the windows that queued up when the
model falls behind, tracking alerts and appending every frame's scores to a JSON lines file.
A gap in the stream's timestamps closes the open alert and is written as a ``"gap"`` event; a
source that breaks ends the session with a ``"source_error"`` event and a :class:`SourceError`.
"""

from __future__ import annotations

import inspect
import json
import os
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, ParamSpec

from vadkit.config import Settings
from vadkit.data.live import FrameReader, SourceError
from vadkit.errors import DataError
from vadkit.stream.alerts import Alert, AlertTracker, write_peak_pictures
from vadkit.stream.calibration import (
    CALIBRATION_FILE,
    DEFAULT_QUANTILE,
    Calibration,
    calibration_path,
    read_calibration,
    stale_reason,
)
from vadkit.stream.gaps import Gap
from vadkit.stream.reference import DEFAULT_WINDOWS, calibrate
from vadkit.stream.scorer import FrameScore, StreamScorer

if TYPE_CHECKING:
    from vadkit.compute.device import Runtime
    from vadkit.inference.scorer import ModelScorer
    from vadkit.inference.weights import ScoredWeights
    from vadkit.model import VADModel

_P = ParamSpec("_P")


@dataclass
class WatchStats:
    """Where a watch session stands (passed to ``on_tick`` about once a second)."""

    frames: int = 0
    windows: int = 0
    seconds: float = 0.0
    fps: float = 0.0
    last: FrameScore | None = None
    alerts: int = 0
    alert_open: bool = False
    backlog: int = 0
    gaps: int = 0

    @property
    def mean_fps(self) -> float:
        return self.frames / self.seconds if self.seconds > 0 else 0.0


class JsonlWriter:
    """Appends one JSON object per line and flushes after every batch (fsync once a second),
    so a crash loses nothing already written."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path).expanduser()
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self.fh: IO[str] | None = open(self.path, "a", encoding="utf-8")  # noqa: SIM115
        except OSError as exc:
            raise DataError(
                f"Cannot write the JSON lines file '{self.path}': {exc}.",
                hint="Give a path in a writable folder with --jsonl.",
            ) from None

    def write(self, records: Iterable[Mapping[str, Any]]) -> None:
        if self.fh is None:
            return
        self.fh.write("".join(json.dumps(r, allow_nan=True) + "\n" for r in records))
        self.fh.flush()

    def sync(self) -> None:
        if self.fh is not None:
            os.fsync(self.fh.fileno())

    def close(self) -> None:
        if self.fh is not None:
            self.fh.flush()
            os.fsync(self.fh.fileno())
            self.fh.close()
            self.fh = None


def run_stream(
    scorer: StreamScorer,
    reader: FrameReader,
    *,
    jsonl: str | Path | None = None,
    gap: int = 0,
    on_scores: Callable[[list[FrameScore]], None] | None = None,
    on_alert: Callable[[Alert], None] | None = None,
    on_gap: Callable[[Gap], None] | None = None,
    on_tick: Callable[[WatchStats], None] | None = None,
    tick_seconds: float = 1.0,
) -> dict[str, Any]:
    """Score ``reader``'s frames with ``scorer`` until the stream ends or Ctrl-C.

    Returns a summary (frames, windows, alerts, gaps, mean fps, whether it was interrupted). A
    gap in the frames' timestamps (:attr:`StreamScorer.gaps`) restarts the window, closes the
    open alert and is written to the JSON lines file as a ``"gap"`` event; the reader's frame
    rate is the scorer's declared frame interval when it has none. A stream that ends before it
    completes one window is a :class:`DataError`. A source that breaks mid-stream
    (:class:`~vadkit.data.live.SourceError`) is written as a ``"source_error"`` event and raised,
    with the summary as its ``summary``, once everything scored before it is written and the
    open alert is closed.
    """
    tracker = AlertTracker(gap)
    writer = JsonlWriter(jsonl) if jsonl else None
    stats = WatchStats()
    interrupted = False
    broken: SourceError | None = None
    start = last_tick = time.perf_counter()
    frames_at_tick = 0
    gaps_before = len(scorer.gaps)
    detector = scorer.gap_detector
    if detector.frame_interval is None and reader.rate:
        detector.frame_interval = 1.0 / reader.rate

    if writer is not None and hasattr(scorer, "keep_maps"):
        scorer.keep_maps = True  # alerts carry the picture and map of their peak
    pictures = None if writer is None else writer.path.with_name(writer.path.stem + "_alerts")

    def record(alert: Alert | None) -> None:
        """Write the closed alert's peak pictures and its ``"alert"`` record to the JSONL."""
        if alert is None or writer is None or writer.fh is None:
            return
        if pictures is not None:
            write_peak_pictures(alert, pictures)
        writer.write([{"event": "alert", **alert.to_dict()}])

    def emit(alert: Alert | None) -> None:
        record(alert)
        if alert is not None and on_alert is not None:
            on_alert(alert)

    try:
        reader.start()
        while True:
            try:
                items = reader.get(scorer.max_batch)
            except SourceError as exc:
                broken = exc
                break
            if not items:
                break
            seen = len(scorer.gaps)
            scores = scorer.push_many(
                [f for f, _ in items], [t for _, t in items], preprocessed=True
            )
            events = _in_order(scores, scorer.gaps[seen:])
            if writer is not None:
                writer.write(e.to_dict() for e in events)
            if on_scores is not None:
                on_scores(scores)
            for e in events:
                if isinstance(e, Gap):
                    emit(tracker.close())  # no alert spans a gap
                    if on_gap is not None:
                        on_gap(e)
                else:
                    emit(tracker.update(e))
            stats.gaps = len(scorer.gaps) - gaps_before
            stats.frames = scorer.frames_seen
            stats.windows = scorer.windows_scored
            stats.last = scores[-1] if scores else stats.last
            now = time.perf_counter()
            if now - last_tick >= tick_seconds:
                stats.fps = (stats.frames - frames_at_tick) / (now - last_tick)
                frames_at_tick, last_tick = stats.frames, now
                stats.seconds = now - start
                stats.alerts = len(tracker.closed) + (tracker.current is not None)
                stats.alert_open = tracker.current is not None
                stats.backlog = reader.backlog
                if writer is not None:
                    writer.sync()
                if on_tick is not None:
                    on_tick(stats)
    except KeyboardInterrupt:
        interrupted = True
    finally:
        reader.stop()
        last = tracker.close()
        if writer is not None:
            record(last)
            if broken is not None:
                writer.write([_broken_record(broken, scorer.frames_seen)])
            writer.close()
    if last is not None and on_alert is not None:
        on_alert(last)
    seconds = time.perf_counter() - start
    summary = {
        "source": reader.source,
        "frames": scorer.frames_seen,
        "windows": scorer.windows_scored,
        "alerts": [a.to_dict() for a in tracker.closed],
        "gaps": [g.to_dict() for g in scorer.gaps[gaps_before:]],
        "seconds": round(seconds, 3),
        "mean_fps": round(scorer.frames_seen / seconds, 2) if seconds > 0 else None,
        "threshold": scorer.threshold,
        "interrupted": interrupted,
        "broken": None if broken is None else _broken_record(broken, scorer.frames_seen),
        "jsonl": None if writer is None else str(writer.path),
    }
    if broken is not None:
        broken.summary = summary
        raise broken
    t = scorer.clip_length
    if not interrupted and scorer.frames_seen < t + 1:
        raise DataError(
            f"The stream '{reader.source}' ended after {scorer.frames_seen} frame(s), before the "
            f"first window of clip_length + 1 = {t + 1} frames.",
            hint="Watch a longer stream (or raise --max-frames).",
        )
    return summary


def _in_order(scores: list[FrameScore], gaps: list[Gap]) -> list[FrameScore | Gap]:
    """Scores and gaps in stream order (a gap before the scores of the frames after it)."""
    if not gaps:
        return list(scores)
    out: list[FrameScore | Gap] = []
    pending = iter(gaps)
    nxt = next(pending, None)
    for s in scores:
        while nxt is not None and nxt.frame <= s.frame:
            out.append(nxt)
            nxt = next(pending, None)
        out.append(s)
    while nxt is not None:
        out.append(nxt)
        nxt = next(pending, None)
    return out


def _broken_record(error: SourceError, frame: int) -> dict[str, Any]:
    """The JSON-lines record (and summary entry) of a source that broke at stream frame
    ``frame`` (the first frame it could not give)."""
    return {
        "event": "source_error",
        "frame": frame,
        "reason": error.reason,
        "message": error.message,
    }


@dataclass
class StreamRun:
    """A run loaded for streaming: its config, its model with the weights it scores, their
    record (:func:`~vadkit.inference.weights.load_scored_model`), a calibration made with them,
    and the runtime (device, precision) the model scores on."""

    config: dict[str, Any]
    model: VADModel
    weights: ScoredWeights
    calibration: Calibration
    runtime: Runtime

    @property
    def settings(self) -> Settings:
        """The run's settings, typed."""
        return Settings.from_config(self.config)

    def scorer(self, error: str | None = None) -> ModelScorer:
        """The window scorer of the model on :attr:`runtime`, scoring the tasks that compare
        frames with ``error`` only (default ``score.error``): what a stream needs."""
        from vadkit.inference.scorer import ModelScorer, applicable_errors

        settings = self.settings
        measure = error or settings.score.error
        uses_error = any(t.uses_error for t in self.model.task_map.values())
        shape = (settings.data.channels, *settings.data.hw)
        params = settings.score.error_params
        errors = (
            applicable_errors([measure], shape, self.runtime.device, params=params)
            if uses_error
            else {}
        )
        return ModelScorer(self.model, errors, self.runtime)


def open_for_stream(
    run_dir: str | Path,
    *,
    checkpoint: str = "last",
    weights: str | None = None,
    recalibrate: bool = False,
    calibration_data: str | Path | None = None,
    calibration_windows: int = DEFAULT_WINDOWS,
    quantile: float | None = None,
    normalizer: str | None = None,
    device: str = "auto",
    precision: str = "auto",
    on_calibrating: Callable[[str], None] | None = None,
    on_progress: Callable[[int, int], None] | None = None,
) -> StreamRun:
    """The run with the weights it scores, a calibration that fits them, and the runtime it
    scores on (``device``; ``precision`` ``auto`` is the run's ``score.precision``).

    The weights are those ``vadkit score`` scores (``weights``, default the run's
    ``score.weights``: the moving average when the run kept one, else ``checkpoint``; resolved by
    :func:`~vadkit.inference.weights.load_scored_model`). ``RUN/calibration.json`` is used when it
    was made with these weights; otherwise (or with ``recalibrate``) the run is calibrated
    first, with ``normalizer`` (default: the run's ``score.normalizer``), under the run's lock
    (it writes ``RUN/calibration.json``), and ``on_calibrating`` is told why. A calibration that
    is used as it is keeps its own normalizer: the scorer refits another on its stored scores.
    """
    from vadkit.inference.scorer import scoring_runtime
    from vadkit.inference.weights import load_scored_model

    run_dir = Path(run_dir)
    config, model, used = load_scored_model(run_dir, weights=weights, checkpoint=checkpoint)
    settings = Settings.from_config(config)
    asked = precision if precision != "auto" else settings.score.precision
    runtime = scoring_runtime(device, asked, settings.train.channels_last)
    runtime.prepare(model)
    reason = "--calibrate was given" if recalibrate else None
    cal = None
    if not recalibrate:
        try:
            cal = read_calibration(run_dir)
        except DataError as exc:
            reason = f"{calibration_path(run_dir)} cannot be used ({exc.message})"
        if cal is None and reason is None:
            reason = f"the run has no {CALIBRATION_FILE} yet"
        elif cal is not None:
            stale = stale_reason(cal, model, used.sha256)
            if stale:
                reason, cal = f"{calibration_path(run_dir)} does not fit: {stale}", None
    if cal is None:
        if on_calibrating is not None:
            on_calibrating(reason or "")
        cal = calibrate(
            run_dir,
            model=model,
            config=config,
            scored=used.to_json(),
            data=calibration_data,
            windows=calibration_windows,
            quantile=DEFAULT_QUANTILE if quantile is None else quantile,
            normalizer=normalizer,
            device=device,
            precision=precision,
            on_progress=on_progress,
        )
    return StreamRun(
        config=dict(config), model=model, weights=used, calibration=cal, runtime=runtime
    )


def _as_tuple(
    open_run: Callable[_P, StreamRun], name: str, doc: str
) -> Callable[_P, tuple[dict[str, Any], VADModel, Calibration]]:
    """``open_run`` under ``name``, with its parameters, returning ``(config, model, calibration)``."""

    def load(*args: _P.args, **kwargs: _P.kwargs) -> tuple[dict[str, Any], VADModel, Calibration]:
        opened = open_run(*args, **kwargs)
        return opened.config, opened.model, opened.calibration

    load.__name__ = load.__qualname__ = name
    load.__doc__ = doc
    returns = "tuple[dict[str, Any], VADModel, Calibration]"
    load.__signature__ = inspect.signature(open_run).replace(return_annotation=returns)  # type: ignore[attr-defined]
    return load


load_for_stream = _as_tuple(
    open_for_stream,
    "load_for_stream",
    """The run's config, model and a calibration that fits its weights: :func:`open_for_stream`
    (same parameters) as a tuple ``(config, model, calibration)``.""",
)
