"""The Python API of a run: train it, score it, evaluate it, load it for in-memory scoring.

::

    import vadkit

    run = vadkit.train(data=None, out="runs/x", epochs=2)  # None: the synthetic scene
    scores = run.score()                    # a ScoreSet: per video, per task, per error measure
    result = run.evaluate(alphas="ped2")    # an Evaluation: micro/macro AUROC, EER, AP, protocol
    detector = vadkit.load("runs/x")        # in memory, no run folder written
    frame_scores = detector.score_frames(frames_uint8)

The command line is a thin layer over the same engine calls, so both accept and refuse the same
things with the same messages.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from vadkit.errors import DataError

if TYPE_CHECKING:
    from vadkit.components import ErrorMeasure
    from vadkit.compute.device import Runtime
    from vadkit.config import Settings
    from vadkit.evaluation.result import Evaluation
    from vadkit.inference.maps import FrameMaps
    from vadkit.model import VADModel
    from vadkit.scoring.core import VideoScores
    from vadkit.scoring.scoreset import ScoreSet
    from vadkit.training.callbacks import Callback


def train(
    data: str | Path | None = None,
    out: str | Path | None = None,
    *,
    recipe: str | None = None,
    config: str | Path | None = None,
    epochs: int | None = None,
    settings: Mapping[str, Any] | None = None,
    overrides: Iterable[str] = (),
    resume: str | Path | None = None,
    callbacks: Sequence[Callback] = (),
    verbose: bool = False,
) -> Run:
    """Train a model and return its :class:`Run`.

    Args:
        data: a dataset folder; None trains on vadkit's synthetic scene.
        out: the run folder to create (default ``runs/<time>``).
        recipe: the recipe to start from (default: the one made for the data,
            ``vadkit list recipes``).
        config: a TOML config file applied over the recipe.
        epochs: ``train.epochs``.
        settings: dotted keys to values, e.g. ``{"train.lr": 1e-3, "data.size": [64, 64]}``.
        overrides: ``"key=value"`` items as ``--set`` takes them.
        resume: a run folder to continue (only ``epochs`` may change).
        callbacks: :class:`vadkit.training.callbacks.Callback` objects (progress, logging).
        verbose: show the data layer's progress while it decodes videos the first time.
    """
    from vadkit.training.launch import default_run_dir, resolve_train_config
    from vadkit.training.trainer import Trainer

    flags: dict[str, Any] = dict(settings or {})
    flags.update({"recipe": recipe, "data.root": None if data is None else str(data)})
    flags["train.epochs"] = epochs
    run_dir, resolved = resolve_train_config(
        resume=resume,
        out=out,
        config_file=config,
        overrides=overrides,
        flags=flags,
        default_out=default_run_dir,
    )
    Trainer(
        resolved,
        run_dir,
        resume=resume is not None,
        callbacks=callbacks,
        handle_signals=False,
        verbose=verbose,
    ).fit()
    return Run(run_dir)


class Run:
    """A trained run folder: its settings, and the verbs that score and evaluate it."""

    def __init__(self, path: str | Path) -> None:
        from vadkit.runs.folder import read_config

        self.path = Path(path)
        self.config = read_config(self.path)  # a ConfigError when it is not a run

    def __repr__(self) -> str:
        return f"Run({str(self.path)!r})"

    @property
    def settings(self) -> Settings:
        """The run's resolved settings, typed."""
        from vadkit.config import Settings

        return Settings.from_config(self.config)

    def score(
        self,
        data: str | Path | None = None,
        *,
        videos: Sequence[str | Path] = (),
        name: str | None = None,
        checkpoint: str = "last",
        average_last: int | None = None,
        frames: str | None = None,
        errors: Sequence[str] | None = None,
        device: str = "auto",
        precision: str | None = None,
        batch_size: int | None = None,
        labels: str | Path | None = None,
        on_progress: Callable[[int, int], None] | None = None,
        maps: bool = False,
        weights: str | None = None,
    ) -> ScoreSet:
        """Score the run's test videos (or ``data``'s, or video files) and return the set.

        The arguments are those of ``vadkit score`` (:func:`vadkit.inference.score.score_run`).
        Scoring reads no test label: the set records where the ground truth is, and
        :meth:`evaluate` reads it.
        """
        from vadkit.inference.score import score_run
        from vadkit.scoring.scoreset import load_scores

        record = score_run(
            self.path,
            data=data,
            video_files=videos,
            name=name,
            frames=frames,
            batch_size=batch_size,
            precision=precision,
            device=device,
            checkpoint=checkpoint,
            labels=labels,
            errors=errors,
            on_progress=on_progress,
            average_last=average_last,
            maps=maps,
            weights=weights,
        )
        return load_scores(self.path, str(record.name))

    def maps(
        self,
        video: str,
        frames: tuple[int, int] | None = None,
        *,
        checkpoint: str | Path | None = None,
        device: str = "auto",
        weights: str | None = None,
    ) -> FrameMaps:
        """The anomaly maps of frames ``[A, B)`` of a test video (every scored frame by default),
        as ``vadkit maps`` draws them (:func:`vadkit.inference.framemaps.frame_maps`), with the weights
        ``vadkit score`` scores."""
        from vadkit.inference.framemaps import frame_maps

        ckpt = None if checkpoint is None else str(checkpoint)
        return frame_maps(self.path, video, frames, checkpoint=ckpt, device=device, weights=weights)

    def scores(self, name: str = "testing") -> ScoreSet:
        """A score set written earlier by :meth:`score` (or ``vadkit score``)."""
        from vadkit.scoring.scoreset import load_scores

        return load_scores(self.path, name)

    def evaluate(
        self,
        name: str = "testing",
        *,
        error: str | None = None,
        normalizer: str | None = None,
        alphas: str | Mapping[str, float] | Sequence[float] | None = None,
        smooth: float | None = None,
        data: str | Path | None = None,
        labels: str | Path | None = None,
        plots: bool = True,
    ) -> Evaluation:
        """Frame-level metrics of a score set, as ``vadkit evaluate`` (written to the run).

        Returns an :class:`~vadkit.evaluation.result.Evaluation`: ``results[task or
        "fused"]`` (``micro_auroc``, ``macro_auroc``, ``eer``, ``average_precision``, ...),
        ``protocol``, ``per_video``, ``pixel``; ``to_json()`` is the ``evaluation.json``
        written. (Until vadkit 0.3.0 ``result["results"]`` still reads that JSON, with a
        DeprecationWarning.)
        """
        from vadkit.evaluation.evaluate import evaluate_run

        return evaluate_run(
            self.path,
            name=name,
            error=error,
            normalizer=normalizer,
            alphas=alphas,
            smooth=smooth,
            data=data,
            labels=labels,
            plots=plots,
        )

    def load(
        self,
        checkpoint: str = "last",
        *,
        weights: str | None = None,
        device: str = "auto",
        precision: str | None = None,
    ) -> Detector:
        """The trained model in memory, ready to score frames (see :class:`Detector`), with the
        weights ``vadkit score`` scores (see :func:`load`)."""
        return load(
            self.path, checkpoint=checkpoint, weights=weights, device=device, precision=precision
        )


