"""Environment locks: stop other deploys while something risky happens.

A lock names its environment (or ``*``, the global lock over all environments), its holder,
a reason, since when, and optionally when it expires (a ttl). An expired lock stops
blocking and the next locker replaces it. Only the holder unlocks, or anyone with
``force`` and a reason, which is kept with the unlock.

Two stores with the same semantics:

``GitHubLockStore``: in the repository itself, so every runner and every person sees it.
    A lock is the ref ``refs/commit-train/locks/env/<environment>`` (the global lock:
    ``refs/commit-train/locks/global``) pointing at a commit object that carries no files,
    only a message: a title line and the lock as JSON. Taking a free lock is one atomic
    GitHub operation: ``POST /git/refs`` fails when the ref exists, so of many lockers
    exactly one wins. A ref that exists but holds an unlock record or an expired lock is
    taken over by a compare-and-swap: a new lock commit whose parent is the current one,
    and ``PATCH`` without ``force``, which GitHub accepts only as a fast-forward, so only
    while the ref still points at that parent. Unlocking moves the ref the same way to an
    unlock record (who, forced or not, why), so ``git log`` on the ref is the audit trail.
    Requests: lock 3 (read, commit, create or move), unlock 3, a refused lock 1 (or 2 after
    a lost race), reading the locks 1 (one GraphQL query for every environment).

    The retried request: the transport retries a ``POST /git/refs`` whose answer was lost,
    and GitHub then says "already exists" about our own ref. Every lock commit holds a
    random nonce, so its sha is ours alone: when the ref points at our commit, the lock
    is ours.

``LocalLockStore``: a ``locks`` table in the local journal (``.git/commit-train/``),
    one row per environment, read and written in one ``BEGIN IMMEDIATE`` transaction over
    the ledger's connection (``ledger.Journal``), so of many lockers exactly one finds the
    row missing. Unlocks are kept in ``lock_events``.
"""

from __future__ import annotations

import dataclasses
import json
import secrets
import sqlite3
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Protocol

from commit_train.backends.local.journal import Journal, stamp
from commit_train.core.gate import NOT_LOCK_HOLDER, describe_lock
from commit_train.errors import NotFoundError, RefusedError, UsageError
from commit_train.models import Lock, RefTarget, iso_utc, parse_time, utc_now

GLOBAL = "*"
LOCKED = "locked"  # the gate's reason code, and RefusedError.reason of a refused lock
NOT_HOLDER = NOT_LOCK_HOLDER  # RefusedError.reason of an unlock by someone else
LOCK_TITLE = "commit-train lock"
UNLOCK_TITLE = "commit-train unlock"
REF_PREFIX = "refs/commit-train/locks/"


def where(environment: str) -> str:
    """``production`` or ``all environments``: how messages name a lock's scope."""
    return "all environments" if environment == GLOBAL else environment


def describe(lock: Lock) -> str:
    """``production is locked by alice since 2026-11-25 10:00 UTC: reason``."""
    return describe_lock(lock)


def blocking(locks: Sequence[Lock], environment: str, *, actor: str, now: datetime) -> Lock | None:
    """The lock that stops ``actor`` deploying to ``environment``, if any.

    The environment's own lock or the global one; never an expired one, never the actor's
    own (the holder can still deploy).
    """
    for lock in locks:
        if lock.environment not in (environment, GLOBAL) or lock.expired(now):
            continue
        if lock.holder != actor:
            return lock
    return None


def refused(lock: Lock) -> RefusedError:
    return RefusedError(
        describe(lock),
        reason=LOCKED,
        fix=f"ask {lock.holder} to unlock, or wait"
        + (" for it to expire" if lock.expires_at else ""),
    )


@dataclass(frozen=True)
class Unlocked:
    """What ``release`` did: the lock it ended, and whether someone else forced it."""

    lock: Lock
    by: str
    forced: bool
    reason: str


