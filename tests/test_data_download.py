"""`vadkit data download`, end to end through the command line against a local HTTP server.

No test touches the internet. The server (Python's http.server, with the Range support written
here) serves small archives built by the tests in the real datasets' layouts; a one-off plugin
file registers downloads that point at it (vadkit's own UCSD, Avenue and ShanghaiTech manifests
with local mirrors and the synthetic archives' checksums, and a dataset of its own format), so the
plugin path is what every test goes through.
"""

from __future__ import annotations

import hashlib
import io
import json
import re
import socket
import tarfile
import threading
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pytest
from test_data_helpers import write_frames, write_video

from vadkit.cli.app import main


# -- the local server -----------------------------------------------------------------------------
@dataclass
class Served:
    """What the server holds, what it was asked, and how it misbehaves."""

    files: dict[str, bytes] = field(default_factory=dict)
    #: (path, Range header or None) of every request, in order.
    requests: list[tuple[str, str | None]] = field(default_factory=list)
    #: path -> bytes of the body sent before the connection is closed (once per entry).
    drop_after: dict[str, int] = field(default_factory=dict)
    #: False: Range is ignored (every answer is 200 with the whole file).
    ranges: bool = True


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def do_GET(self) -> None:
        served = self.server.served
        asked = self.headers.get("Range")
        served.requests.append((self.path, asked))
        data = served.files.get(self.path)
        if data is None:
            self.send_error(404)
            return
        start = 0
        match = re.fullmatch(r"bytes=(\d+)-", asked or "")
        if match and served.ranges:
            start = int(match.group(1))
            if start >= len(data):
                self.send_response(416)
                self.send_header("Content-Range", f"bytes */{len(data)}")
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
        else:
            self.send_response(200)
        body = data[start:]
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        cut = served.drop_after.pop(self.path, None)
        self.wfile.write(body if cut is None else body[:cut])
        self.wfile.flush()
        self.close_connection = True  # HTTP/1.0: a cut body is a dropped connection

    def log_message(self, format: str, *args: object) -> None:
        pass


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    served: Served


@pytest.fixture
def server() -> Iterator[tuple[str, Served]]:
    """``(base URL, Served)`` of an HTTP server on 127.0.0.1, stopped after the test."""
    httpd = _Server(("127.0.0.1", 0), _Handler)
    httpd.served = Served()
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}", httpd.served
    finally:
        httpd.shutdown()
        httpd.server_close()


def refused_url() -> str:
    """A URL on a port nothing listens on: the connection is refused."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/gone.tar.gz"


# -- archives in the real datasets' layouts -------------------------------------------------------
def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def tar_of(folder: Path, *, mode: str = "w:gz") -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode=mode) as tar:
        for path in sorted(folder.rglob("*")):
            tar.add(path, arcname=path.relative_to(folder).as_posix(), recursive=False)
    return buf.getvalue()


def zip_of(folder: Path) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for path in sorted(folder.rglob("*")):
            zf.write(path, path.relative_to(folder).as_posix())
    return buf.getvalue()


def ucsd_archive(work: Path) -> bytes:
    """UCSD_Anomaly_Dataset.tar.gz as published, in miniature: UCSDped1 and UCSDped2, each with
    Train/TrainNNN, Test/TestNNN (and a _gt folder of pixel masks) and UCSDpedN.m."""
    top = work / "ucsd" / "UCSD_Anomaly_Dataset.v1p2"
    for ped in ("UCSDped1", "UCSDped2"):
        for i in (1, 2):
            write_frames(top / ped / "Train" / f"Train00{i}", [40 + i] * 10, ext="tif", start=1)
            write_frames(top / ped / "Test" / f"Test00{i}", [90 + i] * 10, ext="tif", start=1)
        write_frames(top / ped / "Test" / "Test001_gt", [255] * 10, ext="bmp", start=1)
        (top / ped / "Test" / f"{ped}.m").write_text(
            "TestVideoFile = {};\n"
            "TestVideoFile{end+1}.gt_frame = [3:6];\n"
            "TestVideoFile{end+1}.gt_frame = [8:10];\n"
        )
    return tar_of(work / "ucsd")


def avenue_archives(work: Path) -> tuple[bytes, bytes]:
    """Avenue_Dataset.zip ("Avenue Dataset/{training,testing}_videos/NN.avi") and
    ground_truth_demo.zip (ground_truth_demo/testing_label_mask/N_label.mat)."""
    import scipy.io

    videos = work / "avenue" / "Avenue Dataset"
    for i in (1, 2):
        write_video(videos / "training_videos" / f"0{i}.avi", [60] * 10)
        write_video(videos / "testing_videos" / f"0{i}.avi", [70] * 10)
    masks = work / "avenue_gt" / "ground_truth_demo" / "testing_label_mask"
    masks.mkdir(parents=True)
    for i in (1, 2):
        vol = np.empty((1, 10), dtype=object)
        for t in range(10):
            vol[0, t] = np.zeros((6, 8), np.uint8)
        vol[0, 4][2, 3] = 1
        scipy.io.savemat(masks / f"{i}_label.mat", {"volLabel": vol})
    return zip_of(work / "avenue"), zip_of(work / "avenue_gt")


def shanghaitech_archive(work: Path) -> bytes:
    """shanghaitech.tar.gz: training/videos/SS_NNN.avi, testing/frames/SS_NNNN/NNN.jpg and
    testing/test_frame_mask/SS_NNNN.npy."""
    top = work / "sh" / "shanghaitech"
    for name in ("01_001", "01_002"):
        write_video(top / "training" / "videos" / f"{name}.avi", [80] * 10)
    (top / "testing" / "test_frame_mask").mkdir(parents=True)
    for name in ("01_0014", "01_0015"):
        write_frames(top / "testing" / "frames" / name, [100] * 10, ext="jpg")
        mask = np.zeros(10, np.uint8)
        mask[5:8] = 1
        np.save(top / "testing" / "test_frame_mask" / f"{name}.npy", mask)
    return tar_of(work / "sh")


def tiny_archive(work: Path) -> bytes:
    """tiny-1.0.tar.xz in the plugin's own layout: clips/<split>/<video>/<frame>.png."""
    top = work / "tiny" / "tiny-1.0"
    for split, n in (("training", 2), ("testing", 1)):
        for i in range(n):
            write_frames(top / "clips" / split / f"v{i}", [30 + i] * 12)
    np.save(top / "frame_labels_tiny.npy", np.array([0] * 6 + [1] * 6, np.uint8))
    return tar_of(work / "tiny", mode="w:xz")


