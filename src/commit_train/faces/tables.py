"""How the CLI shows results: aligned tables for people, versioned JSON for scripts.

Only the CLI uses this module. Colour is a flag the CLI decides (a terminal, and no
``NO_COLOR``); it is applied after padding, so columns line up with or without it. So is
``width``: the columns of the terminal (``faces/terminal.columns``), or None for output to a
pipe, which keeps the fixed title widths (``TITLE_WIDTH``) scripts and tests rely on. Given
a width, a table gives the room its other columns leave to its free-text column (a title,
a reason), cut in display columns, so no line is wider than the terminal; ``--json``
always carries the whole text. Every
JSON document carries ``"version": JSON_VERSION``; its shape is documented in
``docs/cli.md`` and changes only with a new version.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

from commit_train.core.gate import Decision
from commit_train.core.text import clip, duration, fit, ljust, plural, printable, width
from commit_train.errors import RefusedError
from commit_train.models import (
    Checks,
    CheckState,
    Commit,
    Deployment,
    DeploymentStatus,
    DeployState,
    Lock,
    Snapshot,
    TrainCommit,
    describe_lock,
    looked_back_phrase,
)
from commit_train.service.stale import StaleReport
from commit_train.service.train import DeployResult, History, HistoryEntry

JSON_VERSION = 1
TITLE_WIDTH = 50
HISTORY_TITLE_WIDTH = 40
NARROWEST = 10  # a free-text column is not cut narrower than this; the last column gives way

_COLOURS = {
    "green": "\x1b[32m",
    "red": "\x1b[31m",
    "yellow": "\x1b[33m",
    "dim": "\x1b[2m",
    "bold": "\x1b[1m",
}
_RESET = "\x1b[0m"
_STATE_COLOUR = {
    "success": "green",
    "failure": "red",
    "error": "red",
    "pending": "yellow",
    "queued": "yellow",
    "in_progress": "yellow",
    "inactive": "dim",
    "none": "dim",
}


def _paint(text: str, colour: str | None, enabled: bool) -> str:
    if not enabled or colour is None or not text:
        return text
    return f"{_COLOURS[colour]}{text}{_RESET}"


def _when(moment: datetime | None) -> str:
    return "-" if moment is None else moment.strftime("%Y-%m-%d %H:%M")


def table(
    headers: Sequence[str],
    rows: Iterable[Sequence[str]],
    *,
    colours: Iterable[Sequence[str | None]] | None = None,
    colour: bool = False,
    indent: str = "",
    fit_to: int | None = None,
    squeeze: int | None = None,
) -> str:
    """Columns padded to their widest cell (two spaces apart); the last one is not padded.

    Every cell is shown through ``printable`` (untrusted text cannot drive the terminal)
    and measured in display columns (CJK and emoji titles keep the columns aligned). With
    ``fit_to``, column ``squeeze`` (the free text) is cut until the lines fit, down to
    ``NARROWEST`` columns; if they still do not, the last column is cut too.
    """
    body = [[printable(cell) for cell in r] for r in rows]
    blank: list[str | None] = [None] * len(headers)
    paints: list[list[str | None]] = (
        [list(c) for c in colours] if colours is not None else [blank for _ in body]
    )
    if fit_to is not None:
        headers, body = _fitted(list(headers), body, fit_to - width(indent), squeeze)
    widths = [max([width(h), *(width(r[i]) for r in body)]) for i, h in enumerate(headers)]

    def line(cells: Sequence[str], tints: Sequence[str | None]) -> str:
        out = []
        for i, cell in enumerate(cells):
            pad = "" if i == len(cells) - 1 else " " * (widths[i] - width(cell))
            out.append(_paint(cell, tints[i], colour) + pad)
        return (indent + "  ".join(out)).rstrip()

    lines = [line(list(headers), ["bold"] * len(headers))]
    lines += [line(r, p) for r, p in zip(body, paints, strict=True)]
    return "\n".join(lines)


def _fitted(
    headers: list[str], body: list[list[str]], room: int, squeeze: int | None
) -> tuple[list[str], list[list[str]]]:
    """``headers`` and ``body`` cut so that every line of the table takes at most ``room``
    columns: column ``squeeze`` first (down to ``NARROWEST``), then the last column (down to
    its heading), then both further, headings too, as a last resort."""
    last = len(headers) - 1

    def excess() -> tuple[list[int], int]:
        widths = [max([width(h), *(width(r[i]) for r in body)]) for i, h in enumerate(headers)]
        return widths, sum(widths) + 2 * last - room

    def cut(column: int, least: int) -> None:
        widths, over = excess()
        if over <= 0:
            return
        most = max(least, widths[column] - over, 1)
        for row in body:
            row[column] = fit(row[column], most)
        if width(headers[column]) > most:
            headers[column] = fit(headers[column], most)

    if squeeze is not None:
        cut(squeeze, max(NARROWEST, width(headers[squeeze])))
    cut(last, width(headers[last]))
    if squeeze is not None:
        cut(squeeze, width(headers[squeeze]))
    cut(last, 1)
    return headers, body


def fitted(line: str, columns: int | None) -> str:
    """A line that is not part of a table (a heading), cut to the terminal's width; its
    indentation stays."""
    if columns is None:
        return line
    text = line.lstrip(" ")
    indent = line[: len(line) - len(text)]
    return indent + fit(text, max(columns - len(indent), 1))


# -- status ------------------------------------------------------------------------------


def _check_cell(checks: Checks) -> tuple[str, str | None]:
    state = checks.state
    if state == CheckState.NONE:
        return "no checks", "dim"
    if state == CheckState.FAILURE:
        return f"failure ({', '.join(sorted(checks.named(CheckState.FAILURE)))})", "red"
    if state == CheckState.PENDING:
        return f"pending ({', '.join(sorted(checks.named(CheckState.PENDING)))})", "yellow"
    return "success", "green"


_FLIGHT_ORDER = ("in_progress", "pending", "queued", "none")  # furthest along first


def _live_in(row: TrainCommit) -> list[str]:
    """One entry per environment: ``staging`` where the commit is live, its deploys still
    waiting or running counted after it (``staging (live, 2 queued)``), or only those
    (``production (queued)``, ``staging (in_progress, 2 queued)``). ``--json`` keeps
    every deployment (``in_flight``)."""
    flying: dict[str, dict[str, int]] = {}
    for deployment in row.in_flight:
        states = flying.setdefault(deployment.environment, {})
        states[deployment.state.value] = states.get(deployment.state.value, 0) + 1
    entries = []
    for environment in dict.fromkeys([*row.live_in, *flying]):
        states = flying.get(environment, {})
        ranked = sorted(
            states,
            key=lambda s: _FLIGHT_ORDER.index(s) if s in _FLIGHT_ORDER else len(_FLIGHT_ORDER),
        )
        parts = [state if states[state] == 1 else f"{states[state]} {state}" for state in ranked]
        if environment in row.live_in and parts:
            parts.insert(0, "live")
        entries.append(f"{environment} ({', '.join(parts)})" if parts else environment)
    return entries


def render_status(snapshot: Snapshot, *, colour: bool = False, width: int | None = None) -> str:
    """``commit-train status``; ``width``: the terminal's columns (see the module)."""
    count = len(snapshot.commits)
    newest = "newest commit" if count == 1 else f"{count} newest commits"
    header = fitted(f"{snapshot.repo}: the {newest} of {snapshot.default_branch}", width)
    if not snapshot.commits:
        return fitted(f"{snapshot.repo}: {snapshot.default_branch} has no commits yet", width)
    rows, paints = [], []
    for row in snapshot.commits:
        checks, tint = _check_cell(row.checks)
        where = _live_in(row)
        rows.append(
            [
                row.commit.short_sha,
                row.commit.title if width else clip(row.commit.title, TITLE_WIDTH),
                row.commit.author,
                checks,
                ", ".join(where) or "-",
            ]
        )
        paints.append(["yellow", None, None, tint, "green" if row.live_in else None])
    body = table(
        ["SHA", "TITLE", "AUTHOR", "CHECKS", "LIVE IN"],
        rows,
        colours=paints,
        colour=colour,
        fit_to=width,
        squeeze=1,
    )
    gave_up = "".join(
        "\n"
        + fitted(
            f"{printable(env)}: no successful deploy {looked_back_phrase(looked)}"
            " (commit-train looks no further back)",
            width,
        )
        for env, looked in snapshot.looked_back.items()
    )
    return f"{header}\n\n{body}{gave_up}"


