"""Training speed: vadkit's train step against a bare step and against the authors' structure.

Every variant trains the same model (the same initial weights, its own Adam) on the same batches
of real windows from the synthetic scene; the variants take turns, step by step, so that a
change in machine load hits them all alike; the report gives the median seconds per step and
the ratios of clips/s. Variants:

* ``authors``: fp32, contiguous tensors, one encoder+decoder pass per head, as in the authors'
  code (VCR: encode+decode; FFP: encode+decode again, then the head; PRP: encode its view).
* ``bare <setting>``: a hand-written step of the same model (one encoder and one decoder pass
  for the shared clip, one encoder pass for PRP's view), in the same setting as the vadkit step.
* ``vadkit <setting>``: :class:`vadkit.training.step.TrainStep`, as ``vadkit train`` runs it.

Settings: ``lean`` (fp32, contiguous), ``channels-last`` (fp32, channels_last_3d: the default on
CPU) and ``bf16`` (bf16 autocast + channels-last). Run from the repository root::

    .venv/bin/python benchmarks/bench_train_speed.py --write docs/benchmarks/train-speed.md
"""

from __future__ import annotations

import argparse
import copy
import os
import shlex
import sys
from collections.abc import Callable
from pathlib import Path

import torch
from machine import cpu_record, describe_cpu
from sidebyside import interleaved, speed_table

from vadkit.components import Batch, Features
from vadkit.compute.device import AUTO_PRECISION, Runtime
from vadkit.config import resolve_config
from vadkit.model import VADModel
from vadkit.runs import model as run_model
from vadkit.training.step import TrainStep

Step = Callable[[Batch], object]

HEADER = """# Training speed

Written by `benchmarks/bench_train_speed.py` (the command is under each table). It times one
training step of vadkit (`vadkit.training.step.TrainStep`, what `vadkit train` runs) against a
bare hand-written step of the same model in the same precision, and against the structure of the
authors' code (fp32, an encoder and decoder pass per head, so the decoder runs twice). Required:
vadkit's default step at least 0.85x a bare step and at least 1.8x the authors' structure.

The variants take turns step by step, so machine load hits them alike, but the absolute times
depend on it (the load average is under each table). On a shared machine two torch threads can
be slower than one, as the threads wait for each other while other processes hold the cores;
`--threads 1` gives steadier numbers there.
"""


def _batches(config: dict, count: int) -> list[Batch]:
    """``count`` batches of training windows from the synthetic scene (the loader's first)."""
    from vadkit.data import TrainWindows, default_data_root, make_train_loader, open_videos

    data = config["data"]
    videos = open_videos(
        default_data_root(), "training", size=tuple(data["size"]), color=data["color"],
        progress=False,
    )  # fmt: skip
    model = run_model.build_model(config)
    windows = TrainWindows(
        videos, clip_length=data["clip_length"], stride=data["stride"], tasks=model.task_map
    )
    loader = make_train_loader(windows, batch_size=config["train"]["batch_size"])
    out: list[Batch] = []
    for batch in loader:
        out.append(Batch(batch.clip, batch.target, dict(batch.views), dict(batch.labels)))
        if len(out) == count:
            break
    return out


def authors_step(model: VADModel, optimizer: torch.optim.Optimizer, weights: dict) -> Step:
    """fp32, contiguous; a separate encoder (+ decoder) pass per head, as the authors' code does."""
    backbone = model.backbone

    tasks = model.task_map

    def step(batch: Batch) -> object:
        total = torch.zeros(())
        for name in weights:
            task = tasks[name]
            clip = batch.views.get(name, batch.clip)
            latent = backbone.encode(clip)
            if task.uses_decoder:
                decoded = backbone.decode(latent)
                feats = Features(latent=latent, decoded=decoded, recon=torch.tanh(decoded))
            else:
                feats = Features(latent=latent)
            total = total + weights[name] * task.loss(feats, batch)
        optimizer.zero_grad(set_to_none=True)
        total.backward()
        optimizer.step()
        return total

    return step


