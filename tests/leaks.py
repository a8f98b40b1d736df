"""Searching what a deploy wrote for a secret, in every form it could travel in.

``HOSTILE_SECRET`` holds each character that changes a value's escaped forms: a backslash,
both quotes, a newline and non-ASCII letters. :func:`leaked` looks for every form
:func:`commit_train.core.redact.secret_forms` knows (raw, each line, ``repr``, JSON with and
without ``\\u`` escapes, URL-encoded, base64) in whatever text a test gathered.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from commit_train.core.redact import secret_forms

HOSTILE_SECRET = "k\\ey\"w'q\nsecond-line-ключ-é"


def leaked(
    texts: Mapping[str, str] | Iterable[str], secret: str = HOSTILE_SECRET
) -> list[tuple[str, str, str]]:
    """(where, form, the text around it) for each form of ``secret`` found in ``texts`` (a
    mapping names where each text was written; a plain list numbers them)."""
    named = texts if isinstance(texts, Mapping) else {str(i): t for i, t in enumerate(texts)}
    forms = sorted(secret_forms(secret), key=len, reverse=True)
    found: list[tuple[str, str, str]] = []
    for where, text in named.items():
        for form in forms:
            at = text.find(form)
            if at >= 0:
                found.append((where, form, text[max(0, at - 80) : at + len(form) + 80]))
    return found


def files_under(root: Path, *, skip: Iterable[Path] = ()) -> dict[str, str]:
    """Every file under ``root`` (but those under ``skip``), as text, by its path."""
    skipped = [p.resolve() for p in skip]
    texts: dict[str, str] = {}
    for path in sorted(root.rglob("*")):
        if path.is_symlink() or not path.is_file():
            continue
        real = path.resolve()
        if any(real == s or s in real.parents for s in skipped):
            continue
        texts[str(path)] = path.read_bytes().decode("utf-8", "replace")
    return texts


def without_mask_commands(text: str) -> str:
    """A step's raw stdout without its ``::add-mask::`` lines (read by the runner, never shown)."""
    return "\n".join(line for line in text.splitlines() if not line.startswith("::add-mask::"))


def decoded(text: str) -> str:
    """``text``, and when it is JSON every string inside it too: a value escaped once more
    by the encoding (a repr inside a JSON document) is a form no search of the text finds."""
    try:
        document = json.loads(text)
    except ValueError:
        return text
    return "\n".join([text, *_strings(document)])


def _strings(value: Any) -> Iterable[str]:
    if isinstance(value, str):
        yield value
        inner = decoded(value)
        if inner != value:
            yield inner
    elif isinstance(value, dict):
        for key, item in value.items():
            yield str(key)
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)
