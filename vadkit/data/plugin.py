"""vadkit's own dataset formats and pseudo-anomalies, registered through the same plugin hooks as
any other.

Registered lazily (``"module:Class"``) so that listing plugins imports nothing heavy. The formats
that vadkit's downloadable datasets end in carry their downloads (``download=``, see
:mod:`vadkit.data.download`): ShanghaiTech's test frames are read by ``frames``. The
pseudo-anomalies (:mod:`vadkit.data.pseudo`) are what ``vadkit validate`` injects into held-out
normal videos.
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


@hookimpl
def register_pseudo_anomalies(register: Register) -> None:
    register("paste", "vadkit.data.pseudo:PastedPatch")
    register("speedup", "vadkit.data.pseudo:SpeedUp")
    register("reverse", "vadkit.data.pseudo:Reversal")
    register("blur", "vadkit.data.pseudo:BlurBurst")
    register("noise", "vadkit.data.pseudo:NoiseBurst")
