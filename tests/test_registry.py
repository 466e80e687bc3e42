"""Registry behaviour: names, duplicates, suggestions, wildcards, provenance, lazy import."""

from __future__ import annotations

import sys
import textwrap

import pytest

from vadkit.errors import RegistryError
from vadkit.registry import Registry


def make_factory():
    def scaled(*, factor: float = 2.0):
        """Multiply by a factor."""
        return ("scaled", factor)

    return scaled


def test_add_create_and_provenance():
    reg: Registry = Registry("errors")
    reg.add("scaled", make_factory(), plugin="alpha")
    entry = reg.get("scaled")
    assert entry.plugin == "alpha"
    assert entry.summary == "Multiply by a factor."
    assert reg.create("scaled", factor=3.0) == ("scaled", 3.0)


def test_duplicate_names_both_plugins():
    reg: Registry = Registry("errors")
    reg.add("mae", make_factory(), plugin="alpha")
    with pytest.raises(RegistryError) as info:
        reg.add("mae", make_factory(), plugin="beta")
    assert "'alpha'" in str(info.value) and "'beta'" in str(info.value)


def test_unknown_name_suggests_nearest_and_lists_available():
    reg: Registry = Registry("errors")
    for name in ("bpe", "mse", "pse"):
        reg.add(name, make_factory(), plugin="p")
    with pytest.raises(RegistryError) as info:
        reg.get("bpee")
    text = str(info.value)
    assert "Did you mean 'bpe'?" in text
    assert "bpe, mse, pse" in text


def test_unknown_name_without_close_match_has_no_suggestion():
    reg: Registry = Registry("errors")
    reg.add("mse", make_factory(), plugin="p")
    with pytest.raises(RegistryError) as info:
        reg.get("zzzzzz")
    assert "Did you mean" not in str(info.value)


@pytest.mark.parametrize("bad", ["Upper", "1abc", "with-dash", "", "a b", "trailing\n"])
def test_invalid_names_rejected(bad):
    reg: Registry = Registry("errors")
    with pytest.raises(RegistryError, match="not a valid name"):
        reg.add(bad, make_factory(), plugin="p")


def test_non_callable_and_malformed_lazy_target_rejected():
    reg: Registry = Registry("errors")
    with pytest.raises(RegistryError, match="not callable"):
        reg.add("x", 42, plugin="p")  # type: ignore[arg-type]
    with pytest.raises(RegistryError, match=r"package\.module:Attribute"):
        reg.add("y", "no_colon_here", plugin="p")


def test_wildcards_include_exclude():
    reg: Registry = Registry("errors")
    for name in ("bpe", "mse", "pse", "psnr"):
        reg.add(name, make_factory(), plugin="p")
    assert reg.names() == ["bpe", "mse", "pse", "psnr"]
    assert reg.names("p*") == ["pse", "psnr"]
    assert reg.names(["p*", "m*"], exclude="psnr") == ["mse", "pse"]
    assert reg.names("*", exclude=("*se", "b*")) == ["psnr"]


def test_lazy_target_not_imported_until_used(tmp_path, monkeypatch):
    pkg = tmp_path / "lazy_mod_pkg"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "heavy.py").write_text(
        textwrap.dedent(
            '''
            class Heavy:
                """A heavy component, read statically."""

                def __init__(self, *, size: int = 3):
                    self.size = size
            '''
        )
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    reg: Registry = Registry("backbones")
    entry = reg.add("heavy", "lazy_mod_pkg.heavy:Heavy", plugin="p")
    assert entry.summary == "A heavy component, read statically."
    assert "lazy_mod_pkg.heavy" not in sys.modules
    obj = reg.create("heavy", size=5)
    assert obj.size == 5
    assert "lazy_mod_pkg.heavy" in sys.modules


def test_lazy_target_that_cannot_import_names_plugin():
    reg: Registry = Registry("backbones")
    reg.add("ghost", "no_such_module_xyz:Thing", plugin="ghostly")
    with pytest.raises(RegistryError, match="ghostly"):
        reg.create("ghost")


def test_bad_parameters_point_to_describe():
    reg: Registry = Registry("errors")
    reg.add("scaled", make_factory(), plugin="p")
    with pytest.raises(RegistryError, match="vadkit describe errors scaled"):
        reg.create("scaled", nonsense=1)
