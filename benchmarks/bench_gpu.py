"""GPU speed: training clips/s and scoring frames/s of vadkit against a bare loop and the authors'
structure, at 256x256 and 64x64, for each precision and batch size, on one CUDA GPU.

The variants are those of the CPU benchmarks, reused from them (``bench_train_speed.py``: the
authors' step, a bare hand-written step, :class:`vadkit.training.step.TrainStep`;
``bench_score_speed.py``: the authors' scoring loop, a bare loop,
:func:`vadkit.inference.score.score_videos`), here on the GPU: the same model, weights and batches
for every variant, repetitions interleaved, time taken between ``torch.cuda.synchronize()``
calls. Precisions: fp32, bf16 (when the GPU has it), fp16 (with ``torch.amp.GradScaler`` when
training); channels-last 3-D for the bare and vadkit variants; the authors' structure in fp32,
contiguous. It finishes in a few minutes on one GPU (under 8). Run from the repository root::

    .venv/bin/python benchmarks/bench_gpu.py --write

``--write`` writes ``docs/benchmarks/speed-gpu.md``. Without CUDA it refuses (exit 2) and
writes nothing: the page holds measurements of a real GPU run only, never estimates.
"""

from __future__ import annotations

import argparse
import copy
import platform
import shlex
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from machine import cpu_line, cpu_record
from sidebyside import interleaved, speed_table

ROOT = Path(__file__).resolve().parents[1]
PAGE = ROOT / "docs" / "benchmarks" / "speed-gpu.md"
#: (frame size, batch sizes) of the training measurements.
TRAIN_SETTINGS = ((256, (4, 16)), (64, (16, 64)))
SCORE_BATCH = 32


def _timed(variants: dict[str, Callable[[], object]], warmup: int, reps: int) -> dict[str, float]:
    """Median seconds per call of each variant, repetitions interleaved (order alternating),
    timed between ``torch.cuda.synchronize()`` calls."""
    calls = {name: (lambda _rep, call=call: call()) for name, call in variants.items()}
    return interleaved(calls, warmup, reps, sync=torch.cuda.synchronize)


def precisions() -> list[str]:
    return ["fp32", *(["bf16"] if torch.cuda.is_bf16_supported() else []), "fp16"]


def train_table(size: int, batch: int, warmup: int, reps: int) -> list[str]:
    """The table of clips/s of one training step at ``size`` and ``batch``, per variant."""
    from bench_train_speed import _batches, authors_step, bare_step

    from vadkit.compute.device import Runtime
    from vadkit.config import resolve_config
    from vadkit.runs import model as run_model
    from vadkit.training.step import TrainStep

    config = resolve_config(
        overrides=[f"data.size=[{size},{size}]", "data.stride=4", f"train.batch_size={batch}"]
    )
    weights = dict(config["tasks"]["weights"])
    torch.manual_seed(0)
    base = run_model.build_model(config)
    cuda = torch.device("cuda")
    batches = [b.to(cuda) for b in _batches(config, count=2)]

    def fresh(runtime: Runtime) -> tuple[Any, torch.optim.Optimizer]:
        model = copy.deepcopy(base)
        runtime.prepare(model)
        model.train()
        return model, torch.optim.Adam(model.parameters(), lr=config["train"]["lr"])

    steps: dict[str, Callable[[Any], object]] = {}
    lean = Runtime(cuda, "fp32", channels_last=False)
    model, opt = fresh(lean)
    steps["authors (fp32)"] = authors_step(model, opt, weights)
    for precision in precisions():
        runtime = Runtime(cuda, precision, channels_last=True)
        model, opt = fresh(runtime)
        steps[f"bare {precision}"] = bare_step(model, opt, weights, runtime)
        model, opt = fresh(runtime)
        steps[f"vadkit {precision}"] = TrainStep(
            model, opt, weights, runtime, runtime.grad_scaler()
        )
    counter = {"i": 0}

    def run(step: Callable[[Any], object]) -> Callable[[], object]:
        def call() -> object:
            counter["i"] += 1
            return step(batches[counter["i"] % len(batches)])

        return call

    median = _timed({n: run(s) for n, s in steps.items()}, warmup, reps)
    return speed_table(median, batch, "clips/s", digits=1)


