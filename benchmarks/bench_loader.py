"""Loader throughput: clips/s of the data loader alone against the model's training step.

For each dataset (the synthetic scene; UCSD Ped2 when ``../shared/datasets/ped2`` exists) it
measures, at the chosen frame size:

* ``cache build``: the first ``open_videos`` of the training split (decodes every frame into the
  memory-mapped cache; a temporary cache folder is used so this is always a cold build);
* ``reopen``: the second ``open_videos`` (checks the cache, decodes nothing);
* ``loader, W workers``: clips/s of ``make_train_loader`` alone, with the PRP task's views (as in
  LUSS-AE training: every sample carries its 17-frame window and a 16-frame PRP clip), including
  worker start-up as every epoch pays it;
* ``train step``: clips/s of a plain fp32 training step of LUSS-AE (CAE3D + VCR, FFP and PRP
  heads, Adam) on batches already in memory, i.e. what the loader has to keep up with.

Run from the repository root::

    .venv/bin/python benchmarks/bench_loader.py
    .venv/bin/python benchmarks/bench_loader.py --sizes 64,256 --no-model-above 64

The report is Markdown, printed to stdout (recorded in docs/benchmarks/loader.md).
"""

from __future__ import annotations

import argparse
import os
import shlex
import sys
import tempfile
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from machine import cpu_record, describe_cpu

REPO = Path(__file__).resolve().parents[1]
PED2 = REPO.parent / "shared" / "datasets" / "ped2"


def _tasks() -> dict:
    import vadkit

    return {name: vadkit.create_task(name) for name in ("vcr", "ffp", "prp")}


def _model(size: int, clip_length: int):
    import vadkit
    from vadkit.model import VADModel

    torch.manual_seed(0)
    backbone = vadkit.create_backbone("cae3d")
    return VADModel(backbone, _tasks(), (1, clip_length, size, size))


def bench_loader(windows, batch_size: int, batches: int, workers: int) -> float:
    """clips/s of the loader alone over ``batches`` batches (worker start-up included)."""
    from vadkit.data import make_train_loader

    loader = make_train_loader(windows, batch_size=batch_size, workers=workers)
    clips = 0
    start = time.perf_counter()
    for i, batch in enumerate(loader):
        clips += batch.size
        if i + 1 >= batches:
            break
    return clips / (time.perf_counter() - start)


def bench_model(windows, size: int, clip_length: int, batch_size: int, steps: int, device: str):
    """clips/s of the training step on batches already loaded (2 warm-up steps not timed)."""
    from vadkit.data import make_train_loader

    model = _model(size, clip_length).to(device).train()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-4)
    weights = {"vcr": 0.6, "ffp": 0.4, "prp": 1.0}
    loader = iter(make_train_loader(windows, batch_size=batch_size))
    batches = [next(loader).to(device) for _ in range(min(steps + 2, len(windows) // batch_size))]

    def step(batch) -> None:
        losses = model.training_losses(batch)
        total = sum(weights[k] * v for k, v in losses.items())
        optimizer.zero_grad(set_to_none=True)
        total.backward()
        optimizer.step()

    for batch in batches[:2]:
        step(batch)
    if device.startswith("cuda"):
        torch.cuda.synchronize()
    start = time.perf_counter()
    for batch in batches[2:]:
        step(batch)
    if device.startswith("cuda"):
        torch.cuda.synchronize()
    return len(batches[2:]) * batch_size / (time.perf_counter() - start)


def run_dataset(name: str, root: Path, args: argparse.Namespace) -> None:
    from vadkit.data import TrainWindows, open_videos

    for size in args.sizes:
        rows: list[str] = []
        with tempfile.TemporaryDirectory(prefix="vadkit-bench-cache-") as cache:
            start = time.perf_counter()
            videos = open_videos(root, "training", size=size, cache_dir=cache, progress=False)
            built = time.perf_counter() - start
            start = time.perf_counter()
            videos = open_videos(root, "training", size=size, cache_dir=cache, progress=False)
            reopened = time.perf_counter() - start
            windows = TrainWindows(videos, clip_length=args.clip_length, tasks=_tasks(), seed=0)
            label = f"{name} {size}x{size}"
            frames = videos.total_frames
            rows.append(
                f"| {label} | cache build ({len(videos)} videos, {frames} frames) | "
                f"{built:.2f} s ({frames / built:.0f} frames/s) |"
            )
            rows.append(f"| {label} | reopen (decodes nothing) | {reopened * 1000:.0f} ms |")
            loader_rates = []
            for w in args.workers:
                rate = bench_loader(windows, args.batch_size, args.batches, w)
                loader_rates.append(rate)
                rows.append(f"| {label} | loader alone, {w} workers | {rate:.0f} clips/s |")
            if args.model and size <= args.no_model_above:
                rate = bench_model(
                    windows, size, args.clip_length, args.batch_size, args.steps, args.device
                )
                rows.append(
                    f"| {label} | LUSS-AE train step (CAE3D + VCR/FFP/PRP, fp32, {args.device}) "
                    f"| {rate:.1f} clips/s |"
                )
                rows.append(f"| {label} | loader / train step | {max(loader_rates) / rate:.0f}x |")
            print("\n".join(rows), flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default="64", help="Frame sizes, comma-separated.")
    parser.add_argument("--workers", default="0,2", help="Loader worker counts, comma-separated.")
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--clip-length", type=int, default=16)
    parser.add_argument("--batches", type=int, default=40, help="Batches timed per loader run.")
    parser.add_argument("--steps", type=int, default=4, help="Training steps timed.")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--no-model", dest="model", action="store_false")
    parser.add_argument("--no-model-above", type=int, default=10**6,
                        help="Skip the train step at sizes above this.")  # fmt: skip
    parser.add_argument("--ped2", type=Path, default=PED2)
    args = parser.parse_args()
    args.sizes = [int(s) for s in args.sizes.split(",")]
    args.workers = [int(w) for w in args.workers.split(",")]

    from vadkit.data import generate_scene

    print(
        f"Machine: {describe_cpu(cpu_record())}; "
        f"torch {torch.__version__} ({torch.get_num_threads()} threads), device {args.device}, "
        f"load average {os.getloadavg()[0]:.1f} at start.\n"
        f"Command: python benchmarks/{Path(__file__).name} {shlex.join(sys.argv[1:])}\n"
    )
    print("| data | measure | result |\n|---|---|---|", flush=True)
    with tempfile.TemporaryDirectory(prefix="vadkit-bench-scene-") as tmp:
        scene = generate_scene(Path(tmp) / "scene")
        run_dataset("synthetic", scene, args)
    if (args.ped2 / "training").is_dir():
        run_dataset("Ped2", args.ped2, args)
    else:
        print(f"\n(Ped2 not found at {args.ped2}: skipped.)")


if __name__ == "__main__":
    main()
