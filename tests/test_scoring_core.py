"""The scoring core: one WindowScorer interface, one loop, bit-equal scores before and after it.

``tests/data/bitexact`` holds a tiny LUSS-AE run and the scores that vadkit computed with it
*before* the scoring core existed (commit 764a1e3, ``make_bitexact.py``): offline scoring in both
frames modes with anomaly maps, the stream scorer, calibration and the Python API's detector.
Every path now scores through :class:`~vadkit.inference.scorer.ModelScorer` and the loops of
:mod:`vadkit.scoring.core`; in fp32 on the CPU (one thread) they must give the same bits.
"""

from __future__ import annotations

import shutil
import warnings
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from vadkit.errors import ConfigError, DataError
from vadkit.scoring.core import (
    SlidingByStacking,
    StreamKey,
    WindowScorer,
    WindowScores,
    check_windows,
    expand_window_scores,
    picked_scores,
    score_videos,
    select_windows,
    sliding_scores,
)

FIXTURE = Path(__file__).resolve().parent / "data" / "bitexact"


# --------------------------------------------------------------------------------------------
# The core with a numpy scorer (no torch)
# --------------------------------------------------------------------------------------------
class Diff(SlidingByStacking):
    """A numpy scorer: task ``t`` compares the last frame with the clip's mean (measures ``abs``
    and ``sq``); task ``c`` scores the last frame's mean by itself. Counts its calls."""

    frame_shape = (4, 4, 1)
    supports_maps = False

    def __init__(self, clip_length: int = 2, bad: dict[str, int] | None = None) -> None:
        self.tasks = ["t", "c"]
        self.error_tasks = ["t"]
        self.errors = ["abs", "sq"]
        self._t = clip_length
        self.bad = bad or {}  # measure -> window count after which it gives NaN
        self.seen = 0
        self.calls: list[int] = []

    @property
    def clip_length(self) -> int:
        return self._t

    def score_windows(self, windows: np.ndarray, *, maps: bool = False) -> WindowScores:
        w = check_windows(windows, self._t).astype(np.float64)
        diff = w[:, -1] - w[:, :-1].mean(axis=1)
        streams = {
            StreamKey("t", "abs"): np.abs(diff).mean(axis=(1, 2, 3)),
            StreamKey("t", "sq"): (diff**2).mean(axis=(1, 2, 3)),
            StreamKey("c", "score"): w[:, -1].mean(axis=(1, 2, 3)),
        }
        for measure, after in self.bad.items():
            if self.seen + len(w) > after:
                streams[StreamKey("t", measure)] = np.full(len(w), np.nan)
        self.seen += len(w)
        self.calls.append(len(w))
        return WindowScores(streams)

    def describe(self) -> dict[str, str]:
        return {"runtime": "numpy"}


class Clip:
    labels = None

    def __init__(self, name: str, n: int, seed: int = 0) -> None:
        self.name = name
        self.array = np.random.default_rng(seed).integers(0, 256, (n, 4, 4, 1), dtype=np.uint8)

    @property
    def num_frames(self) -> int:
        return len(self.array)

    def frames(self, indices: np.ndarray) -> np.ndarray:
        return self.array[np.asarray(indices)]


def test_a_numpy_scorer_is_a_window_scorer_and_streams_are_typed() -> None:
    scorer = Diff()
    assert isinstance(scorer, WindowScorer)
    assert (
        StreamKey.parse("vcr/bpe") == StreamKey("vcr", "bpe") and str(StreamKey("a", "b")) == "a/b"
    )
    with pytest.raises(DataError, match="not a score stream name"):
        StreamKey.parse("vcr")
    with pytest.raises(DataError, match=r"Frames must be uint8 \(N, H, W, C\)"):
        scorer.score_sliding(np.zeros((5, 4, 4, 1), np.float32))
    with pytest.raises(DataError, match=r"uint8 \(B, T\+1=3"):
        scorer.score_windows(np.zeros((2, 4, 4, 4, 1), np.uint8))


