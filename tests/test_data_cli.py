"""`vadkit data synth` and `vadkit data check`, on the synthetic scene, Ped2 and bad input."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
from test_data_helpers import write_frames, write_video

from vadkit.cli.app import main


def run(capsys, *args: str) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exc:
        main(list(args))
    out, err = capsys.readouterr()
    return int(exc.value.code or 0), out, err


def flat(text: str) -> str:
    """Panel and table borders and line breaks removed, for matching wrapped messages."""
    for ch in "│╭╮╰╯─":
        text = text.replace(ch, " ")
    return " ".join(text.split())


def test_synth_then_check_json(tmp_path, capsys):
    out = tmp_path / "scene"
    code, text, _ = run(
        capsys,
        "data",
        "synth",
        str(out),
        "--size",
        "32",
        "--train-videos",
        "2",
        "--test-videos",
        "3",
    )
    assert code == 0 and "vadkit data check" in text
    meta = json.loads((out / "scene.json").read_text())
    code, text, _ = run(capsys, "data", "check", str(out), "--json")
    assert code == 0
    report = json.loads(text)
    train, test = report["splits"]["training"], report["splits"]["testing"]
    assert train["videos"] == 2 and test["videos"] == 3 and train["resolution"] == ["32x32"]
    assert test["frames"] == sum(v["frames"] for v in meta["test_videos"])
    assert test["anomalous_frames"] == sum(v["anomalous_frames"] for v in meta["test_videos"])
    assert test["ground_truth"].endswith("frame_labels_synth.npy") and report["ok"]
    assert report["problems"] == []
    code, _, err = run(capsys, "data", "synth", str(out), "--size", "32")
    assert code == 2 and "not empty" in flat(err) and "Traceback" not in err


def test_check_rich_summary(tiny_scene, capsys):
    code, text, _ = run(capsys, "data", "check", str(tiny_scene))
    assert code == 0
    text = flat(text)
    assert "training" in text and "testing" in text and "32x32" in text
    assert "anomalous frames" in text and "No problems found." in text


def test_check_reports_ped2(ped2_root, capsys):
    code, text, _ = run(capsys, "data", "check", str(ped2_root), "--json")
    assert code == 0
    report = json.loads(text)
    train, test = report["splits"]["training"], report["splits"]["testing"]
    assert (train["videos"], train["frames"]) == (16, 2550)
    assert (test["videos"], test["frames"], test["anomalous_frames"]) == (12, 2010, 1648)
    assert train["resolution"] == test["resolution"] == ["360x240"]
    assert test["label_coverage"] == 1.0 and report["ok"]
    assert [a["agrees"] for a in test["label_alternatives"]] == [True]  # .mat and .npy agree


def test_ped2_training_and_testing_data_path(ped2_root, tmp_path):
    from vadkit.data import TrainWindows, make_train_loader, open_videos, test_windows

    train = open_videos(ped2_root, "training", size=32, cache_dir=tmp_path, progress=False)
    assert (len(train), train.total_frames) == (16, 2550)
    windows = TrainWindows(train, clip_length=16)
    assert len(windows) == 2550 - 16 * 16
    batch = next(iter(make_train_loader(windows, batch_size=4)))
    assert batch.clip.shape == (4, 1, 16, 32, 32) and -1 <= batch.clip.min() < batch.clip.max() <= 1
    test = open_videos(ped2_root, "testing", size=32, cache_dir=tmp_path, progress=False)
    assert test.anomalous_frames == 1648 and test.ground_truth.endswith("ped2.mat")
    scored = np.concatenate([s for s, _ in test_windows(test[0], batch_size=64)])
    assert scored.tolist() == list(range(16, 180))


def test_check_finds_every_problem_and_exits_2(tmp_path, capsys):
    root = tmp_path / "bad"
    frames = root / "training" / "frames"
    write_frames(frames / "01", [1] * 20, ext="jpg")
    jpg = frames / "01" / "005.jpg"
    jpg.write_bytes(jpg.read_bytes()[:100])  # corrupt JPEG
    write_frames(frames / "02", [1] * 20)
    (frames / "02" / "readme.txt").write_text("not a frame")
    (frames / "03").mkdir()  # empty video folder
    write_frames(frames / "04", [1] * 5)  # shorter than T+1
    write_frames(root / "testing" / "frames" / "01", [1] * 20)
    np.save(root / "frame_labels_bad.npy", np.zeros(19))  # wrong length
    code, text, err = run(capsys, "data", "check", str(root), "--json")
    assert code == 2 and "Traceback" not in err
    report = json.loads(text)
    assert not report["ok"]
    problems = {(p["split"], p["video"]): p for p in report["problems"]}
    assert "005.jpg" in problems["training", "01"]["message"]
    assert "readme.txt" in problems["training", "02"]["message"]
    assert "has no frames" in problems["training", "03"]["message"]
    assert problems["training", "04"]["severity"] == "warning"
    assert "19 frame labels" in problems["testing", None]["message"]
    assert all(p["hint"] for p in report["problems"])
    code, text, _ = run(capsys, "data", "check", str(root))  # the rich report says the same
    assert code == 2 and "005.jpg" in flat(text) and "readme.txt" in flat(text)


def test_check_hint_for_a_short_test_video_is_the_scoring_rule(tmp_path, capsys):
    root = tmp_path / "short"
    write_frames(root / "training" / "frames" / "01", [1] * 20)
    write_frames(root / "testing" / "frames" / "01", [1] * 20)
    write_frames(root / "testing" / "frames" / "02", [1] * 6)  # shorter than T+1 = 9
    code, text, _ = run(
        capsys, "data", "check", str(root), "--json", "--clip-length", "8", "--quick"
    )
    report = json.loads(text)
    assert code == 0 and report["splits"]["testing"]["short_videos"] == ["02"]
    (short,) = [p for p in report["problems"] if p["video"] == "02"]
    assert short["severity"] == "warning" and "clip_length+1 = 9" in short["message"]
    assert "either frames mode" in short["hint"] and "'skipped'" in short["hint"]
    assert "exits 2 when no video is left" in short["hint"] and "every frame" not in short["hint"]
    assert "data.clip_length below 6" in short["hint"]


def test_check_truncated_video_and_mixed_sizes(tmp_path, capsys):
    root = tmp_path / "v"
    path = write_video(root / "training" / "01.avi", list(range(0, 200, 10)))
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    write_video(root / "training" / "02.avi", [5] * 20)
    code, text, _ = run(capsys, "data", "check", str(root), "--json")
    report = json.loads(text)
    assert code == 2 and [p["video"] for p in report["problems"] if p["severity"] == "error"] == [
        "01"
    ]
    assert report["splits"]["training"]["frames_per_video"]["02"] == 20
    mixed = tmp_path / "m" / "training" / "frames" / "01"
    write_frames(mixed, [1, 1], size=(16, 12))
    write_frames(mixed, [1], size=(20, 12), start=2)
    code, text, _ = run(capsys, "data", "check", str(tmp_path / "m"), "--json")
    errors = [p["message"] for p in json.loads(text)["problems"] if p["severity"] == "error"]
    assert code == 2 and len(errors) == 1 and "002.png' is 20x12" in errors[0]


def test_unknown_layout_is_one_message_and_exit_2(tmp_path, capsys):
    (tmp_path / "nothing").mkdir()
    code, out, err = run(capsys, "data", "check", str(tmp_path / "nothing"))
    assert code == 2 and "Traceback" not in err and out == ""
    assert "no training or testing videos in any known layout" in flat(err)


def test_check_with_explicit_labels(tiny_scene, tmp_path, capsys):
    root = tmp_path / "scene"
    shutil.copytree(tiny_scene, root)
    labels = np.load(root / "frame_labels_synth.npy")
    (root / "frame_labels_synth.npy").unlink()
    code, text, _ = run(capsys, "data", "check", str(root), "--json")
    assert code == 0 and any(
        "No ground truth" in p["message"] for p in json.loads(text)["problems"]
    )
    np.save(tmp_path / "mine.npy", labels)
    code, text, _ = run(
        capsys, "data", "check", str(root), "--labels", str(tmp_path / "mine.npy"), "--json"
    )
    assert json.loads(text)["splits"]["testing"]["anomalous_frames"] == int(labels.sum())
