"""A local journal as commit-train 0.x wrote it before the journal owned its whole schema.

``tests/data/journal-v1.sqlite3`` was made by ``python -m tests.old_journal OUT`` with the
commit-train of that time (schema version 1: ``deployments``, ``deployment_statuses`` and
``checks`` under ``PRAGMA user_version``; ``locks``, ``lock_events``, ``stale_marks`` and
``journal_sync`` created on first use by the modules that wrote them). Every table holds rows:
checks recorded, deploys to staging and production (one retired by a newer success), a
production lock and a staging lock taken and released, a stale reminder's mark, and an
offline deploy replayed into a GitHub emulator by ``sync``.

``make_repo`` makes the repository the journal belongs to: same commits, same shas (fixed
identities and dates), so a test can put the file in its ``.git/`` and read it back.
"""

from __future__ import annotations

import shutil
import sqlite3
import sys
import tempfile
from pathlib import Path

from click.testing import CliRunner

from tests.gitrepos import Repo

CONFIG = """\
version: 1
environments:
  staging:
    stale-after: 1h
  production:
    production: true
"""

TITLES = (
    ("Start the shop service", "alice"),
    ("Add a health endpoint", "bob"),
    ("Add the checkout button", "alice"),
)


def make_repo(root: Path) -> tuple[Repo, list[str]]:
    """The repository of the old journal and its three commits, oldest first."""
    repo = Repo(root, config=CONFIG)
    shas = [repo.commit(title, author=author) for title, author in TITLES]
    return repo, shas


def main(out: Path) -> None:  # pragma: no cover - run by hand, with the old code
    from commit_train.backends.local.backend import LocalBackend  # the old home
    from commit_train.faces.cli.main import cli
    from commit_train.models import DeployState
    from tests.emulators.github import GitHubEmulator
    from tests.test_offline_sync import mirror

    env = {
        "GITHUB_TOKEN": None,
        "GH_TOKEN": None,
        "COMMIT_TRAIN_BACKEND": None,
        "GITHUB_API_URL": None,
        "GITHUB_ACTOR": "carol",
        "NO_COLOR": None,
    }
    with tempfile.TemporaryDirectory() as scratch:
        repo, shas = make_repo(Path(scratch) / "shop")

        def run(*args: str, extra: dict[str, str | None] | None = None) -> None:
            result = CliRunner().invoke(
                cli, ["-C", str(repo.root), *args], env={**env, **(extra or {})}
            )
            assert result.exit_code == 0, result.output

        for sha in shas:
            run("record-check", sha, "test", "success")
        local = LocalBackend(repo.root, creator="runner")
        for environment, sha in (
            ("staging", shas[0]),
            ("production", shas[0]),
            ("staging", shas[1]),
        ):
            run("deploy", environment, sha[:7])
            [newest] = local.deployments(environment=environment, limit=1)
            local.add_status(newest.id, state=DeployState.IN_PROGRESS, description="applying")
            local.add_status(newest.id, state=DeployState.SUCCESS, description="rolled out")
        run("lock", "production", "--reason", "db migration")
        run("lock", "staging", "--reason", "load test")
        run("unlock", "staging", "--reason", "done")
        run("stale", "staging")  # the checkout button is older than 1h: a mark
        with GitHubEmulator() as emu:
            mirror(repo, emu)
            github = {"GITHUB_API_URL": emu.base_url, "GITHUB_TOKEN": emu.token}
            outage = emu.inject(502, times=1000)
            run("--repo", "acme/shop", "deploy", "staging", "HEAD", "--offline",
                "--reason", "hotfix for INC-7", extra=github)  # fmt: skip
            outage.times = 0
            run("--repo", "acme/shop", "sync", extra=github)
        journal = repo.root / ".git" / "commit-train" / "journal.sqlite3"
        with sqlite3.connect(journal) as conn:
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        conn.close()
        shutil.copyfile(journal, out)


if __name__ == "__main__":  # pragma: no cover
    main(Path(sys.argv[1]))
