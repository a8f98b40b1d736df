"""Which backend, and what goes with it: decided once, here, for every face.

A face (the CLI, the Actions steps, the demo) asks this module for a ``Wiring``: the backend
and, beside it, the implementation of every port that goes with that backend: where locks
live, where stale marks live, where the default branch's history is read, and whether
checks can be recorded by hand. The services then see only the ports (``ports.py``); no
code anywhere asks a backend what it is or what it can do.

=================  ==============================  ====================================
port               github                          local
=================  ==============================  ====================================
``Backend``        ``GitHubBackend``               ``LocalBackend`` (git + the journal)
``LockStore``      ``GitHubLockStore`` (refs)      ``LocalLockStore`` (the journal)
``StaleState``     ``GitHubStaleState`` (refs)     ``LocalStaleState`` (the journal)
``History``        the backend (GraphQL)           the backend (``git log``)
``CheckRecorder``  none: the CI reports checks     the backend
=================  ==============================  ====================================

Also here: which backend the CLI chooses (``choose``), who acts (``cli_actor``,
``github_actor``), which notifier (``notifier``), and the local journal that ``deploy
--offline`` and ``sync`` use beside GitHub (``offline_journal``). PyGithub is imported only
when the github backend is built, so a command on the local backend never loads it.
"""

from __future__ import annotations

import getpass
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from commit_train.errors import UsageError
from commit_train.models import OwnRun, utc_now

if TYPE_CHECKING:
    from commit_train.backends.github.backend import GitHubBackend
    from commit_train.backends.local.backend import LocalBackend
    from commit_train.config import Config
    from commit_train.faces.notify import WebhookNotifier
    from commit_train.gitrepo import GitRepo
    from commit_train.ports import (
        Backend,
        CheckRecorder,
        History,
        LockStore,
        Notifier,
        OfflineJournal,
        StaleState,
    )
    from commit_train.service.train import Train

GITHUB = "github"
LOCAL = "local"


@dataclass(frozen=True)
class Wiring:
    """One backend and the ports that go with it."""

    kind: str  # "github" or "local"
    backend: Backend
    locks: LockStore
    stale: StaleState
    history: History
    clock: Callable[[], datetime]
    checks: CheckRecorder | None = None  # where ``record-check`` writes; None on GitHub

    def train(
        self,
        config: Config,
        *,
        actor: str | Callable[[], str],
        source: str,
        notifier: Notifier | None = None,
        own_run: OwnRun | None = None,
    ) -> Train:
        """The train service over this backend, its locks and its stale marks."""
        from commit_train.service.train import Train

        return Train(
            self.backend,
            config,
            actor=actor,
            source=source,
            locks=self.locks,
            stale=self.stale,
            notifier=notifier,
            clock=self.clock,
            own_run=own_run,
        )


def local(backend: LocalBackend, *, clock: Callable[[], datetime] | None = None) -> Wiring:
    """A plain repository: everything in git and its journal."""
    from commit_train.backends.local.locks import LocalLockStore
    from commit_train.backends.local.marks import LocalStaleState

    clock = clock or utc_now
    return Wiring(
        kind=LOCAL,
        backend=backend,
        locks=LocalLockStore(backend.journal, clock=clock),
        stale=LocalStaleState(backend),
        history=backend,
        clock=clock,
        checks=backend,
    )


def github(backend: GitHubBackend, *, clock: Callable[[], datetime] | None = None) -> Wiring:
    """A GitHub repository: locks and stale marks as refs in it."""
    from commit_train.service.locks import GitHubLockStore
    from commit_train.service.stale import GitHubStaleState

    clock = clock or utc_now
    return Wiring(
        kind=GITHUB,
        backend=backend,
        locks=GitHubLockStore(backend, clock=clock),
        stale=GitHubStaleState(backend),
        history=backend,
        clock=clock,
    )


# -- the github backend ---------------------------------------------------------------------


def github_backend(
    repo: str, *, token: str | None, base_url: str | None = None, **options: object
) -> GitHubBackend:
    """A ``GitHubBackend`` for ``repo`` (``base_url``, else ``GITHUB_API_URL``; ``token``,
    else ``GITHUB_TOKEN``/``GH_TOKEN``). PyGithub is imported only now."""
    from commit_train.backends.github.backend import GitHubBackend

    return GitHubBackend.from_env(repo, token=token, base_url=base_url, **options)


def actions_github(
    repo: str, *, token: str, api_url: str, on_wait: Callable[[str], None] | None = None
) -> GitHubBackend:
    """The ``GitHubBackend`` of a workflow run: its repository, its API (``GITHUB_API_URL``
    as the runner gives it) and the step's token; ``on_wait`` hears of every retry and
    rate-limit wait (the step's log)."""
    from commit_train.backends.github.backend import GitHubBackend

    return GitHubBackend(repo, token=token, base_url=api_url, on_wait=on_wait)


def github_probe(repo: str, *, token: str | None) -> Backend:
    """A backend that asks GitHub once and never retries: is GitHub down right now?"""
    return github_backend(repo, token=token, max_attempts=1, max_wait=0.0)


def github_actor(backend: GitHubBackend, environ: Mapping[str, str]) -> str:
    """Who acts on the github backend: the token's login, never a name anyone can set.

    One exception: a workflow step with the workflow's own token (its login is a bot's,
    ``github-actions[bot]``) acts for the person who started the run, whom GitHub names in
    ``GITHUB_ACTOR``. Asked only when a command needs it; a deploy gets it from the gate's
    query at no cost.
    """
    login = backend.viewer_login()
    on_behalf = environ.get("GITHUB_ACTOR")
    if login.endswith("[bot]") and environ.get("GITHUB_ACTIONS") == "true" and on_behalf:
        return on_behalf
    return login


