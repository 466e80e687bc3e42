"""Scoring speed: vadkit's scoring pass against a bare loop and against the authors' structure.

Every variant scores the same windows of the same model (LUSS-AE: the full-width 3DCAE with the
vcr, ffp and prp heads, random weights: speed does not depend on them) and computes the same
scores: vcr and ffp with every registered error measure, prp's probability.

* ``vadkit <precision>``: :func:`vadkit.inference.score.score_videos`, the code behind
  ``vadkit score`` (batched windows gathered from one decoded frame buffer, one encoder and one
  decoder pass per window for all tasks, channels-last 3-D memory, ``torch.inference_mode``).
* ``bare <precision>``: a hand-written loop over the same batches doing the same work with the
  model's modules directly, with the same precision and memory format: the floor for vadkit's
  overhead (check (a): vadkit >= 0.9x bare).
* ``authors``: the loop structure of the authors' public code: fp32, contiguous memory,
  ``torch.no_grad``, each window read and converted on its own, and the decoder run twice per
  window (once for the reconstruction, once more for the FFP head). Check (b): vadkit's default
  scoring >= 2.5x its frames/s.

Repetitions are interleaved (the order rotates each round) so that load from other processes
hits every variant alike. Reported: each variant's median frames/s, and each ratio as the median
over rounds of the paired ratio of two variants' times in the same round (robust to load that
comes and goes between rounds). Run::

    .venv/bin/python benchmarks/bench_score_speed.py --size 64 --frames 112 --repeats 5 --write

``--write`` writes the result page ``docs/benchmarks/score-speed.md``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parent))
from machine import cpu_record, describe_cpu

from vadkit.api import create_backbone, create_task, list_errors
from vadkit.components import SCORE_KEY
from vadkit.data import Video
from vadkit.inference.score import score_videos
from vadkit.inference.scorer import applicable_errors, scoring_runtime
from vadkit.model import VADModel

ROOT = Path(__file__).resolve().parents[1]
PAGE = ROOT / "docs" / "benchmarks" / "score-speed.md"
AUTHORS = "authors (fp32, decoder twice)"
CHECK_A, CHECK_B = 0.9, 2.5


def build_model(size: int, clip_length: int, seed: int = 0) -> VADModel:
    torch.manual_seed(seed)
    backbone = create_backbone("cae3d")
    tasks = {n: create_task(n) for n in ("vcr", "ffp", "prp")}
    return VADModel(backbone, tasks, (1, clip_length, size, size)).eval()


def _frame_shape(video: Video) -> tuple[int, int, int]:
    height, width, channels = video.frame_shape
    return (int(channels), int(height), int(width))


def vadkit_variant(
    model: VADModel, video: Video, t: int, bs: int, precision: str, device: str = "cpu"
) -> Callable:
    runtime = scoring_runtime(device, precision, channels_last=True)
    runtime.prepare(model)
    errors = applicable_errors(None, _frame_shape(video), runtime.device)

    def run() -> dict[str, dict[str, np.ndarray]]:
        (out,) = score_videos(
            model, [video], clip_length=t, errors=errors, runtime=runtime, batch_size=bs
        )
        return out.raw

    return run


#: Per-window scores of the hand-written loops: task -> score key -> one tensor per batch.
Scores = dict[str, dict[str, list[torch.Tensor]]]


def _heads(model: VADModel) -> tuple[Any, Any]:
    return model.tasks["ffp"].head, model.tasks["prp"].head


def _collect(
    out: Scores,
    errors: dict[str, Any],
    clip: torch.Tensor,
    recon: torch.Tensor,
    target: torch.Tensor,
    pred: torch.Tensor,
    prob: torch.Tensor,
) -> None:
    """Append one batch's per-window scores (higher = more anomalous) to ``out``: VCR's error
    averaged over the clip's frames, FFP's on the predicted frame, PRP's probability."""
    b, t = clip.shape[0], clip.shape[2]
    r = recon.transpose(1, 2).flatten(0, 1)
    c = clip.transpose(1, 2).flatten(0, 1)
    for name, err in errors.items():
        sign = 1.0 if err.higher_is_anomalous else -1.0
        out["vcr"].setdefault(name, []).append(sign * err(r, c).view(b, t).mean(1))
        out["ffp"].setdefault(name, []).append(sign * err(pred, target))
    out["prp"].setdefault(SCORE_KEY, []).append(prob)


