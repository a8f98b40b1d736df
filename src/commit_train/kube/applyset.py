"""The ApplySet bookkeeping of an apply (KEP-3659, as kubectl implements it).

The parent is a Secret named after the applyset in the deploy namespace, labelled
``applyset.kubernetes.io/id=applyset-<base64url(sha256(name.namespace.Secret.))>-v1``
(``applyset_id``); every member carries ``applyset.kubernetes.io/part-of`` with that id.
The parent lists the member kinds and the namespaces besides its own. ``ApplySetWork`` is
the part of one apply that reads and writes the parent, lists the members found before the
apply, and prunes the ones gone from the manifests: only objects that carry the label, of
a kind listed on the parent (before or after this apply), in a namespace of the set, are
ever deleted; the namespace that holds the parent is never pruned. ``kube.apply`` holds
the rest of the apply (discovery, the patches) and subclasses it.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from commit_train import __version__
from commit_train.errors import KubeError
from commit_train.kube.errors import api_errors
from commit_train.kube.objects import Action, ObjectRef, ObjectResult

# The ApplySet specification's names (KEP-3659), as kubectl spells them.
PART_OF_LABEL = "applyset.kubernetes.io/part-of"
ID_LABEL = "applyset.kubernetes.io/id"
TOOLING_ANNOTATION = "applyset.kubernetes.io/tooling"
GROUP_KINDS_ANNOTATION = "applyset.kubernetes.io/contains-group-kinds"
ADDITIONAL_NAMESPACES_ANNOTATION = "applyset.kubernetes.io/additional-namespaces"
TOOLING = f"commit-train/{__version__}"
TOOL_NAME = "commit-train"


def applyset_id(name: str, namespace: str, kind: str = "Secret", group: str = "") -> str:
    """The ApplySet id of a parent object: ``applyset-<base64url(sha256(GKNN))>-v1``.

    GKNN is ``<name>.<namespace>.<kind>.<group>`` (the core group is empty, so a Secret
    parent ends in ``.Secret.``); the base64 is RFC 4648's URL-safe alphabet, unpadded.
    """
    digest = hashlib.sha256(f"{name}.{namespace}.{kind}.{group}".encode()).digest()
    return "applyset-" + base64.urlsafe_b64encode(digest).decode().rstrip("=") + "-v1"


@dataclass
class Member:
    """A live object carrying this applyset's part-of label, found before the apply."""

    ref: ObjectRef
    resource: Any
    obj: dict[str, Any]


