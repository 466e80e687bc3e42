# The paper's ablations (Lohani et al. 2023, Tables 2-5) as commands, run from the repository root.
# The paper ran them on CUHK Avenue and ShanghaiTech; set DATA to your copy of one of them
# (and use --alphas avenue or shanghaitech). By default they run on UCSD Ped2; the tests run them
# on the synthetic scene (DATA set to its folder).

# --8<-- [start:train]
DATA=${DATA:-../shared/datasets/ped2}   # or your copy of Avenue or ShanghaiTech
vadkit train --data "$DATA" --config examples/configs/ped2.toml --tasks vcr --out runs/t2-vcr
vadkit train --data "$DATA" --config examples/configs/ped2.toml --tasks vcr,ffp --out runs/t2-vcr-ffp
vadkit train --data "$DATA" --config examples/configs/ped2.toml --tasks vcr,prp --out runs/t2-vcr-prp
vadkit train --data "$DATA" --config examples/configs/ped2.toml --tasks vcr,ffp,prp --out runs/t2-all
for run in runs/t2-vcr runs/t2-vcr-ffp runs/t2-vcr-prp runs/t2-all; do
    vadkit score "$run"
done
# --8<-- [end:train]

# --8<-- [start:table2]
for run in runs/t2-vcr runs/t2-vcr-ffp runs/t2-vcr-prp runs/t2-all; do
    vadkit evaluate "$run" --error bpe --normalizer robust --alphas ped2 --no-plots
done
# --8<-- [end:table2]

# --8<-- [start:table3]
vadkit evaluate runs/t2-vcr --error bpe --no-plots   # row "vcr alone": trained on VCR only
vadkit evaluate runs/t2-all --error bpe --no-plots   # row "vcr alone": trained on all three
# --8<-- [end:table3]

# --8<-- [start:table4]
for error in mse pse bpe; do
    vadkit evaluate runs/t2-all --error "$error" --no-plots   # rows "vcr alone", "ffp alone"
done
# --8<-- [end:table4]

# --8<-- [start:table5]
vadkit evaluate runs/t2-all --normalizer minmax --alphas ped2 --no-plots
vadkit evaluate runs/t2-all --normalizer robust --alphas ped2 --no-plots
# --8<-- [end:table5]

# --8<-- [start:search]
vadkit search runs/t2-all --normalizer robust                 # on the test labels: optimistic
vadkit search runs/t2-all --normalizer robust --holdout 0.5   # chosen on half, reported on half
# --8<-- [end:search]
