"""The GraphQL front end of the GitHub emulator, executed for real by graphql-core.

The schema is ``github_schema.graphql``, a strict subset of GitHub's. Resolvers are small
wrapper classes whose methods are named like the GraphQL fields (graphql-core's default
resolver calls them with the field arguments). Connections follow GitHub's rules: ``first``
or ``last`` is required and at most 100. The rate limit cost is computed GitHub's way: one
request per connection per parent node, summed, divided by 100, at least 1.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from graphql import (
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLSchema,
    InlineFragmentNode,
    IntValueNode,
    OperationDefinitionNode,
    SelectionSetNode,
    VariableNode,
    build_schema,
    parse,
    validate,
)
from graphql import (
    execute as gql_execute,
)

from .github_model import (
    CheckRun,
    CheckSuite,
    Commit,
    Deployment,
    DeploymentStatus,
    EmulatedRepo,
    Installation,
    Status,
    Store,
    User,
    combined_state,
    legacy_node_id,
    stamp,
)

if TYPE_CHECKING:
    from .github import GitHubEmulator

SCHEMA_PATH = Path(__file__).with_name("github_schema.graphql")
MAX_PAGE = 100


@cache
def schema() -> GraphQLSchema:
    built = build_schema(SCHEMA_PATH.read_text())
    resolvers = {
        "GitObject": lambda obj, *_: "Commit",
        "Actor": lambda obj, *_: obj.typename,
        "RepositoryOwner": lambda obj, *_: obj.typename,
        "Node": lambda obj, *_: getattr(obj, "typename", type(obj).__name__.removeprefix("G")),
    }
    for name, resolve in resolvers.items():
        built.get_type(name).resolve_type = resolve  # type: ignore[union-attr]
    return built


def execute(
    emu: GitHubEmulator,
    user: User,
    query: str,
    variables: dict[str, Any],
    operation_name: str | None,
    *,
    installation: Installation | None = None,
) -> dict[str, Any]:
    """Run one GraphQL request the way GitHub answers it (always a JSON object).

    With an installation token, only the installation's repositories resolve."""
    try:
        document = parse(query)
    except GraphQLError as err:
        return {"errors": [_format(err)]}
    problems = validate(schema(), document)
    if problems:
        return {"errors": [_format(e) for e in problems]}
    try:
        cost, nodes = _cost(document, variables, operation_name)
    except GraphQLError as err:
        return {"errors": [_format(err)]}
    store = emu.store
    rate = emu.charge_graphql(user.login, cost)
    rate["nodeCount"] = nodes
    context = {"store": store, "user": user, "rate": rate}
    result = gql_execute(
        schema(),
        document,
        root_value=GQuery(store, user, rate, installation),
        context_value=context,
        variable_values=variables,
        operation_name=operation_name,
    )
    out: dict[str, Any] = {}
    if result.data is not None or not result.errors:
        out["data"] = result.data
    if result.errors:
        out["errors"] = [_format(e) for e in result.errors]
    return out


def _format(err: GraphQLError) -> dict[str, Any]:
    formatted: dict[str, Any] = {}
    extensions = dict(err.extensions or {})
    if "type" in extensions:
        formatted["type"] = extensions.pop("type")
    if err.path is not None:
        formatted["path"] = list(err.path)
    if extensions:
        formatted["extensions"] = extensions
    if err.locations:
        formatted["locations"] = [{"line": loc.line, "column": loc.column} for loc in err.locations]
    formatted["message"] = err.message
    return formatted


# -- rate limit cost ------------------------------------------------------------------------


