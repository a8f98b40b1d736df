"""Locks, stale-commit reminders and notifications through the command line: ``lock``,
``unlock``, ``locks``, ``stale``, and ``deploy`` telling the environment's Slack route.

Click's CliRunner on real git repositories with the local journal, and against the GitHub
emulator; the "other person" is another ``GITHUB_ACTOR``. Slack is the local stand-in for
its incoming-webhook endpoint (``tests/slack_server.py``).
"""

from __future__ import annotations

import json
import re
import socket
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import Result

from commit_train.backends.local.backend import LocalBackend
from commit_train.core import gate
from commit_train.models import DeployState
from commit_train.service import locks, rollback
from commit_train.service import offline as journal_sync
from tests.gitrepos import Repo
from tests.slack_server import SlackWebhookServer
from tests.test_cli import run

CONFIG = """\
version: 1
environments:
  staging: {}
  production:
    production: true
    stale-after: 24h
"""

ROUTE = "notify: {slack-webhook-env: SLACK_TEST_HOOK}\n"

LOCK_KEYS = {"environment", "global", "holder", "reason", "since", "expires_at", "expired"}


def as_(actor: str, root: Path, *args: str, **env: str) -> Result:
    return run(root, *args, env={"GITHUB_ACTOR": actor, **env})


@pytest.fixture
def repo(tmp_path: Path) -> Repo:
    repo = Repo(tmp_path / "shop", config=CONFIG)
    repo.commit("Start the shop service")
    repo.commit("Add a health endpoint", author="bob")
    repo.commit("Add the checkout button")
    for ref in ("HEAD", "HEAD~1", "HEAD~2"):
        assert run(repo.root, "record-check", ref, "test", "success").exit_code == 0
    return repo


def route_to_slack(root: Path) -> None:
    """Send every environment's events to the webhook in ``SLACK_TEST_HOOK``."""
    config = root / ".commit-train.yml"
    config.write_text(ROUTE + config.read_text())


def minute(stamp: str) -> str:
    """``2026-11-25T10:00:07Z`` as the refusal line writes it: ``2026-11-25 10:00 UTC``."""
    return datetime.fromisoformat(stamp.replace("Z", "+00:00")).strftime("%Y-%m-%d %H:%M UTC")


def the_lock(root: Path) -> dict:
    listed = run(root, "locks", "--json")
    assert listed.exit_code == 0, listed.output
    [lock] = json.loads(listed.stdout)["locks"]
    return lock


# -- locks on the local backend ----------------------------------------------------------


def test_a_lock_refuses_another_persons_deploy_and_allows_the_holders(repo: Repo) -> None:
    locked = as_("alice", repo.root, "lock", "production", "--reason", "db migration")
    assert locked.exit_code == 0, locked.output
    lock = the_lock(repo.root)
    line = f"production is locked by alice since {minute(lock['since'])}: db migration"
    assert locked.stdout == line + "\n"
    assert locked.stderr == ""

    refused = as_("bob", repo.root, "deploy", "production", "HEAD")
    assert refused.exit_code == 1
    assert refused.stdout == ""
    assert refused.stderr == f"error: {line}; ask alice to unlock it, or wait\n"
    as_json = as_("bob", repo.root, "deploy", "production", "HEAD", "--json")
    assert json.loads(as_json.stdout)["decision"]["reason"] == "locked"

    allowed = as_("alice", repo.root, "deploy", "production", "HEAD")
    assert allowed.exit_code == 0, allowed.output
    assert allowed.stderr == ""
    [deployment] = LocalBackend(repo.root).deployments(environment="production")
    assert deployment.requested_by == "alice"
    # other environments are not locked
    assert as_("bob", repo.root, "deploy", "staging", "HEAD").exit_code == 0


def test_a_second_locker_is_told_who_holds_the_lock_and_why(repo: Repo) -> None:
    assert as_("alice", repo.root, "lock", "production", "--reason", "db migration").exit_code == 0
    since = minute(the_lock(repo.root)["since"])
    second = as_("bob", repo.root, "lock", "production", "--reason", "hotfix")
    assert second.exit_code == 1
    assert second.stderr == (
        f"error: production is locked by alice since {since}: db migration; "
        "ask alice to unlock, or wait\n"
    )
    again = as_("alice", repo.root, "lock", "production", "--reason", "still migrating")
    assert again.exit_code == 0, "locking what you hold answers your lock"
    assert again.stdout.endswith(": db migration\n")


