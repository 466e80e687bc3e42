"""``vadkit report`` of several runs, without training: the spread over runs against numpy and
scipy by hand, the grouping of runs by setting, and each recipe's paper claims beside what was
measured (values from the recipe, a shortfall shown)."""

from __future__ import annotations

import math
import re
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest
from scipy import stats

from vadkit.components import PublishedResult, Recipe
from vadkit.evaluation.result import EvalProtocol, Evaluation
from vadkit.metrics import FrameMetrics
from vadkit.report.claims import recipe_claims
from vadkit.report.collect import RunData
from vadkit.report.groups import dataset_name, group_runs, is_dataset
from vadkit.report.render_study import claims_section, spread_section, study_payload
from vadkit.report.spread import spread


# -- the spread, by hand ------------------------------------------------------------------------
def test_spread_by_hand() -> None:
    values = [0.71, 0.78, 0.74, 0.83]
    s = spread(values)
    x = np.array(values)
    assert s.n == 4 and s.mean == pytest.approx(x.mean())
    assert s.std == pytest.approx(np.std(x, ddof=1))  # the sample std, not numpy's default
    assert s.std != pytest.approx(np.std(x))
    half = stats.t.ppf(0.975, 3) * np.std(x, ddof=1) / math.sqrt(4)
    assert (s.low, s.high) == pytest.approx((x.mean() - half, x.mean() + half))
    # t(0.975, 3) from a printed table of Student's t, not from scipy
    assert half == pytest.approx(3.182446 * np.std(x, ddof=1) / 2, rel=1e-6)
    assert (s.minimum, s.maximum) == (0.71, 0.83)
    assert s.contains(0.76) and s.contains(0.9) is False

    # two runs: t(0.975, 1) = 12.706, a wide interval (clipped to [0, 1])
    two = spread([0.80, 0.84])
    assert two.std == pytest.approx(np.std([0.80, 0.84], ddof=1))
    assert two.low == pytest.approx(0.82 - 12.706205 * two.std / math.sqrt(2))
    assert two.high == 1.0  # 0.82 + 0.254 is past 1: clipped

    # one run: a mean and nothing else; missing values are left out; identical values
    one = spread([0.9])
    assert (one.mean, one.std, one.low, one.high, one.n) == (0.9, None, None, None, 1)
    assert one.contains(0.9) is None
    gaps = spread([0.6, None, 0.8])
    assert gaps.n == 2 and gaps.values == (0.6, None, 0.8) and gaps.mean == pytest.approx(0.7)
    same = spread([0.5, 0.5, 0.5])
    assert (same.std, same.low, same.high) == (0.0, 0.5, 0.5)
    assert spread([None]).mean is None
    d = s.as_dict()
    assert d["std_ddof"] == 1 and d["interval"] == [s.low, s.high] and d["n"] == 4


# -- runs as the report reads them, made by hand ------------------------------------------------
def fake_run(
    tmp: Path,
    name: str,
    *,
    seed: int = 0,
    epochs: int = 1,
    recipe: str = "luss-ae",
    data: str = "scene",
    normalizer: str = "minmax",
    micro: float = 0.8,
    macro: float | None = 0.85,
    size: tuple[int, int] = (32, 32),
) -> RunData:
    """A run of a labelled set: its config, the set's record and evaluate's results."""
    run_dir = tmp / name
    run_dir.mkdir(parents=True, exist_ok=True)
    root = tmp / data
    root.mkdir(exist_ok=True)
    config = (
        f'recipe = "{recipe}"\n[data]\nroot = "{root}"\nsize = [{size[0]}, {size[1]}]\n'
        f"clip_length = 8\n[train]\nepochs = {epochs}\nseed = {seed}\nworkers = {seed}\n"
        '[score]\nerror = "bpe"\nnormalizer = "minmax"\nbatch_size = 32\n'
        "[score.alphas]\nvcr = 1.0\nffp = 1.0\nprp = 1.0\n"
    )
    protocol = EvalProtocol(
        score_set="testing",
        frames_mode="protocol",
        frames_scored=100,
        total_frames=120,
        videos=3,
        clip_length=8,
        error="bpe",
        error_tasks=("vcr", "ffp"),
        normalizer=normalizer,
        normalizer_repr=normalizer,
        alphas={"vcr": 1.0, "ffp": 1.0, "prp": 1.0},
        smoothing_sigma=0.0,
        checkpoint="last",
        ground_truth=str(root / "labels.npy"),
    )
    row = FrameMetrics(micro, macro, 3, 0.2, 0.9, 100, 40)
    task = FrameMetrics(micro - 0.1, None, 0, 0.3, 0.8, 100, 40)
    meta = SimpleNamespace(to_json=lambda: {"source": "dataset", "root": str(root)})
    return RunData(
        run_dir=run_dir,
        scores=SimpleNamespace(meta=meta, name="testing"),  # type: ignore[arg-type]
        protocol=protocol,
        evaluation=Evaluation(protocol=protocol, results={"vcr": task, "fused": row}),
        provenance={"config_toml": config},
        videos=[],
        threshold=0.0,
        segments=[],
    )