def _as_arrays(out: Scores) -> dict[str, dict[str, np.ndarray]]:
    return {
        k: {e: torch.cat(v).double().cpu().numpy() for e, v in d.items()} for k, d in out.items()
    }


def bare_variant(
    model: VADModel, video: Video, t: int, bs: int, precision: str, device: str = "cpu"
) -> Callable:
    """A plain loop: same batches, same precision and memory format, same scores."""
    runtime = scoring_runtime(device, precision, channels_last=True)
    runtime.prepare(model)
    errors = applicable_errors(None, _frame_shape(video), runtime.device)
    bb = model.backbone
    ffp_head, prp_head = _heads(model)

    def run() -> dict[str, dict[str, np.ndarray]]:
        frames = video.frames(np.arange(video.num_frames))
        n_win = video.num_frames - t
        out: Scores = {"vcr": {}, "ffp": {}, "prp": {}}
        with torch.inference_mode():
            for s0 in range(0, n_win, bs):
                s1 = min(s0 + bs, n_win)
                chunk = torch.from_numpy(frames[s0 : s1 + t]).to(runtime.device)
                chunk = chunk.permute(3, 0, 1, 2).float()
                chunk = chunk / 127.5 - 1.0
                clip = chunk.unfold(1, t, 1)[:, : s1 - s0]  # (C, B, H, W, T)
                clip = clip.permute(1, 0, 4, 2, 3).contiguous(memory_format=torch.channels_last_3d)
                target = chunk[:, t : t + s1 - s0].permute(1, 0, 2, 3)
                with runtime.autocast():
                    z = bb.encode(clip)
                    d = bb.decode(z)
                z, d = z.float(), d.float()
                recon = torch.tanh(d)
                pred = torch.tanh(ffp_head(d))[:, :, 0]
                prob = F.softmax(prp_head(z).float(), dim=1)[:, 1]
                _collect(out, errors, clip, recon, target, pred, prob)
        return _as_arrays(out)

    return run


def authors_variant(
    model: VADModel, video: Video, t: int, bs: int, device: str = "cpu"
) -> Callable:
    """The authors' structure: fp32, contiguous, no_grad, per-window reads, decoder twice."""
    model.to(device)
    errors = applicable_errors(None, _frame_shape(video), torch.device(device))
    bb = model.backbone
    ffp_head, prp_head = _heads(model)

    def window(i: int) -> tuple[torch.Tensor, torch.Tensor]:
        frames = video.frames(np.arange(i, i + t + 1))  # each window read on its own
        x = torch.from_numpy(frames).to(device).permute(3, 0, 1, 2).float() / 127.5 - 1.0
        return x[:, :t], x[:, t]

    def run() -> dict[str, dict[str, np.ndarray]]:
        n_win = video.num_frames - t
        out: Scores = {"vcr": {}, "ffp": {}, "prp": {}}
        with torch.no_grad():
            for s0 in range(0, n_win, bs):
                pairs = [window(i) for i in range(s0, min(s0 + bs, n_win))]
                clip = torch.stack([p[0] for p in pairs])
                target = torch.stack([p[1] for p in pairs])
                z = bb.encode(clip)
                recon = torch.tanh(bb.decode(z))  # decoder pass 1: reconstruction
                pred = torch.tanh(ffp_head(bb.decode(z)))[:, :, 0]  # decoder pass 2: FFP
                prob = F.softmax(prp_head(z), dim=1)[:, 1]
                _collect(out, errors, clip, recon, target, pred, prob)
        return _as_arrays(out)

    return run


