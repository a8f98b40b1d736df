"""Stopping a run cleanly when the process is told to stop.

A deploy that is waiting for its rollout when a person closes the terminal (SIGHUP), a
supervisor stops it (SIGTERM) or someone presses Ctrl-C (SIGINT; GitHub Actions sends
SIGINT first when a run is cancelled, then SIGTERM 7.5 s later, then SIGKILL 2.5 s after
that) must not leave its deployment ``in_progress``. ``stopping_on_signals`` installs a
handler for those signals around one run only and puts the previous handlers back after
it. The handler raises ``errors.Stopped`` in the main thread; the run unwinds, the
pipeline records ``error`` "stopped by SIGTERM" within ``GRACE`` seconds, and the block
ends in ``StoppedError`` (one line, exit 128 + the signal's number). A second signal while
that status is written is ignored: the write is bounded already. SIGKILL cannot be
caught; ``commit-train sweep`` and the next deploy close what it leaves
(``service.abandon``).
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType
from typing import Any

from commit_train.errors import Stopped, StoppedError

GRACE = 5.0
"""Seconds the final status write may take after a signal (Actions allows 7.5 s after
SIGINT before it sends SIGTERM)."""

SIGNAL_NAMES = ("SIGTERM", "SIGHUP", "SIGINT")


@contextmanager
def stopping_on_signals(*, grace: float = GRACE) -> Iterator[None]:
    """Within this block, SIGTERM, SIGHUP and SIGINT stop the run as ``Stopped`` and the
    block raises ``StoppedError``. Outside the main thread (where Python delivers no
    signals) it does nothing."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    received: list[int] = []

    def handler(number: int, _frame: FrameType | None) -> None:
        if received:  # already stopping: let the bounded status write finish
            return
        received.append(number)
        raise Stopped(signal.Signals(number).name, number, grace=grace)

    previous: dict[signal.Signals, Any] = {}
    for name in SIGNAL_NAMES:
        number = getattr(signal, name, None)  # no SIGHUP on Windows
        if number is not None:
            previous[number] = signal.signal(number, handler)
    try:
        yield
    except Stopped as stopped:
        raise StoppedError(stopped) from None
    finally:
        for number, old in previous.items():
            signal.signal(number, old)
