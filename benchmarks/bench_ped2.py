"""LUSS-AE on the real UCSD Ped2 frames, at a size a CPU can afford, through vadkit's own CLI.

Trains with ``vadkit train`` (64x64 grayscale, 16-frame clips starting every 4 frames, 15
epochs, seed 0, everything else at vadkit's defaults), scores the test videos once per precision
with ``vadkit score`` (fp32 and bf16 autocast), then evaluates every combination of error
measure (MSE, BPE) and per-video normalizer (min-max, robust, none) with the paper's Ped2 fusion
weights (0.1, 0.8, 1) using ``vadkit evaluate`` -- no network pass per combination. Prints a
Markdown table and writes ``RUN/bench_ped2.json``. About 20 minutes on 2 CPU cores::

    .venv/bin/python benchmarks/bench_ped2.py --data ../shared/datasets/ped2 --out runs/ped2-64

A finished training run in ``--out`` is reused (an interrupted one is resumed).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
import tomllib
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
DEFAULT_DATA = REPO.parent / "shared" / "datasets" / "ped2"
ERRORS = ("mse", "bpe")
NORMALIZERS = ("minmax", "robust", "none")
PRECISIONS = {"fp32": "testing", "bf16": "testing_bf16"}


def vadkit(*args: str, capture: bool = False) -> str:
    cmd = [sys.executable, "-m", "vadkit", *args]
    print("$ vadkit " + " ".join(args), flush=True)
    done = subprocess.run(cmd, check=False, text=True, capture_output=capture)
    if done.returncode != 0:
        sys.stderr.write(done.stderr or "")
        raise SystemExit(f"vadkit {args[0]} failed with exit code {done.returncode}")
    return done.stdout if capture else ""


def trained_epochs(run: Path) -> int:
    metrics = run / "metrics.jsonl"
    if not metrics.is_file():
        return 0
    epochs = [
        json.loads(line).get("epoch", -1)
        for line in metrics.read_text().splitlines()
        if '"event": "epoch"' in line
    ]
    return max(epochs, default=-1) + 1


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--out", type=Path, default=REPO / "runs" / "ped2-64")
    parser.add_argument("--epochs", type=int, default=15)
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--stride", type=int, default=4)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--set", action="append", default=[], help="extra config overrides")
    args = parser.parse_args(argv)
    if not (args.data / "testing" / "frames").is_dir():
        raise SystemExit(f"UCSD Ped2 not found at {args.data} (pass --data)")
    run: Path = args.out
    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    train_args = [
        "--data", str(args.data),
        "--tasks", "vcr,ffp,prp",
        "--error", "bpe",
        "--epochs", str(args.epochs),
        "--set", f"data.size=[{args.size},{args.size}]",
        "--set", f"data.stride={args.stride}",
        "--set", f"train.seed={args.seed}",
        "--set", "score.alphas={vcr=0.1, ffp=0.8, prp=1.0}",
        *[a for item in args.set for a in ("--set", item)],
    ]  # fmt: skip
    done = trained_epochs(run)
    if done >= args.epochs:
        print(f"{run}: already trained for {done} epochs, reusing it")
    elif (run / "config.toml").is_file():
        vadkit("train", "--resume", str(run), "--epochs", str(args.epochs))
    else:
        vadkit("train", *train_args, "--out", str(run))
    timings["train_s"] = time.perf_counter() - t0
    config = tomllib.loads((run / "config.toml").read_text())

    results: dict[str, Any] = {}
    for precision, name in PRECISIONS.items():
        t1 = time.perf_counter()
        score_args = ["score", str(run), "--precision", precision, "--name", name]
        meta = json.loads(vadkit(*score_args, "--device", "cpu", "--json", capture=True))
        timings[f"score_{precision}_s"] = time.perf_counter() - t1
        results[precision] = {"windows_per_second": meta["windows_per_second"], "eval": {}}
        for error in ERRORS:
            for norm in NORMALIZERS:
                eval_args = ["evaluate", str(run), "--scores", name, "--error", error]
                eval_args += ["--normalizer", norm, "--alphas", "ped2", "--no-plots", "--json"]
                res = json.loads(vadkit(*eval_args, capture=True))
                results[precision]["eval"][f"{error}/{norm}"] = {
                    k: v["micro_auroc"] for k, v in res["results"].items()
                }
                results[precision]["protocol"] = res["protocol"]
    # the run's own defaults, with plots (RUN/plots/), as a user would evaluate it
    vadkit("evaluate", str(run), "--alphas", "ped2", "--json", capture=True)

    lines = [
        "| precision | error | normalizer | VCR | FFP | PRP | fused (0.1, 0.8, 1) |",
        "|---|---|---|---|---|---|---|",
    ]
    for precision, data in results.items():
        for key, row in data["eval"].items():
            error, norm = key.split("/")
            lines.append(
                f"| {precision} | {error} | {norm} | {row['vcr']:.3f} | {row['ffp']:.3f} | "
                f"{row['prp']:.3f} | **{row['fused']:.3f}** |"
            )
    fp32 = results["fp32"]["eval"]["bpe/minmax"]["fused"]
    bf16 = results["bf16"]["eval"]["bpe/minmax"]["fused"]
    summary = {
        "command": "benchmarks/bench_ped2.py " + " ".join(argv or sys.argv[1:]),
        "train_config": {k: config[k] for k in ("data", "model", "tasks", "train")},
        "timings": {k: round(v, 1) for k, v in timings.items()},
        "results": results,
        "bf16_minus_fp32_fused_bpe_minmax_points": round(100 * (bf16 - fp32), 3),
        "cpu_threads": os.cpu_count(),
    }
    (run / "bench_ped2.json").write_text(json.dumps(summary, indent=2) + "\n")
    print("\n".join(lines))
    print(
        f"\nbf16 - fp32 fused (bpe, minmax): {100 * (bf16 - fp32):+.2f} points; "
        f"scoring {results['fp32']['windows_per_second']} (fp32) vs "
        f"{results['bf16']['windows_per_second']} (bf16) windows/s"
    )
    print(f"Written: {run / 'bench_ped2.json'}")
    return summary


if __name__ == "__main__":
    main(sys.argv[1:])
