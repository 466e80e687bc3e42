"""No decision on test labels: the validation split, the weights `score` picks, the precision it
scores in. Neither training nor scoring opens a label file (every label and pixel-mask reader
refuses to run while they do); `evaluate` reads the ground truth from where the score set
records it, and measures what the labels give."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from conftest import TINY_MODEL, quiet_machine

from vadkit.config import resolve_config
from vadkit.data.split import validation_split
from vadkit.errors import ConfigError, DataError
from vadkit.runs import folder as runs

TINY = [
    *TINY_MODEL,
    "data.stride=4",
    "data.val_videos=1",
    "train.batch_size=4",
    "train.epochs=2",
    "train.ema=true",
    "train.ema_decay=0.5",
    "score.average_last=2",
    "score.batch_size=16",
    "score.agreement_windows=16",
]


@pytest.fixture(scope="module", autouse=True)
def _machine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    with quiet_machine(tmp_path_factory.mktemp("cache")):
        yield


#: Every function of the data layer that opens a ground-truth file (or looks for one).
LABEL_READERS = {
    "vadkit.data.labels": (
        *("read_labels", "label_kind", "find_label_candidates", "read_mat_intervals"),
        *("read_ucsd_m", "read_concatenated", "read_frame_masks", "read_pixel_masks"),
        *("_vol_label_from_mat", "read_csv_ranges", "is_ranges_csv"),
    ),
    "vadkit.data.video": ("read_labels", "find_label_candidates"),
    "vadkit.data.masks": ("find_pixel_masks", "_read_vol_label", "_read_bmp_folder"),
}


def _forbid_labels(mp: pytest.MonkeyPatch) -> None:
    import importlib

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("a label file was read")

    modules = {name: importlib.import_module(name) for name in LABEL_READERS}  # all first
    for module, names in LABEL_READERS.items():
        for name in names:
            mp.setattr(modules[module], name, refuse)
    from vadkit.data.masks import PixelMasks

    mp.setattr(PixelMasks, "read", refuse)


@pytest.fixture(scope="module")
def run(tiny_scene: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny run with EMA and one held-out training video, trained with label reading refused."""
    from vadkit.training.trainer import Trainer

    out = tmp_path_factory.mktemp("run") / "run"
    config = resolve_config(overrides=TINY, flags={"data.root": str(tiny_scene)})
    with pytest.MonkeyPatch.context() as mp:
        _forbid_labels(mp)
        trainer = Trainer(config, out, handle_signals=False)
        trainer.fit()
    trained = {v.name for v in trainer.windows.videos}
    (out / "trained_on.json").write_text(json.dumps(sorted(trained)))
    return out


def test_validation_split_is_drawn_from_the_seed_and_never_trained_on(run: Path):
    names = [f"v{i}" for i in range(10)]
    a = validation_split(names, 3, seed=7)
    assert a == validation_split(names, 3, seed=7)
    assert len(a[1]) == 3 and sorted(a[0] + a[1]) == sorted(names)
    assert a[1] != validation_split(names, 3, seed=8)[1]
    assert validation_split(names, 0, seed=7) == (names, [])
    with pytest.raises(DataError, match="hold out all"):
        validation_split(names, 10, seed=0)
    from vadkit.data.split import training_videos

    trained, held = training_videos(runs.read_config(run))
    assert len(held) == 1
    assert json.loads((run / "trained_on.json").read_text()) == sorted(v.name for v in trained)
    assert held[0].name not in {v.name for v in trained}


def _score(run: Path, name: str, **kwargs: object) -> dict:
    """`score_run` with every label reader refused (whatever it chooses, it chooses blind)."""
    from vadkit.inference.score import score_run

    with pytest.MonkeyPatch.context() as mp:
        _forbid_labels(mp)
        score_run(run, name=name, **kwargs)
    return json.loads((run / "scores" / name / "set.json").read_text())


