"""Shared test fixtures."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    import vadkit

REPO = Path(__file__).resolve().parents[1]
SHARED_DATASETS = REPO.parent / "shared" / "datasets"


@pytest.fixture
def ped2_root() -> Path:
    """UCSD Ped2 in the frame-folder layout (``../shared/datasets/ped2``); skips when absent."""
    root = SHARED_DATASETS / "ped2"
    if not (root / "training" / "frames").is_dir() or not (root / "testing" / "frames").is_dir():
        pytest.skip(f"UCSD Ped2 is not available at {root} (research data, never committed)")
    return root


@pytest.fixture(scope="session")
def tiny_scene(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny synthetic scene (32x32, 2 training and 3 test videos of 24-30 frames), made once.

    Read-only: copy it before changing it.
    """
    from vadkit.data import generate_scene

    root = tmp_path_factory.mktemp("tiny_scene") / "scene"
    return generate_scene(root, size=32, train_videos=2, test_videos=3, frames=(24, 30))


#: The tiny LUSS-AE model of the CLI tests' ``--set`` overrides (8 to 16 channels, 32x32 frames,
#: 8-frame clips); each module adds the data and training settings it tests.
TINY_MODEL = [
    "model.params.channels=[8,8,16,16]",
    "data.size=[32,32]",
    "data.clip_length=8",
]

#: Settings of the tiny LUSS-AE run of :func:`tiny_run` (32x32 frames, 8-frame clips, 4 to 8
#: channels).
TINY_RUN_SETTINGS = {
    "model.params.channels": [4, 8, 8, 8],
    "data.size": [32, 32],
    "data.clip_length": 8,
    "data.stride": 4,
    "train.batch_size": 8,
}


@pytest.fixture(scope="module")
def tiny_run(tiny_scene: Path, tmp_path_factory: pytest.TempPathFactory) -> vadkit.Run:
    """A LUSS-AE run trained one epoch on :func:`tiny_scene` through the Python API
    (:data:`TINY_RUN_SETTINGS`), once per test module: a module scores and evaluates it as it
    likes. Train it under :func:`quiet_machine` (a module's autouse fixture)."""
    import vadkit

    out = tmp_path_factory.mktemp("runs") / "tiny"
    return vadkit.train(tiny_scene, out, recipe="luss-ae", epochs=1, settings=TINY_RUN_SETTINGS)


#: Put first on PYTHONPATH, this folder makes an interpreter the light install: the full
#: install's packages that requirements-runtime.txt leaves out (torch, matplotlib, ...) cannot be
#: imported there (tests/notorch/sitecustomize.py).
LIGHT_INSTALL = Path(__file__).resolve().parent / "notorch"


def run_cli(args: list[str]) -> int:
    """Run ``vadkit ARGS`` in this process; returns its exit code."""
    from vadkit.cli import main

    with pytest.raises(SystemExit) as done:
        main(args)
    code = done.value.code
    return 0 if code is None else int(code)


@contextlib.contextmanager
def quiet_machine(cache_dir: Path, **env: str) -> Iterator[pytest.MonkeyPatch]:
    """One torch thread (tiny models gain nothing from two on a shared machine) and a private
    frame cache at ``cache_dir``; more environment variables as keyword arguments."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        with pytest.MonkeyPatch.context() as mp:
            mp.setenv("VADKIT_CACHE", str(cache_dir))
            for key, value in env.items():
                mp.setenv(key, value)
            yield mp
    finally:
        torch.set_num_threads(threads)
