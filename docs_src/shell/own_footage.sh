# The shell session of "Train on your own footage", run from the repository root. FOOTAGE is your
# folder: train/ (normal footage), test/ (footage to score) and, to evaluate, labels.csv. The
# tests set it to a folder of .mp4 files they make from the synthetic scene.
FOOTAGE=${FOOTAGE:-footage}

# --8<-- [start:check]
vadkit data check "$FOOTAGE"     # the layout found and why, every video, the labels, any problem
# --8<-- [end:check]

# --8<-- [start:train]
vadkit train --data "$FOOTAGE" --config examples/configs/small.toml --out runs/footage
# --8<-- [end:train]

# --8<-- [start:score]
vadkit score runs/footage        # per-frame scores of every test video; opens no label file
vadkit report runs/footage       # one HTML page: the most anomalous segments, with their frames
# --8<-- [end:score]

# --8<-- [start:evaluate]
vadkit evaluate runs/footage --no-plots   # AUROC, EER, AP against labels.csv
# --8<-- [end:evaluate]
