"""The train service: what the commands do, over any ``Backend``.

``Train`` answers the three questions (``status``, ``deploy``, ``history``) and records the
pipeline's progress (``set_status``). It asks the gate before every deploy and raises
``RefusedError`` with the gate's reason and message when the answer is no. It never prints
and never imports click: the CLI renders what it returns.

Why one module of ~650 lines: ``Train`` is the request side's one class, each method a use
case a face calls (status, deploy and check, history, lock, unlock, stale, supersede,
notices), and each is short; what grew large elsewhere already lives beside it (rollback,
the run, locks, stale, stats, offline sync, abandoned deploys, results).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from commit_train.config import Config
from commit_train.core import gate
from commit_train.core.gate import Decision
from commit_train.core.routes import routes_for
from commit_train.core.text import clip, duration
from commit_train.errors import CommitTrainError, NotQueuedError, RefusedError, UsageError
from commit_train.models import (
    Commit,
    Deployment,
    DeploymentStatus,
    DeployState,
    Event,
    GateFacts,
    Lock,
    Notice,
    OwnRun,
    Snapshot,
    StaleLine,
    TrainCommit,
    Unlocked,
    possessive,
    utc_now,
)
from commit_train.ports import Backend, LockStore, Notifier, StaleState
from commit_train.service import abandon
from commit_train.service import stale as stale_module
from commit_train.service.locks import GLOBAL, blocking

PAYLOAD_VERSION = 1
STATUS_LIMIT_MAX = 50
HISTORY_LIMIT_MAX = 100
SUPERSEDE_WINDOW = 30  # how many of an environment's newest deployments ``supersede`` reads
NEVER_STARTED = (DeployState.QUEUED, DeployState.PENDING, DeployState.NONE)


def record_deployment(
    backend: Backend,
    config: Config,
    *,
    sha: str,
    title: str,
    environment: str,
    actor: str,
    source: str,
    description: str | None = None,
    payload_extra: Mapping[str, Any] | None = None,
    queued: str | None = None,
) -> Deployment:
    """The one place a commit-train deployment is created (deploy, rollback, auto-rollback,
    an offline deploy): the payload (``commit_train`` version, who, from where, the title
    and short sha, then ``payload_extra``), the description (clipped; by default the short
    sha and the title) and the environment's ``production`` flag. With ``queued`` (its
    description) a ``queued`` status follows, and is part of the answer.

    When the deployment is recorded but its ``queued`` status cannot be, ``NotQueuedError``
    says so (exit code 3): the deployment's event has fired, so deploying again (or
    ``--offline``) would make a second deploy of one request."""
    payload = {
        "commit_train": PAYLOAD_VERSION,
        "requested_by": actor,
        "source": source,
        "title": title,
        "short_sha": sha[:7],
        **(payload_extra or {}),
    }
    deployment = backend.create_deployment(
        sha=sha,
        environment=environment,
        payload=payload,
        description=clip(description if description is not None else f"{sha[:7]} {title}"),
        production=config.environment(environment).production,
    )
    if queued is None:
        return deployment
    try:
        status = backend.add_status(
            deployment.id, state=DeployState.QUEUED, description=clip(queued)
        )
    except CommitTrainError as exc:
        raise NotQueuedError(
            deployment.id,
            exc.message.rstrip("."),
            fix=f"the deployment stands without it; follow it at {backend.progress_url} "
            "and do not deploy it again",
        ) from exc
    return dataclasses.replace(deployment, statuses=(*deployment.statuses, status))


@dataclass(frozen=True)
class DeployResult:
    """What ``deploy`` did, or in a dry run what it would do (``deployment`` is then None)."""

    environment: str
    commit: Commit
    decision: Decision
    deployment: Deployment | None
    dry_run: bool
    action: str  # one line: "created deployment 7: ..." or "would create a deployment ..."
    progress_url: str
    warnings: tuple[str, ...] = ()  # notifications that could not be sent


@dataclass(frozen=True)
class HistoryEntry:
    """One deploy in an environment's history: its latest status is its result."""

    deployment: Deployment
    title: str

    @property
    def result(self) -> DeployState:
        return self.deployment.state

    @property
    def finished(self) -> bool:
        return self.deployment.state.finished

    @property
    def duration_seconds(self) -> float | None:
        """From the request to the first finishing status (``None`` while unfinished)."""
        for status in self.deployment.statuses:
            if status.state.finished:
                return (status.created_at - self.deployment.created_at).total_seconds()
        return None


@dataclass(frozen=True)
class EnvironmentHistory:
    environment: str
    entries: tuple[HistoryEntry, ...]


