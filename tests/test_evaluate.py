"""Score sets, normalisation, fusion and evaluation on synthetic score arrays (no network)."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from vadkit.api import create_normalizer
from vadkit.components import SCORE_KEY
from vadkit.errors import ConfigError, DataError
from vadkit.evaluation.evaluate import evaluate_run, evaluate_scores
from vadkit.evaluation.groundtruth import relabel
from vadkit.scoring.core import VideoScores
from vadkit.scoring.fusion import fuse, get_normalizer, resolve_alphas
from vadkit.scoring.record import DataSource, ErrorRecord, ScoreSetRecord, ScoringDefaults
from vadkit.scoring.scoreset import load_scores, save_score_set

TASKS = ["vcr", "ffp", "prp"]


def synthetic_videos(seed: int = 0, n_videos: int = 3, n: int = 40) -> list[VideoScores]:
    """Videos whose anomalies (a block in the middle) raise ffp strongly, vcr weakly, prp not."""
    rng = np.random.default_rng(seed)
    videos = []
    for i in range(n_videos):
        labels = np.zeros(n, np.uint8)
        labels[n // 3 : n // 3 + n // 4] = 1
        scale = 1.0 + i  # per-video scale differences: what per-video normalisation removes
        raw = {
            "vcr": {
                "mse": scale * (1 + 0.3 * labels + rng.normal(0, 0.3, n)),
                "psnr": -scale * (30 - 2 * labels + rng.normal(0, 1, n)),
            },
            "ffp": {
                "mse": scale * (1 + 1.0 * labels + rng.normal(0, 0.2, n)),
                "psnr": -scale * (30 - 5 * labels + rng.normal(0, 1, n)),
            },
            "prp": {SCORE_KEY: rng.uniform(0, 1, n)},
        }
        videos.append(
            VideoScores(
                name=f"{i + 1:02d}",
                num_frames=n + 4,
                frames=np.arange(4, n + 4),
                labels=labels,
                raw=raw,
            )
        )
    return videos


def hand_record(weights: dict | None = None, **defaults) -> ScoreSetRecord:
    """The scoring part of a hand-made set: the synthetic videos' tasks and measures, the
    paper's Ped2 weights as the defaults (``defaults`` overrides its fields)."""
    settings = {
        "error": "mse",
        "normalizer": "minmax",
        "alphas": {"vcr": 0.1, "ffp": 0.8, "prp": 1.0},
        "presets": {
            "ped2": {"vcr": 0.1, "ffp": 0.8, "prp": 1.0},
            "avenue": {"vcr": 0.1, "ffp": 1.0, "prp": 0.1},
        },
        "smooth": 0.0,
        **defaults,
    }
    return ScoreSetRecord(
        tasks=tuple(TASKS),
        defaults=ScoringDefaults(**settings),
        source=DataSource(kind="dataset", ground_truth="synthetic.npy"),
        frames_mode="protocol",
        clip_length=4,
        error_tasks=("vcr", "ffp"),
        errors={"mse": ErrorRecord(), "psnr": ErrorRecord()},
        total_frames=132,
        weights=weights,
    )


def make_set(run, videos=None, **defaults) -> ScoreSetRecord:
    return save_score_set(run, "testing", videos or synthetic_videos(), hand_record(**defaults))


# -- fusion weights ----------------------------------------------------------------------------
def test_presets_are_the_papers_and_come_from_the_recipe():
    from vadkit.config import resolve_config

    presets = resolve_config(flags={"recipe": "luss-ae"})["score"]["presets"]
    assert set(presets) == {"ped2", "avenue", "shanghaitech"}
    assert resolve_alphas("ped2", TASKS, presets=presets) == {"vcr": 0.1, "ffp": 0.8, "prp": 1.0}
    assert resolve_alphas("Avenue", TASKS, presets=presets) == {"vcr": 0.1, "ffp": 1.0, "prp": 0.1}
    assert resolve_alphas("shanghaitech", TASKS, presets=presets) == {
        "vcr": 0.2,
        "ffp": 0.2,
        "prp": 0.9,
    }
    assert resolve_alphas("ped2", ["ffp", "vcr"], presets=presets) == {"ffp": 0.8, "vcr": 0.1}
    with pytest.raises(ConfigError, match="no weight for task\\(s\\) denoise"):
        resolve_alphas("ped2", ["vcr", "denoise"], presets=presets)
    with pytest.raises(ConfigError, match="names no preset"):
        resolve_alphas("ped2", TASKS)  # a run whose recipe has no presets


