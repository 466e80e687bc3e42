"""No decision on test labels: the validation split, the weights `score` picks, the precision it
scores in. Training never opens a label file; what `score` chooses is the same whatever the test
labels say (it stores them for `evaluate`, the one command that reads them)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from conftest import quiet_machine

from vadkit.config import resolve_config
from vadkit.engine import runs
from vadkit.engine.validation import validation_split
from vadkit.errors import ConfigError, DataError

TINY = [
    "model.params.channels=[8,8,16,16]",
    "data.size=[32,32]",
    "data.clip_length=8",
    "data.stride=4",
    "data.val_videos=1",
    "train.batch_size=4",
    "train.epochs=2",
    "train.ema=true",
    "train.ema_decay=0.5",
    "score.average_last=2",
    "score.batch_size=16",
    "score.agreement_windows=16",
]


@pytest.fixture(scope="module", autouse=True)
def _machine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    with quiet_machine(tmp_path_factory.mktemp("cache")):
        yield


def _forbid_labels(mp: pytest.MonkeyPatch) -> None:
    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("a label file was read")

    import vadkit.data.labels
    import vadkit.data.video

    mp.setattr(vadkit.data.labels, "read_labels", refuse)
    mp.setattr(vadkit.data.video, "read_labels", refuse)


@pytest.fixture(scope="module")
def run(tiny_scene: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny run with EMA and one held-out training video, trained with label reading refused."""
    from vadkit.engine.train import Trainer

    out = tmp_path_factory.mktemp("run") / "run"
    config = resolve_config(overrides=TINY, flags={"data.root": str(tiny_scene)})
    with pytest.MonkeyPatch.context() as mp:
        _forbid_labels(mp)
        trainer = Trainer(config, out, handle_signals=False)
        trainer.fit()
    trained = {v.name for v in trainer.windows.videos}
    (out / "trained_on.json").write_text(json.dumps(sorted(trained)))
    return out


def test_validation_split_is_drawn_from_the_seed_and_never_trained_on(run: Path):
    names = [f"v{i}" for i in range(10)]
    a = validation_split(names, 3, seed=7)
    assert a == validation_split(names, 3, seed=7)
    assert len(a[1]) == 3 and sorted(a[0] + a[1]) == sorted(names)
    assert a[1] != validation_split(names, 3, seed=8)[1]
    assert validation_split(names, 0, seed=7) == (names, [])
    with pytest.raises(DataError, match="hold out all"):
        validation_split(names, 10, seed=0)
    from vadkit.engine.validation import training_videos

    trained, held = training_videos(runs.read_config(run))
    assert len(held) == 1
    assert json.loads((run / "trained_on.json").read_text()) == sorted(v.name for v in trained)
    assert held[0].name not in {v.name for v in trained}


def _score(run: Path, name: str, **kwargs: object) -> dict:
    from vadkit.engine.score import score_run

    score_run(run, name=name, **kwargs)
    return json.loads((run / "scores" / name / "set.json").read_text())


def test_weights_auto_picks_the_lowest_validation_loss_and_records_it(run: Path):
    record = _score(run, "auto", weights="auto")
    used = record["weights"]
    choice = used["choice"]
    assert set(choice["candidates"]) == {"last", "ema", "average_last_2"}
    losses = {k: v["losses"]["loss"] for k, v in choice["candidates"].items()}
    assert choice["chosen"] == min(losses, key=losses.__getitem__)
    assert "held-out normal training videos" in choice["criterion"]
    assert len(choice["held_out"]) == 1 and choice["windows"] > 0
    # the chosen weights are what was scored: its loss, recomputed, is the recorded one
    from vadkit.data import TrainWindows
    from vadkit.engine.validation import training_videos, validation_loss

    config = runs.read_config(run)
    if choice["chosen"] == "average_last_2":
        from vadkit.engine.average import averaged_model

        _, model = runs.load_model(run)
        averaged_model(run, config, model, 2, batch_size=16)
    else:
        _, model = runs.load_model(run, checkpoint=choice["chosen"])
    _, held = training_videos(config)
    windows = TrainWindows(held, clip_length=8, stride=4, tasks=model.task_map, seed=0)
    again = validation_loss(model, windows, config["tasks"]["weights"], 16)
    assert again["loss"] == pytest.approx(losses[choice["chosen"]], rel=1e-6)


