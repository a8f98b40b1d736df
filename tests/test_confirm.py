"""``confirm: true``: deploy, rollback and apply ask on a terminal; ``--yes`` skips; with no
terminal (or ``--json``) and no ``--yes`` they refuse with one line and record nothing.

The question itself is asked on a real pseudo-terminal (the installed ``commit-train`` in
a child process); the refusals through CliRunner, whose stdin is not a terminal.
"""

from __future__ import annotations

import json
import os
import pty
import select
import sys
import time
from pathlib import Path

import pytest

from commit_train.backends.local.backend import LocalBackend
from commit_train.models import DeployState
from tests.gitrepos import Repo
from tests.test_cli import ENV, run

CONFIG = """\
version: 1
environments:
  staging: {}
  production:
    production: true
    confirm: true
"""

PROGRAM = Path(sys.executable).with_name("commit-train")


@pytest.fixture
def shop(tmp_path: Path) -> Repo:
    repo = Repo(tmp_path / "shop", config=CONFIG)
    repo.commit("Start the shop service")
    repo.commit("Add the checkout button", author="bob")
    for ref in ("HEAD", "HEAD~1"):
        assert run(repo.root, "record-check", ref, "test", "success").exit_code == 0
    return repo


def deployments(repo: Repo, environment: str = "production") -> list[int]:
    return [d.id for d in LocalBackend(repo.root).deployments(environment=environment, limit=50)]


NO_TERMINAL = (
    "error: production asks before each deploy (confirm: true) and there is no terminal to "
    "ask on; pass --yes to deploy without asking\n"
)


def test_no_terminal_and_no_yes_refuses_in_one_line_and_records_nothing(shop: Repo) -> None:
    refused = run(shop.root, "deploy", "production", "HEAD")
    assert refused.exit_code == 1
    assert refused.stdout == ""
    assert refused.stderr == NO_TERMINAL
    assert deployments(shop) == []
    applied = run(shop.root, "apply", "production", "HEAD")
    assert applied.exit_code == 1
    assert applied.stderr == NO_TERMINAL
    assert deployments(shop) == []


def test_yes_skips_the_question(shop: Repo) -> None:
    done = run(shop.root, "deploy", "production", "HEAD", "--yes")
    assert done.exit_code == 0, done.output
    assert (
        done.stdout.splitlines()[2]
        == "created deployment 1: " + shop.git("rev-parse", "--short=7", "HEAD") + " to production"
    )
    assert deployments(shop) == [1]


def test_json_never_asks_and_says_why_in_its_decision(shop: Repo) -> None:
    refused = run(shop.root, "deploy", "production", "HEAD", "--json")
    assert refused.exit_code == 1
    decision = json.loads(refused.stdout)["decision"]
    assert decision["allowed"] is False
    assert decision["reason"] == "not-confirmed"
    assert decision["message"] == (
        "production asks before each deploy (confirm: true) and --json never asks; "
        "pass --yes to deploy without asking"
    )
    assert deployments(shop) == []
    done = run(shop.root, "deploy", "production", "HEAD", "--json", "-y")
    assert done.exit_code == 0, done.output
    assert json.loads(done.stdout)["deployment"]["id"] == 1


def test_dry_runs_and_environments_without_confirm_do_not_ask(shop: Repo) -> None:
    dry = run(shop.root, "deploy", "production", "HEAD", "--dry-run")
    assert dry.exit_code == 0, dry.output
    staging = run(shop.root, "deploy", "staging", "HEAD")
    assert staging.exit_code == 0, staging.output
    assert deployments(shop) == []


def test_a_red_commit_is_refused_by_the_gate_before_any_question(shop: Repo) -> None:
    shop.commit("Break the build")
    assert run(shop.root, "record-check", "HEAD", "test", "failure").exit_code == 0
    refused = run(shop.root, "deploy", "production", "HEAD", "--yes")
    assert refused.exit_code == 1
    assert "has failing checks: test" in refused.stderr


def test_rollback_asks_too(shop: Repo) -> None:
    backend = LocalBackend(shop.root)
    for ref in ("HEAD~1", "HEAD"):
        assert run(shop.root, "deploy", "production", ref, "--yes").exit_code == 0
        [newest] = backend.deployments(environment="production", limit=1)
        backend.add_status(newest.id, state=DeployState.SUCCESS)
    refused = run(shop.root, "rollback", "production")
    assert refused.exit_code == 1
    assert refused.stderr == (
        "error: production asks before each rollback (confirm: true) and there is no terminal "
        "to ask on; pass --yes to roll back without asking\n"
    )
    assert deployments(shop) == [2, 1]
    done = run(shop.root, "rollback", "production", "--yes")
    assert done.exit_code == 0, done.output
    assert deployments(shop) == [3, 2, 1]


def _on_a_terminal(root: Path, args: list[str], prompt: str, answer: str) -> tuple[str, int]:
    """Run commit-train on a pseudo-terminal, type ``answer`` when ``prompt`` shows; the
    screen and the exit code."""
    pid, fd = pty.fork()
    if pid == 0:  # the child: the terminal is its stdin, stdout and stderr
        env = {k: v for k, v in os.environ.items() if k not in ENV}
        env.update({k: v for k, v in ENV.items() if v is not None})
        os.execve(str(PROGRAM), [str(PROGRAM), "-C", str(root), *args], {**env, "NO_COLOR": "1"})
    seen = b""
    typed = False
    deadline = time.monotonic() + 60
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([fd], [], [], 0.5)
            if not ready:
                continue
            try:
                chunk = os.read(fd, 4096)
            except OSError:  # the child closed the terminal
                break
            if not chunk:
                break
            seen += chunk
            if not typed and prompt.encode() in seen:
                os.write(fd, answer.encode() + b"\r")
                typed = True
    finally:
        os.close(fd)
        _, status = os.waitpid(pid, 0)
    return seen.decode("utf-8", "replace").replace("\r\n", "\n"), os.waitstatus_to_exitcode(status)


@pytest.mark.skipif(not PROGRAM.exists(), reason="needs the installed commit-train script")
@pytest.mark.parametrize("answer", ["n", ""])
def test_on_a_terminal_no_or_enter_deploys_nothing(shop: Repo, answer: str) -> None:
    head = shop.git("rev-parse", "--short=7", "HEAD")
    question = f'Deploy {head} "Add the checkout button" to production? [y/N] '
    screen, code = _on_a_terminal(shop.root, ["deploy", "production", "HEAD"], question, answer)
    assert question in screen, screen
    assert code == 1
    assert "error: nothing done: the deploy of production was not confirmed\n" in screen
    assert deployments(shop) == []


@pytest.mark.skipif(not PROGRAM.exists(), reason="needs the installed commit-train script")
def test_on_a_terminal_yes_deploys_the_commit_asked_about(shop: Repo) -> None:
    head = shop.git("rev-parse", "--short=7", "HEAD")
    question = f'Deploy {head} "Add the checkout button" to production? [y/N] '
    screen, code = _on_a_terminal(shop.root, ["deploy", "production", "HEAD"], question, "y")
    assert code == 0, screen
    assert f"created deployment 1: {head} to production" in screen
    assert deployments(shop) == [1]
