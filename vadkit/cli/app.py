"""The root ``vadkit`` command: global options, and one module per command group."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, Annotated

import typer
import typer.core

from vadkit import plugins
from vadkit._version import __version__
from vadkit.cli import components
from vadkit.cli.common import (
    cli_warnings,
    err_console,
    interruptible,
    invoked_args,
    show_error,
)
from vadkit.compute.reports import report_failure
from vadkit.errors import StorageError, VadkitError
from vadkit.installation import missing_dependency

if TYPE_CHECKING:
    from typer._click.core import Context as ClickContext  # the Click that Typer carries


def _interrupted() -> None:
    """Say ``Interrupted.`` (under ``--nproc``: report it, for the launcher to say once)."""
    if not report_failure("interrupted", 130, "Interrupted."):
        err_console.print("[yellow]Interrupted.[/yellow]")


class _Commands(typer.core.TyperGroup):
    """The root command group: Ctrl-C inside a command is one line and exit 130 (Typer alone
    would exit 130 silently)."""

    def invoke(self, ctx: ClickContext) -> object:
        try:
            return super().invoke(ctx)
        except KeyboardInterrupt:  # train's own stop (TrainingInterrupted) is said by train
            _interrupted()
            raise typer.Exit(130) from None


app = typer.Typer(
    cls=_Commands,
    name="vadkit",
    help="Video anomaly detection with pluggable backbones, tasks, error measures and normalizers.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
    rich_markup_mode="rich",
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"vadkit {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Show the version.")
    ] = False,
    plugin: Annotated[
        list[str] | None,
        typer.Option("--plugin", "-p", help="Load a one-off plugin: a module name or a .py file."),
    ] = None,
    block: Annotated[
        list[str] | None, typer.Option("--block", help="Do not load the plugin of this name.")
    ] = None,
    no_autoload: Annotated[
        bool, typer.Option("--no-autoload", help="Load only vadkit's own plugins (and --plugin).")
    ] = False,
    strict_plugins: Annotated[
        bool,
        typer.Option(
            "--strict-plugins",
            help="Any plugin problem is an error (exit 2) instead of a warning; for CI. "
            f"Also: {plugins.ENV_STRICT}=1.",
        ),
    ] = False,
) -> None:
    """vadkit: video anomaly detection, extensible through plugins."""
    if plugin or block or no_autoload or strict_plugins:
        plugins.configure(
            plugins=plugin or [],
            block=block or [],
            autoload=False if no_autoload else None,
            strict=True if strict_plugins else None,
            keep_if_same=True,  # main() applied them already: load each plugin once
        )


app.command("list")(components.list_cmd)
app.command("describe")(components.describe_cmd)
app.command("plugins")(components.plugins_cmd)


def _mount_optional() -> None:
    """Commands written in their own modules, one per command; each adds itself to ``app``.

    The import order is the order of ``vadkit --help`` (Typer lists command groups such as
    ``data`` after the single commands).
    """
    import importlib

    for name in (
        "data",
        "train",
        "score",
        "evaluate",
        "maps",
        "report",
        "search",
        "validate",
        "demo",
        "watch",
        "export",
    ):
        module = f"vadkit.cli.{name}"
        try:
            importlib.import_module(module)
        except ModuleNotFoundError as exc:
            if exc.name != module:
                raise


def _global_plugin_args(argv: Sequence[str]) -> str | None:
    """Apply --plugin/--block/--no-autoload/--strict-plugins before plugin commands are
    collected; returns the command's name (None when there is none)."""
    extra: list[str] = []
    block: list[str] = []
    no_auto = strict = False
    command = None
    it = iter(argv)
    for arg in it:
        if arg in ("--plugin", "-p", "--block"):
            value = next(it, None)
            if value is not None:
                (block if arg == "--block" else extra).append(value)
        elif arg.startswith("--plugin="):
            extra.append(arg.split("=", 1)[1])
        elif arg.startswith("--block="):
            block.append(arg.split("=", 1)[1])
        elif arg == "--no-autoload":
            no_auto = True
        elif arg == "--strict-plugins":
            strict = True
        elif not arg.startswith("-"):
            command = arg
            break  # the command name: what follows belongs to it
    plugins.configure(
        plugins=extra,
        block=block,
        autoload=False if no_auto else None,
        strict=True if strict else None,
    )
    return command


_commands_added = False


def main(argv: Sequence[str] | None = None) -> None:
    """Console-script entry point: domain errors, the operating system's refusals (permission,
    a file in the path, read-only, disk full) and a package this install lacks (the light
    install's torch) become one message and exit code 2; warnings print as one line each; Ctrl-C
    (SIGINT, also to a background job) exits 130."""
    with cli_warnings(), interruptible():
        _main(list(sys.argv[1:] if argv is None else argv))


def _main(args: list[str]) -> None:
    global _commands_added
    invoked_args[:] = args
    command = None
    try:
        command = _global_plugin_args(args)
        if not _commands_added:
            _mount_optional()
            plugins.get_host().register_commands(app)
            _commands_added = True
        app(args=args, prog_name="vadkit", standalone_mode=True)
    except VadkitError as exc:
        if not report_failure("error", exc.exit_code, exc.message, hint=exc.hint):
            show_error(exc)
        raise SystemExit(exc.exit_code) from None
    except OSError as exc:
        error = StorageError.from_os_error(exc)
        if not report_failure("error", error.exit_code, error.message, hint=error.hint):
            show_error(error)
        raise SystemExit(error.exit_code) from None
    except ImportError as exc:  # a lazy import of a package this install lacks (light install)
        missing = missing_dependency(exc, f"vadkit {command}" if command else "This command")
        if missing is None:
            raise
        if not report_failure("error", missing.exit_code, missing.message, hint=missing.hint):
            show_error(missing)
        raise SystemExit(missing.exit_code) from None
    except KeyboardInterrupt:  # before a command runs (e.g. while plugins load)
        _interrupted()
        raise SystemExit(130) from None
    except Exception as exc:  # a bug, or a peer's failure seen by this process
        message = f"{type(exc).__name__}: {(str(exc).strip().splitlines() or [''])[0]}"
        if report_failure("crash", 1, message, error=exc):  # under --nproc: told once
            raise SystemExit(1) from None
        raise
