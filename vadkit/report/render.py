"""The report's HTML: one file with its style, script, data and pictures inside.

Tables are written here (readable without JavaScript); the curves are drawn in the browser by
``assets/report.js`` from the JSON data embedded in the page. Every value from a run is escaped.
"""

from __future__ import annotations

import datetime as _dt
import json
import re
from collections.abc import Sequence
from html import escape
from importlib import resources
from typing import Any

from vadkit.evaluation.evaluate import FUSED
from vadkit.report.claims import RecipeClaims
from vadkit.report.collect import RunData, run_config, stream_payload
from vadkit.report.fmt import cells as _cells
from vadkit.report.fmt import fmt as _fmt
from vadkit.report.fmt import score_label
from vadkit.report.groups import RunGroup
from vadkit.report.images import Picture
from vadkit.report.render_study import (
    claims_section,
    payload_json,
    runs_table,
    spread_section,
    study_payload,
)

#: Headers of the metrics :func:`vadkit.metrics.frame_metrics` and ``evaluate`` compute; any
#: other numeric key a row holds gets a column too, under its own name.
METRIC_NAMES = {
    "micro_auroc": "micro AUROC",
    "macro_auroc": "macro AUROC",
    "eer": "EER",
    "average_precision": "AP",
    "raw_micro_auroc": "raw micro AUROC",
}
SKIPPED_KEYS = {"frames", "anomalous_frames", "macro_videos"}


def asset(name: str) -> str:
    return resources.files("vadkit.report").joinpath("assets", name).read_text(encoding="utf-8")


# -- metrics ------------------------------------------------------------------------------------
def _rows(run: RunData) -> dict[str, dict[str, Any]]:
    """Each score's row of metrics, as ``evaluation.json`` holds them (none: not evaluated)."""
    return {} if run.evaluation is None else run.evaluation.to_json()["results"]


def metric_columns(runs: Sequence[RunData]) -> list[str]:
    keys: list[str] = []
    for run in runs:
        for row in _rows(run).values():
            for key, value in row.items():
                if key in SKIPPED_KEYS or key in keys:
                    continue
                if value is None or isinstance(value, int | float):
                    keys.append(key)
    known = [k for k in METRIC_NAMES if k in keys]
    return known + [k for k in keys if k not in METRIC_NAMES]


def metrics_table(runs: Sequence[RunData], evaluated: Sequence[RunData]) -> str:
    """The metrics of each score, one column per run under each metric."""
    multi = len(runs) > 1
    out = []
    columns = metric_columns(evaluated)
    head1 = "<th rowspan='2'>score</th>" if multi else "<th>score</th>"
    head2 = ""
    for col in columns:
        name = escape(METRIC_NAMES.get(col, col.replace("_", " ")))
        head1 += f"<th colspan='{len(runs)}'>{name}</th>" if multi else f"<th>{name}</th>"
        if multi:
            head2 += "".join(f"<th>{escape(r.label)}</th>" for r in runs)
    out.append('<table class="metrics"><thead><tr>' + head1 + "</tr>")
    if multi:
        out.append("<tr>" + head2 + "</tr>")
    out.append("</thead><tbody>")
    keys: list[str] = []
    for run in evaluated:
        keys += [k for k in _rows(run) if k not in keys]
    keys = [k for k in keys if k != FUSED] + [FUSED]
    for key in keys:
        label = next(score_label(key, r.protocol) for r in evaluated if key in _rows(r))
        cells = []
        for col in columns:
            for run in runs:
                row = _rows(run).get(key, {})
                text = _fmt(row.get(col))
                if col == "macro_auroc" and row.get(col) is not None:
                    text += f" ({row.get('macro_videos')})"
                cells.append(f"<td>{escape(text)}</td>")
        css = ' class="fused"' if key == FUSED else ""
        out.append(f"<tr{css}><td>{escape(label)}</td>{''.join(cells)}</tr>")
    out.append("</tbody></table>")
    return "".join(out)


