"""Deploy statistics: how often, how safely, how fast, by whom; as numbers and charts.

``compute`` is a pure function over deployments and the default branch's commits; ``gather``
is the one place that reads them from a backend. The renderers (``render_table``,
``stats_json``, ``render_svg``, ``mermaid``) return text and never print.

What each number means (``docs/stats.md`` is the user's reference):

deploys per day
    Deploy requests per UTC day and environment, whatever became of them. A deploy counts
    on the day it was asked for: an offline deploy on its ``recorded_at``, not on the day
    ``sync`` copied it to GitHub.
change failure rate
    Per environment: failed deploys / finished deploys. A deploy's outcome is its first
    finishing status: ``success``, or ``failure`` (failed) after it started
    (``in_progress``). A deploy that never started (superseded while queued), retired
    (``inactive``) without ever finishing, or still running, is not counted; nor is one
    that ended ``error``: its surroundings broke (the cluster unreachable, GitHub down,
    credentials refused), not the change, so it is neither a change nor an incident.
lead time
    For each commit of the default branch, from its commit time to the first moment it was
    live in a production environment (``production: true``): the success of a deploy of that
    commit or of a newer one (a deploy carries every commit since the last one live). Each
    commit counts once, in the window its first success falls in; the median is reported.
    Rolling back makes nothing new live.
time to restore
    Per production environment: from a failed deploy that started (its failing status) to the next
    successful deploy of that environment (its success status). Failures in a row are one
    incident, timed from the first. Incidents opened in the window count; the mean is over
    those restored.
deploys per person
    By ``requested_by`` (the payload's, else the API creator), per day and on average.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any
from xml.sax.saxutils import escape, quoteattr

from commit_train.core.text import duration, plural
from commit_train.models import Commit, Deployment, DeployState, iso_utc, parse_time
from commit_train.ports import Backend

JSON_VERSION = 1
COMMIT_LIMIT = 2000  # how far back ``gather`` reads the default branch for lead times
DEPLOYMENT_LIMIT = 5000  # per environment
_FIRST_READ = 100

_FAILED = (DeployState.FAILURE, DeployState.ERROR)


# -- the numbers --------------------------------------------------------------------------------


@dataclass(frozen=True)
class EnvironmentStats:
    environment: str
    production: bool
    per_day: tuple[int, ...]  # deploy requests, one per day of ``Stats.days``
    succeeded: int
    failed: int

    @property
    def deploys(self) -> int:
        return sum(self.per_day)

    @property
    def finished(self) -> int:
        return self.succeeded + self.failed

    @property
    def change_failure_rate(self) -> float | None:
        """Failed / finished, or None when nothing finished."""
        return self.failed / self.finished if self.finished else None


@dataclass(frozen=True)
class PersonStats:
    person: str
    per_day: tuple[int, ...]

    @property
    def deploys(self) -> int:
        return sum(self.per_day)

    @property
    def mean_per_day(self) -> float:
        return self.deploys / len(self.per_day) if self.per_day else 0.0


@dataclass(frozen=True)
class LeadTime:
    commits: int  # commits first live in production within the window
    median_seconds: float | None


@dataclass(frozen=True)
class TimeToRestore:
    incidents: int  # failed production deploys opening an incident within the window
    restored: int
    mean_seconds: float | None


@dataclass(frozen=True)
class Stats:
    repo: str
    since: datetime
    until: datetime
    days: tuple[date, ...]
    environments: tuple[EnvironmentStats, ...]
    lead_time: LeadTime
    time_to_restore: TimeToRestore
    people: tuple[PersonStats, ...]
    truncated: bool = False  # an environment had more deploys than ``gather`` reads

    @property
    def deploys(self) -> int:
        return sum(e.deploys for e in self.environments)


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
    truncated: bool = False,
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

    def in_window(when: datetime) -> bool:
        return since <= when < until

    def day_index(when: datetime) -> int:
        return (when.astimezone(UTC).date() - first_day).days

    chosen = [d for d in every if d.environment in environments]
    windowed = [d for d in chosen if in_window(requested_at(d))]

    env_stats = []
    for name, production in environments.items():
        per_day = [0] * len(days)
        succeeded = failed = 0
        for dep in windowed:
            if dep.environment != name:
                continue
            per_day[day_index(requested_at(dep))] += 1
            result = outcome(dep)
            if result is not None:
                if result[0] == DeployState.SUCCESS:
                    succeeded += 1
                elif result[0] == DeployState.FAILURE:
                    failed += 1
        env_stats.append(EnvironmentStats(name, production, tuple(per_day), succeeded, failed))

    people: dict[str, list[int]] = {}
    for dep in windowed:
        counts = people.setdefault(dep.requested_by or "unknown", [0] * len(days))
        counts[day_index(requested_at(dep))] += 1
    person_stats = sorted(
        (PersonStats(who, tuple(counts)) for who, counts in people.items()),
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
        time_to_restore=_time_to_restore(production_deploys, in_window),
        people=tuple(person_stats),
        truncated=truncated,
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
    return LeadTime(len(leads), statistics.median(leads) if leads else None)


def _time_to_restore(
    deployments: Sequence[Deployment], in_window: Callable[[datetime], bool]
) -> TimeToRestore:
    incidents = restored = 0
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
                    restored += 1
                    durations.append((when - opened).total_seconds())
                opened = None
    return TimeToRestore(incidents, restored, statistics.fmean(durations) if durations else None)


# -- reading them from a backend --------------------------------------------------------------


@dataclass(frozen=True)
class Gathered:
    deployments: tuple[Deployment, ...]
    commits: tuple[Commit, ...]
    truncated: bool


def gather(
    backend: Backend,
    *,
    environments: Sequence[str],
    since: datetime,
    production: Sequence[str] = (),
    deployment_limit: int = DEPLOYMENT_LIMIT,
    commit_limit: int = COMMIT_LIMIT,
) -> Gathered:
    """The deployments of each environment back to before ``since``, and enough of the
    default branch to time the commits that went live in ``production``.

    Deployments are read newest first in growing pages (100, then 400, ...) until one older
    than ``since`` shows up or ``deployment_limit`` is reached (``truncated``).
    """
    found: list[Deployment] = []
    truncated = False
    names: list[str | None] = [*environments] or [None]
    for name in names:
        limit = min(_FIRST_READ, deployment_limit)
        while True:
            batch = backend.deployments(environment=name, limit=limit)
            if len(batch) < limit or requested_at(batch[-1]) < since:
                break
            if limit >= deployment_limit:
                truncated = True
                break
            limit = min(limit * 4, deployment_limit)
        found.extend(batch)
    wanted = {
        d.sha
        for d in found
        if d.environment in production
        and (result := outcome(d)) is not None
        and result[0] == DeployState.SUCCESS
    }
    commits: list[Commit] = []
    if wanted:
        for commit in backend.history(limit=commit_limit):
            commits.append(commit)
            wanted.discard(commit.sha)
            if not wanted:
                break
    return Gathered(tuple(found), tuple(commits), truncated)


# -- rendering ------------------------------------------------------------------------------------


def _percent(rate: float | None) -> str:
    return "-" if rate is None else f"{rate * 100:.0f}%"


def _table(rows: list[list[str]]) -> list[str]:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in rows]


def render_table(stats: Stats) -> str:
    """The human report of ``commit-train stats``."""
    days = len(stats.days)
    head = stats.repo + ": " if stats.repo else ""
    lines = [
        f"{head}{stats.deploys} deploys from {stats.days[0]} to {stats.days[-1]} ({days} days)",
        "",
    ]
    rows = [["ENVIRONMENT", "DEPLOYS", "PER DAY", "FAILED", "CHANGE FAILURE RATE"]]
    for env in stats.environments:
        rows.append(
            [
                env.environment,
                str(env.deploys),
                f"{env.deploys / days:.1f}",
                f"{env.failed}/{env.finished}",
                _percent(env.change_failure_rate),
            ]
        )
    lines += _table(rows)
    lead, restore = stats.lead_time, stats.time_to_restore
    if any(env.production for env in stats.environments):
        lines += [
            "",
            f"lead time, commit to live in production: median "
            f"{duration(lead.median_seconds)} over {lead.commits} commits",
            f"time to restore production: mean {duration(restore.mean_seconds)} "
            f"over {restore.restored} of {restore.incidents} incidents restored",
        ]
    if stats.people:
        lines.append("")
        people = [["PERSON", "DEPLOYS", "PER DAY", "BUSIEST DAY"]]
        for person in stats.people:
            most = max(person.per_day)
            busiest = stats.days[person.per_day.index(most)]
            people.append(
                [person.person, str(person.deploys), f"{person.mean_per_day:.1f}", f"{busiest}"]
            )
        lines += _table(people)
    if stats.truncated:
        lines += ["", f"(only the newest {DEPLOYMENT_LIMIT} deploys per environment were read)"]
    return "\n".join(lines)


def stats_json(stats: Stats) -> dict[str, Any]:
    """``commit-train stats --json``, version 1 (documented in docs/stats.md)."""
    return {
        "version": JSON_VERSION,
        "repo": stats.repo,
        "since": iso_utc(stats.since),
        "until": iso_utc(stats.until),
        "days": [d.isoformat() for d in stats.days],
        "deploys": stats.deploys,
        "environments": [
            {
                "name": e.environment,
                "production": e.production,
                "deploys": e.deploys,
                "per_day": list(e.per_day),
                "succeeded": e.succeeded,
                "failed": e.failed,
                "change_failure_rate": e.change_failure_rate,
            }
            for e in stats.environments
        ],
        "lead_time": {
            "commits": stats.lead_time.commits,
            "median_seconds": stats.lead_time.median_seconds,
        },
        "time_to_restore": {
            "incidents": stats.time_to_restore.incidents,
            "restored": stats.time_to_restore.restored,
            "mean_seconds": stats.time_to_restore.mean_seconds,
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
        "truncated": stats.truncated,
    }


def mermaid(stats: Stats) -> str:
    """Markdown for a job summary: one Mermaid ``xychart-beta`` bar chart per environment.

    Mermaid's xy charts have no legend, so each environment gets its own titled chart.
    """
    labels = ", ".join(f'"{d:%m-%d}"' for d in stats.days)
    blocks = []
    for env in stats.environments:
        top = max(1, *env.per_day)
        title = env.environment.replace('"', "'")
        blocks.append(
            "```mermaid\n"
            "xychart-beta\n"
            f'    title "{title}: deploys per day"\n'
            f"    x-axis [{labels}]\n"
            f'    y-axis "deploys" 0 --> {top}\n'
            f"    bar [{', '.join(str(n) for n in env.per_day)}]\n"
            "```\n"
        )
    return "\n".join(blocks)


# a palette that stays apart for the colour-blind (Okabe and Ito)
_COLOURS = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442")


def render_svg(stats: Stats) -> str:
    """A grouped bar chart of deploys per day (one ``<g class="day">`` per day, one bar per
    environment in it), with a y scale, day labels and a legend; plain SVG 1.1."""
    envs = stats.environments
    bar, gap, left, top, plot_h = 10, 8, 48, 40, 200
    group_w = max(1, len(envs)) * bar + gap
    width = left + len(stats.days) * group_w + 20
    legend_y = top + plot_h + 44
    height = legend_y + 20 * max(1, len(envs)) + 10
    peak = max([1, *(n for e in envs for n in e.per_day)])
    scale = plot_h / peak
    out = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="11">',
        f"<title>{escape(_chart_title(stats))}</title>",
        f'<rect width="{width}" height="{height}" fill="#ffffff"/>',
        f'<text x="{left}" y="20" font-size="14">{escape(_chart_title(stats))}</text>',
        f'<line x1="{left}" y1="{top + plot_h}" x2="{width - 10}" y2="{top + plot_h}" '
        'stroke="#444444"/>',
        f'<line x1="{left}" y1="{top}" x2="{left}" y2="{top + plot_h}" stroke="#444444"/>',
        f'<text x="{left - 6}" y="{top + 4}" text-anchor="end">{peak}</text>',
        f'<text x="{left - 6}" y="{top + plot_h + 4}" text-anchor="end">0</text>',
    ]
    for d_index, day in enumerate(stats.days):
        x0 = left + gap // 2 + d_index * group_w
        out.append(f'<g class="day" data-day="{day.isoformat()}">')
        for e_index, env in enumerate(envs):
            count = env.per_day[d_index]
            h = round(count * scale, 1)
            label = f"{env.environment}, {day.isoformat()}: {plural(count, 'deploy')}"
            out.append(
                f'<rect x="{x0 + e_index * bar}" y="{round(top + plot_h - h, 1)}" '
                f'width="{bar - 1}" height="{h}" fill="{_COLOURS[e_index % len(_COLOURS)]}">'
                f"<title>{escape(label)}</title></rect>"
            )
        out.append(
            f'<text x="{x0 + (group_w - gap) / 2}" y="{top + plot_h + 14}" '
            f'text-anchor="middle" font-size="9">{day:%m-%d}</text>'
        )
        out.append("</g>")
    for e_index, env in enumerate(envs):
        y = legend_y + 20 * e_index
        out.append(
            f'<rect x="{left}" y="{y - 9}" width="10" height="10" '
            f'fill="{_COLOURS[e_index % len(_COLOURS)]}"/>'
        )
        out.append(
            f'<text x="{left + 16}" y="{y}" class="legend" '
            f"data-environment={quoteattr(env.environment)}>"
            f"{escape(env.environment)} ({env.deploys})</text>"
        )
    out.append("</svg>")
    return "\n".join(out) + "\n"


def _chart_title(stats: Stats) -> str:
    head = f"{stats.repo}: " if stats.repo else ""
    return f"{head}deploys per day, {stats.days[0]} to {stats.days[-1]}"
