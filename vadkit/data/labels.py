"""Frame-level ground truth: read the label files of the common benchmarks.

Supported, detected next to the data or named explicitly:

* ``.mat`` with a ``gt`` cell (UCSD): per test video one or more ``[start; end]`` frame ranges,
  1-based and inclusive;
* UCSD's own ``UCSDped*.m`` script (``TestVideoFile{end+1}.gt_frame = [61:180];``);
* a folder of per-video ``.npy`` frame masks (ShanghaiTech ``test_frame_mask/``, the
  ``labels/`` folder of the ``video-folder`` layout);
* a CSV file of anomalous frame ranges, ``video,start,end``, 0-based and inclusive
  (:mod:`vadkit.data.ranges`);
* one concatenated ``frame_labels_*.npy``, split by the videos' frame counts;
* a folder of Avenue pixel-mask files ``<N>_label.mat`` (``volLabel``; a frame is anomalous iff
  any pixel of its mask is set).

Every reader returns one ``uint8`` array of 0/1 per video and checks its length against the
video's frame count. A value that is not a label is an error naming the file, the index and the
value: frame labels other than 0 and 1 (NaN, 3, -1, ...), frame numbers of a range that are not
whole (NaN, 2.5) or not 1-based, and NaN or inf in a pixel mask (whose pixels are 0 or nonzero).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from vadkit.data.ranges import is_ranges_csv, read_csv_ranges
from vadkit.data.sources import is_ignored, natural_key
from vadkit.errors import DataError

#: ``(video name, number of frames)`` for every video of a split, in the split's order.
VideoCounts = Sequence[tuple[str, int]]

#: Folders of per-video masks looked for in a dataset's label folders.
LABEL_FOLDERS = ("test_frame_mask", "testing_label_mask", "labels")

_HINT_LABELS = (
    "Use the label file made for this dataset (pass it explicitly with --labels), "
    "or check that no video or frame is missing."
)


def label_kind(path: Path) -> str | None:
    """What kind of ground truth ``path`` holds, or None when it is none of the known kinds."""
    if path.is_dir():
        files = [p for p in path.iterdir() if not is_ignored(p) and p.is_file()]
        if any(p.name.endswith("_label.mat") for p in files):
            return "pixel_masks"
        if any(p.suffix == ".npy" for p in files):
            return "frame_masks"
        return None
    suffix = path.suffix.lower()
    if suffix == ".csv":
        return "ranges_csv" if is_ranges_csv(path) else None
    if suffix == ".npy":
        return "concatenated"
    if suffix == ".m":
        try:
            text = path.read_text(errors="replace")
        except OSError:
            return None
        return "ucsd_m" if "gt_frame" in text else None
    if suffix == ".mat":
        names = _mat_variables(path)
        if "gt" in names:
            return "intervals"
        if "volLabel" in names:
            return "pixel_mask"
    return None


def _mat_variables(path: Path) -> set[str]:
    import scipy.io

    try:
        return {name for name, _, _ in scipy.io.whosmat(str(path))}
    except Exception:
        return set()


def find_label_candidates(dirs: Sequence[Path]) -> list[Path]:
    """Ground-truth files and folders found in ``dirs``, the preferred one first.

    Order: per-video masks, CSV ranges, pixel masks, ``.mat`` intervals, UCSD ``.m``,
    concatenated ``.npy``. Folders of masks are looked for under the names ``test_frame_mask``,
    ``testing_label_mask`` and ``labels``.
    """
    found: dict[str, list[Path]] = {}
    seen: set[Path] = set()
    for folder in dirs:
        if not folder.is_dir():
            continue
        for name in LABEL_FOLDERS:
            sub = folder / name
            if sub.is_dir() and sub not in seen and (kind := label_kind(sub)):
                seen.add(sub)
                found.setdefault(kind, []).append(sub)
        for path in sorted(folder.iterdir(), key=lambda p: natural_key(p.name)):
            if path in seen or not path.is_file() or is_ignored(path):
                continue
            if path.suffix.lower() in (".mat", ".m", ".csv") or (
                path.suffix == ".npy" and path.name.startswith("frame_labels")
            ):
                kind = label_kind(path)
                if kind in ("intervals", "ucsd_m", "concatenated", "ranges_csv"):
                    seen.add(path)
                    found.setdefault(kind, []).append(path)
    order = ("frame_masks", "ranges_csv", "pixel_masks", "intervals", "ucsd_m", "concatenated")
    return [p for kind in order for p in found.get(kind, [])]


def read_labels(
    path: Path, videos: VideoCounts, *, cache_dir: Path | None = None
) -> dict[str, np.ndarray]:
    """Per-video 0/1 ``uint8`` labels from ``path`` (any supported kind) for ``videos``.

    With ``cache_dir``, frame labels derived from pixel masks (slow to read: Avenue's take about
    a second per video) are kept in ``<cache_dir>/labels`` keyed by the mask file's size and time.
    """
    path = Path(path)
    if not path.exists():
        raise DataError(
            f"Ground-truth file '{path}' does not exist.", hint="Check the path given as labels."
        )
    kind = label_kind(path)
    if kind is None and path.is_file() and path.suffix.lower() == ".csv":
        kind = "ranges_csv"  # named explicitly: its reader says what is wrong with it
    readers = {
        "intervals": read_mat_intervals,
        "ucsd_m": read_ucsd_m,
        "concatenated": read_concatenated,
        "frame_masks": read_frame_masks,
        "pixel_masks": read_pixel_masks,
        "pixel_mask": read_pixel_masks,
        "ranges_csv": read_csv_ranges,
    }
    if kind is None:
        raise DataError(
            f"'{path}' is not a ground-truth file vadkit can read.",
            hint="Use a .mat file with 'gt' intervals, a UCSD .m file, a frame_labels_*.npy file, "
            "a CSV file with the columns video,start,end, a folder of per-video .npy masks, or a "
            "folder of Avenue <N>_label.mat masks.",
        )
    if kind in ("pixel_masks", "pixel_mask"):
        return read_pixel_masks(path, videos, cache_dir=cache_dir)
    return readers[kind](path, videos)


def _check_length(path: Path, name: str, labels: np.ndarray, count: int) -> np.ndarray:
    if labels.shape[0] != count:
        raise DataError(
            f"'{path}' has {labels.shape[0]} frame labels for video '{name}', "
            f"which has {count} frames.",
            hint=_HINT_LABELS,
        )
    return labels


def _binary(path: Path, array: np.ndarray, at: Callable[[int], str] | None = None) -> np.ndarray:
    """Frame labels of 0 and 1 as ``uint8``; any other value (NaN, 3, -1, ...) is a DataError
    naming the file, the index (and ``at(index)``: where that is) and the value."""
    array = np.asarray(array)
    if array.ndim == 2 and 1 in array.shape:
        array = array.reshape(-1)
    if array.ndim != 1:
        raise DataError(
            f"'{path}' holds labels of shape {array.shape}; frame labels are one value per frame.",
            hint=_HINT_LABELS,
        )
    if array.dtype.kind not in "biuf":
        raise DataError(f"'{path}' does not hold numeric frame labels.", hint=_HINT_LABELS)
    bad = np.flatnonzero((array != 0) & (array != 1))  # NaN compares unequal to both
    if bad.size:
        first = int(bad[0])
        where = f"index {first}" + (f" ({at(first)})" if at is not None else "")
        more = f" (and {bad.size - 1} other value(s) that are not 0 or 1)" if bad.size > 1 else ""
        raise DataError(
            f"'{path}' holds the label value {array[first].item()!r} at {where}{more}; frame "
            "labels are 0 (normal) or 1 (anomalous).",
            hint=_HINT_LABELS,
        )
    return array.astype(np.uint8)


def _intervals_to_labels(
    path: Path, name: str, ranges: list[tuple[int, int]], count: int
) -> np.ndarray:
    labels = np.zeros(count, dtype=np.uint8)
    for i, (start, end) in enumerate(ranges):
        if start < 1 or end < start:
            raise DataError(
                f"'{path}': video '{name}' has the anomalous range {start}-{end} at index {i}, "
                "which is not a 1-based inclusive frame range.",
                hint=_HINT_LABELS,
            )
        if end > count:
            raise DataError(
                f"'{path}': video '{name}' has an anomalous range ending at frame {end}, "
                f"but the video has {count} frames.",
                hint=_HINT_LABELS,
            )
        labels[start - 1 : end] = 1
    return labels


def _check_video_count(path: Path, found: int, videos: VideoCounts) -> None:
    if found != len(videos):
        raise DataError(
            f"'{path}' has ground truth for {found} videos, but the split has {len(videos)}.",
            hint=_HINT_LABELS,
        )


def read_mat_intervals(path: Path, videos: VideoCounts) -> dict[str, np.ndarray]:
    """UCSD-style ``.mat``: variable ``gt``, one cell of ``[start; end]`` columns per video."""
    import scipy.io

    try:
        gt = scipy.io.loadmat(str(path))["gt"]
    except Exception as exc:
        raise DataError(f"Cannot read '{path}': {exc}.", hint=_HINT_LABELS) from None
    cells = list(gt.reshape(-1)) if gt.dtype == object else [gt]
    _check_video_count(path, len(cells), videos)
    out = {}
    for (name, count), cell in zip(videos, cells, strict=True):
        arr = _frame_numbers(path, name, cell)
        if arr.size == 0:
            ranges: list[tuple[int, int]] = []
        else:
            if arr.ndim != 2 or 2 not in arr.shape:
                raise DataError(
                    f"'{path}': the gt cell of video '{name}' has shape {arr.shape}, "
                    "not 2xK ranges (a start row and an end row).",
                    hint=_HINT_LABELS,
                )
            cols = arr if arr.shape[0] == 2 else arr.T
            ranges = [(int(s), int(e)) for s, e in cols.T]
        out[name] = _intervals_to_labels(path, name, ranges, count)
    return out


def _frame_numbers(path: Path, name: str, cell: object) -> np.ndarray:
    """A ``gt`` cell's frame numbers as integers; NaN, inf or a fraction is a DataError."""
    arr = np.asarray(cell)
    if arr.dtype.kind not in "biuf":
        raise DataError(
            f"'{path}': the gt cell of video '{name}' does not hold frame numbers.",
            hint=_HINT_LABELS,
        )
    values = arr.astype(np.float64)
    bad = np.flatnonzero(~np.isfinite(values) | (values != np.round(values)))
    if bad.size:
        first = int(bad[0])
        raise DataError(
            f"'{path}': the gt cell of video '{name}' holds {values.flat[first].item()!r} at index "
            f"{first}; its ranges are whole 1-based frame numbers.",
            hint=_HINT_LABELS,
        )
    return values.astype(np.int64)