class LockStore(Protocol):
    """Where locks live; ``GitHubLockStore`` and ``LocalLockStore`` implement it."""

    def acquire(
        self, environment: str, *, holder: str, reason: str, ttl: float | None = None
    ) -> Lock:
        """Take the lock, or raise ``RefusedError`` (reason ``locked``) naming the holder.

        Taking a lock one already holds refreshes nothing and answers the held lock.
        """
        ...

    def release(
        self, environment: str, *, by: str, force: bool = False, reason: str = ""
    ) -> Unlocked:
        """End the lock: the holder, or anyone with ``force`` and a ``reason``."""
        ...

    def current(self, environments: Sequence[str]) -> list[Lock]:
        """The locks of ``environments`` and the global one, expired ones included."""
        ...

    def refs_in(self, backend: object, environments: Sequence[str]) -> list[str] | None:
        """The refs holding these locks when they live in ``backend``'s repository, so a
        caller can read them with other facts in the same request (the gate's one query)
        and hand what it found to ``from_refs``; None when the locks live elsewhere (then
        ask ``current``)."""
        ...

    def from_refs(self, environments: Sequence[str], found: Mapping[str, RefTarget]) -> list[Lock]:
        """``current`` over the refs of ``refs_in`` already read (``found``: those that
        exist); a store without refs reads its own place."""
        ...


def _check_ttl(ttl: float | None) -> None:
    if ttl is not None and ttl <= 0:
        raise UsageError("a lock's ttl must be positive", fix="give it like 30m, 2h or 1d")


def _claim(
    held: Lock | None,
    environment: str,
    *,
    holder: str,
    reason: str,
    ttl: float | None,
    now: datetime,
) -> Lock:
    """What taking a lock over ``held`` (the stored one, if any) comes to: ``held`` itself
    when it is live and ``holder``'s own (nothing to write), else a new lock from ``now``
    (no token yet: the store gives it one) replacing an expired one. ``RefusedError``
    when someone else holds it and it has not expired."""
    if held is not None and not held.expired(now):
        if held.holder == holder:
            return held
        raise refused(held)
    return Lock(
        environment=environment,
        holder=holder,
        reason=reason,
        since=now,
        expires_at=now + timedelta(seconds=ttl) if ttl else None,
    )


def _check_release(
    lock: Lock | None, environment: str, *, by: str, force: bool, reason: str
) -> Lock:
    if lock is None:
        raise NotFoundError(f"{where(environment)} is not locked", fix="nothing to unlock")
    if lock.holder != by:
        if not force:
            raise RefusedError(
                f"{describe(lock)}; only {lock.holder} can unlock it",
                reason=NOT_HOLDER,
                fix="ask them, or pass --force with --reason to break the lock",
            )
        if not reason.strip():
            raise UsageError(
                f"breaking {lock.holder}'s lock needs a reason", fix='pass --reason "..."'
            )
    return lock


# -- GitHub ---------------------------------------------------------------------------------


class RefBackend(Protocol):
    """The parts of ``GitHubBackend`` the lock store uses (refs and commit objects)."""

    def create_ref(self, ref: str, sha: str) -> bool: ...

    def update_ref(self, ref: str, sha: str, *, force: bool = False) -> bool: ...

    def create_commit(self, message: str, *, parents: Sequence[str] = ()) -> str: ...

    def read_refs(self, refs: Sequence[str]) -> dict[str, RefTarget]: ...


def lock_ref(environment: str) -> str:
    """The ref of an environment's lock.

    A ref component may not end in ``.lock`` or ``.`` nor hold ``..``; such a name has
    its dots written ``%2E`` (environment names cannot hold ``%``, so this stays one-to-one).
    """
    if environment == GLOBAL:
        return REF_PREFIX + "global"
    name = environment
    if name.endswith((".lock", ".")) or ".." in name:
        name = name.replace(".", "%2E")
    return REF_PREFIX + "env/" + name


def lock_message(lock: Lock, ttl: float | None) -> str:
    document = {
        "environment": lock.environment,
        "holder": lock.holder,
        "reason": lock.reason,
        "since": iso_utc(lock.since, "seconds"),
        "ttl_seconds": ttl,
        "expires_at": iso_utc(lock.expires_at, "seconds") if lock.expires_at else None,
        "nonce": secrets.token_hex(8),
    }
    return f"{LOCK_TITLE}: {where(lock.environment)}\n\n{json.dumps(document, sort_keys=True)}\n"


