"""The journal's side of offline deploys: which of them reached GitHub, and how far.

An offline deploy is a journal deployment whose payload says ``"offline": true``
(``service.offline.offline_deploy``). ``sync`` replays it into GitHub and notes here, in
the ``journal_sync`` table, the GitHub id it got and how many of its statuses GitHub holds.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from commit_train.backends.local.journal import Journal
from commit_train.models import Deployment, JournalEntry, iso_utc


def entries(journal: Journal, deployment: Callable[[int], Deployment]) -> list[JournalEntry]:
    """Every offline deploy of the journal, oldest first; ``deployment`` reads one by id."""
    with journal.reading() as conn:
        if conn is None:
            return []
        rows = conn.execute(
            "SELECT d.id, s.github_id, s.statuses_synced, d.production FROM deployments d"
            " LEFT JOIN journal_sync s ON s.deployment_id = d.id"
            " WHERE json_extract(d.payload, '$.offline') = 1 ORDER BY d.id"
        ).fetchall()
    return [
        JournalEntry(deployment(int(dep_id)), github_id, int(synced or 0), bool(production))
        for dep_id, github_id, synced, production in rows
    ]


def note(
    journal: Journal, deployment_id: int, *, github_id: int, statuses_synced: int, at: datetime
) -> None:
    """Remember that ``deployment_id`` is ``github_id`` on GitHub with ``statuses_synced``
    of its statuses there."""
    with journal.transaction() as conn:
        conn.execute(
            "INSERT INTO journal_sync (deployment_id, github_id, statuses_synced, synced_at)"
            " VALUES (?, ?, ?, ?) ON CONFLICT (deployment_id) DO UPDATE SET"
            " github_id = excluded.github_id,"
            " statuses_synced = excluded.statuses_synced,"
            " synced_at = excluded.synced_at",
            (deployment_id, github_id, statuses_synced, iso_utc(at, "seconds")),
        )
