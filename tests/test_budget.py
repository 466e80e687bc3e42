"""The time and memory budget of a training run: saved bytes, the memory projection and check,
the measured projection after the first steps."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import torch
from conftest import TINY_MODEL, quiet_machine, run_cli
from safetensors.torch import load_file
from torch import Tensor, nn

from vadkit.components import Batch
from vadkit.compute.device import Runtime
from vadkit.config import resolve_config
from vadkit.errors import ConfigError
from vadkit.runs import folder as runs
from vadkit.training import budget
from vadkit.training.launch import resolve_train_config
from vadkit.training.step import TrainStep
from vadkit.training.trainer import Trainer

# 2 videos of 24-30 frames (the tiny_scene fixture), windows of 8+1 frames every 2 frames: about
# 20 windows, 5-6 batches of 4 per epoch (enough for the 5 steps a projection measures).
TINY = [
    *TINY_MODEL,
    "data.stride=2",
    "train.batch_size=4",
    "train.epochs=1",
    "train.log_steps=1",
    "train.checkpoint_steps=0",
]
CPU = torch.device("cpu")


@pytest.fixture(scope="module", autouse=True)
def _env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """A private frame cache, and one torch thread (see tests/test_train.py)."""
    with quiet_machine(tmp_path_factory.mktemp("cache")) as mp:
        mp.delenv(budget.MEMORY_ENV, raising=False)
        yield


def _config(scene: Path, *extra: str) -> dict:
    return resolve_config(overrides=[*TINY, *extra], flags={"data.root": str(scene)})


# -- what autograd saves ------------------------------------------------------------------------
def _two_layers() -> tuple[Tensor, nn.Linear, nn.Linear]:
    torch.manual_seed(0)
    return torch.randn(3, 10), nn.Linear(10, 20, bias=False), nn.Linear(20, 5, bias=False)


def test_saved_bytes_of_two_linear_layers_by_hand() -> None:
    x, lin1, lin2 = _two_layers()
    weights = [*lin1.parameters(), *lin2.parameters()]

    def forward() -> Tensor:
        hidden = torch.sigmoid(lin1(x))  # saves x (for lin1's weight grad) and its output
        return (lin2(hidden) ** 2).sum()  # saves hidden (same storage) and lin2's output

    loss, saved = budget.saved_tensor_bytes(forward, exclude=weights)
    # x (3x10) + hidden (3x20) + lin2's output (3x5), float32, each storage once
    assert saved.scaling == (30 + 60 + 15) * 4 and saved.fixed == 0
    assert saved.largest == 60 * 4
    assert saved.tensors >= 4  # hidden is saved twice (sigmoid, lin2) and counted once
    loss.backward()  # the hooks left the saved tensors usable
    assert lin1.weight.grad is not None
    _, without_x = budget.saved_tensor_bytes(forward, exclude=[*weights, x])
    assert without_x.scaling == (60 + 15) * 4


def test_autocast_copies_of_the_weights_do_not_grow_with_the_batch() -> None:
    x, lin1, lin2 = _two_layers()
    with torch.autocast("cpu", dtype=torch.bfloat16):
        _, saved = budget.saved_tensor_bytes(
            lambda: (lin2(torch.sigmoid(lin1(x))) ** 2).sum(),
            exclude=[*lin1.parameters(), *lin2.parameters()],
        )
    # bf16 copies of x, hidden and lin2's output scale; lin2's bf16 weight (saved for the
    # gradient of hidden) is fixed; lin1's is not saved (x needs no gradient)
    assert saved.scaling == (30 + 60 + 15) * 2
    assert saved.fixed == 5 * 20 * 2


class _Tiny(nn.Module):
    """A model with BatchNorm and dropout: the probe must leave its statistics and the random
    state alone."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv3d(1, 4, 3, padding=1)
        self.norm = nn.BatchNorm3d(4)
        self.drop = nn.Dropout(0.5)

    def training_losses(self, batch: Batch) -> dict[str, Tensor]:
        return {"x": self.drop(self.norm(self.conv(batch.clip))).square().mean()}


