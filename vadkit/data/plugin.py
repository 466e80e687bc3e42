"""vadkit's own dataset formats, registered through the same plugin hook as any other.

Registered lazily (``"module:Class"``) so that listing plugins imports nothing heavy. The formats
that vadkit's downloadable datasets end in carry their downloads (``download=``, see
:mod:`vadkit.data.download`): ShanghaiTech's test frames are read by ``frames``.
"""

from __future__ import annotations

from vadkit.hookspecs import Register, hookimpl


@hookimpl
def register_datasets(register: Register) -> None:
    from vadkit.data.download.builtin import AVENUE, SHANGHAITECH, UCSD

    register("frames", "vadkit.data.formats:FrameFolders", download=SHANGHAITECH)
    register("videos", "vadkit.data.formats:VideoFiles")
    register("avenue", "vadkit.data.formats:AvenueVideos", download=AVENUE)
    register("ucsd", "vadkit.data.formats:UCSDOriginal", download=UCSD)
    register("video-folder", "vadkit.data.formats:VideoFolder")
