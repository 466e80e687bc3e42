"""The documentation cannot drift from the code.

Conventions (see ``docs_src/README.md``):

* Every Python block on a page is a snippet include (``--8<-- "examples/python/x.py:section"``):
  the scripts under ``examples/python/`` run here, what each ``print`` prints must be what its
  ``# expected`` comment says (on its line, or the comment lines right below it), and a page's
  blocks, read in order, define every name they use.
* Every shell session that can run is a script under ``docs_src/shell/`` (included into pages);
  each runs here, in a scratch folder, with a ``vadkit`` on ``PATH`` that appends tiny settings
  to ``vadkit train`` so that the tutorials' trainings take seconds.
* Every ``vadkit ...`` line in any shell block of any page is parsed by the real command line:
  an unknown command, option or config key fails; read-only commands (``list``, ``describe``,
  ``plugins``) are run.
* Every hook and every built-in component has a page, and the site builds with ``--strict``.
"""

from __future__ import annotations

import ast
import contextlib
import io
import json
import os
import re
import shlex
import shutil
import site
import subprocess
import sys
import textwrap
import types
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
EXAMPLES = ROOT / "examples" / "python"
SHELL = ROOT / "docs_src" / "shell"
CONFIGS = ROOT / "examples" / "configs"
PLUGIN = ROOT / "examples" / "vadkit-example-plugin"
SHARED = ROOT.parent / "shared" / "datasets"
PAGES = sorted(p for p in DOCS.rglob("*.md") if "dev" not in p.relative_to(DOCS).parts)

#: Appended to every `vadkit train` run by the tests' shim: the smallest run that exercises
#: training, scoring and evaluation end to end (a 32x32 scene, a few windows, one epoch).
TINY_TRAIN = [
    "--set", "data.size=[32,32]",
    "--set", "data.stride=8",
    "--set", "train.batch_size=8",
    "--set", "train.log_steps=1",
    "--epochs", "1",
]  # fmt: skip
#: Backbone widths the shim adds when the run uses cae3d (the default backbone): not when the
#: command names a backbone or a recipe (a recipe names its backbone and sizes it).
TINY_CAE3D = ["--set", "model.params.channels=[4,4,8,8]"]


# -- helpers --------------------------------------------------------------------------------------
FENCE = re.compile(r"^(?P<indent>[ \t]*)(?P<fence>```+|~~~+)\s*(?P<info>[^\n]*)$")


def fences(text: str) -> Iterator[tuple[str, str]]:
    """``(language, body)`` of every fenced block of a Markdown page."""
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        m = FENCE.match(lines[i])
        if not m:
            i += 1
            continue
        info = m.group("info").strip()
        lang = info.split()[0].strip("{}.") if info else ""
        body: list[str] = []
        i += 1
        while i < len(lines) and not lines[i].strip().startswith(m.group("fence")):
            body.append(lines[i])
            i += 1
        yield lang, textwrap.dedent("\n".join(body))
        i += 1


SNIPPET = re.compile(r'^--8<--\s+"(?P<path>[^":]+)(?::(?P<section>[\w-]+))?"\s*$')


def snippet_text(path: str, section: str | None) -> str:
    """The text pymdownx.snippets includes for ``path[:section]`` (markers stripped)."""
    lines = (ROOT / path).read_text().splitlines()
    marker = re.compile(r"--8<-- \[(start|end):([\w-]+)\]")
    if section is None:
        return "\n".join(line for line in lines if not marker.search(line))
    out: list[str] = []
    inside = False
    for line in lines:
        m = marker.search(line)
        if m and m.group(2) == section:
            inside = m.group(1) == "start"
            continue
        if inside and not marker.search(line):
            out.append(line)
    assert out, f"{path} has no section '{section}'"
    return textwrap.dedent("\n".join(out))


def expand(body: str) -> str:
    """A fenced block's text with its snippet includes replaced by the included text."""
    out = []
    for line in body.splitlines():
        m = SNIPPET.match(line.strip())
        out.append(snippet_text(m.group("path"), m.group("section")) if m else line)
    return "\n".join(out)


def needs(path: Path) -> list[str]:
    """What a script or config needs to run (``# needs: ped2 example-plugin``)."""
    m = re.search(r"^# needs: (.+)$", path.read_text(), re.MULTILINE)
    return m.group(1).split() if m else []


def block_needs(body: str) -> list[str]:
    """What the files a block includes need."""
    found: list[str] = []
    for line in body.splitlines():
        m = SNIPPET.match(line.strip())
        if m:
            found += needs(ROOT / m.group("path"))
    return found


def shell_lines(text: str) -> Iterator[str]:
    """Commands of a shell block: comments dropped, backslash continuations joined."""
    joined = text.replace("\\\n", " ")
    for line in joined.splitlines():
        line = line.strip()
        if line.startswith("$ "):
            line = line[2:]
        if line and not line.startswith("#"):
            yield line


