"""Deploy statistics: DORA's four keys and who deploys, as numbers and charts.

``compute`` is a pure function over deployments and the default branch's commits; ``gather``
(``service.stats_read``) is the one place that reads them from a backend, through the cache
of ``service.stats_cache``. The renderers (``render_table``, ``stats_json``, ``mermaid``,
and ``service.stats_chart.render_svg``) return text and never print.

The definitions follow DORA's (the State of DevOps reports, 2023 and 2024; dora.dev's
"DORA's software delivery metrics: the four keys"); ``docs/stats.md`` is the user's
reference:

deployment frequency
    How often each environment is deployed: deploy requests, and successful deploys, per
    UTC day and over the window (its length in days, not the count of calendar days it
    touches). A deploy counts on the day it was asked for: an offline deploy on its
    ``recorded_at``, not on the day ``sync`` copied it to GitHub.
change failure rate
    Per environment: failed deploys / finished deploys. A deploy's outcome is its first
    finishing status: ``success``, or ``failure`` (failed) after it started
    (``in_progress``). A deploy that never started (superseded while queued), retired
    (``inactive``) without ever finishing, or still running, is not counted; nor is one
    that ended ``error``: its surroundings broke (the cluster unreachable, GitHub down,
    credentials refused), not the change, so it is neither a change nor an incident.
lead time for changes
    For each commit of the default branch, from its commit time to the first moment it was
    live in a production environment (``production: true``): the success of a deploy of that
    commit or of a newer one (a deploy carries every commit since the last one live). Each
    commit counts once, in the window its first success falls in; the median is reported.
    Rolling back makes nothing new live.
failed deployment recovery time
    Per production environment: from a failed deploy (its failing status) to the next
    successful deploy of that environment (its success status). Failures in a row are one
    incident, timed from the first. Incidents opened in the window count; the median is
    over those restored.
deploys per person
    By ``requested_by`` (the payload's, else the API creator), per day and on average.

No duration is negative: a commit dated after the deploy that made it live (a committer's
clock ahead) counts as 0 seconds, and the count of such clamped durations is reported.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from commit_train.core.text import duration
from commit_train.models import Commit, Deployment, DeployState, iso_utc, parse_time
from commit_train.service.stats_read import Gathered, gather

__all__ = [
    "Gathered",
    "Stats",
    "compute",
    "gather",
    "mermaid",
    "outcome",
    "render_table",
    "requested_at",
    "stats_json",
]

JSON_VERSION = 2

_FAILED = (DeployState.FAILURE, DeployState.ERROR)


# -- the numbers --------------------------------------------------------------------------------


@dataclass(frozen=True)
class EnvironmentStats:
    environment: str
    production: bool
    per_day: tuple[int, ...]  # deploy requests, one per day of ``Stats.days``
    succeeded_per_day: tuple[int, ...]  # of those, the ones that succeeded
    failed_per_day: tuple[int, ...]  # ... and the ones that failed
    window_days: float = 1.0  # the window's length in days

    @property
    def deploys(self) -> int:
        return sum(self.per_day)

    @property
    def succeeded(self) -> int:
        return sum(self.succeeded_per_day)

    @property
    def failed(self) -> int:
        return sum(self.failed_per_day)

    @property
    def finished(self) -> int:
        return self.succeeded + self.failed

    @property
    def deploys_per_day(self) -> float:
        return self.deploys / self.window_days

    @property
    def successes_per_day(self) -> float:
        """DORA's deployment frequency, for a production environment."""
        return self.succeeded / self.window_days

    @property
    def change_failure_rate(self) -> float | None:
        """Failed / finished, or None when nothing finished."""
        return self.failed / self.finished if self.finished else None


@dataclass(frozen=True)
class PersonStats:
    person: str
    per_day: tuple[int, ...]
    window_days: float = 1.0

    @property
    def deploys(self) -> int:
        return sum(self.per_day)

    @property
    def mean_per_day(self) -> float:
        return self.deploys / self.window_days


@dataclass(frozen=True)
class LeadTime:
    commits: int  # commits first live in production within the window
    median_seconds: float | None
    clamped: int = 0  # commits dated after they went live, counted as 0 seconds