_GT_FRAME = re.compile(r"gt_frame\s*=\s*\[([^\]]*)\]")
_RANGE = re.compile(r"(\d+)(?::(\d+))?")


def read_ucsd_m(path: Path, videos: VideoCounts) -> dict[str, np.ndarray]:
    """UCSD's ``UCSDped*.m``: one ``gt_frame = [a:b, c:d];`` line per test video."""
    text = path.read_text(errors="replace")
    entries = _GT_FRAME.findall(text)
    _check_video_count(path, len(entries), videos)
    out = {}
    for (name, count), body in zip(videos, entries, strict=True):
        ranges = []
        tokens = re.split(r"[\s,;]+", re.sub(r"\s*:\s*", ":", body))
        for i, token in enumerate(t for t in tokens if t):
            match = _RANGE.fullmatch(token)
            if match is None:
                raise DataError(
                    f"'{path}': the gt_frame of video '{name}' holds {token!r} at index {i}; "
                    "its ranges are whole 1-based frame numbers such as 61:180.",
                    hint=_HINT_LABELS,
                )
            ranges.append((int(match[1]), int(match[2] or match[1])))
        out[name] = _intervals_to_labels(path, name, ranges, count)
    return out


def read_concatenated(path: Path, videos: VideoCounts) -> dict[str, np.ndarray]:
    """One array of all the split's frame labels, in video order, split by frame counts."""
    try:
        array = np.load(path, allow_pickle=False)
    except Exception as exc:
        raise DataError(f"Cannot read '{path}': {exc}.", hint=_HINT_LABELS) from None
    labels = _binary(path, array, lambda i: _video_frame(videos, i))
    total = sum(c for _, c in videos)
    if labels.shape[0] != total:
        counts = ", ".join(f"{n}: {c}" for n, c in videos)
        raise DataError(
            f"'{path}' has {labels.shape[0]} frame labels, but the {len(videos)} videos have "
            f"{total} frames ({counts}).",
            hint=_HINT_LABELS,
        )
    out = {}
    offset = 0
    for name, count in videos:
        out[name] = labels[offset : offset + count].copy()
        offset += count
    return out


