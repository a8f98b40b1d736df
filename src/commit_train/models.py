"""The frozen values that cross module boundaries.

Adapters (``github``, the local journal, ``gitrepo``) build these; ``train`` and ``gate``
read them. None of them does I/O when a field is read, so no request happens by accident.
Times are timezone-aware UTC ``datetime`` values.

The rules of a lock (who may take, keep or break it, and the lines that say so) are here
beside ``Lock``, so that every lock store, whichever backend keeps it, follows the same ones.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

from commit_train.errors import NotFoundError, RefusedError, UsageError


def utc_now() -> datetime:
    """Now, timezone-aware UTC: the default clock of everything that stamps a time."""
    return datetime.now(UTC)


def parse_time(text: str) -> datetime:
    """An ISO 8601 time as an aware UTC ``datetime``: GitHub's ``2020-08-26T14:32:52Z``,
    git's ``%cI`` (any offset), the journal's and Kubernetes' stamps. A time without an
    offset is taken as UTC. ``ValueError`` when ``text`` is not one."""
    parsed = datetime.fromisoformat(text.strip())
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def iso_utc(when: datetime, timespec: str = "auto") -> str:
    """``when`` in UTC as ISO 8601 with a ``Z`` (``2026-11-25T10:00:00Z``), the way the
    JSON documents and lock records write times; ``timespec`` as ``datetime.isoformat``."""
    return when.astimezone(UTC).isoformat(timespec=timespec).replace("+00:00", "Z")


class CheckState(StrEnum):
    """The state of one check, or of all the checks of a commit taken together."""

    SUCCESS = "success"
    FAILURE = "failure"
    PENDING = "pending"
    NONE = "none"  # nothing has reported on the commit at all


class DeployState(StrEnum):
    """GitHub's deployment status states, plus ``none`` for a deployment with no status yet."""

    QUEUED = "queued"
    PENDING = "pending"
    IN_PROGRESS = "in_progress"
    SUCCESS = "success"
    FAILURE = "failure"
    ERROR = "error"
    INACTIVE = "inactive"
    NONE = "none"

    @property
    def finished(self) -> bool:
        return self in (
            DeployState.SUCCESS,
            DeployState.FAILURE,
            DeployState.ERROR,
            DeployState.INACTIVE,
        )

    @property
    def in_flight(self) -> bool:
        return self in (
            DeployState.QUEUED,
            DeployState.PENDING,
            DeployState.IN_PROGRESS,
            DeployState.NONE,
        )


@dataclass(frozen=True)
class Check:
    """One commit status context or one check run (its newest attempt only)."""

    name: str
    kind: str  # "status" or "check_run"
    state: CheckState
    url: str | None = None
    description: str | None = None
    # A check run made by a GitHub Actions job: the workflow run and the workflow's name,
    # when the API tells them (GraphQL's CheckSuite.workflowRun; REST does not).
    workflow_run: int | None = None
    workflow: str | None = None

    def in_run(self, run_id: int) -> bool:
        """Whether this is a check run of the Actions workflow run ``run_id``: by the run the
        API named, else by a details URL of the run (``.../actions/runs/<run_id>/job/...``)."""
        if self.kind != "check_run":
            return False
        if self.workflow_run is not None:
            return self.workflow_run == run_id
        return self.url is not None and bool(_run_url(run_id).search(self.url))


def _run_url(run_id: int) -> re.Pattern[str]:
    return re.compile(rf"/actions/runs/{run_id}(?:[/?#]|$)")


@dataclass(frozen=True)
class OwnRun:
    """The GitHub Actions run that asks the gate (on the runner), whose checks the gate
    leaves out: its own check runs (the deploy job is in progress while it asks) and those
    of every run of its workflow ``workflow`` (a failed deploy must not make the commit red
    for the next one)."""

    run_id: int | None = None
    workflow: str | None = None