def metrics_section(runs: Sequence[RunData], groups: Sequence[RunGroup] = ()) -> str:
    """Evaluate's numbers: one column per run under each metric for one or two runs; for more,
    one row per run (:func:`~vadkit.report.render_study.runs_table`) that stays readable."""
    evaluated = [r for r in runs if r.evaluation is not None]
    out = ['<section id="metrics"><h2>Metrics</h2>']
    if not evaluated:
        out.append(
            '<p class="note">No ground truth: this score set was not scored from a labelled '
            "dataset, so there is nothing to evaluate; the curves and segments below need no "
            "labels.</p></section>"
        )
        return "".join(out)
    if len(runs) > 2 and groups:
        out.append(runs_table(runs, groups))
    else:
        out.append(metrics_table(runs, evaluated))
    out.append(
        '<p class="note">'
        + escape(evaluated[0].protocol.metric)
        + ". Computed by <code>vadkit.evaluation.evaluate.evaluate_scores</code> (the numbers of "
        "<code>vadkit evaluate</code>).</p>"
    )
    out.append(per_video_table(runs))
    out.append(pixel_table(runs))
    out.append("</section>")
    return "".join(out)


def pixel_table(runs: Sequence[RunData]) -> str:
    """Evaluate's pixel-level metrics (the fused map's and each task's), or its note saying why
    there are none."""
    evaluated = [(r, r.evaluation) for r in runs if r.evaluation is not None]
    if not evaluated:
        return ""
    out = ["<h3>Pixel level</h3>"]
    multi = len(runs) > 1
    why_none: dict[str, list[str]] = {}  # one line per reason, naming its runs
    for run, evaluation in evaluated:
        tag = f"{escape(run.label)}: " if multi else ""
        pixel = evaluation.pixel
        if pixel is None:
            note = evaluation.pixel_note or "no pixel-level evaluation"
            why_none.setdefault(note, []).append(run.label)
            continue
        rows: dict[str, list[float | None]] = {
            "fused map": [pixel.fused.pixel_auroc, pixel.fused.rbdc, pixel.fused.tbdc]
        }
        rows.update({f"{t} map alone": [auc, None, None] for t, auc in pixel.tasks.items()})
        head = "<th>pixel AUROC</th><th>RBDC</th><th>TBDC</th>"
        body = "".join(
            f"<tr><td>{escape(k)}</td>" + _cells(values) + "</tr>" for k, values in rows.items()
        )
        out.append(
            f"<table class='pixel'><thead><tr><th>{tag or 'map'}</th>{head}</tr></thead>"
            f"<tbody>{body}</tbody></table>"
            f'<p class="note">{escape(pixel.metric)}</p>'
        )
    for note, labels in why_none.items():
        tag = f"{escape(', '.join(labels))}: " if multi else ""
        out.append(f'<p class="note">{tag}{escape(note)}</p>')
    return "".join(out)


def per_video_table(runs: Sequence[RunData]) -> str:
    names: list[str] = []
    for run in runs:
        names += [v.name for v in run.videos if v.name not in names]
    by_run = [{v.name: v for v in (r.evaluation.per_video if r.evaluation else ())} for r in runs]
    multi = len(runs) > 1
    head = "<th>video</th><th>frames scored</th><th>anomalous</th>" + "".join(
        f"<th>fused AUROC{escape(' ' + r.label) if multi else ''}</th>" for r in runs
    )
    rows = []
    for name in names:
        first = next((b[name] for b in by_run if name in b), None)
        if first is None:
            continue
        aucs = [b[name].fused_auroc if name in b else None for b in by_run]
        rows.append(
            f"<tr><td>{escape(name)}</td>"
            + _cells([first.frames_scored, first.anomalous_frames, *aucs])
            + "</tr>"
        )
    if not rows:
        return ""
    return (
        "<details><summary>Per video (AUROC of the fused score; '-' for a video with one class)"
        f"</summary><table><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"
        "</details>"
    )


