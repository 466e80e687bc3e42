"""Export never deletes what it did not write, and a bundle cannot lie: every file sealed inside
it, ``bundle.json`` checked field by field and its digest recorded by the score sets it writes,
the plugins it needs named, one writer at a time (docs/reference/reliability.md, "Export and
bundles")."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from conftest import quiet_machine, run_cli
from test_export import TINY
from test_stream import _error, write_video

from vadkit.errors import DataError, StorageError
from vadkit.runtime.bundle import read_bundle
from vadkit.runtime.bundlemeta import canonical_digest
from vadkit.scoring.scoreset import load_scores
from vadkit.storage.folders import MARKER, leftover_path, recover, staged_folder
from vadkit.storage.io import file_digest

HOLD = (
    "import sys, time\n"
    "from vadkit.storage.lock import run_lock\n"
    "with run_lock(sys.argv[1], sys.argv[2]):\n"
    "    print('held', flush=True)\n"
    "    time.sleep(120)\n"
)


@pytest.fixture(scope="module", autouse=True)
def _env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    with quiet_machine(tmp_path_factory.mktemp("cache")):
        yield


@pytest.fixture(scope="module")
def run(tiny_scene: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("runs") / "run"
    sets = [a for item in TINY for a in ("--set", item)]
    args = ["train", "--data", str(tiny_scene), "--epochs", "1", "--out", str(out), "--quiet"]
    assert run_cli([*args, *sets]) == 0
    return out


@pytest.fixture(scope="module")
def bundle(run: Path) -> Path:
    assert run_cli(["export", str(run), "--out", str(run.parent / "bundle")]) == 0
    return run.parent / "bundle"


@pytest.fixture(scope="module")
def clip(tiny_scene: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = sorted((tiny_scene / "testing" / "frames").iterdir())[-1]
    from PIL import Image

    frames = [np.asarray(Image.open(f).convert("L")) for f in sorted(folder.glob("*.png"))]
    return write_video(tmp_path_factory.mktemp("video") / "clip.avi", np.stack(frames))


def dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def contents(folder: Path) -> dict[str, bytes]:
    """Every file under ``folder`` (relative path -> bytes): what must stay as it was."""
    return {
        str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()
    }


def copy_of(bundle: Path, tmp_path: Path, edit: Callable[[dict[str, Any]], None] | None = None):
    """A copy of ``bundle`` (its score sets left out), ``bundle.json`` changed by ``edit``."""
    copy = tmp_path / "copy"
    shutil.copytree(bundle, copy, ignore=shutil.ignore_patterns("scores", ".vadkit.lock*"))
    if edit is not None:
        meta = json.loads((copy / "bundle.json").read_text())
        edit(meta)
        (copy / "bundle.json").write_text(json.dumps(meta, indent=1))
    return copy


@pytest.fixture
def hold() -> Iterator[Callable[[Path, str], subprocess.Popen[str]]]:
    """Hold a folder's lock in another live process, as a running `vadkit score` would."""
    procs: list[subprocess.Popen[str]] = []

    def start(folder: Path, command: str) -> subprocess.Popen[str]:
        proc = subprocess.Popen(
            [sys.executable, "-c", HOLD, str(folder), command], stdout=subprocess.PIPE, text=True
        )
        procs.append(proc)
        assert proc.stdout is not None and proc.stdout.readline().strip() == "held"
        return proc

    yield start
    for proc in procs:
        proc.kill()
        proc.wait()


