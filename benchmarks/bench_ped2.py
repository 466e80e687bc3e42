"""LUSS-AE on the real UCSD Ped2 frames, at a size a CPU can afford, through vadkit's own CLI.

Trains with ``vadkit train`` (64x64 grayscale, 16-frame clips starting every 4 frames, 15
epochs, seed 0, everything else at vadkit's defaults), scores the test videos once per precision
with ``vadkit score`` (fp32 and bf16 autocast), then evaluates every combination of error
measure (MSE, BPE) and per-video normalizer (min-max, robust, none) with the paper's Ped2 fusion
weights (0.1, 0.8, 1) using ``vadkit evaluate`` -- no network pass per combination. Prints a
Markdown table and writes ``RUN/bench_ped2.json``. About 20 minutes on 2 CPU cores::

    .venv/bin/python benchmarks/bench_ped2.py --data ../shared/datasets/ped2 --out runs/ped2-64

A finished training run in ``--out`` is reused (an interrupted one is resumed). ``--write``
writes the result page ``docs/benchmarks/ped2.md``. ``--seeds 0,1,2`` runs the seed study
instead (:mod:`ped2_seeds`: one run per seed, resumable per seed, page
``docs/benchmarks/ped2-seeds.md``).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import tomllib
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from cli_runs import repo_relative, train_or_resume, train_seconds, vadkit
from machine import cpu_record, cpus_line

REPO = Path(__file__).resolve().parents[1]
DEFAULT_DATA = REPO.parent / "shared" / "datasets" / "ped2"
ERRORS = ("mse", "bpe")
NORMALIZERS = ("minmax", "robust", "none")
#: Epoch checkpoints averaged by ``vadkit score --average-last`` (the last third of training).
AVERAGE_LAST = 5
_AVG = ("--average-last", str(AVERAGE_LAST))
#: (label, score set, precision, extra ``vadkit score`` arguments)
SCORE_SETS = (
    ("fp32", "testing", "fp32", ()),
    ("bf16", "testing_bf16", "bf16", ()),
    ("swa fp32", "swa", "fp32", _AVG),
    ("swa bf16", "swa_bf16", "bf16", _AVG),
)
PAGE = REPO / "docs" / "benchmarks" / "ped2.md"
TARGET = 0.88
#: A plain 120-line LUSS-AE at the same setting (issue 4): raw BPE, weights (0.1, 0.8, 1).
PLAIN = {"fused_minmax": 0.879, "fused_robust": 0.776, "ffp_raw": 0.845, "vcr_raw": 0.783}
#: A faster precision becomes the scoring default only within this many AUROC points of fp32.
TOLERANCE_POINTS = 0.5
#: Widths (frames) of the optional temporal smoothing evaluated beside the paper's protocol.
SMOOTHING = (5.0, 10.0, 15.0)
#: The smoothing the headline quotes beside the paper's protocol.
HEADLINE_SMOOTH = 10.0


def train_runtime(config: dict[str, Any]) -> dict[str, Any]:
    """Device, precision and memory format that the run's ``train`` settings resolve to here."""
    from vadkit.compute.device import Runtime

    t = config["train"]
    return Runtime.from_config(t["device"], t["precision"], t["channels_last"]).describe()


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--out", type=Path, default=REPO / "runs" / "ped2-64")
    parser.add_argument("--epochs", type=int, default=15)
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--stride", type=int, default=4)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--set", action="append", default=[], help="extra config overrides")
    parser.add_argument("--write", action="store_true", help=f"write {PAGE.relative_to(REPO)}")
    parser.add_argument(
        "--also",
        type=Path,
        action="append",
        default=[],
        help="another benchmarked run (its bench_ped2.json) to summarise on the page",
    )
    parser.add_argument(
        "--page-only",
        action="store_true",
        help="rewrite the page from --out's bench_ped2.json without training or scoring",
    )
    parser.add_argument(
        "--seeds",
        help="seed study: comma-separated seeds, one run each in OUT/seed_N (resumable); "
        "writes docs/benchmarks/ped2-seeds.md (benchmarks/ped2_seeds.py)",
    )
    parser.add_argument(
        "--val-videos", type=int, default=2, help="seed study: training videos held out"
    )
    parser.add_argument("--page", help="seed study: write the page here instead")
    args = parser.parse_args(argv)
    if args.seeds:
        from ped2_seeds import main as seed_study

        seeds = [int(s) for s in args.seeds.split(",") if s.strip()]
        command = "benchmarks/bench_ped2.py " + " ".join(argv or sys.argv[1:])
        return {"seeds": seed_study(args, seeds, command)}
    if args.page_only:
        summary = json.loads((args.out / "bench_ped2.json").read_text())
        summary["also"] = [json.loads((a / "bench_ped2.json").read_text()) for a in args.also]
        PAGE.write_text(page(summary), encoding="utf-8")
        print(f"Written: {PAGE}")
        return summary
    load = [round(x, 2) for x in os.getloadavg()]
    if not (args.data / "testing" / "frames").is_dir():
        raise SystemExit(f"UCSD Ped2 not found at {args.data} (pass --data)")
    run: Path = args.out
    timings: dict[str, float] = {}
    train_args = [
        "--data", str(args.data),
        "--tasks", "vcr,ffp,prp",
        "--error", "bpe",
        "--epochs", str(args.epochs),
        "--set", f"data.size=[{args.size},{args.size}]",
        "--set", f"data.stride={args.stride}",
        "--set", f"train.seed={args.seed}",
        "--set", "score.alphas={vcr=0.1, ffp=0.8, prp=1.0}",
        *[a for item in args.set for a in ("--set", item)],
    ]  # fmt: skip
    train_or_resume(run, train_args, args.epochs, quiet=False)
    timings["train_s"] = train_seconds(run)
    config = tomllib.loads((run / "config.toml").read_text())

    results: dict[str, Any] = {}
    for label, name, precision, extra in SCORE_SETS:
        t1 = time.perf_counter()
        score_args = ["score", str(run), "--precision", precision, "--name", name, *extra]
        meta = json.loads(vadkit(*score_args, "--device", "cpu", "--json", capture=True))
        timings[f"score_{label.replace(' ', '_')}_s"] = time.perf_counter() - t1
        results[label] = {"windows_per_second": meta["windows_per_second"], "eval": {}}
        results[label]["weights"] = meta.get("weights")
        for error in ERRORS:
            for norm in NORMALIZERS:
                eval_args = ["evaluate", str(run), "--scores", name, "--error", error]
                eval_args += ["--normalizer", norm, "--alphas", "ped2", "--no-plots", "--json"]
                res = json.loads(vadkit(*eval_args, capture=True))
                results[label]["eval"][f"{error}/{norm}"] = {
                    k: v["micro_auroc"] for k, v in res["results"].items()
                }
                results[label]["protocol"] = res["protocol"]
    # each of the averaged epochs on its own (bf16: the same weights as "swa", not averaged)
    per_epoch: dict[str, dict[str, float]] = {}
    for epoch in range(args.epochs - AVERAGE_LAST + 1, args.epochs + 1):
        name = f"epoch{epoch:02d}"
        vadkit("score", str(run), "--checkpoint", str(epoch), "--precision", "bf16",
               "--name", name, "--device", "cpu", "--json", capture=True)  # fmt: skip
        eval_args = ["evaluate", str(run), "--scores", name, "--error", "bpe"]
        eval_args += ["--normalizer", "minmax", "--alphas", "ped2", "--no-plots", "--json"]
        res = json.loads(vadkit(*eval_args, capture=True))
        per_epoch[str(epoch)] = {k: v["micro_auroc"] for k, v in res["results"].items()}
    smoothing: dict[str, dict[str, float]] = {}
    for error in ERRORS:
        for sigma in SMOOTHING:
            eval_args = ["evaluate", str(run), "--error", error, "--normalizer", "minmax"]
            eval_args += ["--alphas", "ped2", "--smooth", str(sigma), "--no-plots", "--json"]
            res = json.loads(vadkit(*eval_args, capture=True))
            smoothing[f"{error}/minmax/{sigma:g}"] = {
                k: v["micro_auroc"] for k, v in res["results"].items()
            }
    # the run's own defaults, with plots (RUN/plots/), as a user would evaluate it
    vadkit("evaluate", str(run), "--alphas", "ped2", "--json", capture=True)

    lines = [
        "| precision | error | normalizer | VCR | FFP | PRP | fused (0.1, 0.8, 1) |",
        "|---|---|---|---|---|---|---|",
    ]
    for precision, data in results.items():
        for key, row in data["eval"].items():
            error, norm = key.split("/")
            lines.append(
                f"| {precision} | {error} | {norm} | {row['vcr']:.3f} | {row['ffp']:.3f} | "
                f"{row['prp']:.3f} | **{row['fused']:.3f}** |"
            )
    fp32 = results["fp32"]["eval"]["bpe/minmax"]["fused"]
    bf16 = results["bf16"]["eval"]["bpe/minmax"]["fused"]
    summary = {
        "command": "benchmarks/bench_ped2.py " + " ".join(argv or sys.argv[1:]),
        "train_config": {k: config[k] for k in ("data", "model", "tasks", "train")},
        "timings": {k: round(v, 1) for k, v in timings.items()},
        "results": results,
        "smoothing": smoothing,
        "per_epoch": per_epoch,
        "average_last": AVERAGE_LAST,
        "bf16_minus_fp32_fused_bpe_minmax_points": round(100 * (bf16 - fp32), 3),
        "cpu_threads": os.cpu_count(),
        "cpu_record": cpu_record(),
        "load_average": load,
        "train_args": train_args,
        "run": str(run),
        "train_runtime": train_runtime(config),
    }
    (run / "bench_ped2.json").write_text(json.dumps(summary, indent=2) + "\n")
    summary["also"] = [json.loads((a / "bench_ped2.json").read_text()) for a in args.also]
    print("\n".join(lines))
    print(
        f"\nbf16 - fp32 fused (bpe, minmax): {100 * (bf16 - fp32):+.2f} points; "
        f"scoring {results['fp32']['windows_per_second']} (fp32) vs "
        f"{results['bf16']['windows_per_second']} (bf16) windows/s"
    )
    print(f"Written: {run / 'bench_ped2.json'}")
    if args.write:
        PAGE.parent.mkdir(parents=True, exist_ok=True)
        PAGE.write_text(page(summary), encoding="utf-8")
        print(f"Written: {PAGE}")
    return summary


