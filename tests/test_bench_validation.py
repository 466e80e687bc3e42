"""The validator's own evaluation (benchmarks/validation_study.py) at a tiny scale on the synthetic
scene: what it measures per run and checkpoint, its Spearman correlations, the rule fixed before
the study, and the page rewritten from its record alone. The real study (the seed studies'
runs, on Ped2) is the lead's to run."""

from __future__ import annotations

import importlib
import json
import sys
from pathlib import Path

import pytest
from conftest import TINY_MODEL, quiet_machine

BENCH = Path(__file__).resolve().parents[1] / "benchmarks"
SETTINGS = [
    *TINY_MODEL,
    "data.stride=4",
    "data.val_videos=1",
    "train.batch_size=4",
    "train.epochs=2",
    "score.batch_size=32",
]


@pytest.fixture(scope="module")
def study(tmp_path_factory: pytest.TempPathFactory):
    sys.path.insert(0, str(BENCH))
    try:
        with quiet_machine(tmp_path_factory.mktemp("cache")):
            yield importlib.import_module("validation_study")
    finally:
        sys.path.remove(str(BENCH))


def _train(scene: Path, out: Path, seed: int) -> Path:
    from vadkit.config import resolve_config
    from vadkit.training.trainer import Trainer

    config = resolve_config(
        overrides=[*SETTINGS, f"train.seed={seed}"], flags={"data.root": str(scene)}
    )
    Trainer(config, out, handle_signals=False).fit()
    return out


