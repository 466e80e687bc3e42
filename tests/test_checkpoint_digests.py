"""Checkpoints carry their digest: every file in ``checkpoints/`` has its SHA-256 beside it, a
save killed at any moment leaves files that match their record, and a damaged file (header
intact, tensor bytes flipped) is refused by ``score``, ``--resume`` and every load, naming it."""

from __future__ import annotations

import hashlib
import json
import shutil
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import torch
from conftest import TINY_MODEL, quiet_machine, run_cli
from safetensors import safe_open

import vadkit
from vadkit.config import resolve_config
from vadkit.errors import CheckpointError
from vadkit.runs import checkpoints, digests
from vadkit.runs.checkpoints import Progress, load_training_checkpoint, save_checkpoint
from vadkit.runs.folder import RunFolder, load_model
from vadkit.runs.model import build_model, model_spec


@pytest.fixture(scope="module", autouse=True)
def _env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    with quiet_machine(tmp_path_factory.mktemp("cache"), COLUMNS="400"):
        yield


@pytest.fixture
def run(tiny_run: vadkit.Run, tmp_path: Path) -> Path:
    """A copy of the module's tiny trained run (one epoch: ``last`` and ``epoch_0001``)."""
    copy = tmp_path / "run"
    shutil.copytree(tiny_run.path, copy)
    return copy


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _flip_data_byte(path: Path) -> None:
    """Flip one byte of the tensor data (after the header), as a bad disk would: the file still
    parses as safetensors, with the same tensor names and shapes."""
    data = bytearray(path.read_bytes())
    header = 8 + int.from_bytes(data[:8], "little")
    at = header + (len(data) - header) // 2
    data[at] ^= 0xFF
    path.write_bytes(bytes(data))
    with safe_open(str(path), framework="pt") as fh:  # still a valid safetensors file
        assert list(fh.keys())


def _error_text(capsys: pytest.CaptureFixture[str]) -> str:
    err = capsys.readouterr().err
    assert "Traceback" not in err
    for box in "│╭╮╰╯─":
        err = err.replace(box, " ")
    return " ".join(err.split())


def _check_records(folder: Path) -> None:
    """Every file has a record, every record a file, and each file matches one of its digests."""
    names = {p.name for p in folder.iterdir() if not p.name.endswith(digests.SUFFIX)}
    records = {p.name[: -len(digests.SUFFIX)] for p in folder.glob(f"*{digests.SUFFIX}")}
    assert names == records, (names, records)
    for name in names:
        known = digests.recorded(folder / name)
        assert known is not None and _sha256(folder / name) in known, name


# -- saving -------------------------------------------------------------------------------------
def _tiny() -> tuple[dict, torch.nn.Module, torch.optim.Optimizer]:
    config = resolve_config(overrides=[*TINY_MODEL, "tasks.names=vcr,ffp"])
    torch.manual_seed(0)
    model = build_model(config)
    return config, model, torch.optim.SGD(model.parameters(), lr=0.1)


def test_every_checkpoint_file_has_its_digest_beside_it(tmp_path: Path) -> None:
    config, model, opt = _tiny()
    ema = build_model(config)
    save_checkpoint(tmp_path, model, model_spec(config), Progress(1, 0, 4), optimizer=opt,
                    epoch_copy=1, ema=ema)  # fmt: skip
    folder = tmp_path / "checkpoints"
    assert sorted(p.name for p in folder.iterdir()) == [
        "ema.safetensors", "ema.safetensors.sha256", "epoch_0001.safetensors",
        "epoch_0001.safetensors.sha256", "last.safetensors", "last.safetensors.sha256",
        "last.state.pt", "last.state.pt.sha256",
    ]  # fmt: skip
    for name in ("last.safetensors", "epoch_0001.safetensors", "ema.safetensors", "last.state.pt"):
        # one line in sha256sum's format: `sha256sum -c` checks it from the folder
        assert (folder / f"{name}.sha256").read_text() == f"{_sha256(folder / name)}  {name}\n"
    _check_records(folder)


class _Killed(BaseException):
    """The process dies here (BaseException: nothing on the way catches it)."""


def _kill_at(step: int, mp: pytest.MonkeyPatch) -> Callable[[], int]:
    """Make the ``step``-th file operation of a save (a write, a rename, a record written or
    removed) die before it happens; returns how many operations ran."""
    count = [0]

    def wrap(fn: Callable[..., object]) -> Callable[..., object]:
        def op(*args: object, **kwargs: object) -> object:
            count[0] += 1
            if count[0] == step:
                raise _Killed
            return fn(*args, **kwargs)

        return op

    for module, name in ((checkpoints, "write_bytes"), (checkpoints, "replace_file"),
                         (digests, "record"), (digests, "forget")):  # fmt: skip
        mp.setattr(module, name, wrap(getattr(module, name)))
    return lambda: count[0]


