"""Ground truth as a CSV file of anomalous frame ranges, the label file people write by hand.

The file's first line is a header that names the columns ``video``, ``start`` and ``end`` (in any
order; other columns, such as a note, are ignored). Every other line is one anomalous range of
one test video: ``start`` and ``end`` are frame numbers counted from 0, both included, so
``cam1,10,19`` marks the ten frames 10 to 19 of ``cam1``. A video may have several lines (the
ranges are merged) or none (it is normal throughout). Blank lines are skipped.

The file is read strictly: a video that is not in the split, a frame number that is not a whole
number, a range outside its video or one that ends before it starts is a :class:`DataError`
naming the file, the line and the value.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from vadkit.errors import DataError

#: The columns a ranges CSV must name in its header.
COLUMNS = ("video", "start", "end")

_INTEGER = re.compile(r"[+-]?\d+")
_HINT = (
    "Each line after the header 'video,start,end' is one anomalous range: the video's name "
    "(its file name without extension, or its frame folder's name) and its first and last "
    "anomalous frames, counted from 0."
)


def _header(path: Path) -> list[str] | None:
    """The header's column names (lower case, stripped), or None when the file has no line."""
    try:
        with path.open(newline="", encoding="utf-8-sig") as f:
            row = next(csv.reader(f), None)
    except (OSError, UnicodeDecodeError, csv.Error):
        return None
    return None if row is None else [c.strip().lower() for c in row]


#: The usual name of a ranges CSV: read as one whatever its header (which then says what is wrong).
FILE_NAME = "labels.csv"


def is_ranges_csv(path: Path) -> bool:
    """True when ``path`` is a ``.csv`` file named ``labels.csv`` or whose header names
    ``video``, ``start`` and ``end``."""
    if path.suffix.lower() != ".csv" or not path.is_file():
        return False
    header = _header(path)
    return path.name.lower() == FILE_NAME or (
        header is not None and all(c in header for c in COLUMNS)
    )


def read_csv_ranges(path: Path, videos: Sequence[tuple[str, int]]) -> dict[str, np.ndarray]:
    """Per-video 0/1 ``uint8`` labels of ``videos`` (``(name, frame count)``) from the ranges
    CSV ``path``; every video absent from the file is normal throughout."""
    path = Path(path)
    counts = dict(videos)
    out = {name: np.zeros(count, dtype=np.uint8) for name, count in videos}
    try:
        with path.open(newline="", encoding="utf-8-sig") as f:
            rows = list(csv.reader(f))
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise DataError(f"Cannot read '{path}' as a CSV file: {exc}.", hint=_HINT) from None
    if not rows:
        raise DataError(f"'{path}' is empty: it has no header line.", hint=_HINT)
    header = [c.strip().lower() for c in rows[0]]
    for column in COLUMNS:
        if header.count(column) != 1:
            found = ",".join(rows[0])
            raise DataError(
                f"'{path}', line 1: the header {found!r} "
                + ("has no" if column not in header else "has more than one")
                + f" column '{column}'.",
                hint=_HINT,
            )
    at = {column: header.index(column) for column in COLUMNS}
    for number, row in enumerate(rows[1:], start=2):
        if not any(cell.strip() for cell in row):
            continue
        if len(row) != len(header):
            raise DataError(
                f"'{path}', line {number}: {len(row)} values, but the header names "
                f"{len(header)} columns.",
                hint=_HINT,
            )
        name = row[at["video"]].strip()
        if name not in counts:
            known = ", ".join(list(counts)[:8]) + (", ..." if len(counts) > 8 else "")
            stem = Path(name).stem
            raise DataError(
                f"'{path}', line {number}: the video {name!r} is not a video of this split "
                f"(its videos: {known or 'none'}).",
                hint=f"Write its name as '{stem}', without the extension."
                if stem in counts and stem != name
                else "Check the name: labels are for the test videos, named by file name "
                "without extension or by frame folder.",
            )
        start, end = (_frame(path, number, column, row[at[column]]) for column in ("start", "end"))
        count = counts[name]
        if end < start:
            raise DataError(
                f"'{path}', line {number}: the range {start}-{end} of video '{name}' ends "
                "before it starts.",
                hint="Write the first anomalous frame in 'start' and the last in 'end'.",
            )
        if start < 0 or end >= count:
            raise DataError(
                f"'{path}', line {number}: the range {start}-{end} of video '{name}' is outside "
                f"the video, whose frames are 0 to {count - 1}.",
                hint="Frames are counted from 0 and 'end' is the last anomalous frame itself; "
                "`vadkit data check ROOT` shows each video's frame count.",
            )
        out[name][start : end + 1] = 1
    return out


def _frame(path: Path, line: int, column: str, value: str) -> int:
    """A frame number of the CSV; anything but a whole number is a DataError."""
    if not _INTEGER.fullmatch(value.strip()):
        raise DataError(
            f"'{path}', line {line}: {column} is {value!r}, not a whole frame number.",
            hint=_HINT,
        )
    return int(value)
