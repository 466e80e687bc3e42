"""The typed records: a score set's ``set.json`` (:class:`ScoreSetRecord`) and the evaluation
(:class:`Evaluation`) read and write exactly the JSON vadkit wrote before they were typed.

``tests/data/sets_before_records`` holds score sets and an ``evaluation.json`` written by vadkit
before the records were typed (its README says how); nothing here trains or scores.
"""

from __future__ import annotations

import json
import shutil
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from test_evaluate import hand_record, synthetic_videos

from vadkit.errors import DataError
from vadkit.evaluation.evaluate import evaluate_run
from vadkit.scoring.record import FORMAT_VERSION, RuntimeRecord, ScoreSetRecord
from vadkit.scoring.scorefiles import RECORD_DIGEST, seal_record
from vadkit.scoring.scoreset import SET_FILE, load_scores, rebuild_index, save_score_set

BEFORE = Path(__file__).parent / "data" / "sets_before_records"
#: Each set written before: its folder (a run's or a bundle's) and its name.
SETS = {
    "a run's set of a dataset, with maps": ("run", "testing"),
    "a run's set of video files": ("run", "videos"),
    "a bundle's set of a dataset": ("bundle", "testing"),
}


@pytest.fixture
def before(tmp_path: Path) -> Path:
    """A copy of the folders written before (the tests may write into them)."""
    return Path(shutil.copytree(BEFORE, tmp_path / "before"))


def _text(data: Any) -> str:
    """JSON as vadkit writes its records (``scoreset.write_json``)."""
    return json.dumps(data, indent=2) + "\n"


# -- the sets written before --------------------------------------------------------------------
@pytest.mark.parametrize(("folder", "name"), SETS.values(), ids=SETS.keys())
def test_a_set_written_before_loads_and_is_written_back_byte_for_byte(
    before: Path, folder: str, name: str
) -> None:
    path = before / folder / "scores" / name / SET_FILE
    text = path.read_text()
    loaded = load_scores(before / folder, name)
    record = loaded.meta
    assert isinstance(record, ScoreSetRecord) and record.format == FORMAT_VERSION == 3
    assert [v.name for v in loaded.videos] == [e.name for e in record.videos]
    assert _text(record.to_json()) == text  # the on-disk format is unchanged, key order too
    # the digests: the settings hashed again give the identity, the record its seal
    assert record.identity is not None
    identity = record.new_identity()
    assert (identity.settings, identity.settings_sha256) == (
        record.identity.settings,
        record.identity.settings_sha256,
    )
    unsealed = record.to_json()
    del unsealed["identity"][RECORD_DIGEST]
    assert seal_record(unsealed) == json.loads(text)


def test_the_parts_of_the_sets_written_before_are_typed(before: Path) -> None:
    run = load_scores(before / "run").meta
    assert run.source.kind == "dataset" and run.source.data_format == "frames"
    assert run.source.ground_truth_at is not None
    assert [n for n, _ in run.source.ground_truth_at.videos] == ["01", "02", "03"]
    assert run.maps is not None and (run.maps.error, run.maps.limit) == ("bpe", 64)
    assert run.runtime == RuntimeRecord(device="cpu", precision="fp32", channels_last=True)
    assert run.errors["psnr"].stored == "negated" and run.errors["mse"].higher_is_anomalous
    assert run.defaults.presets["ped2"] == {"vcr": 0.1, "ffp": 0.8, "prp": 1.0}
    assert run.weights_sha256 == run.identity.weights_sha256  # type: ignore[union-attr]
    assert run.precision_choice is None and run.bundle_sha256 is None
    assert run.frames_scored == sum(e.frames_scored or 0 for e in run.videos) == 58
    files = load_scores(before / "run", "videos").meta
    assert files.source.kind == "files" and files.source.files == ("/tmp/records_gen/out/clip.avi",)
    assert files.dataset_format is None and files.source.ground_truth_at is None
    bundle = load_scores(before / "bundle").meta
    assert bundle.runtime is not None and bundle.runtime.runtime == "onnxruntime"
    assert bundle.runtime.providers == ("CPUExecutionProvider",)
    assert bundle.bundle_sha256 is not None and "precision_choice" not in bundle.to_json()


