"""The downloads that plugins registered: ``download=`` on a ``register_datasets`` registration.

A format registration may carry one :class:`DatasetDownload` or a sequence of them
(``register("ucsd", "vadkit.data.formats:UCSDOriginal", download=UCSD)``); a registration without
one is a format as before. Download names are unique across plugins: a built-in keeps its name,
and of two plugins the one whose format comes first keeps it (the other is left out with a
warning naming both, like a component name).
"""

from __future__ import annotations

import difflib
import warnings
from dataclasses import dataclass

from vadkit.data.download.manifest import DatasetDownload
from vadkit.errors import ConfigError, PluginError
from vadkit.plugins import PluginLoadWarning, get_host

#: The keyword of ``register`` that carries a format's downloads.
DOWNLOAD_KEY = "download"


@dataclass(frozen=True)
class RegisteredDownload:
    """A download, the dataset format registration that carries it, and that format's plugin."""

    download: DatasetDownload
    format: str
    plugin: str


def _left_out(plugin: str, error: str, hint: str, strict: bool) -> None:
    message = f"vadkit plugin '{plugin}' had a dataset download left out: {error}."
    if strict:
        raise PluginError(message, hint=f"{hint} (An error because plugins are strict.)")
    warnings.warn(f"{message} {hint}", PluginLoadWarning, stacklevel=3)


def registered_downloads() -> dict[str, RegisteredDownload]:
    """Every registered download by name, built-ins' first."""
    host = get_host()
    entries = sorted(
        host.registry("datasets").entries(), key=lambda e: not host.is_builtin(e.plugin)
    )
    found: dict[str, RegisteredDownload] = {}
    for entry in entries:
        value = entry.extras.get(DOWNLOAD_KEY)
        if value is None:
            continue
        items = (value,) if isinstance(value, DatasetDownload) else value
        if not isinstance(items, tuple | list) or not all(
            isinstance(item, DatasetDownload) for item in items
        ):
            _left_out(
                entry.plugin,
                f"the dataset format '{entry.name}' was registered with download={value!r}",
                "Pass a vadkit.data.download.DatasetDownload, or a list of them.",
                host.strict,
            )
            continue
        for item in items:
            other = found.get(item.name)
            if other is not None:
                _left_out(
                    entry.plugin,
                    f"it registers the download '{item.name}', which plugin '{other.plugin}' "
                    "registered first",
                    f"'{other.plugin}' keeps it; rename one of them.",
                    host.strict,
                )
                continue
            found[item.name] = RegisteredDownload(item, entry.name, entry.plugin)
    return found


def find_download(name: str) -> RegisteredDownload:
    """The download registered as ``name``; an unknown name lists the known ones."""
    found = registered_downloads()
    if name in found:
        return found[name]
    close = difflib.get_close_matches(name, list(found), n=1, cutoff=0.5)
    hint = f"Did you mean '{close[0]}'? " if close else ""
    hint += (
        f"Downloads: {', '.join(sorted(found))} (`vadkit data download` lists them)."
        if found
        else "No plugin registers a download; is vadkit's 'formats' plugin blocked?"
    )
    raise ConfigError(f"No dataset download is named '{name}'.", hint=hint)
