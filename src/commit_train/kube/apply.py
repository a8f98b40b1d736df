"""Server-side apply of rendered manifests, with ApplySet pruning.

``apply`` sends every object to the API server as a server-side apply patch owned by the
field manager ``commit-train``, in this order:

1. Namespaces and CustomResourceDefinitions (concurrently among themselves), then, for kinds
   that only those CRDs define, wait until discovery serves them (the DynamicClient's
   discovery cache is invalidated on every miss);
2. the ApplySet parent is written with the superset of the previous and new member kinds, so
   an interrupted apply never leaks objects from the set;
3. everything else, concurrently, in a bounded thread pool;
4. members of the previous apply that are gone from the manifests are deleted (pruning), and
   the parent is written again with exactly the new set of kinds and namespaces.

Pruning follows the ApplySet specification (KEP-3659) as kubectl implements it: the parent
is a Secret named after the applyset in the deploy namespace, labelled
``applyset.kubernetes.io/id=applyset-<base64url(sha256(name.namespace.Secret.))>-v1``; every
member carries ``applyset.kubernetes.io/part-of`` with that id. Only objects that carry the
label, of a kind listed on the parent (before or after this apply), in a namespace of the set,
are ever deleted; the namespace that holds the parent is never pruned.

The action reported per object: ``created`` (the server answered 201, or nothing existed),
``unchanged`` (the object read back equals the one listed before the apply, status,
bookkeeping metadata and commit-train's own ``commit-train.dev/`` annotations aside: those
change on every deploy and are written all the same), ``configured`` otherwise, and
``pruned``. A ``configured`` object carries a short diff of the changed fields, one line per
field (``spec.template.spec.containers[web].image: "shop:1" -> "shop:2"``; list items with
a ``name`` are matched by it, others by index; a long value is cut around its first
difference); Secret values show as ``<redacted>``. A dry run (``dryRun=All``) reads each
live object and sends the same patches with nothing persisted.

Errors: a field owned by another manager is a 409 whose Status causes
(``FieldManagerConflict``) name the fields; the ``KubeError`` names the other manager(s), the
fields, and the opt-in fix (``--force-conflicts``). Other refusals name the object, the
status code, the server's message and what to do.
"""

from __future__ import annotations

import base64
import contextlib
import copy
import hashlib
import json
import re
import time
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from commit_train import __version__
from commit_train.core.redact import redact_text
from commit_train.errors import KubeError, KubeInvalidError, KubeNotInstalledError
from commit_train.kube.client import dynamic_client
from commit_train.kube.errors import api_error, unreachable

FIELD_MANAGER = "commit-train"
"""Who owns the fields commit-train applies (``metadata.managedFields[].manager``)."""

ANNOTATION_PREFIX = "commit-train.dev/"
"""The one prefix of every annotation commit-train writes on the objects it applies."""
SHA_ANNOTATION = ANNOTATION_PREFIX + "sha"
DEPLOYMENT_ID_ANNOTATION = ANNOTATION_PREFIX + "deployment-id"
RUN_URL_ANNOTATION = ANNOTATION_PREFIX + "run-url"

# The ApplySet specification's names (KEP-3659), as kubectl spells them.
PART_OF_LABEL = "applyset.kubernetes.io/part-of"
ID_LABEL = "applyset.kubernetes.io/id"
TOOLING_ANNOTATION = "applyset.kubernetes.io/tooling"
GROUP_KINDS_ANNOTATION = "applyset.kubernetes.io/contains-group-kinds"
ADDITIONAL_NAMESPACES_ANNOTATION = "applyset.kubernetes.io/additional-namespaces"
TOOLING = f"commit-train/{__version__}"
TOOL_NAME = "commit-train"

WORKLOAD_KINDS = frozenset({"Deployment", "StatefulSet", "DaemonSet", "Job"})
"""Kinds whose rollout ``wait.wait_for_rollouts`` follows."""

REDACTED = "<redacted>"
CRD_DISCOVERY_TIMEOUT = 60.0
"""Seconds to wait for a new CustomResourceDefinition's kind to be served."""
MAX_DIFF_LINES = 20

_DNS_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")
_DNS_SUBDOMAIN = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")
_VOLATILE_METADATA = (
    "resourceVersion",
    "managedFields",
    "generation",
    "uid",
    "creationTimestamp",
    "selfLink",
)
_LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"


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