def _cost(document: Any, variables: dict[str, Any], operation_name: str | None) -> tuple[int, int]:
    fragments = {
        d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
    }
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    if operation_name:
        operations = [o for o in operations if o.name and o.name.value == operation_name]
    if not operations:
        raise GraphQLError("An operation name is required")
    requests = 0
    nodes = 0

    def ids(field: FieldNode) -> int | None:
        """``nodes(ids: [...])``: how many objects its selection is resolved for."""
        for arg in field.arguments or ():
            if arg.name.value == "ids":
                value = arg.value
                if isinstance(value, VariableNode):
                    found = variables.get(value.name.value)
                    return len(found) if isinstance(found, list) else None
                return len(getattr(value, "values", ()))
        return None

    def size(field: FieldNode) -> int | None:
        for arg in field.arguments or ():
            if arg.name.value in ("first", "last"):
                value = arg.value
                if isinstance(value, IntValueNode):
                    return int(value.value)
                if isinstance(value, VariableNode):
                    found = variables.get(value.name.value)
                    return int(found) if isinstance(found, int) else None
        return None

    def walk(selection_set: SelectionSetNode | None, multiplier: int) -> None:
        nonlocal requests, nodes
        if selection_set is None:
            return
        for selection in selection_set.selections:
            if isinstance(selection, FieldNode):
                n = size(selection)
                if n is not None:
                    requests += multiplier
                    nodes += multiplier * n
                    walk(selection.selection_set, multiplier * n)
                elif (looked_up := ids(selection)) is not None:
                    # each object looked up asks its own connections again
                    walk(selection.selection_set, multiplier * looked_up)
                else:
                    walk(selection.selection_set, multiplier)
            elif isinstance(selection, InlineFragmentNode):
                walk(selection.selection_set, multiplier)
            elif isinstance(selection, FragmentSpreadNode):
                fragment = fragments.get(selection.name.value)
                if fragment is not None:
                    walk(fragment.selection_set, multiplier)

    walk(operations[0].selection_set, 1)
    return max(int(requests / 100 + 0.5), 1), nodes


def _deployment_key(node_id: str) -> int | None:
    """The database id inside a deployment's legacy node id (``legacy_node_id``), or None."""
    try:
        raw = base64.b64decode(node_id, validate=True).decode()
    except ValueError:
        return None
    head, _, key = raw.partition(":Deployment")
    return int(key) if head == "010" and key.isdigit() else None


# -- connections ----------------------------------------------------------------------------


def _cursor(index: int) -> str:
    return base64.b64encode(f"cursor:{index}".encode()).decode()


def _uncursor(cursor: str | None) -> int | None:
    if cursor is None:
        return None
    try:
        return int(base64.b64decode(cursor).decode().removeprefix("cursor:"))
    except ValueError:
        raise GraphQLError(f"`{cursor}` does not appear to be a valid cursor.") from None


def connection(
    items: list[Any],
    name: str,
    *,
    first: int | None = None,
    after: str | None = None,
    last: int | None = None,
    before: str | None = None,
    wrap: Callable[[Any], Any] | None = None,
    **_: Any,
) -> dict[str, Any]:
    """GitHub's connection: ``nodes``, ``totalCount`` and ``pageInfo`` over ``items``
    (each node passed through ``wrap`` when given: only the page's nodes are wrapped)."""
    if first is None and last is None:
        raise GraphQLError(
            f"You must provide a `first` or `last` value to properly paginate the `{name}` "
            "connection."
        )
    for arg, value in (("first", first), ("last", last)):
        if value is not None and value > MAX_PAGE:
            raise GraphQLError(
                f"Requesting {value} records on the `{name}` connection exceeds the `{arg}` "
                f"limit of {MAX_PAGE} records."
            )
        if value is not None and value < 0:
            raise GraphQLError(f"`{arg}` on `{name}` cannot be less than zero.")
    # positions are 1-based; slicing keeps a page of a 90,000-item connection cheap
    low = max(_uncursor(after) or 0, 0)
    end = _uncursor(before)
    high = len(items) if end is None else min(max(end - 1, 0), len(items))
    start = _uncursor(after)
    has_next = has_previous = False
    if first is not None:
        has_next = high - low > first
        high = min(high, low + first)
    if last is not None:
        has_previous = high - low > last
        low = max(low, high - last)
    indexed = list(zip(range(low + 1, high + 1), items[low:high], strict=True))
    if wrap is not None:
        indexed = [(i, wrap(node)) for i, node in indexed]
    return {
        "nodes": [node for _, node in indexed],
        "totalCount": len(items),
        "pageInfo": {
            "hasNextPage": has_next,
            "hasPreviousPage": has_previous or (start is not None and start > 0),
            "startCursor": _cursor(indexed[0][0]) if indexed else None,
            "endCursor": _cursor(indexed[-1][0]) if indexed else None,
        },
    }


# -- resolvers ------------------------------------------------------------------------------


