"""Asking before a change to an environment with ``confirm: true`` (``.commit-train.yml``).

``deploy``, ``rollback`` and ``apply`` ask on a terminal, naming the commit::

    Deploy 1a2b3c4 "Add the checkout button" to production? [y/N]

and go on only on ``y``. ``--yes`` skips the question (a script that means it). Where no one
can answer (stdin is not a terminal: CI, a cron job, a pipe) or the output is for a script
(``--json`` never prompts), the command refuses with one line naming ``--yes``, exit 1,
before anything is recorded. A dry run records nothing and never asks.

The question is asked only when the gate would let the commit through: a red commit is
refused with the gate's own line, not after a question. The commit asked about is the
one deployed (its full sha), even if ``HEAD`` moves while the question waits.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import TYPE_CHECKING

import click

from commit_train.core.gate import NOT_CONFIRMED
from commit_train.core.text import fit, printable
from commit_train.errors import RefusedError

if TYPE_CHECKING:
    from commit_train.models import Commit
    from commit_train.service.train import Train

TITLE_COLUMNS = 60


def _asks(train: Train, environment: str) -> bool:
    env = train.config.environments.get(environment)
    return env is not None and env.confirm


def _terminal() -> bool:
    try:
        return sys.stdin.isatty()
    except (AttributeError, ValueError):
        return False


def _ask(
    question: Callable[[], str], *, environment: str, noun: str, verb: str, as_json: bool
) -> None:
    """Ask ``question()`` (built only when asked), or refuse: no terminal, ``--json``, or
    any answer but yes."""
    if as_json or not _terminal():
        where = "--json never asks" if as_json else "there is no terminal to ask on"
        raise RefusedError(
            f"{environment} asks before each {noun} (confirm: true) and {where}",
            reason=NOT_CONFIRMED,
            fix=f"pass --yes to {verb} without asking",
        )
    try:
        answer = click.confirm(question(), default=False, err=True, prompt_suffix=" ")
    except click.Abort:  # Ctrl-C or end of input: no
        click.echo(err=True)
        answer = False
    if not answer:
        raise RefusedError(
            f"nothing done: the {noun} of {environment} was not confirmed",
            reason=NOT_CONFIRMED,
        )


def _named(commit: Commit) -> str:
    return f'{commit.short_sha} "{printable(fit(commit.title, TITLE_COLUMNS))}"'


def confirm_deploy(
    train: Train, environment: str, ref: str, *, yes: bool, as_json: bool, again: bool = False
) -> str:
    """The ref to deploy: ``ref`` itself when nothing needs asking, else the full sha of
    the commit the person said yes to. A commit the gate refuses (asked with ``again`` as
    the deploy will be) is refused before the question."""
    if yes or not _asks(train, environment):
        return ref
    asked: list[str] = []

    def question() -> str:
        commit, decision = train.check(environment, ref, again=again)
        if not decision.allowed:
            raise RefusedError(decision.message, reason=decision.reason)
        asked.append(commit.sha)
        return f"Deploy {_named(commit)} to {environment}?"

    _ask(question, environment=environment, noun="deploy", verb="deploy", as_json=as_json)
    return asked[0]


def confirm_rollback(train: Train, environment: str, *, yes: bool, as_json: bool) -> None:
    """Ask before ``rollback`` of an environment with ``confirm: true``."""
    if yes or not _asks(train, environment):
        return

    def question() -> str:
        from commit_train.service.rollback import rollback_target

        live, target = rollback_target(train, environment)
        commit = train.backend.resolve(target.sha)
        return f"Roll back {environment} from {live.short_sha} to {_named(commit)}?"

    _ask(question, environment=environment, noun="rollback", verb="roll back", as_json=as_json)
