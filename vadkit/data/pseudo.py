"""vadkit's own pseudo-anomalies: what ``vadkit validate`` injects into held-out normal videos.

Each modifies the end of a window, from a frame ``s`` drawn by its generator to the last frame
(the one the window scores), and labels those frames 1:

* ``paste``: a patch cut from another video, moving along a straight line across the frame;
* ``speedup``: playback jumps ahead (every ``factor``-th frame of what follows);
* ``reverse``: playback runs backwards;
* ``blur``: a burst of Gaussian blur;
* ``noise``: a burst of Gaussian sensor noise.

The length of the modified end is drawn between its shortest and ``fraction`` of the window.
Everything is numpy (and scipy's Gaussian filter); nothing needs torch.
"""

from __future__ import annotations

import numpy as np
from scipy.ndimage import gaussian_filter

from vadkit.components.pseudo import PseudoAnomaly, PseudoWindow
from vadkit.errors import ConfigError


def _fraction(name: str, value: float) -> float:
    value = float(value)
    if not 0.0 < value <= 1.0:
        raise ConfigError(
            f"{name}: fraction = {value} must be in (0, 1].",
            hint="The longest anomalous end of a window, as a fraction of it; e.g. 0.5.",
        )
    return value


def _positive(name: str, key: str, value: float) -> float:
    value = float(value)
    if not np.isfinite(value) or value <= 0:
        raise ConfigError(f"{name}: {key} = {value} must be a positive number.", hint="E.g. 1.5")
    return value


def longest(window_frames: int, fraction: float, shortest: int = 1) -> int:
    """The most frames an anomalous end may span in a window of ``window_frames`` frames."""
    return max(shortest, min(window_frames, round(fraction * window_frames)))


def anomalous_start(
    window_frames: int, rng: np.random.Generator, fraction: float, shortest: int = 1
) -> int:
    """The first anomalous frame ``s``: the end ``s .. window_frames - 1`` spans between
    ``shortest`` and :func:`longest` frames, drawn uniformly by ``rng``."""
    length = int(rng.integers(shortest, longest(window_frames, fraction, shortest) + 1))
    return window_frames - min(length, window_frames)


def _labelled(frames: np.ndarray, start: int) -> PseudoWindow:
    labels = np.zeros(len(frames), np.uint8)
    labels[start:] = 1
    return PseudoWindow(frames=frames, labels=labels)


def visible_changes(before: np.ndarray, after: np.ndarray, threshold: float) -> np.ndarray:
    """Per frame, whether ``after`` differs visibly from ``before`` (both ``(N, H, W, C)``): the
    absolute difference, smoothed by a Gaussian of one pixel (sensor noise averages out, a
    moved edge does not), exceeds ``threshold`` grey levels somewhere."""
    diff = np.abs(after.astype(np.float32) - before.astype(np.float32))
    smooth = gaussian_filter(diff, sigma=(0, 1.0, 1.0, 0))
    return smooth.reshape(len(diff), -1).max(axis=1) > threshold


def _retimed(window: np.ndarray, retimed: np.ndarray, start: int, visible: float) -> PseudoWindow:
    """``window`` with its frames from ``start`` on replaced by ``retimed`` where that shows:
    a frame the new timing leaves looking the same (nothing moves there) is kept as it was
    and labelled normal, as a test frame is anomalous only while the anomaly is in view."""
    labels = np.zeros(len(window), np.uint8)
    shows = visible_changes(window[start:], retimed, visible)
    out = window.copy()
    out[start:][shows] = retimed[shows]
    labels[start:][shows] = 1
    return PseudoWindow(frames=out, labels=labels)


def _check_visible(name: str, value: float) -> float:
    value = float(value)
    if not np.isfinite(value) or value < 0:
        raise ConfigError(
            f"{name}: visible = {value} must be a number of grey levels >= 0.", hint="E.g. 10"
        )
    return value


