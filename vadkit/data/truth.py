"""Where a test split's ground truth is, and reading it: ``vadkit score`` records the first,
``vadkit evaluate`` does the second.

Scoring opens no label file. :func:`ground_truth_location` describes where the ground truth of a
split is, as data: the dataset's root, split and layout, the label file named explicitly (None:
detected next to the data when read), and every video of the split with its frame count (the
readers pair labels with videos in the split's order and check each length). The score set
records it; :func:`read_frame_labels` and :func:`find_split_masks` read the frame labels and find
the pixel masks from it when the scores are evaluated, optionally from a dataset that moved
(``root``) or with another label file (``labels``).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from vadkit.errors import DataError

#: The key of a score set's record that says where its ground truth is.
LOCATION_KEY = "ground_truth_at"

if TYPE_CHECKING:
    from vadkit.data.masks import PixelMasks
    from vadkit.data.video import VideoSet


def ground_truth_location(vset: VideoSet, labels: str | Path | None = None) -> dict[str, Any]:
    """Where the ground truth of ``vset`` (a split opened without its labels) is; no file is
    opened. ``labels``: an explicit label file or folder (it must exist), else None (detected
    when read)."""
    path = None
    if labels:
        path = Path(labels).expanduser()
        if not path.exists():
            raise DataError(
                f"Ground-truth file '{path}' does not exist.",
                hint="Check the path given as labels (--labels or data.labels).",
            )
    return {
        "root": str(Path(vset.root).resolve()),
        "split": vset.split,
        "format": vset.format,
        "labels": None if path is None else str(path.resolve()),
        "videos": [[v.name, int(v.num_frames)] for v in vset],
    }


def _split_format(location: Mapping[str, Any], root: Path) -> Any:
    from vadkit.data.formats import resolve_format

    if not root.is_dir():
        raise DataError(
            f"The dataset the scores were made from is not at '{root}' any more, so its ground "
            "truth cannot be read.",
            hint="Pass the dataset's new root with --data ROOT (or the label file with --labels).",
        )
    return resolve_format(root, str(location["split"]), location.get("format") or None)[1]


def read_frame_labels(
    location: Mapping[str, Any],
    *,
    root: str | Path | None = None,
    labels: str | Path | None = None,
    cache_dir: str | Path | None = None,
) -> tuple[dict[str, np.ndarray], str]:
    """The frame labels of every video of ``location`` (``uint8`` 0/1, one per frame) and the
    file or folder they were read from.

    ``labels`` (default: the location's explicit file, else detected next to the data, the
    preferred kind first) and ``root`` (default: the location's) replace the recorded ones.
    """
    from vadkit.data.cache import default_cache_dir
    from vadkit.data.labels import find_label_candidates
    from vadkit.data.labels import read_labels as read_label_file

    base = Path(root or location["root"]).expanduser()
    chosen = labels or location.get("labels")
    if chosen:
        path = Path(chosen).expanduser()
    else:
        fmt = _split_format(location, base)
        found = find_label_candidates(fmt.label_dirs(base, str(location["split"])))
        if not found:
            raise DataError(
                f"'{base}' has no ground truth for its {location['split']} videos.",
                hint="Pass the label file or folder with --labels (kinds: docs, 'Ground truth').",
            )
        path = found[0]
    videos = [(str(name), int(count)) for name, count in location["videos"]]
    cache = Path(cache_dir).expanduser() if cache_dir else default_cache_dir()
    return read_label_file(path, videos, cache_dir=cache), str(path.resolve())


def find_split_masks(
    location: Mapping[str, Any], *, root: str | Path | None = None
) -> PixelMasks | None:
    """The pixel masks of every video of ``location`` (found, not read), or None when the
    dataset has none for all."""
    from vadkit.data.masks import find_pixel_masks

    base = Path(root or location["root"]).expanduser()
    split = str(location["split"])
    fmt = _split_format(location, base)
    sources = {s.name: s.source for s in fmt.list_videos(base, split)}
    missing = [str(name) for name, _ in location["videos"] if str(name) not in sources]
    if missing:
        raise DataError(
            f"The {split} split of '{base}' has no video '{missing[0]}', which was scored.",
            hint="Evaluate against the dataset the run was scored on (--data ROOT).",
        )
    videos = [(str(name), sources[str(name)]) for name, _ in location["videos"]]
    return find_pixel_masks(base, split, videos, fmt.label_dirs(base, split))
