"""A loading process for the memory test of tests/test_distributed.py (not a test module).

``python -m torch.distributed.run ... tests/dist_memory.py SPEC.json``: each rank maps the raw
``uint8`` frame files that SPEC names (the frame cache's format: ``(N, H, W, 1)`` bytes per video),
loads ``batches`` batches of its shard of epoch 0 with ``workers`` DataLoader processes, and
writes ``OUT/rank<R>.json``: the peak over the loading of the proportional anonymous memory
(``Pss_Anon``) of itself and its workers, in bytes. Anonymous memory is what a process holds of
its own: the frames it reads through the memory map are file pages, shared by every process and
evictable, and not counted.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import torch

from vadkit.compute import distributed
from vadkit.data.sampling import TrainWindows, make_train_loader
from vadkit.data.video import Video


def pss_anon(pid: int) -> int:
    for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
        if line.startswith("Pss_Anon:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError(f"no Pss_Anon in /proc/{pid}/smaps_rollup")


def children(pid: int) -> list[int]:
    out: list[int] = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        text = (task / "children").read_text().split()
        out.extend(int(p) for p in text)
    return out


def process_tree_memory(pid: int) -> int:
    total = 0
    for p in [pid, *children(pid)]:
        try:
            total += pss_anon(p)
        except (OSError, RuntimeError):
            continue  # a worker that has just exited
    return total


def main() -> None:
    torch.set_num_threads(1)
    spec = json.loads(Path(sys.argv[1]).read_text())
    world = distributed.current()
    folder = Path(spec["data"])
    frames, size = int(spec["frames"]), int(spec["size"])
    videos = [
        Video(
            path.stem,
            num_frames=frames,
            source=str(path),
            frame_shape=(size, size, 1),
            path=path,
        )
        for path in sorted(folder.glob("*.u8"))
    ]
    windows = TrainWindows(videos, clip_length=8, stride=1, seed=0)
    loader = make_train_loader(
        windows,
        batch_size=16,
        workers=int(spec["workers"]),
        rank=world.rank,
        world_size=world.size,
    )
    import os

    peak, seen = 0, 0
    for i, batch in enumerate(loader):
        seen += batch.size
        if i % 5 == 4:
            peak = max(peak, process_tree_memory(os.getpid()))
        if i + 1 == int(spec["batches"]):
            break
    out = Path(spec["out"]) / f"rank{world.rank}.json"
    out.write_text(json.dumps({"peak_pss_anon": peak, "windows": seen, "world": world.size}))


if __name__ == "__main__":
    main()
