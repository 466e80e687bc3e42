"""The LUSS-AE paper's ablations on UCSD Ped2, beside the paper's numbers.

* Table 4 (error measures) and Table 5 (score rescalings) need no training: they are computed
  from the seed study's stored scores (``benchmarks/bench_ped2.py --seeds 0,1,2``), as means
  over its seeds.
* Table 2 (task subsets) trains one run per subset -- VCR; VCR+FFP; VCR+PRP; VCR+FFP+PRP --
  at one seed (``--seed``, default 0; the full set reuses that seed's study run, or is trained
  like the others where that run is not at hand), in ``OUT/tasks_<names>``, resumable like the
  study.

Writes ``docs/benchmarks/ablations.md``: each table with vadkit's Ped2 numbers beside the
paper's (the paper reports Avenue and ShanghaiTech, not Ped2, for these tables: only the
*ordering* of the rows can be compared), and says where the ordering agrees and where not::

    python benchmarks/ablations.py --study runs/ped2-seeds --data ../shared/datasets/ped2

About 20 minutes per task subset on 2 CPU cores (three trainings; the full set is reused).

The page's record ``docs/benchmarks/ablations.json`` is committed with it. Run folders are not
(they live in ``--out``, ignored by git), so on a checkout without them the script takes what
they would give from the records: the seeds from the study's record
(``docs/benchmarks/ped2-seeds.json``, see :mod:`ped2_seeds`), and a Table 2 row from this page's
record when it was computed at the same seed with the same scored weights. Nothing is trained
again that a record already holds; ``--retrain`` ignores this page's record.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import cli_runs
from machine import cpu_record, cpus_line
from ped2_seeds import PAGE as SEEDS_PAGE
from ped2_seeds import grid, load_results, record_path, scored_set, train_args

REPO = Path(__file__).resolve().parents[1]
PAGE = REPO / "docs" / "benchmarks" / "ablations.md"
PED2_ALPHAS = {"vcr": 0.1, "ffp": 0.8, "prp": 1.0}
#: The paper's Tables 2, 4 and 5 (AUROC %, Lohani et al., VISAPP 2023, section 5.2).
PAPER_TABLE2 = {  # tasks -> (Avenue, ShanghaiTech)
    "vcr": (82.72, 73.11),
    "vcr,ffp": (87.95, 76.35),
    "vcr,prp": (87.43, 79.20),
    "vcr,ffp,prp": (89.04, 81.21),
}
PAPER_TABLE4 = {"mse": (84.95, 85.38), "pse": (85.96, 86.61), "bpe": (86.48, 87.00)}  # Avenue
PAPER_TABLE5 = {"minmax": (89.01, 79.15), "robust": (89.04, 81.21)}  # (Avenue, ShanghaiTech)
SUBSETS = tuple(PAPER_TABLE2)
FULL_SET = SUBSETS[-1]  # the seed study's tasks: its run at the same seed serves when at hand
WEIGHTS = {"ema": "the moving average of the weights", "last": "the last checkpoint"}
RUNS = {"study": "the seed study's", "trained": "trained for this table"}


def _mean(values: Sequence[float]) -> float:
    return statistics.fmean(values)


def _order(values: dict[str, float]) -> list[str]:
    return sorted(values, key=lambda k: -values[k])


def _agreement(ours: dict[str, float], paper: dict[str, float], what: str) -> str:
    paper = {k: v for k, v in paper.items() if k in ours}
    o, p = _order({k: ours[k] for k in paper}), _order(paper)
    if o == p:
        return f"The ordering of the {what} agrees with the paper's ({' > '.join(o)})."
    pairs = [
        f"{a} vs {b}"
        for i, a in enumerate(p)
        for b in p[i + 1 :]
        if (ours[a] > ours[b]) != (paper[a] > paper[b])
    ]
    return (
        f"The ordering of the {what} differs from the paper's: vadkit {' > '.join(o)}, "
        f"paper {' > '.join(p)} (pairs in the other order: {', '.join(pairs)})."
    )


def tables_4_5(results: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Means over seeds: per-task AUROC per error measure (min-max), fused AUROC per rescaling
    (BPE), with the weights the recipe scores by default (:func:`ped2_seeds.scored_set`)."""
    grids = [grid(r, scored_set(results)) for r in results]
    t4 = {
        e: {t: _mean([g[f"{e}/minmax"][t] for g in grids]) for t in ("vcr", "ffp")}
        for e in ("mse", "psnr", "pse", "bpe")
    }
    t5 = {n: _mean([g[f"bpe/{n}"]["fused"] for g in grids]) for n in ("none", "minmax", "robust")}
    fused = [g["bpe/minmax"]["fused"] for g in grids]
    spread = statistics.stdev(fused) if len(fused) > 1 else None
    return {"table4": t4, "table5": t5, "seeds": [r["seed"] for r in results], "fused_std": spread}


