"""The action reference in docs/actions/ is generated from the action.yml files."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _generator():  # type: ignore[no-untyped-def]
    spec = importlib.util.spec_from_file_location(
        "gen_action_docs", ROOT / "scripts" / "gen_action_docs.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["gen_action_docs"] = module
    spec.loader.exec_module(module)
    return module


def test_every_action_page_is_up_to_date() -> None:
    stale = [
        str(path.relative_to(ROOT))
        for path, text in _generator().pages().items()
        if not path.exists() or path.read_text(encoding="utf-8") != text
    ]
    assert stale == [], "run: python scripts/gen_action_docs.py"


def test_every_action_has_a_page_and_no_page_is_orphaned() -> None:
    pages = {p.stem for p in (ROOT / "docs" / "actions").glob("*.md")}
    actions = {p.parent.name for p in (ROOT / "actions").glob("*/action.yml")}
    assert pages == actions | {"deploy"}


def test_a_changed_description_makes_the_page_stale(tmp_path: Path) -> None:
    gen = _generator()
    action = {
        "name": "x",
        "description": "d",
        "inputs": {"a": {"description": "first | second", "required": True}},
    }
    text = gen.page("x", action)
    assert "| `a` | yes |  | first \\| second |" in text
    action["inputs"]["a"]["description"] = "changed"
    assert gen.page("x", action) != text
