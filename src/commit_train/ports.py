"""What the train service needs from the outside world, as protocols.

Two implementations exist: ``GitHubBackend`` (``github.py``: commits, checks and the
GitHub Deployments ledger) and ``LocalBackend`` (``ledger.py``: a plain git repository and
a SQLite journal in its ``.git/``). ``train`` only ever sees this protocol.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from commit_train.models import (
    Checks,
    Commit,
    Deployment,
    DeploymentStatus,
    DeployState,
    GateFacts,
    Notice,
    SendReport,
    Snapshot,
)


class Backend(Protocol):
    """Where the default branch, its checks and the deploy ledger live."""

    @property
    def repo(self) -> str:
        """``owner/name`` (or the folder name for a local repository)."""
        ...

    @property
    def progress_url(self) -> str:
        """Where a person watches deploys happen (the repository's deployments page)."""
        ...

    def default_branch(self) -> str: ...

    def resolve(self, ref: str) -> Commit:
        """A full sha, a short sha or ``HEAD`` (the default branch's tip) to its commit.

        Raises ``NotFoundError`` for an unknown ref and ``AmbiguousRefError`` for a short sha
        matching several commits.
        """
        ...

    def on_default_branch(self, sha: str) -> bool: ...

    def checks(self, sha: str) -> Checks: ...

    def gate_facts(
        self, ref: str, *, environments: Sequence[str] = (), refs: Sequence[str] = ()
    ) -> GateFacts:
        """Everything the gate asks about ``ref`` at once (one GraphQL query on GitHub):
        ``resolve``, ``default_branch``, ``on_default_branch`` and ``checks`` together, the
        commit's deployments to ``environments`` (none asked, none read) and the ``refs``
        that exist among those asked (a backend that keeps no refs answers none).

        Raises what ``resolve`` raises, with the same messages.
        """
        ...

    def snapshot(self, *, limit: int, environments: Sequence[str]) -> Snapshot:
        """The newest ``limit`` commits of the default branch with checks and live deploys."""
        ...

    def create_deployment(
        self,
        *,
        sha: str,
        environment: str,
        payload: Mapping[str, Any],
        description: str,
        production: bool,
    ) -> Deployment: ...

    def add_status(
        self,
        deployment_id: int,
        *,
        state: DeployState,
        description: str = "",
        log_url: str | None = None,
        environment_url: str | None = None,
    ) -> DeploymentStatus:
        """Record a status; a ``success`` marks older successful deployments of that
        environment inactive, except production ones (GitHub's ``auto_inactive``): the live
        deployment is the newest success."""
        ...

    def get_deployment(self, deployment_id: int) -> Deployment: ...

    def deployments(self, *, environment: str | None = None, limit: int = 20) -> list[Deployment]:
        """Newest first, each with all its statuses."""
        ...

    def deployments_of(self, sha: str, *, environments: Sequence[str]) -> list[Deployment]:
        """Deployments of commit ``sha`` to any of ``environments`` (newest first, at most
        100), each with all its statuses: the promotion-order rule's one question."""
        ...


class Notifier(Protocol):
    """Tells people about a notice; a failure to tell is a warning, never an error."""

    def send(self, notice: Notice) -> SendReport: ...
