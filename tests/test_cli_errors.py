"""One error style for the whole command line, from one table.

A usage error (a bad option, a missing argument, an unknown command) is exactly one line
on stderr, ``error: <what>; see 'commit-train <command> --help'``, exit 2, and nothing on
stdout; every refusal under ``--json`` prints its decision as JSON on stdout (and the one
error line on stderr), exit 1. Click's CliRunner on real git repositories with the local
journal, and one real ``python -m commit_train`` run.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from commit_train.backends.local.backend import LocalBackend
from commit_train.faces.cli.main import cli
from commit_train.models import DeployState
from tests.gitrepos import Repo
from tests.test_cli import ENV, run

COMMANDS = sorted(cli.commands)


def usage_line(what: str, command: str = "") -> str:
    where = f"commit-train {command} --help" if command else "commit-train --help"
    return f"error: {what}; see '{where}'\n"


def assert_usage_error(args: list[str], line: str, root: Path | None = None) -> None:
    result = run(root, *args)
    assert (result.exit_code, result.stdout) == (2, ""), result.output
    assert result.stderr == line


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_says_a_bad_option_in_one_line(command: str) -> None:
    assert_usage_error(
        [command, "--no-such-flag"],
        usage_line("no such option '--no-such-flag'", command),
    )


@pytest.mark.parametrize(
    ("args", "line"),
    [
        (["deploy"], usage_line("missing argument 'ENVIRONMENT'", "deploy")),
        (["deploy", "staging"], usage_line("missing argument 'REF'", "deploy")),
        (["render"], usage_line("missing argument 'ENVIRONMENT'", "render")),
        (["apply"], usage_line("missing argument 'ENVIRONMENT'", "apply")),
        (["rollback"], usage_line("missing argument 'ENVIRONMENT'", "rollback")),
        (["record-check"], usage_line("missing argument 'REF'", "record-check")),
        (
            ["record-check", "HEAD", "test"],
            usage_line(
                "missing argument 'STATE' (choose from: success, failure, pending)",
                "record-check",
            ),
        ),
        (["lock", "--ttl"], usage_line("option '--ttl' requires an argument", "lock")),
        (
            ["status", "--limit", "many"],
            usage_line("invalid value for '--limit': 'many' is not a valid integer", "status"),
        ),
        (
            ["record-check", "HEAD", "test", "green"],
            usage_line(
                "invalid value for 'STATE': 'green' is not one of 'success', 'failure', 'pending'",
                "record-check",
            ),
        ),
        (
            ["history", "staging", "extra"],
            usage_line("got unexpected extra argument (extra)", "history"),
        ),
        (
            ["deplyo", "staging"],
            usage_line("no such command 'deplyo' (did you mean one of: 'demo', 'deploy'?)"),
        ),
        (["--no-such-flag", "status"], usage_line("no such option '--no-such-flag'")),
        (
            ["--backend", "gitlab", "status"],
            usage_line(
                "invalid value for '--backend' (env var: 'COMMIT_TRAIN_BACKEND'): 'gitlab' "
                "is not one of 'github', 'local'"
            ),
        ),
        (["action", "no-such-step"], usage_line("no such command 'no-such-step'", "action")),
    ],
)
def test_usage_errors_are_one_line_naming_the_help(args: list[str], line: str) -> None:
    assert_usage_error(args, line)


def test_help_and_version_still_exit_0() -> None:
    helped = run(None, "--help")
    assert (helped.exit_code, helped.stderr) == (0, "")
    assert helped.stdout.startswith("Usage: commit-train [OPTIONS] COMMAND [ARGS]...")
    assert run(None, "status", "--help").exit_code == 0
    assert run(None, "--version").exit_code == 0


def test_a_real_process_prints_one_line_too(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "commit_train", "status", "--limt", "3"],
        capture_output=True,
        text=True,
        env={k: v for k, v in {**dict(__import__("os").environ), **ENV}.items() if v is not None},
        cwd=tmp_path,
        timeout=60,
    )
    assert (done.returncode, done.stdout) == (2, "")
    assert done.stderr == usage_line("no such option '--limt' (did you mean '--limit'?)", "status")


# -- refusals under --json ---------------------------------------------------------------


@pytest.fixture
def repo(tmp_path: Path) -> Repo:
    repo = Repo(tmp_path / "shop")
    repo.commit("Start the shop service")
    repo.commit("Add the checkout button")
    return repo


def _green_and_live(repo: Repo) -> None:
    assert run(repo.root, "record-check", "HEAD", "test", "success").exit_code == 0
    deployed = run(repo.root, "deploy", "staging", "HEAD", "--json")
    LocalBackend(repo.root).add_status(
        json.loads(deployed.stdout)["deployment"]["id"], state=DeployState.SUCCESS
    )


def _locked_by_bob(repo: Repo) -> None:
    locked = run(repo.root, "lock", "staging", "--reason", "db", env={"GITHUB_ACTOR": "bob"})
    assert locked.exit_code == 0, locked.output


REFUSALS = [
    # (setup, args, the JSON's fields besides version and decision, decision reason)
    (
        None,
        ["deploy", "staging", "abcdef12"],
        {"environment": "staging", "ref": "abcdef12", "dry_run": False},
        "not-found",
    ),
    (
        None,
        ["deploy", "prod", "HEAD"],
        {"environment": "prod", "ref": "HEAD", "dry_run": False},
        "unknown-environment",
    ),
    (
        None,
        ["deploy", "staging", "HEAD", "--dry-run"],
        {"environment": "staging", "ref": "HEAD", "dry_run": True},
        "no-checks",
    ),
    (
        None,
        ["rollback", "staging"],
        {"environment": "staging", "dry_run": False},
        "no-previous-deploy",
    ),
    (
        _green_and_live,
        ["rollback", "staging", "--dry-run"],
        {"environment": "staging", "dry_run": True},
        "no-previous-deploy",
    ),
    (
        None,
        ["apply", "staging", "HEAD"],
        {"environment": "staging", "ref": "HEAD", "dry_run": False},
        "no-checks",
    ),
    (_locked_by_bob, ["lock", "staging", "--reason", "mine"], {"environment": "staging"}, "locked"),
    (_locked_by_bob, ["unlock", "staging"], {"environment": "staging"}, "not-lock-holder"),
    (None, ["history", "prod"], {"environment": "prod"}, "not-found"),
    (None, ["stale", "prod"], {"environment": "prod", "dry_run": False}, "not-found"),
    (None, ["sweep", "prod"], {"environment": "prod", "dry_run": False}, "not-found"),
]


@pytest.mark.parametrize(("setup", "args", "fields", "reason"), REFUSALS)
def test_every_refusal_under_json_prints_its_decision(
    repo: Repo, setup, args: list[str], fields: dict, reason: str
) -> None:
    if setup is not None:
        setup(repo)
    result = run(repo.root, *args, "--json")
    assert result.exit_code == 1, result.output
    doc = json.loads(result.stdout)
    decision = doc.pop("decision")
    assert doc == {"version": 1, **fields}
    assert (decision["allowed"], decision["reason"]) == (False, reason)
    assert result.stderr == f"error: {decision['message']}\n"


def test_a_refusal_without_json_prints_nothing_on_stdout(repo: Repo) -> None:
    result = run(repo.root, "rollback", "staging")
    assert (result.exit_code, result.stdout) == (1, "")
    assert result.stderr == (
        "error: staging has no successful deploy, so there is nothing to roll back; "
        "deploy a commit with commit-train deploy\n"
    )
