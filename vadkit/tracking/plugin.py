"""vadkit's own experiment trackers, registered through the same plugin hook as any other.

Registered lazily (``"module:Class"``): neither TensorBoard nor MLflow is imported until a run
logs to it.
"""

from __future__ import annotations

from vadkit.hookspecs import Register, hookimpl


@hookimpl
def register_trackers(register: Register) -> None:
    register("tensorboard", "vadkit.tracking.tensorboard:TensorBoard")
    register("mlflow", "vadkit.tracking.mlflow:MLflow")
