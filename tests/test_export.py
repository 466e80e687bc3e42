"""``vadkit export`` and the torch-free runtime: bundle contents, score parity with PyTorch fp32
(ONNX Runtime, and OpenVINO where it installs), watching without torch, and clear refusals."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from conftest import quiet_machine
from test_stream import _error, _run, write_video

from vadkit.engine.fusion import fuse, get_normalizer, normalized_streams
from vadkit.engine.groundtruth import with_ground_truth
from vadkit.engine.io import file_digest
from vadkit.engine.scoreset import load_scores
from vadkit.export.writer import relative_difference
from vadkit.metrics import micro_auroc
from vadkit.runtime.bundle import DEFAULT_RUNTIME

ROOT = Path(__file__).resolve().parents[1]
NOTORCH = Path(__file__).resolve().parent / "notorch"
#: 16 frames at 64x64: the smallest clip whose CAE3D latent OpenVINO's ONNX reader takes for
#: PRP's ceil-mode pooling (docs/reference/bundle.md, "Limits"); the scene's frames are upscaled.
TINY = [
    "model.params.channels=[4,8,8,8]",
    "data.size=[64,64]",
    "data.clip_length=16",
    "data.stride=4",
    "train.batch_size=8",
    "train.device='cpu'",
]
RTOL = 1e-4


@pytest.fixture(scope="module", autouse=True)
def _env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    with quiet_machine(tmp_path_factory.mktemp("cache")):
        yield


@pytest.fixture(scope="module")
def run(tiny_scene: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("runs") / "run"
    sets = [a for item in TINY for a in ("--set", item)]
    args = ["train", "--data", str(tiny_scene), "--epochs", "1", "--out", str(out), "--quiet"]
    assert _run([*args, *sets]) == 0
    return out


@pytest.fixture(scope="module")
def bundle(run: Path) -> Path:
    assert _run(["export", str(run), "--out", str(run.parent / "bundle")]) == 0
    return run.parent / "bundle"


@pytest.fixture(scope="module")
def torch_scores(run: Path, tiny_scene: Path) -> Path:
    """The run's fp32 PyTorch scores of the scene's test videos (set 'torch')."""
    args = [
        "score",
        str(run),
        "--data",
        str(tiny_scene),
        "--name",
        "torch",
        "--frames",
        "all",
        "-q",
    ]
    assert _run([*args, "--precision", "fp32", "--device", "cpu"]) == 0
    return run


@pytest.fixture(scope="module")
def clip(tiny_scene: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A test video of the scene at 48x40 (resized to the run's 64x64 by both paths)."""
    from PIL import Image

    folder = sorted((tiny_scene / "testing" / "frames").iterdir())[-1]
    frames = [Image.open(f).convert("L").resize((48, 40)) for f in sorted(folder.glob("*.png"))]
    path = tmp_path_factory.mktemp("video") / "clip.avi"
    return write_video(path, np.stack([np.asarray(f) for f in frames]))


def test_export_writes_a_self_describing_bundle(run: Path, bundle: Path) -> None:
    meta = json.loads((bundle / "bundle.json").read_text())
    assert meta["kind"] == "vadkit-bundle" and meta["format"] == 1
    assert meta["input"]["shape"] == ["batch", 17, 64, 64, 1] and meta["input"]["dtype"] == "uint8"
    assert (meta["clip_length"], meta["size"], meta["color"]) == (16, [64, 64], "gray")
    assert meta["tasks"] == ["vcr", "ffp", "prp"] and meta["error_tasks"] == ["vcr", "ffp"]
    assert set(meta["errors"]) == {"mse", "psnr", "pse", "bpe"}
    assert meta["errors"]["psnr"]["higher_is_anomalous"] is False
    assert "prp/score" in meta["outputs"] and "ffp/bpe" in meta["outputs"]
    assert meta["run"]["weights_sha256"] == file_digest(run / "checkpoints" / "last.safetensors")
    assert meta["run"]["weights"] == "last"  # the weights `score` scores: no moving average
    # the calibration is the run's (made by `watch` on the training windows), stored whole
    calibration = json.loads((run / "calibration.json").read_text())
    assert meta["calibration"]["scores"] == calibration["scores"]
    assert meta["calibration"]["threshold"] == calibration["threshold"]
    assert meta["files"] == {"model.onnx": file_digest(bundle / "model.onnx")}
    assert meta["export"]["parity_at_export"]["max_rel_diff"] <= RTOL


