"""The local journal: one SQLite file in ``<git-dir>/commit-train/journal.sqlite3``, and
its whole schema.

Every table of the journal is created here, by ``MIGRATIONS``: numbered scripts applied in
order, the ones newer than the file's ``PRAGMA user_version``, all in one ``BEGIN
IMMEDIATE`` transaction when a connection opens it; the version is then the newest one. A
journal from a newer commit-train is refused with one line rather than misread.

- version 1: ``deployments``, ``deployment_statuses`` and ``checks`` (``LocalBackend``);
- version 2: ``locks`` and ``lock_events`` (``LocalLockStore``), ``stale_marks``
  (``LocalStaleState``) and ``journal_sync`` (``sync``). Until then each was created on
  first use by the module that wrote it, so a version 1 journal may hold some of them
  already, rows and all: this step creates only the missing ones.
- version 3: ``sync_claims`` (``sync``): which run is replaying an offline deploy right now,
  so two ``sync`` runs at once never replay the same one.

The journal is safe for several processes at once: WAL mode, a busy timeout, and every write
in one ``BEGIN IMMEDIATE`` transaction. Reads never create it, so a dry run or a ``status``
leaves the repository untouched.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from commit_train.errors import LedgerError

JOURNAL = Path("commit-train") / "journal.sqlite3"

_VERSION_1 = """
CREATE TABLE deployments (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    sha TEXT NOT NULL,
    environment TEXT NOT NULL,
    creator TEXT NOT NULL,
    created_at TEXT NOT NULL,
    payload TEXT NOT NULL,
    description TEXT NOT NULL,
    production INTEGER NOT NULL
);
CREATE INDEX deployments_by_environment ON deployments (environment, id);
CREATE INDEX deployments_by_sha ON deployments (sha, id);
CREATE TABLE deployment_statuses (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    deployment_id INTEGER NOT NULL REFERENCES deployments (id),
    state TEXT NOT NULL,
    created_at TEXT NOT NULL,
    description TEXT NOT NULL,
    creator TEXT NOT NULL,
    log_url TEXT,
    environment_url TEXT
);
CREATE INDEX statuses_by_deployment ON deployment_statuses (deployment_id, id);
CREATE TABLE checks (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    sha TEXT NOT NULL,
    name TEXT NOT NULL,
    state TEXT NOT NULL,
    created_at TEXT NOT NULL,
    description TEXT,
    url TEXT
);
CREATE INDEX checks_by_sha ON checks (sha, name, id);
"""

_VERSION_2 = """
CREATE TABLE IF NOT EXISTS locks (
    environment TEXT PRIMARY KEY,
    holder TEXT NOT NULL,
    reason TEXT NOT NULL,
    since TEXT NOT NULL,
    expires_at TEXT,
    token TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS lock_events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    environment TEXT NOT NULL,
    action TEXT NOT NULL,
    holder TEXT NOT NULL,
    by TEXT NOT NULL,
    forced INTEGER NOT NULL,
    reason TEXT NOT NULL,
    at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS stale_marks (
    environment TEXT PRIMARY KEY,
    sha TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS journal_sync (
    deployment_id INTEGER PRIMARY KEY REFERENCES deployments (id),
    github_id INTEGER NOT NULL,
    statuses_synced INTEGER NOT NULL,
    synced_at TEXT NOT NULL
);
"""

_VERSION_3 = """
CREATE TABLE sync_claims (
    deployment_id INTEGER PRIMARY KEY REFERENCES deployments (id),
    claimed_by TEXT NOT NULL,
    claimed_at TEXT NOT NULL
);
"""

# (version, script): applied in order, each once; never edit one that has shipped, add one
MIGRATIONS: tuple[tuple[int, str], ...] = (
    (1, _VERSION_1),
    (2, _VERSION_2),
    (3, _VERSION_3),
)
SCHEMA_VERSION = MIGRATIONS[-1][0]


def stamp(when: datetime) -> str:
    """How the journal writes a time: ISO 8601 in UTC, to the microsecond."""
    return when.astimezone(UTC).isoformat(timespec="microseconds")


class Journal:
    """The SQLite journal file: every connection to it goes through here.

    Each connection gets a busy timeout, WAL mode and foreign keys, and the schema is
    brought up to ``SCHEMA_VERSION`` (``MIGRATIONS``) before any use: a journal from a newer
    commit-train is refused rather than misread. ``sqlite3`` errors become ``LedgerError``.
    """

    def __init__(self, path: Path) -> None:
        self.path = Path(path)

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """One write transaction (``BEGIN IMMEDIATE``), creating the journal if missing:
        committed when the block ends, rolled back when it raises."""
        conn = self._open()
        try:
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")
        except sqlite3.Error as exc:
            raise LedgerError(
                f"writing the deploy journal failed ({exc})", fix="retry the command"
            ) from None
        finally:
            conn.close()

    @contextmanager
    def reading(self) -> Iterator[sqlite3.Connection | None]:
        """A read connection, or None when there is no journal yet (reads never create it,
        so a dry run or a ``status`` leaves the repository untouched)."""
        if not self.path.exists():
            yield None
            return
        conn = self._open()
        try:
            yield conn
        except sqlite3.Error as exc:
            raise LedgerError(f"reading the deploy journal failed ({exc})") from None
        finally:
            conn.close()

    def _open(self) -> sqlite3.Connection:
        path = self.path
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise LedgerError(
                f"cannot create {path.parent} ({exc.strerror})",
                fix="check the permissions of the repository's .git folder",
            ) from None
        try:
            conn = sqlite3.connect(path, timeout=30.0, isolation_level=None)
            try:
                conn.execute("PRAGMA busy_timeout = 30000")
                _use_wal(conn)
                conn.execute("PRAGMA foreign_keys = ON")
                self._migrate(conn)
            except BaseException:
                conn.close()
                raise
        except sqlite3.DatabaseError as exc:
            raise LedgerError(
                f"the deploy journal {path} cannot be opened ({exc})",
                fix="move the file away to start a new journal",
            ) from None
        return conn

    def _migrate(self, conn: sqlite3.Connection) -> None:
        version = _version(conn)
        if version == SCHEMA_VERSION:
            return
        self._refuse_newer(version)
        conn.execute("BEGIN IMMEDIATE")
        try:
            # another process may have migrated it while we waited for the lock
            version = _version(conn)
            self._refuse_newer(version)
            for number, script in MIGRATIONS:
                if number > version:
                    for statement in script.split(";"):
                        if statement.strip():
                            conn.execute(statement)
            conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise

    def _refuse_newer(self, version: int) -> None:
        if version > SCHEMA_VERSION:
            raise LedgerError(
                f"the deploy journal {self.path} has schema version {version}, "
                f"newer than this commit-train understands ({SCHEMA_VERSION})",
                fix="upgrade commit-train",
            )


def _version(conn: sqlite3.Connection) -> int:
    return int(conn.execute("PRAGMA user_version").fetchone()[0])


def _use_wal(conn: sqlite3.Connection) -> None:
    """Switch a new journal to WAL (persistent, so once is enough).

    The switch needs the database to itself, and SQLite answers "locked" at once instead of
    waiting when another process holds it (two first deploys at the same moment): retry.
    """
    for attempt in range(200):
        try:
            if conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal":
                return
            conn.execute("PRAGMA journal_mode = WAL")
        except sqlite3.OperationalError:
            if attempt == 199:
                raise
            time.sleep(0.05)
