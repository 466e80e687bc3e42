"""vadkit's own dataset formats, registered through the same plugin hook as any other.

Registered lazily (``"module:Class"``) so that listing plugins imports nothing heavy.
"""

from __future__ import annotations

from vadkit.hookspecs import Register, hookimpl


@hookimpl
def register_datasets(register: Register) -> None:
    register("frames", "vadkit.data.formats:FrameFolders")
    register("videos", "vadkit.data.formats:VideoFiles")
    register("avenue", "vadkit.data.formats:AvenueVideos")
    register("ucsd", "vadkit.data.formats:UCSDOriginal")
    register("video-folder", "vadkit.data.formats:VideoFolder")
