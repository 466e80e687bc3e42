"""Frame-level metrics against hand-computed values and scikit-learn."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from vadkit.errors import DataError
from vadkit.metrics import (
    average_precision,
    equal_error_rate,
    frame_metrics,
    macro_auroc,
    micro_auroc,
)


def test_micro_auroc_hand_computed():
    # positives (0.35, 0.8) vs negatives (0.1, 0.4): 3 of 4 pairs ranked right -> 0.75
    assert micro_auroc([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8]) == pytest.approx(0.75)


def test_micro_auroc_ties_count_half():
    # one positive tied with one of two negatives: (1 + 0.5) / 2
    assert micro_auroc([0, 0, 1], [0.2, 0.5, 0.5]) == pytest.approx(0.75)


def test_micro_pools_frames_with_common_thresholds():
    # each video is perfectly separated on its own, but their scales differ:
    # pooled, video b's normal frames (5, 6) outrank video a's anomalous ones (2, 3).
    labels = [np.array([0, 0, 1, 1]), np.array([0, 0, 1, 1])]
    scores = [np.array([0.0, 1.0, 2.0, 3.0]), np.array([5.0, 6.0, 7.0, 8.0])]
    # positives {2,3,7,8} vs negatives {0,1,5,6}:
    # 2 beats 0,1 (2); 3 beats 0,1 (2); 7 beats all 4; 8 beats all 4 -> 12 of 16 pairs
    assert micro_auroc(labels, scores) == pytest.approx(12 / 16)
    macro, n = macro_auroc(labels, scores)
    assert macro == pytest.approx(1.0) and n == 2


def test_macro_skips_single_class_videos():
    labels = [np.array([0, 1, 1]), np.array([1, 1]), np.array([0, 0])]
    scores = [np.array([0.9, 0.1, 0.5]), np.array([0.3, 0.2]), np.array([0.1, 0.2])]
    macro, n = macro_auroc(labels, scores)
    assert n == 1
    assert macro == pytest.approx(0.0)  # the one usable video is ranked backwards
    assert macro_auroc([np.array([1, 1])], [np.array([0.1, 0.2])]) == (None, 0)


def test_eer_hand_computed():
    # threshold 0.4: FPR = 1/2 (0.4 flagged), FNR = 1/2 (0.35 missed)
    assert equal_error_rate([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8]) == pytest.approx(0.5)
    # perfect separation -> 0
    assert equal_error_rate([0, 0, 1, 1], [0.1, 0.2, 0.3, 0.4]) == pytest.approx(0.0)
    # fully inverted -> 1
    assert equal_error_rate([1, 1, 0, 0], [0.1, 0.2, 0.3, 0.4]) == pytest.approx(1.0)


def test_eer_interpolates_between_operating_points():
    # negatives 0,1,2,3 ; positives 1.5, 4, 5: at thr 1.5 FPR=2/4, FNR=0; at thr 4 FPR=0, FNR=1/3
    # curve points (FPR, FNR): (0, 2/3)@5 -> (0, 1/3)@4 -> (1/4, 1/3)@3 -> (2/4, 1/3)@2
    # FNR - FPR: 1/12 at threshold 3, -1/6 at threshold 2: t = (1/12) / (1/12 + 1/6) = 1/3
    # EER = 1/4 + 1/3 * 1/4 = 1/3
    labels = [0, 0, 0, 0, 1, 1, 1]
    scores = [0.0, 1.0, 2.0, 3.0, 1.5, 4.0, 5.0]
    assert equal_error_rate(labels, scores) == pytest.approx(1 / 3)


def test_average_precision_hand_computed():
    # ranking: 0.8(+) 0.4(-) 0.35(+) 0.1(-): AP = 1/2 * (1/1) + 1/2 * (2/3)
    assert average_precision([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8]) == pytest.approx(0.5 + 1 / 3)


def test_frame_metrics_matches_sklearn_on_random_data():
    rng = np.random.default_rng(0)
    labels = [rng.integers(0, 2, n) for n in (30, 40, 25)]
    scores = [lab * 0.5 + rng.normal(size=lab.size) for lab in labels]
    m = frame_metrics(labels, scores)
    y, s = np.concatenate(labels), np.concatenate(scores)
    assert m.micro_auroc == pytest.approx(roc_auc_score(y, s))
    assert m.macro_auroc == pytest.approx(
        np.mean([roc_auc_score(a, b) for a, b in zip(labels, scores, strict=True)])
    )
    assert m.macro_videos == 3
    assert m.frames == 95 and m.anomalous_frames == int(y.sum())
    assert 0.0 <= m.eer <= 1.0
    assert set(m.as_dict()) >= {"micro_auroc", "macro_auroc", "eer", "average_precision"}


@pytest.mark.parametrize(
    ("labels", "scores", "match"),
    [
        ([0, 0, 0], [0.1, 0.2, 0.3], "only normal"),
        ([], [], "no frames"),
        ([0, 1], [0.1], "2 labels but 1 scores"),
        ([0, 1], [0.1, np.nan], "NaN"),
        ([0, 2], [0.1, 0.2], "0 \\(normal\\) or 1"),
    ],
)
def test_bad_input_raises_data_error(labels, scores, match):
    with pytest.raises(DataError, match=match):
        micro_auroc(labels, scores)


def test_video_count_mismatch():
    with pytest.raises(DataError, match="2 label arrays but 1 score"):
        micro_auroc([np.array([0, 1]), np.array([0, 1])], [np.array([0.1, 0.2])])
