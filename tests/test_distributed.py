"""Training and scoring on several processes (torch.distributed, gloo on the CPU).

The processes are started by torch's own launcher (``python -m torch.distributed.run``, i.e.
torchrun), each with one torch thread. ``tests/dist_worker.py`` is the training process when a
test needs the Python API (a crash hook); the CLI tests run ``-m vadkit`` itself.
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import TINY_MODEL, quiet_machine
from safetensors.torch import load_file
from torch.utils.data import DistributedSampler

from vadkit.compute import distributed
from vadkit.config import resolve_config
from vadkit.data.sampling import TrainWindows, make_train_loader
from vadkit.data.shards import shard_order
from vadkit.data.video import Video
from vadkit.runs import checkpoints, layout
from vadkit.runs import folder as runs
from vadkit.runs import model as run_model
from vadkit.training.trainer import Trainer

WORKER = Path(__file__).with_name("dist_worker.py")
STEPS_PER_EPOCH = 3  # 3 videos x 16 windows = 48 windows = 3 global batches of 16
EPOCHS = 8
WARMUP_EPOCHS = 1
#: The run of the equivalence test: a tiny cae3d, 48 windows, 24 steps, the learning rate warmed
#: up over the first epoch and decayed to train.min_lr = 0 at the last step. PRP draws its rate
#: per clip: a per-batch draw is, by design, one per rank's batch (see TrainWindows.sample).
TINY = [
    *TINY_MODEL,
    "data.stride=1",
    'tasks.params.prp.rate_per="clip"',
    "train.log_steps=1",
    f"train.epochs={EPOCHS}",
    'train.schedule="cosine"',  # timm's warm-up and cosine, sized in optimizer steps per epoch
    f"train.warmup_epochs={WARMUP_EPOCHS}",
    "train.checkpoint_steps=2",
    "train.save_every=0",
    "train.device=cpu",
]
TIMING_KEYS = {"clips_per_s", "seconds"}
EVENTS = ("resumed", "interrupted")


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """One torch thread here and in the launched processes, a private frame cache."""
    cache = tmp_path_factory.mktemp("cache")
    with quiet_machine(cache, OMP_NUM_THREADS="1"):
        yield dict(os.environ)


@pytest.fixture(scope="module")
def scene(tmp_path_factory: pytest.TempPathFactory, env: dict[str, str]) -> Path:
    """3 training videos of 24 frames: 16 windows of 8+1 frames each, 48 in all (even batches)."""
    from vadkit.data import generate_scene

    root = tmp_path_factory.mktemp("scene") / "scene"
    return generate_scene(root, size=32, train_videos=3, test_videos=3, frames=(24, 24))


def torchrun(
    args: list[str], env: dict[str, str], *, nproc: int = 2, restarts: int = 0
) -> subprocess.CompletedProcess[str]:
    cmd = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        f"--nproc-per-node={nproc}",
        f"--max-restarts={restarts}",
        *args,
    ]
    out = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, (
        f"{' '.join(cmd)} failed:\n{out.stdout[-3000:]}\n{out.stderr[-5000:]}"
    )
    return out


def worker(spec: dict[str, object], tmp: Path, env: dict[str, str], restarts: int = 0) -> None:
    path = tmp / f"spec-{len(list(tmp.glob('spec-*')))}.json"
    path.write_text(json.dumps(spec))
    torchrun([str(WORKER), str(path)], env, restarts=restarts)


def steps(run: Path) -> list[dict[str, object]]:
    """The step and epoch records of a run's metrics (no timings, no per-start events)."""
    out = []
    for line in (run / layout.METRICS_FILE).read_text().splitlines():
        rec = json.loads(line)
        if rec["event"] in ("step", "epoch"):
            out.append({k: v for k, v in rec.items() if k not in TIMING_KEYS})
    return out


@pytest.fixture(scope="module")
def one_by_16(scene: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    run = tmp_path_factory.mktemp("one") / "run"
    config = resolve_config(
        overrides=[*TINY, "train.batch_size=16"], flags={"data.root": str(scene)}
    )
    Trainer(config, run).fit()
    return run


@pytest.fixture(scope="module")
def two_by_8(scene: Path, tmp_path_factory: pytest.TempPathFactory, env: dict[str, str]) -> Path:
    """The 2 x 8 run, started as users start it: ``vadkit train --nproc 2`` (torch's elastic
    launcher, the same as ``torchrun --standalone --nproc-per-node 2 -m vadkit train``)."""
    run = tmp_path_factory.mktemp("two") / "run"
    cmd = [sys.executable, "-m", "vadkit", "train", "--nproc", "2", "--data", str(scene)]
    cmd += ["--out", str(run), "-q", "--track", "tensorboard"]  # rank 0 logs it alone
    for item in [*TINY, "train.batch_size=8"]:
        cmd += ["--set", item]
    out = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-4000:]
    return run


