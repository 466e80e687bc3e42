"""The first-plugin tutorial's classifier task (``arrow``, the example plugin's arrow of time): its
own training view through the data loader, a head on the latent trained by cross-entropy, and a
score of its own under SCORE_KEY. It learns what it says it learns, on clips of a moving square."""

from __future__ import annotations

import importlib
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import torch

import vadkit
from vadkit.components import SCORE_KEY, Batch
from vadkit.data import Video
from vadkit.data.sampling import TrainWindows, collate
from vadkit.model import VADModel
from vadkit.testing import TinyBackbone, check_task

EXAMPLE_SRC = Path(__file__).resolve().parents[1] / "examples" / "vadkit-example-plugin" / "src"
T, SIDE = 8, 32


@pytest.fixture(scope="module")
def arrow_cls() -> Iterator[type]:
    sys.path.insert(0, str(EXAMPLE_SRC))
    try:
        yield importlib.import_module("vadkit_example.arrow").ArrowOfTime
    finally:
        sys.path.remove(str(EXAMPLE_SRC))


def moving_square(frames: int, rng: np.random.Generator) -> np.ndarray:
    """uint8 frames ``(frames, SIDE, SIDE, 1)``: a bright square moving right on a dark ground."""
    out = np.full((frames, SIDE, SIDE, 1), 20, dtype=np.uint8)
    row, col, speed = int(rng.integers(4, 20)), int(rng.integers(0, 6)), int(rng.integers(1, 3))
    for f in range(frames):
        c = (col + speed * f) % (SIDE - 6)
        out[f, row : row + 6, c : c + 6] = 230
    return out


def test_it_passes_vadkits_conformance_check(arrow_cls):
    check_task(arrow_cls)
    check_task(arrow_cls, p_reversed=0.0, hidden=4)
    with pytest.raises(vadkit.ConfigError, match="p_reversed"):
        arrow_cls(p_reversed=1.5)


def test_its_view_is_the_window_reversed_with_label_1(arrow_cls):
    video = Video.from_array("v", moving_square(40, np.random.default_rng(0)))
    windows = TrainWindows([video], clip_length=T, stride=2, tasks={"arrow": arrow_cls()})
    labels = []
    for i in range(len(windows)):
        sample = windows.sample(i)
        _, start = windows.window(i)
        clip = video.frames(range(start, start + T))
        label = sample["labels"]["arrow"]
        expected = clip[::-1] if label == 1 else clip
        assert np.array_equal(sample["views"]["arrow"], expected)
        labels.append(label)
    assert 0 < sum(labels) < len(labels)  # both directions are drawn
    again = TrainWindows([video], clip_length=T, stride=2, tasks={"arrow": arrow_cls()})
    assert [again.sample(i)["labels"]["arrow"] for i in range(len(windows))] == labels
    batch = collate([windows.sample(i) for i in range(4)])
    assert batch.views["arrow"].shape == (4, 1, T, SIDE, SIDE)
    assert batch.labels["arrow"].dtype == torch.long


def test_it_learns_the_arrow_of_time_and_scores_backward_clips_higher(arrow_cls):
    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    task = arrow_cls(hidden=16)
    model = VADModel(TinyBackbone(width=8), {"arrow": task}, (1, T, SIDE, SIDE))
    videos = [Video.from_array(f"v{i}", moving_square(40, rng)) for i in range(6)]
    windows = TrainWindows(videos, clip_length=T, stride=1, tasks={"arrow": task})
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
    model.train()
    first = None
    for step in range(80):
        batch = collate(
            [windows.sample(int(i), epoch=step) for i in rng.integers(len(windows), size=16)]
        )
        loss = model.training_losses(batch)["arrow"]
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        first = loss.item() if first is None else first
    assert loss.item() < 0.5 * first  # cross-entropy of a coin flip is 0.69
    model.eval()
    test = [moving_square(T + 1, rng) for _ in range(16)]
    forward = collate([{"frames": f, "views": {}, "labels": {}} for f in test])
    backward_frames = [np.concatenate([f[:T][::-1], f[T:]]) for f in test]
    backward = collate([{"frames": f, "views": {}, "labels": {}} for f in backward_frames])
    with torch.no_grad():
        score_fwd = model.window_scores(Batch(forward.clip, forward.target), {})["arrow"]
        score_bwd = model.window_scores(Batch(backward.clip, backward.target), {})["arrow"]
    assert set(score_fwd) == {SCORE_KEY}
    p_fwd, p_bwd = score_fwd[SCORE_KEY], score_bwd[SCORE_KEY]
    assert ((p_fwd >= 0) & (p_fwd <= 1)).all()
    assert float(p_bwd.mean()) > float(p_fwd.mean()) + 0.5  # backwards motion scores as anomalous
