"""The local journal owns its whole schema: ordered migrations, and an old journal opens.

``tests/data/journal-v1.sqlite3`` was written by commit-train before the schema moved into
one place (``tests/old_journal.py`` says how): schema version 1, with the lock, stale-mark
and sync tables its modules created on first use. Opening it now migrates it in place, and
every command sees its old rows.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from commit_train.backends.local.backend import LocalBackend
from commit_train.backends.local.journal import MIGRATIONS, SCHEMA_VERSION
from commit_train.faces.cli.main import cli
from commit_train.service.offline import entries, pending
from tests.gitrepos import Repo
from tests.old_journal import make_repo

OLD_JOURNAL = Path(__file__).parent / "data" / "journal-v1.sqlite3"
TABLES = [
    "checks",
    "deployment_statuses",
    "deployments",
    "journal_sync",
    "lock_events",
    "locks",
    "stale_marks",
    "sync_claims",
]
ENV = {
    "GITHUB_TOKEN": None,
    "GH_TOKEN": None,
    "COMMIT_TRAIN_BACKEND": None,
    "GITHUB_API_URL": None,
    "GITHUB_ACTOR": "carol",
    "NO_COLOR": None,
}


def run(root: Path, *args: str) -> Result:
    return CliRunner().invoke(cli, ["-C", str(root), *args], env=ENV, prog_name="commit-train")


def tables(path: Path) -> list[str]:
    with sqlite3.connect(path) as conn:
        rows = conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table'"
            " AND name NOT LIKE 'sqlite_%' ORDER BY name"
        ).fetchall()
    conn.close()
    return [name for (name,) in rows]


def counts(path: Path) -> dict[str, int]:
    """Rows per table, read without commit-train (so without migrating); a table the
    journal's version does not have yet counts 0."""
    present = set(tables(path))
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as conn:
        found = {
            t: conn.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0] if t in present else 0
            for t in TABLES
        }
    conn.close()
    return found


def version(path: Path) -> int:
    with sqlite3.connect(path) as conn:
        found = int(conn.execute("PRAGMA user_version").fetchone()[0])
    conn.close()
    return found


@pytest.fixture
def old(tmp_path: Path) -> tuple[Repo, list[str], Path]:
    """The old journal's repository, with the old journal in its ``.git/``."""
    repo, shas = make_repo(tmp_path / "shop")
    journal = repo.root / ".git" / "commit-train" / "journal.sqlite3"
    journal.parent.mkdir(parents=True)
    shutil.copyfile(OLD_JOURNAL, journal)
    return repo, shas, journal


def test_the_migrations_are_numbered_in_order_and_make_every_table(tmp_path: Path) -> None:
    assert [number for number, _ in MIGRATIONS] == list(range(1, len(MIGRATIONS) + 1))
    assert SCHEMA_VERSION == MIGRATIONS[-1][0]
    repo = Repo(tmp_path / "shop")
    repo.commit("first")
    backend = LocalBackend(repo.root)
    with backend.journal.transaction():
        pass
    assert tables(backend.journal_path) == TABLES
    assert version(backend.journal_path) == SCHEMA_VERSION


def test_a_journal_written_before_the_schema_moved_opens_with_all_its_rows(
    old: tuple[Repo, list[str], Path],
) -> None:
    repo, shas, journal = old
    assert version(journal) == 1
    before = counts(journal)
    # the old journal has rows in every table it knew (sync_claims came with version 3)
    assert all(n for t, n in before.items() if t != "sync_claims"), before

    status = run(repo.root, "status", "--json")
    assert status.exit_code == 0, status.output
    assert version(journal) == SCHEMA_VERSION
    assert counts(journal) == before
    assert tables(journal) == TABLES
    snapshot = json.loads(status.stdout)
    assert snapshot["live"]["staging"]["sha"] == shas[1]
    assert snapshot["live"]["production"]["sha"] == shas[0]
    rows = {row["sha"]: row for row in snapshot["commits"]}
    assert [c["state"] for c in rows[shas[2]]["checks"]["checks"]] == ["success"]
    assert rows[shas[2]]["in_flight"] == [{"id": 4, "environment": "staging", "state": "queued"}]

    history = run(repo.root, "history", "--json")
    assert history.exit_code == 0, history.output
    deployed = {
        env["name"]: [(d["id"], d["state"]) for d in env["deployments"]]
        for env in json.loads(history.stdout)["environments"]
    }
    assert deployed == {
        "production": [(2, "success")],
        "staging": [(4, "queued"), (3, "success"), (1, "inactive")],
    }

    locks = run(repo.root, "locks", "--json")
    assert locks.exit_code == 0, locks.output
    [held] = json.loads(locks.stdout)["locks"]
    assert (held["environment"], held["holder"], held["reason"]) == (
        "production",
        "carol",
        "db migration",
    )

    # the stale mark still covers the commit reminded before: nothing is reminded again
    stale = run(repo.root, "stale", "staging", "--dry-run", "--json")
    assert stale.exit_code == 0, stale.output
    [staging] = json.loads(stale.stdout)["environments"]
    assert [c["sha"] for c in staging["stale"]] == [shas[2]]
    assert staging["reminded"] == []

    # the offline deploy is known to be on GitHub already
    local = LocalBackend(repo.root)
    [entry] = entries(local)
    assert (entry.deployment.id, entry.github_id, entry.statuses_synced) == (4, 1005, 1)
    assert pending(local) == []


def test_commands_write_to_the_migrated_tables(old: tuple[Repo, list[str], Path]) -> None:
    repo, _shas, journal = old
    before = counts(journal)
    assert run(repo.root, "unlock", "production", "--reason", "migrated").exit_code == 0
    assert run(repo.root, "lock", "staging", "--reason", "after the upgrade").exit_code == 0
    after = counts(journal)
    assert after["lock_events"] == before["lock_events"] + 1
    assert after["locks"] == before["locks"]  # one lock ended, one taken
    locks = json.loads(run(repo.root, "locks", "--json").stdout)["locks"]
    assert [(lk["environment"], lk["reason"]) for lk in locks] == [("staging", "after the upgrade")]


def test_a_version_1_journal_without_the_later_tables_gets_them(tmp_path: Path) -> None:
    repo = Repo(tmp_path / "shop")
    repo.commit("first")
    journal = repo.root / ".git" / "commit-train" / "journal.sqlite3"
    journal.parent.mkdir(parents=True)
    with sqlite3.connect(journal) as conn:
        for statement in MIGRATIONS[0][1].split(";"):
            conn.execute(statement)
        conn.execute("PRAGMA user_version = 1")
    conn.close()
    locked = run(repo.root, "lock", "production", "--reason", "db migration")
    assert locked.exit_code == 0, locked.output
    assert tables(journal) == TABLES
    assert version(journal) == SCHEMA_VERSION


def test_a_journal_from_a_newer_commit_train_is_refused_with_one_line(
    old: tuple[Repo, list[str], Path],
) -> None:
    repo, _shas, journal = old
    with sqlite3.connect(journal) as conn:
        conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    conn.close()
    before = counts(journal)
    result = run(repo.root, "history")
    assert result.exit_code == 1
    assert result.stdout == ""
    assert result.stderr == (
        f"error: the deploy journal {journal.resolve()} has schema version "
        f"{SCHEMA_VERSION + 1}, newer than this commit-train understands ({SCHEMA_VERSION}); "
        "upgrade commit-train\n"
    )
    assert version(journal) == SCHEMA_VERSION + 1  # left as it was
    assert counts(journal) == before
