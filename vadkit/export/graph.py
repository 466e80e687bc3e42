"""The exported network: :meth:`VADModel.window_scores` as one module from uint8 windows to scores.

:class:`ScoringGraph` wraps a trained :class:`~vadkit.model.VADModel` and the error measures it
scores with. Its input is what every scoring path builds first, a batch of windows of uint8
frames ``(B, T+1, H, W, C)``; inside the graph they become the model's batch exactly as
:func:`vadkit.data.windows.window_batch` makes it (the same pixel scaling, the same split into
clip and target), and :meth:`~vadkit.model.VADModel.window_scores`, the one scoring function,
computes every stream. The outputs are the streams flattened in a fixed order
(:attr:`ScoringGraph.outputs`, names ``"task/key"``), each ``(B,)`` float32.
"""

from __future__ import annotations

from collections.abc import Mapping

import torch
from torch import Tensor, nn

from vadkit.components import ErrorMeasure
from vadkit.data.video import scale_pixels_
from vadkit.data.windows import split_windows
from vadkit.model import VADModel

#: Name of the graph's one input.
INPUT_NAME = "windows"


def output_name(task: str, key: str) -> str:
    """The graph output of a task's stream: ``"task/key"``."""
    return f"{task}/{key}"


class ScoringGraph(nn.Module):
    """``window_scores`` of a trained model on uint8 windows, as one exportable module.

    Args:
        model: the trained model (put in eval mode).
        errors: the error measures of the tasks that compare frames, by name.
    """

    def __init__(self, model: VADModel, errors: Mapping[str, ErrorMeasure]) -> None:
        super().__init__()
        self.model = model.eval()
        self.errors = nn.ModuleDict(dict(errors))
        self.clip_length = int(model.clip_shape[1])
        probe = torch.zeros((1, *self.window_shape), dtype=torch.uint8)
        with torch.inference_mode():
            streams = self._scores(probe)
        #: The output names, in the order :meth:`forward` returns them.
        self.outputs: list[str] = [output_name(t, k) for t, keys in streams.items() for k in keys]

    @property
    def window_shape(self) -> tuple[int, int, int, int]:
        """``(T+1, H, W, C)`` of one input window."""
        return (self.clip_length + 1, *self.frame_hw, self.channels)

    @property
    def channels(self) -> int:
        return int(self.model.backbone.in_channels)

    @property
    def frame_hw(self) -> tuple[int, int]:
        _, _, height, width = self.model.clip_shape
        return int(height), int(width)

    def _scores(self, windows: Tensor) -> dict[str, dict[str, Tensor]]:
        pixels = scale_pixels_(windows.permute(0, 4, 1, 2, 3).float())  # (B, C, T+1, H, W)
        batch = split_windows(pixels, self.clip_length)
        errors = {name: err for name, err in self.errors.items()}
        return self.model.window_scores(batch, errors)  # type: ignore[arg-type]

    def forward(self, windows: Tensor) -> tuple[Tensor, ...]:
        streams = self._scores(windows)
        return tuple(streams[t][k] for t, k in (name.split("/", 1) for name in self.outputs))
