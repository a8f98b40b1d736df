"""The one module that talks to GitHub: ``GitHubBackend``, on PyGithub and GraphQL.

Everything else in commit-train sees the frozen values of ``models`` and the errors of
``errors``; no PyGithub object leaves this module, so no request happens by accident.

How requests are made
    PyGithub's ``Requester`` does the authentication, URL building and error bodies. Its
    high-level objects are used only where one call is one request and the answer is
    complete (``Repository.create_deployment``); everything else goes through
    ``Requester.requestJsonAndCheck`` so the number of requests stays visible in the code.
    Reads that need related data (a deployment and its statuses, a commit and its checks,
    the whole ``status`` screen) are single GraphQL queries, kept together below
    (``SNAPSHOT_QUERY`` and friends) and validated against GitHub's schema in the tests.

Counting and retrying
    Every HTTP attempt passes through ``_CountingAdapter``, a ``requests`` transport adapter
    mounted on PyGithub's session, so ``request_count`` counts retries too. The adapter
    owns the retry policy (PyGithub's own ``GithubRetry`` is switched off so the two never
    stack): 5xx answers and connection errors are retried with exponential backoff; a
    primary rate limit (403/429 with ``x-ratelimit-remaining: 0``) waits until
    ``x-ratelimit-reset``; a secondary limit (``retry-after``, or GitHub's "secondary rate
    limit" message) waits as asked. Attempts are bounded (``max_attempts``); a wait longer
    than ``max_wait`` raises ``RateLimitError`` at once, and the last failed attempt raises
    ``GitHubUnavailableError``.

Writes that must happen once
    A 5xx answer, a timeout or a connection dropped after the request went out leave a
    write's fate unknown: GitHub may have carried it out and lost only the answer. Reads,
    GraphQL queries and the lock writes are replayed as above (a lock ref created twice
    answers 422 "already exists", which ``create_ref`` reads as "held"; a lock commit
    object made twice is an unreferenced duplicate). Creating a deployment is not: each
    one fires its own ``deployment`` event, so a replayed POST would start a second
    pipeline run. ``create_deployment`` therefore sends ``payload["request_id"]`` (a new
    random nonce) and, after an ambiguous failure, first reads the deployments of that
    commit and environment (one request) and adopts the one carrying its nonce; only when
    none does is the POST sent again. A deployment status is treated the same way (each
    fires a ``deployment_status`` event, and the offline replay counts statuses): the
    deployment's newest status is read and adopted when it is the one just sent. A 403 or
    429 rate-limit answer means GitHub did not process the request, so it is simply
    retried, and so is a connection that was never opened.

Pauses
    PyGithub sleeps 0.25 s before every request and 1 s before every write by default.
    Both are 0 here: GitHub asks clients to serialize writes (we do: one thread, each
    request waits for its answer) and to avoid bursts of content-creating requests; a
    whole deploy makes a handful of writes, and should a secondary limit still answer, the
    retry above honours its ``retry-after``. A fixed pause would cost seconds per deploy and
    protect nothing.

What ``resolve`` accepts
    ``HEAD`` (the default branch's tip), a full 40-hex sha, a short sha of 4 to 39 hex
    digits, and any branch or tag name GitHub's ``GET /commits/{ref}`` resolves.
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
import threading
import time
import urllib.parse
import uuid
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, TypeVar

import github
import requests
import requests.adapters
from github import Auth, GithubException

from commit_train import __version__
from commit_train.errors import (
    AmbiguousRefError,
    AuthError,
    CommitTrainError,
    GitHubError,
    GitHubUnavailableError,
    NotFoundError,
    RateLimitError,
    UsageError,
)
from commit_train.models import (
    BranchState,
    Check,
    Checks,
    CheckState,
    Commit,
    Deployment,
    DeploymentStatus,
    DeployState,
    GateFacts,
    RefTarget,
    Snapshot,
    TrainCommit,
    parse_time,
)

if TYPE_CHECKING:
    from commit_train.ports import Backend

DEFAULT_API_URL = "https://api.github.com"
TOKEN_FIX = "set GITHUB_TOKEN or GH_TOKEN, or pass --token"  # noqa: S105 (advice, not a secret)
PERMISSIONS_FIX = (
    "give the token access to {repo} with contents: read, statuses: read, checks: read "
    "and deployments: write (contents: write to take locks)"
)
_HEX = re.compile(r"[0-9a-fA-F]+")
_SECONDARY_MESSAGES = (
    "you have exceeded a secondary rate limit",
    "please retry your request again later.",
    "please wait a few minutes before you try again.",
)
# GitHub's own advice when a secondary limit answers without retry-after: wait a minute.
_SECONDARY_DEFAULT_WAIT = 60.0
# How many statuses of each deployment the GraphQL reads fetch (the latest is always added).
_STATUSES_PER_DEPLOYMENT = 20
# How many deployments per environment ``snapshot`` looks through for the live one.
_DEPLOYMENTS_PER_ENVIRONMENT = 20
# How far back ``resolve`` looks for the commits a short sha could mean.
_AMBIGUITY_SEARCH_DEPTH = 500
_T = TypeVar("_T")


# --------------------------------------------------------------------------------------
# GraphQL queries: the only query text in the package. Tests validate each against
# GitHub's published schema.

_COMMIT_FIELDS = """
fragment CommitFields on Commit {
  oid
  messageHeadline
  committedDate
  author { name email user { login } }
  status { contexts { context state description targetUrl createdAt } }
  checkSuites(first: 50) {
    pageInfo { hasNextPage }
    nodes {
      app { slug }
      workflowRun { databaseId workflow { name } }
      checkRuns(first: 100, filterBy: {checkType: LATEST}) {
        pageInfo { hasNextPage }
        nodes { databaseId name status conclusion startedAt completedAt detailsUrl }
      }
    }
  }
}
"""

_DEPLOYMENT_FIELDS = """
fragment DeploymentStatusFields on DeploymentStatus {
  state createdAt description logUrl environmentUrl
}
fragment DeploymentFields on Deployment {
  databaseId environment createdAt payload description commitOid
  creator { login }
  latestStatus { ...DeploymentStatusFields }
  statuses(first: STATUSES) { nodes { ...DeploymentStatusFields } }
}
""".replace("STATUSES", str(_STATUSES_PER_DEPLOYMENT))

CHECKS_QUERY = (
    """
query CommitTrainChecks($owner: String!, $name: String!, $sha: String!) {
  repository(owner: $owner, name: $name) {
    object(expression: $sha) { ... on Commit { ...CommitFields } }
  }
}
"""
    + _COMMIT_FIELDS
)

HEAD_QUERY = """
query CommitTrainHead($owner: String!, $name: String!) {
  repository(owner: $owner, name: $name) {
    defaultBranchRef {
      name
      target { ... on Commit { oid messageHeadline committedDate author { name user { login } } } }
    }
  }
}
"""

HISTORY_QUERY = """
query CommitTrainHistory($owner: String!, $name: String!, $first: Int!, $after: String) {
  repository(owner: $owner, name: $name) {
    defaultBranchRef {
      target {
        ... on Commit {
          history(first: $first, after: $after) {
            pageInfo { hasNextPage endCursor }
            nodes { oid messageHeadline committedDate author { name user { login } } }
          }
        }
      }
    }
  }
}
"""

VIEWER_QUERY = """
query CommitTrainViewer {
  viewer { login }
}
"""

DEPLOYMENTS_QUERY = (
    """