@dataclass(frozen=True)
class RecoveryTime:
    """DORA's failed deployment recovery time (formerly "time to restore service")."""

    incidents: int  # failed production deploys opening an incident within the window
    restored: int
    median_seconds: float | None
    clamped: int = 0


@dataclass(frozen=True)
class Stats:
    repo: str
    since: datetime
    until: datetime
    days: tuple[date, ...]
    environments: tuple[EnvironmentStats, ...]
    lead_time: LeadTime
    recovery_time: RecoveryTime
    people: tuple[PersonStats, ...]

    @property
    def deploys(self) -> int:
        return sum(e.deploys for e in self.environments)

    @property
    def window_days(self) -> float:
        return window_days(self.since, self.until)


def window_days(since: datetime, until: datetime) -> float:
    """The window's length in days (at least one second's worth)."""
    return max((until - since).total_seconds(), 1.0) / 86400


def _clamped(values: Iterable[float]) -> tuple[list[float], int]:
    """``values`` with every negative one made 0, and how many were."""
    kept = list(values)
    negative = sum(1 for v in kept if v < 0)
    return [max(v, 0.0) for v in kept], negative


def requested_at(deployment: Deployment) -> datetime:
    """When a deploy was asked for: an offline deploy's ``recorded_at``, else its creation."""
    text = deployment.payload.get("recorded_at") if deployment.payload.get("offline") else None
    if isinstance(text, str):
        try:
            return parse_time(text)
        except ValueError:
            pass
    return deployment.created_at


def outcome(deployment: Deployment) -> tuple[DeployState, datetime] | None:
    """The first finishing status (``success``, ``failure`` or ``error``) and its time.

    A ``failure`` or ``error`` counts only after the deploy started (an ``in_progress``
    status before it): one that never started (superseded by a newer deploy, refused
    before it ran) changed nothing, so it has no outcome."""
    started = False
    for status in deployment.statuses:
        if status.state == DeployState.IN_PROGRESS:
            started = True
        elif status.state == DeployState.SUCCESS:
            return status.state, status.created_at
        elif status.state in _FAILED:
            return (status.state, status.created_at) if started else None
    return None


def days_between(since: datetime, until: datetime) -> tuple[date, ...]:
    """Every UTC day from ``since``'s to ``until``'s, both included."""
    first, last = since.astimezone(UTC).date(), until.astimezone(UTC).date()
    return tuple(first + timedelta(days=i) for i in range((last - first).days + 1))


def compute(
    deployments: Iterable[Deployment],
    commits: Sequence[Commit],
    *,
    environments: Mapping[str, bool],
    since: datetime,
    until: datetime,
    repo: str = "",
) -> Stats:
    """The statistics of the deploys asked for in ``[since, until)``.

    ``environments`` maps each environment to report (in order) to whether it is a
    production one; empty means every environment seen, none of them production.
    ``deployments`` may reach before ``since`` (what was live before the window matters for
    lead time); ``commits`` is the default branch, newest first.
    """
    every = list(deployments)
    if not environments:
        environments = {d.environment: False for d in sorted(every, key=lambda d: d.environment)}
    days = days_between(since, until)
    first_day = days[0]
    length = window_days(since, until)

    def in_window(when: datetime) -> bool:
        return since <= when < until

    def day_index(when: datetime) -> int:
        return (when.astimezone(UTC).date() - first_day).days

    chosen = [d for d in every if d.environment in environments]
    windowed = [d for d in chosen if in_window(requested_at(d))]

    env_stats = []
    for name, production in environments.items():
        per_day = [0] * len(days)
        succeeded = [0] * len(days)
        failed = [0] * len(days)
        for dep in windowed:
            if dep.environment != name:
                continue
            day = day_index(requested_at(dep))
            per_day[day] += 1
            result = outcome(dep)
            if result is not None:
                if result[0] == DeployState.SUCCESS:
                    succeeded[day] += 1
                elif result[0] == DeployState.FAILURE:
                    failed[day] += 1
        env_stats.append(
            EnvironmentStats(
                name, production, tuple(per_day), tuple(succeeded), tuple(failed), length
            )
        )

    people: dict[str, list[int]] = {}
    for dep in windowed:
        counts = people.setdefault(dep.requested_by or "unknown", [0] * len(days))
        counts[day_index(requested_at(dep))] += 1
    person_stats = sorted(
        (PersonStats(who, tuple(counts), length) for who, counts in people.items()),
        key=lambda p: (-p.deploys, p.person),
    )

    production_names = {name for name, production in environments.items() if production}
    production_deploys = [d for d in chosen if d.environment in production_names]
    return Stats(
        repo=repo,
        since=since,
        until=until,
        days=days,
        environments=tuple(env_stats),
        lead_time=_lead_time(production_deploys, commits, in_window),
        recovery_time=_recovery_time(production_deploys, in_window),
        people=tuple(person_stats),
    )