# -- staged folders: only what vadkit made is cleaned up --------------------------------------
def test_folders_shaped_like_leftovers_without_the_marker_are_never_touched(tmp_path: Path) -> None:
    """A user's ``.myset.staging-1`` or ``.x.old-99999`` is not vadkit's: no marker names it."""
    dead = dead_pid()
    theirs = [
        tmp_path / ".myset.staging-1",
        tmp_path / ".x.old-99999",
        tmp_path / f".x.old-{dead}",  # a dead "writer" and no live 'x': vadkit's would go back
        tmp_path / f".myset.staging-{dead}",  # a dead "writer": vadkit's would be removed
    ]
    for folder in theirs:
        folder.mkdir()
        (folder / "notes.txt").write_text("mine")
    (tmp_path / f".y.old-{dead}").mkdir()  # a marker naming another folder proves nothing
    (tmp_path / f".y.old-{dead}" / MARKER).write_text('{"name": "z", "kind": "old", "pid": 1}')
    before = contents(tmp_path)
    assert recover(tmp_path) == []
    with staged_folder(tmp_path / "myset") as staging:
        (staging / "set.json").write_text("{}")
    assert not (tmp_path / "x").exists() and not (tmp_path / "y").exists()
    after = contents(tmp_path)
    assert {k: v for k, v in after.items() if not k.startswith("myset/")} == before
    assert sorted(after) == sorted([*before, "myset/set.json"])  # the marker is gone


def test_a_leftover_vadkit_made_carries_the_marker_and_is_put_back_without_it(
    tmp_path: Path,
) -> None:
    target = tmp_path / "set"
    with staged_folder(target) as staging:
        (staging / "a").write_text("1")
        record = json.loads((staging / MARKER).read_text())
        assert record == {"name": "set", "kind": "staging", "pid": os.getpid()}
    assert sorted(p.name for p in target.iterdir()) == ["a"]
    # a writer killed between its two renames: it had marked the live folder before moving it
    pid = dead_pid()
    (target / MARKER).write_text(json.dumps({"name": "set", "kind": "old", "pid": pid}))
    os.replace(target, leftover_path(target, "old", pid))
    assert recover(tmp_path) == [target]
    assert sorted(p.name for p in target.iterdir()) == ["a"]  # back, without the marker


# -- export's --out -------------------------------------------------------------------------
@pytest.mark.parametrize("kind", ["folder of runs", "checkpoints", "user folder", "file"])
def test_export_refuses_an_out_that_is_not_a_bundle(
    run: Path, tmp_path: Path, kind: str, capsys: pytest.CaptureFixture[str]
) -> None:
    out = {
        "folder of runs": run.parent,
        "checkpoints": run / "checkpoints",
        "user folder": tmp_path / "photos",
        "file": tmp_path / "notes.txt",
    }[kind]
    if kind == "user folder":
        out.mkdir()
        (out / "holiday.jpg").write_bytes(b"\xff\xd8 a photo")
    if kind == "file":
        out.write_text("my notes")
    before = contents(out) if out.is_dir() else out.read_bytes()
    assert run_cli(["export", str(run), "--out", str(out)]) == 2
    err = _error(capsys)
    assert f"--out '{out}'" in err and "Nothing was written" in err
    assert (contents(out) if out.is_dir() else out.read_bytes()) == before