query CommitTrainDeployments(
  $owner: String!, $name: String!, $first: Int!, $after: String, $environments: [String!]
) {
  repository(owner: $owner, name: $name) {
    deployments(
      first: $first, after: $after, environments: $environments,
      orderBy: {field: CREATED_AT, direction: DESC}
    ) {
      pageInfo { hasNextPage endCursor }
      nodes { ...DeploymentFields }
    }
  }
}
"""
    + _DEPLOYMENT_FIELDS
)


def snapshot_query(environment_count: int) -> str:
    """The ``status`` screen in one query: commits with checks, and one alias per environment.

    The environment names travel as variables (``$env0``, ``$env1``...), never inside the
    query text, so any name is safe.
    """
    params = "".join(f", $env{i}: [String!]" for i in range(environment_count))
    aliases = "".join(
        f"""
    env{i}: deployments(
      first: {_DEPLOYMENTS_PER_ENVIRONMENT}, environments: $env{i},
      orderBy: {{field: CREATED_AT, direction: DESC}}
    ) {{ pageInfo {{ hasNextPage endCursor }} nodes {{ ...DeploymentFields }} }}"""
        for i in range(environment_count)
    )
    return (
        f"""
query CommitTrainSnapshot($owner: String!, $name: String!, $limit: Int!{params}) {{
  rateLimit {{ cost remaining resetAt }}
  repository(owner: $owner, name: $name) {{
    defaultBranchRef {{
      name
      target {{ ... on Commit {{ history(first: $limit) {{ nodes {{ ...CommitFields }} }} }} }}
    }}{aliases}
  }}
}}
"""
        + _COMMIT_FIELDS
        + (_DEPLOYMENT_FIELDS if environment_count else "")
    )


def live_query(environment_count: int) -> str:
    """``snapshot``'s second look, for environments whose live deployment was not in the
    first window: the next 100 deployments of each, after the cursor (``$afterN``)."""
    params = "".join(f", $env{i}: [String!], $after{i}: String" for i in range(environment_count))
    aliases = "".join(
        f"""
    env{i}: deployments(
      first: 100, after: $after{i}, environments: $env{i},
      orderBy: {{field: CREATED_AT, direction: DESC}}
    ) {{ nodes {{ ...DeploymentFields }} }}"""
        for i in range(environment_count)
    )
    return (
        f"""
query CommitTrainLive($owner: String!, $name: String!{params}) {{
  repository(owner: $owner, name: $name) {{{aliases}
  }}
}}
"""
        + _DEPLOYMENT_FIELDS
    )


def refs_query(ref_count: int) -> str:
    """Several refs and the message of the commit each points at, one alias per ref
    (``$ref0``, ``$ref1``...; the names travel as variables). Locks are read this way."""
    params = "".join(f", $ref{i}: String!" for i in range(ref_count))
    aliases = "".join(
        f"""
    ref{i}: ref(qualifiedName: $ref{i}) {{ target {{ oid ... on Commit {{ message }} }} }}"""
        for i in range(ref_count)
    )
    return f"""
query CommitTrainRefs($owner: String!, $name: String!{params}) {{
  repository(owner: $owner, name: $name) {{{aliases}
  }}
}}
"""


def branch_state_query(environment_count: int, ref_count: int) -> str:
    """A stale-commit scan's whole read in one query: the default branch's newest commits,
    each environment's recent deployments (for its live one), and the refs holding locks
    and reminder marks; and the token's login, who sends the reminders."""
    params = "".join(f", $env{i}: [String!]" for i in range(environment_count))
    params += "".join(f", $ref{i}: String!" for i in range(ref_count))
    envs = "".join(
        f"""
    env{i}: deployments(
      first: {_DEPLOYMENTS_PER_ENVIRONMENT}, environments: $env{i},
      orderBy: {{field: CREATED_AT, direction: DESC}}
    ) {{ nodes {{ ...DeploymentFields }} }}"""
        for i in range(environment_count)
    )
    refs = "".join(
        f"""
    ref{i}: ref(qualifiedName: $ref{i}) {{ target {{ oid ... on Commit {{ message }} }} }}"""
        for i in range(ref_count)
    )
    return f"""
query CommitTrainBranchState($owner: String!, $name: String!, $limit: Int!{params}) {{
  viewer {{ login }}
  repository(owner: $owner, name: $name) {{
    defaultBranchRef {{
      name
      target {{
        ... on Commit {{
          history(first: $limit) {{
            nodes {{ oid messageHeadline committedDate author {{ name user {{ login }} }} }}
          }}
        }}
      }}
    }}{envs}{refs}
  }}
}}
""" + (_DEPLOYMENT_FIELDS if environment_count else "")


COMMIT_DEPLOYMENTS_QUERY = (
    """
query CommitTrainCommitDeployments(
  $owner: String!, $name: String!, $sha: String!, $environments: [String!]
) {
  repository(owner: $owner, name: $name) {
    object(expression: $sha) {
      ... on Commit {
        deployments(
          first: 100, environments: $environments, orderBy: {field: CREATED_AT, direction: DESC}
        ) { nodes { ...DeploymentFields } }
      }
    }
  }
}
"""
    + _DEPLOYMENT_FIELDS
)


def gate_query(*, head: bool, promotion: bool, ref_count: int) -> str:
    """Every fact the gate weighs, in one query (``GitHubBackend.gate_facts``).

    The commit is ``object(expression: $rev)`` (a sha, a short sha, a branch or a tag) and
    its place on the default branch is ``defaultBranchRef.compare(headRef: $rev)``:
    ``BEHIND`` or ``IDENTICAL`` means every commit of it is in the branch. For ``HEAD``
    (``head``) the commit is the default branch's own tip, and there is nothing to compare.
    With ``promotion`` the commit's deployments to ``$environments`` come along (the
    promotion order); ``ref_count`` refs (``$ref0``...) are read with their commit's message
    (the locks). ``viewer { login }`` comes along: the token's login is who acts
    (``GitHubBackend.viewer_login``). Every name travels as a variable, never inside the
    query text.
    """
    params = "" if head else ", $rev: String!"
    params += ", $environments: [String!]" if promotion else ""
    params += "".join(f", $ref{i}: String!" for i in range(ref_count))
    if head:
        branch = "target { ... on Commit { ...GateCommit } }"
        commit = ""
    else:
        branch = "compare(headRef: $rev) { status }"
        commit = """
    object(expression: $rev) { ... on Commit { ...GateCommit } }"""
    refs = "".join(
        f"""
    ref{i}: ref(qualifiedName: $ref{i}) {{ target {{ oid ... on Commit {{ message }} }} }}"""
        for i in range(ref_count)
    )
    deployments = (
        """
  deployments(
    first: 100, environments: $environments, orderBy: {field: CREATED_AT, direction: DESC}
  ) { nodes { ...DeploymentFields } }"""
        if promotion
        else ""
    )
    return (
        f"""
query CommitTrainGate($owner: String!, $name: String!{params}) {{
  viewer {{ login }}
  repository(owner: $owner, name: $name) {{
    defaultBranchRef {{ name {branch} }}{commit}{refs}
  }}
}}
fragment GateCommit on Commit {{
  ...CommitFields
  message{deployments}
}}
"""
        + _COMMIT_FIELDS
        + (_DEPLOYMENT_FIELDS if promotion else "")
    )


