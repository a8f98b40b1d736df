"""The ``commit-train`` command line: parse, call the train, render; nothing else.

Every error commit-train raises on purpose becomes one ``error: ...`` line on stderr and
the error's exit code (0 done, 1 refused or failed, 2 usage); anything unexpected is one line
too, exit 1, with a hint to rerun with ``--debug`` for the traceback. Click's own usage
errors are one line as well, and a refusal under ``--json`` prints its decision on stdout
(``faces.cli.errors``).

Start-up is kept cheap: this module imports only click at the top. The config (pydantic),
the train and the local ledger are imported when a command runs, and PyGithub only when the
github backend is chosen, so ``commit-train --help`` stays fast and never loads the heavy
clients.
"""

from __future__ import annotations

import functools
import json
import os
import sys
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

import click

from commit_train import __version__
from commit_train.core.text import plural, printable
from commit_train.errors import CommitTrainError, UsageError
from commit_train.faces.cli.completion import completion_command
from commit_train.faces.cli.errors import (
    json_refusals,
    mark_json_printed,
    name_the_command,
    run_standalone,
)
from commit_train.faces.cli.init import init_command
from commit_train.faces.cli.sweep import sweep_command

if TYPE_CHECKING:
    from commit_train.config import Config
    from commit_train.faces.terminal import LiveLines
    from commit_train.faces.wiring import CliWiring
    from commit_train.gitrepo import GitRepo
    from commit_train.ports import CheckRecorder, OfflineJournal
    from commit_train.service.train import Train

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


# -- context -----------------------------------------------------------------------------


@dataclass
class Options:
    """The group's options, and the train built from them on first use."""

    repo: str | None
    token: str | None
    backend: str | None
    directory: Path | None
    debug: bool
    _git: GitRepo | None = field(default=None, repr=False)
    _wired: CliWiring | None = field(default=None, repr=False)

    @property
    def colour(self) -> bool:
        return sys.stdout.isatty() and not os.environ.get("NO_COLOR")

    @property
    def columns(self) -> int | None:
        """The width tables are cut to: the terminal's, or None for a pipe (``faces/terminal``)."""
        from commit_train.faces.terminal import columns

        return columns(sys.stdout)

    def git(self) -> GitRepo:
        from commit_train.gitrepo import GitRepo

        if self._git is None:
            self._git = GitRepo.discover(self.directory or Path.cwd())
        return self._git

    def _git_or_none(self) -> GitRepo | None:
        try:
            return self.git()
        except CommitTrainError:
            return None

    def _choose(self, git: GitRepo | None) -> str:
        from commit_train.faces import wiring

        backend, repo, token = self.backend, self.repo, self.token
        note = wiring.local_fallback_note(
            backend=backend, repo=repo, token=token, git=git, environ=os.environ
        )
        if note is not None:
            click.echo(note, err=True)
        return wiring.choose(backend=backend, repo=repo, token=token, git=git, environ=os.environ)

    def wired(self) -> CliWiring:
        """The backend, its ports and the train over them, chosen once (``faces/wiring``)."""
        from commit_train.faces import wiring

        if self._wired is None:
            found = self._git_or_none()
            self._wired = wiring.for_cli(
                kind=self._choose(found),
                repo=self.repo,
                token=self.token,
                git=self.git,
                found_git=found,
                directory=self.directory or Path.cwd(),
                environ=os.environ,
                on_wait=_progress,
            )
        return self._wired

    def train(self) -> Train:
        return self.wired().train

    def check_recorder(self) -> CheckRecorder:
        recorder = self.wired().wiring.checks
        if recorder is None:
            raise UsageError(
                "record-check works only with the local backend; on GitHub your CI reports checks",
                fix="pass --backend local",
            )
        return recorder


def _echo_json(document: dict[str, Any]) -> None:
    click.echo(json.dumps(document, indent=2, ensure_ascii=False))
    mark_json_printed()


