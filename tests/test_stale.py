"""Stale-commit reminders against the GitHub emulator (and the local journal): found,
grouped by author, reminded once, quiet while locked, within the request budget."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from commit_train import config
from commit_train.backends.github.backend import GitHubBackend
from commit_train.backends.local.backend import LocalBackend
from commit_train.core.text import duration
from commit_train.faces import wiring
from commit_train.faces.notify import WebhookNotifier as Notifier
from commit_train.models import DeployState
from commit_train.service.train import Train
from tests.gitrepos import Repo
from tests.slack_server import SlackWebhookServer

NOW = datetime.now(UTC).replace(microsecond=0)

CONFIG = config.parse(
    """
version: 1
notify: {slack-webhook-env: SLACK_TEST_HOOK}
environments:
  staging: {}
  production:
    production: true
    stale-after: 24h
"""
)


def _deployed(train: Train, sha: str, environment: str) -> None:
    dep = train.backend.create_deployment(
        sha=sha, environment=environment, payload={}, description="", production=False
    )
    train.backend.add_status(dep.id, state=DeployState.SUCCESS)


@pytest.fixture
def shop(github_emulator):
    repo = github_emulator.create_repo("acme/shop")
    live = repo.commit("Live one", when=NOW - timedelta(days=5))
    old = [
        repo.commit("Add cart", author="bob", when=NOW - timedelta(days=3)),
        repo.commit("Fix footer", author="carol", when=NOW - timedelta(days=2)),
        repo.commit("Speed up search", author="bob", when=NOW - timedelta(hours=30)),
    ]
    fresh = repo.commit("Just merged", author="carol", when=NOW - timedelta(hours=2))
    return github_emulator, repo, live, old, fresh


def _train(emu, slack_url: str | None = None) -> Train:
    backend = GitHubBackend("acme/shop", token=emu.token, base_url=emu.base_url)
    environ = {"SLACK_TEST_HOOK": slack_url} if slack_url else {}
    return wiring.github(backend, clock=lambda: NOW).train(
        CONFIG,
        actor="stale-bot",
        source="actions",
        notifier=Notifier(CONFIG, environ=environ),
    )


def test_a_stale_scan_reminds_once_not_twice_in_at_most_two_requests(shop) -> None:
    emu, _, live, old, fresh = shop
    with SlackWebhookServer() as slack:
        train = _train(emu, slack.url)
        _deployed(train, live, "production")
        before = train.backend.request_count  # type: ignore[attr-defined]
        report, warnings = train.stale("production")
        assert train.backend.request_count - before <= 2  # type: ignore[attr-defined]
        assert warnings == []
        (env,) = report.environments
        assert env.live_sha == live
        assert [c.sha for c in env.remind] == list(reversed(old))
        assert fresh not in [c.sha for c in env.stale]
        assert {a: [c.title for c in cs] for a, cs in env.by_author().items()} == {
            "bob": ["Speed up search", "Add cart"],
            "carol": ["Fix footer"],
        }
        assert [c.age for c in env.remind] == ["1d 6h", "2d 0h", "3d 0h"]
        (payload,) = slack.received
        assert payload["text"].endswith(
            "3 commits merged but not deployed to production (older than 1d 0h)"
        )
        assert "*bob*" in payload["blocks"][1]["text"]["text"]

        before = train.backend.request_count  # type: ignore[attr-defined]
        again, _ = train.stale("production")
        assert train.backend.request_count - before == 1  # type: ignore[attr-defined]
        assert again.environments[0].remind == ()
        assert len(again.environments[0].stale) == 3  # still stale, just not reminded again
        assert len(slack.received) == 1


def test_a_newly_stale_commit_is_reminded_alone(shop) -> None:
    emu, repo, live, _old, _ = shop
    with SlackWebhookServer() as slack:
        train = _train(emu, slack.url)
        _deployed(train, live, "production")
        train.stale("production")
        later = wiring.github(train.backend, clock=lambda: NOW + timedelta(hours=23)).train(
            CONFIG,
            actor="stale-bot",
            source="actions",
            notifier=Notifier(CONFIG, environ={"SLACK_TEST_HOOK": slack.url}),
        )
        report, _ = later.stale("production")
        assert [c.title for c in report.environments[0].remind] == ["Just merged"]
        assert len(slack.received) == 2
    # a deploy past everything: nothing is stale any more
    _deployed(train, repo.refs["refs/heads/main"], "production")
    assert later.stale("production")[0].environments[0].stale == ()


def test_an_undelivered_reminder_moves_no_mark(shop) -> None:
    """No secret for the route: the notifier's warning, and the next scan that can send
    reminds the same commits (``Train`` with no notifier at all warns the same way)."""
    emu, _repo, live, old, _ = shop
    train = _train(emu)  # the route's secret is not set
    _deployed(train, live, "production")
    report, warnings = train.stale("production")
    assert warnings == [
        "notification stale-commits for production not sent: the secret SLACK_TEST_HOOK is not set"
    ]
    assert report.environments[0].sent is False
    assert report.environments[0].reminded == ()
    bare = wiring.github(train.backend, clock=lambda: NOW).train(
        CONFIG, actor="stale-bot", source="actions"
    )
    assert bare.stale("production")[1] == [
        "no notifier to send production's reminder; its reminder was not sent"
    ]
    with SlackWebhookServer() as slack:
        sent, warnings = _train(emu, slack.url).stale("production")
        assert warnings == []
        assert [c.sha for c in sent.environments[0].reminded] == list(reversed(old))
        assert len(slack.received) == 1


def test_quiet_while_locked(shop) -> None:
    emu, _, live, _, _ = shop
    train = _train(emu)
    _deployed(train, live, "production")
    wiring.github(train.backend).train(CONFIG, actor="alice", source="cli").lock(
        "production", reason="incident"
    )
    report, _ = train.stale()
    production = next(e for e in report.environments if e.environment == "production")
    assert production.quiet == "locked"
    assert production.remind == ()
    assert production.lock is not None and production.lock.holder == "alice"
    staging = next(e for e in report.environments if e.environment == "staging")
    assert staging.quiet == "no-threshold"


def test_an_environment_never_deployed_gets_no_reminder(shop) -> None:
    emu = shop[0]
    report, _ = _train(emu).stale("production")
    assert report.environments[0].quiet == "never-deployed"


def test_the_local_journal_keeps_the_mark_too(tmp_path: Path) -> None:
    repo = Repo(tmp_path / "shop")
    live = repo.commit("Live")
    repo.commit("Waiting", author="bob")
    backend = LocalBackend(repo.root, creator="alice")
    later = datetime(2025, 3, 10, tzinfo=UTC)  # a week after the test repository's commits
    with SlackWebhookServer() as slack:
        train = wiring.local(backend, clock=lambda: later).train(
            CONFIG,
            actor="alice",
            source="cli",
            notifier=Notifier(CONFIG, environ={"SLACK_TEST_HOOK": slack.url}),
        )
        _deployed(train, live, "production")
        first, _ = train.stale("production")
        assert [c.title for c in first.environments[0].reminded] == ["Waiting"]
        assert train.stale("production")[0].environments[0].remind == ()
        assert len(slack.received) == 1


def test_age_text() -> None:
    assert [duration(s) for s in (59, 3600 * 5 + 720, 86400 * 3 + 3600 * 4)] == [
        "59s",
        "5h 12m",
        "3d 4h",
    ]
