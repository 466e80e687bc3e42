"""The pseudo-anomalies and the pseudo-AUROC, without a network: exact checks on small arrays,
the contract and its conformance check, the registry, the pseudo set and the measure (computed
again by hand)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from conftest import run_cli
from scipy.ndimage import gaussian_filter

import vadkit
from vadkit.components import PseudoAnomaly, PseudoWindow
from vadkit.data.pseudo import (
    BlurBurst,
    NoiseBurst,
    PastedPatch,
    Reversal,
    SpeedUp,
    anomalous_start,
)
from vadkit.data.video import Video
from vadkit.errors import ConfigError, DataError
from vadkit.testing import check_pseudo_anomaly

BUILTIN = ("blur", "noise", "paste", "reverse", "speedup")


def ramp(frames: int, size: int = 4, channels: int = 1, step: int = 20) -> np.ndarray:
    """Frame ``k`` is the constant image ``step * k``: every frame visibly differs."""
    values = (np.arange(frames) * step).astype(np.uint8)
    return np.broadcast_to(values[:, None, None, None], (frames, size, size, channels)).copy()


def start_of(labels: np.ndarray) -> int:
    return int(np.argmax(labels)) if labels.any() else len(labels)


# -- each built-in, exactly ------------------------------------------------------------------------
@pytest.mark.parametrize("seed", range(6))
def test_speedup_shows_every_second_frame_that_follows(seed):
    window, ahead = ramp(10)[:5], ramp(10)[5:]  # T = 4: the speed-up reads T+1 frames ahead
    anomaly = SpeedUp()
    assert anomaly.extra_frames(4) == 5
    out = anomaly(window, np.random.default_rng(seed), ahead=ahead)
    s = start_of(out.labels)
    assert s == anomalous_start(5, np.random.default_rng(seed), 1.0)
    assert out.labels.tolist() == [0] * s + [1] * (5 - s)
    np.testing.assert_array_equal(out.frames[:s], window[:s])
    source = np.concatenate([window, ahead])
    for j in range(5 - s):
        np.testing.assert_array_equal(out.frames[s + j], source[s - 1 + 2 * (j + 1)])


def test_a_speedup_where_nothing_moves_changes_nothing_and_labels_nothing():
    still = np.full((9, 4, 4, 1), 90, np.uint8)
    noisy = still.copy()
    noisy[::2, 0, 0, 0] += 3  # sensor noise: changes below the visible threshold
    for frames in (still, noisy):
        out = SpeedUp()(
            frames[:5], np.random.default_rng(0), ahead=np.concatenate([frames[5:], frames[:1]])
        )
        assert out.labels.tolist() == [0] * 5
        np.testing.assert_array_equal(out.frames, frames[:5])


@pytest.mark.parametrize("seed", range(6))
def test_reverse_plays_the_end_of_the_window_backwards(seed):
    window = ramp(7)
    out = Reversal()(window, np.random.default_rng(seed))
    s = anomalous_start(7, np.random.default_rng(seed), 1.0, shortest=2)
    np.testing.assert_array_equal(out.frames[:s], window[:s])
    np.testing.assert_array_equal(out.frames[s:], window[s:][::-1])
    # a frame is labelled where it changed: the middle of an odd reversal stays itself
    changed = (out.frames != window).reshape(7, -1).any(axis=1)
    assert out.labels.tolist() == changed.astype(int).tolist() and out.labels[-1] == 1


@pytest.mark.parametrize("channels", [1, 3])
def test_blur_filters_the_end_of_the_window(channels):
    window = np.random.default_rng(1).integers(0, 256, (6, 8, 8, channels), dtype=np.uint8)
    out = BlurBurst(sigma=3.0)(window, np.random.default_rng(5))
    rng = np.random.default_rng(5)  # the same draws, in the same order
    s = anomalous_start(6, rng, 0.5)
    sigma = 3.0 * rng.uniform(0.5, 1.0) * 8 / 64
    expected = window.copy()
    blurred = gaussian_filter(window[s:].astype(np.float32), sigma=(0, sigma, sigma, 0))
    expected[s:] = np.clip(np.rint(blurred), 0, 255).astype(np.uint8)
    np.testing.assert_array_equal(out.frames, expected)
    assert out.labels.tolist() == [0] * s + [1] * (6 - s)


def test_noise_is_added_to_the_end_of_the_window():
    window = np.full((5, 4, 4, 1), 128, np.uint8)
    out = NoiseBurst(std=20.0)(window, np.random.default_rng(3))
    rng = np.random.default_rng(3)
    s = anomalous_start(5, rng, 0.5)
    std = 20.0 * rng.uniform(0.5, 1.0)
    noise = rng.normal(0.0, std, (5 - s, 4, 4, 1))
    expected = window.copy()
    expected[s:] = np.clip(np.rint(128.0 + noise.astype(np.float32)), 0, 255).astype(np.uint8)
    np.testing.assert_array_equal(out.frames, expected)
    assert out.labels.tolist() == [0] * s + [1] * (5 - s)


@pytest.mark.parametrize("seed", range(4))
def test_paste_moves_the_moving_part_of_another_video_in_a_straight_line(seed):
    t, size = 4, 8
    window = np.full((t + 1, size, size, 1), 50, np.uint8)
    donor = np.zeros_like(window)
    for i in range(t + 1):  # something moves only in rows 5-6, columns 1-2 (a flickering block)
        donor[i, 5:7, 1:3] = 100 + 30 * i
    out = PastedPatch(size=0.25)(window, np.random.default_rng(seed), donor=donor)
    rng = np.random.default_rng(seed)
    s = anomalous_start(t + 1, rng, 1.0)
    first = rng.integers(0, [7, 7])
    last = rng.integers(0, [7, 7])
    expected = window.copy()
    for i in range(s, t + 1):
        y, x = np.rint(first + (last - first) * (i - s) / max(t - s, 1)).astype(int)
        expected[i, y : y + 2, x : x + 2] = donor[i, 5:7, 1:3]
    np.testing.assert_array_equal(out.frames, expected)
    assert out.labels.tolist() == [0] * s + [1] * (t + 1 - s)


@pytest.mark.parametrize("name", BUILTIN)
def test_a_builtin_is_reproducible_and_leaves_its_input_alone(name):
    anomaly = vadkit.create_pseudo_anomaly(name)
    rng = np.random.default_rng(0)
    window = rng.integers(0, 256, (9, 12, 12, 1), dtype=np.uint8)
    ahead = rng.integers(0, 256, (anomaly.extra_frames(8), 12, 12, 1), dtype=np.uint8)
    donor = rng.integers(0, 256, window.shape, dtype=np.uint8) if anomaly.needs_donor else None
    kept = window.copy()
    runs = [anomaly(window, np.random.default_rng(s), donor, ahead) for s in (7, 7, 8, 9, 10)]
    np.testing.assert_array_equal(window, kept)
    np.testing.assert_array_equal(runs[0].frames, runs[1].frames)
    assert any(not np.array_equal(runs[0].frames, r.frames) for r in runs[2:])


# -- the contract and its conformance check --------------------------------------------------------
@pytest.mark.parametrize("name", BUILTIN)
def test_builtins_pass_the_conformance_check(name):
    check_pseudo_anomaly(name)


class _Mislabels(PseudoAnomaly):
    """Darkens the last frame but labels the first."""

    def apply(self, window, rng, donor=None, ahead=None):
        window[-1] //= 2
        labels = np.zeros(len(window), np.uint8)
        labels[0] = 1
        return PseudoWindow(window, labels)


class _Random(PseudoAnomaly):
    """Draws its noise from numpy's global state, not from the generator it is given."""

    def apply(self, window, rng, donor=None, ahead=None):
        window[-1] = np.random.randint(0, 256, window[-1].shape)
        labels = np.zeros(len(window), np.uint8)
        labels[-1] = 1
        return PseudoWindow(window, labels)