def documented_commands() -> list[tuple[str, str, tuple[str, ...]]]:
    """``(where, command, needs)`` for every ``vadkit ...`` command in a shell block or script."""
    found = []
    for page in PAGES:
        for lang, body in fences(page.read_text()):
            if lang in ("bash", "sh", "console", "shell"):
                req = tuple(block_needs(body))
                for line in shell_lines(expand(body)):
                    found.extend((str(page.relative_to(ROOT)), c, req) for c in _vadkit_calls(line))
    for script in sorted(SHELL.glob("*.sh")):
        req = tuple(needs(script))
        for line in shell_lines(script.read_text()):
            found.extend((str(script.relative_to(ROOT)), c, req) for c in _vadkit_calls(line))
    return found


SHELL_KEYWORDS = {"do", "then", "else", "time", "!"}


def _vadkit_calls(line: str) -> list[str]:
    calls = []
    for part in re.split(r"\s*(?:&&|\|\||;|\|)\s*", line):
        words = shlex.split(part, comments=True)
        while words and (re.match(r"^[A-Z_]+=", words[0]) or words[0] in SHELL_KEYWORDS):
            words = words[1:]  # VAR=value vadkit ..., do vadkit ...
        redirect = next((i for i, w in enumerate(words) if re.match(r"^\d*(>|<|&>)", w)), None)
        words = words[:redirect]  # vadkit ... > file
        if words and words[0] == "vadkit":
            calls.append(shlex.join(words))
    return calls


# -- pages exist for every hook and every built-in component -------------------------------------
def hookspec_names() -> list[str]:
    from vadkit import hookspecs

    return sorted(
        name
        for name, obj in vars(hookspecs).items()
        if callable(obj) and hasattr(obj, f"{hookspecs.PROJECT}_spec")
    )


def test_hookspecs_are_found():
    assert {"register_backbones", "register_errors", "register_commands"} <= set(hookspec_names())


@pytest.mark.parametrize("hook", hookspec_names())
def test_every_hook_has_a_section(hook):
    page = (DOCS / "reference" / "hooks.md").read_text()
    assert f"::: vadkit.hookspecs.{hook}" in page, f"reference/hooks.md has no section for {hook}"


def builtin_components() -> list[tuple[str, str, str]]:
    """``(kind, name, target)`` of every component registered by the vadkit distribution."""
    from vadkit.plugins import KINDS, PluginHost

    host = PluginHost(autoload=False)  # only the entry points of the vadkit distribution
    host.fill_all()
    return [
        (kind, entry.name, entry.target_path)
        for kind in KINDS
        for entry in host.registry(kind).entries()
    ]


def nav_pages() -> set[str]:
    text = (ROOT / "mkdocs.yml").read_text()
    return set(re.findall(r"^\s*-\s*(?:[^:\n]+:\s*)?([\w/.-]+\.md)\s*$", text, re.MULTILINE))


def test_builtin_components_are_found():
    found = {(k, n) for k, n, _ in builtin_components()}
    assert {("errors", "bpe"), ("tasks", "prp"), ("datasets", "frames")} <= found


@pytest.mark.parametrize(("kind", "name", "target"), builtin_components())
def test_every_builtin_component_has_a_page(kind, name, target):
    rel = f"reference/components/{kind}/{name}.md"
    page = DOCS / rel
    assert page.is_file(), f"the built-in {kind[:-1]} '{name}' has no page docs/{rel}"
    assert f"::: {target.replace(':', '.')}" in page.read_text(), (
        f"docs/{rel} does not document the registered class {target} with mkdocstrings"
    )
    assert rel in nav_pages(), f"docs/{rel} is not in the nav of mkdocs.yml"


def test_no_page_for_a_component_that_does_not_exist():
    registered = {f"{k}/{n}" for k, n, _ in builtin_components()}
    pages = {
        str(p.relative_to(DOCS / "reference" / "components").with_suffix(""))
        for p in (DOCS / "reference" / "components").glob("*/*.md")
    }
    assert pages <= registered, f"pages of unregistered components: {sorted(pages - registered)}"


def test_every_page_is_in_the_nav():
    """Every page is in the nav, except benchmark results, which benchmarks.md lists itself."""
    nav = nav_pages()
    pages = [str(p.relative_to(DOCS)) for p in PAGES]
    missing = [p for p in pages if p not in nav and not p.startswith("benchmarks/")]
    assert not missing, f"pages missing from the nav of mkdocs.yml: {missing}"


def test_benchmarks_page_lists_every_result_page():
    mkdocs_hooks = docs_hooks()
    index = mkdocs_hooks.benchmarks_index()
    for page in sorted((DOCS / "benchmarks").glob("*.md")):
        assert f"(benchmarks/{page.name})" in index


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(DOCS)))
def test_no_placeholder_text(page):
    found = re.findall(r"\b(TODO|TBD|FIXME|XXX|lorem ipsum)\b", page.read_text(), re.IGNORECASE)
    assert not found, f"{page.relative_to(ROOT)} has placeholder text: {found}"


# -- hook docstring examples work -----------------------------------------------------------------
def docstring_example(hook: str) -> str:
    from vadkit import hookspecs

    doc = getattr(hookspecs, hook).__doc__ or ""
    m = re.search(r"Example::\n\n(?P<code>(?:[ \t]+.*\n?|\n)+)", doc)
    assert m, f"the docstring of {hook} has no 'Example::' block"
    return textwrap.dedent(m.group("code"))


