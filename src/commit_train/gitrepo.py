"""A small wrapper over the real ``git`` binary (``git -C root ...``).

Only what the train needs: the repository root and git folder, ``origin`` as ``owner/name``,
the default branch, the first-parent log of a branch, resolving a ref to one commit, and
ancestry. Every failure is a ``GitError`` or ``NotFoundError`` whose message names the fix;
nothing here prints.

Short shas are resolved among *commits* only: a prefix shared by one commit and some tree or
blob is not ambiguous for a deploy, so git's own "short object ID is ambiguous" answer is not
used as is.
"""

from __future__ import annotations

import os
import re
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from commit_train.errors import AmbiguousRefError, GitError, NotFoundError
from commit_train.models import Commit, parse_time

_HEX = re.compile(r"^[0-9a-fA-F]{4,40}\Z")
# scheme://[user[:password]@]host[:port]/owner/name[.git][/]
_URL_REMOTE = re.compile(
    r"^(?:https?|ssh|git)://(?:[^@/]+@)?(?P<host>[^/:]+)(?::\d+)?/(?P<path>.+?)(?:\.git)?/?$"
)
# [user@]host:owner/name[.git] (scp-like ssh)
_SCP_REMOTE = re.compile(r"^(?:[^@/]+@)?(?P<host>[^/:]+):(?P<path>[^/].*?)(?:\.git)?/?$")
_OWNER_NAME = re.compile(r"^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+\Z")
_FIELD = "\x1f"
_RECORD = "\x1e"
_LOG_FORMAT = f"%H{_FIELD}%s{_FIELD}%an{_FIELD}%cI{_RECORD}"


@dataclass(frozen=True)
class Remote:
    """A remote URL taken apart: ``host`` and ``owner/name``."""

    host: str
    full_name: str


def parse_remote(url: str) -> Remote | None:
    """``https://github.com/acme/shop.git``, ``git@github.com:acme/shop.git``,
    ``ssh://git@ghe.example.com:2222/acme/shop`` ... to a ``Remote``; ``None`` when the URL
    is a local path or does not end in ``owner/name``."""
    url = url.strip()
    match = _URL_REMOTE.match(url) or _SCP_REMOTE.match(url)
    if match is None:
        return None
    path = match.group("path")
    if path.startswith("scm/"):  # no GitHub form; a Bitbucket-style prefix is not ours
        return None
    if not _OWNER_NAME.match(path):
        return None
    return Remote(host=match.group("host"), full_name=path)