def max_difference(a: dict, b: dict) -> float:
    """Largest relative difference between two variants' scores (they must agree)."""
    worst = 0.0
    for task, keys in a.items():
        for key, values in keys.items():
            other = b[task][key]
            scale = np.maximum(np.abs(values), 1e-6)
            worst = max(worst, float(np.max(np.abs(values - other) / scale)))
    return worst


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--clip-length", type=int, default=16)
    parser.add_argument("--frames", type=int, default=112, help="frames of the test video")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    parser.add_argument("--json", help="also write the results to this file")
    parser.add_argument("--write", action="store_true", help=f"write {PAGE.relative_to(ROOT)}")
    args = parser.parse_args(argv)
    load = [round(x, 2) for x in os.getloadavg()]
    torch.set_num_threads(args.threads)
    t, bs = args.clip_length, args.batch_size
    rng = np.random.default_rng(0)
    frames = rng.integers(0, 256, (args.frames, args.size, args.size, 1), dtype=np.uint8)
    video = Video.from_array("bench", frames)
    n_win = args.frames - t
    auto = scoring_runtime("cpu", "auto").precision
    # one model per variant so that memory formats do not leak between them
    variants: dict[str, Callable] = {
        AUTHORS: authors_variant(build_model(args.size, t), video, t, bs),
    }
    for prec in ("fp32", "bf16"):
        variants[f"bare {prec}"] = bare_variant(build_model(args.size, t), video, t, bs, prec)
        variants[f"vadkit {prec}"] = vadkit_variant(build_model(args.size, t), video, t, bs, prec)
    names = list(variants)
    outputs = {n: variants[n]() for n in names}  # warm-up, and the scores to compare
    times: dict[str, list[float]] = {n: [] for n in names}
    for rep in range(args.repeats):
        order = names[rep % len(names) :] + names[: rep % len(names)]
        for n in order:
            start = time.perf_counter()
            variants[n]()
            times[n].append(time.perf_counter() - start)
    fps = {n: n_win / statistics.median(times[n]) for n in names}
    default = f"vadkit {auto}"

    def speedup(fast: str, slow: str) -> float:
        """Median over rounds of the paired ratio: both ran back to back in the same round."""
        pairs = zip(times[fast], times[slow], strict=True)
        return round(statistics.median(b / a for a, b in pairs), 3)

    result = {
        "settings": {
            "size": args.size,
            "clip_length": t,
            "windows": n_win,
            "batch_size": bs,
            "repeats": args.repeats,
            "threads": args.threads,
            "errors": list_errors(),
            "default_precision": auto,
        },
        "machine": {
            "cpu": platform.processor() or platform.machine(),
            "cores": os.cpu_count(),
            "cpu_record": cpu_record(),
            "torch": torch.__version__,
            "python": platform.python_version(),
            "load_average": load,
        },
        "command": "python benchmarks/bench_score_speed.py " + " ".join(argv or []),
        "frames_per_s": {n: round(v, 2) for n, v in fps.items()},
        "seconds": {n: [round(x, 3) for x in v] for n, v in times.items()},
        "ratios": {
            "a_vadkit_fp32_vs_bare_fp32": speedup("vadkit fp32", "bare fp32"),
            "a_vadkit_bf16_vs_bare_bf16": speedup("vadkit bf16", "bare bf16"),
            "b_vadkit_default_vs_authors": speedup(default, AUTHORS),
            "vadkit_fp32_vs_authors": speedup("vadkit fp32", AUTHORS),
            "vadkit_bf16_vs_authors": speedup("vadkit bf16", AUTHORS),
            "bare_fp32_vs_authors": speedup("bare fp32", AUTHORS),
        },
        "max_relative_difference": {
            "vadkit fp32 vs authors": max_difference(outputs["vadkit fp32"], outputs[names[0]]),
            "vadkit fp32 vs bare fp32": max_difference(
                outputs["vadkit fp32"], outputs["bare fp32"]
            ),
            "vadkit bf16 vs bare bf16": max_difference(
                outputs["vadkit bf16"], outputs["bare bf16"]
            ),
        },
    }
    text = json.dumps(result, indent=2)
    print(text)
    if args.json:
        with open(args.json, "w", encoding="utf-8") as fh:
            fh.write(text + "\n")
    if args.write:
        PAGE.parent.mkdir(parents=True, exist_ok=True)
        PAGE.write_text(page(result), encoding="utf-8")
        print(f"Written: {PAGE}")
    return result


