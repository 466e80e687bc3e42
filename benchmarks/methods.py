"""LUSS-AE and the masked-autoencoder method side by side on UCSD Ped2 at 64 x 64, over seeds.

Each method is trained once per seed through the CLI, with its recipe at the small-frame
setting that fits a CPU (the same for every seed, fixed before the study):

* ``luss-ae``: 64 x 64 grey, 16-frame clips starting every 4th training frame, 15 epochs, the
  paper's protocol when evaluated (BPE, per-video min-max, the Ped2 fusion weights 0.1, 0.8, 1);
* ``mae``: the recipe as it ships (64 x 64 grey, a window at every frame, its own epochs and
  scoring defaults).

Both hold out ``--val-videos`` normal training videos (``data.val_videos``, drawn from the seed)
so that ``vadkit validate`` and ``benchmarks/validation_study.py`` can measure the runs without a
test label, and both save every ``--save-every``-th epoch checkpoint for that study. Each run
folder ``OUT/METHOD/seed_N`` is scored with the weights its recipe scores by default and
evaluated with ``vadkit evaluate``'s code; ``method_result.json`` in the run folder keeps the
result, and a finished seed is reused (the study runs in pieces, on several machines).

``--speed`` measures the scoring frames/s of both methods on this machine, in one run and
side by side: each recipe's model (random weights: speed does not depend on them) scores the
same 64 x 64 video with ``vadkit score``'s code, the repetitions interleaved so that other load
hits both alike.

The page ``docs/benchmarks/methods.md`` and its record ``docs/benchmarks/methods.json`` are
written from every finished seed found in ``--out`` or in the record (a checkout without the
run folders writes the same page)::

    python benchmarks/methods.py --data ../shared/datasets/ped2 --out runs/methods --seeds 0,1,2
    python benchmarks/methods.py --speed            # the scoring speed, then the page

No setting is chosen here by a test label: the settings above were fixed before the study; the
labels are read by evaluate, after scoring, to report.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import cli_runs
from machine import cpu_record, cpus_line
from sidebyside import interleaved

REPO = Path(__file__).resolve().parents[1]
PAGE = REPO / "docs" / "benchmarks" / "methods.md"
RESULT = "method_result.json"
#: The methods, in the page's order: recipe -> (training settings, evaluate arguments).
METHODS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "luss-ae": (("data.size=[64,64]", "data.stride=4", "train.epochs=15"), ("--alphas", "ped2")),
    "mae": (("data.size=[64,64]",), ()),
}
#: The targets of the issue (reported, met or not): the second method's fused micro AUROC.
TARGET_MEAN, TARGET_MIN, TARGET_SPEEDUP = 0.90, 0.88, 3.0
SECOND = "mae"


def record_path(page: Path) -> Path:
    """The record committed beside the page (``NAME.md`` -> ``NAME.json``)."""
    return page.with_suffix(".json")


def train_args(recipe: str, data: Path, seed: int, opts: Any) -> list[str]:
    settings = [
        *METHODS[recipe][0],
        f"data.val_videos={opts.val_videos}",
        f"train.seed={seed}",
        f"train.save_every={opts.save_every}",
        f"train.device={opts.device}",
        *opts.set,
    ]
    return ["--recipe", recipe, "--data", str(data), *[a for s in settings for a in ("--set", s)]]


def run_seed(recipe: str, seed: int, opts: Any) -> dict[str, Any]:
    """Train (or resume), score and evaluate one method at one seed; reuse a finished one."""
    run = opts.out / recipe / f"seed_{seed}"
    done = run / RESULT
    if done.is_file():
        return dict(json.loads(done.read_text()))
    args = train_args(recipe, opts.data, seed, opts)
    start = time.perf_counter()
    cli_runs.train_or_resume(run, args)
    scored = json.loads(
        cli_runs.vadkit("score", str(run), "--device", opts.device, "--json", capture=True)
    )
    evaluated = json.loads(
        cli_runs.vadkit("evaluate", str(run), *METHODS[recipe][1], "--json", capture=True)
    )
    results = evaluated["results"]
    result = {
        "method": recipe,
        "seed": seed,
        "run": str(run),
        "train_args": args,
        "epochs": cli_runs.trained_epochs(run),
        "train_seconds": round(cli_runs.train_seconds(run), 1),
        "wall_seconds": round(time.perf_counter() - start, 1),
        "device": opts.device,
        "data": {"root": str(opts.data), "note": opts.data_note},
        "cpu_record": cpu_record(),
        "weights": scored.get("weights"),
        "scoring": {k: scored.get(k) for k in ("windows_per_second", "seconds", "runtime")},
        "protocol": evaluated.get("protocol"),
        "fused_micro_auroc": float(results["fused"]["micro_auroc"]),
        "fused_macro_auroc": results["fused"].get("macro_auroc"),
        "tasks_micro_auroc": {
            t: float(r["micro_auroc"]) for t, r in results.items() if t != "fused"
        },
    }
    from vadkit.storage.io import write_text

    write_text(done, json.dumps(result, indent=2) + "\n")
    return result


def scoring_speed(
    size: int = 64, frames: int = 160, repeats: int = 5, threads: int | None = None
) -> dict[str, Any]:
    """Scoring frames/s of each method's model on one ``size`` x ``size`` grey video of
    ``frames`` random frames, interleaved, with ``vadkit score``'s code on this machine's CPU
    (``threads`` torch threads; all of them when None): frames given a score per second."""
    import numpy as np
    import torch

    from vadkit.config import resolve_config
    from vadkit.config.settings import Settings
    from vadkit.data import Video
    from vadkit.inference.score import score_videos
    from vadkit.inference.scorer import applicable_errors, scoring_runtime
    from vadkit.runs.model import build_model

    if threads:
        torch.set_num_threads(threads)
    rng = np.random.default_rng(0)
    video = Video.from_array("speed", rng.integers(0, 256, (frames, size, size, 1), np.uint8))
    variants: dict[str, Any] = {}
    scored: dict[str, int] = {}
    for recipe in METHODS:
        config = resolve_config(flags={"recipe": recipe}, overrides=[f"data.size=[{size},{size}]"])
        torch.manual_seed(0)
        model = build_model(config).eval()
        settings = Settings.from_config(config)
        t = settings.data.clip_length
        runtime = scoring_runtime("cpu", "fp32", channels_last=True)
        runtime.prepare(model)
        errors = applicable_errors(None, (1, size, size), runtime.device)  # as vadkit score

        def run(_: int, model: Any = model, t: int = t, rt: Any = runtime, e: Any = errors) -> int:
            (out,) = score_videos(
                model, [video], clip_length=t, errors=e, runtime=rt, batch_size=32
            )
            return len(out.frames)  # the frames given a score

        variants[recipe] = run
        scored[recipe] = run(0)  # also the warm-up
    seconds = interleaved(variants, warmup=0, reps=repeats)
    fps = {r: scored[r] / s for r, s in seconds.items()}
    return {
        "size": size,
        "frames": frames,
        "repeats": repeats,
        "threads": torch.get_num_threads(),
        "cpu_record": cpu_record(),
        "load": [round(x, 2) for x in os.getloadavg()],
        "precision": "fp32",
        "frames_per_second": fps,
        "frames_scored": scored,
    }


def load_results(out: Path | None, record: Path) -> tuple[list[dict[str, Any]], dict | None]:
    """Every finished (method, seed): those in ``out``'s run folders, then those found only in
    the record; and the record's speed measurement."""
    found: dict[tuple[str, int], dict[str, Any]] = {}
    if out is not None:
        for path in sorted(out.glob(f"*/seed_*/{RESULT}")):
            r = json.loads(path.read_text())
            found[(r["method"], r["seed"])] = r
    speed = None
    if record.is_file():
        saved = json.loads(record.read_text())
        for r in saved.get("runs", []):
            found.setdefault((r["method"], r["seed"]), r)
        speed = saved.get("speed")
    order = list(METHODS)
    keys = sorted(found, key=lambda k: (order.index(k[0]) if k[0] in order else 99, k[1]))
    return [found[k] for k in keys], speed