def table_2(
    opts: Any, results: Sequence[dict[str, Any]], weights: str, recorded: dict[str, Any]
) -> tuple[dict[str, float], dict[str, float], dict[str, str], dict[str, Any]]:
    """Per task subset: fused AUROC (BPE, min-max, the paper's weights over the subset's tasks),
    training minutes, the run it comes from ("study" or "trained") and the CPU that trained it
    (:func:`machine.cpu_record`; None when its record predates them); each run is scored with
    ``--weights WEIGHTS`` (the study's default scored weights). The full set is the study's run
    at ``opts.seed`` when the study has it, else trained like the others; a subset whose run
    folder is not here takes its values from ``recorded`` (the page's record, at the same seed
    and weights) when it has them. With ``opts.no_train``, nothing is trained: the rows not
    found stay out."""
    out: dict[str, float] = {}
    minutes: dict[str, float] = {}
    origin: dict[str, str] = {}
    cpus: dict[str, Any] = {}
    known, known_minutes = recorded.get("table_2", {}), recorded.get("table_2_minutes", {})
    known_origin, known_cpus = recorded.get("table_2_runs", {}), recorded.get("table_2_cpus", {})
    study_seed = {r["seed"]: r for r in results}.get(opts.seed)
    for subset in SUBSETS:
        tasks = subset.split(",")
        alphas = {t: PED2_ALPHAS[t] for t in tasks}
        if subset == FULL_SET and study_seed is not None:
            out[subset] = study_seed["sets"][weights]["eval"]["bpe/minmax"]["fused"]
            minutes[subset] = study_seed["train_seconds"] / 60
            origin[subset] = "study"
            cpus[subset] = study_seed.get("cpu_record")
            continue
        run = opts.out / f"tasks_{'_'.join(tasks)}"
        done = run / "table2.json"
        if done.is_file() and json.loads(done.read_text()).get("weights") != weights:
            done.unlink()  # scored with other weights than the study's default: score again
        if not done.is_file() and not run.exists() and subset in known:
            out[subset] = known[subset]  # computed on a machine that had the run folder
            if subset in known_minutes:
                minutes[subset] = known_minutes[subset]
            if subset in known_origin:
                origin[subset] = known_origin[subset]
            cpus[subset] = known_cpus.get(subset)
            continue
        if not done.is_file() and opts.no_train:
            continue
        if not done.is_file():
            args = [*train_args(opts, opts.seed), "--tasks", subset]
            cli_runs.train_or_resume(run, args, opts.epochs)
            cli_runs.vadkit("score", str(run), "--weights", weights, "--json", capture=True)
            from vadkit.evaluation.evaluate import evaluate_scores
            from vadkit.evaluation.groundtruth import with_ground_truth
            from vadkit.scoring.scoreset import load_scores

            res = evaluate_scores(  # the test labels, read here as `vadkit evaluate` reads them
                with_ground_truth(load_scores(run, "testing")),
                error="bpe",
                normalizer="minmax",
                alphas=alphas,
                smooth=0.0,
            )
            from vadkit.storage.io import write_text

            fused = float(res.fused.micro_auroc)
            record = {"tasks": tasks, "weights": weights, "fused": fused}
            record["cpu_record"] = cpu_record()
            write_text(done, json.dumps(record) + "\n")
        finished = json.loads(done.read_text())
        out[subset] = finished["fused"]
        minutes[subset] = cli_runs.train_seconds(run) / 60
        origin[subset] = "trained"
        cpus[subset] = finished.get("cpu_record")
    return out, minutes, origin, cpus