def test_only_the_holder_unlocks_unless_forced_with_a_reason(repo: Repo) -> None:
    assert as_("alice", repo.root, "lock", "production", "--reason", "db migration").exit_code == 0
    since = minute(the_lock(repo.root)["since"])

    refused = as_("bob", repo.root, "unlock", "production")
    assert refused.exit_code == 1
    assert refused.stderr == (
        f"error: production is locked by alice since {since}: db migration; only alice can "
        "unlock it; ask them, or pass --force with --reason to break the lock\n"
    )

    no_reason = as_("bob", repo.root, "unlock", "production", "--force")
    assert no_reason.exit_code == 2
    assert no_reason.stderr == (
        'error: --force needs --reason: breaking a lock is recorded with why; pass --reason "..."\n'
    )
    assert the_lock(repo.root)["holder"] == "alice"

    forced = as_(
        "bob", repo.root, "unlock", "production", "--force", "--reason", "alice is on holiday"
    )
    assert forced.exit_code == 0, forced.output
    assert forced.stdout == (
        "unlocked production: broke alice's lock (db migration): alice is on holiday\n"
    )
    assert run(repo.root, "locks").stdout == "no locks\n"
    assert as_("bob", repo.root, "deploy", "production", "HEAD").exit_code == 0


def test_the_holder_unlocks_and_unlock_json(repo: Repo) -> None:
    assert as_("alice", repo.root, "lock", "production", "--reason", "db migration").exit_code == 0
    done = as_("alice", repo.root, "unlock", "production", "--json")
    assert done.exit_code == 0, done.output
    doc = json.loads(done.stdout)
    assert {k: v for k, v in doc.items() if k != "lock"} == {
        "version": 1,
        "environment": "production",
        "global": False,
        "unlocked_by": "alice",
        "forced": False,
        "reason": None,
    }
    assert doc["lock"]["holder"] == "alice"
    assert set(doc["lock"]) == LOCK_KEYS
    nothing = as_("alice", repo.root, "unlock", "production")
    assert nothing.exit_code == 1
    assert nothing.stderr == "error: production is not locked; nothing to unlock\n"


def test_the_global_lock_and_locks_as_a_table_and_json(repo: Repo) -> None:
    assert as_("alice", repo.root, "lock", "--all", "--reason", "release freeze").exit_code == 0
    timed = as_("bob", repo.root, "lock", "staging", "--reason", "load test", "--ttl", "2h")
    assert timed.exit_code == 0, timed.output

    doc = json.loads(run(repo.root, "locks", "--json").stdout)
    assert doc["version"] == 1
    everything, staging = doc["locks"]
    assert set(everything) == set(staging) == LOCK_KEYS
    assert everything | {"since": None} == {
        "environment": "*",
        "global": True,
        "holder": "alice",
        "reason": "release freeze",
        "since": None,
        "expires_at": None,
        "expired": False,
    }
    assert (staging["environment"], staging["holder"], staging["expired"]) == (
        "staging",
        "bob",
        False,
    )
    since = datetime.fromisoformat(staging["since"].replace("Z", "+00:00"))
    expires = datetime.fromisoformat(staging["expires_at"].replace("Z", "+00:00"))
    assert expires - since == timedelta(hours=2)

    table = run(repo.root, "locks")
    assert table.exit_code == 0
    assert table.stdout.splitlines() == [
        "ENVIRONMENT  HOLDER  SINCE (UTC)       EXPIRES (UTC)     REASON",
        f"* (all)      alice   {minute(everything['since'])[:-4]}  never"
        "             release freeze",
        f"staging      bob     {minute(staging['since'])[:-4]}  "
        f"{minute(staging['expires_at'])[:-4]}  load test",
    ]
    # the global lock stops everyone else everywhere, its holder nowhere
    refused = as_("carol", repo.root, "deploy", "production", "HEAD")
    assert refused.exit_code == 1
    assert refused.stderr.startswith("error: all environments are locked by alice since ")
    assert as_("alice", repo.root, "deploy", "production", "HEAD").exit_code == 0


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["lock", "production"], 'a lock needs a reason; pass --reason "why"'),
        (
            ["lock", "--reason", "x"],
            "lock needs an environment; name it, or pass --all for every environment",
        ),
        (
            ["lock", "production", "--all", "--reason", "x"],
            "lock takes ENVIRONMENT or --all, not both; drop 'production' or --all",
        ),
        (
            ["lock", "production", "--reason", "x", "--ttl", "soon"],
            "--ttl 'soon' is not a duration; write it like 30m, 2h or 1d",
        ),
        (
            ["unlock", "--all", "--force", "--reason", " "],
            '--force needs --reason: breaking a lock is recorded with why; pass --reason "..."',
        ),
    ],
)
def test_usage_errors_exit_2_with_one_line(repo: Repo, args: list[str], message: str) -> None:
    result = run(repo.root, *args)
    assert result.exit_code == 2
    assert result.stdout == ""
    assert result.stderr == f"error: {message}\n"