def _compare(run: Path, ours: Path, name: str) -> None:
    ref = with_ground_truth(load_scores(run, "torch"))
    got = with_ground_truth(load_scores(ours, name))
    assert [v.name for v in ref.videos] == [v.name for v in got.videos]
    for a, b in zip(ref.videos, got.videos, strict=True):
        assert np.array_equal(a.frames, b.frames)
        assert {t: sorted(k) for t, k in a.raw.items()} == {t: sorted(k) for t, k in b.raw.items()}
        for task, keys in a.raw.items():
            for key, values in keys.items():
                diff = relative_difference(values, b.raw[task][key])
                assert diff <= RTOL, f"{name}: {task}/{key} of {a.name} differs by {diff:.2e}"
    _, norm = get_normalizer(ref.defaults["normalizer"])
    for error in ref.errors:
        aurocs = []
        for scores in (ref, got):
            fused = [
                fuse(normalized_streams(v, scores.tasks, error, norm), ref.defaults["alphas"])
                for v in scores.videos
            ]
            aurocs.append(micro_auroc([v.labels for v in scores.videos], fused))
        assert round(aurocs[0], 3) == round(aurocs[1], 3), f"{name} {error}: {aurocs}"


def test_onnxruntime_scores_equal_pytorch_fp32(
    torch_scores: Path, bundle: Path, tiny_scene: Path
) -> None:
    args = [
        "score",
        str(bundle),
        "--data",
        str(tiny_scene),
        "--name",
        "ort",
        "--frames",
        "all",
        "-q",
    ]
    assert _run([*args, "--device", "onnxruntime"]) == 0
    _compare(torch_scores, bundle, "ort")


def test_openvino_scores_equal_pytorch_fp32(
    torch_scores: Path, bundle: Path, tiny_scene: Path
) -> None:
    try:
        import openvino  # noqa: F401
    except ImportError as exc:
        pytest.skip(f"OpenVINO does not import here ({exc}): pip install openvino")
    meta = json.loads((bundle / "bundle.json").read_text())
    assert meta["export"]["openvino"]["usable"] is True
    assert meta["runtime"] == DEFAULT_RUNTIME  # the measured default, as it keeps fp32 parity
    args = [
        "score",
        str(bundle),
        "--data",
        str(tiny_scene),
        "--name",
        "ov",
        "--frames",
        "all",
        "-q",
    ]
    assert _run([*args, "--device", "openvino"]) == 0
    _compare(torch_scores, bundle, "ov")


def _no_torch(*args: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(NOTORCH), str(ROOT), str(ROOT / "plugins")])
    code = "import sys; from vadkit.cli import main; sys.argv[0] = 'vadkit'; main()"
    return subprocess.run(
        [sys.executable, "-c", code, *args], env=env, capture_output=True, text=True, timeout=300
    )


def test_watch_and_score_a_bundle_without_torch_as_the_run_does(
    run: Path, bundle: Path, clip: Path, tmp_path: Path
) -> None:
    blocked = _no_torch("--version")
    assert blocked.returncode == 0, blocked.stderr
    probe = subprocess.run(
        [sys.executable, "-c", "import torch"],
        env={**os.environ, "PYTHONPATH": str(NOTORCH)},
        capture_output=True,
        text=True,
    )
    assert probe.returncode != 0 and "blocked" in probe.stderr  # the block works
    done = _no_torch("watch", str(bundle), str(clip), "--jsonl", str(tmp_path / "b.jsonl"), "-q")
    assert done.returncode == 0, done.stderr
    done = _no_torch("score", str(bundle), str(clip), "--quiet")
    assert done.returncode == 0, done.stderr
    args = ["watch", str(run), str(clip), "--jsonl", str(tmp_path / "r.jsonl"), "--quiet"]
    assert _run([*args, "--device", "cpu", "--precision", "fp32"]) == 0
    ours = _frame_records(tmp_path / "b.jsonl")
    theirs = _frame_records(tmp_path / "r.jsonl")
    assert [r["frame"] for r in ours] == [r["frame"] for r in theirs] and len(ours) > 5
    calibration = json.loads((bundle / "bundle.json").read_text())["calibration"]
    assert calibration["normalizer"] == "minmax"
    for task in ours[0]["raw"]:
        raw = np.array([r["raw"][task] for r in theirs])
        assert relative_difference(raw, np.array([r["raw"][task] for r in ours])) <= RTOL, task
        # minmax divides by the calibration range, which magnifies float32 rounding alike
        key = "bpe" if task != "prp" else "score"
        spread = np.ptp(calibration["scores"][task][key])
        a = np.array([r["normalized"][task] for r in theirs])
        b = np.array([r["normalized"][task] for r in ours])
        assert np.all(np.abs(a - b) <= RTOL * np.abs(raw) / spread + 1e-12), task
    assert [r["alert"] for r in ours] == [r["alert"] for r in theirs]


