"""The GPU code paths, run where torch can stand in for a GPU (the CPU's own loss scaler, the meta
device, mocks of CUDA's calls) and skipped with the reason where it cannot; the paper-scale
example configs; the GPU benchmark's refusal without CUDA."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from typing import Any

import pytest
import torch
from torch import nn

from vadkit.components import Batch
from vadkit.compute import distributed
from vadkit.compute.device import Runtime
from vadkit.config import resolve_config
from vadkit.runs import model as run_model
from vadkit.training import parallel
from vadkit.training.step import TrainStep

ROOT = Path(__file__).resolve().parents[1]
NO_CUDA = "needs a CUDA GPU (none here); the CPU runs cover the same code paths"
TINY = [
    "model.params.channels=[4,4,8,8]",
    "data.size=[32,32]",
    "data.clip_length=8",
]


class _Scaled(nn.Module):
    """A model whose loss is ``factor * sum(w)``: ``factor = inf`` overflows the gradients."""

    def __init__(self) -> None:
        super().__init__()
        self.w = nn.Parameter(torch.ones(3))
        self.factor = 1.0

    def training_losses(self, batch: Batch) -> dict[str, torch.Tensor]:
        return {"only": self.factor * (self.w * batch.clip.mean()).sum()}


def _batch() -> Batch:
    return Batch(clip=torch.ones(1, 1, 2, 2, 2), target=torch.ones(1, 1, 2, 2))


def test_fp16_scaler_skips_steps_that_overflow_and_updates_the_others() -> None:
    """TrainStep with an enabled GradScaler (fp16's; the CPU's implements the same logic): a
    step whose gradients are infinite leaves the weights alone and halves the scale; the next,
    finite one updates them."""
    model = _Scaled()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    scaler = torch.amp.GradScaler("cpu", init_scale=1024.0, enabled=True)
    step = TrainStep(model, optimizer, {"only": 1.0}, Runtime(torch.device("cpu")), scaler)
    assert step.scaler is scaler
    model.factor = float("inf")
    step(_batch())
    assert torch.equal(model.w.detach(), torch.ones(3)), "an overflowing step changed the weights"
    assert scaler.get_scale() == 512.0
    model.factor = 1.0
    step(_batch())
    assert torch.allclose(model.w.detach(), torch.full((3,), 0.9))  # 1 - lr * grad (1 each)


def test_fp16_runtime_asks_for_an_enabled_cuda_scaler(monkeypatch: pytest.MonkeyPatch) -> None:
    made: list[tuple[str, bool]] = []

    class Recorder:
        def __init__(self, device: str, enabled: bool = True) -> None:
            made.append((device, enabled))

    monkeypatch.setattr(torch.amp, "GradScaler", Recorder)
    cuda = torch.device("cuda", 0)
    Runtime(cuda, "fp16").grad_scaler()
    Runtime(cuda, "bf16").grad_scaler()
    Runtime(cuda, "fp32").grad_scaler()
    assert made == [("cuda", True), ("cuda", False), ("cuda", False)]


def test_channels_last_step_runs_on_the_meta_device() -> None:
    """The device-side half of a step (weights and batch in channels_last_3d, the forward pass
    of every task) on the meta device, which computes shapes and memory formats only."""
    config = resolve_config(overrides=TINY)
    with torch.device("meta"):
        model = run_model.build_model(config)
    runtime = Runtime(torch.device("meta"), "fp32", channels_last=True)
    runtime.prepare(model)
    weights5d = [p for p in model.parameters() if p.dim() == 5]
    assert weights5d and all(
        p.is_contiguous(memory_format=torch.channels_last_3d) for p in weights5d
    )
    step = TrainStep(
        model, torch.optim.Adam(model.parameters()), config["tasks"]["weights"], runtime
    )
    t = config["data"]["clip_length"]
    batch = Batch(
        clip=torch.zeros(2, 1, t, 32, 32),
        target=torch.zeros(2, 1, 32, 32),
        views={"prp": torch.zeros(2, 1, t, 32, 32)},
        labels={"prp": torch.zeros(2, dtype=torch.long)},
    )
    total, losses = step.losses(batch)
    assert total.device.type == "meta" and total.shape == ()
    assert set(losses) == set(config["tasks"]["names"])


def test_nccl_process_group_takes_the_gpu_of_its_local_rank(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Under torchrun on a CUDA machine: backend nccl, this process's GPU set before the process
    group starts, and ``auto`` means ``cuda:LOCAL_RANK`` (CUDA's calls mocked)."""
    calls: dict[str, Any] = {}
    monkeypatch.setenv("RANK", "3")
    monkeypatch.setenv("LOCAL_RANK", "1")
    monkeypatch.setenv("WORLD_SIZE", "4")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "set_device", lambda i: calls.setdefault("device", i))
    monkeypatch.setattr(distributed.dist, "is_initialized", lambda: False)
    monkeypatch.setenv(distributed.RESTART_ENV, "2")
    monkeypatch.setattr(distributed.dist, "rendezvous", lambda url, timeout: iter([("S", 3, 4)]))
    monkeypatch.setattr(distributed.dist, "PrefixStore", lambda prefix, store: (prefix, store))

    def init(backend: str, **kwargs: Any) -> None:
        calls.update(backend=backend, store=kwargs["store"], rank=kwargs["rank"])

    monkeypatch.setattr(distributed.dist, "init_process_group", init)
    world = distributed.init_from_env("auto")
    # the GPU first, then the process group, on the keys of this attempt only
    assert calls == {
        "device": 1,
        "backend": "nccl",
        "store": ("vadkit/attempt-2/", "S"),
        "rank": 3,
    }
    assert world == distributed.World(rank=3, local_rank=1, size=4) and not world.is_main
    assert distributed.rank_device("auto", world) == "cuda:1"
    assert distributed.rank_device("cpu", world) == "cpu"
    assert distributed.backend_for("cpu") == "gloo"


