"""The one-way flow of calls, checked from the imports each module writes.

cli / actions_cmd -> train -> (gate, render, kube, ledger, notify) -> github / kubernetes.
The library never imports click; only github.py imports PyGithub; only kube/ imports kubernetes.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "commit_train"

# Modules allowed to import click (the command-line layer).
CLI_LAYER = {"cli", "actions_cmd", "__main__"}
# Layer order: a module may import only modules of a lower or equal rank.
RANKS = {
    "errors": 0,
    "oneline": 0,
    "models": 1,
    "config": 1,
    "ports": 2,
    "gitrepo": 2,
    "redact": 2,
    "github": 3,
    "ledger": 3,
    "gate": 3,
    "render": 3,
    "kube": 3,
    "notify": 3,
    "locks": 4,
    "stale": 4,
    "stats": 4,
    "journal_sync": 5,
    "train": 5,
    "pipeline": 5,
    "demo": 6,
    "actions_io": 6,
    "tables": 6,
    "cli": 7,
    "actions_cmd": 7,
    "__main__": 8,
}


def _modules() -> list[tuple[str, Path]]:
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(PACKAGE).with_suffix("")
        top = rel.parts[0]
        if top == "__init__":
            continue
        found.append((top, path))
    return found


def _imports(path: Path) -> set[str]:
    """Top-level names imported: 'click', 'github', and our own modules as 'commit_train.X'."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = ["commit_train", *path.relative_to(PACKAGE).parts[:-1]]
    names: set[str] = set()

    def add(full: list[str], members: list[str]) -> None:
        names.add(full[0])
        if full[0] != "commit_train":
            return
        if len(full) > 1:
            names.add("commit_train." + full[1])
        else:
            modules = [
                m for m in members if (PACKAGE / f"{m}.py").exists() or (PACKAGE / m).is_dir()
            ]
            names.update("commit_train." + m for m in modules)

    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                add(alias.name.split("."), [])
        elif isinstance(node, ast.ImportFrom):
            base = package[: len(package) - (node.level - 1)] if node.level else []
            full = base + (node.module.split(".") if node.module else [])
            add(full, [a.name for a in node.names])
    return names


@pytest.mark.parametrize(("top", "path"), _modules(), ids=lambda v: str(v))
def test_library_never_imports_click(top: str, path: Path) -> None:
    if top in CLI_LAYER:
        return
    assert "click" not in _imports(path), f"{path.name} imports click; only the CLI layer may"


@pytest.mark.parametrize(("top", "path"), _modules(), ids=lambda v: str(v))
def test_only_the_adapters_import_the_clients(top: str, path: Path) -> None:
    imports = _imports(path)
    if top != "github":
        assert "github" not in imports, f"{path.name} imports PyGithub; only github.py may"
    if top != "kube":
        assert "kubernetes" not in imports, f"{path.name} imports kubernetes; only kube/ may"


@pytest.mark.parametrize(("top", "path"), _modules(), ids=lambda v: str(v))
def test_calls_flow_one_way(top: str, path: Path) -> None:
    rank = RANKS.get(top)
    assert rank is not None, f"{top} has no place in the layer table of this test; add it"
    for name in _imports(path):
        if not name.startswith("commit_train."):
            continue
        other = name.split(".", 1)[1]
        if other == top or other == "__init__":
            continue
        other_rank = RANKS.get(other)
        assert other_rank is not None, f"{top} imports {other}, which has no place in the layers"
        assert other_rank <= rank, f"{top} (layer {rank}) imports {other} (layer {other_rank})"