# -- the one-off plugin ---------------------------------------------------------------------------
PLUGIN = '''
"""A one-off plugin: a format of its own, and downloads served by the test's server."""
import dataclasses
import json

import vadkit
from vadkit.data.download import Archive, DatasetDownload, Place
from vadkit.data.download.builtin import AVENUE, SHANGHAITECH, UCSD
from vadkit.data.formats import DatasetFormat
from vadkit.data.sources import FrameFolder

SPEC = json.loads({spec!r})


class ClipFolders(DatasetFormat):
    """The test's layout: <root>/clips/<split>/<video>/<frame>.png."""

    priority = 20
    layout = "<root>/clips/<split>/<video>/<frame>.png"

    def detect(self, root, split):
        return (root / "clips" / split).is_dir()

    def list_videos(self, root, split):
        folder = root / "clips" / split
        return [FrameFolder(p.name, p) for p in sorted(folder.iterdir()) if p.is_dir()]


def local(base, name, archives):
    """vadkit's own manifest ``base`` under another name, its archives served locally."""
    replaced = tuple(
        dataclasses.replace(a, urls=tuple(archives[a.file]["urls"]),
                            sha256=archives[a.file]["sha256"])
        for a in base.archives
    )
    return dataclasses.replace(base, name=name, archives=replaced)


def build(name, spec):
    base = {{"ucsd": UCSD, "avenue": AVENUE, "shanghaitech": SHANGHAITECH}}.get(spec["base"])
    if base is not None:
        return local(base, name, spec["archives"])
    return DatasetDownload(
        name=name,
        title="The test's own dataset",
        archives=tuple(
            Archive(file=f, sha256=a["sha256"], urls=tuple(a["urls"]), size=a.get("size"))
            for f, a in spec["archives"].items()
        ),
        places=tuple(Place(*p) for p in spec.get("places", [["tiny-1.0", "."]])),
        roots=tuple(spec.get("roots", ["."])),
        homepage="https://example.org/tiny",
        manual=spec.get("manual"),
    )


@vadkit.hookimpl
def register_datasets(register):
    register("clipfolders", ClipFolders, download=[build(n, s) for n, s in SPEC.items()])
'''


def write_plugin(folder: Path, spec: dict[str, dict]) -> Path:
    """The plugin file, with ``spec``: download name -> {"base": vadkit manifest or "own",
    "archives": {file: {"urls": [...], "sha256": ...}}, "places", "roots", "manual"}."""
    path = folder / "localdata.py"
    path.write_text(PLUGIN.format(spec=json.dumps(spec)))
    return path