@dataclass
class _Frames:
    """Frames held in memory, with what scoring needs of a video."""

    name: str
    array: np.ndarray  # (N, H, W, C) uint8 at the run's size and colour
    labels: np.ndarray | None = None

    @property
    def num_frames(self) -> int:
        return int(self.array.shape[0])

    def frames(self, indices: np.ndarray) -> np.ndarray:
        return self.array[np.asarray(indices)]


class Detector:
    """A trained model in memory: scores frame arrays with no run folder written.

    Scores are those of ``vadkit score`` on the same frames (the same windows, the same one
    scoring function, :meth:`vadkit.model.VADModel.window_scores`, through
    :class:`~vadkit.inference.scorer.ModelScorer`), per task and error measure,
    similarities negated. Build it with :func:`vadkit.load`.
    """

    def __init__(
        self,
        model: VADModel,
        settings: Settings,
        runtime: Runtime,
        weights: Mapping[str, Any] | None = None,
    ) -> None:
        self.model = model
        self.settings = settings
        self.runtime = runtime
        #: The record of the weights loaded (mode, checkpoint, sha256), as a score set keeps it.
        self.weights: dict[str, Any] = dict(weights or {})
        runtime.prepare(model)
        model.eval()
        self._errors: dict[str, ErrorMeasure] | None = None

    @property
    def errors(self) -> dict[str, ErrorMeasure]:
        """Every registered error measure that scores the run's frames."""
        if self._errors is None:
            from vadkit.inference.scorer import applicable_errors

            shape = (self.settings.data.channels, *self.settings.data.hw)
            params = self.settings.score.error_params
            self._errors = applicable_errors(None, shape, self.runtime.device, params=params)
        return self._errors

    def prepare_frames(self, frames: np.ndarray | Sequence[np.ndarray]) -> np.ndarray:
        """Native uint8 frames ``(N, H, W)`` or ``(N, H, W, C)`` -> the run's size and colour."""
        from vadkit.data.sources import preprocess_native

        array = np.asarray(frames)
        if array.dtype != np.uint8 or array.ndim not in (3, 4) or array.shape[0] == 0:
            raise DataError(
                f"Frames must be a non-empty uint8 array (N, H, W) or (N, H, W, C), not "
                f"{array.dtype} {array.shape}.",
                hint="Decode the video to uint8 frames, e.g. with PyAV's to_ndarray().",
            )
        data = self.settings.data
        if array.ndim == 3:
            array = array[..., None]
        if array.shape[1:] == (*data.hw, data.channels):
            return np.ascontiguousarray(array)
        return np.stack([preprocess_native(f, data.hw, data.color) for f in array])

    def score_frames(
        self,
        frames: np.ndarray | Sequence[np.ndarray],
        *,
        name: str = "frames",
        labels: np.ndarray | None = None,
        frames_mode: str | None = None,
        batch_size: int | None = None,
    ) -> VideoScores:
        """Score one video given as uint8 frames (any size: they are resized like the data).

        Returns its :class:`~vadkit.scoring.core.VideoScores`: ``raw[task][key]`` per scored
        frame (``frames`` says which), ``stream(task, error)`` one task's stream.
        """
        from vadkit.inference.scorer import ModelScorer
        from vadkit.scoring.core import score_videos

        video = _Frames(name, self.prepare_frames(frames), labels)
        t = self.settings.data.clip_length
        if video.num_frames < t + 1:
            raise DataError(
                f"{video.num_frames} frames are fewer than the clip_length + 1 = {t + 1} that "
                "one window needs.",
                hint=f"Pass at least {t + 1} frames.",
            )
        (scored,) = score_videos(
            ModelScorer(self.model, self.errors, self.runtime),
            [video],
            batch_size=batch_size or self.settings.score.batch_size,
            frames_mode=frames_mode or self.settings.score.frames,
        )
        return scored

    def maps(
        self,
        frames: np.ndarray | Sequence[np.ndarray],
        *,
        name: str = "frames",
        error: str | None = None,
        normalizer: str | None = None,
    ) -> FrameMaps:
        """The anomaly maps of one video given as uint8 frames (every scored frame), at the
        frames' own size: each error-based task's and the fused one (the run's default error,
        normalizer and weights unless given), as :meth:`Run.maps` gives them."""
        from vadkit.inference.framemaps import maps_of_frames

        native = np.asarray(frames)
        return maps_of_frames(
            self.model,
            self.settings,
            self.runtime,
            self.prepare_frames(native),
            name=name,
            error=error,
            normalizer=normalizer,
            native=native,
        )

    def fused(
        self,
        scores: VideoScores,
        *,
        error: str | None = None,
        normalizer: str | None = None,
        alphas: str | Mapping[str, float] | Sequence[float] | None = None,
    ) -> np.ndarray:
        """The fused score of one video's scores, rescaled per video as ``vadkit evaluate``
        does (defaults: the run's ``score.error``, ``score.normalizer`` and ``score.alphas``)."""
        from vadkit.scoring.fusion import (
            default_alphas,
            fuse,
            get_normalizer,
            normalized_streams,
            resolve_alphas,
        )

        sset = self.settings.score
        tasks = list(self.model.tasks)
        weights = resolve_alphas(
            alphas, tasks, default=default_alphas(sset.alphas, tasks), presets=sset.presets
        )
        _, norm = get_normalizer(normalizer or sset.normalizer, sset.normalizer_params)
        streams = normalized_streams(scores, tasks, error or sset.error, norm, sset.smooth)
        return fuse(streams, weights)


