"""The layers hold: import-linter's contracts (``[tool.importlinter]`` in pyproject.toml) pass,
a forbidden import breaks them, and nothing below the faces prints.

``make lint`` runs ``lint-imports`` as well; this test keeps the contracts inside ``pytest``
so that a run of the tests alone cannot miss a broken layer.
"""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "src" / "commit_train"


def _lint_imports(cwd: Path) -> subprocess.CompletedProcess[str]:
    exe = Path(sys.executable).with_name("lint-imports")
    return subprocess.run(
        [str(exe), "--no-cache"], cwd=cwd, capture_output=True, text=True, check=False
    )


def test_the_import_contracts_are_kept() -> None:
    done = _lint_imports(ROOT)
    assert done.returncode == 0, done.stdout[-4000:]
    assert "0 broken" in done.stdout


def test_a_service_importing_click_breaks_a_contract(tmp_path: Path) -> None:
    """The contracts can fail: a copy of the package whose service imports click is refused."""
    copy = tmp_path / "tree"
    shutil.copytree(PACKAGE, copy / "src" / "commit_train")
    shutil.copy(ROOT / "pyproject.toml", copy / "pyproject.toml")
    train = copy / "src" / "commit_train" / "service" / "train.py"
    train.write_text(train.read_text(encoding="utf-8") + "\nimport click  # noqa\n")
    env_path = f"{copy / 'src'}"
    done = subprocess.run(
        [str(Path(sys.executable).with_name("lint-imports")), "--no-cache"],
        cwd=copy,
        capture_output=True,
        text=True,
        check=False,
        env={"PYTHONPATH": env_path, "PATH": str(Path(sys.executable).parent)},
    )
    assert done.returncode == 1, done.stdout[-2000:]
    assert "commit_train.service.train -> click" in done.stdout


def test_nothing_below_the_faces_prints() -> None:
    """The library returns results and raises errors; only the faces write to a terminal."""
    offenders = []
    for path in sorted(PACKAGE.rglob("*.py")):
        if "faces" in path.relative_to(PACKAGE).parts or path.name == "__main__.py":
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Name)
                and node.func.id == "print"
            ):
                offenders.append(f"{path.relative_to(PACKAGE)}:{node.lineno}")
    assert offenders == []


def test_a_module_over_600_lines_says_why_in_its_docstring() -> None:
    """Big modules are split by what they hold; the few that stay whole say why."""
    unexplained = []
    for path in sorted(PACKAGE.rglob("*.py")):
        text = path.read_text(encoding="utf-8")
        if text.count("\n") <= 600:
            continue
        doc = ast.get_docstring(ast.parse(text)) or ""
        if "Why one module" not in doc:
            unexplained.append(f"{path.relative_to(PACKAGE)} ({text.count(chr(10))} lines)")
    assert unexplained == []
