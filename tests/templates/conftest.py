"""Every test in this folder works on the templates."""

from __future__ import annotations

import pytest


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/templates/" in str(item.fspath):
            item.add_marker(pytest.mark.templates)