def unlock_message(lock: Lock, *, by: str, forced: bool, reason: str, at: datetime) -> str:
    document = {
        "environment": lock.environment,
        "unlocked_by": by,
        "holder": lock.holder,
        "forced": forced,
        "reason": reason,
        "at": iso_utc(at, "seconds"),
        "nonce": secrets.token_hex(8),
    }
    return f"{UNLOCK_TITLE}: {where(lock.environment)}\n\n{json.dumps(document, sort_keys=True)}\n"


def parse_lock(target: RefTarget) -> Lock | None:
    """The lock a lock ref's commit holds, or None for an unlock record (or junk)."""
    title, _, body = target.message.partition("\n")
    if not title.startswith(LOCK_TITLE + ":"):
        return None
    try:
        data: Any = json.loads(body.strip())
        expires = data.get("expires_at")
        return Lock(
            environment=str(data["environment"]),
            holder=str(data["holder"]),
            reason=str(data.get("reason") or ""),
            since=parse_time(str(data["since"])),
            expires_at=parse_time(str(expires)) if expires else None,
            token=target.sha,
        )
    except (ValueError, KeyError, TypeError, AttributeError):
        return None


class GitHubLockStore:
    """Locks as refs in the GitHub repository (see the module docstring)."""

    def __init__(self, backend: RefBackend, *, clock: Callable[[], datetime] = utc_now) -> None:
        self._backend = backend
        self._clock = clock

    def _read(self, environment: str) -> tuple[RefTarget | None, Lock | None]:
        ref = lock_ref(environment)
        target = self._backend.read_refs([ref]).get(ref)
        return target, (parse_lock(target) if target is not None else None)

    def acquire(
        self, environment: str, *, holder: str, reason: str, ttl: float | None = None
    ) -> Lock:
        _check_ttl(ttl)
        ref = lock_ref(environment)
        target, held = self._read(environment)
        lock = _claim(held, environment, holder=holder, reason=reason, ttl=ttl, now=self._clock())
        if lock is held:
            return lock
        message = lock_message(lock, ttl)
        if target is None:
            sha = self._backend.create_commit(message)
            won = self._backend.create_ref(ref, sha)
        else:  # an unlock record or an expired lock: take it over only if still there
            sha = self._backend.create_commit(message, parents=[target.sha])
            won = self._backend.update_ref(ref, sha, force=False)
        if not won:
            # someone else was faster, or our own first attempt did succeed and its
            # answer was lost: the ref's target tells which (our commit's sha is unique)
            now_target, now_held = self._read(environment)
            if now_target is None or now_target.sha != sha:
                if now_held is not None and not now_held.expired(self._clock()):
                    raise refused(now_held)
                raise RefusedError(
                    f"{where(environment)} changed hands while locking",
                    reason=LOCKED,
                    fix="run the lock command again",
                )
        return dataclasses.replace(lock, token=sha)

    def release(
        self, environment: str, *, by: str, force: bool = False, reason: str = ""
    ) -> Unlocked:
        ref = lock_ref(environment)
        _, held = self._read(environment)
        now = self._clock()
        live = held if held is not None and not held.expired(now) else None
        lock = _check_release(live, environment, by=by, force=force, reason=reason)
        forced = lock.holder != by
        message = unlock_message(lock, by=by, forced=forced, reason=reason, at=now)
        # a lock read from its ref carries the ref's commit as its token: the parent
        sha = self._backend.create_commit(message, parents=[lock.token])
        if not self._backend.update_ref(ref, sha, force=False):
            again, _ = self._read(environment)
            if again is None or again.sha != sha:
                raise RefusedError(
                    f"{where(environment)}'s lock changed while unlocking",
                    reason=LOCKED,
                    fix="look at commit-train locks and try again",
                )
        return Unlocked(lock=lock, by=by, forced=forced, reason=reason)

    def current(self, environments: Sequence[str]) -> list[Lock]:
        return self.from_refs(environments, self._backend.read_refs(_lock_refs(environments)))

    def refs_in(self, backend: object, environments: Sequence[str]) -> list[str] | None:
        return _lock_refs(environments) if backend is self._backend else None

    def from_refs(self, environments: Sequence[str], found: Mapping[str, RefTarget]) -> list[Lock]:
        locks = []
        for ref in _lock_refs(environments):
            if ref in found:
                lock = parse_lock(found[ref])
                if lock is not None:
                    locks.append(lock)
        return locks