@dataclass(frozen=True)
class Checks:
    """All the checks of one commit, already reduced to the newest attempt of each."""

    sha: str
    checks: tuple[Check, ...] = ()

    @property
    def state(self) -> CheckState:
        """Red if anything failed, else pending if anything is running, else green.

        No check at all is ``NONE``: nothing has said the commit is good.
        """
        if not self.checks:
            return CheckState.NONE
        states = {c.state for c in self.checks}
        if CheckState.FAILURE in states:
            return CheckState.FAILURE
        if CheckState.PENDING in states:
            return CheckState.PENDING
        return CheckState.SUCCESS

    def named(self, state: CheckState) -> tuple[str, ...]:
        return tuple(c.name for c in self.checks if c.state == state)

    def without(self, names: frozenset[str]) -> Checks:
        """The same checks less those named (a deploy workflow's own check, for example)."""
        return Checks(self.sha, tuple(c for c in self.checks if c.name not in names))

    def without_run(self, run: OwnRun) -> Checks:
        """The same checks less the check runs of ``run`` and of its workflow's other runs."""
        return Checks(
            self.sha,
            tuple(
                c
                for c in self.checks
                if not (run.run_id is not None and c.in_run(run.run_id))
                and not (run.workflow and c.kind == "check_run" and c.workflow == run.workflow)
            ),
        )


@dataclass(frozen=True)
class Commit:
    """A commit of the default branch."""

    sha: str
    title: str
    author: str
    committed_at: datetime

    @property
    def short_sha(self) -> str:
        return self.sha[:7]


@dataclass(frozen=True)
class DeploymentStatus:
    state: DeployState
    created_at: datetime
    description: str = ""
    creator: str = ""
    log_url: str | None = None
    environment_url: str | None = None


@dataclass(frozen=True)
class Deployment:
    """One deploy request and what became of it (statuses oldest first)."""

    id: int
    sha: str
    environment: str
    creator: str
    created_at: datetime
    payload: Mapping[str, Any] = field(default_factory=dict)
    description: str = ""
    statuses: tuple[DeploymentStatus, ...] = ()
    url: str | None = None

    @property
    def short_sha(self) -> str:
        return self.sha[:7]

    @property
    def state(self) -> DeployState:
        return self.statuses[-1].state if self.statuses else DeployState.NONE

    @property
    def finished_at(self) -> datetime | None:
        last = self.statuses[-1] if self.statuses else None
        return last.created_at if last is not None and last.state.finished else None

    @property
    def duration_seconds(self) -> float | None:
        end = self.finished_at
        return None if end is None else (end - self.created_at).total_seconds()

    @property
    def requested_by(self) -> str:
        """Who asked for the deploy: the payload's ``requested_by`` or the API creator."""
        who = self.payload.get("requested_by") if isinstance(self.payload, Mapping) else None
        return str(who) if who else self.creator

    @property
    def ever_succeeded(self) -> bool:
        return any(s.state == DeployState.SUCCESS for s in self.statuses)


@dataclass(frozen=True)
class TrainCommit:
    """One row of ``status``: a commit, its checks, and where it is live."""

    commit: Commit
    checks: Checks
    live_in: tuple[str, ...] = ()
    in_flight: tuple[Deployment, ...] = ()


@dataclass(frozen=True)
class Snapshot:
    """What ``status`` shows: the newest commits of the default branch and the deploys."""

    repo: str
    default_branch: str
    commits: tuple[TrainCommit, ...]
    live: Mapping[str, Deployment]  # environment -> its live (latest successful) deployment
    # environment -> how many of its deployments were looked through in vain for the live
    # one, when the look-back cap (``LOOK_BACK_DEPLOYMENTS``) stopped the search
    looked_back: Mapping[str, int] = field(default_factory=dict)


# How far back the live deploy and the previous good one are looked for, in deployments of
# one environment (of one commit, for the promotion order): reads go on past the first
# window only while nothing is found, a page of ``LOOK_BACK_PAGE`` a request, and stop
# here. Beyond it, the message says how far it looked (``looked_back_phrase``).
LOOK_BACK_DEPLOYMENTS = 1000
LOOK_BACK_PAGE = 100


