"""The score-normalizer contract."""

from __future__ import annotations

from typing import Self

import numpy as np


def _owner(cls: type, name: str) -> type:
    """The class of ``cls``'s MRO whose body defines ``name``."""
    return next(c for c in cls.__mro__ if name in vars(c))


class ScoreNormalizer:
    """Base class of score normalizers: rescale a 1-D score stream, in the shape of a
    scikit-learn scaler.

    * ``fit(reference)`` learns the statistics of a float array of shape ``(n,)`` and returns
      the normalizer itself;
    * ``transform(scores)`` applies them to a float array of shape ``(m,)`` and returns a float
      array of the same shape;
    * ``fit_transform(scores)`` does both on one array: the per-video rescaling of offline
      evaluation, where each test video is rescaled by its own statistics.

    ``normalizer(scores)`` (``__call__``) means ``fit_transform(scores)``. A live stream has no
    whole video to fit on: ``vadkit watch`` fits the normalizer once on the scores of normal
    training windows and then transforms every live score with it, so a normalizer that should
    work there implements ``fit`` and ``transform``.

    A normalizer written before ``fit``/``transform`` existed overrides only ``__call__``; it
    keeps working for offline evaluation (``fit_transform`` calls it), and
    :func:`supports_fit` is False for it, so streaming refuses it with a clear message.
    """

    def fit(self, reference: np.ndarray) -> Self:
        """Learn the statistics of ``reference``, a 1-D float array; returns ``self``."""
        raise NotImplementedError(
            f"{type(self).__name__} does not implement fit(reference) and transform(scores)."
        )

    def transform(self, scores: np.ndarray) -> np.ndarray:
        """``scores`` rescaled with the statistics learnt by :meth:`fit` (same shape)."""
        raise NotImplementedError(
            f"{type(self).__name__} does not implement fit(reference) and transform(scores)."
        )

    def fit_transform(self, scores: np.ndarray) -> np.ndarray:
        """``fit(scores)``, then ``transform(scores)``: one video rescaled by its own statistics.

        For a normalizer that overrides only ``__call__`` (the contract before ``fit`` and
        ``transform``), this is ``__call__(scores)``.
        """
        if _calls_itself(type(self)):
            return self(scores)
        return self.fit(scores).transform(scores)

    def __call__(self, scores: np.ndarray) -> np.ndarray:
        """The same as :meth:`fit_transform`."""
        if _calls_itself(type(self)):
            # Reached by super().__call__() from a subclass's own __call__: fit_transform
            # would call that override again.
            return self.fit(scores).transform(scores)
        return self.fit_transform(scores)

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


def _implements_fit(cls: type) -> bool:
    return all(_owner(cls, name) is not ScoreNormalizer for name in ("fit", "transform"))


def _calls_itself(cls: type) -> bool:
    """Whether ``cls`` rescales through its own ``__call__``: it overrides ``__call__`` below
    (or without) the classes that define ``fit`` and ``transform``."""
    call = _owner(cls, "__call__")
    if call is ScoreNormalizer:
        return False
    if not _implements_fit(cls):
        return True
    return all(
        call is not _owner(cls, name) and issubclass(call, _owner(cls, name))
        for name in ("fit", "transform")
    )


def supports_fit(normalizer: ScoreNormalizer | type[ScoreNormalizer]) -> bool:
    """Whether a normalizer (or normalizer class) rescales by ``fit`` and ``transform``, which a
    stream needs. False for one that rescales by its own ``__call__`` (see
    :class:`ScoreNormalizer`): it can only rescale whole videos."""
    cls = normalizer if isinstance(normalizer, type) else type(normalizer)
    return _implements_fit(cls) and not _calls_itself(cls)