def _commit_json(commit: Commit) -> dict[str, Any]:
    return {
        "sha": commit.sha,
        "short_sha": commit.short_sha,
        "title": commit.title,
        "author": commit.author,
        "committed_at": commit.committed_at.isoformat(),
    }


def _checks_json(checks: Checks) -> dict[str, Any]:
    return {
        "state": checks.state.value,
        "checks": [
            {
                "name": c.name,
                "kind": c.kind,
                "state": c.state.value,
                "url": c.url,
                "description": c.description,
            }
            for c in checks.checks
        ],
    }


def _status_json(status: DeploymentStatus) -> dict[str, Any]:
    return {
        "state": status.state.value,
        "created_at": status.created_at.isoformat(),
        "description": status.description,
        "creator": status.creator,
        "log_url": status.log_url,
        "environment_url": status.environment_url,
    }


def deployment_json(deployment: Deployment) -> dict[str, Any]:
    finished = deployment.finished_at
    return {
        "id": deployment.id,
        "sha": deployment.sha,
        "short_sha": deployment.short_sha,
        "environment": deployment.environment,
        "state": deployment.state.value,
        "finished": deployment.state.finished,
        "creator": deployment.creator,
        "requested_by": deployment.requested_by,
        "created_at": deployment.created_at.isoformat(),
        "finished_at": finished.isoformat() if finished else None,
        "description": deployment.description,
        "payload": dict(deployment.payload),
        "url": deployment.url,
        "statuses": [_status_json(s) for s in deployment.statuses],
    }


