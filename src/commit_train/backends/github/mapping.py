"""GitHub's answers, REST or GraphQL, turned into the frozen values of ``models``.

Plain functions, no I/O: each takes the JSON GitHub gave (a REST body or a GraphQL node)
and returns a model, so a PyGithub object or a raw dict never leaves the GitHub backend.
The tests feed them GitHub's recorded real answers.
"""

from __future__ import annotations

import dataclasses
import json
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from commit_train.models import (
    Check,
    Checks,
    CheckState,
    Commit,
    Deployment,
    DeploymentStatus,
    DeployState,
    RefTarget,
    TrainCommit,
    parse_time,
)
from commit_train.models import (  # re-exported: the backend reads the live deploy here
    live_and_in_flight as live_and_in_flight,
)

# Commit status state (REST lower case, GraphQL upper case) -> our state.
STATUS_STATES: Mapping[str, CheckState] = {
    "success": CheckState.SUCCESS,
    "failure": CheckState.FAILURE,
    "error": CheckState.FAILURE,
    "pending": CheckState.PENDING,
    "expected": CheckState.PENDING,  # GraphQL: a required context that has not reported yet
}

# Conclusion of a *completed* check run -> our state. A run not completed is PENDING, and
# a conclusion missing from this table counts as a failure (never green by accident).
CHECK_RUN_CONCLUSIONS: Mapping[str, CheckState] = {
    "success": CheckState.SUCCESS,
    "neutral": CheckState.SUCCESS,
    "skipped": CheckState.SUCCESS,
    "failure": CheckState.FAILURE,
    "cancelled": CheckState.FAILURE,
    "timed_out": CheckState.FAILURE,
    "action_required": CheckState.FAILURE,
    "startup_failure": CheckState.FAILURE,
    "stale": CheckState.FAILURE,
}

DEPLOY_STATES: Mapping[str, DeployState] = {s.value: s for s in DeployState}


def status_state(state: str) -> CheckState:
    """A commit status state; an unknown one counts as a failure."""
    return STATUS_STATES.get(state.lower(), CheckState.FAILURE)


def check_run_state(status: str, conclusion: str | None) -> CheckState:
    """A check run's state: not completed is pending, else by ``CHECK_RUN_CONCLUSIONS``."""
    if status.lower() != "completed":
        return CheckState.PENDING
    return CHECK_RUN_CONCLUSIONS.get((conclusion or "").lower(), CheckState.FAILURE)


def _newest_per_name(items: list[tuple[str, tuple[Any, ...], Check]]) -> list[Check]:
    """Keep, for each name, the check with the greatest sort key; keep first-seen order."""
    best: dict[str, tuple[tuple[Any, ...], Check]] = {}
    for name, key, check in items:
        if name not in best or key > best[name][0]:
            best[name] = (key, check)
    return [check for _, check in best.values()]


def _newest_per_app_and_name(items: list[tuple[str, str, int, Check]]) -> list[Check]:
    """Check runs ``(app slug, name, id, check)`` -> the newest attempt of each.

    A check run is one app's: CircleCI's ``test`` and GitHub Actions' ``test`` are two
    checks, so a green one never hides a red one. The newest attempt is the greatest id
    (GitHub's ids only grow), not the latest start: a re-run still queued has no start
    time yet and must not lose to the attempt it replaces. A name two apps share is shown
    with its app, ``test (circleci)``; any other keeps its own name. First-seen order.
    """
    best: dict[tuple[str, str], tuple[int, Check]] = {}
    for app, name, run_id, check in items:
        if (app, name) not in best or run_id > best[(app, name)][0]:
            best[(app, name)] = (run_id, check)
    apps_per_name = Counter(name for _, name in best)
    return [
        dataclasses.replace(check, name=f"{name} ({app})")
        if apps_per_name[name] > 1 and app
        else check
        for (app, name), (_, check) in best.items()
    ]


# The check that stands for the ones a read did not return (GraphQL pages: 50 check suites
# and 100 runs each). It is pending, so such a commit is never green by accident; the gate
# then reads every check run through REST (``GitHubBackend._all_check_runs``).
UNREAD_CHECKS = "(more checks than commit-train reads)"


