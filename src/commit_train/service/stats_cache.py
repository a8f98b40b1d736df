"""``stats``' cache of what it has read from GitHub: deployments and the default branch.

Kept at ``$XDG_CACHE_HOME/commit-train/<host>/<owner>/<name>.sqlite3`` (``~/.cache`` without
``XDG_CACHE_HOME``), one SQLite file per repository. Deleting it is always safe: the next
``stats`` reads everything again.

Why a deployment read once can be kept
    ``stats`` uses a deployment's creation (time, environment, commit, payload, creator: GitHub
    never changes them) and its *first* finishing status (``success``, ``failure`` or
    ``error``; ``service.stats.outcome``). Statuses are only ever appended, oldest first, so
    once a deployment has a finishing status nothing GitHub may add later changes what
    ``stats`` sees: the ``inactive`` that ``auto_inactive`` adds when a newer deploy
    succeeds, or anything after it, comes after the first finish. Such a deployment is
    *finished* here and never read again. One retired (``inactive``) before it ever
    finished is finished too: it has no outcome and nothing revives it. Every other
    deployment (no status yet, ``queued``, ``in_progress``, ``pending``) is looked up again
    by its key on the next run (GitHub: 100 a request), unless a newer deployment of its
    environment has started since (``stats_read``: commit-train never runs an overtaken
    deploy).
Which deployments the cache holds
    Per environment, an interval of creation times read contiguously (``coverage``): every
    deployment of that environment created from ``low`` to ``high`` is in the cache. A new
    run reads from the newest deployment back until it passes the smallest ``high`` of the
    environments it reports; a window reaching before an environment's ``low`` reads that
    window afresh. GitHub orders deployments by creation and gives new ones the time they
    were created, so nothing new can appear inside a covered interval.
What it does not see
    A deployment deleted on GitHub (only an inactive one can be) stays in the cache, and so
    does a commit dropped from the default branch by a force-push below the newest commit
    the cache shares with the branch. Delete the cache file to forget them.
The default branch
    Commits never change; the cache keeps one chain from the branch's newest commit read
    back. A run reads the branch from its tip until it meets a cached commit, and takes the
    rest from the cache.
"""

from __future__ import annotations

import json
import os
import re
import sqlite3
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from commit_train.models import (
    Commit,
    Deployment,
    DeploymentStatus,
    DeployState,
    iso_utc,
    parse_time,
)

SCHEMA_VERSION = 1
EVERY = "*"  # the coverage key of a read that asked for every environment
_FINAL = (DeployState.SUCCESS, DeployState.FAILURE, DeployState.ERROR, DeployState.INACTIVE)
_SAFE = re.compile(r"[^A-Za-z0-9._-]+")


def default_cache_dir(environ: Mapping[str, str] | None = None) -> Path:
    """``$XDG_CACHE_HOME/commit-train``, else ``~/.cache/commit-train`` (XDG base dirs)."""
    env = os.environ if environ is None else environ
    base = env.get("XDG_CACHE_HOME") or ""
    root = Path(base) if base and Path(base).is_absolute() else Path.home() / ".cache"
    return root / "commit-train"


def cache_path(directory: Path, key: str) -> Path:
    """``host/owner/name`` -> ``directory/host/owner/name.sqlite3``, each part made safe."""
    parts = [_SAFE.sub("_", p).strip(".") or "_" for p in key.split("/") if p]
    return directory.joinpath(*parts[:-1], f"{parts[-1]}.sqlite3")


def finished(deployment: Deployment) -> bool:
    """Whether nothing GitHub may add later changes what ``stats`` reads of it."""
    return any(s.state in _FINAL for s in deployment.statuses)


@dataclass(frozen=True)
class Coverage:
    low: datetime  # every deployment created from here ...
    high: datetime  # ... to here is in the cache
    complete: bool  # ``low`` is the environment's first deployment: nothing is older


def _stamp(when: datetime) -> str:
    """A time as text that sorts as the time does (always with microseconds)."""
    return iso_utc(when, "microseconds")


def _dump(d: Deployment) -> str:
    return json.dumps(
        {
            "sha": d.sha,
            "creator": d.creator,
            "payload": dict(d.payload),
            "description": d.description,
            "url": d.url,
            "statuses": [
                [s.state.value, iso_utc(s.created_at), s.description, s.creator] for s in d.statuses
            ],
        },
        separators=(",", ":"),
    )


def _load(row: tuple[Any, ...]) -> Deployment:
    number, environment, created, data = row
    doc = json.loads(data)
    return Deployment(
        id=int(number),
        sha=doc["sha"],
        environment=environment,
        creator=doc["creator"],
        created_at=parse_time(created),
        payload=doc["payload"],
        description=doc["description"],
        statuses=tuple(
            DeploymentStatus(DeployState(state), parse_time(at), description, creator)
            for state, at, description, creator in doc["statuses"]
        ),
        url=doc["url"],
    )