def status_json(snapshot: Snapshot) -> dict[str, Any]:
    return {
        "version": JSON_VERSION,
        "repo": snapshot.repo,
        "default_branch": snapshot.default_branch,
        "commits": [
            {
                **_commit_json(row.commit),
                "checks": _checks_json(row.checks),
                "live_in": list(row.live_in),
                "in_flight": [
                    {"id": d.id, "environment": d.environment, "state": d.state.value}
                    for d in row.in_flight
                ],
            }
            for row in snapshot.commits
        ],
        "live": {
            env: {"deployment_id": d.id, "sha": d.sha, "short_sha": d.short_sha}
            for env, d in snapshot.live.items()
        },
    }


# -- deploy ------------------------------------------------------------------------------


def render_deploy(result: DeployResult, *, colour: bool = False, runs_here: bool = False) -> str:
    """``deploy``'s answer. ``runs_here``: nothing carries out deploys for this backend
    (the local one has no deploy workflow), so the last line says what will, instead of
    where to follow it."""
    commit = result.commit
    lines = [
        printable(f"{commit.short_sha}  {commit.title}  ({commit.author})"),
        printable(result.decision.message),
    ]
    if result.dry_run:
        lines.append(_paint(result.action, "yellow", colour))
    else:
        lines.append(_paint(result.action, "green", colour))
        if runs_here:
            lines.append(
                "queued: nothing runs deploys on the local backend; run "
                f"`commit-train apply {result.environment} {commit.short_sha}` "
                "to roll it out from this machine"
            )
        else:
            lines.append(f"follow it at {result.progress_url}")
    return "\n".join(lines)


def _decision_json(decision: Decision) -> dict[str, Any]:
    return {"allowed": decision.allowed, "reason": decision.reason, "message": decision.message}


def deploy_json(result: DeployResult) -> dict[str, Any]:
    return {
        "version": JSON_VERSION,
        "environment": result.environment,
        "dry_run": result.dry_run,
        "commit": _commit_json(result.commit),
        "decision": _decision_json(result.decision),
        "deployment": deployment_json(result.deployment) if result.deployment else None,
        "progress_url": result.progress_url,
    }


def refused_json(
    environment: str, ref: str, error: RefusedError, *, dry_run: bool
) -> dict[str, Any]:
    return {
        "version": JSON_VERSION,
        "environment": environment,
        "ref": ref,
        "dry_run": dry_run,
        "decision": {"allowed": False, "reason": error.reason, "message": str(error)},
    }


# -- history -----------------------------------------------------------------------------


def _result_cell(entry: HistoryEntry) -> str:
    state = entry.result
    if state == DeployState.NONE:
        return "never started"
    if not entry.finished:
        return f"{state.value}, unfinished"
    return state.value


def render_history(history: History, *, colour: bool = False, width: int | None = None) -> str:
    """``commit-train history``; ``width``: the terminal's columns (see the module)."""
    if not history.environments:
        return fitted(f"{history.repo}: no deploys yet (and no environments configured)", width)
    blocks = []
    for env in history.environments:
        title = _paint(fitted(env.environment, width), "bold", colour)
        if not env.entries:
            blocks.append(f"{title}\n  no deploys yet")
            continue
        rows, paints = [], []
        for entry in env.entries:
            dep = entry.deployment
            rows.append(
                [
                    str(dep.id),
                    _result_cell(entry),
                    dep.short_sha,
                    entry.title if width else clip(entry.title, HISTORY_TITLE_WIDTH),
                    dep.requested_by,
                    _when(dep.created_at),
                    duration(entry.duration_seconds),
                ]
            )
            paints.append(
                [None, _STATE_COLOUR.get(entry.result.value), "yellow", None, None, None, None]
            )
        body = table(
            ["ID", "RESULT", "COMMIT", "TITLE", "BY", "STARTED (UTC)", "DURATION"],
            rows,
            colours=paints,
            colour=colour,
            indent="  ",
            fit_to=width,
            squeeze=3,
        )
        blocks.append(f"{title}\n{body}")
    return "\n\n".join(blocks)


def history_json(history: History) -> dict[str, Any]:
    return {
        "version": JSON_VERSION,
        "repo": history.repo,
        "environments": [
            {
                "name": env.environment,
                "deployments": [
                    {
                        **deployment_json(e.deployment),
                        "title": e.title,
                        "duration_seconds": e.duration_seconds,
                    }
                    for e in env.entries
                ],
            }
            for env in history.environments
        ],
    }


