"""``vadkit score BUNDLE``: score video files (or a dataset's test split) with a bundle.

The scores are stored as a run's are (:func:`vadkit.scoring.scoreset.save_score_set`, in
``BUNDLE/scores/<set>``), per frame after :func:`~vadkit.inference.score.expand_window_scores`, so
``vadkit evaluate BUNDLE`` reads them like a run's. Videos are decoded and resized by the same
code as the PyTorch path (:mod:`vadkit.data`), and the graph scales pixels as it does.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from vadkit.components import SCORE_KEY
from vadkit.config import Settings
from vadkit.errors import ConfigError
from vadkit.inference.score import (
    VideoLike,
    check_frames_mode,
    check_scorable,
    expand_window_scores,
    skip_short,
)
from vadkit.runtime.bundle import Bundle, read_bundle, refuse_run_options
from vadkit.runtime.engines import Engine, open_engine
from vadkit.runtime.windows import score_frames, split_output
from vadkit.scoring.finite import leave_out_nonfinite
from vadkit.scoring.scoreset import VideoScores, check_set_name, save_score_set
from vadkit.storage.lock import locked


def score_bundle_videos(
    engine: Engine,
    videos: Sequence[VideoLike],
    *,
    clip_length: int,
    batch_size: int,
    frames_mode: str,
    on_progress: Callable[[int], None] | None = None,
    skipped: list[dict[str, Any]] | None = None,
    left_out: dict[str, str] | None = None,
) -> Iterator[VideoScores]:
    """Each video's per-frame scores ``[task][key]``, as :func:`vadkit.inference.score.score_videos`
    gives them for a run (short videos skipped, non-finite error measures left out)."""
    mode = check_frames_mode(frames_mode)
    left_out = {} if left_out is None else left_out
    for video in videos:
        if skip_short(video, clip_length, skipped):
            continue
        n = int(video.num_frames)
        parts: dict[str, list[np.ndarray]] = {}
        for scored, streams in score_frames(
            engine, video.frames(np.arange(n)), clip_length, batch_size
        ):
            for name, values in streams.items():
                parts.setdefault(name, []).append(values)
            if on_progress is not None:
                on_progress(len(scored))
        raw: dict[str, dict[str, np.ndarray]] = {}
        frames = np.zeros(0, np.int64)
        for name, chunks in parts.items():
            if split_output(name)[1] in left_out:
                continue
            frames, values = expand_window_scores(np.concatenate(chunks), n, clip_length, mode)
            task, key = split_output(name)
            raw.setdefault(task, {})[key] = values
        active = {k: None for keys in raw.values() for k in keys if k != SCORE_KEY}
        leave_out_nonfinite(video.name, raw, frames, active, left_out)
        # no labels: the videos were opened without them (evaluate reads the ground truth)
        yield VideoScores(name=video.name, num_frames=n, frames=frames, labels=None, raw=raw)


@locked("vadkit score")  # score sets go into the bundle folder: one writer at a time
def score_bundle(
    bundle_dir: str | Path,
    *,
    video_files: Sequence[str | Path] = (),
    data: str | Path | None = None,
    labels: str | Path | None = None,
    name: str | None = None,
    frames: str | None = None,
    batch_size: int | None = None,
    device: str = "auto",
    precision: str | None = None,
    run_options: Mapping[str, bool] | None = None,
    on_progress: Callable[[int, int], None] | None = None,
) -> dict[str, Any]:
    """Score video files (or the ``testing`` split of ``data``) with a bundle and save the score
    set ``BUNDLE/scores/<name>``; returns its record, as ``score_run`` does for a run.

    ``run_options``: the options of ``vadkit score`` that apply to runs only, with whether each
    was given (one given is an error, :func:`~vadkit.runtime.bundle.refuse_run_options`)."""
    from vadkit._version import __version__
    from vadkit.data import open_video_file, open_videos
    from vadkit.data.truth import ground_truth_location

    refuse_run_options(bundle_dir, run_options or {})
    if video_files and data is not None:
        raise ConfigError(
            "Give either --data ROOT or video files, not both.",
            hint="vadkit score BUNDLE VIDEO ...",
        )
    if not video_files and data is None:
        raise ConfigError(
            "A bundle has no dataset of its own: give video files or --data ROOT.",
            hint="vadkit score BUNDLE VIDEO ...",
        )
    bundle: Bundle = read_bundle(bundle_dir)
    settings = Settings.from_config(bundle.config)
    sset = settings.score
    t = bundle.clip_length
    mode = check_frames_mode(frames or sset.frames)
    bs = int(batch_size or sset.batch_size)
    engine = open_engine(bundle, device, precision or "auto")
    source: dict[str, Any]
    if video_files:
        videos: list[Any] = [
            open_video_file(p, size=bundle.size, color=bundle.color) for p in video_files
        ]
        set_name = check_set_name(name or "videos")
        source = {"source": "files", "files": [str(Path(p)) for p in video_files]}
    else:
        assert data is not None
        # the test labels are read by `vadkit evaluate` only: the set records where they are
        vset = open_videos(data, "testing", size=bundle.size, color=bundle.color, with_labels=False)
        videos = list(vset)
        set_name = check_set_name(name or "testing")
        source = {"source": "dataset", "root": str(vset.root), "split": "testing"}
        source |= {"format": vset.format, "ground_truth_at": ground_truth_location(vset, labels)}
    check_scorable(videos, t)
    tasks = bundle.tasks
    meta: dict[str, Any] = {
        **source,
        "frames_mode": mode,
        "clip_length": t,
        "size": list(bundle.size),
        "color": bundle.color,
        "tasks": tasks,
        "error_tasks": list(bundle.meta["error_tasks"]),
        "errors": {
            k: {
                "higher_is_anomalous": v["higher_is_anomalous"],
                "stored": "as is" if v["higher_is_anomalous"] else "negated",
                "module": "bundle graph",
            }
            for k, v in bundle.meta["errors"].items()
        },
        "defaults": {
            "error": sset.error,
            "normalizer": sset.normalizer,
            "alphas": bundle.meta["defaults"]["alphas"],
            "presets": sset.presets,
            "smooth": sset.smooth,
        },
        "checkpoint": bundle.meta["run"]["checkpoint"],
        "weights": {
            "checkpoint": bundle.meta["run"]["checkpoint"],
            "sha256": bundle.meta["run"]["weights_sha256"],
        },
        "runtime": engine.describe(),
        "bundle_sha256": bundle.digest,  # bundle.json as read (runtime.bundle.Bundle.digest)
        "batch_size": bs,
        "total_frames": int(sum(int(v.num_frames) for v in videos)),
        "vadkit": __version__,
    }
    total = sum(max(0, int(v.num_frames) - t) for v in videos)
    done = 0

    def progress(k: int) -> None:
        nonlocal done
        done += k
        if on_progress is not None:
            on_progress(done, total)

    skipped: list[dict[str, Any]] = []
    left_out: dict[str, str] = {}
    meta["skipped"] = skipped
    start = time.perf_counter()

    def finalize(record: dict[str, Any]) -> None:
        seconds = time.perf_counter() - start
        record["seconds"] = round(seconds, 3)
        record["windows_per_second"] = round(total / seconds, 2) if seconds > 0 else None
        record["errors"] = {k: v for k, v in record["errors"].items() if k not in left_out}
        record["left_out_errors"] = dict(left_out)

    scored = score_bundle_videos(
        engine,
        videos,
        clip_length=t,
        batch_size=bs,
        frames_mode=mode,
        on_progress=progress,
        skipped=skipped,
        left_out=left_out,
    )
    result = save_score_set(Path(bundle_dir), set_name, scored, meta, finalize=finalize)
    result["name"] = set_name
    return result
