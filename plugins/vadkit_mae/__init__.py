"""A masked-autoencoder method in the spirit of AED-MAE (Ristea et al., CVPR 2024) as vadkit plugins.

Only hook implementations live here; every component is registered as a ``"module:Class"``
string so that nothing heavy (timm) is imported until a component is used.
"""

from __future__ import annotations

from vadkit import hookimpl

__version__ = "0.1.0"


@hookimpl
def register_backbones(register):
    register("mae_vit", "vadkit_mae.backbone:MaskedViT")


@hookimpl
def register_tasks(register):
    register("mfp", "vadkit_mae.tasks:MaskedFramePrediction")


@hookimpl
def register_errors(register):
    register("l1", "vadkit_mae.errors:L1")


@hookimpl
def register_recipes(register):
    register("mae", "vadkit_mae.recipes:mae")
    register("mae-synthetic", "vadkit_mae.recipes:mae_synthetic")
