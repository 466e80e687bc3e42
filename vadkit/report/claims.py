"""Paper claims vs measured here: each recipe's published results beside its runs' numbers.

A recipe declares what its method's paper reports (:class:`vadkit.components.PublishedResult`).
For each such number the report finds the groups of runs (:mod:`vadkit.report.groups`) of that
recipe on that dataset and sets the measured spread beside it, with the difference (a shortfall
is always shown, never rounded away) and the settings of the paper's protocol that the runs do
not share (frame size, epochs, ...). A number with no run on its dataset is listed as not
measured here.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from vadkit.components.recipe import PublishedResult
from vadkit.errors import VadkitError
from vadkit.report.groups import RunGroup, is_dataset, lookup
from vadkit.report.spread import Spread


@dataclass(frozen=True)
class Difference:
    """A setting of the paper's protocol that the measured runs do not share."""

    key: str
    paper: Any
    here: Any


@dataclass
class Claim:
    """One published number and what the runs of one group measured of it (``group`` None: no
    run of the recipe on its dataset)."""

    result: PublishedResult
    group: RunGroup | None = None
    measured: Spread | None = None
    differences: list[Difference] = field(default_factory=list)

    @property
    def gap(self) -> float | None:
        """Measured mean minus the paper's value (None when nothing was measured)."""
        if self.measured is None or self.measured.mean is None:
            return None
        return self.measured.mean - self.result.value

    @property
    def shortfall(self) -> bool:
        """Whether the measured mean is worse than the paper's number (any amount)."""
        gap = self.gap
        if gap is None:
            return False
        return gap < 0 if self.result.higher_is_better else gap > 0

    def as_dict(self) -> dict[str, Any]:
        r = self.result
        return {
            "dataset": r.dataset,
            "score": r.score,
            "metric": r.metric,
            "paper": r.value,
            "source": r.source,
            "note": r.note,
            "group": None if self.group is None else self.group.label,
            "measured": None if self.measured is None else self.measured.as_dict(),
            "gap": self.gap,
            "shortfall": self.shortfall,
            "paper_in_interval": None if self.measured is None else self.measured.contains(r.value),
            "differences": [
                {"key": d.key, "paper": d.paper, "here": d.here} for d in self.differences
            ],
        }


@dataclass
class RecipeClaims:
    """A recipe's published results against its runs; ``problem`` says why there are none
    (the recipe is not registered here, or declares none)."""

    recipe: str
    claims: list[Claim]
    problem: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "recipe": self.recipe,
            "problem": self.problem,
            "claims": [c.as_dict() for c in self.claims],
        }


def same(a: Any, b: Any) -> bool:
    """Settings compare as values: numbers by value (1e-4 is 0.0001, 60 is 60.0), lists and
    tuples item by item, tables key by key."""
    if isinstance(a, bool) or isinstance(b, bool):
        return a is b
    if isinstance(a, int | float) and isinstance(b, int | float):
        return math.isclose(float(a), float(b), rel_tol=1e-9, abs_tol=1e-12)
    if isinstance(a, list | tuple) and isinstance(b, list | tuple):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, Mapping) and isinstance(b, Mapping):
        return set(a) == set(b) and all(same(a[k], b[k]) for k in a)
    return bool(a == b)


def protocol_differences(result: PublishedResult, group: RunGroup) -> list[Difference]:
    """The settings of the paper's protocol (in its order) that the group's runs do not share."""
    out = []
    for key, paper in result.protocol.items():
        here = lookup(group.settings, key)
        if not same(paper, here):
            out.append(Difference(key, paper, here))
    return out


def _published(recipe: str) -> tuple[tuple[PublishedResult, ...], str | None]:
    """The recipe's published results, or why they cannot be had."""
    from vadkit.config.recipes import load_recipe

    try:
        found = load_recipe(recipe).published
    except (VadkitError, ValueError) as exc:
        message = exc.message if isinstance(exc, VadkitError) else str(exc)
        return (), f"the recipe '{recipe}' cannot be loaded here ({message})"
    if not found:
        return (), f"the recipe '{recipe}' declares no published results"
    return tuple(found), None


def recipe_claims(groups: Sequence[RunGroup]) -> list[RecipeClaims]:
    """For each recipe of the groups (in their order), its published results beside the
    groups of its runs on each result's dataset."""
    out = []
    recipes: list[str] = []
    for group in groups:
        if group.recipe and group.recipe not in recipes:
            recipes.append(group.recipe)
    for recipe in recipes:
        published, problem = _published(recipe)
        claims: list[Claim] = []
        for result in published:
            matching = [
                g for g in groups if g.recipe == recipe and is_dataset(g.dataset, result.dataset)
            ]
            if not matching:
                claims.append(Claim(result))
            for group in matching:
                measured = group.spread(result.score, result.metric)
                claims.append(
                    Claim(
                        result,
                        group,
                        measured if measured.n else None,
                        protocol_differences(result, group),
                    )
                )
        out.append(RecipeClaims(recipe, claims, problem))
    return out
