"""What a deploy run answers, and its JSON shapes.

``RunResult`` is one apply and the wait that followed it, ``RollbackResult`` what
auto-rollback did after a failed rollout, ``PipelineResult`` a whole deploy run. The
``*_json`` functions are the versioned shapes ``apply --json``, ``render --json`` and the
``apply`` action's ``result`` output print; nothing here prints.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from commit_train.models import Deployment

if TYPE_CHECKING:
    from commit_train.kube.objects import ObjectResult
    from commit_train.render.manifests import Rendered


@dataclass(frozen=True)
class RunResult:
    """One apply and the wait that followed it.

    ``rollout`` is ``complete``, ``skipped`` (dry run), ``failed`` or ``timed-out``.
    ``summary`` is one line of at most 140 characters (the deployment status description);
    ``details`` is everything a person on call reads: the apply's line, the wait's line and
    each unfinished workload's diagnosis.
    """

    environment: str
    namespace: str
    sha: str
    dry_run: bool
    objects: tuple[ObjectResult, ...]
    counts: Mapping[str, int]
    apply_line: str
    rollout: str
    rollout_line: str
    summary: str
    details: tuple[str, ...]

    @property
    def ok(self) -> bool:
        return self.rollout in ("complete", "skipped")

    @property
    def changed(self) -> bool:
        return any(r.action.value != "unchanged" for r in self.objects)


@dataclass(frozen=True)
class RollbackResult:
    """What auto-rollback did after a failed rollout.

    ``sha`` is the commit restored (None when there was none to go back to),
    ``deployment`` the new deployment that records it, ``run`` its apply and wait (None
    when it could not get that far), ``line`` one sentence for a person.
    """

    failed_sha: str
    sha: str | None
    deployment: Deployment | None
    run: RunResult | None
    line: str

    @property
    def ok(self) -> bool:
        return self.run is not None and self.run.ok


@dataclass(frozen=True)
class PipelineResult:
    """A whole deploy run: the rendered object count, the run, and any rollback."""

    environment: str
    sha: str
    deployment: Deployment | None
    rendered: int
    run: RunResult
    rollback: RollbackResult | None = None
    notes: tuple[str, ...] = ()
    warnings: tuple[str, ...] = field(default=())

    @property
    def ok(self) -> bool:
        return self.run.ok

    @property
    def summary(self) -> str:
        return self.run.summary


# ----------------------------------------------------------------------------- JSON shapes


def run_json(run: RunResult, *, brief: bool = False) -> dict[str, Any]:
    """One apply and its wait as JSON. ``brief`` (the ``apply`` action's ``result``
    output) leaves out each object's diff and the summary and details lines: the step
    summary and the log carry those."""
    objects = []
    for r in run.objects:
        obj: dict[str, Any] = {
            "kind": r.ref.kind,
            "namespace": r.ref.namespace,
            "name": r.ref.name,
            "action": r.action.value,
        }
        if not brief:
            obj["diff"] = list(r.diff)
        objects.append(obj)
    shape: dict[str, Any] = {
        "namespace": run.namespace,
        "changed": run.changed,
        "counts": dict(run.counts),
        "objects": objects,
        "rollout": run.rollout,
        "rollout_summary": run.rollout_line,
    }
    if not brief:
        shape["summary"] = run.summary
        shape["details"] = list(run.details)
    return shape


def rollback_json(rollback: RollbackResult | None) -> dict[str, Any] | None:
    """What auto-rollback did, as ``apply --json`` and the ``apply`` action show it."""
    if rollback is None:
        return None
    return {
        "rolls_back": rollback.failed_sha,
        "sha": rollback.sha,
        "deployment_id": rollback.deployment.id if rollback.deployment else None,
        "ok": rollback.ok,
        "line": rollback.line,
        "rollout": rollback.run.rollout if rollback.run else None,
    }


def result_json(result: PipelineResult) -> dict[str, Any]:
    """``commit-train apply --json`` (and ``rollback --apply --json``), version 1."""
    return {
        "version": 1,
        "environment": result.environment,
        "sha": result.sha,
        "deployment_id": result.deployment.id if result.deployment is not None else None,
        "dry_run": result.run.dry_run,
        "ok": result.ok,
        "rendered": result.rendered,
        **run_json(result.run),
        "rollback": rollback_json(result.rollback),
        "notes": list(result.notes),
        "warnings": list(result.warnings),
    }


def rendered_json(rendered: Rendered) -> dict[str, Any]:
    """``commit-train render --json``, version 1: every object redacted."""
    return {
        "version": 1,
        "environment": rendered.environment,
        "sha": rendered.sha,
        "kubernetes_version": rendered.kubernetes_version,
        "notes": list(rendered.notes),
        "objects": [
            {
                "api_version": m.key.api_version,
                "kind": m.key.kind,
                "namespace": m.key.namespace,
                "name": m.key.name,
                "source": m.location,
                "object": rendered.redacted(m),
            }
            for m in rendered.apply_order()
        ],
    }
