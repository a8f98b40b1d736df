"""The GitHub emulator's state: users, repositories, commits (with their files), checks,
deployments, refs, GitHub Apps and their installations, org teams and webhooks.

Everything here is plain Python objects guarded by one lock (``Store.lock``); the REST and
GraphQL front ends (``github_rest``, ``github_graphql``) render them into GitHub's shapes.
Timestamps come from ``Store.clock`` so tests can freeze or move time.
"""

from __future__ import annotations

import base64
import hashlib
import itertools
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

COMMIT_STATUS_STATES = ("error", "failure", "pending", "success")
CHECK_STATUSES = ("queued", "in_progress", "completed", "waiting", "requested", "pending")
CHECK_CONCLUSIONS = (
    "action_required",
    "cancelled",
    "failure",
    "neutral",
    "success",
    "skipped",
    "stale",
    "timed_out",
    "startup_failure",
)
_NOT_STARTED = ("queued", "waiting", "requested", "pending")
DEPLOYMENT_STATUS_STATES = (
    "error",
    "failure",
    "inactive",
    "in_progress",
    "queued",
    "pending",
    "success",
)


def utcnow() -> datetime:
    return datetime.now(UTC)


def stamp(when: datetime) -> str:
    """GitHub's timestamp format: second precision, UTC, ``Z`` suffix."""
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def git_blob_sha(data: bytes) -> str:
    """The sha git gives a file's content (``git hash-object``)."""
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


def git_tree_sha(files: Mapping[str, bytes]) -> str:
    """The sha git gives the tree of ``files`` (paths to contents; every file mode 100644)."""
    entries: dict[str, tuple[bytes, bytes]] = {}  # name -> (mode, raw sha)
    subdirs: dict[str, dict[str, bytes]] = {}
    for path, data in files.items():
        head, _, rest = path.partition("/")
        if rest:
            subdirs.setdefault(head, {})[rest] = data
        else:
            entries[head] = (b"100644", bytes.fromhex(git_blob_sha(data)))
    for name, sub in subdirs.items():
        entries[name] = (b"40000", bytes.fromhex(git_tree_sha(sub)))
    # git orders entries by name, a directory's name compared as if it ended with "/"
    order = sorted(entries, key=lambda n: n + "/" if entries[n][0] == b"40000" else n)
    body = b"".join(entries[n][0] + b" " + n.encode() + b"\0" + entries[n][1] for n in order)
    return hashlib.sha1(b"tree %d\0" % len(body) + body).hexdigest()


def legacy_node_id(type_name: str, key: str | int) -> str:
    """GitHub's legacy global node id: base64 of ``0<len>:<Type><key>``."""
    raw = f"0{len(type_name)}:{type_name}{key}"
    return base64.b64encode(raw.encode()).decode()


class ApiError(Exception):
    """An error answer: status code plus GitHub's JSON body (message, documentation_url...)."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        documentation_url: str = "https://docs.github.com/rest",
        errors: list[Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.body: dict[str, Any] = {"message": message}
        if errors is not None:
            self.body["errors"] = errors
        self.body["documentation_url"] = documentation_url
        self.body["status"] = str(status)
        self.headers = headers or {}


@dataclass
class User:
    login: str
    id: int
    name: str
    type: str = "User"  # "User", "Bot" or "Organization"
    created_at: datetime = field(default_factory=utcnow)
    # the profile's public email (None: kept private, GitHub's default); what "Search users"
    # matches with ``in:email``; ``email`` below is the no-reply address commits carry
    public_email: str | None = None

    @property
    def email(self) -> str:
        return f"{self.id}+{self.login}@users.noreply.github.com"


@dataclass
class App:
    slug: str
    id: int
    name: str
    owner: User
    created_at: datetime
    # Apps made with ``GitHubEmulator.create_app`` have a key pair and their own permissions;
    # the built-in ones (github-actions, the CI apps of check runs) have neither.
    private_key_pem: str | None = None
    public_key: Any = None
    permissions: dict[str, str] = field(
        default_factory=lambda: {"checks": "write", "metadata": "read", "statuses": "write"}
    )
    events: list[str] = field(default_factory=lambda: ["check_run", "check_suite"])

    @property
    def bot_login(self) -> str:
        """The App's bot account: what it acts as with an installation token."""
        return f"{self.slug}[bot]"


