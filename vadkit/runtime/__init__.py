"""The torch-free runtime: score files and live streams with an exported bundle.

A bundle (written by ``vadkit export``, :mod:`vadkit.export`) is a folder holding the network with
its error measures inside the graph, and ``bundle.json`` describing it. This package reads it and
scores with ONNX Runtime or OpenVINO and numpy; nothing here imports torch, so a machine with
the light install (``requirements-runtime.txt``, no training dependencies) runs it. Laid out by job:

* :mod:`vadkit.runtime.bundlemeta`: ``bundle.json`` as typed, checked records;
* :mod:`vadkit.runtime.bundle`: a bundle folder: read it, check that its files are sealed
  (inside it, matching their SHA-256) and that the plugins it needs are loaded;
* :mod:`vadkit.runtime.engines`: the inference engines (ONNX Runtime, OpenVINO) behind one call;
* :mod:`vadkit.runtime.scorer`: the engine as a :class:`~vadkit.scoring.core.WindowScorer`, so
  the loops of :mod:`vadkit.scoring.core` (shared with the PyTorch path) score with it;
* :mod:`vadkit.runtime.files`: ``vadkit score BUNDLE``: score sets of video files or a dataset;
* :mod:`vadkit.runtime.stream`: ``vadkit watch BUNDLE``: the stream scorer on the bundle.
"""

from vadkit.runtime.bundle import BUNDLE_FILE, Bundle, is_bundle, read_bundle

__all__ = ["BUNDLE_FILE", "Bundle", "is_bundle", "read_bundle"]