def test_explicit_weights():
    assert resolve_alphas("0.5,0.25,1", TASKS) == {"vcr": 0.5, "ffp": 0.25, "prp": 1.0}
    assert resolve_alphas("prp=1, vcr=0 ,ffp=2", TASKS) == {"vcr": 0.0, "ffp": 2.0, "prp": 1.0}
    assert resolve_alphas([1, 2], ["ffp", "vcr"]) == {"ffp": 1.0, "vcr": 2.0}
    assert resolve_alphas(None, ["vcr"], default={"vcr": 3}) == {"vcr": 3.0}


@pytest.mark.parametrize(
    ("spec", "tasks", "match"),
    [
        ("0.1,0.8", TASKS, "2 fusion weight"),
        ("vcr=1,ffp=1", TASKS, "no weight for task"),
        ("vcr=1,ffp=1,prp=1,xyz=2", TASKS, "does not have: xyz"),
        ("0,0,0", TASKS, "All fusion weights are zero"),
        ("vcr=1,0.5,1", TASKS, "Cannot read"),
        ("a,b,c", TASKS, "not a number"),
        ("nan,1,1", TASKS, "finite"),
    ],
)
def test_bad_weights(spec, tasks, match):
    with pytest.raises(ConfigError, match=match):
        resolve_alphas(spec, tasks)


def test_fuse_hand_computed():
    fused = fuse({"a": np.array([1.0, 2.0]), "b": np.array([10.0, 0.0])}, {"a": 0.5, "b": 0.1})
    np.testing.assert_allclose(fused, [1.5, 1.0])


# -- storage -----------------------------------------------------------------------------------
def test_save_and_load_round_trip(tmp_path):
    videos = synthetic_videos()
    meta = make_set(tmp_path, videos)
    assert meta.frames_scored == 120 and meta.anomalous_frames == 30
    loaded = load_scores(tmp_path)
    assert loaded.tasks == TASKS and loaded.has_labels
    for a, b in zip(videos, loaded.videos, strict=True):
        assert a.name == b.name and a.num_frames == b.num_frames
        np.testing.assert_array_equal(a.frames, b.frames)
        np.testing.assert_array_equal(a.labels, b.labels)
        np.testing.assert_allclose(a.raw["ffp"]["psnr"], b.raw["ffp"]["psnr"])
        assert b.stream("prp", "mse") is b.raw["prp"][SCORE_KEY]  # no error measure: one stream
    # normalised and fused scores of the defaults are saved beside the raw ones
    with np.load(tmp_path / "scores" / "testing" / "02.npz") as data:
        v = videos[1]
        mm = (v.raw["ffp"]["mse"] - v.raw["ffp"]["mse"].min()) / np.ptp(v.raw["ffp"]["mse"])
        np.testing.assert_allclose(data["norm.ffp.mse"], mm)
        _, norm = get_normalizer("minmax")
        expected = 0.1 * norm(v.raw["vcr"]["mse"]) + 0.8 * mm + 1.0 * norm(v.raw["prp"][SCORE_KEY])
        np.testing.assert_allclose(data["fused"], expected)
    index = json.loads((tmp_path / "scores" / "index.json").read_text())
    assert index["sets"]["testing"]["videos"][0]["file"] == "testing/01.npz"


def test_load_without_scores_is_a_clear_error(tmp_path):
    with pytest.raises(DataError, match="has no scores yet"):
        load_scores(tmp_path)
    make_set(tmp_path)
    with pytest.raises(DataError, match="no score set 'clips'"):
        load_scores(tmp_path, "clips")
    (tmp_path / "scores" / "testing" / "01.npz").unlink()
    with pytest.raises(DataError, match="scores of video '01' are missing"):
        load_scores(tmp_path)


