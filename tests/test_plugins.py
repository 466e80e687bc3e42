"""Plugin loading through pluggy: built-ins, entry points, one-off files, blocking, failures."""

from __future__ import annotations

import ast
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import vadkit
from vadkit import plugins
from vadkit.errors import PluginError, RegistryError

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True)
def fresh_plugins():
    plugins.reset()
    yield
    plugins.reset()


def write_plugin(tmp_path: Path, name: str, body: str) -> Path:
    path = tmp_path / f"{name}.py"
    path.write_text("import vadkit\n" + textwrap.dedent(body))
    return path


def test_builtins_load_through_the_same_hooks():
    host = plugins.get_host()
    assert host.plugins["luss"].status == "loaded"
    assert set(vadkit.list_errors()) >= {"mse", "psnr", "pse", "bpe"}
    assert set(vadkit.list_tasks()) >= {"vcr", "ffp", "prp"}
    assert "cae3d" in vadkit.list_backbones()
    assert set(vadkit.list_normalizers()) >= {"none", "minmax", "robust"}
    assert vadkit.get_entry("errors", "bpe").plugin == "luss"


def test_one_off_plugin_file_registers_with_provenance(tmp_path):
    path = write_plugin(
        tmp_path,
        "myplug",
        '''
        class MAE:
            """Mean absolute error."""

        @vadkit.hookimpl
        def register_errors(register):
            register("mae", MAE)
        ''',
    )
    plugins.configure(plugins=[str(path)])
    assert "mae" in vadkit.list_errors()
    assert vadkit.get_entry("errors", "mae").plugin == "myplug"
    assert plugins.get_host().plugins["myplug"].components["errors"] == ["mae"]


def test_built_in_name_is_refused_naming_both_and_kept(tmp_path):
    # was: a duplicate raised RegistryError for every use (issue 9: contained, built-in kept)
    path = write_plugin(
        tmp_path,
        "clash",
        """
        @vadkit.hookimpl
        def register_errors(register):
            register("mse", lambda: None)
        """,
    )
    plugins.configure(plugins=[str(path)])
    with pytest.warns(plugins.PluginLoadWarning) as caught:
        names = vadkit.list_errors()
    text = str(caught[0].message)
    assert "'luss'" in text and "'clash'" in text and "--block clash" in text
    assert "mse" in names and vadkit.get_entry("errors", "mse").plugin == "luss"
    assert plugins.get_host().plugins["clash"].status == "failed"
    with pytest.raises(PluginError) as info:  # a strict host fills every registry at once
        plugins.configure(plugins=[str(path)], strict=True)
    assert "'luss'" in str(info.value) and "'clash'" in str(info.value)


def test_misspelled_hook_disables_the_plugin_naming_it(tmp_path):
    # was: raised PluginError on load (issue 9: one warning, the plugin is not loaded)
    path = write_plugin(
        tmp_path,
        "typo",
        """
        @vadkit.hookimpl
        def register_error(register):
            pass

        @vadkit.hookimpl
        def register_normalizers(register):
            register("typo_norm", lambda: None)
        """,
    )
    with pytest.warns(plugins.PluginLoadWarning, match=r"typo.*register_error.*--block typo"):
        host = plugins.configure(plugins=[str(path)])
    assert host.plugins["typo"].status == "failed"
    assert "register_error" in (host.plugins["typo"].error or "")
    assert "typo_norm" not in vadkit.list_normalizers()  # the whole plugin is disabled
    assert "minmax" in vadkit.list_normalizers()
    with pytest.raises(PluginError) as info:
        plugins.configure(plugins=[str(path)], strict=True)
    assert "typo" in str(info.value) and "register_error" in str(info.value)


def test_wrong_hook_argument_disables_the_plugin_naming_it(tmp_path):
    # was: raised PluginError on load (issue 9: one warning, the plugin is not loaded)
    path = write_plugin(
        tmp_path,
        "badarg",
        """
        @vadkit.hookimpl
        def register_errors(reg, extra):
            pass
        """,
    )
    with pytest.warns(plugins.PluginLoadWarning, match="badarg"):
        host = plugins.configure(plugins=[str(path)])
    assert host.plugins["badarg"].status == "failed"
    assert "bpe" in vadkit.list_errors()
    with pytest.raises(PluginError, match="badarg"):
        plugins.configure(plugins=[str(path)], strict=True)


def test_plugin_raising_on_import_is_named_and_others_keep_working(tmp_path, monkeypatch):
    pkg = tmp_path / "site"
    pkg.mkdir()
    (pkg / "broken_vadkit_plugin.py").write_text("raise RuntimeError('boom at import')\n")
    dist = pkg / "broken_vadkit_plugin-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: broken-vadkit-plugin\nVersion: 1.0\n"
    )
    (dist / "entry_points.txt").write_text("[vadkit]\nbroken = broken_vadkit_plugin\n")
    monkeypatch.syspath_prepend(str(pkg))
    with pytest.warns(plugins.PluginLoadWarning, match="broken.*boom at import"):
        host = plugins.get_host()
    assert host.plugins["broken"].status == "failed"
    assert host.plugins["broken"].version == "1.0"
    assert "bpe" in vadkit.list_errors()


