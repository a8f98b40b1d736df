"""The bot's commands over the train: parse, check who may, call ``Train``, answer a ``Reply``.

No Slack client and no HTTP here: the repositories (a backend and a ``.commit-train.yml`` per
repository) and the memberships (Slack user groups, GitHub teams) come in through the two
protocols below, so the whole command set runs the same in Socket Mode, HTTP mode and tests.
Every rule is the train's: the gate, the locks and their refusals are ``service.train``'s, the
tables are ``faces.tables``' (the CLI's), and an error is the same one line the CLI prints.

Who may do what: reading commands (status, history, locks, stale, help) are open; deploy,
rollback, lock and unlock check the environment's ``allow`` list in the service config (empty:
anyone). The person is recorded, not the bot: the train's actor is the requester's GitHub
login, so the deployment's payload (``requested_by``), the history's BY column and the lock's
holder name them.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

from commit_train.config import Config, parse_duration
from commit_train.core import gate
from commit_train.core.text import plural
from commit_train.errors import CommitTrainError, NotFoundError, RefusedError, UsageError
from commit_train.faces.serve import replies
from commit_train.faces.serve.commands import Command, parse
from commit_train.faces.serve.replies import Reply, ThreadInfo
from commit_train.faces.serve.settings import ServeConfig
from commit_train.faces.tables import render_history, render_locks, render_stale, render_status
from commit_train.faces.wiring import Wiring
from commit_train.models import (
    RECENT_DEPLOYMENTS,
    Deployment,
    GateFacts,
    Snapshot,
    describe_lock,
    live_and_in_flight,
)
from commit_train.service.locks import GLOBAL, where
from commit_train.service.train import Train

log = logging.getLogger("commit_train.serve")

# commits read to say what a deploy ships when the gate's facts cannot tell (``_ships``):
# one query more, with the live deploys
SHIPS_WINDOW = 20
SOURCE = "slack"


class Repos(Protocol):
    """A repository's wiring (its backend, a new one per command, and the ports that go
    with it) and its ``.commit-train.yml``."""

    def wiring(self, repo: str) -> Wiring: ...

    def config(self, repo: str) -> Config:
        """The config on the default branch; ``NotFoundError`` when the repository cannot be
        read or has no ``.commit-train.yml``."""
        ...


class Members(Protocol):
    def in_usergroup(self, group: str, user: str) -> bool:
        """Whether Slack user ``user`` is in the user group (``@handle`` or ``S...`` id)."""
        ...

    def in_team(self, team: str, login: str, *, repo: str) -> bool:
        """Whether GitHub ``login`` is an active member of ``org/team``."""
        ...


@dataclass(frozen=True)
class Requester:
    """Who asked: their Slack id and, when known, their GitHub login."""

    user: str
    login: str | None = None
    name: str = ""

    @property
    def actor(self) -> str:
        """The name the deployment and the lock record: the GitHub login, else the Slack
        name marked as such (never the bot's login)."""
        return self.login or f"{self.name or self.user} (Slack)"


@dataclass(frozen=True)
class Thread:
    """The Slack message that becomes a deploy's thread."""

    channel: str
    ts: str


class Dispatcher:
    def __init__(
        self,
        settings: ServeConfig,
        repos: Repos,
        members: Members,
        *,
        on_deployed: Callable[[ThreadInfo], None] | None = None,
    ) -> None:
        """``on_deployed`` hears of every deploy that started (the poll fallback follows
        it when no webhook is configured)."""
        self.settings = settings
        self.repos = repos
        self.members = members
        self.on_deployed = on_deployed

    # -- entry points ---------------------------------------------------------------------

    def handle(self, text: str | Command, who: Requester, *, thread: Thread | None = None) -> Reply:
        """Answer one command; never raises (an unexpected error is one line, logged)."""
        command = parse(text) if isinstance(text, str) else text
        try:
            return self._handle(command, who, thread)
        except CommitTrainError as exc:
            return replies.refused(who.user, str(exc))
        except Exception as exc:
            log.exception("command %r failed", command.name)
            return replies.refused(
                who.user,
                f"unexpected {type(exc).__name__} while running {command.name}; "
                "the service log has the details",
            )

    def confirm(self, value: str, clicker: Requester, *, thread: Thread) -> Reply:
        """A click on a confirm button: only the requester's click deploys."""
        try:
            request = json.loads(value)
            repo, environment = str(request["repo"]), str(request["environment"])
            sha, user = str(request["sha"]), str(request["user"])
        except (ValueError, KeyError, TypeError):
            return replies.refused(clicker.user, "this button is not one of mine")
        if clicker.user != user:
            return replies.answer(
                clicker.user,
                f":no_entry: only {replies.tag(user)} can confirm their deploy of "
                f"`{sha[:7]}` to *{replies.escape(environment)}*; ask them, or deploy it "
                "yourself",
            )
        again = request.get("again") is True
        command = Command("deploy", repo=repo, environment=environment, ref=sha, again=again)
        try:
            return self._deploy(command, clicker, repo, thread, confirmed=True)
        except CommitTrainError as exc:
            return replies.refused(clicker.user, str(exc))

    # -- commands -------------------------------------------------------------------------

    def _handle(self, command: Command, who: Requester, thread: Thread | None) -> Reply:
        if command.name == "help":
            return replies.help_reply(who.user, command.problem, owner=self.settings.owner)
        if command.name == "stale" and command.repo is None:
            return self._stale_all(who)
        repo = self._repo(command.repo or "")
        if repo is None:
            return replies.help_reply(
                who.user,
                f"I don't serve a repository called {command.repo!r}",
                owner=self.settings.owner,
            )
        try:
            config = self.repos.config(repo)
        except NotFoundError as exc:
            return replies.help_reply(who.user, str(exc), owner=self.settings.owner)
        if command.name == "deploy":
            return self._deploy(command, who, repo, thread, config=config)
        if command.name == "rollback":
            return self._rollback(command, who, repo, thread, config)
        train = self._train(repo, config, who)
        if command.name == "status":
            snapshot = train.status(limit=command.limit or 5)
            return replies.answer(who.user, f"*{replies.escape(repo)}*", render_status(snapshot))
        if command.name == "history":
            found = train.history(command.environment, limit=10)
            return replies.answer(who.user, f"*{replies.escape(repo)}*", render_history(found))
        if command.name == "locks":
            found_locks = train.current_locks()
            table = render_locks(found_locks, now=train.clock())
            return replies.answer(who.user, f"*{replies.escape(repo)}* locks", table)
        if command.name == "stale":
            report, _ = train.stale(None, dry_run=True)
            return replies.answer(who.user, f"*{replies.escape(repo)}*", render_stale(report))
        if command.name == "lock":
            return self._lock(command, who, repo, train)
        if command.name == "unlock":
            return self._unlock(command, who, repo, train)
        return replies.help_reply(who.user, None, owner=self.settings.owner)  # pragma: no cover

    def _repo(self, name: str) -> str | None:
        return self.settings.full_name(name) if name else None

    def _train(self, repo: str, config: Config, who: Requester) -> Train:
        return self.repos.wiring(repo).train(config, actor=who.actor, source=SOURCE)

    def _stale_all(self, who: Requester) -> Reply:
        served = [r for r in self.settings.repositories if r != "*"]
        if not served:
            return replies.help_reply(
                who.user, "stale needs a repository here: `stale {repo}`", owner=None
            )
        blocks = []
        for name in served:
            repo = self._repo(name)
            if repo is None:
                continue
            train = self._train(repo, self.repos.config(repo), who)
            report, _ = train.stale(None, dry_run=True)
            blocks.append(f"{repo}\n{render_stale(report)}")
        return replies.answer(who.user, "stale commits", "\n\n".join(blocks))

    # -- who may ---------------------------------------------------------------------------

    def _refuse_unless_allowed(
        self, who: Requester, repo: str, environments: Sequence[str], verb: str
    ) -> None:
        for environment in environments:
            allow = self.settings.policy(environment).allow
            if not allow or any(self._matches(entry, who, repo) for entry in allow):
                continue
            hint = ""
            if who.login is None and any("/" in e for e in allow):
                hint = " (I know no GitHub login for you: add it under people: in serve.yml)"
            raise RefusedError(
                f"only {', '.join(allow)} may {verb} {environment} of {repo}{hint}",
                reason="not-allowed",
                fix=f"ask one of them, or to be added to environments.{environment}.allow "
                "in serve.yml",
            )

    def _matches(self, entry: str, who: Requester, repo: str) -> bool:
        if entry[:1] in ("U", "W") and "/" not in entry:
            return entry == who.user
        if "/" in entry:
            return who.login is not None and self.members.in_team(entry, who.login, repo=repo)
        return self.members.in_usergroup(entry, who.user)

    # -- deploy and rollback ---------------------------------------------------------------

    def _deploy(
        self,
        command: Command,
        who: Requester,
        repo: str,
        thread: Thread | None,
        *,
        config: Config | None = None,
        confirmed: bool = False,
    ) -> Reply:
        environment, ref = str(command.environment), str(command.ref)
        config = config if config is not None else self.repos.config(repo)
        if environment not in config.environments:
            decision = gate.unknown_environment(config, environment)
            raise RefusedError(decision.message, reason=decision.reason)
        self._refuse_unless_allowed(who, repo, [environment], "deploy to")
        train = self._train(repo, config, who)
        facts = train.gate_facts(environment, ref)
        ships = _ships(train, facts, environment)
        again = command.again
        asks = config.environments[environment].confirm or self.settings.policy(environment).confirm
        try:
            if asks and not confirmed:
                commit, decision = train.check(environment, ref, again=again, facts=facts)
                if not decision.allowed:
                    raise RefusedError(decision.message, reason=decision.reason)
                return replies.confirm_request(
                    user=who.user,
                    repo=repo,
                    environment=environment,
                    sha=commit.sha,
                    title=commit.title,
                    ships=ships,
                    again=again,
                )
            extra = _thread_payload(who, thread, ships, _dashboard(config, environment))
            result = train.deploy(environment, ref, payload_extra=extra, again=again, facts=facts)
        except RefusedError as refused:
            if refused.reason == gate.ALREADY_DEPLOYED:
                # the CLI says --again; here it is a word of the command
                refused.fix = (
                    f"say `deploy {command.repo} {environment} {ref} again` to deploy it anyway"
                )
            raise
        return self._started(result.deployment, who, repo, thread, ships, config, train)

    def _rollback(
        self, command: Command, who: Requester, repo: str, thread: Thread | None, config: Config
    ) -> Reply:
        from commit_train.service.rollback import rollback_target

        environment = str(command.environment)
        config.environment(environment)  # NotFoundError naming the known ones
        self._refuse_unless_allowed(who, repo, [environment], "roll back")
        train = self._train(repo, config, who)
        live, target = rollback_target(train, environment)
        facts = train.gate_facts(environment, target.sha)
        ships = _ships(train, facts, environment)
        extra = _thread_payload(who, thread, ships, _dashboard(config, environment))
        result = train.deploy(
            environment, target.sha, rollback_of=live, payload_extra=extra, facts=facts
        )
        return self._started(result.deployment, who, repo, thread, ships, config, train)

    def _started(
        self,
        deployment: Deployment | None,
        who: Requester,
        repo: str,
        thread: Thread | None,
        ships: str,
        config: Config,
        train: Train,
    ) -> Reply:
        """The deploy's first message: the deployment the train just recorded."""
        if deployment is None:  # pragma: no cover - only a dry run records nothing
            raise UsageError("the deploy recorded nothing")
        info = ThreadInfo(
            repo=repo,
            environment=deployment.environment,
            deployment_id=deployment.id,
            sha=deployment.sha,
            title=str(deployment.payload.get("title") or ""),
            requested_by=deployment.requested_by,
            user=who.user,
            channel=thread.channel if thread else "",
            ts=thread.ts if thread else "",
            ships=ships,
            dashboard=_dashboard(config, deployment.environment),
            rollback=bool(deployment.payload.get("rollback_of")),
        )
        newest = deployment.statuses[-1] if deployment.statuses else None
        reply = replies.deploy_message(
            info,
            state=newest.state.value if newest else "queued",
            description=newest.description if newest else "",
            progress_url=train.backend.progress_url,
        )
        if self.on_deployed is not None and thread is not None:
            self.on_deployed(info)
        return Reply(text=reply.text, blocks=reply.blocks, deployment_id=deployment.id)

    # -- locks ------------------------------------------------------------------------------

    def _scope(self, environment: str | None, config: Config) -> str | None:
        if environment in (None, "*", "all", GLOBAL):
            return None
        config.environment(str(environment))
        return environment

    def _lock(self, command: Command, who: Requester, repo: str, train: Train) -> Reply:
        scope = self._scope(command.environment, train.config)
        envs = list(train.config.environments) if scope is None else [scope]
        self._refuse_unless_allowed(who, repo, envs, "lock")
        ttl = None
        if command.ttl is not None:
            ttl = parse_duration(command.ttl)
        lock, _ = train.lock(scope, reason=command.reason, ttl=ttl)
        return replies.answer(who.user, f":lock: {replies.escape(describe_lock(lock))}")

    def _unlock(self, command: Command, who: Requester, repo: str, train: Train) -> Reply:
        scope = self._scope(command.environment, train.config)
        envs = list(train.config.environments) if scope is None else [scope]
        self._refuse_unless_allowed(who, repo, envs, "unlock")
        done, _ = train.unlock(scope)
        line = f"unlocked {where(done.lock.environment)} ({done.lock.reason})"
        return replies.answer(who.user, f":unlock: {replies.escape(line)}")


def _dashboard(config: Config, environment: str) -> str | None:
    env = config.environments.get(environment)
    if env is None:
        return None
    return env.dashboard or env.url


def _thread_payload(
    who: Requester, thread: Thread | None, ships: str, dashboard: str | None
) -> dict[str, object] | None:
    if thread is None:
        return None
    info = ThreadInfo(
        repo="",
        environment="",
        deployment_id=0,
        sha="",
        title="",
        requested_by="",
        user=who.user,
        channel=thread.channel,
        ts=thread.ts,
        ships=ships,
        dashboard=dashboard,
    )
    return {"slack": info.payload()}


def _ships(train: Train, facts: GateFacts, environment: str) -> str:
    """What deploying ``facts.commit`` to ``environment`` ships, in words: from the gate's
    own facts when they tell (no request), else from a ``snapshot`` (one request more)."""
    free = ships_from_facts(facts)
    if free is not None:
        return free
    snapshot = train.backend.snapshot(limit=SHIPS_WINDOW, environments=[environment])
    return what_ships(snapshot, environment, facts.commit.sha)


def ships_from_facts(facts: GateFacts) -> str | None:
    """What a deploy ships, from what the gate read anyway: the environment's newest
    deployments (``recent``, which hold the live one) and the commit's newest ancestors.

    None when they cannot tell, and the caller asks GitHub (``what_ships``): the live
    commit is not among the ancestors (a rollback to an older commit, or the live one
    further back than ``ANCESTORS``), or none of the newest ``RECENT_DEPLOYMENTS`` is live
    but there may be older ones. A forward deploy, the common case, costs nothing more.
    """
    live, _ = live_and_in_flight(facts.recent)
    if live is None:
        if len(facts.recent) < RECENT_DEPLOYMENTS:  # every deployment there was read
            return replies.ships_line((), behind=None, first=True, beyond=0)
        return None
    shas = [commit.sha for commit in facts.ancestors]
    if live.sha not in shas:
        return None
    titles = [commit.title for commit in facts.ancestors[: shas.index(live.sha)]]
    return replies.ships_line(titles, behind=None if titles else 0, first=False, beyond=0)


def what_ships(snapshot: Snapshot, environment: str, target: str | None) -> str:
    """The commits between what is live in ``environment`` and ``target``, in words."""
    live = snapshot.live.get(environment)
    if live is None:
        return replies.ships_line((), behind=None, first=True, beyond=0)
    shas = [row.commit.sha for row in snapshot.commits]
    at = shas.index(target) if target in shas else None
    live_at = shas.index(live.sha) if live.sha in shas else None
    if at is not None and live_at is not None:
        if at <= live_at:
            titles = [row.commit.title for row in snapshot.commits[at:live_at]]
            return replies.ships_line(titles, behind=None if titles else 0, first=False, beyond=0)
        return replies.ships_line((), behind=at - live_at, first=False, beyond=0)
    if at is not None:  # live is older than the window
        return f"more than {plural(len(shas) - at, 'commit')} since the live {live.short_sha}"
    if live_at is not None:
        return (
            f"rolls back more than {plural(len(shas) - live_at, 'commit')} "
            f"from the live {live.short_sha}"
        )
    return f"the live {live.short_sha} and this commit are not among the newest {len(shas)}"
