"""Streaming speed: frames per second and per-frame latency of live scoring, against offline.

Every variant scores the same frames with the same model (LUSS-AE: the full-width 3DCAE with the
vcr, ffp and prp heads, random weights: speed does not depend on them) and the same error
measure (bpe), so that the differences come from how windows are formed and batched:

* ``offline``: :func:`vadkit.inference.score.score_videos`, the pass behind ``vadkit score``
  (the whole video decoded first, windows in batches of ``--batch-size``);
* ``stream, 1 window per run``: :class:`vadkit.stream.StreamScorer` fed one frame at a
  time (``push``): the lowest latency, what ``vadkit watch`` does while it keeps up;
* ``stream, catching up``: frames pushed ``--max-batch`` at a time (``push_many``), what
  ``vadkit watch`` does when frames queue up behind the model;
* ``watch pipeline``: :func:`vadkit.stream.run_stream` on an FFV1 file of
  ``--source-size`` frames: PyAV decoding and resizing in the reader thread, scoring with
  ``--max-batch``, i.e. ``vadkit watch FILE`` without the terminal output.

Latency is the time ``push`` takes for one frame (median and 95th percentile): the delay between
a frame's arrival and its scores when the model keeps up. The stream's raw scores are checked
against the offline ones. Repetitions are interleaved (the order rotates each round) so that
load from other processes hits every variant alike. Run::

    .venv/bin/python benchmarks/bench_stream.py --size 64 --frames 40 --repeats 3 --threads 1 --write
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

sys.path.insert(0, str(Path(__file__).resolve().parent))
from machine import cpu_record, describe_cpu

from vadkit.api import create_backbone, create_task
from vadkit.data import Video
from vadkit.data.live import FrameReader
from vadkit.inference.score import score_videos
from vadkit.inference.scorer import ModelScorer, applicable_errors, scoring_runtime
from vadkit.model import VADModel
from vadkit.stream import StreamScorer, run_stream

ROOT = Path(__file__).resolve().parents[1]
PAGE = ROOT / "docs" / "benchmarks" / "stream.md"
ERROR = "bpe"
CAMERA_FPS = 25.0


def build_model(size: int, clip_length: int, seed: int = 0) -> VADModel:
    torch.manual_seed(seed)
    backbone = create_backbone("cae3d")
    tasks = {n: create_task(n) for n in ("vcr", "ffp", "prp")}
    return VADModel(backbone, tasks, (1, clip_length, size, size)).eval()


def run_config(size: int, clip_length: int, precision: str) -> dict[str, Any]:
    return {
        "data": {"clip_length": clip_length, "size": [size, size], "color": "gray"},
        "score": {"error": ERROR, "precision": precision},
        "train": {"channels_last": True},
    }


def write_source(path: Path, frames: np.ndarray, rate: int = 25) -> Path:
    import av

    with av.open(str(path), "w") as container:
        stream = container.add_stream("ffv1", rate=rate)
        stream.width, stream.height, stream.pix_fmt = frames.shape[2], frames.shape[1], "gray"
        for image in frames:
            container.mux(stream.encode(av.VideoFrame.from_ndarray(image, format="gray")))
        container.mux(stream.encode())
    return path


def raw_of(scores: list[Any]) -> dict[str, np.ndarray]:
    return {t: np.array([s.raw[t] for s in scores]) for t in scores[0].raw}


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--size", type=int, default=64, help="the model's frame size")
    parser.add_argument("--clip-length", type=int, default=16)
    parser.add_argument("--frames", type=int, default=48, help="frames of the test stream")
    parser.add_argument("--source-size", default="320x240", help="WxH of the encoded stream")
    parser.add_argument("--batch-size", type=int, default=32, help="offline windows per batch")
    parser.add_argument("--max-batch", type=int, default=8, help="stream windows per batch")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--precision", default="fp32")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    parser.add_argument("--json", help="also write the results to this file")
    parser.add_argument("--write", action="store_true", help=f"write {PAGE.relative_to(ROOT)}")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    load = [round(x, 2) for x in os.getloadavg()]
    t, size = args.clip_length, args.size
    width, height = (int(v) for v in args.source_size.lower().split("x"))
    rng = np.random.default_rng(0)
    native = rng.integers(0, 256, (args.frames, height, width), dtype=np.uint8)
    tmp = Path(tempfile.mkdtemp(prefix="vadkit-bench-stream-"))
    source = write_source(tmp / "stream.avi", native)
    config = run_config(size, t, args.precision)

    runtime = scoring_runtime(args.device, args.precision, channels_last=True)
    errors = applicable_errors([ERROR], (1, size, size), runtime.device)

    def scorer(max_batch: int) -> StreamScorer:
        window_scorer = ModelScorer(build_model(size, t), errors, runtime)
        return StreamScorer(window_scorer, config, error=ERROR, max_batch=max_batch)

    one, catching_up, piped = scorer(1), scorer(args.max_batch), scorer(args.max_batch)
    frames = [one.preprocess(f) for f in native]  # what the reader hands over
    video = Video.from_array("bench", np.stack(frames))
    offline_model = build_model(size, t)
    runtime.prepare(offline_model)
    latencies: list[float] = []

    def offline() -> dict[str, np.ndarray]:
        (out,) = score_videos(
            offline_model,
            [video],
            clip_length=t,
            errors=errors,
            runtime=runtime,
            batch_size=args.batch_size,
        )
        return {task: out.stream(task, ERROR) for task in out.raw}

    def stream_one() -> dict[str, np.ndarray]:
        one.reset()
        out = []
        for f in frames:
            start = time.perf_counter()
            got = one.push_many([f], preprocessed=True)
            if got:
                latencies.append(time.perf_counter() - start)
            out += got
        return raw_of(out)

    def stream_batched() -> dict[str, np.ndarray]:
        catching_up.reset()
        out = []
        for i in range(0, len(frames), args.max_batch):
            out += catching_up.push_many(frames[i : i + args.max_batch], preprocessed=True)
        return raw_of(out)

    def pipeline() -> dict[str, np.ndarray]:
        piped.reset()
        reader = FrameReader(source, preprocess=piped.preprocess)
        got: list[Any] = []
        run_stream(piped, reader, on_scores=got.extend)
        return raw_of(got)

    variants: dict[str, Callable[[], dict[str, np.ndarray]]] = {
        "offline (vadkit score)": offline,
        "stream, 1 window per run": stream_one,
        f"stream, catching up ({args.max_batch} per run)": stream_batched,
        "watch pipeline (decode + resize + score)": pipeline,
    }
    names = list(variants)
    outputs = {n: variants[n]() for n in names}  # warm-up, and the scores to compare
    latencies.clear()
    times: dict[str, list[float]] = {n: [] for n in names}
    for rep in range(args.repeats):
        order = names[rep % len(names) :] + names[: rep % len(names)]
        for n in order:
            start = time.perf_counter()
            variants[n]()
            times[n].append(time.perf_counter() - start)
    n_win = args.frames - t
    fps = {n: n_win / statistics.median(times[n]) for n in names}
    reference = outputs[names[0]]
    worst = 0.0
    for n in names[1:]:
        for task, values in outputs[n].items():
            scale = np.maximum(np.abs(reference[task]), 1e-6)
            worst = max(worst, float(np.max(np.abs(values - reference[task]) / scale)))
    lat = np.array(latencies) * 1000.0
    result = {
        "settings": {
            "size": size,
            "clip_length": t,
            "frames": args.frames,
            "windows": n_win,
            "source": f"{width}x{height} FFV1, gray",
            "batch_size": args.batch_size,
            "max_batch": args.max_batch,
            "device": str(runtime.device),
            "precision": runtime.precision,
            "error": ERROR,
            "repeats": args.repeats,
            "threads": args.threads,
        },
        "machine": {
            "cpu": platform.processor() or platform.machine(),
            "cores": os.cpu_count(),
            "cpu_record": cpu_record(),
            "gpu": torch.cuda.get_device_name(0) if runtime.device.type == "cuda" else None,
            "torch": torch.__version__,
            "python": platform.python_version(),
            "load_average": load,
        },
        "frames_per_s": {n: round(v, 2) for n, v in fps.items()},
        "seconds": {n: [round(x, 3) for x in v] for n, v in times.items()},
        "latency_ms": {
            "median": round(float(np.median(lat)), 2),
            "p95": round(float(np.percentile(lat, 95)), 2),
        },
        "max_relative_difference_vs_offline": worst,
    }
    text = json.dumps(result, indent=2)
    print(text)
    if args.json:
        Path(args.json).write_text(text + "\n", encoding="utf-8")
    if args.write:
        PAGE.parent.mkdir(parents=True, exist_ok=True)
        PAGE.write_text(page(result, argv if argv is not None else sys.argv[1:]), encoding="utf-8")
        print(f"wrote {PAGE.relative_to(ROOT)}", file=sys.stderr)
    return result


def page(result: dict[str, Any], argv: list[str]) -> str:
    s, m = result["settings"], result["machine"]
    fps = result["frames_per_s"]
    offline = fps["offline (vadkit score)"]
    rows = "\n".join(
        f"| {name} | {value:.1f} | {value / offline:.2f}x | {value / CAMERA_FPS:.2f}x |"
        for name, value in fps.items()
    )
    known = f"{m['cpu']}, {m['cores']} cores"
    machine = describe_cpu(m.get("cpu_record"), known) + (f"; GPU {m['gpu']}" if m["gpu"] else "")
    command = " ".join(["python benchmarks/bench_stream.py", *argv])
    lat = result["latency_ms"]
    return f"""# Streaming speed

