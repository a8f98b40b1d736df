"""Real git repositories in temporary folders, for the tests of gitrepo, ledger, train, cli.

Identities and dates are fixed, and the user's git config is ignored, so shas are the same
on every machine and no git identity needs to be configured.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

CONFIG = """\
version: 1
environments:
  staging: {}
  production:
    production: true
"""

BASE_TIME = 1_740_992_400  # 2025-03-03 09:00:00 UTC


def git_env(author: str = "alice", when: int = BASE_TIME) -> dict[str, str]:
    return {
        "GIT_CONFIG_GLOBAL": os.devnull,
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_AUTHOR_NAME": author,
        "GIT_AUTHOR_EMAIL": f"{author}@example.com",
        "GIT_COMMITTER_NAME": author,
        "GIT_COMMITTER_EMAIL": f"{author}@example.com",
        "GIT_AUTHOR_DATE": f"@{when} +0000",
        "GIT_COMMITTER_DATE": f"@{when} +0000",
    }


class Repo:
    """A git repository made with the real ``git`` binary."""

    def __init__(self, root: Path, *, branch: str = "main", config: str | None = CONFIG) -> None:
        self.root = root
        self.ticks = 0
        root.mkdir(parents=True, exist_ok=True)
        self.git("init", "--quiet", f"--initial-branch={branch}")
        if config is not None:
            (root / ".commit-train.yml").write_text(config)

    def git(self, *args: str, author: str = "alice", input: bytes | None = None) -> str:
        self.ticks += 1
        done = subprocess.run(
            ["git", "-C", str(self.root), *args],
            capture_output=True,
            check=True,
            input=input,
            env={**os.environ, **git_env(author, BASE_TIME + 60 * self.ticks)},
        )
        return done.stdout.decode().strip()

    def commit(self, title: str, *, author: str = "alice") -> str:
        self.git("add", "--all", author=author)
        self.git("commit", "--quiet", "--allow-empty", "--no-verify", "-m", title, author=author)
        return self.git("rev-parse", "HEAD")

    def branch(self, name: str, start: str = "HEAD") -> None:
        self.git("branch", name, start)

    def switch(self, name: str) -> None:
        self.git("switch", "--quiet", name)


def many_objects(repo: Repo, count: int) -> None:
    """``count`` commits (on branch ``many``) and ``count`` blobs, in one fast-import."""
    parts = []
    for i in range(count):
        data = f"blob number {i}\n".encode()
        parts.append(b"blob\nmark :%d\ndata %d\n%s\n" % (i + 1, len(data), data))
    for i in range(count):
        msg = f"filler commit {i}\n".encode()
        parts.append(
            b"commit refs/heads/many\ncommitter filler <f@example.com> %d +0000\ndata %d\n%s\n"
            % (BASE_TIME + i, len(msg), msg)
        )
    repo.git("fast-import", "--quiet", input=b"".join(parts))
