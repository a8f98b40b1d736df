"""Deploying while GitHub is down: ``deploy --offline`` and ``sync`` (``service.offline``).

``deploy --offline`` (``deploy_offline``, called by ``deploy`` in ``train_commands``) records
the deploy in the checkout's journal when GitHub does not answer; ``commit-train sync``
replays the journal into GitHub later (``service.offline``).
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

import click

from commit_train.core.text import plural
from commit_train.errors import UsageError
from commit_train.faces.cli.common import Options, echo_json, json_option, pass_options

if TYPE_CHECKING:
    from commit_train.config import Config
    from commit_train.gitrepo import GitRepo
    from commit_train.ports import OfflineJournal


def _journal(options: Options, what: str) -> tuple[OfflineJournal, Config, str, GitRepo]:
    """The checkout's journal, its config, the GitHub repository and the checkout
    (``deploy --offline`` and ``sync`` need them all)."""
    from commit_train import config as config_module
    from commit_train.faces import wiring

    git = options.git()
    if options._choose(git) != wiring.GITHUB:
        raise UsageError(
            f"{what} is for the github backend; the local backend needs no GitHub",
            fix="pass --repo OWNER/NAME and a token (GITHUB_TOKEN)",
        )
    loaded = config_module.load(git.root).config
    local = wiring.offline_journal(git, loaded)
    return local, loaded, wiring.github_repo(options.repo, git), git


def deploy_offline(
    options: Options,
    environment: str,
    ref: str,
    *,
    reason: str | None,
    dry_run: bool,
    as_json: bool,
) -> None:
    from commit_train.errors import RefusedError as Refused
    from commit_train.service.offline import (
        GITHUB_ANSWERS,
        github_down,
        offline_deploy,
        offline_json,
    )

    if dry_run:
        raise UsageError("--offline records a deploy; it has no dry run", fix="drop --dry-run")
    from commit_train.faces import wiring

    local, loaded, repo, git = _journal(options, "--offline")
    down = github_down(wiring.github_probe(repo, token=options.token))
    if down is None:
        raise Refused(
            f"GitHub answers for {repo}, so the deploy goes through GitHub and its checks",
            reason=GITHUB_ANSWERS,
            fix="deploy without --offline",
        )
    result = offline_deploy(
        local,
        loaded,
        environment,
        ref,
        actor=wiring.cli_actor(git, os.environ),
        reason=reason,
        repo=repo,
        source="cli",
        cause=str(down),
    )
    if as_json:
        echo_json(dict(offline_json(result)))
    else:
        click.echo(result.action)


@click.command("sync")
@json_option
@pass_options
def sync_command(options: Options, as_json: bool) -> None:
    """Replay deploys recorded with deploy --offline into GitHub (safe to rerun)."""
    from commit_train.service.offline import sync, sync_json

    local, _loaded, _repo, _git = _journal(options, "sync")
    report = sync(local, options.train().backend)
    if as_json:
        echo_json(sync_json(report))
        return
    for item in report.synced:
        how = "created" if item.created else "already on GitHub"
        click.echo(
            f"local deployment {item.local_id} -> GitHub deployment {item.github_id}: "
            f"{item.sha[:7]} to {item.environment} "
            f"({how}, {plural(item.statuses_added, 'status', 'statuses')} added)"
        )
    click.echo(report.summary)
