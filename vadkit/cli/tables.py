"""How evaluation results are shown: the metric table, the protocol lines, number formatting.

Shared by ``vadkit evaluate``, ``vadkit search`` and ``vadkit demo``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.table import Table

if TYPE_CHECKING:
    from vadkit.evaluation.result import EvalProtocol, Evaluation


def fmt_metric(value: float | None, digits: int = 4) -> str:
    """A metric with ``digits`` decimals, or ``-`` when there is none."""
    return "-" if value is None else f"{value:.{digits}f}"


def evaluation_table(result: Evaluation, title: str = "Frame-level detection") -> Table:
    """The rich table of an evaluation: one row per task alone, then the fused score."""
    p = result.protocol
    table = Table(title=title)
    for col, style in (
        ("score", "bold cyan"),
        ("micro AUROC", "bold"),
        ("macro AUROC", ""),
        ("EER", ""),
        ("AP", ""),
    ):
        table.add_column(col, style=style, justify="left" if col == "score" else "right")
    for key, row in result.results.items():
        label = "fused" if key == "fused" else f"{key} alone"
        if key != "fused" and key in p.error_tasks:
            label += f" ({p.error})"
        macro = fmt_metric(row.macro_auroc)
        if row.macro_auroc is not None:
            macro += f" ({row.macro_videos})"
        table.add_row(
            label,
            fmt_metric(row.micro_auroc),
            macro,
            fmt_metric(row.eer),
            fmt_metric(row.average_precision),
            end_section=key != "fused" and list(result.results)[-2] == key,
        )
    return table


def protocol_lines(p: EvalProtocol) -> list[str]:
    """The lines under an evaluation table saying how it was measured."""
    alphas = ", ".join(f"{k}={v:g}" for k, v in p.alphas.items())
    params = (p.normalizer_params or {}).get(p.normalizer) or {}
    shown = ", ".join(f"{k}={v}" for k, v in params.items())
    normalizer = f"{p.normalizer}({shown})" if shown else p.normalizer
    return [
        f"frames scored: {p.frames_scored} of {p.total_frames} ({p.frames_mode} mode), "
        f"{p.anomalous_frames} anomalous, {p.videos} videos",
        f"error: {p.error}   normalizer: {normalizer} (per video)   weights: {alphas}",
        "temporal smoothing: "
        + (f"Gaussian, sigma {p.smoothing_sigma:g} frames" if p.smoothing_sigma else "none"),
        f"ground truth: {p.ground_truth or '-'}",
        "micro AUROC: all frames pooled, thresholds common to all videos; macro AUROC: mean of "
        "per-video AUROCs over the (n) videos with both classes (optimistic)",
    ]