HEADLINE = "bpe/minmax"
_FIXED_SETS = ("data.size=", "data.stride=", "train.seed=", "score.alphas=")


def _extra_sets(train_args: list[str]) -> list[str]:
    """The ``--set`` items a run added to the benchmark's fixed ones."""
    items = [train_args[i + 1] for i, a in enumerate(train_args[:-1]) if a == "--set"]
    return [item for item in items if not item.startswith(_FIXED_SETS)]


def _deltas(summary: dict[str, Any]) -> dict[str, float]:
    """bf16 minus fp32 fused micro AUROC (points) for every model variant and combination."""
    out = {}
    for run in [summary, *summary.get("also", [])]:
        res = run["results"]
        for w in ("", "swa "):
            if f"{w}fp32" not in res:
                continue
            for key in res["fp32"]["eval"]:
                diff = res[f"{w}bf16"]["eval"][key]["fused"] - res[f"{w}fp32"]["eval"][key]["fused"]
                out[f"{run['run']} {w or 'last '}{key}"] = diff * 100
    return out


def _decision(summary: dict[str, Any]) -> tuple[bool, float, str]:
    """Whether bf16 may be the CPU scoring default: faster, and its fused AUROC -- the headline
    number of this page (BPE, min-max, the paper's weights) -- never more than the tolerance below
    fp32's on any model the benchmark scored (the rule guards accuracy: a gain does not count)."""
    res = summary["results"]
    fp32, bf16 = res["fp32"], res["bf16"]
    deltas = _deltas(summary)
    headline = [v for k, v in deltas.items() if k.endswith(HEADLINE)]
    worst_loss = max(0.0, -min(headline))
    faster = (bf16["windows_per_second"] or 0) > (fp32["windows_per_second"] or 0)
    ok = worst_loss <= TOLERANCE_POINTS and faster
    others = [v for k, v in deltas.items() if not k.endswith(HEADLINE)]
    why = (
        f"on the headline fused micro AUROC (BPE, min-max, weights (0.1, 0.8, 1)), bf16 minus "
        f"fp32 is {', '.join(f'{v:+.2f}' for v in headline)} points over the {len(headline)} "
        f"models scored (last checkpoint and averaged weights of each run), so bf16 loses at most "
        f"{worst_loss:.2f} points ({'within' if worst_loss <= TOLERANCE_POINTS else 'beyond'} the "
        f"{TOLERANCE_POINTS} allowed); over the other error/normalizer combinations the "
        f"difference ranges from {min(others):+.2f} to {max(others):+.2f} points (mean "
        f"{sum(deltas.values()) / len(deltas):+.2f} over all {len(deltas)} pairs): bf16 moves the "
        f"AUROC by up to about a point either way, without a direction. bf16 scored "
        f"{bf16['windows_per_second']} windows/s against fp32's {fp32['windows_per_second']} in "
        "this run"
    )
    return ok, worst_loss, why


