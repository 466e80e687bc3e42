"""Score sets on disk: what ``vadkit score`` writes and ``vadkit evaluate`` reads (no torch).

``RUN/scores/`` holds one ``<set>/<video>.npz`` per video with ``frames`` (indices of the frames
scored), ``labels`` (when known), ``raw.<task>.<key>`` (key: an error measure's name, or
:data:`~vadkit.components.SCORE_KEY` for a task without error measures; oriented scores:
similarities such as PSNR are stored negated so that every score grows with abnormality),
``norm.<task>.<key>`` (the run's default normalizer) and ``fused`` (the run's default error,
normalizer and weights), and ``index.json`` describing every score set.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from vadkit.components import SCORE_KEY
from vadkit.engine.fusion import fuse, get_normalizer, normalized_streams
from vadkit.errors import ConfigError, DataError
from vadkit.registry import NAME_RULE

SCORES_DIR = "scores"
INDEX_FILE = "index.json"
FORMAT_VERSION = 1


# --------------------------------------------------------------------------------------------
# Score sets: what `vadkit score` writes and `vadkit evaluate` reads
# --------------------------------------------------------------------------------------------
@dataclass
class VideoScores:
    """The scores of one video: ``raw[task][key]`` with key an error name or :data:`SCORE_KEY`."""

    name: str
    num_frames: int
    frames: np.ndarray
    labels: np.ndarray | None = None
    raw: dict[str, dict[str, np.ndarray]] = field(default_factory=dict)

    def stream(self, task: str, error: str) -> np.ndarray:
        """The task's raw score stream for ``error`` (a task without error measures has one)."""
        keys = self.raw.get(task)
        if keys is None:
            raise DataError(
                f"Video '{self.name}' has no scores for task '{task}'.",
                hint=f"Scored tasks: {', '.join(sorted(self.raw)) or 'none'}.",
            )
        if error in keys:
            return keys[error]
        if SCORE_KEY in keys:
            return keys[SCORE_KEY]
        raise ConfigError(
            f"Task '{task}' was not scored with the error measure '{error}'.",
            hint=f"Scored error measures: {', '.join(sorted(keys))}. Re-run `vadkit score` "
            "after installing the plugin that provides it.",
        )


@dataclass
class ScoreSet:
    """All scored videos of one set (``testing``, or a named set of video files)."""

    name: str
    meta: dict[str, Any]
    videos: list[VideoScores]

    @property
    def tasks(self) -> list[str]:
        return list(self.meta["tasks"])

    @property
    def errors(self) -> list[str]:
        """Error measures every error-based task was scored with."""
        return list(self.meta.get("errors", {}))

    @property
    def has_labels(self) -> bool:
        return bool(self.videos) and all(v.labels is not None for v in self.videos)

    @property
    def defaults(self) -> dict[str, Any]:
        """The settings the set was scored with: ``error``, ``normalizer``, ``alphas``,
        ``smooth`` and the named fusion weights ``presets`` (none in sets of vadkit 0.1)."""
        return {"presets": {}, **self.meta["defaults"]}


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
    from vadkit.engine.io import atomic_write

    with atomic_write(path) as fh:
        json.dump(data, fh, indent=2, default=json_default)
        fh.write("\n")


def json_default(obj: Any) -> Any:
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(f"{type(obj).__name__} is not JSON serialisable")


def write_video_scores(
    path: Path, video: VideoScores, extra: Mapping[str, np.ndarray] | None = None
) -> None:
    """Write one video's scores to ``path`` (``.npz``) atomically."""
    from vadkit.engine.io import atomic_write

    arrays: dict[str, np.ndarray] = {
        "frames": np.asarray(video.frames, np.int64),
        "num_frames": np.asarray(video.num_frames, np.int64),
    }
    if video.labels is not None:
        arrays["labels"] = np.asarray(video.labels, np.uint8)
    for task, keys in video.raw.items():
        for key, values in keys.items():
            arrays[f"raw.{task}.{key}"] = np.asarray(values)
    arrays.update(extra or {})
    with atomic_write(path, "wb") as fh:
        np.savez(fh, **arrays)  # type: ignore[arg-type]


