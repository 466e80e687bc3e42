"""The HTML of a report's several-run parts: the spread over runs (grouped by setting), each
run's own numbers, and the paper's claims beside what was measured here; and the JSON of both
that the page embeds for scripts."""

from __future__ import annotations

import json
from collections.abc import Sequence
from html import escape
from typing import Any

from vadkit.components.recipe import PublishedResult
from vadkit.config.settings import REPORT_CONFIDENCE
from vadkit.report.claims import Claim, RecipeClaims
from vadkit.report.collect import RunData, metric_value, run_config
from vadkit.report.fmt import cells, fmt, score_label, setting_text
from vadkit.report.groups import METRICS, RunGroup
from vadkit.report.spread import INTERVAL_NAME, Spread

#: How the page names each metric (macro named as what it is, every time).
METRIC_TITLES = {
    "micro_auroc": "micro AUROC",
    "macro_auroc": "macro AUROC",
    "eer": "EER",
    "average_precision": "AP",
}
PERCENT = round(100 * REPORT_CONFIDENCE)
INTERVAL_NOTE = (
    f"std is the sample standard deviation (ddof = 1). The {PERCENT}% interval is the "
    f"{INTERVAL_NAME}: mean &plusmn; t(1 &minus; &alpha;/2, n &minus; 1) &middot; std / &radic;n "
    "(Student's t, n &minus; 1 degrees of freedom), clipped to [0, 1]. It says how well the "
    "mean of the group is known, assuming the runs' values are roughly normal; it is not the "
    "range where one more run would land. A bootstrap over so few runs would be narrower than "
    "the truth (it never reaches past the best and worst run)."
)
MACRO_NOTE = (
    "Micro AUROC (all scored frames of all videos pooled, one threshold for all) is the "
    "headline. Macro AUROC, the mean of per-video AUROCs over the videos that have both "
    "classes, is shown beside it and named as such: it never compares scores across videos, "
    "so it is over-optimistic and not comparable with micro numbers."
)


def _mean_std(s: Spread) -> str:
    if s.mean is None:
        return "-"
    if s.std is None:
        return f"{s.mean:.4f} (1 run)"
    return f"{s.mean:.4f} &plusmn; {s.std:.4f}"


def _interval(s: Spread) -> str:
    if s.low is None:
        return "-"
    return f"<span class='nowrap'>[{s.low:.4f}, {s.high:.4f}]</span>"


def _headline(group: RunGroup) -> str:
    if "fused" not in group.scores:
        return '<p class="note">No evaluation (no ground truth): nothing to average.</p>'
    parts = []
    for metric in METRICS:
        s = group.spread("fused", metric)
        if s.mean is None:
            continue
        name = "fused micro AUROC" if metric == "micro_auroc" else "macro AUROC"
        text = f"{name} <b>{_mean_std(s)}</b>"
        if s.std is not None:
            text += f" (mean &plusmn; std, n = {s.n}), {PERCENT}% interval {_interval(s)}"
        parts.append(text)
    text = "; ".join(parts)
    return f'<p class="headline">{text[:1].upper() + text[1:]}</p>'


def _group_table(group: RunGroup) -> str:
    titles = "".join(
        f"<th colspan='{5 if m == 'micro_auroc' else 3}'>{METRIC_TITLES[m]}"
        f"{' (headline)' if m == 'micro_auroc' else ' (per-video mean)'}</th>"
        for m in METRICS
    )
    sub = (
        f"<th>mean &plusmn; std</th><th>{PERCENT}% interval</th><th>min</th><th>max</th><th>n</th>"
        f"<th>mean &plusmn; std</th><th>{PERCENT}% interval</th><th>n</th>"
    )
    rows = []
    protocol = group.runs[0].protocol
    for score in group.scores:
        micro, macro = (group.spread(score, m) for m in METRICS)
        css = ' class="fused"' if score == "fused" else ""
        rows.append(
            f"<tr{css}><td>{escape(score_label(score, protocol))}</td>"
            f"<td>{_mean_std(micro)}</td><td>{_interval(micro)}</td>"
            + cells([micro.minimum, micro.maximum, micro.n])
            + f"<td class='macro'>{_mean_std(macro)}</td><td class='macro'>{_interval(macro)}</td>"
            + cells([macro.n])
            + "</tr>"
        )
    return (
        f"<table class='spread'><thead><tr><th rowspan='2'>score</th>{titles}</tr>"
        f"<tr>{sub}</tr></thead><tbody>{''.join(rows)}</tbody></table>"
    )


