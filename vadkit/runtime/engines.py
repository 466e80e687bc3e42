"""The inference engines of the runtime, behind one call: uint8 windows in, score streams out.

:func:`open_engine` picks ONNX Runtime or OpenVINO for a bundle: the one asked for, else the
bundle's default (the fastest that keeps fp32 parity, measured by ``benchmarks/bench_runtime.py``),
else whichever is installed. Both run the same graph: the scores are the network's, fp32.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Sequence
from typing import Any, Protocol

import numpy as np

from vadkit.errors import ConfigError
from vadkit.runtime.bundle import RUNTIMES, Bundle

#: Engine names accepted by :func:`open_engine` (``--device``): a runtime, or a device.
DEVICES = ("auto", "cpu", "cuda", "onnxruntime", "openvino")
_INSTALL = {"onnxruntime": "pip install onnxruntime", "openvino": "pip install openvino"}


class Engine(Protocol):
    """A compiled bundle network."""

    name: str
    #: What the engine's model computes in: ``fp32``, ``bf16`` or ``int8``.
    precision: str
    #: The graph's outputs, ``"task/key"``, in order.
    outputs: list[str]

    def run(self, windows: np.ndarray) -> dict[str, np.ndarray]:
        """Scores ``{output: (B,) float32}`` of uint8 windows ``(B, T+1, H, W, C)``."""
        ...

    def describe(self) -> dict[str, Any]: ...


def installed(runtime: str) -> bool:
    module = "onnxruntime" if runtime == "onnxruntime" else "openvino"
    return importlib.util.find_spec(module) is not None


#: ONNX Runtime providers that run no model locally (never picked by ``auto``).
_REMOTE = ("AzureExecutionProvider",)


def auto_providers(available: Sequence[str]) -> list[str]:
    """The providers ``auto`` uses: every local accelerator present, in ONNX Runtime's order of
    preference, then the CPU."""
    local = [p for p in available if p not in _REMOTE and p != "CPUExecutionProvider"]
    return [*local, "CPUExecutionProvider"]


class OnnxRuntimeEngine:
    """ONNX Runtime on ``model.onnx``; execution providers: the given ones, or every one present
    with the CPU last (CUDA, TensorRT, ... are used when installed), or the CPU only."""

    name = "onnxruntime"

    def __init__(
        self,
        path: str,
        providers: Sequence[str] | None = None,
        threads: int | None = None,
        precision: str = "fp32",
    ) -> None:
        import onnxruntime as ort

        #: ``fp32`` (``model.onnx``) or ``int8`` (``model_int8.onnx``): what the file holds.
        self.precision = precision

        chosen = list(providers) if providers else auto_providers(ort.get_available_providers())
        options = ort.SessionOptions()
        options.log_severity_level = 3
        if threads:
            options.intra_op_num_threads = int(threads)
        self.session = ort.InferenceSession(path, sess_options=options, providers=chosen)
        self.input = self.session.get_inputs()[0].name
        self.outputs = [o.name for o in self.session.get_outputs()]

    def run(self, windows: np.ndarray) -> dict[str, np.ndarray]:
        values = self.session.run(self.outputs, {self.input: np.ascontiguousarray(windows)})
        return {name: np.asarray(v) for name, v in zip(self.outputs, values, strict=True)}

    def describe(self) -> dict[str, Any]:
        import onnxruntime as ort

        return {
            "runtime": self.name,
            "version": ort.__version__,
            "device": self.session.get_providers()[0],
            "providers": self.session.get_providers(),
            "precision": self.precision,
        }


class OpenVinoEngine:
    """OpenVINO on ``model.xml`` (or ``model.onnx``), on its CPU device, with inference
    precision ``f32`` (exact) or ``bf16``; ``int8``: the int8 QDQ model (``model_int8.onnx``),
    its quantized layers run in int8, the rest in f32."""

    name = "openvino"

    def __init__(
        self, path: str, precision: str = "fp32", device: str = "CPU", threads: int | None = None
    ) -> None:
        import openvino as ov

        hint = {"fp32": "f32", "bf16": "bf16", "int8": "f32"}.get(precision)
        if hint is None:
            raise ConfigError(
                f"OpenVINO precision {precision!r} is not one of fp32, bf16, int8.", hint="fp32"
            )
        core = ov.Core()
        if precision == "bf16" and "BF16" not in core.get_property(
            device, "OPTIMIZATION_CAPABILITIES"
        ):
            raise ConfigError(
                f"This {device} has no bf16 support in OpenVINO (it would run fp32).",
                hint="Leave out --precision (fp32).",
            )
        self.precision = precision
        config: dict[str, Any] = {"INFERENCE_PRECISION_HINT": hint}
        if threads:
            config["INFERENCE_NUM_THREADS"] = int(threads)
        self.compiled = core.compile_model(core.read_model(path), device, config)
        self.request = self.compiled.create_infer_request()
        self.outputs = [port.get_any_name() for port in self.compiled.outputs]
        self.version = ov.get_version()

    def run(self, windows: np.ndarray) -> dict[str, np.ndarray]:
        result = self.request.infer([np.ascontiguousarray(windows)])
        return {
            name: np.array(result[port])
            for name, port in zip(self.outputs, self.compiled.outputs, strict=True)
        }

    def describe(self) -> dict[str, Any]:
        return {
            "runtime": self.name,
            "version": self.version,
            "device": "openvino CPU",
            "precision": self.precision,
        }


def choose_runtime(bundle: Bundle, device: str = "auto") -> str:
    """The runtime for ``device`` (see :data:`DEVICES`): named, or the bundle's default, or the
    first installed one that has a file in the bundle."""
    dev = str(device).strip().lower()
    if dev not in DEVICES:
        raise ConfigError(
            f"Device {device!r} is not one a bundle runs on.", hint=f"Use {', '.join(DEVICES)}."
        )
    if dev in RUNTIMES:
        if not installed(dev):
            raise ConfigError(f"{dev} is not installed.", hint=_INSTALL[dev])
        if _file_for(bundle, dev) is None:
            raise ConfigError(
                f"Bundle '{bundle.path}' has no model file {dev} can read.",
                hint="Export it with --format onnx (every runtime reads it).",
            )
        return dev
    preferred = [str(bundle.meta.get("runtime", "")), *RUNTIMES]
    if dev == "cuda":
        preferred = ["onnxruntime"]
    for name in preferred:
        if name in RUNTIMES and installed(name) and _file_for(bundle, name) is not None:
            return name
    raise ConfigError(
        f"No runtime that can read bundle '{bundle.path}' is installed.",
        hint="pip install onnxruntime (or openvino).",
    )


def _file_for(bundle: Bundle, runtime: str) -> str | None:
    own = bundle.model_file(runtime)
    if own is not None and own.is_file():
        return str(own)
    onnx = bundle.model_file("onnxruntime")
    if runtime == "openvino" and onnx is not None and onnx.is_file():
        return str(onnx)  # OpenVINO reads the .onnx file too
    return None


#: ``--precision`` values of a bundle.
PRECISIONS = ("auto", "fp32", "bf16", "int8")


def int8_kept(bundle: Bundle, runtime: str) -> bool:
    """Whether the bundle's int8 model passed its rule for ``runtime`` (recorded at export)."""
    record = bundle.meta.get("int8") or {}
    return bool(record.get("file")) and runtime in record.get("kept", [])