def summary(results: Sequence[dict[str, Any]], key: str = "fused_micro_auroc") -> dict[str, float]:
    values = [float(r[key]) for r in results if r.get(key) is not None]
    if not values:
        return {"n": 0}
    return {
        "n": len(values),
        "mean": statistics.fmean(values),
        "std": statistics.stdev(values) if len(values) > 1 else 0.0,
        "min": min(values),
        "max": max(values),
    }


def _cell(st: dict[str, float], key: str) -> str:
    return f"{st[key]:.3f}" if st.get("n") else "-"


def page(results: Sequence[dict[str, Any]], speed: dict | None, command: str) -> str:
    by: dict[str, list[dict[str, Any]]] = {m: [] for m in METHODS}
    for r in results:
        by.setdefault(r["method"], []).append(r)
    rows = []
    for method, runs in by.items():
        micro, macro = summary(runs), summary(runs, "fused_macro_auroc")
        minutes = statistics.fmean(r["train_seconds"] for r in runs) / 60 if runs else 0.0
        epochs = sorted({r["epochs"] for r in runs})
        rows.append(
            f"| `{method}` | {micro.get('n', 0)} | {_cell(micro, 'mean')} | {_cell(micro, 'std')} "
            f"| {_cell(micro, 'min')} | {_cell(macro, 'mean')} | "
            f"{', '.join(map(str, epochs)) or '-'} | {minutes:.1f} |"
        )
    seeds = [
        f"| `{r['method']}` | {r['seed']} | {r['fused_micro_auroc']:.3f} | "
        f"{(r['fused_macro_auroc'] or float('nan')):.3f} | "
        + ", ".join(f"{t} {v:.3f}" for t, v in r["tasks_micro_auroc"].items())
        + f" | {(r['weights'] or {}).get('checkpoint', '-')} | {r['device']} |"
        for r in results
    ]
    second = summary(by.get(SECOND, []))
    if second.get("n"):
        met = second["mean"] >= TARGET_MEAN and second["min"] >= TARGET_MIN
        verdict = (
            f"`{SECOND}`: mean {second['mean']:.3f}, minimum {second['min']:.3f} over "
            f"{second['n']} seeds against the targets mean >= {TARGET_MEAN:.2f} and minimum >= "
            f"{TARGET_MIN:.2f}: **{'met' if met else 'not met'}**."
        )
    else:
        verdict = f"`{SECOND}` has no finished seed yet."
    if speed:
        fps = speed["frames_per_second"]
        ratio = fps[SECOND] / fps["luss-ae"]
        speed_text = (
            f"Scoring on {cpus_line([speed.get('cpu_record')])} {speed['threads']} threads, "
            f"{speed['precision']}, one {speed['size']} x {speed['size']} grey video of "
            f"{speed['frames']} frames (frames/s: frames given a score per second; each method "
            "scores the frames after its first window), both methods in the same run with "
            "interleaved "
            f"repetitions (median of {speed['repeats']}; load average at the start "
            f"{speed['load']}):\n\n| method | frames/s |\n|---|---:|\n"
            + "\n".join(f"| `{m}` | {v:.0f} |" for m, v in fps.items())
            + (f"\n\nMeasured by `{speed['command']}`." if speed.get("command") else "")
            + f"\n\n`{SECOND}` scores **{ratio:.1f}x** the frames/s of `luss-ae` (target "
            f">= {TARGET_SPEEDUP:.0f}x: {'met' if ratio >= TARGET_SPEEDUP else 'not met'})."
        )
    else:
        speed_text = "Not measured yet (`python benchmarks/methods.py --speed`)."
    settings = "\n".join(
        f"- `{m}`: `"
        + " ".join(["vadkit train --recipe", m, *(f"--set {s}" for s in METHODS[m][0])])
        + "`, evaluated by `"
        + " ".join(["vadkit evaluate RUN", *METHODS[m][1]])
        + "`"
        for m in METHODS
    )
    machines = sorted({str(r["device"]) for r in results}) or ["-"]
    data = sorted({f"`{d['root']}`" + (f" ({d['note']})" if d.get("note") else "")
                   for d in (r.get("data") or {} for r in results) if d})  # fmt: skip
    return f"""# Two methods side by side on UCSD Ped2

Fused frame-level AUROC (micro: all test frames pooled; macro: the mean over videos) of LUSS-AE
and the masked-autoencoder method `{SECOND}` on UCSD Ped2 at 64 x 64, over seeds, each with the
weights and scoring its recipe uses by default, at the CPU-sized setting below (where the runs
were trained is listed under it). {verdict}

Written by `{command}`.

## Setting

{settings}
- Every run holds out normal training videos (`data.val_videos`, drawn from the seed) and keeps
  epoch checkpoints, for [the label-free validation study](validation.md); they are not
  trained on.
- Nothing here was chosen by a test label: the settings were fixed before the study; the
  labels are read by evaluate, after scoring.
- Data: {", ".join(data) or "-"}.
- Trained on: {", ".join(machines)} (`train.device`); {cpus_line(r.get("cpu_record") for r in results)}
  Minutes are the runs' own record of their epochs.

## Fused AUROC over seeds

| method | seeds | micro mean | std | min | macro mean | epochs | training (min) |
|---|---:|---:|---:|---:|---:|---:|---:|
{chr(10).join(rows)}

## Per seed

| method | seed | fused micro | fused macro | per task (micro) | weights scored | device |
|---|---:|---:|---:|---|---|---|
{chr(10).join(seeds)}

## Scoring speed, same machine, one run

{speed_text}
"""


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, help="UCSD Ped2 (train the seeds)")
    parser.add_argument("--out", type=Path, default=REPO / "runs" / "methods")
    parser.add_argument("--seeds", default="", help="comma list, e.g. 0,1,2 (needs --data)")
    parser.add_argument("--methods", default=",".join(METHODS))
    parser.add_argument("--val-videos", type=int, default=2)
    parser.add_argument("--save-every", type=int, default=3)
    parser.add_argument("--device", default="cpu", help="train.device and score --device")
    parser.add_argument("--jobs", type=int, default=1, help="runs trained at once")
    parser.add_argument("--set", action="append", default=[], help="extra setting, all methods")
    parser.add_argument("--data-note", default="", help="how the data differs from the original")
    parser.add_argument("--speed", action="store_true", help="measure the scoring speed")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: as found)")
    parser.add_argument("--page", type=Path, default=PAGE)
    opts = parser.parse_args(argv)
    seeds = [int(s) for s in opts.seeds.split(",") if s.strip()]
    record = record_path(opts.page)
    if seeds:
        if opts.data is None or not (opts.data / "testing").is_dir():
            raise SystemExit(f"no dataset at {opts.data} (pass --data)")
        jobs = [(m.strip(), s) for m in opts.methods.split(",") if m.strip() for s in seeds]
        with ThreadPoolExecutor(max(1, opts.jobs)) as pool:
            for r in pool.map(lambda job: run_seed(job[0], job[1], opts), jobs):
                print(f"{r['method']} seed {r['seed']}: fused {r['fused_micro_auroc']:.3f}")
    results, speed = load_results(opts.out, record)
    if opts.speed:
        speed = scoring_speed(repeats=opts.repeats, threads=opts.threads or None)
        speed["command"] = (
            f"python benchmarks/methods.py --speed --threads {opts.threads} "
            f"--repeats {opts.repeats}"
        )
    from vadkit.storage.io import write_text

    command = "python benchmarks/methods.py " + " ".join(argv if argv is not None else sys.argv[1:])
    text = json.dumps({"runs": results, "speed": speed}, indent=1) + "\n"
    write_text(record, cli_runs.repo_relative(text))
    write_text(opts.page, cli_runs.repo_relative(page(results, speed, command.strip())))
    print(f"Written: {opts.page} and its record ({len(results)} run(s))")
    return {"runs": results, "speed": speed}


if __name__ == "__main__":
    main()
