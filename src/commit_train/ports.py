"""What the services need from the outside world, as protocols: every capability a backend
offers is one of these, and nothing asks a backend what it can do at run time.

Two backends exist: ``GitHubBackend`` (``backends/github``: commits, checks and the GitHub
Deployments ledger; refs and commit objects for locks and stale marks) and ``LocalBackend``
(``backends/local``: a plain git repository and a SQLite journal in its ``.git/``, which
also keeps the locks, the stale marks and the offline deploys). Which implementation stands
behind each port is decided once, in ``faces/wiring.py``.

Who stands behind each port:

- ``Backend``, ``History``, ``DeploymentLedger``: ``GitHubBackend``, ``LocalBackend``.
- ``LockStore``: ``service.locks.GitHubLockStore`` (logic over ``RefBackend``, which
  ``GitHubBackend`` implements); ``backends.local.locks.LocalLockStore``.
- ``StaleState``: ``service.stale.GitHubStaleState`` (over ``BranchRefs``);
  ``backends.local.marks.LocalStaleState``.
- ``CheckRecorder``, ``OfflineJournal``: ``LocalBackend`` only (on GitHub the CI reports
  checks, and GitHub itself is what an offline deploy waits for).
- ``Notifier``: ``faces.notify.WebhookNotifier``.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol

from commit_train.models import (
    BranchState,
    Check,
    Checks,
    CheckState,
    Commit,
    Deployment,
    DeploymentStatus,
    DeployState,
    GateFacts,
    JournalEntry,
    Lock,
    Notice,
    RefTarget,
    SendReport,
    Snapshot,
    Unlocked,
)


class History(Protocol):
    """The default branch's commits, newest first (``stats`` times lead times with them)."""

    def history(self, *, limit: int) -> Iterable[Commit]: ...


# A deployment as a ledger read answers it, with the key that looks it up again (GitHub:
# its node id; the local journal: its id as text).
LedgerEntry = tuple[str, Deployment]


class DeploymentLedger(Protocol):
    """Every deployment of some environments, newest first (``stats`` reads a window with it).

    ``deployment_pages`` reads each page once, from the newest deployment back, and stops
    when the caller stops iterating (GitHub: one GraphQL request and 1 point per 100
    deployments, statuses included); ``refresh_deployments`` looks some up again by key
    (GitHub: 100 a request). ``ledger_cache_key`` names where a cache of the deployments
    already read is kept (``host/owner/name``), or is None when reading is free (a local
    journal): then nothing is cached.
    """

    @property
    def ledger_cache_key(self) -> str | None: ...

    def deployment_pages(self, *, environments: Sequence[str]) -> Iterator[list[LedgerEntry]]:
        """Pages newest first (by creation); no ``environments`` means every one."""
        ...

    def refresh_deployments(self, keys: Sequence[str]) -> list[LedgerEntry]:
        """The deployments of ``keys`` as they are now; a key no longer found is left out."""
        ...


class Backend(History, DeploymentLedger, Protocol):
    """Where the default branch, its checks and the deploy ledger live."""

    @property
    def repo(self) -> str:
        """``owner/name`` (or the folder name for a local repository)."""
        ...

    @property
    def progress_url(self) -> str:
        """Where a person watches deploys happen (the repository's deployments page)."""
        ...

    def default_branch(self) -> str: ...

    def resolve(self, ref: str) -> Commit:
        """A full sha, a short sha or ``HEAD`` (the default branch's tip) to its commit.

        Raises ``NotFoundError`` for an unknown ref and ``AmbiguousRefError`` for a short sha
        matching several commits.
        """
        ...

    def on_default_branch(self, sha: str) -> bool: ...

    def checks(self, sha: str) -> Checks: ...

    def gate_facts(
        self,
        ref: str,
        *,
        environments: Sequence[str] = (),
        refs: Sequence[str] = (),
        target: str | None = None,
    ) -> GateFacts:
        """Everything the gate asks about ``ref`` at once (one GraphQL query on GitHub):
        ``resolve``, ``default_branch``, ``on_default_branch`` and ``checks`` together, the
        commit's deployments to ``environments`` (none asked, none read), the ``refs``
        that exist among those asked (a backend that keeps no refs answers none) and the
        newest deployments of environment ``target`` (``GateFacts.recent``).

        Raises what ``resolve`` raises, with the same messages.
        """
        ...

    def snapshot(self, *, limit: int, environments: Sequence[str]) -> Snapshot:
        """The newest ``limit`` commits of the default branch with checks and live deploys."""
        ...

    def create_deployment(
        self,
        *,
        sha: str,
        environment: str,
        payload: Mapping[str, Any],
        description: str,
        production: bool,
    ) -> Deployment: ...

    def add_status(
        self,
        deployment_id: int,
        *,
        state: DeployState,
        description: str = "",
        log_url: str | None = None,
        environment_url: str | None = None,
    ) -> DeploymentStatus:
        """Record a status; a ``success`` marks older successful deployments of that
        environment inactive, except production ones (GitHub's ``auto_inactive``): the live
        deployment is the newest success."""
        ...

    def get_deployment(self, deployment_id: int) -> Deployment: ...

    def deployments(self, *, environment: str | None = None, limit: int = 20) -> list[Deployment]:
        """Newest first, each with all its statuses."""
        ...

    def deployments_of(self, sha: str, *, environments: Sequence[str]) -> list[Deployment]:
        """Deployments of commit ``sha`` to any of ``environments`` (newest first), each
        with all its statuses: the promotion-order rule's one question. The newest 100, and
        more only while one of ``environments`` has none that ever succeeded, up to
        ``models.LOOK_BACK_DEPLOYMENTS``."""
        ...

    def walk_deployments(self, *, environment: str, sha: str | None = None) -> Iterator[Deployment]:
        """Every deployment of ``environment`` (of commit ``sha`` only, when given), newest
        first, each with all its statuses, read lazily a page (``models.LOOK_BACK_PAGE``)
        at a time: a caller that stops early pays only for the pages it reached
        (rollback's look back, ``sync``'s search for an earlier replay)."""
        ...