def test_reexport_over_a_bundle_keeps_its_score_sets_and_files_or_refuses(
    run: Path, bundle: Path, clip: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    copy = copy_of(bundle, tmp_path)
    assert run_cli(["score", str(copy), str(clip), "--name", "clips", "-q"]) == 0
    capsys.readouterr()
    kept = contents(copy / "scores")
    assert run_cli(["export", str(run), "--out", str(copy)]) == 2
    err = _error(capsys)
    assert "holds the score sets clips in scores/" in err and "move" in err
    assert contents(copy / "scores") == kept and load_scores(copy, "clips").videos
    shutil.move(copy / "scores", tmp_path / "scores-kept")
    (copy / "README.txt").write_text("how we deploy this")
    assert run_cli(["export", str(run), "--out", str(copy)]) == 2
    assert "holds README.txt, which its export did not write" in _error(capsys)
    (copy / "README.txt").unlink()
    # only what its export wrote (and the lock `score` left): replaced, no marker left inside
    assert run_cli(["export", str(run), "--out", str(copy)]) == 0
    names = sorted(p.name for p in copy.iterdir())
    assert names == ["bundle.json", "model.onnx"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["copy", "scores-kept"]


def test_folders_shaped_like_leftovers_survive_an_export_beside_them(
    run: Path, tmp_path: Path
) -> None:
    dead = dead_pid()
    theirs = [
        tmp_path / ".myset.staging-1",
        tmp_path / ".x.old-99999",
        tmp_path / f".bundle.staging-{dead}",
        tmp_path / f".bundle.old-{dead}",
    ]
    for folder in theirs:
        folder.mkdir()
        (folder / "data.bin").write_bytes(b"mine")
    before = contents(tmp_path)
    assert run_cli(["export", str(run), "--out", str(tmp_path / "bundle")]) == 0
    after = contents(tmp_path)
    assert {k: v for k, v in after.items() if not k.startswith("bundle/")} == before
    assert read_bundle(tmp_path / "bundle").meta.files.keys() == {"model.onnx"}


# -- one writer at a time ---------------------------------------------------------------------
def test_export_into_the_run_takes_the_run_lock(
    run: Path, hold: Callable[..., subprocess.Popen[str]], capsys: pytest.CaptureFixture[str]
) -> None:
    holder = hold(run, "vadkit train")
    assert run_cli(["export", str(run)]) == 2  # default --out: RUN/bundle, inside the run
    err = _error(capsys)
    assert "is being written by" in err and f"pid {holder.pid}" in err
    assert not (run / "bundle").exists()


def test_bundle_scoring_and_export_over_it_take_the_bundle_lock(
    run: Path,
    bundle: Path,
    clip: Path,
    tmp_path: Path,
    hold: Callable[..., subprocess.Popen[str]],
    capsys: pytest.CaptureFixture[str],
) -> None:
    copy = copy_of(bundle, tmp_path)
    holder = hold(copy, "vadkit score")
    assert run_cli(["score", str(copy), str(clip), "-q"]) == 2
    err = _error(capsys)
    assert "is being written by" in err and f"pid {holder.pid}" in err
    assert not (copy / "scores").exists()
    assert run_cli(["export", str(run), "--out", str(copy)]) == 2
    assert "is being written by" in _error(capsys)


# -- bundle.json: sealed, checked, recorded ---------------------------------------------------
def _set(path: str, value: Any) -> Callable[[dict[str, Any]], None]:
    def edit(meta: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        node = meta
        for key in parents:
            node = node[key]
        if value is KeyError:
            del node[last]
        else:
            node[last] = value

    return edit


@pytest.mark.parametrize(
    ("path", "value", "says"),
    [
        ("size", [64, "x"], "field 'size' must be [height, width]"),
        ("size", [32, 32], "field 'input.shape' is [batch, 17, 64, 64, 1], but"),
        ("clip_length", "16", "field 'clip_length' must be a whole number"),
        ("clip_length", 8, "field 'input.shape'"),
        ("channels", 3, "field 'channels' is 3; color 'gray' has 1"),
        ("tasks", ["vcr", "ffp"], "field 'outputs' has 'prp/score'"),
        ("tasks", "vcr", "field 'tasks' must be a list of strings"),
        ("error_tasks", ["vcr", "xyz"], "field 'error_tasks' names tasks"),
        ("defaults.alphas.vcr", "big", "field 'defaults.alphas.vcr' must be a finite number"),
        ("export.openvino.usable", "no", "field 'export.openvino.usable' must be true or false"),
        ("runtime", "tensorrt", "field 'runtime' must be one of"),
        ("files", KeyError, "field 'files' is missing"),
        ("files", {}, "field 'files' is empty"),
        ("models.onnxruntime.file", "other.onnx", "names 'other.onnx', which 'files' does not"),
        ("plugins", KeyError, "field 'plugins' is missing"),
    ],
)
def test_a_tampered_field_is_a_data_error_naming_it(
    bundle: Path, tmp_path: Path, path: str, value: Any, says: str
) -> None:
    copy = copy_of(bundle, tmp_path, _set(path, value))
    with pytest.raises(DataError) as caught:
        read_bundle(copy)
    assert says in caught.value.message.replace('"', "'").replace("'batch'", "batch")
    assert "bundle.json" in caught.value.message


def test_a_consistently_edited_shape_is_caught_by_the_model_file(
    bundle: Path, clip: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    def smaller(meta: dict[str, Any]) -> None:
        meta["size"] = [32, 32]
        meta["input"]["shape"] = ["batch", 17, 32, 32, 1]

    copy = copy_of(bundle, tmp_path, smaller)
    assert run_cli(["score", str(copy), str(clip), "-q"]) == 2
    err = _error(capsys)
    assert "fields 'clip_length', 'size' and 'channels' make windows [17, 32, 32, 1]" in err
    assert "takes [17, 64, 64, 1]" in err and not (copy / "scores").exists()


@pytest.mark.parametrize("how", ["dots", "absolute", "link"])
def test_a_file_outside_the_bundle_is_refused(bundle: Path, tmp_path: Path, how: str) -> None:
    outside = tmp_path / "elsewhere.onnx"
    shutil.copy(bundle / "model.onnx", outside)
    name = {"dots": "../elsewhere.onnx", "absolute": str(outside), "link": "model.onnx"}[how]

    def point_out(meta: dict[str, Any]) -> None:
        meta["files"] = {name: file_digest(outside)}
        meta["models"]["onnxruntime"]["file"] = name

    copy = copy_of(bundle, tmp_path, point_out)
    if how == "link":  # the same bytes, through a link out of the folder: the digest matches
        (copy / "model.onnx").unlink()
        (copy / "model.onnx").symlink_to(outside)
    with pytest.raises(DataError) as caught:
        read_bundle(copy)
    says = {"dots": "reaches out of the bundle", "absolute": "absolute path", "link": "a link to"}
    assert says[how] in caught.value.message


def test_the_score_set_records_the_digest_of_bundle_json(
    bundle: Path, clip: Path, tmp_path: Path
) -> None:
    copy = copy_of(bundle, tmp_path)
    assert run_cli(["score", str(copy), str(clip), "--name", "clips", "-q"]) == 0
    record = json.loads((copy / "scores" / "clips" / "set.json").read_text())
    digest = canonical_digest(json.loads((copy / "bundle.json").read_text()))
    assert record["bundle_sha256"] == digest == read_bundle(copy).digest
    assert record["identity"]["settings"]["bundle_sha256"] == digest  # tied to every file
    meta = json.loads((copy / "bundle.json").read_text())
    meta["created"] = "2001-01-01T00:00:00+00:00"  # any change of bundle.json...
    (copy / "bundle.json").write_text(json.dumps(meta))
    assert run_cli(["score", str(copy), str(clip), "--name", "clips", "-q"]) == 0
    again = json.loads((copy / "scores" / "clips" / "set.json").read_text())
    assert again["bundle_sha256"] != digest  # ...is seen in the sets it scores


def test_openvino_that_export_found_unusable_is_refused_with_the_reason(
    bundle: Path, clip: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    why = "Check 'pads_begin' failed: the pooling window is larger than its input"

    def unusable(meta: dict[str, Any]) -> None:
        meta["export"]["openvino"] = {"checked": True, "usable": False, "why": why}
        meta["runtime"] = "onnxruntime"

    copy = copy_of(bundle, tmp_path, unusable)
    assert run_cli(["score", str(copy), str(clip), "--device", "openvino", "-q"]) == 2
    err = _error(capsys)
    assert "does not run on OpenVINO: its export found OpenVINO unusable" in err and why in err
    assert "--device onnxruntime" in err and not (copy / "scores").exists()


def test_a_bundle_whose_normalizer_plugin_is_blocked_names_it(
    bundle: Path, clip: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert read_bundle(bundle).meta.plugins["luss"].distribution is not None
    assert run_cli(["--block", "luss", "score", str(bundle), str(clip), "-q"]) == 2
    err = _error(capsys)
    assert "Unknown normalizer" in err and "This bundle was made with plugin 'luss'" in err
    assert "(blocked here)" in err and "stop blocking 'luss'" in err


def test_a_bundle_whose_normalizer_plugin_is_not_installed_names_the_pip_command(
    bundle: Path, clip: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    def from_plugin(meta: dict[str, Any]) -> None:  # as if exported where 'ghost' was installed
        meta["defaults"]["normalizer"] = meta["calibration"]["normalizer"] = "ghostnorm"
        meta["plugins"]["ghost"] = {"version": "1.2.0", "distribution": "vadkit-ghost"}

    copy = copy_of(bundle, tmp_path, from_plugin)
    assert run_cli(["score", str(copy), str(clip), "-q"]) == 2
    err = _error(capsys)
    assert "Unknown normalizer 'ghostnorm'" in err
    assert "plugin 'ghost' 1.2.0 (not installed here)" in err
    assert "pip install vadkit-ghost==1.2.0" in err and not (copy / "scores").exists()


def test_an_old_format_bundle_is_refused_with_the_fix(bundle: Path, tmp_path: Path) -> None:
    copy = copy_of(bundle, tmp_path, _set("format", 1))
    with pytest.raises(DataError) as caught:
        read_bundle(copy)
    assert "bundle format 1; this vadkit reads format 2" in caught.value.message
    assert "Export the run again with this vadkit" in (caught.value.hint or "")


# -- export's diagnosis ---------------------------------------------------------------------
def test_an_os_error_while_writing_the_model_is_one_storage_error(
    run: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A full disk while writing ``model.onnx`` is the disk's fault, not a component's."""
    import errno

    import vadkit.export.onnx as onnx_export

    real = onnx_export._onnx

    def disk_full(module: Any, args: Any, target: Any, **kw: Any) -> None:
        if isinstance(target, str):  # the file; the component probes write to memory
            raise OSError(errno.ENOSPC, "No space left on device")
        real(module, args, target, **kw)

    monkeypatch.setattr(onnx_export, "_onnx", disk_full)
    out = tmp_path / "bundle"
    assert run_cli(["export", str(run), "--out", str(out)]) == 2
    err = _error(capsys)
    assert "No space left on the device to write" in err and "model.onnx" in err
    assert "Cannot export" not in err and not out.exists()
    assert list(tmp_path.iterdir()) == []  # no staging folder left either


def test_the_component_probe_blames_the_component_also_under_inference_mode(
    tmp_path: Path,
) -> None:
    from vadkit.components import SCORE_KEY
    from vadkit.export.graph import ScoringGraph
    from vadkit.export.onnx import ExportError, culprit, export_onnx
    from vadkit.model import VADModel
    from vadkit.testing.export import _L1, _LastFrame
    from vadkit.testing.tiny import TinyBackbone

    class Spectral(_LastFrame):
        uses_error = False

        def scores(self, features: Any, batch: Any, errors: Any) -> dict[str, torch.Tensor]:
            return {SCORE_KEY: torch.linalg.svdvals(features.recon[:, 0, -1]).amax(-1)}

    good = ScoringGraph(
        VADModel(TinyBackbone(), {"t": _LastFrame()}, (1, 8, 32, 32)), {"l1": _L1()}
    )
    model = VADModel(TinyBackbone(), {"t": _LastFrame(), "s": Spectral()}, (1, 8, 32, 32))
    bad = ScoringGraph(model, {"l1": _L1()})
    assert culprit(good.eval()) is None  # no component fails on its own
    with torch.inference_mode():
        assert culprit(good) is None
        with pytest.raises(ExportError, match="Cannot export task 's' "):
            export_onnx(bad.eval(), tmp_path / "model.onnx")
    found = culprit(bad)
    assert found is not None and found.startswith("task 's' (UnsupportedOperatorError")
    with pytest.raises(StorageError, match=r"nowhere/model\.onnx"):
        export_onnx(good, tmp_path / "nowhere" / "model.onnx")  # not a component's fault
