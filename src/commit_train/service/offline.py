"""Deploying through a GitHub outage: offline deploys in the local journal, and ``sync``.

When GitHub cannot answer (5xx, no connection, a spent rate limit), ``offline_deploy``
records the deploy in the same SQLite journal ``LocalBackend`` keeps in
``<git-dir>/commit-train/journal.sqlite3``: a journal deployment (a *local* id) whose payload
says ``"offline": true`` with who asked, when and why, and a ``queued`` status. The pipeline
goes on against that local id (``LocalBackend.add_status`` journals its statuses).

The offline gate asks what can still be answered without GitHub: the environment exists,
and the commit is reachable from the default branch *in the local clone* (fetch first). The
commit's checks cannot be read, so the deploy is refused unless a reason is given; the
reason is recorded. Locks and promotion order live on GitHub too and are not enforced.

``sync`` replays every offline deploy into GitHub Deployments once GitHub answers: it creates
the deployment (the payload keeps the original time, person and reason, and the entry's
``journal_id``) and its statuses oldest first, each description starting with
``offline <original time>:``. Which entries reached GitHub the journal keeps itself
(``ports.OfflineJournal``: the local journal's ``journal_sync`` table). Replaying is
idempotent, also after a run that died half way:

- before creating, the environment's newest 100 deployments on GitHub are searched for one
  whose payload carries the entry's ``journal_id`` (a run that died between GitHub's answer
  and the journal write);
- statuses already on GitHub are counted by their ``offline `` prefix, and only the rest is
  sent; a run with nothing new makes no request at all.

A replayed ``success`` would make GitHub retire (``auto_inactive``) every older success of
the environment, including a deploy made on GitHub *after* the offline one. So when GitHub
already has a successful deploy of that environment newer than the entry, the entry's
success is replayed as ``inactive`` ("succeeded offline ...; replaced since by ...").
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from itertools import islice
from pathlib import Path
from typing import Any

from commit_train.config import Config
from commit_train.core import gate
from commit_train.core.text import clip, one_line, plural
from commit_train.errors import RateLimitError, RefusedError, TemporaryGitHubError
from commit_train.models import (
    LOOK_BACK_DEPLOYMENTS,
    Commit,
    Deployment,
    DeploymentStatus,
    DeployState,
    JournalEntry,
    iso_utc,
    utc_now,
)
from commit_train.ports import Backend, OfflineJournal
from commit_train.service.stats import requested_at
from commit_train.service.train import record_deployment

CHECKS_UNREADABLE = gate.CHECKS_UNREADABLE
GITHUB_ANSWERS = gate.GITHUB_ANSWERS
STATUS_PREFIX = "offline "
SEARCH_DEPTH = 100  # how many of an environment's newest GitHub deployments are read first
# then, when those were all newer: how many of the commit's own deployments to it, at most
COMMIT_SEARCH_DEPTH = LOOK_BACK_DEPLOYMENTS

# -- the outage, as the deploy command sees it ------------------------------------------------


def unreachable(exc: TemporaryGitHubError) -> TemporaryGitHubError:
    """The one line ``deploy`` says when GitHub cannot answer: the cause and the way on.
    A spent rate limit is not an outage: it is said as it is, with when it comes back."""
    cause = exc.message.rstrip(".")
    return type(exc)(
        cause if isinstance(exc, RateLimitError) else f"GitHub is unreachable ({cause})",
        status=exc.status,
        delay=exc.delay,
        fix='to deploy anyway, rerun with --offline --reason "why it cannot wait"',
    )


def github_down(github: Backend) -> TemporaryGitHubError | None:
    """Whether GitHub is down for this backend: one cheap read, its error or None.

    ``deploy --offline`` asks first, so the offline path (which skips the checks) is taken
    only while GitHub really cannot answer. Give it a backend that does not retry.
    """
    try:
        github.default_branch()
    except TemporaryGitHubError as exc:
        return exc
    return None


# -- the offline deploy -----------------------------------------------------------------------


@dataclass(frozen=True)
class OfflineDeploy:
    """What ``deploy --offline`` recorded: a journal deployment, pending sync."""

    environment: str
    commit: Commit
    deployment: Deployment  # its id is the journal's (local) id
    reason: str
    cause: str
    journal: Path
    action: str


def offline_deploy(
    local: OfflineJournal,
    config: Config,
    environment: str,
    ref: str,
    *,
    actor: str,
    reason: str | None,
    repo: str,
    source: str = "cli",
    cause: str = "",
    clock: Callable[[], datetime] = utc_now,
) -> OfflineDeploy:
    """Record a deploy of ``ref`` to ``environment`` in the local journal, pending sync.

    ``repo`` is the GitHub repository the deploy belongs to (``sync`` replays an entry only
    into that one); ``cause`` is the outage's one line, kept in the payload. Refused with
    ``RefusedError`` when the environment is unknown, the commit is not reachable from the
    default branch of the local clone, or no ``reason`` is given (the checks cannot be
    read while GitHub is down).
    """
    if environment not in config.environments:
        decision = gate.unknown_environment(config, environment)
        raise RefusedError(decision.message, reason=decision.reason)
    commit = local.resolve(ref)
    branch = local.default_branch()
    if not local.on_default_branch(commit.sha):
        raise RefusedError(
            f"{commit.short_sha} is not on the default branch {branch} of the local clone",
            reason=gate.NOT_ON_DEFAULT_BRANCH,
            fix=f"merge it first, or fetch (git fetch origin {branch}) if it was merged on GitHub",
        )
    why = one_line(reason or "")
    if not why:
        raise RefusedError(
            f"the checks of {commit.short_sha} cannot be read while GitHub is unreachable",
            reason=CHECKS_UNREADABLE,
            fix='to deploy without them, say why with --reason "..." (it is recorded)',
        )
    deployment = record_deployment(
        local,
        config,
        sha=commit.sha,
        title=commit.title,
        environment=environment,
        actor=actor,
        source=source,
        payload_extra={
            "offline": True,
            "recorded_at": iso_utc(clock(), "seconds"),
            "reason": why,
            "cause": cause,
            "repo": repo,
            "journal_id": uuid.uuid4().hex,
        },
        queued=f"queued offline by {actor} via {source}: {why}",
    )
    return OfflineDeploy(
        environment=environment,
        commit=commit,
        deployment=deployment,
        reason=why,
        cause=cause,
        journal=local.journal_path,
        action=f"recorded offline deployment {deployment.id} (local journal): "
        f"{commit.short_sha} to {environment}; run commit-train sync once GitHub answers",
    )


# -- what is waiting ---------------------------------------------------------------------------


def entries(local: OfflineJournal, *, repo: str | None = None) -> list[JournalEntry]:
    """Every offline deploy of the journal (of ``repo`` when given), oldest first."""
    return [
        entry
        for entry in local.offline_entries()
        if repo is None or entry.deployment.payload.get("repo") in (None, repo)
    ]


def pending(local: OfflineJournal, *, repo: str | None = None) -> list[JournalEntry]:
    """The offline deploys ``sync`` still has to replay (or finish replaying)."""
    return [e for e in entries(local, repo=repo) if e.pending]


# -- sync ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SyncedDeploy:
    """One journal entry replayed (in part or whole) by this run."""

    local_id: int
    github_id: int
    environment: str
    sha: str
    created: bool  # False when found on GitHub already (an earlier run got that far)
    statuses_added: int


@dataclass(frozen=True)
class SyncReport:
    repo: str
    synced: tuple[SyncedDeploy, ...]
    up_to_date: int  # offline deploys already fully on GitHub before this run
    busy: int = 0  # offline deploys another sync run was replaying: left to it

    @property
    def summary(self) -> str:
        busy = f"; {self.busy} being replayed by another sync run, left to it" if self.busy else ""
        if not self.synced:
            already = plural(self.up_to_date, "offline deploy")
            return f"nothing to sync: {already} already on GitHub{busy}"
        statuses = plural(sum(s.statuses_added for s in self.synced), "status", "statuses")
        synced = plural(len(self.synced), "offline deploy")
        return f"synced {synced} to {self.repo} ({statuses} added){busy}"


class _Sync:
    """One ``sync`` run: remembers each environment's GitHub deployments once read."""

    def __init__(self, local: OfflineJournal, github: Backend) -> None:
        self.local = local
        self.github = github
        self._environments: dict[str, list[Deployment]] = {}

    def github_deployments(self, environment: str) -> list[Deployment]:
        if environment not in self._environments:
            self._environments[environment] = self.github.deployments(
                environment=environment, limit=SEARCH_DEPTH
            )
        return self._environments[environment]

    def note(self, local_id: int, github_id: int, statuses_synced: int) -> None:
        self.local.note_synced(local_id, github_id=github_id, statuses_synced=statuses_synced)

    def replay(self, entry: JournalEntry) -> SyncedDeploy:
        local = entry.deployment
        created = False
        github_id = entry.github_id
        on_github: int | None = None  # replayed statuses GitHub holds, when read
        if github_id is None:
            found = self._find(entry)
            if found is not None:
                github_id = found.id
                on_github = _replayed(found)
            else:
                made = self.github.create_deployment(
                    sha=local.sha,
                    environment=local.environment,
                    payload=dict(local.payload),
                    description=local.description,
                    production=entry.production,
                )
                github_id, on_github, created = made.id, 0, True
            self.note(local.id, github_id, on_github)
        statuses = entry.replayable
        if on_github is None:
            if entry.statuses_synced >= len(statuses):
                on_github = entry.statuses_synced
            else:  # a run may have died between a status and its note: ask GitHub
                on_github = _replayed(self.github.get_deployment(github_id))
        added = 0
        for index in range(on_github, len(statuses)):
            status = statuses[index]
            state, description = self._replayed_state(local, status, github_id)
            self.github.add_status(
                github_id,
                state=state,
                description=description,
                log_url=status.log_url,
                environment_url=status.environment_url,
            )
            added += 1
            self.note(local.id, github_id, index + 1)
        if added == 0 and on_github != entry.statuses_synced:
            self.note(local.id, github_id, on_github)
        return SyncedDeploy(
            local_id=local.id,
            github_id=github_id,
            environment=local.environment,
            sha=local.sha,
            created=created,
            statuses_added=added,
        )

    def _find(self, entry: JournalEntry) -> Deployment | None:
        """An earlier replay of ``entry`` on GitHub, by its ``journal_id`` nonce: among the
        environment's newest ``SEARCH_DEPTH`` deployments (read once a run, and needed
        anyway for the replayed statuses), and when that many came since, among the
        deployments of that very commit to that environment (read a page of 100 at a
        time until found, at most ``COMMIT_SEARCH_DEPTH``), however many deployments of
        others came after it."""
        key = entry.journal_id
        if not key:
            return None
        local = entry.deployment
        newest = self.github_deployments(local.environment)
        for deployment in newest:
            if deployment.payload.get("journal_id") == key:
                return deployment
        if len(newest) < SEARCH_DEPTH:
            return None  # that was every deployment of the environment
        walk = self.github.walk_deployments(environment=local.environment, sha=local.sha)
        for deployment in islice(walk, COMMIT_SEARCH_DEPTH):
            if deployment.payload.get("journal_id") == key:
                return deployment
        return None

    def _replayed_state(
        self, local: Deployment, status: DeploymentStatus, github_id: int
    ) -> tuple[DeployState, str]:
        when = iso_utc(status.created_at, "seconds")
        if status.state == DeployState.SUCCESS:
            newer = self._newer_success(local, github_id)
            if newer is not None:
                return DeployState.INACTIVE, clip(
                    f"{STATUS_PREFIX}{when}: succeeded offline; "
                    f"replaced since by deployment {newer.id}"
                )
        text = f"{STATUS_PREFIX}{when}: {status.description}".rstrip(": ")
        return status.state, clip(text)

    def _newer_success(self, local: Deployment, github_id: int) -> Deployment | None:
        """A deploy of the same environment on GitHub, newer than ``local``, that succeeded."""
        recorded = recorded_at(local)
        for other in self.github_deployments(local.environment):
            if other.id == github_id or other.payload.get("journal_id") == local.payload.get(
                "journal_id"
            ):
                continue
            if recorded_at(other) > recorded and other.ever_succeeded:
                return other
        return None


