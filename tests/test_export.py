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
from conftest import LIGHT_INSTALL as NOTORCH
from conftest import quiet_machine, run_cli
from test_stream import _error, write_video

import vadkit
from vadkit.evaluation.groundtruth import with_ground_truth
from vadkit.export.writer import relative_difference
from vadkit.metrics import micro_auroc
from vadkit.runtime.bundle import DEFAULT_RUNTIME
from vadkit.scoring.fusion import fuse, normalized_streams
from vadkit.scoring.scoreset import load_scores
from vadkit.storage.io import file_digest

ROOT = Path(__file__).resolve().parents[1]
#: 16 frames at 64x64: the smallest clip whose CAE3D latent OpenVINO's ONNX reader takes for
#: PRP's ceil-mode pooling (docs/reference/bundle.md, "Limits"); the scene's frames are upscaled.
TINY = [
    "model.params.channels=[4,8,8,8]",
    "data.size=[64,64]",
    "data.clip_length=16",
    "data.stride=4",
    "train.batch_size=8",
    "train.device='cpu'",
    # parameters the graph, the calibration and the bundle's scores must all use
    "score.error_params.bpe.sigma=2.0",
    "score.normalizer_params.robust.quantile_range=[5,95]",
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
    assert run_cli([*args, *sets]) == 0
    return out


@pytest.fixture(scope="module")
def bundle(run: Path) -> Path:
    assert run_cli(["export", str(run), "--out", str(run.parent / "bundle")]) == 0
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
    assert run_cli([*args, "--precision", "fp32", "--device", "cpu"]) == 0
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
    assert meta["kind"] == "vadkit-bundle" and meta["format"] == 2
    assert meta["input"]["shape"] == ["batch", 17, 64, 64, 1] and meta["input"]["dtype"] == "uint8"
    assert (meta["clip_length"], meta["size"], meta["color"]) == (16, [64, 64], "gray")
    assert meta["tasks"] == ["vcr", "ffp", "prp"] and meta["error_tasks"] == ["vcr", "ffp"]
    assert set(meta["errors"]) == set(vadkit.list_errors())  # every registered measure
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
    _, norm = ref.normalizer()
    for error in ref.errors:
        aurocs = []
        for scores in (ref, got):
            fused = [
                fuse(normalized_streams(v, scores.tasks, error, norm), ref.defaults.alphas)
                for v in scores.videos
            ]
            aurocs.append(micro_auroc([v.labels for v in scores.videos], fused))
        assert round(aurocs[0], 3) == round(aurocs[1], 3), f"{name} {error}: {aurocs}"


def _openvino_or_skip() -> None:
    try:
        import openvino  # noqa: F401
    except ImportError as exc:
        pytest.skip(f"OpenVINO does not import here ({exc}): pip install openvino")


@pytest.mark.parametrize("runtime", ["onnxruntime", "openvino"])
def test_bundle_scores_equal_pytorch_fp32(
    torch_scores: Path, bundle: Path, tiny_scene: Path, runtime: str
) -> None:
    if runtime == "openvino":
        _openvino_or_skip()
        meta = json.loads((bundle / "bundle.json").read_text())
        assert meta["export"]["openvino"]["usable"] is True
        assert meta["runtime"] == DEFAULT_RUNTIME  # the measured default, as it keeps fp32 parity
    args = ["score", str(bundle), "--data", str(tiny_scene), "--name", runtime, "--frames", "all"]
    assert run_cli([*args, "-q", "--device", runtime]) == 0
    _compare(torch_scores, bundle, runtime)


def test_the_bundle_graph_is_built_and_scores_with_the_runs_error_params(
    run: Path, bundle: Path, tiny_scene: Path
) -> None:
    """The run sets ``score.error_params.bpe.sigma = 2`` (:data:`TINY`): the bundle records the
    parameters its graph was built with, and its bpe scores are those of a BPE built by hand with
    sigma 2, not the default's; its calibration keeps the run's normalizer parameters."""
    from vadkit.api import create_error
    from vadkit.data import open_videos
    from vadkit.inference.score import score_videos
    from vadkit.inference.scorer import scoring_runtime
    from vadkit.inference.weights import load_scored_model

    meta = json.loads((bundle / "bundle.json").read_text())
    assert meta["errors"]["bpe"]["params"] == {
        "stride": 2,
        "sigma": 2.0,
        "kernel_size": 5,
        "normalize": True,
    }
    assert meta["errors"]["psnr"]["params"] == {"data_range": 2.0}
    assert meta["calibration"]["normalizer_params"]["robust"] == {"quantile_range": [5.0, 95.0]}
    args = ["score", str(bundle), "--data", str(tiny_scene), "--name", "params", "--frames", "all"]
    assert run_cli([*args, "-q", "--device", "onnxruntime"]) == 0
    got = load_scores(bundle, "params")
    assert got.meta["errors"]["bpe"]["params"]["sigma"] == 2.0
    _, model, _ = load_scored_model(run)
    videos = list(open_videos(tiny_scene, "testing", size=(64, 64), with_labels=False))
    runtime = scoring_runtime("cpu", "fp32", channels_last=False)

    def by_hand(bpe: Any) -> list[Any]:
        scored = score_videos(
            model, videos, errors={"bpe": bpe}, runtime=runtime, frames_mode="all"
        )
        return list(scored)

    sigma2, default = by_hand(create_error("bpe", sigma=2.0)), by_hand(create_error("bpe"))
    for ours, want, other in zip(got.videos, sigma2, default, strict=True):
        for task in ("vcr", "ffp"):
            assert relative_difference(ours.raw[task]["bpe"], want.raw[task]["bpe"]) <= RTOL
            assert relative_difference(ours.raw[task]["bpe"], other.raw[task]["bpe"]) > 1e-3


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
    assert run_cli([*args, "--device", "cpu", "--precision", "fp32"]) == 0
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
    assert run_cli(["watch", str(copy), str(clip)]) == 2
    err = _error(capsys)
    assert "copy/model.onnx" in err.replace(" ", "") and "does not match its checksum" in err
    assert "Copy the whole bundle folder again" in err


def test_run_only_options_are_refused_for_a_bundle(
    bundle: Path, clip: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run_cli(["watch", str(bundle), str(clip), "--calibrate"]) == 2
    assert "--calibrate applies to runs" in _error(capsys)
    assert run_cli(["watch", str(bundle), str(clip), "--calibration-windows", "9"]) == 2
    assert "--calibration-windows applies to runs" in _error(capsys)
    assert run_cli(["score", str(bundle), str(clip), "--checkpoint", "1"]) == 2
    err = _error(capsys)
    assert "--checkpoint applies to runs" in err and "weights and calibration" in err
    assert (
        run_cli(["score", str(bundle), str(clip), "--weights", "ema", "--average-last", "3"]) == 2
    )
    assert "--average-last, --weights apply to runs" in _error(capsys)
    assert run_cli(["score", str(bundle), str(clip), "--nproc", "2"]) == 2
    assert "--nproc applies to runs" in _error(capsys)
    # anomaly maps: the graph outputs scores only; refused rather than silently left out
    assert run_cli(["score", str(bundle), str(clip), "--maps"]) == 2
    err = _error(capsys)
    assert "--maps applies to runs" in err and "not anomaly maps" in err
    assert "vadkit score RUN --maps" in err and "export it again" not in err
    assert run_cli(["watch", str(bundle), str(clip), "--weights", "last"]) == 2
    assert "--weights applies to runs" in _error(capsys)
    args = ["score", str(bundle), str(clip), "--precision", "bf16", "--device", "onnxruntime"]
    assert run_cli(args) == 2
    assert "fp32 or int8, not bf16" in _error(capsys)
    assert run_cli(["score", str(bundle), str(clip), "--precision", "int8"]) == 2
    assert "has no int8 model" in _error(capsys)


def test_a_short_video_is_skipped_by_the_bundle_as_by_the_run(
    bundle: Path, clip: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """One rule for both paths (vadkit.scoring.core.skip_short and check_scorable): a short
    video is warned about and listed in 'skipped'; with no video left, nothing is written."""
    short = write_video(tmp_path / "short.avi", np.zeros((10, 40, 48), np.uint8))
    args = ["score", str(bundle), str(short), str(clip), "--name", "short", "-q"]
    assert run_cli(args) == 0
    out = capsys.readouterr()
    assert "warning: video 'short' has 10 frames, fewer than clip_length + 1 = 17" in out.err
    assert "Not scored: short (10 frames" in out.out
    record = json.loads((bundle / "scores" / "short" / "set.json").read_text())
    assert record["skipped"] == [{"name": "short", "num_frames": 10, "reason": "too short"}]
    assert [v["name"] for v in record["videos"]] == ["clip"]
    # and when no video is left: one message, nothing written (vadkit.scoring.core.check_scorable)
    assert run_cli(["score", str(bundle), str(short), "--name", "none", "-q"]) == 2
    assert "No video can be scored" in _error(capsys)
    assert not (bundle / "scores" / "none").exists()


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
    assert run_cli(["--plugin", str(plugin), "export", str(run), "--out", str(out)]) == 2
    err = _error(capsys)
    assert "Cannot export error measure 'extra'" in err and says in err
    assert not out.exists()


@pytest.mark.parametrize(
    ("kind", "name"),
    [("errors", "mse"), ("errors", "psnr"), ("errors", "pse"), ("errors", "bpe"),
     ("tasks", "vcr"), ("tasks", "ffp"), ("tasks", "prp"),
     ("backbones", "mae_vit"), ("tasks", "mfp"), ("errors", "l1")],
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
    assert run_cli([*args, "--device", "cpu", "--precision", "fp32"]) == 0
    ours = [r["raw"] for r in _frame_records(jsonl)]
    theirs = [r["raw"] for r in _frame_records(ref)]
    assert len(ours) == len(theirs) > 5
    for task in theirs[0]:
        a = np.array([r[task] for r in theirs])
        assert relative_difference(a, np.array([r[task] for r in ours])) <= RTOL, task


def test_the_runtime_feeds_the_graph_what_the_torch_path_feeds_the_model() -> None:
    """Same windows (the engine scorer's stacked windows vs data.windows), same pixel scaling
    and split (inside the graph vs window_batch), hence bit-equal scores in PyTorch."""
    import torch

    from vadkit.data.video import scale_pixels_
    from vadkit.data.windows import sliding_windows, window_batch
    from vadkit.export.graph import ScoringGraph
    from vadkit.model import VADModel
    from vadkit.scoring.core import sliding_view
    from vadkit.testing import TinyBackbone
    from vadkit.testing.export import _L1, _LastFrame

    frames = np.random.default_rng(1).integers(0, 256, (13, 32, 32, 1), dtype=np.uint8)
    ours = [
        (np.arange(s, min(s + 3, 5)) + 8, np.ascontiguousarray(sliding_view(frames[s : s + 11], 8)))
        for s in range(0, 5, 3)
    ]
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
    assert run_cli(["export", str(run), "--out", str(run / "nobundle")]) == 2
    err = _error(capsys)
    assert "needs the package(s) onnx" in err and "vadkit[deploy]" in err
    assert not (run / "nobundle").exists()


@pytest.fixture(scope="module")
def int8_bundle(run: Path) -> Path:
    """The run exported with an int8 model, under the rule as the run states it (0.99)."""
    out = run.parent / "bundle_int8"
    assert run_cli(["export", str(run), "--precision", "int8", "--out", str(out), "-q"]) == 0
    return out


@pytest.fixture(scope="module")
def lenient_int8_bundle(run: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """int8 of a copy of the run whose rule asks nothing (score.agreement_min = -1): kept for
    every engine that runs it, whatever the tiny model's scores."""
    import shutil

    copy = tmp_path_factory.mktemp("lenient") / "run"
    shutil.copytree(run, copy, ignore=shutil.ignore_patterns("scores", "nobundle"))
    config = copy / "config.toml"
    text = config.read_text()
    assert "agreement_min = 0.99" in text
    config.write_text(text.replace("agreement_min = 0.99", "agreement_min = -1.0"))
    out = copy.parent / "bundle"
    assert run_cli(["export", str(copy), "--precision", "int8", "--out", str(out), "-q"]) == 0
    return out


def test_int8_is_kept_only_where_its_scores_rank_windows_like_fp32(
    int8_bundle: Path, clip: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    meta = json.loads((int8_bundle / "bundle.json").read_text())
    record = meta["int8"]
    quant = record["quantization"]
    assert quant["format"] == "QDQ" and "per output channel" in quant["weights"]
    assert quant["calibration_windows"] > 0
    layers = quant["quantized_layers"]
    assert sum(n.startswith("/encoder/") for n in layers) == 4  # the 3-D convolutions
    assert not [n for n in layers if "ConvTranspose" in n or "bpe" in n or "pse" in n]
    rule = record["rule"]
    assert rule["min_spearman"] == 0.99 and rule["windows"] > 0
    assert rule["windows_from"] == "training windows between the calibration windows"
    assert "onnxruntime" in rule["runtimes"]
    for runtime, found in rule["runtimes"].items():
        if "why" in found:  # an engine that could not run it is not kept
            assert found["kept"] is False
            continue
        assert set(found["agreement"]) == {"vcr/bpe", "ffp/bpe", "prp/score", "fused"}
        values = [a["spearman"] for a in found["agreement"].values() if a["spearman"] is not None]
        assert found["lowest_spearman"] == min(values)
        assert found["kept"] == (min(values) >= 0.99), runtime
    kept = [name for name, found in rule["runtimes"].items() if found["kept"]]
    assert record["kept"] == kept
    assert (int8_bundle / "model_int8.onnx").exists() == bool(kept)
    assert ("model_int8.onnx" in meta["files"]) == bool(kept)
    assert meta["precisions"] == (["fp32", "int8"] if kept else ["fp32"])
    code = run_cli(["score", str(int8_bundle), str(clip), "--precision", "int8", "-q"])
    if kept:
        assert code == 0
    else:  # refused, naming the rule's value
        assert code == 2
        err = _error(capsys)
        lowest = rule["runtimes"]["onnxruntime"]["lowest_spearman"]
        assert "keeps no int8 model for onnxruntime" in err and f"{lowest:.4f}" in err


def test_an_int8_bundle_scores_in_int8_with_the_rule_value_it_records(
    lenient_int8_bundle: Path, torch_scores: Path, tiny_scene: Path
) -> None:
    import onnxruntime as ort
    from scipy.stats import spearmanr

    from vadkit.config import Settings
    from vadkit.export.quantize import rule_windows
    from vadkit.scoring.core import picked_windows

    bundle = lenient_int8_bundle
    meta = json.loads((bundle / "bundle.json").read_text())
    record = meta["int8"]
    assert record["file"] == "model_int8.onnx" and "onnxruntime" in record["kept"]
    assert meta["precisions"] == ["fp32", "int8"]
    assert meta["files"]["model_int8.onnx"] == file_digest(bundle / "model_int8.onnx")
    # the recorded agreement is Spearman's between the two files' scores on the rule's windows
    config = meta["config"]
    settings = Settings.from_config(config)
    *_, videos, picks, _ = rule_windows(config, None, settings.score.agreement_windows)
    assert len(picks) == record["rule"]["windows"]
    windows = np.concatenate(list(picked_windows(videos, picks, settings.data.clip_length, 8)))
    scores = {}
    for name in ("model.onnx", "model_int8.onnx"):
        session = ort.InferenceSession(str(bundle / name), providers=["CPUExecutionProvider"])
        outputs = [o.name for o in session.get_outputs()]
        scores[name] = dict(zip(outputs, session.run(None, {"windows": windows}), strict=True))
    found = record["rule"]["runtimes"]["onnxruntime"]["agreement"]
    for stream in ("vcr/bpe", "ffp/bpe"):
        rho = spearmanr(scores["model.onnx"][stream], scores["model_int8.onnx"][stream]).statistic
        assert found[stream]["spearman"] == pytest.approx(rho, abs=1e-9), stream
    # scoring: --precision int8 runs the int8 file (its scores are not fp32's)
    args = ["score", str(bundle), "--data", str(tiny_scene), "--name", "int8", "--frames", "all"]
    assert run_cli([*args, "--precision", "int8", "-q"]) == 0
    saved = json.loads((bundle / "scores" / "int8" / "set.json").read_text())
    assert saved["runtime"]["precision"] == "int8"
    ref, got = load_scores(torch_scores, "torch"), load_scores(bundle, "int8")
    diffs = [
        relative_difference(a.raw["vcr"]["bpe"], b.raw["vcr"]["bpe"])
        for a, b in zip(ref.videos, got.videos, strict=True)
    ]
    assert 1e-5 < max(diffs) < 0.5
    # watch with int8: normalizers and threshold fitted on int8's own scores of normal windows
    from vadkit.runtime.stream import bundle_stream_scorer
    from vadkit.stream import Calibration

    own = record["calibrations"]["onnxruntime"]
    assert own["normalizer"] == meta["calibration"]["normalizer"]
    assert len(own["scores"]["vcr"]["bpe"]) == record["rule"]["windows"]
    scorer = bundle_stream_scorer(bundle, device="onnxruntime", precision="int8")
    assert scorer.threshold == pytest.approx(Calibration.from_json(own).threshold)
    scorer = bundle_stream_scorer(bundle, device="onnxruntime", precision="fp32")
    assert scorer.threshold == pytest.approx(meta["calibration"]["threshold"]["value"])
    # --precision auto (the default) runs int8 where the bundle keeps it
    assert run_cli(["score", str(bundle), "--data", str(tiny_scene), "--name", "auto", "-q"]) == 0
    saved = json.loads((bundle / "scores" / "auto" / "set.json").read_text())
    assert saved["runtime"]["precision"] == "int8"
