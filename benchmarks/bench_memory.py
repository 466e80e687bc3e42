"""Memory projection against reality: what :func:`vadkit.training.budget.project_memory` projects
for a training step, and the peak memory real steps take.

For each setting, one fresh process on synthetic windows does what ``Trainer.setup`` does (model,
optimizer, step, data, then the probe of :func:`~vadkit.training.budget.project_memory` on one
window) and then runs real training steps (:class:`~vadkit.training.step.TrainStep`) on the
loader's first batch. Measured: the peak resident memory (``ru_maxrss``) less the resident memory
after the probe (what the memory check sees as used), plus the parameters (which the projection
counts): the memory the check has to foresee.

Run from the repository root (half an hour on two cores; 256x256 at batch 6 takes ~6 GB)::

    .venv/bin/python benchmarks/bench_memory.py --write docs/benchmarks/train-memory.md
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shlex
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from machine import cpu_record, describe_cpu

HEADER = """# Training memory

Written by `benchmarks/bench_memory.py` (the command is under each table). Before its first
step, `vadkit train` projects the peak memory of a training step from one forward and backward
pass on a single window (`vadkit.training.budget.project_memory`, see
[the configuration reference](../reference/config.md#memory-check)); this page compares that
projection with the peak resident memory of a fresh process running real training steps, on the
CPU, for the `luss-ae` recipe's model (cae3d, widths 96-128-256-256, 16-frame grey clips, tasks
vcr+ffp+prp, Adam), channels-last, in fp32 (the CPU's default) unless a section says bf16.
Measured: peak `ru_maxrss` of the process less its resident memory right after the probe (what
the check sees as used: torch, the data, the model and what the probe left resident), plus the
parameters (which the projection counts). The check compares the projection with the memory
available after the probe, less a 10% reserve.
"""


def _rss() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def _config(size: int, batch: int, precision: str) -> dict:
    from vadkit.config import resolve_config

    return resolve_config(
        overrides=[
            "recipe=luss-ae",
            f"data.size=[{size},{size}]",
            f"train.batch_size={batch}",
            f"train.precision={precision}",
            "train.device=cpu",
        ],
    )


def _windows(config: dict, root: Path):  # type: ignore[no-untyped-def]
    from vadkit.data import TrainWindows, open_videos
    from vadkit.runs import model as run_model

    videos = open_videos(root, "training", size=tuple(config["data"]["size"]), color="gray")
    tasks = run_model.build_model(config).task_map
    return TrainWindows(videos, clip_length=16, stride=4, tasks=tasks, seed=0)


def child(size: int, batch: int, precision: str, root: Path, steps: int) -> dict:
    """One measurement, in this (fresh) process, in the order of ``Trainer.setup``."""
    import torch

    from vadkit.compute.device import Runtime
    from vadkit.data import make_train_loader
    from vadkit.runs import model as run_model
    from vadkit.training import budget
    from vadkit.training.step import TrainStep

    torch.set_num_threads(int(os.environ.get("BENCH_THREADS", "2")))
    config = _config(size, batch, precision)
    train = config["train"]
    torch.manual_seed(0)
    model = run_model.build_model(config)
    runtime = Runtime.from_config("cpu", train["precision"], train["channels_last"])
    runtime.prepare(model)
    opt = torch.optim.Adam(model.parameters(), lr=1e-4)
    step = TrainStep(model, opt, config["tasks"]["weights"], runtime, runtime.grad_scaler())
    windows = _windows(config, root)
    window = next(iter(make_train_loader(windows, batch_size=1)))
    projection = budget.project_memory(step, window)
    del window
    after_probe = _rss()  # what the check sees as used; the rest of the machine is available
    model.train()
    first = next(iter(make_train_loader(windows, batch_size=batch)))
    for _ in range(steps):
        step(first)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    return {
        "projected": projection.total(batch),
        "measured": projection.parameters + peak - after_probe,
        "parts": projection.__dict__,
    }


def _run(size: int, batch: int, precision: str, root: Path, steps: int) -> dict:
    cmd = [sys.executable, __file__, "--child", str(size), str(batch), precision, str(root)]
    cmd += ["--steps", str(steps)]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def _gb(n: float) -> str:
    return f"{n / 1e9:.2f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--child", nargs=4, metavar=("SIZE", "BATCH", "PREC", "ROOT"))
    parser.add_argument("--steps", type=int, default=3, help="real steps per measurement")
    parser.add_argument(
        "--settings",
        default="64:4,64:16,128:4,128:16,256:2,256:6",
        help="comma-separated SIZE:BATCH pairs (default: %(default)s)",
    )
    parser.add_argument("--precision", default="fp32", choices=["fp32", "bf16"])
    parser.add_argument("--write", type=Path, help="write the report to this markdown file")
    parser.add_argument(
        "--append", type=Path, help="append the section (no page header) to this markdown file"
    )
    args = parser.parse_args()
    if args.child:
        size, batch, precision, root = args.child
        result = child(int(size), int(batch), precision, Path(root), args.steps)
        print(json.dumps(result))
        return

    from vadkit.data import generate_scene, open_videos

    settings = [tuple(int(x) for x in item.split(":")) for item in args.settings.split(",")]
    rows: list[tuple[int, int, dict]] = []
    with tempfile.TemporaryDirectory() as tmp:
        os.environ.setdefault("VADKIT_CACHE", str(Path(tmp) / "cache"))
        scenes: dict[int, Path] = {}
        for size, batch in settings:
            if size not in scenes:  # decoded once here, so the children only read the cache
                scenes[size] = generate_scene(
                    Path(tmp) / f"scene{size}", size=size, train_videos=1, test_videos=1,
                    frames=(80, 80),
                )  # fmt: skip
                open_videos(scenes[size], "training", size=(size, size), color="gray")
            result = _run(size, batch, args.precision, scenes[size], args.steps)
            rows.append((size, batch, result))
            print(
                f"{size}x{size} batch {batch}: projected {_gb(result['projected'])} GB, "
                f"measured {_gb(result['measured'])} GB, "
                f"ratio {result['projected'] / result['measured']:.2f}",
                flush=True,
            )
    shown, skip = [], False  # the command without where the report goes
    for arg in sys.argv[1:]:
        if skip or arg in ("--write", "--append"):
            skip = not skip
            continue
        shown.append(arg)
    command = " ".join(["python benchmarks/bench_memory.py", *map(shlex.quote, shown)])
    headroom = rows[0][2]["parts"]["headroom"]
    sizes = list(dict.fromkeys(f"{size}x{size}" for size, _, _ in rows))
    lines = [
        *([] if args.append else [HEADER]),
        f"## CPU, {args.precision}: " + ", ".join(sizes) + "\n",
        f"{args.steps} real steps per setting. "
        "Saved: input and saved tensors of one window, as the probe measures them; the "
        f"projection multiplies them by the headroom ({headroom}) and adds the parameters, their "
        "gradients and Adam's moments.\n",
        "| frames | batch | saved MB / window | projected GB | measured GB | projected / measured |",
        "|---|---|---|---|---|---|",
    ]
    for size, batch, result in rows:
        parts = result["parts"]
        saved = parts["input_per_window"] + parts["saved_per_window"]
        lines.append(
            f"| {size}x{size} | {batch} | {saved / 1e6:.1f} | {_gb(result['projected'])} | "
            f"{_gb(result['measured'])} | {result['projected'] / result['measured']:.2f} |"
        )
    slopes = []
    for size in sorted({size for size, _, _ in rows}):
        same = sorted((b, r) for s, b, r in rows if s == size)
        if len(same) < 2:
            continue
        (b0, r0), (b1, r1) = same[0], same[-1]
        parts = r0["parts"]
        saved = parts["input_per_window"] + parts["saved_per_window"]
        extra = (r1["measured"] - r0["measured"]) / (b1 - b0)
        slopes.append(f"| {size}x{size} | {b0} -> {b1} | {extra / 1e6:.1f} | {extra / saved:.2f} |")
    if slopes:
        lines += [
            "",
            "Measured memory per extra window (between the smallest and largest batch of a frame "
            "size) over the saved bytes per window: what the headroom stands for.\n",
            "| frames | batches | measured MB / window | over saved |",
            "|---|---|---|---|",
            *slopes,
        ]
    lines += [
        "",
        f"`{command}` on {describe_cpu(cpu_record())}; "
        f"torch {__import__('torch').__version__}, {os.environ.get('BENCH_THREADS', '2')} "
        "threads.",
        "",
    ]
    report = "\n".join(lines)
    print(report)
    if args.write:
        args.write.write_text(report)
    if args.append:
        with args.append.open("a") as out:
            out.write("\n" + report)


if __name__ == "__main__":
    main()
