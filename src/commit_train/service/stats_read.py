"""What ``stats`` reads: every deployment of a window, each page once, and the default branch.

There is no cap: 90,000 deploys in a quarter are 900 pages (``DeploymentLedger``), read
once from the newest back. A backend whose reads cost requests (GitHub) names a cache
(``StatsCache``): the next run reads only what is newer than the cache, and looks up again
the deployments that had not finished; the reasoning for what may be kept is in
``service.stats_cache``.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime

from commit_train.models import Commit, Deployment, DeployState
from commit_train.ports import Backend, DeploymentLedger, History, LedgerEntry
from commit_train.service.stats_cache import EVERY, Coverage, StatsCache, finished

# After the page that crosses the window's start, how many more pages a first read takes
# looking for each production environment's last success before the window (lead time
# needs to know what was live when the window opened).
MARGIN_PAGES = 10
_ALL_COMMITS = 10**9


@dataclass(frozen=True)
class Gathered:
    deployments: tuple[Deployment, ...]
    commits: tuple[Commit, ...]  # the default branch, newest first, back to what lead time needs
    pages: int = 0  # pages of deployments read from the backend
    refreshed: int = 0  # unfinished deployments looked up again
    cached: int = 0  # deployments taken from the cache without a read


@dataclass
class _Read:
    entries: list[LedgerEntry]
    pages: int
    exhausted: bool  # the ledger's oldest deployment was reached


def _read(
    ledger: DeploymentLedger,
    names: Sequence[str],
    *,
    older_than: datetime,
    production: Sequence[str] = (),
) -> _Read:
    """Pages newest first until one reaches a deployment created before ``older_than``;
    then, for ``production`` environments with no success before it yet, up to
    ``MARGIN_PAGES`` more."""
    entries: list[LedgerEntry] = []
    seen: set[int] = set()
    pages = 0
    margin: int | None = None
    looking = set(production)
    pager: Iterator[list[LedgerEntry]] = iter(ledger.deployment_pages(environments=names))
    for page in pager:
        pages += 1
        for key, deployment in page:
            if deployment.id in seen:  # a deploy created while paging shifted the pages
                continue
            seen.add(deployment.id)
            entries.append((key, deployment))
            if deployment.created_at < older_than and any(
                s.state == DeployState.SUCCESS for s in deployment.statuses
            ):
                looking.discard(deployment.environment)
        if page and page[-1][1].created_at < older_than:
            margin = MARGIN_PAGES if margin is None else margin - 1
            if not looking or margin <= 0:
                return _Read(entries, pages, exhausted=False)
    return _Read(entries, pages, exhausted=True)


def _span(read: _Read, fallback: datetime) -> Coverage:
    times = [d.created_at for _, d in read.entries]
    return Coverage(
        low=min(times, default=fallback), high=max(times, default=fallback), complete=read.exhausted
    )


def read_deployments(
    ledger: DeploymentLedger,
    *,
    environments: Sequence[str],
    since: datetime,
    production: Sequence[str] = (),
    cache: StatsCache | None = None,
) -> tuple[list[Deployment], int, int, int]:
    """(deployments back to before ``since``, pages read, refreshed, taken from the cache)."""
    names = list(dict.fromkeys(environments))
    if cache is None:
        read = _read(ledger, names, older_than=since, production=production)
        return [d for _, d in read.entries], read.pages, 0, 0
    keys = names or [EVERY]
    spans = {key: cache.coverage(key) for key in keys}
    known = {key: span for key, span in spans.items() if span is not None}
    if len(known) == len(keys) and all(s.low <= since or s.complete for s in known.values()):
        # everything from the window's start to each ``high`` is cached: read what is newer
        stop = min(s.high for s in known.values())
        read = _read(ledger, names, older_than=stop)
        now = _span(read, stop)
        covered = {
            key: Coverage(s.low, max(s.high, now.high), s.complete or read.exhausted)
            for key, s in known.items()
        }
    else:
        read = _read(ledger, names, older_than=since, production=production)
        now = _span(read, since)
        covered = {}
        for key in keys:
            old = spans[key]
            joined = old is not None and now.low <= old.high and not now.complete
            covered[key] = Coverage(
                min(now.low, old.low) if joined and old else now.low,
                now.high,
                now.complete or bool(joined and old and old.complete),
            )
    cache.store(read.entries, covered=covered)
    fresh = {d.id for _, d in read.entries}
    found = cache.deployments(names)
    settled = _overtaken(found)
    stale = [
        key
        for number, key in cache.unfinished(names, since=since)
        if number not in fresh and number not in settled
    ]
    read_again = ledger.refresh_deployments(stale) if stale else []
    if read_again:
        cache.store(read_again)
        again = {d.id: d for _, d in read_again}
        found = [again.get(d.id, d) for d in found]
    return found, read.pages, len(read_again), len(found) - len(fresh)


_STARTED = (DeployState.IN_PROGRESS, DeployState.SUCCESS, DeployState.FAILURE)


def _overtaken(deployments: Iterable[Deployment]) -> set[int]:
    """Unfinished deployments that a newer deployment of their environment has started
    after: commit-train runs one deploy of an environment at a time, newest first, and
    closes the overtaken ones as superseded, so nothing will change what ``stats`` reads
    of them (a superseded deploy never ran; one left ``in_progress`` by a runner that
    died stays unfinished). They are not looked up again."""
    newest_start: dict[str, datetime] = {}
    for d in deployments:
        if any(s.state in _STARTED for s in d.statuses):
            seen = newest_start.get(d.environment)
            if seen is None or d.created_at > seen:
                newest_start[d.environment] = d.created_at
    return {
        d.id
        for d in deployments
        if not finished(d) and d.created_at < newest_start.get(d.environment, d.created_at)
    }


def read_commits(
    history: History, wanted: Iterable[str], *, cache: StatsCache | None = None
) -> list[Commit]:
    """The default branch, newest first, back to every commit of ``wanted`` (or its end).

    With a cache holding a chain, the branch is read from its tip until it meets a cached
    commit (the commits made since the last run), and the rest comes from the cache."""
    remaining = set(wanted)
    if not remaining:
        return []
    cached = cache.commits() if cache is not None else []
    position = {c.sha: i for i, c in enumerate(cached)}
    chain: list[Commit] = []
    commits = iter(history.history(limit=_ALL_COMMITS))
    for commit in commits:
        at = position.get(commit.sha)
        if at is not None:
            chain += cached[at:]
            break
        chain.append(commit)
        remaining.discard(commit.sha)
        if not remaining and not cached:
            break
    remaining -= {c.sha for c in chain}
    if remaining:  # wanted commits older than the cached chain: read on to them
        have = {c.sha for c in chain}
        for commit in commits:
            if commit.sha not in have:
                chain.append(commit)
                have.add(commit.sha)
            remaining.discard(commit.sha)
            if not remaining:
                break
    if cache is not None:
        cache.replace_commits(chain)
    return chain


def gather(
    backend: Backend,
    *,
    environments: Sequence[str],
    since: datetime,
    production: Sequence[str] = (),
    cache: StatsCache | None = None,
) -> Gathered:
    """Every deployment of ``environments`` created since ``since`` (and a little before:
    what was live when the window opened), and the default branch back to the commits they
    made live in ``production``."""
    deployments, pages, refreshed, cached = read_deployments(
        backend, environments=environments, since=since, production=production, cache=cache
    )
    wanted = {
        d.sha
        for d in deployments
        if d.environment in production and any(s.state == DeployState.SUCCESS for s in d.statuses)
    }
    commits = read_commits(backend, wanted, cache=cache)
    return Gathered(tuple(deployments), tuple(commits), pages, refreshed, cached)
