"""How well does the label-free pseudo-AUROC rank runs and checkpoints? Measured against the real
test AUROC, over every run and epoch checkpoint given.

For each run folder (e.g. the seed studies' ``OUT/seed_N`` of ``benchmarks/ped2_seeds.py`` and
the second method's), this script measures

* the weights the run scores by default (``score.weights``) and every epoch checkpoint
  (``epoch_NNNN``): their pseudo-AUROC (``vadkit validate``: pseudo-anomalies in the run's
  held-out normal training videos, no test label) and their real fused test AUROC (``vadkit
  score`` in fp32, then ``vadkit evaluate``'s code with the run's default error measure,
  normalizer, fusion weights and smoothing);
* Spearman's rank correlation between the two: over runs (each run's default weights), over the
  epoch checkpoints within each run (and their mean over runs), and over every checkpoint of
  every run pooled.

The test labels only measure the validator here; they choose nothing. The rule was fixed before
any number was looked at (:data:`THRESHOLD`, :func:`verdict`): pseudo-AUROC *ranks well* when
Spearman is at least 0.6 both over runs and, on average, over the checkpoints within a run. If
it does, the recipes choose their weights by it (``score.weights_criterion = "pseudo"``);
otherwise they keep the validation loss, and the page says so.

Each run's measurements are kept in ``RUN/validation_study.json`` and reused (``--redo``
measures again); the page ``docs/benchmarks/validation.md`` and its record
``docs/benchmarks/validation.json`` are rewritten from every run measured, and a run found only
in the record counts (a fresh checkout without the run folders rewrites the same page)::

    .venv/bin/python benchmarks/validation_study.py runs/ped2-seeds/seed_* runs/mae-seeds/seed_*
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shlex
import statistics
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from cli_runs import repo_relative
from machine import cpu_record, cpus_line

REPO = Path(__file__).resolve().parents[1]
PAGE = REPO / "docs" / "benchmarks" / "validation.md"
RESULT = "validation_study.json"
#: Spearman's rank correlation at which pseudo-AUROC "ranks well": fixed before the study.
THRESHOLD = 0.6
#: Score sets this script writes into each run (``study_<checkpoint>``).
SET_PREFIX = "study_"


def record_path(page: Path) -> Path:
    """The record committed beside the page (``NAME.md`` -> ``NAME.json``)."""
    return page.with_suffix(".json")


def test_auroc(run: Path, name: str, **score: Any) -> dict[str, Any]:
    """Score the run's test videos into the set ``name`` (fp32; ``score`` chooses the weights)
    and evaluate it with the run's defaults: the fused and per-task micro AUROC."""
    from vadkit.evaluation.evaluate import evaluate_scores
    from vadkit.evaluation.groundtruth import with_ground_truth
    from vadkit.inference.score import score_run
    from vadkit.scoring.scoreset import load_scores

    record = score_run(run, name=name, precision="fp32", **score)
    result = evaluate_scores(with_ground_truth(load_scores(run, name)))
    weights = record.weights or {}
    return {
        "sha256": weights.get("sha256"),
        "checkpoint": weights.get("checkpoint"),
        "fused": float(result.results["fused"].micro_auroc),
        "tasks": {k: float(v.micro_auroc) for k, v in result.results.items() if k != "fused"},
    }


Params = dict[str, dict[str, Any]]


def pseudo_auroc(
    run: Path, checkpoints: Sequence[str], device: str, params: Params | None = None
) -> list[dict[str, Any]]:
    """``vadkit validate``'s entries for ``checkpoints`` (none: the run's default weights), with
    the pseudo-anomaly parameters ``params`` (none: the run's)."""
    from vadkit.validation.run import validate_run

    entries = validate_run(run, checkpoints=checkpoints, device=device, params=params)
    return list(entries["entries"])


def result_name(params: Params | None) -> str:
    """The file of a run's measurements: ``validation_study.json`` with the run's own
    pseudo-anomalies, ``validation_study-<digest>.json`` with other parameters."""
    if not params:
        return RESULT
    from vadkit.scoring.scorefiles import canonical_json

    digest = hashlib.sha256(canonical_json(params).encode()).hexdigest()[:12]
    return f"validation_study-{digest}.json"


def _tests_known(run: Path) -> dict[str, dict[str, Any]]:
    """Test AUROCs this study measured before for the run's weights (by SHA-256), in any of its
    result files: other pseudo-anomaly parameters change the pseudo-AUROC, not the test one."""
    known = {}
    for path in sorted(run.glob("validation_study*.json")):
        result = json.loads(path.read_text())
        for e in [result["default"], *result["checkpoints"]]:
            known[e["sha256"]] = {"sha256": e["sha256"], "checkpoint": e["checkpoint"],
                                  "fused": e["test"], "tasks": e["test_tasks"]}  # fmt: skip
    return known