@dataclass
class Installation:
    """An App installed on a user or organization account (GitHub: ``installation``)."""

    id: int
    app: App
    account: User
    repository_selection: str  # "all" or "selected"
    repositories: list[str]  # full names, when selected
    created_at: datetime

    def covers(self, repo: EmulatedRepo) -> bool:
        if repo.owner is not self.account:
            return False
        return self.repository_selection == "all" or repo.full_name in self.repositories


@dataclass
class InstallationToken:
    token: str
    installation: Installation
    expires_at: datetime
    permissions: dict[str, str]


@dataclass
class Team:
    id: int
    org: User
    slug: str
    name: str
    members: list[str]
    created_at: datetime


@dataclass
class Commit:
    sha: str
    message: str
    author: User
    parents: list[str]
    when: datetime
    tree: str
    files: dict[str, bytes] = field(default_factory=dict)  # every file of the commit's tree

    @property
    def title(self) -> str:
        return self.message.split("\n", 1)[0]


@dataclass
class Status:
    id: int
    sha: str
    context: str
    state: str
    description: str | None
    target_url: str | None
    creator: User
    created_at: datetime


@dataclass
class CheckSuite:
    id: int
    sha: str
    app: App
    head_branch: str | None
    created_at: datetime
    updated_at: datetime
    workflow_run: int | None = None  # the GitHub Actions run this suite is, if any
    workflow: str | None = None  # that run's workflow name


@dataclass
class CheckRun:
    id: int
    sha: str
    name: str
    status: str
    conclusion: str | None
    started_at: datetime | None
    completed_at: datetime | None
    suite: CheckSuite


@dataclass
class DeploymentStatus:
    id: int
    deployment_id: int
    state: str
    description: str
    environment: str
    log_url: str
    environment_url: str
    creator: User
    created_at: datetime


@dataclass
class Deployment:
    id: int
    sha: str
    ref: str
    task: str
    payload: Any
    environment: str
    original_environment: str
    description: str | None
    creator: User
    created_at: datetime
    updated_at: datetime
    transient_environment: bool
    production_environment: bool
    statuses: list[DeploymentStatus] = field(default_factory=list)
    performed_via: App | None = None  # the App whose installation token created it

    @property
    def latest_state(self) -> str | None:
        return self.statuses[-1].state if self.statuses else None


def combined_state(states: Iterable[str]) -> str:
    """GitHub's combined commit status: failure beats pending beats success; none is pending."""
    seen = list(states)
    if any(s in ("error", "failure") for s in seen):
        return "failure"
    if not seen or any(s == "pending" for s in seen):
        return "pending"
    return "success"


