"""docs/architecture.md's module table is generated from the modules' docstrings and current."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_the_module_table_is_current() -> None:
    done = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "gen_architecture.py"), "--check"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_every_module_of_the_package_is_in_the_table() -> None:
    text = (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")
    package = ROOT / "src" / "commit_train"
    for path in package.rglob("*.py"):
        rel = path.relative_to(package)
        if path.name in ("__init__.py", "__main__.py") or "scaffold" in rel.parts:
            continue
        assert f"`{rel.as_posix()}`" in text, rel