def test_lock_json_and_an_unknown_environment(repo: Repo) -> None:
    made = as_("alice", repo.root, "lock", "staging", "--reason", "load test", "--json")
    assert made.exit_code == 0, made.output
    doc = json.loads(made.stdout)
    assert set(doc) == LOCK_KEYS | {"version"}
    assert (doc["version"], doc["environment"], doc["holder"]) == (1, "staging", "alice")
    unknown = run(repo.root, "lock", "prod", "--reason", "x")
    assert unknown.exit_code == 1
    assert unknown.stderr.startswith("error: unknown environment 'prod'")


# -- stale commits on the local backend ----------------------------------------------------

AGE = r"\d+d \d+h"


def _live_in_production(repo: Repo, ref: str) -> None:
    assert run(repo.root, "deploy", "production", ref).exit_code == 0
    backend = LocalBackend(repo.root)
    [deployment] = backend.deployments(environment="production", limit=1)
    backend.add_status(deployment.id, state=DeployState.SUCCESS)


def test_stale_reminds_once_grouped_by_author(repo: Repo) -> None:
    route_to_slack(repo.root)
    _live_in_production(repo, "HEAD~2")
    head, middle = repo.git("rev-parse", "HEAD"), repo.git("rev-parse", "HEAD~1")
    live = repo.git("rev-parse", "HEAD~2")

    with SlackWebhookServer() as slack:
        hook = {"SLACK_TEST_HOOK": slack.url}
        dry = run(repo.root, "stale", "production", "--dry-run", env=hook)
        assert dry.exit_code == 0, dry.output
        lines = dry.stdout.splitlines()
        assert lines[0] == (
            f"production: 2 commits older than 1d 0h not deployed (live {live[:7]}); "
            "would remind 2 now"
        )
        assert lines[1] == "  alice"
        assert re.fullmatch(rf"    \*  {head[:7]}  {AGE}  Add the checkout button", lines[2])
        assert lines[3] == "  bob"
        assert re.fullmatch(rf"    \*  {middle[:7]}  {AGE}  Add a health endpoint", lines[4])
        assert slack.received == []

        first = run(repo.root, "stale", "--json", env=hook)
        assert first.exit_code == 0, first.output
        doc = json.loads(first.stdout)
        assert doc["version"] == 1
        staging, production = doc["environments"]
        assert (staging["environment"], staging["quiet"]) == ("staging", "no-threshold")
        assert production["reminded"] == [head, middle], "the dry run reminded nothing"
        assert production["due"] == [head, middle]
        assert production["by_author"] == {"alice": [head], "bob": [middle]}
        assert production["stale_after_seconds"] == 86400

        second = run(repo.root, "stale", "production", env=hook)
        assert second.exit_code == 0
        assert second.stdout.splitlines()[0].endswith("; reminded 0 now")
        assert re.fullmatch(
            rf"       {head[:7]}  {AGE}  Add the checkout button", second.stdout.splitlines()[2]
        )
        assert len(slack.received) == 1


def test_stale_is_quiet_while_locked_and_names_the_lock(repo: Repo) -> None:
    _live_in_production(repo, "HEAD~2")
    assert as_("alice", repo.root, "lock", "production", "--reason", "db migration").exit_code == 0
    since = minute(the_lock(repo.root)["since"])
    quiet = run(repo.root, "stale", "production")
    assert quiet.exit_code == 0
    assert quiet.stdout.splitlines()[0] == (
        f"production: quiet, production is locked by alice since {since}: db migration"
    )
    doc = json.loads(run(repo.root, "stale", "production", "--json").stdout)
    assert (doc["environments"][0]["quiet"], doc["environments"][0]["reminded"]) == ("locked", [])


def test_stale_of_a_never_deployed_environment(repo: Repo) -> None:
    result = run(repo.root, "stale", "production")
    assert result.stdout == "production: never deployed, nothing to compare with\n"
    unknown = run(repo.root, "stale", "prod")
    assert unknown.exit_code == 1
    assert unknown.stderr.startswith("error: unknown environment 'prod'")


