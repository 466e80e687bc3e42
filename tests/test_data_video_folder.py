"""The `video-folder` layout (your own footage): video files and frame folders in train/ and
test/, labels as a CSV of frame ranges or per-video .npy files, detection that leaves the other
layouts alone, and what `vadkit data check` says about it."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from test_data_helpers import write_frames, write_video

from vadkit.cli.app import main
from vadkit.data import open_videos, read_labels, resolve_format
from vadkit.data.formats import detect_formats
from vadkit.data.truth import read_frame_labels
from vadkit.errors import DataError

VIDEOS = [("cam1", 10), ("cam2", 6)]


def message(exc: pytest.ExceptionInfo[DataError]) -> str:
    return " ".join(str(exc.value).split())


def footage(root: Path) -> Path:
    """train/: a .mp4 file and a frame folder; test/: a .avi file and a frame folder."""
    write_video(root / "train" / "walk.mp4", [10, 20, 30, 40, 50, 60])
    write_frames(root / "train" / "door", [70, 80, 90, 100])
    write_video(root / "test" / "cam1.avi", [0, 25, 50, 75, 100, 125, 150, 175, 200, 225])
    write_frames(root / "test" / "cam2", [5] * 6, ext="jpg")
    return root


def open_split(root: Path, split: str, **kwargs):
    return open_videos(
        root, split, size=8, cache_dir=root.parent / "cache", progress=False, **kwargs
    )


def run(capsys, *args: str) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exc:
        main(list(args))
    out, err = capsys.readouterr()
    return int(exc.value.code or 0), out, err


# -- the layout ------------------------------------------------------------------------------------


def test_files_and_frame_folders_mixed_in_one_split(tmp_path):
    root = footage(tmp_path / "own")
    train = open_split(root, "training")
    assert train.format == "video-folder"
    assert [(v.name, v.num_frames) for v in train] == [("door", 4), ("walk", 6)]
    np.testing.assert_array_equal(train.get("door").frames(range(4))[:, 0, 0, 0], [70, 80, 90, 100])
    walk = train.get("walk").frames(range(6))[:, 4, 4, 0].astype(int)
    np.testing.assert_allclose(walk, [10, 20, 30, 40, 50, 60], atol=6)  # lossy codec
    test = open_split(root, "testing")
    assert [v.name for v in test] == ["cam1", "cam2"] and test.ground_truth is None


def test_training_and_testing_names_are_accepted_too(tmp_path):
    write_frames(tmp_path / "training" / "01", [1, 2, 3])  # frame folders directly in training/
    write_video(tmp_path / "training" / "02.mp4", [1, 2, 3, 4])
    name, fmt = resolve_format(tmp_path, "training")
    assert name == "video-folder"
    assert [v.name for v in fmt.list_videos(tmp_path, "training")] == ["01", "02"]
    assert "only this layout reads frame folders directly in training/" in fmt.explain(
        tmp_path, "training"
    )


def test_detection_leaves_the_other_layouts_alone(tmp_path):
    videos = tmp_path / "videos"
    write_video(videos / "training" / "a.avi", [1, 2, 3])
    assert resolve_format(videos, "training")[0] == "videos"  # video-folder reads it too, lower
    assert [d.name for d in detect_formats(videos, "training")] == ["videos", "video-folder"]
    named = open_split(videos, "training", format="video-folder")  # it reads it when named
    assert named.format == "video-folder" and [v.name for v in named] == ["a"]
    frames = tmp_path / "frames"
    write_frames(frames / "training" / "frames" / "01", [1, 2])
    assert [d.name for d in detect_formats(frames, "training")] == ["frames"]
    ucsd = tmp_path / "ucsd"
    write_frames(ucsd / "Train" / "Train001", [1, 2], ext="tif", start=1)
    assert resolve_format(ucsd, "training")[0] == "ucsd"
    both = tmp_path / "both"  # train/ beside the frames layout's training/: frames keeps it
    write_frames(both / "training" / "frames" / "01", [1, 2])
    write_video(both / "train" / "x.mp4", [1, 2, 3])
    assert resolve_format(both, "training")[0] == "frames"


def test_train_and_training_both_present_is_one_clear_error(tmp_path):
    write_video(tmp_path / "train" / "a.mp4", [1, 2, 3])
    write_video(tmp_path / "training" / "b.mp4", [1, 2, 3])
    (tmp_path / "training" / "notes.txt").write_text("")
    with pytest.raises(DataError) as exc:
        open_split(tmp_path, "training", format="video-folder")
    assert "both train/ and training/" in message(exc) and "remove the other" in exc.value.hint


def test_a_file_that_is_not_a_video_names_it_and_where_labels_go(tmp_path):
    root = footage(tmp_path / "own")
    (root / "test" / "labels.csv").write_text("video,start,end\n")
    with pytest.raises(DataError) as exc:
        open_split(root, "testing")
    assert "labels.csv' is neither a video file" in message(exc) and ".mp4" in message(exc)
    assert "Move it out of test/" in exc.value.hint and "dataset root" in exc.value.hint


def test_two_videos_of_one_name(tmp_path):
    root = footage(tmp_path / "own")
    write_video(root / "train" / "door.mp4", [1, 2, 3])
    with pytest.raises(DataError) as exc:
        open_split(root, "training")
    assert "are both video 'door'" in message(exc) and "Rename one" in exc.value.hint


def test_a_folder_of_folders_says_to_move_the_frames_up(tmp_path):
    write_frames(tmp_path / "train" / "frames" / "01", [1, 2, 3])  # the frames layout, short name
    write_video(tmp_path / "train" / "a.mp4", [1, 2, 3])
    with pytest.raises(DataError) as exc:
        open_split(tmp_path, "training")
    assert "holds folders, not frame images" in message(exc)
    assert "move the frame folders up one level" in exc.value.hint


def test_dataset_names_may_hold_hyphens_other_components_not():
    from vadkit.plugins import _new_registry

    _new_registry("datasets").add("my-layout", lambda: None, plugin="p")
    with pytest.raises(Exception, match="not a valid name"):
        _new_registry("errors").add("my-err", lambda: None, plugin="p")


# -- labels: a CSV of 0-based inclusive ranges ----------------------------------------------------


def write_csv(tmp_path: Path, text: str, name: str = "labels.csv") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_csv_ranges_are_0_based_inclusive_and_merged(tmp_path):
    path = write_csv(
        tmp_path,
        "\ufeffVideo, Start ,end,note\n"  # a BOM (spreadsheets write one), spaces, an extra column
        "cam1,2,3,person running\n"
        "\n"
        "cam1, 9 , 9,\n"
        "cam1,3,4,overlaps the first\n",
    )
    labels = read_labels(path, VIDEOS)
    np.testing.assert_array_equal(labels["cam1"], [0, 0, 1, 1, 1, 0, 0, 0, 0, 1])
    np.testing.assert_array_equal(labels["cam2"], [0] * 6)  # absent: normal throughout
    assert labels["cam1"].dtype == np.uint8


@pytest.mark.parametrize(
    ("line", "found"),
    [
        ("cam1,2.5,4", "line 3: start is '2.5', not a whole frame number"),
        ("cam1,2,x", "line 3: end is 'x', not a whole frame number"),
        ("cam1,,4", "line 3: start is '', not a whole frame number"),
        ("cam1,nan,4", "line 3: start is 'nan'"),
        ("cam1,2", "line 3: 2 values, but the header names 3 columns"),
    ],
)
def test_bad_csv_names_file_line_and_value(tmp_path, line, found):
    path = write_csv(tmp_path, f"video,start,end\ncam2,0,1\n{line}\n")
    with pytest.raises(DataError) as exc:
        read_labels(path, VIDEOS)
    assert "labels.csv" in message(exc) and found in message(exc)
    assert "counted from 0" in exc.value.hint


@pytest.mark.parametrize(
    ("header", "found"),
    [
        ("video,begin,end", "line 1: the header 'video,begin,end' has no column 'start'"),
        ("video,start,end,end", "has more than one column 'end'"),
    ],
)
def test_csv_header_must_name_video_start_end(tmp_path, header, found):
    path = write_csv(tmp_path, f"{header}\ncam1,1,2\n")
    with pytest.raises(DataError) as exc:
        read_labels(path, VIDEOS)
    assert found in message(exc)
    with pytest.raises(DataError, match="is empty: it has no header"):
        read_labels(write_csv(tmp_path, ""), VIDEOS)


def test_csv_unknown_video_names_file_line_and_name(tmp_path):
    path = write_csv(tmp_path, "video,start,end\ncam1,1,2\ncam3,0,1\n")
    with pytest.raises(DataError) as exc:
        read_labels(path, VIDEOS)
    assert "labels.csv', line 3: the video 'cam3' is not a video of this split" in message(exc)
    assert "its videos: cam1, cam2" in message(exc)
    path = write_csv(tmp_path, "video,start,end\ncam1.avi,1,2\n")
    with pytest.raises(DataError) as exc:
        read_labels(path, VIDEOS)
    assert "'cam1.avi'" in message(exc) and "Write its name as 'cam1'" in exc.value.hint


@pytest.mark.parametrize(
    ("row", "found"),
    [
        ("cam2,4,6", "line 2: the range 4-6 of video 'cam2' is outside the video"),  # end = count
        (
            "cam1,-1,3",
            "the range -1-3 of video 'cam1' is outside the video, whose frames are 0 to 9",
        ),
        ("cam1,5,2", "line 2: the range 5-2 of video 'cam1' ends before it starts"),
    ],
)
def test_csv_range_outside_the_video_or_reversed(tmp_path, row, found):
    path = write_csv(tmp_path, f"video,start,end\n{row}\n")
    with pytest.raises(DataError) as exc:
        read_labels(path, VIDEOS)
    assert "labels.csv" in message(exc) and found in message(exc)


def test_a_csv_of_another_header_is_not_taken_for_labels(tmp_path):
    from vadkit.data import find_label_candidates

    write_csv(tmp_path, "camera,location\ncam1,door\n", name="cameras.csv")
    write_csv(tmp_path, "video,start,end\ncam1,1,2\n", name="anomalies.csv")
    assert [p.name for p in find_label_candidates([tmp_path])] == ["anomalies.csv"]
    write_csv(tmp_path, "video,begin,end\n")  # labels.csv: read, so that its error is shown
    assert [p.name for p in find_label_candidates([tmp_path])] == ["anomalies.csv", "labels.csv"]


# -- labels next to the footage, as `score` records them and `evaluate` reads them ----------------


def test_labels_csv_in_the_root_is_found_and_read(tmp_path):
    root = footage(tmp_path / "own")
    (root / "labels.csv").write_text("video,start,end\ncam1,3,5\ncam2,0,0\n")
    test = open_split(root, "testing")
    assert test.ground_truth == str((root / "labels.csv").resolve())
    np.testing.assert_array_equal(test.get("cam1").labels, [0, 0, 0, 1, 1, 1, 0, 0, 0, 0])
    np.testing.assert_array_equal(test.get("cam2").labels, [1, 0, 0, 0, 0, 0])
    from vadkit.data.truth import ground_truth_location

    where = ground_truth_location(open_split(root, "testing", with_labels=False))
    assert where["format"] == "video-folder" and where["labels"] is None
    read, path = read_frame_labels(where, cache_dir=tmp_path / "cache")
    assert path == test.ground_truth
    np.testing.assert_array_equal(read["cam1"], test.get("cam1").labels)


def test_per_video_npy_labels_in_labels_folder(tmp_path):
    root = footage(tmp_path / "own")
    (root / "labels").mkdir()
    np.save(root / "labels" / "cam1.npy", np.array([0, 0, 0, 0, 1, 1, 0, 0, 0, 0]))
    np.save(root / "labels" / "cam2.npy", np.array([1, 1, 0, 0, 0, 0], np.uint8))
    test = open_split(root, "testing")
    assert test.ground_truth == str((root / "labels").resolve())
    assert [int(v.labels.sum()) for v in test] == [2, 2]


def test_npy_labels_of_the_wrong_length_name_the_file_and_both_lengths(tmp_path):
    root = footage(tmp_path / "own")
    (root / "labels").mkdir()
    np.save(root / "labels" / "cam1.npy", np.zeros(10, np.uint8))
    np.save(root / "labels" / "cam2.npy", np.zeros(7, np.uint8))  # cam2 has 6 frames
    with pytest.raises(DataError) as exc:
        open_split(root, "testing")
    assert "cam2.npy' has 7 frame labels for video 'cam2', which has 6 frames" in message(exc)


# -- `vadkit data check` ----------------------------------------------------------------------------


def test_check_explains_layout_videos_and_labels(tmp_path, capsys):
    root = footage(tmp_path / "own")
    (root / "labels.csv").write_text("video,start,end\ncam1,3,5\ncam1,8,9\n")
    code, text, _ = run(capsys, "data", "check", str(root), "--json", "--clip-length", "2")
    assert code == 0
    report = json.loads(text)
    train, test = report["splits"]["training"], report["splits"]["testing"]
    assert train["format"] == test["format"] == "video-folder"
    assert train["format_reason"] == (
        "train/ holds 1 video file and 1 frame folder; no other layout matches"
    )
    assert (train["video_files"], train["frame_folders"]) == (1, 1)
    assert train["video_list"] == [
        {"name": "door", "kind": "frame folder", "path": "train/door", "frames": 4,
         "resolution": "16x12"},
        {"name": "walk", "kind": "video file", "path": "train/walk.mp4", "frames": 6,
         "resolution": "32x24"},
    ]  # fmt: skip
    assert test["ground_truth"] == str((root / "labels.csv").resolve())
    assert test["anomalous_frames_per_video"] == {"cam1": 5, "cam2": 0}
    code, text, _ = run(capsys, "data", "check", str(root), "--clip-length", "2")
    text = " ".join(text.split())
    assert "training: layout video-folder, because train/ holds 1 video file" in text
    assert "test/cam1.avi" in text and "frame folder" in text and "anomalous frames" in text


def test_check_says_why_when_another_layout_also_matches(tmp_path, capsys):
    write_video(tmp_path / "training" / "a.avi", [1] * 4)
    write_frames(tmp_path / "training" / "b", [1] * 4)
    code, text, _ = run(capsys, "data", "check", str(tmp_path), "--json", "--clip-length", "2")
    assert code == 0  # no testing split: a warning
    reason = json.loads(text)["splits"]["training"]["format_reason"]
    assert reason.startswith("training/ holds 1 video file and 1 frame folder, and only this")
    assert reason.endswith("also matched: videos (priority 0); video-folder has priority 1")
    (tmp_path / "training" / "b").rename(tmp_path / "b")  # video files only: `videos` reads them
    code, text, _ = run(capsys, "data", "check", str(tmp_path), "--json", "--clip-length", "2")
    assert json.loads(text)["splits"]["training"]["format"] == "videos"
    args = ("--json", "--clip-length", "2", "--format", "video-folder")
    code, text, _ = run(capsys, "data", "check", str(tmp_path), *args)
    training = json.loads(text)["splits"]["training"]
    assert training["format"] == "video-folder"
    assert training["format_reason"] == "named explicitly (format video-folder)"


def test_check_reports_bad_labels_and_foreign_files_with_their_fix(tmp_path, capsys):
    root = footage(tmp_path / "own")
    (root / "labels.csv").write_text("video,start,end\ncam1,3,5\ncam9,1,2\n")
    (root / "train" / "notes.txt").write_text("not a video")
    code, text, err = run(capsys, "data", "check", str(root), "--json", "--clip-length", "2")
    assert code == 2 and "Traceback" not in err
    problems = {p["split"]: p for p in json.loads(text)["problems"] if p["severity"] == "error"}
    assert "notes.txt' is neither a video file" in problems["training"]["message"]
    assert "Move it out of train/" in problems["training"]["hint"]
    assert "line 3: the video 'cam9'" in problems["testing"]["message"]
    assert problems["testing"]["hint"]
