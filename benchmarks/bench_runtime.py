"""Runtime speed: the exported bundle (ONNX Runtime, OpenVINO) against PyTorch, same scores.

Every variant scores the same windows of the same model (LUSS-AE: the full-width 3DCAE with the
vcr, ffp and prp heads, random weights: speed does not depend on them) and computes the same
streams: vcr and ffp with every registered error measure, prp's probability.

* ``pytorch fp32`` / ``pytorch bf16``: :func:`vadkit.engine.score.score_videos`, the pass behind
  ``vadkit score RUN`` (channels-last, bf16 under autocast);
* ``onnxruntime fp32``, ``openvino fp32``, ``openvino bf16``: the bundle's graph
  (:class:`vadkit.export.graph.ScoringGraph`, exported as ``vadkit export`` does) run by
  :func:`vadkit.runtime.windows.score_frames`, the pass behind ``vadkit score BUNDLE``.

Scoring: the whole video's windows in batches of ``--batch-size``. Streaming: frames pushed one
at a time to :class:`vadkit.stream.StreamScorer` / :class:`vadkit.runtime.stream.BundleStreamScorer`
(one window per run, what ``vadkit watch`` does while it keeps up). Every engine gets ``--threads``
threads. Repetitions are interleaved (the order rotates each round); ratios are medians over
rounds of paired ratios (two variants timed back to back in the same round), robust to load
from other processes on a shared machine.

Parity: a variant keeps fp32 parity when its largest relative difference to PyTorch fp32 is at
most 1e-4 on every stream. A reduced-precision variant is *acceptable* under a rule fixed before
any label is seen: on these (label-free) windows, the Spearman rank correlation of its fused
score (min-max per stream, weights 1, bpe) with fp32's is at least 0.999. Only an fp32-parity
runtime may become the bundles' default. Run::

    .venv/bin/python benchmarks/bench_runtime.py --sizes 64 256 --repeats 3 --write
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
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
from bench_score_speed import build_model, vadkit_variant
from bench_stream import run_config
from scipy.stats import spearmanr

from vadkit.data import Video
from vadkit.engine.score import applicable_errors
from vadkit.export.graph import ScoringGraph
from vadkit.export.onnx import export_onnx
from vadkit.export.writer import PARITY_RTOL
from vadkit.runtime.bundle import Bundle
from vadkit.runtime.engines import Engine, OnnxRuntimeEngine, OpenVinoEngine, installed
from vadkit.runtime.stream import BundleStreamScorer
from vadkit.runtime.windows import score_frames, split_output
from vadkit.stream import Calibration, StreamScorer

ROOT = Path(__file__).resolve().parents[1]
PAGE = ROOT / "docs" / "benchmarks" / "runtime.md"
TORCH32 = "pytorch fp32"
RANK_RULE = 0.999
ERROR = "bpe"


def engines(onnx: Path, threads: int) -> dict[str, Callable[[], Engine]]:
    out: dict[str, Callable[[], Engine]] = {
        "onnxruntime fp32": lambda: OnnxRuntimeEngine(str(onnx), ["CPUExecutionProvider"], threads)
    }
    if installed("openvino"):
        import openvino as ov

        precisions = ["fp32"]
        if "BF16" in ov.Core().get_property("CPU", "OPTIMIZATION_CAPABILITIES"):
            precisions.append("bf16")  # else OpenVINO would silently run fp32
        for prec in precisions:
            out[f"openvino {prec}"] = lambda p=prec: OpenVinoEngine(str(onnx), p, threads=threads)
    return out


def bundle_variant(engine: Engine, frames: np.ndarray, t: int, bs: int) -> Callable:
    def run() -> dict[str, dict[str, np.ndarray]]:
        parts: dict[str, list[np.ndarray]] = {}
        for _, streams in score_frames(engine, frames, t, bs):
            for name, values in streams.items():
                parts.setdefault(name, []).append(values)
        out: dict[str, dict[str, np.ndarray]] = {}
        for name, chunks in parts.items():
            task, key = split_output(name)
            out.setdefault(task, {})[key] = np.concatenate(chunks)
        return out

    return run


def bench_meta(graph: ScoringGraph, size: int, t: int, errors: dict[str, Any]) -> dict[str, Any]:
    """The parts of ``bundle.json`` a stream scorer reads."""
    return {
        "config": run_config(size, t, "fp32"),
        "clip_length": t,
        "size": [size, size],
        "color": "gray",
        "channels": 1,
        "tasks": ["vcr", "ffp", "prp"],
        "error_tasks": ["vcr", "ffp"],
        "errors": {k: {"higher_is_anomalous": e.higher_is_anomalous} for k, e in errors.items()},
        "outputs": graph.outputs,
    }


def relative(a: dict, b: dict) -> float:
    worst = 0.0
    for task, keys in a.items():
        for key, values in keys.items():
            scale = np.maximum(np.maximum(np.abs(values), np.abs(b[task][key])), 1e-6)
            worst = max(worst, float(np.max(np.abs(values - b[task][key]) / scale)))
    return worst


def fused(out: dict) -> np.ndarray:
    total = np.zeros_like(out["prp"]["score"])
    for keys in out.values():
        s = keys.get(ERROR, keys.get("score"))
        total = total + (s - s.min()) / max(float(np.ptp(s)), 1e-12)
    return total


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
    onnx = tmp / f"model{size}.onnx"
    export_onnx(graph, onnx)
    made = {name: make() for name, make in engines(onnx, args.threads).items()}
    torch_precisions = ["fp32", "bf16"] if size in args.torch_bf16_sizes else ["fp32"]
    scoring: dict[str, Callable] = {
        f"pytorch {p}": vadkit_variant(build_model(size, t), video, t, bs, p)
        for p in torch_precisions
    }
    scoring |= {name: bundle_variant(e, frames, t, bs) for name, e in made.items()}
    outputs = {n: f() for n, f in scoring.items()}  # warm-up, and the scores compared
    ref = outputs[TORCH32]
    parity = {n: relative(ref, o) for n, o in outputs.items() if n != TORCH32}
    ranks = {n: float(spearmanr(fused(ref), fused(o))[0]) for n, o in outputs.items()}
    times = timed(scoring, args.repeats)
    # streaming: one frame per push, frames already preprocessed (what the reader hands over)
    calibration = Calibration(
        scores={
            t_: {k: v[: max(2, n_win // 2)] for k, v in keys.items()} for t_, keys in ref.items()
        },
        error=ERROR,
        alphas={"vcr": 1.0, "ffp": 1.0, "prp": 1.0},
        normalizer="minmax",
    )
    bundle = Bundle(tmp, bench_meta(graph, size, t, errors))
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
                m, config, device="cpu", precision=p, calibration=calibration, max_batch=1
            )
        )
    for name, engine in made.items():
        streaming[name] = streamer(
            lambda e=engine: BundleStreamScorer(bundle, e, calibration=calibration, max_batch=1)
        )
    for f in streaming.values():
        f()  # warm-up
    stimes = timed(streaming, args.repeats)
    return {
        "windows": n_win,
        "stream_windows": args.stream_windows,
        "scoring_fps": {n: round(n_win / statistics.median(v), 2) for n, v in times.items()},
        "streaming_fps": {
            n: round(args.stream_windows / statistics.median(v), 2) for n, v in stimes.items()
        },
        "scoring_vs_pytorch_fp32": {n: paired(times, n, TORCH32) for n in times},
        "streaming_vs_pytorch_fp32": {n: paired(stimes, n, TORCH32) for n in stimes},
        "scoring_vs_pytorch_bf16": {
            n: paired(times, n, "pytorch bf16") for n in times if "pytorch bf16" in times
        },
        "max_rel_diff_vs_pytorch_fp32": parity,
        "fp32_parity": {n: d <= PARITY_RTOL for n, d in parity.items()},
        "fused_rank_correlation_vs_fp32": {n: round(r, 6) for n, r in ranks.items()},
        "seconds": {n: [round(x, 3) for x in v] for n, v in (times | {}).items()},
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
    parser.add_argument("--json", help="also write the results to this file")
    parser.add_argument("--write", action="store_true", help=f"write {PAGE.relative_to(ROOT)}")
    parser.add_argument("--page-from", help="only rewrite the page from this --json result")
    args = parser.parse_args(argv)
    if args.page_from:
        saved: dict[str, Any] = json.loads(Path(args.page_from).read_text(encoding="utf-8"))
        write_page(saved)
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
        },
        "machine": {
            "cpu": platform.processor() or platform.machine(),
            "cores": os.cpu_count(),
            "torch": torch.__version__,
            "versions": _versions(),
            "python": platform.python_version(),
            "load_average": load,
        },
        "command": "python benchmarks/bench_runtime.py " + " ".join(argv or []),
        "sizes": sizes,
        "default": default_runtime(sizes),
    }
    text = json.dumps(result, indent=2)
    print(text)
    if args.json:
        Path(args.json).write_text(text + "\n", encoding="utf-8")
    if args.write:
        write_page(result)
    return result


def write_page(result: dict[str, Any]) -> None:
    """Write :data:`PAGE` from a result (also: ``--page-from RESULT.json``, no new run)."""
    PAGE.parent.mkdir(parents=True, exist_ok=True)
    PAGE.write_text(page(result), encoding="utf-8")
    print(f"Written: {PAGE}")


def _ov_capabilities() -> list[str]:
    if not installed("openvino"):
        return []
    import openvino as ov

    return list(ov.Core().get_property("CPU", "OPTIMIZATION_CAPABILITIES"))


def _versions() -> dict[str, str]:
    out = {}
    for module in ("onnxruntime", "openvino"):
        if installed(module):
            mod = __import__(module)
            out[module] = str(getattr(mod, "__version__", "?"))
    return out


def default_runtime(sizes: dict[str, Any]) -> dict[str, Any]:
    """The fp32-parity bundle runtime with the best median (over sizes) paired scoring speedup
    against PyTorch fp32."""
    names = [n for n in ("onnxruntime fp32", "openvino fp32")
             if all(s["fp32_parity"].get(n) for s in sizes.values())]  # fmt: skip
    speed = {n: statistics.median(s["scoring_vs_pytorch_fp32"][n] for s in sizes.values())
             for n in names}  # fmt: skip
    best = max(speed, key=lambda n: speed[n])
    return {"runtime": best.split()[0], "speedup_vs_pytorch_fp32": round(speed[best], 3),
            "candidates": speed}  # fmt: skip


def _ratio(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}x"


def page(r: dict[str, Any]) -> str:
    s, m, d = r["settings"], r["machine"], r["default"]
    blocks = []
    for size, res in r["sizes"].items():
        rows = []
        for name in res["scoring_fps"]:
            par = res["max_rel_diff_vs_pytorch_fp32"].get(name)
            rank = res["fused_rank_correlation_vs_fp32"][name]
            keeps = "reference" if par is None else (
                "fp32 parity" if par <= PARITY_RTOL else
                ("rank rule met" if rank >= RANK_RULE else "**rank rule not met**"))  # fmt: skip
            rows.append(
                f"| {name} | {res['scoring_fps'][name]:.1f} | "
                f"{res['scoring_vs_pytorch_fp32'][name]:.2f}x | "
                f"{_ratio(res['scoring_vs_pytorch_bf16'].get(name))} | "
                f"{res['streaming_fps'][name]:.1f} | "
                f"{res['streaming_vs_pytorch_fp32'][name]:.2f}x | "
                f"{'-' if par is None else f'{par:.1e}'} | {rank:.4f} | {keeps} |"
            )
        blocks.append(
            f"### {size} x {size}\n\n{res['windows']} windows scored in batches of "
            f"{s['batch_size']}; {res['stream_windows']} window(s) streamed one frame at a time.\n\n"
            "| variant | scoring frames/s | vs PyTorch fp32 | vs PyTorch bf16 | streaming "
            "frames/s | vs PyTorch fp32 | max rel. diff vs fp32 | fused rank corr. | keeps |\n"
            "|---|---:|---:|---:|---:|---:|---:|---:|---|\n" + "\n".join(rows)
        )
    versions = ", ".join(f"{k} {v}" for k, v in m["versions"].items())
    return f"""# Runtime speed

