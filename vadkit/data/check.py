"""Check a dataset: count its videos and frames, decode every frame, read its ground truth.

:func:`check_dataset` never stops at the first problem: it reports every one it finds, each with
the file it concerns and a hint, next to a summary of every split.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from vadkit.config.settings import DataSettings
from vadkit.data.formats import SPLITS, DatasetFormat, detect_formats, resolve_format
from vadkit.data.labels import find_label_candidates, read_labels
from vadkit.data.sources import FrameFolder, FrameSource, VideoFile, same_size_frames
from vadkit.errors import DataError


@dataclass
class Problem:
    """One problem found in a dataset; ``severity`` is ``"error"`` or ``"warning"``."""

    severity: str
    message: str
    hint: str | None = None
    split: str | None = None
    video: str | None = None


@dataclass
class _VideoInfo:
    name: str
    frames: int
    resolution: str | None
    ok: bool


def _kind(source: FrameSource) -> str:
    """What a video is on disk: ``"video file"`` (decoded with PyAV) or ``"frame folder"``."""
    if isinstance(source, VideoFile):
        return "video file"
    return "frame folder" if isinstance(source, FrameFolder) else type(source).__name__


def _why(root: Path, split: str, name: str, fmt: DatasetFormat, named: bool) -> str:
    """Why ``fmt`` reads ``root``'s ``split``: named, or what it found and what else matched."""
    if named:
        return f"named explicitly (format {name})"
    reason = fmt.explain(root, split)
    matches = detect_formats(root, split)
    chosen = next((d.priority for d in matches if d.name == name), fmt.priority)
    others = [f"{d.name} (priority {d.priority})" for d in matches if d.name != name]
    if others:
        return f"{reason}; also matched: {', '.join(others)}; {name} has priority {chosen}"
    return f"{reason}; no other layout matches"


def _inspect(source: FrameSource, decode: bool) -> _VideoInfo:
    """Count (and with ``decode``, decode) a video's frames; raises DataError on the first fault."""
    if not decode:
        if isinstance(source, FrameFolder):
            from PIL import Image

            files = source.files
            try:
                with Image.open(files[0]) as img:
                    w, h = img.size
            except OSError as exc:
                raise DataError(
                    f"Cannot decode frame '{files[0]}': {exc}.",
                    hint="The file is corrupt or not an image: re-extract it.",
                ) from None
            return _VideoInfo(source.name, len(files), f"{w}x{h}", True)
        if isinstance(source, VideoFile):
            import av

            try:
                with av.open(str(source.path)) as container:
                    stream = container.streams.video[0]
                    return _VideoInfo(
                        source.name,
                        int(stream.frames or 0),
                        f"{stream.width}x{stream.height}",
                        True,
                    )
            except (av.FFmpegError, OSError, IndexError) as exc:
                raise DataError(
                    f"Cannot open video file '{source.path}': {exc}.",
                    hint="The file is truncated or corrupt: copy it again or re-encode it.",
                ) from None
    count, size = 0, None
    for _, image in same_size_frames(source):
        size = size or image.size
        count += 1
    assert size is not None
    return _VideoInfo(source.name, count, f"{size[0]}x{size[1]}", True)


def _progress(enabled: bool, total: int) -> Any:
    import contextlib

    if not enabled or not sys.stderr.isatty():
        return contextlib.nullcontext(None)
    from rich.console import Console
    from rich.progress import Progress

    progress = Progress(console=Console(stderr=True), transient=True)
    progress.add_task("Checking videos", total=total)
    return progress