def _unread_checks() -> Check:
    return Check(
        name=UNREAD_CHECKS,
        kind="check_run",
        state=CheckState.PENDING,
        description="GitHub holds more check suites or runs for this commit than one read returns",
    )


def check_from_rest_status(data: Mapping[str, Any]) -> Check:
    """One entry of ``GET /commits/{ref}/status`` (``statuses``) or ``/statuses``."""
    return Check(
        name=str(data.get("context") or "default"),  # statuses from before contexts existed
        kind="status",
        state=status_state(str(data["state"])),
        url=data.get("target_url"),
        description=data.get("description"),
    )


def check_from_rest_check_run(data: Mapping[str, Any]) -> Check:
    """One entry of ``GET /commits/{ref}/check-runs`` (``check_runs``)."""
    return Check(
        name=str(data["name"]),
        kind="check_run",
        state=check_run_state(str(data["status"]), data.get("conclusion")),
        url=data.get("details_url") or data.get("html_url"),
        description=(data.get("output") or {}).get("title"),
    )


def checks_from_rest(
    sha: str, statuses: Sequence[Mapping[str, Any]], check_runs: Sequence[Mapping[str, Any]]
) -> Checks:
    """Commit statuses and check runs (REST shapes) -> ``Checks``, newest attempt of each.

    Statuses: the newest per context (by ``created_at``, then ``id``), so a raw status list
    works as well as the combined status's already-reduced one. Check runs: the newest per
    app and name (by ``id``, ``_newest_per_app_and_name``): a run that failed and passed on
    re-run is green, and a re-run still queued is pending.
    """
    status_items = [
        (check.name, (s.get("created_at") or "", s.get("id") or 0), check)
        for s in statuses
        for check in [check_from_rest_status(s)]
    ]
    run_items = [
        (
            str((r.get("app") or {}).get("slug") or ""),
            str(r["name"]),
            int(r.get("id") or 0),
            check_from_rest_check_run(r),
        )
        for r in check_runs
    ]
    return Checks(sha, tuple(_newest_per_name(status_items) + _newest_per_app_and_name(run_items)))


def checks_from_graphql(node: Mapping[str, Any]) -> Checks:
    """A GraphQL ``Commit`` with ``CommitFields`` -> its ``Checks``.

    Check runs: the newest attempt per app and name (``_newest_per_app_and_name``). When
    GitHub says a connection has more (over 50 check suites, or over 100 runs in one), the
    answer holds the pending ``UNREAD_CHECKS``: never green on a partial read.
    """
    statuses = []
    for ctx in ((node.get("status") or {}).get("contexts")) or []:
        check = Check(
            name=str(ctx["context"]),
            kind="status",
            state=status_state(str(ctx["state"])),
            url=ctx.get("targetUrl"),
            description=ctx.get("description"),
        )
        statuses.append((check.name, (ctx.get("createdAt") or "",), check))
    runs = []
    suites = node.get("checkSuites") or {}
    unread = bool((suites.get("pageInfo") or {}).get("hasNextPage"))
    for suite in suites.get("nodes") or []:
        app = str(((suite or {}).get("app") or {}).get("slug") or "")
        workflow_run = (suite or {}).get("workflowRun") or {}  # an Actions run's suite
        connection = (suite or {}).get("checkRuns") or {}
        unread = unread or bool((connection.get("pageInfo") or {}).get("hasNextPage"))
        for run in connection.get("nodes") or []:
            check = Check(
                name=str(run["name"]),
                kind="check_run",
                state=check_run_state(str(run["status"]), run.get("conclusion")),
                url=run.get("detailsUrl"),
                workflow_run=workflow_run.get("databaseId"),
                workflow=(workflow_run.get("workflow") or {}).get("name"),
            )
            runs.append((app, check.name, int(run.get("databaseId") or 0), check))
    checks = _newest_per_name(statuses) + _newest_per_app_and_name(runs)
    if unread:
        checks.append(_unread_checks())
    return Checks(str(node["oid"]), tuple(checks))