class ApplySetWork:
    """Reads and writes the parent, lists and prunes members; the requests themselves
    (``_resolve``, ``_get``, ``_patch``, ``_request``) are the apply's."""

    applyset: str
    namespace: str
    set_id: str
    annotations: dict[str, str]
    dry_run: bool
    dyn: Any
    pool: ThreadPoolExecutor

    def _resolve(self, ref: ObjectRef, *, missing_ok: bool = False) -> Any:
        raise NotImplementedError

    def _resolve_group_kind(self, group_kind: str) -> Any:
        raise NotImplementedError

    def _get(self, resource: Any, name: str, namespace: str | None) -> Any:
        raise NotImplementedError

    def _patch(self, resource: Any, body: Mapping[str, Any], *, force: bool) -> tuple[int, Any]:
        raise NotImplementedError

    def _request(self, method: Callable[..., Any], resource: Any, **kwargs: Any) -> Any:
        raise NotImplementedError

    def _protected(self, ref: ObjectRef) -> bool:
        """Never prune the namespace that holds the parent: it would take the parent along."""
        return ref.kind == "Namespace" and ref.group == "" and ref.name == self.namespace

    # --- the ApplySet parent ---------------------------------------------------------

    def _parent_resource(self) -> Any:
        return self._resolve(ObjectRef("v1", "Secret", self.applyset, self.namespace))

    def _read_parent(self) -> tuple[bool, set[str], set[str]]:
        """Whether the parent exists, and the group-kinds and namespaces it records."""
        from kubernetes.dynamic.exceptions import NotFoundError

        ref = f"secret {self.namespace}/{self.applyset}"
        with api_errors(f"read the ApplySet parent {ref}"):
            try:
                parent = self._get(self._parent_resource(), self.applyset, self.namespace)
            except NotFoundError:
                return False, set(), set()
        meta = parent.get("metadata") or {}
        labels = meta.get("labels") or {}
        notes = meta.get("annotations") or {}
        tooling = str(notes.get(TOOLING_ANNOTATION, ""))
        if tooling.rpartition("/")[0] != TOOL_NAME:
            owner = tooling.rpartition("/")[0] or tooling or "nothing"
            raise KubeError(
                f"{ref} exists but is not an ApplySet of commit-train "
                f"({TOOLING_ANNOTATION} names {owner})",
                fix="choose another applyset name, or delete that Secret if it is left over",
            )
        if labels.get(ID_LABEL) != self.set_id:
            raise KubeError(
                f"{ref} has label {ID_LABEL}={labels.get(ID_LABEL)!r}, expected {self.set_id}",
                fix="delete the Secret so commit-train can recreate it, or choose another name",
            )
        kinds = {k for k in str(notes.get(GROUP_KINDS_ANNOTATION, "")).split(",") if k}
        spaces = {n for n in str(notes.get(ADDITIONAL_NAMESPACES_ANNOTATION, "")).split(",") if n}
        return True, kinds, spaces | {self.namespace}

    def _write_parent(self, kinds: set[str], namespaces: set[str]) -> None:
        body = {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {
                "name": self.applyset,
                "namespace": self.namespace,
                "labels": {ID_LABEL: self.set_id},
                "annotations": {
                    TOOLING_ANNOTATION: TOOLING,
                    GROUP_KINDS_ANNOTATION: ",".join(sorted(kinds)),
                    ADDITIONAL_NAMESPACES_ANNOTATION: ",".join(
                        sorted(namespaces - {self.namespace})
                    ),
                    **self.annotations,
                },
            },
        }
        from kubernetes.dynamic.exceptions import ConflictError

        resource = self._parent_resource()
        ref = f"ApplySet parent secret {self.namespace}/{self.applyset}"
        with api_errors(f"write the {ref}"):
            try:
                self._patch(resource, body, force=False)
            except ConflictError:
                # The parent is ours by definition (its tooling annotation says so).
                self._patch(resource, body, force=True)

    def _list_members(
        self, kinds: set[str], namespaces: set[str]
    ) -> dict[tuple[str, str, str, str], Member]:
        """Live objects labelled as members of this applyset, per kind and namespace."""
        members: dict[tuple[str, str, str, str], Member] = {}
        selector = f"{PART_OF_LABEL}={self.set_id}"
        jobs: list[tuple[Any, str | None]] = []
        for group_kind in sorted(kinds):
            resource = self._resolve_group_kind(group_kind)
            if resource is None:
                continue  # no longer served (a deleted CRD) or not yet (a new CRD)
            if resource.namespaced:
                jobs.extend((resource, ns) for ns in sorted(namespaces))
            else:
                jobs.append((resource, None))

        def list_one(job: tuple[Any, str | None]) -> list[Member]:
            resource, ns = job
            with api_errors(f"list {resource.kind} objects of applyset {self.applyset}"):
                answer = self._request(
                    self.dyn.get, resource, namespace=ns, label_selector=selector
                )
            found = []
            for obj in answer.get("items") or []:
                obj.setdefault("apiVersion", resource.group_version)
                obj.setdefault("kind", resource.kind)
                labels = (obj.get("metadata") or {}).get("labels") or {}
                if labels.get(PART_OF_LABEL) != self.set_id:
                    continue  # belt and braces: never touch an object without our label
                found.append(Member(ObjectRef.of(obj), resource, obj))
            return found

        for batch in self.pool.map(list_one, jobs):
            for member in batch:
                members[member.ref.identity] = member
        return members

    def _prune(self, doomed: Sequence[Member]) -> list[ObjectResult]:
        if self.dry_run:
            return [ObjectResult(m.ref, Action.PRUNED, ()) for m in doomed]

        def delete(member: Member) -> ObjectResult:
            from kubernetes.dynamic.exceptions import NotFoundError

            ref = member.ref
            uid = (member.obj.get("metadata") or {}).get("uid")
            body: dict[str, Any] = {
                "apiVersion": "v1",
                "kind": "DeleteOptions",
                "propagationPolicy": "Background",
            }
            if uid:
                body["preconditions"] = {"uid": uid}
            # Already gone (404) is the goal reached.
            with api_errors(f"prune {ref}", ref=ref), contextlib.suppress(NotFoundError):
                self._request(
                    self.dyn.delete,
                    member.resource,
                    name=ref.name,
                    namespace=ref.namespace or None,
                    body=body,
                )
            return ObjectResult(ref, Action.PRUNED)

        return list(self.pool.map(delete, doomed))
