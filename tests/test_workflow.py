"""The top-level Python API (train -> Run -> score / evaluate, load -> score_frames) and recipes."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import tokenize
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from conftest import quiet_machine, run_cli

import vadkit
from vadkit.config import resolve_config
from vadkit.errors import ConfigError, RegistryError
from vadkit.registry import Registry

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE_SRC = ROOT / "examples" / "vadkit-example-plugin" / "src"


@pytest.fixture(scope="module", autouse=True)
def _env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    with quiet_machine(tmp_path_factory.mktemp("cache")):
        yield


def test_train_returns_a_run_with_typed_settings(tiny_run: vadkit.Run) -> None:
    assert isinstance(tiny_run, vadkit.Run)
    assert (tiny_run.path / "checkpoints" / "last.safetensors").is_file()
    settings = tiny_run.settings
    assert isinstance(settings, vadkit.Settings)
    assert settings.recipe == "luss-ae" and settings.data.hw == (32, 32)
    assert settings.clip_shape == (1, 8, 32, 32)
    assert settings.score.presets["ped2"] == {"vcr": 0.1, "ffp": 0.8, "prp": 1.0}


def test_api_and_cli_scores_are_bit_equal_in_fp32(tiny_run: vadkit.Run, tiny_scene: Path) -> None:
    assert (
        run_cli(["score", str(tiny_run.path), "--precision", "fp32", "--quiet", "--name", "cli"])
        == 0
    )
    cli = tiny_run.scores("cli")
    api = tiny_run.score(precision="fp32", name="api")
    assert [v.name for v in api.videos] == [v.name for v in cli.videos]
    detector = vadkit.load(tiny_run.path, precision="fp32")
    from vadkit.data import open_videos

    videos = open_videos(tiny_scene, "testing", size=(32, 32), color="gray")
    for video, from_cli, from_api in zip(videos, cli.videos, api.videos, strict=True):
        frames = video.frames(np.arange(video.num_frames))
        in_memory = detector.score_frames(frames, name=video.name)
        np.testing.assert_array_equal(in_memory.frames, from_cli.frames)
        for task, keys in from_cli.raw.items():
            assert set(keys) == set(in_memory.raw[task]) == set(from_api.raw[task])
            for key, values in keys.items():
                assert np.array_equal(values, in_memory.raw[task][key]), (video.name, task, key)
                assert np.array_equal(values, from_api.raw[task][key]), (video.name, task, key)


def test_score_frames_resizes_native_frames_and_fuses(tiny_run: vadkit.Run) -> None:
    detector = tiny_run.load(precision="fp32")
    rng = np.random.default_rng(0)
    native = rng.integers(0, 256, size=(12, 48, 64, 3), dtype=np.uint8)  # RGB, another size
    scores = detector.score_frames(native)
    assert scores.frames.tolist() == list(range(8, 12))  # the protocol: frames T..N-1
    # a similarity is negated by the one scoring function: PSNR grows with abnormality
    mse, psnr = scores.stream("vcr", "mse"), scores.stream("vcr", "psnr")
    assert (psnr < 0).all() and np.corrcoef(mse, psnr)[0, 1] > 0
    fused = detector.fused(scores, error="mse", normalizer="minmax", alphas="ped2")
    by_hand = sum(
        w * (s - s.min()) / (s.max() - s.min())
        for w, s in [
            (0.1, scores.stream("vcr", "mse")),
            (0.8, scores.stream("ffp", "mse")),
            (1.0, scores.stream("prp", "score")),
        ]
    )
    np.testing.assert_allclose(fused, by_hand, rtol=1e-12)
    with pytest.raises(vadkit.DataError, match="fewer than the clip_length"):
        detector.score_frames(native[:8])
    with pytest.raises(vadkit.DataError, match="uint8"):
        detector.score_frames(native.astype(np.float32))


def test_evaluate_returns_metrics_and_protocol(tiny_run: vadkit.Run) -> None:
    tiny_run.score(name="testing")
    result = tiny_run.evaluate(alphas="ped2", plots=False)
    assert set(result.results) == {"vcr", "ffp", "prp", "fused"}
    assert 0.0 <= result.fused.micro_auroc <= 1.0
    assert result.protocol.alphas == {"vcr": 0.1, "ffp": 0.8, "prp": 1.0}
    saved = json.loads((tiny_run.path / "evaluation.json").read_text())
    assert saved == result.to_json()  # what was written, as JSON
    # the dict access of vadkit 0.1 still reads it, deprecated until vadkit 0.3.0
    with pytest.warns(DeprecationWarning, match=r"Evaluation\['results'\].*0\.3\.0"):
        assert result["results"] == saved["results"]


def test_python_and_cli_refuse_the_same_arguments_with_the_same_message(
    tiny_run: vadkit.Run, tiny_scene: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(ConfigError) as exc:
        tiny_run.score(checkpoint="1", average_last=2)
    assert "not both" in exc.value.message
    code = run_cli(["score", str(tiny_run.path), "--checkpoint", "1", "--average-last", "2"])
    assert code == 2
    assert exc.value.message in " ".join(capsys.readouterr().err.split())
    with pytest.raises(ConfigError, match="either --data ROOT or video files"):
        tiny_run.score(data=tiny_scene, videos=["a.mp4"])


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["--weights", "ema"], "has no moving average of its weights (ema.safetensors)"),
        (["--weights", "auto"], "but this run held out none (data.val_videos = 0)"),
        (["--weights", "last", "--checkpoint", "99"], "epoch_0099.safetensors"),
        (["--weights", "best"], "--weights 'best' is not one of"),
    ],
)
def test_weights_the_run_cannot_give_are_one_message_and_exit_2(
    tiny_run: vadkit.Run, args: list[str], says: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """The run kept no moving average and held out no validation video: score, watch, export
    and vadkit.load (one resolution, `load_scored_model`) refuse alike, naming the value or
    file, before any work."""
    from test_evaluate_cli import error_text

    def squeezed(text: str) -> str:  # a long path may be wrapped at any character
        return "".join(text.split())

    assert run_cli(["score", str(tiny_run.path), *args, "--quiet"]) == 2
    message = squeezed(error_text(capsys))  # error_text asserts that no traceback was printed
    assert squeezed(says) in message
    for command in (["watch", str(tiny_run.path), "--calibrate"], ["export", str(tiny_run.path)]):
        assert run_cli([*command, *args, "--quiet"]) == 2, command
        assert squeezed(says) in squeezed(error_text(capsys)), command
    keys = dict(zip(args[::2], args[1::2], strict=True))
    with pytest.raises(vadkit.VadkitError) as exc:
        vadkit.load(
            tiny_run.path, weights=keys["--weights"], checkpoint=keys.get("--checkpoint", "last")
        )
    assert squeezed(exc.value.message) in message


def test_recipes_are_listed_described_and_named_by_the_run(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert vadkit.list_recipes("luss-*") == ["luss-ae", "luss-ae-paper", "luss-ae-synthetic"]
    assert run_cli(["describe", "recipes", "luss-ae-paper", "--json"]) in (0,)
    described = json.loads(capsys.readouterr().out)
    assert described["plugin"] == "luss" and "paper" in described["summary"]
    assert run_cli(["describe", "recipes", "luss-ae-paper"]) == 0
    out = capsys.readouterr().out
    assert 'head = "paper"' in out and 'normalizer = "robust"' in out
    assert resolve_config(flags={"recipe": "luss-ae-paper"})["recipe"] == "luss-ae-paper"


def test_recipe_names_may_hold_hyphens_other_names_may_not() -> None:
    recipes = Registry("recipes", vadkit.registry.RECIPE_NAME_RULE)
    recipes.add("my-method-paper", lambda: None, plugin="p")
    for bad in ("-x", "x--y", "x-", "My-x"):
        with pytest.raises(RegistryError, match="not a valid name"):
            recipes.add(bad, lambda: None, plugin="p")
    with pytest.raises(RegistryError, match="not a valid name"):
        Registry("errors").add("my-err", lambda: None, plugin="p")


def _code_tokens_naming_the_builtin_method(path: Path) -> list[str]:
    """Strings, names and comments of ``path`` (docstrings and ``#:`` docs left out) that name a
    LUSS-AE component or the built-in plugin."""
    import ast
    import re

    names = re.compile(r"\b(cae3d|vcr|ffp|prp|bpe|pse|psnr|minmax|robust|luss|vadkit_luss)\b", re.I)
    source = path.read_text(encoding="utf-8")
    doc_lines: set[int] = set()
    for node in ast.walk(ast.parse(source)):
        is_doc = isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant)
        if is_doc and isinstance(node.value.value, str):  # docstrings, attribute docstrings
            doc_lines.update(range(node.lineno, (node.end_lineno or node.lineno) + 1))
    hits = []
    for tok in tokenize.generate_tokens(io.StringIO(source).readline):
        if tok.type not in (tokenize.STRING, tokenize.NAME, tokenize.COMMENT):
            continue
        if tok.start[0] in doc_lines or tok.string.startswith("#:"):
            continue
        if names.search(tok.string):
            hits.append(f"{path.relative_to(ROOT)}:{tok.start[0]}: {tok.string[:60]}")
    return hits


def test_the_core_names_no_luss_ae_component_outside_docstrings() -> None:
    hits = [
        h
        for p in sorted((ROOT / "vadkit").rglob("*.py"))
        for h in _code_tokens_naming_the_builtin_method(p)
    ]
    assert not hits, "the core names the built-in method:\n" + "\n".join(hits)


def test_the_name_check_sees_a_component_name_in_code(tmp_path: Path) -> None:
    bad = ROOT / "vadkit" / "_probe_for_test.py"
    try:
        bad.write_text('"""Docstrings may say cae3d."""\n\nDEFAULT = "bpe"\n', encoding="utf-8")
        hits = _code_tokens_naming_the_builtin_method(bad)
    finally:
        bad.unlink()
    assert len(hits) == 1 and '"bpe"' in hits[0]


@pytest.mark.slow
def test_a_third_party_recipe_trains_scores_and_evaluates_with_the_builtin_blocked(
    tiny_scene: Path, tmp_path: Path
) -> None:
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(EXAMPLE_SRC), os.environ.get("PYTHONPATH", "")]),
        "VADKIT_BLOCK_PLUGINS": "luss,mae",  # both built-in methods
        "VADKIT_PLUGINS": "vadkit_example",
    }
    run = tmp_path / "run"

    def vadkit_run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "vadkit", *args],
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
        )

    listed = vadkit_run("list", "recipes", "--json")
    assert listed.returncode == 0, listed.stderr
    assert [r["name"] for r in json.loads(listed.stdout)] == ["example-tiny"]
    train = vadkit_run(
        "train", "--recipe", "example-tiny", "--data", str(tiny_scene), "--out", str(run), "-q"
    )
    assert train.returncode == 0, train.stderr
    assert vadkit_run("score", str(run), "-q").returncode == 0
    evaluated = vadkit_run("evaluate", str(run), "--json")
    assert evaluated.returncode == 0, evaluated.stderr
    result = json.loads(evaluated.stdout)
    assert set(result["results"]) == {"motion", "arrow", "fused"}  # the classifier scores too
    assert result["protocol"]["error"] == "mae" and result["protocol"]["normalizer"] == "zscore"
    versions = json.loads((run / "versions.json").read_text())
    assert "vadkit_example" in versions["plugins"]
    assert "luss" not in versions["plugins"] and "mae" not in versions["plugins"]
    # without a recipe and without the built-in plugin, nothing names a backbone: one clear line
    bare = vadkit_run("train", "--out", str(tmp_path / "bare"), "-q")
    assert bare.returncode == 2 and "model.backbone" in bare.stderr
    assert "Traceback" not in bare.stderr