def _int8_refusal(bundle: Bundle, runtime: str) -> ConfigError:
    record = bundle.meta.get("int8")
    if not record:
        return ConfigError(
            f"Bundle '{bundle.path}' has no int8 model.",
            hint="Export one: vadkit export RUN --precision int8 --out DIR",
        )
    found = record["rule"]["runtimes"].get(runtime, {})
    lowest = found.get("lowest_spearman")
    why = found.get("why") or (
        f"the rank agreement of its scores with fp32's (lowest Spearman "
        f"{'-' if lowest is None else f'{lowest:.4f}'}) is below the "
        f"{record['rule']['min_spearman']} its rule asks"
    )
    kept = ", ".join(record.get("kept", []))
    return ConfigError(
        f"Bundle '{bundle.path}' keeps no int8 model for {runtime}: {why}.",
        hint=f"Use --precision fp32{f', or --device {kept}' if kept else ''}.",
    )


def _int8_runtime(bundle: Bundle, device: str) -> str:
    """The runtime of ``--precision int8`` on ``device``: the one named, else the first
    installed one the rule kept int8 for; an error saying why when int8 cannot run there."""
    if device not in DEVICES:
        raise ConfigError(
            f"Device {device!r} is not one a bundle runs on.", hint=f"Use {', '.join(DEVICES)}."
        )
    kept = [r for r in (bundle.meta.get("int8") or {}).get("kept", []) if installed(r)]
    if device in RUNTIMES:
        if not installed(device):
            raise ConfigError(f"{device} is not installed.", hint=_INSTALL[device])
        runtime = device
    else:
        kept = [r for r in kept if device != "cuda" or r == "onnxruntime"]
        runtime = kept[0] if kept else "onnxruntime"
    if not int8_kept(bundle, runtime):
        raise _int8_refusal(bundle, runtime)
    return runtime


def open_engine(bundle: Bundle, device: str = "auto", precision: str = "auto") -> Engine:
    """The engine that runs ``bundle`` (see :func:`choose_runtime`).

    ``precision``: ``fp32`` (the exact graph); ``int8`` (the bundle's int8 model, where its rule
    kept it for the runtime); ``bf16`` (OpenVINO only); ``auto``: int8 where kept, else fp32.
    """
    prec = str(precision).strip().lower()
    if prec not in PRECISIONS:
        raise ConfigError(
            f"Precision {precision!r} is not one a bundle runs in.",
            hint=f"Use {', '.join(PRECISIONS)}.",
        )
    dev = str(device).strip().lower()
    if prec == "int8":  # its own file, read by the runtimes its rule kept it for
        runtime = _int8_runtime(bundle, dev)
        path: str | None = str(bundle.file(bundle.meta["int8"]["file"]))
    else:
        runtime = choose_runtime(bundle, device)
        if prec == "auto":
            prec = "int8" if int8_kept(bundle, runtime) else "fp32"
        int8 = prec == "int8"
        path = str(bundle.file(bundle.meta["int8"]["file"])) if int8 else _file_for(bundle, runtime)
    assert path is not None
    if runtime == "openvino":
        return OpenVinoEngine(path, precision=prec)
    if prec == "bf16":
        raise ConfigError(
            "ONNX Runtime runs bundles in fp32 or int8, not bf16.",
            hint="Leave out --precision, or use --device openvino --precision bf16.",
        )
    providers = ["CPUExecutionProvider"] if str(device).lower() == "cpu" else None
    if str(device).lower() == "cuda":
        providers = ["CUDAExecutionProvider", "CPUExecutionProvider"]
    return OnnxRuntimeEngine(path, providers, precision=prec)
