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

from vadkit.errors import ConfigError, DataError
from vadkit.runtime.bundle import BUNDLE_FILE, RUNTIMES, Bundle

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
        #: The input's shape in the model file (None for a dynamic dimension).
        self.input_shape = tuple(
            d if isinstance(d, int) else None for d in self.session.get_inputs()[0].shape
        )

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
        self.input_shape = tuple(
            d.get_length() if d.is_static else None
            for d in self.compiled.inputs[0].get_partial_shape()
        )
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
    preferred = [bundle.meta.runtime, *RUNTIMES]
    if dev == "cuda":
        preferred = ["onnxruntime"]
    for name in preferred:
        if name == "openvino" and openvino_refusal(bundle) is not None:
            continue  # export found it cannot run this graph exactly
        if installed(name) and _file_for(bundle, name) is not None:
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
    record = bundle.meta.int8
    return record is not None and bool(record.file) and runtime in record.kept


def openvino_refusal(bundle: Bundle) -> str | None:
    """Why the bundle's fp32 graph must not run on OpenVINO: export compiled it there and found
    it unusable (a failure, or scores off PyTorch's); None when it was usable or not checked."""
    found = bundle.meta.export.openvino
    if found.usable is not False:
        return None
    return found.why or "its scores did not match PyTorch's"


def _int8_refusal(bundle: Bundle, runtime: str) -> ConfigError:
    record = bundle.meta.int8
    if record is None:
        return ConfigError(
            f"Bundle '{bundle.path}' has no int8 model.",
            hint="Export one: vadkit export RUN --precision int8 --out DIR",
        )
    found = record.rule.runtimes.get(runtime)
    lowest = None if found is None else found.lowest_spearman
    why = (found.why if found is not None else None) or (
        f"the rank agreement of its scores with fp32's (lowest Spearman "
        f"{'-' if lowest is None else f'{lowest:.4f}'}) is below the "
        f"{record.rule.min_spearman} its rule asks"
    )
    kept = ", ".join(record.kept)
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
    kept = [r for r in (bundle.meta.int8.kept if bundle.meta.int8 else ()) if installed(r)]
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
    int8_file = bundle.meta.int8.file if bundle.meta.int8 else None
    in_int8 = prec == "int8" or (prec == "auto" and int8_kept(bundle, "openvino"))
    refused = openvino_refusal(bundle)
    if dev == "openvino" and refused is not None and not in_int8:  # its own rule ran int8
        raise ConfigError(
            f"Bundle '{bundle.path}' does not run on OpenVINO: its export found OpenVINO "
            f"unusable for this graph ({refused}).",
            hint="Use --device onnxruntime, or leave out --device (the bundle's default, "
            f"{bundle.meta.runtime}).",
        )
    if prec == "int8":  # its own file, read by the runtimes its rule kept it for
        runtime = _int8_runtime(bundle, dev)
        path: str | None = str(bundle.file(str(int8_file)))
    else:
        runtime = choose_runtime(bundle, device)
        if prec == "auto":
            prec = "int8" if int8_kept(bundle, runtime) else "fp32"
        int8 = prec == "int8"
        path = str(bundle.file(str(int8_file))) if int8 else _file_for(bundle, runtime)
    assert path is not None
    engine: OpenVinoEngine | OnnxRuntimeEngine
    if runtime == "openvino":
        engine = OpenVinoEngine(path, precision=prec)
    elif prec == "bf16":
        raise ConfigError(
            "ONNX Runtime runs bundles in fp32 or int8, not bf16.",
            hint="Leave out --precision, or use --device openvino --precision bf16.",
        )
    else:
        providers = ["CPUExecutionProvider"] if str(device).lower() == "cpu" else None
        if str(device).lower() == "cuda":
            providers = ["CUDAExecutionProvider", "CPUExecutionProvider"]
        engine = OnnxRuntimeEngine(path, providers, precision=prec)
    check_graph(bundle, engine, path)
    return engine


def check_graph(bundle: Bundle, engine: OpenVinoEngine | OnnxRuntimeEngine, path: str) -> None:
    """The model file takes the windows and gives the outputs ``bundle.json`` says (a
    :class:`DataError` naming the fields that disagree with it)."""
    window = (bundle.meta.clip_length + 1, *bundle.meta.size, bundle.meta.channels)
    if engine.input_shape[1:] != window:
        raise DataError(
            f"'{bundle.file(BUNDLE_FILE)}': fields 'clip_length', 'size' and 'channels' make "
            f"windows {list(window)}, but '{path}' takes {list(engine.input_shape[1:])}.",
            hint="The file was edited. Copy the whole bundle folder again (or export the run "
            "again).",
        )
    if sorted(engine.outputs) != sorted(bundle.meta.outputs):
        raise DataError(
            f"'{bundle.file(BUNDLE_FILE)}': field 'outputs' {list(bundle.meta.outputs)} is not "
            f"what '{path}' gives ({engine.outputs}).",
            hint="The file was edited. Copy the whole bundle folder again (or export the run "
            "again).",
        )
