"""Live scoring of a video stream: one window per new frame, calibrated scores and alerts.

Offline scoring (:mod:`vadkit.inference.score`) sees a whole video before it rescales it; a live
stream has no whole video, so its scores are rescaled with statistics of normal data fixed in
advance. The package is laid out by job:

* :mod:`vadkit.stream.reference`: score a sample of the run's training windows (normal by
  assumption), the reference the stream's normalizer is fitted on;
* :mod:`vadkit.stream.calibration`: those scores, the registered normalizer fitted on them and
  the fused alert threshold (``RUN/calibration.json``), valid for one set of weights;
* :mod:`vadkit.stream.scorer`: :class:`StreamScorer` turns frames into per-frame scores, the raw
  ones equal to offline scoring's;
* :mod:`vadkit.stream.gaps`: :class:`GapDetector` finds holes in the frames' timestamps, where
  the scorer restarts its window;
* :mod:`vadkit.stream.alerts`: :class:`AlertTracker` turns per-frame alert flags into alerts;
* :mod:`vadkit.stream.session`: :func:`run_stream` runs a whole watch session on a
  :class:`~vadkit.data.live.FrameReader` (the decoder, in :mod:`vadkit.data.live`), and
  :func:`open_for_stream` loads a run with a calibration that fits its weights, and the window
  scorer of its model (:func:`load_for_stream`: the same as a tuple).
"""

from vadkit.scoring.core import select_windows
from vadkit.stream.alerts import Alert, AlertTracker
from vadkit.stream.calibration import (
    CALIBRATION_FILE,
    CALIBRATION_FORMAT,
    DEFAULT_QUANTILE,
    Calibration,
    calibration_path,
    check_quantile,
    read_calibration,
    stale_reason,
    stream_normalizer,
    weights_digest,
    write_calibration,
)
from vadkit.stream.gaps import DEFAULT_MAX_GAP, Gap, GapDetector
from vadkit.stream.reference import DEFAULT_WINDOWS, calibrate, calibration_scores
from vadkit.stream.scorer import FrameScore, StreamScorer
from vadkit.stream.session import (
    JsonlWriter,
    StreamRun,
    WatchStats,
    load_for_stream,
    open_for_stream,
    run_stream,
)

__all__ = [
    "CALIBRATION_FILE",
    "CALIBRATION_FORMAT",
    "DEFAULT_MAX_GAP",
    "DEFAULT_QUANTILE",
    "DEFAULT_WINDOWS",
    "Alert",
    "AlertTracker",
    "Calibration",
    "FrameScore",
    "Gap",
    "GapDetector",
    "JsonlWriter",
    "StreamRun",
    "StreamScorer",
    "WatchStats",
    "calibrate",
    "calibration_path",
    "calibration_scores",
    "check_quantile",
    "load_for_stream",
    "open_for_stream",
    "read_calibration",
    "run_stream",
    "select_windows",
    "stale_reason",
    "stream_normalizer",
    "weights_digest",
    "write_calibration",
]
