"""Runtime speed: the exported bundle (ONNX Runtime, OpenVINO) against PyTorch, same scores.

Every variant scores the same windows of the same model (LUSS-AE: the full-width 3DCAE with the
vcr, ffp and prp heads, random weights: speed does not depend on them) and computes the same
streams: vcr and ffp with every registered error measure, prp's probability.

* ``pytorch fp32`` / ``pytorch bf16``: :func:`vadkit.inference.score.score_videos`, the pass behind
  ``vadkit score RUN`` (channels-last, bf16 under autocast);
* the authors' loop structure (fp32, contiguous, per-window reads, the decoder run twice):
  ``authors_variant`` of ``benchmarks/bench_score_speed.py``, scoring only;
* ``onnxruntime fp32``, ``openvino fp32``, ``openvino bf16``: the bundle's graph
  (:class:`vadkit.export.graph.ScoringGraph`, exported as ``vadkit export`` does) run by
  :class:`vadkit.runtime.scorer.EngineScorer` in :func:`vadkit.scoring.core.sliding_scores`, the
  pass behind ``vadkit score BUNDLE``;
* ``onnxruntime int8``, ``openvino int8``: the int8 model ``vadkit export --precision int8``
  writes (:func:`vadkit.export.quantize.quantize_int8`, calibrated here on the windows of another
  random video), run by the same pass.

Scoring: the whole video's windows in batches of ``--batch-size``. Streaming: frames pushed one
at a time to :class:`vadkit.stream.StreamScorer` / :class:`vadkit.runtime.stream.BundleStreamScorer`
(one window per run, what ``vadkit watch`` does while it keeps up). Every engine gets ``--threads``
threads. Repetitions are interleaved (the order rotates each round); ratios are medians over
rounds of paired ratios (two variants timed back to back in the same round), robust to load
from other processes on a shared machine.

Parity: a variant keeps fp32 parity when its largest relative difference to PyTorch fp32 is at
most 1e-4 on every stream. A reduced-precision variant meets the *rank rule* when it would pass
the rule that ``score.precision = "auto"`` and ``vadkit export --precision int8`` apply
(:func:`vadkit.inference.validation.rank_agreement` on the streams of
:func:`vadkit.export.quantize.rule_streams`: Spearman at least ``score.agreement_min`` for every
task's bpe/probability stream and for the fused calibrated score), here on the scored windows.
Only an fp32-parity runtime may become the bundles' default. Write the page with::

    .venv/bin/python benchmarks/bench_runtime.py --sizes 64 256 --repeats 5 --write

(``--quick``: a few windows at 64x64, to check that the script runs; ``--page-from FILE``:
rewrite the page from a saved ``--json`` result.)
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import torch
from bench_score_speed import AUTHORS, authors_variant, build_model, vadkit_variant
from bench_stream import run_config
from machine import cpu_record
from runtime_page import RANK_RULE, default_runtime, goals, page

from vadkit._version import __version__
from vadkit.data import Video
from vadkit.export.graph import INPUT_NAME, ScoringGraph
from vadkit.export.onnx import export_onnx
from vadkit.export.quantize import quantize_int8, rule_streams
from vadkit.export.writer import PARITY_RTOL, relative_difference
from vadkit.inference.scorer import ModelScorer, applicable_errors, scoring_runtime
from vadkit.inference.validation import rank_agreement
from vadkit.runtime.bundle import Bundle
from vadkit.runtime.bundlemeta import (
    BundleMeta,
    Defaults,
    EngineCheck,
    ErrorInfo,
    ExportInfo,
    InputSpec,
    ModelFile,
    RunSource,
)
from vadkit.runtime.engines import Engine, OnnxRuntimeEngine, OpenVinoEngine, installed
from vadkit.runtime.scorer import EngineScorer
from vadkit.runtime.stream import BundleStreamScorer
from vadkit.scoring.core import WindowScores, sliding_scores, sliding_view
from vadkit.storage.io import file_digest
from vadkit.stream import Calibration, StreamScorer

ROOT = Path(__file__).resolve().parents[1]
PAGE = ROOT / "docs" / "benchmarks" / "runtime.md"
TORCH32, TORCH16 = "pytorch fp32", "pytorch bf16"
ERROR = "bpe"
Scores = dict[str, dict[str, np.ndarray]]


def engines(onnx: Path, int8: Path, threads: int) -> dict[str, Callable[[], Engine]]:
    """The bundle engines to time; OpenVINO bf16 only on a CPU with bf16 (else it runs fp32)."""
    cpu = ["CPUExecutionProvider"]
    out: dict[str, Callable[[], Engine]] = {
        "onnxruntime fp32": lambda: OnnxRuntimeEngine(str(onnx), cpu, threads),
        "onnxruntime int8": lambda: OnnxRuntimeEngine(str(int8), cpu, threads, "int8"),
    }
    if installed("openvino"):
        precisions = ["fp32", "bf16"] if "BF16" in _ov_capabilities() else ["fp32"]
        for prec in precisions:
            out[f"openvino {prec}"] = lambda p=prec: OpenVinoEngine(str(onnx), p, threads=threads)
        out["openvino int8"] = lambda: OpenVinoEngine(str(int8), "int8", threads=threads)
    return out


def bundle_variant(engine: Engine, frames: np.ndarray, t: int, bs: int) -> Callable:
    scorer = EngineScorer(engine, t, frames.shape[1:])

    def run() -> dict[str, dict[str, np.ndarray]]:
        parts = [scores for _, scores in sliding_scores(scorer, frames, bs)]
        return WindowScores.concat(parts).by_task()

    return run


def window_batches(frames: np.ndarray, t: int, bs: int) -> Iterator[np.ndarray]:
    """The uint8 windows of consecutive ``frames``, ``bs`` at a time."""
    windows = sliding_view(frames, t)
    for s0 in range(0, len(windows), bs):
        yield np.ascontiguousarray(windows[s0 : s0 + bs])


def bench_meta(
    graph: ScoringGraph, errors: dict[str, Any], onnx: Path, calibration: Calibration
) -> BundleMeta:
    """The ``bundle.json`` of the benchmark's graph, as ``vadkit export`` writes it (the run, the
    export checks and the plugins made up: a stream scorer does not read them)."""
    t, (height, width) = graph.clip_length, graph.frame_hw
    not_run = EngineCheck(checked=False, why="not checked by the benchmark")
    return BundleMeta(
        created="",
        vadkit=__version__,
        run=RunSource("(benchmark)", "(random weights)", None, file_digest(onnx)),
        input=InputSpec(
            INPUT_NAME, ("batch", *graph.window_shape), "uint8", "(batch, T+1, H, W, C)"
        ),
        clip_length=t,
        size=(height, width),
        color="gray",
        channels=graph.channels,
        tasks=("vcr", "ffp", "prp"),
        error_tasks=("vcr", "ffp"),
        errors={k: ErrorInfo(bool(e.higher_is_anomalous)) for k, e in errors.items()},
        outputs=tuple(graph.outputs),
        defaults=Defaults(ERROR, calibration.normalizer, dict(calibration.alphas)),
        calibration=calibration.to_json(),
        config=run_config(height, t, "fp32"),
        models={"onnxruntime": ModelFile(onnx.name)},
        precisions=("fp32",),
        runtime="onnxruntime",
        export=ExportInfo("torch.onnx.export (TorchScript)", not_run, not_run),
        plugins={},
        files={onnx.name: file_digest(onnx)},
    )


def flat(scores: Scores) -> dict[str, np.ndarray]:
    """``[task][key]`` -> ``"task/key"`` (the graph's output names)."""
    return {f"{task}/{key}": v for task, keys in scores.items() for key, v in keys.items()}


def relative(a: Scores, b: Scores) -> float:
    """Largest relative difference over every stream."""
    fb = flat(b)
    return max(relative_difference(v, fb[name]) for name, v in flat(a).items())


def rank_rule(ref: Scores, other: Scores, calibration: Calibration) -> dict[str, Any]:
    """The rank rule of reduced precisions (``score.precision = "auto"``, int8 export)."""
    kept, agreement = rank_agreement(
        rule_streams(flat(ref), calibration, ERROR),
        rule_streams(flat(other), calibration, ERROR),
        RANK_RULE,
    )
    values = [v for a in agreement.values() if (v := a["spearman"]) is not None]
    return {"kept": kept, "lowest_spearman": round(min(values), 6) if values else None}


def timed(variants: dict[str, Callable], repeats: int) -> dict[str, list[float]]:
    names = list(variants)
    times: dict[str, list[float]] = {n: [] for n in names}
    for rep in range(repeats):
        for n in names[rep % len(names) :] + names[: rep % len(names)]:
            start = time.perf_counter()
            variants[n]()
            times[n].append(time.perf_counter() - start)
    return times


def paired(times: dict[str, list[float]], fast: str, slow: str) -> float:
    pairs = zip(times[fast], times[slow], strict=True)
    return round(statistics.median(b / a for a, b in pairs), 3)


def one_size(size: int, args: argparse.Namespace, tmp: Path) -> dict[str, Any]:
    t, bs = args.clip_length, args.batch_size
    rng = np.random.default_rng(0)
    frames = rng.integers(0, 256, (args.frames, size, size, 1), dtype=np.uint8)
    video = Video.from_array("bench", frames)
    n_win = args.frames - t
    model = build_model(size, t)
    errors = applicable_errors(None, (1, size, size))
    graph = ScoringGraph(model, errors).eval()
    onnx, int8 = tmp / f"model{size}.onnx", tmp / f"model{size}_int8.onnx"
    export_onnx(graph, onnx)
    # int8 calibrated as `vadkit export --precision int8` does, on windows of another video
    other = rng.integers(0, 256, (t + args.calibration_windows, size, size, 1), dtype=np.uint8)
    quantization = quantize_int8(onnx, int8, lambda: window_batches(other, t, bs))
    made: dict[str, Engine] = {}
    failed: dict[str, str] = {}
    for name, make in engines(onnx, int8, args.threads).items():
        try:
            made[name] = make()
        except Exception as exc:  # e.g. an engine that cannot compile this graph
            failed[name] = " ".join(str(exc).split())[-300:]
    torch_precisions = ["fp32", "bf16"] if size in args.torch_bf16_sizes else ["fp32"]
    scoring: dict[str, Callable] = {
        f"pytorch {p}": vadkit_variant(build_model(size, t), video, t, bs, p)
        for p in torch_precisions
    }
    scoring[AUTHORS] = authors_variant(build_model(size, t), video, t, bs)
    scoring |= {name: bundle_variant(e, frames, t, bs) for name, e in made.items()}
    outputs = {n: f() for n, f in scoring.items()}  # warm-up, and the scores compared
    ref = outputs[TORCH32]
    parity = {n: relative(ref, o) for n, o in outputs.items() if n != TORCH32}
    # the calibration a bundle carries: fp32 scores of normal windows (here the first half)
    calibration = Calibration(
        scores={
            t_: {k: v[: max(2, n_win // 2)] for k, v in keys.items()} for t_, keys in ref.items()
        },
        error=ERROR,
        alphas={"vcr": 1.0, "ffp": 1.0, "prp": 1.0},
        normalizer="minmax",
    )
    rules = {n: rank_rule(ref, o, calibration) for n, o in outputs.items() if n != TORCH32}
    times = timed(scoring, args.repeats)
    # streaming: one frame per push, frames already preprocessed (what the reader hands over)
    bundle = Bundle(tmp, bench_meta(graph, errors, onnx, calibration))
    stream_frames = list(frames[: t + args.stream_windows])

    def streamer(make: Callable[[], Any]) -> Callable:
        def run() -> None:
            scorer = make()
            for f in stream_frames:
                scorer.push_many([f], preprocessed=True)

        return run

    config = run_config(size, t, "fp32")
    streaming: dict[str, Callable] = {}
    for prec in torch_precisions:
        streaming[f"pytorch {prec}"] = streamer(
            lambda p=prec, m=build_model(size, t): StreamScorer(
                ModelScorer(
                    m,
                    applicable_errors([ERROR], (1, size, size)),
                    scoring_runtime("cpu", p, channels_last=True),
                ),
                config,
                calibration=calibration,
                max_batch=1,
            )
        )
    for name, engine in made.items():
        streaming[name] = streamer(
            lambda e=engine: BundleStreamScorer(bundle, e, calibration=calibration, max_batch=1)
        )
    for f in streaming.values():
        f()  # warm-up
    stimes = timed(streaming, args.repeats)

    def versus(times: dict[str, list[float]], slow: str) -> dict[str, float]:
        return {n: paired(times, n, slow) for n in times} if slow in times else {}

    return {
        "windows": n_win,
        "stream_windows": args.stream_windows,
        "scoring_fps": {n: round(n_win / statistics.median(v), 2) for n, v in times.items()},
        "streaming_fps": {
            n: round(args.stream_windows / statistics.median(v), 2) for n, v in stimes.items()
        },
        "scoring_vs_pytorch_fp32": versus(times, TORCH32),
        "scoring_vs_pytorch_bf16": versus(times, TORCH16),
        "scoring_vs_authors": versus(times, AUTHORS),
        "streaming_vs_pytorch_fp32": versus(stimes, TORCH32),
        "max_rel_diff_vs_pytorch_fp32": parity,
        "fp32_parity": {n: d <= PARITY_RTOL for n, d in parity.items()},
        "rank_rule": rules,
        "engines_failed": failed,
        "int8_quantization": quantization,
        "seconds": {n: [round(x, 3) for x in v] for n, v in times.items()},
    }


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[64, 256])
    parser.add_argument("--clip-length", type=int, default=16)
    parser.add_argument("--frames", type=int, default=40, help="frames of the scored video")
    parser.add_argument("--stream-windows", type=int, default=8, help="windows streamed")
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    parser.add_argument(
        "--torch-bf16-sizes",
        type=int,
        nargs="*",
        default=[64],
        help="sizes at which PyTorch bf16 runs (a CPU without bf16 instructions emulates it)",
    )
    parser.add_argument(
        "--calibration-windows", type=int, default=32, help="windows that calibrate int8"
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="a few windows at 64x64, one round: checks that the script runs (no measurement)",
    )
    parser.add_argument("--json", help="also write the results to this file")
    parser.add_argument("--write", action="store_true", help=f"write {PAGE.relative_to(ROOT)}")
    parser.add_argument("--page", type=Path, default=PAGE, help="the page --write writes")
    parser.add_argument("--page-from", help="only rewrite the page from this --json result")
    args = parser.parse_args(argv)
    if args.quick:
        args.sizes, args.frames, args.batch_size = [64], args.clip_length + 2, 2
        args.stream_windows, args.repeats, args.calibration_windows = 1, 1, 2
    if args.page_from:
        saved: dict[str, Any] = json.loads(Path(args.page_from).read_text(encoding="utf-8"))
        write_page(saved, args.page)
        return saved
    torch.set_num_threads(args.threads)
    load = [round(x, 2) for x in os.getloadavg()]
    with tempfile.TemporaryDirectory(prefix="vadkit-bench-runtime-") as tmp:
        sizes = {str(s): one_size(s, args, Path(tmp)) for s in args.sizes}
    result = {
        "settings": {
            "sizes": args.sizes,
            "clip_length": args.clip_length,
            "batch_size": args.batch_size,
            "repeats": args.repeats,
            "threads": args.threads,
            "torch_bf16_sizes": args.torch_bf16_sizes,
            "cpu_bf16": "BF16" in _ov_capabilities(),
            "cpu_int8": _int8_instructions(),
            "quick": args.quick,
        },
        "machine": {
            "cpu": platform.processor() or platform.machine(),
            "cores": os.cpu_count(),
            "cpu_record": cpu_record(),
            "torch": torch.__version__,
            "versions": _versions(),
            "python": platform.python_version(),
            "load_average": load,
        },
        "command": "python benchmarks/bench_runtime.py " + " ".join(argv or []),
        "sizes": sizes,
        "default": default_runtime(sizes),
        "goals": goals(sizes),
    }
    text = json.dumps(result, indent=2)
    print(text)
    if args.json:
        Path(args.json).write_text(text + "\n", encoding="utf-8")
    if args.write:
        write_page(result, args.page)
    return result


def write_page(result: dict[str, Any], path: Path = PAGE) -> None:
    """Write the page from a result (also: ``--page-from RESULT.json``, no new run)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(page(result), encoding="utf-8")
    print(f"Written: {path}")


def _ov_capabilities() -> list[str]:
    if not installed("openvino"):
        return []
    import openvino as ov

    return list(ov.Core().get_property("CPU", "OPTIMIZATION_CAPABILITIES"))


def _int8_instructions() -> list[str]:
    """The CPU's int8 dot-product instructions (VNNI, AMX), which int8 kernels need to gain."""
    try:
        flags = set(Path("/proc/cpuinfo").read_text(encoding="utf-8").split())
    except OSError:
        return []
    return sorted(flags & {"avx512_vnni", "avx_vnni", "amx_int8"})


def _versions() -> dict[str, str]:
    out = {}
    for module in ("onnxruntime", "openvino"):
        if installed(module):
            mod = __import__(module)
            out[module] = str(getattr(mod, "__version__", "?"))
    return out


if __name__ == "__main__":
    main(sys.argv[1:])