@pytest.mark.parametrize("hook", [h for h in hookspec_names() if h.startswith("register_")])
def test_hook_docstring_example_registers(hook):
    from vadkit.plugins import PluginHost

    namespace: dict[str, object] = {}
    exec("import vadkit\n" + docstring_example(hook), namespace)
    plugin = types.SimpleNamespace(__name__="docs_example", **{hook: namespace[hook]})
    if hook == "register_commands":
        import typer
        from typer.testing import CliRunner

        app = typer.Typer()

        @app.command()
        def other() -> None:  # a second command, so that typer keeps subcommand names
            pass

        namespace[hook](app=app)  # type: ignore[operator]
        result = CliRunner().invoke(app, ["hello"])
        assert result.exit_code == 0 and "hello" in result.output
        return
    host = PluginHost(autoload=False, extra=[plugin])
    kind = hook.removeprefix("register_")
    entries = [e for e in host.registry(kind).entries() if e.plugin == "docs_example"]
    assert entries, f"the example of {hook} registers nothing"


# -- code blocks on pages are files ---------------------------------------------------------------
@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(DOCS)))
def test_python_and_toml_blocks_are_includes(page):
    for lang, body in fences(page.read_text()):
        if lang in ("python", "py", "toml"):
            lines = [line for line in body.splitlines() if line.strip()]
            assert lines and all(SNIPPET.match(line.strip()) for line in lines), (
                f"{page.relative_to(ROOT)}: a {lang} block must include a file that the tests "
                f'run or read (--8<-- "examples/..."), not inline code:\n{body}'
            )


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(DOCS)))
def test_python_blocks_define_what_they_use(page):
    """A page's Python blocks, read in order, define every name they use (a reader who copies
    them into one session gets working code)."""
    code = "\n".join(expand(body) for lang, body in fences(page.read_text()) if lang == "python")
    if not code:
        return
    out = subprocess.run(
        [sys.executable, "-m", "ruff", "check", "--isolated", "--select", "F821",
         "--stdin-filename", "page.py", "-"],
        input=code, capture_output=True, text=True,
    )  # fmt: skip
    assert out.returncode == 0, f"{page.relative_to(ROOT)}:\n{out.stdout}"


# -- the example scripts run and print what their comments say ------------------------------------
@pytest.fixture(scope="session")
def docs_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One frame cache (and synthetic scene) shared by every script these tests run."""
    return tmp_path_factory.mktemp("vadkit-cache")


def script_env(cache: Path, path: str | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("VADKIT_")}
    env.update(VADKIT_CACHE=str(cache), PYTHONUNBUFFERED="1", COLUMNS="100", NO_COLOR="1")
    env.update(MPLBACKEND="Agg", PYTHONWARNINGS="ignore::DeprecationWarning")
    if path is not None:
        env["PATH"] = path
    return env


#: Runs a script as ``python SCRIPT`` would, and logs ``[line, text]`` for each ``print`` that
#: the script itself makes to stdout (argv: script, log file).
PRINT_LOGGER = """
import builtins, json, os, runpy, sys
script, log = sys.argv[1], open(sys.argv[2], "w")
sys.argv, sys.path[0] = [script], os.path.dirname(os.path.abspath(script))
_print = builtins.print

def _logged(*args, sep=None, end=None, file=None, flush=False):
    _print(*args, sep=sep, end=end, file=file, flush=flush)
    caller = sys._getframe(1)
    if caller.f_code.co_filename == script and file in (None, sys.stdout):
        text = (" " if sep is None else sep).join(map(str, args))
        log.write(json.dumps([caller.f_lineno, text]) + "\\n")
        log.flush()