def test_weights_auto_picks_the_lowest_validation_loss_and_records_it(
    run: Path, monkeypatch: pytest.MonkeyPatch
):
    from vadkit.compute import device

    # bf16 is "auto"'s candidate only on a CPU that computes it natively: make it one here
    monkeypatch.setattr(device, "native_bf16_cpu", lambda: True)
    record = _score(run, "auto", weights="auto", precision="auto", device="cpu")
    assert record["precision_choice"]["criterion"].startswith("Spearman")
    used = record["weights"]
    choice = used["choice"]
    assert set(choice["candidates"]) == {"last", "ema", "average_last_2"}
    losses = {k: v["losses"]["loss"] for k, v in choice["candidates"].items()}
    assert choice["chosen"] == min(losses, key=losses.__getitem__)
    assert "held-out normal training videos" in choice["criterion"]
    assert len(choice["held_out"]) == 1 and choice["windows"] > 0
    # the chosen weights are what was scored: its loss, recomputed, is the recorded one
    from vadkit.data import TrainWindows
    from vadkit.data.split import training_videos
    from vadkit.inference.validation import validation_loss

    config = runs.read_config(run)
    if choice["chosen"] == "average_last_2":
        from vadkit.inference.average import averaged_model

        _, model = runs.load_model(run)
        averaged_model(run, config, model, 2, batch_size=16)
    else:
        _, model = runs.load_model(run, checkpoint=choice["chosen"])
    _, held = training_videos(config)
    windows = TrainWindows(held, clip_length=8, stride=4, tasks=model.task_map, seed=0)
    again = validation_loss(model, windows, config["tasks"]["weights"], 16)
    assert again["loss"] == pytest.approx(losses[choice["chosen"]], rel=1e-6)


def test_default_weights_are_the_ema_when_the_run_kept_one(run: Path):
    from vadkit.runs.checkpoints import weights_digest

    default = _score(run, "default")
    assert default["weights"]["checkpoint"] == "ema"
    assert default["weights"]["sha256"] == weights_digest(run / "checkpoints" / "ema.safetensors")
    last = _score(run, "last", weights="last")
    assert last["weights"]["checkpoint"] == "last"
    with pytest.raises(ConfigError, match="--weights ema chooses the weights itself"):
        _score(run, "bad", weights="ema", checkpoint="1")


def test_the_label_readers_are_really_refused(tiny_scene: Path):
    from vadkit.data import open_videos

    with pytest.MonkeyPatch.context() as mp:
        _forbid_labels(mp)
        with pytest.raises(AssertionError, match="a label file was read"):
            open_videos(tiny_scene, "testing", size=32, progress=False)


def _ucsd_copy(scene: Path, out: Path) -> Path:
    """The synthetic scene in UCSD's original layout: Train/TrainNNN and Test/TestNNN frames
    (.tif), the frame labels as a UCSDped2.m file, the pixel masks as TestNNN_gt/*.bmp."""
    from PIL import Image

    info = json.loads((scene / "scene.json").read_text())
    labels = np.load(scene / info["labels"])
    ranges, offset = [], 0
    for i, video in enumerate(info["test_videos"]):
        own = labels[offset : offset + video["frames"]]
        offset += video["frames"]
        on = np.flatnonzero(own) + 1  # 1-based frame numbers
        runs = np.split(on, np.flatnonzero(np.diff(on) > 1) + 1) if on.size else []
        ranges.append(", ".join(f"{r[0]}:{r[-1]}" for r in runs))
        masks = np.load(scene / info["pixel_masks"] / f"{video['video']}.npy")
        for t, mask in enumerate(masks):
            folder = out / "Test" / f"Test{i + 1:03d}_gt"
            folder.mkdir(parents=True, exist_ok=True)
            Image.fromarray((mask != 0).astype(np.uint8) * 255).save(folder / f"{t + 1:03d}.bmp")
    for split, prefix in (("training", "Train"), ("testing", "Test")):
        for i, folder in enumerate(sorted((scene / split / "frames").iterdir())):
            target = out / prefix / f"{prefix}{i + 1:03d}"
            target.mkdir(parents=True)
            for t, frame in enumerate(sorted(folder.iterdir())):
                Image.open(frame).save(target / f"{t + 1:03d}.tif")
    lines = [f"TestVideoFile{{end+1}}.gt_frame = [{r}];" for r in ranges]
    (out / "Test" / "UCSDped2.m").write_text("TestVideoFile = {};\n" + "\n".join(lines) + "\n")
    return out


def _auroc_by_sklearn(run: Path, name: str, labels: list[np.ndarray]) -> float:
    """The fused micro AUROC of a set's stored fused scores against ``labels`` (every video's,
    in the split's order), by sklearn."""
    from sklearn.metrics import roc_auc_score

    from vadkit.scoring.scorefiles import read_arrays

    record = json.loads((run / "scores" / name / "set.json").read_text())
    y, s = [], []
    for entry, own in zip(record["videos"], labels, strict=True):
        arrays = read_arrays(run / "scores" / entry["file"], entry["name"])
        y.append(own[arrays["frames"]])
        s.append(arrays["fused"])
    return float(roc_auc_score(np.concatenate(y), np.concatenate(s)))


