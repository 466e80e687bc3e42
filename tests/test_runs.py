"""Run folders: atomic writes, checkpoint round trip, wrong-model and damaged checkpoints, and
loading that never runs code."""

from __future__ import annotations

import json
import os
import pickle
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch
from conftest import TINY_MODEL

from vadkit.compute.device import Runtime
from vadkit.config import resolve_config
from vadkit.errors import CheckpointError, ConfigError
from vadkit.plugins import missing_plugins
from vadkit.runs import checkpoints
from vadkit.runs import folder as runs
from vadkit.runs import model as run_model
from vadkit.runs import versions as run_versions
from vadkit.storage.io import atomic_write, write_text

TINY = [
    *TINY_MODEL,
    "tasks.names=vcr,ffp,prp",
]


@pytest.fixture(scope="module", autouse=True)
def _one_thread() -> Iterator[None]:
    """Tiny convolutions gain nothing from two threads, which spin on a shared machine."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _config(*extra: str) -> dict:
    return resolve_config(overrides=[*TINY, *extra])


def _trained(config: dict, seed: int = 0) -> tuple[torch.nn.Module, torch.optim.Optimizer]:
    """A tiny model after one Adam step on random data, so that weights and state are not fresh."""
    from vadkit.testing import tiny_batch
    from vadkit.training.step import TrainStep

    torch.manual_seed(seed)
    model = run_model.build_model(config)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    batch = tiny_batch(run_model.clip_shape(config), batch=2, seed=seed)
    batch.views["prp"] = batch.clip.flip(2)
    batch.labels["prp"] = torch.tensor([0, 1])
    TrainStep(model, opt, config["tasks"]["weights"], Runtime(torch.device("cpu")))(batch)
    return model, opt


# -- atomic writes ------------------------------------------------------------------------------
def test_atomic_write_replaces_or_keeps_the_old_file(tmp_path: Path) -> None:
    target = tmp_path / "sub" / "f.txt"
    write_text(target, "old")
    assert target.read_text() == "old"
    with pytest.raises(RuntimeError), atomic_write(target) as fh:
        fh.write("half of the new")
        raise RuntimeError("crash while writing")
    assert target.read_text() == "old"
    assert sorted(p.name for p in target.parent.iterdir()) == ["f.txt"]  # no temp file left
    with atomic_write(target, "wb") as fh:
        fh.write(b"new")
    assert target.read_bytes() == b"new"
    assert (target.stat().st_mode & 0o777) == (0o666 & ~_umask())


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


# -- checkpoints --------------------------------------------------------------------------------
def test_checkpoint_round_trip(tmp_path: Path) -> None:
    config = _config()
    model, opt = _trained(config)
    runtime = Runtime(torch.device("cpu"), channels_last=True)  # saved from channels-last weights
    runtime.prepare(model)
    spec = run_model.model_spec(config)
    progress = checkpoints.Progress(epoch=1, batch=3, step=9)
    rng_at_save = torch.get_rng_state()
    path = checkpoints.save_checkpoint(tmp_path, model, spec, progress, optimizer=opt, epoch_copy=2)
    assert path == tmp_path / "checkpoints" / "last.safetensors"
    assert (tmp_path / "checkpoints" / "epoch_0002.safetensors").is_file()
    assert not (tmp_path / "checkpoints" / checkpoints.PENDING).exists()

    fresh = run_model.build_model(config)
    metadata = checkpoints.load_weights(path, fresh, spec).metadata
    assert json.loads(metadata["vadkit"]) == spec
    assert spec["backbone"] == {"name": "cae3d", "params": config["model"]["params"]}
    assert [t["name"] for t in spec["tasks"]] == ["vcr", "ffp", "prp"]
    assert spec["clip_shape"] == [1, 8, 32, 32] and spec["vadkit"]
    mine, theirs = model.state_dict(), fresh.state_dict()
    assert mine.keys() == theirs.keys()
    for key in mine:
        assert torch.equal(mine[key], theirs[key]), key

    state = checkpoints.read_state(tmp_path / "checkpoints" / "last.state.pt")
    assert state["progress"] == {"epoch": 1, "batch": 3, "step": 9}
    opt2 = torch.optim.Adam(fresh.parameters(), lr=1e-3)
    opt2.load_state_dict(state["optimizer"])
    for p1, p2 in zip(model.parameters(), fresh.parameters(), strict=True):
        for key in ("exp_avg", "exp_avg_sq"):
            assert torch.equal(opt.state[p1][key], opt2.state[p2][key])
    assert torch.equal(state["rng"]["torch"], rng_at_save)


def test_load_model_gives_the_trained_model_in_eval_mode(tmp_path: Path) -> None:
    config = _config("score.error=mse")
    model, opt = _trained(config)
    runs.write_config(tmp_path, config)
    checkpoints.save_checkpoint(
        tmp_path, model, run_model.model_spec(config), checkpoints.Progress(1, 0, 1), optimizer=opt,
        epoch_copy=1,
    )  # fmt: skip
    loaded_config, loaded = runs.load_model(tmp_path)
    assert loaded_config == config and loaded_config["score"]["error"] == "mse"
    assert not loaded.training
    assert all(torch.equal(a, b) for a, b in zip(model.state_dict().values(),
                                                 loaded.state_dict().values(), strict=True))  # fmt: skip
    _, by_epoch = runs.load_model(tmp_path, checkpoint=1)
    assert torch.equal(by_epoch.state_dict()["backbone.encoder.0.weight"],
                       model.state_dict()["backbone.encoder.0.weight"])  # fmt: skip
    with pytest.raises(CheckpointError, match=r"epoch_0007\.safetensors"):
        runs.load_model(tmp_path, checkpoint="epoch_0007")
    with pytest.raises(ConfigError, match="not a vadkit run folder"):
        runs.load_model(tmp_path / "elsewhere")


def test_checkpoint_of_another_model_is_refused(tmp_path: Path) -> None:
    small = _config()
    model, opt = _trained(small)
    path = checkpoints.save_checkpoint(
        tmp_path, model, run_model.model_spec(small), checkpoints.Progress(), optimizer=opt
    )
    wider = _config("model.params.channels=[8,8,16,32]")
    with pytest.raises(CheckpointError) as info:
        checkpoints.load_weights(path, run_model.build_model(wider), run_model.model_spec(wider))
    assert str(path) in info.value.message and "backbone" in info.value.message
    assert "[8, 8, 16, 16]" in info.value.message and info.value.hint

    fewer = _config("tasks.names=vcr,ffp")
    with pytest.raises(CheckpointError, match="tasks is"):
        checkpoints.load_weights(path, run_model.build_model(fewer), run_model.model_spec(fewer))
    # without a spec to compare, tensor names and shapes are checked
    with pytest.raises(CheckpointError) as info:
        checkpoints.load_weights(path, run_model.build_model(wider))
    assert "shapes differ" in info.value.message and "(32, 16, 3, 3, 3)" in info.value.message
    with pytest.raises(CheckpointError, match=r"unexpected tensors tasks\.prp"):
        checkpoints.load_weights(path, run_model.build_model(fewer))


def test_missing_and_damaged_checkpoints(tmp_path: Path) -> None:
    model = run_model.build_model(_config())
    with pytest.raises(CheckpointError, match="does not exist"):
        checkpoints.load_weights(tmp_path / "none.safetensors", model)
    junk = tmp_path / "junk.safetensors"
    junk.write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00{not json at all")
    with pytest.raises(CheckpointError, match="cannot be read"):
        checkpoints.load_weights(junk, model)
    with pytest.raises(CheckpointError, match="does not exist"):
        checkpoints.read_state(tmp_path / "none.state.pt")


class _Payload:
    """Unpickling this creates a file: what a malicious checkpoint could do."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[object, tuple[str, str]]:
        return (open, (str(self.marker), "w"))