class GQuery:
    def __init__(
        self,
        store: Store,
        user: User,
        rate: dict[str, Any],
        installation: Installation | None = None,
    ) -> None:
        self.store = store
        self.user = user
        self.rate = rate
        self.installation = installation

    def rateLimit(self, info: Any, dryRun: bool = False) -> dict[str, Any]:
        return self.rate

    def nodes(self, info: Any, ids: list[str]) -> list[Any]:
        """``nodes(ids:)``: at most 100 ids (GitHub's limit, as for ``first``); an id that
        names nothing this emulator keeps (or nothing the caller may see) is null. Only
        deployments are looked up here."""
        if len(ids) > MAX_PAGE:
            raise GraphQLError(f"You may not request more than {MAX_PAGE} ids at once.")
        wanted = {node_id: _deployment_key(node_id) for node_id in ids}
        keys = {key for key in wanted.values() if key is not None}
        by_key: dict[int, tuple[EmulatedRepo, Deployment]] = {}
        with self.store.lock:
            for repo in self.store.repos.values():
                if self.installation is not None and not self.installation.covers(repo):
                    continue
                for d in repo.deployment_objects:
                    if d.id in keys:
                        by_key[d.id] = (repo, d)
        found: list[Any] = []
        for node_id in ids:
            key = wanted[node_id]
            hit = by_key.get(key) if key is not None else None
            found.append(GDeployment(self.store, hit[0], hit[1]) if hit else None)
        return found

    def viewer(self, info: Any) -> GUser:
        return GUser(self.store, self.user)

    def repository(self, info: Any, owner: str, name: str, followRenames: bool = True) -> Any:
        with self.store.lock:
            repo = self.store.repos.get(f"{owner}/{name}")
            if repo is not None and self.installation and not self.installation.covers(repo):
                repo = None
        if repo is None:
            raise GraphQLError(
                f"Could not resolve to a Repository with the name '{owner}/{name}'.",
                extensions={"type": "NOT_FOUND"},
            )
        return GRepository(self.store, repo)


class GUser:
    def __init__(self, store: Store, user: User) -> None:
        self.store = store
        self.user = user
        self.typename = {"Organization": "Organization", "Bot": "Bot"}.get(user.type, "User")
        self.login = user.login
        self.databaseId = user.id
        self.name = user.name
        self.url = f"{store.base_url}/{user.login}"
        self.id = legacy_node_id(self.typename, user.id)


class GRepository:
    def __init__(self, store: Store, repo: EmulatedRepo) -> None:
        self.store = store
        self.repo = repo
        self.id = legacy_node_id("Repository", repo.id)
        self.databaseId = repo.id
        self.name = repo.name
        self.nameWithOwner = repo.full_name
        self.url = f"{store.base_url}/{repo.full_name}"

    def owner(self, info: Any) -> GUser:
        return GUser(self.store, self.repo.owner)

    def _ref(self, qualified: str) -> GRef | None:
        with self.store.lock:
            sha = self.repo.get_ref(qualified)
        return GRef(self.store, self.repo, qualified, sha) if sha else None

    def defaultBranchRef(self, info: Any) -> GRef | None:
        return self._ref(f"refs/heads/{self.repo.default_branch}")

    def ref(self, info: Any, qualifiedName: str) -> GRef | None:
        name = qualifiedName if qualifiedName.startswith("refs/") else f"refs/heads/{qualifiedName}"
        return self._ref(name)

    def object(self, info: Any, expression: str | None = None, oid: str | None = None) -> Any:
        with self.store.lock:
            sha = oid if oid in self.repo.commits else None
            if sha is None and expression is not None:
                sha = self.repo.resolve(expression)
            return GCommit(self.store, self.repo, self.repo.commits[sha]) if sha else None

    def deployments(self, info: Any, **args: Any) -> dict[str, Any]:
        with self.store.lock:
            items = list(self.repo.deployment_objects)
        return _deployments(self.store, self.repo, items, args)


def _deployments(
    store: Store, repo: EmulatedRepo, items: list[Deployment], args: dict[str, Any]
) -> dict[str, Any]:
    environments = args.pop("environments", None)
    order = args.pop("orderBy", None) or {"field": "CREATED_AT", "direction": "ASC"}
    if environments is not None:
        items = [d for d in items if d.environment in environments]
    items = sorted(items, key=lambda d: (d.created_at, d.id))
    if order.get("direction") == "DESC":
        items.reverse()
    return connection(items, "deployments", wrap=lambda d: GDeployment(store, repo, d), **args)


class GRef:
    def __init__(self, store: Store, repo: EmulatedRepo, qualified: str, sha: str) -> None:
        self.store = store
        self.repo = repo
        self.sha = sha
        self.id = legacy_node_id("Ref", f"{repo.id}:{qualified}")
        parts = qualified.split("/")
        self.prefix = "/".join(parts[:2]) + "/"
        self.name = "/".join(parts[2:])

    def target(self, info: Any) -> GCommit:
        return GCommit(self.store, self.repo, self.repo.commits[self.sha])

    def compare(self, info: Any, headRef: str) -> GComparison | None:
        """This ref as the base against ``headRef`` (a branch, a tag, a full or short
        sha); null when the head is unknown or shares no history with the base."""
        with self.store.lock:
            head = self.repo.resolve(headRef)
            compared = self.repo.compare(self.sha, head) if head else None
        if head is None or compared is None:
            return None
        status, ahead, behind = compared
        return GComparison(self.store, self.repo, self.sha, head, status, len(ahead), len(behind))