How fast an exported bundle scores with ONNX Runtime and OpenVINO, against PyTorch, on the same
windows with the same scores. Written by `benchmarks/bench_runtime.py`.

Model: LUSS-AE (full-width 3DCAE with the vcr, ffp and prp heads; random weights, which do not
change the speed), T = {s["clip_length"]}; every variant computes every stream (vcr and ffp with
every registered error measure, prp's probability). Machine: {m["cpu"]}, {m["cores"]} cores
shared with other processes (load average {m["load_average"][0]:.1f} at the start), every engine
limited to {s["threads"]} thread(s); torch {m["torch"]}, {versions}, Python {m["python"]}.
Medians of {s["repeats"]} interleaved rounds; the ratios are medians over rounds of paired
ratios (both variants timed in the same round), which load from other processes affects less
than the frames/s columns.

{(chr(10) * 2).join(blocks)}

- **Default runtime of bundles: {d["runtime"]}**, the fp32-parity runtime with the best median
  scoring speedup over PyTorch fp32 across the sizes: **{d["speedup_vs_pytorch_fp32"]:.2f}x**
  (candidates: {", ".join(f"{k} {v:.2f}x" for k, v in d["candidates"].items())}). `vadkit export`
  records it in `bundle.json` (`vadkit.runtime.bundle.DEFAULT_RUNTIME`); OpenVINO would be
  recorded only for a graph it compiles with fp32 parity.
- *fp32 parity*: largest relative difference to PyTorch fp32 at most {PARITY_RTOL:g} on every
  stream. Reduced precision (OpenVINO bf16, PyTorch bf16) is judged by a rule fixed before any
  label was seen: Spearman rank correlation of the fused score (min-max per stream, weights 1,
  bpe) with fp32's at least {RANK_RULE} on these windows. It is never a bundle's default;
  `--device openvino --precision bf16` selects it. int8 was not measured: it needs a
  post-training quantization pass (NNCF) with a calibration set, not part of vadkit.
- *bf16 on this machine*: its CPU {"has" if s["cpu_bf16"] else "has **no**"} bf16 instructions
  (OpenVINO's CPU capabilities: {"BF16 listed" if s["cpu_bf16"] else "no BF16"}).
  {
        ""
        if s["cpu_bf16"]
        else "PyTorch emulates bf16 there, far slower than fp32, so it ran only at "
        + ", ".join(f"{x} x {x}" for x in s["torch_bf16_sizes"])
        + "; OpenVINO bf16 would silently run "
        "fp32, so it is left out (the runtime refuses `--precision bf16` on such a CPU). The issue's "
        "bf16 goals need a CPU with bf16 support (e.g. AVX512-BF16 or AMX) to be measured."
    }
- *Streaming* pushes one preprocessed frame at a time (one window per network run), as `vadkit
  watch` does while it keeps up; the per-frame overhead (buffer, normalizers, fusion) is the
  same code for both.

Produced by:

```bash
{r["command"]}
```
"""


if __name__ == "__main__":
    main(sys.argv[1:])
