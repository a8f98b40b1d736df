"""Stale-commit reminders: commits merged but not deployed for too long.

For each environment with ``stale-after``, the commits of the default branch newer than
its live commit and older than the threshold are stale; a reminder lists each (sha, title,
author, age), grouped by author. An environment that has never been deployed, or has no
threshold, gets none, and a locked environment stays quiet (its lock says why nothing
ships).

Deduplicated: a commit is reminded once when it crosses the threshold, not on every
scheduled run, and only once the reminder reached someone: ``scan`` hands each
environment's due commits to ``deliver`` and moves the mark only when it answers True (a
notice delivered to the environment's route). With no route, a route that leaves out
``stale-commits``, or a webhook that fails, the commits stay due and the next run reminds
them. The state is one *mark* per environment: the newest commit already
reminded. It lives beside the locks, as the ref ``refs/commit-train/stale/env/<name>``
pointing at that default-branch commit, so every runner sees it and it costs no object of
its own (a local repository keeps it in the journal's ``stale_marks`` table:
``backends.local.marks.LocalStaleState``). On the next
scan, stale commits at or older than the mark are not reminded again; once a deploy takes
the environment past the mark, the mark no longer covers anything and newer commits are
reminded when they cross.

Requests on GitHub: one GraphQL query reads the history, every environment's live
deployment, the locks and the marks; moving the mark is one more request (create or move
the ref), made only when something new was reminded and delivered. A scan over one environment is at
most 2 requests; over several, 1 plus one per environment reminded in that scan.

``scan`` is what both the ``stale`` command and the ``stale-commit-notifier`` action call.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import TYPE_CHECKING, Any

from commit_train.config import Config
from commit_train.core.text import duration
from commit_train.models import BranchState, Commit, Lock, iso_utc, utc_now
from commit_train.ports import BranchRefs, StaleState
from commit_train.service.locks import GLOBAL, lock_ref, parse_lock

MARK_PREFIX = "refs/commit-train/stale/"
HISTORY_DEPTH = 100  # how many commits of the default branch a scan looks at


def mark_ref(environment: str) -> str:
    return MARK_PREFIX + lock_ref(environment).removeprefix("refs/commit-train/locks/")


@dataclass(frozen=True)
class StaleCommit:
    sha: str
    title: str
    author: str
    committed_at: datetime
    age_seconds: float

    @property
    def age(self) -> str:
        return duration(self.age_seconds)


@dataclass(frozen=True)
class EnvironmentStale:
    """One environment's answer: every stale commit, and the ones to remind now."""

    environment: str
    threshold_seconds: float | None
    live_sha: str | None
    stale: tuple[StaleCommit, ...]
    remind: tuple[StaleCommit, ...]  # due: stale and not reminded before
    quiet: str | None  # why nothing is reminded: "locked", "never-deployed", "no-threshold"
    lock: Lock | None = None
    sent: bool = False  # the reminder of ``remind`` was delivered (never in a dry run)

    @property
    def reminded(self) -> tuple[StaleCommit, ...]:
        """The commits this run really reminded someone of."""
        return self.remind if self.sent else ()

    def by_author(
        self, commits: Sequence[StaleCommit] | None = None
    ) -> dict[str, list[StaleCommit]]:
        grouped: dict[str, list[StaleCommit]] = {}
        for commit in self.remind if commits is None else commits:
            grouped.setdefault(commit.author or "unknown", []).append(commit)
        return grouped


@dataclass(frozen=True)
class StaleReport:
    repo: str
    scanned_at: datetime
    environments: tuple[EnvironmentStale, ...]


class GitHubStaleState:
    """Marks as refs, read together with the history in one GraphQL query (logic over the
    ``BranchRefs`` port; the local journal's marks are ``backends.local.marks``)."""

    def __init__(self, backend: BranchRefs) -> None:
        self._backend = backend

    def read(
        self, environments: Sequence[str], *, limit: int
    ) -> tuple[BranchState, list[Lock], dict[str, str]]:
        lock_refs = [lock_ref(GLOBAL), *(lock_ref(e) for e in environments)]
        marks = {mark_ref(e): e for e in environments}
        state = self._backend.branch_state(
            environments=list(environments), refs=[*lock_refs, *marks], limit=limit
        )
        locks = [
            lock
            for ref in lock_refs
            if ref in state.refs
            for lock in [parse_lock(state.refs[ref])]
            if lock is not None
        ]
        found = {marks[ref]: target.sha for ref, target in state.refs.items() if ref in marks}
        return state, locks, found

    def set_mark(self, environment: str, sha: str, *, exists: bool) -> None:
        ref = mark_ref(environment)
        if exists and self._backend.update_ref(ref, sha, force=True):
            return
        if not self._backend.create_ref(ref, sha):  # made meanwhile by another scan
            self._backend.update_ref(ref, sha, force=True)


