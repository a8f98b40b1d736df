"""The bot's command parser and the service config (``faces.serve.commands``, ``settings``)."""

from __future__ import annotations

from pathlib import Path

import pytest

from commit_train.errors import ConfigError
from commit_train.faces.serve import settings
from commit_train.faces.serve.commands import Command, parse


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("<@UBOT> status shop", Command("status", repo="shop")),
        ("status acme/shop 20", Command("status", repo="acme/shop", limit=20)),
        (
            "<@UBOT>  deploy shop production 1a2b3c4",
            Command("deploy", repo="shop", environment="production", ref="1a2b3c4"),
        ),
        (
            "DEPLOY shop staging HEAD",
            Command("deploy", repo="shop", environment="staging", ref="HEAD"),
        ),
        (
            "deploy shop staging HEAD again",
            Command("deploy", repo="shop", environment="staging", ref="HEAD", again=True),
        ),
        ("history shop", Command("history", repo="shop")),
        ("history shop staging", Command("history", repo="shop", environment="staging")),
        (
            "lock shop production db migration 2h",
            Command("lock", repo="shop", environment="production", reason="db migration", ttl="2h"),
        ),
        (
            "lock shop production 2h",  # one word: that is the reason, not a ttl
            Command("lock", repo="shop", environment="production", reason="2h"),
        ),
        ("unlock shop production", Command("unlock", repo="shop", environment="production")),
        ("locks shop", Command("locks", repo="shop")),
        ("rollback shop production", Command("rollback", repo="shop", environment="production")),
        ("stale", Command("stale")),
        ("stale shop", Command("stale", repo="shop")),
        ("<@UBOT>", Command("help")),
        ("help", Command("help")),
        ("status <http://acme/shop|acme/shop>", Command("status", repo="acme/shop")),
    ],
)
def test_parse(text: str, expected: Command) -> None:
    assert parse(text) == expected


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("ship it", "I don't know the command 'ship'"),
        (
            "deploy shop production",
            "deploy is written `deploy {repo} {env} {sha|HEAD} [again]`",
        ),
        (
            "deploy shop production HEAD now",
            "deploy is written `deploy {repo} {env} {sha|HEAD} [again]`",
        ),
        ("status", "status is written `status {repo} [limit]`"),
        ("lock shop production", "lock is written `lock {repo} {env} {reason...} [ttl]`"),
    ],
)
def test_what_is_not_understood_gets_help_naming_the_problem(text: str, problem: str) -> None:
    command = parse(text)
    assert command.name == "help"
    assert command.problem == problem


def test_config_names_repositories_by_owner() -> None:
    cfg = settings.parse("owner: acme\nrepositories: [shop, other/billing]\n")
    assert cfg.full_name("shop") == "acme/shop"
    assert cfg.full_name("acme/shop") == "acme/shop"
    assert cfg.full_name("other/billing") == "other/billing"
    assert cfg.full_name("ledger") is None  # not served


def test_no_config_serves_full_names_only_and_warns() -> None:
    loaded = settings.load(None)
    assert loaded.config.full_name("shop") is None
    assert loaded.config.full_name("acme/anything") == "acme/anything"
    assert "letting anyone in the workspace deploy" in loaded.warnings[0]


def test_routes_filter_by_environment_and_state() -> None:
    cfg = settings.parse(
        """
routes:
  - channel: CPROD
    environments: [production]
    states: [success, failure]
  - channel: CALL
"""
    )
    assert cfg.routes_for("production", "success") == ["CPROD", "CALL"]
    assert cfg.routes_for("production", "queued") == ["CALL"]
    assert cfg.routes_for("staging", "success") == ["CALL"]


@pytest.mark.parametrize(
    ("text", "line"),
    [
        (
            "owner: acme\nenvironments:\n  production:\n    alow: [x]\n",
            "serve.yml: environments.production.alow: unknown key; did you mean 'allow'?",
        ),
        ("ownr: acme\n", "serve.yml: ownr: unknown key; did you mean 'owner'?"),
        (
            "routes:\n  - channel: C1\n    states: [done]\n",
            "serve.yml: routes[0].states: unknown state 'done'; known: queued, pending, "
            "in_progress, success, failure, error, inactive",
        ),
        (
            "repositories: [shop]\n",
            "serve.yml: repositories[0]: 'shop' has no owner; "
            "write it as OWNER/shop, or set owner:",
        ),
        (
            "people:\n  alice: alice\n",
            "serve.yml: people.alice: not a Slack user id; key people: by Slack user id "
            "(U0123ABCD: github-login); find it in the person's Slack profile, under "
            "'Copy member ID'",
        ),
        (
            "environments:\n  production:\n    allow: [deployers]\n",
            "serve.yml: environments.production.allow: 'deployers' is neither a Slack user "
            "group (@handle or S-id), a Slack user (U-id) nor a GitHub team (org/team)",
        ),
        ("owner: [acme\n", "serve.yml: line 2 is not valid YAML; fix the syntax"),
        (
            "owner: acme\nowner: acme2\n",
            "serve.yml: line 2: duplicate key 'owner'; keep one of them",
        ),
    ],
)
def test_config_errors_name_the_key_and_the_fix(text: str, line: str) -> None:
    with pytest.raises(ConfigError) as caught:
        settings.parse(text)
    assert str(caught.value) == line


def test_config_file_that_cannot_be_read(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot be read"):
        settings.load(tmp_path / "missing.yml")
