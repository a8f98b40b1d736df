from __future__ import annotations

import io
import os
import tarfile
from datetime import UTC, datetime
from pathlib import Path

import pytest

from commit_train.confine import UnsafeArchiveError, extract_tar
from commit_train.errors import AmbiguousRefError, GitError, NotFoundError
from commit_train.gitrepo import GitRepo, Remote, parse_remote
from tests.gitrepos import Repo, many_objects


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://github.com/acme/shop.git", Remote("github.com", "acme/shop")),
        ("https://github.com/acme/shop", Remote("github.com", "acme/shop")),
        ("https://x-access-token:abc@github.com/acme/shop.git/", Remote("github.com", "acme/shop")),
        ("git@github.com:acme/shop.git", Remote("github.com", "acme/shop")),
        ("ssh://git@github.com/acme/shop.git", Remote("github.com", "acme/shop")),
        ("ssh://git@ghe.corp.example:2222/acme/shop.git", Remote("ghe.corp.example", "acme/shop")),
        ("https://ghe.corp.example/acme/my.shop", Remote("ghe.corp.example", "acme/my.shop")),
        ("/srv/git/shop.git", None),
        ("../shop", None),
        ("https://gitlab.example/group/sub/shop.git", None),
    ],
)
def test_parse_remote(url: str, expected: Remote | None) -> None:
    assert parse_remote(url) == expected


def test_discover_root_and_origin(tmp_path: Path) -> None:
    repo = Repo(tmp_path / "shop")
    repo.commit("first")
    (repo.root / "sub").mkdir()
    git = GitRepo.discover(repo.root / "sub")
    assert git.root == repo.root.resolve()
    assert git.origin() is None
    repo.git("remote", "add", "origin", "git@github.com:acme/shop.git")
    assert git.origin() == Remote("github.com", "acme/shop")
    assert git.git_dir() == (repo.root / ".git").resolve()


def test_discover_outside_a_repository(tmp_path: Path) -> None:
    with pytest.raises(GitError) as caught:
        GitRepo.discover(tmp_path)
    assert str(caught.value) == (
        f"{tmp_path} is not inside a git repository; run it from a checkout or pass -C PATH"
    )


def test_default_branch_order(tmp_path: Path) -> None:
    repo = Repo(tmp_path / "r", branch="master")
    repo.commit("first")
    git = GitRepo(repo.root)
    assert git.default_branch() == "master"
    assert git.default_branch("trunk") == "trunk"  # the config wins over guessing
    repo.branch("main")
    assert git.default_branch() == "main"  # main before master
    # origin/HEAD wins over everything
    repo.git("update-ref", "refs/remotes/origin/develop", "HEAD")
    repo.git("symbolic-ref", "refs/remotes/origin/HEAD", "refs/remotes/origin/develop")
    assert git.default_branch("trunk") == "develop"


def test_default_branch_unknown(tmp_path: Path) -> None:
    repo = Repo(tmp_path / "r", branch="trunk")
    repo.commit("first")
    with pytest.raises(GitError) as caught:
        GitRepo(repo.root).default_branch()
    assert "set default-branch: in .commit-train.yml" in str(caught.value)


def test_log_is_first_parent_newest_first(tmp_path: Path) -> None:
    repo = Repo(tmp_path / "r")
    first = repo.commit("first")
    repo.branch("topic")
    repo.switch("topic")
    repo.commit("on the topic branch", author="bob")
    repo.switch("main")
    second = repo.commit("second", author="bob")
    repo.git("merge", "--no-ff", "--quiet", "-m", "Merge topic", "topic")
    merge = repo.git("rev-parse", "HEAD")
    log = GitRepo(repo.root).log("main", limit=10)
    assert [c.sha for c in log] == [merge, second, first]
    assert [c.title for c in log] == ["Merge topic", "second", "first"]
    assert log[1].author == "bob"
    assert log[0].committed_at.tzinfo is not None
    assert log[2].committed_at < log[0].committed_at
    assert log[2].committed_at > datetime(2025, 1, 1, tzinfo=UTC)
    assert len(GitRepo(repo.root).log("main", limit=2)) == 2


def test_log_of_missing_branch(tmp_path: Path) -> None:
    repo = Repo(tmp_path / "r")
    repo.commit("first")
    with pytest.raises(NotFoundError, match="branch nope does not exist"):
        GitRepo(repo.root).log("nope", limit=5)


def test_resolve_full_short_head_and_branch(tmp_path: Path) -> None:
    repo = Repo(tmp_path / "r")
    sha = repo.commit("Add the checkout button")
    git = GitRepo(repo.root)
    assert git.resolve(sha).title == "Add the checkout button"
    assert git.resolve(sha[:7]).sha == sha
    assert git.resolve(sha[:7].upper()).sha == sha
    assert git.resolve("HEAD").sha == sha
    assert git.resolve("main").sha == sha


@pytest.mark.parametrize("ref", ["0000000", "no-such-branch", "--help"])
def test_resolve_unknown(tmp_path: Path, ref: str) -> None:
    repo = Repo(tmp_path / "r")
    repo.commit("first")
    with pytest.raises(NotFoundError) as caught:
        GitRepo(repo.root).resolve(ref)
    assert not isinstance(caught.value, AmbiguousRefError)


