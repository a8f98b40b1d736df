"""Kubernetes from this machine: ``render``, ``apply`` and ``rollback``.

Plain click commands that ``faces/cli/main.py`` adds to the group, with the options they
share (``--kubeconfig``, ``--context``, ``--timeout``) and how a run's lines and result are
shown. The run itself is ``service.pipeline``; the Kubernetes client loads only when a
command reaches a cluster.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from commit_train.core.text import plural
from commit_train.errors import UsageError
from commit_train.faces.cli.common import (
    Options,
    echo_json,
    json_option,
    pass_options,
    warn,
    yes_option,
)

if TYPE_CHECKING:
    from commit_train.faces.terminal import LiveLines


def _kube_options(command: Any) -> Any:
    for option in reversed(
        [
            click.option(
                "--kubeconfig",
                type=click.Path(dir_okay=False, path_type=Path),
                help="The kubeconfig file (default: KUBECONFIG, then ~/.kube/config).",
            ),
            click.option("--context", default=None, help="The kubeconfig context to use."),
            click.option(
                "--timeout",
                default=None,
                metavar="DURATION",
                help="How long to wait for rollouts, like 30s or 10m "
                "(default: kubernetes.rollout-timeout of the config).",
            ),
        ]
    ):
        command = option(command)
    return command


def _client_factory(kubeconfig: Path | None, context: str | None) -> Any:
    from commit_train.kube.client import api_client

    return lambda: api_client(kubeconfig=kubeconfig, context=context)


def _seconds(timeout: str | None) -> float | None:
    """``--timeout`` in seconds: a duration from 1s to 24h (0 would give up at once)."""
    from commit_train.config import check_rollout_timeout, duration_seconds

    if timeout is None:
        return None
    try:
        seconds = duration_seconds(timeout)
    except ValueError:
        raise UsageError(
            f"--timeout {timeout!r} is not a duration", fix="write it like 30s, 10m or 1h"
        ) from None
    try:
        return check_rollout_timeout(seconds)
    except ValueError as exc:
        raise UsageError(
            f"--timeout {timeout!r} is {exc}", fix="write it like 30s, 10m or 1h"
        ) from None


@contextmanager
def _live_lines(as_json: bool) -> Iterator[LiveLines]:
    """A run's lines, on stdout (stderr under --json); on a terminal a rollout's progress
    line is rewritten in place, and ended before anything else is printed."""
    from commit_train.faces import terminal

    live = terminal.LiveLines(sys.stderr if as_json else sys.stdout)
    try:
        yield live
    finally:
        live.close()


def _show_run(result: Any, *, as_json: bool) -> None:
    """Print a pipeline result; a failed rollout ends as the error line (exit 1), printed
    once: its diagnosis goes to stdout, its summary only as the error."""
    from commit_train.errors import RolloutError
    from commit_train.service.results import result_json

    warn(result.warnings)
    if as_json:
        echo_json(result_json(result))
    elif result.ok:
        click.echo(result.run.summary)
    else:
        for line in result.run.details[2:]:
            click.echo(line)
    if not result.ok:
        extra = f"; {result.rollback.line}" if result.rollback is not None else ""
        raise RolloutError(f"{result.run.summary}{extra}")


@click.command("render")
@click.argument("environment")
@click.argument("ref", required=False)
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    help="Write one file per object into this folder instead of printing the stream.",
)
@json_option
@pass_options
def render_command(
    options: Options, environment: str, ref: str | None, out: Path | None, as_json: bool
) -> None:
    """Render ENVIRONMENT's manifests at REF (default: the working tree at HEAD).

    Secrets missing here show as placeholders; every Secret value is <redacted>.
    """
    from commit_train import config as config_module
    from commit_train.service.pipeline import render_ref
    from commit_train.service.results import rendered_json

    git = options.git()
    loaded = config_module.load(git.root).config
    rendered = render_ref(git, loaded, environment=environment, ref=ref)
    for note in rendered.notes:
        click.echo(f"note: {note}", err=True)
    if as_json:
        echo_json(rendered_json(rendered))
    elif out is not None:
        written = rendered.write_dir(out, redacted=True)
        click.echo(f"wrote {plural(len(written), 'file')} to {out}")
    else:
        click.echo(rendered.stream(), nl=False)


@click.command("apply")
@click.argument("environment")
@click.argument("ref", default="HEAD")
@click.option("--dry-run", is_flag=True, help="Server-side dry run: show changes, record nothing.")
@click.option("--force-conflicts", is_flag=True, help="Take fields other field managers own.")
@_kube_options
@yes_option
@json_option
@pass_options
def apply_command(
    options: Options,
    environment: str,
    ref: str,
    dry_run: bool,
    force_conflicts: bool,
    kubeconfig: Path | None,
    context: str | None,
    timeout: str | None,
    yes: bool,
    as_json: bool,
) -> None:
    """Deploy REF (default HEAD) to ENVIRONMENT from this machine and wait for the rollout.

    The gate first, then a recorded deployment, server-side apply, and success or failure.
    """
    from commit_train.faces.cli.confirm import confirm_deploy
    from commit_train.faces.signals import stopping_on_signals
    from commit_train.service.pipeline import apply_ref
    from commit_train.service.run import RunOptions

    wait_for = _seconds(timeout)  # a usage error before the question
    if not dry_run:
        ref = confirm_deploy(options.train(), environment, ref, yes=yes, as_json=as_json)
    with stopping_on_signals(), _live_lines(as_json) as live:
        # SIGTERM/SIGHUP: the deployment ends error, not in progress
        how = RunOptions(
            timeout=wait_for,
            dry_run=dry_run,
            force=force_conflicts,
            on_line=live.line,
            on_progress=live.progress,
        )
        result = apply_ref(
            options.train(),
            options.git(),
            environment=environment,
            ref=ref,
            make_client=_client_factory(kubeconfig, context),
            how=how,
        )
    _show_run(result, as_json=as_json)


@click.command("rollback")
@click.argument("environment")
@click.option("--dry-run", is_flag=True, help="Name the commit it would restore; record nothing.")
@click.option("--apply", "apply_now", is_flag=True, help="Carry it out from this machine.")
@_kube_options
@yes_option
@json_option
@pass_options
def rollback_command(
    options: Options,
    environment: str,
    dry_run: bool,
    apply_now: bool,
    kubeconfig: Path | None,
    context: str | None,
    timeout: str | None,
    yes: bool,
    as_json: bool,
) -> None:
    """Deploy the previous successfully deployed commit of ENVIRONMENT again.

    A new deployment whose payload names the commit it rolls back; with --apply it is
    carried out here like commit-train apply, otherwise by your deploy workflow.
    """
    from commit_train.faces.cli.confirm import confirm_rollback
    from commit_train.faces.tables import deploy_json
    from commit_train.service.pipeline import carry_out, preflight
    from commit_train.service.rollback import request_rollback, rollback_target
    from commit_train.service.run import RunOptions

    wait_for = _seconds(timeout)  # a usage error before anything is recorded
    train = options.train()
    if not dry_run:
        confirm_rollback(train, environment, yes=yes, as_json=as_json)
    if apply_now and not dry_run:  # a kubeconfig or render mistake records nothing
        _, target = rollback_target(train, environment)
        preflight(
            train,
            options.git(),
            environment=environment,
            sha=target.sha,
            make_client=_client_factory(kubeconfig, context),
        )
    requested, live = request_rollback(train, environment, dry_run=dry_run)
    warn(requested.warnings)
    if not apply_now or dry_run:
        if as_json:
            echo_json({**deploy_json(requested), "rolls_back": live.sha})
        else:
            click.echo(requested.action)
            if requested.deployment is not None:
                click.echo(f"follow it at {requested.progress_url}")
        return
    from commit_train.faces.signals import stopping_on_signals

    click.echo(requested.action, err=as_json)
    with stopping_on_signals(), _live_lines(as_json) as lines:
        result = carry_out(
            train,
            options.git(),
            environment=environment,
            sha=requested.commit.sha,
            deployment=requested.deployment,
            make_client=_client_factory(kubeconfig, context),
            how=RunOptions(timeout=wait_for, on_line=lines.line, on_progress=lines.progress),
        )
    _show_run(result, as_json=as_json)
