"""The suite's ordering (conftest.on_ml100k_first): ml-100k tests together, modules kept whole."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import cast

import pytest
from conftest import on_ml100k_first


@dataclass
class _Test:
    path: Path
    name: str
    fixturenames: tuple[str, ...]


def _test(module: str, name: str, *fixtures: str) -> _Test:
    return _Test(Path(f"tests/{module}.py"), name, fixtures)


def test_ml100k_modules_run_together_where_the_first_was_pure_ones_first() -> None:
    tests = [
        _test("plain", "a", "graph"),
        _test("mixed", "b", "graph"),
        _test("mixed", "c", "ml100k_graph"),
        _test("mixed", "d", "graph"),
        _test("mixed", "e", "ml100k_graph", "tmp_path"),
        _test("pure", "f", "ml100k_graph"),
        _test("pure", "g", "ml100k_graph"),
        _test("unit", "h"),
    ]
    items = cast(list[pytest.Item], list(tests))
    on_ml100k_first(items)
    assert [cast(_Test, item).name for item in items] == ["a", "f", "g", "c", "e", "b", "d", "h"]


def test_without_ml100k_tests_modules_keep_their_order() -> None:
    tests = [_test(module, name, "graph") for module, name in [("m2", "x"), ("m1", "y"), ("m2", "z")]]
    items = cast(list[pytest.Item], list(tests))
    on_ml100k_first(items)
    # pytest never splits a module, but a split one would be joined at its first test
    assert [cast(_Test, item).name for item in items] == ["x", "z", "y"]
