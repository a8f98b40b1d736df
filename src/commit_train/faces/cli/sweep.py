"""``commit-train sweep``: close the deploys whose process died (``service.abandon``).

Registered on the group by ``faces/cli/main.py`` (one ``add_command``); it imports only
click (and the CLI's error module, itself only click) at the top, and the group's options
when it runs, so ``commit-train --help`` stays cheap and the two modules do not import each
other at load time.
"""

from __future__ import annotations

import click

from commit_train.faces.cli.errors import json_refusals


@click.command("sweep")
@click.argument("environment", required=False)
@click.option("--dry-run", is_flag=True, help="Name the abandoned deploys; close none.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON (see docs/cli.md).")
@click.pass_context
@json_refusals  # a refusal under --json prints its decision too, as every command's does
def sweep_command(
    ctx: click.Context, environment: str | None, dry_run: bool, as_json: bool
) -> None:
    """Close deploys left in progress by a process that died (in ENVIRONMENT, or all).

    A deploy in progress with no new status for longer than kubernetes.abandon-after (3
    rollout timeouts by default) ends error "abandoned: no progress since <time>".
    """
    from commit_train.core.text import printable
    from commit_train.faces.cli.common import Options, echo_json
    from commit_train.service.abandon import abandoned_line, sweep, sweep_json

    options = ctx.find_object(Options)
    if options is None:  # pragma: no cover - always run under the group
        raise click.UsageError("sweep runs only as a commit-train command")
    report = sweep(options.train(), environment, dry_run=dry_run)
    if as_json:
        echo_json(sweep_json(report))
        return
    verb = "would close" if dry_run else "closed"
    for dep in report.abandoned:
        line = abandoned_line(dep) if dry_run else dep.statuses[-1].description
        click.echo(
            printable(
                f"{verb} deployment {dep.id} ({dep.short_sha} to {dep.environment}, "
                f"by {dep.requested_by}): {line}"
            )
        )
    click.echo(report.summary)
