"""A broken plugin is contained: one warning naming it and --block, every command keeps working;
``--strict-plugins`` / ``VADKIT_STRICT_PLUGINS`` make any plugin problem an error (exit 2)."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest
import typer

import vadkit
from vadkit import plugins
from vadkit.cli import main
from vadkit.errors import PluginError


@pytest.fixture(autouse=True)
def fresh_plugins() -> Iterator[None]:
    plugins.reset()
    yield
    plugins.reset()


def write_plugin(folder: Path, name: str, body: str) -> Path:
    path = folder / f"{name}.py"
    path.write_text("import vadkit\n" + textwrap.dedent(body))
    return path


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    try:
        main(list(args))
        code = 0
    except SystemExit as exc:
        code = 0 if exc.code is None else int(exc.code)
    out = capsys.readouterr()
    return code, out.out, out.err


def warning_lines(err: str) -> list[str]:
    return [line for line in err.splitlines() if line.startswith("warning:")]


MISSPELT = """
@vadkit.hookimpl
def register_error(register):
    register("typo_err", lambda: None)
"""

INVALID = '''
class Good:
    """A valid one."""

@vadkit.hookimpl
def register_errors(register):
    register("my-err", Good)
    register("good_err", Good)
'''


def test_import_error_of_a_plugin_file_warns_once_and_commands_work(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "broken.py"
    bad.write_text("import no_such_module_for_vadkit_tests\n")
    code, out, err = run(capsys, "--plugin", str(bad), "list", "errors", "--json")
    assert code == 0
    assert {"bpe", "mse"} <= {row["name"] for row in json.loads(out)}
    (line,) = warning_lines(err)
    assert "'broken' was not loaded" in line and "no_such_module_for_vadkit_tests" in line
    assert "--block broken" in line


def test_a_blocked_plugin_file_is_never_imported(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    marker = tmp_path / "imported"
    bad = tmp_path / "noisy.py"
    bad.write_text(f"open({str(marker)!r}, 'w').close()\nraise RuntimeError('boom')\n")
    code, out, err = run(capsys, "--plugin", str(bad), "--block", "noisy", "plugins", "--json")
    assert code == 0 and not marker.exists() and warning_lines(err) == []
    assert {r["name"]: r["status"] for r in json.loads(out)}["noisy"] == "blocked"


def test_misspelt_hook_from_the_environment_is_listed_as_failed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv(plugins.ENV_PLUGINS, str(write_plugin(tmp_path, "typo", MISSPELT)))
    code, out, err = run(capsys, "plugins", "--json")
    assert code == 0
    rows = {r["name"]: r for r in json.loads(out)}
    assert rows["typo"]["status"] == "failed" and "register_error" in rows["typo"]["error"]
    assert rows["luss"]["status"] == "loaded" and "bpe" in rows["luss"]["components"]["errors"]
    (line,) = warning_lines(err)
    assert "'typo' was not loaded" in line and "--block typo" in line
    code, out, _ = run(capsys, "list", "errors")
    assert code == 0 and "bpe" in out and "typo_err" not in out


def test_invalid_name_drops_that_registration_only(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write_plugin(tmp_path, "dashes", INVALID)
    code, out, err = run(capsys, "--plugin", str(path), "list", "errors", "--json")
    assert code == 0
    names = {row["name"] for row in json.loads(out)}
    assert "good_err" in names and "bpe" in names and "my-err" not in names
    (line,) = warning_lines(err)
    assert "'my-err'" in line and "not a valid name" in line and "--block dashes" in line
    code, out, _ = run(capsys, "--plugin", str(path), "plugins", "--json")
    row = {r["name"]: r for r in json.loads(out)}["dashes"]
    assert row["status"] == "failed" and "my-err" in row["error"]
    assert row["components"] == {"errors": ["good_err"]}


def test_duplicate_name_the_plugin_loaded_first_keeps_it(tmp_path: Path) -> None:
    body = """
    @vadkit.hookimpl
    def register_normalizers(register):
        register("shared_norm", lambda: None)
    """
    first = write_plugin(tmp_path, "first", body)
    second = write_plugin(tmp_path, "second", body)
    for order, keeper, loser in (
        ([first, second], "first", "second"),
        ([second, first], "second", "first"),
    ):
        plugins.configure(plugins=[str(p) for p in order])
        with pytest.warns(plugins.PluginLoadWarning) as caught:
            assert "shared_norm" in vadkit.list_normalizers()
        assert len(caught) == 1
        text = str(caught[0].message)
        assert f"'{keeper}'" in text and f"'{loser}'" in text and f"--block {loser}" in text
        assert vadkit.get_entry("normalizers", "shared_norm").plugin == keeper


def _fake_distribution(site: Path, module: str, body: str) -> None:
    site.mkdir()
    (site / f"{module}.py").write_text("import vadkit\n" + textwrap.dedent(body))
    dist = site / f"{module}-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {module}\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text(f"[vadkit]\n{module} = {module}\n")


def test_built_in_names_win_whatever_the_load_order(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    body = """
    @vadkit.hookimpl
    def register_errors(register):
        register("mse", lambda: None)
        register("usurper_err", lambda: None)
    """
    _fake_distribution(tmp_path / "site", "usurper", body)
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    host = plugins.get_host()
    order = list(host.plugins)
    assert order.index("usurper") < order.index("luss")  # loaded before the built-in
    with pytest.warns(plugins.PluginLoadWarning, match=r"built-in error 'mse'.*--block usurper"):
        names = vadkit.list_errors()
    assert vadkit.get_entry("errors", "mse").plugin == "luss"
    assert "usurper_err" in names
    assert host.plugins["usurper"].status == "failed"


@pytest.mark.parametrize("how", ["flag", "env"])
@pytest.mark.parametrize(
    "body",
    [MISSPELT, INVALID, "raise RuntimeError('boom')\n"],
    ids=["misspelt-hook", "invalid-name", "import-error"],
)
def test_strict_plugins_makes_any_problem_an_error(
    how: str,
    body: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    path = write_plugin(tmp_path, "shaky", body)
    args = ["--plugin", str(path), "list", "backbones"]  # not even the kind at fault
    if how == "flag":
        args.insert(0, "--strict-plugins")
    else:
        monkeypatch.setenv(plugins.ENV_STRICT, "1")
    code, _, err = run(capsys, *args)
    assert code == 2
    flat = " ".join(re.sub(r"[│╭╮╰╯─]", " ", err).split())  # the panel's borders and wrapping
    assert "vadkit plugin 'shaky'" in flat and "--block shaky" in flat
    assert "Traceback" not in err


def test_a_register_commands_hook_that_raises_is_contained(tmp_path: Path) -> None:
    good = write_plugin(
        tmp_path,
        "good_cmds",
        """
        @vadkit.hookimpl
        def register_commands(app):
            @app.command("hello")
            def hello():
                pass
        """,
    )
    bad = write_plugin(
        tmp_path,
        "bad_cmds",
        """
        @vadkit.hookimpl
        def register_commands(app):
            raise RuntimeError("no commands today")
        """,
    )
    app = typer.Typer()
    host = plugins.configure(plugins=[str(bad), str(good)])
    with pytest.warns(plugins.PluginLoadWarning, match=r"bad_cmds.*no commands today"):
        host.register_commands(app)
    assert [c.name for c in app.registered_commands] == ["hello"]
    assert host.plugins["bad_cmds"].status == "failed"
    strict = plugins.configure(plugins=[str(bad), str(good)], strict=True)
    with pytest.raises(PluginError, match="bad_cmds"):
        strict.register_commands(typer.Typer())


# -- sys.exit, KeyboardInterrupt and other BaseExceptions of a plugin's own code ------------------
BASE_EXCEPTIONS = {
    "sys-exit": ("import sys\nsys.exit(3)\n", "raised SystemExit(3) (sys.exit)"),
    "keyboard-interrupt": ("raise KeyboardInterrupt('mine')\n", "raised KeyboardInterrupt: mine"),
    "base-exception": (
        "class Farewell(BaseException):\n    pass\nraise Farewell('bye')\n",
        "raised Farewell: bye",
    ),
}


@pytest.mark.parametrize("case", list(BASE_EXCEPTIONS))
def test_a_plugin_that_exits_or_interrupts_at_import_is_contained(
    case: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    body, raised = BASE_EXCEPTIONS[case]
    path = tmp_path / "leaver.py"
    path.write_text(body)
    code, out, err = run(capsys, "--plugin", str(path), "list", "errors", "--json")
    assert code == 0  # not vadkit's exit code 3, nor Ctrl-C's 130
    assert {"bpe", "mse"} <= {row["name"] for row in json.loads(out)}
    (line,) = warning_lines(err)
    assert "'leaver' was not loaded" in line and raised in line and "--block leaver" in line
    code, out, _ = run(capsys, "--plugin", str(path), "plugins", "--json")
    row = {r["name"]: r for r in json.loads(out)}["leaver"]
    assert code == 0 and row["status"] == "failed" and raised in row["error"]
    code, _, err = run(capsys, "--strict-plugins", "--plugin", str(path), "list", "errors")
    assert code == 2 and "vadkit plugin 'leaver'" in err and "Traceback" not in err


def test_an_installed_plugin_or_a_hook_that_calls_sys_exit_is_contained(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _fake_distribution(tmp_path / "site", "quitter", "import sys\nsys.exit('bye')\n")
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    hooks = write_plugin(
        tmp_path,
        "hooky",
        """
        import sys

        @vadkit.hookimpl
        def register_errors(register):
            sys.exit(5)

        @vadkit.hookimpl
        def register_commands(app):
            raise KeyboardInterrupt
        """,
    )
    code, out, err = run(capsys, "--plugin", str(hooks), "list", "errors", "--json")
    assert code == 0 and "bpe" in {row["name"] for row in json.loads(out)}
    text = " ".join(warning_lines(err))
    assert "'quitter' was not loaded: importing it raised SystemExit('bye')" in text
    assert "its hook register_errors raised SystemExit(5)" in text and "--block hooky" in text
    with pytest.warns(plugins.PluginLoadWarning) as caught:  # the CLI adds commands once
        plugins.configure(plugins=[str(hooks)]).register_commands(typer.Typer())
    assert any("register_commands raised KeyboardInterrupt" in str(w.message) for w in caught)


def _signal_plugin(folder: Path, swallow: bool) -> Path:
    """A plugin that presses Ctrl-C on its own process while it is imported (a user's Ctrl-C
    arriving then), and catches the KeyboardInterrupt when ``swallow``."""
    kill = "os.kill(os.getpid(), signal.SIGINT)\ntime.sleep(5)\n"
    body = textwrap.indent(kill, "    ") if swallow else kill
    if swallow:
        body = f"try:\n{body}except KeyboardInterrupt:\n    pass\n"
    path = folder / "slowpoke.py"
    path.write_text("import os, signal, time\n" + body)
    return path


@pytest.mark.parametrize("swallow", [False, True], ids=["raised", "swallowed-by-the-plugin"])
def test_a_real_ctrl_c_while_plugins_load_still_stops_vadkit(swallow: bool, tmp_path: Path) -> None:
    path = _signal_plugin(tmp_path, swallow)
    code = "import sys; from vadkit.cli import main; sys.argv[0] = 'vadkit'; main()"
    done = subprocess.run(
        [sys.executable, "-c", code, "--plugin", str(path), "list", "errors"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 130, done.stderr
    assert "Interrupted." in done.stderr and "Traceback" not in done.stderr
    assert "slowpoke" not in done.stderr  # stopped, not reported as a broken plugin


def test_plugin_loading_leaves_the_sigint_handler_as_it_found_it(tmp_path: Path) -> None:
    before = signal.getsignal(signal.SIGINT)
    path = tmp_path / "leaver.py"
    path.write_text("raise KeyboardInterrupt\n")
    try:
        with pytest.warns(plugins.PluginLoadWarning, match="leaver"):
            plugins.configure(plugins=[str(path)])
    except KeyboardInterrupt:  # would end the whole pytest session
        pytest.fail("the plugin's own KeyboardInterrupt escaped plugin loading")
    assert signal.getsignal(signal.SIGINT) is before


# -- --strict-plugins and a measure that raises ---------------------------------------------------
RAISING_MEASURE = '''
class Raising(vadkit.ErrorMeasure):
    """Fails on every pair of frames."""

    def forward(self, pred, real):
        raise RuntimeError("no measure today")

@vadkit.hookimpl
def register_errors(register):
    register("raising_err", Raising)
'''


def test_strict_plugins_make_a_measure_that_raises_an_error_naming_it_and_its_plugin(
    tmp_path: Path,
) -> None:
    from vadkit.inference.scorer import applicable_errors

    path = write_plugin(tmp_path, "shaky_measures", RAISING_MEASURE)
    plugins.configure(plugins=[str(path)])
    with pytest.warns(plugins.PluginLoadWarning) as caught:
        kept = applicable_errors(None, (1, 32, 32))
    assert "raising_err" not in kept and {"bpe", "mse"} <= set(kept)
    (text,) = (str(w.message) for w in caught)
    assert "error measure 'raising_err' (plugin 'shaky_measures') left out" in text
    assert "no measure today" in text
    plugins.configure(plugins=[str(path)], strict=True)
    with pytest.raises(PluginError) as info:
        applicable_errors(None, (1, 32, 32))
    error = info.value
    assert error.exit_code == 2
    assert "'raising_err' (plugin 'shaky_measures')" in error.message
    assert "no measure today" in error.message and "--block shaky_measures" in str(error.hint)


# -- --block of a name that is no plugin ----------------------------------------------------------
@pytest.mark.parametrize("how", ["flag", "env"])
def test_blocking_a_name_that_is_no_plugin_warns_naming_it_and_the_plugins(
    how: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["plugins", "--json"]
    if how == "flag":
        args = ["--block", "lus", *args]
    else:
        monkeypatch.setenv(plugins.ENV_BLOCK, "lus")
    code, out, err = run(capsys, *args)
    assert code == 0
    assert {r["name"]: r["status"] for r in json.loads(out)}["luss"] == "loaded"
    (line,) = warning_lines(err)
    assert "--block 'lus'" in line and "names no plugin" in line
    assert "Did you mean 'luss'?" in line and "formats, luss" in line
    monkeypatch.delenv(plugins.ENV_BLOCK, raising=False)
    code, _, err = run(capsys, "--block", "formats", "plugins")  # a real one: no warning
    assert code == 0 and warning_lines(err) == []
