"""Text that must fit on one line: deployment descriptions, summaries, error lines, cells.

GitHub rejects a deployment or deployment status description longer than 140 characters,
and a log line, an annotation or a table cell must not break. ``one_line`` joins every run
of whitespace (newlines included) into one space; ``clip`` also cuts the line to a length,
at a word when one is near, and marks the cut with an ellipsis.

Text someone else wrote (commit titles, check names, status descriptions) is shown on a
terminal through ``printable``, which writes control characters and Unicode's bidirectional
controls as visible escapes, so a title cannot set the window title (OSC), clear the screen,
return the cursor or reverse what follows it (U+202E). ``width`` and ``ljust`` measure
display columns with the ``wcwidth`` package (a CJK character or most emoji take two, a
combining mark or a zero-width joiner none), so columns still line up; ``fit`` cuts a line
to a number of columns, as ``clip`` does to a number of characters.

``plural`` spells a count the way a sentence needs it ("1 commit", "2 commits").
"""

from __future__ import annotations

import re

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
    """Display columns of ``text`` on a terminal (``wcwidth``): wide and fullwidth characters
    and emoji count two, combining marks and zero-width characters none, a control (which
    ``printable`` would have escaped) none."""
    from wcwidth import wcswidth, wcwidth  # loaded by the commands that draw tables only

    columns = wcswidth(text)
    if columns >= 0:
        return int(columns)
    return sum(max(int(wcwidth(char)), 0) for char in text)


def fit(text: str, columns: int) -> str:
    """``text`` on one line of at most ``columns`` display columns.

    Cut like ``clip`` (at a word when one is near, dangling punctuation dropped, an
    ellipsis at the end), but measured in columns, so a CJK title takes the room it shows.
    """
    line = one_line(text)
    if width(line) <= columns:
        return line
    if columns <= len(ELLIPSIS):
        return ELLIPSIS[:columns]
    room = columns - width(ELLIPSIS)
    low, high = 0, len(line)  # the longest prefix within room: width only grows with length
    while low < high:
        middle = (low + high + 1) // 2
        if width(line[:middle]) <= room:
            low = middle
        else:
            high = middle - 1
    head = line[:low]
    if low < len(line) and line[low] != " ":
        boundary = head.rfind(" ")
        if boundary >= low // 2:
            head = head[:boundary]
    return head.rstrip(" ,;:.-(") + ELLIPSIS


def plural(count: int, noun: str, nouns: str | None = None) -> str:
    """``1 commit``, ``2 commits``, ``0 commits``; ``nouns`` for an irregular plural."""
    return f"{count} {noun if count == 1 else (nouns or noun + 's')}"


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