def test_a_save_killed_at_any_moment_leaves_files_that_match_their_records(
    tmp_path: Path,
) -> None:
    """Kill the second save (which rewrites ``epoch_0001``, as a resumed epoch does) before each
    of its file operations in turn: every weights file loads (old or new bytes, never 'damaged'),
    and ``--resume``'s recovery leaves a consistent pair whose records all match."""
    config, model, opt = _tiny()
    spec = model_spec(config)
    step = 0
    while True:
        step += 1
        run = tmp_path / f"kill_{step}"
        torch.manual_seed(1)
        model = build_model(config)
        save_checkpoint(run, model, spec, Progress(0, 2, 2), optimizer=opt, epoch_copy=1,
                        ema=model)  # fmt: skip
        with torch.no_grad():
            for p in model.parameters():
                p.add_(1.0)
        with pytest.MonkeyPatch.context() as mp:
            ran = _kill_at(step, mp)
            try:
                save_checkpoint(run, model, spec, Progress(0, 4, 4), optimizer=opt, epoch_copy=1,
                                ema=model)  # fmt: skip
                finished = True
            except _Killed:
                finished = False
        folder = run / "checkpoints"
        for name in ("last", "epoch_0001", "ema"):  # what a scorer would read now
            checkpoints.load_weights(folder / f"{name}.safetensors", build_model(config), spec)
        progress, _ = load_training_checkpoint(run, build_model(config), spec)
        assert progress in (Progress(0, 2, 2), Progress(0, 4, 4)), step
        _check_records(folder)
        if finished:
            assert progress == Progress(0, 4, 4) and ran() == step - 1
            break
    assert step > 10  # every write, rename and record of the three steps was a kill point


