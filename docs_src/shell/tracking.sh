# Experiment tracking: one run logged to TensorBoard and MLflow, evaluated and reported.
# --8<-- [start:train]
vadkit train --out runs/tracked --epochs 2 --track tensorboard,mlflow
vadkit score runs/tracked
vadkit evaluate runs/tracked       # the metrics and evaluation.json go to both trackers
vadkit report runs/tracked         # the page goes to both trackers as an artifact
# --8<-- [end:train]
# --8<-- [start:files]
ls runs/tracked/tensorboard runs/tracked/mlflow   # event files; mlflow.db, artifacts/, run.json
# --8<-- [end:files]
# --8<-- [start:plugin]
vadkit --plugin examples/python/tracker_plugin.py list trackers
vadkit --plugin examples/python/tracker_plugin.py train --out runs/csv --epochs 1 --track csv
head -n 3 runs/csv/tracked.csv   # kind,name,step,value / setting,recipe,,luss-ae-synthetic / ...
# --8<-- [end:plugin]