def _video_frame(videos: VideoCounts, index: int) -> str:
    """Where index ``index`` of the split's concatenated frame labels falls."""
    for name, count in videos:
        if index < count:
            return f"video '{name}', frame {index}"
        index -= count
    return "past the split's last frame"


def _match_files(
    folder: Path, files: list[Path], videos: VideoCounts, strip: str
) -> dict[str, Path]:
    """Pair each video with its label file by name (``01`` matches ``1_label.mat``)."""

    def key(stem: str) -> str:
        if stem.endswith(strip):
            stem = stem[: -len(strip)] if strip else stem
        return str(int(stem)) if stem.isdigit() else stem

    by_key = {key(p.stem): p for p in files}
    out = {}
    for name, _ in videos:
        k = key(name)
        if k not in by_key:
            raise DataError(
                f"'{folder}' has no ground truth for video '{name}'.",
                hint="Add its label file, or pass the right label folder.",
            )
        out[name] = by_key[k]
    return out


def read_frame_masks(path: Path, videos: VideoCounts) -> dict[str, np.ndarray]:
    """A folder with one ``<video>.npy`` frame mask per video (ShanghaiTech)."""
    files = [p for p in path.iterdir() if p.suffix == ".npy" and not is_ignored(p)]
    matched = _match_files(path, files, videos, "")
    out = {}
    for name, count in videos:
        file = matched[name]
        try:
            array = np.load(file, allow_pickle=False)
        except Exception as exc:
            raise DataError(f"Cannot read '{file}': {exc}.", hint=_HINT_LABELS) from None
        out[name] = _check_length(file, name, _binary(file, array), count)
    return out


