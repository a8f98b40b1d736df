"""docs/security.md names, for each threat, the test that covers it, and docs/reliability.md
for each fault and attack: each test named must exist."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "security.md"
RELIABILITY = ROOT / "docs" / "reliability.md"


def cited(doc: Path = DOC) -> list[tuple[str, str | None]]:
    """(file, function) for each `tests/x.py::name` and `::name` (of the last file named)."""
    found: list[tuple[str, str | None]] = []
    last = ""
    for match in re.finditer(r"`(tests/[\w/]+\.py)?(?:::(\w+))?`", doc.read_text("utf-8")):
        path, name = match.groups()
        if path is None and name is None:
            continue
        last = path or last
        found.append((last, name))
    return found


@pytest.mark.parametrize(
    ("doc", "at_least"), [(DOC, 20), (RELIABILITY, 80)], ids=["security", "reliability"]
)
def test_every_test_the_page_cites_exists(doc: Path, at_least: int) -> None:
    refs = cited(doc)
    assert len(refs) >= at_least
    for path, name in refs:
        source = ROOT / path
        assert source.is_file(), path
        if name is not None:
            tree = ast.parse(source.read_text(encoding="utf-8"))
            names = {n.name for n in ast.walk(tree) if isinstance(n, ast.FunctionDef)}
            assert name in names, f"{path}::{name}"