def _moving_part(frames: np.ndarray, height: int, width: int) -> tuple[int, int]:
    """The top-left corner of the ``height`` x ``width`` box where ``frames`` change most from
    one frame to the next (where something moves); the first such box when nothing does."""
    motion = np.abs(np.diff(frames.astype(np.float64), axis=0)).sum(axis=(0, 3))
    total = np.pad(motion.cumsum(axis=0).cumsum(axis=1), ((1, 0), (1, 0)))  # integral image
    boxes = (
        total[height:, width:]
        - total[:-height, width:]
        - total[height:, :-width]
        + total[:-height, :-width]
    )
    y, x = np.unravel_index(int(np.argmax(boxes)), boxes.shape)
    return int(y), int(x)


class PastedPatch(PseudoAnomaly):
    """A patch of another video, pasted in and moving across the frame.

    From frame ``s`` to the end of the window, a ``size`` x ``size`` patch (a fraction of the
    frame's height and width) cut from the same frames of a donor video -- another normal
    video, at the place where most moves there, so the patch carries a moving object -- is
    pasted at a position that goes in a straight line from one random place to another: an
    object that appears from nowhere and moves where nothing moves.

    Args:
        size: the patch's side, as a fraction of the frame's height and width.
        fraction: the longest anomalous end, as a fraction of the window.
    """

    needs_donor = True

    def __init__(self, *, size: float = 0.3, fraction: float = 1.0) -> None:
        self.size = _positive("paste", "size", size)
        if self.size > 1:
            raise ConfigError(f"paste: size = {size} must be at most 1.", hint="E.g. 0.3")
        self.fraction = _fraction("paste", fraction)

    def apply(
        self,
        window: np.ndarray,
        rng: np.random.Generator,
        donor: np.ndarray | None = None,
        ahead: np.ndarray | None = None,
    ) -> PseudoWindow:
        assert donor is not None
        n, height, width = window.shape[:3]
        s = anomalous_start(n, rng, self.fraction)
        ph, pw = max(1, round(self.size * height)), max(1, round(self.size * width))
        sy, sx = _moving_part(donor[s:] if n - s > 1 else donor[s - 1 :], ph, pw)
        first = rng.integers(0, [height - ph + 1, width - pw + 1])
        last = rng.integers(0, [height - ph + 1, width - pw + 1])
        steps = max(n - 1 - s, 1)
        for i in range(s, n):
            y, x = np.rint(first + (last - first) * (i - s) / steps).astype(int)
            window[i, y : y + ph, x : x + pw] = donor[i, sy : sy + ph, sx : sx + pw]
        return _labelled(window, s)

    def __repr__(self) -> str:
        return f"PastedPatch(size={self.size}, fraction={self.fraction})"


class SpeedUp(PseudoAnomaly):
    """Playback jumps ahead: the end of the window skips frames, as if the scene sped up.

    Frames ``0 .. s-1`` are the window's; frame ``s + j`` is the frame ``s - 1 + factor (j + 1)``
    of the video, read past the window's end when needed (:meth:`extra_frames`): the scene
    suddenly moves ``factor`` times faster, the abrupt motion of a runner or a vehicle. Where
    nothing moves the new timing does not show; a frame that does not differ visibly (by more
    than ``visible`` grey levels anywhere, after a one-pixel blur that averages sensor noise
    out) is kept as it was and labelled normal.

    Args:
        factor: frames advanced per frame shown (2 or more).
        fraction: the longest anomalous end, as a fraction of the window.
        visible: the smallest change, in grey levels, that counts as visible.
    """

    def __init__(self, *, factor: int = 2, fraction: float = 1.0, visible: float = 10.0) -> None:
        if isinstance(factor, bool) or int(factor) != factor or factor < 2:
            raise ConfigError(f"speedup: factor = {factor} must be an integer >= 2.", hint="E.g. 3")
        self.factor = int(factor)
        self.fraction = _fraction("speedup", fraction)
        self.visible = _check_visible("speedup", visible)

    def extra_frames(self, clip_length: int) -> int:
        return (self.factor - 1) * longest(clip_length + 1, self.fraction)

    def apply(
        self,
        window: np.ndarray,
        rng: np.random.Generator,
        donor: np.ndarray | None = None,
        ahead: np.ndarray | None = None,
    ) -> PseudoWindow:
        n = len(window)
        source = window if ahead is None else np.concatenate([window, ahead])
        s = anomalous_start(n, rng, self.fraction)
        faster = source[s - 1 + self.factor * np.arange(1, n - s + 1)]
        return _retimed(window, faster, s, self.visible)

    def __repr__(self) -> str:
        return f"SpeedUp(factor={self.factor}, fraction={self.fraction}, visible={self.visible})"


