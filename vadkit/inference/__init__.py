"""The trained network at work (PyTorch): scoring a run, its anomaly maps, which weights it
scores, and the label-free choices made on normal training videos."""