class EmulatedRepo:
    """One repository: a commit graph, refs, commit statuses, check runs and deployments."""

    def __init__(self, store: Store, *, owner: User, name: str, default_branch: str, id: int):
        self._store = store
        self.owner = owner
        self.name = name
        self.id = id
        self.full_name = f"{owner.login}/{name}"
        self.default_branch = default_branch
        self.created_at = store.now()
        self.commits: dict[str, Commit] = {}
        self._refs: dict[str, str] = {}
        self.statuses: list[Status] = []
        self.check_suites: list[CheckSuite] = []
        self.check_runs: list[CheckRun] = []
        self._deployments: list[Deployment] = []
        self._seq = itertools.count(1)
        self._trees: dict[str, dict[str, bytes]] = {}  # made by POST /git/trees: sha -> files

    # -- scripting API (tests) -------------------------------------------------------------

    @property
    def refs(self) -> dict[str, str]:
        with self._store.lock:
            return dict(self._refs)

    def commit(
        self,
        message: str,
        *,
        author: str = "alice",
        branch: str | None = None,
        parents: list[str] | None = None,
        when: datetime | None = None,
        files: Mapping[str, str | bytes | None] | None = None,
    ) -> str:
        """Add a commit on ``branch`` (default: the default branch) and move the branch to it.

        The commit has its first parent's files, changed by ``files``: a path (``a/b.yml``)
        to its new text or bytes, or to None to delete it. With files, the tree sha is git's
        own (the same content gives the same tree); without any, a unique made-up one."""
        with self._store.lock:
            branch = branch or self.default_branch
            ref = f"refs/heads/{branch}"
            if parents is None:
                parents = [self._refs[ref]] if ref in self._refs else []
            for parent in parents:
                if parent not in self.commits:
                    raise ValueError(f"unknown parent commit {parent}")
            when = when or self._store.now()
            user = self._store.user(author)
            seq = next(self._seq)
            snapshot = dict(self.commits[parents[0]].files) if parents else {}
            for path, content in (files or {}).items():
                path = path.strip("/")
                if not path or "" in path.split("/"):
                    raise ValueError(f"bad file path {path!r}")
                if content is None:
                    snapshot.pop(path, None)
                else:
                    snapshot[path] = content.encode() if isinstance(content, str) else content
            if snapshot:
                tree = git_tree_sha(snapshot)
            else:
                tree = hashlib.sha1(f"tree {self.full_name} {seq}".encode()).hexdigest()
            stamp_s = int(when.timestamp())
            content = (
                f"tree {tree}\n"
                + "".join(f"parent {p}\n" for p in parents)
                + f"author {user.name} <{user.email}> {stamp_s} +0000\n"
                + f"committer {user.name} <{user.email}> {stamp_s} +0000\n\n{message}\n"
            )
            sha = hashlib.sha1(f"commit {len(content)}\0{content}".encode()).hexdigest()
            self.commits[sha] = Commit(sha, message, user, list(parents), when, tree, snapshot)
            self._refs[ref] = sha
            return sha

    def create_tree(self, files: dict[str, bytes]) -> str:
        """``POST /git/trees``: the tree of ``files`` (and each folder's) becomes known."""
        with self._store.lock:
            sha = git_tree_sha(files)
            self._trees[sha] = dict(files)
            folders = {path.rsplit("/", 1)[0] for path in files if "/" in path}
            for folder in {f.split("/")[0] for f in folders}:
                inner = {
                    path[len(folder) + 1 :]: data
                    for path, data in files.items()
                    if path.startswith(folder + "/")
                }
                self.create_tree(inner)
            return sha

    def tree_files(self, sha: str) -> dict[str, bytes] | None:
        """The files of a known tree (one made, or a commit's), else None."""
        with self._store.lock:
            if sha in self._trees:
                return dict(self._trees[sha])
            for commit in self.commits.values():
                if commit.tree == sha:
                    return dict(commit.files)
            return {} if sha == git_tree_sha({}) else None

    def create_git_commit(self, message: str, *, tree: str, parents: list[str], author: str) -> str:
        """``POST /git/commits``: a commit object that no ref points at (yet)."""
        with self._store.lock:
            for parent in parents:
                self._require_commit(parent)
            when = self._store.now()
            user = self._store.user(author)
            stamp_s = int(when.timestamp())
            content = (
                f"tree {tree}\n"
                + "".join(f"parent {p}\n" for p in parents)
                + f"author {user.name} <{user.email}> {stamp_s} +0000\n"
                + f"committer {user.name} <{user.email}> {stamp_s} +0000\n\n{message}\n"
            )
            sha = hashlib.sha1(f"commit {len(content)}\0{content}".encode()).hexdigest()
            files = self.tree_files(tree) or {}
            self.commits[sha] = Commit(sha, message, user, list(parents), when, tree, files)
            return sha

    def create_branch(self, name: str, sha: str) -> None:
        with self._store.lock:
            self._require_commit(sha)
            self._refs[f"refs/heads/{name}"] = sha

    def add_status(
        self,
        sha: str,
        *,
        context: str,
        state: str,
        description: str | None = None,
        target_url: str | None = None,
        creator: str = "ci-bot",
    ) -> int:
        with self._store.lock:
            self._require_commit(sha)
            if state not in COMMIT_STATUS_STATES:
                raise ValueError(f"bad commit status state {state!r}")
            status = Status(
                id=self._store.next_id(),
                sha=sha,
                context=context,
                state=state,
                description=description,
                target_url=target_url,
                creator=self._store.user(creator),
                created_at=self._store.now(),
            )
            self.statuses.append(status)
            return status.id

    def add_check_run(
        self,
        sha: str,
        *,
        name: str,
        status: str = "completed",
        conclusion: str | None = "success",
        app_slug: str = "github-actions",
        started_at: datetime | None = None,
        completed_at: datetime | None = None,
        workflow_run: int | None = None,
        workflow: str | None = None,
    ) -> int:
        """Add a check run; the same ``name`` again is a re-run attempt (newer id, same suite).

        ``workflow_run`` makes it a job of that GitHub Actions run of the workflow named
        ``workflow``: each run has its own check suite, as on GitHub."""
        with self._store.lock:
            self._require_commit(sha)
            if status not in CHECK_STATUSES:
                raise ValueError(f"bad check run status {status!r}")
            if status == "completed" and conclusion not in CHECK_CONCLUSIONS:
                raise ValueError(f"bad check run conclusion {conclusion!r}")
            if status != "completed":
                conclusion = None
            now = self._store.now()
            app = self._store.app(app_slug)
            suite = next(
                (
                    s
                    for s in self.check_suites
                    if s.sha == sha and s.app is app and s.workflow_run == workflow_run
                ),
                None,
            )
            if suite is None:
                suite = CheckSuite(
                    id=self._store.next_id(),
                    sha=sha,
                    app=app,
                    head_branch=self._branch_at(sha),
                    created_at=now,
                    updated_at=now,
                    workflow_run=workflow_run,
                    workflow=workflow,
                )
                self.check_suites.append(suite)
            suite.updated_at = now
            run = CheckRun(
                id=self._store.next_id(),
                sha=sha,
                name=name,
                status=status,
                conclusion=conclusion,
                # a run not started yet (a re-run still queued) has no start time
                started_at=started_at or (None if status in _NOT_STARTED else now),
                completed_at=(completed_at or now) if status == "completed" else completed_at,
                suite=suite,
            )
            self.check_runs.append(run)
            return run.id

    def add_deployment(
        self,
        sha: str,
        *,
        environment: str,
        creator: str = "alice",
        payload: dict[str, Any] | None = None,
        statuses: Sequence[str] = (),
        created_at: datetime | None = None,
        description: str = "",
        task: str = "deploy",
        ref: str | None = None,
        production: bool | None = None,
        transient: bool = False,
    ) -> int:
        """Record a deployment directly (no gate); ``statuses`` are applied in order.

        ``production`` defaults to GitHub's: true for the environment named production."""
        with self._store.lock:
            self._require_commit(sha)
            deployment = self.new_deployment(
                sha=sha,
                ref=ref or sha,
                task=task,
                payload=payload if payload is not None else {},
                environment=environment,
                description=description,
                creator=self._store.user(creator),
                transient_environment=transient,
                production_environment=(
                    environment == "production" if production is None else production
                ),
                created_at=created_at,
            )
            for state in statuses:
                self.new_deployment_status(
                    deployment,
                    state=state,
                    creator=deployment.creator,
                    created_at=created_at,
                )
            return deployment.id

    @property
    def deployments(self) -> list[dict[str, Any]]:
        """The stored deployments as GitHub's REST representations, oldest first."""
        from .github_rest import render_deployment

        with self._store.lock:
            return [render_deployment(self._store, self, d) for d in self._deployments]

    def deployment_statuses(self, deployment_id: int) -> list[dict[str, Any]]:
        """One deployment's statuses as REST representations, oldest first."""
        from .github_rest import render_deployment_status

        with self._store.lock:
            deployment = self.get_deployment(deployment_id)
            return [render_deployment_status(self._store, self, s) for s in deployment.statuses]

    # -- queries and mutations used by the front ends ----------------------------------------

    @property
    def deployment_objects(self) -> list[Deployment]:
        return self._deployments

    def ref_items(self) -> list[tuple[str, str]]:
        return sorted(self._refs.items())

    def set_ref(self, ref: str, sha: str) -> None:
        self._refs[ref] = sha

    def delete_ref(self, ref: str) -> None:
        del self._refs[ref]

    def get_ref(self, ref: str) -> str | None:
        return self._refs.get(ref)

    def get_deployment(self, deployment_id: int) -> Deployment:
        for deployment in self._deployments:
            if deployment.id == deployment_id:
                return deployment
        raise ApiError(404, "Not Found")

    def _require_commit(self, sha: str) -> None:
        if sha not in self.commits:
            raise ValueError(f"unknown commit {sha} in {self.full_name}")

    def _branch_at(self, sha: str) -> str | None:
        for ref, tip in sorted(self._refs.items()):
            if tip == sha and ref.startswith("refs/heads/"):
                return ref.removeprefix("refs/heads/")
        return None

    def resolve(self, ref: str) -> str | None:
        """A branch, tag, ``heads/x``/``refs/heads/x`` or a full or unique short sha."""
        for candidate in (ref, f"refs/{ref}", f"refs/heads/{ref}", f"refs/tags/{ref}"):
            if candidate.startswith("refs/") and candidate in self._refs:
                return self._refs[candidate]
        lowered = ref.lower()
        if ref == "HEAD":
            return self._refs.get(f"refs/heads/{self.default_branch}")
        if len(lowered) == 40 and lowered in self.commits:
            return lowered
        if 4 <= len(lowered) < 40 and all(c in "0123456789abcdef" for c in lowered):
            matches = [sha for sha in self.commits if sha.startswith(lowered)]
            if len(matches) == 1:
                return matches[0]
        return None

    def is_branch(self, ref: str) -> bool:
        return f"refs/heads/{ref.removeprefix('refs/heads/')}" in self._refs

    def first_parent_history(self, sha: str) -> list[Commit]:
        out: list[Commit] = []
        current: str | None = sha
        while current is not None:
            commit = self.commits[current]
            out.append(commit)
            current = commit.parents[0] if commit.parents else None
        return out

    def ancestors(self, sha: str) -> set[str]:
        """``sha`` and every commit reachable from it."""
        seen: set[str] = set()
        todo = [sha]
        while todo:
            current = todo.pop()
            if current in seen:
                continue
            seen.add(current)
            todo.extend(self.commits[current].parents)
        return seen

    def merge_base(self, a: str, b: str) -> str | None:
        """The newest common ancestor, found by walking ``b``'s history breadth first."""
        reachable = self.ancestors(a)
        queue = [b]
        seen: set[str] = set()
        while queue:
            current = queue.pop(0)
            if current in seen:
                continue
            seen.add(current)
            if current in reachable:
                return current
            queue.extend(self.commits[current].parents)
        return None

    def compare(self, base: str, head: str) -> tuple[str, list[str], list[str]] | None:
        """GitHub's comparison of two commits: (status, ahead, behind), where ``ahead`` are
        the commits of ``head`` missing from ``base`` and ``behind`` the other way round;
        None when they share no history (no comparison can be made)."""
        if self.merge_base(base, head) is None:
            return None
        base_set, head_set = self.ancestors(base), self.ancestors(head)
        ahead = [c for c in head_set if c not in base_set]
        behind = [c for c in base_set if c not in head_set]
        if base == head:
            status = "identical"
        elif not behind:
            status = "ahead"
        elif not ahead:
            status = "behind"
        else:
            status = "diverged"
        return status, ahead, behind

    def latest_statuses(self, sha: str) -> list[Status]:
        """The newest status of each context, in the order the contexts first appeared."""
        latest: dict[str, Status] = {}
        for status in self.statuses:
            if status.sha == sha:
                latest[status.context] = status
        return sorted(latest.values(), key=lambda s: s.id)

    def runs_for(self, sha: str, *, latest: bool) -> list[CheckRun]:
        """Check runs of ``sha``, newest first; ``latest`` keeps only the newest of each name."""
        runs = sorted((r for r in self.check_runs if r.sha == sha), key=lambda r: -r.id)
        if not latest:
            return runs
        seen: set[tuple[int, str]] = set()
        out = []
        for run in runs:
            key = (run.suite.app.id, run.name)
            if key not in seen:
                seen.add(key)
                out.append(run)
        return out

    def suite_runs(self, suite: CheckSuite, *, latest: bool) -> list[CheckRun]:
        return [r for r in self.runs_for(suite.sha, latest=latest) if r.suite is suite]

    def suite_state(self, suite: CheckSuite) -> tuple[str, str | None]:
        """(status, conclusion) of a suite from its latest runs, the way GitHub rolls them up."""
        runs = self.suite_runs(suite, latest=True)
        pending = [r for r in runs if r.status != "completed"]
        if pending:
            status = "in_progress" if any(r.status == "in_progress" for r in pending) else "queued"
            return status, None
        order = [
            "action_required",
            "startup_failure",
            "timed_out",
            "failure",
            "cancelled",
            "stale",
            "neutral",
            "skipped",
            "success",
        ]
        conclusions = [r.conclusion or "success" for r in runs]
        if not conclusions:
            return "queued", None
        return "completed", min(conclusions, key=lambda c: order.index(c) if c in order else 99)

    def new_deployment(
        self,
        *,
        sha: str,
        ref: str,
        task: str,
        payload: Any,
        environment: str,
        description: str | None,
        creator: User,
        transient_environment: bool,
        production_environment: bool,
        created_at: datetime | None = None,
        performed_via: App | None = None,
    ) -> Deployment:
        now = created_at or self._store.now()
        deployment = Deployment(
            id=self._store.next_id(),
            sha=sha,
            ref=ref,
            task=task,
            payload=payload,
            environment=environment,
            original_environment=environment,
            description=description,
            creator=creator,
            created_at=now,
            updated_at=now,
            transient_environment=transient_environment,
            production_environment=production_environment,
            performed_via=performed_via,
        )
        self._deployments.append(deployment)
        self._store.emit("deployment", self, deployment, None)
        return deployment

    def new_deployment_status(
        self,
        deployment: Deployment,
        *,
        state: str,
        creator: User,
        description: str = "",
        log_url: str = "",
        environment_url: str = "",
        environment: str | None = None,
        auto_inactive: bool = True,
        created_at: datetime | None = None,
    ) -> DeploymentStatus:
        """Add a status; a ``success`` with ``auto_inactive`` retires older deployments.

        GitHub adds an ``inactive`` status to every prior non-transient, non-production
        deployment of the same repository and environment whose latest state is ``success``
        (failed ones keep their state; production and transient ones keep theirs too, so an
        environment's live deployment is its newest success, not its only one).
        """
        if state not in DEPLOYMENT_STATUS_STATES:
            raise ValueError(f"bad deployment status state {state!r}")
        now = created_at or self._store.now()
        if environment:
            deployment.environment = environment
        status = DeploymentStatus(
            id=self._store.next_id(),
            deployment_id=deployment.id,
            state=state,
            description=description,
            environment=deployment.environment,
            log_url=log_url,
            environment_url=environment_url,
            creator=creator,
            created_at=now,
        )
        deployment.statuses.append(status)
        deployment.updated_at = now
        self._store.emit("deployment_status", self, deployment, status)
        if state == "success" and auto_inactive:
            for older in self._deployments:
                if (
                    older.id < deployment.id
                    and older.environment == deployment.environment
                    and not older.production_environment
                    and not older.transient_environment
                    and older.latest_state == "success"
                ):
                    older.statuses.append(
                        DeploymentStatus(
                            id=self._store.next_id(),
                            deployment_id=older.id,
                            state="inactive",
                            description="",
                            environment=older.environment,
                            log_url="",
                            environment_url="",
                            creator=creator,
                            created_at=now,
                        )
                    )
                    older.updated_at = now
        return status