def test_compile_setting_runs_the_step_through_torch_compile(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """``train.compile``: the step's forward goes through ``torch.compile`` (replaced here by a
    recorder that returns the module itself: compiling needs a C++ toolchain and minutes) and
    gives the losses of the plain step."""
    compiled: list[nn.Module] = []

    def fake_compile(module: nn.Module, **kwargs: Any) -> nn.Module:
        compiled.append(module)
        return module

    monkeypatch.setattr(torch, "compile", fake_compile)
    config = resolve_config(overrides=TINY)
    torch.manual_seed(0)
    model = run_model.build_model(config)
    cpu = torch.device("cpu")
    wrapped = parallel.wrap_for_training(
        model, cpu, world=distributed.World(), sync_bn=True, compile=True
    )
    assert isinstance(wrapped, parallel.CompiledLosses)
    assert len(compiled) == 1 and isinstance(compiled[0], parallel.TrainingLosses)
    assert (
        parallel.wrap_for_training(
            model, cpu, world=distributed.World(), sync_bn=True, compile=False
        )
        is model
    )  # one plain process: the model itself, as before
    weights = config["tasks"]["weights"]
    t = config["data"]["clip_length"]
    torch.manual_seed(1)
    batch = Batch(
        clip=torch.rand(2, 1, t, 32, 32) * 2 - 1,
        target=torch.rand(2, 1, 32, 32) * 2 - 1,
        views={"prp": torch.rand(2, 1, t, 32, 32) * 2 - 1},
        labels={"prp": torch.tensor([0, 1])},
    )
    plain = TrainStep(model, torch.optim.Adam(model.parameters()), weights, Runtime(cpu))
    through = TrainStep(wrapped, torch.optim.Adam(model.parameters()), weights, Runtime(cpu))
    model.eval()  # BatchNorm's batch statistics would move between the two passes otherwise
    assert torch.equal(plain.losses(batch)[0], through.losses(batch)[0])


@pytest.mark.skipif(not torch.cuda.is_available(), reason=NO_CUDA)
def test_pinned_batches_copy_to_the_gpu_without_blocking() -> None:
    from vadkit.data.sampling import _PinnableBatch

    batch = _PinnableBatch(clip=torch.zeros(2, 1, 4, 8, 8), target=torch.zeros(2, 1, 8, 8))
    pinned = batch.pin_memory()
    assert pinned.clip.is_pinned() and pinned.target is not None and pinned.target.is_pinned()
    moved = pinned.to("cuda", non_blocking=True)
    torch.cuda.synchronize()
    assert moved.clip.is_cuda


@pytest.mark.skipif(not torch.cuda.is_available(), reason=NO_CUDA)
def test_sync_batchnorm_on_cuda_is_torchs_own() -> None:
    model = nn.Sequential(nn.Conv3d(1, 2, 3), nn.BatchNorm3d(2))
    parallel.convert_sync_batchnorm(model, torch.device("cuda"))
    assert type(model[1]) is nn.SyncBatchNorm


def test_sync_batchnorm_on_cpu_keeps_the_parameters() -> None:
    """The conversion keeps the BatchNorm's parameters and buffers (an optimizer built before it
    keeps working) and gives the CPU implementation, which is BatchNorm in one process."""
    model = nn.Sequential(nn.Conv3d(1, 2, 3), nn.BatchNorm3d(2))
    before = [id(p) for p in model.parameters()]
    parallel.convert_sync_batchnorm(model, torch.device("cpu"))
    assert type(model[1]) is parallel.CPUSyncBatchNorm
    assert [id(p) for p in model.parameters()] == before
    reference = nn.BatchNorm3d(2)
    x = torch.randn(3, 2, 2, 4, 4)
    assert torch.allclose(model[1](x), reference(x))  # no process group: plain BatchNorm


# -- paper-scale configs --------------------------------------------------------------------------
PAPER = {
    "ped2-paper.toml": {"vcr": 0.1, "ffp": 0.8, "prp": 1.0},
    "avenue-paper.toml": {"vcr": 0.1, "ffp": 1.0, "prp": 0.1},
    "shanghaitech-paper.toml": {"vcr": 0.2, "ffp": 0.2, "prp": 0.9},
}


@pytest.mark.parametrize("name", sorted(PAPER))
def test_paper_configs_have_the_papers_setting(name: str) -> None:
    """256 x 256, a window at every frame, batch 16, Adam at 1e-4, 60 epochs (METHOD.md), the
    paper's fusion weights for the dataset, SyncBatchNorm when split over GPUs."""
    config = resolve_config(config_file=ROOT / "examples" / "configs" / name)
    assert config["recipe"] == "luss-ae-paper"
    assert config["data"]["size"] == [256, 256] and config["data"]["stride"] == 1
    assert config["data"]["clip_length"] == 16
    train = config["train"]
    assert (train["epochs"], train["batch_size"], train["lr"]) == (60, 16, 1e-4)
    assert train["sync_bn"] is True
    assert config["score"]["alphas"] == PAPER[name]


# -- the GPU benchmark ----------------------------------------------------------------------------
def test_gpu_benchmark_refuses_to_run_without_cuda(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """It writes its page only from a real GPU run: without CUDA it stops before measuring."""
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    spec = importlib.util.spec_from_file_location("bench_gpu", ROOT / "benchmarks" / "bench_gpu.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, "bench_gpu", module)
    spec.loader.exec_module(module)
    page = module.PAGE
    before = page.read_text() if page.exists() else None
    assert module.main(["--write"]) == 2
    assert "needs a CUDA GPU" in capsys.readouterr().err
    assert (page.read_text() if page.exists() else None) == before


def test_speed_benchmarks_share_their_timing_and_table(monkeypatch: pytest.MonkeyPatch) -> None:
    """bench_gpu.py and bench_train_speed.py time and tabulate with benchmarks/sidebyside.py:
    variants take turns, the order reversed every other round, and the table gives work / s and
    the ratio to the authors' variant (by hand: 16 clips in 0.5 s and 0.2 s, 2.5x)."""
    monkeypatch.syspath_prepend(str(ROOT / "benchmarks"))
    from sidebyside import interleaved, speed_table

    calls: list[tuple[str, int]] = []
    medians = interleaved(
        {name: (lambda rep, name=name: calls.append((name, rep))) for name in ("a", "b")},
        warmup=1,
        reps=2,
    )
    assert calls == [("a", 0), ("b", 0), ("b", 1), ("a", 1), ("a", 2), ("b", 2)]
    assert set(medians) == {"a", "b"} and all(s >= 0 for s in medians.values())
    seconds = {"authors (fp32)": 0.5, "vadkit fp32": 0.2}
    assert speed_table(seconds, 16, "clips/s", digits=1) == [
        "| variant | clips/s | vs authors |",
        "|---|---|---|",
        "| authors (fp32) | 32.0 | 1.00x |",
        "| vadkit fp32 | 80.0 | 2.50x |",
    ]
    assert speed_table({"authors": 0.5, "bare": 0.25}, 8, "clips/s", per_call="s/step")[2:] == [
        "| authors | 0.500 | 16.00 | 1.00x |",
        "| bare | 0.250 | 32.00 | 2.00x |",
    ]
    for script in ("bench_gpu.py", "bench_train_speed.py"):
        text = (ROOT / "benchmarks" / script).read_text()
        assert "from sidebyside import interleaved, speed_table" in text
        assert "statistics.median" not in text and "reversed(" not in text