def commit_from_rest(data: Mapping[str, Any]) -> Commit:
    """``GET /commits/{ref}`` (or an item of ``GET /commits``) -> ``Commit``."""
    git = data["commit"]
    login = (data.get("author") or {}).get("login")
    author = login or (git.get("author") or {}).get("name") or ""
    when = (git.get("committer") or {}).get("date") or (git.get("author") or {}).get("date")
    return Commit(
        sha=str(data["sha"]),
        title=str(git.get("message") or "").split("\n", 1)[0],
        author=str(author),
        committed_at=parse_time(str(when)),
    )


def commit_from_graphql(node: Mapping[str, Any]) -> Commit:
    author = node.get("author") or {}
    login = (author.get("user") or {}).get("login")
    return Commit(
        sha=str(node["oid"]),
        title=str(node.get("messageHeadline") or ""),
        author=str(login or author.get("name") or ""),
        committed_at=parse_time(str(node["committedDate"])),
    )


def payload_from(value: Any) -> Mapping[str, Any]:
    """A deployment payload: a JSON object, or a string holding one (GraphQL, old REST)."""
    if isinstance(value, Mapping):
        return dict(value)
    if isinstance(value, str) and value.strip():
        try:
            parsed = json.loads(value)
        except ValueError:
            return {}
        return dict(parsed) if isinstance(parsed, Mapping) else {}
    return {}


def deploy_state(state: str | None) -> DeployState:
    if not state:
        return DeployState.NONE
    return DEPLOY_STATES.get(state.lower(), DeployState.ERROR)


def deployment_status_from_rest(data: Mapping[str, Any]) -> DeploymentStatus:
    """One deployment status (``POST``/``GET .../deployments/{id}/statuses``)."""
    return DeploymentStatus(
        state=deploy_state(data.get("state")),
        created_at=parse_time(str(data["created_at"])),
        description=str(data.get("description") or ""),
        creator=str((data.get("creator") or {}).get("login") or ""),
        log_url=data.get("log_url") or data.get("target_url") or None,
        environment_url=data.get("environment_url") or None,
    )


def _oldest_first(
    statuses: list[tuple[datetime, int, DeploymentStatus]],
) -> tuple[DeploymentStatus, ...]:
    return tuple(s for _, _, s in sorted(statuses, key=lambda t: (t[0], t[1])))


def deployment_from_rest(
    data: Mapping[str, Any], statuses: Sequence[Mapping[str, Any]] = ()
) -> Deployment:
    """A REST deployment and its statuses (any order; sorted oldest first by time, then id)."""
    parsed = [
        (parse_time(str(s["created_at"])), int(s.get("id") or 0), deployment_status_from_rest(s))
        for s in statuses
    ]
    return Deployment(
        id=int(data["id"]),
        sha=str(data["sha"]),
        environment=str(data.get("environment") or ""),
        creator=str((data.get("creator") or {}).get("login") or ""),
        created_at=parse_time(str(data["created_at"])),
        payload=payload_from(data.get("payload")),
        description=str(data.get("description") or ""),
        statuses=_oldest_first(parsed),
        url=data.get("url"),
    )


def deployment_status_from_graphql(node: Mapping[str, Any]) -> DeploymentStatus:
    return DeploymentStatus(
        state=deploy_state(node.get("state")),
        created_at=parse_time(str(node["createdAt"])),
        description=str(node.get("description") or ""),
        creator=str((node.get("creator") or {}).get("login") or ""),
        log_url=node.get("logUrl") or None,
        environment_url=node.get("environmentUrl") or None,
    )


