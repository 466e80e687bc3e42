"""The benchmark scripts' way of driving vadkit: its CLI as a user types it, and one rule for
training a run folder that may already hold part of the work.

``train_or_resume`` continues a run only from a saved training state: a run folder whose training
was stopped before its first checkpoint (it holds ``config.toml`` and nothing to resume) is
trained again from the start rather than failing with "no checkpoint to resume from".
"""

from __future__ import annotations

import contextlib
import io
import json
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
#: Run the CLI in this process instead of a subprocess (the tests' tiny runs: no start-up cost).
IN_PROCESS = False


def vadkit(*args: str, capture: bool = False) -> str:
    """Run ``vadkit ARGS``; returns its standard output when ``capture``. A failure ends the
    benchmark with the command's exit code."""
    print("$ vadkit " + " ".join(args), flush=True)
    if IN_PROCESS:
        from vadkit.cli import main as cli

        out = io.StringIO()
        code: object = 0
        with contextlib.redirect_stdout(out) if capture else contextlib.nullcontext():
            try:
                cli(list(args))
            except SystemExit as exc:
                code = exc.code or 0
        if code:
            raise SystemExit(f"vadkit {args[0]} failed with exit code {code}")
        return out.getvalue()
    done = subprocess.run(
        [sys.executable, "-m", "vadkit", *args], check=False, text=True, capture_output=capture
    )
    if done.returncode != 0:
        sys.stderr.write(done.stderr or "")
        raise SystemExit(f"vadkit {args[0]} failed with exit code {done.returncode}")
    return done.stdout if capture else ""


def repo_relative(text: str) -> str:
    """``text`` with this machine's absolute paths written relative to the repository (pages and
    records are committed; the folders they name are not where another checkout has them)."""
    return text.replace(str(REPO) + "/", "").replace(str(REPO.parent) + "/", "../")


def _epoch_records(run: Path) -> list[dict[str, float]]:
    metrics = run / "metrics.jsonl"
    if not metrics.is_file():
        return []
    return [
        json.loads(line) for line in metrics.read_text().splitlines() if '"event": "epoch"' in line
    ]


def trained_epochs(run: Path) -> int:
    """Epochs the run has finished (0 for a folder that holds none)."""
    return max((int(r.get("epoch", -1)) + 1 for r in _epoch_records(run)), default=0)


def train_seconds(run: Path) -> float:
    """Seconds of training the run's epochs took, over all its sessions."""
    return sum(float(r.get("seconds", 0.0)) for r in _epoch_records(run))


def can_resume(run: Path) -> bool:
    """Whether ``vadkit train --resume RUN`` has a training state to continue from."""
    from vadkit.runs.checkpoints import state_path

    return state_path(run).is_file()


def train_or_resume(
    run: Path, args: Sequence[str], epochs: int | None = None, *, quiet: bool = True
) -> None:
    """Bring ``run`` to ``epochs`` epochs (the config's when None): reuse it when it is there,
    resume it from its training state, or train it from the start with ``args``."""
    hush = ("--quiet",) if quiet else ()
    done = trained_epochs(run)
    if epochs is not None and done >= epochs:
        print(f"{run}: already trained for {done} epochs, reusing it", flush=True)
    elif can_resume(run):
        more = ("--epochs", str(epochs)) if epochs is not None else ()
        vadkit("train", "--resume", str(run), *more, *hush)
    else:
        vadkit("train", *args, "--out", str(run), *hush)
