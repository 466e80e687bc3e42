"""Score sets on disk: what ``vadkit score`` writes and ``vadkit evaluate`` reads (no torch).

Layout (format 3; format 2 had no ``identity.record_sha256``)::

    RUN/scores/<set>/set.json      the set's record: settings, videos, identity (the truth)
    RUN/scores/<set>/<video>.npz   one file per video
    RUN/scores/index.json          every set's record, rebuilt from the set.json files (a cache)

The record is typed, :class:`vadkit.scoring.record.ScoreSetRecord` (a set's
:attr:`ScoreSet.meta`, what :func:`save_score_set` returns): ``from_json`` checks every field of
``set.json`` (a wrong one is a DataError naming the file and the field), ``to_json`` is the file.

A video's file holds ``frames`` (indices of the frames scored), ``raw.<task>.<key>`` (key: an error measure's name, or :data:`~vadkit.components.SCORE_KEY` for
a task without error measures; oriented scores: similarities such as PSNR are stored negated so
that every score grows with abnormality), ``norm.<task>.<key>`` (the default error measure's
streams rescaled by the run's default normalizer), ``fused`` (the run's default error,
normalizer and weights) and its identity: ``identity.weights_sha256`` (SHA-256 of the weights
that scored it) and ``identity.settings_sha256`` (of the scoring settings, recorded in
``set.json``). :func:`load_scores` refuses a set whose files disagree with its record, and a
record edited by hand (its identity holds the SHA-256 of all of it,
:func:`vadkit.scoring.scorefiles.seal_record`; records of format 2 still load, their settings
checked as before).
Scored with ``--maps``, a file also holds ``maps.<task>`` (float16 ``[F, h, w]``: each error-based
task's raw anomaly map of every scored frame, for the record's ``maps.error``, at the reduced size
``maps.size``; :mod:`vadkit.inference.maps`).

No file holds test labels: ``vadkit score`` opens none, and the record says where the ground
truth is (``ground_truth_at``), for ``vadkit evaluate`` to read (:mod:`vadkit.evaluation.groundtruth`).
Sets written by earlier versions also hold ``labels`` (and, with ``--maps``, ``masks``: the pixel
masks at the maps' size, bit-packed per frame); they are still read and used.

A set is written whole into a staging folder and swapped into place
(:mod:`vadkit.storage.folders`): a process killed while scoring leaves the previous set as it was.
"""

from __future__ import annotations

import contextlib
import json
import re
import warnings
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from vadkit.components import SCORE_KEY, ScoreNormalizer
from vadkit.errors import ConfigError, DataError
from vadkit.scoring.core import VideoScores
from vadkit.scoring.fusion import fuse, get_normalizer, normalized_streams
from vadkit.scoring.record import (
    FORMAT_VERSION,
    ScoreSetRecord,
    ScoringDefaults,
    VideoEntry,
)
from vadkit.scoring.scorefiles import (
    ID_KEYS,
    check_record,
    drop_errors,
    identity_problem,
    json_default,
    read_arrays,
    seal_record,
    write_arrays,
)
from vadkit.storage.folders import staged_folder, wait_for_swap

SCORES_DIR = "scores"
INDEX_FILE = "index.json"
SET_FILE = "set.json"
#: The record key of the fusion weights chosen for a set without test labels
#: (``vadkit search --on pseudo``), usable as the preset its ``preset`` names.
ALPHAS_CHOICE = "alphas_choice"
#: A score set's name: a plain folder name (letters, digits, '-' and '_'; the whole name, so a
#: trailing newline is refused too).
SET_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]*")