def deployment_from_graphql(node: Mapping[str, Any], *, url: str | None = None) -> Deployment:
    """A GraphQL ``Deployment`` with ``DeploymentFields``.

    ``statuses(first: N)`` may not hold the newest status of a long-lived deployment, so
    ``latestStatus`` is added when it is missing; the result is sorted oldest first.
    """
    nodes = list(((node.get("statuses") or {}).get("nodes")) or [])
    latest = node.get("latestStatus")
    # Statuses made within one second share a timestamp, so the connection's own order
    # breaks ties: turn it oldest first whichever way it comes, and end on latestStatus.
    if len(nodes) > 1 and (
        (latest is not None and nodes[0] == latest and nodes[-1] != latest)
        or parse_time(str(nodes[0]["createdAt"])) > parse_time(str(nodes[-1]["createdAt"]))
    ):
        nodes.reverse()
    if latest:
        nodes = [s for s in nodes if s != latest] + [latest]
    parsed = [
        (parse_time(str(s["createdAt"])), i, deployment_status_from_graphql(s))
        for i, s in enumerate(nodes)
    ]
    sha = node.get("commitOid") or (node.get("commit") or {}).get("oid") or ""
    return Deployment(
        id=int(node["databaseId"]),
        sha=str(sha),
        environment=str(node.get("environment") or ""),
        creator=str((node.get("creator") or {}).get("login") or ""),
        created_at=parse_time(str(node["createdAt"])),
        payload=payload_from(node.get("payload")),
        description=str(node.get("description") or ""),
        statuses=_oldest_first(parsed),
        url=url,
    )


def train_commits(
    nodes: Iterable[Mapping[str, Any]],
    environments: Sequence[str],
    live: Mapping[str, Deployment],
    in_flight: Mapping[str, Sequence[Deployment]],
) -> tuple[TrainCommit, ...]:
    """GraphQL ``Commit`` nodes (``CommitFields``) -> the ``status`` screen's rows: each
    commit with its checks, the environments it is live in and its deploys in flight."""
    rows = []
    for node in nodes:
        commit = commit_from_graphql(node)
        rows.append(
            TrainCommit(
                commit=commit,
                checks=checks_from_graphql(node),
                live_in=tuple(
                    env for env in environments if env in live and live[env].sha == commit.sha
                ),
                in_flight=tuple(in_flight.get(commit.sha, ())),
            )
        )
    return tuple(rows)


@dataclass(frozen=True)
class Comparison:
    """``GET /compare/{base}...{head}``: how ``head`` relates to ``base``.

    ``status`` is GitHub's: ``ahead`` (head has commits base lacks, and nothing else),
    ``behind`` (head is an ancestor of base), ``identical`` or ``diverged``.
    """

    status: str
    ahead_by: int
    behind_by: int
    merge_base: str | None

    @property
    def head_contained_in_base(self) -> bool:
        """True when every commit of ``head`` is reachable from ``base``."""
        return self.status in ("behind", "identical")


def comparison_from_rest(data: Mapping[str, Any]) -> Comparison:
    return Comparison(
        status=str(data["status"]),
        ahead_by=int(data.get("ahead_by") or 0),
        behind_by=int(data.get("behind_by") or 0),
        merge_base=(data.get("merge_base_commit") or {}).get("sha"),
    )


def ref_sha_from_rest(data: Mapping[str, Any]) -> str:
    """``GET /git/ref/{ref}`` or ``POST /git/refs`` -> the sha the ref points at."""
    return str(data["object"]["sha"])


def short_list(candidates: Sequence[tuple[str, str]]) -> str:
    """``1a2b3c4 (title), 1a2b9f0 (title)`` with just enough digits to tell them apart."""
    width = 7
    shas = [sha for sha, _ in candidates]
    for i, a in enumerate(shas):
        for b in shas[i + 1 :]:
            common = next((k for k, (x, y) in enumerate(zip(a, b, strict=False)) if x != y), 40)
            width = max(width, common + 1)
    return ", ".join(f"{sha[:width]} ({title})" for sha, title in candidates)


def ref_targets(repository: Mapping[str, Any], names: Sequence[str]) -> dict[str, RefTarget]:
    """The ``ref0``, ``ref1``... aliases of a GraphQL answer (``refs_query``) -> the refs that
    exist among ``names``, each with its commit's message."""
    found: dict[str, RefTarget] = {}
    for i, name in enumerate(names):
        target = (repository.get(f"ref{i}") or {}).get("target")
        if target and target.get("oid"):
            found[name] = RefTarget(
                ref=name, sha=str(target["oid"]), message=str(target.get("message") or "")
            )
    return found