def looked_back_phrase(count: int) -> str:
    """``among its newest 1,000 deployments``: how far a search that gave up looked."""
    return f"among its newest {count:,} deployment{'s' if count != 1 else ''}"


@dataclass(frozen=True)
class RefTarget:
    """A ref and the commit it points at (locks and reminder marks live in refs)."""

    ref: str
    sha: str
    message: str = ""


@dataclass(frozen=True)
class BranchState:
    """What a stale-commit scan reads in one go: the default branch's newest commits
    (newest first), each environment's live deployment, and the refs asked for (only those
    that exist)."""

    default_branch: str
    commits: tuple[Commit, ...]
    live: Mapping[str, Deployment]
    refs: Mapping[str, RefTarget]


def live_and_in_flight(
    deployments: Iterable[Deployment],
) -> tuple[Deployment | None, list[Deployment]]:
    """One environment's deployments (any order) -> its live one, the newest whose latest
    status is ``success`` (None when none is), and the deploys in flight newer than it,
    newest first. An in-flight deploy older than the live one was overtaken: left out."""
    newest_first = sorted(deployments, key=lambda d: (d.created_at, d.id), reverse=True)
    current = next((d for d in newest_first if d.state == DeployState.SUCCESS), None)
    in_flight = []
    for dep in newest_first:
        if current is not None and (dep.created_at, dep.id) <= (current.created_at, current.id):
            break
        if dep.state.in_flight:
            in_flight.append(dep)
    return current, in_flight


RECENT_DEPLOYMENTS = 20  # the deploy's environment's newest deployments the gate reads
ANCESTORS = 30  # the deploy's commit and its newest ancestors the gate reads (what ships)


@dataclass(frozen=True)
class GateFacts:
    """Every fact the gate weighs about one commit, read in one go (one GraphQL query on
    GitHub): the commit, the default branch and whether the commit is on it, its checks, its
    deployments to the environments asked for (the promotion order; empty when none were
    asked) and the refs asked for that exist (locks live in refs on GitHub). For a deploy
    (an environment to deploy to) also that environment's newest deployments and the
    commit's own history, so the commits between the live one and this one are known
    without a question more."""

    commit: Commit
    default_branch: str
    on_default_branch: bool
    checks: Checks
    deployments: tuple[Deployment, ...] = ()
    refs: Mapping[str, RefTarget] = field(default_factory=dict)
    # the deploy's environment's newest deployments (is the commit already there?)
    recent: tuple[Deployment, ...] = ()
    # the commit and its newest ancestors, newest first (up to ANCESTORS; what a deploy ships)
    ancestors: tuple[Commit, ...] = ()


@dataclass(frozen=True)
class Lock:
    """An environment's lock (``environment`` is ``"*"`` for the global lock).

    ``expires_at`` is None for a lock without a ttl; an expired lock no longer blocks.
    ``token`` tells this lock from any other, even one by the same person (the lock
    commit's sha on GitHub, a random id in the local journal).
    """

    environment: str
    holder: str
    reason: str
    since: datetime
    expires_at: datetime | None = None
    token: str = ""

    def expired(self, now: datetime) -> bool:
        return self.expires_at is not None and now >= self.expires_at

    @property
    def is_global(self) -> bool:
        return self.environment == "*"


# -- the rules every lock store follows (a store keeps locks; these say what a lock means) --

GLOBAL_LOCK = "*"  # the environment name of the lock over all environments
LOCKED = "locked"  # the gate's reason code, and RefusedError.reason of a refused lock
NOT_LOCK_HOLDER = "not-lock-holder"  # RefusedError.reason of an unlock by someone else


@dataclass(frozen=True)
class Unlocked:
    """What a lock store's ``release`` did: the lock it ended, and whether someone else
    forced it."""

    lock: Lock
    by: str
    forced: bool
    reason: str


def lock_scope(environment: str) -> str:
    """``production`` or ``all environments``: how messages name a lock's scope."""
    return "all environments" if environment == GLOBAL_LOCK else environment


def possessive(name: str) -> str:
    """``alice's``, and ``maintainers'`` for a name that ends in s (a team, a bot)."""
    return f"{name}'" if name.endswith(("s", "S")) else f"{name}'s"