class _NeverScored(PseudoAnomaly):
    """Changes the first frame only: the frame a window scores is never anomalous."""

    def apply(self, window, rng, donor=None, ahead=None):
        window[0] = 255 - window[0]
        labels = np.zeros(len(window), np.uint8)
        labels[0] = 1
        return PseudoWindow(window, labels)


@pytest.mark.parametrize(
    ("broken", "message"),
    [
        (_Mislabels, "labelled normal"),
        (_Random, "same generator seed"),
        (_NeverScored, "never labelled the last frame"),
    ],
)
def test_the_conformance_check_catches_a_broken_pseudo_anomaly(broken, message):
    with pytest.raises(AssertionError, match=message):
        check_pseudo_anomaly(broken)


def test_bad_inputs_and_outputs_are_one_clear_error():
    window = np.zeros((5, 4, 4, 1), np.uint8)
    with pytest.raises(DataError, match="uint8 frames"):
        SpeedUp()(window.astype(np.float32), np.random.default_rng(0))
    with pytest.raises(DataError, match="reads 5 frame"):
        SpeedUp()(window, np.random.default_rng(0), ahead=window[:2])
    with pytest.raises(DataError, match="needs a donor window"):
        PastedPatch()(window, np.random.default_rng(0))

    class Short(PseudoAnomaly):
        """Returns too few labels."""

        def apply(self, window, rng, donor=None, ahead=None):
            return PseudoWindow(window, np.zeros(2, np.uint8))

    with pytest.raises(DataError, match="labels of shape"):
        Short()(window, np.random.default_rng(0))
    with pytest.raises(ConfigError, match="fraction"):
        Reversal(fraction=0.0)
    with pytest.raises(ConfigError, match="factor"):
        SpeedUp(factor=1)


