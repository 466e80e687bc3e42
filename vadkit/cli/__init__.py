"""The ``vadkit`` command line (Typer + rich)."""

from vadkit.cli.app import app, main

__all__ = ["app", "main"]