class GComparison:
    def __init__(
        self,
        store: Store,
        repo: EmulatedRepo,
        base: str,
        head: str,
        status: str,
        ahead_by: int,
        behind_by: int,
    ) -> None:
        self.id = legacy_node_id("Comparison", f"{repo.id}:{base}...{head}")
        self.status = status.upper()
        self.aheadBy = ahead_by
        self.behindBy = behind_by
        self.baseTarget = GCommit(store, repo, repo.commits[base])
        self.headTarget = GCommit(store, repo, repo.commits[head])


class GCommit:
    def __init__(self, store: Store, repo: EmulatedRepo, commit: Commit) -> None:
        self.store = store
        self.repo = repo
        self.commit = commit
        self.oid = commit.sha
        self.abbreviatedOid = commit.sha[:7]
        self.id = legacy_node_id("Commit", f"{repo.id}:{commit.sha}")
        self.message = commit.message
        self.messageHeadline = commit.title
        self.committedDate = stamp(commit.when)
        self.authoredDate = stamp(commit.when)
        self.url = f"{store.base_url}/{repo.full_name}/commit/{commit.sha}"
        self.commitUrl = self.url

    def _actor(self) -> dict[str, Any]:
        user = self.commit.author
        return {
            "name": user.name,
            "email": user.email,
            "date": stamp(self.commit.when),
            "user": GUser(self.store, user) if user.type == "User" else None,
        }

    def author(self, info: Any) -> dict[str, Any]:
        return self._actor()

    def committer(self, info: Any) -> dict[str, Any]:
        return self._actor()

    def history(self, info: Any, **args: Any) -> dict[str, Any]:
        with self.store.lock:
            commits = self.repo.first_parent_history(self.commit.sha)
        wrapped = [GCommit(self.store, self.repo, c) for c in commits]
        return connection(wrapped, "history", **args)

    def parents(self, info: Any, **args: Any) -> dict[str, Any]:
        wrapped = [
            GCommit(self.store, self.repo, self.repo.commits[p]) for p in self.commit.parents
        ]
        return connection(wrapped, "parents", **args)

    def status(self, info: Any) -> GStatus | None:
        with self.store.lock:
            latest = self.repo.latest_statuses(self.commit.sha)
        return GStatus(self.store, self.repo, self.commit.sha, latest) if latest else None

    def checkSuites(self, info: Any, **args: Any) -> dict[str, Any]:
        with self.store.lock:
            suites = [s for s in self.repo.check_suites if s.sha == self.commit.sha]
        wrapped = [GCheckSuite(self.store, self.repo, s) for s in suites]
        return connection(wrapped, "checkSuites", **args)

    def deployments(self, info: Any, **args: Any) -> dict[str, Any]:
        with self.store.lock:
            items = [d for d in self.repo.deployment_objects if d.sha == self.commit.sha]
        return _deployments(self.store, self.repo, items, args)


class GStatus:
    def __init__(self, store: Store, repo: EmulatedRepo, sha: str, latest: list[Status]) -> None:
        self.id = legacy_node_id("Status", f"{repo.id}:{sha}")
        self.state = combined_state(s.state for s in latest).upper()
        self.contexts = [GStatusContext(store, s) for s in latest]

    def context(self, info: Any, name: str) -> GStatusContext | None:
        return next((c for c in self.contexts if c.context == name), None)


class GStatusContext:
    def __init__(self, store: Store, status: Status) -> None:
        self.id = legacy_node_id("StatusContext", status.id)
        self.context = status.context
        self.state = status.state.upper()
        self.description = status.description
        self.targetUrl = status.target_url
        self.createdAt = stamp(status.created_at)
        self.creator = GUser(store, status.creator)


