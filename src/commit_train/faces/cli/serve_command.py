"""``commit-train serve``: run the deploy service (the Slack bot, GitHub's webhook, /healthz).

A plain click command that ``faces/cli/main.py`` adds to the group; it acts on no one
repository, so after it only ``--debug`` of the group's options is accepted. Slack's
clients load only when it runs (``faces.serve``).
"""

from __future__ import annotations

import os
from pathlib import Path

import click


@click.command("serve")
@click.option(
    "--config",
    "config_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="The service config (serve.yml: owner, repositories, routes, who may deploy where).",
)
@click.option(
    "--slack-mode",
    type=click.Choice(["socket", "http"]),
    default=None,
    help="How Slack reaches the bot (default: socket when SLACK_APP_TOKEN is set, else http).",
)
@click.option("--host", default="127.0.0.1", show_default=True, help="The address to listen on.")
@click.option("--port", default=3000, show_default=True, type=int, envvar="PORT", help="The port.")
def serve_command(config_path: Path | None, slack_mode: str | None, host: str, port: int) -> None:
    """Run the deploy service: the Slack bot, GitHub's webhook and /healthz (docs/chatops.md)."""
    from commit_train.faces.serve import settings
    from commit_train.faces.serve.slack import run

    run(
        environ=os.environ,
        settings=settings.load(config_path),
        mode=slack_mode,
        host=host,
        port=port,
        say=lambda line: click.echo(line, err=True),
    )