# --------------------------------------------------------------------------------------------
# Score sets: what `vadkit score` writes and `vadkit evaluate` reads
# --------------------------------------------------------------------------------------------
@dataclass
class ScoreSet:
    """All scored videos of one set (``testing``, or a named set of video files) and the set's
    record ``meta`` (:class:`~vadkit.scoring.record.ScoreSetRecord`, its ``set.json``)."""

    name: str
    meta: ScoreSetRecord
    videos: list[VideoScores]

    @property
    def tasks(self) -> list[str]:
        return list(self.meta.tasks)

    @property
    def errors(self) -> list[str]:
        """Error measures every error-based task was scored with."""
        return list(self.meta.errors)

    @property
    def left_out_errors(self) -> dict[str, str]:
        """Error measures left out at scoring (non-finite scores), with the reason."""
        return dict(self.meta.left_out_errors)

    @property
    def has_labels(self) -> bool:
        return bool(self.videos) and all(v.labels is not None for v in self.videos)

    @property
    def data_format(self) -> str | None:
        """The dataset layout the set was scored from
        (:attr:`~vadkit.scoring.record.ScoreSetRecord.dataset_format`)."""
        return self.meta.dataset_format

    @property
    def defaults(self) -> ScoringDefaults:
        """The settings the set was scored with: ``error``, ``normalizer``, ``alphas``,
        ``smooth``, the named fusion weights ``presets`` (none in sets of vadkit 0.1; the
        fusion weights chosen without test labels for the set, :func:`record_alphas_choice`,
        are the preset they name) and the normalizers' parameters ``normalizer_params`` (None
        in sets scored before they could be set: every normalizer's defaults)."""
        defaults = self.meta.defaults
        choice = self.meta.alphas_choice
        if isinstance(choice, dict) and isinstance(choice.get("alphas"), dict):
            presets = {**defaults.presets, str(choice["preset"]): dict(choice["alphas"])}
            return replace(defaults, presets=presets)
        return defaults

    def normalizer(self, name: str | ScoreNormalizer | None = None) -> tuple[str, ScoreNormalizer]:
        """``(name, normalizer)``: ``name`` (default: the set's normalizer) built with the
        parameters the set records for it, as every reader of the set rescales its scores."""
        defaults = self.defaults
        return get_normalizer(name or defaults.normalizer, defaults.normalizer_params)


def scores_dir(run_dir: str | Path) -> Path:
    return Path(run_dir) / SCORES_DIR


def read_index(run_dir: str | Path) -> dict[str, Any]:
    """``RUN/scores/index.json`` (an empty index when the run was never scored)."""
    path = scores_dir(run_dir) / INDEX_FILE
    if not path.is_file():
        return {"format": FORMAT_VERSION, "sets": {}}
    try:
        index = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise DataError(
            f"Cannot read the score index {path}: {exc}.",
            hint=f"Re-create it with: vadkit score {run_dir}",
        ) from None
    if not isinstance(index, dict) or not isinstance(index.get("sets"), dict):
        raise DataError(f"{path} is not a vadkit score index.", hint=f"vadkit score {run_dir}")
    return index


def write_json(path: Path, data: Any) -> None:
    from vadkit.storage.io import atomic_write

    with atomic_write(path) as fh:
        json.dump(data, fh, indent=2, default=json_default)
        fh.write("\n")


def write_video_scores(
    path: Path, video: VideoScores, extra: Mapping[str, np.ndarray] | None = None
) -> None:
    """Write one video's scores to ``path`` (``.npz``) atomically."""
    arrays: dict[str, np.ndarray] = {
        "frames": np.asarray(video.frames, np.int64),
        "num_frames": np.asarray(video.num_frames, np.int64),
    }
    if video.labels is not None:
        arrays["labels"] = np.asarray(video.labels, np.uint8)
    for task, keys in video.raw.items():
        for key, values in keys.items():
            arrays[f"raw.{task}.{key}"] = np.asarray(values)
    for task, values in video.maps.items():
        arrays[f"maps.{task}"] = np.asarray(values, np.float16)
    if video.masks is not None:
        arrays["masks"] = np.packbits(
            np.asarray(video.masks, bool).reshape(len(video.masks), -1), axis=1
        )
    arrays.update(extra or {})
    write_arrays(path, arrays)


