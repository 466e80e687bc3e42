"""Resume: a run killed mid-epoch (SIGKILL) or stopped by Ctrl-C, then resumed, ends with exactly
the weights of an uninterrupted run."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch
from conftest import TINY_MODEL, quiet_machine
from safetensors.torch import load_file

from vadkit.config import resolve_config
from vadkit.errors import ConfigError
from vadkit.runs import checkpoints
from vadkit.runs import folder as runs
from vadkit.training.callbacks import Callback, TrainingInterrupted
from vadkit.training.trainer import Trainer

# 2 videos of 24-30 frames, windows of 8+1 frames every 2 frames: about 20 windows, 5-6 batches of
# 4 per epoch; a checkpoint every 2 steps, so the first epoch has mid-epoch checkpoints.
TINY = [
    *TINY_MODEL,
    "data.stride=2",
    "train.batch_size=4",
    "train.checkpoint_steps=2",
    "train.log_steps=1",
    "train.epochs=2",
]
TIMING_KEYS = {"clips_per_s", "seconds"}
#: timm's weight EMA (with its warm-up) and a per-step cosine schedule with a warm-up epoch.
TIMM = [
    "train.ema=true",
    "train.ema_decay=0.9",
    "train.schedule=cosine",
    "train.warmup_epochs=1",
    "train.optimizer=adamw",
    "train.weight_decay=0.01",
]


@pytest.fixture(scope="module")
def scene(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from vadkit.data import generate_scene

    root = tmp_path_factory.mktemp("scene") / "tiny"
    return generate_scene(root, size=32, train_videos=2, test_videos=1, frames=(24, 30))


@pytest.fixture(scope="module", autouse=True)
def _env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """A private frame cache and one torch thread (OMP_NUM_THREADS for the subprocesses)."""
    with quiet_machine(tmp_path_factory.mktemp("cache"), OMP_NUM_THREADS="1"):
        yield


def _config(scene: Path, *extra: str) -> dict:
    return resolve_config(overrides=[*TINY, *extra], flags={"data.root": str(scene)})


@pytest.fixture(scope="module")
def reference(scene: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The uninterrupted run."""
    run = tmp_path_factory.mktemp("ref") / "run"
    Trainer(_config(scene), run).fit()
    return run


