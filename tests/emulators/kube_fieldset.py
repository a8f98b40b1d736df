"""Field sets for server-side apply, in the shape the real API server records them.

A *path* is a tuple of elements; each element is one of

- ``("f", name)``: a field of a map (``f:name`` in ``fieldsV1``),
- ``("k", ((key, value), ...))``: an item of an associative list, found by its keys
  (``k:{"name":"app"}``),
- ``("v", value)``: an item of a set-like list of scalars (``v:"finalizer"``).

A manager's set holds leaf paths (scalars, atomic maps and lists, empty maps) and the paths of
associative list items (which ``fieldsV1`` writes as ``".": {}``). Which lists are associative,
and by which keys, comes from the table below: the list fields the built-in types declare as
``x-kubernetes-list-type: map``. Lists not in the table are atomic (owned whole), as they are for
custom resources without a schema.
"""

from __future__ import annotations

import copy
import json
from typing import Any

Path = tuple[tuple[str, Any], ...]

# field name -> merge keys, or "set" for lists of scalars merged as sets.
_LIST_KEYS: dict[str, tuple[str, ...] | str] = {
    "containers": ("name",),
    "initContainers": ("name",),
    "ephemeralContainers": ("name",),
    "volumes": ("name",),
    "env": ("name",),
    "imagePullSecrets": ("name",),
    "volumeMounts": ("mountPath",),
    "volumeDevices": ("devicePath",),
    "conditions": ("type",),
    "ownerReferences": ("uid",),
    "hostAliases": ("ip",),
    "resourceClaims": ("name",),
    "topologySpreadConstraints": ("topologyKey", "whenUnsatisfiable"),
    "finalizers": "set",
}
# Maps owned whole (x-kubernetes-map-type: atomic), by field name.
_ATOMIC_MAPS = {"selector", "nodeSelectorTerms", "configMapKeyRef", "secretKeyRef", "fieldRef"}


def list_keys(names: tuple[str, ...]) -> tuple[str, ...] | str | None:
    """Merge keys of the list at the field-name chain ``names`` (None: atomic list)."""
    if not names:
        return None
    last = names[-1]
    if last == "ports":
        if "containers" in names or "initContainers" in names:
            return ("containerPort", "protocol")
        if names[:2] == ("spec", "ports"):
            return ("port", "protocol")
        return None
    if last == "finalizers" and names != ("metadata", "finalizers"):
        return None  # spec.finalizers of a Namespace is atomic
    return _LIST_KEYS.get(last)


def _item_key(item: Any, keys: tuple[str, ...]) -> tuple[tuple[str, Any], ...]:
    if not isinstance(item, dict):
        return (("", json.dumps(item, sort_keys=True)),)
    return tuple((k, item[k]) for k in sorted(keys) if k in item)


def field_set(value: Any, path: Path = (), names: tuple[str, ...] = ()) -> set[Path]:
    """Every path ``value`` sets, at leaf granularity (see the module docstring)."""
    if isinstance(value, dict):
        if not value or (names and names[-1] in _ATOMIC_MAPS):
            return {path} if path else set()
        out: set[Path] = set()
        for key, child in value.items():
            if type(child).__name__ == "DefaultedKey":
                continue  # a defaulted list key: identifies the item, owned by nobody
            out |= field_set(child, (*path, ("f", key)), (*names, key))
        return out
    if isinstance(value, list):
        keys = list_keys(names)
        if keys is None or not value:
            return {path}
        if keys == "set":
            return {(*path, ("v", item)) for item in value}
        assert isinstance(keys, tuple)
        out = set()
        for item in value:
            item_path = (*path, ("k", _item_key(item, keys)))
            out.add(item_path)
            if isinstance(item, dict):
                out |= field_set(item, item_path, names)
        return out
    return {path}


_MISSING = object()


def value_at(obj: Any, path: Path, names: tuple[str, ...] = ()) -> Any:
    """The value ``path`` points at in ``obj``, or the ``MISSING`` sentinel."""
    current = obj
    for kind, arg in path:
        if kind == "f":
            if not isinstance(current, dict) or arg not in current:
                return _MISSING
            current = current[arg]
            names = (*names, arg)
        elif kind == "k":
            keys = list_keys(names)
            if not isinstance(current, list) or not isinstance(keys, tuple):
                return _MISSING
            for item in current:
                if _item_key(item, keys) == arg:
                    current = item
                    break
            else:
                return _MISSING
        else:
            if not isinstance(current, list) or arg not in current:
                return _MISSING
            current = arg
    return current


MISSING = _MISSING


def is_item(path: Path) -> bool:
    return bool(path) and path[-1][0] == "k"


