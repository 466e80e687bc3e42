"""The trained PyTorch model as a :class:`~vadkit.scoring.core.WindowScorer`.

:class:`ModelScorer` runs :meth:`vadkit.model.VADModel.window_scores` (the one scoring function)
on windows of uint8 frames, on the device and in the precision of a
:class:`~vadkit.compute.device.Runtime`, without autograd. Offline scoring, streaming,
calibration, the label-free precision rule and the Python API all score through it; the loops
around it are the torch-free ones of :mod:`vadkit.scoring.core`, shared with exported bundles.
Also here: the error measures a run can score with (:func:`applicable_errors`) and the runtime
scoring uses (:func:`scoring_runtime`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import torch

from vadkit.components import Batch, ErrorMeasure
from vadkit.compute import device as compute
from vadkit.compute.device import Runtime, resolve_precision, select_device
from vadkit.data.windows import sliding_batch, window_batch
from vadkit.errors import ConfigError
from vadkit.model import VADModel
from vadkit.scoring.core import StreamKey, WindowScores, check_windows

#: The precision ``score.precision = "auto"`` tries per device type for *scoring*. On a CPU with
#: native bf16 (AVX512-BF16 or AMX, :func:`vadkit.compute.device.native_bf16_cpu`), bf16
#: autocast is faster than fp32 (``docs/benchmarks/score-speed.md``); scoring keeps it only when
#: its per-window scores rank training windows like fp32's
#: (:func:`vadkit.inference.validation.choose_precision`), a label-free rule fixed beforehand. A
#: CPU without native bf16 emulates it, far slower than fp32: there "auto" is fp32 and no
#: comparison runs.
SCORE_AUTO_PRECISION: dict[str, str] = {"cpu": "bf16", "cuda": "fp32"}


def scoring_runtime(
    device: str = "auto", precision: str = "auto", channels_last: bool = True
) -> Runtime:
    """The :class:`~vadkit.compute.device.Runtime` scoring runs on (``auto`` precision per device
    type, :data:`SCORE_AUTO_PRECISION`)."""
    dev = select_device(device, key="score.device")
    if str(precision).strip().lower() == "auto":
        prec = SCORE_AUTO_PRECISION.get(dev.type, "fp32")
        if prec == "bf16" and dev.type == "cpu" and not compute.native_bf16_cpu():
            prec = "fp32"
    else:
        prec = resolve_precision(precision, dev, key="score.precision")
    return Runtime(device=dev, precision=prec, channels_last=bool(channels_last))


def applicable_errors(
    names: Sequence[str] | None,
    frame_shape: tuple[int, int, int],
    device: torch.device | str = "cpu",
    *,
    params: Mapping[str, Mapping[str, Any]] | None = None,
) -> dict[str, ErrorMeasure]:
    """Every registered error measure (or those in ``names``) that scores frames of this shape
    ``(C, H, W)``, each built with its parameters in ``params`` (the run's
    ``score.error_params``; a measure it lacks keeps its defaults).

    A measure that cannot be built with its defaults or fails on a probe pair of frames is left
    out with a warning, an error under strict plugins (an explicitly named one is an error).
    """
    from vadkit.api import list_errors
    from vadkit.config.params import build_component
    from vadkit.plugins import component_left_out

    params = params or {}
    wanted = list(names) if names else list_errors()
    probe = torch.zeros((2, *frame_shape), device=device)
    out: dict[str, ErrorMeasure] = {}
    for name in wanted:
        try:
            err = build_component("errors", name, params.get(name)).to(device).eval()
            with torch.inference_mode():
                value = err(probe, probe + 0.1)
            if tuple(value.shape) != (2,):
                raise ValueError(f"returned shape {tuple(value.shape)} for 2 frames")
        except Exception as exc:
            if names:
                raise ConfigError(
                    f"The error measure '{name}' cannot score frames of shape {frame_shape}: {exc}",
                    hint="Pick another with --error; `vadkit list errors` shows them.",
                ) from None
            component_left_out("errors", name, str(exc))  # an error under strict plugins
            continue
        out[name] = err
    return out


class ModelScorer:
    """A :class:`~vadkit.scoring.core.WindowScorer` over a trained model.

    Args:
        model: the trained model; put in eval mode and prepared for ``runtime`` (device, memory
            format).
        errors: the error measures the tasks that compare frames are scored with, by name
            (:func:`applicable_errors`).
        runtime: device, precision (the network runs under its autocast; its features are cast
            to float32 before the tasks score) and memory format.
    """

    def __init__(
        self, model: VADModel, errors: Mapping[str, ErrorMeasure], runtime: Runtime
    ) -> None:
        self.model = model
        self.runtime = runtime
        runtime.prepare(model)
        model.eval()
        uses_error = {n: t.uses_error for n, t in model.task_map.items()}
        self._errors = dict(errors) if any(uses_error.values()) else {}
        self._tasks = list(uses_error)
        self._error_tasks = [n for n, used in uses_error.items() if used]

    @property
    def clip_length(self) -> int:
        return int(self.model.clip_shape[1])

    @property
    def frame_shape(self) -> tuple[int, int, int]:
        channels, _, height, width = self.model.clip_shape
        return int(height), int(width), int(channels)

    @property
    def tasks(self) -> list[str]:
        return list(self._tasks)

    @property
    def error_tasks(self) -> list[str]:
        return list(self._error_tasks)

    @property
    def errors(self) -> list[str]:
        return list(self._errors)

    @property
    def error_measures(self) -> dict[str, ErrorMeasure]:
        """The error measures, by name."""
        return dict(self._errors)

    @property
    def supports_maps(self) -> bool:
        return True

    def variant(
        self,
        *,
        errors: Mapping[str, ErrorMeasure] | None = None,
        runtime: Runtime | None = None,
    ) -> ModelScorer:
        """The same model with other error measures or on another runtime (e.g. fp32 beside a
        candidate precision)."""
        return ModelScorer(
            self.model,
            self._errors if errors is None else errors,
            self.runtime if runtime is None else runtime,
        )

    def score_windows(self, windows: np.ndarray, *, maps: bool = False) -> WindowScores:
        array = check_windows(windows, self.clip_length)
        rt = self.runtime
        with torch.inference_mode():
            batch = window_batch(
                array, self.clip_length, device=rt.device, memory_format=rt.memory_format
            )
            return self._scores(batch, maps)

    def score_sliding(self, frames: np.ndarray, *, maps: bool = False) -> WindowScores:
        rt = self.runtime
        with torch.inference_mode():
            batch = sliding_batch(
                frames, self.clip_length, device=rt.device, memory_format=rt.memory_format
            )
            return self._scores(batch, maps)

    def _scores(self, batch: Batch, maps: bool) -> WindowScores:
        autocast = self.runtime.autocast()
        if maps:
            scores, by_task = self.model.window_maps(batch, self._errors, autocast=autocast)
        else:
            scores, by_task = self.model.window_scores(batch, self._errors, autocast=autocast), {}
        streams = {
            StreamKey(task, key): value.detach().cpu().double().numpy()
            for task, keys in scores.items()
            for key, value in keys.items()
        }
        window_maps = {
            StreamKey(task, key): value.mean(dim=1).float().cpu().numpy()
            for task, keys in by_task.items()
            for key, value in keys.items()
        }
        return WindowScores(streams=streams, maps=window_maps)

    def describe(self) -> dict[str, Any]:
        return self.runtime.describe()
