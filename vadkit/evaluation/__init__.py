"""Evaluation of saved scores against the ground truth: metrics, fusion-weight search, pixels."""