def _lead_time(
    deployments: Sequence[Deployment],
    commits: Sequence[Commit],
    in_window: Callable[[datetime], bool],
) -> LeadTime:
    position = {c.sha: i for i, c in enumerate(commits)}  # 0 is the newest
    successes = sorted(
        (result[1], dep.id, dep.sha)
        for dep in deployments
        if (result := outcome(dep)) is not None and result[0] == DeployState.SUCCESS
    )
    newest_live: int | None = None
    leads: list[float] = []
    for when, _id, sha in successes:
        index = position.get(sha)
        if index is None:
            continue
        if newest_live is None:
            # nothing known live before: only this commit is known to go live now
            fresh = [index]
        elif index < newest_live:
            fresh = list(range(index, newest_live))
        else:  # a rollback, or a commit already live
            continue
        newest_live = index if newest_live is None else min(newest_live, index)
        if in_window(when):
            leads.extend((when - commits[i].committed_at).total_seconds() for i in fresh)
    kept, clamped = _clamped(leads)
    return LeadTime(len(kept), statistics.median(kept) if kept else None, clamped)


def _recovery_time(
    deployments: Sequence[Deployment], in_window: Callable[[datetime], bool]
) -> RecoveryTime:
    incidents = 0
    durations: list[float] = []
    by_environment: dict[str, list[tuple[datetime, int, DeployState]]] = {}
    for dep in deployments:
        result = outcome(dep)
        if result is not None:
            by_environment.setdefault(dep.environment, []).append((result[1], dep.id, result[0]))
    for events in by_environment.values():
        opened: datetime | None = None
        for when, _id, state in sorted(events):
            if state == DeployState.ERROR:
                continue  # the surroundings broke, not the change: no incident
            if state == DeployState.FAILURE:
                if opened is None:
                    opened = when
                    incidents += 1 if in_window(when) else 0
            elif opened is not None:
                if in_window(opened):
                    durations.append((when - opened).total_seconds())
                opened = None
    kept, clamped = _clamped(durations)
    return RecoveryTime(incidents, len(kept), statistics.median(kept) if kept else None, clamped)


# -- rendering ------------------------------------------------------------------------------------


def _percent(rate: float | None) -> str:
    return "-" if rate is None else f"{rate * 100:.0f}%"


def _rate(value: float) -> str:
    return f"{value:.1f}" if value < 100 else f"{value:,.0f}"


def _table(rows: list[list[str]]) -> list[str]:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in rows]


def _clamp_note(clamped: int) -> str:
    return f" ({clamped} negative counted as 0)" if clamped else ""


