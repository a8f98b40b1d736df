"""``stats --chart``: deploys over time as an SVG bar chart readable at any window.

Bars are per day, week, month or quarter, whichever first keeps them to ``MOST_BARS``; the
chart is always ``WIDTH`` pixels wide (a bar's width is what is left to share). One panel
per environment, each bar stacked from the bottom: succeeded, failed (the change failure
rate's failures), and the rest (never ran, still running, or ended ``error``). Each panel
has a y axis with round ticks (1, 2 or 5 times a power of ten) and grid lines. Colours are
Okabe and Ito's, distinct for colour-blind readers, and each bar carries a ``<title>``
with its numbers (a tooltip in browsers).

Written by hand: plain SVG 1.1 of rectangles, lines and text, about 200 lines with no
dependency, deterministic (tests parse it), and loaded only by ``stats``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from xml.sax.saxutils import escape, quoteattr

from commit_train.service.stats import EnvironmentStats, Stats

MOST_BARS = 60
WIDTH = 800
_LEFT, _RIGHT, _PLOT_H, _PANEL_H, _TOP = 56, 16, 140, 200, 64
_MOST_LABELS = 12
_SUCCEEDED, _FAILED, _OTHER = "#0072B2", "#D55E00", "#BBBBBB"


@dataclass(frozen=True)
class Span:
    """One bar's days: ``first`` to ``last`` (indices into ``Stats.days``, both included)."""

    label: str
    start: date
    end: date
    first: int
    last: int


@dataclass(frozen=True)
class Buckets:
    unit: str  # "day", "week", "month" or "quarter"
    spans: tuple[Span, ...]


def _group(
    days: Sequence[date], key_of: Callable[[date], object], label_of: Callable[[date], str]
) -> tuple[Span, ...]:
    spans: list[Span] = []
    for index, day in enumerate(days):
        if spans and key_of(day) == key_of(spans[-1].start):
            last = spans[-1]
            spans[-1] = Span(last.label, last.start, day, last.first, index)
        else:
            spans.append(Span(label_of(day), day, day, index, index))
    return tuple(spans)