def read_pixel_masks(
    path: Path, videos: VideoCounts, *, cache_dir: Path | None = None
) -> dict[str, np.ndarray]:
    """Avenue's ``<N>_label.mat`` files (``volLabel``: a pixel mask per frame), or one of them."""
    if path.is_dir():
        files = [p for p in path.iterdir() if p.name.endswith("_label.mat")]
        matched = _match_files(path, files, videos, "_label")
    else:
        if len(videos) != 1:
            _check_video_count(path, 1, videos)
        matched = {videos[0][0]: path}
    out = {}
    for name, count in videos:
        labels = _read_vol_label(matched[name], cache_dir)
        out[name] = _check_length(matched[name], name, labels, count)
    return out


def _read_vol_label(file: Path, cache_dir: Path | None = None) -> np.ndarray:
    import hashlib
    import os
    import uuid

    cached = None
    if cache_dir is not None:
        st = file.stat()
        key = f"{file.resolve()}\0{st.st_size}\0{st.st_mtime_ns}"
        cached = Path(cache_dir) / "labels" / f"{hashlib.sha1(key.encode()).hexdigest()[:24]}.npy"
        try:
            return np.load(cached, allow_pickle=False)
        except (OSError, ValueError):
            pass
    labels = _vol_label_from_mat(file)
    if cached is not None:
        try:
            cached.parent.mkdir(parents=True, exist_ok=True)
            tmp = cached.with_name(f"{cached.stem}.{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp.npy")
            np.save(tmp, labels)
            os.replace(tmp, cached)
        except OSError:
            pass  # a read-only cache only costs time
    return labels


def _vol_label_from_mat(file: Path) -> np.ndarray:
    import scipy.io

    try:
        vol = scipy.io.loadmat(str(file))["volLabel"]
    except Exception as exc:
        raise DataError(f"Cannot read '{file}': {exc}.", hint=_HINT_LABELS) from None
    masks = vol.reshape(-1) if vol.dtype == object else [vol]
    for i, mask in enumerate(masks):
        values = np.asarray(mask)
        if values.dtype.kind not in "biuf":
            raise DataError(f"'{file}': the mask of frame {i} is not numeric.", hint=_HINT_LABELS)
        if values.dtype.kind == "f" and not np.isfinite(values).all():
            bad = values.flat[int(np.flatnonzero(~np.isfinite(values))[0])]
            raise DataError(
                f"'{file}': the pixel mask of frame {i} holds {bad.item()!r}; a mask is 0 "
                "(normal) or nonzero (anomalous) in every pixel.",
                hint=_HINT_LABELS,
            )
    return np.array([np.any(np.asarray(m) != 0) for m in masks], dtype=np.uint8)
