"""Nothing is left behind: temporary files of dead processes go, the only weights never do."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch
from safetensors.torch import save_file

from vadkit.data.cache import remove_stale_temporaries
from vadkit.runs.checkpoints import PENDING, recover_checkpoint
from vadkit.storage.lock import run_lock


def test_temporaries_of_a_killed_writer_go_when_the_run_is_next_locked(tmp_path: Path) -> None:
    run = tmp_path / "run"
    (run / "checkpoints").mkdir(parents=True)
    stale = [run / ".config.toml.k2j3.tmp", run / "checkpoints" / ".last.state.pt.a1b2.tmp"]
    for path in stale:
        path.write_bytes(b"half")
    kept = run / "checkpoints" / "last.safetensors"
    kept.write_bytes(b"weights")
    with run_lock(run, "vadkit train"):
        assert not any(p.exists() for p in stale)
    assert kept.read_bytes() == b"weights"


def test_cache_temporaries_of_dead_processes_go_and_live_ones_stay(tmp_path: Path) -> None:
    dead = tmp_path / "abc.u8.999999.1f2e3d4c.tmp"
    live = tmp_path / f"abc.u8.{os.getpid()}.5a6b7c8d.tmp"
    entry = tmp_path / "abc.u8"
    for path in (dead, live, entry):
        path.write_bytes(b"x")
    assert remove_stale_temporaries(tmp_path) == [dead]
    assert live.exists() and entry.exists() and not dead.exists()


def test_recovery_never_deletes_the_only_weights(tmp_path: Path) -> None:
    folder = tmp_path / "run" / "checkpoints"
    folder.mkdir(parents=True)
    save_file({"w": torch.ones(2)}, str(folder / PENDING), metadata={"x": "1"})
    (folder / "last.state.pt").write_bytes(b"not a state")  # the state cannot be read
    with pytest.warns(UserWarning, match="only weights"):
        recover_checkpoint(tmp_path / "run")
    assert (folder / "recovered.safetensors").is_file() and not (folder / PENDING).exists()


def test_recovery_drops_pending_weights_when_the_last_ones_exist(tmp_path: Path) -> None:
    folder = tmp_path / "run" / "checkpoints"
    folder.mkdir(parents=True)
    save_file({"w": torch.ones(2)}, str(folder / PENDING), metadata={"x": "1"})
    (folder / "last.safetensors").write_bytes(b"the pair of the state")
    recover_checkpoint(tmp_path / "run")
    assert not (folder / PENDING).exists() and not (folder / "recovered.safetensors").exists()
    assert (folder / "last.safetensors").read_bytes() == b"the pair of the state"