def _progress(line: str) -> None:
    """A wait on GitHub (a retry, a rate limit): one line on stderr, never on stdout,
    so ``--json`` output stays one document."""
    click.echo(printable(line), err=True)


def _warn(warnings: Iterable[str]) -> None:
    """Warnings (a notification not sent...) go to stderr and never change the exit code."""
    for line in warnings:
        click.echo(f"warning: {printable(' '.join(line.split()))}", err=True)


# -- the group, and its error handling ---------------------------------------------------


def _fail(ctx: click.Context, line: str, code: int) -> NoReturn:
    click.echo(f"error: {printable(' '.join(line.split()))}", err=True)
    ctx.exit(code)
    raise AssertionError("unreachable")  # pragma: no cover


def _debug(ctx: click.Context) -> bool:
    """--debug, given before the command or after it."""
    return bool(ctx.params.get("debug") or getattr(ctx.obj, "debug", False))


# The group's options, accepted after the command as well (``commit-train status -R acme/app``,
# the gh habit). Each command gets its own copy; given there, a value wins over the same option
# before the command. Environment variables are read by the group's options only, so a token
# given before the command is never replaced by GITHUB_TOKEN.
def _after_the_command(ctx: click.Context, param: click.Parameter, value: Any) -> Any:
    options = ctx.find_object(Options)  # None while completing: the group did not run
    if options is not None and value not in (None, False) and param.name is not None:
        setattr(options, param.name.removeprefix("global_"), value)
    return value


def _global_options() -> list[click.Parameter]:
    def option(*decls: str, **attrs: Any) -> click.Option:
        return click.Option(decls, expose_value=False, callback=_after_the_command, **attrs)

    return [
        option("-R", "--repo", "global_repo", metavar="OWNER/NAME", help=REPO_HELP),
        option("--token", "global_token", help="A GitHub token (default: GITHUB_TOKEN, GH_TOKEN)."),
        option(
            "--backend",
            "global_backend",
            type=click.Choice(["github", "local"]),
            help=(
                "Where commits, checks and deploys live (default: COMMIT_TRAIN_BACKEND, see "
                "commit-train --help)."
            ),
        ),
        option(
            "-C",
            "global_directory",
            type=click.Path(file_okay=False, path_type=Path),
            metavar="PATH",
            help=DIRECTORY_HELP,
        ),
        option("--debug", "global_debug", is_flag=True, default=None, help=DEBUG_HELP),
    ]


REPO_HELP = "The GitHub repository (default: the checkout's origin). Implies --backend github."
DIRECTORY_HELP = "The repository folder (default: the current one)."
DEBUG_HELP = "Show the traceback of an unexpected error."


# Commands that act on no one repository: after them only --debug means something.
_NOT_REPOSITORY_SCOPED = {"serve", "completion"}