class GitRepo:
    """One local repository, addressed by its root folder."""

    def __init__(self, root: Path, *, env: Mapping[str, str] | None = None) -> None:
        self.root = Path(root)
        self._env = dict(env) if env is not None else None

    @classmethod
    def discover(cls, path: Path) -> GitRepo:
        """The repository holding ``path`` (any folder inside a checkout)."""
        if not Path(path).is_dir():
            raise NotFoundError(f"{path} is not a folder", fix="pass -C with a repository folder")
        probe = cls(Path(path))
        try:
            top = probe.run("rev-parse", "--show-toplevel")
        except GitError:
            raise GitError(
                f"{path} is not inside a git repository",
                fix="run it from a checkout or pass -C PATH",
            ) from None
        return cls(Path(top))

    # -- plumbing -------------------------------------------------------------------------

    def _call(self, *args: str) -> subprocess.CompletedProcess[bytes]:
        env = None
        if self._env is not None:
            env = {**os.environ, **self._env}
        try:
            return subprocess.run(
                ["git", "-C", str(self.root), *args],
                capture_output=True,
                check=False,
                env=env,
                stdin=subprocess.DEVNULL,
            )
        except FileNotFoundError:
            raise GitError("git is not installed", fix="install git and put it on PATH") from None

    def run(self, *args: str) -> str:
        """Run git and return its stdout (stripped); a non-zero exit is a ``GitError``."""
        done = self._call(*args)
        if done.returncode != 0:
            err = done.stderr.decode("utf-8", "replace").strip().splitlines()
            detail = err[-1] if err else f"exit code {done.returncode}"
            raise GitError(
                f"git {' '.join(args[:2])} failed in {self.root}: {detail}",
                fix="check that the folder is a healthy git repository",
            )
        return done.stdout.decode("utf-8", "replace").strip()

    def _ok(self, *args: str) -> bool:
        return self._call(*args).returncode == 0

    # -- facts ---------------------------------------------------------------------------

    def git_dir(self) -> Path:
        """The shared git folder (the main one, also from a linked worktree)."""
        return Path(self.run("rev-parse", "--path-format=absolute", "--git-common-dir"))

    def origin_url(self) -> str | None:
        done = self._call("config", "--get", "remote.origin.url")
        url = done.stdout.decode("utf-8", "replace").strip()
        return url or None

    def origin(self) -> Remote | None:
        """``origin`` taken apart, or ``None`` when there is none or it is not ``owner/name``."""
        url = self.origin_url()
        return parse_remote(url) if url else None

    def branch_exists(self, name: str) -> bool:
        return self._branch_ref(name) is not None

    def _branch_ref(self, name: str) -> str | None:
        for ref in (f"refs/heads/{name}", f"refs/remotes/origin/{name}"):
            if self._ok("rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}"):
                return ref
        return None

    def default_branch(self, configured: str | None = None) -> str:
        """``origin/HEAD``'s branch, else ``configured`` (``default-branch:`` in the
        config), else ``main`` or ``master``, whichever exists."""
        done = self._call("symbolic-ref", "--quiet", "refs/remotes/origin/HEAD")
        target = done.stdout.decode("utf-8", "replace").strip()
        if done.returncode == 0 and target.startswith("refs/remotes/origin/"):
            return target.removeprefix("refs/remotes/origin/")
        if configured:
            return configured
        for name in ("main", "master"):
            if self.branch_exists(name):
                return name
        raise GitError(
            f"cannot tell the default branch of {self.root}: no origin/HEAD, no main, no master",
            fix="set default-branch: in .commit-train.yml or run git remote set-head origin -a",
        )

    def _require_branch(self, branch: str) -> str:
        ref = self._branch_ref(branch)
        if ref is None:
            raise NotFoundError(
                f"branch {branch} does not exist in {self.root}",
                fix="create it, or set default-branch: in .commit-train.yml",
            )
        return ref

    def log(self, branch: str, *, limit: int) -> list[Commit]:
        """The newest ``limit`` commits of ``branch``, first-parent only, newest first."""
        return self.history(self._require_branch(branch), limit=limit)

    def history(self, rev: str, *, limit: int) -> list[Commit]:
        """Commit ``rev`` (a full sha or a ref) and its newest ancestors, ``limit`` in all,
        first-parent only, newest first."""
        out = self.run(
            "log", "--first-parent", f"--max-count={limit}", f"--format={_LOG_FORMAT}", rev
        )
        return [self._parse_commit(rec) for rec in out.split(_RECORD) if rec.strip()]

    def _parse_commit(self, record: str) -> Commit:
        sha, title, author, when = record.strip("\n").split(_FIELD)
        return Commit(sha=sha, title=title, author=author, committed_at=parse_time(when))

    def commit(self, sha: str) -> Commit:
        """The commit named by a full sha (no lookup of short forms; see ``resolve``)."""
        out = self.run("log", "-1", "--no-walk", f"--format={_LOG_FORMAT}", f"{sha}^{{commit}}")
        return self._parse_commit(out.rstrip(_RECORD))

    def _commits_with_prefix(self, prefix: str) -> list[str]:
        done = self._call("rev-parse", f"--disambiguate={prefix.lower()}")
        if done.returncode != 0:
            return []
        objects = done.stdout.decode().split()
        if not objects:
            return []
        batch = subprocess.run(
            ["git", "-C", str(self.root), "cat-file", "--batch-check=%(objecttype) %(objectname)"],
            input="\n".join(objects).encode() + b"\n",
            capture_output=True,
            check=False,
        )
        commits = []
        for line in batch.stdout.decode().splitlines():
            kind, _, name = line.partition(" ")
            if kind == "commit":
                commits.append(name)
            elif kind == "tag":  # an annotated tag whose name is the prefix of a commit's
                peeled = self._call("rev-parse", "--verify", "--quiet", f"{name}^{{commit}}")
                if peeled.returncode == 0:
                    commits.append(peeled.stdout.decode().strip())
        return sorted(set(commits))

    def resolve(self, ref: str) -> Commit:
        """A full or short sha (among commits), ``HEAD``, a branch or a tag, to one commit."""
        ref = ref.strip()
        if not ref or ref.startswith("-"):
            raise NotFoundError(f"{ref!r} is not a commit", fix="pass a sha, HEAD or a branch")
        if _HEX.match(ref):
            candidates = self._commits_with_prefix(ref)
            if len(candidates) > 1:
                shown = ", ".join(c[:12] for c in candidates[:10])
                more = f" and {len(candidates) - 10} more" if len(candidates) > 10 else ""
                raise AmbiguousRefError(
                    f"{ref} is ambiguous: it matches {len(candidates)} commits ({shown}{more})",
                    fix="pass more characters of the sha",
                    candidates=tuple(candidates),
                )
            if candidates:
                return self.commit(candidates[0])
        done = self._call(
            "rev-parse", "--verify", "--quiet", "--end-of-options", f"{ref}^{{commit}}"
        )
        if done.returncode != 0:
            raise NotFoundError(
                f"no commit {ref} in {self.root}",
                fix="check the sha, or fetch it first (git fetch origin)",
            )
        return self.commit(done.stdout.decode().strip())

    def is_ancestor(self, ancestor: str, descendant: str) -> bool:
        """Whether ``ancestor`` is reachable from ``descendant`` (a commit is its own)."""
        done = self._call("merge-base", "--is-ancestor", ancestor, descendant)
        if done.returncode in (0, 1):
            return done.returncode == 0
        detail = done.stderr.decode("utf-8", "replace").strip().splitlines()
        raise GitError(
            f"git merge-base failed in {self.root}: {detail[-1] if detail else done.returncode}",
            fix="check that both commits exist (git fetch origin)",
        )

    def on_branch(self, sha: str, branch: str) -> bool:
        """Whether ``sha`` is reachable from the tip of ``branch``."""
        return self.is_ancestor(sha, self._require_branch(branch))

    def export(self, sha: str, dest: Path) -> Path:
        """Write the tree of commit ``sha`` into the folder ``dest`` (made if missing).

        ``git archive`` reads the object database only, so the working tree, the index and
        any other checkout are untouched (a rollback renders an older commit this way).
        Files, folders and symbolic links are written by ``confine.extract_tar``, which
        refuses absolute or ``..`` paths and never writes through a link; links are kept as
        committed, and the render refuses those that leave its folders.
        """
        from commit_train.confine import UnsafeArchiveError, extract_tar

        if not self._ok("cat-file", "-e", f"{sha}^{{commit}}"):
            raise NotFoundError(
                f"commit {sha[:12]} is not in the local repository {self.root}",
                fix="fetch it first (git fetch origin)",
            )
        done = self._call("archive", "--format=tar", f"{sha}^{{commit}}")
        if done.returncode != 0:
            err = done.stderr.decode("utf-8", "replace").strip().splitlines()
            raise GitError(
                f"git archive failed in {self.root}: {err[-1] if err else done.returncode}",
                fix="check that the repository is healthy (git fsck)",
            )
        try:
            extract_tar(done.stdout, dest)
        except UnsafeArchiveError as exc:
            raise GitError(
                f"commit {sha[:12]} cannot be written out safely: {exc}",
                fix="check the repository (git fsck)",
            ) from None
        return dest

    def user_name(self) -> str | None:
        done = self._call("config", "--get", "user.name")
        name = done.stdout.decode("utf-8", "replace").strip()
        return name or None