def applyset_id(name: str, namespace: str, kind: str = "Secret", group: str = "") -> str:
    """The ApplySet id of a parent object: ``applyset-<base64url(sha256(GKNN))>-v1``.

    GKNN is ``<name>.<namespace>.<kind>.<group>`` (the core group is empty, so a Secret
    parent ends in ``.Secret.``); the base64 is RFC 4648's URL-safe alphabet, unpadded.
    """
    digest = hashlib.sha256(f"{name}.{namespace}.{kind}.{group}".encode()).digest()
    return "applyset-" + base64.urlsafe_b64encode(digest).decode().rstrip("=") + "-v1"


def apply(
    api_client: Any,
    objects: Sequence[Mapping[str, Any]],
    *,
    applyset: str,
    namespace: str,
    annotations: Mapping[str, str],
    field_manager: str = FIELD_MANAGER,
    force: bool = False,
    dry_run: bool = False,
    prune: bool = True,
    concurrency: int = 8,
    secret_values: Collection[str] = (),
) -> ApplyResult:
    """Server-side apply ``objects`` as the members of ApplySet ``applyset`` in ``namespace``.

    ``namespace`` is where the ApplySet parent lives and the namespace of every namespaced
    object that names none. ``force`` takes fields owned by other managers (opt-in);
    ``prune`` deletes members of the previous apply that are no longer in ``objects``.
    ``secret_values`` (``redact.secret_forms`` of the render's secrets) never show in a diff
    line, not even in part where a long value is cut: a line that would show one reads
    ``<redacted> -> <redacted>``.
    Raises ``KubeError`` for a bad manifest, a refused apply or an unreachable API server;
    objects already applied stay applied, and nothing is pruned after any failure.
    """
    if not _DNS_SUBDOMAIN.fullmatch(applyset) or len(applyset) > 253:
        raise KubeError(
            f"applyset name {applyset!r} is not a valid object name",
            fix="use lowercase letters, digits, '-' and '.', like the repository's name",
        )
    if not _DNS_LABEL.fullmatch(namespace) or len(namespace) > 63:
        raise KubeError(
            f"namespace {namespace!r} is not a valid namespace name",
            fix="use lowercase letters, digits and '-' (at most 63)",
        )
    if concurrency < 1:
        raise KubeError(f"concurrency must be at least 1, not {concurrency}")
    set_id = applyset_id(applyset, namespace)
    work = _Apply(
        api_client,
        applyset=applyset,
        namespace=namespace,
        set_id=set_id,
        annotations=dict(annotations),
        field_manager=field_manager,
        force=force,
        dry_run=dry_run,
        concurrency=concurrency,
        secret_values=tuple(secret_values),
    )
    with work:
        return work.run(objects, prune=prune)


@dataclass
class _Item:
    """One manifest on its way to the server."""

    index: int
    body: dict[str, Any]
    resource: Any = None  # kubernetes.dynamic.Resource once discovered
    result: ObjectResult | None = None

    @property
    def ref(self) -> ObjectRef:
        return ObjectRef.of(self.body)


@dataclass
class _Member:
    """A live object carrying this applyset's part-of label, found before the apply."""

    ref: ObjectRef
    resource: Any
    obj: dict[str, Any]


