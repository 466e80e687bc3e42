"""Config: TOML round trip, resolution order, and validation errors that name the key and the fix."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from vadkit.config import (
    DEFAULTS,
    dumps_toml,
    parse_override,
    parse_value,
    resolve_config,
    validate_config,
)
from vadkit.errors import ConfigError


def test_defaults_resolve_with_every_documented_key() -> None:
    cfg = resolve_config(flags={"data.root": "datasets/ped2"})  # data given: the datasets recipe
    assert cfg["recipe"] == "luss-ae"
    assert set(cfg) == {"recipe", "data", "model", "tasks", "train", "score"}
    for table, keys in DEFAULTS.items():
        if isinstance(keys, dict):
            assert set(keys) <= set(cfg[table]), table
    assert cfg["tasks"]["names"] == ["vcr", "ffp", "prp"]
    # task weights come from each task's default_weight (the paper's 0.6, 0.4, 1.0)
    assert cfg["tasks"]["weights"] == {"vcr": 0.6, "ffp": 0.4, "prp": 1.0}
    assert cfg["train"]["lr"] == 1e-4 and cfg["train"]["batch_size"] == 16
    # constructor defaults are recorded, tuples as lists
    assert cfg["model"]["params"]["channels"] == [96, 128, 256, 256]
    assert cfg["model"]["params"]["in_channels"] == 1
    assert cfg["score"]["alphas"] == {"vcr": 1.0, "ffp": 1.0, "prp": 1.0}


def test_the_framework_defaults_name_no_component_and_the_recipe_fills_them() -> None:
    assert DEFAULTS["model"]["backbone"] == "" and DEFAULTS["tasks"]["names"] == []
    assert DEFAULTS["score"]["error"] == "" and DEFAULTS["score"]["normalizer"] == ""
    synthetic = resolve_config()  # no data: the synthetic scene's recipe
    assert synthetic["recipe"] == "luss-ae-synthetic"
    assert synthetic["data"]["size"] == [64, 64] and synthetic["data"]["clip_length"] == 8
    paper = resolve_config(flags={"recipe": "luss-ae-paper", "data.root": "x"})
    assert paper["tasks"]["params"]["ffp"]["head"] == "paper"
    assert paper["score"]["normalizer"] == "robust" and paper["train"]["precision"] == "fp32"
    # a flag beats the recipe; the file and --set name the recipe too
    assert (
        resolve_config(flags={"recipe": "luss-ae-paper", "score.normalizer": "minmax"})["score"][
            "normalizer"
        ]
        == "minmax"
    )
    assert resolve_config(overrides=["recipe=luss-ae"])["data"]["size"] == [256, 256]
    with pytest.raises(ConfigError, match="Unknown recipe 'luss-ea'") as exc:
        resolve_config(flags={"recipe": "luss-ea"})
    assert "luss-ae" in (exc.value.hint or "")


def test_no_recipe_and_no_component_is_one_clear_error() -> None:
    from vadkit.config import default_config

    with pytest.raises(ConfigError, match=r"'model\.backbone' is not set") as exc:
        validate_config(default_config())
    assert "--recipe" in (exc.value.hint or "") and "--backbone" in (exc.value.hint or "")


def test_resolved_config_round_trips_through_toml() -> None:
    cfg = resolve_config(overrides=['data.root=some dir/ä "q"', "train.lr=2.5e-5"])
    text = dumps_toml(cfg)
    back = tomllib.loads(text)
    assert back == cfg
    assert validate_config(back) == cfg  # validation of a resolved config changes nothing
    assert "[tasks.params.prp]" in text and "[model.params]" in text


def test_a_path_with_an_emoji_round_trips_through_a_run_folder(tmp_path: Path) -> None:
    """Characters outside the Basic Multilingual Plane are written as they are: a JSON-style
    escape would be a surrogate pair, which TOML does not allow (the file would not read)."""
    from vadkit.runs.folder import read_config, write_config

    root = 'datasets/🎥 clips/ünïcode "quoted" back\\slash\ttab'
    cfg = resolve_config(flags={"data.root": root, "recipe": "luss-ae"})
    text = dumps_toml(cfg)
    assert "🎥" in text and "\\ud83c" not in text.lower()
    assert tomllib.loads(text) == cfg
    write_config(tmp_path / "run", cfg)
    assert read_config(tmp_path / "run")["data"]["root"] == root


def test_toml_leaves_none_out_and_names_a_value_it_cannot_write() -> None:
    from vadkit.config.toml import toml_value

    config = {
        "top": None,
        "a": {"x": None, "y": 1, "inner": {"z": None, "w": [1, 2.5, "s", True]}},
        "rows": [{"k": 1, "n": None}],
        "weird key": {"é": -1e-5},
    }
    text = dumps_toml(config)
    assert 'w = [1, 2.5, "s", true]' in text  # arrays on one line
    assert tomllib.loads(text) == {
        "a": {"y": 1, "inner": {"w": [1, 2.5, "s", True]}},
        "rows": [{"k": 1}],
        "weird key": {"é": -1e-5},
    }
    with pytest.raises(ConfigError, match=r"a\.b = PosixPath\('x'\) cannot be written to TOML"):
        dumps_toml({"a": {"b": Path("x")}})
    with pytest.raises(ConfigError, match=r"a\.b = None cannot be written"):
        dumps_toml({"a": {"b": [1, None]}})  # a list cannot leave an item out
    assert [toml_value(v) for v in ([64, 64], "bpe", 1e-5, True, {"a": 1, "b c": [1]})] == [
        "[64, 64]",
        '"bpe"',
        "1e-05",
        "true",
        '{a = 1, "b c" = [1]}',
    ]


def test_resolution_order_defaults_file_set_flags(tmp_path: Path) -> None:
    file = tmp_path / "run.toml"
    file.write_text(
        '[train]\nbatch_size = 8\nepochs = 3\nlr = 0.001\n[tasks]\nnames = ["vcr", "prp"]\n'
        "[tasks.weights]\nprp = 0.5\n"
    )
    cfg = resolve_config(
        config_file=file,
        overrides=["train.epochs=5", "train.lr=0.002"],
        flags={"train.epochs": 7, "score.error": None},
    )
    assert cfg["train"]["batch_size"] == 8  # file over defaults
    assert cfg["train"]["lr"] == 0.002  # --set over file
    assert cfg["train"]["epochs"] == 7  # flag over --set
    assert cfg["score"]["error"] == "bpe"  # a None flag was not given
    assert cfg["tasks"]["names"] == ["vcr", "prp"]
    assert cfg["tasks"]["weights"] == {"vcr": 0.6, "prp": 0.5}


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("32", 32),
        ("1e-4", 1e-4),
        ("true", True),
        ("[64, 64]", [64, 64]),
        ('"cae3d"', "cae3d"),
        ("cae3d", "cae3d"),  # not TOML: kept as text
        ("vcr,ffp", "vcr,ffp"),
        ("{a = 1}", {"a": 1}),
    ],
)
def test_parse_value(text: str, value: object) -> None:
    assert parse_value(text) == value


def test_parse_override_and_set_forms() -> None:
    assert parse_override("train.batch_size=32") == ("train.batch_size", 32)
    assert parse_override(" data.root = /x=y ") == ("data.root", "/x=y")
    cfg = resolve_config(
        overrides=["tasks.names=vcr,ffp", "data.size=64", "model.params.channels=[8,8,16,16]"]
    )
    assert cfg["tasks"]["names"] == ["vcr", "ffp"]
    assert cfg["data"]["size"] == [64, 64]
    assert cfg["model"]["params"]["channels"] == [8, 8, 16, 16]
    for bad in ("train.batch_size", "=3", "train..lr=1"):
        with pytest.raises(ConfigError, match="key=value"):
            parse_override(bad)


def test_data_color_sets_backbone_channels() -> None:
    cfg = resolve_config(overrides=["data.color=rgb"])
    assert cfg["model"]["params"]["in_channels"] == 3


def _error(**kwargs: object) -> ConfigError:
    with pytest.raises(ConfigError) as info:
        resolve_config(**kwargs)  # type: ignore[arg-type]
    assert info.value.hint, "every config error says how to fix it"
    return info.value


def test_unknown_keys_are_named_with_a_suggestion() -> None:
    err = _error(overrides=["train.epoch=3"])
    assert "'train.epoch'" in err.message and "Did you mean 'epochs'" in str(err.hint)
    err = _error(overrides=["trian.epochs=3"])
    assert "'trian'" in err.message and "'train'" in str(err.hint)
    err = _error(overrides=["train.epochs.max=3"])
    assert "train.epochs" in err.message


def test_wrong_types_and_ranges_name_the_key() -> None:
    err = _error(overrides=["train.batch_size=big"])
    assert "'train.batch_size'" in err.message and "integer" in err.message
    assert "--set train.batch_size=16" in str(err.hint)
    assert "'train.lr'" in _error(overrides=["train.lr=0"]).message
    assert "'train.channels_last'" in _error(overrides=["train.channels_last=1"]).message
    assert "'train.epochs'" in _error(overrides=["train.epochs=0"]).message
    assert "'data.size'" in _error(overrides=["data.size=[64]"]).message
    assert "'data.color'" in _error(overrides=["data.color=grey"]).message
    assert "'train.precision'" in _error(overrides=["train.precision=fp8"]).message
    assert "'score.frames'" in _error(overrides=["score.frames=some"]).message
    assert "'tasks.names'" in _error(overrides=["tasks.names=[]"]).message
    assert "more than once" in _error(overrides=['tasks.names=["vcr","vcr"]']).message
    assert "'tasks.weights.vcr'" in _error(overrides=["tasks.weights.vcr=-1"]).message


def test_unknown_component_names_list_the_available_ones() -> None:
    err = _error(flags={"model.backbone": "cae"})
    assert err.message.startswith("model.backbone: Unknown backbone 'cae'")
    assert "Did you mean 'cae3d'" in str(err.hint) and "Available backbones" in str(err.hint)
    err = _error(flags={"tasks.names": ["vcx", "ffp"]})
    assert "tasks.names" in err.message and "'vcx'" in err.message
    assert "Did you mean 'vcr'" in str(err.hint)
    assert "score.error" in _error(flags={"score.error": "bep"}).message
    assert "score.normalizer" in _error(flags={"score.normalizer": "z"}).message
    assert "tasks.weights.xyz" in _error(overrides=["tasks.weights.xyz=1"]).message


def test_component_params_are_checked_against_the_constructor() -> None:
    err = _error(overrides=["model.params.chanels=[8,8,16,16]"])
    assert "'model.params.chanels'" in err.message
    assert "Did you mean 'channels'" in str(err.hint)
    assert "vadkit describe backbones cae3d" in str(err.hint)
    err = _error(overrides=["model.params.channels=wide"])
    assert "model.params.channels" in err.message and "type" in err.message
    err = _error(overrides=["tasks.params.ffp.heads=1"])
    assert "'tasks.params.ffp.heads'" in err.message and "head" in str(err.hint)
    err = _error(overrides=["tasks.params.prp.rates=2"])
    assert "tasks.params.prp.rates" in err.message
    # params for a task that is not trained are dropped; for an unknown task they are an error
    cfg = resolve_config(overrides=["tasks.names=vcr", "tasks.params.ffp.head=paper"])
    assert set(cfg["tasks"]["params"]) == {"vcr"}
    assert "tasks.params.ffx" in _error(overrides=["tasks.params.ffx.head=1"]).message


def test_error_and_normalizer_params_are_checked_completed_and_recorded(tmp_path: Path) -> None:
    cfg = resolve_config(
        overrides=[
            "score.error_params.bpe.sigma=2",  # an int for a float: recorded as the float
            "score.normalizer_params.robust.quantile_range=[25,75]",
        ]
    )
    score = cfg["score"]
    assert score["error_params"]["bpe"] == {
        "stride": 2,
        "sigma": 2.0,
        "kernel_size": 5,
        "normalize": True,
    }
    assert score["normalizer_params"]["robust"] == {"quantile_range": [25.0, 75.0]}
    # the run's own error measure and normalizer are recorded with their defaults too
    assert score["error"] == "bpe" and score["normalizer"] == "minmax"
    assert score["normalizer_params"]["minmax"] == {}
    untouched = resolve_config(flags={"score.error": "psnr"})["score"]["error_params"]
    assert untouched == {"psnr": {"data_range": 2.0}}
    # the config.toml a run writes holds them, and reads back to the same settings
    (tmp_path / "config.toml").write_text(dumps_toml(cfg))
    again = resolve_config(config_file=tmp_path / "config.toml")
    assert again["score"]["error_params"] == score["error_params"]
    assert again["score"]["normalizer_params"] == score["normalizer_params"]


def test_error_and_normalizer_params_are_validated_like_the_others() -> None:
    err = _error(overrides=["score.error_params.bpe.sigm=2"])
    assert "'score.error_params.bpe.sigm'" in err.message
    assert "Did you mean 'sigma'" in str(err.hint)
    assert "vadkit describe errors bpe" in str(err.hint)
    err = _error(overrides=['score.error_params.bpe.sigma="wide"'])
    assert "score.error_params.bpe.sigma" in err.message and "float" in err.message
    err = _error(overrides=["score.normalizer_params.robust.quantile_range=5"])
    assert "score.normalizer_params.robust.quantile_range" in err.message
    err = _error(overrides=["score.error_params.bpx.sigma=2"])
    assert "score.error_params.bpx" in err.message and "Did you mean 'bpe'" in str(err.hint)
    err = _error(overrides=["score.normalizer_params.robust=3"])
    assert "'score.normalizer_params.robust' must be a table" in err.message
    assert "--set score.normalizer_params.robust.PARAM=VALUE" in str(err.hint)
    err = _error(overrides=["score.error_params=3"])
    assert "'score.error_params' must be a table" in err.message
    # a value of the right type that the constructor refuses is caught before anything runs
    err = _error(overrides=["score.error_params.bpe.kernel_size=4"])
    assert err.message.startswith("score.error_params.bpe: BPE: kernel_size")
    err = _error(overrides=["score.normalizer_params.robust.quantile_range=[90,10]"])
    assert err.message.startswith("score.normalizer_params.robust: Robust: quantile_range")


def test_config_file_errors_name_the_file(tmp_path: Path) -> None:
    missing = tmp_path / "nope.toml"
    err = _error(config_file=missing)
    assert str(missing) in err.message
    bad = tmp_path / "bad.toml"
    bad.write_text("[train]\nepochs = \n")
    err = _error(config_file=bad)
    assert str(bad) in err.message and "line 2" in err.message


def test_another_backbone_does_not_inherit_the_recipe_backbones_params() -> None:
    from vadkit.plugins import get_host
    from vadkit.testing import TinyBackbone

    recipe = resolve_config()  # the synthetic recipe sets cae3d's channels
    assert recipe["model"]["params"]["channels"] == [16, 32, 64, 64]
    registry = get_host().registry("backbones")
    registry.add("tiny_test", TinyBackbone, plugin="tests")
    try:
        cfg = resolve_config(flags={"model.backbone": "tiny_test"})
    finally:
        registry._entries.pop("tiny_test")
    assert cfg["model"]["params"] == {"in_channels": 1, "width": 4}
    assert cfg["data"]["size"] == [64, 64]  # the rest of the recipe still applies


def test_a_component_without_a_constructor_takes_no_parameter() -> None:
    # vcr inherits nn.Module's (*args, **kwargs): that is not a schema that accepts anything
    with pytest.raises(ConfigError, match=r"Unknown parameter 'tasks\.params\.vcr\.typo'"):
        resolve_config(overrides=["tasks.params.vcr.typo=1"])
