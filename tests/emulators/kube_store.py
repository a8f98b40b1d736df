"""The emulator's object store: writes with the API server's semantics, and the watch history.

Every write goes through :meth:`Store.commit`, which keeps what the real API server keeps:
immutable metadata, the status/spec split between a resource and its ``/status`` subresource,
defaulting, validation, ``generation`` (bumped when anything but metadata and status changes), a
global ``resourceVersion``, managed fields, and one watch event per effective change (a write that
changes nothing is a no-op: same resourceVersion, no event).
"""

from __future__ import annotations

import base64
import copy
import json
import secrets
import threading
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from tests.emulators import kube_fieldset as fs
from tests.emulators.kube_resources import (
    Registry,
    ResourceType,
    apply_defaults,
    crd_resource_type,
    default_apply_keys,
    validate,
)

_META_OWNED_BY_SERVER = {
    "name",
    "namespace",
    "creationTimestamp",
    "selfLink",
    "uid",
    "resourceVersion",
    "generation",
    "managedFields",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
}


class ApiError(Exception):
    """An error answer: becomes a ``Status`` body with ``code``."""

    def __init__(
        self,
        code: int,
        reason: str,
        message: str,
        *,
        details: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.reason = reason
        self.message = message
        self.details = details

    def status(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
            "reason": self.reason,
            "code": self.code,
        }
        if not self.reason:  # StatusReasonUnknown is "" and omitted, as for a plain Go error
            del body["reason"]
        if self.details is not None:
            body["details"] = self.details
        return body


def not_found(rtype: ResourceType, name: str) -> ApiError:
    return ApiError(
        404,
        "NotFound",
        f'{rtype.group_resource} "{name}" not found',
        details={"name": name, "group": rtype.group, "kind": rtype.plural},
    )


def invalid(rtype: ResourceType, name: str, causes: list[dict[str, str]]) -> ApiError:
    parts = [f"{c['field']}: {c['message']}" for c in causes]
    listed = parts[0] if len(parts) == 1 else "[" + ", ".join(parts) + "]"
    return ApiError(
        422,
        "Invalid",
        f'{rtype.kind}.{rtype.group or "core"} "{name}" is invalid: {listed}'.replace(
            ".core ", " "
        ),
        details={"name": name, "group": rtype.group, "kind": rtype.kind, "causes": causes},
    )


@dataclass
class WatchEvent:
    rv: int
    type: str
    key: tuple[str, str]
    namespace: str
    obj: dict[str, Any]
    prev: dict[str, Any] | None = None  # the object before a MODIFIED event


def _strip(obj: dict[str, Any] | None, *, subresource: str, status_split: bool) -> dict[str, Any]:
    """The part of ``obj`` that field managers can own for a write to ``subresource``."""
    if obj is None:
        return {}
    if subresource == "status":
        return {"status": copy.deepcopy(obj["status"])} if "status" in obj else {}
    out = {k: copy.deepcopy(v) for k, v in obj.items() if k not in ("apiVersion", "kind")}
    meta = {k: v for k, v in out.pop("metadata", {}).items() if k not in _META_OWNED_BY_SERVER}
    if meta:
        out["metadata"] = meta
    if status_split:
        out.pop("status", None)
    return out


def _spec_part(obj: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in obj.items() if k not in ("metadata", "status", "apiVersion", "kind")}


class Managers:
    """A ``metadata.managedFields`` list, with each entry's field set parsed."""

    def __init__(self, obj: dict[str, Any] | None) -> None:
        self.entries: list[dict[str, Any]] = []
        for entry in (obj or {}).get("metadata", {}).get("managedFields") or []:
            parsed = {k: v for k, v in entry.items() if k != "fieldsV1"}
            parsed["set"] = fs.from_fields_v1(entry.get("fieldsV1") or {})
            self.entries.append(parsed)

    def find(self, manager: str, operation: str, subresource: str) -> dict[str, Any] | None:
        for entry in self.entries:
            if (
                entry["manager"] == manager
                and entry["operation"] == operation
                and entry.get("subresource", "") == subresource
            ):
                return entry
        return None

    def mine(
        self, manager: str, operation: str, subresource: str, api_version: str
    ) -> dict[str, Any]:
        entry = self.find(manager, operation, subresource)
        if entry is None:
            entry = {
                "manager": manager,
                "operation": operation,
                "apiVersion": api_version,
                "fieldsType": "FieldsV1",
                "set": set(),
            }
            if subresource:
                entry["subresource"] = subresource
            self.entries.append(entry)
        return entry

    def render(self) -> list[dict[str, Any]]:
        out = []
        for entry in self.entries:
            if not entry["set"]:
                continue
            rendered = {
                k: entry[k]
                for k in ("manager", "operation", "apiVersion", "time", "fieldsType")
                if k in entry
            }
            rendered["fieldsV1"] = fs.to_fields_v1(entry["set"])
            if entry.get("subresource"):
                rendered["subresource"] = entry["subresource"]
            out.append(rendered)
        return out


def _owned_elsewhere(entries: list[dict[str, Any]], mine: dict[str, Any], path: fs.Path) -> bool:
    for entry in entries:
        if entry is mine:
            continue
        for owned in entry["set"]:
            if owned[: len(path)] == path:
                return True
    return False


def _manager_label(entry: dict[str, Any]) -> str:
    """How the API server names a manager in conflict messages."""
    label = json.dumps(entry["manager"])
    if entry.get("subresource"):
        label += f" with subresource {json.dumps(entry['subresource'])}"
    if entry["operation"] == "Update":
        label += f" using {entry['apiVersion']}"
        if entry.get("time"):
            label += f" at {entry['time']}"
    return label


def conflict_error(conflicts: list[tuple[dict[str, Any], fs.Path]]) -> ApiError:
    causes = [
        {
            "reason": "FieldManagerConflict",
            "message": f"conflict with {_manager_label(entry)}",
            "field": fs.path_text(path),
        }
        for entry, path in conflicts
    ]
    if len(conflicts) == 1:
        entry, path = conflicts[0]
        message = (
            f"Apply failed with 1 conflict: conflict with {_manager_label(entry)}: "
            f"{fs.path_text(path)}"
        )
    else:
        by_manager: dict[str, list[str]] = {}
        for entry, path in conflicts:
            by_manager.setdefault(_manager_label(entry), []).append(fs.path_text(path))
        lines = []
        for label in sorted(by_manager):
            lines.append(f"conflicts with {label}:")
            lines.extend(f"- {p}" for p in by_manager[label])
        message = f"Apply failed with {len(conflicts)} conflicts: " + "\n".join(lines)
    return ApiError(409, "Conflict", message, details={"causes": causes})


# Patches --------------------------------------------------------------------------------------


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386 JSON merge patch."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = copy.deepcopy(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


def strategic_merge_patch(target: Any, patch: Any, names: tuple[str, ...] = ()) -> Any:
    """Strategic merge patch: a merge patch whose keyed lists (containers, ...) merge by key."""
    if isinstance(patch, dict):
        if patch.get("$patch") == "replace":
            return {k: copy.deepcopy(v) for k, v in patch.items() if not k.startswith("$")}
        result = copy.deepcopy(target) if isinstance(target, dict) else {}
        for key, value in patch.items():
            if key.startswith("$"):
                continue
            if value is None:
                result.pop(key, None)
            else:
                result[key] = strategic_merge_patch(result.get(key), value, (*names, key))
        return result
    if isinstance(patch, list) and isinstance(target, list):
        keys = fs.list_keys(names)
        if isinstance(keys, tuple):
            result_list = copy.deepcopy(target)
            for item in patch:
                if not isinstance(item, dict):
                    continue
                key = tuple((k, item.get(k)) for k in sorted(keys) if k in item)
                index = next(
                    (
                        i
                        for i, existing in enumerate(result_list)
                        if tuple((k, existing.get(k)) for k in sorted(keys) if k in existing) == key
                    ),
                    None,
                )
                if item.get("$patch") == "delete":
                    if index is not None:
                        del result_list[index]
                elif index is None:
                    result_list.append({k: v for k, v in item.items() if not k.startswith("$")})
                else:
                    result_list[index] = strategic_merge_patch(result_list[index], item, names)
            return result_list
        if keys == "set":
            return list(target) + [item for item in patch if item not in target]
    return copy.deepcopy(patch)


def _pointer(path: str) -> list[str]:
    if path == "":
        return []
    return [p.replace("~1", "/").replace("~0", "~") for p in path.split("/")[1:]]


def json_patch(target: Any, operations: list[dict[str, Any]]) -> Any:
    """RFC 6902 JSON patch (add, remove, replace, move, copy, test)."""
    doc = copy.deepcopy(target)

    def parent_of(path: str) -> tuple[Any, str]:
        parts = _pointer(path)
        if not parts:
            raise ApiError(422, "Invalid", "the root of the document cannot be patched")
        node = doc
        for part in parts[:-1]:
            node = node[int(part)] if isinstance(node, list) else node[part]
        return node, parts[-1]

    def get(path: str) -> Any:
        node = doc
        for part in _pointer(path):
            node = node[int(part)] if isinstance(node, list) else node[part]
        return node

    for op in operations:
        kind = op.get("op")
        try:
            if kind in ("add", "replace"):
                node, last = parent_of(op["path"])
                value = copy.deepcopy(op.get("value"))
                if isinstance(node, list):
                    if last == "-":
                        node.append(value)
                    elif kind == "add":
                        node.insert(int(last), value)
                    else:
                        node[int(last)] = value
                else:
                    if kind == "replace" and last not in node:
                        raise KeyError(last)
                    node[last] = value
            elif kind == "remove":
                node, last = parent_of(op["path"])
                if isinstance(node, list):
                    del node[int(last)]
                else:
                    del node[last]
            elif kind in ("move", "copy"):
                value = copy.deepcopy(get(op["from"]))
                if kind == "move":
                    node, last = parent_of(op["from"])
                    if isinstance(node, list):
                        del node[int(last)]
                    else:
                        del node[last]
                node, last = parent_of(op["path"])
                if isinstance(node, list):
                    node.insert(len(node) if last == "-" else int(last), value)
                else:
                    node[last] = value
            elif kind == "test":
                if get(op["path"]) != op.get("value"):
                    raise ApiError(422, "Invalid", f"the test operation on {op['path']} failed")
            else:
                raise ApiError(400, "BadRequest", f"Unexpected kind: {kind}")
        except (KeyError, IndexError, ValueError, TypeError) as exc:
            raise ApiError(
                422,
                "Invalid",
                f"the server rejected our request due to an error in our request: {exc}",
            ) from exc
    return doc


# The store ------------------------------------------------------------------------------------


class Store:
    """Objects by type, the resourceVersion counter and a bounded history of watch events."""

    def __init__(self, *, now: Callable[[], str], history_size: int = 1000) -> None:
        self.registry = Registry()
        self.now = now
        self.cond = threading.Condition(threading.RLock())
        self.objects: dict[tuple[str, str], dict[tuple[str, str], dict[str, Any]]] = {}
        self.rv = 0
        self.history: deque[WatchEvent] = deque()
        self.history_size = history_size
        self.compacted_rv = 0
        self.epoch = 0  # bumped when open watches must end with 410 Gone
        self.closed = False
        self._next_ip = 1
        self.after_commit: list[Callable[[ResourceType, str, dict[str, Any] | None], None]] = []

    # Reading ------------------------------------------------------------------------------

    def bucket(self, rtype: ResourceType) -> dict[tuple[str, str], dict[str, Any]]:
        return self.objects.setdefault(rtype.key, {})

    def get(self, rtype: ResourceType, namespace: str, name: str) -> dict[str, Any] | None:
        with self.cond:
            obj = self.bucket(rtype).get((namespace if rtype.namespaced else "", name))
            return copy.deepcopy(obj) if obj is not None else None

    def list(self, rtype: ResourceType, namespace: str | None) -> list[dict[str, Any]]:
        with self.cond:
            items = [
                copy.deepcopy(obj)
                for (ns, _), obj in sorted(self.bucket(rtype).items())
                if namespace is None or ns == namespace
            ]
            return items

    def namespace_exists(self, name: str) -> bool:
        return self.get(self.registry.by_kind("Namespace"), "", name) is not None

    # Writing ------------------------------------------------------------------------------

    def _emit(
        self,
        kind: str,
        rtype: ResourceType,
        obj: dict[str, Any],
        prev: dict[str, Any] | None = None,
    ) -> None:
        self.history.append(
            WatchEvent(
                rv=int(obj["metadata"]["resourceVersion"]),
                type=kind,
                key=rtype.key,
                namespace=obj["metadata"].get("namespace", ""),
                obj=copy.deepcopy(obj),
                prev=copy.deepcopy(prev),
            )
        )
        while len(self.history) > self.history_size:
            self.compacted_rv = self.history.popleft().rv
        self.cond.notify_all()

    def compact(self, *, expire_watches: bool = True) -> None:
        """Forget every watch event so far: watches from older versions get 410 Gone.

        With ``expire_watches`` the open watch streams also end with a 410 ERROR event, as
        when the API server's watch cache is reset under them; clients must list again.
        """
        with self.cond:
            self.history.clear()
            self.compacted_rv = self.rv
            if expire_watches:
                self.epoch += 1
            self.cond.notify_all()

    def _cluster_ip(self) -> str:
        self._next_ip += 1
        return f"10.96.{self._next_ip // 250}.{self._next_ip % 250 + 1}"

    def commit(
        self,
        rtype: ResourceType,
        namespace: str,
        old: dict[str, Any] | None,
        new: dict[str, Any],
        *,
        managers: Managers | None,
        dry_run: bool = False,
        subresource: str = "",
    ) -> dict[str, Any]:
        """Store ``new`` in place of ``old`` (None: create); returns what the API answers.

        ``managers`` holds the managed fields already updated for this write (None: keep
        the old ones, as controllers writing status without a field manager do).
        """
        new = json.loads(json.dumps(new))  # plain JSON values only, as if read off the wire
        with self.cond:
            meta = new.setdefault("metadata", {})
            new["apiVersion"] = rtype.api_version
            new["kind"] = rtype.kind
            if old is not None:
                old_meta = old["metadata"]
                for key in ("uid", "creationTimestamp", "name", "namespace", "generation"):
                    if key in old_meta:
                        meta[key] = old_meta[key]
                    else:
                        meta.pop(key, None)
                meta["resourceVersion"] = old_meta["resourceVersion"]
            else:
                meta.setdefault("uid", str(uuid.uuid4()))
                meta["creationTimestamp"] = self.now()
                meta.pop("resourceVersion", None)
            if rtype.namespaced:
                meta["namespace"] = namespace
            else:
                meta.pop("namespace", None)
            if rtype.kind == "Secret" and isinstance(new.get("stringData"), dict):
                data = new.setdefault("data", {})
                for key, value in new.pop("stringData").items():
                    data[key] = base64.b64encode(str(value).encode()).decode()
            apply_defaults(new, cluster_ip=self._cluster_ip())
            causes = validate(new, rtype)
            if causes:
                raise invalid(rtype, meta.get("name", ""), causes)
            if rtype.tracks_generation:
                if old is None:
                    meta["generation"] = 1
                elif _spec_part(old) != _spec_part(new):
                    meta["generation"] = old["metadata"].get("generation", 0) + 1
            if managers is not None:
                rendered = managers.render()
                if rendered:
                    meta["managedFields"] = rendered
                else:
                    meta.pop("managedFields", None)
            elif old is not None and "managedFields" in old["metadata"]:
                meta["managedFields"] = copy.deepcopy(old["metadata"]["managedFields"])
            if old is not None and new == old:
                return copy.deepcopy(old)
            if dry_run:
                return copy.deepcopy(new)
            self.rv += 1
            meta["resourceVersion"] = str(self.rv)
            key = (namespace if rtype.namespaced else "", meta["name"])
            self.bucket(rtype)[key] = new
            self._emit("ADDED" if old is None else "MODIFIED", rtype, new, old)
            if rtype.kind == "CustomResourceDefinition":
                self._register_crd(new)
            result = copy.deepcopy(new)
        for hook in self.after_commit:
            hook(rtype, namespace, result)
        return result

    def _register_crd(self, crd: dict[str, Any]) -> None:
        crd_type = crd_resource_type(crd)
        self.registry.add(crd_type)
        names = crd["spec"].get("names", {})
        accepted = {k: v for k, v in names.items()}
        accepted.setdefault("singular", crd_type.kind.lower())
        accepted.setdefault("listKind", f"{crd_type.kind}List")
        status = {
            "acceptedNames": accepted,
            "conditions": [
                {
                    "type": "NamesAccepted",
                    "status": "True",
                    "reason": "NoConflicts",
                    "message": "no conflicts found",
                    "lastTransitionTime": self.now(),
                },
                {
                    "type": "Established",
                    "status": "True",
                    "reason": "InitialNamesAccepted",
                    "message": "the initial names have been accepted",
                    "lastTransitionTime": self.now(),
                },
            ],
            "storedVersions": [crd_type.version],
        }
        if crd.get("status") != status:
            before = copy.deepcopy(crd)
            crd["status"] = status
            self.rv += 1
            crd["metadata"]["resourceVersion"] = str(self.rv)
            crd_rtype = self.registry.by_kind("CustomResourceDefinition")
            self._emit("MODIFIED", crd_rtype, crd, before)

    def delete(
        self,
        rtype: ResourceType,
        namespace: str,
        name: str,
        *,
        propagation: str = "Background",
        dry_run: bool = False,
    ) -> dict[str, Any]:
        with self.cond:
            key = (namespace if rtype.namespaced else "", name)
            obj = self.bucket(rtype).get(key)
            if obj is None:
                raise not_found(rtype, name)
            if dry_run:
                return copy.deepcopy(obj)
            del self.bucket(rtype)[key]
            self.rv += 1
            obj["metadata"]["resourceVersion"] = str(self.rv)
            self._emit("DELETED", rtype, obj)
            uid = obj["metadata"]["uid"]
            self._delete_dependents(uid, orphan=propagation == "Orphan")
            if rtype.kind == "Namespace":
                for other in list(self.registry.types.values()):
                    if other.namespaced:
                        for ns, other_name in list(self.bucket(other)):
                            if ns == name:
                                self.delete(other, ns, other_name)
            if rtype.kind == "CustomResourceDefinition":
                crd_type = crd_resource_type(obj)
                for ns, other_name in list(self.bucket(crd_type)):
                    self.delete(crd_type, ns, other_name)
                self.registry.remove(crd_type.group, crd_type.plural)
            return copy.deepcopy(obj)

    def _delete_dependents(self, uid: str, *, orphan: bool) -> None:
        for other in list(self.registry.types.values()):
            for (ns, name), obj in list(self.bucket(other).items()):
                refs = obj["metadata"].get("ownerReferences") or []
                if not any(ref.get("uid") == uid for ref in refs):
                    continue
                if orphan:
                    updated = copy.deepcopy(obj)
                    kept = [ref for ref in refs if ref.get("uid") != uid]
                    if kept:
                        updated["metadata"]["ownerReferences"] = kept
                    else:
                        updated["metadata"].pop("ownerReferences", None)
                    self.commit(other, ns, obj, updated, managers=None)
                else:
                    self.delete(other, ns, name)

    # The write operations of the REST API -------------------------------------------------

    def create(
        self,
        rtype: ResourceType,
        namespace: str,
        body: dict[str, Any],
        *,
        manager: str,
        api_version: str,
        dry_run: bool = False,
    ) -> dict[str, Any]:
        with self.cond:
            meta = body.setdefault("metadata", {})
            if not meta.get("name") and meta.get("generateName"):
                alphabet = "bcdfghjklmnpqrstvwxz2456789"
                meta["name"] = meta["generateName"] + "".join(
                    secrets.choice(alphabet) for _ in range(5)
                )
            body_ns = meta.get("namespace")
            if rtype.namespaced and body_ns and body_ns != namespace:
                raise ApiError(
                    400,
                    "BadRequest",
                    "the namespace of the provided object does not match the namespace sent "
                    "on the request",
                )
            name = meta.get("name", "")
            if rtype.namespaced and not self.namespace_exists(namespace):
                raise not_found(self.registry.by_kind("Namespace"), namespace)
            if name and self.get(rtype, namespace, name) is not None:
                raise ApiError(
                    409,
                    "AlreadyExists",
                    f'{rtype.group_resource} "{name}" already exists',
                    details={"name": name, "group": rtype.group, "kind": rtype.plural},
                )
            body.pop("status", None) if rtype.status_subresource else None
            meta.pop("managedFields", None)
            return self._update_and_commit(
                rtype,
                namespace,
                None,
                body,
                manager=manager,
                api_version=api_version,
                dry_run=dry_run,
                subresource="",
            )

    def _update_and_commit(
        self,
        rtype: ResourceType,
        namespace: str,
        old: dict[str, Any] | None,
        new: dict[str, Any],
        *,
        manager: str,
        api_version: str,
        dry_run: bool,
        subresource: str,
    ) -> dict[str, Any]:
        """Commit a non-apply write, moving ownership of what it changed to ``manager``.

        A write that sets ``metadata.managedFields`` itself replaces them (how kubectl migrates
        client-side-apply ownership); ``[{}]`` strips them all; ``[]`` leaves them alone.
        """
        requested = (new.get("metadata") or {}).get("managedFields")
        current = (old or {}).get("metadata", {}).get("managedFields")
        if requested == [{}]:
            prepared = self._prepare(rtype, namespace, old, new, subresource=subresource)
            return self.commit(
                rtype,
                namespace,
                old,
                prepared,
                managers=Managers(None),
                dry_run=dry_run,
                subresource=subresource,
            )
        managers = Managers(old)
        if requested and requested != current:
            try:
                managers = Managers({"metadata": {"managedFields": requested}})
            except (AttributeError, KeyError, TypeError, ValueError) as exc:
                raise ApiError(
                    422, "Invalid", f"metadata.managedFields: Invalid value: {exc}"
                ) from exc
        prepared = self._prepare(rtype, namespace, old, new, subresource=subresource)
        split = rtype.status_subresource
        old_part = _strip(old, subresource=subresource, status_split=split)
        new_part = _strip(prepared, subresource=subresource, status_split=split)
        new_set = fs.field_set(new_part)
        old_set = fs.field_set(old_part) if old is not None else set()
        changed = fs.changed_paths(old_part, new_part, new_set) if old is not None else new_set
        removed = old_set - new_set
        for entry in managers.entries:
            if entry.get("subresource", "") == subresource:
                entry["set"] = entry["set"] - changed - removed
        if changed:
            mine = managers.mine(manager, "Update", subresource, api_version)
            mine["set"] = (mine["set"] | changed) & new_set
            mine["time"] = self.now()
            mine["apiVersion"] = api_version
        return self.commit(
            rtype,
            namespace,
            old,
            prepared,
            managers=managers,
            dry_run=dry_run,
            subresource=subresource,
        )

    def _prepare(
        self,
        rtype: ResourceType,
        namespace: str,
        old: dict[str, Any] | None,
        new: dict[str, Any],
        *,
        subresource: str,
    ) -> dict[str, Any]:
        """``new`` with what this kind of write may not change taken from ``old``, defaulted."""
        new = copy.deepcopy(new)
        if old is not None:
            if subresource == "status":
                status = new.get("status")
                new = copy.deepcopy(old)
                if status is None:
                    new.pop("status", None)
                else:
                    new["status"] = status
            elif rtype.status_subresource:
                if "status" in old:
                    new["status"] = copy.deepcopy(old["status"])
                else:
                    new.pop("status", None)
            meta = new.setdefault("metadata", {})
            for key in ("uid", "creationTimestamp", "generation", "resourceVersion"):
                if key in old["metadata"]:
                    meta[key] = old["metadata"][key]
            meta["name"] = old["metadata"]["name"]
            if rtype.namespaced:
                meta["namespace"] = namespace
        new.setdefault("metadata", {}).pop("managedFields", None)
        new["apiVersion"] = rtype.api_version
        new["kind"] = rtype.kind
        if old is None or old["metadata"].get("uid") != new["metadata"].get("uid"):
            new["metadata"].setdefault("uid", str(uuid.uuid4()))
        apply_defaults(new, cluster_ip=self._cluster_ip())
        return new

    def _existing(self, rtype: ResourceType, namespace: str, name: str) -> dict[str, Any]:
        obj = self.get(rtype, namespace, name)
        if obj is None:
            raise not_found(rtype, name)
        return obj

    def _check_version(self, rtype: ResourceType, old: dict[str, Any], body: Any) -> None:
        if not isinstance(body, dict):
            return
        wanted = body.get("metadata", {}).get("resourceVersion")
        if wanted and wanted != old["metadata"]["resourceVersion"]:
            raise ApiError(
                409,
                "Conflict",
                f"Operation cannot be fulfilled on {rtype.group_resource} "
                f'"{old["metadata"]["name"]}": the object has been modified; please apply '
                "your changes to the latest version and try again",
                details={
                    "name": old["metadata"]["name"],
                    "group": rtype.group,
                    "kind": rtype.plural,
                },
            )

    def replace(
        self,
        rtype: ResourceType,
        namespace: str,
        name: str,
        body: dict[str, Any],
        *,
        manager: str,
        api_version: str,
        dry_run: bool = False,
        subresource: str = "",
    ) -> dict[str, Any]:
        with self.cond:
            old = self._existing(rtype, namespace, name)
            if body.get("metadata", {}).get("name", name) != name:
                raise ApiError(
                    400,
                    "BadRequest",
                    f"the name of the object ({body['metadata']['name']}) does not match the "
                    f"name on the URL ({name})",
                )
            self._check_version(rtype, old, body)
            return self._update_and_commit(
                rtype,
                namespace,
                old,
                body,
                manager=manager,
                api_version=api_version,
                dry_run=dry_run,
                subresource=subresource,
            )

    def patch(
        self,
        rtype: ResourceType,
        namespace: str,
        name: str,
        patch: Any,
        *,
        patch_type: str,
        manager: str,
        api_version: str,
        dry_run: bool = False,
        subresource: str = "",
        check: Callable[[Any], Any] | None = None,
    ) -> dict[str, Any]:
        """A non-apply patch; ``check`` sees (and may refuse or trim) the patched object."""
        with self.cond:
            old = self._existing(rtype, namespace, name)
            if patch_type == "json":
                if not isinstance(patch, list):
                    raise ApiError(400, "BadRequest", "json patch must be a list of operations")
                new = json_patch(old, patch)
            elif patch_type == "merge":
                self._check_version(rtype, old, patch)
                new = merge_patch(old, patch)
            else:
                self._check_version(rtype, old, patch)
                new = strategic_merge_patch(old, patch)
            if check is not None:
                new = check(new)
            return self._update_and_commit(
                rtype,
                namespace,
                old,
                new,
                manager=manager,
                api_version=api_version,
                dry_run=dry_run,
                subresource=subresource,
            )

    def apply(
        self,
        rtype: ResourceType,
        namespace: str,
        name: str,
        applied: dict[str, Any],
        *,
        manager: str,
        force: bool,
        api_version: str,
        dry_run: bool = False,
        subresource: str = "",
        check: Callable[[dict[str, Any]], None] | None = None,
    ) -> dict[str, Any]:
        """Server-side apply: merge, detect conflicts, transfer or share ownership, prune.

        ``check`` sees the applied configuration once its kind is known to match, before
        anything is merged (where the API server converts it to a typed object)."""
        if not isinstance(applied, dict):
            raise ApiError(400, "BadRequest", "the apply patch must be an object")
        meta = applied.get("metadata") or {}
        if meta.get("name") and meta["name"] != name:
            raise ApiError(
                400,
                "BadRequest",
                f"the name of the object ({meta['name']}) does not match the name on the URL "
                f"({name})",
            )
        if not applied.get("apiVersion") or not applied.get("kind"):
            raise ApiError(
                400,
                "BadRequest",
                "error decoding patch: Object 'Kind' is missing in apply configuration",
            )
        if applied["kind"] != rtype.kind or applied["apiVersion"] != rtype.api_version:
            raise ApiError(
                400,
                "BadRequest",
                f"the API version in the data ({applied['apiVersion']}) does not match the "
                f"expected API version ({rtype.api_version})",
            )
        if check is not None:
            check(applied)
        with self.cond:
            live = self.get(rtype, namespace, name)
            if live is None and subresource:
                raise not_found(rtype, name)
            if live is None and rtype.namespaced and not self.namespace_exists(namespace):
                raise not_found(self.registry.by_kind("Namespace"), namespace)
            self._check_version(rtype, live, applied) if live is not None else None
            applied = copy.deepcopy(applied)
            default_apply_keys(applied)
            split = rtype.status_subresource
            applied_part = _strip(applied, subresource=subresource, status_split=split)
            live_part = _strip(live, subresource=subresource, status_split=split)
            applied_set = fs.field_set(applied_part)
            merged_part = fs.merge(live_part, applied_part)
            managers = Managers(live)
            mine = managers.mine(manager, "Apply", subresource, api_version)
            others = [e for e in managers.entries if e is not mine]
            conflicts = []
            for path in sorted(applied_set, key=fs.path_text):
                if fs.is_item(path):
                    continue
                if fs.value_at(live_part, path) == fs.value_at(merged_part, path):
                    continue
                for entry in others:
                    if path in entry["set"]:
                        conflicts.append((entry, path))
            if conflicts and not force:
                raise conflict_error(conflicts)
            for entry, path in conflicts:
                entry["set"] = entry["set"] - {path}
            # shortest first: a dropped list item goes whole, with the defaults inside it
            for path in sorted(mine["set"] - applied_set, key=len):
                if not _owned_elsewhere(managers.entries, mine, path):
                    fs.remove_path(merged_part, path)
            if mine["set"] != applied_set or "time" not in mine:
                mine["time"] = self.now()
            mine["set"] = applied_set
            mine["apiVersion"] = api_version
            if live is None:
                new = merged_part
                new_meta = new.setdefault("metadata", {})
                new_meta["name"] = name
            elif subresource == "status":
                new = copy.deepcopy(live)
                new["status"] = merged_part.get("status", {})
            else:
                new = merged_part
                new.setdefault("metadata", {})
                for key, value in live["metadata"].items():
                    if key in _META_OWNED_BY_SERVER:
                        new["metadata"][key] = copy.deepcopy(value)
                if split and "status" in live:
                    new["status"] = copy.deepcopy(live["status"])
            new["apiVersion"] = rtype.api_version
            new["kind"] = rtype.kind
            new["metadata"].pop("managedFields", None)
            return self.commit(
                rtype,
                namespace,
                live,
                new,
                managers=managers,
                dry_run=dry_run,
                subresource=subresource,
            )
