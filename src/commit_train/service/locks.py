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
    is ours. The same holds when every answer is lost and the write ends in an error: the
    ref is read back (one request) and, when it points at our commit, the lock or unlock
    succeeded; only otherwise is the error reported. A 422 "Reference update failed" is
    retried by the ref calls themselves (``backends/github/refs.py``).

    One person locking many times at once (twenty runs of one workflow, say): the losers
    of the race find the holder is themselves, and answer that lock, as a later ``lock``
    by its holder does. The reason and ttl of such a later call are not applied: the lock
    stays as first taken (to change them, unlock and lock again).

``LocalLockStore`` (``backends/local/locks.py``): a ``locks`` table in the local journal
    (``.git/commit-train/``), one row per environment, read and written in one ``BEGIN
    IMMEDIATE`` transaction, so of many lockers exactly one finds the row missing. Unlocks
    are kept in ``lock_events``.

Both implement ``ports.LockStore`` and follow the same rules (``models.claim_lock``,
``models.check_unlock``); ``faces/wiring.py`` gives each backend its store.
"""

from __future__ import annotations

import dataclasses
import json
import secrets
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from commit_train.errors import CommitTrainError, GitHubError, RefusedError
from commit_train.models import (
    GLOBAL_LOCK,
    LOCKED,
    NOT_LOCK_HOLDER,
    Lock,
    RefTarget,
    Unlocked,
    check_lock_ttl,
    check_unlock,
    claim_lock,
    describe_lock,
    iso_utc,
    lock_refused,
    lock_scope,
    parse_time,
    possessive,
    utc_now,
)
from commit_train.ports import RefBackend

if TYPE_CHECKING:
    from commit_train.ports import LockStore

GLOBAL = GLOBAL_LOCK
NOT_HOLDER = NOT_LOCK_HOLDER  # RefusedError.reason of an unlock by someone else
LOCK_TITLE = "commit-train lock"
UNLOCK_TITLE = "commit-train unlock"
REF_PREFIX = "refs/commit-train/locks/"

where = lock_scope
describe = describe_lock
refused = lock_refused


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


# -- GitHub ---------------------------------------------------------------------------------


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

    def _written(self, ref: str, sha: str, write: Callable[[], bool]) -> bool:
        """``write()`` (a ref creation or move to our commit ``sha``); when it fails with
        GitHub's error, whether the ref points at ``sha`` now: every answer may have been
        lost after GitHub did the write. The error stands when the ref says otherwise,
        or cannot be read."""
        try:
            return write()
        except GitHubError as exc:
            try:
                target = self._backend.read_refs([ref]).get(ref)
            except CommitTrainError:
                target = None
            if target is not None and target.sha == sha:
                return True
            raise exc

    def acquire(
        self, environment: str, *, holder: str, reason: str, ttl: float | None = None
    ) -> Lock:
        check_lock_ttl(ttl)
        ref = lock_ref(environment)
        target, held = self._read(environment)
        now = self._clock()
        lock = claim_lock(held, environment, holder=holder, reason=reason, ttl=ttl, now=now)
        if lock is held:
            return lock
        message = lock_message(lock, ttl)
        if target is None:
            sha = self._backend.create_commit(message)
            won = self._written(ref, sha, lambda: self._backend.create_ref(ref, sha))
        else:  # an unlock record or an expired lock: take it over only if still there
            sha = self._backend.create_commit(message, parents=[target.sha])
            won = self._written(ref, sha, lambda: self._backend.update_ref(ref, sha, force=False))
        if not won:
            # someone else was faster, or our own first attempt did succeed and its
            # answer was lost: the ref's target tells which (our commit's sha is unique)
            now_target, now_held = self._read(environment)
            if now_target is None or now_target.sha != sha:
                if now_held is not None and not now_held.expired(self._clock()):
                    if now_held.holder == holder:
                        return now_held  # our own lock, taken by a call of ours at once
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
        lock = check_unlock(live, environment, by=by, force=force, reason=reason)
        forced = lock.holder != by
        message = unlock_message(lock, by=by, forced=forced, reason=reason, at=now)
        # a lock read from its ref carries the ref's commit as its token: the parent
        sha = self._backend.create_commit(message, parents=[lock.token])
        if not self._written(ref, sha, lambda: self._backend.update_ref(ref, sha, force=False)):
            again, _ = self._read(environment)
            if again is None or again.sha != sha:
                raise RefusedError(
                    f"{possessive(where(environment))} lock changed while unlocking",
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


if TYPE_CHECKING:  # mypy proves the store fits its port

    def _fits_the_port(store: GitHubLockStore) -> LockStore:
        return store