def test_unknown_error_in_stream():
    v = synthetic_videos(n_videos=1)[0]
    with pytest.raises(ConfigError, match="not scored with the error measure 'bpe'"):
        v.stream("ffp", "bpe")
    with pytest.raises(DataError, match="no scores for task 'xyz'"):
        v.stream("xyz", "mse")


# -- evaluation --------------------------------------------------------------------------------
def test_evaluate_matches_sklearn_on_normalised_streams(tmp_path):
    make_set(tmp_path)
    scores = load_scores(tmp_path)
    res = evaluate_scores(scores, error="mse", normalizer="minmax", alphas="ped2")
    labels = np.concatenate([v.labels for v in scores.videos])

    def mm(x):
        return (x - x.min()) / np.ptp(x)

    ffp = np.concatenate([mm(v.raw["ffp"]["mse"]) for v in scores.videos])
    vcr = np.concatenate([mm(v.raw["vcr"]["mse"]) for v in scores.videos])
    prp = np.concatenate([mm(v.raw["prp"][SCORE_KEY]) for v in scores.videos])
    r = res.results
    assert r["ffp"].micro_auroc == pytest.approx(roc_auc_score(labels, ffp))
    assert r["fused"].micro_auroc == pytest.approx(
        roc_auc_score(labels, 0.1 * vcr + 0.8 * ffp + prp)
    )
    raw_ffp = np.concatenate([v.raw["ffp"]["mse"] for v in scores.videos])
    assert res.raw_micro_auroc["ffp"] == pytest.approx(roc_auc_score(labels, raw_ffp))
    # the anomalies raise ffp: it detects well; prp is noise
    assert r["ffp"].micro_auroc > 0.9 and 0.2 < r["prp"].micro_auroc < 0.8
    p = res.protocol
    assert p.frames_scored == 120 and p.anomalous_frames == 30 and p.videos == 3
    assert p.alphas == {"vcr": 0.1, "ffp": 0.8, "prp": 1.0}
    assert p.error == "mse" and p.normalizer == "minmax"
    assert p.frames_mode == "protocol" and p.ground_truth == "synthetic.npy"
    assert [v.name for v in res.per_video] == ["01", "02", "03"]
    # the JSON written: each task's row holds its raw micro AUROC too, the fused one none
    rows = res.to_json()["results"]
    assert list(rows) == [*TASKS, "fused"] and "raw_micro_auroc" not in rows["fused"]
    assert rows["ffp"] == {**r["ffp"].as_dict(), "raw_micro_auroc": res.raw_micro_auroc["ffp"]}


def test_negated_psnr_detects_like_mse(tmp_path):
    make_set(tmp_path)
    res = evaluate_scores(load_scores(tmp_path), error="psnr", alphas="0,1,0")
    # stored negated, so higher = more anomalous: far above chance
    assert res.results["ffp"].micro_auroc > 0.9
    assert res.fused.micro_auroc == pytest.approx(res.results["ffp"].micro_auroc)


def test_robust_normalizer_changes_the_fused_score(tmp_path):
    make_set(tmp_path)
    scores = load_scores(tmp_path)
    a = evaluate_scores(scores, normalizer="minmax").fused.micro_auroc
    b = evaluate_scores(scores, normalizer="robust").fused.micro_auroc
    assert a != b