def changed_paths(old: Any, new: Any, paths: set[Path]) -> set[Path]:
    """Paths of ``paths`` whose value differs between ``old`` and ``new`` (items: presence)."""
    out = set()
    for path in paths:
        before, after = value_at(old, path), value_at(new, path)
        if is_item(path):
            if (before is MISSING) != (after is MISSING):
                out.add(path)
        elif before != after:
            out.add(path)
    return out


def merge(live: Any, applied: Any, names: tuple[str, ...] = ()) -> Any:
    """``applied`` merged into ``live`` the way server-side apply merges structured values."""
    if isinstance(live, dict) and isinstance(applied, dict):
        if names and names[-1] in _ATOMIC_MAPS:
            return copy.deepcopy(applied)
        result = copy.deepcopy(live)
        for key, child in applied.items():
            if key in result:
                result[key] = merge(result[key], child, (*names, key))
            else:
                result[key] = copy.deepcopy(child)
        return result
    if isinstance(live, list) and isinstance(applied, list):
        keys = list_keys(names)
        if keys == "set":
            return list(live) + [item for item in applied if item not in live]
        if isinstance(keys, tuple):
            result_list = copy.deepcopy(live)
            for item in applied:
                key = _item_key(item, keys)
                for index, existing in enumerate(result_list):
                    if _item_key(existing, keys) == key:
                        result_list[index] = merge(existing, item, names)
                        break
                else:
                    result_list.append(copy.deepcopy(item))
            return result_list
    return copy.deepcopy(applied)


def remove_path(obj: Any, path: Path, names: tuple[str, ...] = ()) -> None:
    """Remove what ``path`` points at from ``obj`` in place; drop maps and lists left empty."""
    if not path:
        return
    kind, arg = path[0]
    rest = path[1:]
    if kind == "f":
        if not isinstance(obj, dict) or arg not in obj:
            return
        if rest:
            remove_path(obj[arg], rest, (*names, arg))
            if obj[arg] in ({}, []):
                del obj[arg]
        else:
            del obj[arg]
        return
    if not isinstance(obj, list):
        return
    if kind == "v":
        if not rest and arg in obj:
            obj.remove(arg)
        return
    keys = list_keys(names)
    if not isinstance(keys, tuple):
        return
    for index, item in enumerate(obj):
        if _item_key(item, keys) == arg:
            if rest:
                remove_path(item, rest, names)
            else:
                del obj[index]
            return


def _element_text(element: tuple[str, Any]) -> str:
    kind, arg = element
    if kind == "f":
        return f"f:{arg}"
    if kind == "v":
        return "v:" + json.dumps(arg, separators=(",", ":"))
    return "k:" + json.dumps(dict(arg), separators=(",", ":"), sort_keys=True)


def to_fields_v1(paths: set[Path]) -> dict[str, Any]:
    """The ``fieldsV1`` tree of a set of paths (``".": {}`` marks an owned inner node)."""
    root: dict[str, Any] = {}
    for path in sorted(paths, key=len):
        node = root
        for element in path:
            node = node.setdefault(_element_text(element), {})
    for path in paths:
        node = root
        for element in path:
            node = node[_element_text(element)]
        if node and "." not in node:
            node["."] = {}
    return _sorted_tree(root)


def _sorted_tree(node: dict[str, Any]) -> dict[str, Any]:
    return {key: _sorted_tree(node[key]) for key in sorted(node)}


def from_fields_v1(tree: dict[str, Any], prefix: Path = ()) -> set[Path]:
    """The set of paths a ``fieldsV1`` tree holds (the inverse of :func:`to_fields_v1`)."""
    out: set[Path] = set()
    for text, child in tree.items():
        if text == ".":
            out.add(prefix)
            continue
        kind, _, raw = text.partition(":")
        if kind == "f":
            element: tuple[str, Any] = ("f", raw)
        elif kind == "v":
            element = ("v", json.loads(raw))
        elif kind == "k":
            element = ("k", tuple(sorted(json.loads(raw).items())))
        else:
            element = ("i", int(raw))
        path = (*prefix, element)
        if child:
            out |= from_fields_v1(child, path)
        else:
            out.add(path)
    return out


def path_text(path: Path) -> str:
    """A path as the API server prints it: ``.spec.containers[name="app"].image``."""
    parts = []
    for kind, arg in path:
        if kind == "f":
            parts.append("." + arg)
        elif kind == "v":
            parts.append("[=" + json.dumps(arg) + "]")
        elif kind == "k":
            parts.append(
                "[" + ",".join(f"{k}={json.dumps(v)}" for k, v in arg) + "]",
            )
        else:
            parts.append(f"[{arg}]")
    return "".join(parts)
