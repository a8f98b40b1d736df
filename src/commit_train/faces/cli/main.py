"""The ``commit-train`` group: its options, its error handling, and the commands added to it.

The commands live in modules by what they do, each a plain click command added here with
``cli.add_command``, which also gives every command the group's options after its name
(``commit-train status -R acme/app``): ``train_commands`` (status, deploy, history,
record-check, demo, help), ``offline_commands`` (``deploy --offline``, sync),
``lock_commands`` (lock, unlock, locks, stale), ``kube_commands`` (render, apply,
rollback), ``stats_command``, ``serve_command``, ``init``, ``completion`` and ``sweep``;
what they share (the options object, ``--json``, warnings) is ``faces.cli.common``. The
command modules never import this one.

Every error commit-train raises on purpose becomes one ``error: ...`` line on stderr and
the error's exit code (0 done, 1 refused or failed, 2 usage); anything unexpected is one line
too, exit 1, with a hint to rerun with ``--debug`` for the traceback. Click's own usage
errors are one line as well, and a refusal under ``--json`` prints its decision on stdout
(``faces.cli.errors``).

Start-up is kept cheap: these modules import only click at the top. The config (pydantic),
the train and the local ledger are imported when a command runs, and PyGithub only when the
github backend is chosen, so ``commit-train --help`` stays fast and never loads the heavy
clients.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NoReturn

import click

from commit_train import __version__
from commit_train.core.text import printable
from commit_train.errors import CommitTrainError
from commit_train.faces.cli import kube_commands, lock_commands, train_commands
from commit_train.faces.cli.common import Options
from commit_train.faces.cli.completion import completion_command
from commit_train.faces.cli.errors import name_the_command, run_standalone
from commit_train.faces.cli.init import init_command
from commit_train.faces.cli.offline_commands import sync_command
from commit_train.faces.cli.serve_command import serve_command
from commit_train.faces.cli.stats_command import stats_command
from commit_train.faces.cli.sweep import sweep_command

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

for command in (
    train_commands.status,
    train_commands.deploy,
    train_commands.history,
    lock_commands.lock_command,
    lock_commands.unlock_command,
    lock_commands.locks_command,
    lock_commands.stale_command,
    stats_command,
    train_commands.record_check,
    train_commands.demo,
    kube_commands.render_command,
    kube_commands.apply_command,
    kube_commands.rollback_command,
    serve_command,
    train_commands.help_command,
    sync_command,
    init_command,
    completion_command,
    sweep_command,
):
    cli.add_command(command)


def main() -> None:
    cli.main(prog_name="commit-train")
