"""Score sets on disk: staged and swapped in whole, self-describing, refused when mixed (no network)."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from test_evaluate import hand_record, synthetic_videos

from vadkit.errors import ConfigError, DataError
from vadkit.evaluation.evaluate import evaluate_scores
from vadkit.metrics import frame_metrics
from vadkit.scoring.core import VideoScores
from vadkit.scoring.record import ErrorRecord, ScoreSetRecord
from vadkit.scoring.scorefiles import RECORD_DIGEST
from vadkit.scoring.scoreset import (
    FORMAT_VERSION,
    SET_FILE,
    list_score_sets,
    load_scores,
    rebuild_index,
    save_score_set,
)
from vadkit.storage.folders import leftover_path, mark, recover

A = "a" * 64  # the "checkpoint" of a set: the SHA-256 of its weights
B = "b" * 64


def scored(
    run: Path,
    sha: str = A,
    videos: list[VideoScores] | None = None,
    data_format: str | None = None,
    **defaults,
) -> ScoreSetRecord:
    """``make_set`` with the weights digest a scoring run records (and, as scoring a dataset
    passes it, the dataset's layout)."""
    meta = hand_record({"checkpoint": "last", "sha256": sha}, **defaults)
    meta = replace(meta, source=replace(meta.source, data_format=data_format))
    return save_score_set(run, "testing", videos or synthetic_videos(), meta)


def rescored(meta: ScoreSetRecord, sha: str) -> ScoreSetRecord:
    """``meta`` as another checkpoint would record it."""
    return replace(meta, weights={"checkpoint": "epoch_0003", "sha256": sha})


def dead_pid() -> int:
    """The id of a process that has exited (and been reaped)."""
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def crashing(videos: list[VideoScores], after: int) -> Iterator[VideoScores]:
    """The videos, then a crash after ``after`` of them (what a killed scorer leaves)."""
    for i, video in enumerate(videos):
        if i == after:
            raise KeyboardInterrupt
        yield video


# -- what a set records ------------------------------------------------------------------------
def test_every_file_records_the_checkpoint_and_settings_of_the_set(tmp_path: Path) -> None:
    record = scored(tmp_path)
    folder = tmp_path / "scores" / "testing"
    on_disk = json.loads((folder / SET_FILE).read_text())
    assert on_disk["identity"]["weights_sha256"] == A and on_disk["format"] == FORMAT_VERSION == 3
    settings = on_disk["identity"]["settings"]
    assert settings["frames_mode"] == "protocol" and settings["defaults"]["error"] == "mse"
    text = json.dumps(settings, sort_keys=True, separators=(",", ":"))
    assert on_disk["identity"]["settings_sha256"] == hashlib.sha256(text.encode()).hexdigest()
    assert record.to_json() == on_disk  # the record returned is the one written
    for entry in record.videos:
        with np.load(tmp_path / "scores" / entry.file) as data:
            assert str(data["identity.weights_sha256"]) == A
            assert str(data["identity.settings_sha256"]) == on_disk["identity"]["settings_sha256"]
    index = json.loads((tmp_path / "scores" / "index.json").read_text())
    assert index["sets"]["testing"] == on_disk  # the index is a copy of the records
    assert sorted(p.name for p in (tmp_path / "scores").iterdir()) == ["index.json", "testing"]


def test_only_the_default_error_is_normalised_when_saving(tmp_path: Path) -> None:
    videos = synthetic_videos()
    videos[1].raw["vcr"]["psnr"][5:8] = np.nan  # another measure's scores are not read
    scored(tmp_path, videos=videos)
    with np.load(tmp_path / "scores" / "testing" / "02.npz") as data:
        assert {k for k in data.files if k.startswith("norm.")} == {
            "norm.vcr.mse",
            "norm.ffp.mse",
            "norm.prp.score",
        }
        assert np.isnan(data["raw.vcr.psnr"][5:8]).all() and np.isfinite(data["fused"]).all()


# -- a killed re-score -------------------------------------------------------------------------
def test_a_rescore_killed_midway_leaves_the_previous_set_whole(tmp_path: Path) -> None:
    scored(tmp_path, A)
    before = evaluate_scores(load_scores(tmp_path))
    other = synthetic_videos(seed=7)  # another checkpoint's scores
    meta = rescored(load_scores(tmp_path).meta, B)
    with pytest.raises(KeyboardInterrupt):
        save_score_set(tmp_path, "testing", crashing(other, after=2), meta)
    after = load_scores(tmp_path)
    assert after.meta.identity is not None and after.meta.identity.weights_sha256 == A
    assert evaluate_scores(after) == before  # identical numbers, not a mix
    assert sorted(p.name for p in (tmp_path / "scores").iterdir()) == ["index.json", "testing"]


def test_a_failing_finalize_or_an_empty_set_keeps_the_previous_set(tmp_path: Path) -> None:
    scored(tmp_path, A)
    meta = load_scores(tmp_path).meta

    def refuse(record: ScoreSetRecord) -> ScoreSetRecord:
        raise DataError("refused", hint=None)

    with pytest.raises(DataError, match="refused"):
        save_score_set(tmp_path, "testing", synthetic_videos(seed=3), meta, finalize=refuse)
    with pytest.raises(DataError, match="No video was scored: score set 'testing' would be empty"):
        save_score_set(tmp_path, "testing", [], meta)
    assert len(load_scores(tmp_path).videos) == 3
    assert [p.name for p in (tmp_path / "scores").glob(".*")] == []


def test_a_rescore_replaces_the_whole_set(tmp_path: Path) -> None:
    scored(tmp_path, A)
    scored(tmp_path, B, videos=synthetic_videos(seed=2, n_videos=2))
    loaded = load_scores(tmp_path)
    assert [v.name for v in loaded.videos] == ["01", "02"]
    assert sorted(p.name for p in (tmp_path / "scores" / "testing").iterdir()) == [
        "01.npz",
        "02.npz",
        SET_FILE,
    ]
    assert loaded.meta.weights_sha256 == B


def test_leftovers_of_a_dead_scorer_are_cleaned_or_put_back(tmp_path: Path) -> None:
    scored(tmp_path, A)
    before = evaluate_scores(load_scores(tmp_path))
    live = tmp_path / "scores" / "testing"
    pid = dead_pid()
    staging = leftover_path(live, "staging", pid)
    staging.mkdir()
    mark(staging, "testing", "staging", pid)  # as staged_folder made it
    (staging / "01.npz").write_bytes(b"half a file")
    # killed between its two renames: the live set was moved aside, the new one not yet in place
    mark(live, "testing", "old", pid)
    os.replace(live, leftover_path(live, "old", pid))
    assert evaluate_scores(load_scores(tmp_path)) == before  # a reader puts it back
    assert live.is_dir() and not leftover_path(live, "old", pid).exists()
    assert staging.is_dir()  # a reader removes nothing else
    scored(tmp_path, B)  # the next writer removes the dead staging folder
    assert not staging.exists() and load_scores(tmp_path).meta.weights_sha256 == B


def test_leftovers_of_a_live_writer_are_left_alone(tmp_path: Path) -> None:
    folder = tmp_path / "scores"
    other = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        theirs = leftover_path(folder / "testing", "staging", other.pid)
        theirs.mkdir(parents=True)
        mark(theirs, "testing", "staging", other.pid)
        moved = leftover_path(folder / "clips", "old", other.pid)  # mid-swap: no live 'clips'
        moved.mkdir()
        mark(moved, "clips", "old", other.pid)
        assert recover(folder) == [] and theirs.is_dir() and moved.is_dir()
    finally:
        other.kill()
        other.wait()
    assert recover(folder) == [folder / "clips"] and not theirs.exists()


def test_own_id_leftovers_are_stale_unless_this_process_is_writing_them(tmp_path: Path) -> None:
    """Process ids are reused (a container's first process always has the same one): a
    leftover bearing this process's id is from an earlier process unless it is being written."""
    scored(tmp_path, A)
    live = tmp_path / "scores" / "testing"
    mark(live, "testing", "old")
    os.replace(live, leftover_path(live, "old"))  # an earlier process with this id, killed
    assert [v.name for v in load_scores(tmp_path).videos] == ["01", "02", "03"]  # put back
    seen: list[bool] = []

    def watch(videos: list[VideoScores]) -> Iterator[VideoScores]:
        for video in videos:
            recover(tmp_path / "scores")  # another reader, while this process writes
            seen.append(leftover_path(live, "staging").is_dir())
            yield video

    save_score_set(tmp_path, "testing", watch(synthetic_videos(seed=4)), load_scores(tmp_path).meta)
    assert seen == [True, True, True] and hidden_files(tmp_path) == []


def hidden_files(run: Path) -> list[str]:
    return sorted(p.name for p in (run / "scores").glob(".*"))


# -- a mixed set -------------------------------------------------------------------------------
def test_a_file_from_another_checkpoint_is_refused_by_name(tmp_path: Path) -> None:
    scored(tmp_path / "one", A)
    scored(tmp_path / "three", B, videos=synthetic_videos(seed=5))
    shutil.copy(tmp_path / "three/scores/testing/02.npz", tmp_path / "one/scores/testing/02.npz")
    with pytest.raises(DataError) as exc:
        load_scores(tmp_path / "one")
    text = str(exc.value)
    assert "testing/02.npz (checkpoint sha256 bbbbbbbbbbbb, the set's is aaaaaaaaaaaa)" in text
    assert "01.npz" not in text and "03.npz" not in text and "Re-score" in exc.value.hint


def test_a_file_scored_with_other_settings_or_unmarked_is_refused(tmp_path: Path) -> None:
    scored(tmp_path / "mm", A)
    scored(tmp_path / "rb", A, normalizer="robust")  # same weights, other settings
    target = tmp_path / "mm/scores/testing"
    shutil.copy(tmp_path / "rb/scores/testing/03.npz", target / "03.npz")
    with np.load(target / "01.npz") as data:
        plain = {k: data[k] for k in data.files if not k.startswith("identity.")}
    np.savez(target / "01.npz", **plain)  # a file with no identity, as if written by hand
    with pytest.raises(DataError) as exc:
        load_scores(tmp_path / "mm")
    text = str(exc.value)
    assert "testing/03.npz (scored with other settings)" in text
    assert "testing/01.npz (it records no checkpoint" in text and "02.npz" not in text


def test_an_edited_record_is_refused(tmp_path: Path) -> None:
    scored(tmp_path, A)
    path = tmp_path / "scores" / "testing" / SET_FILE
    record = json.loads(path.read_text())
    record["identity"]["settings"]["frames_mode"] = "all"
    path.write_text(json.dumps(record))
    with pytest.raises(DataError, match="edited by hand"):
        load_scores(tmp_path)


def format_2(record: dict) -> dict:
    """``record`` as the previous layout wrote it: format 2, no record digest, no data_format."""
    old = {k: v for k, v in record.items() if k != "data_format"}
    old["identity"] = {k: v for k, v in record["identity"].items() if k != RECORD_DIGEST}
    return dict(old, format=2)


def _edit(path: str, value: object):
    """An edit of the record at ``path`` (keys and list indices separated by dots)."""

    def edit(record: dict) -> None:
        *parents, last = path.split(".")
        target = record
        for key in parents:
            target = target[int(key)] if isinstance(target, list) else target[key]
        if value is DELETE:
            del target[int(last) if isinstance(target, list) else last]
        elif isinstance(target, list):
            target[int(last)] = value
        else:
            target[last] = value

    return edit


DELETE = object()
#: Values of set.json that evaluation and the report read, each edited by hand.
EDITS = {
    "a video's scored frames": _edit("videos.0.frames_scored", 1),
    "a video's file": _edit("videos.0.file", "testing/02.npz"),
    "a video left out of the list": _edit("videos.2", DELETE),
    "the frames scored": _edit("frames_scored", 10**6),
    "the anomalous frames": _edit("anomalous_frames", 0),
    "the total frames": _edit("total_frames", 7),
    "the default fusion weights": _edit("defaults.alphas", {"vcr": 0, "ffp": 0, "prp": 1}),
    "the default error measure": _edit("defaults.error", "psnr"),
    "the default smoothing": _edit("defaults.smooth", 4.0),
    "the error measures scored": _edit("errors", {"mse": {}}),
    "a measure left out": _edit("left_out_errors", {"psnr": "NaN in video 01"}),
    "the error tasks": _edit("error_tasks", ["vcr"]),
    "the ground truth": _edit("ground_truth", "other.npy"),
    "the frames mode": _edit("frames_mode", "all"),
    "the checkpoint": _edit("weights.checkpoint", "3"),
    "the digest itself": _edit(f"identity.{RECORD_DIGEST}", "0" * 64),
    "the digest removed": _edit(f"identity.{RECORD_DIGEST}", DELETE),
}


@pytest.mark.parametrize("edit", EDITS.values(), ids=EDITS.keys())
def test_an_edit_of_any_value_evaluate_reads_is_refused_naming_the_record(
    tmp_path: Path, edit
) -> None:
    scored(tmp_path, A)
    path = tmp_path / "scores" / "testing" / SET_FILE
    record = json.loads(path.read_text())
    edit(record)
    path.write_text(json.dumps(record, indent=2))
    with pytest.raises(DataError) as exc:
        load_scores(tmp_path)
    assert str(path) in exc.value.message and "edited by hand" in exc.value.message
    assert f"vadkit score {tmp_path}" in str(exc.value.hint)


def test_a_record_of_the_previous_format_still_loads(tmp_path: Path) -> None:
    """Format 2 sealed only the settings: such a record loads, its settings still checked."""
    scored(tmp_path, A)
    path = tmp_path / "scores" / "testing" / SET_FILE
    new = json.loads(path.read_text())
    assert new["format"] == FORMAT_VERSION and len(new["identity"][RECORD_DIGEST]) == 64
    before = evaluate_scores(load_scores(tmp_path)).results
    path.write_text(json.dumps(format_2(new), indent=2))
    old = load_scores(tmp_path)
    assert old.meta.format == 2 and [v.name for v in old.videos] == ["01", "02", "03"]
    assert old.meta.identity is not None and old.meta.identity.record_sha256 is None
    assert evaluate_scores(old).results == before
    edited = format_2(new)
    edited["identity"]["settings"]["frames_mode"] = "all"
    path.write_text(json.dumps(edited))
    with pytest.raises(DataError, match="edited by hand"):
        load_scores(tmp_path)


def test_a_crash_after_the_swap_leaves_the_new_set_and_a_stale_index_that_is_not_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import vadkit.scoring.scoreset as scoreset

    scored(tmp_path, A)

    def killed(run_dir: Path) -> dict:
        raise KeyboardInterrupt  # killed after the swap, before the index was rewritten

    monkeypatch.setattr(scoreset, "rebuild_index", killed)
    with pytest.raises(KeyboardInterrupt):
        scored(tmp_path, B, videos=synthetic_videos(seed=9))
    index = json.loads((tmp_path / "scores" / "index.json").read_text())
    assert index["sets"]["testing"]["identity"]["weights_sha256"] == A  # stale
    loaded = load_scores(tmp_path)  # the set's own record is the truth
    assert loaded.meta.weights_sha256 == B
    np.testing.assert_array_equal(
        loaded.videos[0].raw["ffp"]["mse"], synthetic_videos(seed=9)[0].raw["ffp"]["mse"]
    )
    monkeypatch.undo()
    scored(tmp_path, B, videos=synthetic_videos(seed=9))  # the next score rewrites the index
    index = json.loads((tmp_path / "scores" / "index.json").read_text())
    assert index["sets"]["testing"]["identity"]["weights_sha256"] == B


def test_the_index_is_a_cache_of_the_records(tmp_path: Path) -> None:
    scored(tmp_path, A)
    (tmp_path / "scores" / "index.json").write_text("{ broken")
    assert [v.name for v in load_scores(tmp_path).videos] == ["01", "02", "03"]
    assert list_score_sets(tmp_path) == ["testing"]
    with pytest.raises(DataError, match=r"(?s)no score set 'clips'.*Score sets: testing"):
        load_scores(tmp_path, "clips")
    assert list(rebuild_index(tmp_path)["sets"]) == ["testing"]
    assert json.loads((tmp_path / "scores" / "index.json").read_text())["format"] == FORMAT_VERSION


def test_a_set_of_vadkit_0_1_still_loads_with_a_warning(tmp_path: Path) -> None:
    folder = tmp_path / "scores" / "testing"
    folder.mkdir(parents=True)
    video = synthetic_videos(n_videos=1)[0]
    np.savez(
        folder / "01.npz",
        frames=video.frames,
        num_frames=np.asarray(video.num_frames),
        labels=video.labels,
        **{f"raw.{t}.{k}": v for t, keys in video.raw.items() for k, v in keys.items()},
    )
    entry = {
        "tasks": ["vcr", "ffp", "prp"],
        "error_tasks": ["vcr", "ffp"],
        "errors": {"mse": {}, "psnr": {}},
        "defaults": {
            "error": "mse",
            "normalizer": "minmax",
            "alphas": {"vcr": 1, "ffp": 1, "prp": 1},
        },
        "videos": [{"name": "01", "file": "testing/01.npz"}],
    }
    index = {"format": 1, "sets": {"testing": entry}}
    (tmp_path / "scores" / "index.json").write_text(json.dumps(index))
    with pytest.warns(UserWarning, match="written by vadkit 0.1"):
        loaded = load_scores(tmp_path)
    np.testing.assert_array_equal(loaded.videos[0].raw["ffp"]["mse"], video.raw["ffp"]["mse"])
    assert loaded.data_format is None  # format 1 recorded none


def test_the_datasets_format_survives_a_save_and_load(tmp_path: Path) -> None:
    scored(tmp_path, data_format="shanghaitech")
    path = tmp_path / "scores" / "testing" / SET_FILE
    on_disk = json.loads(path.read_text())
    # the record's "format" stays the set's layout version (readers of old sets rely on it)
    assert on_disk["format"] == FORMAT_VERSION and on_disk["data_format"] == "shanghaitech"
    assert on_disk["identity"]["settings"]["format"] == "shanghaitech"  # hashed as before
    loaded = load_scores(tmp_path)
    assert loaded.data_format == "shanghaitech" and loaded.meta.format == FORMAT_VERSION
    # a format-2 set saved before the fix (its "format" overwritten, no data_format) still
    # loads, and its dataset format is read back from the settings its identity hashed
    path.write_text(json.dumps(format_2(on_disk)))
    old = load_scores(tmp_path)
    assert old.meta.format == 2 and old.data_format == "shanghaitech"
    # a set whose meta names no dataset format (as one of video files) has none
    scored(tmp_path / "files")
    assert load_scores(tmp_path / "files").data_format is None


# -- non-finite scores at evaluation -----------------------------------------------------------
def test_a_non_finite_measure_blocks_only_itself_and_is_attributed(tmp_path: Path) -> None:
    clean = synthetic_videos()
    scored(tmp_path / "clean", A, videos=clean)
    broken = synthetic_videos()
    broken[1].raw["vcr"]["psnr"][6:9] = [np.nan, np.inf, np.nan]  # frames 10-12 of video '02'
    scored(tmp_path / "broken", A, videos=broken)
    good = evaluate_scores(load_scores(tmp_path / "clean"), error="mse")
    assert evaluate_scores(load_scores(tmp_path / "broken"), error="mse") == good
    with pytest.raises(DataError) as exc:
        evaluate_scores(load_scores(tmp_path / "broken"), error="psnr")
    text = str(exc.value)
    assert "task 'vcr', error measure 'psnr', video '02': 3 of 40 scores (NaN, inf)" in text
    assert "at frames 10-12" in text and "--error" in exc.value.hint


def test_a_left_out_measure_is_named_at_evaluation(tmp_path: Path) -> None:
    record = replace(
        scored(tmp_path, A),
        left_out_errors={"psnr": "non-finite scores: task 'vcr', video '02': ..."},
        errors={"mse": ErrorRecord()},
    )
    from vadkit.scoring.scoreset import ScoreSet

    scores = ScoreSet("testing", record, load_scores(tmp_path).videos)
    with pytest.raises(ConfigError) as exc:
        evaluate_scores(scores, error="psnr")
    assert "'psnr' was left out of score set 'testing' at scoring: non-finite" in str(exc.value)
    assert "--error mse" in exc.value.hint


def test_metrics_name_the_video_not_its_position() -> None:
    labels = [np.array([0, 1, 0]), np.array([0, 1, 1])]
    scores = [np.array([0.1, 0.9, 0.2]), np.array([0.3, np.nan, 0.8])]
    with pytest.raises(DataError, match="Video 'Test007': 1 scores are NaN"):
        frame_metrics(labels, scores, names=["Test006", "Test007"])
    with pytest.raises(DataError, match="Video 1: 1 scores"):  # no names: the position
        frame_metrics(labels, scores)