class _Apply:
    def __init__(
        self,
        api_client: Any,
        *,
        applyset: str,
        namespace: str,
        set_id: str,
        annotations: dict[str, str],
        field_manager: str,
        force: bool,
        dry_run: bool,
        concurrency: int,
        secret_values: tuple[str, ...],
    ) -> None:
        self.api_client = api_client
        self.applyset = applyset
        self.namespace = namespace
        self.set_id = set_id
        self.annotations = annotations
        self.field_manager = field_manager
        self.force = force
        self.dry_run = dry_run
        self.concurrency = concurrency
        self.secret_values = secret_values
        self._stack = contextlib.ExitStack()
        self.dyn: Any = None
        # no thread starts before the first task; leaving the with block shuts the pool down
        self.pool = ThreadPoolExecutor(concurrency, thread_name_prefix="commit-train-apply")

    def __enter__(self) -> _Apply:
        self.dyn = self._stack.enter_context(dynamic_client(self.api_client))
        self._stack.callback(self.pool.shutdown, wait=True, cancel_futures=True)
        return self

    def __exit__(self, *exc: Any) -> None:
        self._stack.__exit__(*exc)

    # --- the whole apply -------------------------------------------------------------

    def run(self, objects: Sequence[Mapping[str, Any]], *, prune: bool) -> ApplyResult:
        items = [self._prepare(i, obj) for i, obj in enumerate(objects)]
        crd_kinds = _crd_kinds(items)
        for item in items:
            item.resource = self._resolve(item.ref, missing_ok=item.ref.group_kind in crd_kinds)
            self._default_namespace(item)
        _refuse_duplicates(items)

        parent_exists, previous_kinds, previous_namespaces = self._read_parent()
        first = [i for i in items if _applied_first(i.ref)]
        rest = [i for i in items if not _applied_first(i.ref)]
        new_kinds = {i.ref.group_kind for i in items}
        new_namespaces = {i.ref.namespace for i in items if i.ref.namespace}
        members = self._list_members(
            previous_kinds | new_kinds, previous_namespaces | new_namespaces | {self.namespace}
        )

        self._apply_all(first, members)
        for item in rest:
            if item.resource is None:
                item.resource = self._await_kind(item.ref)
                self._default_namespace(item)
        grows = not (new_kinds <= previous_kinds and new_namespaces <= previous_namespaces)
        if not self.dry_run and (grows or not parent_exists):
            self._write_parent(previous_kinds | new_kinds, previous_namespaces | new_namespaces)
        self._apply_all(rest, members)

        pruned: list[ObjectResult] = []
        if prune:
            keep = {i.ref.identity for i in items}
            doomed = [
                m
                for key, m in sorted(members.items())
                if key not in keep and not self._protected(m.ref)
            ]
            pruned = self._prune(doomed)
        if not self.dry_run:
            kinds = new_kinds if prune else previous_kinds | new_kinds
            spaces = new_namespaces if prune else previous_namespaces | new_namespaces
            self._write_parent(kinds, spaces)
        applied = [i.result for i in items if i.result is not None]
        return ApplyResult(
            applyset_id=self.set_id, dry_run=self.dry_run, results=(*applied, *pruned)
        )

    # --- preparing objects -----------------------------------------------------------

    def _prepare(self, index: int, obj: Mapping[str, Any]) -> _Item:
        if not isinstance(obj, Mapping):
            raise KubeInvalidError(
                f"manifest #{index + 1} is a {type(obj).__name__}, not an object",
                fix="each manifest document must be a mapping with apiVersion, kind and metadata",
            )
        body = copy.deepcopy(dict(obj))
        meta = body.get("metadata")
        if not isinstance(meta, dict):
            meta = body["metadata"] = {}
        ref = ObjectRef.of(body)
        missing = [
            name
            for name, value in (("apiVersion", ref.api_version), ("kind", ref.kind))
            if not value
        ]
        if not ref.name:
            missing.append("metadata.name")
        if missing:
            shown = f"{ref.kind} {ref.name}".strip() or f"manifest #{index + 1}"
            raise KubeInvalidError(
                f"{shown} has no {', '.join(missing)}",
                fix="every manifest needs apiVersion, kind and metadata.name",
            )
        for key in ("resourceVersion", "uid", "managedFields", "creationTimestamp", "selfLink"):
            meta.pop(key, None)
        labels = dict(meta.get("labels") or {})
        other = labels.get(PART_OF_LABEL)
        if other is not None and other != self.set_id:
            raise KubeInvalidError(
                f"{ref} already sets the label {PART_OF_LABEL}={other}",
                fix="remove that label from the manifest; commit-train sets it",
            )
        labels[PART_OF_LABEL] = self.set_id
        meta["labels"] = labels
        meta["annotations"] = {**dict(meta.get("annotations") or {}), **self.annotations}
        return _Item(index=index, body=body)

    def _default_namespace(self, item: _Item) -> None:
        if item.resource is None:
            return
        meta = item.body["metadata"]
        if item.resource.namespaced:
            meta.setdefault("namespace", self.namespace)
            if not meta["namespace"]:
                meta["namespace"] = self.namespace
        else:
            meta.pop("namespace", None)

    def _protected(self, ref: ObjectRef) -> bool:
        """Never prune the namespace that holds the parent: it would take the parent along."""
        return ref.kind == "Namespace" and ref.group == "" and ref.name == self.namespace

    # --- discovery -------------------------------------------------------------------

    def _resolve(self, ref: ObjectRef, *, missing_ok: bool = False) -> Any:
        """The served resource for ``ref``'s apiVersion and kind, or ``None`` if missing_ok."""
        from kubernetes.dynamic.exceptions import ResourceNotFoundError
        from kubernetes.dynamic.resource import ResourceList

        group, _, version = ref.api_version.rpartition("/")
        with _api_errors("discover the API"):
            try:
                found = self.dyn.resources.search(
                    prefix="apis" if group else "api",
                    group=group or None,
                    api_version=version,
                    kind=ref.kind,
                )
            except ResourceNotFoundError:
                found = []
        matches = [
            r
            for r in found
            if not isinstance(r, ResourceList)
            and (r.group or "") == group
            and r.api_version == version
            and r.kind == ref.kind
        ]
        if matches:
            return matches[0]
        if missing_ok:
            return None
        raise KubeNotInstalledError(
            f"{ref}: the cluster serves no kind {ref.kind} in {ref.api_version}",
            fix="fix apiVersion/kind, or add the CustomResourceDefinition that defines it",
        )

    def _resolve_group_kind(self, group_kind: str) -> Any:
        """The preferred served resource of ``Kind.group``, or ``None`` if none is served."""
        from kubernetes.dynamic.exceptions import ResourceNotFoundError
        from kubernetes.dynamic.resource import ResourceList

        kind, _, group = group_kind.partition(".")
        with _api_errors("discover the API"):
            try:
                found = self.dyn.resources.search(
                    prefix="apis" if group else "api", group=group or None, kind=kind
                )
            except ResourceNotFoundError:
                found = []
        matches = [
            r
            for r in found
            if not isinstance(r, ResourceList) and (r.group or "") == group and r.kind == kind
        ]
        matches.sort(key=lambda r: not r.preferred)
        return matches[0] if matches else None

    def _await_kind(self, ref: ObjectRef) -> Any:
        """Wait for a kind defined by a CRD of this apply to be served by discovery.

        A dry run persists no CRD, so its kinds never appear: their objects are reported
        ``created`` without a request (see ``_apply_one``).
        """
        if self.dry_run:
            return None
        deadline = time.monotonic() + CRD_DISCOVERY_TIMEOUT
        delay = 0.05
        while True:
            found = self._resolve(ref, missing_ok=True)  # a miss invalidates the cache
            if found is not None:
                return found
            if time.monotonic() >= deadline:
                raise KubeNotInstalledError(
                    f"{ref}: the CustomResourceDefinition for {ref.group_kind} was applied, "
                    f"but the API server did not serve {ref.api_version} {ref.kind} "
                    f"within {CRD_DISCOVERY_TIMEOUT:.0f}s",
                    fix="check the CRD's versions and its Established condition "
                    "(kubectl get crd -o yaml), then deploy again",
                )
            time.sleep(delay)
            delay = min(delay * 2, 1.0)

    # --- the ApplySet parent ---------------------------------------------------------

    def _parent_resource(self) -> Any:
        return self._resolve(ObjectRef("v1", "Secret", self.applyset, self.namespace))

    def _read_parent(self) -> tuple[bool, set[str], set[str]]:
        """Whether the parent exists, and the group-kinds and namespaces it records."""
        from kubernetes.dynamic.exceptions import NotFoundError

        ref = f"secret {self.namespace}/{self.applyset}"
        with _api_errors(f"read the ApplySet parent {ref}"):
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
        with _api_errors(f"write the {ref}"):
            try:
                self._patch(resource, body, force=False)
            except ConflictError:
                # The parent is ours by definition (its tooling annotation says so).
                self._patch(resource, body, force=True)

    def _list_members(
        self, kinds: set[str], namespaces: set[str]
    ) -> dict[tuple[str, str, str, str], _Member]:
        """Live objects labelled as members of this applyset, per kind and namespace."""
        members: dict[tuple[str, str, str, str], _Member] = {}
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

        def list_one(job: tuple[Any, str | None]) -> list[_Member]:
            resource, ns = job
            with _api_errors(f"list {resource.kind} objects of applyset {self.applyset}"):
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
                found.append(_Member(ObjectRef.of(obj), resource, obj))
            return found

        for batch in self.pool.map(list_one, jobs):
            for member in batch:
                members[member.ref.identity] = member
        return members

    # --- applying --------------------------------------------------------------------

    def _apply_all(
        self, items: Sequence[_Item], members: Mapping[tuple[str, str, str, str], _Member]
    ) -> None:
        futures = [(item, self.pool.submit(self._apply_one, item, members)) for item in items]
        errors: list[KubeError] = []
        for item, future in futures:
            try:
                item.result = future.result()
            except KubeError as exc:
                errors.append(exc)
        if errors:
            first = errors[0]
            more = f" (and {len(errors) - 1} more objects failed)" if len(errors) > 1 else ""
            raise _like(first, first.message + more) from first

    def _apply_one(
        self, item: _Item, members: Mapping[tuple[str, str, str, str], _Member]
    ) -> ObjectResult:
        from kubernetes.dynamic.exceptions import NotFoundError

        ref = item.ref
        if item.resource is None:  # dry run of a kind whose CRD is not persisted
            return ObjectResult(ref, Action.CREATED, ("(its CustomResourceDefinition is new)",))
        member = members.get(ref.identity)
        live: Mapping[str, Any] | None = member.obj if member is not None else None
        if live is None and self.dry_run:
            # Not a member yet: read it, to tell "created" from "adopted and changed".
            with _api_errors(f"read {ref}", ref=ref):
                try:
                    live = self._get(item.resource, ref.name, ref.namespace or None)
                except NotFoundError:
                    live = None
        with _api_errors(f"apply {ref}", ref=ref):
            status, answer = self._patch(item.resource, item.body, force=self.force)
        secret = ref.kind == "Secret" and ref.group == ""
        kept = _redact(answer) if secret else answer  # no Secret value leaves this module
        if live is None:
            created = self.dry_run or status == 201 or _only_ours(answer, self.field_manager)
            action = Action.CREATED if created else Action.CONFIGURED
            return ObjectResult(ref, action, (), kept)
        hiding = _Hiding(secret=secret, values=self.secret_values)
        diff = tuple(_diff(_comparable(live), _comparable(answer), hiding=hiding))
        if not diff:
            return ObjectResult(ref, Action.UNCHANGED, (), kept)
        if len(diff) > MAX_DIFF_LINES:
            diff = (*diff[:MAX_DIFF_LINES], f"... and {len(diff) - MAX_DIFF_LINES} more changes")
        return ObjectResult(ref, Action.CONFIGURED, diff, kept)

    def _prune(self, doomed: Sequence[_Member]) -> list[ObjectResult]:
        if self.dry_run:
            return [ObjectResult(m.ref, Action.PRUNED, ()) for m in doomed]

        def delete(member: _Member) -> ObjectResult:
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
            with _api_errors(f"prune {ref}", ref=ref), contextlib.suppress(NotFoundError):
                self._request(
                    self.dyn.delete,
                    member.resource,
                    name=ref.name,
                    namespace=ref.namespace or None,
                    body=body,
                )
            return ObjectResult(ref, Action.PRUNED)

        return list(self.pool.map(delete, doomed))

    # --- requests --------------------------------------------------------------------

    def _patch(self, resource: Any, body: Mapping[str, Any], *, force: bool) -> tuple[int, Any]:
        meta = body["metadata"]
        response = self.dyn.server_side_apply(
            resource,
            body=body,
            name=meta["name"],
            namespace=meta.get("namespace"),
            field_manager=self.field_manager,
            force_conflicts=True if force else None,
            dry_run="All" if self.dry_run else None,
            serialize=False,
        )
        return _read(response)

    def _get(self, resource: Any, name: str, namespace: str | None) -> Any:
        return self._request(self.dyn.get, resource, name=name, namespace=namespace)

    def _request(self, method: Callable[..., Any], resource: Any, **kwargs: Any) -> Any:
        return _read(method(resource, serialize=False, **kwargs))[1]