builtins.print = _logged
runpy.run_path(script, run_name="__main__")
"""


def expected_prints(source: str) -> dict[int, list[str]]:
    """The expected output of each one-line ``print(...)`` statement, by line number.

    It is the comment on the same line (``print(x)  # 42``) or, if that line has none, the
    comment lines right below it (``# 42``; a print in a loop may have one per pass), up to a
    line that is not a comment or is a snippet marker (``# --8<-- ...``).
    """
    lines = source.splitlines()
    expected = {}
    for node in ast.walk(ast.parse(source)):
        if (
            isinstance(node, ast.Expr)
            and isinstance(node.value, ast.Call)
            and getattr(node.value.func, "id", None) == "print"
            and node.lineno == node.end_lineno
        ):
            comment = lines[node.lineno - 1].partition("  # ")[2].strip()
            below = []
            for line in map(str.strip, lines[node.lineno :]):
                if not line.startswith("# ") or line.startswith("# --8<--"):
                    break
                below.append(line[2:].strip())
            if comment or below:
                expected[node.lineno] = [comment] if comment else below
    return expected


def check_output(
    printed: list[tuple[int, str]], expected: dict[int, list[str]], where: str
) -> None:
    """What each print with an expected comment printed is, in order, what its comments say; a
    single expected line must be what the print printed every time."""

    def norm(text: str) -> str:
        return " ".join(text.split())

    problems = []
    for line, want in sorted(expected.items()):
        got = [norm(text) for at, text in printed if at == line]
        wanted = [norm(w) for w in want]
        if len(wanted) == 1 and got:
            wanted *= len(got)
        if got != wanted:
            problems.append(f"line {line} printed {got}, its comments say {wanted}")
    assert not problems, f"{where}: " + "; ".join(problems)


@pytest.mark.parametrize("script", sorted(EXAMPLES.glob("*.py")), ids=lambda p: p.name)
def test_example_script_runs(script, docs_cache, tmp_path):
    log = tmp_path / "prints.jsonl"
    out = subprocess.run(
        [sys.executable, "-c", PRINT_LOGGER, str(script), str(log)],
        cwd=ROOT,
        env=script_env(docs_cache),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode == 0, f"{script.name} failed:\n{out.stdout}\n{out.stderr}"
    printed = [tuple(json.loads(row)) for row in log.read_text().splitlines()]
    check_output(printed, expected_prints(script.read_text()), script.name)


def test_expected_prints_are_read_from_the_line_or_the_lines_below():
    source = (
        "x = 1\n"
        "print(x)  # 1\n"
        "# not output: line 2 has its comment\n"
        'print("a  b")\n'
        "# a b\n"
        "print(x)\n"
        "# --8<-- [end:part]\n"
        "for i in range(2):\n"
        "    print(i)\n"
        "# 0\n"
        "# 1\n"
        "\n"
        "# not output: a blank line ends the block\n"
        "print(x)\n"
    )
    assert expected_prints(source) == {2: ["1"], 4: ["a b"], 9: ["0", "1"]}


def test_expected_prints_fail_on_any_mismatch():
    expected = {2: ["1"], 3: ["a b"], 5: ["0", "1"]}
    check_output([(2, "1"), (3, "a  b"), (5, "0"), (5, "1")], expected, "t")
    check_output([(2, "1"), (2, "1"), (3, "a b"), (5, "0"), (5, "1")], expected, "t")
    right_text_wrong_line = [(2, "1"), (3, "a c"), (4, "a b"), (5, "0"), (5, "1")]
    with pytest.raises(AssertionError, match=r"line 3 printed \['a c'\]"):
        check_output(right_text_wrong_line, expected, "t")
    with pytest.raises(AssertionError, match=r"line 3 printed \[\]"):
        check_output([(2, "1"), (5, "0"), (5, "1")], expected, "t")
    with pytest.raises(AssertionError, match=r"line 2 printed \['1', '2'\]"):
        check_output([(2, "1"), (2, "2"), (3, "a b"), (5, "0"), (5, "1")], expected, "t")
    with pytest.raises(AssertionError, match=r"line 5 printed \['0'\]"):
        check_output([(2, "1"), (3, "a b"), (5, "0")], expected, "t")
    with pytest.raises(AssertionError, match=r"line 5 printed \['1', '0'\]"):
        check_output([(2, "1"), (3, "a b"), (5, "1"), (5, "0")], expected, "t")


def test_print_logger_logs_each_print_with_its_line(tmp_path):
    script = tmp_path / "s.py"
    script.write_text('import sys\nprint("a", 1, sep="-")\nprint("to stderr", file=sys.stderr)\n'
                      'for i in range(2):\n    print(i)\n')  # fmt: skip
    log = tmp_path / "log"
    out = subprocess.run(
        [sys.executable, "-c", PRINT_LOGGER, str(script), str(log)],
        capture_output=True,
        text=True,
        check=True,
    )
    assert out.stdout == "a-1\n0\n1\n"
    rows = [json.loads(row) for row in log.read_text().splitlines()]
    assert rows == [[2, "a-1"], [5, "0"], [5, "1"]]


@pytest.fixture
def example_plugin(monkeypatch):
    """The example plugin loaded from its sources (it is not installed in this environment)."""
    import importlib

    import vadkit
    from vadkit import plugins

    monkeypatch.syspath_prepend(str(PLUGIN / "src"))
    module = importlib.import_module("vadkit_example")
    vadkit.configure(plugins=[module], autoload=False)
    yield module
    plugins.reset()


@pytest.mark.parametrize("config", sorted(CONFIGS.glob("*.toml")), ids=lambda p: p.name)
def test_example_config_resolves(config, request):
    from vadkit.config import resolve_config

    if "example-plugin" in needs(config):
        request.getfixturevalue("example_plugin")
    resolved = resolve_config(config_file=config)
    assert resolved["model"]["backbone"]


def test_small_config_has_the_demo_settings():
    """The quickstart says examples/configs/small.toml is what `vadkit demo` trains."""
    from vadkit.config import resolve_config
    from vadkit.demo import demo_config

    small = resolve_config(config_file=CONFIGS / "small.toml")
    demo = demo_config("")
    for table in ("data", "model", "tasks", "train", "score"):
        for key, theirs in demo[table].items():
            if f"{table}.{key}" in ("data.root", "train.device"):
                continue  # the demo names the scene's folder and the CPU
            mine = small[table][key]
            assert mine == theirs, f"small.toml {table}.{key} = {mine!r}, vadkit demo: {theirs!r}"


# -- every documented vadkit command parses; read-only ones run -----------------------------------
def root_command():
    """The ``vadkit`` command with every command group mounted (as the CLI reference shows it)."""
    return docs_module("cli_reference").load_app()


READ_ONLY = {"list", "describe", "plugins"}


@pytest.fixture(scope="module")
def cli():
    return root_command()


def _remaining(ctx) -> list[str]:
    """The arguments a group left for its subcommand (the command name first)."""
    protected = getattr(ctx, "_protected_args", None) or []
    return [*protected, *ctx.args]


def parse_command(cli, args: list[str]) -> tuple[list[str], dict[str, object]]:
    """Parse ``args`` like ``vadkit`` would (without running): the command path and its params."""
    if args in (["--version"], ["--help"]):
        return [], {}
    ctx = cli.make_context("vadkit", list(args))
    path: list[str] = []
    cmd, params = cli, dict(ctx.params)
    rest = _remaining(ctx)
    while hasattr(cmd, "list_commands") and rest:
        name, sub, rest = cmd.resolve_command(ctx, rest)
        assert sub is not None, f"unknown command {name!r}"
        path.append(name)
        ctx = sub.make_context(name, rest, parent=ctx)
        cmd, params = sub, dict(ctx.params)
        rest = _remaining(ctx)
    assert not rest, f"unexpected arguments {rest}"
    return path, params


def check_set_items(items: list[str]) -> None:
    from vadkit.config import DEFAULTS, OPEN_TABLES, parse_override

    for item in items:
        key, _ = parse_override(item)
        node: object = DEFAULTS
        parts = key.split(".")
        for i, part in enumerate(parts):
            prefix = ".".join(parts[: i + 1])
            if any(prefix.startswith(t + ".") or prefix == t for t in OPEN_TABLES):
                break
            assert isinstance(node, dict) and part in node, f"--set {item}: no config key {key}"
            node = node[part]


def test_command_checks_catch_drift(cli):
    assert parse_command(cli, ["describe", "errors", "bpe"])[0] == ["describe"]
    with pytest.raises(Exception, match="epoch"):
        parse_command(cli, ["train", "--epoch", "3"])
    with pytest.raises(Exception, match="No such command"):
        parse_command(cli, ["trian"])
    with pytest.raises(AssertionError, match="no config key"):
        check_set_items(["train.batchsize=3"])
    check_set_items(["model.params.channels=[4,4,8,8]", "tasks.params.ffp.head=paper"])


def test_documented_commands_are_found():
    commands = [c for _, c, _ in documented_commands()]
    assert any(c.startswith("vadkit describe") for c in commands)
    assert any(c.startswith("vadkit train") for c in commands)


@pytest.mark.parametrize(
    ("where", "command", "requires"),
    [pytest.param(*c, id=f"{c[0]}: {c[1]}") for c in documented_commands()],
)
def test_documented_command_parses(where, command, requires, cli, monkeypatch):
    args = shlex.split(command)[1:]
    try:
        path, params = parse_command(cli, args)
    except Exception as exc:  # click's usage errors
        pytest.fail(f"{where}: `{command}` does not parse: {exc}")
    check_set_items(list(params.get("set_") or []))
    config = params.get("config")
    if config is not None and str(config).startswith("examples/"):
        assert (ROOT / str(config)).is_file(), f"{where}: {config} does not exist"
    placeholder = any(re.fullmatch(r"[A-Z][A-Z_]+", a) for a in args)
    runnable = not placeholder and "--plugin" not in args and not requires
    if path and path[0] in READ_ONLY and runnable:
        from vadkit.cli.app import main

        monkeypatch.chdir(ROOT)
        buf = io.StringIO()
        with contextlib.redirect_stdout(buf), pytest.raises(SystemExit) as done:
            main([*args])
        assert done.value.code in (0, None), f"{where}: `{command}` failed:\n{buf.getvalue()}"


# -- runnable shell sessions ----------------------------------------------------------------------
def make_shim(folder: Path, real: list[str]) -> Path:
    """A ``vadkit`` executable that appends the tiny settings to ``vadkit train`` (and trains a
    resumed run for one more epoch only)."""
    folder.mkdir(parents=True, exist_ok=True)
    shim = folder / "vadkit"
    real_cmd = " ".join(shlex.quote(p) for p in real)
    shim.write_text(
        "#!/usr/bin/env bash\n"
        "# vadkit, with the tests' tiny settings appended to `train` (see tests/test_docs.py)\n"
        'for arg in "$@"; do\n'
        '  if [ "$arg" = train ]; then\n'
        f"    extra=({shlex.join(TINY_TRAIN)})\n"
        '    case " $* " in *" --backbone "*|*" --recipe "*) ;; *)'
        f" extra+=({shlex.join(TINY_CAE3D)}) ;; esac\n"
        '    case " $* " in *" --resume "*) extra=(--epochs 2) ;; esac\n'
        f'    exec {real_cmd} "$@" "${{extra[@]}}"\n'
        "  fi\n"
        "done\n"
        f'exec {real_cmd} "$@"\n'
    )
    shim.chmod(0o755)
    return shim


def workdir(tmp_path: Path) -> Path:
    """A scratch folder that looks like the repository root to the scripts."""
    work = tmp_path / "work"
    work.mkdir()
    for name in ("examples", "docs_src"):
        (work / name).symlink_to(ROOT / name)
    if SHARED.parent.is_dir():  # ../shared/datasets, as seen from the repository root
        (tmp_path / "shared").symlink_to(SHARED.parent)
    return work


def run_script(script: Path, work: Path, env: dict[str, str]) -> subprocess.CompletedProcess:
    out = subprocess.run(
        ["bash", "-euo", "pipefail", str(script)],
        cwd=work,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert out.returncode == 0, f"{script.name} failed:\n{out.stdout[-4000:]}\n{out.stderr[-4000:]}"
    return out


#: Scripts with a test of their own (they need what the generic run does not make).
OWN_TESTS = ("first_plugin.sh", "own_footage.sh")
SCRIPTS = [s for s in sorted(SHELL.glob("*.sh")) if s.name not in OWN_TESTS]


@pytest.mark.slow
@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: p.name)
def test_shell_script_runs(script, tmp_path, docs_cache):
    if "ped2" in needs(script) and not (SHARED / "ped2" / "testing" / "frames").is_dir():
        pytest.skip(f"UCSD Ped2 is not available at {SHARED / 'ped2'}")
    shim = make_shim(tmp_path / "bin", [sys.executable, "-m", "vadkit"])
    path = f"{shim.parent}{os.pathsep}{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"
    work = workdir(tmp_path)
    env = script_env(docs_cache, path)
    if "${DATA:-" in script.read_text():  # the dataset is a choice: the synthetic scene here
        from vadkit.data import default_data_root

        env["DATA"] = str(default_data_root(docs_cache))
    run_script(script, work, env)


@pytest.fixture(scope="module")
def fresh_env(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A new virtual environment that sees this one's packages (torch is not copied) but not the
    plugin, with a ``pip`` that installs into it (this environment's pip, run by its python)."""
    env = tmp_path_factory.mktemp("plugin-author") / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(env)], check=True)
    python = env / "bin" / "python"
    purelib = subprocess.check_output(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"], text=True
    ).strip()
    outer = [p for p in site.getsitepackages() if Path(p).is_dir()]
    lines = [f"import site; site.addsitedir({p!r})" for p in outer]
    (Path(purelib) / "_outer_env.pth").write_text("\n".join(lines) + "\n")
    pip = env / "bin" / "pip"
    pip.write_text(f'#!/bin/sh\nexec {shlex.quote(str(python))} -m pip "$@"\n')
    pip.chmod(0o755)
    return env


@pytest.mark.slow
def test_first_plugin_tutorial_from_the_docs(fresh_env, tmp_path, docs_cache):
    """The shell session of "Your first plugin", run as written, in a fresh environment."""
    work = workdir(tmp_path)
    (work / "examples").unlink()  # a private copy: pip writes build files next to the sources
    (work / "examples").mkdir()
    shutil.copytree(
        PLUGIN,
        work / "examples" / PLUGIN.name,
        ignore=shutil.ignore_patterns("build", "*.egg-info", "__pycache__"),
    )
    for name in ("configs", "python"):
        (work / "examples" / name).symlink_to(ROOT / "examples" / name)
    bindir = fresh_env / "bin"
    shim = make_shim(tmp_path / "shim", [str(bindir / "python"), "-m", "vadkit"])
    path = f"{bindir}{os.pathsep}{shim.parent}{os.pathsep}{os.environ['PATH']}"
    env = script_env(docs_cache, path)
    env.update(PIP_NO_INDEX="1", PIP_NO_BUILD_ISOLATION="0", PIP_DISABLE_PIP_VERSION_CHECK="1")
    out = run_script(SHELL / "first_plugin.sh", work, env)
    assert "mae" in out.stdout and "example" in out.stdout
    assert "arrow" in out.stdout  # the classifier task, trained by the plugin's recipe
    # the error measure's parameter set with --set is checked, and recorded with the run
    assert "[score.error_params.mae]\npower = 0.5" in out.stdout
    record = json.loads(
        (work / "runs" / "my-plugin" / "scores" / "testing" / "set.json").read_text()
    )
    assert record["errors"]["mae"]["params"] == {"power": 0.5}


def footage_from_scene(scene: Path, out: Path) -> dict[str, np.ndarray]:
    """The synthetic scene as "your own footage": each video an .mp4 file in ``out/train`` or
    ``out/test`` (encoded with PyAV), and its test labels as ``out/labels.csv`` (0-based,
    inclusive ranges); returns the labels per test video."""
    import av
    from PIL import Image

    for split, folder in (("training", "train"), ("testing", "test")):
        (out / folder).mkdir(parents=True)
        for video in sorted((scene / split / "frames").iterdir()):
            frames = [np.asarray(Image.open(f).convert("RGB")) for f in sorted(video.iterdir())]
            with av.open(str(out / folder / f"cam{video.name}.mp4"), "w") as container:
                stream = container.add_stream("mpeg4", rate=10)
                stream.height, stream.width = frames[0].shape[:2]
                stream.pix_fmt = "yuv420p"
                for image in frames:
                    container.mux(stream.encode(av.VideoFrame.from_ndarray(image, format="rgb24")))
                container.mux(stream.encode())
    meta = json.loads((scene / "scene.json").read_text())
    labels = np.load(scene / meta["labels"])
    per_video, rows, offset = {}, ["video,start,end"], 0
    for video in meta["test_videos"]:
        name, mask = f"cam{video['video']}", labels[offset : offset + video["frames"]]
        offset += video["frames"]
        per_video[name] = mask
        edges = np.flatnonzero(np.diff(np.concatenate([[0], mask, [0]])))
        rows += [f"{name},{a},{b - 1}" for a, b in zip(edges[::2], edges[1::2], strict=True)]
    (out / "labels.csv").write_text("\n".join(rows) + "\n")
    return per_video


@pytest.mark.slow
def test_own_footage_tutorial_trains_on_mp4_files(tmp_path, docs_cache, tiny_scene):
    """The shell session of "Train on your own footage", on a folder of .mp4 files made here."""
    work = workdir(tmp_path)
    labels = footage_from_scene(tiny_scene, work / "footage")
    shim = make_shim(tmp_path / "bin", [sys.executable, "-m", "vadkit"])
    path = f"{shim.parent}{os.pathsep}{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"
    env = script_env(docs_cache, path)
    env["FOOTAGE"] = "footage"
    out = run_script(SHELL / "own_footage.sh", work, env)
    text = " ".join(out.stdout.split())
    assert "layout video-folder, because train/ holds 2 video files and 0 frame folders" in text
    assert "test/cam01.mp4" in text and "video file" in text
    run = work / "runs" / "footage"
    (scores,) = [p for p in (run / "scores").iterdir() if (p / "set.json").is_file()]
    where = json.loads((scores / "set.json").read_text())["ground_truth_at"]
    assert where["format"] == "video-folder"
    assert [name for name, _ in where["videos"]] == sorted(labels)
    assert [count for _, count in where["videos"]] == [len(labels[n]) for n in sorted(labels)]
    (evaluation,) = run.rglob("evaluation.json")
    result = json.loads(evaluation.read_text())
    assert result["protocol"]["ground_truth"] == str((work / "footage" / "labels.csv").resolve())
    for video in result["per_video"]:  # the CSV's 0-based ranges are the scene's own labels
        scored = labels[video["name"]][-video["frames_scored"] :]
        assert video["anomalous_frames"] == int(scored.sum()) > 0
    assert "AUROC" in out.stdout


# -- pages generated at build time, and the build itself ------------------------------------------
def docs_module(name: str) -> types.ModuleType:
    """``docs_src/NAME.py``, imported as ``docs_src.NAME`` with the repository root on the path
    (the generators of ``docs/reference/generated/`` import each other that way)."""
    import importlib

    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    return importlib.import_module(f"docs_src.{name}")


def docs_hooks() -> types.ModuleType:
    """``docs_src/mkdocs_hooks.py``, the generators of the site's generated pages."""
    import importlib.util

    spec = importlib.util.spec_from_file_location(
        "mkdocs_hooks", ROOT / "docs_src" / "mkdocs_hooks.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_benchmark_summary_quotes_a_result_page():
    mkdocs_hooks = docs_hooks()
    pages = sorted((DOCS / "benchmarks").glob("*.md"))
    if not pages:
        pytest.skip("no benchmark result page yet")
    name = pages[0].stem
    quote = mkdocs_hooks.benchmark_summary("tutorials/x.md", name, "Numbers")
    assert quote.startswith("## Numbers\n") and "\n|" in quote
    assert f"(../benchmarks/{name}.md)" in quote
    assert mkdocs_hooks.benchmark_summary("tutorials/x.md", "no-such-page", "Numbers") == ""
    with pytest.raises(ValueError, match="does not exist"):
        mkdocs_hooks.benchmark_summary("tutorials/x.md", "no-such-page")


def test_links_to_repository_files_become_text():
    mkdocs_hooks = docs_hooks()
    text = (
        "[`s`](../../benchmarks/bench_train_speed.py) [m](../../missing.py) [p](other.md#a) "
        "[w](https://example.org/x.py) ![i](../../Makefile)"
    )
    out = mkdocs_hooks.repository_links(text, "benchmarks/x.md")
    assert out.startswith("`s` [m](../../missing.py) [p](other.md#a) [w](https://example.org")
    assert out.endswith("![i](../../Makefile)")


def test_config_page_error_message_is_real():
    from vadkit.config import resolve_config
    from vadkit.errors import ConfigError

    page = (DOCS / "reference" / "config.md").read_text()
    with pytest.raises(ConfigError) as err:
        resolve_config(overrides=["train.batchsize=8"])
    assert err.value.message in page
    assert err.value.hint is not None and err.value.hint.split(" Keys")[0] in page


@pytest.fixture(scope="module")
def built_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The site, built once with ``mkdocs build --strict`` into a scratch folder."""
    pytest.importorskip("mkdocs")
    site_dir = tmp_path_factory.mktemp("site") / "site"
    out = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(site_dir)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
        timeout=600,
    )
    assert out.returncode == 0, out.stderr[-6000:]
    return site_dir


def test_mkdocs_build_strict(built_site: Path) -> None:
    assert (built_site / "reference" / "hooks" / "index.html").is_file()


# -- the built site in a browser: no network, no console error, formulas rendered ----------------
#: Pages with formulas (inline and display); the home page and the report page are visited too.
FORMULA_PAGES = [
    "reference/protocol/",
    "reference/components/errors/bpe/",
    "reference/components/errors/psnr/",
    "reference/components/normalizers/robust/",
    "reference/streaming/",
]


@pytest.fixture(scope="module")
def site_url(built_site: Path) -> Iterator[str]:
    """The built site served on 127.0.0.1 (as ``mkdocs serve`` would; its search needs http)."""
    import functools
    import http.server
    import threading

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

    handler = functools.partial(Quiet, directory=str(built_site))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    from browser import launch_chromium

    yield from launch_chromium()


def test_site_pages_in_a_browser(site_url: str, browser, tmp_path: Path) -> None:
    """Each page loads with nothing from the network and no console error; every formula that
    pymdownx.arithmatex marks is typeset by the bundled KaTeX (no raw TeX left)."""
    from browser import open_page

    displayed = 0
    for path in ["", *FORMULA_PAGES, "reference/report/"]:
        page, problems = open_page(browser, site_url + path, allow_http=site_url)
        page.wait_for_load_state("networkidle")
        math = page.locator("article .arithmatex")
        count = math.count()
        if path in FORMULA_PAGES:
            assert count > 0, f"{path}: no formula found"
            assert page.locator("article .arithmatex .katex").count() == count, path
            displayed += page.locator("article .arithmatex .katex-display").count()
            text = page.locator("article").inner_text()
            assert "\\(" not in text and "\\[" not in text, f"{path}: raw TeX left"
            assert page.locator(".katex-error").count() == 0, path
        images = page.locator("article img")
        for i in range(images.count()):
            assert images.nth(i).evaluate("img => img.complete && img.naturalWidth > 0"), path
        assert problems.items == [], f"{path}: {problems.items}"
        if path == "reference/components/errors/bpe/":
            page.screenshot(path=str(tmp_path / "formulas.png"))
        page.close()
    assert displayed > 0  # display formulas too, not only inline ones


# -- facts the protocol page states, checked on the real label files ------------------------------
@pytest.mark.realdata
def test_protocol_page_avenue_ground_truths_disagree_on_441_frames():
    import numpy as np

    from vadkit.data.labels import read_labels

    labels = SHARED / "labels" / "avenue"
    if not labels.is_dir():
        pytest.skip(f"Avenue labels are not available at {labels}")
    counts = [1439, 1211, 923, 947, 1007, 1283, 605, 36, 1175, 841, 472, 1271, 549, 507, 1001,
              740, 426, 294, 248, 273, 76]  # fmt: skip
    videos = [(f"{i:02d}", n) for i, n in enumerate(counts, start=1)]
    masks = read_labels(labels / "testing_label_mask", videos)
    intervals = read_labels(labels / "frame_labels_avenue.npy", videos)
    a = np.concatenate([masks[name] for name, _ in videos])
    b = np.concatenate([intervals[name] for name, _ in videos])
    page = (DOCS / "reference" / "protocol.md").read_text()
    assert a.size == 15324 and "15,324" in page
    assert int(a.sum()) == 3712 and "3,712" in page
    assert int(b.sum()) == 3867 and "3,867" in page
    assert int((a != b).sum()) == 441 and "441 frames" in page


def protocol_defaults_table() -> dict[str, tuple[str, str]]:
    """``key -> (vadkit's default cell, 'the paper's?' cell)`` of the protocol page's table."""
    page = (DOCS / "reference" / "protocol.md").read_text()
    section = page.split("## Defaults: the paper's and vadkit's", 1)[1].split("\n## ", 1)[0]
    rows = {}
    for line in section.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 4 and re.fullmatch(r"`[a-z_.]+`", cells[0]):
            rows[cells[0].strip("`")] = (cells[1], cells[3])
    return rows


def test_protocol_page_states_the_real_defaults():
    import tomllib

    from vadkit.compute.device import AUTO_PRECISION
    from vadkit.config import resolve_config
    from vadkit.inference.scorer import SCORE_AUTO_PRECISION

    rows = protocol_defaults_table()
    assert len(rows) >= 20
    config = resolve_config(flags={"recipe": "luss-ae"})
    paper = resolve_config(flags={"recipe": "luss-ae-paper"})
    # the paper's recipe sets back every difference a recipe can hold (alphas are named presets)
    assert paper["tasks"]["params"]["ffp"]["head"] == "paper"
    assert paper["score"]["normalizer"] == "robust" and paper["score"]["precision"] == "fp32"
    assert paper["score"]["presets"] == config["score"]["presets"]
    for key, (default, _) in rows.items():
        value = config
        for part in key.split("."):
            value = value[part]
        shown = re.match(r"`([^`]+)`", default)
        assert shown, f"protocol.md: no value for {key}"
        assert tomllib.loads(f"v = {shown.group(1)}")["v"] == value, f"protocol.md: {key}"
    assert AUTO_PRECISION == {"cpu": "fp32", "cuda": "fp32"}  # "fp32 on the CPU and on CUDA"
    assert "fp32 on the CPU and on CUDA" in rows["train.precision"][0]
    assert SCORE_AUTO_PRECISION == {"cpu": "bf16", "cuda": "fp32"}
    # bf16 is only a candidate on the CPU: kept when it ranks training windows like fp32
    assert (
        "on a CPU with native bf16 (AVX512-BF16 or AMX) bf16 autocast when its scores rank "
        "training windows" in (rows["score.precision"][0])
    )
    assert rows["train.ema"][1] == "yes" and rows["train.optimizer"][1] == "yes"
    not_the_papers = {k for k, (_, same) in rows.items() if same.startswith("**no**")}
    assert not_the_papers == {
        "tasks.params.ffp.head",
        "score.normalizer",
        "score.alphas",
        "score.precision",
    }