def video_from_arrays(arrays: Mapping[str, np.ndarray], name: str) -> VideoScores:
    raw: dict[str, dict[str, np.ndarray]] = {}
    for key, values in arrays.items():
        if key.startswith("raw."):
            _, task, sub = key.split(".", 2)
            raw.setdefault(task, {})[sub] = values.astype(np.float64)
    maps = {k.split(".", 1)[1]: v for k, v in arrays.items() if k.startswith("maps.")}
    masks = None
    if "masks" in arrays and maps:
        shape = next(iter(maps.values())).shape
        count = shape[1] * shape[2]
        masks = np.unpackbits(arrays["masks"], axis=1, count=count).astype(bool).reshape(shape)
    return VideoScores(
        name=name,
        num_frames=int(arrays["num_frames"]),
        frames=arrays["frames"],
        labels=arrays.get("labels"),
        raw=raw,
        maps=maps,
        masks=masks,
    )


def read_video_scores(path: Path, name: str) -> VideoScores:
    return video_from_arrays(read_arrays(path, name), name)


def list_score_sets(run_dir: str | Path) -> list[str]:
    """Names of the run's score sets (folders with a record, and sets of vadkit 0.1)."""
    base = scores_dir(run_dir)
    names = {p.parent.name for p in base.glob(f"*/{SET_FILE}") if not p.parent.name.startswith(".")}
    with contextlib.suppress(DataError):  # an unreadable index lists nothing more
        names |= {n for n in read_index(run_dir)["sets"] if (base / n).is_dir()}
    return sorted(names)


def _record_json(folder: Path) -> dict[str, Any]:
    """A set's ``set.json`` as JSON, refused when it was edited by hand (:func:`check_record`)."""
    path = folder / SET_FILE
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise DataError(
            f"Cannot read the score set record {path}: {exc}.",
            hint=f"Re-score the set: vadkit score {folder.parent.parent}",
        ) from None
    if not isinstance(record, dict) or not isinstance(record.get("identity"), dict):
        raise DataError(
            f"{path} is not a vadkit score set record.",
            hint=f"Re-score the set: vadkit score {folder.parent.parent}",
        )
    check_record(record, path)
    return record


def read_set_record(folder: Path) -> ScoreSetRecord:
    """A set's ``set.json``, typed and checked (:meth:`ScoreSetRecord.from_json`), refused when
    it was edited by hand (:func:`check_record`)."""
    return _typed(_record_json(folder), folder)


def _typed(record: dict[str, Any], folder: Path) -> ScoreSetRecord:
    fix = f"Re-score the set: vadkit score {folder.parent.parent}"
    return ScoreSetRecord.from_json(record, str(folder / SET_FILE), fix)


def load_scores(run_dir: str | Path, name: str = "testing") -> ScoreSet:
    """The score set ``name`` of a run, as written by :func:`save_score_set`.

    Its ``meta`` is the set's record, typed (:class:`~vadkit.scoring.record.ScoreSetRecord`).
    Raises :class:`DataError` when the set is missing, a file is missing or unreadable, its
    record is edited or has a wrong field (named), or its files disagree with its record
    (another checkpoint or other settings), naming the files.
    """
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise DataError(f"Run folder {run_dir} does not exist.", hint="Check the path.")
    base = scores_dir(run_dir)
    if SET_NAME.fullmatch(name):
        wait_for_swap(base / name)  # a set a killed writer moved aside is put back
    if (base / name / SET_FILE).is_file():
        meta = read_set_record(base / name)
    else:
        meta = _legacy_record(run_dir, name)
    videos = []
    wrong: list[str] = []
    expected = meta.expected_identity()
    for entry in meta.videos:
        path = base / entry.file
        if not path.is_file():
            raise DataError(
                f"The scores of video '{entry.name}' are missing: {path}.",
                hint=f"Re-score the run: vadkit score {run_dir}",
            )
        arrays = read_arrays(path, entry.name)
        if expected is not None:
            problem = identity_problem(arrays, expected)
            if problem:
                wrong.append(f"{entry.file} ({problem})")
        videos.append(video_from_arrays(arrays, entry.name))
    if wrong:
        raise DataError(
            f"Score set '{name}' of {run_dir} mixes scores that do not belong together: "
            f"{'; '.join(wrong)}. Its files must all come from the checkpoint and settings of "
            f"its record, {base / name / SET_FILE}.",
            hint=f"Nothing was evaluated. Re-score the set: vadkit score {run_dir} (with the "
            "--checkpoint and options it was scored with).",
        )
    return ScoreSet(name=name, meta=meta, videos=videos)


