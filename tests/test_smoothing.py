"""Temporal smoothing of normalised scores (``--smooth`` / ``score.smooth``), off by default."""

from __future__ import annotations

import math

import numpy as np
import pytest
from test_evaluate import TASKS, make_set, synthetic_videos

from vadkit.components import SCORE_KEY
from vadkit.errors import ConfigError
from vadkit.evaluation.evaluate import evaluate_scores
from vadkit.scoring.core import VideoScores
from vadkit.scoring.fusion import (
    check_smooth,
    fuse,
    get_normalizer,
    normalized_streams,
    smooth_stream,
)
from vadkit.scoring.scoreset import load_scores


def test_impulse_becomes_the_gaussian_kernel():
    x = np.zeros(41)
    x[20] = 1.0
    y = smooth_stream(x, 2.0)
    # scipy truncates at 4 sigma: weights exp(-k^2 / (2 sigma^2)) for |k| <= 8, normalised
    weights = np.array([math.exp(-(k**2) / 8.0) for k in range(-8, 9)])
    weights /= weights.sum()
    assert np.allclose(y[12:29], weights, atol=1e-12)
    assert np.allclose(y[:12], 0) and np.allclose(y[29:], 0)
    assert y.sum() == pytest.approx(1.0)


def test_zero_sigma_and_short_streams_are_untouched():
    x = np.array([3.0, 1.0, 2.0])
    assert smooth_stream(x, 0.0) is x
    one = np.array([5.0])
    assert smooth_stream(one, 3.0) is one


def test_edges_hold_their_value():
    assert np.allclose(smooth_stream(np.full(30, 2.5), 4.0), 2.5)


@pytest.mark.parametrize("bad", [-1.0, float("nan"), float("inf")])
def test_bad_sigma(bad):
    with pytest.raises(ConfigError, match="frames >= 0"):
        check_smooth(bad)


def test_smoothing_streams_equals_smoothing_the_fused_score():
    video = synthetic_videos(seed=3, n_videos=1)[0]
    _, norm = get_normalizer("minmax")
    alphas = {"vcr": 0.1, "ffp": 0.8, "prp": 1.0}
    smoothed = fuse(normalized_streams(video, TASKS, "mse", norm, 5.0), alphas)
    plain = fuse(normalized_streams(video, TASKS, "mse", norm), alphas)
    assert np.allclose(smoothed, smooth_stream(plain, 5.0))
    assert not np.allclose(smoothed, plain)


def test_smoothing_is_recorded_and_helps_a_noisy_stream(tmp_path):
    rng = np.random.default_rng(0)
    videos = []
    for i in range(3):
        labels = np.zeros(120, np.uint8)
        labels[40:80] = 1
        noisy = labels + rng.normal(0, 1.2, 120)  # a weak signal under heavy frame noise
        videos.append(
            VideoScores(
                name=f"{i:02d}",
                num_frames=124,
                frames=np.arange(4, 124),
                labels=labels,
                raw={
                    "vcr": {"mse": noisy, "psnr": -noisy},
                    "ffp": {"mse": noisy, "psnr": -noisy},
                    "prp": {SCORE_KEY: rng.uniform(0, 1, 120)},
                },
            )
        )
    make_set(tmp_path, videos)
    scores = load_scores(tmp_path)
    plain = evaluate_scores(scores, alphas="0,1,0")
    smooth = evaluate_scores(scores, alphas="0,1,0", smooth=6.0)
    assert plain.protocol.smoothing_sigma == 0.0
    assert smooth.protocol.smoothing_sigma == 6.0
    assert smooth.fused.micro_auroc > plain.fused.micro_auroc + 0.1


def test_run_default_smoothing_comes_from_the_score_set(tmp_path):
    make_set(tmp_path, smooth=4.0)
    scores = load_scores(tmp_path)
    assert evaluate_scores(scores).protocol.smoothing_sigma == 4.0
    assert evaluate_scores(scores, smooth=0.0).protocol.smoothing_sigma == 0.0


def test_cli_smooth_option_and_bad_value(tmp_path, capsys):
    import json

    from vadkit.cli import main

    make_set(tmp_path)
    with pytest.raises(SystemExit) as done:
        main(["evaluate", str(tmp_path), "--smooth", "3", "--no-plots", "--json"])
    assert done.value.code in (0, None)
    assert json.loads(capsys.readouterr().out)["protocol"]["smoothing_sigma"] == 3.0
    with pytest.raises(SystemExit) as bad:
        main(["evaluate", str(tmp_path), "--smooth", "-1", "--no-plots"])
    assert bad.value.code == 2
    err = capsys.readouterr().err
    assert "frames >= 0" in err and "Traceback" not in err


def test_plots_draw_the_smoothed_streams(tmp_path, monkeypatch):
    from matplotlib.axes import Axes

    from vadkit.evaluation.evaluate import evaluate_run

    make_set(tmp_path)
    drawn: list[tuple[str | None, np.ndarray]] = []
    plot = Axes.plot

    def recording_plot(self, *args, **kwargs):
        lines = plot(self, *args, **kwargs)
        drawn.extend((kwargs.get("label"), np.asarray(line.get_ydata())) for line in lines)
        return lines

    monkeypatch.setattr(Axes, "plot", recording_plot)
    evaluate_run(tmp_path, smooth=4.0)
    scores = load_scores(tmp_path)
    _, norm = get_normalizer("minmax")  # the set's defaults (make_set)
    alphas = {"vcr": 0.1, "ffp": 0.8, "prp": 1.0}
    fused = [y for label, y in drawn if label == "A (fused)"]
    ffp = [y for label, y in drawn if label == "A_FFP"]
    assert len(fused) == len(ffp) == len(scores.videos)
    for video, got_fused, got_ffp in zip(scores.videos, fused, ffp, strict=True):
        smoothed = normalized_streams(video, TASKS, "mse", norm, 4.0)
        plain = normalized_streams(video, TASKS, "mse", norm)
        np.testing.assert_allclose(got_ffp, smoothed["ffp"])
        np.testing.assert_allclose(got_fused, fuse(smoothed, alphas))
        assert not np.allclose(got_fused, fuse(plain, alphas))
