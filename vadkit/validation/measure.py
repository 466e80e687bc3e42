"""The pseudo-AUROC: how well a scorer's scores tell pseudo-anomalies from normal windows (no
torch).

The windows of a :class:`~vadkit.validation.pseudoset.PseudoSet` are scored through the scoring
core (:func:`~vadkit.scoring.core.picked_scores`, the loop calibration and the label-free
precision rule use), for the error measure of the run's protocol. Then, as evaluation does with
test videos, each task's scores are rescaled per held-out video by the run's normalizer, fused
with the run's weights, and the micro AUROC of all windows pooled is taken (per task, fused, and
fused per pseudo-anomaly kind against the windows as they are), with the labels the
pseudo-anomalies gave: no test label is read.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from vadkit.components import ScoreNormalizer
from vadkit.errors import ConfigError, DataError
from vadkit.metrics import micro_auroc
from vadkit.scoring.core import VideoScores, WindowScorer, picked_scores, stream_keys
from vadkit.scoring.fusion import fuse, normalized_streams
from vadkit.validation.pseudoset import CLEAN, PseudoSet

FUSED = "fused"


@dataclass
class PseudoScores:
    """The normalised score streams of a pseudo set, per held-out video.

    ``labels[i]``, ``kinds[i]`` and ``streams[i][task]`` are the windows of held-out video
    ``videos[i]``, in the set's order.
    """

    tasks: list[str]
    videos: list[str]
    labels: list[np.ndarray]
    kinds: list[np.ndarray]
    streams: list[dict[str, np.ndarray]]

    def fused(self, alphas: Mapping[str, float]) -> list[np.ndarray]:
        """Each video's fused scores with the weights ``alphas``."""
        return [fuse(s, alphas) for s in self.streams]

    def matrix(self) -> tuple[np.ndarray, np.ndarray]:
        """The normalised scores of every window ``(windows, tasks)`` and their labels."""
        rows = [np.stack([s[t] for t in self.tasks], axis=1) for s in self.streams]
        return np.concatenate(rows), np.concatenate(self.labels)

    def aurocs(self, alphas: Mapping[str, float]) -> dict[str, Any]:
        """Micro AUROC of each task's normalised scores, of the fused scores, and of the fused
        scores per pseudo-anomaly kind (its windows against the windows as they are)."""
        names = self.videos
        tasks = {t: micro_auroc(self.labels, [s[t] for s in self.streams], names=names)
                 for t in self.tasks}  # fmt: skip
        fused = self.fused(alphas)
        kinds: dict[str, float | None] = {}
        for kind in sorted({str(k) for ks in self.kinds for k in ks} - {CLEAN}):
            keep = [(k == CLEAN) | (k == kind) for k in self.kinds]
            labels = np.concatenate([y[m] for y, m in zip(self.labels, keep, strict=True)])
            scores = np.concatenate([f[m] for f, m in zip(fused, keep, strict=True)])
            kinds[kind] = micro_auroc(labels, scores) if 0 < labels.sum() < labels.size else None
        return {
            "tasks": tasks,
            FUSED: micro_auroc(self.labels, fused, names=names),
            "kinds": kinds,
            "windows": int(sum(y.size for y in self.labels)),
            "anomalous": int(sum(int(y.sum()) for y in self.labels)),
        }


def score_pseudo(
    scorer: WindowScorer,
    pseudo: PseudoSet,
    *,
    error: str,
    normalizer: ScoreNormalizer,
    batch_size: int,
    on_progress: Callable[[int, int], None] | None = None,
) -> PseudoScores:
    """Score every window of ``pseudo`` and rescale each task's scores per held-out video with
    ``normalizer`` (its ``fit_transform``, as evaluation rescales each test video); ``error`` is
    the measure read for the tasks that compare frames."""
    if scorer.clip_length != pseudo.clip_length:
        raise ConfigError(
            f"The pseudo set holds windows of {pseudo.clip_length + 1} frames, but the scorer "
            f"takes {scorer.clip_length + 1}.",
            hint="Make the pseudo set with the run's data.clip_length.",
        )
    keys = stream_keys(scorer, error)
    scored = picked_scores(scorer, [pseudo], pseudo.picks(), batch_size, on_progress=on_progress)
    labels = pseudo.window_labels()
    if labels.sum() == 0:
        raise DataError(
            "No pseudo-anomaly changed the frame its window scores (the last one), so every "
            "validation window counts as normal.",
            hint="Use pseudo-anomalies that modify the end of the window (score.pseudo_kinds; "
            "see `vadkit list pseudo_anomalies`).",
        )
    kinds, sources = pseudo.kinds, pseudo.sources
    out = PseudoScores(tasks=list(scorer.tasks), videos=[], labels=[], kinds=[], streams=[])
    for v, video in enumerate(pseudo.videos):
        rows = np.flatnonzero(sources == v)
        if rows.size == 0:
            continue
        raw = {t: {keys[t]: scored.stream(t, keys[t])[rows]} for t in scorer.tasks}
        scores = VideoScores(name=video.name, num_frames=rows.size, frames=rows, raw=raw)
        out.videos.append(video.name)
        out.labels.append(labels[rows])
        out.kinds.append(kinds[rows])
        out.streams.append(normalized_streams(scores, scorer.tasks, error, normalizer))
    return out
