"""One GPU session, in one command: the seed studies of both methods, their validation study, Ped2
at full resolution for each method, and the GPU speed page.

With ``--seeds`` the session first runs ``benchmarks/methods.py`` (both methods at 64 x 64, one
run per seed, trained at once on the GPU) and then ``benchmarks/validation_study.py`` on every
run (one process per run, then once more over all to write the page); each phase is stopped at
its share of ``--deadline`` so that what is finished is always written. Their pages and records
are copied to ``--out``.

Meant for a machine with one CUDA GPU that is lent for a few minutes (the whole session is sized
to fit in about ten). For each method (``luss-ae``; the second method ``mae`` when its plugin is
installed) it trains on the given Ped2 at 256 x 256 for at most ``--budget`` seconds of training
(the run stops like Ctrl-C does, after saving: the epochs it reached are recorded, and they are
fewer than the recipe's when the budget ends first), scores the test videos with the weights it
reached and evaluates them with the recipe's defaults (the paper's protocol for LUSS-AE: BPE,
min-max, the Ped2 weights 0.1, 0.8, 1, no smoothing). Then ``benchmarks/bench_gpu.py --write``
measures the training and scoring speed page. Everything is written under ``--out``:
``gpu_session.json`` (the record: each run's epochs, training seconds, scoring windows/s and
fused micro/macro AUROC, and the machine) and ``speed-gpu.md`` (the page), small enough to bring
back from the machine::

    python benchmarks/gpu_session.py --data PED2 --out OUT --budget 240 --bench

Nothing here chooses a setting by looking at the test labels: the epochs are the recipe's, cut
only by the time budget, which is fixed before the run; evaluate reads the labels after scoring.
"""

from __future__ import annotations

import argparse
import json
import platform
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from cli_runs import train_seconds, trained_epochs
from machine import cpu_line, cpu_record

REPO = Path(__file__).resolve().parents[1]
#: Seconds a stopped training gets to finish its step and save before it is killed.
GRACE = 90
#: The methods this session trains, with the settings of their full-resolution runs.
METHODS: dict[str, list[str]] = {
    "luss-ae": ["data.size=[256,256]", "data.stride=1"],
    "mae": ["data.size=[256,256]"],
}
#: How each method is evaluated (the paper's Ped2 fusion weights for LUSS-AE; the recipe's
#: defaults otherwise).
EVALUATE: dict[str, list[str]] = {"luss-ae": ["--alphas", "ped2"]}


def _recipes() -> set[str]:
    from vadkit.api import list_recipes

    return set(list_recipes())


def timed_train(cmd: list[str], budget: float) -> dict[str, Any]:
    """``vadkit train`` for at most ``budget`` seconds; then stopped like Ctrl-C (SIGINT: the step
    in progress ends and a checkpoint is saved)."""
    print("$ vadkit " + " ".join(cmd), flush=True)
    start = time.monotonic()
    proc = subprocess.Popen([sys.executable, "-m", "vadkit", *cmd])
    stopped = False
    try:
        code = proc.wait(timeout=budget)
    except subprocess.TimeoutExpired:
        stopped = True
        proc.send_signal(signal.SIGINT)
        try:
            code = proc.wait(timeout=GRACE)
        except subprocess.TimeoutExpired:
            proc.kill()  # the last checkpoint stays intact
            code = proc.wait()
    return {
        "exit_code": code,
        "stopped_by_budget": stopped,
        "wall_seconds": time.monotonic() - start,
    }


def run_json(cmd: list[str]) -> dict[str, Any]:
    """``vadkit CMD --json``, parsed."""
    print("$ vadkit " + " ".join(cmd), flush=True)
    done = subprocess.run(
        [sys.executable, "-m", "vadkit", *cmd, "--json"], capture_output=True, text=True
    )
    if done.returncode != 0:
        raise RuntimeError(f"vadkit {cmd[0]} failed ({done.returncode}): {done.stderr[-2000:]}")
    return dict(json.loads(done.stdout))


def method_session(
    recipe: str, data: Path, runs: Path, device: str, budget: float, extra: list[str]
) -> dict[str, Any]:
    """Train, score and evaluate one method; its record (or why it failed)."""
    run = runs / f"{recipe}-full"
    sets = [a for item in [*METHODS[recipe], *extra] for a in ("--set", item)]
    cmd = ["train", "--recipe", recipe, "--data", str(data), "--out", str(run)]
    cmd += ["--set", f"train.device={device}", *sets, "--quiet"]
    record: dict[str, Any] = {"recipe": recipe, "settings": [*METHODS[recipe], *extra]}
    try:
        record["train"] = timed_train(cmd, budget)
        record["epochs_reached"] = trained_epochs(run)
        record["train_seconds"] = round(train_seconds(run), 1)
        if record["epochs_reached"] == 0 and not (run / "checkpoints").is_dir():
            raise RuntimeError("training saved no checkpoint within the budget")
        scored = run_json(["score", str(run), "--data", str(data), "--device", device, "--quiet"])
        record["score"] = {
            k: scored.get(k) for k in ("windows_per_second", "seconds", "frames_scored", "runtime")
        }
        evaluated = run_json(["evaluate", str(run), *EVALUATE.get(recipe, [])])
        fused = evaluated["results"]["fused"]
        record["fused_micro_auroc"] = fused["micro_auroc"]
        record["fused_macro_auroc"] = fused.get("macro_auroc")
        record["per_task_micro_auroc"] = {
            task: res["micro_auroc"] for task, res in evaluated["results"].items()
        }
        record["protocol"] = evaluated["protocol"]
    except Exception as exc:  # the session goes on: one method's failure is recorded
        record["error"] = f"{type(exc).__name__}: {exc}"[-3000:]
    return record