def test_score_opens_no_label_file_and_evaluate_measures_what_the_labels_give(
    run: Path, tiny_scene: Path, tmp_path: Path
):
    """`score` on the synthetic scene and on the same videos in UCSD's layout, every label and
    pixel-mask reader refused: the sets record where the ground truth is, not what it says.
    `evaluate` then reads it (a .npy and a UCSD .m file; .npy and .bmp pixel masks) and gives
    the AUROC sklearn gives on the labels, the same on both layouts, and a set written the old
    way, with its labels stored, is still evaluated from those, reading no file."""
    from vadkit.data import open_videos
    from vadkit.evaluation.evaluate import evaluate_run

    ucsd = _ucsd_copy(tiny_scene, tmp_path / "ucsd")
    scene_set = _score(run, "scene", precision="fp32", maps=True)
    ucsd_set = _score(run, "ucsd", data=ucsd, precision="fp32", maps=True)
    for record, root, kind in ((scene_set, tiny_scene, "npy"), (ucsd_set, ucsd, "m")):
        where = record["ground_truth_at"]
        assert where["root"] == str(root.resolve()) and where["split"] == "testing"
        assert where["labels"] is None  # found next to the data by evaluate
        assert [n for n, _ in where["videos"]] == [v["name"] for v in record["videos"]]
        assert "ground_truth" not in record and record["anomalous_frames"] is None
        assert kind == ("m" if where["format"] == "ucsd" else "npy")
    for name in ("scene", "ucsd"):
        for file in (run / "scores" / name).glob("*.npz"):
            with np.load(file) as arrays:
                assert "labels" not in arrays.files and "masks" not in arrays.files

    truth = [v.labels for v in open_videos(tiny_scene, "testing", size=32)]
    results = {}
    for name in ("scene", "ucsd"):
        result = evaluate_run(run, name=name, plots=False)
        fused = result.fused.micro_auroc
        assert fused == pytest.approx(_auroc_by_sklearn(run, name, truth), abs=1e-12)
        results[name] = result
    scene, ucsd_result = results["scene"], results["ucsd"]
    assert str(scene.protocol.ground_truth).endswith("frame_labels_synth.npy")
    assert str(ucsd_result.protocol.ground_truth).endswith("UCSDped2.m")
    # the same frames and labels under other names: the same AUROC
    assert scene.results == ucsd_result.results
    assert scene.pixel is not None and ucsd_result.pixel is not None
    assert str(scene.pixel.ground_truth).endswith("test_pixel_mask")
    assert ucsd_result.pixel.ground_truth == str(ucsd / "Test")
    assert scene.pixel.fused == ucsd_result.pixel.fused

    # a set written before: its labels (and masks) stored in its files, no location recorded
    from vadkit.evaluation.groundtruth import with_ground_truth
    from vadkit.scoring.scoreset import load_scores, save_score_set

    read = with_ground_truth(load_scores(run, "scene"))
    source = replace(read.meta.source, ground_truth_at=None)
    save_score_set(run, "legacy", read.videos, replace(read.meta, source=source, identity=None))
    with pytest.MonkeyPatch.context() as mp:
        _forbid_labels(mp)
        legacy = evaluate_run(run, name="legacy", plots=False)
    assert legacy.results == scene.results and legacy.pixel == scene.pixel
    assert legacy.protocol.ground_truth == scene.protocol.ground_truth


def test_evaluate_names_the_ground_truth_it_cannot_find(run: Path, tiny_scene: Path, tmp_path):
    import shutil

    from vadkit.evaluation.evaluate import evaluate_run

    moved = tmp_path / "scene"
    shutil.copytree(tiny_scene, moved)
    _score(run, "moved", data=moved, precision="fp32")
    (moved / "frame_labels_synth.npy").unlink()
    with pytest.raises(DataError, match="has no ground truth for its testing videos"):
        evaluate_run(run, name="moved", plots=False)
    shutil.rmtree(moved)
    with pytest.raises(DataError, match=r"is not at .* any more") as exc:
        evaluate_run(run, name="moved", plots=False)
    assert "--data ROOT" in (exc.value.hint or "")
    # --data reads it from where the dataset is now; --labels from another file
    again = evaluate_run(run, name="moved", data=tiny_scene, plots=False)
    assert str(again.protocol.ground_truth).endswith("frame_labels_synth.npy")
    with pytest.raises(DataError, match="does not exist"):
        _score(run, "bad", labels=tmp_path / "none.npy", precision="fp32")


