"""``LocalBackend``: the ledger of a plain git repository, no GitHub needed.

It implements ``ports.Backend`` (and ``History``, ``CheckRecorder``, ``OfflineJournal``).
Commits come from git; deployments, their statuses and checks live in the journal
(``journal.Journal``), with GitHub's semantics: ids only grow, statuses are kept oldest
first, and a ``success`` adds an ``inactive`` status to every older non-production
deployment of the same environment whose latest state is ``success`` (GitHub's
``auto_inactive``, which spares production and transient deployments: an older production
deploy keeps its ``success``, and the live one is the newest success; a deploy that never
finished keeps its state, so it still shows as unfinished). Each deployment records the
``production`` flag it was created with.

In a plain repository nothing reports checks, so ``record_check`` stores them (the CLI's
``record-check``, a local CI script, or the demo).

Why one module of ~610 lines: it is the whole ``Backend`` port over one journal, each method
a few SQL statements; the journal's schema, its locks, marks and offline bookkeeping already
live beside it (``journal``, ``locks``, ``marks``, ``offline``).
"""

from __future__ import annotations

import getpass
import json
import sqlite3
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from commit_train.backends.local import offline
from commit_train.backends.local.journal import JOURNAL, Journal, stamp
from commit_train.errors import LedgerError, NotFoundError, UsageError
from commit_train.gitrepo import GitRepo
from commit_train.models import (
    ANCESTORS,
    LOOK_BACK_PAGE,
    RECENT_DEPLOYMENTS,
    Check,
    Checks,
    CheckState,
    Commit,
    Deployment,
    DeploymentStatus,
    DeployState,
    GateFacts,
    JournalEntry,
    Snapshot,
    TrainCommit,
    parse_time,
    utc_now,
)

if TYPE_CHECKING:
    from commit_train.ports import CheckRecorder, LedgerEntry, OfflineJournal

_CHECK_STATES = {
    "success": CheckState.SUCCESS,
    "failure": CheckState.FAILURE,
    "pending": CheckState.PENDING,
    # GitHub's other spellings, so a CI script can pass what it already has
    "error": CheckState.FAILURE,
    "failed": CheckState.FAILURE,
    "cancelled": CheckState.FAILURE,
    "timed_out": CheckState.FAILURE,
    "in_progress": CheckState.PENDING,
    "queued": CheckState.PENDING,
}


def check_state(text: str | CheckState) -> CheckState:
    """``success``/``failure``/``pending`` (and GitHub's synonyms) to a ``CheckState``."""
    if isinstance(text, CheckState) and text != CheckState.NONE:
        return text
    state = _CHECK_STATES.get(str(text).strip().lower())
    if state is None:
        raise UsageError(
            f"unknown check state {text!r}", fix="use one of: success, failure, pending"
        )
    return state


