"""Grid search of the fusion weights, honest about where the labels came from.

The paper chose its weights by grid search on the test set. That is reproduced here (mode
``"test-labels"``), and its result is marked *optimistic*: the weights saw the labels they are
scored against. With ``holdout`` the test videos are split (seeded): the weights are searched on
one part and reported on the other, untouched part, beside the paper's presets on that same part.

With ``on="pseudo"`` (mode ``"pseudo"``) no test label is read: the weights are searched by the
fused pseudo-AUROC of the run's held-out normal training videos with pseudo-anomalies
(:mod:`vadkit.validation`), scored by the weights the score set was scored with, and the choice
is recorded in the score set (its preset ``pseudo``: ``vadkit evaluate RUN --alphas pseudo``).
"""

from __future__ import annotations

import datetime as _dt
import itertools
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from scipy.stats import rankdata

from vadkit.errors import ConfigError, DataError
from vadkit.evaluation.groundtruth import require_labels, with_ground_truth
from vadkit.metrics import micro_auroc
from vadkit.scoring.fusion import check_smooth, normalized_streams, normalizer_record
from vadkit.scoring.scoreset import ScoreSet, load_scores, write_json
from vadkit.storage.lock import locked

SEARCH_FILE = "search.json"
#: What ``vadkit search --on`` searches on: the test labels, or pseudo-anomalies.
SEARCH_ON = ("test", "pseudo")
#: The preset name of the fusion weights chosen by pseudo-AUROC (``--alphas pseudo``).
PSEUDO_PRESET = "pseudo"
OPTIMISTIC = (
    "optimistic: the weights were chosen on the same test labels they are reported on; "
    "use --holdout to search on part of the videos and report on the rest"
)


def auroc_columns(labels: np.ndarray, scores: np.ndarray) -> np.ndarray:
    """AUROC of every column of ``scores`` ``(n, k)`` against ``labels`` ``(n,)`` (ties count 1/2).

    Mann-Whitney: ``(sum of the positives' ranks - P(P+1)/2) / (P N)`` with average ranks.
    """
    y = np.asarray(labels).astype(bool)
    pos, neg = int(y.sum()), int((~y).sum())
    if pos == 0 or neg == 0:
        raise DataError("AUROC needs both normal and anomalous frames.", hint="Check the split.")
    ranks = rankdata(scores, axis=0)
    return (ranks[y].sum(axis=0) - pos * (pos + 1) / 2) / (pos * neg)


def weight_grid(n_tasks: int, step: float = 0.1) -> np.ndarray:
    """All weight vectors with entries in ``{0, step, ..., 1}``, not all zero: ``(k, n_tasks)``."""
    if not 0 < step <= 1:
        raise ConfigError(f"Grid step {step} must be in (0, 1].", hint="E.g. --step 0.1")
    values = np.round(np.arange(0.0, 1.0 + step / 2, step), 10)
    grid = np.array(list(itertools.product(values, repeat=n_tasks)), dtype=np.float64)
    return grid[grid.sum(axis=1) > 0]


def _stack(
    scores: ScoreSet, videos: Sequence[int], error: str, normalizer: Any, smooth: float = 0.0
) -> tuple:
    """Normalised task streams of the chosen videos stacked ``(frames, tasks)``, and labels."""
    labels = require_labels(scores)
    cols, ys = [], []
    for i in videos:
        streams = normalized_streams(scores.videos[i], scores.tasks, error, normalizer, smooth)
        cols.append(np.stack([streams[t] for t in scores.tasks], axis=1))
        ys.append(labels[i])
    return np.concatenate(cols), np.concatenate(ys)


def _search(matrix: np.ndarray, y: np.ndarray, grid: np.ndarray, chunk: int = 256) -> np.ndarray:
    out = np.empty(len(grid))
    for s in range(0, len(grid), chunk):
        out[s : s + chunk] = auroc_columns(y, matrix @ grid[s : s + chunk].T)
    return out


def split_videos(
    scores: ScoreSet, fraction: float, seed: int, attempts: int = 200
) -> tuple[list[int], list[int]]:
    """Indices of (search, report) videos: ``fraction`` of them to search, both with both classes."""
    if not 0 < fraction < 1:
        raise ConfigError(
            f"--holdout {fraction} must be a fraction in (0, 1).",
            hint="E.g. --holdout 0.5: search on half of the videos, report on the other half.",
        )
    labels = require_labels(scores)
    n = len(labels)
    k = round(fraction * n)
    if k < 1 or k > n - 1:
        raise DataError(
            f"Cannot split {n} video(s) into a search part of {fraction:g} and a report part.",
            hint="Use more test videos or another --holdout fraction.",
        )
    rng = np.random.default_rng(seed)
    for _ in range(attempts):
        order = rng.permutation(n)
        first, second = sorted(order[:k].tolist()), sorted(order[k:].tolist())
        if all(
            0 < sum(int(labels[i].sum()) for i in part) < sum(labels[i].size for i in part)
            for part in (first, second)
        ):
            return first, second
    raise DataError(
        f"No split of the {n} test videos into {k} + {n - k} gives both parts normal and "
        "anomalous frames.",
        hint="Use another --holdout fraction or --seed, or search without --holdout.",
    )