# -- sharding -------------------------------------------------------------------------------------
@pytest.mark.parametrize("n", [0, 1, 7, 16, 43])
@pytest.mark.parametrize("world", [1, 2, 3])
def test_shards_follow_distributed_sampler(n: int, world: int) -> None:
    order = np.random.default_rng(n).permutation(n)
    for rank in range(world):
        sampler = DistributedSampler(
            list(order), num_replicas=world, rank=rank, shuffle=False, drop_last=False
        )
        expected = [int(order[i]) for i in sampler] if n else []
        assert shard_order(order, rank, world).tolist() == expected


def _videos(count: int, frames: int, size: int = 8) -> list[Video]:
    rng = np.random.default_rng(0)
    return [
        Video.from_array(f"v{i}", rng.integers(0, 255, (frames, size, size, 1), dtype=np.uint8))
        for i in range(count)
    ]


def test_rank_batches_together_are_one_process_batches() -> None:
    """Batch b of every rank (batch 8) holds the windows of batch b of one process (batch 16)."""
    windows = TrainWindows(_videos(3, 24), clip_length=8, stride=1, seed=3)
    for epoch in (0, 1):
        one = make_train_loader(windows, batch_size=16, epoch=epoch).batch_keys()
        ranks = [
            make_train_loader(windows, batch_size=8, epoch=epoch, rank=r, world_size=2).batch_keys()
            for r in (0, 1)
        ]
        assert len(ranks[0]) == len(ranks[1]) == len(one)
        for b, keys in enumerate(one):
            together = sorted(k.index for r in ranks for k in r[b])
            assert together == sorted(k.index for k in keys)
            assert {k.rank for k in ranks[1][b]} == {1}


def test_each_rank_draws_its_own_batch_rate() -> None:
    """PRP with one playback rate per batch: rank 0 draws what one process draws, rank 1 its own."""
    from vadkit_luss.tasks import PlaybackRatePrediction as PRP

    prp = PRP(p_accelerated=1.0, rate_per="batch")
    windows = TrainWindows(_videos(1, 80), clip_length=4, stride=1, tasks={"prp": prp}, seed=0)

    single = [windows.sample(0, batch_index=b)["views"]["prp"] for b in range(20)]
    rank0 = [windows.sample(0, batch_index=b, rank=0)["views"]["prp"] for b in range(20)]
    rank1 = [windows.sample(0, batch_index=b, rank=1)["views"]["prp"] for b in range(20)]
    assert all(np.array_equal(a, b) for a, b in zip(single, rank0, strict=True))
    assert not all(np.array_equal(a, b) for a, b in zip(single, rank1, strict=True))


