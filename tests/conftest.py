"""Shared test fixtures."""

from __future__ import annotations

from pathlib import Path

import pytest

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
