"""Text that must fit on one line: deployment descriptions, summaries, error lines, cells.

GitHub rejects a deployment or deployment status description longer than 140 characters,
and a log line, an annotation or a table cell must not break. ``one_line`` joins every run
of whitespace (newlines included) into one space; ``clip`` also cuts the line to a length,
at a word when one is near, and marks the cut with an ellipsis.
"""

from __future__ import annotations

DESCRIPTION_LIMIT = 140
"""GitHub's limit on a deployment's and a deployment status's description."""
ELLIPSIS = "…"


def one_line(text: str) -> str:
    """``text`` with every whitespace run (newlines included) one space, and no edges."""
    return " ".join(text.split())


def clip(text: str, limit: int = DESCRIPTION_LIMIT) -> str:
    """``text`` on one line of at most ``limit`` characters.

    A longer line is cut at the last word boundary that leaves room for the ellipsis,
    dropping dangling punctuation (``a, b, c…`` rather than ``a, b, c,…``); when that
    would throw away more than half the room (one enormous word), it is cut mid-word.
    """
    line = one_line(text)
    if len(line) <= limit:
        return line
    room = limit - len(ELLIPSIS)
    head = line[:room]
    if line[room] != " ":
        boundary = head.rfind(" ")
        if boundary >= room // 2:
            head = head[:boundary]
    return head.rstrip(" ,;:.-(") + ELLIPSIS