def check_dataset(
    root: str | Path,
    *,
    format: str | None = None,
    labels: str | Path | None = None,
    splits: Sequence[str] = SPLITS,
    clip_length: int = DataSettings.clip_length,
    decode: bool = True,
    progress: bool = False,
) -> dict[str, Any]:
    """Check the ``splits`` of the dataset at ``root``; returns a JSON-ready report.

    ``decode`` decodes every frame (finds corrupt files; slower), otherwise only the file
    listings and the first frame's header are read. The report holds, per split: the format and
    why it was chosen, videos (each with its kind, file or frame folder, path, frames and
    resolution), frames, resolutions, short videos, ground truth used and anomalous frames (per
    video too); then every problem found and ``ok`` (no error-level problem).
    """
    root = Path(root).expanduser()
    problems: list[Problem] = []
    report: dict[str, Any] = {"root": str(root.resolve()), "splits": {}}
    detected: dict[str, tuple[str, Any]] = {}
    unknown: DataError | None = None
    for split in splits:
        try:
            detected[split] = resolve_format(root, split, format)
        except DataError as exc:
            unknown = unknown or exc
            problems.append(Problem("warning", exc.message, exc.hint, split))
    if not detected:
        assert unknown is not None
        raise DataError(
            f"'{root}' holds no {' or '.join(splits)} videos in any known layout.",
            hint=unknown.hint,
        )

    for split, (fmt_name, fmt) in detected.items():
        try:
            sources = fmt.list_videos(root, split)
        except DataError as exc:
            problems.append(Problem("error", exc.message, exc.hint, split))
            sources = []
        infos: list[_VideoInfo] = []
        with _progress(progress, len(sources)) as bar:
            for source in sources:
                try:
                    infos.append(_inspect(source, decode))
                except DataError as exc:
                    problems.append(Problem("error", exc.message, exc.hint, split, source.name))
                    infos.append(_VideoInfo(source.name, 0, None, False))
                if bar is not None:
                    bar.advance(bar.task_ids[0])
        summary: dict[str, Any] = {
            "format": fmt_name,
            "format_reason": _why(root, split, fmt_name, fmt, bool(format)),
            "videos": len(infos),
            "video_files": sum(_kind(s) == "video file" for s in sources),
            "frame_folders": sum(_kind(s) == "frame folder" for s in sources),
            "video_list": [
                {
                    "name": i.name,
                    "kind": _kind(s),
                    "path": _relative(s.path, root),
                    "frames": i.frames,
                    "resolution": i.resolution,
                }
                for s, i in zip(sources, infos, strict=True)
            ],
            "frames": sum(i.frames for i in infos),
            "resolution": sorted({i.resolution for i in infos if i.resolution}),
            "frames_per_video": {i.name: i.frames for i in infos},
            "unreadable_videos": [i.name for i in infos if not i.ok],
            "short_videos": [],
            "ground_truth": None,
            "label_alternatives": [],
            "labelled_videos": 0,
            "label_coverage": 0.0,
            "anomalous_frames": None,
        }
        if not sources and not any(p.split == split and p.severity == "error" for p in problems):
            problems.append(Problem("error", f"'{root}' has no {split} videos.", None, split))
        for info in infos:
            if info.ok and info.frames < clip_length + 1:
                summary["short_videos"].append(info.name)
                problems.append(
                    Problem(
                        "warning",
                        f"Video '{info.name}' has {info.frames} frames, fewer than "
                        f"clip_length+1 = {clip_length + 1}.",
                        (
                            "It has no test window in either frames mode: `vadkit score` skips "
                            "it with a warning and lists it in the score set's 'skipped' (and "
                            "exits 2 when no video is left). To score it, train with a "
                            f"data.clip_length below {info.frames}."
                            if split == "testing"
                            else "It has no training window and is skipped in training."
                        ),
                        split,
                        info.name,
                    )
                )
        if len(summary["resolution"]) > 1:
            problems.append(
                Problem(
                    "warning",
                    f"The {split} videos have different resolutions: "
                    f"{', '.join(summary['resolution'])}.",
                    "They are all resized to the same frame size when opened.",
                    split,
                )
            )
        _check_labels(root, split, fmt, infos, labels, summary, problems)
        report["splits"][split] = summary

    report["problems"] = [asdict(p) for p in problems]
    report["ok"] = not any(p.severity == "error" for p in problems)
    return report


def _relative(path: Path, root: Path) -> str:
    try:
        return str(path.relative_to(root))
    except ValueError:
        return str(path)


def _check_labels(
    root: Path,
    split: str,
    fmt: Any,
    infos: list[_VideoInfo],
    labels: str | Path | None,
    summary: dict[str, Any],
    problems: list[Problem],
) -> None:
    if labels is not None:
        candidates = [Path(labels).expanduser()] if split == "testing" else []
    else:
        candidates = (
            find_label_candidates(fmt.label_dirs(root, split)) if split == "testing" else []
        )
    if not candidates:
        if split == "testing":
            problems.append(
                Problem(
                    "warning",
                    f"No ground truth found for the testing videos of '{root}'.",
                    "Scores can be computed but not evaluated; pass the label file with --labels.",
                    split,
                )
            )
        return
    if not all(i.ok for i in infos):
        problems.append(
            Problem(
                "warning",
                f"Ground truth '{candidates[0]}' was not checked: some videos cannot be read.",
                "Fix the videos first.",
                split,
            )
        )
        return
    counts = [(i.name, i.frames) for i in infos]
    read: Callable[[Path], dict[str, np.ndarray]] = lambda p: read_labels(p, counts)  # noqa: E731
    try:
        used = read(candidates[0])
    except DataError as exc:
        problems.append(Problem("error", exc.message, exc.hint, split))
        return
    summary["ground_truth"] = str(candidates[0].resolve())
    summary["labelled_videos"] = len(used)
    summary["label_coverage"] = len(used) / max(1, len(infos))
    summary["anomalous_frames"] = int(sum(int(v.sum()) for v in used.values()))
    summary["anomalous_frames_per_video"] = {k: int(v.sum()) for k, v in used.items()}
    for alt in candidates[1:]:
        entry: dict[str, Any] = {"path": str(alt.resolve())}
        try:
            other = read(alt)
            differ = int(sum(int(np.sum(other[k] != used[k])) for k in used))
            entry.update(agrees=differ == 0, differing_frames=differ)
            if differ:
                problems.append(
                    Problem(
                        "warning",
                        f"The ground truth '{alt.name}' disagrees with '{candidates[0].name}' "
                        f"on {differ} frames; '{candidates[0].name}' is used.",
                        "Pass the one you mean with --labels; runs record which one they used.",
                        split,
                    )
                )
        except DataError as exc:
            entry.update(agrees=False, error=exc.message)
        summary["label_alternatives"].append(entry)