def _window(batch: int = 1) -> Batch:
    torch.manual_seed(1)
    return Batch(clip=torch.randn(batch, 1, 4, 8, 8), target=torch.randn(batch, 1, 8, 8))


def test_projection_leaves_the_model_and_the_random_state_alone() -> None:
    model = _Tiny()
    step = TrainStep(model, torch.optim.Adam(model.parameters()), {"x": 1.0}, Runtime(CPU))
    window = _window()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    rng = torch.get_rng_state()
    projection = budget.project_memory(step, window)
    assert torch.equal(torch.get_rng_state(), rng)  # dropout drew on a forked generator
    for key, value in model.state_dict().items():
        assert torch.equal(value, before[key]), f"{key} changed"  # running stats included
    assert all(p.grad is None for p in model.parameters())
    assert not step.optimizer.state
    params = sum(p.numel() * 4 for p in model.parameters())
    buffers = sum(b.numel() * b.element_size() for b in model.buffers())
    assert projection.parameters == params + buffers
    assert projection.gradients == params and projection.optimizer == 2 * params
    assert projection.input_per_window == (4 * 8 * 8 + 8 * 8) * 4  # clip and target
    # conv output (saved by BatchNorm) and more: at least one 4x4x8x8 float32 activation
    assert projection.saved_per_window >= 4 * 4 * 8 * 8 * 4
    with pytest.raises(ValueError, match="one window"):
        budget.project_memory(step, _window(2))


def test_projection_is_linear_in_the_batch_size() -> None:
    model = _Tiny()
    step = TrainStep(model, torch.optim.Adam(model.parameters()), {"x": 1.0}, Runtime(CPU))
    projection = budget.project_memory(step, _window())
    totals = [projection.total(b) for b in (1, 2, 4, 16)]
    one = totals[1] - totals[0]
    assert one == projection.per_window > projection.saved_per_window
    assert totals[2] - totals[1] == 2 * one and totals[3] - totals[2] == 12 * one
    assert totals[0] == projection.fixed + one
    assert projection.fixed >= projection.parameters + projection.gradients


# -- the check ----------------------------------------------------------------------------------
#: fixed 400 bytes, 100 bytes per window: 2,000 bytes at batch 16.
SMALL = budget.MemoryProjection(
    parameters=100,
    gradients=100,
    optimizer=200,
    input_per_window=10,
    saved_per_window=90,
    saved_fixed=0,
    headroom=1.0,
)


def test_check_memory_arithmetic() -> None:
    assert SMALL.total(16) == 2000
    budget.check_memory(SMALL, 2300, batch_size=16, size=[8, 8])  # 2000 <= 0.9 * 2300
    budget.check_memory(SMALL, None, batch_size=16, size=[8, 8])  # unknown: no check
    with pytest.raises(ConfigError, match="leaves 10% free"):
        budget.check_memory(SMALL, 2100, batch_size=16, size=[8, 8])  # 2000 > 0.9 * 2100
    with pytest.raises(ConfigError) as info:
        budget.check_memory(SMALL, 1000, batch_size=16, size=[8, 8])
    assert "leaves" not in info.value.message
    assert "train.batch_size = 16 and data.size = [8, 8]" in info.value.message
    assert "--set train.batch_size=5" in str(info.value.hint)  # (900 - 400) / 100 windows
    with pytest.raises(ConfigError) as info:
        budget.check_memory(SMALL, 300, batch_size=16, size=[8, 8])  # not even one window
    assert "train.batch_size=" not in str(info.value.hint)
    assert "one window alone does not fit; e.g. --set 'data.size=[4,4]'" in str(info.value.hint)


