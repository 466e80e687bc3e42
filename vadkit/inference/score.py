"""Scoring: per-frame anomaly scores of every task, for every error measure, in one network pass.

A test window is T+1 consecutive frames: the first T are the input clip, frame T+1 is the frame
the window scores (FFP's target). Windows start at every frame (stride 1), so window ``i`` scores
frame ``i + T``. The encoder and the decoder run once per window and feed every task; each task
that compares frames is scored with every applicable registered error measure in the same pass,
so one run of ``vadkit score`` serves every ablation (error measure, normalizer, fusion weights)
that ``vadkit evaluate`` computes later without the network.

Frames scored (recorded as ``frames_mode``):

* ``"protocol"``: the LUSS-AE protocol; the first T frames of each video have no window that ends
  on them and are not scored (Ped2: 1,818 of 2,010 test frames).
* ``"all"``: every frame is scored; the first T frames get the first window's score.

The file layout is described in :mod:`vadkit.scoring.scoreset`.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from vadkit.config import FRAME_MODES, ScoreSettings
from vadkit.config.settings import MapSettings
from vadkit.errors import ConfigError, DataError
from vadkit.inference.maps import MapCollector, check_map_error
from vadkit.scoring.finite import leave_out_nonfinite
from vadkit.scoring.fusion import default_alphas, get_normalizer
from vadkit.scoring.scoreset import VideoScores, check_set_name, save_score_set
from vadkit.storage.lock import locked

if TYPE_CHECKING:
    import torch

    from vadkit.components import ErrorMeasure
    from vadkit.compute.device import Runtime
    from vadkit.model import VADModel


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


# --------------------------------------------------------------------------------------------
# The network pass
# --------------------------------------------------------------------------------------------
#: The precision ``score.precision = "auto"`` tries per device type for *scoring*. On a CPU with
#: native bf16 (AVX512-BF16 or AMX, :func:`vadkit.compute.device.native_bf16_cpu`), bf16 autocast
#: scores about 1.3x faster; :func:`score_run` keeps it only when its per-window scores rank
#: training windows like fp32's (:func:`vadkit.inference.validation.choose_precision`), a
#: label-free rule fixed beforehand. A CPU without native bf16 emulates it, far slower than
#: fp32: there "auto" is fp32 and no comparison runs.
SCORE_AUTO_PRECISION: dict[str, str] = {"cpu": "bf16", "cuda": "fp32"}


class VideoLike(Protocol):
    """What scoring needs of a video (``vadkit.data.Video`` has it)."""

    @property
    def name(self) -> str: ...
    @property
    def num_frames(self) -> int: ...
    @property
    def labels(self) -> np.ndarray | None: ...
    def frames(self, indices: np.ndarray) -> np.ndarray: ...  # (N, H, W, C) uint8


def skip_short(
    video: VideoLike, clip_length: int, skipped: list[dict[str, Any]] | None = None
) -> bool:
    """The rule for a video shorter than one window (``clip_length + 1`` frames): it is not
    scored, a warning names it, and it is listed in ``skipped``. Returns whether it is skipped.

    Both scoring paths call it: :func:`score_videos` (PyTorch) and the torch-free bundle runtime
    (:func:`vadkit.runtime.files.score_bundle_videos`), so it imports nothing heavy.
    """
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

    The rule for short test videos: a video shorter than a window cannot be scored in either
    frames mode; scoring skips it with a warning (:func:`skip_short`), and fails when no video
    is left. Both scoring paths (PyTorch, and the torch-free bundle runtime) call both.
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


def make_runtime(
    device: str = "auto", precision: str = "auto", channels_last: bool = True
) -> Runtime:
    """A :class:`vadkit.compute.device.Runtime` for scoring (``auto`` precision per device type)."""
    from vadkit.compute.device import Runtime, native_bf16_cpu, resolve_precision, select_device

    dev = select_device(device, key="score.device")
    if str(precision).strip().lower() == "auto":
        prec = SCORE_AUTO_PRECISION.get(dev.type, "fp32")
        if prec == "bf16" and dev.type == "cpu" and not native_bf16_cpu():
            prec = "fp32"
    else:
        prec = resolve_precision(precision, dev, key="score.precision")
    return Runtime(device=dev, precision=prec, channels_last=bool(channels_last))


def applicable_errors(
    names: Sequence[str] | None,
    frame_shape: tuple[int, int, int],
    device: torch.device | str = "cpu",
) -> dict[str, ErrorMeasure]:
    """Every registered error measure (or those in ``names``) that scores frames of this shape.

    A measure that cannot be built with its defaults or fails on a probe pair of frames is left
    out with a warning (an explicitly named one is an error).
    """
    import torch

    from vadkit.api import create_error, list_errors

    wanted = list(names) if names else list_errors()
    probe = torch.zeros((2, *frame_shape), device=device)
    out: dict[str, ErrorMeasure] = {}
    for name in wanted:
        try:
            err = create_error(name).to(device).eval()
            with torch.inference_mode():
                value = err(probe, probe + 0.1)
            if tuple(value.shape) != (2,):
                raise ValueError(f"returned shape {tuple(value.shape)} for 2 frames")
        except Exception as exc:
            if names:
                raise ConfigError(
                    f"The error measure '{name}' cannot score frames of shape {frame_shape}: {exc}",
                    hint="Pick another with --error; `vadkit list errors` shows them.",
                ) from None
            warnings.warn(f"error measure '{name}' left out: {exc}", stacklevel=2)
            continue
        out[name] = err
    return out


def windowed_pass(
    model: VADModel,
    frames: np.ndarray,
    *,
    clip_length: int,
    errors: Mapping[str, ErrorMeasure],
    runtime: Runtime,
    batch_size: int,
    frames_mode: str,
    collector: MapCollector | None = None,
    on_progress: Callable[[int, int], None] | None = None,
) -> tuple[np.ndarray, dict[str, dict[str, np.ndarray]]]:
    """One video's sliding-window pass, the one behind ``vadkit score`` and ``vadkit maps``.

    ``frames`` ``(N, H, W, C)`` uint8 at the run's size are scored in batches of windows (no
    autograd); returns the frames the scores belong to and, per task and stream key, the raw
    scores attributed to them by ``frames_mode`` (:func:`expand_window_scores`). With a
    ``collector``, each batch's anomaly maps go into it as well. ``on_progress(done, total)``
    counts windows.
    """
    import torch

    from vadkit.data.windows import sliding_windows

    n = int(frames.shape[0])
    parts: dict[str, dict[str, list[torch.Tensor]]] = {}
    done = 0
    model.eval()
    with torch.inference_mode():
        for _, batch in sliding_windows(
            frames,
            clip_length,
            batch_size,
            device=runtime.device,
            memory_format=runtime.memory_format,
        ):
            if collector is None:
                out = model.window_scores(batch, errors, autocast=runtime.autocast())
            else:
                out, maps = model.window_maps(batch, errors, autocast=runtime.autocast())
                collector.add(maps)
            for task, scored in out.items():
                for key, value in scored.items():
                    parts.setdefault(task, {}).setdefault(key, []).append(value.cpu())
            done += batch.size
            if on_progress is not None:
                on_progress(done, n - clip_length)
    raw: dict[str, dict[str, np.ndarray]] = {}
    expanded = np.zeros(0, np.int64)
    for task, keys in parts.items():
        for key, chunks in keys.items():
            values = torch.cat(chunks).double().numpy()
            expanded, raw.setdefault(task, {})[key] = expand_window_scores(
                values, n, clip_length, frames_mode
            )
    return expanded, raw


def score_videos(
    model: VADModel,
    videos: Iterable[VideoLike],
    *,
    clip_length: int,
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
    """Score each video (no autograd, batched windows).

    With ``maps_error``, each error-based task's anomaly map of that measure is kept too, shrunk
    to at most ``maps_limit`` pixels a side (:mod:`vadkit.inference.maps`). A video's ``labels``,
    when it has some (frames given in memory with their labels), are kept for the frames scored;
    ``vadkit score`` opens its videos without them (the labels are read by ``vadkit evaluate``).

    A video shorter than T+1 frames has no window: it is skipped with a warning (and listed in
    ``skipped``). An error measure that gives a non-finite score is left out from then on with
    a warning naming it, the task, the video and the frames (and recorded in ``left_out``: the
    caller removes it from the videos already scored); the other measures are unaffected. A
    task without error measures that gives a non-finite score is a :class:`DataError`.
    """
    mode = check_frames_mode(frames_mode)
    if batch_size < 1:
        raise ConfigError(f"score.batch_size = {batch_size} must be at least 1.", hint="E.g. 32")
    active = dict(errors)
    left_out = {} if left_out is None else left_out
    for video in videos:
        if skip_short(video, clip_length, skipped):
            continue
        n = int(video.num_frames)
        collector = None if maps_error is None else MapCollector(maps_error, maps_limit)
        expanded_frames, raw = windowed_pass(
            model,
            video.frames(np.arange(n)),
            clip_length=clip_length,
            errors=active,
            runtime=runtime,
            batch_size=batch_size,
            frames_mode=mode,
            collector=collector,
            on_progress=None if on_progress is None else partial(on_progress, video.name),
        )
        leave_out_nonfinite(video.name, raw, expanded_frames, active, left_out)
        labels = None if video.labels is None else np.asarray(video.labels)
        if labels is not None and labels.shape[0] != n:
            raise DataError(
                f"Video '{video.name}' has {n} frames but {labels.shape[0]} labels.",
                hint="Check the ground-truth file for this dataset.",
            )
        scored_maps = {} if collector is None else collector.result(n, clip_length, mode)
        yield VideoScores(
            name=video.name,
            num_frames=n,
            frames=expanded_frames,
            labels=None if labels is None else labels[expanded_frames].astype(np.uint8),
            raw=raw,
            maps=scored_maps,
        )


# --------------------------------------------------------------------------------------------
# Runs: score a trained run and store the results
# --------------------------------------------------------------------------------------------
@locked("vadkit score")
def score_run(
    run_dir: str | Path,
    *,
    data: str | Path | None = None,
    video_files: Sequence[str | Path] = (),
    name: str | None = None,
    frames: str | None = None,
    batch_size: int | None = None,
    precision: str | None = None,
    device: str = "auto",
    checkpoint: str = "last",
    labels: str | Path | None = None,
    errors: Sequence[str] | None = None,
    on_progress: Callable[[int, int], None] | None = None,
    verbose: bool = False,
    average_last: int | None = None,
    maps: bool = False,
    weights: str | None = None,
) -> dict[str, Any]:
    """Score a trained run on its test videos (or on video files) and save the scores.

    ``maps`` also stores each error-based task's anomaly map of the default error measure
    (float16, at most :attr:`MapSettings.stored_size` pixels a side), for pixel-level metrics.

    Data: ``data`` (a dataset root; default the run's ``data.root``, or the synthetic scene) and
    its ``testing`` split, or ``video_files`` (no labels). Scoring opens no label file: the set
    records where the dataset's ground truth is (``ground_truth_at``: its root, split, layout,
    the label file ``labels`` or ``data.labels`` names, else none, and every video's frame count;
    :mod:`vadkit.data.truth`), and ``vadkit evaluate`` reads the frame labels and pixel masks
    from there. Settings not given come from the run's
    ``[score]`` config. ``verbose`` shows the data layer's progress while it decodes videos the
    first time. ``average_last=k`` scores the average of the weights of the run's last k epoch
    checkpoints, with BatchNorm statistics re-estimated on its training windows
    (:mod:`vadkit.inference.average`) instead of ``checkpoint``. ``weights`` (default
    ``score.weights``, resolved by :func:`vadkit.inference.weights.load_scored_model`): ``"last"`` (``checkpoint`` or ``average_last``), ``"ema"`` (the moving
    average the run kept with ``train.ema``), ``"default"`` (``ema`` when the run kept one and no
    checkpoint is named, else ``last``) or ``"auto"`` (chosen on the held-out validation videos,
    :func:`vadkit.inference.validation.choose_weights`). With ``score.precision = "auto"`` a faster
    precision is used only when its scores rank training windows like fp32's
    (:func:`~vadkit.inference.validation.choose_precision`); both choices are recorded. A video shorter than
    ``clip_length + 1`` frames is skipped (listed in ``skipped``); when no video is left this is a
    :class:`DataError` and nothing is written. Returns the score set's record
    (``RUN/scores/<set>/set.json``).

    Started by torchrun on several processes, each scores every N-th video and rank 0 writes the
    one score set (:func:`vadkit.compute.distributed.score_shards`).
    """
    from vadkit._version import __version__
    from vadkit.compute import distributed
    from vadkit.config import Settings

    world = distributed.init_from_env(device)
    device = distributed.rank_device(device, world)

    if video_files and data is not None:
        raise ConfigError(
            "Give either --data ROOT or video files, not both.", hint="vadkit score RUN --data ROOT"
        )
    if video_files and labels is not None:
        raise ConfigError(
            "--labels applies to a dataset, not to video files.", hint="Leave out --labels."
        )
    if average_last is not None and checkpoint != "last":
        raise ConfigError(
            "Give either --checkpoint or --average-last, not both.",
            hint="--average-last K averages the run's last K epoch checkpoints.",
        )
    run_dir = Path(run_dir)
    from vadkit.inference.weights import load_scored_model
    from vadkit.runs.folder import read_config

    settings = Settings.from_config(read_config(run_dir))
    dset, sset = settings.data, settings.score
    clip_length = dset.clip_length
    size = dset.hw
    color = dset.color
    frames_mode = check_frames_mode(frames or sset.frames)
    bs = int(batch_size or sset.batch_size)
    asked_precision = precision or sset.precision
    runtime = make_runtime(device, asked_precision, settings.train.channels_last)
    config, model, used = load_scored_model(
        run_dir,
        weights=weights,
        checkpoint=checkpoint,
        average_last=average_last,
        batch_size=bs,
        prepare=runtime.prepare,
    )
    tasks = list(model.tasks)
    source: dict[str, Any]
    if video_files:
        from vadkit.data import open_video_file

        videos: Sequence[Any] = [open_video_file(p, size=size, color=color) for p in video_files]
        set_name = check_set_name(name or "videos")
        source = {"source": "files", "files": [str(Path(p)) for p in video_files]}
    else:
        from vadkit.data import default_data_root, open_videos
        from vadkit.data.truth import ground_truth_location
        from vadkit.evaluation.groundtruth import LOCATION_KEY

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
        source = {
            "source": "dataset",
            "root": str(vset.root),
            "split": "testing",
            "format": vset.format,
            LOCATION_KEY: ground_truth_location(vset, labels or dset.labels or None),
        }
    check_scorable(videos, clip_length)
    frame_shape = (int(model.backbone.in_channels), size[0], size[1])
    errs = applicable_errors(errors, frame_shape, runtime.device)
    precision_choice: dict[str, Any] | None = None
    if str(asked_precision).strip().lower() == "auto" and runtime.precision != "fp32":
        from vadkit.inference.validation import choose_precision

        runtime, precision_choice = choose_precision(
            model, config, runtime, errs, root=None if video_files else data
        )
    error_tasks = [t for t in tasks if model.tasks[t].uses_error]
    default_error = sset.error
    if error_tasks and default_error not in errs:
        raise ConfigError(
            f"score.error = {default_error!r} is not an error measure this run can use.",
            hint=f"Available: {', '.join(sorted(errs)) or 'none'}. Set it with "
            "--set score.error=NAME at training, or pick one at evaluation with --error.",
        )
    normalizer_name = sset.normalizer
    get_normalizer(normalizer_name)  # fail before the network pass, not after
    meta: dict[str, Any] = {
        **source,
        "frames_mode": frames_mode,
        "clip_length": clip_length,
        "size": list(size),
        "color": color,
        "tasks": tasks,
        "error_tasks": error_tasks,
        "errors": {
            k: {
                "higher_is_anomalous": bool(e.higher_is_anomalous),
                "stored": "as is" if e.higher_is_anomalous else "negated",
                "module": repr(e),
            }
            for k, e in errs.items()
        },
        "defaults": {
            "error": default_error,
            "normalizer": normalizer_name,
            "alphas": default_alphas(sset.alphas, tasks),
            "presets": sset.presets,
            "smooth": sset.smooth,
        },
        "checkpoint": used.checkpoint,
        "weights": used.to_json(),
        "precision_choice": precision_choice,
        "runtime": runtime.describe(),
        "batch_size": bs,
        "total_frames": int(sum(int(v.num_frames) for v in videos)),
        "vadkit": __version__,
    }
    if maps:
        check_map_error(errs, default_error)
        meta["maps"] = {
            "error": default_error,
            "dtype": "float16",
            "limit": MapSettings.stored_size,
        }
    total = sum(max(0, int(v.num_frames) - clip_length) for v in videos)
    finished = 0

    def progress(_: str, done: int, n_win: int) -> None:
        if on_progress is not None:
            on_progress(finished + done, total)

    def tracked(videos: Sequence[Any]) -> Iterator[VideoScores]:
        nonlocal finished
        for scored in score_videos(
            model,
            videos,
            clip_length=clip_length,
            errors=errs,
            runtime=runtime,
            batch_size=bs,
            frames_mode=frames_mode,
            on_progress=progress,
            skipped=skipped,
            left_out=left_out,
            maps_error=default_error if maps else None,
        ):
            finished += scored.num_frames - clip_length
            yield scored

    def finalize(record: dict[str, Any]) -> None:
        seconds = time.perf_counter() - start
        record["seconds"] = round(seconds, 3)
        record["windows_per_second"] = round(total / seconds, 2) if seconds > 0 else None
        record["errors"] = {k: v for k, v in record["errors"].items() if k not in left_out}
        record["left_out_errors"] = dict(left_out)
        if default_error in left_out:
            warnings.warn(
                f"score.error '{default_error}' was left out, so the set stores no fused score; "
                f"evaluate it with --error NAME ({', '.join(record['errors']) or 'none left'})",
                stacklevel=2,
            )

    skipped: list[dict[str, Any]] = []
    left_out: dict[str, str] = {}
    meta["skipped"] = skipped
    start = time.perf_counter()
    stream = (
        distributed.score_shards(videos, tracked, skipped, left_out)
        if world.distributed
        else tracked(videos)
    )
    result: dict[str, Any] | None = None
    if world.is_main:
        result = save_score_set(run_dir, set_name, stream, meta, finalize=finalize)
        result["name"] = set_name
    else:
        for _ in stream:  # score this rank's videos and hand them to rank 0
            pass
    shared = distributed.from_main(result)  # every rank returns rank 0's record
    assert shared is not None
    return shared