# -- locks and stale commits -------------------------------------------------------------


def render_locks(
    locks: Sequence[Lock], *, now: datetime, colour: bool = False, width: int | None = None
) -> str:
    """``commit-train locks``: who holds which lock, why, since and until when; ``width``:
    the terminal's columns (see the module)."""
    if not locks:
        return "no locks"
    rows, paints = [], []
    for lock in locks:
        expires = "never" if lock.expires_at is None else _when(lock.expires_at.astimezone(UTC))
        expired = lock.expired(now)
        if expired:
            expires += " (expired)"
        rows.append(
            [
                "* (all)" if lock.is_global else lock.environment,
                lock.holder,
                _when(lock.since.astimezone(UTC)),
                expires,
                lock.reason,
            ]
        )
        paints.append([None, None, None, "dim" if expired else None, None])
    return table(
        ["ENVIRONMENT", "HOLDER", "SINCE (UTC)", "EXPIRES (UTC)", "REASON"],
        rows,
        colours=paints,
        colour=colour,
        fit_to=width,
        squeeze=4,
    )


_QUIET = {
    "never-deployed": "never deployed, nothing to compare with",
    "no-threshold": "no stale-after threshold configured",
}


def render_stale(
    report: StaleReport, *, dry_run: bool = False, colour: bool = False, width: int | None = None
) -> str:
    """``commit-train stale``: per environment, the commits waiting too long, by author;
    ``*`` marks the ones due a reminder: reminded by this run, or that a run would remind
    (a dry run), or still to remind when the reminder could not be sent. ``width``: the
    terminal's columns (see the module); a heading too wide for it goes on two lines, cut
    at its ``;``."""
    blocks = []
    for env in report.environments:
        name = env.environment
        if env.quiet == "locked" and env.lock is not None:
            head = f"{name}: quiet, {describe_lock(env.lock)}"
        elif env.quiet is not None:
            head = f"{name}: {_QUIET.get(env.quiet, env.quiet)}"
        else:
            after = duration(env.threshold_seconds or 0)
            live = (env.live_sha or "")[:7]
            head = f"{name}: nothing older than {after} waiting (live {live})"
            if env.stale:
                if dry_run:
                    what = f"would remind {len(env.remind)} now"
                elif env.remind and not env.sent:
                    what = f"{len(env.remind)} to remind, not sent"
                else:
                    what = f"reminded {len(env.reminded)} now"
                head = (
                    f"{name}: {plural(len(env.stale), 'commit')} older than {after} not "
                    f"deployed (live {live}); {what}"
                )
        lines = _heading(head, name, width, colour)
        reminded = {c.sha for c in env.remind}
        for author, commits in env.by_author(env.stale).items():
            lines.append(fitted(f"  {author}", width))
            rows = [
                [
                    "*" if c.sha in reminded else " ",
                    c.sha[:7],
                    c.age,
                    c.title if width else clip(c.title, TITLE_WIDTH),
                ]
                for c in commits
            ]
            lines += ["    " + "  ".join(r).rstrip() for r in _aligned(rows, width, indent=4)]
        blocks.append("\n".join(lines))
    if not blocks:
        return fitted(f"{report.repo}: no environments configured", width)
    return "\n\n".join(blocks)


def _heading(head: str, name: str, columns: int | None, colour: bool) -> list[str]:
    """``head`` as one line, or two when it is wider than ``columns`` (cut at ``; ``), its
    leading environment ``name`` in bold."""
    lines = [head]
    if columns is not None and width(head) > columns and "; " in head:
        first, rest = head.split("; ", 1)
        lines = [first, f"  {rest}"]
    lines = [fitted(printable(line), columns) for line in lines]
    shown = printable(name)
    if lines[0].startswith(shown + ":"):
        lines[0] = _paint(shown, "bold", colour) + lines[0][len(shown) :]
    return lines


def _aligned(
    rows: Sequence[Sequence[str]], columns: int | None = None, *, indent: int = 0
) -> list[list[str]]:
    """``rows`` padded into columns; with ``columns``, the last cell is cut so that each
    line (after ``indent``) fits."""
    if not rows:
        return []
    shown = [[printable(cell) for cell in row] for row in rows]
    widths = [max(width(r[i]) for r in shown) for i in range(len(shown[0]))]
    if columns is not None:
        room = columns - indent - sum(widths[:-1]) - 2 * (len(widths) - 1)
        shown = [[*row[:-1], fit(row[-1], max(room, 1))] for row in shown]
    return [
        [cell if i == len(row) - 1 else ljust(cell, widths[i]) for i, cell in enumerate(row)]
        for row in shown
    ]
