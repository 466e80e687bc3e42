"""Train, score and evaluate LUSS-AE from Python, on the synthetic scene, in under a minute.

The settings are narrow on purpose (a tiny backbone on 32 x 32 frames, one epoch), so the AUROC
it prints says nothing about the method; `vadkit demo` and the tutorials train for real.
Included by the "Quickstart from Python" page.
"""

# --8<-- [start:train]
import shutil
import tempfile
from pathlib import Path

from vadkit.config import resolve_config
from vadkit.evaluation.evaluate import evaluate_run
from vadkit.inference.score import score_run
from vadkit.training.trainer import Trainer

run_dir = Path(tempfile.mkdtemp()) / "run"
config = resolve_config(  # defaults, then a config file, then --set items, then flags
    config_file="examples/configs/small.toml",
    overrides=["data.size=[32, 32]", "data.stride=8", "model.params.channels=[4, 4, 8, 8]"],
    flags={"train.epochs": 1, "train.log_steps": 5},
)
print(config["tasks"]["weights"])  # {'vcr': 0.6, 'ffp': 0.4, 'prp': 1.0}
summary = Trainer(config, run_dir, handle_signals=False).fit()  # writes the run folder
print(sorted(p.name for p in run_dir.iterdir()))
# ['checkpoints', 'config.toml', 'metrics.jsonl', 'versions.json']
# --8<-- [end:train]

# --8<-- [start:evaluate]
score_run(run_dir)  # every window of every test video, every error measure, no autograd
result = evaluate_run(run_dir, alphas="ped2", plots=False)  # micro/macro AUROC, EER, AP
protocol = result.protocol  # an Evaluation; result.to_json() is RUN/evaluation.json
print(protocol.frames_mode, protocol.normalizer, protocol.alphas)
# protocol minmax {'vcr': 0.1, 'ffp': 0.8, 'prp': 1.0}
for name, metrics in result.results.items():  # vcr, ffp, prp and fused
    print(f"{name:6} micro AUROC {metrics.micro_auroc:.3f}  macro {metrics.macro_auroc:.3f}")
# --8<-- [end:evaluate]
shutil.rmtree(run_dir.parent)