def serve(served: Served, base: str, file: str, data: bytes) -> str:
    served.files[f"/{file}"] = data
    return f"{base}/{file}"


# -- running the command line ---------------------------------------------------------------------
def run(capsys, *args: str) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exc:
        main(list(args))
    out, err = capsys.readouterr()
    return int(exc.value.code or 0), out, err


def flat(text: str) -> str:
    for ch in "│╭╮╰╯─":
        text = text.replace(ch, " ")
    return " ".join(text.split())


def squashed(text: str) -> str:
    """``flat`` without any space: a long path or digest wrapped inside a panel is found whole."""
    return "".join(flat(text).split())


def download(capsys, plugin: Path, name: str, to: Path, *extra: str) -> tuple[int, str, str]:
    return run(capsys, "--plugin", str(plugin), "data", "download", name, "--to", str(to), *extra)


def check(capsys, root: Path) -> dict:
    code, out, err = run(capsys, "data", "check", str(root), "--json")
    assert code == 0, err
    report = json.loads(out)
    assert report["ok"], report["problems"]
    return report


def listing(folder: Path) -> list[str]:
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*"))


@pytest.fixture(autouse=True)
def _fresh_plugins() -> Iterator[None]:
    """Each test's --plugin is forgotten after it (the host is process-wide)."""
    import vadkit

    yield
    vadkit.configure()


# -- the datasets end to end ----------------------------------------------------------------------
def test_ucsd_downloads_into_its_layout_and_passes_data_check(tmp_path, server, capsys):
    base, served = server
    data = ucsd_archive(tmp_path / "src")
    url = serve(served, base, "UCSD_Anomaly_Dataset.tar.gz", data)
    archives = {"UCSD_Anomaly_Dataset.tar.gz": {"urls": [url], "sha256": sha256(data)}}
    plugin = write_plugin(tmp_path, {"ucsd_local": {"base": "ucsd", "archives": archives}})
    from vadkit.storage.folders import STAGING, mark

    to = tmp_path / "data"
    to.mkdir()
    killed = to / ".ucsd_local.staging-999999999"  # a killed run's staging folder (its marker)
    killed.mkdir()
    mark(killed, "ucsd_local", STAGING, pid=999999999)
    (to / ".ucsd_local.staging-888888888").mkdir()  # a user's folder of that shape: kept

    code, out, err = download(capsys, plugin, "ucsd_local", to)
    assert code == 0, err
    folder = to / "ucsd_local"
    assert "vadkit data check" in out and str(folder / "UCSDped2") in flat(out)
    assert sorted(p.name for p in to.iterdir()) == [
        ".ucsd_local.staging-888888888",
        "ucsd_local",
        "vadkit-archives",
    ]
    assert sorted(p.name for p in folder.iterdir()) == [
        ".vadkit-download.json",
        "UCSDped1",
        "UCSDped2",
    ]
    record = json.loads((folder / ".vadkit-download.json").read_text())
    assert record["archives"][0]["sha256"] == sha256(data)
    assert (to / "vadkit-archives" / "UCSD_Anomaly_Dataset.tar.gz").read_bytes() == data
    for ped in ("UCSDped1", "UCSDped2"):
        report = check(capsys, folder / ped)
        test = report["splits"]["testing"]
        assert report["splits"]["training"]["format"] == "ucsd" and test["format"] == "ucsd"
        assert test["videos"] == 2 and test["anomalous_frames"] == 4 + 3
        assert test["ground_truth"].endswith(f"{ped}.m")

    requests = len(served.requests)
    code, out, _ = download(capsys, plugin, "ucsd_local", to)
    assert code == 0 and "already there" in flat(out) and len(served.requests) == requests


def test_avenue_and_shanghaitech_end_in_layouts_data_check_reads(tmp_path, server, capsys):
    base, served = server
    videos, truth = avenue_archives(tmp_path / "src")
    sh = shanghaitech_archive(tmp_path / "src")
    spec = {
        "avenue_local": {
            "base": "avenue",
            "archives": {
                "Avenue_Dataset.zip": {
                    "urls": [serve(served, base, "Avenue_Dataset.zip", videos)],
                    "sha256": sha256(videos),
                },
                "ground_truth_demo.zip": {
                    "urls": [serve(served, base, "ground_truth_demo.zip", truth)],
                    "sha256": sha256(truth),
                },
            },
        },
        "shanghaitech_local": {
            "base": "shanghaitech",
            "archives": {
                "shanghaitech.tar.gz": {
                    "urls": [serve(served, base, "shanghaitech.tar.gz", sh)],
                    "sha256": sha256(sh),
                }
            },
        },
    }
    plugin = write_plugin(tmp_path, spec)
    to = tmp_path / "data"

    code, _, err = download(capsys, plugin, "avenue_local", to)
    assert code == 0, err
    report = check(capsys, to / "avenue_local")
    test = report["splits"]["testing"]
    assert report["splits"]["training"]["format"] == "avenue" and test["format"] == "avenue"
    assert test["videos"] == 2 and test["anomalous_frames"] == 2
    assert "ground_truth_demo/testing_label_mask" in test["ground_truth"]

    code, out, err = download(capsys, plugin, "shanghaitech_local", to)
    assert code == 0, err
    assert "Note:" in out  # the manifest's note on the training videos
    report = check(capsys, to / "shanghaitech_local")
    train, test = report["splits"]["training"], report["splits"]["testing"]
    assert train["format"] == "videos" and test["format"] == "frames"
    assert test["ground_truth"].endswith("test_frame_mask") and test["anomalous_frames"] == 6


