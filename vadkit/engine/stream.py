"""Deprecated alias of :mod:`vadkit.stream` (and :mod:`vadkit.data.live` for the decoder).

The streaming code moved into the package :mod:`vadkit.stream` (calibration, scorer, alerts,
session) and the live decoder into :mod:`vadkit.data.live`. This module re-exports their public
names so that existing imports keep working, and warns when it is imported.
"""

import warnings

from vadkit.data.live import FrameReader, check_source
from vadkit.stream import *  # noqa: F403
from vadkit.stream import __all__ as _moved

warnings.warn(
    "vadkit.engine.stream is deprecated: import from vadkit.stream (FrameReader and "
    "check_source from vadkit.data.live).",
    DeprecationWarning,
    stacklevel=2,  # the importer (warnings skips importlib's frames)
)

__all__ = ["FrameReader", "check_source", *_moved]