def test_sliding_scores_are_the_windows_scores_in_batches() -> None:
    clip = Clip("v", 11)
    scorer = Diff(clip_length=3)
    got = list(sliding_scores(scorer, clip.array, 3))
    assert [len(s) for _, s in got] == [3, 3, 2] == scorer.calls
    positions = np.concatenate([p for p, _ in got])
    assert positions.tolist() == list(range(3, 11))  # window i scores frame i + T
    merged = WindowScores.concat([s for _, s in got])
    windows = np.stack([clip.array[i : i + 4] for i in range(8)])
    np.testing.assert_array_equal(
        merged.stream("t", "sq"), Diff(3).score_windows(windows).stream("t", "sq")
    )
    assert merged.tasks == ["t", "c"] and merged.by_task()["c"]["score"].shape == (8,)
    assert list(sliding_scores(scorer, clip.array[:3], 3)) == []  # fewer than T+1 frames


def test_picked_scores_keep_the_order_of_the_picks() -> None:
    videos = [Clip("a", 6, seed=1), Clip("b", 9, seed=2)]
    picks = select_windows([6, 9], 2, 5)
    assert picks == [(0, 0), (0, 2), (1, 1), (1, 4), (1, 6)]  # linspace 0, 2.5, 5, 7.5, 10
    seen: list[tuple[int, int]] = []
    got = picked_scores(Diff(), videos, picks, 2, on_progress=lambda d, n: seen.append((d, n)))
    one = [Diff().score_windows(videos[v].frames(np.arange(s, s + 3))[None]) for v, s in picks]
    np.testing.assert_array_equal(got.stream("t", "abs"), [o.stream("t", "abs")[0] for o in one])
    assert seen == [(2, 5), (4, 5), (5, 5)]


def test_the_video_loop_skips_short_videos_and_leaves_out_a_non_finite_measure() -> None:
    skipped: list[dict[str, object]] = []
    left_out: dict[str, str] = {}
    videos = [Clip("a", 8), Clip("short", 2), Clip("b", 9, seed=3)]
    scorer = Diff(bad={"sq": 7})  # "sq" turns NaN in the second video
    with pytest.warns(UserWarning) as caught:
        out = list(
            score_videos(
                scorer, videos, batch_size=4, frames_mode="protocol", skipped=skipped,
                left_out=left_out,
            )
        )  # fmt: skip
    messages = " ".join(str(w.message) for w in caught)
    assert "video 'short' has 2 frames" in messages and "'sq' left out" in messages
    assert [v.name for v in out] == ["a", "b"] and skipped[0]["name"] == "short"
    assert set(out[0].raw["t"]) == {"abs", "sq"} and set(out[1].raw["t"]) == {"abs"}
    assert "sq" in left_out and out[1].frames.tolist() == list(range(2, 9))
    frames, values = expand_window_scores(np.arange(3.0), 5, 2, "all")
    assert frames.tolist() == [0, 1, 2, 3, 4] and values.tolist() == [0, 0, 0, 1, 2]
    with pytest.raises(ConfigError, match="batch_size"):
        list(score_videos(scorer, videos, batch_size=0, frames_mode="all"))


def test_the_stream_scorer_runs_on_any_window_scorer() -> None:
    """The live scorer takes a numpy scorer as it takes a run's model or a bundle's engine."""
    from vadkit.config import resolve_settings
    from vadkit.stream import StreamScorer

    settings = resolve_settings(
        flags={"recipe": "luss-ae", "data.clip_length": 2, "data.size": [4, 4]}
    )
    clip = Clip("v", 10)
    live = StreamScorer(Diff(), settings, error="abs", max_batch=3)
    pushed = []
    for i in range(0, 10, 4):
        pushed.extend(live.push_many(list(clip.array[i : i + 4]), preprocessed=True))
    (offline,) = score_videos(Diff(), [clip], batch_size=5, frames_mode="protocol")
    assert [s.frame for s in pushed] == offline.frames.tolist()
    np.testing.assert_array_equal([s.raw["t"] for s in pushed], offline.raw["t"]["abs"])
    np.testing.assert_array_equal([s.raw["c"] for s in pushed], offline.raw["c"]["score"])
    with pytest.raises(ConfigError, match="not one this scorer computes"):
        StreamScorer(Diff(), settings, error="mse")


