"""Lines a person reads, word for word: counts in the singular, the possessive of a name
ending in s, a spent rate limit said as a time, and an environment name the config would
refuse never proposed as the fix."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from commit_train.backends.github.answers import spent_until
from commit_train.backends.local.backend import LocalBackend
from commit_train.config import add_environment
from commit_train.models import DeployState
from tests.gitrepos import Repo
from tests.test_cli import run

CONFIG = """\
version: 1
environments:
  staging: {}
  production:
    production: true
    stale-after: 1h
"""


@pytest.fixture
def shop(tmp_path: Path) -> Repo:
    repo = Repo(tmp_path / "shop", config=CONFIG)
    repo.commit("Start the shop service")
    assert run(repo.root, "record-check", "HEAD", "test", "success").exit_code == 0
    return repo


def test_one_commit_is_one_commit(shop: Repo) -> None:
    status = run(shop.root, "status")
    assert status.stdout.splitlines()[0] == "shop: the newest commit of main"
    live = shop.git("rev-parse", "HEAD")
    assert run(shop.root, "deploy", "production", "HEAD").exit_code == 0
    backend = LocalBackend(shop.root)
    [deployment] = backend.deployments(environment="production", limit=1)
    backend.add_status(deployment.id, state=DeployState.SUCCESS)
    shop.commit("Add the checkout button", author="bob")
    stale = run(shop.root, "stale", "--dry-run", "production")
    assert stale.stdout.splitlines()[0] == (
        f"production: 1 commit older than 1h 00m not deployed (live {live[:7]}); would remind 1 now"
    )


def test_the_possessive_of_a_name_ending_in_s(shop: Repo) -> None:
    who = {"GITHUB_ACTOR": "maintainers"}
    assert run(shop.root, "lock", "production", "--reason", "freeze", env=who).exit_code == 0
    refused = run(shop.root, "unlock", "production", "--force", env={"GITHUB_ACTOR": "alice"})
    assert refused.stderr == (
        'error: --force needs --reason: breaking a lock is recorded with why; pass --reason "..."\n'
    )
    broke = run(
        shop.root,
        "unlock",
        "production",
        "--force",
        "--reason",
        "release",
        env={"GITHUB_ACTOR": "alice"},
    )
    assert broke.exit_code == 0, broke.output
    assert broke.stdout == "unlocked production: broke maintainers' lock (freeze): release\n"


def test_a_spent_rate_limit_says_until_when() -> None:
    now = datetime(2026, 3, 2, 12, 7, 0, tzinfo=UTC).timestamp()
    reset = datetime(2026, 3, 2, 13, 4, 10, tzinfo=UTC).timestamp()
    assert spent_until(reset, now) == "until 13:05 UTC (in 58 min)"
    assert spent_until(now + 30, now) == "until 12:08 UTC (in 1 min)"
    assert spent_until(now + 2 * 3600, now) == "until 14:07 UTC (in 2 h 00 min)"
    assert spent_until(None, now) == "for now (GitHub did not say until when)"


def test_an_unknown_environment_is_never_told_to_add_a_name_the_config_refuses(
    shop: Repo,
) -> None:
    refused = run(shop.root, "deploy", "my env", "HEAD")
    assert refused.exit_code == 1
    assert refused.stderr == (
        "error: unknown environment 'my env' (known: production, staging); use one of them, "
        "or add 'my-env' under environments: in .commit-train.yml "
        "(a name is letters, digits, '.', '_' and '-')\n"
    )
    assert add_environment("qa") == "add 'qa' under environments: in .commit-train.yml"
    assert add_environment("✨") == (
        "add it under environments: in .commit-train.yml, named with letters, digits, '.', "
        "'_' and '-'"
    )
    # the name proposed is one the config accepts
    config = Path(shop.root / ".commit-train.yml")
    config.write_text(CONFIG + "  my-env: {}\n")
    assert run(shop.root, "deploy", "my-env", "HEAD", "--dry-run").exit_code == 0