class Notifier(Protocol):
    """Tells people about a notice; a failure to tell is a warning, never an error."""

    def send(self, notice: Notice) -> SendReport: ...


class CheckRecorder(Protocol):
    """Where a check result can be recorded by hand: a plain repository, which no CI
    reports to (``commit-train record-check``). On GitHub the CI reports its own."""

    def record_check(
        self,
        sha: str,
        name: str,
        state: str | CheckState,
        *,
        description: str | None = None,
        url: str | None = None,
    ) -> Check:
        """Record one check attempt on a commit; the newest attempt of a name wins."""
        ...


class RefBackend(Protocol):
    """Refs and commit objects of the repository (on GitHub: the git database API), which
    the lock store and the stale marks are kept in."""

    def create_ref(self, ref: str, sha: str) -> bool:
        """Create ``ref`` at ``sha``: True if created, False if the ref already exists."""
        ...

    def update_ref(self, ref: str, sha: str, *, force: bool = False) -> bool:
        """Move ``ref`` to ``sha``; without ``force`` only as a fast-forward. False when
        refused (the ref moved meanwhile)."""
        ...

    def create_commit(self, message: str, *, parents: Sequence[str] = ()) -> str:
        """A commit object with no files, only ``message``: its sha."""
        ...

    def read_refs(self, refs: Sequence[str]) -> dict[str, RefTarget]:
        """The refs that exist among ``refs``, each with its commit's message."""
        ...


class BranchRefs(RefBackend, Protocol):
    """Refs, and the default branch read together with them (a stale scan's one query)."""

    def branch_state(
        self, *, environments: Sequence[str], refs: Sequence[str], limit: int = 100
    ) -> BranchState: ...


class LockStore(Protocol):
    """Where locks live; ``models`` holds the rules every store follows (``claim_lock``,
    ``check_unlock``)."""

    def acquire(
        self, environment: str, *, holder: str, reason: str, ttl: float | None = None
    ) -> Lock:
        """Take the lock, or raise ``RefusedError`` (reason ``locked``) naming the holder.

        Taking a lock one already holds refreshes nothing and answers the held lock.
        """
        ...

    def release(
        self, environment: str, *, by: str, force: bool = False, reason: str = ""
    ) -> Unlocked:
        """End the lock: the holder, or anyone with ``force`` and a ``reason``."""
        ...

    def current(self, environments: Sequence[str]) -> list[Lock]:
        """The locks of ``environments`` and the global one, expired ones included."""
        ...

    def refs_in(self, backend: object, environments: Sequence[str]) -> list[str] | None:
        """The refs holding these locks when they live in ``backend``'s repository, so a
        caller can read them with other facts in the same request (the gate's one query)
        and hand what it found to ``from_refs``; None when the locks live elsewhere (then
        ask ``current``)."""
        ...

    def from_refs(self, environments: Sequence[str], found: Mapping[str, RefTarget]) -> list[Lock]:
        """``current`` over the refs of ``refs_in`` already read (``found``: those that
        exist); a store without refs reads its own place."""
        ...


class StaleState(Protocol):
    """What a stale-commit scan reads at once, and where it keeps its marks (the newest
    commit already reminded, per environment)."""

    def read(
        self, environments: Sequence[str], *, limit: int
    ) -> tuple[BranchState, list[Lock], dict[str, str]]:
        """(the default branch's newest ``limit`` commits with each environment's live
        deployment, the locks, environment -> mark sha)."""
        ...

    def set_mark(self, environment: str, sha: str, *, exists: bool) -> None: ...


class OfflineJournal(Backend, Protocol):
    """A ledger on this machine that records deploys while GitHub is down (the local
    journal), and remembers how far each reached GitHub once ``sync`` replays it."""

    @property
    def journal_path(self) -> Path: ...

    def offline_entries(self) -> list[JournalEntry]:
        """Every offline deploy of the journal, oldest first, with how far it got."""
        ...

    def claim_sync(self, deployment_id: int, *, by: str) -> JournalEntry | None:
        """Claim an offline deploy for the ``sync`` run ``by``: its entry as it stands
        once claimed, or None while another live run holds it."""
        ...

    def release_sync(self, deployment_id: int, *, by: str) -> None:
        """End run ``by``'s claim on an offline deploy."""
        ...

    def note_synced(self, deployment_id: int, *, github_id: int, statuses_synced: int) -> None:
        """Remember that deployment ``deployment_id`` is ``github_id`` on GitHub and that
        its first ``statuses_synced`` replayable statuses are there."""
        ...
