"""Pictures of anomaly maps: a heat map over a frame, the frames at their original size, and
the PNG frames and MP4 that ``vadkit maps`` writes."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from vadkit.config.settings import MapSettings
from vadkit.errors import ConfigError, DataError

if TYPE_CHECKING:
    from vadkit.inference.maps import FrameMaps


def overlay(
    image: np.ndarray, heat: np.ndarray, *, vmin: float, vmax: float, alpha: float = 0.5
) -> np.ndarray:
    """A heat map over a frame: uint8 ``[H, W, 3]``.

    ``image`` uint8 ``[H, W]``, ``[H, W, 1]`` or ``[H, W, 3]``; ``heat`` ``[H, W]`` (resized
    bilinearly when its size differs), clipped to ``[vmin, vmax]`` and coloured with matplotlib's
    perceptually uniform "inferno" colour map at opacity ``alpha`` scaled by the heat (cool pixels
    let the frame through).
    """
    img = np.asarray(image)
    if img.ndim == 2:
        img = img[:, :, None]
    if img.dtype != np.uint8 or img.ndim != 3 or img.shape[2] not in (1, 3):
        raise DataError(
            f"overlay: the frame must be uint8 [H, W], [H, W, 1] or [H, W, 3], not {img.dtype} "
            f"{img.shape}.",
            hint="Pass one frame of FrameMaps.images.",
        )
    if img.shape[2] == 1:
        img = np.repeat(img, 3, axis=2)
    if not (np.isfinite(vmin) and np.isfinite(vmax)) or vmax <= vmin:
        raise ConfigError(
            f"overlay: vmin {vmin!r} must be below vmax {vmax!r} (both finite).",
            hint="Take them from the maps, e.g. their 1st and 99th percentiles.",
        )
    h, w = img.shape[:2]
    values = np.asarray(heat, np.float32)
    if values.shape != (h, w):
        import torch

        from vadkit.inference.maps import resize_maps

        values = resize_maps(torch.from_numpy(values[None]), (h, w))[0].numpy()
    level = np.clip((values - vmin) / (vmax - vmin), 0.0, 1.0)
    from matplotlib import colormaps

    colours = colormaps["inferno"](level)[..., :3]
    weight = (float(alpha) * level)[..., None]
    out = img.astype(np.float32) / 255.0 * (1.0 - weight) + colours * weight
    return np.clip(np.rint(out * 255.0), 0, 255).astype(np.uint8)


def native_images(source: str, indices: Iterable[int], fallback: np.ndarray) -> np.ndarray:
    """The frames ``indices`` of a video at their original size, uint8 ``[T, H, W, 3]``.

    ``source`` is the video's frame folder or file; when it is neither (a video held in memory),
    ``fallback`` (the preprocessed frames at ``indices``) is used.
    """
    from vadkit.data.sources import FrameFolder, VideoFile

    wanted = [int(i) for i in indices]
    path = Path(source)
    if not wanted or not path.exists():
        return rgb_frames(fallback)
    src = FrameFolder(path.name, path) if path.is_dir() else VideoFile(path.stem, path)
    keep = set(wanted)
    found: dict[int, np.ndarray] = {}
    for i, (_, image) in enumerate(src.native_frames()):
        if i in keep:
            found[i] = np.asarray(image.convert("RGB"), np.uint8)
        if len(found) == len(keep) or i >= max(keep):
            break
    if len(found) != len(keep):
        return rgb_frames(fallback)
    return np.stack([found[i] for i in wanted])


def rgb_frames(frames: np.ndarray) -> np.ndarray:
    """uint8 frames ``[..., H, W, 1|3]`` as RGB (grey repeated on 3 channels)."""
    array = np.asarray(frames, np.uint8)
    return np.repeat(array, 3, axis=3) if array.shape[-1] == 1 else array


def colour_range(heat: np.ndarray, percentiles: tuple[float, float]) -> tuple[float, float]:
    """``(vmin, vmax)``: the given percentiles of ``heat`` (a wider range when they are equal)."""
    lo, hi = (float(v) for v in np.percentile(np.asarray(heat, np.float32), percentiles))
    if not hi > lo:
        hi = lo + max(abs(lo), 1.0) * 1e-3
    return lo, hi


def write_map_views(
    maps: FrameMaps,
    out: Path,
    *,
    fps: int = MapSettings.fps,
    alpha: float = MapSettings.alpha,
    percentiles: tuple[float, float] = MapSettings.percentiles,
) -> dict[str, Any]:
    """Write one PNG per frame of the fused map over the frame, one per task, and an MP4 of the
    fused overlays (H.264 through PyAV) under ``out``; returns the paths and colour ranges.

    Colours span the given percentiles of each map's values over the frames drawn (one range per
    map kind, shared by its frames, so frames compare). Files are written to temporary names and
    renamed into place.
    """
    from PIL import Image

    from vadkit.scoring.scoreset import safe_file_stem
    from vadkit.storage.io import atomic_write

    out.mkdir(parents=True, exist_ok=True)
    stem = safe_file_stem(maps.video)
    kinds = {"fused": maps.fused, **maps.tasks}
    ranges = {k: colour_range(v, percentiles) for k, v in kinds.items()}
    pngs: dict[str, list[str]] = {k: [] for k in kinds}
    fused_frames = []
    for i, frame in enumerate(maps.frames):
        for kind, heat in kinds.items():
            vmin, vmax = ranges[kind]
            picture = overlay(maps.images[i], heat[i], vmin=vmin, vmax=vmax, alpha=alpha)
            path = out / f"{stem}_{int(frame):06d}_{kind}.png"
            with atomic_write(path, "wb") as fh:
                Image.fromarray(picture).save(fh, format="png")
            pngs[kind].append(str(path))
            if kind == "fused":
                fused_frames.append(picture)
    video = out / f"{stem}_fused.mp4"
    write_mp4(video, fused_frames, fps)
    return {"png": pngs, "mp4": str(video), "ranges": ranges}


def write_mp4(path: Path, frames: list[np.ndarray], fps: int) -> Path:
    """An H.264 MP4 of uint8 RGB frames (padded to even sizes), written atomically."""
    import av

    from vadkit.storage.io import atomic_write

    if not frames:
        raise DataError("No frame to write into a video.", hint="Ask for a range of scored frames.")
    h, w = frames[0].shape[:2]
    ph, pw = h + h % 2, w + w % 2
    with atomic_write(path, "wb") as fh:
        container = av.open(fh, mode="w", format="mp4")
        stream = container.add_stream("libx264", rate=int(fps))
        stream.width, stream.height, stream.pix_fmt = pw, ph, "yuv420p"
        for picture in frames:
            padded = np.zeros((ph, pw, 3), np.uint8)
            padded[:h, :w] = picture
            for packet in stream.encode(av.VideoFrame.from_ndarray(padded, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
        container.close()
    return path
