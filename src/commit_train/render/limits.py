"""Budgets for rendering: templates come from a repository, so a template is untrusted code.

Jinja's sandbox already stops attribute tricks and ranges over ``MAX_RANGE`` items; this adds
what it leaves to the application (``jinja2.sandbox.SandboxedEnvironment.call_binop`` and
``intercepted_binops``, as Jinja's sandbox docs suggest):

* ``a ** b`` whose result would have more than :data:`MAX_POWER_BITS` bits, and ``s * n``
  (a string or list repeated) past :data:`MAX_REPEAT` items, are refused before they are
  computed (``n ** (n ** 8)`` would otherwise run for hours). The operators are intercepted,
  so constant folding at compile time does not compute them either.
* a time budget for the whole render (:attr:`RenderBudget.seconds`), checked at every piece
  of output, every 1024 steps of a ``range``, and, on the main thread, by a timer signal
  that interrupts even a loop that yields nothing;
* an output budget (:attr:`RenderBudget.output_chars`), checked at every piece of output.

A budget that runs out raises :class:`BudgetExceeded`; the render names the template.
"""

from __future__ import annotations

import contextlib
import math
import signal
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from jinja2.exceptions import SecurityError
from jinja2.runtime import Context
from jinja2.sandbox import ImmutableSandboxedEnvironment, safe_range

MAX_POWER_BITS = 4096
"""The largest power a template may compute, in bits (about 1200 decimal digits)."""

MAX_REPEAT = 1_000_000
"""The longest string or list ``*`` may make, in characters or items."""

_TICK = 1024  # range steps between two looks at the clock


@dataclass(frozen=True)
class RenderBudget:
    """How long one render may take and how much text it may make, all templates together."""

    seconds: float = 60.0
    output_chars: int = 32 * 1024 * 1024


class BudgetExceeded(Exception):
    """The render ran out of time or output; ``problem`` and ``fix`` are for the user."""

    def __init__(self, problem: str, fix: str) -> None:
        super().__init__(problem)
        self.problem = problem
        self.fix = fix


def _seconds_text(seconds: float) -> str:
    return f"{seconds:g}s"


class Meter:
    """One render's spending: the clock and the output so far."""

    def __init__(self, budget: RenderBudget, clock: Any = time.monotonic) -> None:
        self.budget = budget
        self.clock = clock
        self.deadline = clock() + budget.seconds
        self.output = 0

    def out_of_time(self) -> BudgetExceeded:
        return BudgetExceeded(
            f"rendering took longer than {_seconds_text(self.budget.seconds)}",
            "templates must render in seconds: look for loops over huge ranges",
        )

    def check_time(self) -> None:
        if self.clock() > self.deadline:
            raise self.out_of_time()

    def add_output(self, chars: int) -> None:
        self.output += chars
        if self.output > self.budget.output_chars:
            limit = self.budget.output_chars
            raise BudgetExceeded(
                f"rendered more than {limit} characters",
                f"a render must stay under {limit} characters: look for loops that repeat output",
            )
        self.check_time()

    @contextlib.contextmanager
    def alarm(self) -> Iterator[None]:
        """Interrupt whatever runs past the deadline, where a timer signal can: on the main
        thread, when no other timer is set. Elsewhere the checks above are the budget."""
        usable = (
            hasattr(signal, "setitimer")
            and threading.current_thread() is threading.main_thread()
            and signal.getitimer(signal.ITIMER_REAL) == (0.0, 0.0)
        )
        if not usable:
            yield
            return

        def expired(_signum: int, _frame: Any) -> None:
            raise self.out_of_time()

        remaining = max(0.001, self.deadline - self.clock())
        previous = signal.signal(signal.SIGALRM, expired)
        signal.setitimer(signal.ITIMER_REAL, remaining)
        try:
            yield
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, previous)


class _Steps:
    """A sandbox ``range`` that looks at the clock as it is walked (nested loops over
    ``range(100000)`` yield nothing for a long time); otherwise the range itself."""

    def __init__(self, steps: range, meter: Meter) -> None:
        self._steps = steps
        self._meter = meter

    def __iter__(self) -> Iterator[int]:
        for index, value in enumerate(self._steps):
            if index % _TICK == 0:
                self._meter.check_time()
            yield value

    def __len__(self) -> int:
        return len(self._steps)

    def __getitem__(self, index: Any) -> Any:
        return self._steps[index]

    def __contains__(self, value: object) -> bool:
        return value in self._steps

    def __reversed__(self) -> Iterator[int]:
        return reversed(self._steps)

    def __repr__(self) -> str:
        return repr(self._steps)


def _too_large_power(base: Any, exponent: Any) -> bool:
    if not (isinstance(base, int) and isinstance(exponent, int)):
        return False  # floats overflow on their own, quickly
    if exponent <= 0 or abs(base) <= 1:
        return False
    if exponent > MAX_POWER_BITS:  # |base| >= 2: at least one bit per step
        return True
    return exponent * math.log2(abs(base)) > MAX_POWER_BITS


def _too_long_repeat(left: Any, right: Any) -> bool:
    for items, times in ((left, right), (right, left)):
        if isinstance(items, str | bytes | list | tuple) and isinstance(times, int):
            return len(items) * times > MAX_REPEAT
    return False


class LimitedSandbox(ImmutableSandboxedEnvironment):
    """Jinja's immutable sandbox that also refuses huge powers and repeats, and whose
    ``range`` keeps to the render's time budget (see the module's docstring)."""

    intercepted_binops = frozenset({"**", "*"})

    def __init__(self, *args: Any, meter: Meter, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.meter = meter
        self.globals["range"] = self._range

    def _range(self, *args: int) -> _Steps:
        return _Steps(safe_range(*args), self.meter)

    def call_binop(self, context: Context, operator: str, left: Any, right: Any) -> Any:
        if operator == "**" and _too_large_power(left, right):
            raise SecurityError(f"a power too large (over {MAX_POWER_BITS} bits)")
        if operator == "*" and _too_long_repeat(left, right):
            raise SecurityError(f"a repeat too long (over {MAX_REPEAT} items)")
        return super().call_binop(context, operator, left, right)