# -- the registry ------------------------------------------------------------------------------------
def test_the_registry_lists_describes_and_takes_a_plugins_pseudo_anomaly(capsys):
    assert set(BUILTIN) <= set(vadkit.list_pseudo_anomalies())
    assert run_cli(["list", "pseudo_anomalies", "--json"]) == 0
    listed = capsys.readouterr().out
    assert all(f'"{n}"' in listed for n in BUILTIN)
    assert run_cli(["describe", "pseudo_anomaly", "speedup"]) == 0  # the singular works too
    out = capsys.readouterr().out
    assert "pseudo_anomaly from plugin" in out and "factor" in out and "visible" in out
    assert run_cli(["describe", "pseudo_anomalies", "nosuch"]) == 2
    assert "Unknown pseudo_anomaly 'nosuch'" in capsys.readouterr().err.replace("\n", " ")

    import types

    from vadkit.plugins import PluginHost

    @vadkit.hookimpl
    def register_pseudo_anomalies(register):
        register("darken", _Mislabels)

    plugin = types.SimpleNamespace(
        __name__="extra_pseudo", register_pseudo_anomalies=register_pseudo_anomalies
    )
    host = PluginHost(extra=[plugin])
    entry = host.registry("pseudo_anomalies").get("darken")
    assert (
        entry.plugin == "extra_pseudo"
        and entry.summary == "Darkens the last frame but labels the first."
    )


