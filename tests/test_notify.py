"""Notifications through the real slack-sdk to a local server that checks Slack's
documented incoming-webhook payload; a failing webhook is a warning, never a failure."""

from __future__ import annotations

from pathlib import Path

import pytest

from commit_train import config
from commit_train.backends.local.backend import LocalBackend
from commit_train.core.routes import routes_for
from commit_train.errors import ConfigError
from commit_train.faces import wiring
from commit_train.faces.notify import WebhookNotifier as Notifier
from commit_train.faces.notify import slack_payload
from commit_train.models import Event, Notice, StaleLine
from tests.gitrepos import Repo
from tests.slack_server import SlackWebhookServer, problems

CONFIG = config.parse(
    """
version: 1
notify: {slack-webhook-env: SLACK_ALL}
environments:
  staging: {}
  production:
    production: true
    notify:
      slack-webhook-env: SLACK_PRODUCTION
      events: [deploy-requested, deploy-failed, locked, unlocked]
"""
)

NOTICE = Notice(
    Event.DEPLOY_FAILED,
    "production",
    "alice",
    "acme/shop",
    sha="1a2b3c4d5e6f",
    title="Add <cart> & checkout",
    run_url="https://github.com/acme/shop/actions/runs/7",
    detail="rollout of web timed out",
)


def test_each_environment_goes_to_its_own_route() -> None:
    assert [r.webhook_env for r in routes_for(CONFIG, "production")] == ["SLACK_PRODUCTION"]
    assert [r.webhook_env for r in routes_for(CONFIG, "staging")] == ["SLACK_ALL"]
    assert [r.webhook_env for r in routes_for(CONFIG, "*")] == ["SLACK_ALL", "SLACK_PRODUCTION"]


def test_a_message_reads_at_a_glance_in_slacks_payload_shape() -> None:
    payload = slack_payload(NOTICE)
    assert payload["text"] == (
        ":x: alice failed to deploy 1a2b3c4 Add &lt;cart&gt; &amp; checkout to production: "
        "rollout of web timed out"
    )
    assert problems(payload) is None
    section = payload["blocks"][0]["text"]["text"]
    assert "Add &lt;cart&gt; &amp; checkout" in section
    context = payload["blocks"][-1]["elements"][0]["text"]
    assert "<https://github.com/acme/shop/actions/runs/7|view the run>" in context
    assert "commit `1a2b3c4`" in context


def test_sent_through_slack_sdk_and_filtered_by_event() -> None:
    with SlackWebhookServer() as slack:
        notifier = Notifier(CONFIG, environ={"SLACK_PRODUCTION": slack.url})
        report = notifier.send(NOTICE)
        assert (report.sent, report.warnings) == (1, [])
        skipped = notifier.send(Notice(Event.DEPLOY_STARTED, "production", "alice", "acme/shop"))
        assert (skipped.sent, skipped.warnings) == (0, [])
        assert [p["text"] for p in slack.received] == [slack_payload(NOTICE)["text"]]


def test_a_failing_webhook_is_only_a_warning_without_the_url() -> None:
    with SlackWebhookServer() as slack:
        slack.fail_with(404, "no_service")
        report = Notifier(CONFIG, environ={"SLACK_PRODUCTION": slack.url}).send(NOTICE)
        assert report.sent == 0
        assert report.warnings == [
            "notification deploy-failed for production not sent to SLACK_PRODUCTION: "
            "the webhook answered 404 no_service"
        ]
        assert slack.url not in report.warnings[0]
    unreachable = Notifier(CONFIG, environ={"SLACK_PRODUCTION": "http://127.0.0.1:9/x"})
    assert "could not be reached" in unreachable.send(NOTICE).warnings[0]
    missing = Notifier(CONFIG, environ={}).send(NOTICE)
    assert missing.warnings == [
        "notification deploy-failed for production not sent: the secret SLACK_PRODUCTION is not set"
    ]


def test_a_deploy_succeeds_when_the_webhook_fails(tmp_path: Path) -> None:
    repo = Repo(tmp_path / "shop")
    sha = repo.commit("Add cart")
    backend = LocalBackend(repo.root, creator="alice")
    backend.record_check(sha, "test", "success")
    with SlackWebhookServer() as slack:
        slack.fail_with(500, "internal_error")
        train = wiring.local(backend).train(
            CONFIG,
            actor="alice",
            source="cli",
            notifier=Notifier(CONFIG, environ={"SLACK_ALL": slack.url}),
        )
        result = train.deploy("staging", sha)
    assert result.deployment is not None
    assert result.warnings == (
        "notification deploy-requested for staging not sent to SLACK_ALL: "
        "the webhook answered 500 internal_error",
    )


def test_lock_and_unlock_are_notified(tmp_path: Path) -> None:
    repo = Repo(tmp_path / "shop")
    repo.commit("Add cart")
    with SlackWebhookServer() as slack:
        environ = {"SLACK_PRODUCTION": slack.url}
        alice = wiring.local(LocalBackend(repo.root)).train(
            CONFIG,
            actor="alice",
            source="cli",
            notifier=Notifier(CONFIG, environ=environ),
        )
        bob = wiring.local(LocalBackend(repo.root)).train(
            CONFIG,
            actor="bob",
            source="cli",
            notifier=Notifier(CONFIG, environ=environ),
        )
        alice.lock("production", reason="db migration")
        bob.unlock("production", force=True, reason="alice is away")
        assert [p["text"] for p in slack.received] == [
            ":lock: alice locked production: db migration",
            ":unlock: bob unlocked production: broke alice's lock (db migration): alice is away",
        ]


def test_the_webhook_url_never_goes_in_the_config() -> None:
    with pytest.raises(ConfigError, match="never the URL itself"):
        config.parse("notify: {slack-webhook-env: 'https://hooks.slack.com/services/T/B/X'}")
    with pytest.raises(ConfigError, match="unknown event 'deployed'"):
        config.parse("notify: {slack-webhook-env: HOOK, events: [deployed]}")


def test_untrusted_titles_cannot_ping_or_link_in_either_field() -> None:
    """A commit title is the committer's text: in Slack it must read as written."""
    hostile = Notice(
        Event.DEPLOY_REQUESTED,
        "production",
        "mallory",
        "acme/shop",
        sha="1a2b3c4d5e6f",
        title="<!channel> see <https://evil.example|the fix>",
    )
    payload = slack_payload(hostile)
    assert "<!channel>" not in payload["text"]
    assert "<https://evil.example" not in payload["text"]
    assert "&lt;!channel&gt;" in payload["text"]
    assert "<!channel>" not in payload["blocks"][0]["text"]["text"]


def test_a_huge_stale_reminder_stays_within_slacks_block_limits() -> None:
    lines = tuple(StaleLine(f"{i:07x}", "x" * 200, "alice", "2d") for i in range(100))
    payload = slack_payload(
        Notice(Event.STALE_COMMITS, "production", "bot", "acme/shop", commits=lines)
    )
    assert problems(payload) is None
    assert all(len(b.get("text", {}).get("text", "")) <= 3000 for b in payload["blocks"])
    assert payload["blocks"][1]["text"]["text"].endswith("…")
