"""``vadkit report``: the segment rule by hand, the page's content against ``evaluate``, and the
page as a person sees it in headless Chromium (no console error, every part there, hover and
zoom work), with a screenshot."""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from browser import launch_chromium, open_page
from conftest import quiet_machine, run_cli
from test_evaluate_cli import TINY, error_text

from vadkit.report.segments import top_segments, video_segments


@pytest.fixture(scope="module", autouse=True)
def _env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    with quiet_machine(tmp_path_factory.mktemp("cache")):
        yield


@pytest.fixture(scope="module")
def runs(tiny_scene: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """Two runs scored on the tiny scene: one epoch, and a copy trained one epoch more."""
    base = tmp_path_factory.mktemp("report-runs")
    sets = [a for item in TINY for a in ("--set", item)]
    a, b = base / "one-epoch", base / "two-epochs"
    train = ["train", "--data", str(tiny_scene), "--epochs", "1", "--quiet", *sets]
    assert run_cli([*train, "--out", str(a)]) == 0
    shutil.copytree(a, b)
    assert run_cli(["train", "--resume", str(b), "--epochs", "2", "--quiet"]) == 0
    assert run_cli(["score", str(a), "--maps", "--quiet"]) == 0  # pixel metrics too
    assert run_cli(["score", str(b), "--quiet"]) == 0
    return a, b


@pytest.fixture(scope="module")
def seeds(runs: tuple[Path, Path], tiny_scene: Path) -> list[Path]:
    """Seeds 1 and 2 of the first run's settings, beside it: with it, 3 seeds of one setting."""
    sets = [a for item in TINY for a in ("--set", item)]
    out = []
    for seed in (1, 2):
        run = runs[0].parent / f"seed-{seed}"
        train = ["train", "--data", str(tiny_scene), "--epochs", "1", "--quiet", *sets]
        assert run_cli([*train, "--set", f"train.seed={seed}", "--out", str(run)]) == 0
        assert run_cli(["score", str(run), "--quiet"]) == 0
        out.append(run)
    return out


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    yield from launch_chromium()


@pytest.fixture(scope="module")
def report(runs: tuple[Path, Path], tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """``vadkit report RUN --top 3 --json`` of the first run (anomaly maps included)."""
    import contextlib
    import io

    out = tmp_path_factory.mktemp("report") / "page.html"
    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer):
        assert run_cli(["report", str(runs[0]), "--out", str(out), "--top", "3", "--json"]) == 0
    return json.loads(buffer.getvalue())


# -- the segment rule ---------------------------------------------------------------------------
def test_segments_by_hand() -> None:
    frames = np.arange(10, 20)
    fused = np.array([0.1, 0.9, 0.8, 0.1, 0.1, 0.7, 0.1, 0.1, 0.1, 0.95])
    labels = np.array([0, 1, 1, 0, 0, 0, 0, 0, 0, 1])
    # above 0.5: frames 11-12, 15 and 19; gap 3 merges 11-12 with 15 (15 - 12 = 3 <= 3)
    segs = video_segments("v", frames, fused, 0.5, gap=3, labels=labels)
    assert [(s.start, s.end, s.peak_frame, s.frames) for s in segs] == [
        (11, 15, 11, 5),
        (19, 19, 19, 1),
    ]
    assert segs[0].peak == pytest.approx(0.9)
    assert segs[0].mean == pytest.approx((0.9 + 0.8 + 0.1 + 0.1 + 0.7) / 5)
    assert segs[0].anomalous_frames == 2 and segs[1].anomalous_frames == 1
    assert segs[0].shown_frames() == [11, 15]  # first = peak
    # gap 1: no merging across frames below the threshold
    assert [(s.start, s.end) for s in video_segments("v", frames, fused, 0.5, gap=1)] == [
        (11, 12),
        (15, 15),
        (19, 19),
    ]
    # threshold: numpy's quantile of the pooled scores; ranking by peak across videos
    other = np.array([0.2, 0.99, 0.3])
    threshold, top = top_segments(
        ["v", "w"], [frames, np.arange(3)], [fused, other], top_k=2, quantile=0.8, gap=1
    )
    assert threshold == pytest.approx(np.quantile(np.concatenate([fused, other]), 0.8))
    assert [(s.video, s.peak_frame) for s in top] == [("w", 1), ("v", 19)]


# -- the page's content -------------------------------------------------------------------------
def test_report_holds_evaluates_numbers_and_nothing_from_outside(
    runs: tuple[Path, Path], report: dict[str, Any]
) -> None:
    run = runs[0]
    out = Path(report["report"])
    assert report["bytes"] == out.stat().st_size and report["notes"] == [""]
    assert report["maps"] == ["stored"]  # run A was scored with --maps
    page = out.read_text()
    # self-contained: no external script, style, image or font
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", page)
    assert "url(http" not in page and "@import" not in page
    # the metrics are evaluate's
    from vadkit.evaluation.evaluate import evaluate_scores
    from vadkit.evaluation.groundtruth import with_ground_truth
    from vadkit.scoring.scoreset import load_scores

    expected = evaluate_scores(with_ground_truth(load_scores(run)))
    for key, row in expected.results.items():
        label = "fused" if key == "fused" else f"{key} alone"
        assert f"{row.micro_auroc:.4f}" in page, key
        assert f"<td>{label}" in page
    p = expected.protocol
    assert str(p.checkpoint_sha256) in page and p.normalizer in page
    assert expected.pixel is not None  # run A was scored with maps: evaluate's pixel metrics
    pixel = expected.pixel.fused
    assert "Pixel level" in page and f"<td>{pixel.pixel_auroc:.4f}</td>" in page
    # the curves' data is the evaluated streams
    data = json.loads(
        re.search(r'id="report-data">(.*?)</script>', page, re.S).group(1).replace("<\\/", "</")
    )
    from vadkit.evaluation.evaluate import compute_streams
    from vadkit.scoring.fusion import get_normalizer

    scores = load_scores(run)
    streams = compute_streams(scores, p.error, get_normalizer(p.normalizer)[1], p.alphas)
    for video, s in zip(scores.videos, streams, strict=True):
        shown = data["runs"][0]["videos"][video.name]
        assert shown["frames"] == video.frames.tolist()
        np.testing.assert_allclose(shown["fused"], s["fused"], atol=1e-4)
    # segments with their frames, each with its anomaly map over it
    segments = page.count('class="segment"')
    assert 1 <= segments <= 3 and report["segments"] == [segments]
    frames = page.count('class="frame"')
    assert frames >= segments and page.count('class="overlay"') == frames
    assert page.count('src="data:image/jpeg;base64,') == 2 * frames


def test_report_reads_stored_maps_and_computes_only_when_absent(
    runs: tuple[Path, Path], tiny_scene: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import vadkit.inference.framemaps as maps_module
    from vadkit.data.formats import resolve_format
    from vadkit.evaluation.pixeleval import fused_video_maps
    from vadkit.report import ReportOptions, write_report
    from vadkit.report.images import FrameSource, MapSource, stored_maps_problem
    from vadkit.scoring.fusion import get_normalizer

    computed_for: list[str] = []
    compute = maps_module.frame_maps

    def no_network(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("the report ran the network for maps the score set stores")

    monkeypatch.setattr(maps_module, "frame_maps", no_network)
    stored = write_report([runs[0]], tmp_path / "a.html")
    assert stored.maps == ["stored"] and stored.notes == [""]
    page = (tmp_path / "a.html").read_text()
    assert "Anomaly maps read from the score set" in page
    frames = page.count('class="frame"')
    assert frames >= 1 and page.count('class="overlay"') == frames
    # the overlays are the stored maps fused with the report's normalizer and weights
    run = stored.runs[0]
    frame_source = FrameSource(run.scores.meta)
    source = MapSource(run.run_dir, run.scores, run.protocol, frame_source)
    seg = run.segments[0]
    shown = seg.shown_frames()
    source.fetch({seg.video: set(shown)})
    got = source.maps(seg.video, shown)
    assert got is not None
    video = next(v for v in run.scores.videos if v.name == seg.video)
    norm = get_normalizer(run.protocol.normalizer)[1]
    fused = fused_video_maps(video, run.scores.tasks, run.protocol.alphas, norm)
    rows = [int(np.flatnonzero(video.frames == n)[0]) for n in shown]
    np.testing.assert_array_equal(got[1], fused[rows])
    np.testing.assert_array_equal(got[0][:, :, :, 0], frame_source.frames(seg.video, shown)[..., 0])
    # the record names the dataset's layout, so the frames open without detecting it again
    assert run.scores.data_format == resolve_format(tiny_scene, "testing")[0]
    # maps of another error measure than the stored one are computed, as for run B (no maps)
    assert "not of 'mse'" in str(stored_maps_problem(run.scores, "mse"))

    def counting(*args: Any, **kwargs: Any) -> Any:
        computed_for.append(args[1])
        return compute(*args, **kwargs)

    monkeypatch.setattr(maps_module, "frame_maps", counting)
    computed = write_report([runs[1]], tmp_path / "b.html", ReportOptions(top_k=2))
    assert computed.maps == ["computed"] and computed.notes == [""]
    assert sorted(computed_for) == sorted({s.video for s in computed.runs[0].segments})
    page = (tmp_path / "b.html").read_text()
    assert "Anomaly maps computed from the run" in page
    assert page.count('class="overlay"') == page.count('class="frame"') >= 1


def test_pictures_when_the_data_has_moved(tmp_path: Path) -> None:
    from vadkit.report.images import FrameSource
    from vadkit.scoring.record import DataSource, ScoreSetRecord, ScoringDefaults

    record = ScoreSetRecord(
        tasks=("vcr",),
        defaults=ScoringDefaults("mse", "minmax", {"vcr": 1.0}),
        source=DataSource(kind="dataset", root=str(tmp_path / "gone")),
        size=(32, 32),
        color="gray",
    )
    source = FrameSource(record)
    assert source.frames("01", [3, 4]) is None
    assert source.problem is not None and str(tmp_path / "gone") in source.problem


def test_report_errors(runs: tuple[Path, Path], tmp_path: Path, capsys) -> None:
    unscored = tmp_path / "unscored"
    (unscored / "checkpoints").mkdir(parents=True)
    shutil.copy(runs[0] / "config.toml", unscored / "config.toml")
    assert run_cli(["report", str(unscored)]) == 2
    assert "has no scores yet" in error_text(capsys)
    assert run_cli(["report", str(runs[0]), "--out", str(tmp_path)]) == 2
    assert "is a folder" in error_text(capsys)
    assert run_cli(["report", str(runs[0]), "--top", "-1"]) == 2
    assert "--top -1 is negative" in error_text(capsys)
    assert run_cli(["report", str(runs[0]), "--scores", "nope"]) == 2
    assert "no score set 'nope'" in error_text(capsys)
    assert run_cli(["report", str(runs[0]), str(runs[1]), str(runs[0] / ".")]) == 2
    assert "is given twice" in error_text(capsys)
    assert not list(tmp_path.glob("*.html"))


# -- as a person sees it ------------------------------------------------------------------------
def _chart_box(page: Any, index: int = 0) -> dict[str, float]:
    svg = page.locator(".chart svg").nth(index)
    svg.scroll_into_view_if_needed()
    return svg.bounding_box()


def test_report_in_a_browser(report: dict[str, Any], browser: Any, tmp_path: Path) -> None:
    page, problems = open_page(browser, Path(report["report"]).as_uri())
    page.wait_for_selector("body[data-charts-ready]")
    videos = json.loads(page.locator("#report-data").text_content())["runs"][0]["videos"]
    assert page.locator("body").get_attribute("data-charts-ready") == str(len(videos))
    for selector in ("#metrics table.metrics", "#curves", "#segments .segment", "#provenance"):
        assert page.locator(selector).count() >= 1, selector
    assert page.locator("table.metrics tr.fused").count() == 1
    assert page.locator(".chart svg polyline.series").count() == len(videos)  # fused only
    assert page.locator(".segment img.overlay").count() >= 1
    assert all(
        page.locator(".segment img").nth(i).evaluate("img => img.naturalWidth > 0")
        for i in range(page.locator(".segment img").count())
    )
    page.screenshot(path=str(tmp_path / "report.png"), full_page=True)

    # hover: the tooltip names the frame under the cursor and its fused score
    name = page.locator(".chart").first.get_attribute("data-video")
    video = videos[name]
    box = _chart_box(page)
    svg = page.locator(".chart svg").first
    x0, x1 = int(svg.get_attribute("data-x0")), int(svg.get_attribute("data-x1"))
    assert (x0, x1) == (video["frames"][0], video["frames"][-1])
    frame = video["frames"][len(video["frames"]) // 2]
    # the plot spans x 52..946 of the 960-unit-wide view box (report.js's margins)
    x = box["x"] + box["width"] * (52 + (frame - x0) / (x1 - x0) * (960 - 52 - 14)) / 960
    page.mouse.move(x, box["y"] + box["height"] / 2)
    tip = page.locator(".chart .tooltip").first
    assert tip.is_visible()
    text = tip.text_content()
    assert text.startswith(f"frame {frame}\n")
    assert f"fused: {video['fused'][video['frames'].index(frame)]:.3f}" in text
    # the task curves appear on demand and in the tooltip
    page.check("#show-tasks")
    assert page.locator(".chart svg polyline.task").count() == 3 * len(videos)
    page.mouse.move(x, box["y"] + box["height"] / 2 + 1)
    assert "vcr: " in tip.text_content()

    # wheel zooms in around the cursor; double-click goes back to the whole video
    page.mouse.wheel(0, -300)
    page.wait_for_function(
        f"s => +s.dataset.x1 - +s.dataset.x0 < {x1 - x0}", arg=svg.element_handle()
    )
    z0, z1 = int(svg.get_attribute("data-x0")), int(svg.get_attribute("data-x1"))
    assert x0 <= z0 < z1 <= x1 and z1 - z0 < x1 - x0 and z0 <= frame <= z1
    page.mouse.dblclick(x, box["y"] + box["height"] / 2)
    assert (int(svg.get_attribute("data-x0")), int(svg.get_attribute("data-x1"))) == (x0, x1)
    # drag zooms to the dragged frames
    y = box["y"] + box["height"] / 2
    page.mouse.move(box["x"] + box["width"] * 0.3, y)
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] * 0.6, y, steps=4)
    page.mouse.up()
    d0, d1 = int(svg.get_attribute("data-x0")), int(svg.get_attribute("data-x1"))
    assert x0 < d0 < d1 < x1
    # a segment's link zooms its video's curve onto it
    seg = page.locator(".segment").first
    seg.locator(".show-curve").click()
    target = page.locator(f'.chart[data-video="{seg.get_attribute("data-video")}"] svg')
    s0, s1 = int(target.get_attribute("data-x0")), int(target.get_attribute("data-x1"))
    assert s0 <= int(seg.get_attribute("data-start")) <= int(seg.get_attribute("data-end")) <= s1
    assert problems.items == []


def test_two_runs_side_by_side(runs: tuple[Path, Path], browser: Any, tmp_path: Path) -> None:
    a, b = runs
    assert run_cli(["report", str(a), str(b), "--no-maps"]) == 0
    out = a / f"report-vs-{b.name}.html"
    page, problems = open_page(browser, out.as_uri())
    page.wait_for_selector("body[data-charts-ready]")
    head = page.locator("table.metrics thead").text_content()
    assert a.name in head and b.name in head
    fused = page.locator("table.metrics tr.fused td")
    assert fused.count() == 1 + 2 * 5  # label, then 5 metrics x 2 runs
    videos = page.locator(".chart").count()
    assert page.locator(".chart svg polyline.series").count() == 2 * videos  # both fused curves
    assert page.locator("#segments .runs > div").count() == 2
    assert page.locator("#provenance .runs > div").count() == 2
    assert "--no-maps" in page.locator("#segments").text_content()
    # without maps the segments still show their frames
    assert page.locator(".segment img.frame").count() >= 2
    assert page.locator(".segment img.overlay").count() == 0
    page.screenshot(path=str(tmp_path / "compare.png"), full_page=True)
    # two settings (one epoch, two): each run its own group, never averaged; what sets them apart
    spread = page.locator("#spread").text_content()
    assert "Every run is its own group" in spread and "train.epochs" in spread
    assert page.locator("#spread .group").count() == 2
    assert page.locator("#spread table.spread").count() == 2  # each run's numbers, no spread
    assert problems.items == []


def _embedded(page: str) -> dict[str, Any]:
    found = re.search(r'id="report-data">(.*?)</script>', page, re.S)
    assert found
    return json.loads(found.group(1).replace("<\\/", "</"))


def test_several_runs_spread_and_paper_claims(
    runs: tuple[Path, Path], seeds: list[Path], browser: Any, tmp_path: Path, capsys
) -> None:
    """Three seeds of one setting and a run of another: the seeds' spread (against numpy and
    scipy by hand from evaluate's numbers), the other run apart, the paper's table, the JSON."""
    from scipy import stats

    from vadkit.evaluation.evaluate import evaluate_scores
    from vadkit.evaluation.groundtruth import with_ground_truth
    from vadkit.scoring.scoreset import load_scores

    a, b = runs
    order = [a, b, *seeds]
    capsys.readouterr()
    args = ["report", *map(str, order), "--no-maps", "--top", "1", "--json"]
    assert run_cli(args) == 0
    report = json.loads(capsys.readouterr().out)
    out = Path(report["report"])
    assert out == a.parent / "report-of-4-runs.html"  # beside the runs, named by their count
    groups = report["groups"]
    assert [g["runs"] for g in groups] == [[a.name, *(s.name for s in seeds)], [b.name]]
    assert groups[1]["differing"]["train.epochs"] == 2
    assert groups[0]["varying"] == {"train.seed": [0, 1, 2]}
    # the spread of the three seeds, by hand from evaluate's numbers
    evaluated = [
        evaluate_scores(with_ground_truth(load_scores(r))).to_json()["results"] for r in (a, *seeds)
    ]
    for score in ("vcr", "fused"):
        for metric in ("micro_auroc", "macro_auroc"):
            x = np.array([e[score][metric] for e in evaluated], dtype=np.float64)
            got = groups[0]["spread"][score][metric]
            assert got["values"] == pytest.approx(x.tolist()) and got["n"] == 3
            assert got["mean"] == pytest.approx(x.mean())
            assert got["std"] == pytest.approx(np.std(x, ddof=1))
            half = stats.t.ppf(0.975, 2) * np.std(x, ddof=1) / np.sqrt(3)
            low, high = max(0.0, x.mean() - half), min(1.0, x.mean() + half)
            assert got["interval"] == pytest.approx([low, high])
    # the page embeds the same numbers, and shows them
    page = out.read_text()
    study = _embedded(page)["study"]
    assert study["groups"] == json.loads(json.dumps(groups))
    assert study["std_ddof"] == 1 and study["interval"] == "t-interval of the mean over runs"
    fused = groups[0]["spread"]["fused"]["micro_auroc"]
    assert f"{fused['mean']:.4f} &plusmn; {fused['std']:.4f}" in page
    # the paper's numbers, from the recipe: the runs are on the synthetic scene, not measured
    (claims,) = report["claims"]
    assert claims["recipe"] == "luss-ae"
    ped2 = next(c for c in claims["claims"] if c["dataset"] == "ped2" and c["score"] == "fused")
    assert ped2["paper"] == 0.9852 and ped2["measured"] is None

    view, problems = open_page(browser, out.as_uri())
    view.wait_for_selector("body[data-charts-ready]")
    assert view.locator("#spread .group").count() == 2
    first = view.locator("#spread .group").first
    assert first.get_attribute("data-runs") == "3"
    assert "micro AUROC (headline)" in first.text_content()
    assert "macro AUROC (per-video mean)" in first.text_content()
    assert view.locator("#spread table.spread").first.locator("tbody tr").count() == 4
    assert view.locator("#metrics table.runs-table tbody tr").count() == 4  # each run's numbers
    paper = view.locator("#paper").text_content()
    assert "0.9852 (98.52 %)" in paper and "Not measured here" in paper
    videos = view.locator(".chart").count()
    assert view.locator(".chart svg polyline.series").count() == 4 * videos  # every run's curve
    colours = {
        view.locator(".chart").first.locator("polyline.series").nth(i).get_attribute("stroke")
        for i in range(4)
    }
    assert len(colours) == 4
    view.screenshot(path=str(tmp_path / "runs.png"), full_page=True)
    assert problems.items == []