def _read(response: Any) -> tuple[int, Any]:
    """Status and JSON body of a raw urllib3 response, its connection handed back."""
    try:
        data = response.data
    finally:
        response.release_conn()
    return int(response.status), json.loads(data or b"{}")


def _only_ours(obj: Mapping[str, Any], manager: str) -> bool:
    """Whether only ``manager`` has ever written ``obj``: it was just created by our apply.

    API servers answer 201 to an apply that creates; this covers servers that answer 200.
    An object someone else made (and that we now adopt) lists their manager too.
    """
    entries = (obj.get("metadata") or {}).get("managedFields") or []
    return bool(entries) and all(e.get("manager") == manager for e in entries)


def _applied_first(ref: ObjectRef) -> bool:
    return (ref.group, ref.kind) in (
        ("", "Namespace"),
        ("apiextensions.k8s.io", "CustomResourceDefinition"),
    )


def _crd_kinds(items: Sequence[_Item]) -> set[str]:
    """``Kind.group`` of every kind defined by a CustomResourceDefinition in the manifests."""
    kinds = set()
    for item in items:
        if (item.ref.group, item.ref.kind) != ("apiextensions.k8s.io", "CustomResourceDefinition"):
            continue
        spec = item.body.get("spec") or {}
        kind = (spec.get("names") or {}).get("kind")
        if kind and spec.get("group"):
            kinds.add(f"{kind}.{spec['group']}")
    return kinds


