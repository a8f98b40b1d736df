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

Pruning follows the ApplySet specification (KEP-3659) as kubectl implements it; the
parent, the member labels and what may be pruned are in ``kube.applyset``.

The action reported per object: ``created`` (the server answered 201, or nothing existed),
``unchanged`` (the object read back equals the one listed before the apply, status,
bookkeeping metadata and commit-train's own ``commit-train.dev/`` annotations aside: those
change on every deploy and are written all the same), ``configured`` otherwise, and
``pruned``. A ``configured`` object carries a short diff of the changed fields, one line per
field (``kube.diff``); Secret values show as ``<redacted>``. A dry run (``dryRun=All``) reads each
live object and sends the same patches with nothing persisted.

Errors: a field owned by another manager is a 409 whose Status causes
(``FieldManagerConflict``) name the fields; the ``KubeError`` names the other manager(s), the
fields, and the opt-in fix (``--force-conflicts``). Other refusals name the object, the
status code, the server's message and what to do; ``kube.errors`` holds the one table that
maps each answer to its error class. ``ApplyOptions`` and the result types are in
``kube.objects``.
"""

from __future__ import annotations

import contextlib
import copy
import json
import re
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from commit_train.errors import KubeError, KubeInvalidError, KubeNotInstalledError
from commit_train.kube.applyset import PART_OF_LABEL, ApplySetWork, Member, applyset_id
from commit_train.kube.client import dynamic_client
from commit_train.kube.diff import MAX_DIFF_LINES, Hiding, comparable, diff, redact_secret
from commit_train.kube.errors import api_errors
from commit_train.kube.objects import (
    FIELD_MANAGER,
    Action,
    ApplyOptions,
    ApplyResult,
    ObjectRef,
    ObjectResult,
    deploy_annotations,
)

__all__ = [
    "FIELD_MANAGER",
    "Action",
    "ApplyOptions",
    "ApplyResult",
    "ObjectRef",
    "ObjectResult",
    "apply",
    "deploy_annotations",
]

CRD_DISCOVERY_TIMEOUT = 60.0
"""Seconds to wait for a new CustomResourceDefinition's kind to be served."""

_DNS_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")
_DNS_SUBDOMAIN = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")


def apply(
    api_client: Any, objects: Sequence[Mapping[str, Any]], options: ApplyOptions
) -> ApplyResult:
    """Server-side apply ``objects`` as the members of ApplySet ``options.applyset`` in
    ``options.namespace`` (``ApplyOptions`` says what each option does).

    A diff line never shows a secret value, not even in part where a long value is cut.
    Raises ``KubeError`` for a bad manifest, a refused apply or an unreachable API server
    (its class from the table in ``kube.errors``); objects already applied stay applied,
    and nothing is pruned after any failure.
    """
    if not _DNS_SUBDOMAIN.fullmatch(options.applyset) or len(options.applyset) > 253:
        raise KubeError(
            f"applyset name {options.applyset!r} is not a valid object name",
            fix="use lowercase letters, digits, '-' and '.', like the repository's name",
        )
    if not _DNS_LABEL.fullmatch(options.namespace) or len(options.namespace) > 63:
        raise KubeError(
            f"namespace {options.namespace!r} is not a valid namespace name",
            fix="use lowercase letters, digits and '-' (at most 63)",
        )
    if options.concurrency < 1:
        raise KubeError(f"concurrency must be at least 1, not {options.concurrency}")
    with _Apply(api_client, options) as work:
        return work.run(objects, prune=options.prune)


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


class _Apply(ApplySetWork):
    """One apply: discovery, the patches in a bounded pool, and (from ``ApplySetWork``)
    the ApplySet parent and pruning."""

    def __init__(self, api_client: Any, options: ApplyOptions) -> None:
        self.api_client = api_client
        self.applyset = options.applyset
        self.namespace = options.namespace
        self.set_id = applyset_id(options.applyset, options.namespace)
        self.annotations = dict(options.annotations)
        self.field_manager = options.field_manager
        self.force = options.force
        self.dry_run = options.dry_run
        self.concurrency = options.concurrency
        self.secret_values = tuple(options.secret_values)
        self._stack = contextlib.ExitStack()
        self.dyn: Any = None
        # no thread starts before the first task; leaving the with block shuts the pool down
        self.pool = ThreadPoolExecutor(options.concurrency, thread_name_prefix="commit-train-apply")

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

    # --- discovery -------------------------------------------------------------------

    def _resolve(self, ref: ObjectRef, *, missing_ok: bool = False) -> Any:
        """The served resource for ``ref``'s apiVersion and kind, or ``None`` if missing_ok."""
        from kubernetes.dynamic.exceptions import ResourceNotFoundError
        from kubernetes.dynamic.resource import ResourceList

        group, _, version = ref.api_version.rpartition("/")
        with api_errors("discover the API"):
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
        with api_errors("discover the API"):
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

    # --- applying --------------------------------------------------------------------

    def _apply_all(
        self, items: Sequence[_Item], members: Mapping[tuple[str, str, str, str], Member]
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
        self, item: _Item, members: Mapping[tuple[str, str, str, str], Member]
    ) -> ObjectResult:
        from kubernetes.dynamic.exceptions import NotFoundError

        ref = item.ref
        if item.resource is None:  # dry run of a kind whose CRD is not persisted
            return ObjectResult(ref, Action.CREATED, ("(its CustomResourceDefinition is new)",))
        member = members.get(ref.identity)
        live: Mapping[str, Any] | None = member.obj if member is not None else None
        if live is None and self.dry_run:
            # Not a member yet: read it, to tell "created" from "adopted and changed".
            with api_errors(f"read {ref}", ref=ref):
                try:
                    live = self._get(item.resource, ref.name, ref.namespace or None)
                except NotFoundError:
                    live = None
        with api_errors(f"apply {ref}", ref=ref):
            status, answer = self._patch(item.resource, item.body, force=self.force)
        secret = ref.kind == "Secret" and ref.group == ""
        kept = redact_secret(answer) if secret else answer  # no Secret value leaves this module
        if live is None:
            created = self.dry_run or status == 201 or _only_ours(answer, self.field_manager)
            action = Action.CREATED if created else Action.CONFIGURED
            return ObjectResult(ref, action, (), kept)
        hiding = Hiding(secret=secret, values=self.secret_values)
        changes = tuple(diff(comparable(live), comparable(answer), hiding=hiding))
        if not changes:
            return ObjectResult(ref, Action.UNCHANGED, (), kept)
        if len(changes) > MAX_DIFF_LINES:
            more = len(changes) - MAX_DIFF_LINES
            changes = (*changes[:MAX_DIFF_LINES], f"... and {more} more changes")
        return ObjectResult(ref, Action.CONFIGURED, changes, kept)

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
            query_params=[("fieldValidation", "Strict")],  # as kubectl's --validate=strict
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


def _like(error: KubeError, message: str) -> KubeError:
    """``error`` again (its class and fix, so the deploy's outcome is unchanged) with
    another message."""
    again = copy.copy(error)
    again.message = message
    again.args = (message,)
    return again
