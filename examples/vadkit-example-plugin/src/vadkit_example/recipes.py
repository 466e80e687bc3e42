"""The example plugin's recipe: its own components, sized to train in seconds on a CPU."""

from vadkit import Recipe


def tiny() -> Recipe:
    """The example components together: tiny_ae, motion, arrow, mae and zscore on 32 x 32 frames.

    A run of a few seconds on the synthetic scene, to show that a third-party method trains,
    scores and evaluates with no built-in component: ``vadkit train --recipe example-tiny``.
    """
    return Recipe(
        settings={
            "data": {"size": [32, 32], "clip_length": 8, "stride": 4},
            "model": {"backbone": "tiny_ae", "params": {"width": 8}},
            "tasks": {"names": ["motion", "arrow"], "params": {"arrow": {"hidden": 16}}},
            "train": {"epochs": 2, "batch_size": 8, "lr": 1e-3},
            "score": {"error": "mae", "normalizer": "zscore"},
        },
    )