# -- notifications -------------------------------------------------------------------------


def test_a_deploy_posts_one_message_naming_who_what_and_where(repo: Repo) -> None:
    route_to_slack(repo.root)
    head = repo.git("rev-parse", "HEAD")
    with SlackWebhookServer() as slack:
        done = as_("alice", repo.root, "deploy", "staging", "HEAD", SLACK_TEST_HOOK=slack.url)
        assert done.exit_code == 0, done.output
        assert done.stderr == ""
        [message] = slack.received
    assert message["text"] == (
        f":inbox_tray: alice requested a deploy of {head[:7]} Add the checkout button to staging"
    )
    context = message["blocks"][-1]["elements"][0]["text"]
    assert "environment: *staging*" in context
    assert f"commit `{head[:7]}`" in context


def test_lock_unlock_and_stale_go_to_the_route(repo: Repo) -> None:
    route_to_slack(repo.root)
    _live_in_production(repo, "HEAD~2")
    with SlackWebhookServer() as slack:
        hook = {"SLACK_TEST_HOOK": slack.url}
        assert (
            as_("alice", repo.root, "lock", "production", "--reason", "db", **hook).exit_code == 0
        )
        assert as_("alice", repo.root, "unlock", "production", **hook).exit_code == 0
        assert run(repo.root, "stale", "production", "--dry-run", env=hook).exit_code == 0
        assert run(repo.root, "stale", "production", env=hook).exit_code == 0
        assert run(repo.root, "stale", "production", env=hook).exit_code == 0
        texts = [m["text"] for m in slack.received]
    assert texts == [
        ":lock: alice locked production: db",
        ":unlock: alice unlocked production",
        ":hourglass: 2 commits merged but not deployed to production (older than 1d 0h)",
    ]


def _dead_url() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/services/T000/B000/XXXXXXXX"


def test_a_dead_webhook_is_a_warning_and_the_deploy_still_succeeds(repo: Repo) -> None:
    route_to_slack(repo.root)
    done = as_("alice", repo.root, "deploy", "staging", "HEAD", SLACK_TEST_HOOK=_dead_url())
    assert done.exit_code == 0
    assert done.stdout.splitlines()[-2].startswith("created deployment 1: ")
    assert done.stderr == (
        "warning: notification deploy-requested for staging not sent to SLACK_TEST_HOOK: "
        "the webhook could not be reached (URLError)\n"
    )
    assert "127.0.0.1" not in done.stderr, "the webhook URL is a secret"
    assert len(LocalBackend(repo.root).deployments(environment="staging")) == 1


def test_a_missing_webhook_secret_is_a_warning(repo: Repo) -> None:
    route_to_slack(repo.root)
    done = as_("alice", repo.root, "lock", "staging", "--reason", "x", "--json")
    assert done.exit_code == 0
    assert json.loads(done.stdout)["holder"] == "alice"
    assert done.stderr == (
        "warning: notification locked for staging not sent: the secret SLACK_TEST_HOOK is not set\n"
    )


# -- refusal reasons and the local journal -------------------------------------------------


def test_every_refusal_reason_is_in_the_vocabulary_and_documented() -> None:
    raised = {
        journal_sync.CHECKS_UNREADABLE,
        journal_sync.GITHUB_ANSWERS,
        locks.LOCKED,
        locks.NOT_HOLDER,
        rollback.NO_PREVIOUS,
    }
    assert raised <= set(gate.REASONS)
    docs = (Path(__file__).resolve().parents[1] / "docs" / "cli.md").read_text()
    for reason in set(gate.REASONS) - {gate.OK}:
        assert f"| `{reason}` |" in docs, reason


def test_promotion_order_reads_the_commits_deployments_from_the_journal(tmp_path: Path) -> None:
    repo = Repo(tmp_path / "shop", config=CONFIG.replace("stale-after: 24h", "requires: [staging]"))
    head = repo.commit("Add the checkout button")
    assert run(repo.root, "record-check", "HEAD", "test", "success").exit_code == 0
    refused = run(repo.root, "deploy", "production", "HEAD")
    assert refused.exit_code == 1
    assert refused.stderr == (
        f"error: {head[:7]} has not been deployed successfully to staging yet; deploy it to "
        "staging first (production requires staging)\n"
    )
    backend = LocalBackend(repo.root)
    assert run(repo.root, "deploy", "staging", "HEAD").exit_code == 0
    [staged] = backend.deployments(environment="staging")
    backend.add_status(staged.id, state=DeployState.SUCCESS)
    assert run(repo.root, "deploy", "production", "HEAD").exit_code == 0
    found = backend.deployments_of(head, environments=["production", "staging"])
    assert [(d.environment, d.state) for d in found] == [
        ("production", DeployState.QUEUED),
        ("staging", DeployState.SUCCESS),
    ]
    assert backend.deployments_of(head, environments=["dev"]) == []
    assert backend.deployments_of("0" * 40, environments=["staging"]) == []


