"""Domain errors. Each carries the fix; only the CLI turns them into a message and an exit code."""

from __future__ import annotations


class VadkitError(Exception):
    """Base class of every error vadkit raises on purpose.

    ``hint`` says what to do about it; the CLI prints message and hint and exits with ``exit_code``.
    """

    exit_code = 2

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message if not self.hint else f"{self.message}\n{self.hint}"


class RegistryError(VadkitError, KeyError):
    """An unknown, duplicate or malformed component name."""

    def __str__(self) -> str:  # KeyError would quote the message
        return VadkitError.__str__(self)


class PluginError(VadkitError):
    """A plugin that cannot be loaded or that implements a hook wrongly."""


class ConfigError(VadkitError, ValueError):
    """A configuration value that does not fit the component it is meant for."""


class DataError(VadkitError, ValueError):
    """Data that cannot be read: a corrupt frame, a label file of the wrong length, ..."""


class CheckpointError(VadkitError):
    """A checkpoint that is missing, corrupt or made for another model."""