class GCheckSuite:
    def __init__(self, store: Store, repo: EmulatedRepo, suite: CheckSuite) -> None:
        self.store = store
        self.repo = repo
        self.suite = suite
        self.id = legacy_node_id("CheckSuite", suite.id)
        self.databaseId = suite.id
        with store.lock:
            status, conclusion = repo.suite_state(suite)
        self.status = status.upper()
        self.conclusion = conclusion.upper() if conclusion else None
        app = suite.app
        self.app = {
            "id": legacy_node_id("App", app.id),
            "databaseId": app.id,
            "name": app.name,
            "slug": app.slug,
        }
        self.workflowRun = None
        if suite.workflow_run is not None:  # a GitHub Actions run: the run and its workflow
            name = suite.workflow or "workflow"
            workflow_id = int(hashlib.sha256(name.encode()).hexdigest()[:6], 16)
            self.workflowRun = {
                "id": legacy_node_id("WorkflowRun", suite.workflow_run),
                "databaseId": suite.workflow_run,
                "runNumber": 1,
                "workflow": {
                    "id": legacy_node_id("Workflow", workflow_id),
                    "databaseId": workflow_id,
                    "name": name,
                },
            }

    def checkRuns(self, info: Any, filterBy: dict[str, Any] | None = None, **args: Any) -> Any:
        wanted = filterBy or {}
        latest = (wanted.get("checkType") or "LATEST") == "LATEST"
        with self.store.lock:
            runs = self.repo.suite_runs(self.suite, latest=latest)
        statuses = wanted.get("statuses") or ([wanted["status"]] if wanted.get("status") else None)
        runs = [
            r
            for r in runs
            if (wanted.get("checkName") is None or r.name == wanted["checkName"])
            and (wanted.get("appId") is None or r.suite.app.id == wanted["appId"])
            and (statuses is None or r.status.upper() in statuses)
            and (
                not wanted.get("conclusions")
                or (r.conclusion or "").upper() in wanted["conclusions"]
            )
        ]
        return connection([GCheckRun(self.store, r) for r in runs], "checkRuns", **args)


class GCheckRun:
    def __init__(self, store: Store, run: CheckRun) -> None:
        self.id = legacy_node_id("CheckRun", run.id)
        self.databaseId = run.id
        self.name = run.name
        self.status = run.status.upper()
        self.conclusion = run.conclusion.upper() if run.conclusion else None
        self.startedAt = stamp(run.started_at) if run.started_at else None
        self.completedAt = stamp(run.completed_at) if run.completed_at else None
        repo_name = next((r.full_name for r in store.repos.values() if run in r.check_runs), "")
        run_id = run.suite.workflow_run or run.suite.id
        self.detailsUrl = f"{store.base_url}/{repo_name}/actions/runs/{run_id}/job/{run.id}"


_DEPLOYMENT_STATE = {
    None: "PENDING",
    "success": "ACTIVE",
    "inactive": "INACTIVE",
    "failure": "FAILURE",
    "error": "ERROR",
    "in_progress": "IN_PROGRESS",
    "queued": "QUEUED",
    "pending": "PENDING",
}


class GDeployment:
    def __init__(self, store: Store, repo: EmulatedRepo, deployment: Deployment) -> None:
        self.store = store
        self.repo = repo
        self.deployment = deployment
        d = deployment
        self.id = legacy_node_id("Deployment", d.id)
        self.databaseId = d.id
        self.commitOid = d.sha
        self.createdAt = stamp(d.created_at)
        self.updatedAt = stamp(d.updated_at)
        self.description = d.description
        self.environment = d.environment
        self.latestEnvironment = d.environment
        self.originalEnvironment = d.original_environment
        self.task = d.task
        self.payload = d.payload if isinstance(d.payload, str) else json.dumps(d.payload)
        self.state = _DEPLOYMENT_STATE.get(d.latest_state, "PENDING")
        self.creator = GUser(store, d.creator)

    def commit(self, info: Any) -> GCommit | None:
        found = self.repo.commits.get(self.deployment.sha)
        return GCommit(self.store, self.repo, found) if found else None

    def latestStatus(self, info: Any) -> GDeploymentStatus | None:
        statuses = self.deployment.statuses
        return GDeploymentStatus(self, statuses[-1]) if statuses else None

    def statuses(self, info: Any, **args: Any) -> dict[str, Any]:
        newest_first = [GDeploymentStatus(self, s) for s in reversed(self.deployment.statuses)]
        return connection(newest_first, "statuses", **args)


class GDeploymentStatus:
    def __init__(self, deployment: GDeployment, status: DeploymentStatus) -> None:
        self.deployment = deployment
        self.id = legacy_node_id("DeploymentStatus", status.id)
        self.state = status.state.upper()
        self.createdAt = stamp(status.created_at)
        self.updatedAt = stamp(status.created_at)
        self.description = status.description
        self.environment = status.environment
        self.logUrl = status.log_url or None
        self.environmentUrl = status.environment_url or None
        self.creator = GUser(deployment.store, status.creator)
