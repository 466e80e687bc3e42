# The shell session of "Reproduce LUSS-AE on UCSD Ped2", run from the repository root.
# needs: ped2

# --8<-- [start:check]
vadkit data check ../shared/datasets/ped2
# --8<-- [end:check]

# --8<-- [start:train]
vadkit train --data ../shared/datasets/ped2 --config examples/configs/ped2.toml --out runs/ped2
# --8<-- [end:train]

# --8<-- [start:evaluate]
vadkit score runs/ped2
vadkit evaluate runs/ped2 --alphas ped2 --normalizer minmax
vadkit evaluate runs/ped2 --alphas ped2 --normalizer robust --no-plots
vadkit evaluate runs/ped2 --alphas ped2 --error mse --no-plots
# --8<-- [end:evaluate]

# --8<-- [start:json]
vadkit evaluate runs/ped2 --alphas ped2 --json --no-plots > runs/ped2-evaluation.json
# --8<-- [end:json]