# -- protocol and provenance --------------------------------------------------------------------
def provenance_rows(run: RunData) -> list[tuple[str, Any]]:
    p, prov = run.protocol, run.provenance
    record = prov["record"]
    config = run_config(run)
    model, tasks, train = config.get("model", {}), config.get("tasks", {}), config.get("train", {})
    versions = prov.get("versions") or {}
    data = record.get("root") or ", ".join(record.get("files", [])) or "-"
    if record.get("split"):
        data += f" ({record['split']} split)"
    return [
        ("run folder", str(run.run_dir)),
        ("recipe", config.get("recipe") or "-"),
        ("model", f"{model.get('backbone', '-')} {json.dumps(model.get('params', {}))}"),
        ("tasks", tasks.get("names")),
        (
            "training",
            f"{train.get('epochs')} epochs, batch {train.get('batch_size')}, lr "
            f"{train.get('lr')}, seed {train.get('seed')}, precision {train.get('precision')}",
        ),
        ("score set", p.score_set),
        ("data", data),
        ("frame size, colour", f"{_fmt(record.get('size'))} px, {record.get('color', '-')}"),
        ("ground truth", p.ground_truth),
        (
            "frames scored",
            f"{p.frames_scored} of {p.total_frames} ({p.frames_mode} mode), "
            f"{p.videos} videos, clip length {p.clip_length}",
        ),
        ("anomalous frames", p.anomalous_frames),
        ("error measure", p.error),
        ("normalizer (per video)", p.normalizer),
        ("fusion weights", p.alphas),
        ("temporal smoothing (sigma, frames)", p.smoothing_sigma or "none"),
        ("checkpoint", p.checkpoint),
        ("weights SHA-256", prov.get("weights_sha256")),
        ("scoring settings SHA-256", prov.get("settings_sha256")),
        ("error measures scored", prov.get("errors_scored")),
        ("scoring runtime", p.runtime or record.get("runtime")),
        ("scored by vadkit", record.get("vadkit")),
        (
            "trained with",
            f"vadkit {versions.get('vadkit', '-')}, python {versions.get('python', '-')}, "
            f"torch {versions.get('torch', '-')}, plugins {_fmt(versions.get('plugins') or {})}",
        ),
        (
            "segments",
            f"fused score above {run.threshold:.4f} (the {run.settings['quantile']:g} quantile "
            f"of all scored frames), runs fewer than {run.settings['gap']} frames apart merged",
        ),
    ]


def provenance_section(runs: Sequence[RunData]) -> str:
    out = ['<section id="provenance"><h2>Protocol and provenance</h2><div class="runs">']
    for run in runs:
        rows = "".join(
            f"<tr><td>{escape(k)}</td><td>{escape(_fmt(v))}</td></tr>"
            for k, v in provenance_rows(run)
        )
        record = json.dumps(run.scores.meta.to_json(), indent=2, default=str)
        out.append(
            f"<div><h3>{escape(run.label)}</h3><table class='kv'>{rows}</table>"
            f"<details><summary>Resolved config (config.toml)</summary>"
            f"<pre>{escape(run.provenance['config_toml'])}</pre></details>"
            f"<details><summary>Score set record (scores/{escape(run.scores.name)}/set.json)"
            f"</summary><pre>{escape(record)}</pre></details></div>"
        )
    out.append("</div></section>")
    return "".join(out)


# -- curves and segments ------------------------------------------------------------------------
def curves_section(runs: Sequence[RunData]) -> str:
    names: list[str] = []
    for run in runs:
        names += [v.name for v in run.videos if v.name not in names]
    out = [
        '<section id="curves"><h2>Score curves</h2><p class="note">The normalised fused score '
        "of each scored frame (the streams evaluated above), ground-truth anomalies shaded, the "
        "segment threshold dotted. Wheel to zoom, drag to zoom to frames, double-click to reset; "
        "hover to read the frame and its scores.</p>"
        '<label><input type="checkbox" id="show-tasks"> show each task\'s score</label>'
    ]
    for name in names:
        out.append(f'<div class="chart" data-video="{escape(name)}"><h3>{escape(name)}</h3></div>')
    out.append("</section>")
    return "".join(out)


def _picture(p: Picture) -> str:
    over = (
        f'<img src="{p.overlay}" alt="anomaly map of frame {p.frame}" class="overlay">'
        if p.overlay
        else ""
    )
    return (
        f'<figure><div class="pair"><img src="{p.image}" alt="frame {p.frame}" class="frame">'
        f"{over}</div><figcaption>frame {p.frame}</figcaption></figure>"
    )


