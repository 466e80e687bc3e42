"""The MAE method's recipes: small frames on real data, and vadkit's synthetic scene.

Each function returns a :class:`vadkit.components.Recipe`; its docstring is what
``vadkit describe recipes NAME`` shows. Every difference from AED-MAE is listed, with the reason,
on the page ``docs/reference/mae.md``; how each value was chosen is on the recipes' pages.
"""

from __future__ import annotations

from typing import Any

from vadkit.components import Recipe

#: Previous frames per window (the window is these and the frame it scores).
FRAMES = 3


def _mae(**changes: dict[str, Any]) -> dict[str, Any]:
    """The ``mae`` settings, with tables updated by ``changes``."""
    settings: dict[str, Any] = {
        "data": {"size": [64, 64], "color": "gray", "clip_length": FRAMES, "stride": 1},
        "model": {
            "backbone": "mae_vit",
            "params": {"frames": FRAMES, "patch_size": 8, "dim": 128, "depth": 8, "heads": 4},
        },
        "tasks": {
            "names": ["mfp"],
            "weights": {"mfp": 1.0},
            "params": {"mfp": {"motion_weight": 0.0}},
        },
        "train": {
            "epochs": 16,
            "batch_size": 32,
            "lr": 1e-3,
            "optimizer": "adamw",
            "weight_decay": 0.05,
            "schedule": "cosine",
            "warmup_epochs": 1,
        },
        # 128 windows of 4 small frames per batch: fewer, larger matrix products per frame.
        "score": {
            "error": "mse",
            "normalizer": "minmax",
            "alphas": {"mfp": 1.0},
            "batch_size": 128,
        },
    }
    for table, values in changes.items():
        settings[table] = {**settings[table], **values}
    return settings


def mae() -> Recipe:
    """Masked frame prediction with a small ViT on 64 x 64 frames: fast, for real data on a CPU.

    Each window is 3 previous frames and the frame it scores. The backbone ``mae_vit`` stacks
    the previous frames as channels of 8 x 8 patches (64 tokens of width 128, 8 timm ViT
    blocks); the task ``mfp`` rebuilds the current frame, all of its patches masked, from them,
    as a change from the last previous frame, trained on the plain MSE (``motion_weight`` 0).
    AdamW at 1e-3 with weight decay 0.05, a cosine schedule after one warm-up epoch, batch 32,
    a window at every frame, 16 epochs; scores by the MSE, rescaled per video (min-max), 128
    windows per batch. How each value was chosen without test labels: the recipe's page;
    every difference from AED-MAE (Ristea et al., CVPR 2024): ``docs/reference/mae.md``.
    """
    return Recipe(settings=_mae())


def mae_synthetic() -> Recipe:
    """``mae`` sized for vadkit's synthetic scene: runs of seconds on a CPU.

    The ``mae`` recipe with a narrower, shallower ViT (width 64, 3 blocks, 2 heads), a training
    window every second frame and 4 epochs without a warm-up epoch. ``vadkit train --recipe
    mae-synthetic`` without ``--data`` trains on the synthetic scene.
    """
    return Recipe(
        settings=_mae(
            model={
                "backbone": "mae_vit",
                "params": {"frames": FRAMES, "patch_size": 8, "dim": 64, "depth": 3, "heads": 2},
            },
            data={"size": [64, 64], "color": "gray", "clip_length": FRAMES, "stride": 2},
            train={
                "epochs": 4,
                "batch_size": 32,
                "lr": 1e-3,
                "optimizer": "adamw",
                "weight_decay": 0.05,
                "schedule": "cosine",
                "warmup_epochs": 0,
            },
        )
    )