def read_video_scores(path: Path, name: str) -> VideoScores:
    try:
        with np.load(path) as data:
            arrays = {k: data[k] for k in data.files}
    except (OSError, ValueError, EOFError) as exc:
        raise DataError(
            f"Cannot read the scores of video '{name}' from {path}: {exc}.",
            hint="Re-score the run with `vadkit score RUN`.",
        ) from None
    raw: dict[str, dict[str, np.ndarray]] = {}
    for key, values in arrays.items():
        if key.startswith("raw."):
            _, task, sub = key.split(".", 2)
            raw.setdefault(task, {})[sub] = values.astype(np.float64)
    return VideoScores(
        name=name,
        num_frames=int(arrays["num_frames"]),
        frames=arrays["frames"],
        labels=arrays.get("labels"),
        raw=raw,
    )


def load_scores(run_dir: str | Path, name: str = "testing") -> ScoreSet:
    """The score set ``name`` of a run, as written by :func:`score_run`."""
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise DataError(f"Run folder {run_dir} does not exist.", hint="Check the path.")
    sets = read_index(run_dir)["sets"]
    if not sets:
        raise DataError(
            f"Run {run_dir} has no scores yet.",
            hint=f"Score it first: vadkit score {run_dir}",
        )
    if name not in sets:
        raise DataError(
            f"Run {run_dir} has no score set '{name}'.",
            hint=f"Score sets: {', '.join(sorted(sets))}.",
        )
    meta = sets[name]
    base = scores_dir(run_dir)
    videos = []
    for entry in meta["videos"]:
        path = base / entry["file"]
        if not path.is_file():
            raise DataError(
                f"The scores of video '{entry['name']}' are missing: {path}.",
                hint=f"Re-score the run: vadkit score {run_dir}",
            )
        videos.append(read_video_scores(path, entry["name"]))
    return ScoreSet(name=name, meta=meta, videos=videos)


def safe_file_stem(name: str) -> str:
    """A file name for a video name (path separators and odd characters replaced)."""
    stem = re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("._") or "video"
    return stem


def check_set_name(name: str) -> str:
    if not NAME_RULE.match(name) and not re.match(r"^[A-Za-z0-9][A-Za-z0-9_-]*$", name):
        raise ConfigError(
            f"Score set name {name!r} is not a plain folder name.",
            hint="Use letters, digits, '-' and '_' only, e.g. --name clips",
        )
    return name


def save_score_set(
    run_dir: str | Path,
    name: str,
    videos: Iterable[VideoScores],
    meta: dict[str, Any],
) -> dict[str, Any]:
    """Write each video's scores (with the defaults' normalised and fused scores) and the index.

    ``meta["defaults"]`` holds ``error``, ``normalizer`` and ``alphas``; ``meta["tasks"]`` the
    tasks. Returns the index entry of the set.
    """
    check_set_name(name)
    base = scores_dir(run_dir) / name
    defaults = meta["defaults"]
    _, normalizer = get_normalizer(defaults["normalizer"])
    entries: list[dict[str, Any]] = []
    stems: set[str] = set()
    for video in videos:
        stem = safe_file_stem(video.name)
        while stem in stems:
            stem += "_"
        stems.add(stem)
        extra: dict[str, np.ndarray] = {}
        if video.frames.size:
            for task, keys in video.raw.items():
                for key, values in keys.items():
                    extra[f"norm.{task}.{key}"] = np.asarray(
                        normalizer.fit_transform(values), np.float64
                    )
            streams = normalized_streams(video, meta["tasks"], defaults["error"], normalizer)
            extra["fused"] = fuse(streams, defaults["alphas"])
        write_video_scores(base / f"{stem}.npz", video, extra)
        entries.append(
            {
                "name": video.name,
                "file": f"{name}/{stem}.npz",
                "num_frames": video.num_frames,
                "frames_scored": int(video.frames.size),
                "anomalous_frames": None if video.labels is None else int(video.labels.sum()),
            }
        )
    for stale in base.glob("*.npz"):  # left by an earlier scoring of this set
        if stale.stem not in stems:
            stale.unlink()
    meta = dict(meta)
    meta["videos"] = entries
    meta["frames_scored"] = sum(e["frames_scored"] for e in entries)
    labelled = [e["anomalous_frames"] for e in entries]
    meta["anomalous_frames"] = None if None in labelled else sum(labelled)
    write_index_entry(run_dir, name, meta)
    return meta


def write_index_entry(run_dir: str | Path, name: str, meta: Mapping[str, Any]) -> None:
    """Set the entry of score set ``name`` in ``RUN/scores/index.json`` (written atomically)."""
    index = read_index(run_dir)
    index["format"] = FORMAT_VERSION
    index["sets"][name] = dict(meta)
    write_json(scores_dir(run_dir) / INDEX_FILE, index)
