"""``commit-train stats``: DORA's four keys over a window of deploys (``service.stats``).

A plain click command that ``faces/cli/main.py`` adds to the group; the gathering, the
cache and the chart are imported when it runs.
"""

from __future__ import annotations

from pathlib import Path

import click

from commit_train.errors import UsageError
from commit_train.faces.cli.common import Options, echo_json, json_option, pass_options


@click.command("stats")
@click.option(
    "--since", default="30d", show_default=True, help="How far back: 30d, 12h, 2w (a duration)."
)
@click.option(
    "--until",
    "until_text",
    default=None,
    metavar="TIME",
    help="The end of the window, ISO 8601 (default: now).",
)
@click.option("--env", "environment", default=None, help="Only this environment.")
@click.option(
    "--chart",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    metavar="PATH.svg",
    help="Also write a chart of deploys per day per environment (SVG).",
)
@click.option(
    "--mermaid",
    "as_mermaid",
    is_flag=True,
    help="Print Mermaid charts (markdown) for a job summary instead of the table.",
)
@click.option(
    "--no-cache", is_flag=True, help="Read every deploy again; neither use nor update the cache."
)
@json_option
@pass_options
def stats_command(
    options: Options,
    since: str,
    until_text: str | None,
    environment: str | None,
    chart: Path | None,
    as_mermaid: bool,
    no_cache: bool,
    as_json: bool,
) -> None:
    """DORA's four keys (deploy frequency, change failure rate, lead time, recovery time)."""
    from datetime import timedelta

    from commit_train.config import parse_duration
    from commit_train.models import parse_time, utc_now
    from commit_train.service.stats import compute, gather, mermaid, render_table, stats_json
    from commit_train.service.stats_cache import open_cache
    from commit_train.service.stats_chart import render_svg

    try:
        seconds = parse_duration(since)
    except ValueError as exc:
        raise UsageError(f"--since: {exc}") from None  # the message already says how
    if seconds <= 0:
        raise UsageError("--since must be longer than 0", fix="write it like 30d, 12h or 2w")
    until = utc_now()
    if until_text is not None:
        try:
            until = parse_time(until_text)
        except ValueError:
            raise UsageError(
                f"--until {until_text!r} is not an ISO 8601 time",
                fix="write it like 2025-03-04T00:00:00Z",
            ) from None
    if chart is not None and chart.suffix.lower() != ".svg":
        if chart.suffix.lower() == ".png":
            raise UsageError(
                "PNG charts need a plotting library commit-train does not ship",
                fix=f"write an SVG instead: --chart {chart.with_suffix('.svg')}",
            )
        raise UsageError(f"--chart {chart}: only .svg charts are written", fix="name it .svg")
    train = options.train()
    environments = {name: env.production for name, env in train.config.environments.items()}
    if environment is not None:
        environments = {environment: train.config.environment(environment).production}
    start = until - timedelta(seconds=seconds)
    with open_cache(None if no_cache else train.backend.ledger_cache_key) as cache:
        found = gather(
            train.backend,
            environments=list(environments),
            since=start,
            production=[name for name, production in environments.items() if production],
            cache=cache,
        )
    result = compute(
        found.deployments,
        found.commits,
        environments=environments,
        since=start,
        until=until,
        repo=train.backend.repo,
    )
    if chart is not None:
        try:
            chart.write_text(render_svg(result), encoding="utf-8")
        except OSError as exc:
            raise UsageError(
                f"cannot write {chart} ({exc.strerror})", fix="pass a writable path"
            ) from None
    if as_json:
        echo_json(stats_json(result))
    elif as_mermaid:
        click.echo(mermaid(result), nl=False)
    else:
        click.echo(render_table(result))
        if chart is not None:
            click.echo(f"chart written to {chart}")
