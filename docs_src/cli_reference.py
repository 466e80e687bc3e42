"""The command-line reference: every ``vadkit`` command, read from the Typer application itself.

Usage, help, arguments, options and defaults come from Click's command tree as ``vadkit`` builds
it (:func:`load_app`), so the page is what ``vadkit COMMAND --help`` prints. Commands that
installed plugins add (``register_commands``) are not mounted: the page describes vadkit alone.
"""

from __future__ import annotations

from typing import Any

from docs_src.markdown import GENERATED, cell, code, code_cell, inline

#: Width of the usage lines: fixed, so that the page does not depend on the terminal it is
#: generated in.
WIDTH = 100


def load_app() -> Any:
    """The root command with every command group mounted, as ``vadkit`` itself builds it."""
    import importlib

    import typer

    app_module = importlib.import_module("vadkit.cli.app")
    app_module._mount_optional()
    return typer.main.get_command(app_module.app)


def plain(text: str | None) -> str:
    """Help text without Rich markup, blank-line-separated blocks kept."""
    if not text:
        return ""
    from rich.text import Text

    out = Text.from_markup(text).plain
    return "\n".join(line.rstrip() for line in out.strip().splitlines())


def default(param: Any) -> str:
    """The default of a parameter as a table cell ("required" when it has none)."""
    if param.required:
        return "required"
    value = param.default
    if callable(value) or value is None or value is False or value == () or value == []:
        return ""
    if getattr(param, "show_default", None) is False:
        return ""
    if isinstance(value, list | tuple):
        value = ",".join(str(v) for v in value)
    return code_cell(str(value))


def _render(cmd: Any, ctx: Any, path: list[str], level: int, out: list[str]) -> None:
    title = " ".join(path)
    out.append(f"{'#' * level} {title}\n")
    help_text = plain(cmd.help)
    if help_text:
        out.append(inline(help_text) + "\n")
    usage = cmd.get_usage(ctx).replace("Usage: ", "", 1).strip()
    out.append(f"```text\n{usage}\n```\n")
    rows = []
    for param in cmd.params:
        record = param.get_help_record(ctx)
        if record is None:  # hidden
            continue
        kind = "argument" if param.param_type_name == "argument" else "option"
        names = code_cell(record[0])
        helptext = cell(plain(getattr(param, "help", None) or ""))
        rows.append(f"| {names} | {kind} | {default(param)} | {helptext} |")
    rows.append("| `--help` | option | | Show the help of this command and exit. |")
    out.append("| name | kind | default | description |\n|---|---|---|---|")
    out.append("\n".join(rows) + "\n")
    if hasattr(cmd, "list_commands"):
        subs = [(n, cmd.get_command(ctx, n)) for n in cmd.list_commands(ctx)]
        subs = [(n, s) for n, s in subs if s is not None and not getattr(s, "hidden", False)]
        if subs:
            out.append("Commands: " + ", ".join(code(f"{title} {n}") for n, _ in subs) + ".\n")
        for name, sub in subs:
            sub_ctx = sub.make_context(name, [], parent=ctx, resilient_parsing=True)
            _render(sub, sub_ctx, [*path, name], min(level + 1, 4), out)


def commands_markdown() -> str:
    """The ``##``-level reference of ``vadkit`` and all its subcommands."""
    root = load_app()
    ctx = root.make_context(
        "vadkit",
        [],
        resilient_parsing=True,
        terminal_width=WIDTH,
        max_content_width=WIDTH,
    )
    out: list[str] = []
    _render(root, ctx, ["vadkit"], 2, out)
    return "\n".join(out)


def page() -> str:
    """``docs/reference/generated/cli-commands.md``."""
    return (
        f"{GENERATED}\n\n"
        "# Command reference\n\n"
        "Every `vadkit` command with its arguments, options and defaults, read from the command "
        "line itself; `vadkit COMMAND --help` prints the same. Exit codes, global options and "
        "how errors are reported are on the [command line page](../cli.md). Commands that "
        "installed plugins add (the [`register_commands`](../hooks.md) hook) are not listed.\n\n"
        + commands_markdown()
    )
