"""What the CLI's output goes to: how wide it is, and a progress line rewritten in place.

``columns`` is the width tables are cut to: ``COLUMNS`` when it is set to a positive number
(as ``shutil`` and click honour it), else the terminal's width when the stream is a
terminal, else None: output to a pipe or a file keeps its fixed widths, so what scripts and
tests read does not depend on the window it was run from.

``LiveLines`` is the line callback of a run (``commit-train apply``, ``rollback --apply``):
on a terminal a rollout's progress line ("1 of 3 updated replicas are available...") is
one line rewritten in place (carriage return, then erase to the end of the line) and a
normal line ends it; anywhere else every line is printed as it comes, as before.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Mapping
from typing import TextIO

from commit_train.core.text import fit

CLEAR_LINE = "\r\x1b[K"  # back to the start of the line, erase to its end (ECMA-48 EL 0)


def columns(stream: TextIO, environ: Mapping[str, str] = os.environ) -> int | None:
    """The width to cut lines to on ``stream``, or None to keep today's fixed widths."""
    given = environ.get("COLUMNS", "").strip()
    if given.isdigit() and int(given) > 0:
        return int(given)
    if _is_terminal(stream):
        return shutil.get_terminal_size().columns
    return None


def _is_terminal(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):  # a closed or unusual stream
        return False


class LiveLines:
    """Lines for a person on ``stream``; ``progress`` lines replace each other on a terminal.

    A progress line is cut to the terminal's width less one column: a line that wrapped
    could no longer be taken back with a carriage return.
    """

    def __init__(self, stream: TextIO, *, environ: Mapping[str, str] = os.environ) -> None:
        self.stream = stream
        self.live = _is_terminal(stream)
        self.width = columns(stream, environ) if self.live else None
        self._pending = False  # a progress line is on screen, not yet ended

    def line(self, text: str) -> None:
        """A line that stays: it ends the progress line on screen (which stays too)."""
        self._end()
        self.stream.write(text + "\n")
        self.stream.flush()

    def progress(self, text: str) -> None:
        """A line that the next progress line replaces (on a terminal)."""
        if not self.live:
            self.line(text)
            return
        shown = fit(text, self.width - 1) if self.width and self.width > 1 else text
        self.stream.write(CLEAR_LINE + shown)
        self.stream.flush()
        self._pending = True

    def close(self) -> None:
        """End the progress line, if one is on screen (before an error line, say)."""
        self._end()
        self.stream.flush()

    def _end(self) -> None:
        if self._pending:
            self.stream.write("\n")
            self._pending = False