def _legacy_record(run_dir: Path, name: str) -> ScoreSetRecord:
    """The index entry of a set written by vadkit 0.1 (no ``set.json``, no identity)."""
    try:
        sets = read_index(run_dir)["sets"]
    except DataError:  # the index is a cache: a broken one only hides sets of vadkit 0.1
        sets = {}
    known = list_score_sets(run_dir)
    if not known:
        raise DataError(
            f"Run {run_dir} has no scores yet.",
            hint=f"Score it first: vadkit score {run_dir}",
        )
    entry = sets.get(name)
    if not isinstance(entry, dict) or (entry.get("format") or 1) >= 2:
        raise DataError(
            f"Run {run_dir} has no score set '{name}'.",
            hint=f"Score sets: {', '.join(known)}.",
        )
    warnings.warn(
        f"score set '{name}' was written by vadkit 0.1 and records no checkpoint: its files "
        f"cannot be checked against each other; re-score it (vadkit score {run_dir})",
        stacklevel=3,
    )
    where = f"{scores_dir(run_dir) / INDEX_FILE} (set '{name}')"
    return ScoreSetRecord.from_json(entry, where, f"Re-score the set: vadkit score {run_dir}")


def safe_file_stem(name: str) -> str:
    """A file name for a video name (path separators and odd characters replaced)."""
    stem = re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("._") or "video"
    return stem


def check_set_name(name: str) -> str:
    if not SET_NAME.fullmatch(name):
        raise ConfigError(
            f"Score set name {name!r} is not a plain folder name.",
            hint="Use letters, digits, '-' and '_' only, e.g. --name clips",
        )
    return name


