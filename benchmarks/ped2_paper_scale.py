"""LUSS-AE on UCSD Ped2 at the paper's scale (256 x 256, every training window, 60 epochs), in
steps that each fit in a time budget (default 7 minutes): run the same command again and again.

Each call does one step and exits:

1. train (or resume) ``vadkit train --recipe luss-ae`` for at most ``--budget`` seconds, then
   stop it like Ctrl-C does (SIGINT: the step in progress ends, a checkpoint is saved);
2. once training has reached ``train.epochs``: ``vadkit score`` the test videos;
3. then ``vadkit evaluate`` with the paper's Ped2 fusion weights, BPE, min-max, the paper's
   protocol, no smoothing; writes ``OUT/paper_scale.json`` and prints the fused micro AUROC.

``OUT.steps.jsonl``, beside the run folder, logs every step (what ran, for how long, where
training stood); it stays out of ``OUT`` because ``vadkit train`` starts a run only in a new or
empty folder, and a first step stopped before its first checkpoint is started again::

    python benchmarks/ped2_paper_scale.py --data ../shared/datasets/ped2 --out runs/ped2-256 \\
        --device cuda     # repeat until it prints "done"

On a CPU a 256 x 256 epoch takes hours, so this is meant for a GPU; scoring Ped2's 1,818 test
windows at 256 x 256 takes about a minute there.
"""

from __future__ import annotations

import argparse
import json
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from cli_runs import can_resume

REPO = Path(__file__).resolve().parents[1]
DEFAULT_DATA = REPO.parent / "shared" / "datasets" / "ped2"
STEPS_SUFFIX = ".steps.jsonl"
RESULT = "paper_scale.json"
#: Seconds a stopped training gets to finish its step and save before it is killed.
GRACE = 60


def _progress(run: Path) -> dict[str, int] | None:
    from vadkit.runs import checkpoints

    state = checkpoints.state_path(run)
    return checkpoints.read_state(state)["progress"] if state.is_file() else None


def _epochs(run: Path) -> int:
    import tomllib

    return int(tomllib.loads((run / "config.toml").read_text())["train"]["epochs"])


def steps_file(run: Path) -> Path:
    """The step log of ``run``: ``OUT.steps.jsonl``, beside the run folder."""
    return run.with_name(run.name + STEPS_SUFFIX)


def _log(run: Path, record: dict[str, Any]) -> None:
    steps = steps_file(run)
    steps.parent.mkdir(parents=True, exist_ok=True)
    with open(steps, "a", encoding="utf-8") as fh:
        fh.write(json.dumps(record) + "\n")


def _default_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def train_step(opts: Any) -> str:
    run: Path = opts.out
    if can_resume(run):  # a first step stopped before any checkpoint starts again
        cmd = ["train", "--resume", str(run), "--quiet"]
    else:
        cmd = ["train", "--recipe", "luss-ae", "--data", str(opts.data), "--out", str(run),
               "--set", f"train.device={opts.device}", "--quiet",
               *[a for item in opts.set for a in ("--set", item)]]  # fmt: skip
    print("$ vadkit " + " ".join(cmd), flush=True)
    start = time.monotonic()
    # SIGINT at its default in the child: this script started in the background (nohup ... &)
    # has it ignored, and a child stopped while it still imports would not hear it
    proc = subprocess.Popen([sys.executable, "-m", "vadkit", *cmd], preexec_fn=_default_sigint)
    stopped = False
    try:
        code = proc.wait(timeout=opts.budget)
    except subprocess.TimeoutExpired:
        stopped = True
        proc.send_signal(signal.SIGINT)  # finish the step, save, exit 130
        try:
            code = proc.wait(timeout=GRACE)
        except subprocess.TimeoutExpired:
            proc.kill()  # the last checkpoint stays intact
            code = proc.wait()
    seconds = round(time.monotonic() - start, 1)
    if code and not stopped:  # it failed on its own (stopped early, e.g. while starting: no loss)
        raise SystemExit(f"vadkit train failed with exit code {code}")
    progress = _progress(run)
    _log(run, {"step": "train", "seconds": seconds, "exit_code": code, "progress": progress})
    return f"trained for {seconds:.0f} s, now at {progress}"


def main(argv: list[str] | None = None) -> str:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--out", type=Path, default=REPO / "runs" / "ped2-256")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--budget", type=float, default=420.0, help="seconds of training per call")
    parser.add_argument("--set", action="append", default=[], help="extra config overrides")
    opts = parser.parse_args(argv)
    run: Path = opts.out
    progress = _progress(run)
    if progress is None or progress["epoch"] < _epochs(run) or progress["batch"]:
        message = train_step(opts)
    elif not (run / "scores" / "testing" / "set.json").is_file():
        start = time.monotonic()
        cmd = ["score", str(run), "--data", str(opts.data), "--device", opts.device, "--quiet"]
        print("$ vadkit " + " ".join(cmd), flush=True)
        subprocess.run([sys.executable, "-m", "vadkit", *cmd], check=True)
        _log(run, {"step": "score", "seconds": round(time.monotonic() - start, 1)})
        message = "scored the test videos"
    else:
        from vadkit.evaluation.evaluate import evaluate_run

        res = evaluate_run(run, error="bpe", normalizer="minmax", alphas="ped2", smooth=0.0)
        fused = float(res.fused.micro_auroc)
        out = {"fused_micro_auroc": fused, "protocol": res.protocol.to_json(), "run": str(run)}
        from vadkit.storage.io import write_text

        write_text(run / RESULT, json.dumps(out, indent=2) + "\n")  # whole or not at all
        _log(run, {"step": "evaluate", "fused_micro_auroc": fused})
        message = f"done: fused micro AUROC {fused:.4f} (BPE, min-max, weights 0.1, 0.8, 1)"
    print(message)
    return message


if __name__ == "__main__":
    main(sys.argv[1:])
