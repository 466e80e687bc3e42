"""An example vadkit plugin.

Each hook receives ``register`` and calls it once per component. Registering a
``"module:Class"`` string keeps ``vadkit list`` fast: the module is imported on first use.
"""

import vadkit

__version__ = "0.2.0"


@vadkit.hookimpl
def register_errors(register):
    register("mae", "vadkit_example.errors:MeanAbsoluteError")


@vadkit.hookimpl
def register_normalizers(register):
    register("zscore", "vadkit_example.normalizers:ZScore")


@vadkit.hookimpl
def register_backbones(register):
    register("tiny_ae", "vadkit_example.backbones:TinyAE")


@vadkit.hookimpl
def register_tasks(register):
    register("motion", "vadkit_example.tasks:MotionPrediction")
    register("arrow", "vadkit_example.arrow:ArrowOfTime")


@vadkit.hookimpl
def register_recipes(register):
    register("example-tiny", "vadkit_example.recipes:tiny")