def search_weights(
    scores: ScoreSet,
    *,
    error: str | None = None,
    normalizer: str | None = None,
    step: float = 0.1,
    holdout: float | None = None,
    seed: int = 0,
    top: int = 10,
    smooth: float | None = None,
) -> dict[str, Any]:
    """Grid-search the fusion weights by fused micro AUROC; see the module doc for the modes."""
    from vadkit.evaluation.evaluate import check_error_name

    defaults = scores.defaults
    err = check_error_name(scores, error or defaults.error)
    norm_name, norm = scores.normalizer(normalizer)
    sigma = check_smooth(defaults.smooth if smooth is None else smooth)
    tasks = scores.tasks
    grid = weight_grid(len(tasks), step)
    every = list(range(len(scores.videos)))
    if holdout is None:
        search_idx, report_idx = every, every
    else:
        search_idx, report_idx = split_videos(scores, holdout, seed)
    m_search, y_search = _stack(scores, search_idx, err, norm, sigma)
    aucs = _search(m_search, y_search, grid)
    order = np.argsort(-aucs, kind="stable")
    best = grid[order[0]]
    m_report, y_report = _stack(scores, report_idx, err, norm, sigma)

    def as_dict(w: np.ndarray) -> dict[str, float]:
        return {t: float(v) for t, v in zip(tasks, w, strict=True)}

    def report_auc(w: np.ndarray) -> float:
        return micro_auroc(y_report, m_report @ w)

    presets = {}
    for name, weights in defaults.presets.items():
        if all(t in weights for t in tasks):
            presets[name] = report_auc(np.array([weights[t] for t in tasks]))
    names = [scores.videos[i].name for i in search_idx]
    result: dict[str, Any] = {
        "mode": "test-labels" if holdout is None else "holdout",
        "optimistic": holdout is None,
        "note": OPTIMISTIC
        if holdout is None
        else "weights searched on the search videos only; reported on the other videos",
        "score_set": scores.name,
        "error": err,
        "normalizer": norm_name,
        "normalizer_params": normalizer_record(norm_name, defaults.normalizer_params),
        "smoothing_sigma": sigma,
        "tasks": tasks,
        "grid": {"step": step, "values_per_task": len(np.unique(grid)), "size": len(grid)},
        "search_videos": names,
        "report_videos": [scores.videos[i].name for i in report_idx],
        "holdout": holdout,
        "seed": seed if holdout is not None else None,
        "best": {
            "alphas": as_dict(best),
            "search_micro_auroc": float(aucs[order[0]]),
            "report_micro_auroc": report_auc(best),
        },
        "presets_report_micro_auroc": presets,
        "top": [
            {"alphas": as_dict(grid[i]), "search_micro_auroc": float(aucs[i])} for i in order[:top]
        ],
    }
    return result