def machine() -> dict[str, Any]:
    import torch

    info: dict[str, Any] = {
        "python": platform.python_version(),
        "torch": torch.__version__,
        "cpu_record": cpu_record(),
    }
    info["cpu"] = cpu_line(info["cpu_record"])
    if torch.cuda.is_available():
        info |= {"gpu": torch.cuda.get_device_name(), "cuda": torch.version.cuda}
    return info


def phase(cmd: list[str], seconds: float) -> dict[str, Any]:
    """Run a benchmark script for at most ``seconds``; its exit code and wall time."""
    print("$ " + " ".join(cmd), flush=True)
    start = time.monotonic()
    try:
        code = subprocess.run(cmd, check=False, timeout=max(1.0, seconds)).returncode
    except subprocess.TimeoutExpired:
        code = None
    return {"exit_code": code, "timed_out": code is None, "seconds": time.monotonic() - start}


def studies(args: argparse.Namespace, out_dir: Path, until: float) -> dict[str, Any]:
    """The seed studies (``methods.py``) then the validation study of their runs, by ``until``
    (a ``time.monotonic()``); pages and records copied to ``out_dir``."""
    bench = REPO / "benchmarks"
    runs = args.runs / "methods"
    pages = {"methods": out_dir / "methods.md", "validation": out_dir / "validation.md"}
    record: dict[str, Any] = {}
    seeds_cmd = [
        sys.executable, str(bench / "methods.py"), "--data", str(args.data), "--out", str(runs),
        "--seeds", args.seeds, "--methods", args.methods, "--device", args.device,
        "--jobs", str(args.jobs), "--page", str(pages["methods"]),
        *(["--data-note", args.data_note] if args.data_note else []),
        *[a for item in args.set for a in ("--set", item)],
    ]  # fmt: skip
    share = (until - time.monotonic()) * args.seed_share
    record["seeds"] = phase(seeds_cmd, share)
    finished = sorted(p.parent for p in runs.glob("*/seed_*/method_result.json"))
    record["runs"] = [str(p) for p in finished]
    if not finished:
        return record
    study = [sys.executable, str(bench / "validation_study.py"), "--device", args.device]
    stop = until - 30  # leaves time for the combining pass
    procs = [
        subprocess.Popen([*study, str(run), "--page", str(out_dir / f"v_{i}.md")])
        for i, run in enumerate(finished)
    ]
    for proc in procs:
        try:
            proc.wait(timeout=max(1.0, stop - time.monotonic()))
        except subprocess.TimeoutExpired:
            proc.kill()
    for extra in out_dir.glob("v_*"):
        extra.unlink()
    measured = [run for run in finished if (run / "validation_study.json").is_file()]
    record["validated"] = [str(p) for p in measured]
    if measured:
        record["validation"] = phase(
            [*study, *map(str, measured), "--page", str(pages["validation"])],
            until - time.monotonic(),
        )
    return record


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, required=True, help="UCSD Ped2 (frames layout)")
    parser.add_argument("--out", type=Path, required=True, help="where the record and page go")
    parser.add_argument("--runs", type=Path, default=REPO / "runs" / "gpu-session")
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--budget", type=float, default=240.0, help="training seconds a method")
    parser.add_argument("--methods", default="luss-ae,mae", help="comma list of recipes")
    parser.add_argument("--set", action="append", default=[], help="extra overrides, all methods")
    parser.add_argument("--bench", action="store_true", help="also run bench_gpu.py --write")
    parser.add_argument("--seeds", default="", help="seed studies first (e.g. 0,1,2)")
    parser.add_argument("--jobs", type=int, default=6, help="seed runs trained at once")
    parser.add_argument("--deadline", type=float, default=540.0, help="seconds for the studies")
    parser.add_argument("--seed-share", type=float, default=0.5, help="of it for training")
    parser.add_argument("--full", action="store_true", help="also train at full resolution")
    parser.add_argument("--data-note", default="", help="how the data differs from the original")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    start = time.monotonic()
    record: dict[str, Any] = {"machine": machine(), "budget_seconds": args.budget, "methods": {}}
    known = _recipes()
    out_file = args.out / "gpu_session.json"
    if args.seeds:
        record["studies"] = studies(args, args.out, start + args.deadline)
        out_file.write_text(json.dumps(record, indent=2) + "\n")
    for recipe in [m.strip() for m in args.methods.split(",") if m.strip()] if args.full else []:
        if recipe not in known:
            record["methods"][recipe] = {"skipped": "recipe not installed"}
            continue
        record["methods"][recipe] = method_session(
            recipe, args.data, args.runs, args.device, args.budget, args.set
        )
        out_file.write_text(json.dumps(record, indent=2) + "\n")  # what is done so far
    if args.bench:
        start = time.monotonic()
        done = subprocess.run(
            [
                sys.executable,
                str(REPO / "benchmarks" / "bench_gpu.py"),
                "--write",
                "--reps",
                "3",
                "--warmup",
                "1",
            ],
            check=False,
        )
        record["bench_gpu"] = {"exit_code": done.returncode, "seconds": time.monotonic() - start}
        page = REPO / "docs" / "benchmarks" / "speed-gpu.md"
        if done.returncode == 0 and page.is_file():
            shutil.copy(page, args.out / "speed-gpu.md")
    out_file.write_text(json.dumps(record, indent=2) + "\n")
    print(json.dumps(record, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