@pytest.fixture(scope="module")
def timm_reference(scene: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The uninterrupted run with weight EMA, AdamW and a cosine schedule."""
    run = tmp_path_factory.mktemp("ref_timm") / "run"
    Trainer(_config(scene, *TIMM), run).fit()
    return run


def _assert_same_run(a: Path, b: Path) -> None:
    wa = load_file(a / "checkpoints" / "last.safetensors")
    wb = load_file(b / "checkpoints" / "last.safetensors")
    assert wa.keys() == wb.keys()
    for key in wa:
        assert torch.equal(wa[key], wb[key]), f"tensor {key} differs after resuming"
    sa = checkpoints.read_state(a / "checkpoints" / "last.state.pt")
    sb = checkpoints.read_state(b / "checkpoints" / "last.state.pt")
    assert sa["progress"] == sb["progress"]
    assert sa["progress"]["epoch"] == 2 and sa["progress"]["batch"] == 0
    for pid, state in sa["optimizer"]["state"].items():
        for key, value in state.items():
            assert torch.equal(value, sb["optimizer"]["state"][pid][key]), f"Adam {key} differs"
    for key in ("scheduler", "ema"):
        assert sa[key].keys() == sb[key].keys()
    for key, value in sa["ema"].items():
        assert torch.equal(value, sb["ema"][key]), f"EMA {key} differs in the state"
    ema_a, ema_b = a / "checkpoints" / "ema.safetensors", b / "checkpoints" / "ema.safetensors"
    assert ema_a.exists() == ema_b.exists() == bool(sa["ema"])
    if ema_a.exists():
        ea, eb = load_file(ema_a), load_file(ema_b)
        assert ea.keys() == wa.keys()
        assert all(torch.equal(ea[k], eb[k]) for k in ea), "EMA weights differ after resuming"
        assert any(not torch.equal(ea[k], wa[k]) for k in ea), "the EMA is the raw weights"
    for epoch in (1, 2):  # the epoch copies too
        name = f"epoch_{epoch:04d}.safetensors"
        ea, eb = load_file(a / "checkpoints" / name), load_file(b / "checkpoints" / name)
        assert all(torch.equal(ea[k], eb[k]) for k in ea)

    def records(run: Path) -> list[dict]:
        out = []
        for line in (run / "metrics.jsonl").read_text().splitlines():
            rec = json.loads(line)
            if rec["event"] in ("resumed", "interrupted", "projection"):
                continue  # events of each start: an uninterrupted run has one start
            out.append({k: v for k, v in rec.items() if k not in TIMING_KEYS})
        return out

    assert records(a) == records(b)  # the log holds every step once, with the same losses


CRASH_SCRIPT = textwrap.dedent(
    """
    import os, signal, sys
    import torch
    torch.set_num_threads(int(sys.argv[3]))
    from vadkit.config import resolve_config
    from vadkit.training.callbacks import Callback
    from vadkit.training.trainer import Trainer

    class KillAfterFirstMidEpochCheckpoint(Callback):
        armed = False

        def on_checkpoint(self, trainer, path, progress):
            if progress.batch > 0:
                self.armed = True

        def on_step_end(self, trainer, progress):
            if self.armed:  # one step past the checkpoint: that step is lost
                os.kill(os.getpid(), signal.SIGKILL)

    config = resolve_config(overrides=sys.argv[4:], flags={"data.root": sys.argv[1]})
    Trainer(config, sys.argv[2], callbacks=[KillAfterFirstMidEpochCheckpoint()]).fit()
    """
)


@pytest.mark.parametrize("variant", ["adam", "timm"])
def test_sigkill_mid_epoch_then_resume_matches_uninterrupted(
    scene: Path, variant: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    extra = TIMM if variant == "timm" else []
    reference = request.getfixturevalue("timm_reference" if extra else "reference")
    run = tmp_path / "run"
    proc = subprocess.run(
        [sys.executable, "-c", CRASH_SCRIPT, str(scene), str(run), str(torch.get_num_threads()),
         *TINY, *extra],
        capture_output=True,
        text=True,
        timeout=120,
    )  # fmt: skip
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    state = checkpoints.read_state(run / "checkpoints" / "last.state.pt")
    assert state["progress"] == {"epoch": 0, "batch": 2, "step": 2}  # killed at step 3
    with pytest.raises(ConfigError, match="already holds a training run"):
        Trainer(runs.read_config(run), run).setup()  # no silent restart over a run
    from vadkit.cli import main

    with pytest.raises(SystemExit) as done:
        main(["train", "--resume", str(run), "--quiet"])
    assert done.value.code in (0, None)
    _assert_same_run(reference, run)
    if extra:  # the schedule moved the learning rate: warm-up up, then cosine down
        lrs = [
            json.loads(line)["lr"]
            for line in (run / "metrics.jsonl").read_text().splitlines()
            if '"event": "step"' in line
        ]
        peak = lrs.index(max(lrs))
        assert 0 < peak < len(lrs) - 1 and lrs[0] < lrs[peak] and lrs[-1] < lrs[peak]


class _SendSigint(Callback):
    def __init__(self, at_step: int) -> None:
        self.at_step = at_step

    def on_step_end(self, trainer: Trainer, progress: checkpoints.Progress) -> None:
        if progress.step == self.at_step:
            os.kill(os.getpid(), signal.SIGINT)


def test_ctrl_c_saves_then_resume_matches_uninterrupted(
    scene: Path, reference: Path, tmp_path: Path
) -> None:
    run = tmp_path / "run"
    per_epoch = (
        checkpoints.read_state(reference / "checkpoints" / "last.state.pt")["progress"]["step"] // 2
    )
    at = per_epoch + 3  # in the second epoch, one step past a mid-epoch checkpoint or two
    found = signal.getsignal(signal.SIGINT)  # SIG_IGN in a background job (`make test &`)
    with pytest.raises(TrainingInterrupted) as stop:
        Trainer(_config(scene), run, callbacks=[_SendSigint(at_step=at)]).fit()
    assert stop.value.exit_code == 130
    assert stop.value.progress == checkpoints.Progress(epoch=1, batch=3, step=at)
    state = checkpoints.read_state(run / "checkpoints" / "last.state.pt")
    assert state["progress"] == {"epoch": 1, "batch": 3, "step": at}  # saved at the stop
    assert signal.getsignal(signal.SIGINT) is found  # the handler it found is restored
    Trainer(runs.read_config(run), run, resume=True).fit()
    _assert_same_run(reference, run)


def test_cli_ctrl_c_exits_130_with_a_checkpoint(scene: Path, tmp_path: Path) -> None:
    run = tmp_path / "run"
    args = [a for item in TINY if not item.startswith("train.epochs") for a in ("--set", item)]
    proc = subprocess.Popen(
        [sys.executable, "-m", "vadkit", "train", "--data", str(scene), "--out", str(run),
         "--epochs", "1000", "--quiet", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )  # fmt: skip
    state_file = run / "checkpoints" / "last.state.pt"
    try:
        deadline = time.monotonic() + 120
        while not state_file.exists() and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert state_file.exists(), "no checkpoint appeared"
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=120)
    finally:
        proc.kill()
    assert proc.returncode == 130, err
    assert "Traceback" not in err
    assert "--resume" in err
    progress = checkpoints.read_state(state_file)["progress"]
    assert progress["step"] >= 2
    lines = (run / "metrics.jsonl").read_text().splitlines()
    assert json.loads(lines[-1]) == {"event": "interrupted", **progress}
