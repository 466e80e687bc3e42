"""A score set's record, ``RUN/scores/<set>/set.json``, as typed, checked, frozen records (no torch).

:class:`ScoreSetRecord` is what ``vadkit score`` writes (:func:`vadkit.scoring.scoreset.save_score_set`),
returns (``score_run``, ``score_bundle``) and what a loaded set carries
(:attr:`vadkit.scoring.scoreset.ScoreSet.meta`). Its parts: where the videos came from and where
their ground truth is (:class:`DataSource`, :class:`GroundTruthAt`), the error measures scored
(:class:`ErrorRecord`), the default error, normalizer and fusion weights
(:class:`ScoringDefaults`), what computed the scores (:class:`RuntimeRecord`), the videos
(:class:`VideoEntry`), the videos skipped (:class:`SkippedVideo`), the anomaly maps stored
(:class:`MapsRecord`) and the identity that ties the files to the record (:class:`SetIdentity`).
The records of facts made elsewhere stay JSON objects: the weights scored (``weights``, the record
of :func:`vadkit.inference.weights.load_scored_model`), the precision choice and the settings the
identity hashed.

:meth:`ScoreSetRecord.from_json` checks every field it reads (its type, its range, the tasks
against each other) and refuses a wrong one with a :class:`~vadkit.errors.DataError` naming the
file and the field; records of format 2 (no record digest, no ``data_format``) and the index
entries of vadkit 0.1 (no identity) still read. :meth:`ScoreSetRecord.to_json` is the JSON
written: the keys, their order and their values are those of the records written before the
record was typed, so the on-disk format is unchanged (the layout is described in
:mod:`vadkit.scoring.scoreset`).
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from vadkit._compat import LegacyDictAccess
from vadkit.data.truth import LOCATION_KEY
from vadkit.errors import DataError
from vadkit.jsonfields import JsonFields, JsonObject
from vadkit.scoring.scorefiles import canonical_json, settings_identity, sha256

if TYPE_CHECKING:
    from vadkit.config.settings import ScoreSettings
    from vadkit.scoring.core import VideoLike, WindowScorer

#: The layout version of score sets, the record's ``format`` (3: the record is sealed).
FORMAT_VERSION = 3
#: Where a set's videos came from: a dataset's split, or video files.
SOURCES = ("dataset", "files")
RESCORE = "Re-score the set: vadkit score RUN"
_SHA256 = re.compile(r"^[0-9a-f]{64}$")


def _sha256(value: Any) -> bool:
    return isinstance(value, str) and _SHA256.match(value) is not None


def _size(value: Any) -> bool:
    return (
        isinstance(value, list)
        and len(value) == 2
        and all(isinstance(v, int) and not isinstance(v, bool) and v >= 1 for v in value)
    )


@dataclass(frozen=True)
class GroundTruthAt:
    """``ground_truth_at``: where the ground truth of a dataset's split is (its root, split,
    layout, the label file named explicitly, None: detected next to the data) and every video
    with its frame count; ``vadkit evaluate`` reads the labels from there
    (:func:`vadkit.data.truth.read_frame_labels`, which takes :meth:`to_json`)."""

    root: str
    split: str
    format: str | None
    labels: str | None
    videos: tuple[tuple[str, int], ...]

    @classmethod
    def from_json(cls, f: JsonFields) -> GroundTruthAt:
        videos = f.get(
            "videos",
            "a list of [name, frame count] pairs",
            lambda v: (
                isinstance(v, list)
                and all(
                    isinstance(p, list)
                    and len(p) == 2
                    and isinstance(p[0], str)
                    and isinstance(p[1], int)
                    and not isinstance(p[1], bool)
                    and p[1] >= 0
                    for p in v
                )
            ),
            null=False,
        )
        return cls(
            f.text("root"),
            f.text("split"),
            f.text("format", null=True),
            f.text("labels", null=True),
            tuple((str(n), int(c)) for n, c in videos),
        )

    @classmethod
    def of(cls, location: Mapping[str, Any]) -> GroundTruthAt:
        """The location :func:`vadkit.data.truth.ground_truth_location` gives, typed."""
        return cls.from_json(JsonFields(dict(location), LOCATION_KEY, "the ground truth", RESCORE))

    def to_json(self) -> JsonObject:
        return {
            "root": self.root,
            "split": self.split,
            "format": self.format,
            "labels": self.labels,
            "videos": [[name, count] for name, count in self.videos],
        }


@dataclass(frozen=True)
class DataSource:
    """Where the scored videos came from: ``kind`` ``"dataset"`` (the ``split`` of the dataset at
    ``root``, of layout ``data_format``, its ground truth at ``ground_truth_at``) or ``"files"``
    (the video ``files``); None in sets of vadkit 0.1. ``ground_truth`` names the file the
    labels were read from: recorded by older sets, set in memory when evaluation reads them
    (:func:`vadkit.evaluation.groundtruth.with_ground_truth`). In ``set.json`` these are
    top-level keys (``source``, ``root``, ...)."""

    kind: str | None = None
    root: str | None = None
    split: str | None = None
    data_format: str | None = None
    files: tuple[str, ...] | None = None
    ground_truth_at: GroundTruthAt | None = None
    ground_truth: str | None = None

    @classmethod
    def of_files(cls, paths: Sequence[Any]) -> DataSource:
        """Video files, as given."""
        return cls(kind="files", files=tuple(str(p) for p in paths))

    @classmethod
    def of_dataset(
        cls, root: Any, split: str, data_format: str | None, location: Mapping[str, Any]
    ) -> DataSource:
        """A dataset's split and where its ground truth is (``location``: the JSON of
        :func:`vadkit.data.truth.ground_truth_location`)."""
        return cls(
            kind="dataset",
            root=str(root),
            split=split,
            data_format=data_format,
            ground_truth_at=GroundTruthAt.of(location),
        )

    @classmethod
    def from_json(cls, f: JsonFields) -> DataSource:
        """The source keys of a record (``f`` is the whole record)."""
        return cls(
            kind=f.get("source", "'dataset' or 'files'", lambda v: v in SOURCES, null=True),
            root=f.text("root", null=True),
            split=f.text("split", null=True),
            data_format=f.text("data_format", null=True),
            files=f.texts("files", null=True),
            ground_truth_at=f.maybe(LOCATION_KEY, GroundTruthAt.from_json),
            ground_truth=f.text("ground_truth", null=True),
        )

    def meta_json(self) -> JsonObject:
        """The source keys as the scoring meta held them: the dataset's layout as ``format``
        (the key the settings digest hashes; the record's own ``format`` takes its place)."""
        out: JsonObject = {}
        for key, value in (
            ("source", self.kind),
            ("root", self.root),
            ("split", self.split),
            ("format", self.data_format),
            ("files", None if self.files is None else list(self.files)),
            (
                LOCATION_KEY,
                None if self.ground_truth_at is None else self.ground_truth_at.to_json(),
            ),
            ("ground_truth", self.ground_truth),
        ):
            if value is not None:
                out[key] = value
        return out


@dataclass(frozen=True)
class ErrorRecord:
    """One error measure scored: whether a higher value is more anomalous, how it is stored
    (``"as is"``, or ``"negated"`` for similarities) and what computed it. The fields are None
    in hand-made records that say nothing of it."""

    higher_is_anomalous: bool | None = None
    stored: str | None = None
    module: str | None = None
    #: The measure's constructor parameters (``[score.error_params.NAME]`` with its defaults
    #: filled in); None in sets scored before they could be set (every measure's defaults).
    params: JsonObject | None = None

    @classmethod
    def of(
        cls, higher_is_anomalous: bool, module: str, params: Mapping[str, Any] | None = None
    ) -> ErrorRecord:
        """A measure scored now: similarities are stored negated (every score grows with
        abnormality)."""
        higher = bool(higher_is_anomalous)
        return cls(
            higher,
            "as is" if higher else "negated",
            module,
            None if params is None else dict(params),
        )

    @classmethod
    def from_json(cls, f: JsonFields) -> ErrorRecord:
        return cls(
            f.flag("higher_is_anomalous", null=True),
            f.text("stored", null=True),
            f.text("module", null=True),
            f.obj("params", null=True),
        )

    def to_json(self) -> JsonObject:
        out: JsonObject = {}
        for key in ("higher_is_anomalous", "stored", "module", "params"):
            if getattr(self, key) is not None:
                out[key] = getattr(self, key)
        return out


@dataclass(frozen=True)
class ScoringDefaults:
    """``defaults``: the error measure, normalizer and fusion weights the set's fused scores use
    (and ``vadkit evaluate`` uses unless told otherwise), the named weights ``presets`` (none in
    sets of vadkit 0.1) and the temporal smoothing ``smooth`` (frames; 0 in sets before it)."""

    error: str
    normalizer: str
    alphas: dict[str, float]
    presets: dict[str, dict[str, float]] = field(default_factory=dict)
    smooth: float = 0.0
    #: The normalizers' parameters by name (``[score.normalizer_params]``); None in sets scored
    #: before they could be set (every normalizer's defaults).
    normalizer_params: JsonObject | None = None

    @classmethod
    def of(cls, settings: ScoreSettings, alphas: Mapping[str, float]) -> ScoringDefaults:
        """A run's ``[score]`` settings, with its default fusion weights ``alphas``."""
        return cls(
            settings.error,
            settings.normalizer,
            dict(alphas),
            {k: dict(v) for k, v in settings.presets.items()},
            settings.smooth,
            {k: dict(v) for k, v in settings.normalizer_params.items()},
        )

    @classmethod
    def from_json(cls, f: JsonFields) -> ScoringDefaults:
        presets = {} if f.data.get("presets") is None else f.each("presets", _numbers)
        smooth = f.number("smooth", null=True)
        return cls(
            f.text("error"),
            f.text("normalizer"),
            f.numbers("alphas"),
            presets,
            0.0 if smooth is None else smooth,
            f.obj("normalizer_params", null=True),
        )

    def to_json(self) -> JsonObject:
        out: JsonObject = {
            "error": self.error,
            "normalizer": self.normalizer,
            "alphas": dict(self.alphas),
            "presets": {k: dict(v) for k, v in self.presets.items()},
            "smooth": self.smooth,
        }
        if self.normalizer_params is not None:
            out["normalizer_params"] = self.normalizer_params
        return out


def _numbers(f: JsonFields) -> dict[str, float]:
    return {name: f.number(name) for name in f.data}


@dataclass(frozen=True)
class RuntimeRecord:
    """``runtime``: what computed the scores, as its scorer describes itself
    (:meth:`vadkit.scoring.core.WindowScorer.describe`): PyTorch's ``device``, ``precision``
    and ``channels_last``, or an exported bundle's engine (``runtime``, its ``version``,
    ``device``, ONNX Runtime's execution ``providers``, ``precision``). What else a scorer says
    of itself is kept as it is in ``extra`` (recorded whole, never cut)."""

    device: str | None = None
    precision: str | None = None
    channels_last: bool | None = None
    runtime: str | None = None
    version: str | None = None
    providers: tuple[str, ...] | None = None
    extra: JsonObject = field(default_factory=dict)

    @classmethod
    def of(cls, described: Mapping[str, Any]) -> RuntimeRecord:
        """A scorer's :meth:`describe`, checked as a record's is."""
        fix = "Make the scorer's describe() give these types."
        return cls.from_json(
            JsonFields(dict(described), "runtime", "the scorer's description", fix)
        )

    @classmethod
    def from_json(cls, f: JsonFields) -> RuntimeRecord:
        return cls(
            f.text("device", null=True),
            f.text("precision", null=True),
            f.flag("channels_last", null=True),
            f.text("runtime", null=True),
            f.text("version", null=True),
            f.texts("providers", null=True),
            {k: v for k, v in f.data.items() if k not in _RUNTIME_KEYS},
        )

    def to_json(self) -> JsonObject:
        """The keys in the order each scorer gives them."""
        order = _RUNTIME_KEYS if self.runtime is not None else _TORCH_KEYS
        out: JsonObject = {}
        for key in order:
            value = getattr(self, key)
            if value is not None:
                out[key] = list(value) if key == "providers" else value
        return out | self.extra


#: The runtime keys of an engine of the bundle runtime, in its order (every key known).
_RUNTIME_KEYS = ("runtime", "version", "device", "providers", "precision", "channels_last")
#: Those of PyTorch, in its order.
_TORCH_KEYS = ("device", "precision", "channels_last", "runtime", "version", "providers")


@dataclass(frozen=True)
class MapsRecord:
    """``maps``: the anomaly maps stored (``vadkit score --maps``): of the error measure
    ``error``, as ``dtype``, at most ``limit`` pixels a side. ``pixel_masks`` names where the
    pixel ground truth was read (set in memory by evaluation)."""

    error: str
    dtype: str
    limit: int
    pixel_masks: str | None = None

    @classmethod
    def from_json(cls, f: JsonFields) -> MapsRecord:
        return cls(
            f.text("error"),
            f.text("dtype"),
            int(f.whole("limit", 1)),
            f.text("pixel_masks", null=True),
        )

    def to_json(self) -> JsonObject:
        out: JsonObject = {"error": self.error, "dtype": self.dtype, "limit": self.limit}
        if self.pixel_masks is not None:
            out["pixel_masks"] = self.pixel_masks
        return out


@dataclass(frozen=True)
class SkippedVideo:
    """A video not scored: its name, frame count and why (too short for one window)."""

    name: str
    num_frames: int
    reason: str | None = None

    @classmethod
    def from_json(cls, f: JsonFields) -> SkippedVideo:
        return cls(f.text("name"), int(f.whole("num_frames")), f.text("reason", null=True))

    def to_json(self) -> JsonObject:
        out: JsonObject = {"name": self.name, "num_frames": self.num_frames}
        if self.reason is not None:
            out["reason"] = self.reason
        return out


@dataclass(frozen=True)
class VideoEntry:
    """One scored video: its name, its file (relative to ``RUN/scores``), its frame count, the
    frames scored and the anomalous ones among them (None: no labels; sets of vadkit 0.1 record
    only the name and file)."""

    name: str
    file: str
    num_frames: int | None = None
    frames_scored: int | None = None
    anomalous_frames: int | None = None

    @classmethod
    def from_json(cls, f: JsonFields) -> VideoEntry:
        return cls(
            f.text("name"),
            f.text("file"),
            f.whole("num_frames", null=True),
            f.whole("frames_scored", null=True),
            f.whole("anomalous_frames", null=True),
        )

    def to_json(self) -> JsonObject:
        out: JsonObject = {"name": self.name, "file": self.file}
        if self.num_frames is not None:
            out["num_frames"] = self.num_frames
        if self.frames_scored is not None:
            out["frames_scored"] = self.frames_scored
        out["anomalous_frames"] = self.anomalous_frames
        return out


@dataclass(frozen=True)
class SetIdentity:
    """``identity``: the scoring settings (the record keys of
    :data:`~vadkit.scoring.scorefiles.SETTINGS_KEYS`, as hashed), their SHA-256, the SHA-256 of
    the weights that scored the set (both also in every video's file), and the SHA-256 of the
    whole record (format 3 on; None in records of format 2)."""

    settings: JsonObject
    settings_sha256: str
    weights_sha256: str | None
    record_sha256: str | None = None

    @classmethod
    def from_json(cls, f: JsonFields) -> SetIdentity:
        return cls(
            f.obj("settings"),
            f.get("settings_sha256", "a SHA-256 (64 hex digits)", _sha256, null=False),
            f.text("weights_sha256", null=True),
            f.get("record_sha256", "a SHA-256 (64 hex digits)", _sha256, null=True),
        )

    def to_json(self) -> JsonObject:
        out: JsonObject = {
            "settings": self.settings,
            "settings_sha256": self.settings_sha256,
            "weights_sha256": self.weights_sha256,
        }
        if self.record_sha256 is not None:
            out["record_sha256"] = self.record_sha256
        return out


@dataclass(frozen=True)
class ScoreSetRecord(LegacyDictAccess):
    """A score set's record (``set.json``), typed and checked.

    The scoring part says how the scores were made: ``source``, ``frames_mode``,
    ``clip_length``, frame ``size`` and ``color``, the ``tasks`` (``error_tasks``: those scored
    per error measure, ``errors``), the ``defaults``, the ``checkpoint`` and ``weights`` scored
    (the record of :func:`vadkit.inference.weights.load_scored_model`; a bundle's holds its
    ``checkpoint`` and ``sha256``), the ``precision_choice`` of ``score.precision = "auto"`` (a
    run's sets; None: no choice made), the ``runtime``, the digest of the ``bundle.json`` that
    scored the set (``bundle_sha256``, a bundle's sets), ``batch_size``, ``total_frames``, the
    ``vadkit`` version, the ``maps`` stored and the videos ``skipped``. The set part is written
    by :func:`~vadkit.scoring.scoreset.save_score_set`: the set's ``name``, the layout
    ``format``, the ``identity``, the ``videos``, ``frames_scored``, ``anomalous_frames``
    (None: no labels), ``seconds``, ``windows_per_second`` and the error measures left out
    (``left_out_errors``: non-finite scores, with the reason). Fields the set's files do not
    record are None (sets of older versions).
    """

    tasks: tuple[str, ...]
    defaults: ScoringDefaults
    source: DataSource = field(default_factory=DataSource)
    frames_mode: str | None = None
    clip_length: int | None = None
    size: tuple[int, int] | None = None
    color: str | None = None
    error_tasks: tuple[str, ...] = ()
    errors: dict[str, ErrorRecord] = field(default_factory=dict)
    checkpoint: str | None = None
    weights: JsonObject | None = None
    precision_choice: JsonObject | None = None
    runtime: RuntimeRecord | None = None
    bundle_sha256: str | None = None
    batch_size: int | None = None
    total_frames: int | None = None
    vadkit: str | None = None
    maps: MapsRecord | None = None
    skipped: tuple[SkippedVideo, ...] = ()
    name: str | None = None
    format: int = FORMAT_VERSION
    identity: SetIdentity | None = None
    videos: tuple[VideoEntry, ...] = ()
    frames_scored: int | None = None
    anomalous_frames: int | None = None
    seconds: float | None = None
    windows_per_second: float | None = None
    left_out_errors: dict[str, str] = field(default_factory=dict)
    #: Fusion weights chosen for the set without test labels (``vadkit search --on pseudo``):
    #: ``preset`` (the name ``--alphas`` takes), ``alphas``, ``criterion`` and what it measured.
    alphas_choice: JsonObject | None = None

    # -- reading and writing -------------------------------------------------------------------
    @classmethod
    def from_json(cls, data: Any, source: str = "set.json", fix: str = RESCORE) -> ScoreSetRecord:
        """Parse and check a record's content read from ``source`` (named in messages, with
        ``fix``); a :class:`~vadkit.errors.DataError` names the field that is missing, of the
        wrong type or at odds with another."""
        f = JsonFields(data, "", source, fix)
        version = f.whole("format", 1, null=True)
        if version is not None and version > FORMAT_VERSION:
            raise DataError(
                f"'{source}' is a score set record of format {version}; this vadkit reads "
                f"formats up to {FORMAT_VERSION}.",
                hint=f"Upgrade vadkit, or {fix[0].lower()}{fix[1:]}",
            )
        size = f.get("size", "[height, width], two whole numbers >= 1", _size, null=True)
        left_out = f.get(
            "left_out_errors",
            "an object of error measures and reasons",
            lambda v: isinstance(v, dict) and all(isinstance(r, str) for r in v.values()),
            null=True,
        )
        record = cls(
            tasks=f.texts("tasks"),
            defaults=ScoringDefaults.from_json(f.sub("defaults")),
            source=DataSource.from_json(f),
            frames_mode=f.text("frames_mode", null=True),
            clip_length=f.whole("clip_length", 1, null=True),
            size=None if size is None else (int(size[0]), int(size[1])),
            color=f.text("color", null=True),
            error_tasks=f.texts("error_tasks", null=True) or (),
            errors={} if f.data.get("errors") is None else f.each("errors", ErrorRecord.from_json),
            checkpoint=f.text("checkpoint", null=True),
            weights=f.obj("weights", null=True),
            precision_choice=f.obj("precision_choice", null=True),
            runtime=f.maybe("runtime", RuntimeRecord.from_json),
            bundle_sha256=f.get("bundle_sha256", "a SHA-256 (64 hex digits)", _sha256, null=True),
            batch_size=f.whole("batch_size", 1, null=True),
            total_frames=f.whole("total_frames", null=True),
            vadkit=f.text("vadkit", null=True),
            maps=f.maybe("maps", MapsRecord.from_json),
            skipped=()
            if f.data.get("skipped") is None
            else f.items("skipped", SkippedVideo.from_json),
            name=f.text("name", null=True),
            format=1 if version is None else int(version),
            identity=f.maybe("identity", SetIdentity.from_json),
            videos=f.items("videos", VideoEntry.from_json),
            frames_scored=f.whole("frames_scored", null=True),
            anomalous_frames=f.whole("anomalous_frames", null=True),
            seconds=f.number("seconds", null=True),
            windows_per_second=f.number("windows_per_second", null=True),
            left_out_errors=dict(left_out or {}),
            alphas_choice=f.obj("alphas_choice", null=True),
        )
        if not record.tasks or len(set(record.tasks)) != len(record.tasks):
            raise f.bad("tasks", "a non-empty list of distinct task names", list(record.tasks))
        if not set(record.error_tasks) <= set(record.tasks):
            raise f.wrong("error_tasks", f"names tasks that 'tasks' {list(record.tasks)} lacks")
        return record

    def meta_json(self) -> JsonObject:
        """The scoring part, as the scoring meta held it (the dataset's layout as ``format``):
        what the settings digest hashes (:func:`~vadkit.scoring.scorefiles.settings_identity`)."""
        out = self.source.meta_json()
        out |= {
            "frames_mode": self.frames_mode,
            "clip_length": self.clip_length,
            "size": None if self.size is None else list(self.size),
            "color": self.color,
        }
        out = {k: v for k, v in out.items() if v is not None}
        out["tasks"] = list(self.tasks)
        out["error_tasks"] = list(self.error_tasks)
        out["errors"] = {k: e.to_json() for k, e in self.errors.items()}
        out["defaults"] = self.defaults.to_json()
        if self.checkpoint is not None:
            out["checkpoint"] = self.checkpoint
        if self.weights is not None:
            out["weights"] = self.weights
        if self.bundle_sha256 is None:  # a run's set: the choice, or None when none was made
            out["precision_choice"] = self.precision_choice
        if self.runtime is not None:
            out["runtime"] = self.runtime.to_json()
        if self.bundle_sha256 is not None:
            out["bundle_sha256"] = self.bundle_sha256
        for key in ("batch_size", "total_frames", "vadkit"):
            if getattr(self, key) is not None:
                out[key] = getattr(self, key)
        if self.maps is not None:
            out["maps"] = self.maps.to_json()
        out["skipped"] = [s.to_json() for s in self.skipped]
        return out

    def to_json(self) -> JsonObject:
        """The record as ``set.json`` holds it (the keys in the order they were always written:
        the layout ``format`` takes the place of the dataset's, which moves to ``data_format``)."""
        out = self.meta_json()
        if self.name is not None:
            out["name"] = self.name
        out["format"] = self.format
        if self.identity is not None:
            out["identity"] = self.identity.to_json()
        out["videos"] = [v.to_json() for v in self.videos]
        if self.source.data_format is not None:
            out["data_format"] = self.source.data_format
        if self.frames_scored is not None:
            out["frames_scored"] = self.frames_scored
            out["anomalous_frames"] = self.anomalous_frames
        if self.seconds is not None:
            out["seconds"] = self.seconds
            out["windows_per_second"] = self.windows_per_second
        out["left_out_errors"] = dict(self.left_out_errors)
        if self.alphas_choice is not None:
            out["alphas_choice"] = self.alphas_choice
        return out

    # -- what readers use ----------------------------------------------------------------------
    @property
    def weights_sha256(self) -> str | None:
        """The SHA-256 of the weights that scored the set (as its weights record has it)."""
        value = (self.weights or {}).get("sha256")
        return value if isinstance(value, str) else None

    @property
    def dataset_format(self) -> str | None:
        """The dataset layout (a ``datasets`` registry name) the set was scored from.

        The record's ``format`` is the set's own layout version (:data:`FORMAT_VERSION`); the
        dataset's is ``data_format``. Sets of format 2 have it in their identity's settings,
        which hashed the scoring meta before its ``format`` was overwritten; sets of video files
        and of vadkit 0.1 have none (None)."""
        value = self.source.data_format
        if value is None and self.identity is not None:
            value = self.identity.settings.get("format")
        return value if isinstance(value, str) else None

    def new_identity(self) -> SetIdentity:
        """The identity of a set saved with this scoring part (no record digest yet)."""
        hashed = settings_identity(self.meta_json())
        return SetIdentity(hashed["settings"], hashed["settings_sha256"], self.weights_sha256)

    def expected_identity(self) -> tuple[str, str] | None:
        """``(weights_sha256, settings_sha256)`` every file of the set must record, checked
        against the record's own settings (None: a set of vadkit 0.1 records none)."""
        identity = self.identity
        if identity is None:
            return None
        if identity.settings_sha256 != sha256(canonical_json(identity.settings)):
            raise DataError(
                f"The record of score set '{self.name}' was edited by hand: its settings no "
                "longer match their digest.",
                hint="Re-score the set with `vadkit score RUN`; do not edit set.json by hand.",
            )
        return (identity.weights_sha256 or "", identity.settings_sha256)

    # -- what scoring writes -------------------------------------------------------------------
    @classmethod
    def for_scoring(
        cls,
        scorer: WindowScorer,
        source: DataSource,
        videos: Sequence[VideoLike],
        *,
        settings: ScoreSettings,
        alphas: Mapping[str, float],
        errors: Mapping[str, ErrorRecord],
        frames_mode: str,
        size: tuple[int, int],
        color: str,
        batch_size: int,
        weights: JsonObject,
        precision_choice: JsonObject | None = None,
        maps: MapsRecord | None = None,
        bundle_sha256: str | None = None,
    ) -> ScoreSetRecord:
        """The scoring part of a set that ``scorer`` (a run's model or a bundle's engine) scores
        from ``videos`` (of ``source``) with a run's ``[score]`` settings and default fusion
        weights ``alphas``: the one shape ``score_run`` and ``score_bundle`` record. ``weights``
        records the weights (its ``checkpoint`` is the record's); a run's set records its
        ``precision_choice`` and the ``maps`` it stores, a bundle's the ``bundle_sha256`` of the
        ``bundle.json`` that scored it."""
        from vadkit._version import __version__

        return cls(
            source=source,
            frames_mode=frames_mode,
            clip_length=int(scorer.clip_length),
            size=(int(size[0]), int(size[1])),
            color=color,
            tasks=tuple(scorer.tasks),
            error_tasks=tuple(scorer.error_tasks),
            errors=dict(errors),
            defaults=ScoringDefaults.of(settings, alphas),
            checkpoint=weights.get("checkpoint"),
            weights=dict(weights),
            runtime=RuntimeRecord.of(scorer.describe()),
            batch_size=int(batch_size),
            total_frames=int(sum(int(v.num_frames) for v in videos)),
            vadkit=__version__,
            maps=maps,
            precision_choice=precision_choice,
            bundle_sha256=bundle_sha256,
        )


def scoring_finish(
    windows: int, skipped: Sequence[Mapping[str, Any]], left_out: Mapping[str, str]
) -> Callable[[ScoreSetRecord], ScoreSetRecord]:
    """The ``finalize`` of :func:`~vadkit.scoring.scoreset.save_score_set` for a scoring pass
    over ``windows`` windows that starts now: the seconds it took and its speed, the videos
    ``skipped`` and the error measures ``left_out`` (non-finite scores; gone from ``errors``),
    as the scoring loop (:func:`vadkit.scoring.core.score_videos`) filled them."""
    start = time.perf_counter()

    def finish(record: ScoreSetRecord) -> ScoreSetRecord:
        seconds = time.perf_counter() - start
        return replace(
            record,
            seconds=round(seconds, 3),
            windows_per_second=round(windows / seconds, 2) if seconds > 0 else None,
            errors={k: v for k, v in record.errors.items() if k not in left_out},
            left_out_errors=dict(left_out),
            skipped=tuple(SkippedVideo(**dict(s)) for s in skipped),
        )

    return finish