How fast `vadkit watch` scores a stream, one window per frame, compared with `vadkit score` on
the same frames, and how long a frame waits for its scores.

Model: LUSS-AE (full-width 3DCAE, vcr, ffp and prp heads; random weights, which do not change the
speed) at {s["size"]} x {s["size"]}, T = {s["clip_length"]}, error measure {s["error"]}, on
{s["device"]} in {s["precision"]} with {s["threads"]} thread(s). Stream: {s["frames"]} frames
({s["windows"]} windows) of a {s["source"]} file. Machine: {machine}; torch {m["torch"]}, Python
{m["python"]}; load average {m["load_average"][0]:.1f} when it started (other processes share
the machine: compare the rows with each other rather than with other pages). Medians of
{s["repeats"]} interleaved repetitions.

| variant | frames/s | vs offline | vs a {CAMERA_FPS:g} fps camera |
|---|---:|---:|---:|
{rows}

- **Latency** (one frame pushed, its scores back, model keeping up): median
  {lat["median"]:.1f} ms, 95th percentile {lat["p95"]:.1f} ms.
- **Same scores**: the largest relative difference between a streaming variant's raw scores and
  the offline ones is {result["max_relative_difference_vs_offline"]:.1e}.
- *offline* decodes the whole video first and runs windows in batches of {s["batch_size"]};
  *1 window per run* is what `vadkit watch` does while it keeps up with the source;
  *catching up* is what it does when frames queue up behind the model (`--max-batch`
  {s["max_batch"]}); the *watch pipeline* adds PyAV decoding and resizing of the
  {s["source"].split()[0]} frames in the reader thread.
- The "vs camera" column is the margin over a {CAMERA_FPS:g} fps source: below 1x the watch
  falls behind a live camera, and scores the frames that queue up in batches (nothing is
  dropped, the delay grows).

Produced by:

```bash
{command}
```
"""


if __name__ == "__main__":
    main(sys.argv[1:])