def test_runs_are_grouped_by_the_settings_that_change_the_numbers(tmp_path: Path) -> None:
    seeds = [
        fake_run(tmp_path, f"s{i}", seed=i, micro=m, macro=a)
        for i, (m, a) in enumerate([(0.80, 0.86), (0.84, None), (0.77, 0.80)])
    ]
    longer = fake_run(tmp_path, "e2", epochs=2, micro=0.9)
    robust = fake_run(tmp_path, "rb", normalizer="robust")  # evaluated otherwise: apart
    other = fake_run(tmp_path, "ot", recipe="luss-ae-paper")
    groups = group_runs([seeds[0], longer, seeds[1], robust, seeds[2], other])
    assert [[r.label for r in g.runs] for g in groups] == [
        ["s0", "s1", "s2"],
        ["e2"],
        ["rb"],
        ["ot"],
    ]
    first = groups[0]
    # the seed and speed settings do not group; what differs inside the group is listed
    assert first.varying == {"train.seed": [0, 1, 2], "train.workers": [0, 1, 2]}
    assert set(first.differing) == {"recipe", "train.epochs", "score.normalizer"}
    assert groups[1].differing["train.epochs"] == 2 and "train.epochs=2" in groups[1].label
    assert groups[2].differing["score.normalizer"] == "robust"
    assert groups[3].recipe == "luss-ae-paper"
    assert first.label.startswith("luss-ae on scene")
    # the spread of a group is of its own runs only; a run without macro AUROC is left out
    micro = first.spread("fused", "micro_auroc")
    assert micro.values == (0.80, 0.84, 0.77) and micro.mean == pytest.approx(np.mean(micro.values))
    assert micro.std == pytest.approx(np.std([0.80, 0.84, 0.77], ddof=1))
    macro = first.spread("fused", "macro_auroc")
    assert macro.n == 2 and macro.mean == pytest.approx(0.83)
    assert first.scores == ["vcr", "fused"]
    # the page says what groups them and shows both metrics, macro named as such
    html = spread_section([*seeds, longer, robust, other], groups)
    assert "6 runs in 4 groups" in html and "What sets the groups apart" in html
    assert "macro AUROC (per-video mean)" in html and "micro AUROC (headline)" in html
    assert "ddof = 1" in html and "t-interval of the mean over runs" in html
    assert f"{micro.mean:.4f} &plusmn; {micro.std:.4f}" in html
    assert "train.seed (0, 1, 2)" in html
    assert "One run: no spread" in html
    two = group_runs(seeds[:2])
    assert "Only 2 runs" in spread_section(seeds[:2], two)
    assert spread_section(seeds[:1], group_runs(seeds[:1])) == ""  # one run: no spread part


def test_dataset_names(tmp_path: Path) -> None:
    (tmp_path / "scene").mkdir()
    (tmp_path / "scene" / "scene.json").write_text("{}")
    assert dataset_name({"source": "dataset", "root": str(tmp_path / "scene")}) == "synthetic"
    assert dataset_name({"source": "dataset", "root": "/data/UCSD_ped2"}) == "ucsdped2"
    assert dataset_name({"source": "files", "files": ["a.mp4"]}) is None
    assert is_dataset("ucsdped2", "ped2") and is_dataset("ped2", "Ped2")
    assert not is_dataset("ped1", "ped2") and not is_dataset(None, "ped2")


