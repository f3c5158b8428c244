"""Run the examples in the package's docstrings."""

from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = [
    "bolyst.namespaces",
    "bolyst.validate",
    "bolyst.formats",
    "bolyst.protocol",
    "bolyst.service_description",
    "bolyst.release",
    "bolyst.description",
    "bolyst.linkmatch",
    "bolyst.linkcheck",
]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name: str) -> None:
    result = doctest.testmod(importlib.import_module(name))
    assert result.attempted > 0
    assert result.failed == 0