# -- the three gloo runs --------------------------------------------------------------------------
def test_two_processes_of_8_train_like_one_of_16(one_by_16: Path, two_by_8: Path) -> None:
    """2 processes x batch 8 with SyncBatchNorm and DDP = 1 process x batch 16, same seed and
    windows, 24 steps: the logged losses agree within 1e-4 (measured: 4e-6) and every weight
    within 2e-4 (measured: 5e-5) but the convolution biases that feed a BatchNorm and the
    running means that absorb them. Their exact gradient is zero (BatchNorm subtracts the mean
    the bias shifts), so Adam turns rounding noise into steps of up to lr: they are compared
    within lr x steps instead. The processes sum in another order, hence no bit equality."""
    a, b = steps(one_by_16), steps(two_by_8)
    assert len(a) == len(b) == EPOCHS * (STEPS_PER_EPOCH + 1)
    for ra, rb in zip(a, b, strict=True):
        assert (ra["event"], ra["step"]) == (rb["event"], rb["step"])
        if ra["event"] == "step":  # the same schedule: each rank's steps, not the dataset's
            assert rb["lr"] == ra["lr"], f"step {ra['step']}: lr {rb['lr']} != {ra['lr']}"
        assert rb["loss"] == pytest.approx(ra["loss"], abs=1e-4)
        for task, value in ra["losses"].items():
            assert rb["losses"][task] == pytest.approx(value, abs=1e-4)
    world = [json.loads(x) for x in (two_by_8 / layout.METRICS_FILE).read_text().splitlines()]
    assert {
        k: v for k, v in world[0].items() if k in ("event", "step", "world_size", "global_batch")
    } == {"event": "world", "step": 0, "world_size": 2, "global_batch": 16}
    wa = load_file(one_by_16 / "checkpoints" / "last.safetensors")
    wb = load_file(two_by_8 / "checkpoints" / "last.safetensors")
    assert wa.keys() == wb.keys()
    config = runs.read_config(one_by_16)
    model = run_model.build_model(config)
    before_bn = set()
    modules = dict(model.named_modules())
    for name, module in modules.items():
        if isinstance(module, torch.nn.modules.batchnorm._BatchNorm):
            prefix, _, index = name.rpartition(".")
            before_bn.add(f"{prefix}.{int(index) - 1}.bias")
            before_bn.add(f"{name}.running_mean")
    assert before_bn, "the model has no BatchNorm: the test would check nothing of SyncBatchNorm"
    drift = float(config["train"]["lr"]) * EPOCHS * STEPS_PER_EPOCH
    for key in wa:
        diff = (wa[key].double() - wb[key].double()).abs().max().item()
        limit = 1.05 * drift if key in before_bn else 2e-4
        assert diff <= limit, f"{key} differs by {diff:.2e} (limit {limit:.1e})"