def page(r: dict[str, Any]) -> str:
    """The Markdown result page."""
    s, m, fps, ratios = r["settings"], r["machine"], r["frames_per_s"], r["ratios"]
    default = f"vadkit {s['default_precision']}"
    rows = []
    for name, value in sorted(fps.items(), key=lambda kv: kv[1]):
        rows.append(f"| {name} | {value:.1f} | {value / fps[AUTHORS]:.2f}x |")
    a32, a16 = ratios["a_vadkit_fp32_vs_bare_fp32"], ratios["a_vadkit_bf16_vs_bare_bf16"]
    b = ratios["b_vadkit_default_vs_authors"]

    def verdict(ok: bool) -> str:
        return "**met**" if ok else "**not met**"

    diff = r["max_relative_difference"]
    return f"""# Scoring speed

How fast `vadkit score` scores test windows, against a bare hand-written loop of the same model
in the same precision, and against the loop structure of the authors' code.

Model: LUSS-AE (full-width 3DCAE with the vcr, ffp and prp heads; random weights, which do not
change the speed) at {s["size"]} x {s["size"]}, T = {s["clip_length"]}; {s["windows"]} windows in
batches of {s["batch_size"]}; every variant computes the same scores: vcr and ffp with every
registered error measure ({", ".join(s["errors"])}) and prp's probability. Machine:
{describe_cpu(m.get("cpu_record"), f"{m['cpu']}, {m['cores']} cores")}; {s["threads"]} torch thread(s); torch {m["torch"]}, Python
{m["python"]}; load average {m["load_average"][0]:.1f} when it started (other processes share the
machine: compare the rows with each other rather than with other pages). Medians of
{s["repeats"]} interleaved repetitions.

| variant | frames/s (median) | vs authors (ratio of medians) |
|---|---:|---:|
{chr(10).join(rows)}

The checks below use paired ratios: in each round every variant runs once, back to back, and
a ratio is the median over rounds of the ratio of two variants' times in the same round.

- **(a) vadkit against a bare loop, same precision** (target at least {CHECK_A}x): fp32
  {a32:.2f}x, bf16 {a16:.2f}x: {verdict(min(a32, a16) >= CHECK_A)}.
- **(b) vadkit's default scoring ({default}) against the authors' structure** (target at least
  {CHECK_B}x): {b:.2f}x: {verdict(b >= CHECK_B)}. vadkit in fp32 alone:
  {ratios["vadkit_fp32_vs_authors"]:.2f}x; in bf16: {ratios["vadkit_bf16_vs_authors"]:.2f}x.
- **Same scores**: largest relative difference between vadkit fp32 and the authors' structure
  {diff["vadkit fp32 vs authors"]:.1e}, vadkit and the bare loop in fp32
  {diff["vadkit fp32 vs bare fp32"]:.1e}, in bf16 {diff["vadkit bf16 vs bare bf16"]:.1e}.
- *vadkit* is `vadkit.inference.score.score_videos`, the pass behind `vadkit score`: the video's
  frames decoded once, each batch's windows gathered from that buffer, one encoder and one
  decoder pass per window feeding every task, channels-last 3-D memory, `torch.inference_mode`,
  the network under autocast in bf16 and the scores computed in fp32.
- *bare* does the same work with the model's modules called by hand (no vadkit code in the
  loop): the floor for vadkit's own overhead.
- *authors* follows the structure of the authors' public code: fp32, contiguous memory,
  `torch.no_grad`, every window read and converted on its own, and the decoder run a second time
  for the FFP head.
- Which precision `score.precision = "auto"` picks is decided on accuracy, not speed alone: see
  [Ped2](ped2.md).

Produced by:

```bash
{r["command"]}
```
"""


if __name__ == "__main__":
    main(sys.argv[1:])