# Errors GitHub may give beside data for the gate's fields that can be null: a ref it cannot
# resolve or compare. The field is then null and ``gate_facts`` takes its fallback.
_GATE_NULLABLE = (("repository", "object"), ("repository", "defaultBranchRef", "compare"))


# The tree every lock commit points at: git's empty tree (a lock commit carries no files,
# only its message). Should a GitHub ever refuse it, a one-file tree is made instead.
EMPTY_TREE = "4b825dc642cb6eb9a060e54bf8d69288fbee4904"


# --------------------------------------------------------------------------------------
# Parsing: plain functions from GitHub's JSON (REST or GraphQL) to models. No I/O.

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


def _payload(value: Any) -> Mapping[str, Any]:
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
        payload=_payload(data.get("payload")),
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
        payload=_payload(node.get("payload")),
        description=str(node.get("description") or ""),
        statuses=_oldest_first(parsed),
        url=url,
    )


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


def next_link(link_header: str | None) -> str | None:
    """The ``rel="next"`` URL of a ``Link`` header, or None on the last page."""
    if not link_header:
        return None
    for part in link_header.split(","):
        section = part.split(";")
        if len(section) < 2:
            continue
        url = section[0].strip()
        if any(p.strip() == 'rel="next"' for p in section[1:]) and url.startswith("<"):
            return url[1:-1]
    return None


def graphql_url_for(api_url: str) -> str:
    """GraphQL endpoint of a REST base: ``https://HOST/api/v3`` -> ``https://HOST/api/graphql``."""
    parts = urllib.parse.urlsplit(api_url.rstrip("/"))
    path = parts.path
    if path.endswith("/v3"):
        path = path[: -len("/v3")]
    return urllib.parse.urlunsplit(parts._replace(path=path + "/graphql"))


def web_url_for(api_url: str) -> str:
    """The web address behind an API base: api.github.com -> github.com, GHE strips /api/v3."""
    parts = urllib.parse.urlsplit(api_url.rstrip("/"))
    if parts.hostname == "api.github.com":
        return "https://github.com"
    path = parts.path
    for suffix in ("/api/v3", "/api"):
        if path.endswith(suffix):
            path = path[: -len(suffix)]
            break
    return urllib.parse.urlunsplit(parts._replace(path=path))


def _short_list(candidates: Sequence[tuple[str, str]]) -> str:
    """``1a2b3c4 (title), 1a2b9f0 (title)`` with just enough digits to tell them apart."""
    width = 7
    shas = [sha for sha, _ in candidates]
    for i, a in enumerate(shas):
        for b in shas[i + 1 :]:
            common = next((k for k, (x, y) in enumerate(zip(a, b, strict=False)) if x != y), 40)
            width = max(width, common + 1)
    return ", ".join(f"{sha[:width]} ({title})" for sha, title in candidates)


# --------------------------------------------------------------------------------------
# The HTTP layer: counting and the retry policy.


def _error_message(body: bytes) -> str:
    try:
        data = json.loads(body)
    except ValueError:
        return ""
    return str(data.get("message") or "") if isinstance(data, dict) else ""


class _LostAnswer(GitHubUnavailableError):
    """A write sent once (``_Policy.once``) failed in a way that leaves it unknown whether
    GitHub carried it out: a 5xx answer, a timeout, a connection dropped after sending.
    The adapter raises it at the first such failure instead of replaying the request; the
    backend looks the write up before sending it again."""


def _never_sent(exc: BaseException) -> bool:
    """Whether a connection error happened before the request could reach GitHub (no
    connection was opened), so replaying it cannot make a second write."""
    import urllib3.exceptions

    if isinstance(exc, requests.ConnectTimeout):
        return True
    for arg in exc.args:
        reason = getattr(arg, "reason", arg)
        if isinstance(reason, urllib3.exceptions.NewConnectionError):
            return True
    return False