class LocalBackend:
    """``ports.Backend`` over a local git repository and its SQLite journal."""

    def __init__(
        self,
        root: Path,
        *,
        default_branch: str | None = None,
        creator: str | None = None,
        clock: Callable[[], datetime] | None = None,
        git: GitRepo | None = None,
    ) -> None:
        """``default_branch`` is the config's ``default-branch:`` (origin/HEAD wins, as in
        ``GitRepo.default_branch``); ``creator`` is recorded on deployments and statuses
        (default: git's ``user.name``, else the login name); ``clock`` stamps every record."""
        self.git = git or GitRepo(Path(root))
        self._configured_branch = default_branch
        self._creator = creator
        self._clock = clock or utc_now
        self._default_branch: str | None = None
        self._journal: Path | None = None
        self._journal_db: Journal | None = None
        self._repo: str | None = None

    # -- identity --------------------------------------------------------------------------

    @property
    def repo(self) -> str:
        if self._repo is None:
            origin = self.git.origin()
            self._repo = origin.full_name if origin is not None else self.git.root.name
        return self._repo

    @property
    def journal_path(self) -> Path:
        if self._journal is None:
            self._journal = self.git.git_dir() / JOURNAL
        return self._journal

    @property
    def progress_url(self) -> str:
        return self.journal_path.as_uri()

    @property
    def creator(self) -> str:
        if self._creator is None:
            self._creator = self.git.user_name() or _login()
        return self._creator

    @property
    def journal(self) -> Journal:
        """The SQLite journal (``Journal``): every connection to it goes through there."""
        if self._journal_db is None:
            self._journal_db = Journal(self.journal_path)
        return self._journal_db

    # -- commits and checks ----------------------------------------------------------------

    def default_branch(self) -> str:
        if self._default_branch is None:
            self._default_branch = self.git.default_branch(self._configured_branch)
        return self._default_branch

    def resolve(self, ref: str) -> Commit:
        if ref.strip() == "HEAD":
            commits = self.git.log(self.default_branch(), limit=1)
            if not commits:
                raise NotFoundError(f"branch {self.default_branch()} has no commits")
            return commits[0]
        return self.git.resolve(ref)

    def on_default_branch(self, sha: str) -> bool:
        return self.git.on_branch(sha, self.default_branch())

    def history(self, *, limit: int) -> list[Commit]:
        """The default branch's newest ``limit`` commits, newest first (``git log``)."""
        return self.git.log(self.default_branch(), limit=limit)

    def record_check(
        self,
        sha: str,
        name: str,
        state: str | CheckState,
        *,
        description: str | None = None,
        url: str | None = None,
    ) -> Check:
        """Record one check attempt on a commit; the newest attempt of a name wins."""
        parsed = check_state(state)
        name = name.strip()
        if not name:
            raise UsageError("a check needs a name", fix="pass a name such as test or lint")
        commit = self.git.resolve(sha)
        with self.transaction() as conn:
            conn.execute(
                "INSERT INTO checks (sha, name, state, created_at, description, url)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                (commit.sha, name, parsed.value, stamp(self._clock()), description, url),
            )
        return Check(name=name, kind="status", state=parsed, url=url, description=description)

    def checks(self, sha: str) -> Checks:
        return self._checks_of([sha])[sha]

    def gate_facts(
        self,
        ref: str,
        *,
        environments: Sequence[str] = (),
        refs: Sequence[str] = (),
        target: str | None = None,
    ) -> GateFacts:
        """The gate's facts from git and the journal. No refs are read: local locks live
        in the journal (``LocalLockStore``), so ``refs`` is always answered empty; with
        ``target``, the commit's ancestors come from ``git log`` (``GateFacts.ancestors``)."""
        commit = self.resolve(ref)
        return GateFacts(
            commit=commit,
            default_branch=self.default_branch(),
            on_default_branch=self.on_default_branch(commit.sha),
            checks=self.checks(commit.sha),
            deployments=tuple(self.deployments_of(commit.sha, environments=environments)),
            recent=tuple(
                self.deployments(environment=target, limit=RECENT_DEPLOYMENTS)
                if target is not None
                else ()
            ),
            ancestors=(
                tuple(self.git.history(commit.sha, limit=ANCESTORS)) if target is not None else ()
            ),
        )

    def _checks_of(self, shas: Sequence[str]) -> dict[str, Checks]:
        found: dict[str, list[Check]] = {sha: [] for sha in shas}
        if not shas:
            return {}
        with self.reading() as conn:
            if conn is not None:
                marks = ",".join("?" * len(shas))
                rows = conn.execute(
                    "SELECT sha, name, state, description, url FROM checks"  # noqa: S608 (only '?' marks and fixed clauses)
                    f" WHERE id IN (SELECT MAX(id) FROM checks WHERE sha IN ({marks})"
                    " GROUP BY sha, name) ORDER BY name",
                    list(shas),
                ).fetchall()
                for sha, name, state, description, url in rows:
                    found[sha].append(
                        Check(
                            name=name,
                            kind="status",
                            state=CheckState(state),
                            url=url,
                            description=description,
                        )
                    )
        return {sha: Checks(sha, tuple(checks)) for sha, checks in found.items()}

    # -- deployments -----------------------------------------------------------------------

    def create_deployment(
        self,
        *,
        sha: str,
        environment: str,
        payload: Mapping[str, Any],
        description: str,
        production: bool,
    ) -> Deployment:
        commit = self.git.resolve(sha)
        created = self._clock()
        with self.transaction() as conn:
            cursor = conn.execute(
                "INSERT INTO deployments"
                " (sha, environment, creator, created_at, payload, description, production)"
                " VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    commit.sha,
                    environment,
                    self.creator,
                    stamp(created),
                    json.dumps(dict(payload), sort_keys=True),
                    description,
                    int(production),
                ),
            )
            new_id = cursor.lastrowid
        if new_id is None:  # SQLite gives every inserted row an id; this is a broken file
            raise LedgerError(
                f"the deploy journal {self.journal_path} recorded no deployment id",
                fix="move the file away to start a new journal",
            )
        return Deployment(
            id=new_id,
            sha=commit.sha,
            environment=environment,
            creator=self.creator,
            created_at=created,
            payload=dict(payload),
            description=description,
            url=self.progress_url,
        )

    def add_status(
        self,
        deployment_id: int,
        *,
        state: DeployState,
        description: str = "",
        log_url: str | None = None,
        environment_url: str | None = None,
    ) -> DeploymentStatus:
        state = DeployState(state)
        if state == DeployState.NONE:
            raise UsageError("'none' is not a deployment status", fix="pass a real state")
        created = self._clock()
        with self.transaction() as conn:
            row = conn.execute(
                "SELECT environment FROM deployments WHERE id = ?", (deployment_id,)
            ).fetchone()
            if row is None:
                raise self._missing(deployment_id)
            self._insert_status(
                conn,
                deployment_id,
                state=state,
                created=created,
                description=description,
                log_url=log_url,
                environment_url=environment_url,
            )
            if state == DeployState.SUCCESS:
                older = conn.execute(
                    "SELECT d.id FROM deployments d"
                    " WHERE d.environment = ? AND d.id < ? AND d.production = 0"
                    " AND (SELECT s.state FROM deployment_statuses s"
                    "      WHERE s.deployment_id = d.id ORDER BY s.id DESC LIMIT 1) = 'success'",
                    (row[0], deployment_id),
                ).fetchall()
                for (old_id,) in older:
                    self._insert_status(
                        conn,
                        old_id,
                        state=DeployState.INACTIVE,
                        created=created,
                        description=f"replaced by deployment {deployment_id}",
                    )
        return DeploymentStatus(
            state=state,
            created_at=created,
            description=description,
            creator=self.creator,
            log_url=log_url,
            environment_url=environment_url,
        )

    def _insert_status(
        self,
        conn: sqlite3.Connection,
        deployment_id: int,
        *,
        state: DeployState,
        created: datetime,
        description: str,
        log_url: str | None = None,
        environment_url: str | None = None,
    ) -> None:
        conn.execute(
            "INSERT INTO deployment_statuses"
            " (deployment_id, state, created_at, description, creator, log_url, environment_url)"
            " VALUES (?, ?, ?, ?, ?, ?, ?)",
            (
                deployment_id,
                state.value,
                stamp(created),
                description,
                self.creator,
                log_url,
                environment_url,
            ),
        )

    def _missing(self, deployment_id: int) -> NotFoundError:
        return NotFoundError(
            f"no deployment {deployment_id} in the local journal",
            fix="list them with commit-train history",
        )

    def get_deployment(self, deployment_id: int) -> Deployment:
        with self.reading() as conn:
            found = self._select(conn, "WHERE id = ?", (deployment_id,))
        if not found:
            raise self._missing(deployment_id)
        return found[0]

    def deployments(self, *, environment: str | None = None, limit: int = 20) -> list[Deployment]:
        with self.reading() as conn:
            if environment is None:
                return self._select(conn, "ORDER BY id DESC LIMIT ?", (limit,))
            return self._select(
                conn, "WHERE environment = ? ORDER BY id DESC LIMIT ?", (environment, limit)
            )

    # -- the ledger in bulk, for ``stats``: reading the journal is free, so nothing is cached

    @property
    def ledger_cache_key(self) -> None:
        return None

    def deployment_pages(
        self, *, environments: Sequence[str], page: int = 1000
    ) -> Iterator[list[LedgerEntry]]:
        """Newest first, ``page`` deployments at a time (one SQLite query each)."""
        names = list(dict.fromkeys(environments))
        conditions = [f"environment IN ({','.join('?' * len(names))})"] if names else []
        before: int | None = None
        while True:
            clauses = [*conditions, *(["id < ?"] if before is not None else [])]
            where = f"WHERE {' AND '.join(clauses)} " if clauses else ""
            args = (*names, *([before] if before is not None else []), page)
            with self.reading() as conn:
                found = self._select(conn, f"{where}ORDER BY id DESC LIMIT ?", args)
            if found:
                yield [(str(d.id), d) for d in found]
            if len(found) < page:
                return
            before = found[-1].id

    def refresh_deployments(self, keys: Sequence[str]) -> list[LedgerEntry]:
        ids = [int(k) for k in keys if k.isdigit()]
        found: list[LedgerEntry] = []
        with self.reading() as conn:
            for start in range(0, len(ids), 500):
                chunk = ids[start : start + 500]
                marks = ",".join("?" * len(chunk))
                rows = self._select(conn, f"WHERE id IN ({marks}) ORDER BY id DESC", tuple(chunk))
                found += [(str(d.id), d) for d in rows]
        return found

    def deployments_of(self, sha: str, *, environments: Sequence[str]) -> list[Deployment]:
        """Deployments of commit ``sha`` to any of ``environments``, newest first: the
        newest 100, then, for each environment with none among them that ever succeeded,
        its newest one that did (one indexed query each), however far back."""
        names = list(dict.fromkeys(environments))
        if not names:
            return []
        marks = ",".join("?" * len(names))
        with self.reading() as conn:
            found = self._select(
                conn,
                f"WHERE sha = ? AND environment IN ({marks}) ORDER BY id DESC LIMIT 100",
                (sha, *names),
            )
            good = {d.environment for d in found if d.ever_succeeded}
            oldest = found[-1].id if len(found) == 100 else None
            for env in names:
                if env in good or oldest is None:
                    continue
                found += self._select(
                    conn,
                    "WHERE sha = ? AND environment = ? AND id < ? AND EXISTS (SELECT 1 FROM"
                    " deployment_statuses s WHERE s.deployment_id = deployments.id"
                    " AND s.state = 'success') ORDER BY id DESC LIMIT 1",
                    (sha, env, oldest),
                )
            return sorted(found, key=lambda d: d.id, reverse=True)

    def walk_deployments(self, *, environment: str, sha: str | None = None) -> Iterator[Deployment]:
        """Every deployment of ``environment`` (of commit ``sha`` only, when given), newest
        first, read 100 at a time (each page its own short read of the journal) as the
        caller goes on."""
        before: int | None = None
        of_commit = "" if sha is None else " AND sha = ?"
        while True:
            with self.reading() as conn:
                page = self._select(
                    conn,
                    f"WHERE environment = ?{of_commit} AND id < ? ORDER BY id DESC LIMIT ?",
                    (
                        environment,
                        *(() if sha is None else (sha,)),
                        before if before is not None else 2**62,
                        LOOK_BACK_PAGE,
                    ),
                )
            yield from page
            if len(page) < LOOK_BACK_PAGE:
                return
            before = page[-1].id

    # -- the journal ------------------------------------------------------------------------

    def transaction(self) -> AbstractContextManager[sqlite3.Connection]:
        """``Journal.transaction`` on this repository's journal (see there)."""
        return self.journal.transaction()

    def reading(self) -> AbstractContextManager[sqlite3.Connection | None]:
        """``Journal.reading`` on this repository's journal (see there)."""
        return self.journal.reading()

    def offline_entries(self) -> list[JournalEntry]:
        """``ports.OfflineJournal``: every offline deploy, oldest first (``offline``)."""
        return offline.entries(self.journal, self.get_deployment)

    def claim_sync(self, deployment_id: int, *, by: str) -> JournalEntry | None:
        """``ports.OfflineJournal``: claim an offline deploy for one ``sync`` run."""
        return offline.claim(self.journal, self.get_deployment, deployment_id, by=by, at=utc_now())

    def release_sync(self, deployment_id: int, *, by: str) -> None:
        """``ports.OfflineJournal``: end a ``sync`` run's claim."""
        offline.release(self.journal, deployment_id, by=by)

    def note_synced(self, deployment_id: int, *, github_id: int, statuses_synced: int) -> None:
        """``ports.OfflineJournal``: how far an offline deploy reached GitHub."""
        offline.note(
            self.journal,
            deployment_id,
            github_id=github_id,
            statuses_synced=statuses_synced,
            at=utc_now(),  # when it was synced, not a journal record's stamp
        )

    def environments(self) -> list[str]:
        """Every environment the journal has seen, by name."""
        with self.reading() as conn:
            if conn is None:
                return []
            rows = conn.execute("SELECT DISTINCT environment FROM deployments ORDER BY 1")
            return [r[0] for r in rows]

    def _select(
        self, conn: sqlite3.Connection | None, where: str, args: tuple[Any, ...]
    ) -> list[Deployment]:
        if conn is None:
            return []
        rows = conn.execute(
            "SELECT id, sha, environment, creator, created_at, payload, description"  # noqa: S608 (only '?' marks and fixed clauses)
            f" FROM deployments {where}",
            args,
        ).fetchall()
        if not rows:
            return []
        ids = [r[0] for r in rows]
        statuses: dict[int, list[DeploymentStatus]] = {i: [] for i in ids}
        marks = ",".join("?" * len(ids))
        for dep_id, state, created, description, creator, log_url, env_url in conn.execute(
            "SELECT deployment_id, state, created_at, description, creator, log_url,"  # noqa: S608 (only '?' marks and fixed clauses)
            f" environment_url FROM deployment_statuses WHERE deployment_id IN ({marks})"
            " ORDER BY id",
            ids,
        ):
            statuses[dep_id].append(
                DeploymentStatus(
                    state=DeployState(state),
                    created_at=parse_time(created),
                    description=description,
                    creator=creator,
                    log_url=log_url,
                    environment_url=env_url,
                )
            )
        return [
            Deployment(
                id=dep_id,
                sha=sha,
                environment=env,
                creator=creator,
                created_at=parse_time(created),
                payload=json.loads(payload),
                description=description,
                statuses=tuple(statuses[dep_id]),
                url=self.progress_url,
            )
            for dep_id, sha, env, creator, created, payload, description in rows
        ]

    # -- the snapshot ----------------------------------------------------------------------

    def snapshot(self, *, limit: int, environments: Sequence[str]) -> Snapshot:
        branch = self.default_branch()
        commits = self.git.log(branch, limit=limit)
        checks = self._checks_of([c.sha for c in commits])
        names = list(environments) or self.environments()
        live: dict[str, Deployment] = {}
        in_flight: dict[str, list[Deployment]] = {}
        shas = {c.sha for c in commits}
        with self.reading() as conn:
            for env in names:
                recent = self._select(
                    conn, "WHERE environment = ? ORDER BY id DESC LIMIT 50", (env,)
                )
                current = next((d for d in recent if d.state == DeployState.SUCCESS), None)
                if current is None:  # older than the window: look it up directly
                    current = self._live(conn, env)
                if current is not None:
                    live[env] = current
                for dep in recent:
                    if current is not None and dep.id <= current.id:
                        break
                    if dep.state.in_flight and dep.sha in shas:
                        in_flight.setdefault(dep.sha, []).append(dep)
        rows = tuple(
            TrainCommit(
                commit=c,
                checks=checks[c.sha],
                live_in=tuple(env for env in names if env in live and live[env].sha == c.sha),
                in_flight=tuple(in_flight.get(c.sha, ())),
            )
            for c in commits
        )
        return Snapshot(repo=self.repo, default_branch=branch, commits=rows, live=live)

    def _live(self, conn: sqlite3.Connection | None, environment: str) -> Deployment | None:
        if conn is None:
            return None
        found = self._select(
            conn,
            "WHERE environment = ? AND (SELECT s.state FROM deployment_statuses s"
            " WHERE s.deployment_id = deployments.id ORDER BY s.id DESC LIMIT 1) = 'success'"
            " ORDER BY id DESC LIMIT 1",
            (environment,),
        )
        return found[0] if found else None


def _login() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "local"


if TYPE_CHECKING:  # mypy proves the backend fits the ports the services use

    def _fits_the_ports(backend: LocalBackend) -> tuple[OfflineJournal, CheckRecorder]:
        return backend, backend