class Reversal(PseudoAnomaly):
    """Playback runs backwards: the end of the window is its own frames in reverse order.

    Frame ``s + j`` becomes frame ``T - j`` (at least two frames are reversed): everything in
    view walks backwards, against the direction of the normal flow. As for ``speedup``, a frame
    that does not differ visibly (nothing moves there) is kept and labelled normal.

    Args:
        fraction: the longest anomalous end, as a fraction of the window.
        visible: the smallest change, in grey levels, that counts as visible.
    """

    def __init__(self, *, fraction: float = 1.0, visible: float = 10.0) -> None:
        self.fraction = _fraction("reverse", fraction)
        self.visible = _check_visible("reverse", visible)

    def apply(
        self,
        window: np.ndarray,
        rng: np.random.Generator,
        donor: np.ndarray | None = None,
        ahead: np.ndarray | None = None,
    ) -> PseudoWindow:
        s = anomalous_start(len(window), rng, self.fraction, shortest=2)
        return _retimed(window, window[s:][::-1], s, self.visible)

    def __repr__(self) -> str:
        return f"Reversal(fraction={self.fraction}, visible={self.visible})"


class _Burst(PseudoAnomaly):
    """A change of the window's end, from a start drawn by :func:`anomalous_start`: subclasses
    give :meth:`burst`, the changed frames as floats (rounded and clipped to [0, 255] here)."""

    fraction: float

    def burst(self, frames: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        raise NotImplementedError

    def apply(
        self,
        window: np.ndarray,
        rng: np.random.Generator,
        donor: np.ndarray | None = None,
        ahead: np.ndarray | None = None,
    ) -> PseudoWindow:
        s = anomalous_start(len(window), rng, self.fraction)
        window[s:] = np.clip(np.rint(self.burst(window[s:], rng)), 0, 255).astype(np.uint8)
        return _labelled(window, s)


class BlurBurst(_Burst):
    """A burst of blur: the end of the window is filtered by a Gaussian.

    Each frame from ``s`` on is blurred over height and width by a Gaussian whose width is drawn
    once per window between half and all of ``sigma`` (pixels at 64 pixels wide, scaled with the
    frame's width): a camera that loses focus, smoke, a smudge.

    Args:
        sigma: the largest blur width, in pixels at 64 pixels wide.
        fraction: the longest anomalous end, as a fraction of the window.
    """

    def __init__(self, *, sigma: float = 1.5, fraction: float = 0.5) -> None:
        self.sigma = _positive("blur", "sigma", sigma)
        self.fraction = _fraction("blur", fraction)

    def burst(self, frames: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        sigma = self.sigma * float(rng.uniform(0.5, 1.0)) * frames.shape[2] / 64.0
        return gaussian_filter(frames.astype(np.float32), sigma=(0, sigma, sigma, 0))

    def __repr__(self) -> str:
        return f"BlurBurst(sigma={self.sigma}, fraction={self.fraction})"


class NoiseBurst(_Burst):
    """A burst of noise: Gaussian noise added to the end of the window.

    Each pixel of each frame from ``s`` on gets independent Gaussian noise of standard
    deviation ``std`` grey levels (of 255), drawn once per window between half and all of it;
    values are rounded and clipped to [0, 255]: interference, a failing sensor.

    Args:
        std: the largest standard deviation of the noise, in grey levels.
        fraction: the longest anomalous end, as a fraction of the window.
    """

    def __init__(self, *, std: float = 12.0, fraction: float = 0.5) -> None:
        self.std = _positive("noise", "std", std)
        self.fraction = _fraction("noise", fraction)

    def burst(self, frames: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        std = self.std * float(rng.uniform(0.5, 1.0))
        return frames.astype(np.float32) + rng.normal(0.0, std, frames.shape)

    def __repr__(self) -> str:
        return f"NoiseBurst(std={self.std}, fraction={self.fraction})"