def _varying(group: RunGroup) -> str:
    if not group.varying:
        return "they differ in no setting (repeats of one run)" if len(group.runs) > 1 else ""
    parts = [
        f"{escape(k)} ({escape(', '.join(setting_text(v) for v in values))})"
        for k, values in group.varying.items()
    ]
    return "they differ only in " + "; ".join(parts)


def group_block(index: int, group: RunGroup) -> str:
    """One group: its name, runs, headline, spread table and warnings."""
    n = len(group.runs)
    runs = ", ".join(escape(r.label) for r in group.runs)
    varying = _varying(group)
    out = [
        f'<div class="group" data-group="{index}" data-runs="{n}">'
        f"<h3>Group {index}: {escape(group.label)}: {n} run{'s' if n > 1 else ''}</h3>"
        f'<p class="note">Runs: {runs}{"; " + varying if varying else ""}.</p>',
        _headline(group),
    ]
    if n == 1:
        out.append('<p class="note">One run: no spread (its numbers are in the table).</p>')
    elif n == 2:
        out.append(
            '<p class="note warn">Only 2 runs: the interval uses t(0.975, 1) = 12.71, so it is '
            "very wide; it says little until more seeds are run.</p>"
        )
    if group.scores:
        out.append(_group_table(group))
    out.append("</div>")
    return "".join(out)


def _apart_table(groups: Sequence[RunGroup]) -> str:
    keys: list[str] = []
    for g in groups:
        keys += [k for k in g.differing if k not in keys]
    if not keys:
        return ""
    head = "".join(f"<th>group {i}</th>" for i in range(1, len(groups) + 1))
    rows = "".join(
        f"<tr><td>{escape(k)}</td>"
        + "".join(f"<td>{escape(setting_text(g.differing.get(k)))}</td>" for g in groups)
        + "</tr>"
        for k in keys
    )
    return (
        "<details open><summary>What sets the groups apart</summary>"
        f"<table class='apart'><thead><tr><th>setting</th>{head}</tr></thead>"
        f"<tbody>{rows}</tbody></table></details>"
    )


def spread_section(runs: Sequence[RunData], groups: Sequence[RunGroup]) -> str:
    """The spread of each group of runs (only for a report of several runs)."""
    if len(runs) < 2:
        return ""
    out = [
        '<section id="spread"><h2>Spread over runs</h2>'
        f'<p class="note">{len(runs)} runs in {len(groups)} group{"s" if len(groups) > 1 else ""}. '
        "Runs are averaged only within a group: runs of one recipe on one dataset that share "
        "every setting that changes the numbers (all of <code>config.toml</code> but the seed "
        "and the settings of speed, logging and paths, plus the evaluation's error measure, "
        "normalizer, fusion weights, smoothing and frames mode, the score set, the weights it "
        "scored and the ground-truth file). Runs of different settings are never averaged "
        "together.</p>"
        f'<p class="note">{MACRO_NOTE}</p><p class="note">{INTERVAL_NOTE}</p>'
    ]
    if all(len(g.runs) == 1 for g in groups):
        out.append(
            '<p class="note warn">Every run is its own group: their settings differ (below), '
            "so there is no spread to compute.</p>"
        )
    out += [group_block(i, g) for i, g in enumerate(groups, start=1)]
    out.append(_apart_table(groups))
    out.append("</section>")
    return "".join(out)