def _entry(pseudo: dict[str, Any], test: dict[str, Any]) -> dict[str, Any]:
    return {
        "checkpoint": pseudo["checkpoint"],
        "epoch": pseudo["epoch"],
        "sha256": pseudo["sha256"],
        "pseudo": pseudo["fused"],
        "pseudo_tasks": pseudo["tasks"],
        "pseudo_kinds": pseudo["kinds"],
        "test": test["fused"],
        "test_tasks": test["tasks"],
    }


def trained_on(run: Path) -> str:
    """The device the run trained on, from its ``metrics.jsonl`` (the trainer's projection
    record names it); "not recorded" when no record does."""
    from vadkit.runs.layout import METRICS_FILE

    path = run / METRICS_FILE
    if path.is_file():
        for line in path.read_text(encoding="utf-8").splitlines():
            event = json.loads(line) if line.strip() else {}
            if event.get("device"):
                return str(event["device"])
    return "not recorded"


def measure_run(
    run: Path, device: str = "auto", redo: bool = False, params: Params | None = None
) -> dict[str, Any]:
    """Pseudo-AUROC and test AUROC of a run's default weights and of each epoch checkpoint
    (``params``: other pseudo-anomaly parameters than the run's; a test AUROC measured before
    for the same weights is reused)."""
    from vadkit.runs.folder import read_config
    from vadkit.storage.io import write_text
    from vadkit.validation.run import run_checkpoints

    done = run / result_name(params)
    if done.is_file() and not redo:
        print(f"{run}: measured, reusing {done.name}")
        return json.loads(done.read_text())
    known = {} if redo else _tests_known(run)
    config = read_config(run)
    (default,) = pseudo_auroc(run, (), device, params)
    test = known.get(default["sha256"]) or test_auroc(run, f"{SET_PREFIX}default", device=device)
    assert test["sha256"] == default["sha256"], "the default weights were scored as validated"
    epochs = [c for c in run_checkpoints(run, ["all"]) if c.startswith("epoch_")]
    checkpoints = []
    for pseudo in pseudo_auroc(run, epochs, device, params) if epochs else []:
        name = pseudo["checkpoint"]
        scored = known.get(pseudo["sha256"]) or test_auroc(
            run, f"{SET_PREFIX}{name}", weights="last", checkpoint=name, device=device
        )
        checkpoints.append(_entry(pseudo, scored))
    result = {
        "run": str(run),
        "recipe": config.get("recipe"),
        "backbone": config["model"]["backbone"],
        "tasks": config["tasks"]["names"],
        "seed": config["train"]["seed"],
        "trained_on": trained_on(run),
        "data": str(config["data"]["root"]),
        "protocol": {
            k: default[k] for k in ("pseudo", "held_out", "error", "normalizer", "alphas")
        },
        "default": _entry(default, test),
        "checkpoints": checkpoints,
        "cpu_record": cpu_record(),
    }
    write_text(done, json.dumps(result, indent=2) + "\n")
    return result


def spearman(pairs: Sequence[tuple[float, float]]) -> float | None:
    """Spearman's rank correlation of ``(pseudo, test)`` pairs (None for fewer than 3 or a
    constant side: no ranking to compare)."""
    from scipy.stats import spearmanr

    if len(pairs) < 3:
        return None
    x, y = zip(*pairs, strict=True)
    if len(set(x)) < 2 or len(set(y)) < 2:
        return None
    return float(spearmanr(x, y).statistic)


def statistics_of(results: Sequence[dict[str, Any]], by_recipe: bool = True) -> dict[str, Any]:
    """The study's correlations: over runs, within each run, their mean, and pooled; and the
    same for each recipe's runs alone (over runs of two methods, the gap between the methods
    can make the ranking, so each method is also shown on its own)."""
    runs = [(r["default"]["pseudo"], r["default"]["test"]) for r in results]
    within = {r["run"]: spearman([(c["pseudo"], c["test"]) for c in r["checkpoints"]])
              for r in results}  # fmt: skip
    measured = [v for v in within.values() if v is not None]
    pooled = [(c["pseudo"], c["test"]) for r in results for c in r["checkpoints"]]
    return {
        "runs": {"spearman": spearman(runs), "n": len(runs)},
        "within_run": within,
        "within_run_mean": {
            "spearman": statistics.fmean(measured) if measured else None,
            "n": len(measured),
        },
        "pooled_checkpoints": {"spearman": spearman(pooled), "n": len(pooled)},
        **({"by_recipe": {
            recipe: statistics_of([r for r in results if _recipe(r) == recipe], by_recipe=False)
            for recipe in sorted({_recipe(r) for r in results})
        }} if by_recipe else {}),
    }  # fmt: skip


