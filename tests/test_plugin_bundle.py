"""What a deployed bundle needs of a plugin (the first-plugin tutorial, "Deploy"): the graph holds
the plugin's backbone, task heads and error measure, so a bundle whose normalizer is a built-in
one scores and evaluates where the plugin's code cannot even be imported."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE_SRC = ROOT / "examples" / "vadkit-example-plugin" / "src"
TINY = [
    "--backbone", "tiny_ae", "--tasks", "motion,arrow", "--error", "mae", "--normalizer", "minmax",
    "--set", "data.size=[32,32]", "--set", "data.clip_length=8", "--set", "data.stride=4",
    "--set", "model.params.width=8", "--set", "train.batch_size=8", "--set", "train.device=cpu",
    "--epochs", "1",
]  # fmt: skip


def vadkit(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "vadkit", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )


@pytest.mark.slow
def test_a_bundle_of_plugin_components_scores_without_the_plugin(
    tiny_scene: Path, tmp_path: Path
) -> None:
    pytest.importorskip(
        "onnxruntime", reason="export needs the deploy extra (pip install -e .[deploy])"
    )
    base = {
        k: v for k, v in os.environ.items() if not k.startswith("VADKIT_") and k != "PYTHONPATH"
    }
    base |= {"VADKIT_CACHE": str(tmp_path / "cache"), "OMP_NUM_THREADS": "1"}
    outer = os.environ.get("PYTHONPATH", "")
    with_plugin = base | {
        "PYTHONPATH": os.pathsep.join(p for p in [str(EXAMPLE_SRC), outer] if p),
        "VADKIT_PLUGINS": "vadkit_example",
    }
    without = base | ({"PYTHONPATH": outer} if outer else {})
    run, bundle = tmp_path / "run", tmp_path / "bundle"

    trained = vadkit(
        with_plugin, "train", "--data", str(tiny_scene), "--out", str(run), "-q", *TINY
    )
    assert trained.returncode == 0, trained.stderr
    exported = vadkit(with_plugin, "export", str(run), "--out", str(bundle))
    assert exported.returncode == 0, exported.stderr
    meta = json.loads((bundle / "bundle.json").read_text())
    assert {"motion/mae", "arrow/score"} <= set(meta["outputs"])

    # where it is deployed, the plugin's code is not even importable
    probe = subprocess.run(
        [sys.executable, "-c", "import vadkit_example"], env=without, capture_output=True
    )
    assert probe.returncode != 0
    listed = vadkit(without, "list", "tasks", "--json")
    assert "arrow" not in {r["name"] for r in json.loads(listed.stdout)}

    scored = vadkit(without, "score", str(bundle), "--data", str(tiny_scene), "-q")
    assert scored.returncode == 0, scored.stderr
    evaluated = vadkit(without, "evaluate", str(bundle), "--json")
    assert evaluated.returncode == 0, evaluated.stderr
    result = json.loads(evaluated.stdout)
    assert set(result["results"]) == {"motion", "arrow", "fused"}
    assert result["protocol"]["error"] == "mae" and result["protocol"]["normalizer"] == "minmax"