def runs_table(runs: Sequence[RunData], groups: Sequence[RunGroup]) -> str:
    """Each run's own numbers, one row per run (grouped): micro and macro AUROC of each score,
    EER and AP of the fused score."""
    scores: list[str] = []
    for g in groups:
        scores += [s for s in g.scores if s not in scores]
    scores = [s for s in scores if s != "fused"] + (["fused"] if "fused" in scores else [])
    protocol = next((r.protocol for r in runs if r.evaluation), runs[0].protocol)
    head1 = "".join(
        f"<th colspan='{4 if s == 'fused' else 2}'>{escape(score_label(s, protocol))}</th>"
        for s in scores
    )
    head2 = "<th>micro AUROC</th><th>macro AUROC</th>" * len(scores) + "<th>EER</th><th>AP</th>"
    rows = []
    for i, g in enumerate(groups, start=1):
        for run in g.runs:
            seed = run_config(run).get("train", {}).get("seed")
            row = cells([i, seed])
            for s in scores:
                micro, macro = (metric_value(run, s, m) for m in METRICS)
                row += f"<td>{escape(fmt(micro))}</td><td class='macro'>{escape(fmt(macro))}</td>"
            row += cells([metric_value(run, "fused", m) for m in ("eer", "average_precision")])
            rows.append(f"<tr data-group='{i}'><td>{escape(run.label)}</td>{row}</tr>")
    return (
        "<table class='runs-table metrics'><thead><tr><th rowspan='2'>run</th>"
        f"<th rowspan='2'>group</th><th rowspan='2'>seed</th>{head1}</tr><tr>{head2}</tr>"
        f"</thead><tbody>{''.join(rows)}</tbody></table>"
        "<p class='note'>Each run's own numbers, one row per run, by group.</p>"
    )


# -- paper claims -------------------------------------------------------------------------------
def _paper_value(r: PublishedResult) -> str:
    return f"{r.value:.4f} ({100 * r.value:.2f} %)"


def _measured(c: Claim) -> str:
    if c.group is None:
        return "not measured here"
    if c.measured is None:
        return f"no {METRIC_TITLES[c.result.metric]} of {escape(c.result.score)} in these runs"
    text = _mean_std(c.measured) + (f" (n = {c.measured.n})" if c.measured.n > 1 else "")
    return f'<span class="nowrap">{text}</span>'


def _gap(c: Claim) -> str:
    gap = c.gap
    if gap is None:
        return "<td>-</td>"
    word = "below" if gap < 0 else "above" if gap > 0 else "equal to"
    css = ' class="short"' if c.shortfall else ""
    text = f"{word} the paper" + (", worse" if c.shortfall else "")
    inside = c.measured.contains(c.result.value) if c.measured else None
    if inside is False:
        text += f"; the paper's value is outside the {PERCENT}% interval"
    return f"<td{css}><b class='nowrap'>{gap:+.4f}</b><br>{escape(text)}</td>"


def _quoted(value: Any) -> str:
    """A setting, a word in quotes (``paper "paper", here "full"`` reads as two values)."""
    return f'"{value}"' if isinstance(value, str) else setting_text(value)


def _differences(c: Claim) -> str:
    if c.group is None:
        return "-"
    if not c.differences:
        return "none of the declared settings differ"
    return (
        "<ul>"
        + "".join(
            f"<li><code>{escape(d.key)}</code>: paper {escape(_quoted(d.paper))}, here "
            f"{escape(_quoted(d.here))}</li>"
            for d in c.differences
        )
        + "</ul>"
    )


def _paper_cells(r: PublishedResult) -> str:
    """Dataset, which number (score and metric), the paper's value over its source."""
    note = f"; {escape(r.note)}" if r.note else ""
    return (
        f"<td>{escape(r.dataset)}</td><td>{escape(r.score)}, {METRIC_TITLES[r.metric]}</td>"
        f"<td><span class='nowrap'>{_paper_value(r)}</span><br>"
        f'<span class="note">{escape(r.source)}{note}</span></td>'
    )


