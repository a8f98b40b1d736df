"""The whole job on a scratch repository, with no GitHub and no cluster.

``run_demo`` makes a git repository (a new temporary folder, or the empty folder it is
given) with a ``.commit-train.yml`` for staging and production (production with
``stale-after``, so ``stale`` has something to say), the starter templates and values
``commit-train init`` writes (so ``render`` works), and five commits by two authors;
records their checks (one commit is red), deploys through ``Train`` exactly as the CLI does
(and shows the red commit being refused), and marks each deploy's statuses the way the
deploy pipeline would (``in_progress``, then ``success``). It returns what happened and the
``status`` and ``history`` a user would then see; the CLI prints them.

Commit dates, identities and the journal's clock are fixed, so the shas and the tables are
the same on every run and on every machine, and no git identity needs to be configured.
"""

from __future__ import annotations

import os
import subprocess
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from commit_train import config as config_module
from commit_train.backends.local.backend import LocalBackend
from commit_train.errors import GitError, RefusedError, UsageError
from commit_train.faces import wiring
from commit_train.gitrepo import GitRepo
from commit_train.models import DeployState, Snapshot
from commit_train.service.train import History

CONFIG = """\
# commit-train demo: two environments, deployed from the default branch
version: 1
image: ghcr.io/acme/shop
kubernetes:
  namespace: shop
environments:
  staging:
    url: https://staging.shop.example.com
  production:
    production: true
    url: https://shop.example.com
    stale-after: 24h
"""

AUTHORS = {
    "alice": ("alice", "alice@example.com"),
    "bob": ("bob", "bob@example.com"),
}

# (title, author, {check: state}); the fourth commit is the red one
COMMITS = (
    ("Start the shop service", "alice", {"lint": "success", "test": "success"}),
    ("Add a health endpoint", "bob", {"lint": "success", "test": "success"}),
    ("Add the checkout button", "alice", {"lint": "success", "test": "success"}),
    ("Speed up product search", "bob", {"lint": "success", "test": "failure"}),
    ("Fix the footer typo", "alice", {"lint": "success", "test": "success"}),
)

START = datetime(2025, 3, 3, 9, 0, tzinfo=UTC)
ACTOR = "alice"


@dataclass(frozen=True)
class DemoStep:
    """One thing the demo did: the command a person would type and what came of it."""

    command: str
    outcome: str
    ok: bool = True


@dataclass(frozen=True)
class DemoResult:
    root: Path
    steps: tuple[DemoStep, ...]
    status: Snapshot
    history: History


class _Clock:
    """A clock that moves 30 seconds every time it is read."""

    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        self.now += timedelta(seconds=30)
        return self.now


def _git_env(author: str, when: datetime) -> dict[str, str]:
    name, email = AUTHORS[author]
    stamp = when.strftime("%Y-%m-%dT%H:%M:%S+0000")
    return {
        "GIT_CONFIG_GLOBAL": os.devnull,
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_AUTHOR_NAME": name,
        "GIT_AUTHOR_EMAIL": email,
        "GIT_COMMITTER_NAME": name,
        "GIT_COMMITTER_EMAIL": email,
        "GIT_AUTHOR_DATE": stamp,
        "GIT_COMMITTER_DATE": stamp,
    }


def _git(root: Path, env: dict[str, str], *args: str) -> str:
    try:
        done = subprocess.run(
            ["git", "-C", str(root), *args],
            capture_output=True,
            check=False,
            env={**os.environ, **env},
            stdin=subprocess.DEVNULL,
        )
    except FileNotFoundError:
        raise GitError("git is not installed", fix="install git and put it on PATH") from None
    if done.returncode != 0:
        detail = done.stderr.decode("utf-8", "replace").strip().splitlines()
        raise GitError(f"git {args[0]} failed in {root}: {detail[-1] if detail else ''}")
    return done.stdout.decode().strip()


def _folder(directory: Path | None) -> Path:
    if directory is None:  # named "shop" so the tables read the same on every run
        scratch = Path(tempfile.mkdtemp(prefix="commit-train-demo-")) / "shop"
        scratch.mkdir()
        return scratch
    directory = Path(directory)
    if directory.exists() and (not directory.is_dir() or any(directory.iterdir())):
        raise UsageError(
            f"{directory} is not an empty folder", fix="pass --dir with a new or empty folder"
        )
    directory.mkdir(parents=True, exist_ok=True)
    return directory.resolve()


