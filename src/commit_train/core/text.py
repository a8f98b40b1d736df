"""Text that must fit on one line: deployment descriptions, summaries, error lines, cells.

GitHub rejects a deployment or deployment status description longer than 140 characters,
and a log line, an annotation or a table cell must not break. ``one_line`` joins every run
of whitespace (newlines included) into one space; ``clip`` also cuts the line to a length,
at a word when one is near, and marks the cut with an ellipsis.

Text someone else wrote (commit titles, check names, status descriptions) is shown on a
terminal through ``printable``, which writes control characters and Unicode's bidirectional
controls as visible escapes, so a title cannot set the window title (OSC), clear the screen,
return the cursor or reverse what follows it (U+202E). ``width`` and ``ljust`` measure
display columns (a CJK character or most emoji take two), so columns still line up.
"""

from __future__ import annotations

import re
import unicodedata

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


# C0 and C1 controls (tab and newline included: a cell is one line) and the bidi controls
# (Unicode TR9: LRE, RLE, PDF, LRO, RLO, LRI, RLI, FSI, PDI, and the ALM/LRM/RLM marks).
_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def _escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code <= 0xFF else f"\\u{code:04x}"


def printable(text: str) -> str:
    """``text`` safe to write to a terminal: controls and bidi controls as visible escapes
    (``\\x1b``, ``\\u202e``); everything else, non-ASCII included, as it is."""
    return _UNSAFE.sub(_escape, text)


def width(text: str) -> int:
    """Display columns of ``text``: wide and fullwidth characters count two, combining
    marks and zero-width characters none."""
    columns = 0
    for char in text:
        if unicodedata.combining(char) or unicodedata.category(char) in ("Mn", "Me", "Cf"):
            continue
        columns += 2 if unicodedata.east_asian_width(char) in ("W", "F") else 1
    return columns


def ljust(text: str, columns: int) -> str:
    """``text`` padded with spaces to ``columns`` display columns."""
    return text + " " * max(0, columns - width(text))


def duration(seconds: float | None) -> str:
    """A length of time a person reads at a glance, in its two largest units: ``45s``,
    ``3m 05s``, ``2h 05m``, ``3d 4h``; ``-`` for none. The one formatter for durations and
    ages alike (history's DURATION, stats' lead time and time to restore, stale ages)."""
    if seconds is None:
        return "-"
    whole = max(0, round(seconds))
    if whole < 60:
        return f"{whole}s"
    minutes, secs = divmod(whole, 60)
    if minutes < 60:
        return f"{minutes}m {secs:02d}s"
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return f"{hours}h {minutes:02d}m"
    days, hours = divmod(hours, 24)
    return f"{days}d {hours}h"
