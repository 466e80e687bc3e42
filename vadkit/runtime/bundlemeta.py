"""``bundle.json`` as typed, checked, frozen records: :class:`BundleMeta` and its parts.

:meth:`BundleMeta.from_json` checks every field the runtime reads (its type, its range, and that
the fields agree with each other: the input shape with ``clip_length``, ``size`` and
``channels``, the outputs with the tasks and error measures, every model file with ``files``)
and refuses a wrong one with a :class:`~vadkit.errors.DataError` naming the field, so an edited
or damaged ``bundle.json`` never reaches an engine. :meth:`BundleMeta.to_json` is what
``vadkit export`` writes. The sections that only record facts (the run's config, the calibration
scores, the int8 quantization and the rule's per-stream agreement) stay JSON objects. The format
is described in ``docs/reference/bundle.md``.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import PurePosixPath, PureWindowsPath
from typing import Any

from vadkit.components import SCORE_KEY
from vadkit.config.settings import CHANNELS
from vadkit.jsonfields import JsonFields, JsonObject, whole

BUNDLE_FILE = "bundle.json"
BUNDLE_KIND = "vadkit-bundle"
#: Version of the bundle layout written by this vadkit (2: every file sealed, plugins recorded).
BUNDLE_FORMAT = 2
#: The inference engines a bundle can name, fastest first as measured by
#: ``benchmarks/bench_runtime.py`` (docs/benchmarks/runtime.md): the order tried when
#: ``bundle.json`` names none that is installed.
RUNTIMES = ("openvino", "onnxruntime")
#: What a bundle can run in, as ``precisions`` lists it.
BUNDLE_PRECISIONS = ("fp32", "int8")
REEXPORT = "Export the run again: vadkit export RUN --out DIR"
_SHA256 = re.compile(r"^[0-9a-f]{64}$")


def canonical_digest(data: Mapping[str, Any]) -> str:
    """SHA-256 of ``data`` as canonical JSON (keys sorted, no spaces): the same for any layout
    of the same content, different for any change of a value."""
    text = json.dumps(data, sort_keys=True, separators=(",", ":"), default=_plain)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _plain(value: Any) -> Any:
    from vadkit.scoring.scorefiles import json_default

    return json_default(value)


def member_problem(name: str) -> str | None:
    """Why ``name`` cannot name a file inside a bundle folder (None when it can): empty,
    absolute, or reaching out with ``..``."""
    if not name or "\x00" in name:
        return "it is empty"
    if "\\" in name or PureWindowsPath(name).drive:
        return "it is not a relative path with '/' separators"
    path = PurePosixPath(name)
    if path.is_absolute():
        return "it is an absolute path"
    if ".." in path.parts:
        return "it reaches out of the bundle with '..'"
    return None


class _Fields(JsonFields):
    """One JSON object of ``bundle.json`` (:class:`~vadkit.jsonfields.JsonFields`, numbers read
    as floats); a wrong field is a :class:`~vadkit.errors.DataError` naming its path, the fix: export again."""

    def __init__(self, data: Any, where: str, source: str, fix: str = REEXPORT) -> None:
        super().__init__(data, where, source, fix)

    def number(self, key: str, *, null: bool = False) -> Any:
        value = super().number(key, null=null)
        return None if value is None else float(value)


def _sha256(value: Any) -> bool:
    return isinstance(value, str) and _SHA256.match(value) is not None


@dataclass(frozen=True)
class RunSource:
    """``run``: where the bundle came from and the weights it holds."""

    path: str
    checkpoint: str
    weights: str | None
    weights_sha256: str

    @classmethod
    def from_json(cls, f: _Fields) -> RunSource:
        digest = f.get("weights_sha256", "a SHA-256 (64 hex digits)", _sha256, null=False)
        return cls(f.text("path"), f.text("checkpoint"), f.text("weights", null=True), digest)


@dataclass(frozen=True)
class InputSpec:
    """``input``: the graph's one input, ``(batch, T+1, H, W, C)`` uint8 windows."""

    name: str
    shape: tuple[str | int, ...]
    dtype: str
    layout: str

    @classmethod
    def from_json(cls, f: _Fields) -> InputSpec:
        shape = f.get(
            "shape",
            '["batch", T+1, H, W, C]',
            lambda v: (
                isinstance(v, list)
                and len(v) == 5
                and v[0] == "batch"
                and all(whole(1)(d) for d in v[1:])
            ),
            null=False,
        )
        return cls(f.text("name"), tuple(shape), f.choice("dtype", ("uint8",)), f.text("layout"))


