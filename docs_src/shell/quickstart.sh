# The shell session of "Quickstart from the command line", run from the repository root.

# --8<-- [start:explore]
vadkit list errors                 # what is registered, with the plugin each name comes from
vadkit list tasks
vadkit describe tasks prp          # a component's documentation, parameters and defaults
vadkit plugins                     # every plugin, its version and what it registered
# --8<-- [end:explore]

# --8<-- [start:data]
vadkit data synth scene            # 8 normal training videos, 6 test videos with one anomaly each
vadkit data check scene            # videos, frames, resolution, labels, and any problem found
# --8<-- [end:data]

# --8<-- [start:train]
vadkit train --data scene --config examples/configs/small.toml --out runs/quick
# --8<-- [end:train]

# --8<-- [start:evaluate]
vadkit score runs/quick            # per-frame scores of every task and error measure, saved
vadkit evaluate runs/quick         # micro and macro AUROC, EER, AP; plots in runs/quick/plots
vadkit evaluate runs/quick --error mse --normalizer minmax --alphas ped2 --no-plots
vadkit report runs/quick           # one HTML page: metrics, curves, top segments with their maps
# --8<-- [end:evaluate]

# --8<-- [start:search]
vadkit search runs/quick --holdout 0.5   # fusion weights chosen on half the test videos
# --8<-- [end:search]

# --8<-- [start:resume]
vadkit train --resume runs/quick --epochs 6   # one more epoch, from the last checkpoint
# --8<-- [end:resume]
