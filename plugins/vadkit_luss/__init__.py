"""LUSS-AE (Lohani et al., VISAPP 2023) as vadkit plugins.

Only hook implementations live here; every component is registered as a ``"module:Class"``
string so that nothing heavy is imported until a component is used.
"""

from __future__ import annotations

from vadkit import hookimpl

__version__ = "0.1.0"


@hookimpl
def register_backbones(register):
    register("cae3d", "vadkit_luss.backbone:CAE3D")
    register("timm", "vadkit_luss.timm_backbone:TimmBackbone")


@hookimpl
def register_tasks(register):
    register("vcr", "vadkit_luss.tasks:VideoClipReconstruction")
    register("ffp", "vadkit_luss.tasks:FutureFramePrediction")
    register("prp", "vadkit_luss.tasks:PlaybackRatePrediction")


@hookimpl
def register_errors(register):
    register("mse", "vadkit_luss.errors:MSE")
    register("psnr", "vadkit_luss.errors:PSNR")
    register("pse", "vadkit_luss.errors:PSE")
    register("bpe", "vadkit_luss.errors:BPE")


@hookimpl
def register_normalizers(register):
    register("none", "vadkit_luss.normalizers:Identity")
    register("minmax", "vadkit_luss.normalizers:MinMax")
    register("robust", "vadkit_luss.normalizers:Robust")


@hookimpl
def register_recipes(register):
    register("luss-ae", "vadkit_luss.recipes:luss_ae")
    register("luss-ae-paper", "vadkit_luss.recipes:luss_ae_paper")
    register("luss-ae-synthetic", "vadkit_luss.recipes:luss_ae_synthetic")