def _pending(commits: Sequence[Commit], live_sha: str) -> list[Commit] | None:
    """Commits newer than the live one (newest first), or None when it is not in view."""
    pending: list[Commit] = []
    for commit in commits:
        if commit.sha == live_sha:
            return pending
        pending.append(commit)
    return None


def scan(
    *,
    config: Config,
    state: StaleState,
    repo: str,
    environments: Sequence[str] | None = None,
    deliver: Callable[[EnvironmentStale], bool],
    dry_run: bool = False,
    clock: Callable[[], datetime] | None = None,
) -> StaleReport:
    """Find stale commits per environment and (unless ``dry_run``) remind the due ones.

    ``deliver`` is called once per environment with commits due (never in a dry run) and
    answers whether the reminder reached someone; only then does the mark move, so an
    undelivered reminder is sent again by the next scan. ``environments`` defaults to
    every configured one; an environment without ``stale-after`` answers
    ``quiet="no-threshold"``.
    """
    names = list(environments) if environments is not None else list(config.environments)
    for name in names:
        config.environment(name)  # NotFoundError naming the known ones
    now = (clock or utc_now)()
    watched = [n for n in names if config.environments[n].stale_after is not None]
    branch: BranchState | None = None
    locks: list[Lock] = []
    marks: dict[str, str] = {}
    if watched:
        branch, locks, marks = state.read(watched, limit=HISTORY_DEPTH)
    results = []
    for name in names:
        threshold = config.environments[name].stale_after
        if threshold is None or branch is None:
            results.append(EnvironmentStale(name, None, None, (), (), "no-threshold"))
            continue
        live = branch.live.get(name)
        if live is None:
            results.append(EnvironmentStale(name, threshold, None, (), (), "never-deployed"))
            continue
        pending = _pending(branch.commits, live.sha)
        if pending is None:  # the live commit is older than the window: all of it is pending
            pending = list(branch.commits)
        stale = tuple(
            StaleCommit(
                sha=c.sha,
                title=c.title,
                author=c.author,
                committed_at=c.committed_at,
                age_seconds=(now - c.committed_at).total_seconds(),
            )
            for c in pending
            if (now - c.committed_at).total_seconds() >= threshold
        )
        lock = next(
            (lk for lk in locks if lk.environment in (name, GLOBAL) and not lk.expired(now)), None
        )
        if lock is not None:
            results.append(EnvironmentStale(name, threshold, live.sha, stale, (), "locked", lock))
            continue
        mark = marks.get(name)
        order = [c.sha for c in pending]
        if mark in order:
            covered = set(order[order.index(mark) :])
            remind = tuple(c for c in stale if c.sha not in covered)
        else:
            remind = stale
        found = EnvironmentStale(name, threshold, live.sha, stale, remind, None)
        if remind and not dry_run and deliver(found):
            newest = min(remind, key=lambda c: order.index(c.sha))
            state.set_mark(name, newest.sha, exists=mark is not None)
            found = replace(found, sent=True)
        results.append(found)
    return StaleReport(repo=repo, scanned_at=now, environments=tuple(results))


def _commit_json(commit: StaleCommit) -> dict[str, Any]:
    return {
        "sha": commit.sha,
        "short_sha": commit.sha[:7],
        "title": commit.title,
        "author": commit.author,
        "committed_at": iso_utc(commit.committed_at),
        "age_seconds": int(commit.age_seconds),
        "age": commit.age,
    }


def stale_json(report: StaleReport) -> dict[str, Any]:
    """``commit-train stale --json`` (see docs/operations.md)."""
    return {
        "version": 1,
        "repo": report.repo,
        "scanned_at": iso_utc(report.scanned_at),
        "environments": [
            {
                "environment": env.environment,
                "stale_after_seconds": env.threshold_seconds,
                "live_sha": env.live_sha,
                "quiet": env.quiet,
                "stale": [_commit_json(c) for c in env.stale],
                "due": [c.sha for c in env.remind],
                "reminded": [c.sha for c in env.reminded],
                "by_author": {
                    author: [c.sha for c in commits]
                    for author, commits in env.by_author(env.stale).items()
                },
            }
            for env in report.environments
        ],
    }


if TYPE_CHECKING:  # mypy proves the marks fit their port

    def _fits_the_port(state: GitHubStaleState) -> StaleState:
        return state