# --------------------------------------------------------------------------------------------
# Bit for bit: the scores of vadkit before the core, with the run of the fixture
# --------------------------------------------------------------------------------------------
FIXTURE_ERRORS = ("mse", "psnr", "pse", "bpe")  # the measures registered when it was recorded


@pytest.fixture(scope="module")
def fixture_run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, Path, dict]]:
    import torch

    from vadkit.data import generate_scene

    tmp = tmp_path_factory.mktemp("bitexact")
    run = tmp / "run"
    shutil.copytree(FIXTURE / "run", run)
    scene = generate_scene(tmp / "scene", size=32, train_videos=2, test_videos=3, frames=(24, 30))
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    with np.load(FIXTURE / "scores.npz") as data:
        expected = {k: data[k] for k in data.files}
    try:
        yield run, scene, expected
    finally:
        torch.set_num_threads(threads)


def _errors_and_runtime():
    from vadkit.inference.scorer import applicable_errors, scoring_runtime

    runtime = scoring_runtime("cpu", "fp32", True)
    return applicable_errors(FIXTURE_ERRORS, (1, 32, 32), runtime.device), runtime


def _fixture_keys(scored: dict, prefix: str, expected: dict) -> list[tuple[str, str]]:
    """The (task, measure) pairs of ``scored`` that the fixture recorded; every one it recorded
    must be there (measures of plugins installed since, such as the mae plugin's l1, are not
    part of the fixture)."""
    recorded = {
        tuple(key[len(prefix) :].split("/"))
        for key in expected
        if key.startswith(prefix)
        and key.count("/") == prefix.count("/") + 1
        and not key.startswith(f"{prefix}maps/")
    }
    got = {(task, key) for task, keys in scored.items() for key in keys}
    assert recorded <= got, f"missing {sorted(recorded - got)}"
    return sorted(recorded)


def test_offline_scores_and_maps_are_bit_equal_to_before(fixture_run) -> None:
    from vadkit.data import open_videos
    from vadkit.inference.score import score_videos as score_model_videos
    from vadkit.runs.folder import load_model

    run, scene, expected = fixture_run
    _, model = load_model(run)
    errors, runtime = _errors_and_runtime()
    videos = list(open_videos(scene, "testing", size=(32, 32), color="gray", with_labels=False))
    compared = 0
    for mode in ("protocol", "all"):
        for scored in score_model_videos(
            model, videos, errors=errors, runtime=runtime, batch_size=5, frames_mode=mode,
            maps_error="bpe", maps_limit=16,
        ):  # fmt: skip
            base = f"offline/{mode}/{scored.name}"
            np.testing.assert_array_equal(scored.frames, expected[f"{base}/frames"])
            for task, keys in scored.raw.items():
                for key, values in keys.items():
                    np.testing.assert_array_equal(values, expected[f"{base}/{task}/{key}"])
                    compared += 1
            assert set(scored.maps) == {"vcr", "ffp"}
            for task, values in scored.maps.items():
                np.testing.assert_array_equal(values, expected[f"{base}/maps/{task}"])
    assert compared == 2 * 3 * (2 * 4 + 1)  # modes x videos x (2 tasks x 4 measures + prp)


