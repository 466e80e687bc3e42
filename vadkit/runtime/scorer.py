"""An exported bundle's engine as a :class:`~vadkit.scoring.core.WindowScorer` (no torch).

The graph takes the windows as they are stored, uint8 ``(B, T+1, H, W, C)``, and scales the
pixels inside itself exactly as :func:`vadkit.data.windows.window_batch` does; so the engine
scorer only stacks windows and names the graph's outputs (``"task/key"``) as score streams. The
loops over windows and videos are :mod:`vadkit.scoring.core`'s, the same as a run's.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from vadkit.components.keys import SCORE_KEY
from vadkit.errors import ConfigError
from vadkit.runtime.bundle import Bundle
from vadkit.runtime.engines import Engine
from vadkit.scoring.core import SlidingByStacking, StreamKey, WindowScores, check_windows


class EngineScorer(SlidingByStacking):
    """Scores windows with a compiled bundle network (:func:`vadkit.runtime.engines.open_engine`).

    Args:
        engine: the engine; its outputs are the graph's, named ``"task/key"``.
        clip_length: T, the clip length of the run the bundle was exported from.
        frame_shape: ``(H, W, C)`` of a preprocessed frame.
        outputs: the graph's outputs in order (default: the engine's).
    """

    def __init__(
        self,
        engine: Engine,
        clip_length: int,
        frame_shape: tuple[int, int, int],
        outputs: list[str] | None = None,
    ) -> None:
        self.engine = engine
        self._clip_length = int(clip_length)
        self._frame_shape = tuple(int(v) for v in frame_shape)
        names = list(outputs) if outputs is not None else list(engine.outputs)
        self.keys = [StreamKey.parse(name) for name in names]

    @classmethod
    def of_bundle(cls, bundle: Bundle, engine: Engine) -> EngineScorer:
        """The scorer of ``bundle``'s compiled network ``engine``."""
        return cls(engine, bundle.clip_length, (*bundle.size, bundle.channels), bundle.outputs)

    @property
    def clip_length(self) -> int:
        return self._clip_length

    @property
    def frame_shape(self) -> tuple[int, int, int]:
        height, width, channels = self._frame_shape
        return height, width, channels

    @property
    def tasks(self) -> list[str]:
        return list(dict.fromkeys(k.task for k in self.keys))

    @property
    def error_tasks(self) -> list[str]:
        return list(dict.fromkeys(k.task for k in self.keys if k.key != SCORE_KEY))

    @property
    def errors(self) -> list[str]:
        return list(dict.fromkeys(k.key for k in self.keys if k.key != SCORE_KEY))

    @property
    def supports_maps(self) -> bool:
        return False

    def score_windows(self, windows: np.ndarray, *, maps: bool = False) -> WindowScores:
        if maps:
            raise ConfigError(
                "A bundle's graph outputs per-window scores, not anomaly maps.",
                hint="Score the run itself for anomaly maps: vadkit score RUN --maps",
            )
        array = np.ascontiguousarray(check_windows(windows, self.clip_length))
        out = self.engine.run(array)
        return WindowScores(
            streams={StreamKey.parse(n): np.asarray(v, np.float64) for n, v in out.items()}
        )

    def describe(self) -> dict[str, Any]:
        return self.engine.describe()