def score_table(size: int, frames: int, warmup: int, reps: int) -> list[str]:
    """The table of frames/s of scoring one video of ``frames`` frames at ``size``."""
    from bench_score_speed import authors_variant, bare_variant, build_model, vadkit_variant

    from vadkit.data import Video

    t = 16
    rng = np.random.default_rng(0)
    video = Video.from_array("bench", rng.integers(0, 256, (frames, size, size, 1), dtype=np.uint8))
    variants: dict[str, Callable[[], object]] = {
        "authors (fp32)": authors_variant(build_model(size, t), video, t, SCORE_BATCH, "cuda")
    }
    for precision in precisions():
        variants[f"bare {precision}"] = bare_variant(
            build_model(size, t), video, t, SCORE_BATCH, precision, "cuda"
        )
        variants[f"vadkit {precision}"] = vadkit_variant(
            build_model(size, t), video, t, SCORE_BATCH, precision, "cuda"
        )
    median = _timed(variants, warmup, reps)
    return speed_table(median, frames - t, "frames/s", digits=1)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=5, help="timed repetitions per variant")
    parser.add_argument("--warmup", type=int, default=2, help="untimed repetitions per variant")
    parser.add_argument("--frames", type=int, default=112, help="frames of the scored video")
    parser.add_argument("--write", action="store_true", help=f"write {PAGE.relative_to(ROOT)}")
    args = parser.parse_args(argv)
    if not torch.cuda.is_available():
        print(
            "bench_gpu.py needs a CUDA GPU, and torch sees none here. Nothing was measured or "
            "written: its page holds real GPU measurements only.",
            file=sys.stderr,
        )
        return 2
    torch.backends.cudnn.benchmark = True
    started = time.perf_counter()
    lines = [
        "# GPU speed",
        "",
        "Written by `benchmarks/bench_gpu.py` from a run on the GPU named below (the command is "
        "at the end). Training: clips/s of one training step (`TrainStep`, what `vadkit train` "
        "runs) against a bare hand-written step in the same precision and against the authors' "
        "structure (fp32, the decoder run once per head). Scoring: frames/s of `vadkit score`'s "
        "pass against a bare loop and the authors' loop. Medians of interleaved repetitions; "
        "cae3d widths 96-128-256-256, 16-frame grey clips, tasks vcr+ffp+prp.",
        "",
    ]
    for size, batch_sizes in TRAIN_SETTINGS:
        for batch in batch_sizes:
            table = train_table(size, batch, args.warmup, args.reps)
            lines += [f"## Training, {size}x{size}, batch {batch}", "", *table, ""]
            print("\n".join(lines[-len(table) - 2 :]), flush=True)
    for size, _ in TRAIN_SETTINGS:
        table = score_table(size, args.frames, args.warmup, args.reps)
        lines += [f"## Scoring, {size}x{size}, batch {SCORE_BATCH}", "", *table, ""]
        print("\n".join(lines[-len(table) - 2 :]), flush=True)
    command = "python " + " ".join(
        shlex.quote(a) for a in ["benchmarks/bench_gpu.py", *(argv or sys.argv[1:])]
    )
    lines += [
        f"GPU: {torch.cuda.get_device_name()}; torch {torch.__version__}, CUDA "
        f"{torch.version.cuda}, Python {platform.python_version()}; {args.warmup} warm-up + "
        f"{args.reps} timed repetitions per variant; {time.perf_counter() - started:.0f} s in all.",
        "",
        cpu_line(cpu_record()),
        "",
        "Command (from the repository root):",
        "",
        "```",
        command,
        "```",
        "",
    ]
    if args.write:
        PAGE.write_text("\n".join(lines), encoding="utf-8")
        print(f"Written: {PAGE}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