# -- against the GitHub emulator -----------------------------------------------------------

NOW = datetime.now(UTC).replace(microsecond=0)


@pytest.fixture
def shop(github_emulator, tmp_path: Path):
    """acme/shop on the emulator: a commit live in production five days ago, two waiting
    since, both green, and a folder holding the config (no checkout needed with --repo)."""
    emu = github_emulator
    gh = emu.create_repo("acme/shop", default_branch="main")
    live = gh.commit("Live one", when=NOW - timedelta(days=5))
    waiting = gh.commit("Add cart", author="bob", when=NOW - timedelta(days=3))
    head = gh.commit("Fix footer", author="carol", when=NOW - timedelta(days=2))
    for sha in (live, waiting, head):
        gh.add_check_run(sha, name="test")
    gh.add_deployment(live, environment="production", statuses=["success"])
    (tmp_path / ".commit-train.yml").write_text(ROUTE + CONFIG)
    env = {"GITHUB_API_URL": emu.base_url, "GITHUB_TOKEN": emu.token}
    return emu, gh, (live, waiting, head), tmp_path, env


def gh_as(shop, actor: str, *args: str, **extra: str) -> Result:
    """The CLI with ``actor``'s own token: on GitHub the token's login is who acts
    (``GITHUB_ACTOR`` is set to the same name, and would not count)."""
    emu, _gh, _shas, folder, env = shop
    token = f"ghs_test_token_for_{actor}"
    emu.add_user(actor, token)
    env = {**env, "GITHUB_TOKEN": token, "GITHUB_ACTOR": actor, **extra}
    return run(folder, "--repo", "acme/shop", *args, env=env)


def test_github_lock_refuses_others_and_allows_the_holder(shop) -> None:
    emu, gh, (_live, _waiting, head), _folder, _env = shop
    locked = gh_as(shop, "alice", "lock", "production", "--reason", "db migration", "--ttl", "2h")
    assert locked.exit_code == 0, locked.output
    assert "refs/commit-train/locks/env/production" in dict(gh.ref_items())
    [lock] = json.loads(gh_as(shop, "bob", "locks", "--json").stdout)["locks"]
    assert (lock["holder"], lock["reason"], lock["expired"]) == ("alice", "db migration", False)
    line = (
        f"production is locked by alice since {minute(lock['since'])} until "
        f"{minute(lock['expires_at'])}: db migration"
    )
    assert locked.stdout == line + "\n"

    refused = gh_as(shop, "bob", "deploy", "production", "HEAD")
    assert refused.exit_code == 1
    assert refused.stderr == f"error: {line}; ask alice to unlock it, or wait\n"
    assert gh.deployments[1:] == []

    allowed = gh_as(shop, "alice", "deploy", "production", "HEAD")
    assert allowed.exit_code == 0, allowed.output
    assert gh.deployments[-1]["sha"] == head
    assert gh.deployments[-1]["payload"]["requested_by"] == "alice"

    not_theirs = gh_as(shop, "bob", "unlock", "production")
    assert not_theirs.exit_code == 1
    assert not_theirs.stderr == (
        f"error: {line}; only alice can unlock it; ask them, or pass --force with --reason "
        "to break the lock\n"
    )
    assert gh_as(shop, "bob", "unlock", "production", "--force").exit_code == 2
    forced = gh_as(shop, "bob", "unlock", "production", "--force", "--reason", "on holiday")
    assert forced.exit_code == 0, forced.output
    assert gh_as(shop, "bob", "locks", "--json").stdout.count('"holder"') == 0
    emu.reset_requests()
    assert gh_as(shop, "bob", "locks").stdout == "no locks\n"
    assert emu.request_count == 1