def _refuse_duplicates(items: Sequence[_Item]) -> None:
    seen: dict[tuple[str, str, str, str], int] = {}
    for item in items:
        key = item.ref.identity
        if key in seen:
            raise KubeInvalidError(
                f"{item.ref} appears twice in the manifests "
                f"(#{seen[key] + 1} and #{item.index + 1})",
                fix="keep one of them; the later one would silently replace the first",
            )
        seen[key] = item.index


def _redact(obj: Mapping[str, Any]) -> dict[str, Any]:
    """A Secret with every value replaced, so no result or log can carry one."""
    found = copy.deepcopy(dict(obj))
    for section in ("data", "stringData"):
        values = found.get(section)
        if isinstance(values, dict):
            found[section] = dict.fromkeys(values, REDACTED)
    notes = (found.get("metadata") or {}).get("annotations") or {}
    if _LAST_APPLIED in notes:
        notes[_LAST_APPLIED] = REDACTED
    return found


def _comparable(obj: Mapping[str, Any]) -> dict[str, Any]:
    """The object as its author sees it: less status, the metadata the server changes on its
    own, and commit-train's own annotations (``ANNOTATION_PREFIX``). Those name the deploy
    and change on every one, so an object that differs only in them is ``unchanged`` for
    the user; the apply still writes them, so each object records the latest deploy."""
    found = {k: copy.deepcopy(v) for k, v in obj.items() if k != "status"}
    meta = dict(found.get("metadata") or {})
    for key in _VOLATILE_METADATA:
        meta.pop(key, None)
    notes = {
        k: v
        for k, v in (meta.get("annotations") or {}).items()
        if not str(k).startswith(ANNOTATION_PREFIX)
    }
    if notes:
        meta["annotations"] = notes
    else:
        meta.pop("annotations", None)
    found["metadata"] = meta
    return found


