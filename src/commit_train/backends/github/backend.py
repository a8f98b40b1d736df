"""``GitHubBackend``: the ``Backend`` port on GitHub's REST and GraphQL APIs.

Everything else in commit-train sees the frozen values of ``models`` and the errors of
``errors``; no PyGithub object leaves this package, so no request happens by accident. The
backend composes the package's parts and keeps only what each read or write asks of GitHub:

- ``transport``: PyGithub's requester, every attempt counted, retries and rate limits,
  writes that must happen once, GitHub's error answers turned into commit-train's errors;
- ``queries``: the GraphQL text (one query per screen or decision);
- ``mapping``: GitHub's JSON turned into models, no I/O;
- ``refs``: the git refs locks and stale-commit marks are made of;
- ``deployments``: recording deploys and their statuses once, and reading them back.

Why one module of ~700 lines, over the usual size on purpose: what is left is the
``Backend`` port's reads (commits, checks, the gate's facts, the ``status`` screen, a
stale scan's state), each the one query or two it costs and the fallbacks that keep that
count honest; splitting them further would scatter the request budget over files.

What ``resolve`` accepts
    ``HEAD`` (the default branch's tip), a full 40-hex sha, a short sha of 4 to 39 hex
    digits, and any branch or tag name GitHub's ``GET /commits/{ref}`` resolves.
"""

from __future__ import annotations

import dataclasses
import os
import re
import time
import urllib.parse
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from commit_train import __version__
from commit_train.backends.github.answers import TOKEN_FIX
from commit_train.backends.github.deployments import Deployments
from commit_train.backends.github.history import commit_deployments, look_deeper, walk
from commit_train.backends.github.ledger import Ledger
from commit_train.backends.github.mapping import (
    UNREAD_CHECKS,
    Comparison,
    checks_from_graphql,
    checks_from_rest,
    commit_from_graphql,
    commit_from_rest,
    comparison_from_rest,
    live_and_in_flight,
    ref_targets,
    short_list,
    train_commits,
)
from commit_train.backends.github.queries import (
    CHECKS_QUERY,
    GATE_NULLABLE,
    HEAD_QUERY,
    HISTORY_QUERY,
    VIEWER_QUERY,
    branch_state_query,
    gate_query,
    snapshot_query,
)
from commit_train.backends.github.refs import Refs, full_ref
from commit_train.backends.github.transport import DEFAULT_API_URL, Transport, web_url_for
from commit_train.errors import (
    AmbiguousRefError,
    AuthError,
    GitHubError,
    NotFoundError,
    UsageError,
)
from commit_train.models import (
    BranchState,
    Checks,
    Commit,
    Deployment,
    DeploymentStatus,
    DeployState,
    GateFacts,
    RefTarget,
    Snapshot,
)

if TYPE_CHECKING:
    from commit_train.ports import Backend, LedgerEntry

_HEX = re.compile(r"[0-9a-fA-F]+")
# How far back ``resolve`` looks for the commits a short sha could mean.
_AMBIGUITY_SEARCH_DEPTH = 500