def _recipe(result: dict[str, Any]) -> str:
    return str(result["recipe"] or result["backbone"])


def verdict(stats: dict[str, Any], threshold: float = THRESHOLD) -> tuple[bool, str]:
    """The rule fixed before the study: pseudo-AUROC ranks well when Spearman is at least
    ``threshold`` over runs AND on average within runs; an undefined correlation (too few runs
    or checkpoints) does not pass."""
    over_runs = stats["runs"]["spearman"]
    within = stats["within_run_mean"]["spearman"]
    ok = over_runs is not None and within is not None
    ok = ok and over_runs >= threshold and within >= threshold
    said = (
        f"over runs {_fmt(over_runs)} (n = {stats['runs']['n']}), within runs "
        f"{_fmt(within)} on average ({stats['within_run_mean']['n']} runs)"
    )
    return ok, said


def _fmt(value: float | None) -> str:
    return "undefined" if value is None else f"{value:.2f}"


def load_results(
    runs: Sequence[Path], record: Path | None, params: Params | None = None
) -> list[dict[str, Any]]:
    """Every measured run: those given (measured here), then those only in ``record``."""
    found = {}
    for run in runs:
        path = run / result_name(params)
        if path.is_file():
            result = json.loads(path.read_text())
            found[repo_relative(result["run"])] = result
    if record is not None and record.is_file():
        for result in json.loads(record.read_text())["runs"]:
            found.setdefault(repo_relative(result["run"]), result)
    return [found[k] for k in sorted(found)]