def test_hook_raising_is_named_and_others_keep_working(tmp_path):
    path = write_plugin(
        tmp_path,
        "explodes",
        """
        @vadkit.hookimpl
        def register_errors(register):
            raise ValueError("kaboom")
        """,
    )
    plugins.configure(plugins=[str(path)])
    with pytest.warns(plugins.PluginLoadWarning, match="explodes.*kaboom"):
        names = vadkit.list_errors()
    assert "mse" in names
    assert plugins.get_host().plugins["explodes"].status == "failed"


def test_autoload_env_var_skips_third_party_entry_points(tmp_path, monkeypatch):
    pkg = tmp_path / "site"
    pkg.mkdir()
    (pkg / "third_vadkit_plugin.py").write_text(
        "import vadkit\n@vadkit.hookimpl\ndef register_errors(register):\n"
        "    register('third', lambda: None)\n"
    )
    dist = pkg / "third_vadkit_plugin-2.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: third-vadkit-plugin\nVersion: 2.0\n"
    )
    (dist / "entry_points.txt").write_text("[vadkit]\nthird = third_vadkit_plugin\n")
    monkeypatch.syspath_prepend(str(pkg))
    assert "third" in vadkit.list_errors()
    plugins.reset()
    monkeypatch.setenv(plugins.ENV_DISABLE_AUTOLOAD, "1")
    assert "third" not in vadkit.list_errors()
    assert "bpe" in vadkit.list_errors()  # vadkit's own entry points still load


def test_block_builtin_by_name():
    plugins.configure(block=["luss"])
    assert "bpe" not in vadkit.list_errors()
    assert plugins.get_host().plugins["luss"].status == "blocked"
    with pytest.raises(RegistryError, match="Unknown error 'bpe'"):
        vadkit.create_error("bpe")


def test_block_via_env(monkeypatch):
    monkeypatch.setenv(plugins.ENV_BLOCK, "luss")
    assert "cae3d" not in vadkit.list_backbones()
    assert plugins.get_host().plugins["luss"].status == "blocked"


def test_missing_plugin_file_is_a_clear_error(tmp_path):
    with pytest.raises(PluginError, match="does not exist"):
        plugins.configure(plugins=[str(tmp_path / "nope.py")])


def test_unknown_kind():
    with pytest.raises(PluginError, match="Kinds are"):
        plugins.get_host().registry("widgets")


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(a.name.split(".")[0] for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


def test_core_never_imports_builtin_plugin_package():
    offenders = [
        str(p.relative_to(ROOT))
        for p in (ROOT / "vadkit").rglob("*.py")
        if "vadkit_luss" in _imports(p)
    ]
    assert offenders == []
    text_mentions = [
        str(p.relative_to(ROOT))
        for p in (ROOT / "vadkit").rglob("*.py")
        if "vadkit_luss" in p.read_text()
    ]
    assert text_mentions == [], "the core must not even name the built-in plugin package"


def test_import_vadkit_is_light():
    code = (
        "import sys, vadkit\n"
        "assert 'vadkit_luss' not in sys.modules, 'plugin loaded on import'\n"
        "assert 'torch' not in sys.modules, 'torch imported on import vadkit'\n"
        "names = vadkit.list_errors()\n"
        "assert 'torch' not in sys.modules, 'listing imported torch'\n"
        "assert 'vadkit_luss.errors' not in sys.modules, 'listing imported a component'\n"
        "print(names)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert out.returncode == 0, out.stderr
    assert "bpe" in out.stdout


def test_score_key_is_importable_from_vadkit():
    from vadkit import SCORE_KEY
    from vadkit.components.task import SCORE_KEY as defined

    assert SCORE_KEY is defined
    assert "SCORE_KEY" in vadkit.__all__


def test_every_exported_name_resolves():
    missing = [name for name in vadkit.__all__ if not hasattr(vadkit, name)]
    assert missing == [], f"in vadkit.__all__ but not importable: {missing}"


def test_plugin_option_for_an_already_loaded_module_is_harmless(tmp_path):
    path = write_plugin(
        tmp_path,
        "twice",
        """
        @vadkit.hookimpl
        def register_normalizers(register):
            register("twice_norm", lambda: None)
        """,
    )
    host = plugins.configure(plugins=[str(path)])
    module = sys.modules["vadkit_oneoff_twice"]
    info = host.add_plugin(module)  # the same module object again, under another name
    assert info.name == "twice"
    assert vadkit.list_normalizers("twice*") == ["twice_norm"]


def test_plugin_name_clash_is_a_clear_error(tmp_path):
    first = write_plugin(tmp_path, "samename", "")
    other = tmp_path / "sub"
    other.mkdir()
    second = write_plugin(other, "samename", "")
    with pytest.raises(PluginError, match="samename"):
        plugins.configure(plugins=[str(first), str(second)])
