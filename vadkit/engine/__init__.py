"""The engine: device selection, run folders and checkpoints, training (plain torch).

Scoring and evaluation live beside it; the CLI only calls into these modules.
"""

from __future__ import annotations

from vadkit.engine.io import atomic_write

__all__ = ["atomic_write"]
