"""How the command line reports what went wrong: one style for every command.

- A usage error (click's: a bad option, a missing argument, an unknown command) is one
  line on stderr, ``error: <what>; see 'commit-train <command> --help'``, exit 2, in
  place of click's four lines (usage, a hint, a blank line, ``Error: ...``).
- An error commit-train raises on purpose is one line, ``error: <what>; <fix>``, with the
  error's exit code (``faces.cli.main``'s group prints it).
- Under ``--json``, a refusal (any of those errors with exit code 1) also prints its
  decision on stdout, so a script reading stdout always gets a document:
  ``{"version": 1, "environment", "ref", "dry_run", "decision": {"allowed": false,
  "reason", "message"}}``, with the arguments the command took among ``environment``,
  ``ref`` and ``dry_run``. The shape is documented in docs/cli.md.

Only click is imported here: the error classes are loaded when an error is reported.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, TypeVar

import click

if TYPE_CHECKING:
    from commit_train.errors import CommitTrainError

JSON_VERSION = 1
JSON_PRINTED = "commit_train.json_printed"
"""``ctx.meta`` key set once a command printed its JSON document (so a refusal after it,
like a failed rollout, prints no second one)."""

REFUSAL_FIELDS = ("environment", "ref", "dry_run")

F = TypeVar("F", bound=Callable[..., Any])


def usage_line(error: click.UsageError) -> str:
    """Click's usage error as one line naming the help to read (no ``error:`` prefix).

    ``No such option '--repo'. Did you mean '--reason'?`` becomes ``no such option
    '--repo' (did you mean '--reason'?); see 'commit-train status --help'``; an error of
    the group itself (an unknown command, a bad global option) points at ``commit-train
    --help``."""
    text = " ".join(error.format_message().split())
    first, _, rest = text.partition(". ")
    what = _lower_first(first.rstrip("."))
    hint = _lower_first(rest.strip().strip("()").rstrip("."))
    if hint:
        what = f"{what} ({hint})"
    ctx = error.ctx
    path = ctx.command_path if ctx is not None else "commit-train"
    return f"{what}; see '{path} --help'"


def _lower_first(text: str) -> str:
    """``No such option`` -> ``no such option``; ``REF ...`` and ``'x'`` stay as written."""
    if text[:1].isupper() and not text[1:2].isupper():
        return text[0].lower() + text[1:]
    return text


def name_the_command(error: click.UsageError, ctx: click.Context) -> None:
    """Some usage errors (an option missing its value) come from click's parser with no
    context; the group knows which of its commands was being parsed, so the line can
    point at that command's help."""
    name = ctx.invoked_subcommand
    if error.ctx is not None or not name or not isinstance(ctx.command, click.Group):
        return
    command = ctx.command.get_command(ctx, name)
    if command is not None:
        error.ctx = click.Context(command, info_name=name, parent=ctx)


def echo_error(line: str) -> None:
    click.echo(f"error: {line}", err=True)


def mark_json_printed() -> None:
    ctx = click.get_current_context(silent=True)
    if ctx is not None:
        ctx.meta[JSON_PRINTED] = True


def reason_of(error: CommitTrainError) -> str:
    """A stable, machine-readable code for ``error``: the gate's own reason for a refused
    deploy, else one named for the kind of error."""
    from commit_train import errors

    reason = getattr(error, "reason", None)
    if isinstance(reason, str) and reason:
        return reason
    table: tuple[tuple[type[errors.CommitTrainError], str], ...] = (
        (errors.AmbiguousRefError, "ambiguous-ref"),
        (errors.NotFoundError, "not-found"),
        (errors.ConfigError, "config"),
        (errors.RenderError, "render"),
        (errors.GitError, "git"),
        (errors.LedgerError, "ledger"),
        (errors.AuthError, "github-auth"),
        (errors.RateLimitError, "github-rate-limit"),
        (errors.TemporaryGitHubError, "github-unavailable"),
        (errors.GitHubError, "github"),
        (errors.RolloutError, "rollout-failed"),
        (errors.KubeError, "kubernetes"),
    )
    return next((code for kind, code in table if isinstance(error, kind)), "error")


def refusal_json(error: CommitTrainError, params: Mapping[str, Any]) -> dict[str, Any]:
    """The JSON decision of a refused command (see the module docstring)."""
    return {
        "version": JSON_VERSION,
        **{name: params[name] for name in REFUSAL_FIELDS if name in params},
        "decision": {"allowed": False, "reason": reason_of(error), "message": str(error)},
    }


def json_refusals(callback: F) -> F:
    """Wrap a command that takes ``--json``: a refusal it raises (exit code 1) under
    ``--json`` prints its decision on stdout before the error line, unless the command
    already printed its document."""
    from commit_train.errors import CommitTrainError

    @functools.wraps(callback)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return callback(*args, **kwargs)
        except CommitTrainError as error:
            ctx = click.get_current_context()
            refused = ctx.params.get("as_json") and error.exit_code == 1
            if refused and not ctx.meta.get(JSON_PRINTED):
                document = refusal_json(error, ctx.params)
                click.echo(json.dumps(document, indent=2, ensure_ascii=False))
                ctx.meta[JSON_PRINTED] = True
            raise

    return wrapper  # type: ignore[return-value]


def run_standalone(
    main: Callable[..., Any], args: Any, prog_name: str | None, extra: Mapping[str, Any]
) -> None:
    """Run a click command's ``main`` without click's standalone error printing, and
    report its errors in commit-train's style; always ends the process (``SystemExit``)."""
    import sys

    try:
        code = main(args, prog_name, standalone_mode=False, **extra)
    except click.exceptions.NoArgsIsHelpError as error:  # no command given: the help
        error.show()
        sys.exit(error.exit_code)
    except click.UsageError as error:
        echo_error(usage_line(error))
        sys.exit(2)
    except click.ClickException as error:
        echo_error(" ".join(error.format_message().split()))
        sys.exit(error.exit_code)
    except click.Abort:
        echo_error("aborted")
        sys.exit(1)
    sys.exit(code if isinstance(code, int) else 0)
