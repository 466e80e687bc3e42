"""Label-free validation from Python: a pseudo-anomaly on a tiny window you can check by hand,
then the pseudo-AUROC of a tiny run's checkpoints.

The run is narrow on purpose (a tiny backbone on 32 x 32 frames, two epochs), so its numbers say
nothing about the method. Included by the "Label-free validation" reference page.
"""

# --8<-- [start:setup]
import shutil
import tempfile
from pathlib import Path

import numpy as np

import vadkit
from vadkit.config import resolve_config
from vadkit.training.trainer import Trainer
from vadkit.validation.records import read_validation
from vadkit.validation.run import validate_run

# --8<-- [end:setup]

# --8<-- [start:anomaly]
window = np.arange(5, dtype=np.uint8)[:, None, None, None] * 40 + np.zeros((5, 2, 2, 1), np.uint8)
print(window[:, 0, 0, 0])  # [  0  40  80 120 160]
reverse = vadkit.create_pseudo_anomaly("reverse")
out = reverse(window, np.random.default_rng(1))  # the generator draws where it starts
print(out.frames[:, 0, 0, 0], out.labels)  # [ 0 40 160 120 80] [0 0 1 0 1]
# the last three frames play backwards; the middle one is itself again, so it is labelled 0
# --8<-- [end:anomaly]

# --8<-- [start:validate]
run_dir = Path(tempfile.mkdtemp()) / "run"
config = resolve_config(
    config_file="examples/configs/small.toml",
    overrides=["data.size=[32, 32]", "data.stride=8", "model.params.channels=[4, 4, 8, 8]"],
    flags={"train.epochs": 2, "data.val_videos": 1, "train.validate_every": 1},
)
Trainer(config, run_dir, handle_signals=False).fit()  # validates at the end of each epoch
print([(e["checkpoint"], e["epoch"]) for e in read_validation(run_dir)])
# [('epoch_0001', 1), ('epoch_0002', 2)]
result = validate_run(run_dir, checkpoints=["all"], windows=64)  # 64 windows, 32 modified
print([e["checkpoint"] for e in result["entries"]])  # ['epoch_0001', 'epoch_0002', 'last']
entry = result["entries"][-1]
print(sorted(entry["tasks"]), sorted(entry["kinds"]))
# ['ffp', 'prp', 'vcr'] ['blur', 'noise', 'paste', 'reverse', 'speedup']
print(entry["windows"], entry["anomalous"] <= 32, 0.0 <= entry["fused"] <= 1.0)  # 64 True True
# --8<-- [end:validate]
shutil.rmtree(run_dir.parent)
