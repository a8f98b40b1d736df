"""Keeping secret values out of everything a person sees.

Two layers, because one is not enough:

* **Structural**: a ``Secret`` object's ``data`` and ``stringData`` values become
  ``<redacted>`` (the keys stay, so a diff still shows *which* keys changed), and every string
  inside any other object has each known secret value replaced. This works on the parsed
  object, so YAML quoting or escaping of the value cannot hide it.
* **Textual**: :func:`redact_text` replaces known secret values in any text (a rendered
  stream, a diff, an error message, a log line), as a last net.

Which strings count as "known secret values" is decided by :func:`secret_forms`: the value
itself and every encoding under which it travels: base64 (standard, URL-safe, unpadded: what a
``Secret``'s ``data`` holds), JSON-escaped (with and without ``\\u`` escapes, as ``json.dumps``
writes by default), Python's ``repr`` (backslashes doubled: what an error message quoting a
lookup key shows), URL-encoded (``%XX`` and ``+`` for spaces), and each long line of a
multi-line value. Values shorter than :data:`MIN_MASK_LENGTH` are not masked in
free text: replacing every ``a`` or ``1`` in a listing would hide everything and protect
nothing (``Secret`` data is still redacted structurally, whatever its length).
"""

from __future__ import annotations

import base64
import contextlib
import json
import re
import urllib.parse
from collections.abc import Iterable, Mapping
from typing import Any

REDACTED = "<redacted>"
MIN_MASK_LENGTH = 3
# A literal value in a Secret object that was not declared under ``secrets:`` is masked in
# other objects only from this length on: short ones ("true", "80") are too common to hide.
MIN_LITERAL_MASK_LENGTH = 8
_MIN_LINE_LENGTH = 8


def is_secret(obj: Mapping[str, Any]) -> bool:
    """True for a core ``v1`` ``Secret`` object (the only kind whose data is redacted whole)."""
    return obj.get("kind") == "Secret" and obj.get("apiVersion") == "v1"


def secret_forms(value: str) -> set[str]:
    """The strings under which ``value`` may show up in rendered output or logs."""
    if len(value) < MIN_MASK_LENGTH:
        return set()
    raw = value.encode("utf-8")
    forms = {
        value,
        base64.b64encode(raw).decode("ascii"),
        base64.b64encode(raw).decode("ascii").rstrip("="),
        base64.urlsafe_b64encode(raw).decode("ascii"),
        json.dumps(value, ensure_ascii=False)[1:-1],
        json.dumps(value)[1:-1],
        repr(value)[1:-1],
        ascii(value)[1:-1],
        urllib.parse.quote(value, safe=""),
        urllib.parse.quote_plus(value, safe=""),
    }
    if "\n" in value:
        forms.update(
            line.strip() for line in value.splitlines() if len(line.strip()) >= _MIN_LINE_LENGTH
        )
    return {form for form in forms if len(form) >= MIN_MASK_LENGTH}


def literal_secret_values(obj: Mapping[str, Any]) -> set[str]:
    """The values held by a ``Secret`` object itself (decoded ``data`` and ``stringData``)."""
    if not is_secret(obj):
        return set()
    found: set[str] = set()
    data = obj.get("data")
    if isinstance(data, Mapping):
        for item in data.values():
            if isinstance(item, str):
                found.add(item)
                with contextlib.suppress(ValueError):  # not base64: keep the raw value only
                    found.add(base64.b64decode(item, validate=True).decode("utf-8"))
    string_data = obj.get("stringData")
    if isinstance(string_data, Mapping):
        found.update(item for item in string_data.values() if isinstance(item, str))
    return {v for v in found if len(v) >= MIN_LITERAL_MASK_LENGTH}


def _pattern(secret_values: Iterable[str]) -> re.Pattern[str] | None:
    values = sorted(
        {v for v in secret_values if len(v) >= MIN_MASK_LENGTH}, key=lambda v: (-len(v), v)
    )
    if not values:
        return None
    return re.compile("|".join(re.escape(v) for v in values))


def redact_text(text: str, secret_values: Iterable[str]) -> str:
    """``text`` with every known secret value replaced by ``<redacted>`` (longest first)."""
    pattern = _pattern(secret_values)
    if pattern is None:
        return text
    return pattern.sub(REDACTED, text)


def redact_object(obj: Mapping[str, Any], secret_values: Iterable[str]) -> dict[str, Any]:
    """A redacted deep copy of one Kubernetes object; the original is left untouched.

    A ``Secret``'s ``data``/``stringData`` values become ``<redacted>``; in every other string
    (keys included) each known secret value is replaced.
    """
    pattern = _pattern(secret_values)
    copy = _scrub(obj, pattern)
    if not isinstance(copy, dict):  # pragma: no cover - _scrub keeps mappings as dicts
        raise TypeError("expected a mapping")
    if is_secret(obj):
        for field in ("data", "stringData"):
            section = copy.get(field)
            if isinstance(section, dict):
                copy[field] = {key: REDACTED for key in section}
    return copy


def _scrub(value: Any, pattern: re.Pattern[str] | None) -> Any:
    if isinstance(value, str):
        return pattern.sub(REDACTED, value) if pattern is not None else value
    if isinstance(value, Mapping):
        return {_scrub(k, pattern): _scrub(v, pattern) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_scrub(item, pattern) for item in value]
    return value