# -- a damaged file -----------------------------------------------------------------------------
def test_score_refuses_a_damaged_checkpoint_naming_it(
    run: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    last = run / "checkpoints" / "last.safetensors"
    _flip_data_byte(last)
    assert run_cli(["score", str(run), "--weights", "last", "--quiet"]) == 2
    text = _error_text(capsys)
    assert f"'{last}' is damaged" in text and "last.safetensors.sha256" in text
    assert not (run / "scores").exists()  # nothing was scored with it
    assert run_cli(["score", str(run), "--checkpoint", "1", "--quiet"]) == 0  # the others serve


def test_resume_refuses_a_damaged_checkpoint_or_state(
    run: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    state = run / "checkpoints" / "last.state.pt"
    kept = state.read_bytes()
    data = bytearray(kept)
    data[len(data) // 2] ^= 0xFF
    state.write_bytes(bytes(data))
    assert run_cli(["train", "--resume", str(run), "--epochs", "2", "--quiet"]) == 2
    assert f"'{state}' is damaged" in _error_text(capsys)
    state.write_bytes(kept)
    last = run / "checkpoints" / "last.safetensors"
    _flip_data_byte(last)
    before = sorted((p.name, p.stat().st_mtime_ns) for p in (run / "checkpoints").iterdir())
    assert run_cli(["train", "--resume", str(run), "--epochs", "2", "--quiet"]) == 2
    assert f"'{last}' is damaged" in _error_text(capsys)
    after = sorted((p.name, p.stat().st_mtime_ns) for p in (run / "checkpoints").iterdir())
    assert after == before  # the refused resume wrote no checkpoint


def test_loading_a_damaged_epoch_checkpoint_is_refused(run: Path) -> None:
    epoch = run / "checkpoints" / "epoch_0001.safetensors"
    _flip_data_byte(epoch)
    with pytest.raises(CheckpointError, match="is damaged") as info:
        load_model(run, checkpoint=1)
    assert str(epoch) in info.value.message and info.value.hint
    with pytest.raises(CheckpointError, match="is damaged"):
        RunFolder.open(run).digest("epoch_0001")
    load_model(run)  # the last checkpoint is intact


# -- a run from before digests ------------------------------------------------------------------
def test_a_run_saved_before_digests_loads_with_one_warning_and_is_not_written(run: Path) -> None:
    from vadkit.inference.weights import load_scored_model

    folder = run / "checkpoints"
    for record in folder.glob(f"*{digests.SUFFIX}"):
        record.unlink()
    before = sorted((p.name, p.stat().st_mtime_ns) for p in run.rglob("*"))
    digests._warned.clear()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        _, _, used = load_scored_model(run, weights="last")
        load_model(run)  # loaded again in the same process: no second warning
    told = [w for w in caught if issubclass(w.category, digests.UnverifiedCheckpointWarning)]
    assert len(told) == 1 and "last.safetensors" in str(told[0].message)
    assert "no recorded SHA-256" in str(told[0].message)
    assert used.sha256 == _sha256(folder / "last.safetensors")  # still the weights' identity
    assert sorted((p.name, p.stat().st_mtime_ns) for p in run.rglob("*")) == before


# -- RunFolder ----------------------------------------------------------------------------------
def test_run_folder_reads_its_config_once_and_names_its_files(
    run: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from vadkit.runs import folder as runs

    reads = []
    read = runs.read_config
    monkeypatch.setattr(runs, "read_config", lambda path: reads.append(path) or read(path))
    folder = RunFolder.open(run)
    assert folder.config is folder.config and len(reads) == 1
    assert folder.settings.data.clip_length == folder.config["data"]["clip_length"]
    assert folder.spec == model_spec(folder.config)
    ckpts = run / "checkpoints"
    assert folder.checkpoints == ckpts and folder.state_file == ckpts / "last.state.pt"
    assert folder.checkpoint() == ckpts / "last.safetensors"
    assert (
        folder.checkpoint(1) == folder.checkpoint("epoch_0001") == ckpts / "epoch_0001.safetensors"
    )
    assert folder.epoch_checkpoints() == [ckpts / "epoch_0001.safetensors"]
    assert folder.has_checkpoint("last") and not folder.has_checkpoint("ema")
    model, loaded = folder.load_model(1)
    assert not model.training and loaded.verified
    assert loaded.path == ckpts / "epoch_0001.safetensors"
    assert loaded.sha256 == folder.digest(1) == _sha256(loaded.path)
    assert len(reads) == 1  # loading did not read the config again
    with pytest.raises(vadkit.errors.ConfigError, match="not a vadkit run folder"):
        RunFolder.open(run / "checkpoints")


def test_run_folder_names_a_plugin_loaded_in_another_version(run: Path) -> None:
    from vadkit.runs import folder as runs

    versions = json.loads((run / "versions.json").read_text())
    versions["plugins"]["luss"] = "0.0.1"
    (run / "versions.json").write_text(json.dumps(versions))
    runs._version_warned.discard(run.resolve())
    with pytest.warns(UserWarning, match=r"plugin 'luss' 0\.0\.1 \(\S+ here\)"):
        RunFolder.open(run).load_model()


def test_resume_loads_through_the_run_folder(run: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """``--resume`` restores the weights and state through :meth:`RunFolder.load_training_state`
    (and so checks their digests), and the run it continues stays consistent."""
    seen = []
    restore = RunFolder.load_training_state
    monkeypatch.setattr(
        RunFolder, "load_training_state", lambda self, m: seen.append(self.path) or restore(self, m)
    )
    vadkit.train(resume=run, epochs=2)
    assert seen == [run]
    _check_records(run / "checkpoints")


# -- the weights record -------------------------------------------------------------------------
def test_the_weights_record_keeps_the_score_set_format() -> None:
    """:class:`ScoredWeights` writes exactly the dict score sets have always stored, keys in
    their order (records on disk, and the identity hashed from them, do not change)."""
    from vadkit.inference.weights import ScoredWeights
    from vadkit.runs.checkpoints import LoadedWeights

    loaded = LoadedWeights(Path("/r/checkpoints/ema.safetensors"), "ab" * 32, True, {})
    plain = ScoredWeights.of_file("ema", "ema", loaded).to_json()
    assert json.dumps(plain) == json.dumps(
        {"checkpoint": "ema", "mode": "ema", "file": str(loaded.path), "sha256": "ab" * 32}
    )
    made = {"averaged": ["epoch_0002", "epoch_0003"], "batchnorm": {"windows": 9}, "sha256": "c"}
    average = ScoredWeights.of_average("last", "average of the last 2 epoch checkpoints", made)
    assert list(average.to_json()) == ["checkpoint", "mode", "averaged", "batchnorm", "sha256"]
    assert average.to_json()["averaged"] == ["epoch_0002", "epoch_0003"]
    choice = {"criterion": "lowest", "chosen": "average_last_2"}
    chosen = ScoredWeights.of_average("auto", "average of ...", made, choice=choice).to_json()
    assert list(chosen) == ["checkpoint", "mode", "choice", "averaged", "batchnorm", "sha256"]
    picked = ScoredWeights("auto", "last", "d", file="/r/last.safetensors", choice=choice)
    assert list(picked.to_json()) == ["checkpoint", "mode", "choice", "file", "sha256"]
    assert picked.to_json()["choice"] == choice