def save_score_set(
    run_dir: str | Path,
    name: str,
    videos: Iterable[VideoScores],
    meta: ScoreSetRecord,
    *,
    finalize: Callable[[ScoreSetRecord], ScoreSetRecord] | None = None,
) -> ScoreSetRecord:
    """Write the score set ``name``: each video's scores (with the defaults' normalised and fused
    scores), its record ``set.json``, then swap it in for the old set and rebuild the index.

    ``meta`` is the scoring part of the record (:class:`ScoreSetRecord`; its set part, the
    name, identity, videos and frame counts, is filled here): ``meta.defaults`` the error,
    normalizer and weights of the fused scores, ``meta.weights`` the weights that scored them.
    Error measures in ``left_out_errors`` (``finalize`` may add them) are removed from every
    file. ``finalize(record)`` runs after the last video, before anything is swapped, and
    returns the record to write; an exception from it, or from ``videos``, leaves the old set
    untouched. Returns the record as written (sealed).
    """
    check_set_name(name)
    base = scores_dir(run_dir)
    defaults = meta.defaults
    tasks = list(meta.tasks)
    _, normalizer = get_normalizer(defaults.normalizer, defaults.normalizer_params)
    identity = meta.new_identity()
    tags = {
        ID_KEYS[0]: np.asarray(identity.weights_sha256 or ""),
        ID_KEYS[1]: np.asarray(identity.settings_sha256),
    }
    with staged_folder(base / name) as staging:
        entries: list[VideoEntry] = []
        for video in videos:
            stem = safe_file_stem(video.name)
            while any(e.file == f"{name}/{stem}.npz" for e in entries):
                stem += "_"
            extra = dict(tags)
            if video.frames.size and _has_error(video, tasks, defaults.error):
                streams = normalized_streams(video, tasks, defaults.error, normalizer)
                for task, values in streams.items():
                    key = defaults.error if defaults.error in video.raw[task] else SCORE_KEY
                    extra[f"norm.{task}.{key}"] = values
                extra["fused"] = fuse(streams, defaults.alphas)
            write_video_scores(staging / f"{stem}.npz", video, extra)
            entries.append(
                VideoEntry(
                    name=video.name,
                    file=f"{name}/{stem}.npz",
                    num_frames=int(video.num_frames),
                    frames_scored=int(video.frames.size),
                    anomalous_frames=None if video.labels is None else int(video.labels.sum()),
                )
            )
        labelled = [e.anomalous_frames for e in entries]
        record = replace(
            meta,
            name=name,
            format=FORMAT_VERSION,
            identity=identity,
            videos=tuple(entries),
            frames_scored=sum(e.frames_scored or 0 for e in entries),
            anomalous_frames=None if None in labelled else sum(a or 0 for a in labelled),
        )
        if finalize is not None:
            record = finalize(record)
        if not entries:
            raise DataError(
                f"No video was scored: score set '{name}' would be empty.",
                hint="Score videos of at least clip_length + 1 frames; the previous set, if "
                "any, is kept.",
            )
        left_out = set(record.left_out_errors)
        if left_out:
            drop_errors(staging, [(e.name, e.file) for e in entries], left_out, defaults.error)
        sealed = seal_record(record.to_json())
        write_json(staging / SET_FILE, sealed)
    rebuild_index(run_dir)
    return _typed(sealed, base / name)  # what a reader of the set gets


def record_alphas_choice(run_dir: str | Path, name: str, choice: Mapping[str, Any]) -> dict:
    """Add fusion weights chosen without test labels to score set ``name``'s record, under
    :data:`ALPHAS_CHOICE`: ``choice`` holds ``preset`` (the name that evaluates with them,
    ``--alphas NAME``), ``alphas``, ``criterion`` and what it measured. The record is sealed
    again and replaced atomically (its scores and settings are untouched); the caller holds
    the run's lock. A set scored again starts without it. Returns the new record."""
    folder = scores_dir(run_dir) / check_set_name(name)
    if not (folder / SET_FILE).is_file():
        raise DataError(
            f"Score set '{name}' of {run_dir} has no record ({SET_FILE}) to add a choice to.",
            hint=f"Score it again: vadkit score {run_dir} --name {name}",
        )
    record = _record_json(folder)
    record[ALPHAS_CHOICE] = dict(choice)
    record = seal_record(record)
    write_json(folder / SET_FILE, record)
    rebuild_index(run_dir)
    return record


def _has_error(video: VideoScores, tasks: Iterable[str], error: str) -> bool:
    return all(error in video.raw.get(t, {}) or SCORE_KEY in video.raw.get(t, {}) for t in tasks)


def rebuild_index(run_dir: str | Path) -> dict[str, Any]:
    """Rewrite ``RUN/scores/index.json`` from the sets' records (and keep the entries of sets of
    vadkit 0.1, which have none). Returns the index."""
    base = scores_dir(run_dir)
    try:
        old = read_index(run_dir)["sets"]
    except DataError:
        old = {}
    sets: dict[str, Any] = {}
    for name in list_score_sets(run_dir):
        if (base / name / SET_FILE).is_file():
            try:  # the record as it is on disk, once its fields are checked
                record = _record_json(base / name)
                _typed(record, base / name)
                sets[name] = record
            except DataError:
                continue
        elif name in old:
            sets[name] = old[name]
    index = {"format": FORMAT_VERSION, "sets": sets}
    write_json(base / INDEX_FILE, index)
    return index
