"""Label-free validation: how well a run's scores rank synthetic anomalies in normal videos.

Windows of the run's held-out normal training videos (``data.val_videos``) are scored as they
are and with pseudo-anomalies (the ``pseudo_anomalies`` registry: pasted moving patches,
speed-ups, reversals, blur and noise bursts), and the AUROC of the scores against which windows
were modified is the run's *pseudo-AUROC*. It needs no test label, so it may choose what test
labels may not: the weights ``--weights auto --criterion pseudo`` scores, the fusion weights of
``vadkit search --on pseudo``.

* :mod:`~vadkit.validation.pseudoset`: the windows and their labels (no torch);
* :mod:`~vadkit.validation.measure`: scoring them through the scoring core, the pseudo-AUROC;
* :mod:`~vadkit.validation.records`: ``RUN/validation.json``;
* :mod:`~vadkit.validation.run`: a run's checkpoints (``vadkit validate``), the weights choice.
"""