def test_stream_calibration_and_detector_scores_are_bit_equal_to_before(fixture_run) -> None:
    import vadkit
    from vadkit.data import open_videos
    from vadkit.inference.scorer import ModelScorer, applicable_errors
    from vadkit.runs.folder import load_model
    from vadkit.stream import StreamScorer, calibration_scores

    run, scene, expected = fixture_run
    config, model = load_model(run)
    errors, runtime = _errors_and_runtime()
    videos = list(open_videos(scene, "testing", size=(32, 32), color="gray", with_labels=False))
    frames = videos[0].frames(np.arange(videos[0].num_frames))
    # the stream scorer, pushed 3 frames at a time, batches of up to 4 windows
    only_bpe = applicable_errors(["bpe"], (1, 32, 32), runtime.device)
    live = StreamScorer(ModelScorer(model, only_bpe, runtime), config, error="bpe", max_batch=4)
    got = []
    for i in range(0, len(frames), 3):
        got.extend(live.push_many(list(frames[i : i + 3]), preprocessed=True))
    np.testing.assert_array_equal([s.frame for s in got], expected["stream/frame"])
    for task in live.tasks:
        np.testing.assert_array_equal([s.raw[task] for s in got], expected[f"stream/{task}"])
    # the same through the form of vadkit 0.1 (deprecated), which builds the scorer itself
    with pytest.warns(DeprecationWarning, match="StreamScorer\\(model, config"):
        old = StreamScorer(model, config, error="bpe", device="cpu", precision="fp32", max_batch=4)
    again = []
    for i in range(0, len(frames), 3):
        again.extend(old.push_many(list(frames[i : i + 3]), preprocessed=True))
    np.testing.assert_array_equal([s.raw["vcr"] for s in again], expected["stream/vcr"])
    # calibration scores of evenly spread training windows
    train = list(open_videos(scene, "training", size=(32, 32), color="gray"))
    scores, total = calibration_scores(
        ModelScorer(model, errors, runtime), train, windows=11, batch_size=4
    )
    assert total == int(expected["calibration/total"])
    for task, keys in scores.items():
        for key, values in keys.items():
            np.testing.assert_array_equal(values, expected[f"calibration/{task}/{key}"])
    # the Python API's detector
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # a run of the fixture records no weight digest
        detector = vadkit.load(run, device="cpu", precision="fp32")
    one = detector.score_frames(frames, batch_size=7)
    for task, key in _fixture_keys(one.raw, "detector/", expected):
        np.testing.assert_array_equal(one.raw[task][key], expected[f"detector/{task}/{key}"])


def test_the_bundle_scores_through_the_same_loop(fixture_run, tmp_path: Path) -> None:
    """An exported bundle's engine is the second WindowScorer: the same frames, streams and
    skipping rules, and scores equal to the model's within the export's parity."""
    pytest.importorskip("onnxruntime")
    from vadkit.data import open_videos
    from vadkit.export.writer import PARITY_RTOL, export_run
    from vadkit.runtime.bundle import read_bundle
    from vadkit.runtime.engines import open_engine
    from vadkit.runtime.scorer import EngineScorer

    run, scene, expected = fixture_run
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        export_run(run, out=tmp_path / "bundle", calibration_data=scene)
    bundle = read_bundle(tmp_path / "bundle")
    scorer = EngineScorer.of_bundle(bundle, open_engine(bundle, "onnxruntime", "fp32"))
    assert isinstance(scorer, WindowScorer) and not scorer.supports_maps
    assert scorer.tasks == ["vcr", "ffp", "prp"] and scorer.error_tasks == ["vcr", "ffp"]
    videos = list(open_videos(scene, "testing", size=(32, 32), color="gray", with_labels=False))
    for scored in score_videos(scorer, videos, batch_size=5, frames_mode="protocol"):
        base = f"offline/protocol/{scored.name}"
        np.testing.assert_array_equal(scored.frames, expected[f"{base}/frames"])
        for task, key in _fixture_keys(scored.raw, f"{base}/", expected):
            np.testing.assert_allclose(
                scored.raw[task][key], expected[f"{base}/{task}/{key}"], rtol=PARITY_RTOL, atol=1e-6
            )
    with pytest.raises(ConfigError, match="not anomaly maps"):
        scorer.score_windows(np.zeros((1, 9, 32, 32, 1), np.uint8), maps=True)