def test_github_stale_reminds_once_within_two_requests(shop) -> None:
    emu, _gh, (live, waiting, head), _folder, _env = shop
    with SlackWebhookServer() as slack:
        emu.reset_requests()
        first = gh_as(shop, "alice", "stale", "production", SLACK_TEST_HOOK=slack.url)
        assert first.exit_code == 0, first.output
        assert emu.request_count <= 2
        lines = first.stdout.splitlines()
        assert lines[0] == (
            f"production: 2 commits older than 1d 0h not deployed (live {live[:7]}); reminded 2 now"
        )
        assert lines[1:] == [
            "  carol",
            f"    *  {head[:7]}  2d 0h  Fix footer",
            "  bob",
            f"    *  {waiting[:7]}  3d 0h  Add cart",
        ]
        second = gh_as(shop, "alice", "stale", "production", SLACK_TEST_HOOK=slack.url)
        assert second.stdout.splitlines()[0].endswith("; reminded 0 now")
        [message] = slack.received
    assert message["text"] == (
        ":hourglass: 2 commits merged but not deployed to production (older than 1d 0h)"
    )
    sections = [b["text"]["text"] for b in message["blocks"] if b["type"] == "section"]
    assert sections[1:] == [
        f"*carol*\n• `{head[:7]}` Fix footer (2d 0h)",
        f"*bob*\n• `{waiting[:7]}` Add cart (3d 0h)",
    ]


# -- stale reminders reach someone, or stay due -------------------------------------------


def test_stale_without_a_route_warns_and_keeps_the_reminder_for_later(repo: Repo) -> None:
    """With nowhere to send it, a reminder is not used up: the run says so, moves no mark,
    and the first run after a route is added reminds."""
    _live_in_production(repo, "HEAD~2")
    live = repo.git("rev-parse", "HEAD~2")
    unsent = run(repo.root, "stale", "production")
    assert unsent.exit_code == 0, unsent.output
    assert unsent.stderr == (
        "warning: no notification route for production: add notify: under it in "
        ".commit-train.yml; its reminder was not sent\n"
    )
    assert unsent.stdout.splitlines()[0] == (
        f"production: 2 commits older than 1d 0h not deployed (live {live[:7]}); "
        "2 to remind, not sent"
    )
    doc = json.loads(run(repo.root, "stale", "production", "--json").stdout)
    assert doc["environments"][0]["reminded"] == []
    assert len(doc["environments"][0]["due"]) == 2

    route_to_slack(repo.root)
    with SlackWebhookServer() as slack:
        hook = {"SLACK_TEST_HOOK": slack.url}
        sent = run(repo.root, "stale", "production", env=hook)
        assert sent.exit_code == 0, sent.output
        assert sent.stderr == ""
        assert sent.stdout.splitlines()[0].endswith("; reminded 2 now")
        again = run(repo.root, "stale", "production", env=hook)
        assert again.stdout.splitlines()[0].endswith("; reminded 0 now")
        assert [m["text"] for m in slack.received] == [
            ":hourglass: 2 commits merged but not deployed to production (older than 1d 0h)"
        ]


def test_stale_when_the_webhook_fails_keeps_the_reminder_for_later(repo: Repo) -> None:
    route_to_slack(repo.root)
    _live_in_production(repo, "HEAD~2")
    with SlackWebhookServer() as down:
        down.fail_with(500, "internal_error")
        failed = run(repo.root, "stale", "production", env={"SLACK_TEST_HOOK": down.url})
    assert failed.exit_code == 0, failed.output
    assert failed.stderr == (
        "warning: notification stale-commits for production not sent to SLACK_TEST_HOOK: "
        "the webhook answered 500 internal_error\n"
    )
    assert failed.stdout.splitlines()[0].endswith("; 2 to remind, not sent")
    with SlackWebhookServer() as slack:
        sent = run(repo.root, "stale", "production", env={"SLACK_TEST_HOOK": slack.url})
        assert sent.stdout.splitlines()[0].endswith("; reminded 2 now")
        assert len(slack.received) == 1


def test_stale_with_a_route_that_leaves_out_reminders_warns(repo: Repo) -> None:
    config = repo.root / ".commit-train.yml"
    config.write_text(
        "notify: {slack-webhook-env: SLACK_TEST_HOOK, events: [deploy-failed]}\n"
        + config.read_text()
    )
    _live_in_production(repo, "HEAD~2")
    with SlackWebhookServer() as slack:
        done = run(repo.root, "stale", "production", env={"SLACK_TEST_HOOK": slack.url})
        assert slack.received == []
    assert done.stderr == (
        "warning: the notification route for production leaves out stale-commits: add it to "
        "its events: in .commit-train.yml; its reminder was not sent\n"
    )
    assert done.stdout.splitlines()[0].endswith("; 2 to remind, not sent")
