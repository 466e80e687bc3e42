"""``benchmarks/ped2_paper_scale.py``: the paper-scale run in budgeted steps, each call one step
(train or resume, score, evaluate), at a tiny scale on the synthetic scene. The real run is for a
GPU (docs/tutorials/reproduce-ped2.md, "At the paper's scale")."""

from __future__ import annotations

import importlib
import json
import sys
from pathlib import Path

import pytest
from conftest import TINY_MODEL, quiet_machine

BENCH = Path(__file__).resolve().parents[1] / "benchmarks"


@pytest.fixture(scope="module")
def paper_scale(tmp_path_factory: pytest.TempPathFactory):
    sys.path.insert(0, str(BENCH))
    try:
        with quiet_machine(tmp_path_factory.mktemp("cache"), OMP_NUM_THREADS="1"):
            yield importlib.import_module("ped2_paper_scale")
    finally:
        sys.path.remove(str(BENCH))


def test_each_call_does_one_step_until_done(paper_scale, tiny_scene: Path, tmp_path: Path):
    run = tmp_path / "run"
    sets = [a for item in [*TINY_MODEL, "data.stride=8", "train.batch_size=4", "train.epochs=1"]
            for a in ("--set", item)]  # fmt: skip
    args = ["--data", str(tiny_scene), "--out", str(run), "--device", "cpu", *sets]

    # a budget spent before the first checkpoint: the step is logged, nothing to resume from
    first = paper_scale.main([*args, "--budget", "0.01"])
    assert first.startswith("trained for") and first.endswith("now at None")
    steps = [json.loads(line) for line in paper_scale.steps_file(run).read_text().splitlines()]
    assert steps[-1]["step"] == "train" and steps[-1]["progress"] is None
    assert not paper_scale.can_resume(run)

    # the next call trains from the start, within its budget, to train.epochs
    assert paper_scale.main([*args, "--budget", "600"]).startswith("trained for")
    progress = paper_scale._progress(run)
    assert progress is not None and (progress["epoch"], progress["batch"]) == (1, 0)
    assert paper_scale.main(args) == "scored the test videos"
    assert (run / "scores" / "testing" / "set.json").is_file()
    done = paper_scale.main(args)
    result = json.loads((run / paper_scale.RESULT).read_text())
    assert done == (
        f"done: fused micro AUROC {result['fused_micro_auroc']:.4f} (BPE, min-max, weights 0.1, "
        "0.8, 1)"
    )
    assert 0.0 <= result["fused_micro_auroc"] <= 1.0
    logged = [
        json.loads(line)["step"] for line in paper_scale.steps_file(run).read_text().splitlines()
    ]
    assert logged == ["train", "train", "score", "evaluate"]
