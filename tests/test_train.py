"""Training: the step's weighted loss, device/precision selection, the Trainer's guards."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import torch
from conftest import TINY_MODEL, quiet_machine

from vadkit.components import Batch
from vadkit.compute.device import AUTO_PRECISION, Runtime, resolve_precision, select_device
from vadkit.config import resolve_config
from vadkit.errors import CheckpointError, ConfigError
from vadkit.runs import checkpoints
from vadkit.runs import folder as runs
from vadkit.runs import model as run_model
from vadkit.testing import tiny_batch
from vadkit.training.launch import resolve_train_config
from vadkit.training.step import TrainingDiverged, TrainStep
from vadkit.training.trainer import Trainer

TINY = [
    *TINY_MODEL,
    "data.stride=4",
    "train.batch_size=4",
    "train.epochs=1",
    "train.log_steps=1",
]
CPU = torch.device("cpu")


@pytest.fixture(scope="module", autouse=True)
def _env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """A private frame cache and one torch thread (OMP_NUM_THREADS for the subprocesses)."""
    with quiet_machine(tmp_path_factory.mktemp("cache"), OMP_NUM_THREADS="1"):
        yield


@pytest.fixture(scope="module")
def scene(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from vadkit.data import generate_scene

    root = tmp_path_factory.mktemp("scene") / "tiny"
    return generate_scene(root, size=32, train_videos=1, test_videos=1, frames=(20, 20))


def _config(*extra: str, scene: Path | None = None) -> dict:
    flags = {"data.root": str(scene)} if scene is not None else {}
    return resolve_config(overrides=[*TINY, *extra], flags=flags)


def _batch(config: dict) -> Batch:
    batch = tiny_batch(run_model.clip_shape(config), batch=2, seed=1)
    batch.views["prp"] = batch.clip.flip(2)
    batch.labels["prp"] = torch.tensor([0, 1])
    return batch


def test_step_minimises_the_weighted_sum_of_task_losses() -> None:
    config = _config()
    torch.manual_seed(0)
    model = run_model.build_model(config)
    weights = {"vcr": 0.6, "ffp": 0.4, "prp": 0.0}
    prp_before = [p.detach().clone() for p in model.tasks["prp"].parameters()]
    vcr_ffp_before = [p.detach().clone() for p in model.backbone.parameters()]
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    batch = _batch(config)
    model.train()
    with torch.no_grad():
        expected = model.training_losses(batch)  # same weights: the losses the step will see
    out = TrainStep(model, opt, weights, Runtime(CPU))(batch)
    assert set(out) == {"loss", "vcr", "ffp", "prp"}
    for name in ("vcr", "ffp", "prp"):
        assert torch.allclose(out[name], expected[name])
    hand = 0.6 * out["vcr"] + 0.4 * out["ffp"] + 0.0 * out["prp"]
    assert torch.allclose(out["loss"], hand)
    assert not out["loss"].requires_grad
    # weight 0: the PRP head gets a zero gradient, so Adam leaves it as it was
    for before, after in zip(prp_before, model.tasks["prp"].parameters(), strict=True):
        assert torch.equal(before, after)
    assert any(
        not torch.equal(b, a)
        for b, a in zip(vcr_ffp_before, model.backbone.parameters(), strict=True)
    )


def test_bf16_autocast_step_on_cpu_keeps_fp32_weights() -> None:
    config = _config()
    torch.manual_seed(0)
    model = run_model.build_model(config)
    runtime = Runtime(CPU, precision="bf16", channels_last=True)
    runtime.prepare(model)
    enc = model.backbone.state_dict(keep_vars=True)["encoder.0.weight"]
    assert enc.is_contiguous(memory_format=torch.channels_last_3d)
    with runtime.autocast():
        assert model.backbone.encode(_batch(config).clip).dtype == torch.bfloat16
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    out = TrainStep(model, opt, config["tasks"]["weights"], runtime, runtime.grad_scaler())(
        _batch(config)
    )
    assert torch.isfinite(out["loss"]) and out["loss"].dtype == torch.float32
    assert enc.dtype == torch.float32


def test_channels_last_reaches_the_first_layer_of_a_grayscale_model() -> None:
    config = _config()
    model = run_model.build_model(config)
    Runtime(CPU, channels_last=True).prepare(model)
    weight = model.backbone.state_dict(keep_vars=True)["encoder.0.weight"]  # (8, 1, 3, 3, 3)
    assert weight.stride(1) == 1  # explicit channels-last strides despite the single channel
    clip = _batch(config).clip.contiguous(memory_format=torch.channels_last_3d)
    out = model.backbone.encoder[0](clip)  # type: ignore[index,operator]
    assert not out.is_contiguous() and out.is_contiguous(memory_format=torch.channels_last_3d)
    plain = run_model.build_model(config)
    plain.load_state_dict(model.state_dict())
    assert torch.allclose(plain.backbone.encoder[0](clip), out, atol=1e-6)  # type: ignore[index,operator]


def test_device_and_precision_selection() -> None:
    assert select_device("auto").type == ("cuda" if torch.cuda.is_available() else "cpu")
    assert select_device("CPU") == CPU
    with pytest.raises(ConfigError, match="'tpu' is not a device"):
        select_device("tpu")
    with pytest.raises(ConfigError, match="vadkit runs on CPU or CUDA"):
        select_device("meta")
    with pytest.raises(ConfigError, match=r"train\.device"):
        select_device("nonsense-device")
    if not torch.cuda.is_available():
        with pytest.raises(ConfigError, match="CUDA is not available") as info:
            select_device("cuda")
        assert "--set train.device=cpu" in str(info.value.hint)
    assert resolve_precision("auto", CPU) == AUTO_PRECISION["cpu"] == "fp32"
    assert resolve_precision("BF16", CPU) == "bf16"
    with pytest.raises(ConfigError, match="needs a CUDA device"):
        resolve_precision("fp16", CPU)
    with pytest.raises(ConfigError, match=r"score\.precision"):
        resolve_precision("fp64", CPU, key="score.precision")
    assert not Runtime(CPU, "bf16").grad_scaler().is_enabled()
    assert Runtime.from_config("cpu", "auto", True).describe() == {
        "device": "cpu",
        "precision": "fp32",
        "channels_last": True,
    }


def test_trainer_writes_a_consistent_log(scene: Path, tmp_path: Path) -> None:
    run = tmp_path / "run"
    summary = Trainer(_config("train.checkpoint_steps=1", scene=scene), run).fit()
    steps = summary["steps"]
    assert summary["epochs"] == 1 and steps >= 1
    import json

    records = [json.loads(x) for x in (run / "metrics.jsonl").read_text().splitlines()]
    step_records = [r for r in records if r["event"] == "step"]
    assert [r["step"] for r in step_records] == list(range(1, steps + 1))
    assert [r["event"] for r in records][-1] == "epoch"
    epoch = records[-1]
    mean = sum(r["loss"] for r in step_records) / steps  # log_steps=1: one record per step
    assert epoch["loss"] == pytest.approx(mean, rel=1e-5)
    assert epoch["batches"] == steps and set(epoch["losses"]) == {"vcr", "ffp", "prp"}
    state = checkpoints.read_state(run / "checkpoints" / "last.state.pt")
    assert state["progress"] == {"epoch": 1, "batch": 0, "step": steps}


def test_non_finite_loss_stops_with_a_clear_error(scene: Path, tmp_path: Path) -> None:
    config = _config(scene=scene)
    config["tasks"]["weights"]["vcr"] = float("inf")  # bypassing validation, as a bug would
    with pytest.raises(TrainingDiverged, match="diverged: the loss is inf at step 1") as info:
        Trainer(config, tmp_path / "run").fit()
    assert "train.lr" in str(info.value.hint)


def test_resume_refuses_a_changed_model(scene: Path, tmp_path: Path) -> None:
    run = tmp_path / "run"
    Trainer(_config(scene=scene), run).fit()
    edited = _config("model.params.channels=[8,8,16,32]", scene=scene)
    runs.write_config(run, edited)  # someone edited config.toml by hand
    with pytest.raises(CheckpointError, match="belongs to another model: backbone"):
        Trainer(edited, run, resume=True).fit()


def test_resolve_train_config(scene: Path, tmp_path: Path) -> None:
    run, cfg = resolve_train_config(
        out=tmp_path / "new", overrides=TINY, flags={"train.epochs": 3, "score.error": None}
    )
    assert run == tmp_path / "new" and cfg["train"]["epochs"] == 3
    run, _ = resolve_train_config(default_out=lambda: tmp_path / "auto")
    assert run == tmp_path / "auto"
    # a resumed run keeps its own config; only epochs may change
    runs.write_config(tmp_path / "old", _config(scene=scene))
    run, cfg = resolve_train_config(resume=tmp_path / "old", flags={"train.epochs": 4})
    assert run == tmp_path / "old" and cfg["train"]["epochs"] == 4
    assert cfg["data"]["root"] == str(scene)
    with pytest.raises(ConfigError, match="cannot change --set"):
        resolve_train_config(resume=tmp_path / "old", overrides=["train.lr=1"])
    with pytest.raises(ConfigError, match=r"cannot change model\.backbone"):
        resolve_train_config(resume=tmp_path / "old", flags={"model.backbone": "cae3d"})
    with pytest.raises(ConfigError, match="not --out"):
        resolve_train_config(resume=tmp_path / "old", out=tmp_path / "other")
    with pytest.raises(ConfigError, match="not a vadkit run folder"):
        resolve_train_config(resume=tmp_path / "missing")


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
@pytest.mark.parametrize("precision", ["fp16", "bf16"])
def test_mixed_precision_step_on_cuda(precision: str, tmp_path: Path) -> None:
    config = _config()
    torch.manual_seed(0)
    model = run_model.build_model(config)
    runtime = Runtime.from_config("cuda", precision, True)
    runtime.prepare(model)
    scaler = runtime.grad_scaler()
    assert scaler.is_enabled() == (precision == "fp16")  # loss scaling for fp16 only
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    step = TrainStep(model, opt, config["tasks"]["weights"], runtime, scaler)
    for _ in range(2):
        out = step(_batch(config))
    assert torch.isfinite(out["loss"]).item()
    assert all(p.dtype == torch.float32 and p.is_cuda for p in model.parameters())
    checkpoints.save_checkpoint(
        tmp_path, model, run_model.model_spec(config), checkpoints.Progress(0, 2, 2), optimizer=opt,
        scaler=scaler,
    )  # fmt: skip
    state = checkpoints.read_state(tmp_path / "checkpoints" / "last.state.pt")
    assert bool(state["scaler"]) == (precision == "fp16")
