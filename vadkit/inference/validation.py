"""Choices made without test labels: a validation split of the normal training videos, the
weights a run scores, and the precision it scores in.

* :func:`vadkit.data.split.validation_split`: ``data.val_videos`` training videos, drawn from
  ``train.seed``, are held out of training (the Trainer never sees them). They hold only normal
  frames, like all training videos, so nothing about anomalies is learned from them either.
* :func:`choose_weights` (``vadkit score --weights auto``): each candidate -- the last
  checkpoint, the weights' moving average (``ema``) when the run kept one, and the average of
  the last ``score.average_last`` epoch checkpoints when there are that many -- is run on the
  held-out windows, and the one with the lowest mean *weighted proxy loss* (the training
  objective, eq. 7, in eval mode with the training views drawn from a fixed seed) is scored;
  with ``score.weights_criterion = "pseudo"`` (``--criterion pseudo``), the one with the highest
  fused *pseudo-AUROC* on the held-out videos with pseudo-anomalies (:mod:`vadkit.validation`).
* :func:`choose_precision` (``score.precision = "auto"``): a faster precision is used only when
  its per-window scores rank the same windows as fp32's: Spearman's rank correlation, per task
  (the default error measure for tasks that compare frames), on up to
  ``score.agreement_windows`` training windows spread evenly over the training videos, at least
  ``score.agreement_min`` for every task.

Both criteria were fixed before looking at any result and read no label: the choice recorded
in the score set names the criterion, the candidates' values and what it chose.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np
import torch

from vadkit.config import Config, Settings
from vadkit.data.split import training_videos
from vadkit.errors import CheckpointError, ConfigError, DataError
from vadkit.scoring.core import picked_scores, select_windows

if TYPE_CHECKING:
    from vadkit.components import Batch
    from vadkit.data import TrainWindows
    from vadkit.inference.scorer import ModelScorer
    from vadkit.model import VADModel

#: Criterion names recorded in score sets.
WEIGHTS_CRITERION = "lowest weighted proxy loss on held-out normal training videos"
PRECISION_CRITERION = "Spearman rank agreement of per-window scores with fp32 on training windows"


def _batches(windows: TrainWindows, batch_size: int) -> Iterable[Batch]:
    from vadkit.data import TrainLoader

    return TrainLoader(windows, batch_size=batch_size, epoch=0)


def validation_loss(
    model: VADModel, windows: TrainWindows, weights: Mapping[str, float], batch_size: int
) -> dict[str, float]:
    """Mean losses over ``windows`` in eval mode: ``"loss"`` (weighted total) and per task."""
    model.eval()
    sums: dict[str, float] = {}
    count = 0
    with torch.no_grad():
        for batch in _batches(windows, batch_size):
            losses = model.training_losses(batch)
            total = sum(float(weights[n]) * float(v) for n, v in losses.items())
            for key, value in [("loss", total), *((n, float(v)) for n, v in losses.items())]:
                sums[key] = sums.get(key, 0.0) + value * batch.size
            count += batch.size
    if count == 0:
        raise DataError(
            "The held-out validation videos have no window to compute a loss on.",
            hint="Hold out longer videos, or more of them (data.val_videos).",
        )
    return {k: v / count for k, v in sums.items()}


def require_validation_videos(settings: Settings) -> None:
    """A ConfigError when the run held out no training video to choose its weights on."""
    if settings.data.val_videos < 1:
        raise ConfigError(
            "--weights auto chooses on held-out training videos, but this run held out none "
            "(data.val_videos = 0).",
            hint="Train with --set data.val_videos=N (N >= 1), or score --weights last or ema.",
        )


def choose_weights(
    run_dir: str | Path,
    config: Config,
    model: VADModel,
    *,
    batch_size: int,
    criterion: str | None = None,
) -> dict[str, Any]:
    """Load into ``model`` the candidate weights the criterion prefers; returns the record of
    the choice (criterion, held-out videos, each candidate's measures, chosen). ``criterion``
    (default ``score.weights_criterion``): ``"loss"``, the lowest validation loss; ``"pseudo"``,
    the highest fused pseudo-AUROC (:func:`weights_judge`)."""
    from vadkit.inference.average import averaged_model, epoch_checkpoints
    from vadkit.runs.checkpoints import EMA, LAST
    from vadkit.runs.folder import RunFolder

    settings = Settings.from_config(config)
    require_validation_videos(settings)
    trained, held = training_videos(config)
    judge = weights_judge(criterion, config, model, (trained, held), batch_size)
    run = RunFolder(run_dir, config)
    candidates: dict[str, dict[str, Any]] = {}
    for name in (LAST, EMA):
        if run.has_checkpoint(name):
            run.load_weights(model, name)
            candidates[name] = judge.measure(model)
    k = settings.score.average_last
    try:
        epoch_checkpoints(run_dir, k)
    except CheckpointError:
        pass
    else:
        made = averaged_model(run_dir, config, model, k, batch_size=batch_size)
        name = f"average_last_{k}"
        candidates[name] = {**judge.measure(model), "averaged": made["averaged"]}
    chosen = judge.best(candidates)
    record: dict[str, Any] = {**judge.describe(), "candidates": candidates, "chosen": chosen}
    if chosen.startswith("average_last_"):
        made = averaged_model(run_dir, config, model, k, batch_size=batch_size)
        record.update(checkpoint=f"average of the last {k} epoch checkpoints", **made)
    else:
        run.load_weights(model, chosen)
        record["checkpoint"] = chosen
    return record


# -- what --weights auto chooses by (score.weights_criterion) --------------------------------------
class WeightsJudge(Protocol):
    """A criterion of :func:`choose_weights`: each candidate's measure, the best of them, and
    what the record says of the criterion."""

    def measure(self, model: VADModel) -> dict[str, Any]: ...

    def best(self, candidates: Mapping[str, Mapping[str, Any]]) -> str: ...

    def describe(self) -> dict[str, Any]: ...


class LossJudge:
    """The lowest mean weighted proxy loss on the held-out windows (``criterion = "loss"``)."""

    def __init__(
        self, settings: Settings, model: VADModel, held: Sequence[Any], batch_size: int
    ) -> None:
        from vadkit.data import TrainWindows

        self.held = list(held)
        self.weights = settings.tasks.weights
        self.batch_size = batch_size
        self.windows = TrainWindows(
            self.held,
            clip_length=settings.data.clip_length,
            stride=settings.data.stride,
            tasks=model.task_map,
            seed=settings.train.seed,
        )

    def measure(self, model: VADModel) -> dict[str, Any]:
        return {"losses": validation_loss(model, self.windows, self.weights, self.batch_size)}

    def best(self, candidates: Mapping[str, Mapping[str, Any]]) -> str:
        return min(candidates, key=lambda n: candidates[n]["losses"]["loss"])

    def describe(self) -> dict[str, Any]:
        return {
            "criterion": WEIGHTS_CRITERION,
            "held_out": [getattr(v, "name", str(v)) for v in self.held],
            "windows": len(self.windows),
        }


def weights_judge(
    criterion: str | None,
    config: Config,
    model: VADModel,
    videos: tuple[Sequence[Any], Sequence[Any]],
    batch_size: int,
) -> WeightsJudge:
    """The judge of ``criterion`` (default ``score.weights_criterion``): ``"loss"``
    (:class:`LossJudge`) or ``"pseudo"`` (:class:`vadkit.validation.validator.PseudoJudge`);
    ``videos`` are the run's ``(trained, held out)`` training videos."""
    from vadkit.config.settings import WEIGHT_CRITERIA

    settings = Settings.from_config(config)
    name = settings.score.weights_criterion if criterion is None else str(criterion)
    if name == "pseudo":
        from vadkit.validation.validator import PseudoJudge

        return PseudoJudge(config, *videos, batch_size)
    if name != "loss":
        raise ConfigError(
            f"--criterion {name!r} is not one of {', '.join(WEIGHT_CRITERIA)}.",
            hint="'loss': the lowest validation loss; 'pseudo': the highest pseudo-AUROC "
            "(vadkit validate).",
        )
    return LossJudge(settings, model, videos[1], batch_size)


def rank_agreement(
    reference: Mapping[str, np.ndarray], candidate: Mapping[str, np.ndarray], minimum: float
) -> tuple[bool, dict[str, dict[str, float | None]]]:
    """The rule that lets a faster precision score: ``(kept, agreement)``.

    Per stream (same windows, same order), Spearman's rank correlation of ``candidate``'s scores
    with ``reference``'s (the fp32 ones), and Kendall's (recorded, not used). Kept when every
    stream that varies reaches ``minimum`` and one does (a constant reference ranks nothing: no
    evidence either way, recorded as None; a constant candidate where the reference varies has
    lost every ranking: 0).
    ``score.precision = "auto"`` (:func:`choose_precision`) and ``vadkit export --precision
    int8`` (:mod:`vadkit.export.quantize`) both decide by it.
    """
    from scipy.stats import kendalltau, spearmanr

    agreement: dict[str, dict[str, float | None]] = {}
    for key, ref in reference.items():
        if np.ptp(ref) == 0:
            agreement[key] = {"spearman": None, "kendall": None}
            continue
        if np.ptp(candidate[key]) == 0:
            agreement[key] = {"spearman": 0.0, "kendall": 0.0}
            continue
        agreement[key] = {
            "spearman": float(spearmanr(ref, candidate[key]).statistic),
            "kendall": float(kendalltau(ref, candidate[key]).statistic),
        }
    values = [v for a in agreement.values() if (v := a["spearman"]) is not None]
    return bool(values) and min(values) >= minimum, agreement


def choose_precision(
    candidate: ModelScorer, config: Config, *, root: str | Path | None = None
) -> tuple[ModelScorer, dict[str, Any]]:
    """``candidate`` (a model scoring in a faster precision) if its per-window scores rank
    training windows like fp32's (Spearman at least ``score.agreement_min`` for every task's
    default score, on up to ``score.agreement_windows`` windows spread evenly over the training
    videos), else the same model in fp32 -- also when the training videos (under ``root``,
    default the run's ``data.root``) cannot be opened. Returns the scorer and the record."""
    from vadkit.compute.device import Runtime

    settings = Settings.from_config(config)
    score = settings.score
    rt = candidate.runtime
    fp32 = candidate.variant(
        runtime=Runtime(device=rt.device, precision="fp32", channels_last=rt.channels_last)
    )
    record: dict[str, Any] = {
        "criterion": PRECISION_CRITERION,
        "candidate": rt.precision,
        "min_spearman": score.agreement_min,
    }
    if rt.precision == "fp32":
        return candidate, {**record, "chosen": "fp32", "why": "fp32 is the reference"}
    try:
        trained, _ = training_videos(config, root=root)
    except DataError as exc:
        return fp32, {**record, "chosen": "fp32", "why": f"no training video to compare on: {exc}"}
    picks = select_windows(
        [int(v.num_frames) for v in trained], settings.data.clip_length, score.agreement_windows
    )
    keep = {k: v for k, v in candidate.error_measures.items() if k == score.error}
    scores = [
        picked_scores(s.variant(errors=keep), trained, picks, score.batch_size).streams
        for s in (fp32, candidate)
    ]
    reference, fast = ({str(k): v for k, v in got.items()} for got in scores)
    ok, agreement = rank_agreement(reference, fast, score.agreement_min)
    record.update(windows=len(picks), agreement=agreement, chosen=rt.precision if ok else "fp32")
    return (candidate if ok else fp32), record