def page(summary: dict[str, Any]) -> str:
    """The Markdown result page."""
    res = summary["results"]
    fp32 = res["fp32"]["eval"]
    cfg = summary["train_config"]
    proto = res["fp32"]["protocol"]
    main_fused = fp32["bpe/minmax"]["fused"]
    swa = res["swa fp32"]["eval"]
    swa_fused = swa["bpe/minmax"]["fused"]
    k_avg = summary["average_last"]
    swa_rows = []
    for key, row in swa.items():
        error, norm = key.split("/")
        bf = res["swa bf16"]["eval"][key]["fused"]
        swa_rows.append(
            f"| {error} | {norm} | {row['vcr']:.3f} | {row['ffp']:.3f} | {row['prp']:.3f} | "
            f"**{row['fused']:.3f}** | {bf:.3f} |"
        )
    epoch_rows = [
        f"| {epoch} | {row['vcr']:.3f} | {row['ffp']:.3f} | {row['prp']:.3f} | {row['fused']:.3f} |"
        for epoch, row in summary["per_epoch"].items()
    ]
    averaged = ", ".join(res["swa fp32"]["weights"]["averaged"])
    also_rows = []
    for other in summary.get("also", []):
        o = other["results"]
        extra = " ".join(a for a in other["train_args"] if "rate_per" in a or "head" in a)
        for key in ("bpe/minmax", "mse/minmax"):
            also_rows.append(
                f"| `{other['run']}` {extra} | {key} | {o['fp32']['eval'][key]['fused']:.3f} | "
                f"{o['swa fp32']['eval'][key]['fused']:.3f} |"
            )
    also = (
        "A second training run at the same setting, with one change (the run and the change "
        "are named in the first column), shows how much a single run varies and what averaging "
        "does to it (fused micro AUROC, fp32, weights (0.1, 0.8, 1)):\n\n"
        "| run | error/normalizer | last checkpoint | averaged |\n|---|---|---:|---:|\n"
        + "\n".join(also_rows)
        + "\n"
        if also_rows
        else ""
    )
    bn_windows = res["swa fp32"]["weights"]["batchnorm"]["windows"]
    rows = []
    for key, row in fp32.items():
        error, norm = key.split("/")
        bf = res["bf16"]["eval"][key]["fused"]
        rows.append(
            f"| {error} | {norm} | {row['vcr']:.3f} | {row['ffp']:.3f} | {row['prp']:.3f} | "
            f"**{row['fused']:.3f}** | {bf:.3f} |"
        )
    smooth_rows = []
    for key, row in summary.get("smoothing", {}).items():
        error, norm, sigma = key.split("/")
        smooth_rows.append(
            f"| {error} | {norm} | {sigma} | {row['vcr']:.3f} | {row['ffp']:.3f} | "
            f"{row['prp']:.3f} | **{row['fused']:.3f}** |"
        )
    smoothed = summary.get("smoothing", {}).get(f"bpe/minmax/{HEADLINE_SMOOTH:g}", {})
    smoothed_fused = smoothed.get("fused", float("nan"))
    ok, _, why = _decision(summary)
    decision = (
        'bf16 autocast becomes the CPU default of `score.precision = "auto"` on a CPU that '
        "computes bf16 natively (AVX512-BF16 or AMX; elsewhere oneDNN emulates it, slower than "
        "fp32, and auto is fp32)"
        if ok
        else 'fp32 stays the CPU default of `score.precision = "auto"`; bf16 remains '
        "available with `--precision bf16`"
    )
    train = cfg["train"]
    rt = summary["train_runtime"]
    ffp_head = cfg["tasks"]["params"].get("ffp", {}).get("head", "full")
    hours = summary["timings"]["train_s"] / 60
    also_cmds = "".join(
        f"python benchmarks/bench_ped2.py --out {o['run']} "
        + " ".join(f"--set {item}" for item in _extra_sets(o["train_args"]))
        + "   # the second run\n"
        for o in summary.get("also", [])
    )
    if summary.get("also"):
        also_cmds += (
            f"python benchmarks/bench_ped2.py --out {summary['run']} "
            + " ".join(f"--also {o['run']}" for o in summary["also"])
            + " --page-only   # this page, from both runs' results\n"
        )
    cmd_train = "vadkit train " + " ".join(
        a if " " not in a else f"'{a}'" for a in summary["train_args"]
    )
    text = f"""# LUSS-AE on UCSD Ped2 at 64 x 64

Trained and evaluated on the real UCSD Ped2 frames at a size a CPU can afford, vadkit reaches a
fused frame-level micro AUROC of **{swa_fused:.3f}** with the paper's Ped2 weights (0.1, 0.8, 1),
BPE and per-video min-max rescaling, under the paper's protocol, when it scores the average of
the weights of the last {k_avg} epoch checkpoints with BatchNorm statistics re-estimated
(`vadkit score --average-last {k_avg}`); **{main_fused:.3f}** with the last checkpoint alone; and
{smoothed_fused:.3f} with the last checkpoint when the rescaled scores are also smoothed over time
by a Gaussian of {HEADLINE_SMOOTH:g} frames (`vadkit evaluate --smooth {HEADLINE_SMOOTH:g}`, not the
paper's protocol). Target: at least {TARGET:.2f}: {"met" if swa_fused >= TARGET else "not met"}
with the averaged weights, {"met" if main_fused >= TARGET else "not met"} with the last
checkpoint.

## Setting

- Data: `{Path(proto["data_root"] or "").name}`, {cfg["data"]["size"][0]} x {cfg["data"]["size"][1]}
  grayscale, clips of T = {cfg["data"]["clip_length"]} frames starting every
  {cfg["data"]["stride"]}th training frame; ground truth `{Path(proto["ground_truth"]).name}`.
- Model: `{cfg["model"]["backbone"]}` at the paper's widths, tasks {", ".join(cfg["tasks"]["names"])}
  with loss weights {cfg["tasks"]["weights"]}; FFP head `{ffp_head}`.
- Training: {train["epochs"]} epochs, batch {train["batch_size"]}, Adam lr {train["lr"]}, seed
  {train["seed"]}, {rt["precision"]} on {rt["device"]} (`train.precision = "{train["precision"]}"`,
  channels-last {rt["channels_last"]}); {hours:.0f} minutes of
  training on {summary["cpu_threads"]} shared CPU cores (load average {summary["load_average"][0]:.1f}
  when the script started). {cpus_line(r.get("cpu_record") for r in [summary, *summary.get("also", [])])}
- Protocol: {proto["frames_scored"]} of {proto["total_frames"]} test frames scored (the first
  {proto["clip_length"]} of each video are not the last frame of any window), frame-level micro
  AUROC over all scored frames with thresholds common to all videos; weights
  {proto["alphas"]}.

## Results (micro AUROC)

Each task alone is evaluated on its rescaled score (the `none` rows: raw scores); the fused score
is `0.1 A_VCR + 0.8 A_FFP + 1.0 A_PRP` of the rescaled scores.

| error | normalizer | VCR | FFP | PRP | fused (fp32) | fused (bf16) |
|---|---|---:|---:|---:|---:|---:|
{chr(10).join(rows)}

A plain 120-line LUSS-AE at the same setting reaches, with raw BPE scores: VCR alone
{PLAIN["vcr_raw"]:.3f}, FFP alone {PLAIN["ffp_raw"]:.3f}; fused {PLAIN["fused_minmax"]:.3f} with
min-max and {PLAIN["fused_robust"]:.3f} with robust rescaling. vadkit here: VCR alone
{fp32["bpe/none"]["vcr"]:.3f}, FFP alone {fp32["bpe/none"]["ffp"]:.3f}; fused
{fp32["bpe/minmax"]["fused"]:.3f} (min-max) and {fp32["bpe/robust"]["fused"]:.3f} (robust).

## Averaging the last epochs

At this budget (15 epochs, 555 optimizer steps) training has not converged, and the weights of
one epoch score quite differently from the next. Each of the last {k_avg} epoch checkpoints
scored on its own (bf16, BPE, min-max, weights (0.1, 0.8, 1)):

| epoch | VCR | FFP | PRP | fused |
|---:|---:|---:|---:|---:|
{chr(10).join(epoch_rows)}

`vadkit score --average-last {k_avg}` loads the mean of the weights of {averaged} (stochastic
weight averaging, Izmailov et al. 2018: no further training, no test label), then re-estimates
every BatchNorm layer's running statistics as the exact average over the run's {bn_windows}
normal training windows (original playback rate, the clips scoring sees), since the statistics
of averaged weights are not those of any checkpoint. The number of epochs averaged was fixed
beforehand (the last third of training), not chosen on the test labels. Results with the
averaged weights:

| error | normalizer | VCR | FFP | PRP | fused (fp32) | fused (bf16) |
|---|---|---:|---:|---:|---:|---:|
{chr(10).join(swa_rows)}

Averaging was added after the last checkpoint of this run missed the target; it is reported
here with the last-checkpoint numbers above, not instead of them. {also}
## Temporal smoothing

Anomalies in surveillance video last many frames, while per-frame scores (PRP's above all) are
noisy from one window to the next. `vadkit evaluate --smooth SIGMA` filters every rescaled score
stream of a video with a Gaussian of SIGMA frames before fusion (the same as smoothing the fused
score, since fusion is linear), a post-processing step many VAD papers use; the protocol
records it (`smoothing_sigma`), and it is off by default so that the default numbers follow the
LUSS-AE paper. It looks at past and future frames, so it is an offline evaluation choice
(`vadkit watch` scores causally). SIGMA was not tuned on held-out data: all three widths tried
are shown.

| error | normalizer | sigma (frames) | VCR | FFP | PRP | fused (fp32) |
|---|---|---:|---:|---:|---:|---:|
{chr(10).join(smooth_rows)}

## What vadkit does that a plain implementation may not

- **Scores the average of the last epochs' weights** (`--average-last`), with BatchNorm
  statistics re-estimated on the normal training windows: above.
- **An FFP head that sees the whole clip** (`tasks.params.ffp.head = "full"`, the default): a
  Conv3d with kernel (T, 3, 3) over the decoded clip. The authors' head (`"paper"`) is a
  Conv3d with kernel 3 and temporal stride 16 that, with padding 1, only reads decoder time
  slices 0 and 1 -- the two frames farthest from the one it predicts.
- **One softmax**: PRP's head returns logits; the loss is cross-entropy on them and the test
  score is the softmax probability of the accelerated class (the authors' code applies softmax
  two or three times).
- **PRP clips of T frames** (the authors' code builds 8-frame clips, too short for its pooling),
  accelerated by a gap drawn per batch from (2, 3, 4, 5), indices clamped at the video's end.
- **Scores in float32 from one network pass**: every error measure is computed from the same
  reconstruction and prediction; similarities (PSNR) are negated, and per-video rescaling runs
  over exactly the frames scored.

## Precision: fp32 or bf16 autocast for scoring

Both scorings use the same trained weights; {why}. Decision: {decision}
(`SCORE_AUTO_PRECISION` in `vadkit/inference/scorer.py`; speed side by side on the same windows in
[scoring speed](score-speed.md)).

## Reproduce

```bash
python benchmarks/bench_ped2.py --out {summary["run"]} --write
{also_cmds}```

The first command runs, in order:

```bash
{cmd_train} --out {summary["run"]}
vadkit score {summary["run"]} --precision fp32
vadkit score {summary["run"]} --precision bf16 --name testing_bf16
vadkit score {summary["run"]} --precision fp32 --average-last {k_avg} --name swa
vadkit evaluate {summary["run"]} --scores swa --error bpe --normalizer minmax --alphas ped2
vadkit evaluate {summary["run"]} --error bpe --normalizer minmax --alphas ped2
vadkit evaluate {summary["run"]} --error bpe --normalizer minmax --alphas ped2 --smooth {HEADLINE_SMOOTH:g}
```

(and the same evaluation for each error measure and normalizer in the table).
"""
    return repo_relative(text)


if __name__ == "__main__":
    main(sys.argv[1:])
