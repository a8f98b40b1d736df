"""The whole job on a scratch repository, with no GitHub and no cluster.

``run_demo`` makes a git repository (a new temporary folder, or the empty folder it is
given) with a ``.commit-train.yml`` for staging and production (production with
``stale-after``, so ``stale`` has something to say), the starter templates and values
``commit-train init`` writes (so ``render`` works), and two working weeks of a team's life:
ten commits by two authors, one a day or so, their checks (one commit is red), and fifteen
deploys through ``Train`` exactly as the CLI makes them, each marked the way the deploy
pipeline would (``in_progress``, then ``success``, or ``failure`` for the two that broke:
a production deploy restored by the next fix, a staging rollout tried again). So ``stats``
has days to count, failures to rate and restores to time, and ``stats --chart`` something
to draw. It returns what happened and the ``status`` and ``history`` a user would then see;
the CLI prints them, and the commands to try next.

Commit dates, identities and the journal's clock are fixed, so the shas, the tables and
every line the demo prints are the same on every run and on every machine (but for the
scratch folder's name), and no git identity needs to be configured.
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

GREEN = {"lint": "success", "test": "success"}
RED = {"lint": "success", "test": "failure"}

START = datetime(2025, 3, 3, 9, 0, tzinfo=UTC)  # a Monday
ACTOR = "alice"
STATUS_LIMIT = 5
HISTORY_LIMIT = 3  # the demo shows the newest deploys of each environment


def _at(day: int, hour: int, minute: int = 0) -> datetime:
    return START.replace(hour=hour, minute=minute) + timedelta(days=day)


# (title, author, checks, when it was merged); the ninth commit is the red one
COMMITS = (
    ("Start the shop service", "alice", GREEN, _at(0, 9)),
    ("Add a health endpoint", "bob", GREEN, _at(0, 11)),
    ("List the products", "alice", GREEN, _at(1, 10)),
    ("Add product images", "bob", GREEN, _at(2, 10)),
    ("Cache the product list", "alice", GREEN, _at(3, 10)),
    ("Fix the cache key", "bob", GREEN, _at(3, 15)),
    ("Add the cart", "alice", GREEN, _at(7, 10)),
    ("Add the checkout button", "alice", GREEN, _at(8, 10)),
    ("Speed up product search", "bob", RED, _at(9, 10)),
    ("Fix the footer typo", "alice", GREEN, _at(10, 10)),
)

# (when, environment, the commit's index in COMMITS, how its rollout ends)
PLAN = (
    (_at(0, 9, 30), "staging", 0, DeployState.SUCCESS),
    (_at(0, 11, 30), "staging", 1, DeployState.SUCCESS),
    (_at(0, 14), "production", 1, DeployState.SUCCESS),
    (_at(1, 10, 30), "staging", 2, DeployState.SUCCESS),
    (_at(2, 10, 30), "staging", 3, DeployState.SUCCESS),
    (_at(2, 14), "production", 3, DeployState.SUCCESS),
    (_at(3, 10, 30), "staging", 4, DeployState.SUCCESS),
    (_at(3, 14), "production", 4, DeployState.FAILURE),
    (_at(3, 15, 30), "staging", 5, DeployState.SUCCESS),
    (_at(3, 16), "production", 5, DeployState.SUCCESS),
    (_at(7, 10, 30), "staging", 6, DeployState.SUCCESS),
    (_at(8, 10, 30), "staging", 7, DeployState.FAILURE),
    (_at(8, 11), "staging", 7, DeployState.SUCCESS),
    (_at(8, 14), "production", 7, DeployState.SUCCESS),
    (_at(9, 10, 30), "staging", 8, DeployState.SUCCESS),  # refused: its checks are red
    (_at(10, 10, 30), "staging", 9, DeployState.SUCCESS),
)
FAILED_WHY = "rollout timed out: web: container web in CrashLoopBackOff (exit 1, 3 restarts)"
STATS_UNTIL = _at(11, 0)  # the end of the window ``stats`` is asked about: after the last deploy
STATS_SINCE = "14d"
CHART = "deploys.svg"


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
    """The scratch repository with its config and its commits; returns (root, shas)."""
    root = _folder(directory)
    env = _git_env("alice", START)
    _git(root, env, "init", "--quiet", "--initial-branch=main")
    shas = []
    for number, (title, author, _checks, when) in enumerate(COMMITS):
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
        f"  {program} -C {where} stats --since {STATS_SINCE} --until "
        f"{STATS_UNTIL:%Y-%m-%dT%H:%M:%SZ} --chart {shlex.quote(str(root / CHART))}",
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
        f"{len(shas)} commits by alice and bob on main over two weeks, with "
        f"{config_module.CONFIG_FILE} and deploy/ (templates and values)",
    )
    clock = _Clock(START)
    backend = LocalBackend(
        root,
        creator=ACTOR,
        clock=clock,
        git=GitRepo(root, env=_git_env(ACTOR, START)),
    )
    for sha, (_title, _author, checks, when) in zip(shas, COMMITS, strict=True):
        clock.now = when
        for name, state in checks.items():
            backend.record_check(sha, name, state)
        summary = ", ".join(f"{name} {state}" for name, state in checks.items())
        step(
            f"commit-train record-check {sha[:7]} ...", summary, ok="failure" not in checks.values()
        )

    loaded = config_module.load(root).config
    train = wiring.local(backend).train(loaded, actor=ACTOR, source="demo")
    for number, (when, environment, index, ends) in enumerate(PLAN, start=1):
        clock.now = when
        sha = shas[index]
        command = f"commit-train deploy {environment} {sha[:7]}"
        try:
            result = train.deploy(environment, sha[:7])
        except RefusedError as refused:
            step(command, f"refused ({refused.reason}): {refused}", ok=False)
            continue
        deployment = result.deployment
        if deployment is None:  # pragma: no cover - not a dry run
            continue
        log_url = f"https://ci.example.com/shop/runs/{number}"
        train.set_status(deployment.id, DeployState.IN_PROGRESS, "rolling out", log_url=log_url)
        if ends == DeployState.SUCCESS:
            train.set_status(
                deployment.id,
                DeployState.SUCCESS,
                f"{sha[:7]} is live in {environment}",
                log_url=log_url,
                environment_url=loaded.environments[environment].url,
            )
        else:
            train.set_status(deployment.id, ends, FAILED_WHY, log_url=log_url)
        outcome = f"{result.action}; the pipeline: in_progress, then {ends.value}"
        step(command, outcome, ok=ends == DeployState.SUCCESS)
    return DemoResult(
        root=root,
        steps=tuple(steps),
        status=train.status(limit=STATUS_LIMIT),
        history=train.history(limit=HISTORY_LIMIT),
    )