def test_precision_falls_back_to_fp32_when_ranks_disagree(run: Path):
    from vadkit.api import create_error
    from vadkit.inference.scorer import ModelScorer, scoring_runtime
    from vadkit.inference.validation import choose_precision

    config = runs.read_config(run)
    _, model = runs.load_model(run)
    errors = {"bpe": create_error("bpe"), "mse": create_error("mse")}
    bf16 = ModelScorer(model, errors, scoring_runtime("cpu", "bf16"))
    chosen, record = choose_precision(bf16, config)
    values = [a["spearman"] for a in record["agreement"].values() if a["spearman"] is not None]
    limit = config["score"]["agreement_windows"]
    assert 0 < record["windows"] <= limit and values  # windows spread evenly, at most the limit
    assert set(record["agreement"]) == {"vcr/bpe", "ffp/bpe", "prp/score"}  # the default measure
    assert chosen.runtime.precision == ("bf16" if min(values) >= 0.99 else "fp32")
    assert chosen.errors == ["bpe", "mse"]  # the chosen scorer keeps every measure
    config["score"]["agreement_min"] = 1.0 + 1e-9  # no real agreement reaches it
    assert choose_precision(bf16, config)[0].runtime.precision == "fp32"


def test_the_rank_rule_computed_by_hand():
    """rank_agreement, the rule of score.precision = "auto" and of int8 export: Spearman's rho
    = 1 - 6 sum(d^2) / (n (n^2 - 1)); one swapped pair of 4 gives 1 - 6 * 2 / 60 = 0.8."""
    from vadkit.inference.validation import rank_agreement

    ref = {"a": np.array([1.0, 2.0, 3.0, 4.0]), "flat": np.ones(4), "b": np.arange(4.0)}
    swapped = {**ref, "a": np.array([10, 20, 40, 30.0])}
    ok, agreement = rank_agreement(ref, swapped, 0.79)
    assert ok and agreement["a"]["spearman"] == pytest.approx(0.8)
    assert agreement["b"]["spearman"] == pytest.approx(1.0)
    assert agreement["flat"]["spearman"] is None  # constant reference: no evidence either way
    assert not rank_agreement(ref, swapped, 0.81)[0]
    assert rank_agreement(ref, ref, 1.0)[0]
    # a candidate that lost every ranking (constant) fails, instead of a NaN that min() skips
    ok, agreement = rank_agreement(ref, {**ref, "b": np.full(4, 0.5)}, 0.5)
    assert not ok and agreement["b"] == {"spearman": 0.0, "kendall": 0.0}