def test_the_normalizer_params_a_set_records_rescale_its_scores_wherever_it_is_read(tmp_path):
    """A set scored with ``score.normalizer_params``: its stored normalised scores, evaluate's
    renormalisation (its own normalizer or another named one) and its identity all use them."""
    params = {"robust": {"quantile_range": [25.0, 75.0]}}
    make_set(tmp_path / "iqr", normalizer="robust", normalizer_params=params)
    make_set(tmp_path / "paper", normalizer="robust")  # the defaults, (1, 99)
    iqr, paper = load_scores(tmp_path / "iqr"), load_scores(tmp_path / "paper")
    by_hand = create_normalizer("robust", quantile_range=(25, 75))
    raw = iqr.videos[1].raw["ffp"]["mse"]
    with np.load(tmp_path / "iqr" / "scores" / "testing" / "02.npz") as data:
        np.testing.assert_allclose(data["norm.ffp.mse"], by_hand.fit_transform(raw))
    with np.load(tmp_path / "paper" / "scores" / "testing" / "02.npz") as data:
        assert not np.allclose(data["norm.ffp.mse"], by_hand.fit_transform(raw))
    res = evaluate_scores(iqr)
    assert res.protocol.normalizer_params == params
    assert res.to_json()["protocol"]["normalizer_params"] == params  # evaluation.json has it
    from vadkit.cli.tables import protocol_lines

    assert "normalizer: robust(quantile_range=[25.0, 75.0])" in protocol_lines(res.protocol)[1]
    assert res.results == evaluate_scores(iqr, normalizer=by_hand).results
    default = evaluate_scores(iqr, normalizer=create_normalizer("robust")).results
    assert res.fused != default["fused"]
    # a set whose own normalizer is another rescales with the params it records for 'robust'
    make_set(tmp_path / "mixed", normalizer_params=params)
    mixed = load_scores(tmp_path / "mixed")
    assert mixed.defaults.normalizer == "minmax"
    assert evaluate_scores(mixed, normalizer="robust").results == res.results
    # the params are part of the set's identity: a file scored with others is refused
    assert iqr.meta.identity is not None and paper.meta.identity is not None
    assert iqr.meta.identity.settings_sha256 != paper.meta.identity.settings_sha256
    shutil.copy(
        tmp_path / "paper" / "scores" / "testing" / "02.npz",
        tmp_path / "iqr" / "scores" / "testing" / "02.npz",
    )
    with pytest.raises(DataError, match="other settings"):
        load_scores(tmp_path / "iqr")


def test_evaluate_bad_input(tmp_path):
    make_set(tmp_path)
    scores = load_scores(tmp_path)
    with pytest.raises(ConfigError, match="Unknown error measure 'bpe'"):
        evaluate_scores(scores, error="bpe")
    from vadkit.errors import RegistryError

    with pytest.raises(RegistryError, match="Unknown normalizer"):
        evaluate_scores(scores, normalizer="zscorex")
    for v in scores.videos:
        v.labels = None
    with pytest.raises(DataError, match="has no ground truth"):
        evaluate_scores(scores)


def test_relabel_checks_lengths(tmp_path):
    make_set(tmp_path)
    scores = load_scores(tmp_path)

    good = {v.name: np.ones(v.num_frames, np.uint8) for v in scores.videos}
    relabelled = relabel(scores, good, "all-anomalous.npy")
    assert relabelled.meta.source.ground_truth == "all-anomalous.npy"
    assert all(v.labels.all() for v in relabelled.videos)
    bad = {v.name: np.ones(v.num_frames - 1, np.uint8) for v in scores.videos}
    with pytest.raises(DataError, match="Labels do not match"):
        relabel(scores, bad, None)
    first = scores.videos[0].name
    with pytest.raises(DataError, match=f"no video '{first}'"):
        relabel(scores, {k: v for k, v in good.items() if k != first}, None)


def test_evaluate_run_writes_json_and_plots(tmp_path):
    make_set(tmp_path)
    res = evaluate_run(tmp_path, alphas="avenue")
    saved = json.loads((tmp_path / "evaluation.json").read_text())
    assert saved["protocol"]["alphas"] == {"vcr": 0.1, "ffp": 1.0, "prp": 0.1}
    assert saved == res.to_json()  # evaluation.json is the result's JSON
    assert saved["results"]["fused"]["micro_auroc"] == res.fused.micro_auroc
    pngs = sorted((tmp_path / "plots").glob("*.png"))
    assert [p.name for p in pngs] == ["01.png", "02.png", "03.png"]
    assert pngs[0].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    evaluate_run(tmp_path, plots=False)  # no plots asked: still writes the JSON