# -- the local backend ------------------------------------------------------------------------


def local_backend(git: GitRepo, config: Config) -> LocalBackend:
    """The checkout's own ledger: its git repository and the journal in its ``.git/``."""
    from commit_train.backends.local.backend import LocalBackend

    return LocalBackend(git.root, default_branch=config.default_branch, git=git)


def offline_journal(git: GitRepo, config: Config) -> OfflineJournal:
    """The checkout's journal, which ``deploy --offline`` records in and ``sync`` replays."""
    return local_backend(git, config)


def cli_actor(git: GitRepo | None, environ: Mapping[str, str]) -> str:
    """Who acts on the local backend (and in a deploy recorded offline, when GitHub cannot
    say): ``GITHUB_ACTOR``, else git's ``user.name``, else the login name."""
    who = environ.get("GITHUB_ACTOR") or (git.user_name() if git is not None else None)
    if who:
        return who
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


# -- the notifier ------------------------------------------------------------------------------


def notifier(config: Config, environ: Mapping[str, str]) -> WebhookNotifier:
    """Notifications to the routes of the config; webhook URLs come from ``environ``."""
    from commit_train.faces.notify import WebhookNotifier

    return WebhookNotifier(config, environ=environ)


# -- the command line ---------------------------------------------------------------------------


def is_github_host(host: str, environ: Mapping[str, str]) -> bool:
    host = host.lower()
    if host in ("github.com", "www.github.com", "ssh.github.com"):
        return True
    for variable in ("GITHUB_SERVER_URL", "GITHUB_API_URL", "GH_HOST"):
        value = environ.get(variable, "")
        if value and host in value.lower():
            return True
    return False


def choose(
    *,
    backend: str | None,
    repo: str | None,
    token: str | None,
    git: GitRepo | None,
    environ: Mapping[str, str],
) -> str:
    """``--backend``, else github when ``--repo`` is given or origin is on GitHub and a
    token is set, else local."""
    if backend:
        return backend
    if repo:
        return GITHUB
    origin = git.origin() if git is not None else None
    if origin is not None and token and is_github_host(origin.host, environ):
        return GITHUB
    return LOCAL


def local_fallback_note(
    *,
    backend: str | None,
    repo: str | None,
    token: str | None,
    git: GitRepo | None,
    environ: Mapping[str, str],
) -> str | None:
    """The line saying why a checkout of a GitHub repository reads the local journal (no
    token, no ``--backend``): without it a forgotten token looks like a GitHub repository
    with no checks and no deploys."""
    if backend or repo or token or git is None:
        return None
    origin = git.origin()
    if origin is None or not is_github_host(origin.host, environ):
        return None
    return (
        f"note: no GitHub token, so this is the local journal, not {origin.full_name} on "
        "GitHub; set GITHUB_TOKEN (or GH_TOKEN, or pass --token), or pass --backend local "
        "to keep it local"
    )


def github_repo(repo: str | None, git: GitRepo | None) -> str:
    """``--repo``, else the repository of the checkout's GitHub origin."""
    if repo is None:
        origin = git.origin() if git is not None else None
        if origin is None:
            raise UsageError(
                "the github backend needs a repository, and origin is not a GitHub remote",
                fix="pass --repo OWNER/NAME",
            )
        repo = origin.full_name
    return repo


@dataclass(frozen=True)
class CliWiring:
    """What a CLI command runs on: the wiring and the train over it."""

    wiring: Wiring
    train: Train


def for_cli(
    *,
    kind: str,
    repo: str | None,
    token: str | None,
    git: Callable[[], GitRepo],
    found_git: GitRepo | None,
    directory: Path,
    environ: Mapping[str, str],
    on_wait: Callable[[str], None] | None = None,
) -> CliWiring:
    """The backend ``kind`` (``choose``) for a command run in ``directory``; ``git`` finds
    the checkout or raises the one-line error, ``found_git`` is the checkout if any.
    ``on_wait`` hears of every GitHub retry and rate-limit wait (the CLI: stderr)."""
    from commit_train import config as config_module

    if kind == LOCAL:
        if repo:
            raise UsageError(
                "--repo names a GitHub repository, but the local backend reads the checkout",
                fix="drop --repo, or pass --backend github",
            )
        checkout = git()  # raises the "not a git repository" error
        loaded = config_module.load(checkout.root).config
        wired = local(local_backend(checkout, loaded))
        train = wired.train(
            loaded,
            actor=cli_actor(checkout, environ),
            source="cli",
            notifier=notifier(loaded, environ),
        )
        return CliWiring(wired, train)
    name = github_repo(repo, found_git)
    if name.count("/") != 1 or not all(name.split("/")):
        raise UsageError(f"--repo {name!r} is not OWNER/NAME", fix="pass it like acme/shop")
    root = found_git.root if found_git is not None else directory
    loaded = config_module.load(root).config
    backend = github_backend(name, token=token, on_wait=on_wait)
    wired = github(backend)
    train = wired.train(
        loaded,
        actor=lambda: github_actor(backend, environ),
        source="cli",
        notifier=notifier(loaded, environ),
    )
    return CliWiring(wired, train)