def render_table(stats: Stats) -> str:
    """The human report of ``commit-train stats``."""
    days = stats.window_days
    head = stats.repo + ": " if stats.repo else ""
    span = f"{days:.0f}" if abs(days - round(days)) < 0.05 else f"{days:.1f}"
    lines = [
        f"{head}{stats.deploys:,} deploys from {stats.days[0]} to {stats.days[-1]} ({span} days)",
        "",
    ]
    rows = [["ENVIRONMENT", "DEPLOYS", "PER DAY", "SUCCEEDED", "FAILED", "CHANGE FAILURE RATE"]]
    for env in stats.environments:
        rows.append(
            [
                env.environment,
                f"{env.deploys:,}",
                _rate(env.deploys_per_day),
                f"{env.succeeded:,}",
                f"{env.failed:,}/{env.finished:,}",
                _percent(env.change_failure_rate),
            ]
        )
    lines += _table(rows)
    lead, recovery = stats.lead_time, stats.recovery_time
    production = [env for env in stats.environments if env.production]
    if production:
        frequency = sum(env.succeeded for env in production) / days
        lines += [
            "",
            f"deployment frequency, production: {_rate(frequency)} successful deploys a day",
            f"lead time for changes, commit to live in production: median "
            f"{duration(lead.median_seconds)} over {lead.commits:,} "
            f"commit{'' if lead.commits == 1 else 's'}" + _clamp_note(lead.clamped),
            f"failed deployment recovery time, production: median "
            f"{duration(recovery.median_seconds)} over {recovery.restored:,} of "
            f"{recovery.incidents:,} incident{'' if recovery.incidents == 1 else 's'} restored"
            + _clamp_note(recovery.clamped),
        ]
    if stats.people:
        lines.append("")
        people = [["PERSON", "DEPLOYS", "PER DAY", "BUSIEST DAY"]]
        for person in stats.people:
            most = max(person.per_day)
            busiest = stats.days[person.per_day.index(most)]
            people.append(
                [person.person, f"{person.deploys:,}", _rate(person.mean_per_day), f"{busiest}"]
            )
        lines += _table(people)
    return "\n".join(lines)


def stats_json(stats: Stats) -> dict[str, Any]:
    """``commit-train stats --json``, version 2 (documented in docs/stats.md)."""
    return {
        "version": JSON_VERSION,
        "repo": stats.repo,
        "since": iso_utc(stats.since),
        "until": iso_utc(stats.until),
        "window_days": stats.window_days,
        "days": [d.isoformat() for d in stats.days],
        "deploys": stats.deploys,
        "environments": [
            {
                "name": e.environment,
                "production": e.production,
                "deploys": e.deploys,
                "deploys_per_day": e.deploys_per_day,
                "successes_per_day": e.successes_per_day,
                "per_day": list(e.per_day),
                "succeeded_per_day": list(e.succeeded_per_day),
                "failed_per_day": list(e.failed_per_day),
                "succeeded": e.succeeded,
                "failed": e.failed,
                "change_failure_rate": e.change_failure_rate,
            }
            for e in stats.environments
        ],
        "lead_time": {
            "commits": stats.lead_time.commits,
            "median_seconds": stats.lead_time.median_seconds,
            "clamped": stats.lead_time.clamped,
        },
        "recovery_time": {
            "incidents": stats.recovery_time.incidents,
            "restored": stats.recovery_time.restored,
            "median_seconds": stats.recovery_time.median_seconds,
            "clamped": stats.recovery_time.clamped,
        },
        "people": [
            {
                "person": p.person,
                "deploys": p.deploys,
                "per_day": list(p.per_day),
                "mean_per_day": p.mean_per_day,
            }
            for p in stats.people
        ],
    }


def mermaid(stats: Stats) -> str:
    """Markdown for a job summary: one Mermaid ``xychart-beta`` bar chart per environment,
    bars per day, week, month or quarter (at most 60, as the SVG chart's).

    Mermaid's xy charts have no legend, so each environment gets its own titled chart.
    """
    from commit_train.service.stats_chart import buckets

    spans = buckets(stats.days)
    labels = ", ".join(f'"{b.label}"' for b in spans.spans)
    blocks = []
    for env in stats.environments:
        counts = [sum(env.per_day[b.first : b.last + 1]) for b in spans.spans]
        top = max(1, *counts)
        title = env.environment.replace('"', "'")
        blocks.append(
            "```mermaid\n"
            "xychart-beta\n"
            f'    title "{title}: deploys per {spans.unit}"\n'
            f"    x-axis [{labels}]\n"
            f'    y-axis "deploys" 0 --> {top}\n'
            f"    bar [{', '.join(str(n) for n in counts)}]\n"
            "```\n"
        )
    return "\n".join(blocks)