def claims_table(rc: RecipeClaims, groups: Sequence[RunGroup]) -> str:
    """One recipe's claims: those measured here (with the spread, the difference and the
    protocol's differences), then those of datasets no run of the recipe was scored on."""
    out = [f'<div class="recipe-claims" data-recipe="{escape(rc.recipe)}">']
    out.append(f"<h3>Recipe {escape(rc.recipe)}</h3>")
    if rc.problem:
        out.append(f'<p class="note">No table: {escape(rc.problem)}.</p></div>')
        return "".join(out)
    head = "<th>dataset</th><th>number</th><th>paper (source)</th>"
    measured = [c for c in rc.claims if c.group is not None]
    if measured:
        rows = []
        for c in measured:
            r, where = c.result, f"group {groups.index(c.group) + 1}"
            css = ' class="short"' if c.shortfall else ""
            rows.append(
                f"<tr{css} data-dataset='{escape(r.dataset)}' data-score='{escape(r.score)}'>"
                f"{_paper_cells(r)}<td>{_measured(c)}<br><span class='note'>{where}</span></td>"
                f"<td>{_interval(c.measured) if c.measured else '-'}</td>{_gap(c)}"
                f"<td class='diff'>{_differences(c)}</td></tr>"
            )
        out.append(
            f"<table class='claims measured'><thead><tr>{head}<th>measured here</th>"
            f"<th>{PERCENT}% interval</th><th>measured &minus; paper</th>"
            "<th>protocol differences</th></tr></thead>"
            f"<tbody>{''.join(rows)}</tbody></table>"
        )
    others = [c for c in rc.claims if c.group is None]
    if others:
        datasets = sorted({g.dataset or "video files" for g in groups if g.recipe == rc.recipe})
        rows = [
            f"<tr data-dataset='{escape(c.result.dataset)}' data-score='{escape(c.result.score)}'>"
            f"{_paper_cells(c.result)}</tr>"
            for c in others
        ]
        out.append(
            f'<p class="note">Not measured here: no run of {escape(rc.recipe)} in this report is '
            f"on these datasets (its runs are on {escape(', '.join(datasets))}).</p>"
            f"<table class='claims unmeasured'><thead><tr>{head}</tr></thead>"
            f"<tbody>{''.join(rows)}</tbody></table>"
        )
    out.append("</div>")
    return "".join(out)


def claims_section(claims: Sequence[RecipeClaims], groups: Sequence[RunGroup]) -> str:
    """Per recipe, its paper's numbers beside what its runs measured here."""
    if not claims:
        return ""
    body = "".join(claims_table(rc, groups) for rc in claims)
    return (
        '<section id="paper"><h2>Paper claims vs measured here</h2>'
        '<p class="note">The numbers each recipe declares from its method\'s paper '
        "(<code>Recipe.published</code>) beside what its runs measured here on the same dataset "
        "(mean &plusmn; std over the runs of one group). Measured &minus; paper is shown "
        "whatever its sign; a shortfall is marked in red. The protocol differences are the "
        "settings of the paper's protocol that the runs here do not share (frame size, epochs, "
        "...): a number measured under another protocol is not a failed reproduction, and not a "
        "reproduction either.</p>" + body + "</section>"
    )


def study_payload(groups: Sequence[RunGroup], claims: Sequence[RecipeClaims]) -> dict[str, Any]:
    """The groups, their spreads and the claims, as the page embeds them for scripts."""
    return {
        "confidence": REPORT_CONFIDENCE,
        "interval": INTERVAL_NAME,
        "std_ddof": 1,
        "groups": [g.as_dict() for g in groups],
        "claims": [rc.as_dict() for rc in claims],
    }


def payload_json(payload: dict[str, Any]) -> str:
    """JSON that can sit inside a ``<script>`` element."""
    return json.dumps(payload, separators=(",", ":"), default=str).replace("</", "<\\/")