def test_the_study_measures_every_checkpoint_and_writes_its_page(
    study, tiny_scene: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    from scipy.stats import spearmanr

    from vadkit.evaluation.evaluate import evaluate_scores
    from vadkit.evaluation.groundtruth import with_ground_truth
    from vadkit.scoring.scoreset import load_scores
    from vadkit.validation.records import read_validation

    runs = [_train(tiny_scene, tmp_path / f"seed_{s}", s) for s in (0, 1)]
    page = tmp_path / "validation.md"
    args = [*map(str, runs), "--page", str(page), "--device", "cpu"]
    summary = study.main(args)
    assert [Path(r["run"]).name for r in summary["runs"]] == ["seed_0", "seed_1"]
    for run, result in zip(runs, summary["runs"], strict=True):
        epochs = [c["checkpoint"] for c in result["checkpoints"]]
        assert epochs == ["epoch_0001", "epoch_0002"]
        # the test AUROC is evaluate's, on the set scored with that checkpoint's weights
        scores = with_ground_truth(load_scores(run, "study_epoch_0001"))
        fused = evaluate_scores(scores).results["fused"].micro_auroc
        assert result["checkpoints"][0]["test"] == fused
        assert (scores.meta.weights or {})["checkpoint"] == "epoch_0001"
        # the pseudo-AUROC is vadkit validate's, recorded in the run
        recorded = {e["checkpoint"]: e["fused"] for e in read_validation(run)}
        assert result["checkpoints"][1]["pseudo"] == recorded["epoch_0002"]
        assert result["default"]["pseudo"] == recorded[result["default"]["checkpoint"]]
        # where it trained and on what data, from the run's own files
        assert result["trained_on"] == "cpu" and Path(result["data"]) == tiny_scene
    stats = summary["statistics"]
    assert stats["runs"] == {"spearman": None, "n": 2}  # two runs rank nothing
    assert not summary["ranks_well"]
    text = page.read_text()
    assert "Spearman >= 0.6 over runs and, on\naverage, within runs" in text
    assert "Verdict: pseudo-AUROC does not rank well" in text
    assert 'score.weights_criterion = "loss"' in text
    assert f"| cpu | `{summary['runs'][0]['data']}` |" in text
    assert study.trained_on(tmp_path) == "not recorded"  # no metrics.jsonl

    # other pseudo-anomaly parameters: their own result file and page; the test AUROC of the
    # same weights is reused, not scored again
    def score_nothing(*a: object, **k: object) -> None:
        raise AssertionError("the test videos were scored again")

    with monkeypatch.context() as patched:
        patched.setattr(study, "test_auroc", score_nothing)
        subtle = study.main([*args[:2], "--page", str(tmp_path / "subtle.md"), "--device", "cpu",
                             "--param", "noise.std=2", "--note", "Quieter noise, fixed before."])  # fmt: skip
    name = study.result_name({"noise": {"std": 2}})
    assert name.startswith("validation_study-") and (runs[0] / name).is_file()
    first, again = summary["runs"][0], subtle["runs"][0]
    assert [c["test"] for c in again["checkpoints"]] == [c["test"] for c in first["checkpoints"]]
    assert again["protocol"]["pseudo"]["params"] == {"noise": {"std": 2.0, "fraction": 0.5}}
    assert "params" not in first["protocol"]["pseudo"]
    text = (tmp_path / "subtle.md").read_text()
    assert "other than the defaults: noise: std = 2.0" in text
    assert "AUROC?\n\nQuieter noise, fixed before.\n" in text
    assert "--param noise.std=2 --note ...`" in text  # the note is not repeated
    study.main(["--page", str(tmp_path / "subtle.md")])  # rewritten from its record: note kept
    assert "AUROC?\n\nQuieter noise, fixed before.\n" in (tmp_path / "subtle.md").read_text()

    # three runs: the third a copy of the first with other numbers, measured "elsewhere" (the
    # record only); the correlations are scipy's on the recorded numbers
    third = json.loads(json.dumps(summary["runs"][0]))
    third["run"] = str(tmp_path / "seed_2")
    third["default"]["pseudo"], third["default"]["test"] = 0.99, 0.99
    for i, c in enumerate(third["checkpoints"]):
        c["pseudo"], c["test"] = 0.3 + 0.1 * i, 0.5 + 0.2 * i
    record = json.loads(page.with_suffix(".json").read_text())
    record["runs"].append(third)
    page.with_suffix(".json").write_text(json.dumps(record))
    summary = study.main(args)
    results = summary["runs"]
    assert len(results) == 3
    pairs = [(r["default"]["pseudo"], r["default"]["test"]) for r in results]
    expected = spearmanr(*zip(*pairs, strict=True)).statistic
    assert summary["statistics"]["runs"]["spearman"] == pytest.approx(expected)
    pooled = [(c["pseudo"], c["test"]) for r in results for c in r["checkpoints"]]
    assert summary["statistics"]["pooled_checkpoints"]["n"] == 6
    assert summary["statistics"]["pooled_checkpoints"]["spearman"] == pytest.approx(
        spearmanr(*zip(*pooled, strict=True)).statistic
    )
    text = page.read_text()
    assert f"over runs {expected:.2f} (n = 3)" in text
    # per method: one recipe here, so its part is the whole; a run of another recipe splits it
    (part,) = summary["statistics"]["by_recipe"].values()
    assert part["runs"] == summary["statistics"]["runs"] and "by_recipe" not in part
    other = json.loads(json.dumps(third))
    other["run"], other["recipe"] = str(tmp_path / "other"), "other-method"
    split = study.statistics_of([*results, other])
    assert split["by_recipe"]["other-method"]["runs"] == {"spearman": None, "n": 1}
    assert split["by_recipe"][study._recipe(third)]["runs"]["n"] == 3

    # a fresh checkout: no run folder, the page comes back the same from its record
    def measure_nothing(*a: object, **k: object) -> None:
        raise AssertionError("a run was measured again")

    for run in runs:
        run.rename(run.with_name(run.name + "_moved"))
    monkeypatch.setattr(study, "measure_run", measure_nothing)
    again = study.main(["--page", str(page), "--device", "cpu"])
    assert again["statistics"] == summary["statistics"]
    assert page.read_text().split("Written by")[0] == text.split("Written by")[0]


def test_the_rule_fixed_before_the_study(study):
    def stats(over_runs, within):
        return {
            "runs": {"spearman": over_runs, "n": 6},
            "within_run_mean": {"spearman": within, "n": 6},
        }

    assert study.THRESHOLD == 0.6
    assert study.verdict(stats(0.6, 0.6))[0]
    assert not study.verdict(stats(0.9, 0.59))[0]
    assert not study.verdict(stats(0.59, 0.9))[0]
    assert not study.verdict(stats(None, 0.9))[0]
    assert study.spearman([(0.1, 0.2), (0.2, 0.3)]) is None
    assert study.spearman([(0.1, 0.5), (0.2, 0.5), (0.3, 0.5)]) is None  # constant: no ranking
    assert study.spearman([(0.1, 0.3), (0.2, 0.2), (0.3, 0.1)]) == pytest.approx(-1.0)