def test_a_plugin_dataset_in_its_own_format_and_the_listing(tmp_path, server, capsys):
    base, served = server
    data = tiny_archive(tmp_path / "src")
    url = serve(served, base, "tiny-1.0.tar.xz", data)
    spec = {
        "tiny": {
            "base": "own",
            "archives": {"tiny-1.0.tar.xz": {"urls": [url], "sha256": sha256(data)}},
        }
    }
    plugin = write_plugin(tmp_path, spec)
    code, out, _ = run(capsys, "--plugin", str(plugin), "data", "download", "--json")
    assert code == 0
    names = {d["name"]: d for d in json.loads(out)}
    assert {"ucsd", "avenue", "shanghaitech", "tiny"} <= set(names)
    assert names["tiny"]["plugin"] == "localdata" and names["ucsd"]["plugin"] == "formats"
    assert names["ucsd"]["archives"][0]["size"] is None  # unknown, said as such
    assert "--archive FILE" in names["shanghaitech"]["manual"] and names["ucsd"]["manual"] is None

    code, out, err = download(
        capsys, plugin, "tiny", tmp_path / "d", "--json", "--no-keep-archives"
    )
    assert code == 0, err
    result = json.loads(out)
    assert result["roots"] == [str(tmp_path / "d" / "tiny")]
    assert not (tmp_path / "d" / "vadkit-archives").exists()  # --no-keep-archives
    code, out, err = run(
        capsys, "--plugin", str(plugin), "data", "check", str(tmp_path / "d" / "tiny"), "--json"
    )
    assert code == 0, err
    report = json.loads(out)
    assert report["splits"]["training"]["format"] == "clipfolders" and report["ok"]
    assert report["splits"]["testing"]["anomalous_frames"] == 6


# -- the transfer ---------------------------------------------------------------------------------
def test_a_dropped_connection_is_resumed_with_a_range_request(tmp_path, server, capsys):
    base, served = server
    data = tiny_archive(tmp_path / "src")
    url = serve(served, base, "tiny-1.0.tar.xz", data)
    cut = len(data) // 3
    served.drop_after["/tiny-1.0.tar.xz"] = cut
    spec = {
        "tiny": {
            "base": "own",
            "archives": {"tiny-1.0.tar.xz": {"urls": [url], "sha256": sha256(data)}},
        }
    }
    plugin = write_plugin(tmp_path, spec)
    to = tmp_path / "d"

    code, _, err = download(capsys, plugin, "tiny", to)
    assert code == 1, err
    part = to / "vadkit-archives" / "tiny-1.0.tar.xz.part"
    assert part.read_bytes() == data[:cut]
    assert "dropped" in flat(err) and "run the same command again to resume" in flat(err)
    assert not (to / "tiny").exists() and not (to / "vadkit-archives" / "tiny-1.0.tar.xz").exists()

    code, _, err = download(capsys, plugin, "tiny", to)
    assert code == 0, err
    assert served.requests[-1] == ("/tiny-1.0.tar.xz", f"bytes={cut}-")
    assert f"resuming at byte {cut:,} from {url}" in flat(err)
    assert (to / "vadkit-archives" / "tiny-1.0.tar.xz").read_bytes() == data
    assert not part.exists() and (to / "tiny" / "clips" / "training" / "v1").is_dir()


