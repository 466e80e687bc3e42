"""Fusion-weight grid search: rank AUROC, the grid, optimistic and held-out modes."""

from __future__ import annotations

import itertools
import json

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score
from test_evaluate import make_set

from vadkit.errors import ConfigError, DataError
from vadkit.evaluation.evaluate import evaluate_scores
from vadkit.evaluation.search import (
    auroc_columns,
    search_run,
    search_weights,
    split_videos,
    weight_grid,
)
from vadkit.scoring.scoreset import ScoreSet, load_scores


def test_auroc_columns_matches_sklearn_with_ties():
    rng = np.random.default_rng(1)
    y = rng.integers(0, 2, 200)
    s = np.round(rng.normal(size=(200, 3)) + y[:, None] * [0.0, 0.5, 2.0], 1)  # many ties
    got = auroc_columns(y, s)
    want = [roc_auc_score(y, s[:, j]) for j in range(3)]
    np.testing.assert_allclose(got, want)


def test_weight_grid():
    g = weight_grid(3, 0.5)
    assert g.shape == (26, 3)  # 3**3 minus the all-zero vector
    assert {tuple(r) for r in g} >= {(0.0, 0.0, 0.5), (1.0, 1.0, 1.0), (0.5, 0.0, 1.0)}
    assert len(weight_grid(2, 0.1)) == 120
    with pytest.raises(ConfigError):
        weight_grid(3, 0)


def test_search_on_test_labels_is_marked_optimistic(tmp_path):
    make_set(tmp_path)
    scores = load_scores(tmp_path)
    res = search_weights(scores, error="mse", step=0.25)
    assert res["optimistic"] and res["mode"] == "test-labels" and "optimistic" in res["note"]
    best = res["best"]
    # ffp carries the anomaly signal; prp is noise: the best weights lean on ffp
    assert best["alphas"]["ffp"] > best["alphas"]["prp"]
    check = evaluate_scores(scores, error="mse", alphas=best["alphas"])
    assert best["search_micro_auroc"] == pytest.approx(check.fused.micro_auroc)
    assert best["search_micro_auroc"] >= res["presets_report_micro_auroc"]["ped2"]

    # the top list is the 10 best of the whole grid, each AUROC computed here independently:
    # per-video min-max of each task's raw stream, weighted sum, sklearn's AUROC
    def minmax(x: np.ndarray) -> np.ndarray:
        return (x - x.min()) / (x.max() - x.min())

    streams = np.stack(
        [np.concatenate([minmax(v.stream(t, "mse")) for v in scores.videos]) for t in scores.tasks]
    )
    labels = np.concatenate([v.labels for v in scores.videos])

    def auroc(alphas: dict[str, float]) -> float:
        return roc_auc_score(labels, np.array([alphas[t] for t in scores.tasks]) @ streams)

    steps = [0.0, 0.25, 0.5, 0.75, 1.0]
    grid = [dict(zip(scores.tasks, w, strict=True)) for w in itertools.product(steps, repeat=3)]
    every = sorted((auroc(w) for w in grid if any(w.values())), reverse=True)
    top = res["top"]
    assert len(top) == 10
    assert [t["search_micro_auroc"] for t in top] == pytest.approx(every[:10])
    for t in top:
        assert t["search_micro_auroc"] == pytest.approx(auroc(t["alphas"]))


def test_holdout_searches_on_some_videos_and_reports_on_the_others(tmp_path):
    from test_evaluate import synthetic_videos

    make_set(tmp_path, synthetic_videos(n_videos=6))
    scores = load_scores(tmp_path)
    res = search_run(tmp_path, error="mse", step=0.5, holdout=0.5, seed=3)
    assert not res["optimistic"] and res["mode"] == "holdout"
    s, r = set(res["search_videos"]), set(res["report_videos"])
    assert len(s) == 3 and len(r) == 3 and not s & r
    again = search_weights(scores, error="mse", step=0.5, holdout=0.5, seed=3)
    assert again["search_videos"] == res["search_videos"]  # seeded
    report = [v for v in scores.videos if v.name in r]
    subset = ScoreSet(scores.name, scores.meta, report)
    expected = evaluate_scores(subset, error="mse", alphas=res["best"]["alphas"])
    assert res["best"]["report_micro_auroc"] == pytest.approx(expected.fused.micro_auroc)
    assert json.loads((tmp_path / "search.json").read_text())["mode"] == "holdout"


def test_bad_holdout(tmp_path):
    make_set(tmp_path)
    scores = load_scores(tmp_path)
    with pytest.raises(ConfigError, match="fraction in \\(0, 1\\)"):
        split_videos(scores, 1.5, 0)
    with pytest.raises(DataError, match="Cannot split 3 video"):
        split_videos(scores, 0.05, 0)