def make_repository(directory: Path | None = None) -> tuple[Path, list[str]]:
    """The scratch repository with its config and five commits; returns (root, shas)."""
    root = _folder(directory)
    env = _git_env("alice", START)
    _git(root, env, "init", "--quiet", "--initial-branch=main")
    shas = []
    for number, (title, author, _checks) in enumerate(COMMITS):
        when = START + timedelta(minutes=10 * number)
        if number == 0:
            (root / config_module.CONFIG_FILE).write_text(CONFIG, encoding="utf-8")
            _write_starter(root)
        with (root / "CHANGES.txt").open("a", encoding="utf-8") as changes:
            changes.write(f"{title}\n")
        commit_env = _git_env(author, when)
        _git(root, commit_env, "add", "--all")
        _git(root, commit_env, "commit", "--quiet", "--no-verify", "--no-gpg-sign", "-m", title)
        shas.append(_git(root, commit_env, "rev-parse", "HEAD"))
    return root, shas


def _write_starter(root: Path) -> None:
    """The templates and values ``commit-train init`` writes for an app called shop."""
    from commit_train.faces.cli.init import EnvironmentSpec, starter_files

    environments = [EnvironmentSpec("staging", False), EnvironmentSpec("production", True)]
    for path, text in starter_files("shop", environments).items():
        target = root / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")


def hint(root: Path) -> str:
    """What to try next, as commands that work when pasted into a new shell.

    Run from a virtualenv's own bin folder (``make demo`` runs ``.venv/bin/commit-train``),
    ``commit-train`` is not on a new shell's PATH, so the hint names the program by its full
    path and says how to install it for everyday use.
    """
    import shlex
    import sys

    script = Path(sys.argv[0]).absolute()
    in_venv_bin = (
        script.name.startswith("commit-train")
        and sys.prefix != sys.base_prefix
        and script.parent.resolve() == Path(sys.executable).absolute().parent.resolve()
    )
    program = shlex.quote(str(script)) if in_venv_bin else "commit-train"
    where = shlex.quote(str(root))
    lines = [
        f"The scratch repository is {root}; try:",
        f"  {program} -C {where} status",
        f"  {program} -C {where} render staging",
        f"  {program} -C {where} stale --dry-run",
    ]
    if in_venv_bin:
        lines.append(
            "To type just commit-train, install it: pipx install commit-train "
            "(or uv tool install commit-train; from a checkout: pipx install .)"
        )
    return "\n".join(lines)


def run_demo(
    directory: Path | None = None, *, on_step: Callable[[DemoStep], None] | None = None
) -> DemoResult:
    """Run the whole demo; ``on_step`` hears about each step as it happens."""
    root, shas = make_repository(directory)
    steps: list[DemoStep] = []

    def step(command: str, outcome: str, *, ok: bool = True) -> None:
        done = DemoStep(command, outcome, ok)
        steps.append(done)
        if on_step is not None:
            on_step(done)

    step(
        f"git init {root}",
        f"{len(shas)} commits by alice and bob on main, with {config_module.CONFIG_FILE} "
        "and deploy/ (templates and values)",
    )
    clock = _Clock(START + timedelta(hours=1))
    backend = LocalBackend(
        root,
        creator=ACTOR,
        clock=clock,
        git=GitRepo(root, env=_git_env(ACTOR, START)),
    )
    for sha, (_title, _author, checks) in zip(shas, COMMITS, strict=True):
        for name, state in checks.items():
            backend.record_check(sha, name, state)
        summary = ", ".join(f"{name} {state}" for name, state in checks.items())
        step(
            f"commit-train record-check {sha[:7]} ...", summary, ok="failure" not in checks.values()
        )

    loaded = config_module.load(root).config
    train = wiring.local(backend).train(loaded, actor=ACTOR, source="demo")
    plan = (
        ("staging", shas[2]),
        ("production", shas[2]),
        ("staging", shas[3]),
        ("staging", shas[4]),
    )
    for number, (environment, sha) in enumerate(plan, start=1):
        command = f"commit-train deploy {environment} {sha[:7]}"
        try:
            result = train.deploy(environment, sha[:7])
        except RefusedError as refused:
            step(command, f"refused ({refused.reason}): {refused}", ok=False)
            continue
        deployment = result.deployment
        if deployment is None:  # pragma: no cover - not a dry run
            continue
        step(command, result.action)
        log_url = f"https://ci.example.com/shop/runs/{number}"
        train.set_status(deployment.id, DeployState.IN_PROGRESS, "rolling out", log_url=log_url)
        url = loaded.environments[environment].url
        train.set_status(
            deployment.id,
            DeployState.SUCCESS,
            f"{sha[:7]} is live in {environment}",
            log_url=log_url,
            environment_url=url,
        )
        step(f"pipeline for deployment {deployment.id}", "in_progress, then success")
    return DemoResult(
        root=root, steps=tuple(steps), status=train.status(limit=5), history=train.history()
    )
