"""``vadkit report``: one self-contained HTML page of a scored run, of two side by side, or of
several (e.g. the seeds of a recipe) with their spread.

The page holds the metrics of :func:`vadkit.evaluation.evaluate.evaluate_scores`, the protocol and
provenance of the scores (run settings, checkpoint hash, the score set's record), each video's
score curves over the ground truth (zoom and hover, drawn by a small script inside the page), and
the most anomalous segments (:mod:`vadkit.report.segments`, a label-free rule) with their frames
and anomaly-map overlays. Several runs are grouped by setting (:mod:`vadkit.report.groups`) and
each group's metrics summarised over its runs (:mod:`vadkit.report.spread`); each recipe's
published results are set beside what its runs measured (:mod:`vadkit.report.claims`). Styles, script, data and pictures are all inside the file: it opens
without a network and can be mailed or archived as it is.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from vadkit.errors import ConfigError
from vadkit.report.claims import RecipeClaims, recipe_claims
from vadkit.report.collect import ReportOptions, RunData, collect_run
from vadkit.report.groups import RunGroup, group_runs
from vadkit.report.segments import Segment, top_segments

if TYPE_CHECKING:
    from vadkit.report.images import MapSource, Picture

REPORT_FILE = "report.html"

__all__ = [
    "REPORT_FILE",
    "RecipeClaims",
    "Report",
    "ReportOptions",
    "RunData",
    "RunGroup",
    "Segment",
    "collect_run",
    "default_report_path",
    "top_segments",
    "write_report",
]


@dataclass
class Report:
    """A written report: its path, size in bytes, the runs it shows, notes about what is
    missing from it (e.g. no anomaly maps), where each run's anomaly maps come from
    (``"stored"``: read from the score set, ``"computed"``, or ``"none"``), the runs' groups
    (:mod:`vadkit.report.groups`) and each recipe's paper claims beside them."""

    path: Path
    size: int
    runs: list[RunData]
    notes: list[str]
    maps: list[str]
    groups: list[RunGroup] = field(default_factory=list)
    claims: list[RecipeClaims] = field(default_factory=list)


def default_report_path(runs: Sequence[str | Path]) -> Path:
    """``RUN/report.html``; ``RUN_A/report-vs-<RUN_B's name>.html`` for two runs; for more,
    ``report-of-<N>-runs.html`` in the folder that holds them all (e.g. a study's seeds)."""
    first = Path(runs[0])
    if len(runs) == 1:
        return first / REPORT_FILE
    if len(runs) == 2:
        return first / f"report-vs-{Path(runs[1]).resolve().name}.html"
    parent = Path(os.path.commonpath([Path(r).resolve().parent for r in runs]))
    return parent / f"report-of-{len(runs)}-runs.html"


def write_report(
    runs: Sequence[str | Path],
    out: str | Path | None = None,
    options: ReportOptions | None = None,
    *,
    maps: bool = True,
    on_stage: Callable[[str], None] | None = None,
) -> Report:
    """Write the report of one run, two side by side, or several (their spread by group) to
    ``out`` (default :func:`default_report_path`) atomically; returns where and how big.

    ``options`` (:class:`ReportOptions`) name the score set, the evaluation settings (each run's
    own by default, as in ``vadkit evaluate``) and the segment rule. The anomaly-map overlays
    are read from the score set when it stores them (``vadkit score --maps``) and computed
    otherwise (:class:`vadkit.report.images.MapSource`); ``maps=False`` leaves them out (frames
    only; no network pass). ``on_stage(text)`` is told what is being done. A report written
    inside a run folder holds that run's lock while it is made (one writer per run folder). The
    page is logged to the experiment trackers the (first) run trained with (``train.track``).
    """
    from vadkit.report.render import render_report
    from vadkit.storage.io import write_text
    from vadkit.storage.lock import lock_runs_written

    if not runs:
        raise ConfigError("A report needs a run.", hint="vadkit report RUN [RUN ...]")
    seen: dict[Path, str | Path] = {}
    for run in runs:
        earlier = seen.setdefault(Path(run).resolve(), run)
        if earlier is not run:
            raise ConfigError(
                f"The run '{run}' is given twice (also as '{earlier}'): it would count twice "
                "in the spread over runs.",
                hint="Name each run folder once.",
            )
    path = Path(out) if out is not None else default_report_path(runs)
    if path.is_dir():
        raise ConfigError(
            f"'{path}' is a folder.", hint="Pass a file name with --out, e.g. report.html"
        )
    with lock_runs_written(path, runs, "vadkit report"):  # a page inside a run: its writer
        data = [collect_run(r, options) for r in runs]
        groups = group_runs(data)
        claims = recipe_claims(groups)
        pictures, notes, kinds = _pictures(data, maps, on_stage)
        page = render_report(data, pictures, notes, groups, claims)
        write_text(path, page)
    from vadkit.tracking.build import log_report

    log_report(data[0].run_dir, path)  # to the trackers of the (first) run, train.track
    return Report(
        path=path,
        size=len(page.encode("utf-8")),
        runs=data,
        notes=notes,
        maps=kinds,
        groups=groups,
        claims=claims,
    )


def _pictures(
    data: list[RunData], maps: bool, on_stage: Callable[[str], None] | None
) -> tuple[list[list[list[Picture]]], list[str], list[str]]:
    """Each run's segment pictures, its notes (what is missing) and where its maps come from."""
    from vadkit.inference.weights import recorded_weights
    from vadkit.report.images import FrameSource, MapSource, segment_pictures

    pictures: list[list[list[Picture]]] = []
    notes: list[str] = []
    kinds: list[str] = []
    for run in data:
        frames = FrameSource(run.scores.meta)
        map_source = (
            MapSource(
                run.run_dir,
                run.scores,
                run.protocol,
                frames,
                weights=recorded_weights(run.scores.meta.to_json()),
            )
            if maps
            else None
        )
        kind = "none" if map_source is None else "stored" if map_source.stored else "computed"
        if on_stage is not None and run.segments:
            what = "frames" if map_source is None else f"frames and anomaly maps ({kind})"
            on_stage(f"{run.label}: {what} of {len(run.segments)} segment(s)")
        pictures.append(segment_pictures(run.segments, frames, map_source))
        problems = [frames.problem, None if map_source is None else map_source.problem]
        if not maps:
            problems.append("anomaly maps left out (--no-maps)")
        notes.append("; ".join(p for p in problems if p))
        kinds.append(kind)
        run.maps_origin = _origin(map_source)
    return pictures, notes, kinds


def _origin(source: MapSource | None) -> str:
    """Where the maps come from, for the page ("" when left out: the notes say so)."""
    if source is None:
        return ""
    if source.stored:
        return (
            f"read from the score set (stored by `vadkit score --maps` for {source.error}: the "
            "scores' own network pass)"
        )
    return f"computed from the run's last checkpoint ({source.why_computed})"