class _Group(click.Group):
    def main(
        self,
        args: Sequence[str] | None = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        windows_expand_args: bool = True,
        **extra: Any,
    ) -> Any:
        """Click's ``main``, with usage errors reported as one line (``faces.cli.errors``)."""
        run = functools.partial(
            super().main, complete_var=complete_var, windows_expand_args=windows_expand_args
        )
        if not standalone_mode:
            return run(args, prog_name, standalone_mode=False, **extra)
        run_standalone(run, args, prog_name, extra)

    def add_command(self, cmd: click.Command, name: str | None = None) -> None:
        if not isinstance(cmd, click.Group):
            taken = {opt for param in cmd.params for opt in param.opts}
            if (name or cmd.name) in _NOT_REPOSITORY_SCOPED:
                taken |= {"-R", "--repo", "--token", "--backend", "-C"}
            cmd.params += [p for p in _global_options() if not taken & set(p.opts)]
        super().add_command(cmd, name)

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except CommitTrainError as exc:
            if _debug(ctx):
                raise
            _fail(ctx, str(exc), exc.exit_code)
        except click.UsageError as exc:
            name_the_command(exc, ctx)
            raise
        except (click.exceptions.ClickException, click.exceptions.Exit, click.Abort):
            raise
        except Exception as exc:
            if _debug(ctx):
                raise
            _fail(
                ctx,
                f"unexpected {type(exc).__name__}: {exc}; "
                "rerun with --debug for the traceback and report it",
                1,
            )


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="commit-train")
@click.option("-R", "--repo", metavar="OWNER/NAME", help=REPO_HELP)
@click.option(
    "--token",
    envvar=["GITHUB_TOKEN", "GH_TOKEN"],
    show_envvar=True,
    help="A GitHub token.",
)
@click.option(
    "--backend",
    type=click.Choice(["github", "local"]),
    envvar="COMMIT_TRAIN_BACKEND",
    show_envvar=True,
    help="Where commits, checks and deploys live (default: github when --repo is given, or "
    "origin is on GitHub and a token is set; else local).",
)
@click.option(
    "-C",
    "directory",
    type=click.Path(file_okay=False, path_type=Path),
    metavar="PATH",
    help=DIRECTORY_HELP,
)
@click.option("--debug", is_flag=True, help=DEBUG_HELP)
@click.pass_context
def cli(
    ctx: click.Context,
    repo: str | None,
    token: str | None,
    backend: str | None,
    directory: Path | None,
    debug: bool,
) -> None:
    """Deploy any green commit of the default branch to any environment."""
    ctx.obj = Options(
        repo=repo, token=token or None, backend=backend, directory=directory, debug=debug
    )


pass_options = click.make_pass_decorator(Options)
_json_flag = click.option("--json", "as_json", is_flag=True, help="Print JSON (see docs/cli.md).")


def json_option(command: Any) -> Any:
    """``--json``; a refusal then prints its decision as JSON too (``faces.cli.errors``)."""
    return _json_flag(json_refusals(command))


yes_option = click.option(
    "--yes", "-y", is_flag=True, help="Do not ask, where the environment has confirm: true."
)


@cli.command()
@click.option("--limit", default=5, show_default=True, type=int, help="How many commits (1 to 50).")
@json_option
@pass_options
def status(options: Options, limit: int, as_json: bool) -> None:
    """What is on the train: the newest commits, their checks, where each is live."""
    from commit_train.faces.tables import render_status, status_json

    snapshot = options.train().status(limit=limit)
    if as_json:
        _echo_json(status_json(snapshot))
    else:
        click.echo(render_status(snapshot, colour=options.colour, width=options.columns))


@cli.command()
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
        _deploy_offline(options, environment, ref, reason=reason, dry_run=dry_run, as_json=as_json)
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
    _warn(result.warnings)
    if as_json:
        _echo_json(deploy_json(result))
    else:
        from commit_train.faces.wiring import LOCAL

        runs_here = options.wired().wiring.kind == LOCAL
        click.echo(render_deploy(result, colour=options.colour, runs_here=runs_here))


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


