"""``LocalLockStore``: environment locks in the local journal (``ports.LockStore``).

A ``locks`` table, one row per environment (its primary key), read and written in one
``BEGIN IMMEDIATE`` transaction, so of many lockers exactly one finds the row missing and
inserts it. Unlocks are kept in ``lock_events``. What a lock means (who may take, keep or
break it) is ``models``' lock rules, the same as on GitHub.
"""

from __future__ import annotations

import dataclasses
import secrets
import sqlite3
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from commit_train.backends.local.journal import Journal, stamp
from commit_train.models import (
    GLOBAL_LOCK,
    Lock,
    RefTarget,
    Unlocked,
    check_lock_ttl,
    check_unlock,
    claim_lock,
    parse_time,
    utc_now,
)

if TYPE_CHECKING:
    from commit_train.ports import LockStore


class LocalLockStore:
    """Locks in the local journal: a ``locks`` table whose primary key is the environment."""

    def __init__(self, journal: Journal | Path, *, clock: Callable[[], datetime] = utc_now) -> None:
        self.journal = journal if isinstance(journal, Journal) else Journal(journal)
        self._clock = clock

    @staticmethod
    def _row(conn: sqlite3.Connection, environment: str) -> Lock | None:
        row = conn.execute(
            "SELECT environment, holder, reason, since, expires_at, token FROM locks"
            " WHERE environment = ?",
            (environment,),
        ).fetchone()
        return _lock_from_row(row) if row else None

    def acquire(
        self, environment: str, *, holder: str, reason: str, ttl: float | None = None
    ) -> Lock:
        check_lock_ttl(ttl)
        with self.journal.transaction() as conn:
            held = self._row(conn, environment)
            now = self._clock()
            lock = claim_lock(held, environment, holder=holder, reason=reason, ttl=ttl, now=now)
            if lock is held:
                return lock
            if held is not None:  # expired: the new lock replaces it
                conn.execute(
                    "DELETE FROM locks WHERE environment = ? AND token = ?",
                    (environment, held.token),
                )
            lock = dataclasses.replace(lock, token=secrets.token_hex(8))
            conn.execute(
                "INSERT INTO locks (environment, holder, reason, since, expires_at, token)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                (
                    environment,
                    holder,
                    reason,
                    stamp(lock.since),
                    stamp(lock.expires_at) if lock.expires_at else None,
                    lock.token,
                ),
            )
            return lock

    def release(
        self, environment: str, *, by: str, force: bool = False, reason: str = ""
    ) -> Unlocked:
        with self.journal.transaction() as conn:
            now = self._clock()
            held = self._row(conn, environment)
            live = held if held is not None and not held.expired(now) else None
            lock = check_unlock(live, environment, by=by, force=force, reason=reason)
            forced = lock.holder != by
            conn.execute(
                "DELETE FROM locks WHERE environment = ? AND token = ?",
                (environment, lock.token),
            )
            conn.execute(
                "INSERT INTO lock_events (environment, action, holder, by, forced, reason, at)"
                " VALUES (?, 'unlock', ?, ?, ?, ?, ?)",
                (environment, lock.holder, by, int(forced), reason, stamp(now)),
            )
        return Unlocked(lock=lock, by=by, forced=forced, reason=reason)

    def current(self, environments: Sequence[str]) -> list[Lock]:
        names = [GLOBAL_LOCK, *dict.fromkeys(e for e in environments if e != GLOBAL_LOCK)]
        with self.journal.reading() as conn:
            if conn is None:
                return []
            return [lock for name in names if (lock := self._row(conn, name)) is not None]

    def refs_in(self, backend: object, environments: Sequence[str]) -> list[str] | None:
        return None  # locks live in the journal, not in refs

    def from_refs(self, environments: Sequence[str], found: Mapping[str, RefTarget]) -> list[Lock]:
        return self.current(environments)


def _lock_from_row(row: tuple[Any, ...]) -> Lock:
    environment, holder, reason, since, expires_at, token = row
    return Lock(
        environment=environment,
        holder=holder,
        reason=reason,
        since=parse_time(since),
        expires_at=parse_time(expires_at) if expires_at else None,
        token=token,
    )


if TYPE_CHECKING:  # mypy proves the store fits its port

    def _fits_the_port(store: LocalLockStore) -> LockStore:
        return store