@dataclass(frozen=True)
class ErrorInfo:
    """One error measure of the graph: whether a higher value is more anomalous, and the
    parameters it was built into the graph with (the run's ``score.error_params``, defaults
    filled in; empty in bundles exported before they were recorded)."""

    higher_is_anomalous: bool
    params: JsonObject = field(default_factory=dict)

    @classmethod
    def from_json(cls, f: _Fields) -> ErrorInfo:
        return cls(f.flag("higher_is_anomalous"), f.obj("params", null=True) or {})


@dataclass(frozen=True)
class Defaults:
    """``defaults``: the run's error measure, normalizer and fusion weights."""

    error: str
    normalizer: str
    alphas: dict[str, float]

    @classmethod
    def from_json(cls, f: _Fields) -> Defaults:
        weights = f.sub("alphas")
        alphas = {task: float(weights.number(task)) for task in weights.data}
        return cls(f.text("error"), f.text("normalizer"), alphas)


@dataclass(frozen=True)
class ModelFile:
    """One runtime's model file (and the weights file beside it, for OpenVINO IR)."""

    file: str
    weights: str | None = None

    @classmethod
    def from_json(cls, f: _Fields) -> ModelFile:
        return cls(f.text("file"), f.text("weights", null=True))


@dataclass(frozen=True)
class EngineCheck:
    """What export found about an engine on this graph: ``checked`` (it could run),
    ``usable`` (it compiled the graph with fp32 parity), the largest relative difference from
    PyTorch on ``windows`` random windows, or ``why`` not."""

    checked: bool
    usable: bool | None = None
    max_rel_diff: float | None = None
    windows: int | None = None
    why: str | None = None

    @classmethod
    def from_json(cls, f: _Fields) -> EngineCheck:
        return cls(
            f.flag("checked"),
            f.flag("usable", null=True),
            f.number("max_rel_diff", null=True),
            f.whole("windows", 1, null=True),
            f.text("why", null=True),
        )


@dataclass(frozen=True)
class ExportInfo:
    """``export``: the exporter, ONNX Runtime's parity at export, what was found of OpenVINO."""

    exporter: str
    parity_at_export: EngineCheck
    openvino: EngineCheck

    @classmethod
    def from_json(cls, f: _Fields) -> ExportInfo:
        return cls(
            f.text("exporter"),
            EngineCheck.from_json(f.sub("parity_at_export")),
            EngineCheck.from_json(f.sub("openvino")),
        )


@dataclass(frozen=True)
class RuleVerdict:
    """The int8 rule on one engine: ``kept``, the lowest Spearman and each stream's agreement,
    or ``why`` it could not run."""

    kept: bool
    lowest_spearman: float | None = None
    agreement: JsonObject | None = None
    why: str | None = None

    @classmethod
    def from_json(cls, f: _Fields) -> RuleVerdict:
        return cls(
            f.flag("kept"),
            f.number("lowest_spearman", null=True),
            f.obj("agreement", null=True),
            f.text("why", null=True),
        )


@dataclass(frozen=True)
class Int8Rule:
    """The rule that keeps or drops the int8 model (docs/reference/bundle.md, 'int8')."""

    criterion: str
    min_spearman: float
    error: str
    windows: int
    windows_from: str
    runtimes: dict[str, RuleVerdict]

    @classmethod
    def from_json(cls, f: _Fields) -> Int8Rule:
        return cls(
            f.text("criterion"),
            float(f.number("min_spearman")),
            f.text("error"),
            int(f.whole("windows")),
            f.text("windows_from"),
            f.each("runtimes", RuleVerdict.from_json),
        )


