"""Timing variants side by side and reporting their speed as ratios (shared by the speed
benchmarks; not a benchmark itself).

:func:`interleaved` runs every variant once per round, in an order reversed every other round,
so that a change in machine load hits every variant alike; :func:`speed_table` turns the median
seconds into a Markdown table of work per second and ratios to a reference variant (the
authors' structure).
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Mapping


def interleaved(
    variants: Mapping[str, Callable[[int], object]],
    warmup: int,
    reps: int,
    *,
    sync: Callable[[], None] | None = None,
    after_round: Callable[[int], None] | None = None,
) -> dict[str, float]:
    """Median seconds per call of each variant over ``reps`` timed rounds after ``warmup``
    untimed ones. Each call gets the round's number; ``sync`` (e.g.
    ``torch.cuda.synchronize``) runs before the clock starts and before it stops;
    ``after_round(round)`` runs after each round (progress)."""
    times: dict[str, list[float]] = {name: [] for name in variants}
    for rep in range(warmup + reps):
        order = list(variants) if rep % 2 == 0 else list(reversed(list(variants)))
        for name in order:
            if sync is not None:
                sync()
            start = time.perf_counter()
            variants[name](rep)
            if sync is not None:
                sync()
            elapsed = time.perf_counter() - start
            if rep >= warmup:
                times[name].append(elapsed)
        if after_round is not None:
            after_round(rep)
    return {name: statistics.median(t) for name, t in times.items()}


def speed_table(
    seconds: Mapping[str, float],
    work: float,
    unit: str,
    *,
    reference: str = "authors",
    per_call: str | None = None,
    digits: int = 2,
) -> list[str]:
    """Markdown lines: one row per variant with its speed (``work / seconds``, in ``unit``,
    ``digits`` decimals) and its ratio to the ``reference`` variant (the variant named so, or
    ``"reference (...)"``); with ``per_call`` (e.g. ``"s/step"``) the seconds come first."""
    ref = next(n for n in seconds if n == reference or n.startswith(f"{reference} "))
    columns = ["variant", *([per_call] if per_call else []), unit, f"vs {reference}"]
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    for name, s in seconds.items():
        cells = [name, *([f"{s:.3f}"] if per_call else []), f"{work / s:.{digits}f}"]
        cells.append(f"{seconds[ref] / s:.2f}x")
        lines.append("| " + " | ".join(cells) + " |")
    return lines
