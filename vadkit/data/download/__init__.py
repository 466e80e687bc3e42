"""Dataset downloads: typed manifests, resumable transfers, verified archives, safe extraction.

A plugin describes a dataset's download with :class:`DatasetDownload` (archives with mirrors, size
and SHA-256; where their content goes) and attaches it to a format it registers::

    register("my_layout", "my_plugin.data:MyLayout", download=MY_DATASET)

``vadkit data download NAME`` (or :func:`download_dataset`) then fetches, verifies and lays it
out. vadkit's own downloads are in :mod:`vadkit.data.download.builtin`.

Importing this package is cheap (the format hook builds manifests on every start); the network
and archive modules are imported when first used.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from vadkit.data.download.manifest import Archive, DatasetDownload, Place

_LAZY = {
    "DownloadResult": "vadkit.data.download.install",
    "download_dataset": "vadkit.data.download.install",
    "RegisteredDownload": "vadkit.data.download.registered",
    "find_download": "vadkit.data.download.registered",
    "registered_downloads": "vadkit.data.download.registered",
    "Reporter": "vadkit.data.download.reporter",
    "SilentReporter": "vadkit.data.download.reporter",
}

if TYPE_CHECKING:
    from vadkit.data.download.install import DownloadResult, download_dataset
    from vadkit.data.download.registered import (
        RegisteredDownload,
        find_download,
        registered_downloads,
    )
    from vadkit.data.download.reporter import Reporter, SilentReporter


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'vadkit.data.download' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *_LAZY])


__all__ = [
    "Archive",
    "DatasetDownload",
    "DownloadResult",
    "Place",
    "RegisteredDownload",
    "Reporter",
    "SilentReporter",
    "download_dataset",
    "find_download",
    "registered_downloads",
]
