"""The train's everyday commands: status, deploy, history, record-check, demo and help.

Each is a plain click command that ``faces/cli/main.py`` adds to the group (which gives it
the group's options after the command too); the work is the train's (``service.train``),
imported when the command runs.
"""

from __future__ import annotations

from pathlib import Path

import click

from commit_train.errors import UsageError
from commit_train.faces.cli.common import (
    Options,
    echo_json,
    json_option,
    pass_options,
    warn,
    yes_option,
)
from commit_train.faces.cli.offline_commands import deploy_offline

EXAMPLES = """\
Examples:
  commit-train status                      the 5 newest commits of the default branch
  commit-train status --limit 20 --json    the same for scripts
  commit-train deploy staging 1a2b3c4      ship a green commit of the default branch
  commit-train deploy production HEAD --dry-run
                                           ask the gate only; nothing is recorded
  commit-train history production          what ran there, and whether it worked
  commit-train lock production --reason "db migration" --ttl 2h
                                           only you deploy there until you unlock it
  commit-train stale                       remind about commits merged but not deployed
  commit-train record-check HEAD test success
                                           (local backend) record a check result
  commit-train demo                        the whole job on a scratch repository
  commit-train init                        a repository's config, templates and workflows
  commit-train status -R acme/shop         the options before the command work after it too

The backend is github when --repo is given, or when origin is a GitHub remote and a token is
set (GITHUB_TOKEN or GH_TOKEN); otherwise the local backend keeps a journal in .git/.
"""


@click.command()
@click.option("--limit", default=5, show_default=True, type=int, help="How many commits (1 to 50).")
@json_option
@pass_options
def status(options: Options, limit: int, as_json: bool) -> None:
    """What is on the train: the newest commits, their checks, where each is live."""
    from commit_train.faces.tables import render_status, status_json

    snapshot = options.train().status(limit=limit)
    if as_json:
        echo_json(status_json(snapshot))
    else:
        click.echo(render_status(snapshot, colour=options.colour, width=options.columns))


@click.command()
@click.argument("environment")
@click.argument("ref")
@click.option("--dry-run", is_flag=True, help="Ask the gate only; record nothing.")
@click.option(
    "--offline",
    is_flag=True,
    help="GitHub is down or out of API limit: record the deploy in the local journal "
    "(needs --reason); commit-train sync replays it later.",
)
@click.option("--reason", default=None, help="Why (recorded); --offline needs one.")
@click.option("--again", is_flag=True, help="Deploy even if REF is already queued or live there.")
@yes_option
@json_option
@pass_options
def deploy(
    options: Options,
    environment: str,
    ref: str,
    dry_run: bool,
    offline: bool,
    reason: str | None,
    again: bool,
    yes: bool,
    as_json: bool,
) -> None:
    """Ship commit REF (a sha, a short sha or HEAD) to ENVIRONMENT.

    Refused unless REF is on the default branch and its checks passed.
    """
    from commit_train.core.gate import ALREADY_DEPLOYED
    from commit_train.errors import RefusedError, TemporaryGitHubError
    from commit_train.faces.tables import deploy_json, render_deploy

    if offline:
        deploy_offline(options, environment, ref, reason=reason, dry_run=dry_run, as_json=as_json)
        return
    if reason is not None:
        raise UsageError("--reason goes with --offline", fix="add --offline, or drop --reason")
    try:
        if not dry_run:
            from commit_train.faces.cli.confirm import confirm_deploy

            ref = confirm_deploy(
                options.train(), environment, ref, yes=yes, as_json=as_json, again=again
            )
        result = options.train().deploy(environment, ref, dry_run=dry_run, again=again)
    except RefusedError as refused:
        if refused.reason == ALREADY_DEPLOYED:
            refused.fix = "pass --again to deploy it anyway"
        raise  # under --json, json_refusals prints the decision (message and fix)
    except TemporaryGitHubError as exc:
        from commit_train.service.offline import unreachable

        raise unreachable(exc) from None
    warn(result.warnings)
    if as_json:
        echo_json(deploy_json(result))
    else:
        from commit_train.faces.wiring import LOCAL

        runs_here = options.wired().wiring.kind == LOCAL
        click.echo(render_deploy(result, colour=options.colour, runs_here=runs_here))


@click.command()
@click.argument("environment", required=False)
@click.option("--limit", default=20, show_default=True, type=int, help="Deploys per environment.")
@json_option
@pass_options
def history(options: Options, environment: str | None, limit: int, as_json: bool) -> None:
    """What ran in each environment (or ENVIRONMENT), newest first, and did it work."""
    from commit_train.faces.tables import history_json, render_history

    found = options.train().history(environment, limit=limit)
    if as_json:
        echo_json(history_json(found))
    else:
        click.echo(render_history(found, colour=options.colour, width=options.columns))


@click.command("record-check")
@click.argument("ref")
@click.argument("name")
@click.argument("state", metavar="STATE", type=click.Choice(["success", "failure", "pending"]))
@click.option("--description", default=None, help="One line about the result.")
@click.option("--url", default=None, help="Where the check's log is.")
@pass_options
def record_check(
    options: Options, ref: str, name: str, state: str, description: str | None, url: str | None
) -> None:
    """(local backend) Record that check NAME of commit REF is STATE."""
    recorder = options.check_recorder()
    commit = options.train().backend.resolve(ref)
    check = recorder.record_check(commit.sha, name, state, description=description, url=url)
    click.echo(f"recorded {check.name} {check.state.value} on {commit.short_sha} {commit.title}")


@click.command()
@click.option(
    "--dir",
    "directory",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="An empty or new folder for the scratch repository (default: a temporary one).",
)
@pass_options
def demo(options: Options, directory: Path | None) -> None:
    """Deploy a scratch repository with the local ledger: no GitHub, no cluster."""
    from commit_train.faces.demo import HISTORY_LIMIT, DemoStep, hint, run_demo
    from commit_train.faces.tables import render_history, render_status

    colour = options.colour

    def show(step: DemoStep) -> None:
        click.echo(_paint_step(step.command, colour))
        mark = "" if step.ok else "✗ "
        click.echo(f"  {mark}{step.outcome}")

    result = run_demo(directory, on_step=show)
    click.echo()
    click.echo(_paint_step("commit-train status", colour))
    click.echo(render_status(result.status, colour=colour))
    click.echo()
    click.echo(_paint_step(f"commit-train history --limit {HISTORY_LIMIT}", colour))
    click.echo(render_history(result.history, colour=colour))
    click.echo()
    click.echo(hint(result.root))


def _paint_step(command: str, colour: bool) -> str:
    return click.style(f"$ {command}", bold=True) if colour else f"$ {command}"


@click.command("help")
@click.argument("command", required=False)
@click.pass_context
def help_command(ctx: click.Context, command: str | None) -> None:
    """Show this help with examples, or the help of COMMAND."""
    parent = ctx.parent
    if parent is None:  # pragma: no cover - always run under the group
        raise UsageError("help runs only as a subcommand")
    if command is None:
        click.echo(parent.get_help())
        click.echo()
        click.echo(EXAMPLES.rstrip())
        return
    group = parent.command
    if not isinstance(group, click.Group):  # pragma: no cover - always run under the group
        raise UsageError("help runs only as a subcommand")
    sub = group.get_command(parent, command)
    if sub is None:
        names = ", ".join(group.list_commands(parent))
        raise UsageError(f"no command {command!r} (commands: {names})", fix="see commit-train help")
    sub_ctx = click.Context(sub, info_name=command, parent=parent)
    click.echo(sub.get_help(sub_ctx))
