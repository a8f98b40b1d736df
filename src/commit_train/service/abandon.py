"""Deploys whose process died: found by their silence, closed ``error``.

A run killed with SIGKILL (an OOM kill, a runner that vanished, ``kill -9``) writes
nothing: its deployment stays ``in_progress`` for good, and ``status`` would show it in
flight forever. A live run writes ``in_progress`` once and then waits up to
``rollout-timeout`` for its rollout, so a deployment whose newest status is an
``in_progress`` older than ``kubernetes.abandon-after`` (default 3 rollout timeouts) has
no process behind it any more. It is closed ``error`` "abandoned: no progress since
<time of that status>" by:

- the next deploy to its environment, when it starts (``Train.supersede``, which closes
  the never-started ones in the same read);
- ``commit-train sweep [ENV]``;
- the scheduled stale-commits workflow (its ``stale-commit-notifier`` step sweeps the
  environment it checks).

Only commit-train's own deployments (``payload.commit_train``) are touched, never another
tool's. One read per environment (its newest ``SWEEP_WINDOW`` deployments) and one status
write per abandoned deploy.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from commit_train.core.text import clip, duration, plural
from commit_train.models import Deployment, DeployState

if TYPE_CHECKING:
    from commit_train.service.train import Train

SWEEP_WINDOW = 30  # how many of an environment's newest deployments a sweep reads
SWEEP_JSON_VERSION = 1


def last_progress(deployment: Deployment) -> datetime:
    """When the deployment last said anything: its newest status, else its creation."""
    return deployment.statuses[-1].created_at if deployment.statuses else deployment.created_at


def is_abandoned(deployment: Deployment, *, now: datetime, limit: float) -> bool:
    """A commit-train deployment ``in_progress`` with no new status for over ``limit`` s."""
    return (
        bool(deployment.payload.get("commit_train"))
        and deployment.state == DeployState.IN_PROGRESS
        and (now - last_progress(deployment)).total_seconds() > limit
    )


def abandoned_line(deployment: Deployment) -> str:
    """The description an abandoned deploy is closed with."""
    since = last_progress(deployment).strftime("%Y-%m-%d %H:%M:%S UTC")
    return clip(f"abandoned: no progress since {since}")


def abandoned_among(
    deployments: Iterable[Deployment], *, now: datetime, limit: float, but: int | None = None
) -> list[Deployment]:
    """The abandoned ones of ``deployments`` (leaving out deployment ``but``)."""
    return [d for d in deployments if d.id != but and is_abandoned(d, now=now, limit=limit)]


@dataclass(frozen=True)
class SweepReport:
    """What a sweep found (and, unless a dry run, closed), per environment read."""

    environments: tuple[str, ...]
    limit_seconds: float
    dry_run: bool
    abandoned: tuple[Deployment, ...]  # closed ones carry their new error status last

    @property
    def summary(self) -> str:
        where = ", ".join(self.environments) or "every environment"
        after = duration(self.limit_seconds)
        if not self.abandoned:
            return f"no abandoned deploys in {where} (none in progress without news for {after})"
        verb = "would close" if self.dry_run else "closed"
        return f"{verb} {plural(len(self.abandoned), 'abandoned deploy')} in {where}"


def sweep(train: Train, environment: str | None = None, *, dry_run: bool = False) -> SweepReport:
    """Close (``error``, ``abandoned_line``) every abandoned deploy of ``environment``, or
    of every configured environment (with none configured: of the ledger's newest
    deployments). A dry run reads the same and writes nothing."""
    config, backend = train.config, train.backend
    limit = config.kubernetes.abandon_seconds
    now = train.clock()
    if environment is not None:
        config.environment(environment)  # NotFoundError naming the known ones
        names: list[str] = [environment]
    else:
        names = list(config.environments)
    if names:
        recent = [
            d for name in names for d in backend.deployments(environment=name, limit=SWEEP_WINDOW)
        ]
    else:
        recent = backend.deployments(limit=SWEEP_WINDOW)
    found = abandoned_among(recent, now=now, limit=limit)
    if not dry_run:
        found = [close(train, dep) for dep in found]
    return SweepReport(
        environments=tuple(names),
        limit_seconds=limit,
        dry_run=dry_run,
        abandoned=tuple(found),
    )


def close(train: Train, deployment: Deployment) -> Deployment:
    """Record ``error`` "abandoned: ..." on ``deployment``; answer it with that status."""
    status = train.backend.add_status(
        deployment.id, state=DeployState.ERROR, description=abandoned_line(deployment)
    )
    return dataclasses.replace(deployment, statuses=(*deployment.statuses, status))


def _since(deployment: Deployment, *, closed: bool) -> datetime:
    """The last progress of a deployment a sweep found: before its closing status."""
    if closed and len(deployment.statuses) >= 2:
        return deployment.statuses[-2].created_at
    return last_progress(deployment)


def sweep_json(report: SweepReport) -> dict[str, Any]:
    """``commit-train sweep --json``: version 1."""
    return {
        "version": SWEEP_JSON_VERSION,
        "dry_run": report.dry_run,
        "environments": list(report.environments),
        "abandon_after_seconds": report.limit_seconds,
        "abandoned": [
            {
                "id": d.id,
                "environment": d.environment,
                "sha": d.sha,
                "requested_by": d.requested_by,
                "last_progress": _since(d, closed=not report.dry_run).isoformat(),
                "closed": not report.dry_run,
                "description": (
                    d.statuses[-1].description if not report.dry_run else abandoned_line(d)
                ),
            }
            for d in report.abandoned
        ],
    }
