"""One name and one ref for our actions, and the release that makes the ref true.

``scripts/release.py check`` is what this suite asks: every template and doc refers to the
actions as ``commit-train/commit-train[/actions/<name>]`` at the same full commit sha, each
``uses:`` line says the version in ``src/commit_train/__init__.py``, and (in a full clone) the
pinned commit exists and runs the code of the release tag. The release itself is played in a
scratch git repository copied from this checkout.
"""

from __future__ import annotations

import datetime as dt
import importlib.util
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[1]
TODAY = dt.date(2026, 3, 2)


def _release() -> ModuleType:
    spec = importlib.util.spec_from_file_location("release", ROOT / "scripts" / "release.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["release"] = module
    spec.loader.exec_module(module)
    return module


release = _release()


def test_every_reference_to_our_actions_agrees() -> None:
    assert release.check(ROOT) == []
    found = list(release.references(ROOT))
    where = {r.path.relative_to(ROOT).parts[0] for r in found}
    assert {"workflow-templates", "docs"} <= where
    assert sum(r.uses for r in found) >= 7 + 8, "the templates' uses: and one per action page"


def test_the_version_is_written_once_and_is_the_packages() -> None:
    import commit_train

    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    assert "version" not in pyproject["project"], "dynamic, not a second copy"
    assert pyproject["project"]["dynamic"] == ["version"]
    dynamic = pyproject["tool"]["setuptools"]["dynamic"]["version"]
    assert dynamic == {"attr": "commit_train.__version__"}
    assert commit_train.__version__ == release.version(ROOT)
    done = subprocess.run(
        [sys.executable, "-m", "commit_train", "--version"], capture_output=True, text=True
    )
    assert done.stdout.strip() == f"commit-train, version {commit_train.__version__}"


def checkout_copy(tmp_path: Path, *, git: bool = False) -> Path:
    root = tmp_path / "repo"
    for name in ("README.md", "CHANGELOG.md", "action.yml"):
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(ROOT / name, root / name)
    for name in ("docs", "workflow-templates", "actions", "scripts"):
        shutil.copytree(ROOT / name, root / name, ignore=shutil.ignore_patterns("__pycache__"))
    (root / "src" / "commit_train").mkdir(parents=True)
    shutil.copy(ROOT / release.VERSION_FILE, root / release.VERSION_FILE)
    shutil.copytree(ROOT / release.PACKAGED_WORKFLOWS, root / release.PACKAGED_WORKFLOWS)
    if git:
        run = ["git", "-C", str(root)]
        subprocess.run([*run, "init", "-q", "-b", "main"], check=True)
        subprocess.run([*run, "add", "-A"], check=True)
        subprocess.run(
            [*run, "-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-qm", "x"],
            check=True,
        )
    return root


def test_a_wrong_name_a_tag_ref_and_a_stale_comment_are_each_reported(tmp_path: Path) -> None:
    root = checkout_copy(tmp_path)
    templates = root / "docs" / "templates.md"
    text = templates.read_text(encoding="utf-8")
    text += "\n```yaml\n- uses: acme/commit-train/actions/render-manifests@v1\n```\n"
    templates.write_text(text, encoding="utf-8")
    init = root / release.VERSION_FILE
    init.write_text(init.read_text().replace('"0.1.0"', '"0.2.0"'), encoding="utf-8")

    problems = release.check(root)

    wrong = [p for p in problems if p.startswith("docs/templates.md:")]
    assert any("acme/commit-train/actions/render-manifests is not commit-train" in p for p in wrong)
    assert any("@v1 is not pinned by a full commit sha" in p for p in wrong)
    assert any("needs the version as a comment (# v0.2.0)" in p for p in wrong)
    stale = [p for p in problems if "says v0.1.0, the version is 0.2.0" in p]
    assert {p.split(":")[0] for p in stale} >= {
        "workflow-templates/deploy.yml",
        "workflow-templates/stale-commits.yml",
        "docs/actions/apply.md",
    }


def test_pin_rewrites_every_reference_to_one_commit(tmp_path: Path) -> None:
    root = checkout_copy(tmp_path)
    sha = "1" * 40
    release.pin(root, sha, "0.1.0")
    deploy = (root / "workflow-templates" / "deploy.yml").read_text(encoding="utf-8")
    assert deploy.count(f"/actions/apply@{sha} # v0.1.0\n") == 1
    assert release.check(root) == []  # not a git checkout: the history is not asked
    assert {r.ref for r in release.references(root)} == {sha}


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    root = checkout_copy(tmp_path, git=True)
    for key, value in (("user.name", "Release Manager"), ("user.email", "rm@example.com")):
        subprocess.run(["git", "-C", str(root), "config", key, value], check=True)
    return root


def git(root: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-C", str(root), *args], capture_output=True, text=True, check=True
    ).stdout.strip()


def test_a_release_bumps_commits_pins_to_that_commit_and_tags(repo: Path) -> None:
    code = release.release(repo, "0.2.0", TODAY)

    assert git(repo, "rev-parse", "v0.2.0^{commit}") == git(repo, "rev-parse", "HEAD")
    assert git(repo, "rev-parse", "HEAD~1") == code
    assert git(repo, "log", "--format=%s", "-2").splitlines() == [
        f"Pin the templates and docs to 0.2.0 ({code[:12]})",
        "Release 0.2.0",
    ]
    assert release.version(repo) == "0.2.0"
    deploy = (repo / "workflow-templates" / "deploy.yml").read_text(encoding="utf-8")
    assert f"commit-train/commit-train/actions/render-manifests@{code} # v0.2.0" in deploy
    # the copy `commit-train init` writes from is pinned alike
    assert (repo / release.PACKAGED_WORKFLOWS / "deploy.yml").read_text(encoding="utf-8") == deploy
    changelog = (repo / "CHANGELOG.md").read_text(encoding="utf-8")
    assert "## [Unreleased]\n\n## [0.2.0] - 2026-03-02\n" in changelog
    assert "[Unreleased]: https://github.com/commit-train/commit-train/compare/v0.2.0...HEAD" in (
        changelog
    )
    assert release.check(repo) == []
    assert git(repo, "diff", code, "v0.2.0", "--", *release.CODE) == ""


def test_a_pin_to_other_code_than_the_tag_is_reported(repo: Path) -> None:
    first = git(repo, "rev-parse", "HEAD")
    release.release(repo, "0.2.0", TODAY)
    release.pin(repo, first, "0.2.0")  # the commit before the bump: other code

    (problem,) = release.check(repo)
    assert problem.startswith(f"the pinned commit {first[:12]} runs other code than the tag v0.2.0")


def test_a_pin_to_a_commit_not_in_the_history_is_reported(repo: Path) -> None:
    release.pin(repo, "2" * 40, "0.1.0")
    (problem,) = release.check(repo)
    assert problem.startswith(f"the pinned commit {'2' * 40} is not in this repository's history")


def test_a_release_is_refused_with_a_dirty_tree_an_old_version_or_no_notes(repo: Path) -> None:
    (repo / "README.md").write_text("changed\n")
    with pytest.raises(SystemExit, match="working tree has changes; commit or stash"):
        release.release(repo, "0.2.0", TODAY)
    git(repo, "checkout", "README.md")
    with pytest.raises(SystemExit, match=re.escape("0.0.9 is not after the current version 0.1.0")):
        release.release(repo, "0.0.9", TODAY)
    changelog = repo / "CHANGELOG.md"
    text = changelog.read_text(encoding="utf-8")
    head, _, rest = text.partition("## [Unreleased]\n")
    changelog.write_text(head + "## [Unreleased]\n" + rest.split("\n## [", 1)[-1][:0])
    git(repo, "commit", "-qam", "empty notes")
    with pytest.raises(SystemExit, match="no notes under ## \\[Unreleased\\]"):
        release.release(repo, "0.2.0", TODAY)
    assert git(repo, "tag") == ""
