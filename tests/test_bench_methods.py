"""The side-by-side study of the two methods (benchmarks/methods.py) at a tiny scale on the
synthetic scene: one run per method and seed through the CLI, its numbers equal to `vadkit
evaluate`'s, the page rewritten from its record alone, and the scoring speed measured for both
methods in one run. The real study (Ped2 at 64 x 64, three seeds) is the lead's to run."""

from __future__ import annotations

import importlib
import json
import shutil
import sys
from pathlib import Path

import pytest
from conftest import TINY_MODEL, quiet_machine

BENCH = Path(__file__).resolve().parents[1] / "benchmarks"
#: Tiny versions of the two methods' settings (the study's own are for Ped2 at 64 x 64).
TINY_METHODS = {
    "luss-ae": ((*TINY_MODEL, "data.stride=4", "train.epochs=1"), ("--alphas", "ped2")),
    "mae": (
        (
            "data.size=[32,32]",
            "data.stride=4",
            "model.params.dim=32",
            "model.params.depth=1",
            "model.params.heads=2",
            "train.epochs=1",
            "train.warmup_epochs=0",
        ),
        (),
    ),
}


@pytest.fixture(scope="module")
def methods(tmp_path_factory: pytest.TempPathFactory):
    sys.path.insert(0, str(BENCH))
    try:
        with quiet_machine(tmp_path_factory.mktemp("cache")):
            yield importlib.import_module("methods")
    finally:
        sys.path.remove(str(BENCH))


def test_both_methods_are_trained_evaluated_and_paged_from_their_record(
    methods, tiny_scene: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    from vadkit.evaluation.evaluate import evaluate_run

    cli_runs = importlib.import_module("cli_runs")
    monkeypatch.setattr(cli_runs, "IN_PROCESS", True)
    monkeypatch.setattr(methods, "METHODS", TINY_METHODS)
    page = tmp_path / "methods.md"
    out = tmp_path / "runs"
    args = ["--data", str(tiny_scene), "--out", str(out), "--seeds", "0", "--page", str(page)]
    args += ["--val-videos", "1", "--save-every", "1", "--set", "score.batch_size=32"]
    result = methods.main(args)
    runs = {r["method"]: r for r in result["runs"]}
    assert set(runs) == {"luss-ae", "mae"}
    for name, run in runs.items():
        assert run["epochs"] == 1 and run["seed"] == 0
        assert (out / name / "seed_0" / "checkpoints").is_dir()  # kept for validation_study
        alphas = "ped2" if name == "luss-ae" else None
        evaluated = evaluate_run(out / name / "seed_0", alphas=alphas, plots=False)
        assert run["fused_micro_auroc"] == pytest.approx(evaluated.results["fused"].micro_auroc)
        assert set(run["tasks_micro_auroc"]) == set(evaluated.results) - {"fused"}
    text = page.read_text()
    for name, run in runs.items():
        assert f"| `{name}` | 0 | {run['fused_micro_auroc']:.3f} |" in text
    assert "not met" in text or "**met**" in text  # the targets are reported either way
    record = json.loads(page.with_suffix(".json").read_text())
    assert len(record["runs"]) == 2
    # a checkout without the run folders writes the same page from the record
    shutil.rmtree(out)
    methods.main(["--out", str(out), "--page", str(page)])
    assert (
        page.read_text().split("Written by")[1].split("\n", 1)[1]
        == text.split("Written by")[1].split("\n", 1)[1]
    )


def test_scoring_speed_of_both_methods_is_measured_in_one_run(methods, tmp_path: Path):
    speed = methods.scoring_speed(size=32, frames=24, repeats=1)
    fps = speed["frames_per_second"]
    assert set(fps) == set(methods.METHODS) and all(v > 0 for v in fps.values())
    # every frame after each model's first window got a score (the work was done)
    assert speed["frames_scored"] == {"luss-ae": 24 - 16, "mae": 24 - 3}  # the recipes' T
    assert speed["cpu_record"]
    text = methods.page([], speed, "python benchmarks/methods.py --speed")
    ratio = fps["mae"] / fps["luss-ae"]
    assert f"scores **{ratio:.1f}x** the frames/s of `luss-ae`" in text