def _lock_refs(environments: Sequence[str]) -> list[str]:
    """The global lock's ref, then each environment's (once each)."""
    names = [GLOBAL, *dict.fromkeys(e for e in environments if e != GLOBAL)]
    return [lock_ref(name) for name in names]


# -- the local journal ----------------------------------------------------------------------

_LOCAL_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS locks ("
    " environment TEXT PRIMARY KEY, holder TEXT NOT NULL, reason TEXT NOT NULL,"
    " since TEXT NOT NULL, expires_at TEXT, token TEXT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS lock_events ("
    " id INTEGER PRIMARY KEY AUTOINCREMENT, environment TEXT NOT NULL, action TEXT NOT NULL,"
    " holder TEXT NOT NULL, by TEXT NOT NULL, forced INTEGER NOT NULL, reason TEXT NOT NULL,"
    " at TEXT NOT NULL)",
)


class LocalLockStore:
    """Locks in the local journal: a ``locks`` table whose primary key is the environment.

    Every connection is the ledger's (``Journal``: WAL, busy timeout, schema version);
    the two tables are this module's, created with ``IF NOT EXISTS`` when a lock is
    first written. Each write is one ``BEGIN IMMEDIATE`` transaction, so of many lockers
    exactly one sees the row missing and inserts it.
    """

    def __init__(self, journal: Journal | Path, *, clock: Callable[[], datetime] = utc_now) -> None:
        self.journal = journal if isinstance(journal, Journal) else Journal(journal)
        self._clock = clock

    def _row(self, conn: sqlite3.Connection, environment: str) -> Lock | None:
        try:
            row = conn.execute(
                "SELECT environment, holder, reason, since, expires_at, token FROM locks"
                " WHERE environment = ?",
                (environment,),
            ).fetchone()
        except sqlite3.OperationalError:  # a journal where no lock was taken yet
            return None
        return _lock_from_row(row) if row else None

    def acquire(
        self, environment: str, *, holder: str, reason: str, ttl: float | None = None
    ) -> Lock:
        _check_ttl(ttl)
        with self.journal.transaction() as conn:
            for statement in _LOCAL_SCHEMA:
                conn.execute(statement)
            held = self._row(conn, environment)
            now = self._clock()
            lock = _claim(held, environment, holder=holder, reason=reason, ttl=ttl, now=now)
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
            for statement in _LOCAL_SCHEMA:
                conn.execute(statement)
            now = self._clock()
            held = self._row(conn, environment)
            live = held if held is not None and not held.expired(now) else None
            lock = _check_release(live, environment, by=by, force=force, reason=reason)
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
        names = [GLOBAL, *dict.fromkeys(e for e in environments if e != GLOBAL)]
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


def store_for(backend: object, *, clock: Callable[[], datetime] = utc_now) -> LockStore | None:
    """The lock store that goes with a backend: refs on GitHub, the journal locally.

    Duck-typed so that this module never imports PyGithub; None for a backend with
    neither (locks are then not kept).
    """
    if all(
        hasattr(backend, name)
        for name in ("create_ref", "update_ref", "create_commit", "read_refs")
    ):
        return GitHubLockStore(backend, clock=clock)  # type: ignore[arg-type]
    journal = getattr(backend, "journal", None)
    if isinstance(journal, Journal):
        return LocalLockStore(journal, clock=clock)
    return None


def lock_json(lock: Lock, now: datetime) -> dict[str, Any]:
    """One lock as the ``locks --json`` and ``lock --json`` documents show it."""
    return {
        "environment": "*" if lock.is_global else lock.environment,
        "global": lock.is_global,
        "holder": lock.holder,
        "reason": lock.reason,
        "since": iso_utc(lock.since, "seconds"),
        "expires_at": iso_utc(lock.expires_at, "seconds") if lock.expires_at else None,
        "expired": lock.expired(now),
    }


def locks_json(locks: Sequence[Lock], now: datetime) -> dict[str, Any]:
    """``commit-train locks --json``: ``{"version": 1, "locks": [...]}``."""
    return {"version": 1, "locks": [lock_json(lock, now) for lock in locks]}