# -- the pseudo set -------------------------------------------------------------------------------
def _scene_videos(count: int, frames: int = 40, size: int = 16) -> list[Video]:
    """Videos where a bright square walks right over a textured background."""
    rng = np.random.default_rng(0)
    videos = []
    for v in range(count):
        base = rng.integers(40, 80, (size, size, 1), dtype=np.uint8)
        clip = np.repeat(base[None], frames, axis=0)
        for t in range(frames):
            x = (t // 2 + 5 * v) % (size - 4)
            clip[t, 6:10, x : x + 4] = 220
        videos.append(Video.from_array(f"v{v}", clip))
    return videos


def _pseudo_set(seed: int = 0, pairs: int = 40, kinds=BUILTIN):
    from vadkit.validation.pseudoset import PseudoSet

    videos = _scene_videos(3)
    anomalies = {k: vadkit.create_pseudo_anomaly(k) for k in kinds}
    return PseudoSet(videos[:2], videos, 6, anomalies, pairs=pairs, seed=seed)


def test_the_pseudo_set_is_drawn_from_its_seed_and_never_pastes_a_video_into_itself():
    from vadkit.validation.pseudoset import CLEAN

    a, b, other = _pseudo_set(0), _pseudo_set(0), _pseudo_set(1)
    assert a.items == b.items and a.items != other.items
    labels = a.window_labels()
    assert np.array_equal(labels, b.window_labels())
    for j in (1, 7, 31):
        np.testing.assert_array_equal(a.window(j).frames, b.window(j).frames)
    kinds = a.kinds
    assert (kinds[0::2] == CLEAN).all() and (labels[0::2] == 0).all()  # each window as it is...
    counts = {k: int((kinds == k).sum()) for k in BUILTIN}  # ...and modified, kinds in turn
    assert max(counts.values()) - min(counts.values()) <= 1
    for item in a.items:
        if item.donor is not None:
            assert a.donors[item.donor[0]].name != a.videos[item.video].name
    # the set reads as one video: window j is frames j(T+1) .. j(T+1)+T
    j = 5
    np.testing.assert_array_equal(a.frames(np.arange(7 * j, 7 * j + 7)), a.window(j).frames)
    assert a.num_frames == 7 * len(a.items) and a.picks()[j] == (0, 7 * j)


def test_held_out_videos_too_short_for_the_window_and_what_it_reads_ahead():
    from vadkit.validation.pseudoset import PseudoSet

    short = [Video.from_array("s", np.zeros((10, 8, 8, 1), np.uint8))]
    anomalies = {"speedup": SpeedUp()}
    with pytest.raises(DataError, match="too short to validate on: a window and what"):
        PseudoSet(short, short, 6, anomalies, pairs=4, seed=0)
    with pytest.raises(DataError, match="No other video"):
        PseudoSet(short, short, 6, {"paste": PastedPatch()}, pairs=4, seed=0)


# -- the measure, against a computation by hand ---------------------------------------------------
class _Difference:
    """Scores a window by how far its last frame is from the mean of the others (numpy)."""

    clip_length = 6
    frame_shape = (16, 16, 1)
    supports_maps = False

    def __init__(self) -> None:
        self.tasks, self.error_tasks, self.errors = ["diff", "last"], ["diff"], ["abs"]

    def score_windows(self, windows, *, maps=False):
        from vadkit.scoring.core import StreamKey, WindowScores

        w = windows.astype(np.float64)
        diff = np.abs(w[:, -1] - w[:, :-1].mean(axis=1)).mean(axis=(1, 2, 3))
        return WindowScores(
            {
                StreamKey("diff", "abs"): diff,
                StreamKey("last", "score"): w[:, -1].std(axis=(1, 2, 3)),
            }
        )

    def score_sliding(self, frames, *, maps=False):
        raise AssertionError("validation scores picked windows")

    def describe(self):
        return {"runtime": "numpy"}


def test_the_pseudo_auroc_is_the_micro_auroc_of_per_video_rescaled_fused_scores():
    from sklearn.metrics import roc_auc_score

    from vadkit.validation.measure import score_pseudo

    pseudo = _pseudo_set(pairs=60)
    scorer = _Difference()
    minmax = vadkit.create_normalizer("minmax")
    scores = score_pseudo(scorer, pseudo, error="abs", normalizer=minmax, batch_size=16)
    result = scores.aurocs({"diff": 0.25, "last": 1.0})
    # by hand: every window scored at once, min-max per held-out video, weighted sum, pooled AUROC
    windows = np.stack([pseudo.window(j).frames for j in range(len(pseudo.items))])
    raw = scorer.score_windows(windows)
    labels, sources = pseudo.window_labels(), pseudo.sources
    fused = np.zeros(len(labels))
    tasks = {}
    for task, key, weight in (("diff", "abs", 0.25), ("last", "score", 1.0)):
        values = raw.stream(task, key).copy()
        for v in np.unique(sources):
            part = values[sources == v]
            values[sources == v] = (part - part.min()) / (part.max() - part.min())
        tasks[task] = roc_auc_score(labels, values)
        fused += weight * values
    assert result["tasks"] == pytest.approx(tasks, abs=1e-12)
    assert result["fused"] == pytest.approx(roc_auc_score(labels, fused), abs=1e-12)
    assert result["windows"] == len(labels) and result["anomalous"] == int(labels.sum())
    noisy = pseudo.kinds == "noise"
    keep = noisy | (pseudo.kinds == "")
    assert result["kinds"]["noise"] == pytest.approx(roc_auc_score(labels[keep], fused[keep]))
    assert result["kinds"]["noise"] > 0.8  # the difference of frames sees noise


def test_a_set_whose_anomalies_never_reach_the_scored_frame_is_refused():
    from vadkit.validation.measure import score_pseudo
    from vadkit.validation.pseudoset import PseudoSet

    videos = _scene_videos(2)
    pseudo = PseudoSet(videos, videos, 6, {"first": _NeverScored()}, pairs=8, seed=0)
    with pytest.raises(DataError, match="No pseudo-anomaly changed the frame its window scores"):
        score_pseudo(
            _Difference(), pseudo, error="abs", normalizer=vadkit.create_normalizer("minmax"),
            batch_size=8,
        )  # fmt: skip


# -- the record --------------------------------------------------------------------------------------
def test_the_record_replaces_a_measurement_made_again_and_keeps_the_others(tmp_path: Path):
    from vadkit.validation.records import read_validation, record_validation

    run = tmp_path / "run"
    run.mkdir()
    assert read_validation(run) == []
    base = {"pseudo": {"windows": 8}, "held_out": ["a"], "error": "e", "normalizer": "n",
            "alphas": {"t": 1.0}}  # fmt: skip
    record_validation(run, [{**base, "checkpoint": "epoch_0002", "epoch": 2, "sha256": "b", "fused": 0.6},
                            {**base, "checkpoint": "epoch_0001", "epoch": 1, "sha256": "a", "fused": 0.5}])  # fmt: skip
    again = {**base, "checkpoint": "epoch_0001", "epoch": 1, "sha256": "a", "fused": 0.55}
    other = {**base, "pseudo": {"windows": 16}, "checkpoint": "epoch_0001", "epoch": 1, "sha256": "a",
             "fused": 0.7}  # fmt: skip
    every = record_validation(run, [again, other])
    assert [(e["epoch"], e["fused"]) for e in every] == [(1, 0.55), (1, 0.7), (2, 0.6)]
    assert read_validation(run) == every
    assert not list(run.glob(".*.tmp")) and not (run / ".vadkit.lock.json").exists()


def test_an_unreadable_record_is_named(tmp_path: Path):
    from vadkit.validation.records import read_validation

    (tmp_path / "validation.json").write_text("{not json")
    with pytest.raises(DataError, match=r"validation record .*validation.json"):
        read_validation(tmp_path)
    (tmp_path / "validation.json").write_text('{"entries": 3}')
    with pytest.raises(DataError, match="is not a vadkit validation record"):
        read_validation(tmp_path)