def test_a_server_that_ignores_range_starts_again(tmp_path, server, capsys):
    base, served = server
    data = tiny_archive(tmp_path / "src")
    url = serve(served, base, "tiny-1.0.tar.xz", data)
    served.ranges = False
    spec = {
        "tiny": {
            "base": "own",
            "archives": {"tiny-1.0.tar.xz": {"urls": [url], "sha256": sha256(data)}},
        }
    }
    plugin = write_plugin(tmp_path, spec)
    store = tmp_path / "d" / "vadkit-archives"
    store.mkdir(parents=True)
    (store / "tiny-1.0.tar.xz.part").write_bytes(data[:100])
    code, _, err = download(capsys, plugin, "tiny", tmp_path / "d")
    assert code == 0, err
    assert "does not resume transfers; starting again from byte 0" in flat(err)
    assert (store / "tiny-1.0.tar.xz").read_bytes() == data


def test_a_mirror_down_is_named_and_the_next_one_used(tmp_path, server, capsys):
    base, served = server
    data = tiny_archive(tmp_path / "src")
    down = refused_url()
    missing = f"{base}/nowhere/tiny-1.0.tar.xz"  # HTTP 404
    good = serve(served, base, "tiny-1.0.tar.xz", data)
    spec = {
        "tiny": {
            "base": "own",
            "archives": {
                "tiny-1.0.tar.xz": {"urls": [down, missing, good], "sha256": sha256(data)}
            },
        }
    }
    plugin = write_plugin(tmp_path, spec)
    code, _, err = download(capsys, plugin, "tiny", tmp_path / "d")
    assert code == 0, err
    text = flat(err)
    assert f"mirror {down} failed" in text and f"trying {missing}" in text
    assert f"mirror {missing} failed: HTTP 404" in text and f"trying {good}" in text
    assert [p for p, _ in served.requests] == ["/nowhere/tiny-1.0.tar.xz", "/tiny-1.0.tar.xz"]
    assert (tmp_path / "d" / "tiny" / "clips" / "training" / "v0").is_dir()


def test_every_mirror_down_is_exit_1_with_the_manual_route(tmp_path, capsys):
    spec = {
        "tiny": {
            "base": "own",
            "archives": {"tiny-1.0.tar.xz": {"urls": [refused_url()], "sha256": "ab" * 32}},
            "manual": "Ask the authors for it.",
        }
    }
    plugin = write_plugin(tmp_path, spec)
    code, _, err = download(capsys, plugin, "tiny", tmp_path / "d")
    assert code == 1 and "Traceback" not in err
    text = flat(err)
    assert "could not be downloaded" in text and "Ask the authors for it." in text
    assert "--archive FILE" in text and "https://example.org/tiny" in text
    assert not (tmp_path / "d" / "tiny").exists()


# -- checksums ------------------------------------------------------------------------------------
def test_a_wrong_checksum_is_kept_aside_exit_2_and_never_used(tmp_path, server, capsys):
    base, served = server
    data = tiny_archive(tmp_path / "src")
    url = serve(served, base, "tiny-1.0.tar.xz", data + b"tampered")
    spec = {
        "tiny": {
            "base": "own",
            "archives": {"tiny-1.0.tar.xz": {"urls": [url], "sha256": sha256(data)}},
        }
    }
    plugin = write_plugin(tmp_path, spec)
    to = tmp_path / "d"
    code, _, err = download(capsys, plugin, "tiny", to)
    assert code == 2 and "Traceback" not in err
    text = flat(err)
    assert sha256(data) in text and sha256(data + b"tampered") in text
    aside = to / "vadkit-archives" / "tiny-1.0.tar.xz.bad-sha256"
    assert aside.read_bytes() == data + b"tampered" and str(aside) in squashed(err)
    assert "Run the same command again" in text
    assert listing(to) == [
        "vadkit-archives",
        *[f"vadkit-archives/{p}" for p in (".tiny.lock", "tiny-1.0.tar.xz.bad-sha256")],
    ]

    served.files["/tiny-1.0.tar.xz"] = data  # the server is fixed: the rerun fetches anew
    code, _, err = download(capsys, plugin, "tiny", to)
    assert code == 0, err
    assert served.requests[-1] == ("/tiny-1.0.tar.xz", None)  # the bad file was not resumed
    assert (to / "vadkit-archives" / "tiny-1.0.tar.xz").read_bytes() == data


