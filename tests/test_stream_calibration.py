"""Calibration of a stream without a network: the registered normalizer fitted on the calibration
scores, the fused threshold, the file format (old files too), and the windows it scores."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from vadkit.api import create_normalizer
from vadkit.components import SCORE_KEY
from vadkit.errors import ConfigError, DataError
from vadkit.stream import Calibration, read_calibration, select_windows, write_calibration

rng = np.random.default_rng(7)
SCORES = {
    "vcr": {"bpe": rng.gamma(2.0, 1.0, 200), "mse": rng.normal(5.0, 2.0, 200)},
    "prp": {SCORE_KEY: rng.uniform(0.0, 1.0, 200)},
}
ALPHAS = {"vcr": 0.5, "prp": 2.0}


def robust_by_hand(a: np.ndarray) -> np.ndarray:
    """The rescaling a format-1 calibration computed: (a - median) / (q99 - q1)."""
    q1, median, q99 = np.percentile(a, [1, 50, 99])
    return (a - median) / (q99 - q1)


def minmax_by_hand(a: np.ndarray) -> np.ndarray:
    return (a - a.min()) / (a.max() - a.min())


def test_robust_calibration_equals_the_old_formula() -> None:
    cal = Calibration(scores=SCORES, error="bpe", alphas=ALPHAS, quantile=90, normalizer="robust")
    fused = 0.5 * robust_by_hand(SCORES["vcr"]["bpe"]) + 2.0 * robust_by_hand(
        SCORES["prp"][SCORE_KEY]
    )
    np.testing.assert_allclose(cal.fused("bpe", ALPHAS), fused, rtol=1e-12)
    assert cal.threshold == pytest.approx(np.percentile(fused, 90), rel=1e-12)
    # live scores: transformed with the statistics of the calibration scores
    a = SCORES["vcr"]["mse"]
    q1, median, q99 = np.percentile(a, [1, 50, 99])
    live = np.array([median, median + (q99 - q1), -3.0])
    np.testing.assert_allclose(
        cal.fitted("vcr", "mse").transform(live), (live - median) / (q99 - q1), rtol=1e-12
    )
    assert cal.fitted("vcr", "mse").transform(live)[:2] == pytest.approx([0.0, 1.0])


def test_another_normalizer_is_refitted_from_the_stored_scores() -> None:
    cal = Calibration(scores=SCORES, error="bpe", alphas=ALPHAS, normalizer="minmax")
    fused = 0.5 * minmax_by_hand(SCORES["vcr"]["bpe"]) + 2.0 * minmax_by_hand(
        SCORES["prp"][SCORE_KEY]
    )
    assert cal.threshold == pytest.approx(np.percentile(fused, 99.5), rel=1e-12)
    # the same scores under robust, without a new calibration
    robust = 0.5 * robust_by_hand(SCORES["vcr"]["bpe"]) + 2.0 * robust_by_hand(
        SCORES["prp"][SCORE_KEY]
    )
    assert cal.threshold_for("bpe", ALPHAS, 50, normalizer="robust") == pytest.approx(
        np.median(robust), rel=1e-12
    )
    assert cal.fitted("vcr", "bpe") is cal.fitted("vcr", "bpe", "minmax")  # fitted once
    assert cal.fitted("vcr", "bpe", "robust") is not cal.fitted("vcr", "bpe")


def test_uncalibrated_task_or_error_is_a_config_error() -> None:
    cal = Calibration(scores=SCORES, error="bpe", alphas=ALPHAS, normalizer="robust")
    with pytest.raises(ConfigError, match="no scores of task 'ffp'"):
        cal.fitted("ffp", "bpe")
    with pytest.raises(ConfigError, match="no 'psnr' scores of task 'vcr'"):
        cal.fitted("vcr", "psnr")
    with pytest.raises(DataError, match="empty or not finite"):
        Calibration(
            scores={"vcr": {"bpe": [1.0, np.nan]}},
            error="bpe",
            alphas={"vcr": 1.0},
            normalizer="robust",
        )
    with pytest.raises(ConfigError, match="needs the name of the normalizer"):
        Calibration(scores=SCORES, error="bpe", alphas=ALPHAS)


def test_file_round_trip_keeps_the_normalizer(tmp_path: Path) -> None:
    cal = Calibration(
        scores=SCORES, error="mse", alphas=ALPHAS, quantile=95, normalizer="minmax", meta={"x": 1}
    )
    write_calibration(tmp_path, cal)
    data = json.loads((tmp_path / "calibration.json").read_text())
    assert data["format"] == 2 and data["normalizer"] == "minmax" and "stats" not in data
    assert data["threshold"]["value"] == pytest.approx(cal.threshold)
    back = read_calibration(tmp_path)
    assert back is not None
    assert (back.normalizer, back.error, back.quantile, back.meta) == (
        "minmax",
        "mse",
        95,
        {"x": 1},
    )
    assert back.threshold == pytest.approx(cal.threshold, rel=1e-12)


def test_the_normalizer_params_are_fitted_stored_and_read_back(tmp_path: Path) -> None:
    """A calibration made with ``score.normalizer_params``: its normalizers (its own and any
    other it refits) are built with them, the file keeps them, and a file written before they
    were recorded reads as the defaults."""
    params = {"robust": {"quantile_range": [25.0, 75.0]}}
    cal = Calibration(
        scores=SCORES, error="bpe", alphas=ALPHAS, normalizer="robust", normalizer_params=params
    )
    iqr = {
        t: create_normalizer("robust", quantile_range=(25, 75)).fit(SCORES[t][k])
        for t, k in (("vcr", "bpe"), ("prp", SCORE_KEY))
    }
    fused = 0.5 * iqr["vcr"].transform(SCORES["vcr"]["bpe"])
    fused += 2.0 * iqr["prp"].transform(SCORES["prp"][SCORE_KEY])
    assert cal.threshold == pytest.approx(np.percentile(fused, 99.5), rel=1e-12)
    paper = Calibration(scores=SCORES, error="bpe", alphas=ALPHAS, normalizer="robust")
    assert paper.threshold != pytest.approx(cal.threshold)
    other = Calibration(
        scores=SCORES, error="bpe", alphas=ALPHAS, normalizer="minmax", normalizer_params=params
    )
    assert other.threshold_for("bpe", ALPHAS, normalizer="robust") == pytest.approx(cal.threshold)
    write_calibration(tmp_path, cal)
    data = json.loads((tmp_path / "calibration.json").read_text())
    assert data["normalizer_params"] == params
    back = read_calibration(tmp_path)
    assert back is not None and back.normalizer_params == params
    assert back.threshold == pytest.approx(cal.threshold, rel=1e-12)
    del data["normalizer_params"]  # a file of an earlier vadkit: the defaults
    (tmp_path / "calibration.json").write_text(json.dumps(data))
    older = read_calibration(tmp_path)
    assert older is not None and older.threshold == pytest.approx(paper.threshold, rel=1e-12)


def _format_1(scores: dict, threshold: float) -> dict:
    """A calibration as vadkit wrote it before normalizers could be chosen."""
    stats = {}
    for task, keys in scores.items():
        stats[task] = {}
        for key, values in keys.items():
            q1, median, q99 = np.percentile(values, [1, 50, 99])
            stats[task][key] = {"median": median, "q1": q1, "q99": q99}
    return {
        "format": 1,
        "created": "2025-05-01T10:00:00+00:00",
        "weights": {"file": "last.safetensors", "sha256": "ab" * 32},
        "normalization": "(a - median) / (q99 - q1), statistics of the calibration windows",
        "stats": stats,
        "threshold": {"error": "bpe", "alphas": ALPHAS, "quantile": 99.5, "value": threshold},
        "scores": {t: {k: v.tolist() for k, v in keys.items()} for t, keys in scores.items()},
    }


def test_a_format_1_file_is_refused_so_that_watch_recalibrates(tmp_path: Path) -> None:
    (tmp_path / "calibration.json").write_text(json.dumps(_format_1(SCORES, 0.0)))
    with pytest.raises(DataError, match=r"vadkit 0\.1 \(format 1\)") as exc:
        read_calibration(tmp_path)
    assert "--calibrate" in (exc.value.hint or "")


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"format": 3}, "is not a vadkit calibration (format 2)"),
        ({"format": 2}, "is malformed (KeyError: 'normalizer')"),
        ({"format": 2, "normalizer": 7}, "is malformed (TypeError: normalizer 7 is not a name)"),
    ],
)
def test_bad_files_are_data_errors(tmp_path: Path, change: dict, message: str) -> None:
    data = _format_1(SCORES, 0.0) | change
    (tmp_path / "calibration.json").write_text(json.dumps(data))
    with pytest.raises(DataError, match="Recalibrate") as info:
        read_calibration(tmp_path)
    assert message in str(info.value)


def test_select_windows_spreads_evenly() -> None:
    # videos of 10 and 12 frames, T=8: 2 + 4 windows; 3 of them at positions 0, 2 (2.5), 5
    assert select_windows([10, 12], 8, 3) == [(0, 0), (1, 0), (1, 3)]
    assert select_windows([10, 12], 8, 100) == [(0, 0), (0, 1), (1, 0), (1, 1), (1, 2), (1, 3)]
    assert select_windows([5, 8], 8, 3) == []