def _replayed(deployment: Deployment) -> int:
    return sum(1 for s in deployment.statuses if s.description.startswith(STATUS_PREFIX))


# when a deploy was asked for: an offline deploy's ``recorded_at``, else its creation
recorded_at = requested_at


def sync(local: OfflineJournal, github: Backend) -> SyncReport:
    """Replay the journal's offline deploys for ``github.repo`` into it, oldest first.

    ``github`` is the GitHub backend (``faces/wiring.py`` refuses ``sync`` on the local one).
    Stops at the first error (a ``TemporaryGitHubError`` while GitHub is still down): what
    was replayed so far is noted, and the next run goes on from there.

    Each pending entry is claimed in the journal before it is replayed and released after
    (``OfflineJournal.claim_sync``): two runs at once replay each entry once, the second
    leaving the entries the first holds to it (``SyncReport.busy``).
    """
    run = _Sync(local, github)
    me = uuid.uuid4().hex
    found = entries(local, repo=github.repo)
    done: list[SyncedDeploy] = []
    up_to_date = busy = 0
    for entry in found:
        if not entry.pending:
            up_to_date += 1
            continue
        claimed = local.claim_sync(entry.deployment.id, by=me)
        if claimed is None:
            busy += 1
            continue
        try:
            if not claimed.pending:  # another run finished it since we listed it
                up_to_date += 1
                continue
            done.append(run.replay(claimed))
        finally:
            local.release_sync(entry.deployment.id, by=me)
    return SyncReport(repo=github.repo, synced=tuple(done), up_to_date=up_to_date, busy=busy)


def sync_json(report: SyncReport) -> dict[str, Any]:
    """``commit-train sync --json`` (version 1)."""
    return {
        "version": 1,
        "repo": report.repo,
        "synced": [
            {
                "local_id": s.local_id,
                "github_id": s.github_id,
                "environment": s.environment,
                "sha": s.sha,
                "created": s.created,
                "statuses_added": s.statuses_added,
            }
            for s in report.synced
        ],
        "up_to_date": report.up_to_date,
        "busy": report.busy,
    }


def offline_json(result: OfflineDeploy) -> Mapping[str, Any]:
    """``commit-train deploy --offline --json`` (version 1)."""
    dep = result.deployment
    return {
        "version": 1,
        "offline": True,
        "environment": result.environment,
        "sha": result.commit.sha,
        "short_sha": result.commit.short_sha,
        "title": result.commit.title,
        "deployment": {
            "id": dep.id,
            "journal_id": dep.payload.get("journal_id"),
            "state": dep.state.value,
            "recorded_at": dep.payload.get("recorded_at"),
            "requested_by": dep.payload.get("requested_by"),
            "reason": result.reason,
        },
        "cause": result.cause,
        "journal": str(result.journal),
        "action": result.action,
    }
