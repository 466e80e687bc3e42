"""Label-free validation of trained runs: `vadkit validate`, the trainer's callback, the weights
chosen by pseudo-AUROC and the fusion weights searched by it, on a small synthetic scene.

The scene is the synthetic one with longer training videos than the suite's ``tiny_scene`` (three
of 90 frames, one held out), so that a validation holds about 150 windows; a tiny LUSS-AE run is
trained on it for six epochs (seconds)."""

from __future__ import annotations

import json
import warnings
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from conftest import TINY_MODEL, quiet_machine, run_cli

from vadkit.config import resolve_config
from vadkit.errors import ConfigError
from vadkit.runs import folder as runs

SETTINGS = [
    *TINY_MODEL,
    "data.stride=2",
    "data.val_videos=1",
    "train.batch_size=8",
    "train.lr=1e-3",
    "train.epochs=6",
    "score.batch_size=64",
    "score.average_last=2",
]


@pytest.fixture(scope="module", autouse=True)
def _machine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    with quiet_machine(tmp_path_factory.mktemp("cache")):
        yield


@pytest.fixture(scope="module")
def scene(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from vadkit.data import generate_scene

    root = tmp_path_factory.mktemp("validation_scene") / "scene"
    return generate_scene(root, size=32, train_videos=3, test_videos=2, frames=(90, 90))


def _train(scene: Path, out: Path, *extra: str) -> Path:
    from vadkit.training.trainer import Trainer

    config = resolve_config(overrides=[*SETTINGS, *extra], flags={"data.root": str(scene)})
    Trainer(config, out, handle_signals=False).fit()
    return out


@pytest.fixture(scope="module")
def run(scene: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Six epochs, validated by the trainer at the end of every second one."""
    return _train(scene, tmp_path_factory.mktemp("runs") / "validated", "train.validate_every=2")


def test_the_trainer_validates_every_second_epoch_and_trains_the_same(
    run: Path, scene: Path, tmp_path: Path
):
    from vadkit.runs.checkpoints import weights_digest
    from vadkit.validation.records import read_validation

    entries = read_validation(run)
    assert [(e["checkpoint"], e["epoch"]) for e in entries] == [
        ("epoch_0002", 2),
        ("epoch_0004", 4),
        ("epoch_0006", 6),
    ]
    for e in entries:
        assert e["during_training"] and e["held_out"] and e["windows"] > 100
        assert e["sha256"] == weights_digest(run / "checkpoints" / f"{e['checkpoint']}.safetensors")
        assert set(e["tasks"]) == {"vcr", "ffp", "prp"} and 0 <= e["fused"] <= 1
    # the same run without the callback: the very same weights (validation changes nothing)
    from vadkit.runs.checkpoints import state_digest

    plain = _train(scene, tmp_path / "plain")
    assert not (plain / "validation.json").exists()
    for name in ("epoch_0004", "last"):
        a, b = (state_digest(runs.load_model(r, checkpoint=name)[1]) for r in (plain, run))
        assert a == b, name


def test_a_trained_model_beats_chance_and_a_random_one_does_not(run: Path):
    import torch

    from vadkit.validation.validator import Validator

    config = runs.read_config(run)
    validator = Validator(config)
    torch.manual_seed(0)
    broken = runs.build_model(config)  # random weights: a model that learnt nothing
    random_auroc = validator.measure(broken)["fused"]
    _, trained = runs.load_model(run)
    trained_auroc = validator.measure(trained)["fused"]
    assert abs(random_auroc - 0.5) < 0.1
    assert trained_auroc > 0.55 and trained_auroc > random_auroc + 0.05
    # the record the trainer wrote is what the validator measures now (deterministic)
    from vadkit.validation.records import read_validation

    last = read_validation(run)[-1]
    assert last["fused"] == pytest.approx(trained_auroc, abs=1e-9)


def test_vadkit_validate_measures_checkpoints_and_records_them(run: Path, capsys):
    from vadkit.validation.records import read_validation

    assert run_cli(["validate", str(run), "--checkpoint", "2,last", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    names = [e["checkpoint"] for e in result["entries"]]
    assert names == ["epoch_0002", "last"]
    recorded = read_validation(run)
    # epoch 2 measured again the same way replaces the trainer's entry; `last` is added
    assert [e["checkpoint"] for e in recorded].count("epoch_0002") == 1
    by_name = {e["checkpoint"]: e for e in recorded}
    assert by_name["epoch_0002"]["fused"] == result["entries"][0]["fused"]
    assert by_name["last"]["sha256"] == by_name["epoch_0006"]["sha256"]
    assert "during_training" not in by_name["epoch_0002"]
    # other settings: another entry for the same weights, and the table on the terminal
    assert run_cli(["validate", str(run), "--windows", "40", "--kinds", "noise,reverse"]) == 0
    out = capsys.readouterr().out
    assert "Pseudo-AUROC (no test label read)" in out and "noise" in out and "reverse" in out
    small = [e for e in read_validation(run) if e["pseudo"]["windows"] == 40]
    assert len(small) == 1 and set(small[0]["kinds"]) == {"noise", "reverse"}
    assert small[0]["windows"] == 40


def test_validate_refuses_what_it_cannot_do(run: Path, scene: Path, tmp_path: Path, capsys):
    # a run that held out no training video: refused with the fix, nothing written
    config = resolve_config(overrides=TINY_MODEL, flags={"data.root": str(scene)})
    bare = tmp_path / "bare"
    bare.mkdir()
    runs.write_config(bare, config)
    assert run_cli(["validate", str(bare)]) == 2
    err = capsys.readouterr().err.replace("\n", " ")
    assert "held out none (data.val_videos = 0)" in err and "data.val_videos=N" in err
    assert not (bare / "validation.json").exists()
    assert run_cli(["validate", str(run), "--checkpoint", "99"]) == 2
    assert "has no checkpoint '99'" in capsys.readouterr().err
    assert run_cli(["validate", str(run), "--kinds", "wobble"]) == 2
    assert "Unknown pseudo_anomaly 'wobble'" in capsys.readouterr().err.replace("\n", " ")
    assert run_cli(["validate", str(run), "--weights", "auto"]) == 2
    assert "--weights auto is a choice" in capsys.readouterr().err
    with pytest.raises(ConfigError, match=r"train\.validate_every = 1 validates on held-out"):
        resolve_config(overrides=[*TINY_MODEL, "train.validate_every=1"])


def test_validate_is_refused_while_another_writer_holds_the_run(run: Path, capsys):
    from vadkit.storage.lock import run_lock
    from vadkit.validation.records import read_validation

    before = read_validation(run)
    import multiprocessing

    ready, release = multiprocessing.Event(), multiprocessing.Event()
    holder = multiprocessing.get_context("fork").Process(
        target=_hold_lock, args=(str(run), ready, release)
    )
    holder.start()
    try:
        assert ready.wait(30)
        assert run_cli(["validate", str(run), "--checkpoint", "4"]) == 2
        assert "is being written by" in capsys.readouterr().err
    finally:
        release.set()
        holder.join(30)
    assert read_validation(run) == before
    with run_lock(run, "test"):  # this thread's own lock: validate nests in it
        assert run_cli(["validate", str(run), "--checkpoint", "4", "-q"]) == 0


def _hold_lock(run: str, ready, release) -> None:
    from vadkit.storage.lock import run_lock

    with run_lock(run, "vadkit train"):
        ready.set()
        release.wait(60)


def test_weights_auto_by_pseudo_auroc_records_its_choice(run: Path, capsys):
    from vadkit.validation.validator import PSEUDO_CRITERION

    args = ["--weights", "auto", "--criterion", "pseudo", "--precision", "fp32", "--device", "cpu"]
    assert run_cli(["score", str(run), "--name", "pseudo", *args]) == 0
    out = capsys.readouterr().out
    assert "pseudo-AUROC" in out
    record = json.loads((run / "scores" / "pseudo" / "set.json").read_text())
    choice = record["weights"]["choice"]
    assert choice["criterion"] == PSEUDO_CRITERION and record["weights"]["mode"] == "auto"
    fused = {k: v["pseudo"]["fused"] for k, v in choice["candidates"].items()}
    assert set(fused) == {"last", "average_last_2"}
    assert choice["chosen"] == max(fused, key=fused.__getitem__)
    assert choice["protocol"]["held_out"] == choice["held_out"]
    # the loss criterion is still the default, and --criterion needs --weights auto
    assert (
        run_cli(["score", str(run), "--name", "x", "--weights", "last", "--criterion", "pseudo"])
        == 2
    )
    assert "--criterion pseudo chooses among the candidates of --weights auto" in (
        capsys.readouterr().err.replace("\n", " ")
    )
    assert (
        run_cli(["score", str(run), "--name", "x", "--weights", "auto", "--criterion", "best"]) == 2
    )
    assert "--criterion 'best' is not one of loss, pseudo" in capsys.readouterr().err


def test_fusion_weights_searched_by_pseudo_auroc_are_recorded_and_evaluated(run: Path, capsys):
    from vadkit.evaluation.evaluate import evaluate_run
    from vadkit.scoring.scoreset import load_scores

    assert (
        run_cli(["score", str(run), "--name", "fuse", "--weights", "last", "--precision", "fp32"])
        == 0
    )
    capsys.readouterr()
    assert run_cli(["search", str(run), "--scores", "fuse", "--on", "pseudo", "--step", "0.5"]) == 0
    out = capsys.readouterr().out
    assert "no test label read" in out and "--alphas pseudo" in out
    result = json.loads((run / "search.json").read_text())
    assert result["mode"] == "pseudo" and not result["optimistic"]
    best = result["best"]
    assert best["pseudo_auroc"] == max(row["pseudo_auroc"] for row in result["top"])
    scores = load_scores(run, "fuse")  # the sealed record, re-sealed with the choice, loads
    choice = scores.meta.alphas_choice
    assert choice is not None
    assert choice["alphas"] == best["alphas"] and choice["criterion"] == result["criterion"]
    assert scores.defaults.presets["pseudo"] == best["alphas"]
    evaluated = evaluate_run(run, name="fuse", alphas="pseudo", plots=False)
    assert evaluated["protocol"]["alphas"] == best["alphas"]
    # the search on pseudo-anomalies refuses the options of a search on test labels
    assert (
        run_cli(["search", str(run), "--scores", "fuse", "--on", "pseudo", "--holdout", "0.5"]) == 2
    )
    assert "apply to a search on the test labels" in capsys.readouterr().err.replace("\n", " ")
    # scored again, the set starts without the choice
    assert (
        run_cli(["score", str(run), "--name", "fuse", "--weights", "last", "--precision", "fp32"])
        == 0
    )
    assert load_scores(run, "fuse").meta.alphas_choice is None


def test_the_pseudo_set_settings_come_from_the_run_and_are_checked():
    with pytest.raises(ConfigError, match=r"score\.pseudo_kinds: Unknown pseudo_anomaly 'wobble'"):
        resolve_config(overrides=[*TINY_MODEL, 'score.pseudo_kinds=["wobble"]'])
    with pytest.raises(ConfigError, match=r"score\.pseudo_windows"):
        resolve_config(overrides=[*TINY_MODEL, "score.pseudo_windows=1"])
    with pytest.raises(ConfigError, match=r"score\.weights_criterion"):
        resolve_config(overrides=[*TINY_MODEL, "score.weights_criterion=best"])
    config = resolve_config(overrides=[*TINY_MODEL, "score.pseudo_kinds=blur, noise"])
    assert config["score"]["pseudo_kinds"] == ["blur", "noise"]
    assert np.isclose(config["score"]["pseudo_windows"], 256)


def test_held_out_videos_too_short_to_validate_stop_training_before_its_first_step(
    tiny_scene: Path, tmp_path: Path
):
    from vadkit.errors import DataError
    from vadkit.training.trainer import Trainer

    config = resolve_config(  # 17-frame windows, and a speed-up reads 17 more: 34 > 30 frames
        overrides=[
            *TINY_MODEL,
            "data.clip_length=16",
            "data.val_videos=1",
            "train.validate_every=1",
        ],
        flags={"data.root": str(tiny_scene)},
    )
    trainer = Trainer(config, tmp_path / "run", handle_signals=False)
    with pytest.raises(DataError, match="too short to validate on"):
        trainer.fit()
    assert trainer.progress.step == 0 and not list((tmp_path / "run").glob("checkpoints/*"))


def test_pseudo_anomaly_parameters_are_settings_checked_recorded_and_used(run: Path, capsys):
    """score.pseudo_params / --param: subtler pseudo-anomalies, checked like the other component
    tables, recorded in the protocol only when they differ from the defaults, and really used."""
    from vadkit.config import Settings
    from vadkit.validation.validator import Validator, pseudo_settings

    # checked when the config resolves, naming the key
    with pytest.raises(ConfigError, match=r"score\.pseudo_params\.noise\.loud"):
        resolve_config(overrides=[*TINY_MODEL, "score.pseudo_params.noise.loud=1"])
    with pytest.raises(ConfigError, match=r"score\.pseudo_params\.wobble"):
        resolve_config(overrides=[*TINY_MODEL, "score.pseudo_params.wobble.std=1"])
    config = resolve_config(overrides=[*TINY_MODEL, "score.pseudo_params.noise.std=4"])
    assert config["score"]["pseudo_params"] == {"noise": {"std": 4.0, "fraction": 0.5}}
    settings = Settings.from_config(config)
    assert pseudo_settings(settings, kinds=["noise"])["params"] == {
        "noise": {"std": 4.0, "fraction": 0.5}
    }
    assert "params" not in pseudo_settings(settings, kinds=["blur"])  # noise is not used
    # the defaults given explicitly: the protocol reads as before (entries keep their identity)
    same = pseudo_settings(settings, kinds=["noise"], params={"noise": {"std": 12.0}})
    assert "params" not in same
    with pytest.raises(ConfigError, match="'noise', which is not among the kinds measured"):
        pseudo_settings(settings, kinds=["blur"], params={"noise": {"std": 1.0}})

    # used: the noise the validator adds is the one asked for (std 1: at most a few levels)
    base = Validator(runs.read_config(run), kinds=["noise"], windows=8)
    quiet = Validator(
        runs.read_config(run), kinds=["noise"], windows=8, params={"noise": {"std": 1}}
    )
    assert quiet.protocol()["pseudo"]["params"] == {"noise": {"std": 1.0, "fraction": 0.5}}
    for validator, most in ((base, 60), (quiet, 5)):
        pseudo = validator.pseudo  # windows in pairs: as it is, then with the noise
        diffs = [
            np.abs(pseudo.window(j + 1).frames.astype(int) - pseudo.window(j).frames).max()
            for j in range(0, len(pseudo.items), 2)
        ]
        assert max(diffs) <= most and max(diffs) > 0

    # the command line: --param, shown and recorded; a malformed one is a usage error
    assert run_cli(["validate", str(run), "--windows", "16", "--kinds", "noise",
                    "--param", "noise.std=2"]) == 0  # fmt: skip
    out = capsys.readouterr().out
    assert "noise std=2.0 fraction=0.5" in out
    from vadkit.validation.records import read_validation

    recorded = [e for e in read_validation(run) if e["pseudo"].get("params")]
    assert [e["pseudo"]["params"]["noise"]["std"] for e in recorded] == [2.0]
    assert run_cli(["validate", str(run), "--param", "std=2"]) == 2
    assert "not of the form NAME.PARAM=VALUE" in capsys.readouterr().err


def test_a_saturated_pseudo_auroc_says_how_to_make_the_anomalies_subtler(
    run: Path, capsys, monkeypatch: pytest.MonkeyPatch
):
    from vadkit.validation import validator
    from vadkit.validation.run import validate_run
    from vadkit.validation.validator import (
        SATURATED,
        PseudoSaturationWarning,
        saturated,
        saturation_advice,
    )

    entries = [
        {"checkpoint": "epoch_0003", "fused": 0.95},
        {"checkpoint": "epoch_0006", "fused": SATURATED},
        {"checkpoint": "last", "fused": 0.998},
    ]
    assert saturated(entries) == ["epoch_0006", "last"]
    advice = saturation_advice(entries)
    assert advice is not None
    assert advice.startswith(f"The fused pseudo-AUROC of epoch_0006, last is at least {SATURATED}")
    assert "(up to 0.998)" in advice and "--param noise.std=4" in advice
    assert saturation_advice(entries[:1]) is None
    # wired: validate warns (one line on the terminal, exit 0) when an entry saturates; a
    # threshold of 0 makes this tiny run's numbers saturated
    with pytest.warns(PseudoSaturationWarning) as caught:
        monkeypatch.setattr(validator, "SATURATED", 0.0)
        result = validate_run(run, windows=16, kinds=["noise"])
    assert str(caught[0].message).startswith(
        f"The fused pseudo-AUROC of {result['entries'][0]['checkpoint']}"
    )
    assert run_cli(["validate", str(run), "--windows", "16", "--kinds", "noise"]) == 0
    err = capsys.readouterr().err
    assert "these pseudo-anomalies are too easy for this model" in err and "Traceback" not in err
    monkeypatch.setattr(validator, "SATURATED", 1.01)  # nothing reaches it: no warning
    with warnings.catch_warnings():
        warnings.simplefilter("error", PseudoSaturationWarning)
        validate_run(run, windows=16, kinds=["noise"])