def test_headroom_scales_the_activations_only() -> None:
    wide = budget.MemoryProjection(
        parameters=100, gradients=100, optimizer=200, input_per_window=10,
        saved_per_window=90, saved_fixed=50, headroom=1.5,
    )  # fmt: skip
    assert wide.per_window == 150 and wide.fixed == 450
    assert wide.total(4) == 450 + 4 * 150


def test_too_little_memory_stops_before_the_run_folder(
    tiny_scene: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(budget.MEMORY_ENV, "1000000")  # 1 MB
    run = tmp_path / "run"
    with pytest.raises(ConfigError) as info:
        Trainer(_config(tiny_scene), run, handle_signals=False).fit()
    message, hint = info.value.message, str(info.value.hint)
    assert message.startswith("Training would need about ")
    assert "train.batch_size = 4 and data.size = [32, 32]" in message
    assert "this machine has 1 MB available" in message
    for text in ("train.batch_size", "data.size", "--ignore-memory", "train.memory_check=false"):
        assert text in hint
    assert not run.exists()  # nothing written, not even the folder
    summary = Trainer(
        _config(tiny_scene, "train.memory_check=false"), run, handle_signals=False
    ).fit()
    assert summary["epochs"] == 1 and (run / "checkpoints" / "last.safetensors").is_file()


def test_a_refused_run_writes_no_frame_cache(
    tiny_scene: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The guard runs before the data is opened: a refused run leaves the cache as it was."""
    cache, run = tmp_path / "cache", tmp_path / "run"
    monkeypatch.setenv("VADKIT_CACHE", str(cache))
    monkeypatch.setenv(budget.MEMORY_ENV, "1000000")
    with pytest.raises(ConfigError, match="Training would need about "):
        Trainer(_config(tiny_scene), run, handle_signals=False).fit()
    assert not run.exists()
    assert not cache.exists() or not any(cache.rglob("*")), sorted(cache.rglob("*"))
    monkeypatch.delenv(budget.MEMORY_ENV)
    Trainer(_config(tiny_scene), run, handle_signals=False).fit()  # the check passes: cached
    assert any(cache.rglob("*.u8"))


ALLOCATION_FAILURES = [
    torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB"),
    RuntimeError(
        "[enforce fail at alloc_cpu.cpp:117] data. DefaultCPUAllocator: not enough memory: "
        "you tried to allocate 4294967296 bytes."
    ),
    MemoryError(),
]


@pytest.mark.parametrize("failure", ALLOCATION_FAILURES, ids=["cuda", "cpu", "python"])
def test_an_allocation_failure_inside_the_probe_is_a_refusal(
    failure: BaseException, monkeypatch: pytest.MonkeyPatch
) -> None:
    model = _Tiny()
    step = TrainStep(model, torch.optim.Adam(model.parameters()), {"x": 1.0}, Runtime(CPU))

    def no_memory(batch: Batch) -> dict[str, Tensor]:
        raise failure

    monkeypatch.setattr(_Tiny, "training_losses", lambda self, batch: no_memory(batch))
    window = _window()
    rng = torch.get_rng_state()
    with pytest.raises(ConfigError) as info:
        budget.guard_memory(step, window, batch_size=16, size=[8, 8])
    message, hint = info.value.message, str(info.value.hint)
    assert message.startswith("Training would need ")
    assert "train.batch_size = 16 and data.size = [8, 8]" in message
    assert "ran out of memory" in message and "\n" not in message
    assert "one window alone does not fit; e.g. --set 'data.size=[4,4]'" in hint
    assert "--ignore-memory" in hint
    assert torch.equal(torch.get_rng_state(), rng)
    assert budget.is_allocation_failure(failure)
    other = RuntimeError("mat1 and mat2 shapes cannot be multiplied")  # a bug, not memory
    assert not budget.is_allocation_failure(other)
    monkeypatch.setattr(_Tiny, "training_losses", lambda self, batch: (_ for _ in ()).throw(other))
    with pytest.raises(RuntimeError, match="shapes cannot"):
        budget.guard_memory(step, window, batch_size=16, size=[8, 8])


def test_train_refuses_in_one_line_when_the_probe_runs_out_of_memory(
    tiny_scene: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    def out_of_memory(step: Any, window: Batch) -> budget.SavedBytes:
        raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 20.00 GiB")

    monkeypatch.setattr(budget, "_probe", out_of_memory)
    cache, run = tmp_path / "cache", tmp_path / "run"
    monkeypatch.setenv("VADKIT_CACHE", str(cache))
    sets = [f"--set={item}" for item in TINY]
    code = run_cli(["train", "--data", str(tiny_scene), "--out", str(run), "--quiet", *sets])
    err = " ".join(re.sub(r"[│╭╮╰╯─]", " ", capsys.readouterr().err).split())  # the panel's text
    assert code == 2, err
    assert "Training would need more memory" in err and "ran out of memory" in err
    assert "Traceback" not in err
    assert not run.exists() and not cache.exists()


def test_available_memory(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(budget.MEMORY_ENV, "123456789")
    assert budget.available_memory("cpu") == 123456789
    monkeypatch.setenv(budget.MEMORY_ENV, "lots")
    with pytest.raises(ConfigError, match=budget.MEMORY_ENV):
        budget.available_memory("cpu")
    monkeypatch.delenv(budget.MEMORY_ENV)
    found = budget.available_memory("cpu")
    meminfo = Path("/proc/meminfo")
    if meminfo.is_file():
        total = next(
            int(line.split()[1]) * 1024
            for line in meminfo.read_text().splitlines()
            if line.startswith("MemTotal:")
        )
        assert found is not None and 0 < found <= total
    assert budget.peak_memory("cpu") > 0


def test_cgroup_limits(tmp_path: Path) -> None:
    v2 = tmp_path / "v2"
    v2.mkdir()
    (v2 / "memory.max").write_text("1000000\n")
    (v2 / "memory.current").write_text("400000\n")
    (v2 / "memory.stat").write_text("anon 300000\ninactive_file 100000\n")
    assert budget._cgroup_headroom(v2) == 1000000 - 400000 + 100000
    (v2 / "memory.max").write_text("max\n")
    assert budget._cgroup_headroom(v2) is None  # no limit
    v1 = tmp_path / "v1" / "memory"
    v1.mkdir(parents=True)
    (v1 / "memory.limit_in_bytes").write_text("2000000\n")
    (v1 / "memory.usage_in_bytes").write_text("1500000\n")
    (v1 / "memory.stat").write_text("cache 10\ntotal_inactive_file 200000\n")
    assert budget._cgroup_headroom(tmp_path / "v1") == 2000000 - 1500000 + 200000
    (v1 / "memory.limit_in_bytes").write_text("9223372036854771712\n")  # v1's "no limit"
    assert budget._cgroup_headroom(tmp_path / "v1") is None


def test_resume_may_switch_the_memory_check(tiny_scene: Path, tmp_path: Path) -> None:
    runs.write_config(tmp_path / "old", _config(tiny_scene))
    _, cfg = resolve_train_config(resume=tmp_path / "old", overrides=["train.memory_check=false"])
    assert cfg["train"]["memory_check"] is False
    _, cfg = resolve_train_config(
        resume=tmp_path / "old",
        overrides=["train.memory_check=false"],
        flags={"train.memory_check": True, "train.epochs": 3},
    )
    assert cfg["train"]["memory_check"] is True and cfg["train"]["epochs"] == 3
    with pytest.raises(ConfigError, match="cannot change --set"):
        resolve_train_config(
            resume=tmp_path / "old", overrides=["train.memory_check=false", "train.lr=1"]
        )


# -- the measured projection --------------------------------------------------------------------
def test_step_clock_leaves_out_the_first_step() -> None:
    clock = budget.StepClock(3)
    assert [clock.add(s) for s in (10.0, 1.0, 3.0)] == [False, False, True]
    assert clock.seconds_per_step == 2.0
    single = budget.StepClock(0)  # an epoch of no batches still measures one step
    assert single.add(4.0) and single.seconds_per_step == 4.0


def test_describe_projection() -> None:
    record: dict[str, Any] = {
        "epoch_seconds": 41.2,
        "total_seconds": 247.0,
        "remaining_seconds": 120.0,
        "epochs": 6,
        "resumed": False,
        "peak_bytes": 1.23e9,
        "available_bytes": 22.9e9,
    }
    assert budget.describe_projection(record) == (
        "epoch ~ 41 s, total ~ 4.1 min for 6 epochs, peak memory 1.2 GB of 22.9 GB available"
    )
    record.update(resumed=True, available_bytes=None, epoch_seconds=7200.0, peak_bytes=3.4e8)
    assert budget.describe_projection(record) == (
        "epoch ~ 2.0 h, ~ 2.0 min left of 6 epochs, peak memory 340 MB"
    )


class _Projections:
    def __init__(self) -> None:
        self.records: list[dict[str, Any]] = []

    def on_projection(self, trainer: Trainer, record: dict[str, Any]) -> None:
        self.records.append(record)


def _projections(run: Path) -> list[dict[str, Any]]:
    lines = (run / "metrics.jsonl").read_text().splitlines()
    return [r for r in map(json.loads, lines) if r["event"] == "projection"]


def test_projection_after_the_first_steps_of_each_start(tiny_scene: Path, tmp_path: Path) -> None:
    run = tmp_path / "run"
    seen = _Projections()
    summary = Trainer(_config(tiny_scene), run, callbacks=[seen], handle_signals=False).fit()
    steps = summary["steps"]
    assert steps > budget.PROJECTION_STEPS  # the epoch is long enough for a full measurement
    assert len(seen.records) == 1
    (record,) = seen.records
    assert _projections(run) == [record]
    assert record["step"] == budget.PROJECTION_STEPS and record["epoch"] == 0
    assert record["steps_timed"] == budget.PROJECTION_STEPS - 1
    assert record["seconds_per_step"] > 0
    assert record["epoch_seconds"] == pytest.approx(record["seconds_per_step"] * steps)
    assert record["total_seconds"] == pytest.approx(record["epoch_seconds"])  # one epoch
    assert record["remaining_seconds"] == pytest.approx(
        record["seconds_per_step"] * (steps - budget.PROJECTION_STEPS)
    )
    assert record["peak_bytes"] > 0 and record["available_bytes"] > 0
    assert record["projected_bytes"] > 0 and record["resumed"] is False
    assert budget.describe_projection(record).startswith("epoch ~ ")

    _, config = resolve_train_config(resume=run, flags={"train.epochs": 2})
    again = _Projections()
    Trainer(config, run, resume=True, callbacks=[again], handle_signals=False).fit()
    assert len(again.records) == 1 and again.records[0]["resumed"] is True
    assert again.records[0]["step"] == steps + budget.PROJECTION_STEPS
    assert again.records[0]["epochs"] == 2
    assert _projections(run) == [record, again.records[0]]


def test_training_is_bit_identical_with_the_check_on_and_off(
    tiny_scene: Path, tmp_path: Path
) -> None:
    for check in ("true", "false"):
        Trainer(
            _config(tiny_scene, f"train.memory_check={check}", "data.stride=4"),
            tmp_path / check,
            handle_signals=False,
        ).fit()
    on = load_file(tmp_path / "true" / "checkpoints" / "last.safetensors")
    off = load_file(tmp_path / "false" / "checkpoints" / "last.safetensors")
    assert on.keys() == off.keys()
    assert any("running_mean" in key for key in on)  # BatchNorm statistics are compared too
    for key in on:
        assert torch.equal(on[key], off[key]), f"{key} differs with the memory check on"
    with_probe = _projections(tmp_path / "true")[0]
    without = _projections(tmp_path / "false")[0]
    assert with_probe["projected_bytes"] > 0 and without["projected_bytes"] is None
