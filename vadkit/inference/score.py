"""Scoring a run: per-frame anomaly scores of every task, for every error measure, in one pass.

A test window is T+1 consecutive frames: the first T are the input clip, frame T+1 is the frame
the window scores (FFP's target). Windows start at every frame (stride 1), so window ``i`` scores
frame ``i + T``. The encoder and the decoder run once per window and feed every task; each task
that compares frames is scored with every applicable registered error measure in the same pass,
so one run of ``vadkit score`` serves every ablation (error measure, normalizer, fusion weights)
that ``vadkit evaluate`` computes later without the network.

The loop over videos and windows, the attribution of window scores to frames (``frames_mode``)
and the rule for short videos are the torch-free ones of :mod:`vadkit.scoring.core`, shared with
exported bundles; here the run's model scores through :class:`vadkit.inference.scorer.ModelScorer`.
The file layout is described in :mod:`vadkit.scoring.scoreset`.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from vadkit.config import ScoreSettings
from vadkit.config.params import configured_params
from vadkit.config.request import Request
from vadkit.config.settings import MapSettings
from vadkit.errors import ConfigError
from vadkit.inference.maps import MapCollector, check_map_error
from vadkit.inference.scorer import ModelScorer, applicable_errors, scoring_runtime
from vadkit.scoring import core
from vadkit.scoring.core import VideoLike, VideoScores, check_frames_mode, check_scorable
from vadkit.scoring.fusion import default_alphas, get_normalizer
from vadkit.scoring.record import (
    DataSource,
    ErrorRecord,
    MapsRecord,
    ScoreSetRecord,
    scoring_finish,
)
from vadkit.scoring.scoreset import check_set_name, save_score_set
from vadkit.storage.lock import locked

if TYPE_CHECKING:
    from vadkit.components import ErrorMeasure
    from vadkit.compute.device import Runtime
    from vadkit.model import VADModel


def score_videos(
    model: VADModel,
    videos: Iterable[VideoLike],
    *,
    clip_length: int | None = None,
    errors: Mapping[str, ErrorMeasure],
    runtime: Runtime,
    batch_size: int = ScoreSettings.batch_size,
    frames_mode: str = ScoreSettings.frames,
    on_progress: Callable[[str, int, int], None] | None = None,
    skipped: list[dict[str, Any]] | None = None,
    left_out: dict[str, str] | None = None,
    maps_error: str | None = None,
    maps_limit: int = MapSettings.stored_size,
) -> Iterator[VideoScores]:
    """Score each video with a model in memory: :func:`vadkit.scoring.core.score_videos` over a
    :class:`~vadkit.inference.scorer.ModelScorer` (no autograd, batched windows).

    With ``maps_error``, each error-based task's anomaly map of that measure is kept too, shrunk
    to at most ``maps_limit`` pixels a side (:mod:`vadkit.inference.maps`). ``clip_length`` is
    the model's (checked when given).
    """
    scorer = ModelScorer(model, errors, runtime)
    if clip_length is not None and int(clip_length) != scorer.clip_length:
        raise ConfigError(
            f"clip_length = {clip_length}, but the model takes clips of {scorer.clip_length}.",
            hint="Leave out clip_length: it is the model's.",
        )
    if maps_error is not None:
        check_map_error(scorer.error_measures, maps_error)
    return core.score_videos(
        scorer,
        videos,
        batch_size=batch_size,
        frames_mode=frames_mode,
        on_progress=on_progress,
        skipped=skipped,
        left_out=left_out,
        maps=None if maps_error is None else (lambda: MapCollector(maps_error, maps_limit)),
    )


@dataclass(frozen=True)
class ScoreRequest(Request):
    """What ``vadkit score RUN`` is asked to do (every field optional).

    Data: ``data`` (a dataset root; default the run's ``data.root``, or the synthetic scene) and
    its ``testing`` split, or ``video_files`` (no labels); ``labels`` a label file to record as
    the ground truth (default ``data.labels``). ``name`` the score set (default ``testing``, or
    ``videos`` for files). ``frames``, ``batch_size``, ``precision`` default to the run's
    ``[score]`` settings; ``device`` ``auto``, ``cpu``, ``cuda``, ``cuda:N``. ``errors`` limits
    the error measures (default every registered one that applies). Weights: ``weights``
    (default ``score.weights``), ``checkpoint``, ``average_last`` (see
    :func:`vadkit.inference.weights.load_scored_model`; ``criterion``, what ``auto`` chooses
    by: ``"loss"`` or ``"pseudo"``). ``maps`` also stores each error-based
    task's anomaly map of the default error measure (float16, at most
    :attr:`MapSettings.stored_size` pixels a side). ``verbose`` shows the data layer's progress
    while it decodes videos the first time.
    """

    data: str | Path | None = None
    video_files: Sequence[str | Path] = ()
    name: str | None = None
    frames: str | None = None
    batch_size: int | None = None
    precision: str | None = None
    device: str = "auto"
    checkpoint: str = "last"
    labels: str | Path | None = None
    errors: Sequence[str] | None = None
    verbose: bool = False
    average_last: int | None = None
    maps: bool = False
    weights: str | None = None
    #: What ``weights = "auto"`` chooses by (default ``score.weights_criterion``).
    criterion: str | None = None

    taken_by: ClassVar[str] = "score_run"

    def check(self) -> None:
        """The combinations that make no sense, refused before anything is loaded."""
        if self.video_files and self.data is not None:
            raise ConfigError(
                "Give either --data ROOT or video files, not both.",
                hint="vadkit score RUN --data ROOT",
            )
        if self.video_files and self.labels is not None:
            raise ConfigError(
                "--labels applies to a dataset, not to video files.", hint="Leave out --labels."
            )
        if self.average_last is not None and self.checkpoint != "last":
            raise ConfigError(
                "Give either --checkpoint or --average-last, not both.",
                hint="--average-last K averages the run's last K epoch checkpoints.",
            )


@locked("vadkit score")
def score_run(
    run_dir: str | Path,
    request: ScoreRequest | None = None,
    *,
    on_progress: Callable[[int, int], None] | None = None,
    **options: Any,
) -> ScoreSetRecord:
    """Score a trained run on its test videos (or on video files) and save the scores.

    ``request`` (a :class:`ScoreRequest`), or its fields as keyword ``options``, says what to
    score and how; ``on_progress(windows done, windows in all)``.

    Scoring opens no label file: the set records where the dataset's ground truth is
    (``ground_truth_at``: its root, split, layout, the label file ``labels`` or ``data.labels``
    names, else none, and every video's frame count; :mod:`vadkit.data.truth`), and ``vadkit
    evaluate`` reads the frame labels and pixel masks from there. ``average_last=k`` scores the
    average of the weights of the run's last k epoch checkpoints, with BatchNorm statistics
    re-estimated on its training windows (:mod:`vadkit.inference.average`) instead of
    ``checkpoint``. ``weights`` (default ``score.weights``, resolved by
    :func:`vadkit.inference.weights.load_scored_model`): ``"last"`` (``checkpoint`` or
    ``average_last``), ``"ema"`` (the moving average the run kept with ``train.ema``),
    ``"default"`` (``ema`` when the run kept one and no checkpoint is named, else ``last``) or
    ``"auto"`` (chosen on the held-out validation videos,
    :func:`vadkit.inference.validation.choose_weights`). With ``score.precision = "auto"`` a
    faster precision is used only when its scores rank training windows like fp32's
    (:func:`~vadkit.inference.validation.choose_precision`); both choices are recorded. A video
    shorter than ``clip_length + 1`` frames is skipped (listed in ``skipped``); when no video is
    left this is a :class:`DataError` and nothing is written. Returns the score set's record
    (:class:`~vadkit.scoring.record.ScoreSetRecord`; ``to_json()`` is
    ``RUN/scores/<set>/set.json``).

    Started by torchrun on several processes, each scores every N-th video and rank 0 writes the
    one score set (:func:`vadkit.compute.distributed.score_shards`).
    """
    from vadkit.compute import distributed
    from vadkit.config import Settings

    req = ScoreRequest.of(request, options)
    req.check()
    data, video_files, labels, verbose = req.data, req.video_files, req.labels, req.verbose
    world = distributed.init_from_env(req.device)
    device = distributed.rank_device(req.device, world)
    run_dir = Path(run_dir)
    from vadkit.inference.weights import load_scored_model
    from vadkit.runs.folder import read_config

    settings = Settings.from_config(read_config(run_dir))
    dset, sset = settings.data, settings.score
    clip_length = dset.clip_length
    size = dset.hw
    color = dset.color
    frames_mode = check_frames_mode(req.frames or sset.frames)
    bs = int(req.batch_size or sset.batch_size)
    asked_precision = req.precision or sset.precision
    runtime = scoring_runtime(device, asked_precision, settings.train.channels_last)
    config, model, used = load_scored_model(
        run_dir,
        weights=req.weights,
        checkpoint=req.checkpoint,
        average_last=req.average_last,
        batch_size=bs,
        prepare=runtime.prepare,
        criterion=req.criterion,
    )
    name, maps = req.name, req.maps
    tasks = list(model.tasks)
    source: DataSource
    if video_files:
        from vadkit.data import open_video_file

        videos: Sequence[Any] = [open_video_file(p, size=size, color=color) for p in video_files]
        set_name = check_set_name(name or "videos")
        source = DataSource.of_files([Path(p) for p in video_files])
    else:
        from vadkit.data import default_data_root, open_videos
        from vadkit.data.truth import ground_truth_location

        root = data or dset.root or default_data_root()
        with distributed.main_first():  # rank 0 fills the frame cache, the others read it
            vset = open_videos(
                root,
                "testing",
                size=size,
                color=color,
                format=dset.format or None,
                progress=verbose and world.is_main,
                with_labels=False,  # the test labels are read by `vadkit evaluate` only
            )
        videos = list(vset)
        set_name = check_set_name(name or "testing")
        location = ground_truth_location(vset, labels or dset.labels or None)
        source = DataSource.of_dataset(vset.root, "testing", vset.format, location)
    check_scorable(videos, clip_length)
    frame_shape = (int(model.backbone.in_channels), size[0], size[1])
    errs = applicable_errors(req.errors, frame_shape, runtime.device, params=sset.error_params)
    scorer = ModelScorer(model, errs, runtime)
    precision_choice: dict[str, Any] | None = None
    if str(asked_precision).strip().lower() == "auto" and runtime.precision != "fp32":
        from vadkit.inference.validation import choose_precision

        scorer, precision_choice = choose_precision(
            scorer, config, root=None if video_files else data
        )
    error_tasks = scorer.error_tasks
    default_error = sset.error
    if error_tasks and default_error not in errs:
        raise ConfigError(
            f"score.error = {default_error!r} is not an error measure this run can use.",
            hint=f"Available: {', '.join(sorted(errs)) or 'none'}. Set it with "
            "--set score.error=NAME at training, or pick one at evaluation with --error.",
        )
    normalizer_name = sset.normalizer
    get_normalizer(normalizer_name, sset.normalizer_params)  # fail before the network pass
    if maps:
        check_map_error(errs, default_error)
    meta = ScoreSetRecord.for_scoring(
        scorer,
        source,
        videos,
        settings=sset,
        alphas=default_alphas(sset.alphas, tasks),
        errors={
            k: ErrorRecord.of(
                e.higher_is_anomalous,
                repr(e),
                configured_params("errors", k, sset.error_params.get(k)),
            )
            for k, e in errs.items()
        },
        frames_mode=frames_mode,
        size=size,
        color=color,
        batch_size=bs,
        weights=used.to_json(),
        precision_choice=precision_choice,
        maps=MapsRecord(default_error, "float16", MapSettings.stored_size) if maps else None,
    )
    total = sum(max(0, int(v.num_frames) - clip_length) for v in videos)
    finished = 0

    def progress(_: str, done: int, n_win: int) -> None:
        if on_progress is not None:
            on_progress(finished + done, total)

    def tracked(videos: Sequence[Any]) -> Iterator[VideoScores]:
        nonlocal finished
        for scored in core.score_videos(
            scorer,
            videos,
            batch_size=bs,
            frames_mode=frames_mode,
            on_progress=progress,
            skipped=skipped,
            left_out=left_out,
            maps=(lambda: MapCollector(default_error, MapSettings.stored_size)) if maps else None,
        ):
            finished += scored.num_frames - clip_length
            yield scored

    skipped: list[dict[str, Any]] = []
    left_out: dict[str, str] = {}
    finalize = scoring_finish(total, skipped, left_out)
    stream = (
        distributed.score_shards(videos, tracked, skipped, left_out)
        if world.distributed
        else tracked(videos)
    )
    result: ScoreSetRecord | None = None
    if world.is_main:
        result = save_score_set(run_dir, set_name, stream, meta, finalize=finalize)
        if default_error in result.left_out_errors:
            warnings.warn(
                f"score.error '{default_error}' was left out, so the set stores no fused score; "
                f"evaluate it with --error NAME ({', '.join(result.errors) or 'none left'})",
                stacklevel=2,
            )
    else:
        for _ in stream:  # score this rank's videos and hand them to rank 0
            pass
    shared = distributed.from_main(result)  # every rank returns rank 0's record
    assert shared is not None
    return shared