def test_default_weights_are_the_ema_when_the_run_kept_one(run: Path):
    from vadkit.engine.checkpoints import weights_digest

    default = _score(run, "default")
    assert default["weights"]["checkpoint"] == "ema"
    assert default["weights"]["sha256"] == weights_digest(run / "checkpoints" / "ema.safetensors")
    last = _score(run, "last", weights="last")
    assert last["weights"]["checkpoint"] == "last"
    with pytest.raises(ConfigError, match="--weights ema chooses the weights itself"):
        _score(run, "bad", weights="ema", checkpoint="1")


def test_what_score_chooses_does_not_depend_on_the_test_labels(run: Path):
    """Scoring with the real labels and with random ones chooses the same weights and precision
    and gives the same scores: only the labels stored for `evaluate` differ."""
    from vadkit.data import labels as labels_module

    real = _score(run, "with_labels", weights="auto", precision="auto")
    original = labels_module.read_labels

    def scrambled(*args: object, **kwargs: object) -> dict[str, np.ndarray]:
        found = original(*args, **kwargs)  # type: ignore[arg-type]
        rng = np.random.default_rng(1)
        return {k: rng.integers(0, 2, size=len(v)).astype(np.uint8) for k, v in found.items()}

    with pytest.MonkeyPatch.context() as mp:
        import vadkit.data.video

        mp.setattr(vadkit.data.video, "read_labels", scrambled)
        fake = _score(run, "random_labels", weights="auto", precision="auto")
    for key in ("weights", "precision_choice", "runtime"):
        assert real[key] == fake[key], key
    assert real["precision_choice"]["criterion"].startswith("Spearman")
    from vadkit.engine.scoreset import load_scores

    a, b = load_scores(run, "with_labels"), load_scores(run, "random_labels")
    labels_differ = False
    for va, vb in zip(a.videos, b.videos, strict=True):
        for task, keys in va.raw.items():
            for key, values in keys.items():
                assert np.array_equal(values, vb.raw[task][key])
        labels_differ |= not np.array_equal(va.labels, vb.labels)
    assert labels_differ  # the random labels did reach the stored set


def test_precision_falls_back_to_fp32_when_ranks_disagree(run: Path):
    from vadkit.api import create_error
    from vadkit.engine.score import make_runtime
    from vadkit.engine.validation import choose_precision

    config = runs.read_config(run)
    _, model = runs.load_model(run)
    bf16 = make_runtime("cpu", "bf16")
    errors = {"bpe": create_error("bpe")}
    chosen, record = choose_precision(model, config, bf16, errors)
    values = [a["spearman"] for a in record["agreement"].values() if a["spearman"] is not None]
    assert 0 < record["windows"] <= 16 + 15 and values  # whole batches up to 16 windows
    assert chosen.precision == ("bf16" if min(values) >= 0.99 else "fp32")
    config["score"]["agreement_min"] = 1.0 + 1e-9  # no real agreement reaches it
    assert choose_precision(model, config, bf16, errors)[0].precision == "fp32"


def test_the_rank_rule_computed_by_hand():
    """rank_agreement, the rule of score.precision = "auto" and of int8 export: Spearman's rho
    = 1 - 6 sum(d^2) / (n (n^2 - 1)); one swapped pair of 4 gives 1 - 6 * 2 / 60 = 0.8."""
    from vadkit.engine.validation import rank_agreement

    ref = {"a": np.array([1.0, 2.0, 3.0, 4.0]), "flat": np.ones(4), "b": np.arange(4.0)}
    swapped = {**ref, "a": np.array([10, 20, 40, 30.0])}
    ok, agreement = rank_agreement(ref, swapped, 0.79)
    assert ok and agreement["a"]["spearman"] == pytest.approx(0.8)
    assert agreement["b"]["spearman"] == pytest.approx(1.0)
    assert agreement["flat"]["spearman"] is None  # constant reference: no evidence either way
    assert not rank_agreement(ref, swapped, 0.81)[0]
    assert rank_agreement(ref, ref, 1.0)[0]
    # a candidate that lost every ranking (constant) fails, instead of a NaN that min() skips
    ok, agreement = rank_agreement(ref, {**ref, "b": np.full(4, 0.5)}, 0.5)
    assert not ok and agreement["b"] == {"spearman": 0.0, "kendall": 0.0}