class _Policy:
    """Request counter and retry policy shared by every adapter of one backend."""

    def __init__(
        self,
        *,
        max_wait: float,
        max_attempts: int,
        backoff: float,
        sleep: Callable[[float], None],
        clock: Callable[[], float],
    ) -> None:
        self.max_wait = max_wait
        self.max_attempts = max(1, max_attempts)
        self.backoff = backoff
        self.sleep = sleep
        self.clock = clock
        self.count = 0
        self._lock = threading.Lock()
        self._local = threading.local()

    @contextmanager
    def once(self) -> Iterator[None]:
        """Within this block, a request whose fate is unknown raises ``_LostAnswer``
        instead of being sent again (see "Writes that must happen once")."""
        self._local.once = True
        try:
            yield
        finally:
            self._local.once = False

    @property
    def sending_once(self) -> bool:
        return bool(getattr(self._local, "once", False))

    def counted(self) -> None:
        with self._lock:
            self.count += 1

    def backoff_wait(self, attempt: int) -> float:
        return float(min(self.backoff * 2 ** (attempt - 1), self.max_wait))

    def rate_limit_wait(self, response: requests.Response) -> tuple[float, str] | None:
        """(seconds to wait, error message) when the answer is a rate limit, else None."""
        if response.status_code not in (403, 429):
            return None
        headers = response.headers
        method, path = _describe(response.request)
        retry_after = headers.get("retry-after")
        remaining = headers.get("x-ratelimit-remaining")
        message = _error_message(response.content).lower()
        if retry_after is not None:
            try:
                wait = max(float(retry_after), 0.0)
            except ValueError:
                wait = _SECONDARY_DEFAULT_WAIT
            return wait, (
                f"GitHub's secondary rate limit stopped {method} {path} and asks to wait {wait:g} s"
            )
        if remaining == "0" and headers.get("x-ratelimit-reset"):
            reset = float(headers["x-ratelimit-reset"])
            wait = max(reset - self.clock(), 0.0) + 1.0
            limit = headers.get("x-ratelimit-limit", "?")
            at = datetime.fromtimestamp(reset, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
            return wait, (
                f"GitHub's API rate limit for this token is used up (0 of {limit} left); "
                f"it resets at {at}, in {int(wait)} s"
            )
        if (
            response.status_code == 429
            or message.startswith(_SECONDARY_MESSAGES[0])
            or (message.endswith(_SECONDARY_MESSAGES[1:]))
        ):
            return _SECONDARY_DEFAULT_WAIT, (
                f"GitHub's secondary rate limit stopped {method} {path} "
                f"and asks to wait at least {_SECONDARY_DEFAULT_WAIT:g} s"
            )
        return None


def _describe(request: requests.PreparedRequest | None) -> tuple[str, str]:
    if request is None:
        return "?", "?"
    path = urllib.parse.urlsplit(request.url or "").path
    return str(request.method), path


class _CountingAdapter(requests.adapters.HTTPAdapter):
    """Counts every attempt and retries by ``_Policy``; raises our errors when it gives up."""

    def __init__(self, policy: _Policy) -> None:
        super().__init__(max_retries=0)
        self._policy = policy

    def send(
        self, request: requests.PreparedRequest, *args: Any, **kwargs: Any
    ) -> requests.Response:
        policy = self._policy
        method, path = _describe(request)
        attempt = 0
        while True:
            attempt += 1
            policy.counted()
            try:
                response = super().send(request, *args, **kwargs)
            except (requests.ConnectionError, requests.Timeout) as exc:
                if policy.sending_once and not _never_sent(exc):
                    raise _LostAnswer(
                        f"the connection to GitHub failed during {method} {path} "
                        f"({type(exc).__name__})",
                        fix="check the network and GITHUB_API_URL, then try again",
                    ) from exc
                if attempt >= policy.max_attempts:
                    host = urllib.parse.urlsplit(request.url or "").netloc
                    raise GitHubUnavailableError(
                        f"could not reach GitHub at {host} for {method} {path} "
                        f"after {attempt} attempts ({type(exc).__name__})",
                        fix="check the network and GITHUB_API_URL, then try again",
                    ) from exc
                policy.sleep(policy.backoff_wait(attempt))
                continue
            limited = policy.rate_limit_wait(response)
            if limited is not None:
                wait, message = limited
                if wait > policy.max_wait or attempt >= policy.max_attempts:
                    response.close()
                    raise RateLimitError(
                        message,
                        status=response.status_code,
                        delay=wait,
                        fix="wait until then and try again, or use another token "
                        "(a GitHub App installation token has its own limit)",
                    )
                _ = response.content
                response.close()
                policy.sleep(wait)
                continue
            if response.status_code >= 500:
                if policy.sending_once:
                    response.close()
                    raise _LostAnswer(
                        f"GitHub answered {response.status_code} to {method} {path}",
                        status=response.status_code,
                        fix="GitHub may be degraded (see https://www.githubstatus.com); "
                        "try again in a few minutes",
                    )
                if attempt >= policy.max_attempts:
                    response.close()
                    raise GitHubUnavailableError(
                        f"GitHub answered {response.status_code} to {method} {path} "
                        f"{attempt} times",
                        status=response.status_code,
                        fix="GitHub may be degraded (see https://www.githubstatus.com); "
                        "try again in a few minutes",
                    )
                _ = response.content
                response.close()
                policy.sleep(policy.backoff_wait(attempt))
                continue
            return response


def _counting_connection_class(base: type[Any], policy: _Policy) -> type[Any]:
    """PyGithub's connection class, with our adapter mounted on its ``requests`` session."""

    class CountingConnection(base):  # type: ignore[misc]
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            adapter = _CountingAdapter(policy)
            self.session.mount(f"{self.protocol}://", adapter)

    return CountingConnection


# --------------------------------------------------------------------------------------
# The backend.


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
        self._owner, self._name = owner, name
        self._api_url = (base_url or DEFAULT_API_URL).rstrip("/")
        self._graphql_url = graphql_url_for(self._api_url)
        self._policy = _Policy(
            max_wait=max_wait, max_attempts=max_attempts, backoff=backoff, sleep=sleep, clock=clock
        )
        self._gh = github.Github(
            auth=Auth.Token(token),
            base_url=self._api_url,
            timeout=timeout,
            user_agent=user_agent,
            per_page=100,
            retry=None,  # our adapter retries; two retry layers would multiply the attempts
            seconds_between_requests=0.0,  # see "Pauses" in the module docstring
            seconds_between_writes=0.0,
            lazy=True,
        )
        self._requester = self._gh.requester
        self._install_counter()
        self._repository: Any = None
        self._default_branch: str | None = None
        self._viewer: str | None = None

    def _install_counter(self) -> None:
        # PyGithub builds its HTTP connection lazily from this (name-mangled) attribute;
        # replacing it on this instance only is the one seam that sees every attempt.
        attribute = "_Requester__connectionClass"
        base = getattr(self._requester, attribute, None)
        if base is None:
            raise GitHubError(
                "this PyGithub version has no connection seam commit-train can count requests on",
                fix="install a supported PyGithub (2.x, tested with 2.10)",
            )
        setattr(self._requester, attribute, _counting_connection_class(base, self._policy))

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
        return self._graphql_url

    @property
    def progress_url(self) -> str:
        return f"{web_url_for(self._api_url)}/{self._repo}/deployments"

    @property
    def request_count(self) -> int:
        """HTTP requests made so far, every retry included."""
        return self._policy.count

    def close(self) -> None:
        self._gh.close()

    def __enter__(self) -> GitHubBackend:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _path(self, *parts: str) -> str:
        return "/repos/" + self._repo + "".join("/" + p for p in parts)

    def _repo_not_found(self) -> NotFoundError:
        return NotFoundError(
            f"repository {self._repo} not found at {self._api_url}",
            fix=f"check the name, and that the token can read {self._repo} "
            "(a fine-grained token must list the repository)",
        )

    @contextmanager
    def _calling(
        self, action: str, *, not_found: Callable[[], CommitTrainError] | None = None
    ) -> Iterator[None]:
        """Turn PyGithub's exceptions into ours, naming ``action`` and the fix."""
        try:
            yield
        except GithubException as exc:
            raise self._translate(exc, action, not_found) from exc

    def _translate(
        self,
        exc: GithubException,
        action: str,
        not_found: Callable[[], CommitTrainError] | None,
    ) -> CommitTrainError:
        status = exc.status
        data = exc.data if isinstance(exc.data, dict) else {}
        message = str(data.get("message") or exc.message or "")
        details = [
            str(e.get("message") or e.get("code"))
            for e in data.get("errors") or []
            if isinstance(e, dict)
        ]
        said = "; ".join([m for m in [message, *details] if m])
        if status == 401:
            return AuthError(
                f"the token was rejected by GitHub while trying to {action} (401 {said})",
                fix="it may be expired or revoked; " + TOKEN_FIX + " with a valid token",
            )
        if status == 403:
            return AuthError(
                f"GitHub refused to {action}: 403 {said}",
                fix=PERMISSIONS_FIX.format(repo=self._repo),
            )
        if status == 404:
            if not_found is not None:
                return not_found()
            return NotFoundError(
                f"GitHub answered 404 Not Found to {action}",
                fix=f"check that {self._repo} exists and that the token can read it",
            )
        return GitHubError(f"GitHub refused to {action}: {status} {said}".rstrip(), status=status)

    def _rest(
        self,
        verb: str,
        url: str,
        *,
        action: str,
        params: dict[str, Any] | None = None,
        body: Any = None,
        not_found: Callable[[], CommitTrainError] | None = None,
    ) -> tuple[dict[str, Any], Any]:
        with self._calling(action, not_found=not_found):
            headers, data = self._requester.requestJsonAndCheck(
                verb,
                url,
                parameters=params,
                headers={"Accept": "application/vnd.github+json"},
                input=body,
            )
        return headers, data

    def _pages(
        self,
        url: str,
        *,
        action: str,
        params: dict[str, Any] | None = None,
        key: str | None = None,
        limit: int | None = None,
        not_found: Callable[[], CommitTrainError] | None = None,
    ) -> Iterator[dict[str, Any]]:
        """Items of a paginated REST list, following ``Link: rel="next"``."""
        seen = 0
        next_url: str | None = url
        query: dict[str, Any] | None = {"per_page": 100, **(params or {})}
        while next_url is not None:
            headers, data = self._rest(
                "GET", next_url, action=action, params=query, not_found=not_found
            )
            items = data.get(key, []) if key is not None else data
            for item in items or []:
                yield item
                seen += 1
                if limit is not None and seen >= limit:
                    return
            next_url = next_link(headers.get("link"))
            query = None  # the next link carries its own query

    def _graphql(
        self,
        query: str,
        variables: dict[str, Any],
        *,
        action: str,
        nullable: Sequence[Sequence[str]] = (),
        scoped: bool = True,
    ) -> dict[str, Any]:
        """One GraphQL request; GitHub's ``errors`` become our errors.

        ``scoped`` queries take the repository as ``$owner`` and ``$name``; the others get
        no variables they do not declare.

        GitHub answers a spent GraphQL limit with 200 and a ``RATE_LIMITED`` error, not a
        403, so that case is waited for here by the same rules as the transport's. An error
        whose ``path`` lies under one of ``nullable`` (beside data) only leaves that field
        null: the caller reads the null.
        """
        attempt = 0
        while True:
            attempt += 1
            headers, data = self._rest(
                "POST",
                self._graphql_url,
                action=action,
                body={
                    "query": query,
                    "variables": (
                        {"owner": self._owner, "name": self._name, **variables}
                        if scoped
                        else variables
                    ),
                },
            )
            if not isinstance(data, dict):
                raise GitHubError(f"GitHub's GraphQL API gave no JSON object to {action}")
            errors = data.get("errors") or []
            first = errors[0] if errors and isinstance(errors[0], dict) else {}
            if first.get("type") != "RATE_LIMITED":
                break
            reset = headers.get("x-ratelimit-reset")
            wait = max(float(reset) - self._policy.clock(), 0.0) + 1.0 if reset else None
            if wait is None or wait > self._policy.max_wait or attempt >= self._policy.max_attempts:
                when = (
                    datetime.fromtimestamp(float(reset), UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
                    if reset
                    else "a time GitHub did not say"
                )
                raise RateLimitError(
                    f"GitHub's GraphQL rate limit for this token is used up; it resets at {when}"
                    + (f", in {int(wait)} s" if wait is not None else ""),
                    delay=wait,
                    fix="wait until then and try again, or use another token "
                    "(a GitHub App installation token has its own limit)",
                )
            self._policy.sleep(wait)
        if errors and nullable and isinstance(data.get("data"), dict):
            errors = [e for e in errors if not _under(e, nullable)]
            first = errors[0] if errors and isinstance(errors[0], dict) else {}
        if errors:
            kind = first.get("type")
            text = str(first.get("message") or errors[0])
            if kind == "NOT_FOUND" and list(first.get("path") or ["repository"])[:1] == [
                "repository"
            ]:
                raise self._repo_not_found()
            if kind in ("FORBIDDEN", "INSUFFICIENT_SCOPES"):
                raise AuthError(
                    f"GitHub refused to {action}: {text}",
                    fix=PERMISSIONS_FIX.format(repo=self._repo),
                )
            more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
            raise GitHubError(f"GitHub's GraphQL API could not {action}: {text}{more}")
        result = data.get("data")
        if not isinstance(result, dict):
            raise GitHubError(f"GitHub's GraphQL API gave no data to {action}")
        if "repository" in result and result["repository"] is None:
            raise self._repo_not_found()
        return result

    # -- Backend --------------------------------------------------------------------------

    def viewer_login(self) -> str:
        """The login of the token's owner: who asks for deploys and holds locks on GitHub
        (a person's own login, or ``<app>[bot]`` for an app's or Actions' token).

        Known for free once ``gate_facts`` has run (its query reads it); otherwise one
        GraphQL request, once per backend. Unlike git's ``user.name`` or ``GITHUB_ACTOR``,
        nobody can claim another person's login with it.
        """
        if self._viewer is None:
            data = self._graphql(
                VIEWER_QUERY, {}, action="read who the token belongs to", scoped=False
            )
            login = str((data.get("viewer") or {}).get("login") or "")
            if not login:
                raise GitHubError(
                    "GitHub did not say who the token belongs to",
                    fix="use a token of a user or an app installation",
                )
            self._viewer = login
        return self._viewer

    def default_branch(self) -> str:
        """The repository's default branch (one request per backend, then cached)."""
        if self._default_branch is None:
            if self._repository is None:
                repository = self._gh.get_repo(self._repo)
                with self._calling(f"read {self._repo}", not_found=self._repo_not_found):
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
            _, data = self._rest(
                "GET",
                self._path("commits", urllib.parse.quote(ref, safe="")),
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
                + f": {_short_list(candidates)}",
                candidates=tuple(sha for sha, _ in candidates),
                fix="give more characters",
            ) from exc
        return commit_from_rest(data)

    def _head(self) -> Commit:
        data = self._graphql(HEAD_QUERY, {}, action=f"read the default branch of {self._repo}")
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
            data = self._graphql(
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
        _, data = self._rest(
            "GET",
            self._path("compare", basehead),
            action=f"compare {head} with {base}",
            params={"per_page": 1},
            not_found=missing,
        )
        return comparison_from_rest(data)

    def checks(self, sha: str) -> Checks:
        """Commit statuses and check runs of ``sha`` in one GraphQL request."""
        data = self._graphql(CHECKS_QUERY, {"sha": sha}, action=f"read the checks of {sha}")
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
            self._pages(
                self._path("commits", sha, "check-runs"),
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
        self, ref: str, *, environments: Sequence[str] = (), refs: Sequence[str] = ()
    ) -> GateFacts:
        """Everything the gate weighs about ``ref`` in one GraphQL request (``gate_query``):
        the commit, the default branch and whether the commit is on it, its statuses and
        check runs, its deployments to ``environments`` and the ``refs`` that exist.

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
        names = [self._full_ref(r) for r in dict.fromkeys(refs)]
        facts = self._gate_facts(ref, envs, names)
        if facts is None:
            commit = self.resolve(ref)  # NotFoundError / AmbiguousRefError, as always
            facts = self._gate_facts(commit.sha, envs, names)
        if facts is None:
            raise NotFoundError(f"no commit {ref} in {self._repo}", fix="check the sha")
        return facts

    def _gate_facts(self, rev: str, envs: list[str], names: list[str]) -> GateFacts | None:
        """``gate_facts``' query; None when ``rev`` does not name a commit in it."""
        head = rev == "HEAD"
        variables: dict[str, Any] = {} if head else {"rev": rev}
        if envs:
            variables["environments"] = envs
        variables.update({f"ref{i}": name for i, name in enumerate(names)})
        data = self._graphql(
            gate_query(head=head, promotion=bool(envs), ref_count=len(names)),
            variables,
            action=f"read commit {rev} and its checks",
            nullable=_GATE_NULLABLE,
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
            deployment_from_graphql(d, url=self._deployment_url(d.get("databaseId")))
            for d in (node.get("deployments") or {}).get("nodes") or []
        )
        return GateFacts(
            commit=commit,
            default_branch=self._default_branch,
            on_default_branch=on_branch,
            checks=self._all_check_runs(checks_from_graphql(node)),
            deployments=deployments,
            refs=_ref_targets(repository, names),
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
            self._pages(
                self._path("commits", quoted, "status"),
                action=f"read the statuses of {sha}",
                key="statuses",
                not_found=unknown,
            )
        )
        runs = list(
            self._pages(
                self._path("commits", quoted, "check-runs"),
                action=f"read the check runs of {sha}",
                params={"filter": "latest"},
                key="check_runs",
                not_found=unknown,
            )
        )
        return checks_from_rest(sha, statuses, runs)

    def snapshot(self, *, limit: int, environments: Sequence[str]) -> Snapshot:
        """The ``status`` screen in one GraphQL request (two in a rare case, below).

        An environment's live deployment is its newest one whose latest status is
        ``success``. The query looks at each environment's last
        ``_DEPLOYMENTS_PER_ENVIRONMENT`` deployments; only when one of them holds no success
        (a run of failures) does a second request look 100 deeper. A deploy
        is in flight when its latest status is queued, pending or in progress (or it has
        none yet) and it is newer than the environment's live deployment: an older one was
        overtaken and is left out.
        """
        if not 1 <= limit <= 100:
            raise UsageError(f"limit {limit} is out of range", fix="give a limit from 1 to 100")
        envs = list(dict.fromkeys(environments))
        variables: dict[str, Any] = {"limit": limit}
        variables.update({f"env{i}": [env] for i, env in enumerate(envs)})
        data = self._graphql(
            snapshot_query(len(envs)), variables, action=f"read the train of {self._repo}"
        )
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
        # Environments whose window holds no success but has more deployments behind it:
        # look once more, 100 deeper (the second and last request of the budget).
        deeper = [
            (env, (repository.get(f"env{i}") or {}).get("pageInfo") or {})
            for i, env in enumerate(envs)
            if not any(
                (node.get("latestStatus") or {}).get("state", "").lower() == "success"
                for node in nodes_by_env[env]
            )
        ]
        deeper = [(env, page) for env, page in deeper if page.get("hasNextPage")]
        if deeper:
            more_vars: dict[str, Any] = {}
            for i, (env, page) in enumerate(deeper):
                more_vars[f"env{i}"] = [env]
                more_vars[f"after{i}"] = page.get("endCursor")
            more = self._graphql(
                live_query(len(deeper)), more_vars, action=f"read the deployments of {self._repo}"
            )["repository"]
            for i, (env, _) in enumerate(deeper):
                nodes_by_env[env].extend((more.get(f"env{i}") or {}).get("nodes") or [])
        live: dict[str, Deployment] = {}
        in_flight: dict[str, list[Deployment]] = {}
        for env in envs:
            deployments = [
                deployment_from_graphql(node, url=self._deployment_url(node.get("databaseId")))
                for node in nodes_by_env[env]
            ]
            deployments.sort(key=lambda d: (d.created_at, d.id), reverse=True)
            current = next((d for d in deployments if d.state == DeployState.SUCCESS), None)
            if current is not None:
                live[env] = current
            for dep in deployments:
                if current is not None and (dep.created_at, dep.id) <= (
                    current.created_at,
                    current.id,
                ):
                    break
                if dep.state.in_flight:
                    in_flight.setdefault(dep.sha, []).append(dep)
        commits = []
        for node in branch["target"]["history"]["nodes"]:
            commit = commit_from_graphql(node)
            commits.append(
                TrainCommit(
                    commit=commit,
                    checks=checks_from_graphql(node),
                    live_in=tuple(
                        env for env in envs if env in live and live[env].sha == commit.sha
                    ),
                    in_flight=tuple(in_flight.get(commit.sha, ())),
                )
            )
        return Snapshot(
            repo=self._repo,
            default_branch=self._default_branch,
            commits=tuple(commits),
            live=live,
        )

    def _deployment_url(self, deployment_id: Any) -> str | None:
        if deployment_id is None:
            return None
        return f"{self._api_url}{self._path('deployments', str(deployment_id))}"

    def _write_once(self, noun: str, send: Callable[[], _T], find: Callable[[], _T | None]) -> _T:
        """``send`` a write that must happen once (see "Writes that must happen once").

        When its fate is unknown, wait the backoff, ``find`` it (one read) and adopt what
        ``find`` answers; only when it answers None is the write sent again, up to
        ``max_attempts`` sends in all.
        """
        policy = self._policy
        attempt = 0
        while True:
            attempt += 1
            try:
                with policy.once():
                    return send()
            except _LostAnswer as lost:
                policy.sleep(policy.backoff_wait(attempt))
                try:
                    found = find()
                except CommitTrainError as exc:
                    raise GitHubUnavailableError(
                        f"{lost.message}, and whether GitHub recorded the {noun} is unknown "
                        f"({exc.message})",
                        status=lost.status,
                        fix="look at commit-train history before trying again",
                    ) from exc
                if found is not None:
                    return found
                if attempt >= policy.max_attempts:
                    raise GitHubUnavailableError(
                        f"{lost.message} ({attempt} attempts, no {noun} recorded)",
                        status=lost.status,
                        fix=lost.fix,
                    ) from lost

    def create_deployment(
        self,
        *,
        sha: str,
        environment: str,
        payload: Mapping[str, Any],
        description: str,
        production: bool,
    ) -> Deployment:
        """Record a deploy request; commit-train's gate has already passed.

        ``auto_merge: false`` (GitHub would otherwise merge the default branch into the ref
        and answer 202 without a deployment) and ``required_contexts: []`` (GitHub would
        otherwise demand every status be green, and ignore check runs' re-runs).

        Exactly one deployment even when an answer is lost: the payload carries a new
        ``request_id``, and an ambiguous failure is followed by one read of the
        deployments of ``sha`` to ``environment`` before any second POST (``_write_once``).
        """
        action = f"create a deployment of {sha[:7]} to {environment}"
        repository = self._gh.get_repo(self._repo)  # lazy: no request
        nonce = uuid.uuid4().hex
        body = {**payload, "request_id": nonce}

        def no_ref() -> NotFoundError:
            return NotFoundError(f"no commit {sha} in {self._repo}", fix="push the commit first")

        def send() -> Deployment:
            with self._calling(action, not_found=self._repo_not_found):
                try:
                    created = repository.create_deployment(
                        ref=sha,
                        environment=environment,
                        payload=body,
                        description=description,
                        auto_merge=False,
                        required_contexts=[],
                        production_environment=production,
                        transient_environment=False,
                    )
                except GithubException as exc:
                    data = exc.data if isinstance(exc.data, dict) else {}
                    message = str(data.get("message", "")).lower()
                    if exc.status == 422 and "no ref found" in message:
                        raise no_ref() from exc
                    raise
            data = created.raw_data
            if "id" not in data:
                raise GitHubError(
                    f"GitHub did not create a deployment of {sha[:7]} to {environment}: it "
                    f"answered 202 {data.get('message', '')!r}".rstrip(),
                    status=202,
                    fix="GitHub merged instead of deploying (auto_merge); deploy a commit sha "
                    "of the default branch, not a branch name",
                )
            return deployment_from_rest(data)

        def find() -> Deployment | None:
            by = "sha" if len(sha) == 40 and _HEX.fullmatch(sha) else "ref"
            _, found = self._rest(
                "GET",
                self._path("deployments"),
                action=f"look for the deployment of {sha[:7]} to {environment} just requested",
                params={by: sha, "environment": environment, "per_page": 100},
                not_found=self._repo_not_found,
            )
            for item in found if isinstance(found, list) else []:
                if _payload(item.get("payload")).get("request_id") == nonce:
                    return deployment_from_rest(item)
            return None

        return self._write_once("deployment", send, find)

    def add_status(
        self,
        deployment_id: int,
        *,
        state: DeployState,
        description: str = "",
        log_url: str | None = None,
        environment_url: str | None = None,
    ) -> DeploymentStatus:
        """Record a status (a raw request: PyGithub's ``create_status`` cannot send ``log_url``).

        ``auto_inactive: true``: a ``success`` marks the environment's older successful
        deployments inactive, except production and transient ones (GitHub spares them), so
        an environment's live deployment is its newest success, never its only one.
        """
        if state == DeployState.NONE:
            raise UsageError("a deployment status cannot be 'none'", fix="give a real state")
        body: dict[str, Any] = {
            "state": state.value,
            "description": description[:140],
            "auto_inactive": True,
        }
        if log_url:
            body["log_url"] = log_url
        if environment_url:
            body["environment_url"] = environment_url
        path = self._path("deployments", str(deployment_id), "statuses")

        def send() -> DeploymentStatus:
            _, data = self._rest(
                "POST",
                path,
                action=f"set deployment {deployment_id} to {state.value}",
                body=body,
                not_found=lambda: self._deployment_not_found(deployment_id),
            )
            return deployment_status_from_rest(data)

        def find() -> DeploymentStatus | None:
            # The newest status, when it is the one just sent. Should the same status have
            # been sent earlier on purpose, adopting that one shows the same thing.
            _, found = self._rest(
                "GET",
                path,
                action=f"read the newest status of deployment {deployment_id}",
                params={"per_page": 1},
                not_found=lambda: self._deployment_not_found(deployment_id),
            )
            newest = found[0] if isinstance(found, list) and found else None
            if newest is None or (
                str(newest.get("state")),
                str(newest.get("description") or ""),
                str(newest.get("log_url") or ""),
                str(newest.get("environment_url") or ""),
            ) != (state.value, body["description"], log_url or "", environment_url or ""):
                return None
            return deployment_status_from_rest(newest)

        return self._write_once("deployment status", send, find)

    def _deployment_not_found(self, deployment_id: int) -> NotFoundError:
        return NotFoundError(
            f"no deployment {deployment_id} in {self._repo}",
            fix="check the deployment id (commit-train history lists them)",
        )

    def get_deployment(self, deployment_id: int) -> Deployment:
        """A deployment and all its statuses (two REST requests, more past 100 statuses)."""
        _, data = self._rest(
            "GET",
            self._path("deployments", str(deployment_id)),
            action=f"read deployment {deployment_id}",
            not_found=lambda: self._deployment_not_found(deployment_id),
        )
        statuses = list(
            self._pages(
                self._path("deployments", str(deployment_id), "statuses"),
                action=f"read the statuses of deployment {deployment_id}",
                not_found=lambda: self._deployment_not_found(deployment_id),
            )
        )
        return deployment_from_rest(data, statuses)

    def deployments(self, *, environment: str | None = None, limit: int = 20) -> list[Deployment]:
        """Newest first, each with its statuses: one GraphQL request per 100 deployments."""
        found: list[Deployment] = []
        after: str | None = None
        while len(found) < limit:
            data = self._graphql(
                DEPLOYMENTS_QUERY,
                {
                    "first": min(100, limit - len(found)),
                    "after": after,
                    "environments": [environment] if environment else None,
                },
                action=f"read the deployments of {self._repo}",
            )
            connection = data["repository"]["deployments"]
            for node in connection["nodes"]:
                found.append(
                    deployment_from_graphql(node, url=self._deployment_url(node.get("databaseId")))
                )
            if not connection["pageInfo"]["hasNextPage"]:
                break
            after = connection["pageInfo"]["endCursor"]
        return found[:limit]

    # -- refs (for locks) -----------------------------------------------------------------

    @staticmethod
    def _full_ref(ref: str) -> str:
        return ref if ref.startswith("refs/") else f"refs/{ref}"

    def create_ref(self, ref: str, sha: str) -> bool:
        """Create ``ref`` at ``sha``: True if created, False if the ref already exists.

        False also after a retried POST whose first attempt did create it (GitHub then
        answers 422 "Reference already exists"): a caller that needs to know who holds the
        ref must ``get_ref`` it and compare the sha with its own.
        """
        full = self._full_ref(ref)
        try:
            self._rest(
                "POST",
                self._path("git", "refs"),
                action=f"create {full}",
                body={"ref": full, "sha": sha},
                not_found=self._repo_not_found,
            )
        except GitHubError as exc:
            cause = exc.__cause__
            data = getattr(cause, "data", None)
            message = str(data.get("message", "")) if isinstance(data, dict) else ""
            if exc.status == 422 and "already exists" in message.lower():
                return False
            raise
        return True

    def get_ref(self, ref: str) -> str | None:
        """The sha ``ref`` points at, or None when it does not exist."""
        full = self._full_ref(ref)
        try:
            _, data = self._rest(
                "GET",
                self._path("git", "ref", urllib.parse.quote(full[len("refs/") :], safe="/")),
                action=f"read {full}",
            )
        except NotFoundError:
            return None
        if isinstance(data, list):  # some GitHub versions answer a prefix match as a list
            exact = [d for d in data if d.get("ref") == full]
            return ref_sha_from_rest(exact[0]) if exact else None
        return ref_sha_from_rest(data)

    def delete_ref(self, ref: str) -> bool:
        """Delete ``ref``: True if deleted, False if it did not exist."""
        full = self._full_ref(ref)
        try:
            self._rest(
                "DELETE",
                self._path("git", "refs", urllib.parse.quote(full[len("refs/") :], safe="/")),
                action=f"delete {full}",
            )
        except NotFoundError:
            return False
        except GitHubError as exc:
            if exc.status == 422:
                return False
            raise
        return True

    def update_ref(self, ref: str, sha: str, *, force: bool = False) -> bool:
        """Move ``ref`` to ``sha``: True if moved, False if it does not exist or (without
        ``force``) ``sha`` does not descend from where it points now.

        Without ``force`` this is a compare-and-swap: a new commit whose parent is the
        ref's current target moves it only while the ref still points there.
        """
        full = self._full_ref(ref)
        try:
            self._rest(
                "PATCH",
                self._path("git", "refs", urllib.parse.quote(full[len("refs/") :], safe="/")),
                action=f"move {full}",
                body={"sha": sha, "force": force},
            )
        except GitHubError as exc:
            if exc.status == 422:
                return False
            raise
        return True

    def create_commit(self, message: str, *, parents: Sequence[str] = ()) -> str:
        """A commit object holding only ``message`` (git's empty tree); no ref moves.

        One request; two if GitHub refuses the empty tree and a one-file tree is made.
        """
        action = "create a commit object"
        body: dict[str, Any] = {"message": message, "tree": EMPTY_TREE, "parents": list(parents)}
        try:
            _, data = self._rest(
                "POST",
                self._path("git", "commits"),
                action=action,
                body=body,
                not_found=self._repo_not_found,
            )
        except GitHubError as exc:
            if exc.status != 422 or "tree" not in str(exc).lower():
                raise
            _, tree = self._rest(
                "POST",
                self._path("git", "trees"),
                action="create a tree",
                body={
                    "tree": [
                        {"path": "message", "mode": "100644", "type": "blob", "content": message}
                    ]
                },
            )
            body["tree"] = str(tree["sha"])
            _, data = self._rest("POST", self._path("git", "commits"), action=action, body=body)
        return str(data["sha"])

    def read_refs(self, refs: Sequence[str]) -> dict[str, RefTarget]:
        """The refs that exist among ``refs``, each with its commit's message: one request."""
        names = [self._full_ref(r) for r in dict.fromkeys(refs)]
        if not names:
            return {}
        data = self._graphql(
            refs_query(len(names)),
            {f"ref{i}": name for i, name in enumerate(names)},
            action=f"read refs of {self._repo}",
        )
        return _ref_targets(data["repository"], names)

    def branch_state(
        self, *, environments: Sequence[str], refs: Sequence[str], limit: int = 100
    ) -> BranchState:
        """The default branch's newest ``limit`` commits, each environment's live
        deployment (among its last 20) and the refs asked for: one GraphQL request."""
        if not 1 <= limit <= 100:
            raise UsageError(f"limit {limit} is out of range", fix="give a limit from 1 to 100")
        envs = list(dict.fromkeys(environments))
        names = [self._full_ref(r) for r in dict.fromkeys(refs)]
        variables: dict[str, Any] = {"limit": limit}
        variables.update({f"env{i}": [env] for i, env in enumerate(envs)})
        variables.update({f"ref{i}": name for i, name in enumerate(names)})
        data = self._graphql(
            branch_state_query(len(envs), len(names)),
            variables,
            action=f"read the train of {self._repo}",
        )
        self._viewer = str((data.get("viewer") or {}).get("login") or "") or self._viewer
        repository = data["repository"]
        branch = repository.get("defaultBranchRef")
        if branch is None:
            raise NotFoundError(
                f"{self._repo} has no default branch yet", fix="push a first commit"
            )
        self._default_branch = str(branch["name"])
        live: dict[str, Deployment] = {}
        for i, env in enumerate(envs):
            deployments = sorted(
                (
                    deployment_from_graphql(node, url=self._deployment_url(node.get("databaseId")))
                    for node in (repository.get(f"env{i}") or {}).get("nodes") or []
                ),
                key=lambda d: (d.created_at, d.id),
                reverse=True,
            )
            current = next((d for d in deployments if d.state == DeployState.SUCCESS), None)
            if current is not None:
                live[env] = current
        commits = tuple(commit_from_graphql(node) for node in branch["target"]["history"]["nodes"])
        return BranchState(
            default_branch=self._default_branch,
            commits=commits,
            live=live,
            refs=_ref_targets(repository, names),
        )

    def deployments_of(self, sha: str, *, environments: Sequence[str]) -> list[Deployment]:
        """Deployments of commit ``sha`` to any of ``environments`` (newest 100): one request.

        The promotion-order rule asks this: did this very commit succeed in staging?
        """
        data = self._graphql(
            COMMIT_DEPLOYMENTS_QUERY,
            {"sha": sha, "environments": list(environments)},
            action=f"read the deployments of {sha[:7]}",
        )
        node = data["repository"].get("object") or {}
        return [
            deployment_from_graphql(d, url=self._deployment_url(d.get("databaseId")))
            for d in (node.get("deployments") or {}).get("nodes") or []
        ]


def _under(error: Any, paths: Sequence[Sequence[str]]) -> bool:
    """Whether a GraphQL error's ``path`` starts with one of ``paths``."""
    path = list(error.get("path") or []) if isinstance(error, dict) else []
    return any(path[: len(p)] == list(p) for p in paths)


def _ref_targets(repository: Mapping[str, Any], names: Sequence[str]) -> dict[str, RefTarget]:
    found: dict[str, RefTarget] = {}
    for i, name in enumerate(names):
        target = (repository.get(f"ref{i}") or {}).get("target")
        if target and target.get("oid"):
            found[name] = RefTarget(
                ref=name, sha=str(target["oid"]), message=str(target.get("message") or "")
            )
    return found


if TYPE_CHECKING:  # mypy proves the backend fits the protocol the train service uses

    def _fits_the_protocol(backend: GitHubBackend) -> Backend:
        return backend
