"""Looking back through deployments without a fixed window, at a bounded cost.

The live deploy of an environment, the previous good one and a commit's success in the
environment it must pass first may lie behind any number of failed, superseded or other
commits' deploys. Each read here starts with the window its caller always read (the
first request costs what it did) and goes on, a page of ``models.LOOK_BACK_PAGE`` (100)
deployments a request, only while what it looks for is not found and GitHub has more,
until ``models.LOOK_BACK_DEPLOYMENTS`` (1,000) deployments of the environment (or of the
commit) have been looked at: at most 10 requests more, and only in the rare case.

- ``look_deeper``: ``snapshot`` and ``branch_state``, each environment whose window holds
  no success; the environments still looking share one request a page.
- ``walk``: every deployment of one environment (or of one commit to it), newest first,
  read lazily a page at a time (rollback and auto-rollback stop as soon as they have
  their answer, and so does ``sync`` looking for an earlier replay).
- ``commit_deployments``: the promotion order, a commit's deployments to some
  environments, until each has a success.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, MutableMapping, Sequence
from typing import Any

from commit_train.backends.github.queries import (
    COMMIT_DEPLOYMENTS_QUERY,
    DEPLOYMENTS_QUERY,
    live_query,
)
from commit_train.backends.github.transport import Transport
from commit_train.models import LOOK_BACK_DEPLOYMENTS, LOOK_BACK_PAGE, Deployment

Parse = Callable[[Mapping[str, Any]], Deployment]


def _has_success(nodes: Sequence[Mapping[str, Any]]) -> bool:
    return any(
        str((node.get("latestStatus") or {}).get("state", "")).lower() == "success"
        for node in nodes
    )


def look_deeper(
    http: Transport,
    nodes_by_env: MutableMapping[str, list[dict[str, Any]]],
    pages: Mapping[str, Mapping[str, Any]],
) -> dict[str, int]:
    """Extend each environment's first window (``nodes_by_env``, read with its
    ``pageInfo`` in ``pages``) while it holds no deployment whose latest status is
    ``success`` and more are behind it, up to ``LOOK_BACK_DEPLOYMENTS`` each. Answers the
    environments given up on at the cap with how many deployments were looked at."""
    cursors = {
        env: page.get("endCursor")
        for env, page in pages.items()
        if page.get("hasNextPage") and not _has_success(nodes_by_env[env])
    }
    looked_back: dict[str, int] = {}
    while cursors:
        looking = list(cursors)
        seen = min(len(nodes_by_env[env]) for env in looking)
        if seen >= LOOK_BACK_DEPLOYMENTS:
            looked_back.update({env: len(nodes_by_env[env]) for env in looking})
            break
        variables: dict[str, Any] = {"first": min(LOOK_BACK_PAGE, LOOK_BACK_DEPLOYMENTS - seen)}
        for i, env in enumerate(looking):
            variables[f"env{i}"] = [env]
            variables[f"after{i}"] = cursors[env]
        more = http.graphql(
            live_query(len(looking)), variables, action=f"read the deployments of {http.repo}"
        )["repository"]
        for i, env in enumerate(looking):
            connection = more.get(f"env{i}") or {}
            nodes = list(connection.get("nodes") or [])
            nodes_by_env[env].extend(nodes)
            page = connection.get("pageInfo") or {}
            if _has_success(nodes) or not page.get("hasNextPage"):
                del cursors[env]
            else:
                cursors[env] = page.get("endCursor")
    return looked_back


def walk(
    http: Transport, parse: Parse, environment: str, *, sha: str | None = None
) -> Iterator[Deployment]:
    """Every deployment of ``environment`` (of commit ``sha`` only, when given: the
    commit's own deployments, however many of others came since), newest first, each with
    its statuses: one GraphQL request per ``LOOK_BACK_PAGE``, made only when the caller
    gets that far."""
    after: str | None = None
    while True:
        if sha is None:
            data = http.graphql(
                DEPLOYMENTS_QUERY,
                {"first": LOOK_BACK_PAGE, "after": after, "environments": [environment]},
                action=f"read the deployments of {http.repo} to {environment}",
            )
            connection = data["repository"]["deployments"]
        else:
            data = http.graphql(
                COMMIT_DEPLOYMENTS_QUERY,
                {"sha": sha, "environments": [environment], "after": after},
                action=f"read the deployments of {sha[:7]} to {environment}",
            )
            connection = (data["repository"].get("object") or {}).get("deployments") or {}
        for node in connection.get("nodes") or []:
            yield parse(node)
        page = connection.get("pageInfo") or {}
        if not page.get("hasNextPage"):
            return
        after = page.get("endCursor")


def commit_deployments(
    http: Transport,
    parse: Parse,
    sha: str,
    environments: Sequence[str],
    *,
    first: Mapping[str, Any] | None = None,
) -> list[Deployment]:
    """Deployments of commit ``sha`` to ``environments``, newest first: the first 100
    (``first``, when the caller's query already read that connection), then further
    pages only while one of ``environments`` has no deployment that ever succeeded, up to
    ``LOOK_BACK_DEPLOYMENTS``."""
    found: list[Deployment] = []
    connection = first
    after: str | None = None
    while True:
        if connection is None:
            data = http.graphql(
                COMMIT_DEPLOYMENTS_QUERY,
                {"sha": sha, "environments": list(environments), "after": after},
                action=f"read the deployments of {sha[:7]}",
            )
            connection = (data["repository"].get("object") or {}).get("deployments") or {}
        found.extend(parse(node) for node in connection.get("nodes") or [])
        page = connection.get("pageInfo") or {}
        good = {d.environment for d in found if d.ever_succeeded}
        if (
            not page.get("hasNextPage")
            or all(env in good for env in environments)
            or len(found) >= LOOK_BACK_DEPLOYMENTS
        ):
            return found
        after = page.get("endCursor")
        connection = None
