"""The plugin's own tests: one line per component, using vadkit's conformance checks."""

import vadkit
from vadkit.testing import check_backbone, check_error, check_normalizer, check_recipe, check_task


def test_registered():
    assert "mae" in vadkit.list_errors()
    assert vadkit.get_entry("errors", "mae").plugin == "example"


def test_mae():
    check_error("mae")


def test_zscore():
    check_normalizer("zscore")


def test_tiny_ae():
    check_backbone("tiny_ae")


def test_motion():
    check_task("motion")


def test_arrow():
    check_task("arrow")


def test_example_tiny():
    check_recipe("example-tiny")
