"""``vadkit demo --quick`` detects the synthetic scene's anomalies for real, end to end."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch
from test_evaluate_cli import error_text

from vadkit.cli import main

#: What the quick demo must reach on the synthetic test videos (fused, and each task alone).
#: The full demo reaches more (see vadkit/demo.py); these bounds leave room for the noise
#: of a few epochs of training while still failing for a model that does not detect.
FUSED_BOUND = 0.75
TASK_BOUND = 0.6
#: What the quick demo's fused anomaly map must reach per pixel (the full demo: 0.990, its
#: 3-epoch checkpoint, the quick demo's length: 0.987; docs/reference/maps.md); a map that does
#: not point at the anomalies stays near 0.5.
PIXEL_BOUND = 0.8


@pytest.fixture(scope="module", autouse=True)
def _env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """A private cache (the demo generates its scene there) and two torch threads."""
    threads = torch.get_num_threads()
    torch.set_num_threads(min(2, threads))
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("VADKIT_CACHE", str(tmp_path_factory.mktemp("cache")))
        yield
    torch.set_num_threads(threads)


@pytest.mark.slow
def test_quick_demo_detects(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run = tmp_path / "demo"
    with pytest.raises(SystemExit) as done:
        main(["demo", "--quick", "--out", str(run)])
    assert done.value.code in (0, None)
    out = capsys.readouterr().out
    res = json.loads((run / "evaluation.json").read_text())
    results = res["results"]
    assert results["fused"]["micro_auroc"] >= FUSED_BOUND, results
    for task in ("vcr", "ffp", "prp"):
        assert results[task]["micro_auroc"] >= TASK_BOUND, (task, results)
    p = res["protocol"]
    assert p["frames_mode"] == "protocol" and p["alphas"] and p["ground_truth"]
    assert p["frames_scored"] == sum(v["frames_scored"] for v in res["per_video"])
    assert (run / "checkpoints").is_dir()
    assert len(list((run / "plots").glob("*.png"))) == len(res["per_video"]) == 6
    pixel = res["pixel"]  # the demo scores with maps; the scene has pixel masks
    assert pixel["fused"]["pixel_auroc"] >= PIXEL_BOUND, pixel
    assert 0.0 <= pixel["fused"]["rbdc"] <= 1.0 and 0.0 <= pixel["fused"]["tbdc"] <= 1.0
    # the demo ends by writing the report and printing its path
    report = run / "report.html"
    assert "".join(out.split()).endswith(f"Report:{report}(openitinabrowser)"), out[-400:]
    page = report.read_text()
    assert f"{results['fused']['micro_auroc']:.4f}" in page
    assert page.count('class="segment"') >= 1 and 'class="overlay"' in page


def test_demo_refuses_a_folder_in_use(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "busy").mkdir()
    (tmp_path / "busy" / "file.txt").write_text("mine")
    with pytest.raises(SystemExit) as done:
        main(["demo", "--quick", "--out", str(tmp_path / "busy")])
    assert done.value.code == 2
    assert "already exists and is not empty" in error_text(capsys)
    assert (tmp_path / "busy" / "file.txt").read_text() == "mine"
