"""A plugin that makes its dataset downloadable: ``download=`` on a ``register_datasets`` call.

Load it from the command line with ``vadkit --plugin examples/python/download_plugin.py data
download campus --to data``, or run this file: it loads itself through ``vadkit.configure`` and
reads what it registered (nothing is fetched here).
"""

import vadkit
from vadkit.data import DatasetFormat, FrameFolder
from vadkit.data.download import Archive, DatasetDownload, Place


class CampusClips(DatasetFormat):
    """Campus clips: <root>/clips/{training,testing}/<video>/<frame>.png."""

    priority = 20
    layout = "<root>/clips/{training,testing}/<video>/<frame>.png"

    def detect(self, root, split):
        return (root / "clips" / split).is_dir()

    def list_videos(self, root, split):
        folder = root / "clips" / split
        return [FrameFolder(p.name, p) for p in sorted(folder.iterdir()) if p.is_dir()]


CAMPUS = DatasetDownload(
    name="campus",
    title="Campus clips (an example)",
    archives=(
        Archive(
            file="campus-1.0.tar.gz",
            # `sha256sum campus-1.0.tar.gz` of the published file (this one is made up)
            sha256="5f70bf18a086007016e948b04aed3b82103a36bea41755b6cddfaf10ace3c6ef",
            urls=(  # tried in this order
                "https://example.org/data/campus-1.0.tar.gz",
                "https://mirror.example.net/campus-1.0.tar.gz",
            ),
            size=None,  # bytes, when known: it only sizes the progress bar
        ),
    ),
    # The archive holds campus-1.0/clips/...: its content becomes DIR/campus/clips/...
    places=(Place("campus-1.0", "."),),
    homepage="https://example.org/campus",
)


@vadkit.hookimpl
def register_datasets(register):
    register("campus_clips", CampusClips, download=CAMPUS)


if __name__ == "__main__":
    from vadkit.data.download import registered_downloads

    vadkit.configure(plugins=[__file__])  # what --plugin does on the command line
    found = registered_downloads()
    print(sorted(found))  # ['avenue', 'campus', 'shanghaitech', 'ucsd']
    print(found["campus"].format, found["campus"].plugin)  # campus_clips download_plugin
    print(found["campus"].download.automatic, found["campus"].download.size)  # True None
    print(found["shanghaitech"].format)  # frames
