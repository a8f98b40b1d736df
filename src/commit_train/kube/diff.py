"""The short diff of a ``configured`` object, and what it must never show.

``diff`` yields one line per changed field (``spec.template.spec.containers[web].image:
"shop:1" -> "shop:2"``): list items with a ``name`` are matched by it, others by index; a
long value is cut around its first difference. ``comparable`` is the object as its author
sees it (no status, no server bookkeeping, none of commit-train's own annotations), so an
object that differs only in those is ``unchanged``. ``Hiding`` says what a line must not
show: a Secret's values (``redact_secret`` replaces them in a whole object) and known
secret values anywhere; a line that would show one reads ``<redacted> -> <redacted>``.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from commit_train.core.redact import redact_text
from commit_train.kube.objects import ANNOTATION_PREFIX

REDACTED = "<redacted>"
MAX_DIFF_LINES = 20
"""At most this many lines per object; the rest is counted."""

_VOLATILE_METADATA = (
    "resourceVersion",
    "managedFields",
    "generation",
    "uid",
    "creationTimestamp",
    "selfLink",
)
_LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"


def redact_secret(obj: Mapping[str, Any]) -> dict[str, Any]:
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


def comparable(obj: Mapping[str, Any]) -> dict[str, Any]:
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
class Hiding:
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


def diff(old: Any, new: Any, *, hiding: Hiding, path: str = "") -> Iterator[str]:
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
                yield from diff(old[key], new[key], hiding=hiding, path=sub)
    elif isinstance(old, list) and isinstance(new, list):
        yield from _diff_list(old, new, hiding=hiding, path=path)
    elif old != new:
        yield f"{path}: {_show_change(old, new, path, hiding)}"


def _diff_list(old: list[Any], new: list[Any], *, hiding: Hiding, path: str) -> Iterator[str]:
    old_names, new_names = _names(old), _names(new)
    if old_names is None or new_names is None:
        for index in range(max(len(old), len(new))):
            sub = f"{path}[{index}]"
            if index >= len(old):
                yield f"{sub}: (added) {_show(new[index], sub, hiding)}"
            elif index >= len(new):
                yield f"{sub}: (removed)"
            else:
                yield from diff(old[index], new[index], hiding=hiding, path=sub)
        return
    old_by = dict(zip(old_names, old, strict=True))
    new_by = dict(zip(new_names, new, strict=True))
    for name in new_names:
        sub = f"{path}[{name}]"
        if name in old_by:
            yield from diff(old_by[name], new_by[name], hiding=hiding, path=sub)
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


def _show(value: Any, path: str, hiding: Hiding) -> str:
    if hiding.hides(path):
        return REDACTED
    text, _masked = hiding.masked(value)
    return text if len(text) <= _SHOWN else text[: _SHOWN - 3] + "..."


def _show_change(old: Any, new: Any, path: str, hiding: Hiding) -> str:
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