def bare_step(
    model: VADModel, optimizer: torch.optim.Optimizer, weights: dict, runtime: Runtime
) -> Step:
    """A hand-written step: one encoder and one decoder pass for the clip, one encoder pass for
    PRP's view, in ``runtime``'s precision and memory format."""
    backbone = model.backbone
    vcr, ffp, prp = (model.task_map[n] for n in ("vcr", "ffp", "prp"))
    fmt = runtime.memory_format
    autocast = runtime.autocast

    def step(batch: Batch) -> object:
        clip = batch.clip.contiguous(memory_format=fmt)
        view = batch.views["prp"].contiguous(memory_format=fmt)
        with autocast():
            latent = backbone.encode(clip)
            decoded = backbone.decode(latent)
            shared = Features(latent=latent, decoded=decoded, recon=torch.tanh(decoded))
            own = Features(latent=backbone.encode(view))
            total = (
                weights["vcr"] * vcr.loss(shared, batch).float()
                + weights["ffp"] * ffp.loss(shared, batch).float()
                + weights["prp"] * prp.loss(own, batch).float()
            )
        optimizer.zero_grad(set_to_none=True)
        total.backward()
        optimizer.step()
        return total

    return step


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--size", type=int, default=64, help="frame height and width")
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--clip-length", type=int, default=16)
    parser.add_argument("--channels", default="96,128,256,256", help="cae3d widths")
    parser.add_argument("--reps", type=int, default=5, help="timed steps per variant")
    parser.add_argument("--warmup", type=int, default=1, help="untimed steps per variant")
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: default)")
    parser.add_argument("--no-bf16", action="store_true", help="leave out the bf16 variants")
    parser.add_argument("--write", type=Path, help="write the report (Markdown) to this file")
    parser.add_argument("--append", action="store_true", help="append to --write's file")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)

    widths = [int(c) for c in args.channels.split(",")]
    config = resolve_config(
        overrides=[
            f"data.size=[{args.size},{args.size}]",
            f"data.clip_length={args.clip_length}",
            "data.stride=4",
            f"train.batch_size={args.batch}",
            f"model.params.channels={widths}",
        ]
    )
    weights = dict(config["tasks"]["weights"])
    torch.manual_seed(0)
    base = run_model.build_model(config)
    batches = _batches(config, count=2)
    cpu = torch.device("cpu")
    settings = {
        "lean": Runtime(cpu, "fp32", channels_last=False),
        "channels-last": Runtime(cpu, "fp32", channels_last=True),
    }
    if not args.no_bf16:
        settings["bf16"] = Runtime(cpu, "bf16", channels_last=True)
    default_rt = Runtime.from_config(
        config["train"]["device"], config["train"]["precision"], config["train"]["channels_last"]
    )
    default_name = next(n for n, rt in settings.items() if rt == default_rt)

    def fresh(runtime: Runtime) -> tuple[VADModel, torch.optim.Optimizer]:
        model = copy.deepcopy(base)
        runtime.prepare(model)
        model.train()
        return model, torch.optim.Adam(model.parameters(), lr=config["train"]["lr"])

    variants: dict[str, Step] = {}
    model, opt = fresh(settings["lean"])
    variants["authors"] = authors_step(model, opt, weights)
    for name, runtime in settings.items():
        model, opt = fresh(runtime)
        variants[f"bare {name}"] = bare_step(model, opt, weights, runtime)
        model, opt = fresh(runtime)
        variants[f"vadkit {name}"] = TrainStep(model, opt, weights, runtime)

    def on_batch(step: Step) -> Callable[[int], object]:
        return lambda rep: step(batches[rep % len(batches)])  # the same batch for every variant

    def progress(rep: int) -> None:
        print(f"rep {rep + 1}/{args.warmup + args.reps} done", file=sys.stderr, flush=True)

    load_before = os.getloadavg()
    median = interleaved(
        {name: on_batch(step) for name, step in variants.items()},
        args.warmup,
        args.reps,
        after_round=progress,
    )
    load_after = os.getloadavg()
    table = speed_table(median, args.batch, "clips/s", reference="authors", per_call="s/step")
    checks = [
        (
            f"vadkit {default_name} (the CPU default) / bare {default_name}",
            median[f"bare {default_name}"] / median[f"vadkit {default_name}"],
            0.85,
        ),
        (
            f"vadkit {default_name} (the CPU default) / authors",
            median["authors"] / median[f"vadkit {default_name}"],
            1.8,
        ),
    ]
    for name in settings:
        if name != default_name:
            checks.append(
                (
                    f"vadkit {name} / bare {name}",
                    median[f"bare {name}"] / median[f"vadkit {name}"],
                    0.85,
                )
            )
    check_rows = [
        f"| {label} | {ratio:.2f}x | >= {need}x | {'pass' if ratio >= need else 'FAIL'} |"
        for label, ratio, need in checks
    ]
    command = "python " + " ".join(shlex.quote(a) for a in [sys.argv[0], *(argv or sys.argv[1:])])
    report = "\n".join(
        [
            f"## {args.size}x{args.size}, batch {args.batch}, {torch.get_num_threads()} "
            f"thread{'s' if torch.get_num_threads() > 1 else ''}",
            "",
            "Seconds per training step (median of interleaved repetitions) and clips/s of one",
            f"step at {args.size}x{args.size}, T={args.clip_length}, batch {args.batch}, cae3d "
            f"widths {tuple(widths)}, tasks vcr+ffp+prp, Adam; every variant trains the same",
            "model on the same batches (see the docstring of `benchmarks/bench_train_speed.py`).",
            "",
            *table,
            "",
            "| check | measured | required | |",
            "|---|---|---|---|",
            *check_rows,
            "",
            f"Defaults on CPU: channels-last on; precision `auto` = `{AUTO_PRECISION['cpu']}` "
            "(`AUTO_PRECISION` in `vadkit/compute/device.py`). bf16 becomes the CPU default only "
            "if its fused AUROC on Ped2 stays within 0.5 points of fp32.",
            "",
            f"Machine: {describe_cpu(cpu_record())}; "
            f"torch {torch.__version__} with {torch.get_num_threads()} thread(s); "
            f"{args.warmup} warm-up + {args.reps} timed steps per variant; load average "
            f"{load_before[0]:.2f} before, {load_after[0]:.2f} after (the machine is shared).",
            "",
            "Command (from the repository root):",
            "",
            "```",
            command,
            "```",
            "",
        ]
    )
    print(report)
    if args.write:
        args.write.parent.mkdir(parents=True, exist_ok=True)
        if args.append and args.write.exists():
            text = args.write.read_text(encoding="utf-8").rstrip("\n") + "\n\n" + report
        else:
            text = HEADER + "\n" + report
        args.write.write_text(text, encoding="utf-8")
    return 0 if all(ratio >= need for _, ratio, need in checks[:2]) else 1


if __name__ == "__main__":
    raise SystemExit(main())