def page(
    results: Sequence[dict[str, Any]], stats: dict[str, Any], command: str, note: str = ""
) -> str:
    from vadkit.validation.validator import SATURATED

    ok, said = verdict(stats)
    rows = []
    for r in results:
        d = r["default"]
        rho = stats["within_run"].get(r["run"])
        full = sum(c["pseudo"] >= SATURATED for c in r["checkpoints"])
        rows.append(
            f"| `{r['run']}` | {_recipe(r)} | {r['seed']} | "
            f"{r.get('trained_on', 'not recorded')} | `{r.get('data', 'not recorded')}` | "
            f"{d['checkpoint']} | {d['pseudo']:.3f} | {d['test']:.3f} | {len(r['checkpoints'])} "
            f"| {full} | {_fmt(rho)} |"
        )
    details = []
    for r in results:
        lines = [
            f"| {c['checkpoint']} | {c['pseudo']:.3f} | {c['test']:.3f} |" for c in r["checkpoints"]
        ]
        if lines:
            details.append(
                f"### `{r['run']}`\n\n| checkpoint | pseudo-AUROC | test AUROC |\n|---|---:|---:|\n"
                + "\n".join(lines)
            )
    protocol = results[0]["protocol"] if results else {}
    pseudo = protocol.get("pseudo", {})
    changed = "; ".join(
        f"{kind}: " + ", ".join(f"{k} = {v}" for k, v in table.items())
        for kind, table in pseudo.get("params", {}).items()
    )
    params_line = (
        f"\n- Pseudo-anomaly parameters other than the defaults: {changed}." if changed else ""
    )
    decision = (
        "the recipes choose their weights by pseudo-AUROC (`score.weights_criterion = "
        '"pseudo"`, so `--weights auto` picks the checkpoint with the highest pseudo-AUROC)'
        if ok
        else "the recipes keep choosing their weights by validation loss "
        '(`score.weights_criterion = "loss"`); pseudo-AUROC stays available on request '
        "(`--criterion pseudo`, `vadkit search --on pseudo`) and is not a default"
    )
    pooled = _fmt(stats["pooled_checkpoints"]["spearman"])
    methods = [
        f"| {recipe} | {part['runs']['n']} | {_fmt(part['runs']['spearman'])} | "
        f"{_fmt(part['within_run_mean']['spearman'])} | {part['pooled_checkpoints']['n']} | "
        f"{_fmt(part['pooled_checkpoints']['spearman'])} |"
        for recipe, part in stats.get("by_recipe", {}).items()
    ]
    said_note = f"{note.strip()}\n\n" if note.strip() else ""
    return f"""# Label-free validation: does pseudo-AUROC rank like the test AUROC?

{said_note}Over {len(results)} run(s) and {stats["pooled_checkpoints"]["n"]} epoch checkpoint(s), the Spearman rank correlation
between the pseudo-AUROC (`vadkit validate`, no test label) and the real fused test AUROC is
{said}; pooled over every checkpoint of every run, {pooled}.

**Threshold, fixed before looking at any number: Spearman >= {THRESHOLD} over runs and, on
average, within runs. Verdict: pseudo-AUROC {"ranks well" if ok else "does not rank well"}**, so
{decision}.

Written by `{command}`.

## Setting

- Pseudo-AUROC: {pseudo.get("windows", "?")} windows of each run's held-out normal training
  videos (`data.val_videos`), half of them with a pseudo-anomaly ({", ".join(pseudo.get("kinds", []))};
  seed {pseudo.get("seed", "?")}), scored in fp32 with the run's default error measure, normalizer
  and fusion weights, rescaled per held-out video ([validation](../reference/validation.md)).{params_line}
- Test AUROC: the run's test videos scored in fp32 (`vadkit score`), evaluated with the run's
  defaults (`vadkit evaluate`); fused frame-level micro AUROC.
- The test labels measure the validator only: no setting, weight or checkpoint was chosen by
  them ([protocol](../reference/protocol.md)).
- Each run was measured on the machine that trained it ("trained on": its device, from its
  `metrics.jsonl`): {cpus_line(r.get("cpu_record") for r in results)}

## Per method

Each recipe's runs on their own (the verdict above is over all runs; with two methods, the gap
between them can make the ranking over runs):

| recipe | runs | Spearman over runs | within runs (mean) | checkpoints | pooled |
|---|---:|---:|---:|---:|---:|
{chr(10).join(methods)}

## Per run

| run | recipe | seed | trained on | data | default weights | pseudo-AUROC | test AUROC | epoch checkpoints | saturated | Spearman within |
|---|---|---:|---|---|---|---:|---:|---:|---:|---:|
{chr(10).join(rows)}

"Saturated": the epoch checkpoints whose pseudo-AUROC is at least {SATURATED}, where it can no
longer rank them (`vadkit validate` then says how to make the pseudo-anomalies subtler:
[when the pseudo-AUROC saturates](../reference/validation.md#when-the-pseudo-auroc-saturates)).

## Per checkpoint

{(chr(10) * 2).join(details) if details else "No epoch checkpoint was measured."}
"""


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("runs", nargs="*", type=Path, help="Run folders to measure.")
    parser.add_argument("--page", type=Path, default=PAGE)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--redo", action="store_true", help="Measure runs measured before again.")
    parser.add_argument(
        "--param",
        action="append",
        default=[],
        help="A pseudo-anomaly parameter for every run, NAME.PARAM=VALUE (vadkit validate "
        "--param); repeatable. Write such a study to its own --page.",
    )
    parser.add_argument(
        "--note", default="", help="A paragraph under the title: what sets this study apart."
    )
    opts = parser.parse_args(argv)
    from vadkit.config.overrides import parse_component_params

    params = parse_component_params(opts.param, "--param", "noise.std=4") or None
    for run in opts.runs:
        measure_run(run, device=opts.device, redo=opts.redo, params=params)
    record = record_path(opts.page)
    results = load_results(opts.runs, record, params)
    if not results:
        raise SystemExit(
            "no run measured: pass run folders (vadkit train ... --set data.val_videos=N)"
        )
    results = [json.loads(repo_relative(json.dumps(r))) for r in results]
    stats = statistics_of(results)
    ok, _ = verdict(stats)
    from vadkit.storage.io import write_text

    given = list(argv if argv is not None else sys.argv[1:])
    for i, arg in enumerate(given[:-1]):
        if arg == "--note":
            given[i + 1] = "..."  # the note itself is on the page, above
    command = "benchmarks/validation_study.py " + " ".join(
        shlex.quote(repo_relative(str(a))) for a in given
    )
    # the note stays with the record: a rewrite without --note keeps it
    note = opts.note or (json.loads(record.read_text()).get("note", "") if record.is_file() else "")
    summary = {"threshold": THRESHOLD, "ranks_well": ok, "statistics": stats, "runs": results}
    if note:
        summary["note"] = note
    write_text(record, json.dumps(summary, indent=1) + "\n")
    write_text(opts.page, page(results, stats, command.strip(), note))
    print(f"Written: {opts.page} and its record ({len(results)} run(s))")
    return summary


if __name__ == "__main__":
    main()