class StatsCache:
    """One repository's cache file. Every method is one short SQLite transaction."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self._conn = sqlite3.connect(path)
        with self._conn:
            self._conn.executescript(
                """
                CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value TEXT NOT NULL);
                CREATE TABLE IF NOT EXISTS deployments (
                    id INTEGER PRIMARY KEY,
                    key TEXT NOT NULL,
                    environment TEXT NOT NULL,
                    created_at TEXT NOT NULL,
                    finished INTEGER NOT NULL,
                    data TEXT NOT NULL
                );
                CREATE INDEX IF NOT EXISTS deployments_by_time
                    ON deployments (environment, created_at);
                CREATE TABLE IF NOT EXISTS coverage (
                    environment TEXT PRIMARY KEY,
                    low TEXT NOT NULL,
                    high TEXT NOT NULL,
                    complete INTEGER NOT NULL
                );
                CREATE TABLE IF NOT EXISTS commits (
                    seq INTEGER PRIMARY KEY,
                    sha TEXT NOT NULL UNIQUE,
                    title TEXT NOT NULL,
                    author TEXT NOT NULL,
                    committed_at TEXT NOT NULL
                );
                """
            )
            found = self._conn.execute("SELECT value FROM meta WHERE name = 'version'").fetchone()
            if found is None or found[0] != str(SCHEMA_VERSION):
                for table in ("deployments", "coverage", "commits"):
                    self._conn.execute(f"DELETE FROM {table}")  # noqa: S608 (fixed names)
                self._conn.execute(
                    "INSERT OR REPLACE INTO meta VALUES ('version', ?)", (str(SCHEMA_VERSION),)
                )

    def close(self) -> None:
        self._conn.close()

    def __enter__(self) -> StatsCache:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- deployments --------------------------------------------------------------------------

    def coverage(self, environment: str) -> Coverage | None:
        row = self._conn.execute(
            "SELECT low, high, complete FROM coverage WHERE environment = ?", (environment,)
        ).fetchone()
        if row is None:
            return None
        return Coverage(parse_time(row[0]), parse_time(row[1]), bool(row[2]))

    def store(
        self,
        entries: Iterable[tuple[str, Deployment]],
        *,
        covered: Mapping[str, Coverage] | None = None,
    ) -> None:
        """Keep ``entries`` (a deployment read again replaces its older copy) and set the
        coverage of the environments in ``covered``, in one transaction."""
        with self._conn:
            self._conn.executemany(
                "INSERT OR REPLACE INTO deployments VALUES (?, ?, ?, ?, ?, ?)",
                (
                    (d.id, key, d.environment, _stamp(d.created_at), finished(d), _dump(d))
                    for key, d in entries
                ),
            )
            for name, span in (covered or {}).items():
                self._conn.execute(
                    "INSERT OR REPLACE INTO coverage VALUES (?, ?, ?, ?)",
                    (name, _stamp(span.low), _stamp(span.high), span.complete),
                )

    def _where(self, environments: Sequence[str]) -> tuple[str, tuple[str, ...]]:
        if not environments:
            return "", ()
        return f"environment IN ({','.join('?' * len(environments))})", tuple(environments)

    def deployments(self, environments: Sequence[str]) -> list[Deployment]:
        """The cached deployments of ``environments`` (none: every one), newest first."""
        where, args = self._where(environments)
        rows = self._conn.execute(
            "SELECT id, environment, created_at, data FROM deployments"  # noqa: S608 ('?' marks only)
            + (f" WHERE {where}" if where else "")
            + " ORDER BY created_at DESC, id DESC",
            args,
        ).fetchall()
        return [_load(r) for r in rows]

    def unfinished(self, environments: Sequence[str], *, since: datetime) -> list[tuple[int, str]]:
        """(id, key) of the cached deployments created from ``since`` not finished yet."""
        where, args = self._where(environments)
        rows = self._conn.execute(
            "SELECT id, key FROM deployments WHERE finished = 0 AND created_at >= ?"  # noqa: S608
            + (f" AND {where}" if where else "")
            + " ORDER BY id",
            (_stamp(since), *args),
        ).fetchall()
        return [(int(r[0]), str(r[1])) for r in rows]

    # -- the default branch -------------------------------------------------------------------

    def commits(self) -> list[Commit]:
        """The cached chain of the default branch, newest first."""
        rows = self._conn.execute(
            "SELECT sha, title, author, committed_at FROM commits ORDER BY seq DESC"
        ).fetchall()
        return [Commit(sha, title, author, parse_time(at)) for sha, title, author, at in rows]

    def replace_commits(self, chain: Sequence[Commit]) -> None:
        """Make ``chain`` (newest first) the cached default branch."""
        with self._conn:
            self._conn.execute("DELETE FROM commits")
            self._conn.executemany(
                "INSERT INTO commits VALUES (?, ?, ?, ?, ?)",
                (
                    (len(chain) - i, c.sha, c.title, c.author, iso_utc(c.committed_at))
                    for i, c in enumerate(chain)
                ),
            )


@contextmanager
def open_cache(key: str | None, directory: Path | None = None) -> Iterator[StatsCache | None]:
    """The cache of ``key`` (a ``DeploymentLedger.ledger_cache_key``), or None when the
    ledger is free to read (no key) or the cache cannot be opened (a read-only home, a
    corrupt file): ``stats`` then reads everything, as without a cache."""
    if key is None:
        yield None
        return
    path = cache_path(directory or default_cache_dir(), key)
    try:
        cache = StatsCache(path)
    except (OSError, sqlite3.Error):
        yield None
        return
    try:
        yield cache
    finally:
        cache.close()