@pytest.fixture(scope="module")
def crowded(tmp_path_factory: pytest.TempPathFactory) -> Repo:
    repo = Repo(tmp_path_factory.mktemp("crowded") / "r")
    repo.commit("first")
    many_objects(repo, 1500)
    return repo


def _objects_by_prefix(repo: Repo) -> dict[str, dict[str, list[str]]]:
    listing = repo.git(
        "cat-file", "--batch-all-objects", "--batch-check=%(objecttype) %(objectname)"
    )
    found: dict[str, dict[str, list[str]]] = {}
    for line in listing.splitlines():
        kind, sha = line.split()
        found.setdefault(sha[:4], {}).setdefault(kind, []).append(sha)
    return found


def test_short_sha_shared_by_two_commits_is_ambiguous(crowded: Repo) -> None:
    prefix, commits = next(
        (p, kinds["commit"])
        for p, kinds in sorted(_objects_by_prefix(crowded).items())
        if len(kinds.get("commit", [])) >= 2
    )
    with pytest.raises(AmbiguousRefError) as caught:
        GitRepo(crowded.root).resolve(prefix)
    assert caught.value.candidates == tuple(sorted(commits))
    shown = ", ".join(c[:12] for c in sorted(commits))
    assert str(caught.value) == (
        f"{prefix} is ambiguous: it matches {len(commits)} commits ({shown}); "
        "pass more characters of the sha"
    )
    # more characters settle it
    assert GitRepo(crowded.root).resolve(commits[0][:12]).sha == commits[0]


def test_short_sha_shared_with_a_blob_is_not_ambiguous(crowded: Repo) -> None:
    prefix, commit = next(
        (p, kinds["commit"][0])
        for p, kinds in sorted(_objects_by_prefix(crowded).items())
        if len(kinds.get("commit", [])) == 1 and kinds.get("blob")
    )
    # git itself calls this prefix ambiguous; among commits it is not
    assert GitRepo(crowded.root).resolve(prefix).sha == commit


def test_is_ancestor(tmp_path: Path) -> None:
    repo = Repo(tmp_path / "r")
    first = repo.commit("first")
    repo.branch("topic")
    repo.switch("topic")
    off = repo.commit("off the branch")
    repo.switch("main")
    second = repo.commit("second")
    git = GitRepo(repo.root)
    assert git.is_ancestor(first, second)
    assert git.is_ancestor(second, second)
    assert not git.is_ancestor(off, second)
    assert git.on_branch(first, "main")
    assert not git.on_branch(off, "main")
    with pytest.raises(GitError, match="check that both commits exist"):
        git.is_ancestor("f" * 40, second)


# -- a commit's tree, on every Python the project supports -------------------------------


def test_export_writes_files_modes_and_links_without_following_them(tmp_path: Path) -> None:
    repo = Repo(tmp_path / "shop")
    (repo.root / "run.sh").write_text("#!/bin/sh\n")
    (repo.root / "run.sh").chmod(0o755)
    (repo.root / "sub").mkdir()
    (repo.root / "sub" / "a.txt").write_text("a\n")
    (repo.root / "sub" / "b.txt").symlink_to("a.txt")
    (repo.root / "env").symlink_to("/proc/self/environ")
    sha = repo.commit("Files")
    tree = GitRepo(repo.root).export(sha, tmp_path / "tree")
    assert (tree / "sub" / "b.txt").read_text() == "a\n"
    assert os.readlink(tree / "env") == "/proc/self/environ"
    assert os.access(tree / "run.sh", os.X_OK)
    assert not os.access(tree / "sub" / "a.txt", os.X_OK)


def _tar(*members: tuple[tarfile.TarInfo, bytes]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as archive:
        for info, data in members:
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data) if data else None)
    return buffer.getvalue()


def _member(name: str, kind: bytes = tarfile.REGTYPE, link: str = "") -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.linkname = link
    info.mode = 0o644
    return info


@pytest.mark.parametrize(
    ("members", "problem"),
    [
        ([(_member("/etc/evil"), b"x")], "'/etc/evil' is an absolute path"),
        ([(_member("a/../../evil"), b"x")], "'a/../../evil' leads out of the tree"),
        ([(_member("dev", tarfile.CHRTYPE), b"")], "'dev' is not a file, folder or link"),
        ([(_member("h", tarfile.LNKTYPE, "a"), b"")], "'h' is not a file, folder or link"),
        (
            [
                (_member("a", tarfile.SYMTYPE, "/tmp"), b""),
                (_member("a/b", tarfile.SYMTYPE, "x"), b""),
            ],
            "'a/b' would be written through a link",
        ),
    ],
)
def test_an_unsafe_archive_is_refused_before_anything_escapes(
    tmp_path: Path, members: list[tuple[tarfile.TarInfo, bytes]], problem: str
) -> None:
    with pytest.raises(UnsafeArchiveError) as caught:
        extract_tar(_tar(*members), tmp_path / "tree")
    assert str(caught.value) == problem
    assert not (Path("/etc/evil").exists() or (tmp_path / "evil").exists())
    assert not Path("/tmp/b").is_symlink() or os.readlink("/tmp/b") != "x"