def page(
    t45: dict[str, Any],
    t2: dict[str, float],
    minutes: dict[str, float],
    origin: dict[str, str],
    seed: int,
    weights: str,
    cpus: Sequence[dict[str, Any] | None] = (),
) -> str:
    """The Markdown page; ``cpus``: the CPU records of the trainings behind its numbers."""
    t4, t5 = t45["table4"], t45["table5"]
    n = len(t45["seeds"])
    rows2 = [
        f"| {s.upper().replace(',', ' + ')} | "
        + (f"{100 * t2[s]:.2f}" if s in t2 else "not trained yet")
        + f" | {PAPER_TABLE2[s][0]:.2f} | {PAPER_TABLE2[s][1]:.2f} | "
        + (f"{minutes[s]:.0f}" if s in minutes else "-")
        + f" | {RUNS.get(origin.get(s, ''), '-')} |"
        for s in SUBSETS
    ]
    missing = [s for s in SUBSETS if s not in t2]
    std = t45.get("fused_std")
    spread = (
        f" Over the seed study's {n} seeds the full set's fused AUROC has a standard deviation "
        f"of {100 * std:.1f} points: at one seed, rows closer than that are not told apart."
        if std
        else ""
    )
    again = (
        f" The full set was trained again for this table: the seed study's run at seed {seed} was"
        " not on this machine, and a training on another CPU is a separate draw (floating-point"
        " results differ between CPUs), so its value need not match the study's."
        if origin.get(FULL_SET) == "trained"
        else ""
    )
    rows4 = [
        f"| {e.upper()} | {100 * t4[e]['vcr']:.2f} | {100 * t4[e]['ffp']:.2f} | "
        + (" | ".join(f"{v:.2f}" for v in PAPER_TABLE4[e]) if e in PAPER_TABLE4 else "- | -")
        + " |"
        for e in t4
    ]
    rows5 = [
        f"| {k} | {100 * t5[k]:.2f} | "
        + (" | ".join(f"{v:.2f}" for v in PAPER_TABLE5[k]) if k in PAPER_TABLE5 else "- | -")
        + " |"
        for k in t5
    ]
    agree2 = [
        _agreement(t2, {s: v[i] for s, v in PAPER_TABLE2.items()}, f"task subsets ({d})")
        for i, d in enumerate(("Avenue", "ShanghaiTech"))
        if len(t2) > 1
    ]
    if missing:
        agree2.append(
            f"Not trained yet: {', '.join(m.upper().replace(',', ' + ') for m in missing)} "
            "(one training each: `python benchmarks/ablations.py --study runs/ped2-seeds --data "
            "../shared/datasets/ped2` trains them), so the ordering "
            "of this table is " + ("partial." if len(t2) > 1 else "not compared yet.")
        )
    agree4 = [
        _agreement(
            {e: t4[e][t] for e in PAPER_TABLE4},
            {e: v[i] for e, v in PAPER_TABLE4.items()},
            f"error measures for {t.upper()}",
        )
        for i, t in enumerate(("vcr", "ffp"))
    ]
    agree5 = [
        _agreement(
            {k: t5[k] for k in PAPER_TABLE5},
            {k: v[i] for k, v in PAPER_TABLE5.items()},
            f"rescalings ({d})",
        )
        for i, d in enumerate(("Avenue", "ShanghaiTech"))
    ]
    return f"""# The paper's ablations on UCSD Ped2

Written by `benchmarks/ablations.py` from the [seed study](ped2-seeds.md) (Tables 4 and 5:
means over the {n} seed(s) {", ".join(map(str, t45["seeds"]))}, no retraining) and from one
training per task subset at seed {seed} (Table 2). All numbers are fused or per-task frame-level
micro AUROC (%) under the paper's protocol, without smoothing, with {WEIGHTS[weights]} (the
weights `luss-ae` scores by default, decided in the seed study on validation losses). The
paper reports these ablations on Avenue and ShanghaiTech, not Ped2: the values cannot be
compared, only the ordering of the rows.

## Table 2: task subsets (fused, BPE, min-max, the paper's Ped2 weights over the tasks used)

| tasks | vadkit, Ped2 | paper, Avenue | paper, ShanghaiTech | training (min) | run |
|---|---:|---:|---:|---:|---|
{chr(10).join(rows2)}

Each row is one training at seed {seed} with the seed study's settings (see
[its page](ped2-seeds.md)), only the tasks differ. The CPU budget of this table is its
training column: each run's own record of its epochs' wall time on 2 CPU cores ("-": not
recorded).{again}{spread} The trainings behind this page ran on: {cpus_line(cpus)}

{" ".join(agree2)}

## Table 4: error measures (each task alone, min-max)

| error | VCR, Ped2 | FFP, Ped2 | paper VCR, Avenue | paper FFP, Avenue |
|---|---:|---:|---:|---:|
{chr(10).join(rows4)}

{" ".join(agree4)}

## Table 5: score rescaling (fused, BPE)

| rescaling | vadkit, Ped2 | paper, Avenue | paper, ShanghaiTech |
|---|---:|---:|---:|
{chr(10).join(rows5)}

{" ".join(agree5)}
"""


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--study", type=Path, required=True, help="the seed study's --out")
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--out", type=Path, help="where the task-subset runs go (default: --study)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--epochs", type=int, default=15)
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--stride", type=int, default=4)
    parser.add_argument("--val-videos", type=int, default=2)
    parser.add_argument("--set", action="append", default=[], help="extra config overrides")
    parser.add_argument("--page", type=Path, default=PAGE)
    parser.add_argument(
        "--study-record",
        type=Path,
        default=record_path(SEEDS_PAGE),
        help="the seed study's committed record: seeds not in --study are read from it",
    )
    parser.add_argument(
        "--retrain",
        action="store_true",
        help="ignore the page's record: every Table 2 row comes from a run folder (or trains)",
    )
    parser.add_argument(
        "--no-train",
        action="store_true",
        help="write the page from what is finished (Table 2: only the subsets already trained)",
    )
    opts = parser.parse_args(argv)
    opts.out = opts.out or opts.study
    results = load_results(opts.study, opts.study_record)
    own = record_path(opts.page)
    record = json.loads(own.read_text()) if own.is_file() and not opts.retrain else {}
    if results:
        t45, weights = tables_4_5(results), scored_set(results)
    elif record:
        t45, weights = record["tables_4_5"], record["weights"]
        print(f"no seed in {opts.study} or {opts.study_record}: Tables 4 and 5 from {own}")
    else:
        raise SystemExit(
            f"no finished seed in {opts.study} nor in {opts.study_record}: "
            "run bench_ped2.py --seeds first"
        )
    same = record.get("seed") == opts.seed and record.get("weights") == weights
    t2, minutes, origin, cpus = table_2(opts, results, weights, record if same else {})
    from vadkit.storage.io import write_text

    done = {
        "seed": opts.seed,
        "weights": weights,
        "tables_4_5": t45,
        "table_2": t2,
        "table_2_minutes": minutes,
        "table_2_runs": origin,
        "table_2_cpus": cpus,
    }
    write_text(own, json.dumps(done, indent=1) + "\n")
    trained = [cpus[s] for s in SUBSETS if s in cpus and origin.get(s) != "study"]
    machines = [r.get("cpu_record") for r in results] + trained
    write_text(opts.page, page(t45, t2, minutes, origin, opts.seed, weights, machines))
    print(f"Written: {opts.page} and its record")
    return done


if __name__ == "__main__":
    main(sys.argv[1:])