@pytest.mark.parametrize("folder", ["run", "bundle"])
def test_the_index_rebuilt_from_sets_written_before_is_unchanged(before: Path, folder: str) -> None:
    index = before / folder / "scores" / "index.json"
    text = index.read_text()
    rebuild_index(before / folder)
    assert index.read_text() == text


def test_evaluating_a_set_written_before_writes_the_same_evaluation_json(
    before: Path, tiny_scene: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The set was scored from the tests' ``tiny_scene`` (generated at another path): read from
    there, its ground truth gives the numbers, key for key, that ``evaluation.json`` holds."""
    monkeypatch.setenv("VADKIT_CACHE", str(before / "cache"))
    old = json.loads((before / "run" / "evaluation.json").read_text())
    result = evaluate_run(before / "run", data=tiny_scene, plots=False)
    written = json.loads((before / "run" / "evaluation.json").read_text())
    assert written == result.to_json()
    # where it was read and when differ; nothing else does, in value or order, but for the
    # normalizer's parameters that evaluations record since they can be set (the defaults here)
    assert written["protocol"].pop("normalizer_params") == {"minmax": {}}
    moved = {"created": None, "run": None}
    for data in (old, written):
        data.update(moved)
        data["protocol"]["ground_truth"] = Path(data["protocol"]["ground_truth"]).name
        data["pixel"]["ground_truth"] = Path(data["pixel"]["ground_truth"]).name
    assert _text(written) == _text(old)
    assert result.fused.micro_auroc == old["results"]["fused"]["micro_auroc"]


# -- a wrong field ------------------------------------------------------------------------------
def _set(path: str, value: Any):
    """An edit of the record at ``path`` (keys and list indices separated by dots)."""

    def edit(record: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        target: Any = record
        for key in parents:
            target = target[int(key)] if isinstance(target, list) else target[key]
        target[last] = value

    return edit


#: Fields of set.json edited to a wrong value, and what the message names.
WRONG = {
    "a video's file not a string": (_set("videos.0.file", 3), "'videos.0.file' must be a string"),
    "a video not an object": (_set("videos", [7]), "'videos.0' must be a JSON object"),
    "a frame count below zero": (
        _set("videos.1.frames_scored", -2),
        "'videos.1.frames_scored' must be a whole number >= 0",
    ),
    "the tasks missing": (_set("tasks", None), "'tasks' must be a list of strings"),
    "no task": (_set("tasks", []), "'tasks' must be a non-empty list"),
    "an unknown error task": (_set("error_tasks", ["zzz"]), "'error_tasks' names tasks"),
    "a weight not a number": (
        _set("defaults.alphas.vcr", "high"),
        "'defaults.alphas.vcr' must be a finite number",
    ),
    "the maps' limit": (_set("maps.limit", 0), "'maps.limit' must be a whole number >= 1"),
    "the runtime's device": (_set("runtime.device", 5), "'runtime.device' must be a string"),
    "the source": (_set("source", "camera"), "'source' must be 'dataset' or 'files'"),
    "the size": (_set("size", [32]), "'size' must be [height, width]"),
    "the ground truth's videos": (
        _set("ground_truth_at.videos", [["01"]]),
        "'ground_truth_at.videos' must be a list of [name, frame count] pairs",
    ),
    "a skipped video": (_set("skipped", [{"name": "x"}]), "'skipped.0.num_frames' is missing"),
}


@pytest.mark.parametrize("sealed", [False, True], ids=["format 2", "format 3 sealed again"])
@pytest.mark.parametrize(("edit", "says"), WRONG.values(), ids=WRONG.keys())
def test_a_wrong_field_is_a_data_error_naming_the_file_and_the_field(
    before: Path, edit, says: str, sealed: bool
) -> None:
    """A record whose digest still holds (format 2 seals only the settings; a writer's bug
    seals what it wrote) is still refused at its first wrong field, never a traceback."""
    path = before / "run" / "scores" / "testing" / SET_FILE
    record = json.loads(path.read_text())
    edit(record)
    if sealed:
        del record["identity"][RECORD_DIGEST]
        record = seal_record(record)
    else:
        record["format"] = 2
        del record["identity"][RECORD_DIGEST]
    path.write_text(json.dumps(record))
    with pytest.raises(DataError) as caught:
        load_scores(before / "run")
    assert f"'{path}': field {says}" in caught.value.message
    assert f"vadkit score {before / 'run'}" in str(caught.value.hint)


def test_a_record_of_a_newer_format_is_refused_with_the_fix(before: Path) -> None:
    path = before / "run" / "scores" / "testing" / SET_FILE
    record = json.loads(path.read_text())
    record["format"] = FORMAT_VERSION + 1
    del record["identity"][RECORD_DIGEST]
    path.write_text(json.dumps(seal_record(record)))
    with pytest.raises(DataError, match=r"format 4; this vadkit reads formats up to 3") as caught:
        load_scores(before / "run")
    assert "Upgrade vadkit" in str(caught.value.hint)


# -- writing ------------------------------------------------------------------------------------
def test_save_returns_the_record_a_reader_gets(tmp_path: Path) -> None:
    record = save_score_set(tmp_path, "testing", synthetic_videos(), hand_record())
    on_disk = (tmp_path / "scores" / "testing" / SET_FILE).read_text()
    assert _text(record.to_json()) == on_disk
    assert load_scores(tmp_path).meta == record
    assert record.identity is not None and len(str(record.identity.record_sha256)) == 64
    assert [e.anomalous_frames for e in record.videos] == [10, 10, 10]
    assert record.anomalous_frames == 30 and record.frames_scored == 120


def test_a_scorer_that_describes_more_than_the_record_knows_is_recorded_whole() -> None:
    """A runtime description is recorded whole (what the record does not type is kept as it
    is), in the scorer's order; a typed key of the wrong type is named."""
    described = {"runtime": "openvino", "version": "2025.1", "device": "openvino CPU"}
    described |= {"precision": "fp32", "threads": 4}
    record = RuntimeRecord.of(described)
    assert record.extra == {"threads": 4} and record.to_json() == described
    assert list(record.to_json()) == list(described)
    torch = {"device": "cpu", "precision": "bf16", "channels_last": False}
    assert list(RuntimeRecord.of(torch).to_json().items()) == list(torch.items())
    with pytest.raises(DataError, match=r"field 'runtime\.channels_last' must be true or false"):
        RuntimeRecord.of({"device": "cpu", "channels_last": "yes"})


def test_the_dict_access_of_vadkit_0_1_still_reads_with_a_deprecation_warning(
    tmp_path: Path,
) -> None:
    record = save_score_set(tmp_path, "testing", synthetic_videos(), hand_record())
    with pytest.warns(DeprecationWarning, match=r"ScoreSetRecord\['tasks'\].*vadkit 0\.3\.0"):
        assert record["tasks"] == ["vcr", "ffp", "prp"]
    with pytest.warns(DeprecationWarning, match=r"ScoreSetRecord\.get\('weights'\)"):
        assert record.get("weights") == record.weights
    with pytest.warns(DeprecationWarning, match=r"'tasks' in ScoreSetRecord"):
        assert "tasks" in record and "no such key" not in record
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the typed path warns of nothing
        assert record.tasks == ("vcr", "ffp", "prp")
        assert np.isclose(record.defaults.alphas["ffp"], 0.8)