class Store:
    """All state of one emulator instance."""

    def __init__(self, clock: Callable[[], datetime]) -> None:
        self.lock = threading.RLock()
        self.clock = clock
        self._ids = itertools.count(1001)
        self.users: dict[str, User] = {}
        self.tokens: dict[str, str] = {}
        self.apps: dict[str, App] = {}
        self.repos: dict[str, EmulatedRepo] = {}
        self.installations: dict[int, Installation] = {}
        self.installation_tokens: dict[str, InstallationToken] = {}
        self.teams: dict[tuple[str, str], Team] = {}  # (org, slug)
        self.org_members: dict[str, set[str]] = {}
        # called (under the lock) with ("deployment", repo, deployment, None) or
        # ("deployment_status", repo, deployment, status) when one is created
        self.listeners: list[
            Callable[[str, EmulatedRepo, Deployment, DeploymentStatus | None], None]
        ] = []
        self.base_url = ""  # http://127.0.0.1:PORT, set when the server starts
        # answer "Tree SHA does not exist" for git's empty tree, as a GitHub may
        self.refuse_empty_tree = False

    def now(self) -> datetime:
        return self.clock().astimezone(UTC).replace(microsecond=0)

    def next_id(self) -> int:
        return next(self._ids)

    def user(
        self,
        login: str,
        *,
        name: str | None = None,
        type: str | None = None,
        email: str | None = None,
    ) -> User:
        """The user ``login``, made on first use; ``email`` sets their public email."""
        with self.lock:
            if login not in self.users:
                kind = type or ("Bot" if login.endswith("[bot]") else "User")
                self.users[login] = User(
                    login=login,
                    id=self.next_id(),
                    name=name or login,
                    type=kind,
                    created_at=self.now(),
                )
            if email is not None:
                self.users[login].public_email = email
            return self.users[login]

    def app(self, slug: str) -> App:
        with self.lock:
            if slug not in self.apps:
                owner = self.user("github", type="Organization")
                name = "GitHub Actions" if slug == "github-actions" else slug.replace("-", " ")
                self.apps[slug] = App(slug, self.next_id(), name, owner, self.now())
            return self.apps[slug]

    def repo_by_id(self, repo_id: int) -> EmulatedRepo | None:
        return next((r for r in self.repos.values() if r.id == repo_id), None)

    def installation_for(self, repo: EmulatedRepo, app: App | None = None) -> Installation | None:
        """The installation (of ``app``, or of any App) that can reach ``repo``."""
        for installation in self.installations.values():
            if (app is None or installation.app is app) and installation.covers(repo):
                return installation
        return None

    def emit(
        self,
        event: str,
        repo: EmulatedRepo,
        deployment: Deployment,
        status: DeploymentStatus | None,
    ) -> None:
        for listener in list(self.listeners):
            listener(event, repo, deployment, status)
