"""What the commands share: the group's options, the train built from them, and output.

``Options`` holds the group's options (``-R``, ``--token``, ``--backend``, ``-C``,
``--debug``) and builds the train from them on first use; ``pass_options``, ``json_option``
and ``yes_option`` are the decorators the commands take; ``echo_json`` and ``warn`` print
a command's JSON document and its warnings. It imports only click at the top (the config,
the backends and the train load when a command runs), so ``commit-train --help`` stays cheap.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from commit_train.core.text import printable
from commit_train.errors import CommitTrainError, UsageError
from commit_train.faces.cli.errors import json_refusals, mark_json_printed

if TYPE_CHECKING:
    from commit_train.faces.wiring import CliWiring
    from commit_train.gitrepo import GitRepo
    from commit_train.ports import CheckRecorder
    from commit_train.service.train import Train


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
                on_wait=progress,
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


def echo_json(document: dict[str, Any]) -> None:
    click.echo(json.dumps(document, indent=2, ensure_ascii=False))
    mark_json_printed()


def progress(line: str) -> None:
    """A wait on GitHub (a retry, a rate limit): one line on stderr, never on stdout,
    so ``--json`` output stays one document."""
    click.echo(printable(line), err=True)


def warn(warnings: Iterable[str]) -> None:
    """Warnings (a notification not sent...) go to stderr and never change the exit code."""
    for line in warnings:
        click.echo(f"warning: {printable(' '.join(line.split()))}", err=True)


pass_options = click.make_pass_decorator(Options)
_json_flag = click.option("--json", "as_json", is_flag=True, help="Print JSON (see docs/cli.md).")


def json_option(command: Any) -> Any:
    """``--json``; a refusal then prints its decision as JSON too (``faces.cli.errors``)."""
    return _json_flag(json_refusals(command))


yes_option = click.option(
    "--yes", "-y", is_flag=True, help="Do not ask, where the environment has confirm: true."
)