def load(
    run: str | Path,
    *,
    checkpoint: str = "last",
    weights: str | None = None,
    device: str = "auto",
    precision: str | None = None,
) -> Detector:
    """Load a trained run's model for in-memory scoring (``precision`` default: the run's
    ``score.precision``).

    The weights are those ``vadkit score`` scores, resolved by the same function
    (:func:`~vadkit.inference.weights.load_scored_model`): ``weights`` default the run's
    ``score.weights``, i.e. the moving average when the run kept one (``train.ema``) and no
    ``checkpoint`` is named, else ``checkpoint`` (the last one by default); ``"ema"``,
    ``"last"`` or ``"auto"`` (chosen on the held-out validation videos) to pick.
    :attr:`Detector.weights` records which.
    """
    from vadkit.config import Settings
    from vadkit.inference.scorer import scoring_runtime
    from vadkit.inference.weights import load_scored_model
    from vadkit.runs.folder import read_config

    settings = Settings.from_config(read_config(run))
    runtime = scoring_runtime(
        device, precision or settings.score.precision, settings.train.channels_last
    )
    config, model, used = load_scored_model(
        run, weights=weights, checkpoint=checkpoint, prepare=runtime.prepare
    )
    return Detector(model, Settings.from_config(config), runtime, used.to_json())
