"""Every message is plain text, every warning one line, every OS failure one message and exit 2."""

from __future__ import annotations

import errno
import os
import re
import subprocess
import sys
import textwrap
import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch
from conftest import TINY_MODEL, quiet_machine

from vadkit import plugins
from vadkit.cli import main
from vadkit.errors import CheckpointError, StorageError, VadkitError

TINY = [
    *TINY_MODEL,
    "data.stride=4",
    "train.batch_size=4",
]
SETS = [arg for item in TINY for arg in ("--set", item)]


@pytest.fixture(scope="module", autouse=True)
def _env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """A private frame cache and one torch thread (a shared machine)."""
    with quiet_machine(tmp_path_factory.mktemp("cache")):
        yield


@pytest.fixture(autouse=True)
def fresh_plugins() -> Iterator[None]:
    plugins.reset()
    yield
    plugins.reset()


def flat(text: str) -> str:
    """``text`` without whitespace and panel borders: rich wraps long paths anywhere."""
    return re.sub(r"[\s│╭╮╰╯─]", "", text)


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    try:
        main(list(args))
        code = 0
    except SystemExit as exc:
        code = 0 if exc.code is None else int(exc.code)
    out = capsys.readouterr()
    return code, out.out, out.err


def train(capsys: pytest.CaptureFixture[str], scene: Path, out: Path) -> tuple[int, str]:
    code, _, err = run(capsys, "train", "--data", str(scene), "--out", str(out), "-q", *SETS)
    return code, err