def test_only_rank_zero_logs_to_the_trackers(two_by_8: Path) -> None:
    """``--track tensorboard`` on 2 processes: one event file (rank 0's), holding each step
    record of ``metrics.jsonl`` once."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    folder = two_by_8 / "tensorboard"
    assert len(list(folder.glob("events.out.tfevents.*"))) == 1
    board = EventAccumulator(str(folder), size_guidance={"scalars": 0})
    board.Reload()
    records = [r for r in steps(two_by_8) if r["event"] == "step"]
    logged = [(e.step, e.value) for e in board.Scalars("train/loss")]
    assert [s for s, _ in logged] == [r["step"] for r in records]
    assert [v for _, v in logged] == pytest.approx([r["loss"] for r in records], rel=1e-6)


def test_schedule_on_two_processes_ends_with_the_run(two_by_8: Path) -> None:
    """The 2 x 8 run's learning rate at each step is timm's warm-up + cosine sized by the
    optimizer steps of one rank's shard (data/shards.py), 3 per epoch, not by the 6 batches of 8
    of the whole epoch: warm-up ends after the first epoch and the rate reaches train.min_lr at
    the run's last step, not halfway through its decay."""
    from timm.scheduler import create_scheduler_v2

    train = runs.read_config(two_by_8)["train"]
    windows = np.arange(STEPS_PER_EPOCH * 16)  # the scene's 48 windows
    per_rank = {-(-len(shard_order(windows, r, 2)) // train["batch_size"]) for r in (0, 1)}
    assert per_rank == {STEPS_PER_EPOCH}
    probe = torch.optim.Adam([torch.nn.Parameter(torch.zeros(1))], lr=train["lr"])
    schedule, _ = create_scheduler_v2(
        probe,
        sched="cosine",
        num_epochs=train["epochs"],
        warmup_epochs=train["warmup_epochs"],
        warmup_lr=train["warmup_lr"],
        min_lr=train["min_lr"],
        step_on_epochs=False,
        updates_per_epoch=STEPS_PER_EPOCH,
    )
    records = [r for r in steps(two_by_8) if r["event"] == "step"]
    assert [r["step"] for r in records] == list(range(1, EPOCHS * STEPS_PER_EPOCH + 1))
    expected = []
    for record in records:
        schedule.step_update(num_updates=record["step"])
        expected.append(probe.param_groups[0]["lr"])
    lrs = [r["lr"] for r in records]
    assert lrs == pytest.approx(expected, rel=1e-12, abs=0)
    warm = WARMUP_EPOCHS * STEPS_PER_EPOCH
    assert lrs[:warm] == sorted(lrs[:warm]) and lrs[warm:] == sorted(lrs[warm:], reverse=True)
    assert lrs[-1] == train["min_lr"] < min(lrs[:-1])


def test_rank_killed_or_stopped_then_restarted_matches_uninterrupted(
    scene: Path, two_by_8: Path, tmp_path: Path, env: dict[str, str]
) -> None:
    """Rank 1 is SIGKILLed after step 11 (mid-epoch; the last checkpoint is step 10's) and
    torchrun (--max-restarts) starts both ranks again, which resume from that checkpoint; in
    that second attempt rank 1 gets a SIGTERM after step 19: the ranks agree on it after the
    next step, every rank stops after step 20, rank 0 saves it, and the third attempt resumes
    there. The run ends with the weights, optimizer state and log of the uninterrupted run, bit
    for bit."""
    spec = {
        "scene": str(scene),
        "run": str(tmp_path / "run"),
        "overrides": [*TINY, "train.batch_size=8"],
        "signals": [[0, 1, 11, "SIGKILL"], [1, 1, 19, "SIGTERM"]],
    }
    worker(spec, tmp_path, env, restarts=2)
    run = tmp_path / "run"
    records = [json.loads(x) for x in (run / layout.METRICS_FILE).read_text().splitlines()]
    starts = [(r["event"], r["step"], r["batch"]) for r in records if r["event"] in EVENTS]
    # resumed mid-epoch at step 10 (batch 1 of epoch 3), stopped after step 20 (batch 2 of
    # epoch 6) and resumed there
    assert starts == [("resumed", 10, 1), ("interrupted", 20, 2), ("resumed", 20, 2)]
    wa = load_file(two_by_8 / "checkpoints" / "last.safetensors")
    wb = load_file(run / "checkpoints" / "last.safetensors")
    assert all(torch.equal(wa[k], wb[k]) for k in wa), "weights differ after the restart"
    sa = checkpoints.read_state(two_by_8 / "checkpoints" / "last.state.pt")
    sb = checkpoints.read_state(run / "checkpoints" / "last.state.pt")
    assert sa["progress"] == sb["progress"]
    for pid, state in sa["optimizer"]["state"].items():
        for key, value in state.items():
            assert torch.equal(value, sb["optimizer"]["state"][pid][key]), f"Adam {key} differs"
    assert steps(two_by_8) == steps(run)


def test_a_run_resumed_on_another_number_of_processes_warns_once_and_records_it(
    scene: Path, tmp_path: Path, env: dict[str, str]
) -> None:
    """1 process for an epoch, resumed on 2 (``--nproc 2``) for the next, then on 1 again: each
    change of the number of processes is one warning (from rank 0 alone) and one
    ``world_size_changed`` record in metrics.jsonl with both sizes and global batches."""
    from vadkit.training.launch import resolve_train_config

    run = tmp_path / "run"
    settings = [*TINY, "train.batch_size=8", "train.epochs=1", 'train.schedule="constant"']
    Trainer(resolve_config(overrides=settings, flags={"data.root": str(scene)}), run).fit()
    cmd = [sys.executable, "-m", "vadkit", "train", "--resume", str(run), "--epochs", "2"]
    out = subprocess.run(
        [*cmd, "--nproc", "2", "-q"], env=env, capture_output=True, text=True, timeout=600
    )
    assert out.returncode == 0, out.stderr[-4000:]
    said = [line for line in out.stderr.splitlines() if "resumes" in line]
    assert len(said) == 1, out.stderr[-4000:]  # once, not once per rank
    assert (
        said[0].startswith("warning: ") and "trained on 1 process(es) and resumes on 2" in said[0]
    )
    assert "global batch changes from 8 to 16" in said[0]
    _, config = resolve_train_config(resume=run, flags={"train.epochs": 3})
    with pytest.warns(UserWarning, match=r"trained on 2 process\(es\) and resumes on 1"):
        Trainer(config, run, resume=True).fit()
    records = [json.loads(x) for x in (run / layout.METRICS_FILE).read_text().splitlines()]
    changes = [
        {k: r[k] for k in ("step", "from_world_size", "world_size", "global_batch")}
        for r in records
        if r["event"] == "world_size_changed"
    ]
    # 48 windows: 6 steps of 8 on one process, 3 of 2 x 8 on two
    assert changes == [
        {"step": 6, "from_world_size": 1, "world_size": 2, "global_batch": 16},
        {"step": 9, "from_world_size": 2, "world_size": 1, "global_batch": 8},
    ]


# -- a failure or Ctrl-C under --nproc is told once --------------------------------------------
def _launched(args: list[str], env: dict[str, str]) -> subprocess.Popen[str]:
    """``vadkit ARGS`` as a user starts it (its own session: a terminal's Ctrl-C reaches the
    launcher, which passes it on to the processes it started in sessions of their own)."""
    return subprocess.Popen(
        [sys.executable, "-m", "vadkit", *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )


def _untidy(err: str) -> list[str]:
    """What must not reach the user: tracebacks, a rank's prefixed lines, the elastic agent's."""
    marks = ("Traceback", "[rank", "torch/distributed", "ChildFailedError", "SignalException")
    return [line for line in err.splitlines() if any(mark in line for mark in marks)]


def test_one_ranks_vadkit_error_under_nproc_is_told_once_without_a_traceback(
    tmp_path: Path, env: dict[str, str]
) -> None:
    """Rank 0 finds the data root missing (it opens the data first, the others wait for it);
    rank 1 then fails in its barrier, its peer gone. One panel, exit 2, nothing else."""
    temp = tmp_path / "temp"  # where the launcher keeps the processes' reports
    temp.mkdir()
    proc = _launched(
        [
            "train",
            "--nproc",
            "2",
            "--data",
            str(tmp_path / "missing"),
            "--out",
            str(tmp_path / "r"),
        ],
        dict(env, TMPDIR=str(temp)),
    )
    _, err = proc.communicate(timeout=600)
    assert proc.returncode == 2, err
    flat = " ".join(re.sub(r"[│╭╮╰╯─]", " ", err).split())  # the panel's text
    assert flat.count("vadkit: error") == 1 and flat.count("is not a folder") == 1, err
    assert not _untidy(err), err
    assert not list(temp.glob("vadkit-launch-*"))  # the reports are gone with the launch


def test_a_crash_under_nproc_is_one_line_naming_the_rank_and_its_traceback(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A launched process that fails on a bug reports it and prints nothing; the launcher tells
    the failure that explains the others: a vadkit error before any crash, else the first crash,
    in one line naming the rank and the file that keeps its traceback."""
    from conftest import run_cli

    from vadkit import plugins
    from vadkit.cli.common import show_failure
    from vadkit.compute import reports

    def broken() -> None:
        raise RuntimeError("boom\nsecond line")

    monkeypatch.setenv(reports.REPORT_ENV, str(tmp_path))
    monkeypatch.setenv("RANK", "1")
    monkeypatch.setattr(plugins, "get_host", broken)
    assert run_cli(["plugins"]) == 1
    assert capsys.readouterr().err == ""  # said by the launcher, not here
    (crash,) = reports.read_failures(tmp_path)
    assert (crash.rank, crash.kind, crash.exit_code) == (1, "crash", 1)
    assert crash.message == "RuntimeError: boom" and crash.traceback is not None
    assert "Traceback" in Path(crash.traceback).read_text()
    show_failure(crash)
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "rank 1 failed: RuntimeError: boom (traceback: " in err
    monkeypatch.setenv("RANK", "0")
    assert reports.report_failure("error", 2, "Run 'x' has no scores yet.", hint="vadkit score x")
    assert reports.first_failure(reports.read_failures(tmp_path)).kind == "error"  # the cause
    monkeypatch.delenv(reports.REPORT_ENV)
    assert not reports.report_failure("crash", 1, "elsewhere: printed as before")


@pytest.mark.skipif(os.name != "posix", reason="signals are POSIX")
def test_ctrl_c_under_nproc_saves_and_ends_with_one_line_and_exit_130(
    scene: Path, tmp_path: Path, env: dict[str, str]
) -> None:
    run = tmp_path / "run"
    args = ["train", "--nproc", "2", "--data", str(scene), "--out", str(run), "-q"]
    for item in [*TINY, "train.batch_size=8", "train.epochs=400", 'train.schedule="constant"']:
        args += ["--set", item]
    proc = _launched(args, env)
    try:
        last = run / "checkpoints" / "last.safetensors"
        deadline = time.monotonic() + 400
        while not last.is_file() and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.5)
        assert last.is_file() and proc.poll() is None, proc.communicate()[1][-3000:]
        os.kill(proc.pid, signal.SIGINT)  # Ctrl-C: the launcher's
        _, err = proc.communicate(timeout=300)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    assert proc.returncode == 130, err
    said = [line for line in err.splitlines() if "Interrupted" in line]
    assert len(said) == 1 and "checkpoint saved" in said[0], err  # rank 0's line, once
    assert not _untidy(err), err
    records = [json.loads(x) for x in (run / layout.METRICS_FILE).read_text().splitlines()]
    stop = [r for r in records if r["event"] == "interrupted"]
    assert len(stop) == 1  # both ranks stopped after one agreed step; rank 0 saved it
    state = checkpoints.read_state(run / "checkpoints" / "last.state.pt")
    assert state["progress"]["step"] == stop[0]["step"]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_two_nodes_train_like_two_processes_of_one(
    scene: Path, two_by_8: Path, tmp_path: Path, env: dict[str, str]
) -> None:
    """Two "nodes" on localhost, one process each, meet at a c10d rendezvous endpoint as the
    machines of a cluster do (``torchrun --nnodes 2 --rdzv-backend c10d --rdzv-endpoint
    HOST:PORT``): the run equals the 2-process run of one node (``vadkit train --nproc 2``) bit
    for bit, log and weights; the processes and their ranks are the same, only the rendezvous
    differs."""
    run = tmp_path / "run"
    port = free_port()
    train = ["train", "--data", str(scene), "--out", str(run), "-q"]
    for item in [*TINY, "train.batch_size=8"]:
        train += ["--set", item]
    nodes = []
    for node in (0, 1):
        cmd = [sys.executable, "-m", "torch.distributed.run", "--nnodes=2"]
        cmd += ["--nproc-per-node=1", "--rdzv-backend=c10d"]  # c10d numbers the nodes itself
        cmd += [f"--rdzv-endpoint=127.0.0.1:{port}", f"--rdzv-id=two-nodes-{port}"]
        log = tmp_path / f"node{node}.log"  # a file, not a pipe: a full pipe would stall a node
        with log.open("w") as sink:
            proc = subprocess.Popen(
                [*cmd, "-m", "vadkit", *train],
                env=env,
                stdout=sink,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # a group of its own: a hung node goes with its workers
            )
        nodes.append((proc, log))
    try:
        for proc, _ in nodes:
            proc.wait(timeout=600)
    finally:
        for proc, _ in nodes:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
    for node, (proc, log) in enumerate(nodes):
        assert proc.returncode == 0, f"node {node} failed:\n{log.read_text()[-4000:]}"
    world = json.loads((run / layout.METRICS_FILE).read_text().splitlines()[0])
    assert (world["event"], world["world_size"], world["global_batch"]) == ("world", 2, 16)
    assert steps(run) == steps(two_by_8)
    wa = load_file(two_by_8 / "checkpoints" / "last.safetensors")
    wb = load_file(run / "checkpoints" / "last.safetensors")
    assert wa.keys() == wb.keys()
    assert all(torch.equal(wa[k], wb[k]) for k in wa), "weights differ from the one-node run"


def test_score_on_two_processes_writes_the_one_process_score_set(
    scene: Path, one_by_16: Path, env: dict[str, str]
) -> None:
    """``vadkit score --nproc 2`` starts ``vadkit score`` on 2 processes through torch's elastic
    launcher (what ``torchrun --standalone --nproc-per-node 2 -m vadkit score`` does): they
    split the 3 videos, rank 0 writes the one score set, equal to the 1-process set array for
    array, and alone reports (stdout is one JSON document)."""
    from vadkit.inference.score import score_run

    single = score_run(one_by_16, data=scene, name="single", device="cpu").to_json()
    cmd = [sys.executable, "-m", "vadkit", "score", str(one_by_16), "--data", str(scene)]
    cmd += ["--name", "pair", "--device", "cpu", "--nproc", "2", "--json"]
    out = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-4000:]
    report = json.loads(out.stdout)
    assert report["name"] == "pair" and report["frames_scored"] == single["frames_scored"]
    pair = json.loads((one_by_16 / "scores" / "pair" / "set.json").read_text())
    assert [v["name"] for v in pair["videos"]] == [v["name"] for v in single["videos"]]
    assert len(pair["videos"]) == 3
    for va, vb in zip(single["videos"], pair["videos"], strict=True):
        a = np.load(one_by_16 / "scores" / va["file"])
        b = np.load(one_by_16 / "scores" / vb["file"])
        assert sorted(a.files) == sorted(b.files)
        for key in a.files:
            assert np.array_equal(a[key], b[key]), f"{va['name']}: {key} differs"
    index = json.loads((one_by_16 / "scores" / "index.json").read_text())
    assert {"single", "pair"} <= set(json.dumps(index).replace('"', " ").split())


def test_world_helpers_are_one_process_outside_torchrun(monkeypatch: pytest.MonkeyPatch) -> None:
    for key in ("RANK", "WORLD_SIZE", "LOCAL_RANK", distributed.RESTART_ENV):
        monkeypatch.delenv(key, raising=False)
    world = distributed.init_from_env("cpu")
    assert world == distributed.World() and world.is_main and not world.distributed
    assert distributed.from_main(5) == 5
    assert distributed.gather_to_main([1, 2]) == [[1, 2]]
    assert not distributed.restarting()
    losses = {"loss": torch.tensor(1.5)}
    assert distributed.agree_step(losses, None) == (losses, None)
    assert distributed.strip_option(
        ["train", "--nproc", "2", "--out", "r", "--devices=4"], ("--nproc", "--devices")
    ) == ["train", "--out", "r"]


def test_the_process_group_is_destroyed_at_exit(monkeypatch: pytest.MonkeyPatch) -> None:
    """init_from_env registers leave() at exit: a gloo group left to the interpreter's
    finalization can abort a rank that succeeded (SIGABRT, seen once under CI load). Here a
    one-process gloo group stands in for torchrun's rendezvous."""
    import torch.distributed as dist

    registered = []
    monkeypatch.setattr(distributed.atexit, "register", registered.append)
    monkeypatch.setenv("WORLD_SIZE", "2")  # so init_from_env joins a group
    monkeypatch.setenv("RANK", "0")
    store = dist.HashStore()
    monkeypatch.setattr(dist, "rendezvous", lambda *a, **k: iter([(store, 0, 1)]))
    try:
        world = distributed.init_from_env("cpu")
        assert dist.is_initialized() and world.size == 1
        assert registered == [distributed.leave]
        distributed.leave()  # what the interpreter calls at exit
        assert not dist.is_initialized()
        distributed.leave()  # twice, or without a group: nothing to do
    finally:
        if dist.is_initialized():
            dist.destroy_process_group()


# -- memory stays bounded -------------------------------------------------------------------------
def _raw_videos(folder: Path, videos: int, frames: int, size: int) -> Path:
    """Frame files in the frame cache's format, written directly (no decoding)."""
    folder.mkdir(parents=True)
    rng = np.random.default_rng(videos)
    for i in range(videos):
        data = rng.integers(0, 255, (frames, size, size, 1), dtype=np.uint8)
        data.tofile(folder / f"{i:04d}.u8")
    return folder


@pytest.mark.slow
@pytest.mark.skipif(
    not Path("/proc/self/smaps_rollup").is_file(), reason="needs Linux's /proc/PID/smaps_rollup"
)
def test_loader_memory_does_not_grow_with_the_frames(tmp_path: Path, env: dict[str, str]) -> None:
    """2 ranks with 2 DataLoader workers each load 40 batches of 16 windows from a dataset of
    1,600 and of 12,800 frames of 64 x 64 (6.6 MB and 52 MB of frames): their private memory
    (Pss_Anon, summed over ranks and workers) differs by less than 20 MB (measured: 650 MB and
    654 MB). Frames held in each rank's memory would add at least 2 x 46 MB, more with copies in
    the workers."""
    results = {}
    for name, videos in (("small", 16), ("large", 128)):
        data = _raw_videos(tmp_path / name, videos, frames=100, size=64)
        out = tmp_path / f"{name}-out"
        out.mkdir()
        spec = tmp_path / f"{name}.json"
        spec.write_text(
            json.dumps(
                {"data": str(data), "frames": 100, "size": 64, "workers": 2, "batches": 40,
                 "out": str(out)}
            )
        )  # fmt: skip
        torchrun([str(Path(__file__).with_name("dist_memory.py")), str(spec)], env)
        ranks = [json.loads((out / f"rank{r}.json").read_text()) for r in (0, 1)]
        assert all(r["windows"] == 40 * 16 and r["world"] == 2 for r in ranks)
        results[name] = sum(r["peak_pss_anon"] for r in ranks)
    frame_bytes = (128 - 16) * 100 * 64 * 64
    growth = results["large"] - results["small"]
    assert growth < 20e6, (
        f"private memory grew by {growth / 1e6:.1f} MB for {frame_bytes / 1e6:.1f} MB more frames "
        f"({results})"
    )