def test_loading_a_state_never_runs_code(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    evil = tmp_path / "last.state.pt"
    with evil.open("wb") as fh:
        torch.save({"format": 1, "progress": _Payload(marker)}, fh, pickle_protocol=2)
    torch.load(evil, weights_only=False)  # the payload works when code may run...
    assert marker.exists()
    marker.unlink()
    with pytest.raises(CheckpointError, match="cannot be read"):
        checkpoints.read_state(evil)
    assert not marker.exists()  # ...and vadkit never lets it
    other = tmp_path / "other.pt"
    torch.save({"format": 99}, other)
    with pytest.raises(CheckpointError, match="not a vadkit training state"):
        checkpoints.read_state(other)
    plain = tmp_path / "plain.pt"
    with plain.open("wb") as fh:
        pickle.dump({"format": 1}, fh, protocol=2)
    with pytest.raises(CheckpointError, match="cannot be read"):
        checkpoints.read_state(plain)


def test_a_save_killed_halfway_is_finished_or_undone(tmp_path: Path) -> None:
    config = _config()
    spec = run_model.model_spec(config)
    model, opt = _trained(config)
    folder = tmp_path / "checkpoints"
    checkpoints.save_checkpoint(tmp_path, model, spec, checkpoints.Progress(0, 2, 2), optimizer=opt)
    old = (folder / "last.safetensors").read_bytes()

    # killed after the new weights were staged but before the state was replaced: undone
    new_bytes = checkpoints.weights_bytes(model, spec, checkpoints.Progress(0, 4, 4))
    (folder / checkpoints.PENDING).write_bytes(new_bytes)
    checkpoints.recover_checkpoint(tmp_path)
    assert not (folder / checkpoints.PENDING).exists()
    assert (folder / "last.safetensors").read_bytes() == old

    # killed after the state was replaced but before the weights were: finished
    checkpoints.save_checkpoint(tmp_path, model, spec, checkpoints.Progress(0, 4, 4), optimizer=opt)
    (folder / "last.safetensors").write_bytes(old)  # as if the last rename had not happened
    (folder / checkpoints.PENDING).write_bytes(new_bytes)
    with pytest.raises(CheckpointError, match="different steps"):
        _load_without_recovery(tmp_path, model, spec)
    progress, _ = checkpoints.load_training_checkpoint(tmp_path, model, spec)
    assert progress == checkpoints.Progress(0, 4, 4)
    assert (folder / "last.safetensors").read_bytes() == new_bytes
    assert not (folder / checkpoints.PENDING).exists()


def _load_without_recovery(run: Path, model: torch.nn.Module, spec: dict) -> None:
    pending = run / "checkpoints" / checkpoints.PENDING
    hidden = pending.with_name("hidden")
    pending.rename(hidden)
    try:
        checkpoints.load_training_checkpoint(run, model, spec)
    finally:
        hidden.rename(pending)


def test_the_old_runs_path_still_gives_every_name_it_had() -> None:
    """``vadkit.engine.runs`` (deprecated) re-exported the checkpoint names too: it still gives
    them, from the modules that define them now."""
    import importlib
    import sys

    sys.modules.pop("vadkit.engine.runs", None)
    with pytest.warns(DeprecationWarning, match="vadkit.engine.runs is deprecated"):
        old = importlib.import_module("vadkit.engine.runs")
    assert old.save_checkpoint is checkpoints.save_checkpoint
    assert old.build_model is run_model.build_model and old.load_model is runs.load_model
    assert old.versions is run_versions.versions and old.RunFolder is runs.RunFolder


def test_versions_name_the_plugins_used(tmp_path: Path) -> None:
    config = _config()
    run_versions.write_versions(tmp_path, config)
    data = json.loads((tmp_path / "versions.json").read_text())
    assert data["torch"] == torch.__version__ and data["vadkit"] and data["python"]
    assert data["plugins"] == {"luss": data["plugins"]["luss"]} and data["plugins"]["luss"]


def test_versions_name_the_distribution_of_each_plugin(tmp_path: Path) -> None:
    run_versions.write_versions(tmp_path, _config())
    data = json.loads((tmp_path / "versions.json").read_text())
    assert data["distributions"] == {"luss": "vadkit"}  # what `pip install` takes


def test_a_resumed_run_records_the_versions_it_continued_with(tmp_path: Path) -> None:
    config = _config()
    run_versions.write_versions(tmp_path, config)
    assert not run_versions.record_resume_versions(
        tmp_path, config, 3
    )  # same versions: nothing added
    first = json.loads((tmp_path / "versions.json").read_text())
    first["torch"] = "2.10.0"  # as if trained under an older torch
    write_text(tmp_path / "versions.json", json.dumps(first))
    assert run_versions.record_resume_versions(tmp_path, config, 3)
    data = json.loads((tmp_path / "versions.json").read_text())
    assert data["torch"] == "2.10.0"  # the first session's versions stay
    assert [(r["from_epoch"], r["torch"]) for r in data["resumed"]] == [(3, torch.__version__)]
    assert not run_versions.record_resume_versions(
        tmp_path, config, 5
    )  # unchanged since last resume
    (tmp_path / "versions.json").unlink()
    assert run_versions.record_resume_versions(
        tmp_path, config, 5
    )  # a run without the file gets one
    assert json.loads((tmp_path / "versions.json").read_text())["torch"] == torch.__version__


def _run_from_another_plugin(run: Path) -> None:
    """A run folder as if trained with the example plugin's 'motion' task, not loaded here."""
    config = _config()
    config["tasks"]["names"] = ["vcr", "motion"]
    config["tasks"]["weights"]["motion"] = 1.0
    runs.write_config(run, config)
    recorded = run_versions.versions(_config())
    recorded["plugins"]["example"] = "0.1.0"
    recorded["distributions"]["example"] = "vadkit-example-plugin"
    write_text(run / "versions.json", json.dumps(recorded))


def test_a_run_whose_plugin_is_missing_names_it_and_the_fix(tmp_path: Path) -> None:
    _run_from_another_plugin(tmp_path)
    assert [p["name"] for p in missing_plugins(run_versions.read_versions(tmp_path) or {})] == [
        "example"
    ]
    with pytest.raises(ConfigError) as caught:
        runs.load_model(tmp_path)
    message, hint = caught.value.message, caught.value.hint or ""
    assert "Unknown task 'motion'" in message
    assert "plugin 'example' 0.1.0 (not installed here)" in message
    assert "pip install vadkit-example-plugin==0.1.0" in hint


def test_a_run_whose_plugin_is_blocked_says_so(tmp_path: Path) -> None:
    from vadkit import plugins

    runs.write_config(tmp_path, _config())
    run_versions.write_versions(tmp_path, _config())
    plugins.configure(block=["luss"])
    try:
        with pytest.raises(ConfigError) as caught:
            runs.read_config(tmp_path)
    finally:
        plugins.reset()
    assert "Unknown backbone 'cae3d'" in caught.value.message
    assert "plugin 'luss'" in caught.value.message and "(blocked here)" in caught.value.message
    assert "stop blocking 'luss'" in (caught.value.hint or "")


def test_a_run_with_its_plugins_loaded_keeps_the_plain_error(tmp_path: Path) -> None:
    config = _config()
    config["tasks"]["names"] = ["vcr", "nonesuch"]
    runs.write_config(tmp_path, config)
    run_versions.write_versions(tmp_path, _config())
    assert missing_plugins(run_versions.read_versions(tmp_path) or {}) == []
    with pytest.raises(ConfigError, match="Unknown task 'nonesuch'") as caught:
        runs.read_config(tmp_path)
    assert "This run was made with" not in caught.value.message