@dataclass(frozen=True)
class Int8Record:
    """``int8``: the int8 model (``file``, None when no engine keeps it), the engines that keep
    it, each one's calibration, how it was quantized and the rule's verdicts."""

    file: str | None
    kept: tuple[str, ...]
    calibrations: dict[str, JsonObject]
    quantization: JsonObject
    rule: Int8Rule

    @classmethod
    def from_json(cls, f: _Fields) -> Int8Record:
        calibrations = f.sub("calibrations")
        return cls(
            f.text("file", null=True),
            f.texts("kept"),
            {name: dict(calibrations.obj(name)) for name in calibrations.data},
            f.obj("quantization"),
            Int8Rule.from_json(f.sub("rule")),
        )


@dataclass(frozen=True)
class PluginNeed:
    """A plugin whose components the producing run used: its version and the distribution that
    provides it (``pip install DISTRIBUTION==VERSION``; None when loaded from a file)."""

    version: str | None
    distribution: str | None

    @classmethod
    def from_json(cls, f: _Fields) -> PluginNeed:
        return cls(f.text("version", null=True), f.text("distribution", null=True))


@dataclass(frozen=True)
class BundleMeta:
    """``bundle.json``, typed and checked (the keys are documented in
    ``docs/reference/bundle.md``)."""

    created: str
    vadkit: str
    run: RunSource
    input: InputSpec
    clip_length: int
    size: tuple[int, int]
    color: str
    channels: int
    tasks: tuple[str, ...]
    error_tasks: tuple[str, ...]
    errors: dict[str, ErrorInfo]
    outputs: tuple[str, ...]
    defaults: Defaults
    calibration: JsonObject
    config: JsonObject
    models: dict[str, ModelFile]
    precisions: tuple[str, ...]
    runtime: str
    export: ExportInfo
    plugins: dict[str, PluginNeed]
    files: dict[str, str]
    int8: Int8Record | None = None
    kind: str = BUNDLE_KIND
    format: int = BUNDLE_FORMAT
    #: The file it was read from, for messages (not part of the JSON).
    source: str = field(default=BUNDLE_FILE, compare=False)

    @classmethod
    def from_json(cls, data: Any, source: str = BUNDLE_FILE) -> BundleMeta:
        """Parse and check ``bundle.json``'s content; a :class:`~vadkit.errors.DataError` names the field that
        is missing, of the wrong type, out of range or at odds with another."""
        f = _Fields(data, "", source)
        f.choice("kind", (BUNDLE_KIND,))
        f.get("format", str(BUNDLE_FORMAT), lambda v: v == BUNDLE_FORMAT, null=False)
        size = f.get(
            "size",
            "[height, width], two whole numbers >= 1",
            lambda v: isinstance(v, list) and len(v) == 2 and all(whole(1)(d) for d in v),
            null=False,
        )
        files = f.sub("files")
        meta = cls(
            created=f.text("created"),
            vadkit=f.text("vadkit"),
            run=RunSource.from_json(f.sub("run")),
            input=InputSpec.from_json(f.sub("input")),
            clip_length=int(f.whole("clip_length", 1)),
            size=(int(size[0]), int(size[1])),
            color=f.choice("color", tuple(CHANNELS)),
            channels=int(f.whole("channels", 1)),
            tasks=f.texts("tasks"),
            error_tasks=f.texts("error_tasks"),
            errors=f.each("errors", ErrorInfo.from_json),
            outputs=f.texts("outputs"),
            defaults=Defaults.from_json(f.sub("defaults")),
            calibration=f.obj("calibration"),
            config=f.obj("config"),
            models=f.each("models", ModelFile.from_json),
            precisions=f.texts("precisions"),
            runtime=f.choice("runtime", RUNTIMES),
            export=ExportInfo.from_json(f.sub("export")),
            plugins=f.each("plugins", PluginNeed.from_json),
            files={
                name: str(files.get(name, "a SHA-256 (64 hex digits)", _sha256, null=False))
                for name in files.data
            },
            int8=None if f.data.get("int8") is None else Int8Record.from_json(f.sub("int8")),
            source=source,
        )
        meta._check(f)
        return meta

    def _check(self, f: _Fields) -> None:
        """The fields agree with each other: what the graph takes and gives, and the files."""
        expected = CHANNELS[self.color]
        if self.channels != expected:
            raise f.wrong("channels", f"is {self.channels}; color '{self.color}' has {expected}")
        window = ("batch", self.clip_length + 1, *self.size, self.channels)
        if self.input.shape != window:
            raise f.wrong(
                "input.shape",
                f"is {list(self.input.shape)}, but clip_length, size and channels make "
                f"{list(window)}",
            )
        if not self.tasks or len(set(self.tasks)) != len(self.tasks):
            raise f.bad("tasks", "a non-empty list of distinct task names", list(self.tasks))
        if not set(self.error_tasks) <= set(self.tasks):
            raise f.wrong("error_tasks", f"names tasks that 'tasks' {list(self.tasks)} lacks")
        if bool(self.errors) != bool(self.error_tasks):
            raise f.wrong(
                "errors", "must list the error measures exactly when error_tasks has a task"
            )
        streams: dict[str, set[str]] = {}
        for name in self.outputs:
            task, sep, key = name.partition("/")
            if not sep or task not in self.tasks:
                raise f.wrong("outputs", f"has {name!r}, not 'task/key' for a task in 'tasks'")
            if task in self.error_tasks and key not in self.errors and key != SCORE_KEY:
                raise f.wrong("outputs", f"has {name!r}, an error measure 'errors' lacks")
            streams.setdefault(task, set()).add(key)
        if set(streams) != set(self.tasks) or len(set(self.outputs)) != len(self.outputs):
            raise f.wrong("outputs", f"must give each task of {list(self.tasks)} once per key")
        if not set(self.defaults.alphas) <= set(self.tasks):
            raise f.wrong("defaults.alphas", f"weighs tasks that 'tasks' {list(self.tasks)} lacks")
        if not isinstance(self.calibration.get("normalizer"), str):
            raise f.bad("calibration.normalizer", "a string", self.calibration.get("normalizer"))
        self._check_files(f)

    def _check_files(self, f: _Fields) -> None:
        if not self.files:
            raise f.wrong("files", "is empty: every file of the bundle must have its SHA-256")
        for name in self.files:
            why = member_problem(name)
            if why is not None:
                raise f.wrong("files", f"names {name!r}: {why}")
        if not self.models or not set(self.models) <= set(RUNTIMES):
            raise f.bad("models", f"an object whose keys are among {list(RUNTIMES)}", self.models)
        used = {f"models.{rt}.file": m.file for rt, m in self.models.items()}
        used |= {f"models.{rt}.weights": m.weights for rt, m in self.models.items() if m.weights}
        precisions = {"fp32"}
        if self.int8 is not None:
            if not set(self.int8.kept) <= set(RUNTIMES):
                raise f.bad("int8.kept", f"a list of {list(RUNTIMES)}", list(self.int8.kept))
            if bool(self.int8.file) != bool(self.int8.kept):
                raise f.wrong("int8.file", "must name a file exactly when int8.kept has engines")
            if self.int8.file:
                used["int8.file"] = self.int8.file
                precisions.add("int8")
        if set(self.precisions) != precisions:
            raise f.bad("precisions", str(sorted(precisions)), list(self.precisions))
        for where, name in used.items():
            if name not in self.files:
                raise f.wrong(where, f"names {name!r}, which 'files' does not seal (no SHA-256)")

    def to_json(self) -> JsonObject:
        """The JSON object ``bundle.json`` holds (lists for tuples; ``source`` left out)."""
        out = asdict(self)
        del out["source"]
        head = {"kind": out.pop("kind"), "format": out.pop("format")}
        return json.loads(json.dumps(head | out, default=_plain))

    @property
    def digest(self) -> str:
        """:func:`canonical_digest` of :meth:`to_json`."""
        return canonical_digest(self.to_json())

    def plugin_record(self) -> JsonObject:
        """:attr:`plugins` shaped as a run's ``versions.json`` (``plugins``: name -> version,
        ``distributions``: name -> distribution), as :func:`vadkit.plugins.missing_plugins`
        reads it."""
        return {
            "plugins": {n: p.version for n, p in self.plugins.items()},
            "distributions": {n: p.distribution for n, p in self.plugins.items()},
        }
