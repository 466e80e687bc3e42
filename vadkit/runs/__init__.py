"""Run folders: their files, checkpoints and the model a run's config describes."""