@dataclass(frozen=True)
class _Hiding:
    """What a diff line must not show: a Secret's values (``secret``: its data, stringData
    and last-applied annotation, by path) and known secret values anywhere (``values``)."""

    secret: bool = False
    values: tuple[str, ...] = ()

    def hides(self, path: str) -> bool:
        return self.secret and _secret_path(path)

    def masked(self, value: Any) -> tuple[str, bool]:
        """``value`` as JSON with every known secret value masked, and whether one was."""
        text = _json(value)
        shown = redact_text(text, self.values) if self.values else text
        return shown, shown != text


def _diff(old: Any, new: Any, *, hiding: _Hiding, path: str = "") -> Iterator[str]:
    """One line per changed leaf: ``path: old -> new``; secrets redacted.

    Mappings and lists are descended into. Items of a list of mappings that each have a
    distinct ``name`` (containers, env, ports, volumes...) are matched by name and shown as
    ``containers[web]``, so an inserted container does not make every later one look
    changed; other list items by index, ``args[2]``. A value added or removed whole is one
    ``(added)`` or ``(removed)`` line.
    """
    if isinstance(old, Mapping) and isinstance(new, Mapping):
        for key in sorted(set(old) | set(new), key=str):
            sub = f"{path}.{key}" if path else str(key)
            if key not in old:
                yield f"{sub}: (added) {_show(new[key], sub, hiding)}"
            elif key not in new:
                yield f"{sub}: (removed)"
            else:
                yield from _diff(old[key], new[key], hiding=hiding, path=sub)
    elif isinstance(old, list) and isinstance(new, list):
        yield from _diff_list(old, new, hiding=hiding, path=path)
    elif old != new:
        yield f"{path}: {_show_change(old, new, path, hiding)}"