def buckets(days: Sequence[date], most: int = MOST_BARS) -> Buckets:
    """The window's days grouped so that there are at most ``most`` bars (quarters beyond)."""
    years = len({d.year for d in days}) > 1
    choices: list[tuple[str, Callable[[date], object], Callable[[date], str]]] = [
        ("day", lambda d: d, lambda d: f"{d:%Y-%m-%d}" if years else f"{d:%m-%d}"),
        (
            "week",
            lambda d: d - timedelta(days=d.weekday()),  # ISO weeks, from Monday
            lambda d: f"{d:%Y-%m-%d}" if years else f"{d:%m-%d}",
        ),
        ("month", lambda d: (d.year, d.month), lambda d: f"{d:%Y-%m}"),
        (
            "quarter",
            lambda d: (d.year, (d.month - 1) // 3),
            lambda d: f"{d.year}Q{(d.month - 1) // 3 + 1}",
        ),
    ]
    grouped = Buckets("day", ())
    for unit, key_of, label_of in choices:
        grouped = Buckets(unit, _group(days, key_of, label_of))
        if len(grouped.spans) <= most:
            break
    return grouped


def ticks(peak: int) -> list[int]:
    """Round y ticks from 0 to at least ``peak``: four to six of them."""
    raw = max(peak, 1) / 4
    power = 10 ** math.floor(math.log10(raw)) if raw >= 1 else 1
    step = next((m * power for m in (1, 2, 5, 10) if m * power >= raw), 10 * power)
    step = max(int(step), 1)
    top = max(math.ceil(max(peak, 1) / step), 4) * step
    return list(range(0, top + 1, step))


def _title(stats: Stats, unit: str) -> str:
    head = f"{stats.repo}: " if stats.repo else ""
    return f"{head}deploys per {unit}, {stats.days[0]} to {stats.days[-1]}"


def _panel(
    out: list[str], env: EnvironmentStats, grouped: Buckets, top_y: float, plot_w: float
) -> None:
    counts = [
        (
            sum(env.succeeded_per_day[s.first : s.last + 1]),
            sum(env.failed_per_day[s.first : s.last + 1]),
            sum(env.per_day[s.first : s.last + 1]),
        )
        for s in grouped.spans
    ]
    marks = ticks(max((total for _, _, total in counts), default=0))
    scale = _PLOT_H / marks[-1]
    base = top_y + _PLOT_H
    out.append(f'<g class="panel" data-environment={quoteattr(env.environment)}>')
    out.append(
        f'<text x="{_LEFT}" y="{top_y - 10}" font-size="13" font-weight="bold">'
        f"{escape(env.environment)}: {env.deploys:,} deploys, {env.failed:,} failed</text>"
    )
    for mark in marks:
        y = round(base - mark * scale, 1)
        out.append(
            f'<line x1="{_LEFT}" y1="{y}" x2="{_LEFT + plot_w}" y2="{y}" '
            f'stroke="{"#444444" if mark == 0 else "#E5E5E5"}"/>'
        )
        out.append(
            f'<text class="tick" x="{_LEFT - 6}" y="{y + 4}" text-anchor="end">{mark:,}</text>'
        )
    out.append(f'<line x1="{_LEFT}" y1="{top_y}" x2="{_LEFT}" y2="{base}" stroke="#444444"/>')
    slot = plot_w / len(grouped.spans)
    width = max(round(slot * 0.8, 2), 1.0)
    every = math.ceil(len(grouped.spans) / _MOST_LABELS)
    for index, (span, (succeeded, failed, total)) in enumerate(
        zip(grouped.spans, counts, strict=True)
    ):
        x = round(_LEFT + index * slot + (slot - width) / 2, 2)
        other = total - succeeded - failed
        when = span.start.isoformat() + ("" if span.end == span.start else f" to {span.end}")
        label = (
            f"{env.environment}, {when}: {total:,} deploys "
            f"({succeeded:,} succeeded, {failed:,} failed, {other:,} other)"
        )
        out.append(
            f'<g class="bar" data-start="{span.start}" data-end="{span.end}" '
            f'data-deploys="{total}"><title>{escape(label)}</title>'
        )
        y = base
        for kind, count, colour in (
            ("succeeded", succeeded, _SUCCEEDED),
            ("failed", failed, _FAILED),
            ("other", other, _OTHER),
        ):
            if count:
                h = round(count * scale, 2)
                y = round(y - h, 2)
                out.append(
                    f'<rect class="{kind}" x="{x}" y="{y}" width="{width}" height="{h}" '
                    f'fill="{colour}"/>'
                )
        out.append("</g>")
        if index % every == 0:
            out.append(
                f'<text class="x-label" x="{round(x + width / 2, 2)}" y="{base + 16}" '
                f'text-anchor="middle" font-size="10">{escape(span.label)}</text>'
            )
    out.append("</g>")


def render_svg(stats: Stats) -> str:
    """The chart: a title, a legend, one panel per environment (plain SVG 1.1)."""
    grouped = buckets(stats.days)
    envs = stats.environments
    plot_w = WIDTH - _LEFT - _RIGHT
    height = _TOP + _PANEL_H * max(1, len(envs))
    title = _title(stats, grouped.unit)
    out = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}" '
        f'viewBox="0 0 {WIDTH} {height}" font-family="sans-serif" font-size="11">',
        f"<title>{escape(title)}</title>",
        f'<rect width="{WIDTH}" height="{height}" fill="#ffffff"/>',
        f'<text class="title" x="{_LEFT}" y="22" font-size="15">{escape(title)}</text>',
    ]
    x = float(_LEFT)
    for kind, colour, text in (
        ("succeeded", _SUCCEEDED, "succeeded"),
        ("failed", _FAILED, "failed"),
        ("other", _OTHER, "never ran, running, or error"),
    ):
        out.append(
            f'<rect x="{x}" y="33" width="10" height="10" fill="{colour}"/>'
            f'<text class="legend" data-kind="{kind}" x="{x + 14}" y="42">{text}</text>'
        )
        x += 24 + 6.5 * len(text)
    for index, env in enumerate(envs):
        _panel(out, env, grouped, _TOP + 28 + index * _PANEL_H, plot_w)
    out.append("</svg>")
    return "\n".join(out) + "\n"
