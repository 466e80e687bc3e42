"""``vadkit score BUNDLE``: score video files (or a dataset's test split) with a bundle.

The scores are stored as a run's are (:func:`vadkit.scoring.scoreset.save_score_set`, in
``BUNDLE/scores/<set>``), by the same loop (:func:`vadkit.scoring.core.score_videos`, with the
bundle's :class:`~vadkit.runtime.scorer.EngineScorer`), so ``vadkit evaluate BUNDLE`` reads them
like a run's. Videos are decoded and resized by the same code as the PyTorch path
(:mod:`vadkit.data`), and the graph scales pixels as it does.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from vadkit.config import Settings
from vadkit.errors import ConfigError
from vadkit.runtime.bundle import Bundle, read_bundle, refuse_run_options
from vadkit.runtime.engines import open_engine
from vadkit.runtime.scorer import EngineScorer
from vadkit.scoring.core import check_frames_mode, check_scorable, score_videos
from vadkit.scoring.record import DataSource, ErrorRecord, ScoreSetRecord, scoring_finish
from vadkit.scoring.scoreset import check_set_name, save_score_set
from vadkit.storage.lock import locked


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
) -> ScoreSetRecord:
    """Score video files (or the ``testing`` split of ``data``) with a bundle and save the score
    set ``BUNDLE/scores/<name>``; returns its record (a
    :class:`~vadkit.scoring.record.ScoreSetRecord`), as ``score_run`` does for a run.

    ``run_options``: the options of ``vadkit score`` that apply to runs only, with whether each
    was given (one given is an error, :func:`~vadkit.runtime.bundle.refuse_run_options`)."""
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
    scorer = EngineScorer.of_bundle(bundle, engine)
    source: DataSource
    if video_files:
        videos: list[Any] = [
            open_video_file(p, size=bundle.size, color=bundle.color) for p in video_files
        ]
        set_name = check_set_name(name or "videos")
        source = DataSource.of_files([Path(p) for p in video_files])
    else:
        assert data is not None
        # the test labels are read by `vadkit evaluate` only: the set records where they are
        vset = open_videos(data, "testing", size=bundle.size, color=bundle.color, with_labels=False)
        videos = list(vset)
        set_name = check_set_name(name or "testing")
        location = ground_truth_location(vset, labels)
        source = DataSource.of_dataset(vset.root, "testing", vset.format, location)
    check_scorable(videos, t)
    meta = ScoreSetRecord.for_scoring(
        scorer,
        source,
        videos,
        settings=sset,
        alphas=bundle.meta.defaults.alphas,
        errors={
            k: ErrorRecord.of(v.higher_is_anomalous, "bundle graph", v.params)
            for k, v in bundle.meta.errors.items()
        },
        frames_mode=mode,
        size=bundle.size,
        color=bundle.color,
        batch_size=bs,
        weights={
            "checkpoint": bundle.meta.run.checkpoint,
            "sha256": bundle.meta.run.weights_sha256,
        },
        bundle_sha256=bundle.digest,  # bundle.json as read (runtime.bundle.Bundle.digest)
    )
    total = sum(max(0, int(v.num_frames) - t) for v in videos)
    done = 0

    def progress(_: str, done_in_video: int, windows: int) -> None:
        nonlocal done
        if on_progress is not None:
            on_progress(done + done_in_video, total)
        if done_in_video == windows:
            done += windows

    skipped: list[dict[str, Any]] = []
    left_out: dict[str, str] = {}
    finalize = scoring_finish(total, skipped, left_out)
    scored = score_videos(
        scorer,
        videos,
        batch_size=bs,
        frames_mode=mode,
        on_progress=progress,
        skipped=skipped,
        left_out=left_out,
    )
    return save_score_set(Path(bundle_dir), set_name, scored, meta, finalize=finalize)