def segments_section(
    runs: Sequence[RunData], pictures: Sequence[Sequence[list[Picture]]], notes: Sequence[str]
) -> str:
    out = [
        '<section id="segments"><h2>Most anomalous segments</h2><p class="note">Label-free '
        "rule: a segment is a run of frames whose fused score is above the threshold (a fixed "
        "quantile of all the set's fused scores), runs a few frames apart merged; ranked by "
        "their peak. The ground truth is only counted. Each segment shows its first, peak and "
        "last frame, each with the fused anomaly map over it when available.</p>"
        '<div class="runs">'
    ]
    for run, pics, note in zip(runs, pictures, notes, strict=True):
        out.append(f"<div><h3>{escape(run.label)}</h3>")
        if run.maps_origin:
            out.append(f'<p class="note maps-origin">Anomaly maps {escape(run.maps_origin)}.</p>')
        if note:
            out.append(f'<p class="note warn">{escape(note)}</p>')
        if not run.segments:
            out.append('<p class="note">No frame is above the threshold.</p>')
        for rank, (seg, seg_pics) in enumerate(zip(run.segments, pics, strict=True), start=1):
            gt = (
                ""
                if seg.anomalous_frames is None
                else f'<span class="gtcount{" hit" if seg.anomalous_frames else ""}">'
                f"ground truth: {seg.anomalous_frames} of {seg.frames} frames anomalous</span>"
            )
            out.append(
                f'<div class="segment" data-video="{escape(seg.video)}" data-start="{seg.start}"'
                f' data-end="{seg.end}" data-peak="{seg.peak_frame}"><div class="head">'
                f'<span class="rank">#{rank}</span>'
                f"<span>{escape(seg.video)}</span><span>frames {seg.start}-{seg.end} "
                f"({seg.frames} scored)</span><span>peak {seg.peak:.3f} at frame "
                f"{seg.peak_frame}</span><span>mean {seg.mean:.3f}</span>{gt}"
                '<a href="#" class="show-curve">show on the curve</a></div>'
                f'<div class="thumbs">{"".join(_picture(p) for p in seg_pics)}</div></div>'
            )
        out.append("</div>")
    out.append("</div></section>")
    return "".join(out)


def render_report(
    runs: Sequence[RunData],
    pictures: Sequence[Sequence[list[Picture]]],
    notes: Sequence[str],
    groups: Sequence[RunGroup] = (),
    claims: Sequence[RecipeClaims] = (),
) -> str:
    """The whole page: with several runs, their spread by group (``groups``) first; then the
    metrics, and each recipe's paper claims beside its runs (``claims``)."""
    from vadkit._version import __version__

    if len(runs) <= 2:
        title = "vadkit report: " + " vs ".join(r.label for r in runs)
    else:
        title = f"vadkit report: {len(runs)} runs ({', '.join(r.label for r in runs)})"
    created = _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds")
    study = spread_section(runs, groups)
    paper = claims_section(claims, groups)
    links = [
        *([("spread", "Spread over runs")] if study else []),
        ("metrics", "Metrics"),
        *([("paper", "Paper vs here")] if paper else []),
        ("curves", "Curves"),
        ("segments", "Segments"),
        ("provenance", "Protocol and provenance"),
    ]
    nav = "".join(f'<a href="#{key}">{text}</a>' for key, text in links)
    body = (
        f"<header><h1>{escape(title)}</h1><p class='sub'>Written {created} by vadkit "
        f"{escape(__version__)} from {escape(', '.join(str(r.run_dir) for r in runs))}.</p>"
        f'<nav class="toc">{nav}</nav></header>'
        + study
        + metrics_section(runs, groups)
        + paper
        + curves_section(runs)
        + segments_section(runs, pictures, notes)
        + provenance_section(runs)
    )
    payload = payload_json(
        {"runs": [stream_payload(r) for r in runs], "study": study_payload(groups, claims)}
    )
    page = asset("report.html")
    values = {
        "VERSION": escape(__version__),
        "TITLE": escape(title),
        "CSS": asset("report.css"),
        "JS": asset("report.js"),
        "DATA": payload,
        "BODY": body,
    }
    # one pass: a value that happens to contain a placeholder is never substituted again
    return re.sub(r"@(VERSION|TITLE|CSS|JS|DATA|BODY)@", lambda m: values[m.group(1)], page)
