"""The ground truth of a score set, read when the scores are measured against it.

``vadkit score`` opens no label file: a set scored from a dataset records where its ground truth
is (``ground_truth_at`` in ``set.json``, :func:`vadkit.data.truth.ground_truth_location`).
:func:`with_ground_truth` reads it for ``vadkit evaluate``, and for the two commands that show
scores against it: ``vadkit search`` (which fits fusion weights on test labels by design and says
so) and ``vadkit report`` (which draws the ground truth under the curves). Nothing that scores,
trains or chooses a setting calls it. Sets written before, which hold their labels (and pixel
masks), are used as they are.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from vadkit.errors import DataError
from vadkit.scoring.core import VideoScores
from vadkit.scoring.scoreset import ScoreSet


def require_labels(scores: ScoreSet) -> list[np.ndarray]:
    """Each video's labels of the scored frames; a DataError when a video has none."""
    missing = [v.name for v in scores.videos if v.labels is None]
    if not scores.videos or missing:
        raise DataError(
            f"Score set '{scores.name}' has no ground truth"
            + (f" for video(s) {', '.join(missing[:5])}." if missing else ": no videos."),
            hint="Evaluate a set scored from a labelled dataset, or pass --data/--labels.",
        )
    return [np.asarray(v.labels) for v in scores.videos]


def relabel(
    scores: ScoreSet,
    labels: Mapping[str, np.ndarray],
    ground_truth: str | None,
    masks: Mapping[str, np.ndarray | None] | None = None,
) -> ScoreSet:
    """The same scores with the frame labels ``labels[video]`` (one per frame of the video,
    matched by name) of the frames each video scored, and, when given, its pixel masks ``[F, h,
    w]`` of those frames; ``ground_truth`` names the file they came from."""
    out = []
    for vs in scores.videos:
        if vs.name not in labels:
            raise DataError(
                f"The dataset has no video '{vs.name}', which the scores have.",
                hint="Evaluate against the dataset the run was scored on.",
            )
        found = np.asarray(labels[vs.name])
        if found.shape[0] != vs.num_frames:
            raise DataError(
                f"Labels do not match the scores of video '{vs.name}': {found.shape[0]} labels, "
                f"{vs.num_frames} frames scored from.",
                hint="Use the ground truth of the dataset the run was scored on.",
            )
        out.append(
            VideoScores(
                vs.name,
                vs.num_frames,
                vs.frames,
                found[vs.frames].astype(np.uint8),
                vs.raw,
                maps=vs.maps,
                masks=vs.masks if masks is None else masks.get(vs.name),
            )
        )
    source = replace(scores.meta.source, ground_truth=ground_truth)
    return ScoreSet(scores.name, replace(scores.meta, source=source), out)


def with_ground_truth(
    scores: ScoreSet, *, data: str | Path | None = None, labels: str | Path | None = None
) -> ScoreSet:
    """``scores`` with the labels (and, for a set scored with ``--maps``, the pixel masks) of its
    ground truth read from where the set records it; ``data`` (the dataset's root, e.g. after it
    moved) and ``labels`` (another ground-truth file) replace the recorded ones.

    A set of video files has no ground truth: it is returned as it is, and so is a set written
    by an older vadkit, which stores its labels, unless ``data`` or ``labels`` is given.
    """
    at = scores.meta.source.ground_truth_at
    if data is None and labels is None and (at is None or scores.has_labels):
        return scores
    if at is None:
        return _relabel_stored_set(scores, data, labels)
    from vadkit.data.truth import read_frame_labels

    location = at.to_json()
    per_video, where = read_frame_labels(location, root=data, labels=labels)
    masks = _pixel_masks(scores, location, data)
    out = relabel(scores, per_video, where, None if masks is None else masks[0])
    if masks is not None and out.meta.maps is not None:
        maps = replace(out.meta.maps, pixel_masks=masks[1])
        out = ScoreSet(out.name, replace(out.meta, maps=maps), out.videos)
    return out


def _pixel_masks(
    scores: ScoreSet, location: Mapping[str, Any], root: str | Path | None
) -> tuple[dict[str, np.ndarray | None], str | None] | None:
    """Each video's pixel masks of its scored frames at its maps' size (None: the dataset has
    none) and where they are, for a set scored with ``--maps``; None for a set without maps."""
    if scores.meta.maps is None or not all(v.maps for v in scores.videos):
        return None
    from vadkit.data.truth import find_split_masks
    from vadkit.pixel_metrics import shrink_masks

    found = find_split_masks(location, root=root)
    if found is None:
        return {v.name: None for v in scores.videos}, None
    out: dict[str, np.ndarray | None] = {}
    for video in scores.videos:
        h, w = next(iter(video.maps.values())).shape[1:]
        full = found.read(video.name, video.num_frames)
        out[video.name] = shrink_masks(full[video.frames], (int(h), int(w)))
    return out, found.where


def _relabel_stored_set(
    scores: ScoreSet, data: str | Path | None, labels: str | Path | None
) -> ScoreSet:
    """A set that records no location (scored by an older vadkit): its dataset opened again."""
    from vadkit.data import open_videos

    meta = scores.meta
    root = data or meta.source.root
    if not root:
        raise DataError(
            f"Score set '{scores.name}' was not scored from a dataset.",
            hint="Pass the dataset with --data ROOT.",
        )
    if meta.size is None or meta.color is None:
        raise DataError(
            f"Score set '{scores.name}' records no frame size and colour, so its dataset "
            "cannot be opened again to read its labels.",
            hint="Re-score the set with `vadkit score RUN`.",
        )
    vset = open_videos(
        root,
        "testing",
        size=meta.size,
        color=meta.color,
        labels=labels,
        progress=False,
    )
    per_video = {v.name: v.labels for v in vset if v.labels is not None}
    missing = [v.name for v in vset if v.labels is None]
    if missing:
        raise DataError(f"Video '{missing[0]}' has no labels in the dataset.", hint="--labels")
    return relabel(scores, per_video, vset.ground_truth)