def describe_lock(lock: Lock) -> str:
    """``production is locked by alice since 2026-11-25 10:00 UTC: reason``."""
    scope = "all environments are" if lock.is_global else f"{lock.environment} is"
    since = lock.since.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")
    until = ""
    if lock.expires_at is not None:
        until = f" until {lock.expires_at.astimezone(UTC).strftime('%Y-%m-%d %H:%M UTC')}"
    return f"{scope} locked by {lock.holder} since {since}{until}: {lock.reason or 'no reason'}"


def lock_refused(lock: Lock) -> RefusedError:
    """The error of a lock someone else holds: who, and how to get on."""
    return RefusedError(
        describe_lock(lock),
        reason=LOCKED,
        fix=f"ask {lock.holder} to unlock, or wait"
        + (" for it to expire" if lock.expires_at else ""),
    )


def check_lock_ttl(ttl: float | None) -> None:
    if ttl is not None and ttl <= 0:
        raise UsageError("a lock's ttl must be positive", fix="give it like 30m, 2h or 1d")


def claim_lock(
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
        raise lock_refused(held)
    return Lock(
        environment=environment,
        holder=holder,
        reason=reason,
        since=now,
        expires_at=now + timedelta(seconds=ttl) if ttl else None,
    )


def check_unlock(lock: Lock | None, environment: str, *, by: str, force: bool, reason: str) -> Lock:
    """The live lock ``by`` may end: ``NotFoundError`` when there is none, ``RefusedError``
    when it is someone else's and not forced, ``UsageError`` when forced without a reason."""
    if lock is None:
        raise NotFoundError(f"{lock_scope(environment)} is not locked", fix="nothing to unlock")
    if lock.holder != by:
        if not force:
            raise RefusedError(
                f"{describe_lock(lock)}; only {lock.holder} can unlock it",
                reason=NOT_LOCK_HOLDER,
                fix="ask them, or pass --force with --reason to break the lock",
            )
        if not reason.strip():
            raise UsageError(
                f"breaking {possessive(lock.holder)} lock needs a reason", fix='pass --reason "..."'
            )
    return lock


# -- notifications ------------------------------------------------------------------------


class Event(StrEnum):
    DEPLOY_REQUESTED = "deploy-requested"
    DEPLOY_STARTED = "deploy-started"
    DEPLOY_SUCCEEDED = "deploy-succeeded"
    DEPLOY_FAILED = "deploy-failed"
    ROLLED_BACK = "rolled-back"
    LOCKED = "locked"
    UNLOCKED = "unlocked"
    STALE_COMMITS = "stale-commits"


@dataclass(frozen=True)
class StaleLine:
    """One commit of a stale reminder."""

    sha: str
    title: str
    author: str
    age: str  # "2d 3h"


@dataclass(frozen=True)
class Notice:
    """One event to tell people about."""

    event: Event
    environment: str  # "*" for the global lock
    actor: str
    repo: str
    sha: str = ""
    title: str = ""
    run_url: str | None = None
    detail: str = ""  # a lock's reason, a failure's description...
    commits: tuple[StaleLine, ...] = ()


@dataclass
class SendReport:
    sent: int = 0
    warnings: list[str] = field(default_factory=list)


# -- offline deploys ------------------------------------------------------------------------


@dataclass(frozen=True)
class JournalEntry:
    """One offline deploy of the local journal and how far it reached GitHub."""

    deployment: Deployment  # the journal's own record (local id, original times)
    github_id: int | None
    statuses_synced: int
    production: bool = False

    @property
    def journal_id(self) -> str:
        return str(self.deployment.payload.get("journal_id") or "")

    @property
    def replayable(self) -> tuple[DeploymentStatus, ...]:
        """The statuses GitHub should get: ``inactive`` is GitHub's own to add."""
        return tuple(s for s in self.deployment.statuses if s.state != DeployState.INACTIVE)

    @property
    def pending(self) -> bool:
        return self.github_id is None or self.statuses_synced < len(self.replayable)