@dataclass(frozen=True)
class History:
    repo: str
    environments: tuple[EnvironmentHistory, ...]


def _limit(value: int, *, most: int, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= most:
        raise UsageError(
            f"{what} must be a whole number from 1 to {most}, not {value!r}",
            fix=f"pass --limit 1 to {most}",
        )
    return value


class Train:
    """The service behind every command, over one backend and one config."""

    def __init__(
        self,
        backend: Backend,
        config: Config,
        *,
        actor: str | Callable[[], str],
        source: str,
        locks: LockStore | None = None,
        stale: StaleState | None = None,
        notifier: Notifier | None = None,
        clock: Callable[[], datetime] | None = None,
        own_run: OwnRun | None = None,
    ) -> None:
        """``locks`` and ``stale`` are where the backend keeps locks and stale marks
        (``faces/wiring.py`` picks them: refs on GitHub, the journal locally); without them
        locks are not kept and ``stale`` is refused. ``notifier`` defaults to none
        (nothing is sent). ``own_run`` is the
        GitHub Actions run asking, on the runner: the gate leaves out its check runs and
        those of its workflow's other runs (``Checks.without_run``). ``actor`` (who asks
        for deploys and holds locks) is a name, or a function asked once, the first time
        the name is needed: on GitHub the token's login, which the gate's one query brings
        along, so a deploy asks nothing more for it."""
        self.backend = backend
        self.config = config
        self._actor = actor
        self.source = source
        self.clock = clock or utc_now
        self.locks = locks
        self.stale_state = stale
        self.notifier = notifier
        self.own_run = own_run

    @property
    def actor(self) -> str:
        if callable(self._actor):
            self._actor = self._actor()
        return self._actor

    # -- status ----------------------------------------------------------------------------

    def status(self, limit: int = 5) -> Snapshot:
        """The newest ``limit`` (1..50) commits of the default branch, their checks (less
        the ignored ones) and where each is live."""
        _limit(limit, most=STATUS_LIMIT_MAX, what="the number of commits")
        snapshot = self.backend.snapshot(limit=limit, environments=list(self.config.environments))
        ignore = frozenset(self.config.checks.ignore)
        if not ignore:
            return snapshot
        rows = tuple(
            TrainCommit(
                commit=row.commit,
                checks=row.checks.without(ignore),
                live_in=row.live_in,
                in_flight=row.in_flight,
            )
            for row in snapshot.commits
        )
        return dataclasses.replace(snapshot, commits=rows)

    # -- deploy ----------------------------------------------------------------------------

    def gate_facts(self, environment: str, ref: str) -> GateFacts:
        """``check``'s one question to the backend, for a caller that wants the facts
        before deciding (the chat bot says what ships from ``GateFacts.ancestors``) and
        then hands them to ``check`` or ``deploy`` rather than asking again."""
        if environment not in self.config.environments:
            # no lookup needed to refuse, and no commit to name
            decision = gate.unknown_environment(self.config, environment)
            raise RefusedError(decision.message, reason=decision.reason)
        required = self.config.environments[environment].requires
        lock_refs = None if self.locks is None else self.locks.refs_in(self.backend, [environment])
        return self.backend.gate_facts(
            ref,
            environments=[*required, environment] if required else [],
            refs=lock_refs or [],
            target=environment,
        )

    def check(
        self, environment: str, ref: str, *, again: bool = False, facts: GateFacts | None = None
    ) -> tuple[Commit, Decision]:
        """Resolve ``ref`` and ask the gate, without writing anything.

        A commit already queued or live in ``environment`` is refused
        (``gate.ALREADY_DEPLOYED``, from the environment's newest deployments, read in the
        same question) unless ``again``: deploying it twice is done on purpose only.

        One question to the backend (``gate_facts``: one GitHub request, two when a short
        sha needs resolving): the commit, its branch, its checks, its deployments to the
        environments it must pass first, and the locks when they live in the backend's
        refs; a lock store elsewhere (the local journal) is read on its own. ``facts``
        already read by ``gate_facts`` for the same environment and ref are weighed
        instead of asking again.
        """
        if facts is None:
            facts = self.gate_facts(environment, ref)
        required = self.config.environments[environment].requires
        lock_refs = None if self.locks is None else self.locks.refs_in(self.backend, [environment])
        lock = None
        if self.locks is not None:
            current = (
                self.locks.current([environment])
                if lock_refs is None
                else self.locks.from_refs([environment], facts.refs)
            )
            lock = blocking(current, environment, actor=self.actor, now=self.clock())
        succeeded_in = None
        if required:
            succeeded_in = frozenset(d.environment for d in facts.deployments if d.ever_succeeded)
        decision = gate.decide(
            config=self.config,
            environment=environment,
            sha=facts.commit.sha,
            default_branch=facts.default_branch,
            on_default_branch=facts.on_default_branch,
            checks=facts.checks if self.own_run is None else facts.checks.without_run(self.own_run),
            lock=lock,
            succeeded_in=succeeded_in,
        )
        if decision.allowed and not again:
            decision = gate.already_there(environment, facts.commit.sha, facts.recent) or decision
        return facts.commit, decision

    def blocking_lock(self, environment: str) -> Lock | None:
        """The lock that stops this actor deploying to ``environment`` (never their own)."""
        if self.locks is None:
            return None
        current = self.locks.current([environment])
        return blocking(current, environment, actor=self.actor, now=self.clock())

    def deploy(
        self,
        environment: str,
        ref: str,
        *,
        dry_run: bool = False,
        rollback_of: Deployment | None = None,
        again: bool = False,
        payload_extra: Mapping[str, Any] | None = None,
        facts: GateFacts | None = None,
    ) -> DeployResult:
        """Ship ``ref`` to ``environment``: a deployment with a ``queued`` status.

        Refused (``RefusedError`` with the gate's ``reason``) unless the commit is on the
        default branch and green; a dry run asks the same questions and writes nothing.
        With ``rollback_of`` (the live deployment, for ``commit-train rollback``) the
        payload names the commit it rolls back (``rollback_of``, ``auto: false``), the
        description and the queued status say it is a rollback, and no ``deploy-requested``
        notice goes out (the route hears of it when it runs). ``payload_extra`` joins the
        payload (the chat bot keeps its thread there). A commit already queued or live
        there is refused (``gate.ALREADY_DEPLOYED``) unless ``again`` (a rollback's target
        is by definition not live, so a rollback never asks). ``facts``: as ``check``'s.
        """
        commit, decision = self.check(
            environment, ref, again=again or rollback_of is not None, facts=facts
        )
        if not decision.allowed:
            raise RefusedError(decision.message, reason=decision.reason)
        if rollback_of is None:
            what = f"{commit.short_sha} to {environment}"
            dry_what = f"deploy {what}"
        else:
            what = dry_what = (
                f"roll back {environment} from {rollback_of.short_sha} to "
                f"{commit.short_sha} {commit.title}"
            )
        if dry_run:
            return DeployResult(
                environment=environment,
                commit=commit,
                decision=decision,
                deployment=None,
                dry_run=True,
                action=f"would {dry_what} (dry run: nothing was recorded)",
                progress_url=self.backend.progress_url,
            )
        queued = f"queued by {self.actor} via {self.source}"
        if rollback_of is None:
            deployment = record_deployment(
                self.backend,
                self.config,
                sha=commit.sha,
                title=commit.title,
                environment=environment,
                actor=self.actor,
                source=self.source,
                payload_extra=payload_extra,
                queued=queued,
            )
            warnings = self.notify_deploy(deployment, Event.DEPLOY_REQUESTED, title=commit.title)
        else:
            deployment = self.record_rollback(
                environment,
                commit.sha,
                commit.title,
                rollback_of.sha,
                queued=f"rollback {queued}",
                payload_extra=payload_extra,
            )
            warnings = []
        return DeployResult(
            environment=environment,
            commit=commit,
            decision=decision,
            deployment=deployment,
            dry_run=False,
            action=f"created deployment {deployment.id}: {what}",
            progress_url=self.backend.progress_url,
            warnings=tuple(warnings),
        )

    def record_rollback(
        self,
        environment: str,
        sha: str,
        title: str,
        failed_sha: str,
        *,
        auto: bool = False,
        queued: str | None = None,
        payload_extra: Mapping[str, Any] | None = None,
    ) -> Deployment:
        """A deployment of ``sha`` that rolls back ``failed_sha``: its payload says so
        (``rollback_of``, ``auto``), and so does its description. No gate: the caller
        asked it already (``deploy``), or the commit was live a moment ago (auto-rollback)."""
        how = "auto-rollback" if auto else "rollback"
        return record_deployment(
            self.backend,
            self.config,
            sha=sha,
            title=title,
            environment=environment,
            actor=self.actor,
            source=self.source,
            description=f"{how} of {failed_sha[:7]} to {sha[:7]} {title}",
            payload_extra={**(payload_extra or {}), "rollback_of": failed_sha, "auto": auto},
            queued=queued,
        )

    # -- notifications ---------------------------------------------------------------------

    def notify(self, notice: Notice) -> list[str]:
        """Send ``notice`` to its environment's route: warnings, never an error."""
        if self.notifier is None:
            return []
        return self.notifier.send(notice).warnings

    def notify_deploy(
        self,
        deployment: Deployment,
        event: Event,
        *,
        title: str = "",
        run_url: str | None = None,
        detail: str = "",
    ) -> list[str]:
        """Tell the environment's route about a deploy step (the pipeline calls this for
        started, succeeded, failed and rolled back)."""
        return self.notify(
            Notice(
                event=event,
                environment=deployment.environment,
                actor=deployment.requested_by or self.actor,
                repo=self.backend.repo,
                sha=deployment.sha,
                title=title or _title(deployment),
                run_url=run_url or deployment.url,
                detail=detail,
            )
        )

    # -- locks -----------------------------------------------------------------------------

    def _lock_store(self) -> LockStore:
        if self.locks is None:
            raise UsageError("this backend keeps no locks", fix="use the github or local backend")
        return self.locks

    def _lock_scope(self, environment: str | None) -> str:
        if environment is None or environment == GLOBAL:
            return GLOBAL
        self.config.environment(environment)  # NotFoundError naming the known ones
        return environment

    def lock(
        self, environment: str | None, *, reason: str, ttl: float | None = None
    ) -> tuple[Lock, list[str]]:
        """Lock ``environment`` (None: all of them) for this actor: the lock and any
        notification warnings. ``RefusedError`` (reason ``locked``) names the holder."""
        if not reason.strip():
            raise UsageError("a lock needs a reason", fix='pass --reason "why"')
        scope = self._lock_scope(environment)
        lock = self._lock_store().acquire(scope, holder=self.actor, reason=reason, ttl=ttl)
        warnings = self.notify(
            Notice(Event.LOCKED, scope, self.actor, self.backend.repo, detail=reason)
        )
        return lock, warnings

    def unlock(
        self, environment: str | None, *, force: bool = False, reason: str = ""
    ) -> tuple[Unlocked, list[str]]:
        """End a lock: the holder's, or anyone's with ``force`` and a ``reason``."""
        scope = self._lock_scope(environment)
        done = self._lock_store().release(scope, by=self.actor, force=force, reason=reason)
        detail = (
            f"broke {possessive(done.lock.holder)} lock ({done.lock.reason}): {reason}"
            if done.forced
            else reason
        )
        warnings = self.notify(
            Notice(Event.UNLOCKED, scope, self.actor, self.backend.repo, detail=detail)
        )
        return done, warnings

    def current_locks(self) -> list[Lock]:
        """Every environment's lock and the global one, expired ones included."""
        if self.locks is None:
            return []
        return self.locks.current(list(self.config.environments))

    # -- stale commits ---------------------------------------------------------------------

    def stale(
        self, environment: str | None = None, *, dry_run: bool = False
    ) -> tuple[stale_module.StaleReport, list[str]]:
        """Scan for commits merged but not deployed past ``stale-after``, remind each once
        (to the environment's route), and answer the report and any warnings."""
        if self.stale_state is None:
            raise UsageError(
                "this backend keeps no stale marks", fix="use the github or local backend"
            )
        warnings: list[str] = []

        def deliver(env: stale_module.EnvironmentStale) -> bool:
            sent, said = self._remind(env)
            warnings.extend(said)
            return sent

        report = stale_module.scan(
            config=self.config,
            state=self.stale_state,
            repo=self.backend.repo,
            environments=None if environment is None else [environment],
            deliver=deliver,
            dry_run=dry_run,
            clock=self.clock,
        )
        return report, warnings

    def _remind(self, env: stale_module.EnvironmentStale) -> tuple[bool, list[str]]:
        """Send ``env``'s reminder to its route: (delivered, warnings). Not delivered, with
        a warning naming the fix, when the environment has no route or its route leaves
        out ``stale-commits``; the notifier's own warnings when sending failed."""
        name = env.environment
        unsent = "its reminder was not sent"
        routes = routes_for(self.config, name)
        if not routes:
            return False, [
                f"no notification route for {name}: add notify: under it in "
                f".commit-train.yml; {unsent}"
            ]
        if not any(Event.STALE_COMMITS.value in route.events for route in routes):
            return False, [
                f"the notification route for {name} leaves out {Event.STALE_COMMITS.value}: "
                f"add it to its events: in .commit-train.yml; {unsent}"
            ]
        lines = tuple(StaleLine(c.sha, c.title, c.author, c.age) for c in env.remind)
        notice = Notice(
            Event.STALE_COMMITS,
            name,
            self.actor,
            self.backend.repo,
            detail=f"older than {duration(env.threshold_seconds or 0)}",
            commits=lines,
        )
        if self.notifier is None:
            return False, [f"no notifier to send {name}'s reminder; {unsent}"]
        sent = self.notifier.send(notice)
        if sent.sent > 0:
            return True, sent.warnings
        return False, sent.warnings or [f"{unsent} for {name}"]

    # -- history ---------------------------------------------------------------------------

    def history(self, environment: str | None = None, limit: int = 20) -> History:
        """Per environment (config order), the newest ``limit`` deploys, newest first."""
        _limit(limit, most=HISTORY_LIMIT_MAX, what="the number of deploys")
        if environment is not None:
            self.config.environment(environment)  # NotFoundError naming the known ones
            names = [environment]
        else:
            names = list(self.config.environments)
        found: dict[str, list[Deployment]] = {}
        if names:
            for name in names:
                found[name] = self.backend.deployments(environment=name, limit=limit)
        else:  # no config: whatever the ledger holds
            for dep in self.backend.deployments(limit=HISTORY_LIMIT_MAX):
                found.setdefault(dep.environment, [])
                if len(found[dep.environment]) < limit:
                    found[dep.environment].append(dep)
        return History(
            repo=self.backend.repo,
            environments=tuple(
                EnvironmentHistory(
                    environment=name,
                    entries=tuple(HistoryEntry(d, _title(d)) for d in deps),
                )
                for name, deps in found.items()
            ),
        )

    # -- the pipeline's progress -----------------------------------------------------------

    def supersede(
        self, deployment_id: int, *, environment: str | None, sha: str = ""
    ) -> list[Deployment]:
        """Close every older deploy of the environment that never started, once deployment
        ``deployment_id`` has started: each gets ``error`` "superseded: deployment N of
        <sha> started after it; its run was cancelled". Also closes the environment's
        abandoned deploys (``service.abandon``: in progress, silent past
        ``kubernetes.abandon-after``). Answers the ones closed.

        Why: runs of the deploy workflow queue per environment, and a run that GitHub
        cancels while it waits (a newer one took its place in the queue) runs no step, so
        nothing else would ever give its deployment a final status. Only commit-train's
        own deployments (``payload.commit_train``) are touched, never another tool's. One
        read (the environment's newest ``SUPERSEDE_WINDOW`` deployments, which also names
        the environment when ``environment`` is None) and one status per stale deploy.
        """
        recent = self.backend.deployments(environment=environment, limit=SUPERSEDE_WINDOW)
        own = next((d for d in recent if d.id == deployment_id), None)
        if own is not None:
            environment, sha = own.environment, own.sha
        if environment is None:
            return []
        stale = [
            d
            for d in recent
            if d.id < deployment_id
            and d.environment == environment
            and d.payload.get("commit_train")
            and d.state in NEVER_STARTED
        ]
        line = clip(
            f"superseded: deployment {deployment_id} of {sha[:7]} started after it; "
            "its run was cancelled"
        )
        closed = []
        for dep in stale:
            status = self.backend.add_status(dep.id, state=DeployState.ERROR, description=line)
            closed.append(dataclasses.replace(dep, statuses=(*dep.statuses, status)))
        # and the ones whose process died mid-run (service.abandon), from the same read
        mine = [d for d in recent if d.environment == environment]
        limit = self.config.kubernetes.abandon_seconds
        for dep in abandon.abandoned_among(mine, now=self.clock(), limit=limit, but=deployment_id):
            closed.append(abandon.close(self, dep))
        return closed

    def set_status(
        self,
        deployment_id: int,
        state: DeployState | str,
        description: str = "",
        log_url: str | None = None,
        environment_url: str | None = None,
    ) -> DeploymentStatus:
        """Record a step of a deploy; the description is cut to GitHub's 140 characters."""
        try:
            parsed = DeployState(state)
        except ValueError:
            parsed = DeployState.NONE
        if parsed == DeployState.NONE:
            states = ", ".join(s.value for s in DeployState if s != DeployState.NONE)
            raise UsageError(f"unknown deployment state {state!r}", fix=f"use one of: {states}")
        return self.backend.add_status(
            deployment_id,
            state=parsed,
            description=clip(description),
            log_url=log_url,
            environment_url=environment_url,
        )


def _title(deployment: Deployment) -> str:
    title = deployment.payload.get("title") if deployment.payload else None
    return str(title) if title else deployment.description
