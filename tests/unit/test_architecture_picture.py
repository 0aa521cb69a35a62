"""docs/architecture.svg is what scripts/draw_architecture.py draws (redraw with `make diagram`)."""

from __future__ import annotations

import runpy
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_committed_picture_matches_the_script() -> None:
    render = runpy.run_path(str(REPO / "scripts" / "draw_architecture.py"))["render"]
    assert (REPO / "docs" / "architecture.svg").read_text() == render()
