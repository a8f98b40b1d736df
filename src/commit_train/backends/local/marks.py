"""``LocalStaleState``: what a stale-commit scan reads in a plain repository, and its marks.

The history and the live deployments come from the backend's snapshot, the locks from the
journal's lock store, and the marks (the newest commit already reminded, per environment)
from the journal's ``stale_marks`` table (``ports.StaleState``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from commit_train.backends.local.backend import LocalBackend
from commit_train.backends.local.locks import LocalLockStore
from commit_train.models import BranchState, Lock

if TYPE_CHECKING:
    from commit_train.ports import StaleState


class LocalStaleState:
    """Marks in the local journal's ``stale_marks`` table."""

    def __init__(self, backend: LocalBackend) -> None:
        self._backend = backend
        self._journal = backend.journal

    def read(
        self, environments: Sequence[str], *, limit: int
    ) -> tuple[BranchState, list[Lock], dict[str, str]]:
        snapshot = self._backend.snapshot(limit=limit, environments=list(environments))
        state = BranchState(
            default_branch=snapshot.default_branch,
            commits=tuple(row.commit for row in snapshot.commits),
            live=snapshot.live,
            refs={},
        )
        locks = LocalLockStore(self._journal).current(environments)
        marks: dict[str, str] = {}
        with self._journal.reading() as conn:
            if conn is not None:
                rows = conn.execute("SELECT environment, sha FROM stale_marks").fetchall()
                marks = {env: sha for env, sha in rows}
        return state, locks, marks

    def set_mark(self, environment: str, sha: str, *, exists: bool) -> None:
        with self._journal.transaction() as conn:
            conn.execute(
                "INSERT INTO stale_marks (environment, sha) VALUES (?, ?)"
                " ON CONFLICT (environment) DO UPDATE SET sha = excluded.sha",
                (environment, sha),
            )


if TYPE_CHECKING:  # mypy proves the marks fit their port

    def _fits_the_port(state: LocalStaleState) -> StaleState:
        return state
