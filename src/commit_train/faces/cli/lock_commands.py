"""Locks and stale commits: ``lock``, ``unlock``, ``locks`` and ``stale``.

Plain click commands that ``faces/cli/main.py`` adds to the group; the rules are the
train's (``service.locks``, ``service.stale``), imported when a command runs.
"""

from __future__ import annotations

import click

from commit_train.errors import UsageError
from commit_train.faces.cli.common import Options, echo_json, json_option, pass_options, warn


def _scope(environment: str | None, every: bool, verb: str) -> str | None:
    """ENVIRONMENT, or None for the global lock (``--all``); exactly one of them."""
    if every and environment is not None:
        raise UsageError(
            f"{verb} takes ENVIRONMENT or --all, not both", fix=f"drop {environment!r} or --all"
        )
    if not every and environment is None:
        raise UsageError(
            f"{verb} needs an environment", fix="name it, or pass --all for every environment"
        )
    return None if every else environment


def _ttl_seconds(ttl: str | None) -> float | None:
    from commit_train.config import parse_duration

    if ttl is None:
        return None
    try:
        seconds = parse_duration(ttl)
    except ValueError:
        raise UsageError(
            f"--ttl {ttl!r} is not a duration", fix="write it like 30m, 2h or 1d"
        ) from None
    if seconds <= 0:
        raise UsageError("--ttl must be longer than 0", fix="write it like 30m, 2h or 1d")
    return seconds


all_option = click.option(
    "--all", "every", is_flag=True, help="The global lock, over every environment."
)


@click.command("lock")
@click.argument("environment", required=False)
@all_option
@click.option("--reason", default="", help="Why (required): shown to everyone it stops.")
@click.option(
    "--ttl",
    default=None,
    metavar="DURATION",
    help="Let the lock expire after this long, like 30m, 2h or 1d (default: never).",
)
@json_option
@pass_options
def lock_command(
    options: Options,
    environment: str | None,
    every: bool,
    reason: str,
    ttl: str | None,
    as_json: bool,
) -> None:
    """Lock ENVIRONMENT (or --all) so that only you can deploy there.

    Refused, naming the holder, when someone else holds the lock.
    """
    from commit_train.models import describe_lock
    from commit_train.service.locks import lock_json

    scope = _scope(environment, every, "lock")
    seconds = _ttl_seconds(ttl)
    train = options.train()
    lock, warnings = train.lock(scope, reason=reason, ttl=seconds)
    warn(warnings)
    if as_json:
        echo_json({"version": 1, **lock_json(lock, train.clock())})
    else:
        click.echo(describe_lock(lock))


@click.command("unlock")
@click.argument("environment", required=False)
@all_option
@click.option("--force", is_flag=True, help="Break someone else's lock (needs --reason).")
@click.option("--reason", default="", help="Why; required with --force, and recorded.")
@json_option
@pass_options
def unlock_command(
    options: Options,
    environment: str | None,
    every: bool,
    force: bool,
    reason: str,
    as_json: bool,
) -> None:
    """End your lock of ENVIRONMENT (or --all); --force --reason ends anyone's."""
    from commit_train.models import possessive
    from commit_train.service.locks import lock_json, where

    scope = _scope(environment, every, "unlock")
    if force and not reason.strip():
        raise UsageError(
            "--force needs --reason: breaking a lock is recorded with why",
            fix='pass --reason "..."',
        )
    train = options.train()
    done, warnings = train.unlock(scope, force=force, reason=reason)
    warn(warnings)
    lock = done.lock
    if as_json:
        echo_json(
            {
                "version": 1,
                "environment": lock.environment,
                "global": lock.is_global,
                "unlocked_by": done.by,
                "forced": done.forced,
                "reason": done.reason or None,
                "lock": lock_json(lock, train.clock()),
            }
        )
    elif done.forced:
        click.echo(
            f"unlocked {where(lock.environment)}: broke {possessive(lock.holder)} lock "
            f"({lock.reason}): {done.reason}"
        )
    else:
        click.echo(f"unlocked {where(lock.environment)} ({lock.reason})")


@click.command("locks")
@json_option
@pass_options
def locks_command(options: Options, as_json: bool) -> None:
    """Every lock: who holds it, why, since when, until when."""
    from commit_train.faces.tables import render_locks
    from commit_train.service.locks import locks_json

    train = options.train()
    found = train.current_locks()
    now = train.clock()
    if as_json:
        echo_json(locks_json(found, now))
    else:
        click.echo(render_locks(found, now=now, colour=options.colour, width=options.columns))


@click.command("stale")
@click.argument("environment", required=False)
@click.option(
    "--dry-run",
    is_flag=True,
    help="List stale commits only: send nothing and leave them to be reminded later.",
)
@json_option
@pass_options
def stale_command(options: Options, environment: str | None, dry_run: bool, as_json: bool) -> None:
    """Remind about commits merged but not deployed past each environment's stale-after.

    Each commit is reminded once (to the environment's notification route), not on every run;
    a locked environment stays quiet.
    """
    from commit_train.faces.tables import render_stale
    from commit_train.service.stale import stale_json

    report, warnings = options.train().stale(environment, dry_run=dry_run)
    warn(warnings)
    if as_json:
        echo_json(stale_json(report))
    else:
        click.echo(
            render_stale(report, dry_run=dry_run, colour=options.colour, width=options.columns)
        )