def test_a_damaged_bundle_is_refused_naming_the_file(
    bundle: Path, clip: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import shutil

    copy = tmp_path / "copy"
    shutil.copytree(bundle, copy)
    data = bytearray((copy / "model.onnx").read_bytes())
    data[-10] ^= 0xFF
    (copy / "model.onnx").write_bytes(bytes(data))
    assert _run(["watch", str(copy), str(clip)]) == 2
    err = _error(capsys)
    assert "copy/model.onnx" in err.replace(" ", "") and "does not match its checksum" in err
    assert "Copy the whole bundle folder again" in err


def test_run_only_options_are_refused_for_a_bundle(
    bundle: Path, clip: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _run(["watch", str(bundle), str(clip), "--calibrate"]) == 2
    assert "--calibrate applies to runs" in _error(capsys)
    assert _run(["score", str(bundle), str(clip), "--checkpoint", "1"]) == 2
    assert "--checkpoint, --average-last and --weights apply to runs" in _error(capsys)
    assert _run(["score", str(bundle), str(clip), "--weights", "ema"]) == 2
    assert "--weights apply to runs" in _error(capsys)
    assert _run(["watch", str(bundle), str(clip), "--weights", "last"]) == 2
    assert "--weights applies to runs" in _error(capsys)
    args = ["score", str(bundle), str(clip), "--precision", "bf16", "--device", "onnxruntime"]
    assert _run(args) == 2
    assert "fp32 only" in _error(capsys)


PLUGIN = '''
import torch
from vadkit import hookimpl
from vadkit.components import ErrorMeasure


class Spectral(ErrorMeasure):
    """Largest singular value of the difference (no ONNX operator computes an SVD)."""

    def forward(self, pred, real):
        return torch.linalg.svdvals((pred - real).flatten(1, 2)).amax(-1)


class Hosted(ErrorMeasure):
    exportable = False
    export_limit = "it calls a web service"

    def forward(self, pred, real):
        return (pred - real).abs().flatten(1).mean(1)


@hookimpl
def register_errors(register):
    register("{name}", {cls})
'''


@pytest.mark.parametrize(
    ("cls", "says"),
    [("Spectral", "error measure 'extra' (Unsupported"), ("Hosted", "it calls a web service")],
)
def test_a_component_that_cannot_be_exported_is_named(
    run: Path, tmp_path: Path, cls: str, says: str, capsys: pytest.CaptureFixture[str]
) -> None:
    plugin = tmp_path / "extra_error.py"
    plugin.write_text(PLUGIN.replace("{name}", "extra").replace("{cls}", cls))
    out = tmp_path / "bundle"
    assert _run(["--plugin", str(plugin), "export", str(run), "--out", str(out)]) == 2
    err = _error(capsys)
    assert "Cannot export error measure 'extra'" in err and says in err
    assert not out.exists()


@pytest.mark.parametrize(
    ("kind", "name"),
    [("errors", "mse"), ("errors", "psnr"), ("errors", "pse"), ("errors", "bpe"),
     ("tasks", "vcr"), ("tasks", "ffp"), ("tasks", "prp")],
)  # fmt: skip
def test_builtin_components_pass_the_export_check(kind: str, name: str) -> None:
    from vadkit.testing import check_export

    check_export(kind, name)


def test_the_export_check_fails_a_component_that_exports_wrongly() -> None:
    import torch

    from vadkit.components import ErrorMeasure
    from vadkit.testing import check_export

    class Drifting(ErrorMeasure):
        """Traced on its first call: a Python-side counter becomes a constant of the graph."""

        calls = 0

        def forward(self, pred: torch.Tensor, real: torch.Tensor) -> torch.Tensor:
            Drifting.calls += 1
            return (pred - real).abs().flatten(1).mean(1) * Drifting.calls

    with pytest.raises(AssertionError, match="differ from PyTorch's"):
        check_export("errors", Drifting)


@pytest.mark.slow
def test_the_light_install_watches_a_bundle_in_a_fresh_venv_without_torch(
    run: Path, bundle: Path, clip: Path, tmp_path: Path
) -> None:
    """The documented light install (requirements-runtime.txt, then vadkit without its
    dependencies) in a new virtual environment: no torch there, and `vadkit watch BUNDLE` gives
    the run's scores. Needs PyPI or pip's cache."""
    venv = tmp_path / "light"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    pip = [str(venv / "bin" / "python"), "-m", "pip", "install", "-q", "--no-compile"]
    pip += ["--disable-pip-version-check"]
    done = subprocess.run(
        [*pip, "-r", str(ROOT / "requirements-runtime.txt")],
        capture_output=True,
        text=True,
        timeout=900,
    )
    if done.returncode != 0 and "Could not find a version" in done.stderr + done.stdout:
        pytest.skip(f"PyPI is not reachable from here: {done.stderr.strip()[-300:]}")
    assert done.returncode == 0, done.stderr
    done = subprocess.run([*pip, "--no-deps", str(ROOT)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    python = str(venv / "bin" / "python")
    clean = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    probe = subprocess.run([python, "-c", "import torch"], capture_output=True, env=clean)
    assert probe.returncode != 0  # really without torch
    jsonl = tmp_path / "light.jsonl"
    done = subprocess.run(
        [str(venv / "bin" / "vadkit"), "watch", str(bundle), str(clip), "--jsonl", str(jsonl)],
        capture_output=True,
        text=True,
        env=clean,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    ref = tmp_path / "run.jsonl"
    args = ["watch", str(run), str(clip), "--jsonl", str(ref), "--quiet"]
    assert _run([*args, "--device", "cpu", "--precision", "fp32"]) == 0
    ours = [r["raw"] for r in _frame_records(jsonl)]
    theirs = [r["raw"] for r in _frame_records(ref)]
    assert len(ours) == len(theirs) > 5
    for task in theirs[0]:
        a = np.array([r[task] for r in theirs])
        assert relative_difference(a, np.array([r[task] for r in ours])) <= RTOL, task


def test_the_runtime_feeds_the_graph_what_the_torch_path_feeds_the_model() -> None:
    """Same windows (runtime.windows vs data.windows), same pixel scaling and split (inside the
    graph vs window_batch), hence bit-equal scores in PyTorch."""
    import torch

    from vadkit.data.video import scale_pixels_
    from vadkit.data.windows import sliding_windows, window_batch
    from vadkit.export.check import _L1, _LastFrame
    from vadkit.export.graph import ScoringGraph
    from vadkit.model import VADModel
    from vadkit.runtime.windows import sliding_batches
    from vadkit.testing import TinyBackbone

    frames = np.random.default_rng(1).integers(0, 256, (13, 32, 32, 1), dtype=np.uint8)
    ours = list(sliding_batches(frames, 8, 3))
    theirs = list(sliding_windows(frames, 8, 3))
    assert [p.tolist() for p, _ in ours] == [p.tolist() for p, _ in theirs]
    for (_, windows), (_, batch) in zip(ours, theirs, strict=True):
        scaled = scale_pixels_(torch.from_numpy(windows).permute(0, 4, 1, 2, 3).float())
        assert torch.equal(scaled[:, :, :8], batch.clip) and torch.equal(
            scaled[:, :, 8], batch.target
        )
    torch.manual_seed(0)
    model = VADModel(TinyBackbone(), {"t": _LastFrame()}, (1, 8, 32, 32)).eval()
    graph = ScoringGraph(model, {"l1": _L1()}).eval()
    windows = ours[0][1]
    with torch.inference_mode():
        got = graph(torch.from_numpy(windows))
        ref = model.window_scores(window_batch(windows, 8), {"l1": _L1()})
    assert graph.outputs == ["t/l1"] and torch.equal(got[0], ref["t"]["l1"])


def _frame_records(path: Path) -> list[dict[str, Any]]:
    """The per-frame records of a watch JSONL (alert records carry an "event" key)."""
    records = [json.loads(line) for line in path.read_text().splitlines()]
    return [r for r in records if "event" not in r]


def test_export_without_its_packages_names_them_and_the_install(
    run: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "onnx" else real(name, *a)
    )
    assert _run(["export", str(run), "--out", str(run / "nobundle")]) == 2
    err = _error(capsys)
    assert "needs the package(s) onnx" in err and "vadkit[deploy]" in err
    assert not (run / "nobundle").exists()
