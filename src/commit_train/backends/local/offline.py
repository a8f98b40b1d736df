"""The journal's side of offline deploys: which of them reached GitHub, and how far.

An offline deploy is a journal deployment whose payload says ``"offline": true``
(``service.offline.offline_deploy``). ``sync`` replays it into GitHub and notes here, in
the ``journal_sync`` table, the GitHub id it got and how many of its statuses GitHub holds.

Before replaying one, a ``sync`` run claims it (``sync_claims``): one row per deploy being
replayed, taken in a write transaction, so of two runs at once only one replays it. A claim
older than ``CLAIM_TTL`` is taken over (its run died); the nonce search of ``sync`` then
finds whatever that run got onto GitHub.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

from commit_train.backends.local.journal import Journal, stamp
from commit_train.models import Deployment, JournalEntry, iso_utc

# A replay is a handful of requests; with every retry and wait the transport allows it stays
# well under this. A claim older than this belonged to a run that died.
CLAIM_TTL = timedelta(minutes=15)
_ENTRIES = (
    "SELECT d.id, s.github_id, s.statuses_synced, d.production FROM deployments d"
    " LEFT JOIN journal_sync s ON s.deployment_id = d.id"
    " WHERE json_extract(d.payload, '$.offline') = 1"
)


def entries(journal: Journal, deployment: Callable[[int], Deployment]) -> list[JournalEntry]:
    """Every offline deploy of the journal, oldest first; ``deployment`` reads one by id."""
    with journal.reading() as conn:
        if conn is None:
            return []
        rows = conn.execute(_ENTRIES + " ORDER BY d.id").fetchall()
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


def claim(
    journal: Journal,
    deployment: Callable[[int], Deployment],
    deployment_id: int,
    *,
    by: str,
    at: datetime,
) -> JournalEntry | None:
    """Claim offline deploy ``deployment_id`` for the ``sync`` run ``by``: its entry as it
    stands once claimed (another run may have replayed it meanwhile), or None while
    another run's claim on it is younger than ``CLAIM_TTL``."""
    with journal.transaction() as conn:
        held = conn.execute(
            "SELECT claimed_by, claimed_at FROM sync_claims WHERE deployment_id = ?",
            (deployment_id,),
        ).fetchone()
        if held is not None and held[0] != by and held[1] > stamp(at - CLAIM_TTL):
            return None
        conn.execute(
            "INSERT INTO sync_claims (deployment_id, claimed_by, claimed_at) VALUES (?, ?, ?)"
            " ON CONFLICT (deployment_id) DO UPDATE SET"
            " claimed_by = excluded.claimed_by, claimed_at = excluded.claimed_at",
            (deployment_id, by, stamp(at)),
        )
        row = conn.execute(_ENTRIES + " AND d.id = ?", (deployment_id,)).fetchone()
    if row is None:
        return None
    dep_id, github_id, synced, production = row
    return JournalEntry(deployment(int(dep_id)), github_id, int(synced or 0), bool(production))


def release(journal: Journal, deployment_id: int, *, by: str) -> None:
    """End run ``by``'s claim on ``deployment_id`` (no-op when it holds none)."""
    with journal.transaction() as conn:
        conn.execute(
            "DELETE FROM sync_claims WHERE deployment_id = ? AND claimed_by = ?",
            (deployment_id, by),
        )