def _deploy_offline(
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
        _echo_json(dict(offline_json(result)))
    else:
        click.echo(result.action)


@cli.command("sync")
@json_option
@pass_options
def sync_command(options: Options, as_json: bool) -> None:
    """Replay deploys recorded with deploy --offline into GitHub (safe to rerun)."""
    from commit_train.service.offline import sync, sync_json

    local, _loaded, _repo, _git = _journal(options, "sync")
    report = sync(local, options.train().backend)
    if as_json:
        _echo_json(sync_json(report))
        return
    for item in report.synced:
        how = "created" if item.created else "already on GitHub"
        click.echo(
            f"local deployment {item.local_id} -> GitHub deployment {item.github_id}: "
            f"{item.sha[:7]} to {item.environment} "
            f"({how}, {plural(item.statuses_added, 'status', 'statuses')} added)"
        )
    click.echo(report.summary)


@cli.command()
@click.argument("environment", required=False)
@click.option("--limit", default=20, show_default=True, type=int, help="Deploys per environment.")
@json_option
@pass_options
def history(options: Options, environment: str | None, limit: int, as_json: bool) -> None:
    """What ran in each environment (or ENVIRONMENT), newest first, and did it work."""
    from commit_train.faces.tables import history_json, render_history

    found = options.train().history(environment, limit=limit)
    if as_json:
        _echo_json(history_json(found))
    else:
        click.echo(render_history(found, colour=options.colour, width=options.columns))


# -- operations: locks and stale commits -------------------------------------------------


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


@cli.command("lock")
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
    _warn(warnings)
    if as_json:
        _echo_json({"version": 1, **lock_json(lock, train.clock())})
    else:
        click.echo(describe_lock(lock))


@cli.command("unlock")
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
    _warn(warnings)
    lock = done.lock
    if as_json:
        _echo_json(
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


@cli.command("locks")
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
        _echo_json(locks_json(found, now))
    else:
        click.echo(render_locks(found, now=now, colour=options.colour, width=options.columns))


@cli.command("stale")
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
    _warn(warnings)
    if as_json:
        _echo_json(stale_json(report))
    else:
        click.echo(
            render_stale(report, dry_run=dry_run, colour=options.colour, width=options.columns)
        )


@cli.command("stats")
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
        _echo_json(stats_json(result))
    elif as_mermaid:
        click.echo(mermaid(result), nl=False)
    else:
        click.echo(render_table(result))
        if chart is not None:
            click.echo(f"chart written to {chart}")


@cli.command("record-check")
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


@cli.command()
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


# -- Kubernetes: render, apply, rollback (the run itself is commit_train.service.pipeline) --------


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

    _warn(result.warnings)
    if as_json:
        _echo_json(result_json(result))
    elif result.ok:
        click.echo(result.run.summary)
    else:
        for line in result.run.details[2:]:
            click.echo(line)
    if not result.ok:
        extra = f"; {result.rollback.line}" if result.rollback is not None else ""
        raise RolloutError(f"{result.run.summary}{extra}")


@cli.command("render")
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
        _echo_json(rendered_json(rendered))
    elif out is not None:
        written = rendered.write_dir(out, redacted=True)
        click.echo(f"wrote {plural(len(written), 'file')} to {out}")
    else:
        click.echo(rendered.stream(), nl=False)


@cli.command("apply")
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


@cli.command("rollback")
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
    _warn(requested.warnings)
    if not apply_now or dry_run:
        if as_json:
            _echo_json({**deploy_json(requested), "rolls_back": live.sha})
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


@cli.command("serve")
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


@cli.command("help")
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
    sub = group.get_command(parent, command) if isinstance(group, click.Group) else None
    if sub is None:
        names = ", ".join(cli.list_commands(parent))
        raise UsageError(f"no command {command!r} (commands: {names})", fix="see commit-train help")
    sub_ctx = click.Context(sub, info_name=command, parent=parent)
    click.echo(sub.get_help(sub_ctx))


class _ActionGroup(click.Group):
    """``commit-train action NAME``: the GitHub Actions steps, loaded only when one runs,
    so ``commit-train --help`` stays as cheap as importing click."""

    def _steps(self) -> click.Group:
        from commit_train.faces.actions.steps import action

        return action

    def list_commands(self, ctx: click.Context) -> list[str]:
        return self._steps().list_commands(ctx)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        return self._steps().get_command(ctx, cmd_name)


cli.add_command(
    _ActionGroup(
        "action",
        help="Run one step of commit-train's GitHub Actions (inputs from INPUT_* variables; "
        "see docs/actions/).",
    )
)

cli.add_command(init_command)
cli.add_command(completion_command)
cli.add_command(sweep_command)


def main() -> None:
    cli.main(prog_name="commit-train")