def test_an_archive_on_disk_is_verified_again_each_time_it_is_used(tmp_path, server, capsys):
    base, served = server
    data = tiny_archive(tmp_path / "src")
    url = serve(served, base, "tiny-1.0.tar.xz", data)
    spec = {
        "tiny": {
            "base": "own",
            "archives": {"tiny-1.0.tar.xz": {"urls": [url], "sha256": sha256(data)}},
        }
    }
    plugin = write_plugin(tmp_path, spec)
    to = tmp_path / "d"
    assert download(capsys, plugin, "tiny", to)[0] == 0
    kept = to / "vadkit-archives" / "tiny-1.0.tar.xz"
    requests = len(served.requests)

    import shutil

    shutil.rmtree(to / "tiny")  # the dataset is needed again: the kept archive is used
    code, _, err = download(capsys, plugin, "tiny", to)
    assert code == 0, err
    assert "from an earlier download (sha256 verified)" in flat(err)
    assert len(served.requests) == requests  # nothing fetched

    shutil.rmtree(to / "tiny")
    damaged = bytearray(data)
    damaged[len(damaged) // 2] ^= 0xFF
    kept.write_bytes(bytes(damaged))  # the disk damaged it since
    code, _, err = download(capsys, plugin, "tiny", to)
    assert code == 2 and sha256(bytes(damaged)) in flat(err) and sha256(data) in flat(err)
    assert not kept.exists() and (to / "vadkit-archives" / "tiny-1.0.tar.xz.bad-sha256").exists()
    assert not (to / "tiny").exists() and len(served.requests) == requests

    code, _, err = download(capsys, plugin, "tiny", to)  # fetched anew
    assert code == 0 and kept.read_bytes() == data and len(served.requests) == requests + 1


def test_an_archive_given_by_hand_is_checked_and_left_where_it_is(tmp_path, server, capsys):
    data = tiny_archive(tmp_path / "src")
    spec = {
        "tiny": {
            "base": "own",
            "archives": {"tiny-1.0.tar.xz": {"urls": [], "sha256": sha256(data)}},
            "manual": "Its licence must be accepted on the authors' page.",
        }
    }
    plugin = write_plugin(tmp_path, spec)
    to = tmp_path / "d"
    code, _, err = download(capsys, plugin, "tiny", to)
    text = flat(err)
    assert code == 2 and "cannot be downloaded automatically" in text
    assert "licence must be accepted" in text and sha256(data) in text and "--archive" in text
    assert not to.exists()

    wrong = tmp_path / "mine" / "tiny-1.0.tar.xz"
    wrong.parent.mkdir()
    wrong.write_bytes(data[:-10])
    code, _, err = download(capsys, plugin, "tiny", to, "--archive", str(wrong))
    assert code == 2 and sha256(data[:-10]) in flat(err) and sha256(data) in flat(err)
    assert wrong.read_bytes() == data[:-10]  # the user's file: not renamed, not changed
    assert not (to / "tiny").exists()

    mine = tmp_path / "mine" / "renamed.tar.xz"
    mine.write_bytes(data)
    code, out, err = download(capsys, plugin, "tiny", to, "--archive", str(mine), "--json")
    assert code == 0, err
    result = json.loads(out)
    assert result["archives"][0]["source"] == "given with --archive"
    assert mine.read_bytes() == data and not (to / "vadkit-archives" / "tiny-1.0.tar.xz").exists()
    assert (to / "tiny" / "clips" / "testing" / "v0").is_dir()


def test_archive_of_a_real_manifest_is_matched_by_name_or_checksum(tmp_path, capsys):
    other = tmp_path / "something.zip"
    other.write_bytes(b"not avenue")
    code, _, err = run(
        capsys, "data", "download", "avenue", "--to", str(tmp_path / "d"), "--archive", str(other)
    )
    text = flat(err)
    assert code == 2 and "is none of the archives of 'avenue'" in text
    assert "Avenue_Dataset.zip (sha256 fc9cb84" in text and "ground_truth_demo.zip" in text
    assert not (tmp_path / "d").exists()


# -- safety ---------------------------------------------------------------------------------------
def _tar_with(*members: tuple[tarfile.TarInfo, bytes | None]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for info, payload in members:
            if payload is not None:
                info.size = len(payload)
            tar.addfile(info, io.BytesIO(payload) if payload is not None else None)
    return buf.getvalue()


def _file(name: str) -> tuple[tarfile.TarInfo, bytes]:
    return tarfile.TarInfo(name), b"evil"


def _link(name: str, target: str, kind: bytes = tarfile.SYMTYPE) -> tuple[tarfile.TarInfo, None]:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.linkname = target
    return info, None


def _zip_with(name: str, payload: bytes = b"evil", symlink: bool = False) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("tiny-1.0/clips/training/v0/000.png", b"x")
        info = zipfile.ZipInfo(name)
        if symlink:
            info.external_attr = 0o120777 << 16
        zf.writestr(info, payload)
    return buf.getvalue()


MALICIOUS = {
    "tar-slip": (
        "evil.tar.gz",
        lambda: _tar_with(_file("tiny-1.0/x.png"), _file("../../evil.txt")),
    ),
    "tar absolute": ("evil.tar.gz", lambda: _tar_with(_file("/tmp/vadkit-evil.txt"))),
    "tar symlink out": (
        "evil.tar.gz",
        lambda: _tar_with(_link("tiny-1.0/out", "../../.."), _file("tiny-1.0/out/evil.txt")),
    ),
    "tar symlink in": ("evil.tar.gz", lambda: _tar_with(_link("tiny-1.0/in", "clips"))),
    "tar hard link": (
        "evil.tar.gz",
        lambda: _tar_with(_link("tiny-1.0/h", "/etc/passwd", tarfile.LNKTYPE)),
    ),
    "zip-slip": ("evil.zip", lambda: _zip_with("../../evil.txt")),
    "zip absolute": ("evil.zip", lambda: _zip_with("/tmp/vadkit-evil.txt")),
    "zip backslash slip": ("evil.zip", lambda: _zip_with("..\\..\\evil.txt")),
    "zip symlink": ("evil.zip", lambda: _zip_with("tiny-1.0/link", b"../../..", symlink=True)),
}


@pytest.mark.parametrize("case", sorted(MALICIOUS))
def test_a_malicious_archive_is_refused_and_writes_nothing_outside(case, tmp_path, server, capsys):
    base, served = server
    file, build = MALICIOUS[case]
    data = build()
    url = serve(served, base, file, data)
    spec = {"evil": {"base": "own", "archives": {file: {"urls": [url], "sha256": sha256(data)}}}}
    (tmp_path / "p").mkdir()
    plugin = write_plugin(tmp_path / "p", spec)
    work = tmp_path / "a" / "b"
    to = work / "d"
    before = listing(tmp_path)
    code, _, err = download(capsys, plugin, "evil", to)
    assert code == 2 and "Traceback" not in err
    assert "is refused" in flat(err) and "Nothing of it is kept" in flat(err)
    after = listing(tmp_path)
    new = sorted(set(after) - set(before))
    assert all(
        p.startswith("a/b/d/vadkit-archives") for p in new if p not in ("a", "a/b", "a/b/d")
    ), new
    assert not (to / "evil").exists() and not Path("/tmp/vadkit-evil.txt").exists()
    assert not any("evil.txt" in p for p in after)


def test_a_folder_in_the_way_is_never_touched(tmp_path, server, capsys):
    base, served = server
    data = tiny_archive(tmp_path / "src")
    url = serve(served, base, "tiny-1.0.tar.xz", data)
    spec = {
        "tiny": {
            "base": "own",
            "archives": {"tiny-1.0.tar.xz": {"urls": [url], "sha256": sha256(data)}},
        }
    }
    plugin = write_plugin(tmp_path, spec)
    mine = tmp_path / "d" / "tiny" / "notes.txt"
    mine.parent.mkdir(parents=True)
    mine.write_text("mine")
    code, _, err = download(capsys, plugin, "tiny", tmp_path / "d")
    assert code == 2 and "not a dataset that `vadkit data download` finished" in flat(err)
    assert listing(tmp_path / "d") == ["tiny", "tiny/notes.txt"] and served.requests == []


def test_a_description_that_does_not_match_its_archives_keeps_nothing(tmp_path, server, capsys):
    base, served = server
    data = tiny_archive(tmp_path / "src")
    url = serve(served, base, "tiny-1.0.tar.xz", data)
    archives = {"tiny-1.0.tar.xz": {"urls": [url], "sha256": sha256(data)}}
    spec = {
        "no_such_folder": {"base": "own", "archives": archives, "places": [["tiny-2.0", "."]]},
        "no_layout": {  # video folders with no split folder above them: no layout reads that
            "base": "own",
            "archives": archives,
            "places": [["tiny-1.0/clips/training", "."]],
        },
    }
    plugin = write_plugin(tmp_path, spec)
    code, _, err = download(capsys, plugin, "no_such_folder", tmp_path / "d")
    assert code == 2 and "hold no 'tiny-2.0'" in flat(err)
    code, _, err = download(capsys, plugin, "no_layout", tmp_path / "d")
    assert code == 2 and "do not end in a layout a dataset format reads" in flat(err)
    assert sorted(p.name for p in (tmp_path / "d").iterdir()) == ["vadkit-archives"]


# -- the manifest and the hook --------------------------------------------------------------------
def test_a_manifest_is_checked_when_it_is_made():
    from vadkit.data.download import Archive, DatasetDownload, Place
    from vadkit.errors import ConfigError

    good = Archive("a.tar.gz", "AB" * 32, ("https://example.org/a.tar.gz",))
    assert good.sha256 == "ab" * 32 and good.urls == ("https://example.org/a.tar.gz",)
    for bad in (
        lambda: Archive("a.tar.gz", "xyz"),
        lambda: Archive("../a.tar.gz", "ab" * 32),
        lambda: Archive("a.tar.gz.part", "ab" * 32),
        lambda: Archive("a.tar.gz", "ab" * 32, ("ftp://example.org/a",)),
        lambda: Archive("a.tar.gz", "ab" * 32, size=-1),
        lambda: Place("../outside"),
        lambda: Place("a", "/etc"),
        lambda: DatasetDownload("Bad-Name", "t", (good,)),
        lambda: DatasetDownload("x", "t", ()),
        lambda: DatasetDownload("x", "t", (good, good)),
        lambda: DatasetDownload("x", "t", (good,), roots=("../y",)),
    ):
        with pytest.raises(ConfigError):
            bad()
    assert DatasetDownload("x", "t", (good,)).size is None
    assert DatasetDownload("x", "t", (Archive("a.zip", "ab" * 32, size=5),)).size == 5


def test_vadkit_registers_its_downloads_on_its_formats_with_the_published_checksums():
    from vadkit.data.download import registered_downloads

    found = registered_downloads()
    assert {n: (r.format, r.plugin) for n, r in found.items() if r.plugin == "formats"} == {
        "ucsd": ("ucsd", "formats"),
        "avenue": ("avenue", "formats"),
        "shanghaitech": ("frames", "formats"),
    }
    digests = {a.file: a.sha256 for r in found.values() for a in r.download.archives}
    assert digests["UCSD_Anomaly_Dataset.tar.gz"].startswith("2329af32")
    assert digests["Avenue_Dataset.zip"].startswith("fc9cb843")
    assert digests["ground_truth_demo.zip"].startswith("60fec172")
    assert digests["shanghaitech.tar.gz"].startswith("c13a8270")
    assert found["shanghaitech"].download.manual  # its host is often down: the manual route


def test_a_bad_download_value_is_left_out_with_a_warning_and_formats_still_work(tmp_path):
    import vadkit
    from vadkit.data.download import registered_downloads
    from vadkit.plugins import PluginLoadWarning

    class Plugin:
        @vadkit.hookimpl
        def register_datasets(self, register):
            from vadkit.data.formats import FrameFolders

            register("odd", FrameFolders, download="https://example.org/x.zip")

    vadkit.configure(plugins=[Plugin()])
    with pytest.warns(PluginLoadWarning, match="left out.*'odd'"):
        found = registered_downloads()
    assert "ucsd" in found and "odd" in vadkit.list_datasets()


def test_the_reporter_gets_the_bytes_and_the_python_api_needs_no_cli(tmp_path, server):
    import vadkit
    from vadkit.data.download import download_dataset

    base, served = server
    data = tiny_archive(tmp_path / "src")
    url = serve(served, base, "tiny-1.0.tar.xz", data)
    spec = {
        "tiny": {
            "base": "own",
            "archives": {"tiny-1.0.tar.xz": {"urls": [url], "sha256": sha256(data)}},
        }
    }
    vadkit.configure(plugins=[str(write_plugin(tmp_path, spec))])

    class Recorder:
        def __init__(self):
            self.events: list[tuple[str, int, int | None]] = []
            self.finished: list[str] = []

        def note(self, text, *, warning=False):
            pass

        def progress(self, task, done, total):
            self.events.append((task, done, total))

        def finish(self, task):
            self.finished.append(task)

    recorder = Recorder()
    result = download_dataset("tiny", tmp_path / "d", reporter=recorder)
    assert result.folder == tmp_path / "d" / "tiny" and not result.existed
    last = {task: (done, total) for task, done, total in recorder.events}
    size = len(data)
    assert last == {
        "download tiny-1.0.tar.xz": (size, size),
        "verify tiny-1.0.tar.xz": (size, size),
        "extract tiny-1.0.tar.xz": (size, size),
    }
    assert set(recorder.finished) == set(last)
    assert download_dataset("tiny", tmp_path / "d").existed  # silent by default


def test_a_second_download_into_the_same_folder_is_refused(tmp_path, capsys):
    from filelock import FileLock

    store = tmp_path / "d" / "vadkit-archives"
    store.mkdir(parents=True)
    with FileLock(str(store / ".ucsd.lock")):  # another process downloading ucsd there
        code, _, err = run(capsys, "data", "download", "ucsd", "--to", str(tmp_path / "d"))
    assert code == 2 and "Another `vadkit data download ucsd` is running" in flat(err)
    assert listing(tmp_path / "d") == ["vadkit-archives", "vadkit-archives/.ucsd.lock"]