# -- plain text -----------------------------------------------------------------------------------
def test_show_error_prints_message_and_hint_literally(capsys: pytest.CaptureFixture[str]) -> None:
    from vadkit.cli.common import show_error

    show_error(VadkitError("size must be [height, width], not '[/x]'", hint="use [bold] as is"))
    err = capsys.readouterr().err
    assert "size must be [height, width], not '[/x]'" in err
    assert "use [bold] as is" in err


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--set", "data.size=[/x]"], "must be [height, width] in pixels, not '[/x]'"),
        (["--set", "data.[bold]=1"], "Unknown config key 'data.[bold]'"),
        (["--data", "/no/such/[/x]/[bold]"], "'/no/such/[/x]/[bold]' does not exist"),
    ],
    ids=["set-value", "set-key", "data-path"],
)
def test_markup_in_values_and_paths_prints_literally(
    args: list[str], expected: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run(capsys, "train", "--out", str(tmp_path / "run"), "-q", *args)
    assert code == 2
    assert flat(expected) in flat(err)
    assert "Traceback" not in err and "MarkupError" not in err


def test_markup_in_a_hint_prints_literally(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run_dir = tmp_path / "[/x] [bold]"
    (run_dir / "checkpoints").mkdir(parents=True)
    (run_dir / "checkpoints" / "last.safetensors").write_bytes(b"x")
    code, _, err = run(capsys, "train", "--out", str(run_dir), "-q", *SETS)
    assert code == 2
    assert flat(str(run_dir)) in flat(err)  # message and hint name the folder
    assert "Traceback" not in err and "MarkupError" not in err


def test_plugin_error_in_the_plugins_table_prints_literally(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from vadkit.cli import common

    monkeypatch.setattr(common.console, "width", 400)  # one table row per plugin
    bad = tmp_path / "markup.py"
    bad.write_text("raise RuntimeError('[/x] broke [bold] at [height, width]')\n")
    code, out, err = run(capsys, "--plugin", str(bad), "plugins")
    assert code == 0
    assert flat("failed: importing it raised RuntimeError: [/x] broke [bold]") in flat(out)
    assert "warning: vadkit plugin 'markup' was not loaded" in err
    assert "[/x] broke [bold] at [height, width]" in err  # the warning line, unwrapped


# -- control characters in names ------------------------------------------------------------------
#: Every option that takes a name, by command: (command, option, arguments before the option).
NAME_OPTIONS = [
    ("score", "--name", ["RUN"]),
    ("evaluate", "--scores", ["RUN"]),
    ("search", "--scores", ["RUN"]),
    ("report", "--scores", ["RUN"]),
    ("evaluate", "--error", ["RUN"]),
    ("search", "--normalizer", ["RUN"]),
    ("watch", "--normalizer", ["RUN", "clip.mp4"]),
    ("watch", "--error", ["RUN", "clip.mp4"]),
    ("maps", "--error", ["RUN", "01"]),
    ("train", "--recipe", []),
    ("train", "--tasks", []),
    ("train", "--error", []),
    ("train", "--normalizer", []),
    ("train", "--backbone", []),
]
CONTROL_VALUES = {
    "newline": ("clips\n", "'\\n'"),
    "escape": ("te\x1b[31mst", "'\\x1b'"),
    "tab": ("a\tb", "'\\t'"),
    "bidi-override": ("abc\u202edcba", "'\\u202e'"),
}


@pytest.mark.parametrize("value", list(CONTROL_VALUES))
@pytest.mark.parametrize(
    ("command", "option", "before"), NAME_OPTIONS, ids=[f"{c}{o}" for c, o, _ in NAME_OPTIONS]
)
def test_a_name_with_a_control_character_is_refused_in_one_line(
    command: str,
    option: str,
    before: list[str],
    value: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    text, shown = CONTROL_VALUES[value]
    run_dir = tmp_path / "run"
    args = [str(run_dir) if a == "RUN" else a for a in before]
    out = ["--out", str(run_dir)] if command == "train" else []
    code, _, err = run(capsys, command, *args, option, text, *out)
    assert code == 2
    assert flat(f"{option} {text!r} contains a control character ({shown})") in flat(err)
    assert text not in err and "Traceback" not in err
    assert not run_dir.exists()  # refused before anything is written


def test_a_score_set_name_ending_in_a_newline_is_no_plain_folder_name() -> None:
    from vadkit.errors import ConfigError
    from vadkit.scoring.scoreset import check_set_name

    assert check_set_name("clips-2") == "clips-2"
    with pytest.raises(ConfigError, match="not a plain folder name"):
        check_set_name("clips\n")


# -- warnings -------------------------------------------------------------------------------------
def test_cli_warning_is_one_plain_line_and_library_keeps_pythons(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "chatty.py"
    path.write_text(
        textwrap.dedent(
            """
            import warnings
            import vadkit

            @vadkit.hookimpl
            def register_errors(register):
                warnings.warn("first line [bold]\\n  second [/x] line")
                register("chatty_err", lambda: None)
            """
        )
    )
    before = warnings.showwarning
    code, out, err = run(capsys, "--plugin", str(path), "list", "errors")
    assert code == 0 and "chatty_err" in out
    lines = [line for line in err.splitlines() if line.strip()]
    assert lines == ["warning: first line [bold] second [/x] line"]  # no source line
    assert warnings.showwarning is before  # only the command line shows warnings its way


def test_a_real_process_prints_a_warning_without_source_lines(tmp_path: Path) -> None:
    bad = tmp_path / "broken.py"
    bad.write_text("raise RuntimeError('boom at import')\n")
    proc = subprocess.run(
        [sys.executable, "-m", "vadkit", "--plugin", str(bad), "list", "errors", "--json"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0 and '"bpe"' in proc.stdout
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("warning: vadkit plugin 'broken' was not loaded")
    assert "boom at import" in lines[0] and "--block broken" in lines[0]


# -- operating-system failures --------------------------------------------------------------------
def test_a_file_in_the_out_path_is_one_message_naming_it(
    tiny_scene: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    blocker = tmp_path / "[bold]"
    blocker.write_text("a file, not a folder")
    code, err = train(capsys, tiny_scene, blocker / "run")
    assert code == 2
    assert flat(f"'{blocker}' is a file, not a folder") in flat(err)
    assert "Traceback" not in err
    assert blocker.read_text() == "a file, not a folder"


@pytest.mark.parametrize(
    ("code", "words"),
    [
        (errno.EACCES, "Permission denied"),
        (errno.EROFS, "read-only file system"),
    ],
    ids=["EACCES", "EROFS"],
)
def test_an_unwritable_out_folder_is_one_message_naming_it(
    code: int,
    words: str,
    tiny_scene: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # root ignores permission bits, so the refusal is simulated where folders are made
    locked = tmp_path / "locked"
    real_mkdir = os.mkdir

    def refuse(path: str | os.PathLike[str], *args: object, **kwargs: object) -> None:
        if str(path).startswith(str(locked)):
            raise OSError(code, os.strerror(code), str(path))
        real_mkdir(path, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(os, "mkdir", refuse)
    rc, err = train(capsys, tiny_scene, locked / "run")
    assert rc == 2
    assert words in err and flat(str(locked)) in flat(err)
    assert "Traceback" not in err


def test_a_full_disk_is_one_message_naming_the_file_and_leaves_no_temp_file(
    tiny_scene: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    def full(fd: int) -> None:  # what write()/fsync() raise: no file name
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "fsync", full)
    out = tmp_path / "run"
    code, err = train(capsys, tiny_scene, out)
    assert code == 2
    assert "No space left on the device to write" in " ".join(err.split())
    assert flat(str(out)) in flat(err)
    assert "Traceback" not in err
    assert [p.name for p in out.rglob("*.tmp")] == []


def test_atomic_write_on_a_full_disk_keeps_the_old_file_and_names_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from vadkit.storage.io import write_text

    target = tmp_path / "config.toml"
    target.write_text("old = 1\n")
    monkeypatch.setattr(
        os, "fsync", lambda fd: (_ for _ in ()).throw(OSError(errno.ENOSPC, "full"))
    )
    with pytest.raises(OSError) as info:
        write_text(target, "new = 2\n")
    assert info.value.errno == errno.ENOSPC and info.value.filename == str(target)
    assert target.read_text() == "old = 1\n"
    assert list(tmp_path.iterdir()) == [target]


def test_a_real_process_with_a_file_in_the_path_exits_2_without_traceback(tmp_path: Path) -> None:
    blocker = tmp_path / "blocker"
    blocker.write_text("")
    proc = subprocess.run(
        [sys.executable, "-m", "vadkit", "data", "synth", str(blocker / "scene")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 2
    assert flat(f"'{blocker}' is a file, not a folder") in flat(proc.stderr)
    assert "Traceback" not in proc.stderr


@pytest.mark.parametrize(
    ("code", "words"),
    [
        (errno.EACCES, "Permission denied: '/p/q'."),
        (errno.EPERM, "Operation not permitted on '/p/q'."),
        (errno.EROFS, "Cannot write '/p/q': it is on a read-only file system."),
        (errno.ENOSPC, "No space left on the device to write '/p/q'."),
        (errno.EDQUOT, "Disk quota exceeded while writing '/p/q'."),
        (errno.ENOENT, "'/p/q' does not exist."),
        (errno.EISDIR, "'/p/q' is a folder where a file was expected."),
        (errno.EIO, "Cannot use '/p/q': Input/output error."),
    ],
    ids=["EACCES", "EPERM", "EROFS", "ENOSPC", "EDQUOT", "ENOENT", "EISDIR", "EIO"],
)
def test_os_errors_map_to_one_line_naming_the_path(code: int, words: str) -> None:
    error = StorageError.from_os_error(OSError(code, os.strerror(code), "/p/q"))
    assert error.message == words
    assert error.exit_code == 2
    assert "\n" not in error.message


def test_an_os_error_naming_no_file_still_reads_as_one_line() -> None:
    error = StorageError.from_os_error(OSError(errno.ENOSPC, "No space left on device"))
    assert error.message.startswith("No space left on device")
    assert error.hint and "Free some space" in error.hint


# -- checkpoints ----------------------------------------------------------------------------------
class _Payload:
    def __reduce__(self) -> tuple[object, tuple[str]]:
        return (print, ("never",))


@pytest.mark.parametrize("kind", ["code", "junk"])
def test_a_rejected_pickle_never_advises_weights_only_false(kind: str, tmp_path: Path) -> None:
    from vadkit.runs.checkpoints import read_state

    path = tmp_path / "last.state.pt"
    if kind == "code":
        torch.save({"format": 1, "progress": _Payload()}, path)
    else:
        path.write_bytes(b"garbage" * 10)
    with pytest.raises(CheckpointError) as info:
        read_state(path)
    text = str(info.value)
    assert "weights_only" not in text and "trust" not in text
    assert "not a vadkit checkpoint" in text and "tampered" in text