def _diff_list(old: list[Any], new: list[Any], *, hiding: _Hiding, path: str) -> Iterator[str]:
    old_names, new_names = _names(old), _names(new)
    if old_names is None or new_names is None:
        for index in range(max(len(old), len(new))):
            sub = f"{path}[{index}]"
            if index >= len(old):
                yield f"{sub}: (added) {_show(new[index], sub, hiding)}"
            elif index >= len(new):
                yield f"{sub}: (removed)"
            else:
                yield from _diff(old[index], new[index], hiding=hiding, path=sub)
        return
    old_by = dict(zip(old_names, old, strict=True))
    new_by = dict(zip(new_names, new, strict=True))
    for name in new_names:
        sub = f"{path}[{name}]"
        if name in old_by:
            yield from _diff(old_by[name], new_by[name], hiding=hiding, path=sub)
        else:
            yield f"{sub}: (added) {_show(new_by[name], sub, hiding)}"
    for name in old_names:
        if name not in new_by:
            yield f"{path}[{name}]: (removed)"
    kept_old = [n for n in old_names if n in new_by]
    kept_new = [n for n in new_names if n in old_by]
    if kept_old != kept_new:
        yield f"{path}: order {_show_change(kept_old, kept_new, path, hiding)}"


def _names(items: list[Any]) -> list[str] | None:
    """The ``name`` of every item, if every item is a mapping with its own distinct name."""
    names = [item.get("name") if isinstance(item, Mapping) else None for item in items]
    if all(isinstance(n, str) and n for n in names) and len(set(names)) == len(names):
        return [str(n) for n in names]
    return None


def _secret_path(path: str) -> bool:
    return path.startswith(("data", "stringData")) or path.startswith(
        f"metadata.annotations.{_LAST_APPLIED}"
    )


_SHOWN = 60
"""At most this many characters of a value in a diff line."""
_CONTEXT = 20
"""Characters kept before the first difference when a changed value is shortened."""


def _show(value: Any, path: str, hiding: _Hiding) -> str:
    if hiding.hides(path):
        return REDACTED
    text, _masked = hiding.masked(value)
    return text if len(text) <= _SHOWN else text[: _SHOWN - 3] + "..."


def _show_change(old: Any, new: Any, path: str, hiding: _Hiding) -> str:
    """``old -> new``; values too long to show whole are both cut around their first
    difference, so the two sides never look the same. When either side holds a secret
    both are hidden: the other side is most likely the same secret before or after a
    rotation, which the render may no longer know."""
    (before, old_masked), (after, new_masked) = hiding.masked(old), hiding.masked(new)
    if hiding.hides(path) or old_masked or new_masked:
        return f"{REDACTED} -> {REDACTED}"
    at = next(
        (i for i, (a, b) in enumerate(zip(before, after, strict=False)) if a != b),
        min(len(before), len(after)),
    )
    return f"{_window(before, at)} -> {_window(after, at)}"


def _window(text: str, at: int) -> str:
    """``text`` cut to ``_SHOWN`` characters that show position ``at`` with some context."""
    if len(text) <= _SHOWN:
        return text
    begin = min(max(0, at - _CONTEXT), len(text) - _SHOWN)
    end = begin + _SHOWN
    head = "..." if begin > 0 else ""
    tail = "..." if end < len(text) else ""
    return head + text[begin + len(head) : end - len(tail)] + tail


def _json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, default=str)


@contextlib.contextmanager
def _api_errors(doing: str, *, ref: ObjectRef | None = None) -> Iterator[None]:
    """Turn the client's exceptions into one ``KubeError`` line naming the fix, its class
    from the table in ``kube.errors``."""
    from kubernetes.client.exceptions import ApiException
    from urllib3.exceptions import HTTPError

    try:
        yield
    except KubeError:
        raise
    except ApiException as exc:
        raise api_error(doing, exc, ref=ref) from exc
    except HTTPError as exc:
        raise unreachable(f"cannot {doing}: the Kubernetes API server did not answer", exc) from exc


def _like(error: KubeError, message: str) -> KubeError:
    """``error`` again (its class and fix, so the deploy's outcome is unchanged) with
    another message."""
    again = copy.copy(error)
    again.message = message
    again.args = (message,)
    return again
