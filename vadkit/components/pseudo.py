"""The pseudo-anomaly contract: synthetic anomalies for label-free validation (no torch).

A pseudo-anomaly modifies a window of normal frames so that it looks like an anomaly a detector
should notice (an object pasted in, a burst of blur or noise, playback that jumps ahead or runs
backwards), and says which frames it made anomalous. ``vadkit validate`` injects pseudo-anomalies
into held-out normal training videos and measures how well a run's scores tell the modified
windows from the untouched ones (:mod:`vadkit.validation`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from vadkit.errors import DataError


@dataclass(frozen=True)
class PseudoWindow:
    """A window after a pseudo-anomaly: ``frames`` uint8 ``(T+1, H, W, C)`` and ``labels`` uint8
    ``(T+1,)``, 1 for each frame the pseudo-anomaly made anomalous. A frame labelled 0 is the
    input's frame, unchanged."""

    frames: np.ndarray
    labels: np.ndarray


class PseudoAnomaly:
    """Base class of pseudo-anomalies.

    A subclass implements :meth:`apply`, which takes

    * ``window``: uint8 ``(T+1, H, W, C)``, the frames of a normal window (T is the run's clip
      length; the last frame is the one the window scores);
    * ``rng``: a :class:`numpy.random.Generator`, its only source of randomness, so that a
      window is modified the same way from the same seed;
    * ``donor``: when the class sets ``needs_donor = True``, uint8 ``(T+1, H, W, C)`` frames of
      another normal video (the source of a pasted object); else None;
    * ``ahead``: uint8 ``(extra, H, W, C)``, the ``extra = self.extra_frames(T)`` frames that
      follow the window in its video (none unless the pseudo-anomaly reads ahead, as a speed-up
      does);

    and returns a :class:`PseudoWindow` of T+1 frames. Its frames labelled 0 must be the input
    window's frames, unchanged; its labels say which frames are anomalous, and the last frame
    (the one a window scores) should be one of them: ``vadkit validate`` labels a window by its
    last frame, as evaluation labels a window by the frame it scores. The inputs are copies: an
    implementation may modify them.

    The constructor takes keyword-only parameters with defaults (its configuration schema, shown
    by ``vadkit describe pseudo_anomalies NAME``). Call an instance (``anomaly(window, rng,
    donor=..., ahead=...)``) to apply it with its inputs and output checked.
    """

    #: Whether :meth:`apply` takes the frames of another video (``donor``).
    needs_donor: ClassVar[bool] = False

    def extra_frames(self, clip_length: int) -> int:
        """How many frames after a window of ``clip_length`` + 1 frames :meth:`apply` reads."""
        return 0

    def apply(
        self,
        window: np.ndarray,
        rng: np.random.Generator,
        donor: np.ndarray | None = None,
        ahead: np.ndarray | None = None,
    ) -> PseudoWindow:
        """The modified window and its per-frame labels (see the class documentation)."""
        raise NotImplementedError(f"{type(self).__name__} does not implement apply()")

    def __call__(
        self,
        window: np.ndarray,
        rng: np.random.Generator,
        donor: np.ndarray | None = None,
        ahead: np.ndarray | None = None,
    ) -> PseudoWindow:
        """:meth:`apply` with its inputs and output checked: a :class:`DataError` names what is
        wrong. The caller's arrays are never modified."""
        window = _frames(window, type(self).__name__, "window")
        t = len(window) - 1
        name = type(self).__name__
        if t < 1:
            raise DataError(
                f"{name} needs a window of at least 2 frames, not {len(window)}.",
                hint="Give the T+1 frames of a window.",
            )
        extra = int(self.extra_frames(t))
        after = np.zeros((0, *window.shape[1:]), np.uint8) if ahead is None else ahead
        after = _frames(after, name, "ahead")
        if after.shape != (extra, *window.shape[1:]):
            raise DataError(
                f"{name} reads {extra} frame(s) after a window of {t + 1}; given {after.shape}.",
                hint="Read the frames after the window that extra_frames(T) asks for.",
            )
        given = None
        if self.needs_donor:
            if donor is None or np.asarray(donor).shape != window.shape:
                got = "none" if donor is None else str(np.asarray(donor).shape)
                raise DataError(
                    f"{name} needs a donor window {window.shape} of another video, not {got}.",
                    hint="Give T+1 frames of another video of the same size.",
                )
            given = _frames(donor, name, "donor").copy()
        out = self.apply(window.copy(), rng, given, after.copy())
        frames, labels = np.asarray(out.frames), np.asarray(out.labels)
        if frames.dtype != np.uint8 or frames.shape != window.shape:
            raise DataError(
                f"{name}.apply returned frames {frames.dtype} {frames.shape}, not uint8 "
                f"{window.shape}.",
                hint="Return the T+1 frames of the window, modified.",
            )
        if labels.shape != (t + 1,) or not np.isin(labels, (0, 1)).all():
            raise DataError(
                f"{name}.apply returned labels of shape {labels.shape}, not T+1 = {t + 1} values "
                "0 or 1.",
                hint="Label each frame of the window: 1 where it is anomalous.",
            )
        return PseudoWindow(frames=frames, labels=labels.astype(np.uint8))

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


def _frames(array: np.ndarray, owner: str, what: str) -> np.ndarray:
    frames = np.asarray(array)
    if frames.dtype != np.uint8 or frames.ndim != 4:
        raise DataError(
            f"{owner} takes uint8 frames (N, H, W, C) as {what}, not {frames.dtype} "
            f"{frames.shape}.",
            hint="Give frames as read from a video, at the run's size and colour.",
        )
    return frames