def test_score_watch_maps_and_load_use_the_weights_the_recipe_scores(run: Path):
    """One resolution of the scored weights (`load_scored_model`): on a run that kept a moving
    average, `score`, `watch` (its calibration), `maps` and `vadkit.load` all use it by default,
    and all take `--weights`/`weights` to use another."""
    from conftest import run_cli

    import vadkit
    from vadkit.inference.weights import load_scored_model, recorded_weights
    from vadkit.runs.checkpoints import state_digest, weights_digest
    from vadkit.stream.calibration import read_calibration
    from vadkit.stream.session import open_for_stream

    ema = weights_digest(run / "checkpoints" / "ema.safetensors")
    last = weights_digest(run / "checkpoints" / "last.safetensors")
    assert ema != last
    _, model, used = load_scored_model(run)
    assert (used.mode, used.checkpoint, used.sha256) == ("ema", "ema", ema)
    assert load_scored_model(run, weights="last")[2].sha256 == last
    assert load_scored_model(run, checkpoint="1")[2].checkpoint == "1"  # named: the last mode

    # vadkit.load: the same weights, the same scores as the score set's
    record = _score(run, "loaded", precision="fp32", device="cpu")
    assert record["weights"]["sha256"] == ema
    detector = vadkit.load(run, precision="fp32", device="cpu")
    assert detector.weights["sha256"] == ema
    assert state_digest(detector.model) == state_digest(model)
    from vadkit.data import open_videos
    from vadkit.scoring.scoreset import load_scores

    video = open_videos(runs.read_config(run)["data"]["root"], "testing", size=32)[0]
    in_memory = detector.score_frames(video.frames(np.arange(video.num_frames)))
    stored = load_scores(run, "loaded").videos[0]
    for task, keys in stored.raw.items():
        for key, values in keys.items():
            np.testing.assert_array_equal(values, in_memory.raw[task][key])
    assert vadkit.load(run, weights="last", device="cpu").weights["sha256"] == last

    # watch: its calibration is made with (and checked against) the same weights
    assert run_cli(["watch", str(run), "--calibrate", "--calibration-windows", "4", "-q"]) == 0
    calibration = read_calibration(run)
    assert calibration is not None and calibration.meta["weights"]["sha256"] == ema
    told: list[str] = []
    opened = open_for_stream(run, calibration_windows=4, on_calibrating=told.append)
    assert opened.weights.sha256 == ema and not told  # the calibration fits: kept
    other = open_for_stream(run, weights="last", calibration_windows=4, on_calibrating=told.append)
    assert other.calibration.meta["weights"]["sha256"] == last and "does not fit" in told[0]
    # load_for_stream: open_for_stream's parameters, its result as (config, model, calibration)
    import inspect

    from vadkit.stream import load_for_stream

    same = inspect.signature(open_for_stream).parameters
    assert inspect.signature(load_for_stream).parameters == same
    config, loaded, cal = load_for_stream(run, weights="last", calibration_windows=4)
    assert config == other.config and cal.meta["weights"]["sha256"] == last
    assert state_digest(loaded) == state_digest(other.model)

    # maps: the weights a score set was scored with, loaded again from its record
    assert recorded_weights(record) == {"weights": "ema"}
    assert recorded_weights({"weights": {"mode": "last", "checkpoint": "1"}}) == {
        "weights": "last",
        "checkpoint": "1",
    }
    averaged = {"weights": {"mode": "auto", "averaged": ["epoch_0001", "epoch_0002"]}}
    assert recorded_weights(averaged) == {"weights": "last", "average_last": 2}
    assert recorded_weights({"checkpoint": "3"}) == {"weights": "last", "checkpoint": "3"}
    from vadkit.inference.framemaps import frame_maps

    maps = frame_maps(run, video.name, device="cpu", **recorded_weights(record))
    default = frame_maps(run, video.name, device="cpu")
    np.testing.assert_array_equal(maps.fused, default.fused)
    lasts = frame_maps(run, video.name, device="cpu", weights="last")
    assert not np.array_equal(lasts.fused, default.fused)


def test_label_free_validation_and_what_it_chooses_read_no_label(
    run: Path, tiny_scene: Path, tmp_path: Path
):
    """`vadkit validate`, the trainer's validation callback, `--weights auto --criterion pseudo`
    and `vadkit search --on pseudo` run with every label reader refused: the pseudo-AUROC is
    measured on held-out training videos with the labels its pseudo-anomalies give."""
    from vadkit.evaluation.search import search_run
    from vadkit.training.trainer import Trainer
    from vadkit.validation.records import read_validation
    from vadkit.validation.run import validate_run
    from vadkit.validation.validator import PSEUDO_CRITERION

    with pytest.MonkeyPatch.context() as mp:
        _forbid_labels(mp)
        result = validate_run(run, checkpoints=["all"])
        config = resolve_config(
            overrides=[*TINY, "train.epochs=1", "train.validate_every=1"],
            flags={"data.root": str(tiny_scene)},
        )
        Trainer(config, tmp_path / "validated", handle_signals=False).fit()
    assert {e["checkpoint"] for e in result["entries"]} == {
        "epoch_0001",
        "epoch_0002",
        "last",
        "ema",
    }
    held = json.loads((run / "trained_on.json").read_text())
    assert not set(result["protocol"]["held_out"]) & set(held)  # never a video it trained on
    assert [e["epoch"] for e in read_validation(tmp_path / "validated")] == [1]
    record = _score(run, "by_pseudo", weights="auto", criterion="pseudo", precision="fp32")
    choice = record["weights"]["choice"]
    assert choice["criterion"] == PSEUDO_CRITERION
    assert choice["chosen"] == max(
        choice["candidates"], key=lambda n: choice["candidates"][n]["pseudo"]["fused"]
    )
    with pytest.MonkeyPatch.context() as mp:
        _forbid_labels(mp)
        searched = search_run(run, name="by_pseudo", on="pseudo", step=0.5)
    assert searched["mode"] == "pseudo" and searched["choice"]["criterion"] == PSEUDO_CRITERION