class GitHubBackend:
    """``Backend`` over GitHub's REST and GraphQL APIs for one repository."""

    def __init__(
        self,
        repo: str,
        *,
        token: str,
        base_url: str | None = None,
        max_wait: float = 60.0,
        max_attempts: int = 4,
        backoff: float = 1.0,
        timeout: int = 15,
        user_agent: str = f"commit-train/{__version__}",
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.time,
        on_wait: Callable[[str], None] | None = None,
    ) -> None:
        owner, sep, name = repo.partition("/")
        if not sep or not owner or not name or "/" in name:
            raise UsageError(
                f"repository {repo!r} is not owner/name",
                fix="give it as OWNER/NAME, e.g. acme/shop",
            )
        if not token:
            raise AuthError("no GitHub token", fix=TOKEN_FIX)
        self._repo = repo
        self._api_url = (base_url or DEFAULT_API_URL).rstrip("/")
        self._http = Transport(
            repo,
            token=token,
            api_url=self._api_url,
            max_wait=max_wait,
            max_attempts=max_attempts,
            backoff=backoff,
            timeout=timeout,
            user_agent=user_agent,
            sleep=sleep,
            clock=clock,
            on_wait=on_wait,  # one line per retry or rate-limit wait, for the face to show
        )
        self._refs = Refs(self._http, sleep=sleep, backoff=backoff)
        self._deployments = Deployments(self._http)
        self._ledger = Ledger(self._http)
        self._repository: Any = None
        self._default_branch: str | None = None
        self._viewer: str | None = None

    @classmethod
    def from_env(
        cls, repo: str, token: str | None = None, base_url: str | None = None, **kwargs: Any
    ) -> GitHubBackend:
        """A backend configured from ``GITHUB_API_URL`` and ``GITHUB_TOKEN`` / ``GH_TOKEN``."""
        token = token or os.environ.get("GITHUB_TOKEN") or os.environ.get("GH_TOKEN")
        if not token:
            raise AuthError("no GitHub token", fix=TOKEN_FIX)
        base = base_url or os.environ.get("GITHUB_API_URL") or DEFAULT_API_URL
        return cls(repo, token=token, base_url=base, **kwargs)

    # -- plumbing -------------------------------------------------------------------------

    @property
    def repo(self) -> str:
        return self._repo

    @property
    def api_url(self) -> str:
        return self._api_url

    @property
    def graphql_url(self) -> str:
        return self._http.graphql_url

    @property
    def progress_url(self) -> str:
        return f"{web_url_for(self._api_url)}/{self._repo}/deployments"

    @property
    def request_count(self) -> int:
        """HTTP requests made so far, every retry included."""
        return self._http.request_count

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> GitHubBackend:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- Backend --------------------------------------------------------------------------

    def viewer_login(self) -> str:
        """The login of the token's owner: who asks for deploys and holds locks on GitHub
        (a person's own login, or ``<app>[bot]`` for an app's or Actions' token).

        Known for free once ``gate_facts`` has run (its query reads it); otherwise one
        GraphQL request, once per backend. Unlike git's ``user.name`` or ``GITHUB_ACTOR``,
        nobody can claim another person's login with it.
        """
        if self._viewer is None:
            data = self._http.graphql(
                VIEWER_QUERY, {}, action="read who the token belongs to", scoped=False
            )
            login = str((data.get("viewer") or {}).get("login") or "")
            if not login:
                raise AuthError(
                    "GitHub did not say who the token belongs to",
                    fix="use a token of a user or an app installation",
                )
            self._viewer = login
        return self._viewer

    def default_branch(self) -> str:
        """The repository's default branch (one request per backend, then cached)."""
        if self._default_branch is None:
            if self._repository is None:
                repository = self._http.gh.get_repo(self._repo)
                with self._http.calling(f"read {self._repo}", not_found=self._http.repo_not_found):
                    repository.default_branch  # noqa: B018 (completes the lazy object: one GET)
                self._repository = repository
            self._default_branch = str(self._repository.default_branch)
        return self._default_branch

    def resolve(self, ref: str) -> Commit:
        """``HEAD``, a full or short sha, or a branch or tag name -> its commit.

        GitHub answers 422 both for an unknown short sha and for one matching several
        commits, so on 422 the default branch's recent history (``_AMBIGUITY_SEARCH_DEPTH``
        commits) is searched for the candidates.
        """
        ref = ref.strip()
        if not ref:
            raise UsageError("no commit given", fix="give a sha, a short sha or HEAD")
        if ref == "HEAD":
            return self._head()
        looks_like_sha = 4 <= len(ref) <= 40 and _HEX.fullmatch(ref) is not None

        def unknown() -> NotFoundError:
            return NotFoundError(
                f"no commit {ref} in {self._repo}",
                fix="check the sha (git log origin/HEAD), or push the commit first",
            )

        try:
            _, data = self._http.rest(
                "GET",
                self._http.path("commits", urllib.parse.quote(ref, safe="")),
                action=f"look up commit {ref}",
                not_found=unknown,
            )
        except GitHubError as exc:
            if exc.status != 422:
                raise
            if not looks_like_sha or len(ref) == 40:
                raise unknown() from exc
            candidates = self._commits_matching(ref.lower())
            if not candidates:
                raise NotFoundError(
                    f"no commit of the last {_AMBIGUITY_SEARCH_DEPTH} on "
                    f"{self.default_branch()} starts with {ref}",
                    fix="check the sha, or give the full 40 characters",
                ) from exc
            raise AmbiguousRefError(
                f"short sha {ref} matches {len(candidates)} "
                f"commit{'s' if len(candidates) != 1 else ''}"
                + (" on the default branch" if len(candidates) == 1 else "")
                + f": {short_list(candidates)}",
                candidates=tuple(sha for sha, _ in candidates),
                fix="give more characters",
            ) from exc
        return commit_from_rest(data)

    def _head(self) -> Commit:
        data = self._http.graphql(HEAD_QUERY, {}, action=f"read the default branch of {self._repo}")
        branch = data["repository"]["defaultBranchRef"]
        if branch is None or branch.get("target") is None:
            raise NotFoundError(
                f"{self._repo} has no default branch yet", fix="push a first commit"
            )
        self._default_branch = str(branch["name"])
        return commit_from_graphql(branch["target"])

    def history(self, *, limit: int) -> Iterator[Commit]:
        """Newest first, the default branch's commits (GraphQL, 100 per request)."""
        after: str | None = None
        seen = 0
        while seen < limit:
            page = min(100, limit - seen)
            data = self._http.graphql(
                HISTORY_QUERY,
                {"first": page, "after": after},
                action=f"read the history of {self._repo}",
            )
            branch = data["repository"]["defaultBranchRef"]
            if branch is None:
                return
            history = branch["target"]["history"]
            for node in history["nodes"]:
                yield commit_from_graphql(node)
                seen += 1
            if not history["pageInfo"]["hasNextPage"]:
                return
            after = history["pageInfo"]["endCursor"]

    def _commits_matching(self, prefix: str) -> list[tuple[str, str]]:
        return [
            (c.sha, c.title)
            for c in self.history(limit=_AMBIGUITY_SEARCH_DEPTH)
            if c.sha.startswith(prefix)
        ]

    def on_default_branch(self, sha: str) -> bool:
        """Is ``sha`` reachable from the default branch's tip?

        ``compare(base=default branch, head=sha)``: ``behind`` or ``identical`` means every
        commit of ``sha`` is already in the branch.
        """
        return self.compare(self.default_branch(), sha).head_contained_in_base

    def compare(self, base: str, head: str) -> Comparison:
        """GitHub's compare; only the counts and status are read (``per_page=1``)."""

        def missing() -> NotFoundError:
            return NotFoundError(
                f"cannot compare {head} with {base} in {self._repo}: one of them does not exist",
                fix="check the sha or branch name",
            )

        basehead = urllib.parse.quote(f"{base}...{head}", safe=".")
        _, data = self._http.rest(
            "GET",
            self._http.path("compare", basehead),
            action=f"compare {head} with {base}",
            params={"per_page": 1},
            not_found=missing,
        )
        return comparison_from_rest(data)

    def checks(self, sha: str) -> Checks:
        """Commit statuses and check runs of ``sha`` in one GraphQL request."""
        data = self._http.graphql(CHECKS_QUERY, {"sha": sha}, action=f"read the checks of {sha}")
        node = data["repository"]["object"]
        if node is None or "oid" not in node:
            raise NotFoundError(f"no commit {sha} in {self._repo}", fix="check the sha")
        return self._all_check_runs(checks_from_graphql(node))

    def _all_check_runs(self, checks: Checks) -> Checks:
        """``checks`` whole: when the GraphQL read left some out (``UNREAD_CHECKS``), its
        check runs are read again through REST, every page (``per_page=100``: a matrix of
        130 jobs costs two requests more). Paging rather than refusing: a big matrix is a
        normal project, not an error. Only the gate's reads do this; ``snapshot`` shows
        such a commit pending, naming the unread checks."""
        if not any(c.name == UNREAD_CHECKS for c in checks.checks):
            return checks
        sha = checks.sha
        runs = list(
            self._http.pages(
                self._http.path("commits", sha, "check-runs"),
                action=f"read the check runs of {sha}",
                params={"filter": "latest"},
                key="check_runs",
                not_found=lambda: NotFoundError(
                    f"no commit {sha} in {self._repo}", fix="check the sha"
                ),
            )
        )
        statuses = tuple(c for c in checks.checks if c.kind == "status")
        return Checks(sha, statuses + checks_from_rest(sha, (), runs).checks)

    def gate_facts(
        self,
        ref: str,
        *,
        environments: Sequence[str] = (),
        refs: Sequence[str] = (),
        target: str | None = None,
    ) -> GateFacts:
        """Everything the gate weighs about ``ref`` in one GraphQL request (``gate_query``):
        the commit, the default branch and whether the commit is on it, its statuses and
        check runs, its deployments to ``environments``, the ``refs`` that exist and, with
        ``target``, that environment's newest deployments (``GateFacts.recent``) and the
        commit's newest ancestors (``GateFacts.ancestors``: what the deploy ships).

        Fallbacks, each one request more and each rare: a ref the query does not resolve to
        a commit (an unknown or ambiguous short sha, an annotated tag) goes through
        ``resolve``, which raises its usual errors, and when ``resolve`` does find the
        commit the query is asked again for its full sha; a comparison GitHub cannot make
        is asked of the REST compare (``on_default_branch``).
        """
        ref = ref.strip()
        if not ref:
            raise UsageError("no commit given", fix="give a sha, a short sha or HEAD")
        envs = list(dict.fromkeys(environments))
        names = [full_ref(r) for r in dict.fromkeys(refs)]
        facts = self._gate_facts(ref, envs, names, target)
        if facts is None:
            commit = self.resolve(ref)  # NotFoundError / AmbiguousRefError, as always
            facts = self._gate_facts(commit.sha, envs, names, target)
        if facts is None:
            raise NotFoundError(f"no commit {ref} in {self._repo}", fix="check the sha")
        return facts

    def _gate_facts(
        self, rev: str, envs: list[str], names: list[str], target: str | None = None
    ) -> GateFacts | None:
        """``gate_facts``' query; None when ``rev`` does not name a commit in it."""
        head = rev == "HEAD"
        variables: dict[str, Any] = {} if head else {"rev": rev}
        if envs:
            variables["environments"] = envs
        variables.update({f"ref{i}": name for i, name in enumerate(names)})
        if target is not None:
            variables["target"] = [target]
        data = self._http.graphql(
            gate_query(
                head=head, promotion=bool(envs), ref_count=len(names), target=target is not None
            ),
            variables,
            action=f"read commit {rev} and its checks",
            nullable=GATE_NULLABLE,
        )
        self._viewer = str((data.get("viewer") or {}).get("login") or "") or self._viewer
        repository = data["repository"]
        branch = repository.get("defaultBranchRef")
        node = (branch or {}).get("target") if head else repository.get("object")
        if not head and (not node or "oid" not in node):
            return None  # not a commit to GraphQL: the caller falls back on ``resolve``
        if branch is None or not node or "oid" not in node:
            raise NotFoundError(
                f"{self._repo} has no default branch yet", fix="push a first commit"
            )
        self._default_branch = str(branch["name"])
        commit = commit_from_graphql(node)
        message = str(node.get("message") or "")
        if message:  # the whole first line, as REST gives it (a headline may be shortened)
            commit = dataclasses.replace(commit, title=message.split("\n", 1)[0].rstrip("\r"))
        if head:
            on_branch = True
        elif branch.get("compare") is not None:
            on_branch = str(branch["compare"]["status"]).upper() in ("BEHIND", "IDENTICAL")
        else:
            on_branch = self.on_default_branch(commit.sha)
        deployments = tuple(
            commit_deployments(
                self._http,
                self._deployments.parse,
                str(node["oid"]),
                envs,
                first=node.get("deployments") or {},
            )
            if envs
            else ()
        )
        return GateFacts(
            commit=commit,
            default_branch=self._default_branch,
            on_default_branch=on_branch,
            checks=self._all_check_runs(checks_from_graphql(node)),
            deployments=deployments,
            refs=ref_targets(repository, names),
            recent=tuple(
                self._deployments.parse(d)
                for d in (repository.get("recent") or {}).get("nodes") or []
            ),
            ancestors=tuple(
                commit_from_graphql(c) for c in (node.get("history") or {}).get("nodes") or []
            ),
        )

    def checks_via_rest(self, sha: str) -> Checks:
        """The same answer as ``checks`` from the REST API (combined status + check runs).

        Two or more requests; kept for GitHub versions without the GraphQL fields, and as
        a cross-check of the GraphQL reading.
        """

        def unknown() -> NotFoundError:
            return NotFoundError(f"no commit {sha} in {self._repo}", fix="check the sha")

        quoted = urllib.parse.quote(sha, safe="")
        statuses = list(
            self._http.pages(
                self._http.path("commits", quoted, "status"),
                action=f"read the statuses of {sha}",
                key="statuses",
                not_found=unknown,
            )
        )
        runs = list(
            self._http.pages(
                self._http.path("commits", quoted, "check-runs"),
                action=f"read the check runs of {sha}",
                params={"filter": "latest"},
                key="check_runs",
                not_found=unknown,
            )
        )
        return checks_from_rest(sha, statuses, runs)

    def _train_answer(
        self, data: Mapping[str, Any], envs: Sequence[str]
    ) -> tuple[Mapping[str, Any], Mapping[str, Any], dict[str, list[Any]]]:
        """The repository and default branch of a train query (``snapshot``'s or
        ``branch_state``'s), the branch's name noted, and each environment's deployment nodes
        (aliased ``env0``, ``env1``...)."""
        repository = data["repository"]
        branch = repository.get("defaultBranchRef")
        if branch is None:
            raise NotFoundError(
                f"{self._repo} has no default branch yet", fix="push a first commit"
            )
        self._default_branch = str(branch["name"])
        nodes_by_env = {
            env: list((repository.get(f"env{i}") or {}).get("nodes") or [])
            for i, env in enumerate(envs)
        }
        return repository, branch, nodes_by_env

    def snapshot(self, *, limit: int, environments: Sequence[str]) -> Snapshot:
        """The ``status`` screen in one GraphQL request (two in a rare case, below).

        An environment's live deployment is its newest one whose latest status is
        ``success``. The query looks at each environment's last
        ``queries.DEPLOYMENTS_PER_ENVIRONMENT`` deployments; only when one of them holds no
        success (a run of failures) do further requests look back, 100 deeper each, until
        it is found or ``models.LOOK_BACK_DEPLOYMENTS`` were looked at
        (``history.look_deeper``; the snapshot's ``looked_back`` names the environments
        given up on). A deploy
        is in flight when its latest status is queued, pending or in progress (or it has
        none yet) and it is newer than the environment's live deployment: an older one was
        overtaken and is left out.
        """
        if not 1 <= limit <= 100:
            raise UsageError(f"limit {limit} is out of range", fix="give a limit from 1 to 100")
        envs = list(dict.fromkeys(environments))
        variables: dict[str, Any] = {"limit": limit}
        variables.update({f"env{i}": [env] for i, env in enumerate(envs)})
        data = self._http.graphql(
            snapshot_query(len(envs)), variables, action=f"read the train of {self._repo}"
        )
        repository, branch, nodes_by_env = self._train_answer(data, envs)
        # Environments whose window holds no success but has more deployments behind it:
        # look further back, a page at a time, up to the cap (``history.look_deeper``).
        looked_back = look_deeper(
            self._http,
            nodes_by_env,
            {
                env: (repository.get(f"env{i}") or {}).get("pageInfo") or {}
                for i, env in enumerate(envs)
            },
        )
        live: dict[str, Deployment] = {}
        in_flight: dict[str, list[Deployment]] = {}
        for env in envs:
            current, moving = live_and_in_flight(
                [self._deployments.parse(node) for node in nodes_by_env[env]]
            )
            if current is not None:
                live[env] = current
            for dep in moving:
                in_flight.setdefault(dep.sha, []).append(dep)
        commits = train_commits(branch["target"]["history"]["nodes"], envs, live, in_flight)
        return Snapshot(
            repo=self._repo,
            default_branch=str(branch["name"]),
            commits=commits,
            live=live,
            looked_back=looked_back,
        )

    # -- deployments (``deployments.Deployments``) -----------------------------------------

    def create_deployment(
        self,
        *,
        sha: str,
        environment: str,
        payload: Mapping[str, Any],
        description: str,
        production: bool,
    ) -> Deployment:
        """Record a deploy request, exactly once even when an answer is lost."""
        return self._deployments.create(
            sha=sha,
            environment=environment,
            payload=payload,
            description=description,
            production=production,
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
        """Record a deployment status, exactly once even when an answer is lost."""
        return self._deployments.add_status(
            deployment_id,
            state=state,
            description=description,
            log_url=log_url,
            environment_url=environment_url,
        )

    def get_deployment(self, deployment_id: int) -> Deployment:
        """A deployment and all its statuses."""
        return self._deployments.get(deployment_id)

    def deployments(self, *, environment: str | None = None, limit: int = 20) -> list[Deployment]:
        """Newest first, each with its statuses: one GraphQL request per 100 deployments."""
        return self._deployments.newest(environment=environment, limit=limit)

    def deployments_of(self, sha: str, *, environments: Sequence[str]) -> list[Deployment]:
        """Deployments of commit ``sha`` to any of ``environments``: the newest 100 (one
        request), and further pages only while one of them has no success
        (``history.commit_deployments``)."""
        return commit_deployments(
            self._http, self._deployments.parse, sha, list(dict.fromkeys(environments))
        )

    def walk_deployments(self, *, environment: str, sha: str | None = None) -> Iterator[Deployment]:
        """Every deployment of ``environment`` (of commit ``sha`` only, when given), newest
        first, with its statuses: one GraphQL request per 100, made only when the caller
        reads that far."""
        return walk(self._http, self._deployments.parse, environment, sha=sha)

    # -- the ledger in bulk, for ``stats`` (``ledger.Ledger``) --------------------------------

    @property
    def ledger_cache_key(self) -> str:
        """``host/owner/name``: where ``stats`` caches the deployments it has read."""
        host = urllib.parse.urlsplit(self._api_url).netloc or "github"
        return f"{host}/{self._repo}"

    def deployment_pages(self, *, environments: Sequence[str]) -> Iterator[list[LedgerEntry]]:
        """Newest first, 100 deployments with their statuses a request (1 point each)."""
        return self._ledger.pages(environments)

    def refresh_deployments(self, keys: Sequence[str]) -> list[LedgerEntry]:
        """Deployments looked up again by node id, 100 a request."""
        return self._ledger.refresh(keys)

    # -- refs (for locks and stale marks: ``refs.Refs``) -----------------------------------

    def create_ref(self, ref: str, sha: str) -> bool:
        """Create ``ref`` at ``sha``: True if created, False if it already exists."""
        return self._refs.create_ref(ref, sha)

    def get_ref(self, ref: str) -> str | None:
        """The sha ``ref`` points at, or None when it does not exist."""
        return self._refs.get_ref(ref)

    def delete_ref(self, ref: str) -> bool:
        """Delete ``ref``: True if deleted, False if it did not exist."""
        return self._refs.delete_ref(ref)

    def update_ref(self, ref: str, sha: str, *, force: bool = False) -> bool:
        """Move ``ref`` to ``sha`` (a compare-and-swap without ``force``)."""
        return self._refs.update_ref(ref, sha, force=force)

    def create_commit(self, message: str, *, parents: Sequence[str] = ()) -> str:
        """A commit object holding only ``message``; no ref moves."""
        return self._refs.create_commit(message, parents=parents)

    def read_refs(self, refs: Sequence[str]) -> dict[str, RefTarget]:
        """The refs that exist among ``refs``, each with its commit's message: one request."""
        return self._refs.read_refs(refs)

    def branch_state(
        self, *, environments: Sequence[str], refs: Sequence[str], limit: int = 100
    ) -> BranchState:
        """The default branch's newest ``limit`` commits, each environment's live
        deployment and the refs asked for: one GraphQL request (more only for an
        environment whose last 20 deployments hold no success, as in ``snapshot``)."""
        if not 1 <= limit <= 100:
            raise UsageError(f"limit {limit} is out of range", fix="give a limit from 1 to 100")
        envs = list(dict.fromkeys(environments))
        names = [full_ref(r) for r in dict.fromkeys(refs)]
        variables: dict[str, Any] = {"limit": limit}
        variables.update({f"env{i}": [env] for i, env in enumerate(envs)})
        variables.update({f"ref{i}": name for i, name in enumerate(names)})
        data = self._http.graphql(
            branch_state_query(len(envs), len(names)),
            variables,
            action=f"read the train of {self._repo}",
        )
        self._viewer = str((data.get("viewer") or {}).get("login") or "") or self._viewer
        repository, branch, nodes_by_env = self._train_answer(data, envs)
        look_deeper(
            self._http,
            nodes_by_env,
            {
                env: (repository.get(f"env{i}") or {}).get("pageInfo") or {}
                for i, env in enumerate(envs)
            },
        )
        live: dict[str, Deployment] = {}
        for env in envs:
            nodes = nodes_by_env[env]
            current, _ = live_and_in_flight([self._deployments.parse(node) for node in nodes])
            if current is not None:
                live[env] = current
        commits = tuple(commit_from_graphql(node) for node in branch["target"]["history"]["nodes"])
        return BranchState(
            default_branch=str(branch["name"]),
            commits=commits,
            live=live,
            refs=ref_targets(repository, names),
        )


if TYPE_CHECKING:  # mypy proves the backend fits the protocol the train service uses

    def _fits_the_protocol(backend: GitHubBackend) -> Backend:
        return backend
