"""The seed study and ablation scripts' plumbing, at a tiny scale on the synthetic scene (the real
study is three 20-minute trainings: docs/benchmarks/ped2-seeds.md says how to run it)."""

from __future__ import annotations

import importlib
import json
import statistics
import sys
from pathlib import Path

import pytest
from conftest import quiet_machine

BENCH = Path(__file__).resolve().parents[1] / "benchmarks"
TINY = [
    "--epochs", "2", "--size", "32", "--stride", "4", "--val-videos", "1",
    "--set", "data.clip_length=8",
    "--set", "model.params.channels=[8,8,16,16]",
    "--set", "train.batch_size=4",
    "--set", "score.average_last=2",
    "--set", "score.agreement_windows=8",
]  # fmt: skip


@pytest.fixture(scope="module")
def scripts(tmp_path_factory: pytest.TempPathFactory):
    sys.path.insert(0, str(BENCH))
    try:
        with quiet_machine(tmp_path_factory.mktemp("cache"), OMP_NUM_THREADS="1"):
            yield (
                importlib.import_module("bench_ped2"),
                importlib.import_module("ped2_seeds"),
                importlib.import_module("ablations"),
                importlib.import_module("cli_runs"),
            )
    finally:
        sys.path.remove(str(BENCH))


def test_seed_study_and_ablations_write_their_pages(
    scripts, tiny_scene: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    bench, seeds, ablations, cli_runs = scripts
    monkeypatch.setattr(cli_runs, "IN_PROCESS", True)  # the CLI in this process: no start-up cost
    out, page = tmp_path / "study", tmp_path / "ped2-seeds.md"
    common = ["--data", str(tiny_scene), "--out", str(out), "--page", str(page), *TINY]
    bench.main([*common, "--seeds", "0"])  # in pieces: seed 0, then seed 1
    # a second seed's result, made from the first's with other numbers (one tiny training is
    # enough to test the plumbing; the aggregation must use both)
    first = json.loads((out / "seed_0" / "seed_result.json").read_text())
    second = json.loads(json.dumps(first).replace('"seed": 0', '"seed": 1'))
    for grid in (second["sets"][k]["eval"] for k in second["sets"]):
        for row in grid.values():
            for key in row:
                row[key] = row[key] * 0.9
    (out / "seed_1").mkdir()
    (out / "seed_1" / "seed_result.json").write_text(json.dumps(second))
    bench.main([*common, "--seeds", "1"])  # finished: reused, and the page covers both
    results = [json.loads((out / f"seed_{s}" / "seed_result.json").read_text()) for s in (0, 1)]
    default = seeds.scored_set(results)  # by the validation-loss rule, not by AUROC
    assert default == ("ema" if seeds.ema_criterion(results)[0] else "last")
    fused = [r["sets"][default]["eval"]["bpe/minmax"]["fused"] for r in results]
    text = page.read_text()
    assert f"**{statistics.fmean(fused):.3f}**" in text
    assert f"minimum **{min(fused):.3f}**" in text
    assert f"standard deviation\n{statistics.stdev(fused):.3f}" in text
    for r in results:
        sets = r["sets"]
        assert set(sets) == {"last", "ema", "auto"}
        assert sets["last"]["weights"]["checkpoint"] == "last"
        assert sets["ema"]["weights"]["checkpoint"] == "ema"
        assert sets["auto"]["weights"]["choice"]["chosen"] in {"last", "ema", "average_last_2"}
        assert all(len(sets[k]["eval"]) == 12 for k in sets)  # 4 error measures x 3 normalizers
    assert "train.seed=0" in results[0]["train_args"]

    def no_more_work(*args: object, **kwargs: object) -> str:
        raise AssertionError("a finished seed was run again")

    monkeypatch.setattr(cli_runs, "vadkit", no_more_work)
    again = bench.main([*common, "--seeds", "0,1"])
    assert [r["seed"] for r in again["seeds"]] == [0, 1]
    monkeypatch.undo()
    monkeypatch.setattr(cli_runs, "IN_PROCESS", True)

    # a result from before every set had its full grid: the grid comes from the stored scores
    old = json.loads(json.dumps(results[0]))
    old["sets"]["ema"]["eval"] = {"bpe/minmax": old["sets"]["ema"]["eval"]["bpe/minmax"]}
    assert seeds.grid(old, "ema") == results[0]["sets"]["ema"]["eval"]  # same stored scores

    # Tables 4 and 5 from the two seeds; Table 2 with one extra training (VCR alone)
    monkeypatch.setattr(ablations, "SUBSETS", ("vcr", "vcr,ffp,prp"))
    page2 = tmp_path / "ablations.md"
    study = ["--study", str(out), "--study-record", str(page.with_suffix(".json"))]
    partial = ablations.main([*study, "--data", str(tiny_scene), "--page", str(page2),
                              "--no-train", *TINY])  # fmt: skip
    assert partial["table_2"] == {"vcr,ffp,prp": fused[0]}  # nothing trained
    assert not (out / "tasks_vcr").exists()
    assert "| VCR | not trained yet |" in page2.read_text()
    done = ablations.main([*study, "--data", str(tiny_scene), "--page", str(page2),
                           *TINY])  # fmt: skip
    assert done["weights"] == default
    robust = statistics.fmean(r["sets"][default]["eval"]["bpe/robust"]["fused"] for r in results)
    assert done["tables_4_5"]["table5"]["robust"] == pytest.approx(robust)
    assert done["table_2"]["vcr,ffp,prp"] == fused[0]  # the study's seed-0 run, not retrained
    vcr_only = json.loads((out / "tasks_vcr" / "table2.json").read_text())
    assert vcr_only["tasks"] == ["vcr"] and done["table_2"]["vcr"] == vcr_only["fused"]
    minutes = done["table_2_minutes"]  # each run's own record of its training time
    assert minutes["vcr"] == cli_runs.train_seconds(out / "tasks_vcr") / 60 > 0
    assert minutes["vcr,ffp,prp"] == results[0]["train_seconds"] / 60
    assert done["table_2_runs"] == {"vcr": "trained", "vcr,ffp,prp": "study"}
    assert done["tables_4_5"]["fused_std"] == pytest.approx(statistics.stdev(fused))
    assert vcr_only["weights"] == default
    text = page2.read_text()
    assert f"| Robust | {100 * robust:.2f} |" in text or f"| robust | {100 * robust:.2f} |" in text
    assert "89.04" in text and "81.21" in text  # the paper's numbers beside
    assert "| trained for this table |" in text and "| the seed study's |" in text
    assert f"standard deviation of {100 * statistics.stdev(fused):.1f} points" in text
    assert "trained again" not in text  # the full set is the study's own run
    assert text.count("The ordering of the") >= 6

    # A fresh checkout has the committed pages and records, not the run folders: the study and
    # the ablations are rewritten from the records, nothing is trained or scored again.
    seeds_text = page.read_text()
    record = json.loads(page.with_suffix(".json").read_text())
    assert [r["seed"] for r in record["seeds"]] == [0, 1]
    out.rename(tmp_path / "elsewhere")
    monkeypatch.setattr(cli_runs, "vadkit", no_more_work)
    again = bench.main([*common, "--seeds", "0,1"])
    assert [r["seed"] for r in again["seeds"]] == [0, 1] and page.read_text() == seeds_text
    redone = ablations.main([*study, "--data", str(tiny_scene), "--page", str(page2), *TINY])
    assert redone == done and page2.read_text() == text
    with pytest.raises(AssertionError, match="run again"):  # the page's record ignored: VCR trains
        ablations.main([*study, "--data", str(tiny_scene), "--page", str(page2), "--retrain"])
    page.with_suffix(".json").unlink()  # not even the study's record: Tables 4, 5 from the page's
    assert ablations.main([*study, "--data", str(tiny_scene), "--page", str(page2)]) == done
    assert page2.read_text() == text


def _seed(seed: int, last: float, ema: float) -> dict[str, object]:
    losses = {"last": {"losses": {"loss": last}}, "ema": {"losses": {"loss": ema}}}
    return {"seed": seed, "sets": {"auto": {"weights": {"choice": {"candidates": losses}}}}}


def test_the_moving_average_is_the_default_only_when_it_wins_validation_for_every_seed(scripts):
    seeds = scripts[1]
    assert seeds.scored_set([_seed(0, 0.2, 0.1), _seed(1, 0.3, 0.25)]) == "ema"
    assert seeds.scored_set([_seed(0, 0.2, 0.1), _seed(1, 0.3, 0.31)]) == "last"
    ok, lines = seeds.ema_criterion([_seed(0, 0.2, 0.1), _seed(1, 0.3, 0.31)])
    assert not ok and lines == [
        "seed 0: validation loss last 0.20000, ema 0.10000",
        "seed 1: validation loss last 0.30000, ema 0.31000",
    ]
    assert seeds.scored_set([]) == "last"


def test_a_run_stopped_before_its_first_checkpoint_is_trained_again(
    scripts, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    cli_runs = scripts[3]
    calls: list[tuple[str, ...]] = []
    monkeypatch.setattr(cli_runs, "vadkit", lambda *a, **k: calls.append(a) or "")
    run = tmp_path / "run"
    run.mkdir()
    (run / "config.toml").write_text("")  # what a training killed in its first epoch leaves
    cli_runs.train_or_resume(run, ["--data", "D"], 15)
    assert calls == [("train", "--data", "D", "--out", str(run), "--quiet")]
    (run / "checkpoints").mkdir()
    (run / "checkpoints" / "last.state.pt").write_bytes(b"")
    cli_runs.train_or_resume(run, ["--data", "D"], 15)
    assert calls[-1] == ("train", "--resume", str(run), "--epochs", "15", "--quiet")
    (run / "metrics.jsonl").write_text('{"event": "epoch", "epoch": 14, "seconds": 2.5}\n')
    cli_runs.train_or_resume(run, ["--data", "D"], 15)
    assert len(calls) == 2 and cli_runs.train_seconds(run) == 2.5  # finished: reused


def test_pages_name_this_machines_folders_relative_to_the_repository(scripts):
    cli_runs = scripts[3]
    text = f"{cli_runs.REPO}/runs/seed_0 and {cli_runs.REPO.parent}/shared/datasets/ped2"
    assert cli_runs.repo_relative(text) == "runs/seed_0 and ../shared/datasets/ped2"
