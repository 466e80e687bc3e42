"""``vadkit list``, ``describe``, ``plugins`` and ``--version`` from the command line."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from vadkit import __version__, plugins
from vadkit.cli import main


@pytest.fixture(autouse=True)
def fresh_plugins():
    plugins.reset()
    yield
    plugins.reset()


def run(capsys, *args: str) -> tuple[int, str, str]:
    try:
        main(list(args))
        code = 0
    except SystemExit as exc:
        code = int(exc.code or 0)
    out = capsys.readouterr()
    return code, out.out, out.err


def test_list_errors_shows_names_summaries_plugin(capsys):
    code, out, _ = run(capsys, "list", "errors", "--json")
    assert code == 0
    rows = {r["name"]: r for r in json.loads(out)}
    assert {"mse", "psnr", "pse", "bpe"} <= set(rows)
    for name in ("mse", "psnr", "pse", "bpe"):
        assert rows[name]["plugin"] == "luss"
        assert rows[name]["summary"], f"{name} has no summary"


def test_list_table_and_pattern(capsys):
    code, out, _ = run(capsys, "list", "errors", "p*")
    assert code == 0
    assert "pse" in out and "psnr" in out and "bpe" not in out


def test_list_unknown_kind_exit_2(capsys):
    code, _, err = run(capsys, "list", "widgets")
    assert code == 2
    assert "Unknown component kind 'widgets'" in err
    assert "Traceback" not in err


def test_describe_shows_parameters(capsys):
    code, out, _ = run(capsys, "describe", "backbones", "cae3d", "--json")
    assert code == 0
    info = json.loads(out)
    names = {p["name"]: p for p in info["parameters"]}
    assert "in_channels" in names and names["in_channels"]["default"] == "1"
    assert info["plugin"] == "luss"


def test_describe_says_how_to_set_the_parameters_for_a_run(capsys):
    code, out, _ = run(capsys, "describe", "errors", "bpe")
    assert code == 0
    flat = " ".join(out.split())
    assert "vadkit train --set score.error_params.bpe.stride=2" in flat
    assert "[score.error_params.bpe] table" in flat
    code, out, _ = run(capsys, "describe", "normalizers", "robust")
    flat = " ".join(out.split())
    assert "--set 'score.normalizer_params.robust.quantile_range=[1.0, 99.0]'" in flat
    code, out, _ = run(capsys, "describe", "errors", "mse")
    assert "No parameters." in out and "--set" not in out
    for kind, name, key in [
        ("errors", "bpe", "score.error_params.bpe"),
        ("normalizers", "robust", "score.normalizer_params.robust"),
        ("tasks", "ffp", "tasks.params.ffp"),
        ("backbones", "cae3d", "model.params"),
    ]:
        code, out, _ = run(capsys, "describe", kind, name, "--json")
        assert json.loads(out)["config_key"] == key


def test_plain_text_renders_rest_markup():
    from vadkit.cli.components import plain_text

    doc = (
        "Scores under :data:`SCORE_KEY`, see :class:`~vadkit.components.Features` and\n"
        ":func:`vadkit.testing.check_task`, :py:meth:`build` and :class:`the model "
        "<vadkit.model.VADModel>`.\n"
        "\n"
        'Set ``head`` to ``"paper"`` (``x *\n2``). Example::\n'
        "\n"
        "    check_task('x')\n"
        "\n"
        "A block follows ::\n"
        "\n"
        "    y = 1\n"
        "::\n"
        "\n"
        "    z = 2"
    )
    assert plain_text(doc) == (
        "Scores under SCORE_KEY, see Features and\n"
        "vadkit.testing.check_task, build and the model.\n"
        "\n"
        'Set head to "paper" (x *\n2). Example:\n'
        "\n"
        "    check_task('x')\n"
        "\n"
        "A block follows\n"
        "\n"
        "    y = 1\n"
        "\n"
        "    z = 2"
    )


def test_describe_prints_plain_text(capsys):
    code, out, _ = run(capsys, "describe", "tasks", "prp")
    assert code == 0
    assert "``" not in out and ":class:" not in out and ":meth:" not in out
    flat = " ".join(out.split())
    assert "sized in build from the backbone's latent shape" in flat
    assert "under SCORE_KEY" in flat
    code, out, _ = run(capsys, "describe", "tasks", "prp", "--json")
    assert code == 0
    doc = json.loads(out)["doc"]
    assert "``" not in doc and ":meth:" not in doc and "under SCORE_KEY" in doc


def test_describe_unknown_name_suggests(capsys):
    code, _, err = run(capsys, "describe", "errors", "bpee")
    assert code == 2
    assert "Did you mean 'bpe'?" in err
    assert "Traceback" not in err


def test_plugins_json(capsys):
    code, out, _ = run(capsys, "plugins", "--json")
    assert code == 0
    info = {p["name"]: p for p in json.loads(out)}
    assert info["luss"]["version"] == __version__
    assert set(info["luss"]["components"]["errors"]) == {"mse", "psnr", "pse", "bpe"}


def test_block_and_plugin_options(capsys, tmp_path):
    plug = tmp_path / "extra_one.py"
    plug.write_text(
        "import vadkit\n"
        "class Half:\n"
        "    '''Half of everything.'''\n"
        "@vadkit.hookimpl\n"
        "def register_normalizers(register):\n"
        "    register('half', Half)\n"
    )
    code, out, _ = run(
        capsys, "--plugin", str(plug), "--block", "luss", "list", "normalizers", "--json"
    )
    assert code == 0
    names = {r["name"]: r["plugin"] for r in json.loads(out)}
    assert names == {"half": "extra_one"}


def test_version_subprocess():
    out = subprocess.run(
        [sys.executable, "-m", "vadkit", "--version"], capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == f"vadkit {__version__}"


def test_usage_error_exit_2_no_traceback():
    out = subprocess.run(
        [sys.executable, "-m", "vadkit", "describe", "errors", "nope"],
        capture_output=True,
        text=True,
    )
    assert out.returncode == 2
    assert "Traceback" not in out.stderr and "Unknown error 'nope'" in out.stderr


def test_plugin_can_add_a_command(tmp_path):
    plug = tmp_path / "greeter.py"
    plug.write_text(
        "import vadkit\n"
        "@vadkit.hookimpl\n"
        "def register_commands(app):\n"
        "    @app.command('hello')\n"
        "    def hello(name: str = 'world'):\n"
        "        '''Say hello.'''\n"
        "        print(f'hello {name} from a plugin')\n"
    )
    out = subprocess.run(
        [sys.executable, "-m", "vadkit", "--plugin", str(plug), "hello", "--name", "ped2"],
        capture_output=True,
        text=True,
    )
    assert out.returncode == 0, out.stderr
    assert "hello ped2 from a plugin" in out.stdout


def test_describe_recipe_shows_its_published_results(capsys):
    code, out, _ = run(capsys, "describe", "recipes", "luss-ae")
    assert code == 0
    assert "published results" in out and "0.9852" in out and "Table 1" in out
    code, out, _ = run(capsys, "describe", "recipes", "luss-ae-paper", "--json")
    assert code == 0
    published = json.loads(out)["published"]
    ped2 = next(p for p in published if p["dataset"] == "ped2")
    assert ped2["value"] == 0.9852 and ped2["metric"] == "micro_auroc"
    assert ped2["protocol"]["data.size"] == [256, 256]
