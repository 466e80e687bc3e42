"""Pixel-level ground truth: the masks of where the anomalies are, for the benchmarks that have them.

Found next to a dataset (see :func:`find_pixel_masks`):

* a folder ``test_pixel_mask/`` of per-video ``<video>.npy`` arrays ``[T, H, W]`` (ShanghaiTech,
  and vadkit's synthetic scene), in the split's folder or the dataset root;
* Avenue's ``<N>_label.mat`` files (``volLabel``: one ``H x W`` mask per frame), in the folders
  where its frame labels are looked for (e.g. ``ground_truth_demo/testing_label_mask``);
* UCSD's original layout: a ``Test004_gt/`` folder of one ``.bmp`` mask per frame beside the
  video's ``Test004/`` folder (only some test videos have one: the others have no pixel ground
  truth, and pixel metrics need every video's).

A pixel is anomalous where its mask is nonzero. Every reader checks the frame count against the
video and names the file on a mismatch or an unreadable file.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from vadkit.data.labels import _match_files
from vadkit.data.sources import is_ignored, list_frame_files, read_image
from vadkit.errors import DataError

#: Name of the per-video mask folder (ShanghaiTech's, also written by the synthetic scene).
MASK_DIR = "test_pixel_mask"
_HINT = "Use the pixel ground truth made for this dataset, or check that no frame is missing."


@dataclass(frozen=True)
class PixelMasks:
    """Where a split's pixel masks are: ``files[video]`` a file or folder, read by :meth:`read`."""

    kind: str  # "npy", "avenue" or "ucsd"
    where: str
    files: dict[str, Path]

    def read(self, video: str, num_frames: int) -> np.ndarray:
        """The masks of ``video``: bool ``[T, H, W]``, checked to have ``num_frames`` frames."""
        path = self.files[video]
        if self.kind == "npy":
            try:
                masks = np.load(path, allow_pickle=False)
            except Exception as exc:
                raise DataError(
                    f"Cannot read the pixel masks '{path}': {exc}.", hint=_HINT
                ) from None
        elif self.kind == "avenue":
            masks = _read_vol_label(path)
        else:
            masks = _read_bmp_folder(path)
        if masks.ndim != 3:
            raise DataError(
                f"The pixel masks '{path}' have shape {masks.shape}; [frames, H, W] expected.",
                hint=_HINT,
            )
        if masks.shape[0] != num_frames:
            raise DataError(
                f"The pixel masks '{path}' have {masks.shape[0]} frames; video '{video}' has "
                f"{num_frames}.",
                hint=_HINT,
            )
        if masks.dtype.kind == "f" and not np.isfinite(masks).all():
            raise DataError(f"The pixel masks '{path}' hold NaN or inf.", hint=_HINT)
        return masks != 0


def find_pixel_masks(
    root: Path, split: str, videos: Sequence[tuple[str, str]], label_dirs: Sequence[Path] = ()
) -> PixelMasks | None:
    """The pixel masks of every video of a split, or None when the dataset has none for all.

    ``videos`` are ``(name, source)`` pairs (``source`` the video's folder or file), ``label_dirs``
    the folders the dataset's format searches for frame labels.
    """
    names = [(name, 0) for name, _ in videos]
    for folder in (root / split / MASK_DIR, root / MASK_DIR):
        if folder.is_dir():
            files = [p for p in folder.iterdir() if p.suffix == ".npy" and not is_ignored(p)]
            return PixelMasks("npy", str(folder), _match_files(folder, files, names, ""))
    for base in label_dirs:
        for folder in (base, base / "testing_label_mask"):
            if not folder.is_dir():
                continue
            files = [p for p in folder.iterdir() if p.name.endswith("_label.mat")]
            if files:
                return PixelMasks(
                    "avenue", str(folder), _match_files(folder, files, names, "_label")
                )
    gt = {name: Path(source).with_name(Path(source).name + "_gt") for name, source in videos}
    if gt and all(p.is_dir() for p in gt.values()):
        return PixelMasks("ucsd", str(next(iter(gt.values())).parent), gt)
    return None


def _read_vol_label(file: Path) -> np.ndarray:
    import scipy.io

    try:
        vol = scipy.io.loadmat(str(file))["volLabel"]
    except Exception as exc:
        raise DataError(f"Cannot read '{file}': {exc}.", hint=_HINT) from None
    masks = list(vol.reshape(-1)) if vol.dtype == object else [vol]
    shapes = {np.asarray(m).shape for m in masks}
    if len(shapes) != 1:
        raise DataError(f"'{file}': the frames' masks have different sizes {shapes}.", hint=_HINT)
    return np.stack([np.asarray(m) for m in masks])


def _read_bmp_folder(folder: Path) -> np.ndarray:
    files = list_frame_files(folder)
    return np.stack([np.asarray(read_image(f).convert("L")) for f in files])
