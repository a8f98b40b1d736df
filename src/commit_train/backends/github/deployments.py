"""Deployments on GitHub: recording deploys and their statuses, and reading them back.

Each deployment and each status fires its own webhook event (``deployment`` starts a
pipeline run, ``deployment_status`` feeds the offline replay's counts), so both writes go
through ``Transport.write_once``: a new ``request_id`` nonce in the payload, and after an
answer is lost, reads that adopt what GitHub did record (for as long as GitHub may still be
processing the request) before anything is sent again.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping
from typing import Any

from github import GithubException

from commit_train.backends.github.mapping import (
    deployment_from_graphql,
    deployment_from_rest,
    deployment_status_from_rest,
    payload_from,
)
from commit_train.backends.github.queries import DEPLOYMENTS_QUERY
from commit_train.backends.github.transport import Transport
from commit_train.errors import GitHubRefusedError, NotFoundError, UsageError
from commit_train.models import Deployment, DeploymentStatus, DeployState

_HEX = re.compile(r"[0-9a-fA-F]+")


class Deployments:
    """The deployments of one repository, over its ``Transport``."""

    def __init__(self, http: Transport) -> None:
        self._http = http

    def parse(self, node: Mapping[str, Any]) -> Deployment:
        """A GraphQL ``Deployment`` node, with its API address."""
        return deployment_from_graphql(node, url=self._http.deployment_url(node.get("databaseId")))

    def create(
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
        ``request_id``, and an ambiguous failure is followed by reads of the deployments
        of ``sha`` to ``environment`` (newest first, ours among them) until the nonce is
        found or GitHub's processing is surely over, before any second POST
        (``Transport.write_once``).
        """
        action = f"create a deployment of {sha[:7]} to {environment}"
        repository = self._http.gh.get_repo(self._http.repo)  # lazy: no request
        nonce = uuid.uuid4().hex
        body = {**payload, "request_id": nonce}

        def no_ref() -> NotFoundError:
            return NotFoundError(
                f"no commit {sha} in {self._http.repo}", fix="push the commit first"
            )

        def send() -> Deployment:
            with self._http.calling(action, not_found=self._http.repo_not_found):
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
                raise GitHubRefusedError(
                    f"GitHub did not create a deployment of {sha[:7]} to {environment}: it "
                    f"answered 202 {data.get('message', '')!r}".rstrip(),
                    status=202,
                    fix="GitHub merged instead of deploying (auto_merge); deploy a commit sha "
                    "of the default branch, not a branch name",
                )
            return deployment_from_rest(data)

        def find() -> Deployment | None:
            by = "sha" if len(sha) == 40 and _HEX.fullmatch(sha) else "ref"
            _, found = self._http.rest(
                "GET",
                self._http.path("deployments"),
                action=f"look for the deployment of {sha[:7]} to {environment} just requested",
                params={by: sha, "environment": environment, "per_page": 100},
                not_found=self._http.repo_not_found,
            )
            for item in found if isinstance(found, list) else []:
                if payload_from(item.get("payload")).get("request_id") == nonce:
                    return deployment_from_rest(item)
            return None

        return self._http.write_once("deployment", send, find)

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
        path = self._http.path("deployments", str(deployment_id), "statuses")

        def send() -> DeploymentStatus:
            _, data = self._http.rest(
                "POST",
                path,
                action=f"set deployment {deployment_id} to {state.value}",
                body=body,
                not_found=lambda: self._deployment_not_found(deployment_id),
            )
            return deployment_status_from_rest(data)

        def find() -> DeploymentStatus | None:
            # Read the statuses back (newest first) for one equal to the one just sent: the
            # pipeline may have added its own since, so not only the newest is looked at.
            # Should the same status have been sent earlier on purpose, adopting that one
            # shows the same thing.
            _, found = self._http.rest(
                "GET",
                path,
                action=f"read the statuses of deployment {deployment_id}",
                params={"per_page": 100},
                not_found=lambda: self._deployment_not_found(deployment_id),
            )
            wanted = (state.value, body["description"], log_url or "", environment_url or "")
            for item in found if isinstance(found, list) else []:
                if (
                    str(item.get("state")),
                    str(item.get("description") or ""),
                    str(item.get("log_url") or ""),
                    str(item.get("environment_url") or ""),
                ) == wanted:
                    return deployment_status_from_rest(item)
            return None

        return self._http.write_once("deployment status", send, find)

    def _deployment_not_found(self, deployment_id: int) -> NotFoundError:
        return NotFoundError(
            f"no deployment {deployment_id} in {self._http.repo}",
            fix="check the deployment id (commit-train history lists them)",
        )

    def get(self, deployment_id: int) -> Deployment:
        """A deployment and all its statuses (two REST requests, more past 100 statuses)."""
        _, data = self._http.rest(
            "GET",
            self._http.path("deployments", str(deployment_id)),
            action=f"read deployment {deployment_id}",
            not_found=lambda: self._deployment_not_found(deployment_id),
        )
        statuses = list(
            self._http.pages(
                self._http.path("deployments", str(deployment_id), "statuses"),
                action=f"read the statuses of deployment {deployment_id}",
                not_found=lambda: self._deployment_not_found(deployment_id),
            )
        )
        return deployment_from_rest(data, statuses)

    def newest(self, *, environment: str | None = None, limit: int = 20) -> list[Deployment]:
        """Newest first, each with its statuses: one GraphQL request per 100 deployments."""
        found: list[Deployment] = []
        after: str | None = None
        while len(found) < limit:
            data = self._http.graphql(
                DEPLOYMENTS_QUERY,
                {
                    "first": min(100, limit - len(found)),
                    "after": after,
                    "environments": [environment] if environment else None,
                },
                action=f"read the deployments of {self._http.repo}",
            )
            connection = data["repository"]["deployments"]
            for node in connection["nodes"]:
                found.append(self.parse(node))
            if not connection["pageInfo"]["hasNextPage"]:
                break
            after = connection["pageInfo"]["endCursor"]
        return found[:limit]