def search_pseudo(
    run_dir: Path, name: str = "testing", *, step: float = 0.1, top: int = 10
) -> dict[str, Any]:
    """Grid-search the fusion weights by fused pseudo-AUROC (no test label read): the weights
    the score set ``name`` was scored with score the run's pseudo set, each task's scores are
    rescaled per held-out video by the set's normalizer (its error measure's streams), and
    every weight vector of the grid is ranked by the AUROC of their fusion."""
    from vadkit.inference.weights import load_scored_model, recorded_weights
    from vadkit.runs.folder import read_config  # torch: the light install says so first
    from vadkit.validation.validator import PSEUDO_CRITERION, Validator

    scores = load_scores(run_dir, name)
    config = read_config(run_dir)
    validator = Validator(config)
    wanted = scores.meta.weights_sha256
    _, model, used = load_scored_model(run_dir, **recorded_weights(scores.meta.to_json()))
    if wanted and used.sha256 != wanted:
        raise DataError(
            f"Score set '{scores.name}' was scored with weights {str(wanted)[:12]}, which "
            f"the run no longer gives ({used.checkpoint} is {used.sha256[:12]}).",
            hint=f"Score the set again (vadkit score {run_dir} --name {scores.name}), then search.",
        )
    defaults = scores.defaults
    protocol = validator.protocol()
    if (protocol["error"], protocol["normalizer"]) != (defaults.error, defaults.normalizer):
        raise ConfigError(
            f"Score set '{scores.name}' was scored with error {defaults.error!r} and "
            f"normalizer {defaults.normalizer!r}, not the run's {protocol['error']!r} and "
            f"{protocol['normalizer']!r}.",
            hint=f"Score the set again with the run's settings: vadkit score {run_dir} --name "
            f"{scores.name}",
        )
    pseudo = validator.scores(model)
    tasks = scores.tasks
    matrix, labels = pseudo.matrix()
    grid = weight_grid(len(tasks), step)
    aucs = _search(matrix, labels, grid)
    order = np.argsort(-aucs, kind="stable")

    def as_dict(w: np.ndarray) -> dict[str, float]:
        return {t: float(v) for t, v in zip(tasks, w, strict=True)}

    def auroc(weights: dict[str, float]) -> float:
        return float(_search(matrix, labels, np.array([[weights[t] for t in tasks]]))[0])

    best = as_dict(grid[order[0]])
    presets = {
        k: auroc(w) for k, w in defaults.presets.items()
        if k != PSEUDO_PRESET and all(t in w for t in tasks)
    }  # fmt: skip
    choice = {
        "preset": PSEUDO_PRESET,
        "alphas": best,
        "criterion": PSEUDO_CRITERION,
        "pseudo_auroc": float(aucs[order[0]]),
        "weights_sha256": used.sha256,
        "grid_step": step,
        "protocol": protocol,
    }
    return {
        "mode": "pseudo",
        "optimistic": False,
        "note": "weights chosen by fused pseudo-AUROC on the run's held-out normal training "
        "videos with pseudo-anomalies; no test label was read",
        "criterion": PSEUDO_CRITERION,
        "score_set": scores.name,
        "error": defaults.error,
        "normalizer": defaults.normalizer,
        "tasks": tasks,
        "grid": {"step": step, "values_per_task": len(np.unique(grid)), "size": len(grid)},
        "weights": {"checkpoint": used.checkpoint, "mode": used.mode, "sha256": used.sha256},
        "protocol": protocol,
        "windows": int(labels.size),
        "best": {"alphas": best, "pseudo_auroc": float(aucs[order[0]])},
        "default_pseudo_auroc": auroc(defaults.alphas),
        "presets_pseudo_auroc": presets,
        "top": [{"alphas": as_dict(grid[i]), "pseudo_auroc": float(aucs[i])} for i in order[:top]],
        "choice": choice,
    }


@locked("vadkit search")
def search_run(
    run_dir: str | Path,
    *,
    name: str = "testing",
    error: str | None = None,
    normalizer: str | None = None,
    step: float = 0.1,
    holdout: float | None = None,
    seed: int = 0,
    smooth: float | None = None,
    on: str = "test",
) -> dict[str, Any]:
    """Search the weights of a scored run and write ``RUN/search.json``.

    ``on="test"``: it reads the test labels (:func:`~vadkit.evaluation.groundtruth.with_ground_truth`),
    as ``vadkit evaluate`` does: its result measures weights fitted on them and is marked so; it
    changes no setting of the run. ``on="pseudo"``: it reads no label (:func:`search_pseudo`),
    and records its choice in the score set, as the preset ``pseudo``."""
    run_dir = Path(run_dir)
    if on not in SEARCH_ON:
        raise ConfigError(f"--on {on!r} is not one of {', '.join(SEARCH_ON)}.",
                          hint="'test': the test labels (optimistic); 'pseudo': no label.")  # fmt: skip
    if on == "pseudo":
        given = {"--error": error, "--normalizer": normalizer, "--holdout": holdout,
                 "--smooth": smooth}  # fmt: skip
        named = [k for k, v in given.items() if v is not None]
        if named:
            raise ConfigError(
                f"{', '.join(named)} apply to a search on the test labels, not --on pseudo.",
                hint="--on pseudo searches with the score set's error measure and normalizer, "
                "the ones `vadkit evaluate --alphas pseudo` uses by default.",
            )
        result = search_pseudo(run_dir, name, step=step)
        result["created"] = _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds")
        from vadkit.scoring.scoreset import record_alphas_choice

        write_json(run_dir / SEARCH_FILE, result)
        record_alphas_choice(run_dir, name, {**result["choice"], "created": result["created"]})
        return result
    result = search_weights(
        with_ground_truth(load_scores(run_dir, name)),
        error=error,
        normalizer=normalizer,
        step=step,
        holdout=holdout,
        seed=seed,
        smooth=smooth,
    )
    result["created"] = _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds")
    write_json(run_dir / SEARCH_FILE, result)
    return result