def test_paper_claims_beside_what_was_measured(tmp_path: Path) -> None:
    runs = [
        fake_run(tmp_path, f"p{i}", seed=i, data="UCSDped2", micro=m, size=(64, 64))
        for i, m in enumerate([0.81, 0.86, 0.83])
    ]
    groups = group_runs(runs)
    (claims,) = recipe_claims(groups)
    assert claims.recipe == "luss-ae" and claims.problem is None
    from vadkit.config.recipes import load_recipe

    declared = load_recipe("luss-ae").published
    assert [c.result for c in claims.claims] == list(declared)  # every number, in order
    (ped2,) = [c for c in claims.claims if c.result.dataset == "ped2"]
    assert ped2.result.value == 0.9852 and "Table 1" in ped2.result.source
    assert ped2.group is groups[0] and ped2.measured is not None
    assert ped2.measured.mean == pytest.approx(np.mean([0.81, 0.86, 0.83]))
    assert ped2.gap == pytest.approx(np.mean([0.81, 0.86, 0.83]) - 0.9852)
    assert ped2.shortfall and ped2.measured.contains(0.9852) is False
    keys = [d.key for d in ped2.differences]
    # the differences that matter, first: resolution and epochs; then the others
    assert keys[:2] == ["data.size", "train.epochs"]
    assert {"data.clip_length", "score.normalizer", "score.alphas"} <= set(keys)
    size = ped2.differences[0]
    assert (size.paper, size.here) == ([256, 256], [64, 64])
    assert "score.error" not in keys and "score.frames" not in keys  # those agree
    others = [c for c in claims.claims if c.result.dataset != "ped2"]
    assert others and all(c.group is None and c.gap is None for c in others)

    html = claims_section([claims], groups)
    row = re.search(r"<tr class=\"short\" data-dataset='ped2'.*?</tr>", html, re.S)
    assert row, "the Ped2 shortfall is not marked"
    text = row.group(0)
    assert "0.9852 (98.52 %)" in text and "Lohani et al., VISAPP 2023, Table 1" in text
    assert f"{ped2.gap:+.4f}" in text and "below the paper, worse" in text
    assert "outside the 95% interval" in text
    assert "<code>data.size</code>: paper [256, 256], here [64, 64]" in text
    assert "<code>train.epochs</code>: paper 60, here 1" in text
    assert "Not measured here" in html and "avenue" in html

    # the JSON the page embeds holds the same numbers
    data = study_payload(groups, [claims])
    assert data["std_ddof"] == 1 and data["confidence"] == 0.95
    (g,) = data["groups"]
    fused = g["spread"]["fused"]["micro_auroc"]
    assert fused["values"] == [0.81, 0.86, 0.83] and fused["n"] == 3
    assert fused["std"] == pytest.approx(np.std([0.81, 0.86, 0.83], ddof=1))
    half = stats.t.ppf(0.975, 2) * fused["std"] / math.sqrt(3)
    assert fused["interval"] == pytest.approx([fused["mean"] - half, fused["mean"] + half])
    claim = next(c for c in data["claims"][0]["claims"] if c["dataset"] == "ped2")
    assert claim["paper"] == 0.9852 and claim["shortfall"] is True
    assert claim["differences"][0] == {"key": "data.size", "paper": [256, 256], "here": [64, 64]}


def test_a_better_measure_and_a_recipe_without_claims(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import vadkit.config.recipes as recipes

    claims: dict[str, Any] = {
        "mine": Recipe(
            settings={},
            published=(
                PublishedResult("scene", "micro_auroc", 0.5, "a strawman"),
                PublishedResult("scene", "eer", 0.1, "lower is better"),
            ),
        ),
        "bare": Recipe(settings={}),  # a recipe of before the field: still a recipe
    }

    def load(name: str) -> Recipe:
        if name not in claims:
            raise recipes.ConfigError(f"recipe: no recipe '{name}'")
        return claims[name]

    monkeypatch.setattr(recipes, "load_recipe", load)
    runs = [
        fake_run(tmp_path, "m", recipe="mine", micro=0.8),
        fake_run(tmp_path, "b", recipe="bare"),
    ]
    runs.append(fake_run(tmp_path, "g", recipe="gone"))
    mine, bare, gone = recipe_claims(group_runs(runs))
    auroc, eer = mine.claims
    assert auroc.gap == pytest.approx(0.3) and not auroc.shortfall  # above: no shortfall
    assert eer.gap == pytest.approx(0.1) and eer.shortfall  # EER above the paper's: worse
    assert bare.claims == [] and "declares no published results" in str(bare.problem)
    assert "cannot be loaded here" in str(gone.problem)
    html = claims_section([mine, bare, gone], group_runs(runs))
    assert html.count('<tr class="short"') == 1 and "above the paper" in html


def test_published_results_are_checked() -> None:
    with pytest.raises(ValueError, match=r"write 98\.52 % as 0\.9852"):
        PublishedResult("ped2", "micro_auroc", 98.52, "paper")
    with pytest.raises(ValueError, match="not one of"):
        PublishedResult("ped2", "auc", 0.98, "paper")
    with pytest.raises(ValueError, match="lower case"):
        PublishedResult("Ped2", "micro_auroc", 0.98, "paper")
    with pytest.raises(ValueError, match="source"):
        PublishedResult("ped2", "micro_auroc", 0.98, "")
    assert Recipe(settings={}).published == ()
