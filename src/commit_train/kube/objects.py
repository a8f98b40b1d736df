"""What an apply works with and answers: object references, per-object results, the
annotations a deploy writes, and ``ApplyOptions`` (how one apply runs).

Kept apart from ``kube.apply`` (the requests) so the waiter, the pipeline and the faces
can name objects and results without importing the client.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

FIELD_MANAGER = "commit-train"
"""Who owns the fields commit-train applies (``metadata.managedFields[].manager``)."""

ANNOTATION_PREFIX = "commit-train.dev/"
"""The one prefix of every annotation commit-train writes on the objects it applies."""
SHA_ANNOTATION = ANNOTATION_PREFIX + "sha"
DEPLOYMENT_ID_ANNOTATION = ANNOTATION_PREFIX + "deployment-id"
RUN_URL_ANNOTATION = ANNOTATION_PREFIX + "run-url"

WORKLOAD_KINDS = frozenset({"Deployment", "StatefulSet", "DaemonSet", "Job"})
"""Kinds whose rollout ``wait.wait_for_rollouts`` follows."""


@dataclass(frozen=True)
class ApplyOptions:
    """How one apply runs, instead of ten keyword arguments.

    ``applyset`` names the ApplySet whose members the objects become, and ``namespace`` is
    where its parent lives and the namespace of every namespaced object that names none.
    ``annotations`` go on every object (``deploy_annotations``). ``force`` takes fields
    owned by other managers (opt-in); ``dry_run`` sends ``dryRun=All``; ``prune`` deletes
    members of the previous apply that are no longer in the objects. ``secret_values``
    (``redact.secret_forms`` of the render's secrets) never show in a diff line.
    """

    applyset: str
    namespace: str
    annotations: Mapping[str, str] = field(default_factory=dict)
    field_manager: str = FIELD_MANAGER
    force: bool = False
    dry_run: bool = False
    prune: bool = True
    concurrency: int = 8
    secret_values: Collection[str] = ()


class Action(StrEnum):
    """What apply did to one object."""

    CREATED = "created"
    CONFIGURED = "configured"
    UNCHANGED = "unchanged"
    PRUNED = "pruned"


@dataclass(frozen=True, order=True)
class ObjectRef:
    """One object by identity: ``namespace`` is ``""`` for cluster-scoped objects."""

    api_version: str
    kind: str
    name: str
    namespace: str = ""

    @property
    def group(self) -> str:
        group, _, _version = self.api_version.rpartition("/")
        return group

    @property
    def group_kind(self) -> str:
        """``Kind`` for the core group, ``Kind.group`` otherwise (kubectl's spelling)."""
        return f"{self.kind}.{self.group}" if self.group else self.kind

    @property
    def identity(self) -> tuple[str, str, str, str]:
        """Group, kind, namespace, name: the same object whatever the apiVersion."""
        return (self.group, self.kind, self.namespace, self.name)

    def __str__(self) -> str:
        where = f"{self.namespace}/{self.name}" if self.namespace else self.name
        return f"{self.kind} {where}"

    @classmethod
    def of(cls, obj: Mapping[str, Any]) -> ObjectRef:
        meta = obj.get("metadata") or {}
        return cls(
            api_version=str(obj.get("apiVersion") or ""),
            kind=str(obj.get("kind") or ""),
            name=str(meta.get("name") or ""),
            namespace=str(meta.get("namespace") or ""),
        )


@dataclass(frozen=True)
class ObjectResult:
    """One object's outcome; ``obj`` is the server's answer (empty for a pruned object)."""

    ref: ObjectRef
    action: Action
    diff: tuple[str, ...] = ()
    obj: Mapping[str, Any] = field(default_factory=dict, compare=False, repr=False)


@dataclass(frozen=True)
class ApplyResult:
    """Every object applied (in manifest order), then every object pruned."""

    applyset_id: str
    dry_run: bool
    results: tuple[ObjectResult, ...]

    @property
    def counts(self) -> dict[str, int]:
        """Objects per action, every action present (zero included)."""
        counts = {a.value: 0 for a in Action}
        for r in self.results:
            counts[r.action.value] += 1
        return counts

    @property
    def applied(self) -> tuple[ObjectResult, ...]:
        return tuple(r for r in self.results if r.action is not Action.PRUNED)

    @property
    def pruned(self) -> tuple[ObjectResult, ...]:
        return tuple(r for r in self.results if r.action is Action.PRUNED)

    @property
    def workloads(self) -> tuple[ObjectRef, ...]:
        """Applied Deployments, StatefulSets, DaemonSets and Jobs: what to wait for."""
        return tuple(r.ref for r in self.applied if r.ref.kind in WORKLOAD_KINDS)

    @property
    def summary_line(self) -> str:
        c = self.counts
        text = (
            f"{len(self.applied)} objects: {c['created']} created, {c['configured']} configured, "
            f"{c['unchanged']} unchanged, {c['pruned']} pruned"
        )
        return f"{text} (dry run, nothing changed)" if self.dry_run else text


def deploy_annotations(
    *, sha: str, deployment_id: str | int, run_url: str | None
) -> dict[str, str]:
    """The annotations a deploy writes on every object it applies."""
    found = {SHA_ANNOTATION: sha, DEPLOYMENT_ID_ANNOTATION: str(deployment_id)}
    if run_url:
        found[RUN_URL_ANNOTATION] = run_url
    return found
