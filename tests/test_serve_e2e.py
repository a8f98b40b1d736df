"""``commit-train serve`` end to end: the real slack-bolt App and slack_sdk WebClient against the
Slack emulator, the real PyGithub (as a GitHub App) against the GitHub emulator, the service's
one HTTP port (Slack events, GitHub's webhook, health) on 127.0.0.1.

A mention becomes a deployment recorded for the requester, not the bot; the deployment's
statuses come back through the signed ``deployment_status`` webhook and edit the deploy's one
message in place. Refusals (red checks, someone else's lock, someone else's click, a deployer
outside the allow list), bad signatures and unknown commands are answered as a person would
want: one line, or the help, and nothing done.
"""

from __future__ import annotations

import json
import logging
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from commit_train.faces.serve import settings
from commit_train.faces.serve.replies import CONFIRM_ACTION
from commit_train.faces.serve.slack import Poll, Service, build
from tests.emulators import github_rest
from tests.emulators.github import GitHubEmulator
from tests.emulators.github_model import EmulatedRepo
from tests.emulators.slack import Message, SlackEmulator

CONFIG = """\
checks:
  ignore: [Deploy to staging, Deploy to production]
environments:
  staging:
    url: https://staging.shop.example.com
  production:
    production: true
    dashboard: https://grafana.example.com/d/shop
"""

SERVE = """\
owner: acme
repositories: [shop]
people:
  U1: alice
  U2: bob
routes:
  - channel: CPROD
    environments: [production]
    states: [success, failure, error]
environments:
  production:
    allow: ["@deployers", acme/sre]
    confirm: true
"""

WEBHOOK_SECRET = "whsec-test-9f8e7d"


@dataclass
class World:
    github: GitHubEmulator
    slack: SlackEmulator
    repo: EmulatedRepo
    service: Service
    url: str
    commits: list[str]  # oldest first

    def mention(self, user: str, text: str, channel: str = "C1") -> tuple[int, str]:
        return self.slack.signed(self.slack.app_mention(user, channel, text)).post(
            f"{self.url}/slack/events"
        )

    def reply(self, channel: str = "C1", *, containing: str, timeout: float = 10) -> Message:
        return self.slack.wait_for_message(
            channel, lambda m: m.is_bot and containing in _everything(m), timeout=timeout
        )

    def set_status(self, deployment_id: int, state: str, description: str) -> None:
        with self.github.store.lock:
            self.repo.new_deployment_status(
                self.repo.get_deployment(deployment_id),
                state=state,
                description=description,
                creator=self.github.store.user("github-actions[bot]"),
            )


def _everything(message: Message) -> str:
    return message.text + json.dumps(message.blocks or [])


def _now(world: World, message: Message) -> str:
    """Everything ``message`` shows now, after its edits."""
    return _everything(world.slack.message(message.channel, message.ts))


def _serve(service: Service, *, slack_events: bool) -> tuple[str, Any]:
    server = service.http_server(host="127.0.0.1", port=0, slack_events=slack_events)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return f"http://127.0.0.1:{server.server_address[1]}", server


def _world(
    *, serve_yml: str = SERVE, webhook: bool = True, mode: str = "http", as_app: bool = True
) -> Iterator[World]:
    with GitHubEmulator() as github, SlackEmulator() as slack:
        repo = github.create_repo("acme/shop")
        commits = [repo.commit("Initial", files={".commit-train.yml": CONFIG})]
        for title in ("Add cart", "Fix <b>prices</b> & taxes", "Add checkout"):
            commits.append(repo.commit(title, files={f"{title[:3]}.txt": title}))
        for sha in commits:
            repo.add_status(sha, context="ci", state="success")
        app = github.create_app("commit-train")
        github.install_app(app, "acme")
        github.add_team("acme", "sre", members=["carol"])
        slack.add_user("U1", "alice", email="alice@acme.test")
        slack.add_user("U2", "bob", email="bob@acme.test")
        slack.add_user("U3", "carol", email="carol@acme.test")
        slack.add_channel("C1", "shop")
        slack.add_channel("CPROD", "deploys-production")
        slack.add_usergroup("S1", "deployers", users=["U1"])
        environ = {
            "SLACK_BOT_TOKEN": slack.bot_token,
            "SLACK_SIGNING_SECRET": slack.signing_secret,
            "SLACK_APP_TOKEN": slack.app_token,
            "SLACK_API_URL": slack.base_url,
            "GITHUB_API_URL": github.base_url,
        }
        if as_app:
            environ["GITHUB_APP_ID"] = str(app.id)
            environ["GITHUB_APP_PRIVATE_KEY"] = str(app.private_key_pem)
        else:
            environ["GITHUB_TOKEN"] = github.token
        if webhook:
            environ["GITHUB_WEBHOOK_SECRET"] = WEBHOOK_SECRET
        loaded = settings.LoadedServeConfig(settings.parse(serve_yml), None)
        service = build(environ=environ, settings=loaded, mode=mode, poll=Poll(interval=0.1))
        url, server = _serve(service, slack_events=mode == "http")
        if webhook:
            github.add_webhook(repo, f"{url}/github/webhook", WEBHOOK_SECRET, app=app)
        try:
            yield World(github, slack, repo, service, url, commits)
        finally:
            server.shutdown()
            server.server_close()


@pytest.fixture
def world() -> Iterator[World]:
    yield from _world()


def _deployments(world: World) -> list[dict[str, Any]]:
    """The repository's deployments as GitHub's REST API shows them, oldest first."""
    with world.github.store.lock:
        return [
            github_rest.render_deployment(world.github.store, world.repo, d)
            for d in world.repo.deployment_objects
        ]


def test_a_mention_deploys_for_the_requester_and_the_thread_follows_the_webhook(
    world: World,
) -> None:
    status, _ = world.mention("U2", "deploy shop staging HEAD")
    assert status == 200
    message = world.reply(containing="queued")
    deployments = _deployments(world)
    assert len(deployments) == 1
    deployment = deployments[0]
    assert deployment["sha"] == world.commits[-1]
    assert deployment["environment"] == "staging"
    assert deployment["payload"]["requested_by"] == "bob"  # the person, not the App's bot
    assert deployment["creator"]["login"] == "commit-train[bot]"
    assert deployment["payload"]["slack"] == {
        "channel": "C1",
        "ts": message.ts,
        "user": "U2",
        "ships": "the first deploy here",
        "dashboard": "https://staging.shop.example.com",
    }
    text = _everything(message)
    assert "<@U2>" in text
    assert "https://staging.shop.example.com|dashboard" in text

    world.set_status(deployment["id"], "in_progress", "rolling out web: 1 of 2 updated")
    world.slack.wait_for(lambda: "rolling out web: 1 of 2 updated" in _now(world, message))
    world.set_status(deployment["id"], "success", "deployed in 42s")
    world.slack.wait_for(lambda: "deployed in 42s" in _now(world, message))
    done = world.slack.message("C1", message.ts)
    assert ":white_check_mark:" in done.text
    assert "deployed `" in done.text
    assert done.edits >= 3  # queued, in progress, success: one message, edited in place
    assert len(world.slack.bot_messages("C1")) == 1
    assert world.slack.bot_messages("CPROD") == []  # the route hears production only


def test_history_shows_the_requester_in_the_by_column(world: World) -> None:
    world.mention("U2", "deploy shop staging HEAD")
    world.reply(containing="queued")
    world.mention("U2", "history shop staging")
    message = world.reply(containing="STARTED (UTC)")
    table = _everything(message)
    assert " bob " in table
    assert "commit-train[bot]" not in table


def test_what_ships_counts_the_commits_between_live_and_target(world: World) -> None:
    world.mention("U2", f"deploy shop staging {world.commits[1][:7]}")
    first = world.reply(containing="queued")
    world.set_status(_deployments(world)[0]["id"], "success", "deployed")
    world.slack.wait_for(lambda: "deployed" in world.slack.message("C1", first.ts).text)

    world.mention("U2", "deploy shop staging HEAD")
    message = world.reply(containing="2 commits")
    assert "2 commits: Add checkout; Fix &lt;b&gt;prices&lt;/b&gt; &amp; taxes" in _everything(
        message
    )
    world.mention("U2", f"deploy shop staging {world.commits[0][:7]}")
    assert world.reply(containing="rolls back 1 commit")


def test_red_checks_are_refused_with_the_cli_line_and_nothing_recorded(world: World) -> None:
    world.repo.add_status(world.commits[-1], context="ci", state="failure")
    world.mention("U2", "deploy shop staging HEAD")
    message = world.reply(containing=":no_entry:")
    short = world.commits[-1][:7]
    # the line the CLI prints for the same refusal, the requester tagged
    assert message.text == (
        f"<@U2> :no_entry: {short} has failing checks: ci; fix them or deploy a green commit"
    )
    assert _deployments(world) == []


def test_a_commit_already_queued_is_refused_unless_asked_again(world: World) -> None:
    world.mention("U2", "deploy shop staging HEAD")
    world.reply(containing="queued")
    (first,) = _deployments(world)
    world.mention("U2", "deploy shop staging HEAD")
    refused = world.reply(containing=":no_entry:")
    short = world.commits[-1][:7]
    # the CLI's refusal line, the way to ask again in the bot's own words
    assert refused.text == (
        f"<@U2> :no_entry: {short} is already queued for staging (deployment {first['id']}); "
        "say `deploy shop staging HEAD again` to deploy it anyway"
    )
    assert len(_deployments(world)) == 1
    world.mention("U2", "deploy shop staging HEAD again")
    world.slack.wait_for(lambda: len(_deployments(world)) == 2)
    assert [d["sha"] for d in _deployments(world)] == [world.commits[-1]] * 2


def test_production_s_confirmation_keeps_again(world: World) -> None:
    world.mention("U1", "deploy shop production HEAD")
    first = world.reply(containing=CONFIRM_ACTION)
    world.slack.signed(world.slack.button_click("U1", "C1", first.ts, CONFIRM_ACTION)).post(
        f"{world.url}/slack/events"
    )
    world.slack.wait_for(lambda: "queued" in world.slack.message("C1", first.ts).text)
    world.mention("U1", "deploy shop production HEAD")
    assert "is already queued for production" in world.reply(containing=":no_entry:").text
    world.mention("U1", "deploy shop production HEAD again")
    prompt = world.slack.wait_for_message(
        "C1", lambda m: m.is_bot and CONFIRM_ACTION in _everything(m) and m.ts != first.ts
    )
    world.slack.signed(world.slack.button_click("U1", "C1", prompt.ts, CONFIRM_ACTION)).post(
        f"{world.url}/slack/events"
    )
    world.slack.wait_for(lambda: len(_deployments(world)) == 2)


def test_a_lock_held_by_someone_else_refuses_the_deploy(world: World) -> None:
    world.mention("U1", "lock shop staging db migration 2h")
    locked = world.reply(containing=":lock:")
    assert "staging is locked by alice" in locked.text
    assert "db migration" in locked.text

    world.mention("U2", "deploy shop staging HEAD")
    refused = world.reply(containing="<@U2> :no_entry:")
    assert "locked by alice" in refused.text
    assert _deployments(world) == []

    world.mention("U2", "unlock shop staging")
    assert "alice" in world.reply(containing="<@U2> :no_entry: staging").text
    world.mention("U1", "unlock shop staging")
    assert world.reply(containing=":unlock:")


def test_production_asks_to_confirm_and_only_the_requester_s_click_deploys(
    world: World,
) -> None:
    world.mention("U1", "deploy shop production HEAD")
    prompt = world.reply(containing=CONFIRM_ACTION)
    assert "asks to confirm" in prompt.text
    assert _deployments(world) == []

    click = world.slack.button_click("U3", "C1", prompt.ts, CONFIRM_ACTION)
    status, _ = world.slack.signed(click).post(f"{world.url}/slack/events")
    assert status == 200
    refusal = world.reply(containing="<@U3> :no_entry: only <@U1> can confirm")
    assert refusal.thread_ts == prompt.ts
    assert _deployments(world) == []

    click = world.slack.button_click("U1", "C1", prompt.ts, CONFIRM_ACTION)
    world.slack.signed(click).post(f"{world.url}/slack/events")
    world.slack.wait_for(lambda: "queued" in world.slack.message("C1", prompt.ts).text)
    (deployment,) = _deployments(world)
    assert deployment["environment"] == "production"
    assert deployment["payload"]["requested_by"] == "alice"
    world.set_status(deployment["id"], "success", "deployed")
    routed = world.reply("CPROD", containing="deployed")
    assert "grafana.example.com/d/shop|dashboard" in _everything(routed)


def test_the_repository_s_confirm_true_asks_too(world: World) -> None:
    """``confirm: true`` in the repository's own .commit-train.yml (the one the CLI reads)
    makes the bot ask as well, though serve.yml asks only for production."""
    config = CONFIG.replace(
        "  staging:\n    url: https://staging.shop.example.com\n",
        "  staging:\n    url: https://staging.shop.example.com\n    confirm: true\n",
    )
    sha = world.repo.commit("Ask before staging", files={".commit-train.yml": config})
    world.repo.add_status(sha, context="ci", state="success")
    world.mention("U2", "deploy shop staging HEAD")
    prompt = world.reply(containing=CONFIRM_ACTION)
    assert "asks to confirm" in prompt.text
    assert _deployments(world) == []


def test_a_deployer_outside_the_allow_list_is_refused_naming_who_may(world: World) -> None:
    world.mention("U2", "deploy shop production HEAD")
    message = world.reply(containing=":no_entry:")
    assert "only @deployers, acme/sre may deploy to production of acme/shop" in message.text
    assert _deployments(world) == []


def test_a_github_team_member_may_deploy(world: World) -> None:
    world.service.settings.people["U3"] = "carol"
    world.mention("U3", "deploy shop production HEAD")
    assert world.reply(containing="asks to confirm")


def test_a_bad_slack_signature_is_401_and_does_nothing(world: World) -> None:
    wrong = world.slack.signed(
        world.slack.app_mention("U1", "C1", "deploy shop staging HEAD"), secret="not-the-secret"
    )
    assert wrong.post(f"{world.url}/slack/events")[0] == 401
    stale = world.slack.signed(
        world.slack.app_mention("U1", "C1", "deploy shop staging HEAD"), age=6 * 60
    )
    assert stale.post(f"{world.url}/slack/events")[0] == 401
    time.sleep(0.3)
    assert world.slack.bot_messages("C1") == []
    assert _deployments(world) == []


def _post(url: str, body: bytes, headers: dict[str, str]) -> int:
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return int(response.status)
    except urllib.error.HTTPError as error:
        return int(error.code)


def test_a_bad_github_signature_is_401(world: World) -> None:
    world.mention("U2", "deploy shop staging HEAD")
    message = world.reply(containing="queued")
    (deployment,) = _deployments(world)
    hook = world.github._hooks.hooks[0]
    world.set_status(deployment["id"], "in_progress", "started")
    world.slack.wait_for(lambda: "started" in world.slack.message("C1", message.ts).text)
    with world.github.store.lock:
        status = world.repo.new_deployment_status(
            world.repo.get_deployment(deployment["id"]),
            state="success",
            description="forged",
            creator=world.github.store.user("github-actions[bot]"),
        )
    world.github.wait_for_deliveries()
    headers, body = world.github.webhook_request(
        hook, "deployment_status", deployment["id"], status.id
    )
    good = dict(headers)
    headers["X-Hub-Signature-256"] = "sha256=" + "0" * 64
    assert _post(f"{world.url}/github/webhook", body, headers) == 401
    del headers["X-Hub-Signature-256"]
    assert _post(f"{world.url}/github/webhook", body, headers) == 401
    assert _post(f"{world.url}/github/webhook", body, good) == 200


def test_health(world: World) -> None:
    with urllib.request.urlopen(f"{world.url}/healthz", timeout=5) as response:
        assert response.read() == b"ok\n"


def test_an_unknown_command_or_repository_gets_the_help(world: World) -> None:
    world.mention("U1", "ship it")
    message = world.reply(containing="know the command")
    assert "deploy {repo} {env} {sha|HEAD}" in _everything(message)
    world.mention("U1", "status ledger")
    assert world.reply(containing="serve a repository called")


def test_status_costs_what_the_cli_s_costs(world: World) -> None:
    world.mention("U1", "status shop")  # the first read of the config, and the App's token
    world.reply(containing="SHA")
    world.github.reset_requests()
    world.mention("U1", "status shop 3")
    world.reply(containing="the 3 newest commits")
    paths = [(r.method, r.path, r.status) for r in world.github.requests]
    # the config: a conditional request answered 304 (free of rate limit); status: one query
    assert [p for p in paths if p[2] == 304] == [
        ("GET", "/api/v3/repos/acme/shop/contents/.commit-train.yml", 304)
    ]
    assert [p for p in paths if p[2] != 304] == [("POST", "/api/graphql", 200)]


def _counted(world: World) -> list[str]:
    """The GitHub requests since the last reset that count against the rate limit."""
    return [
        "POST graphql" if r.graphql else f"{r.method} {r.path}"
        for r in world.github.requests
        if r.status != 304
    ]


def _the_cli_s_three(world: World) -> list[str]:
    deployment = _deployments(world)[-1]["id"]
    return [
        "POST graphql",  # the gate: commit, checks, locks, live deploys, ancestors
        "POST /api/v3/repos/acme/shop/deployments",
        f"POST /api/v3/repos/acme/shop/deployments/{deployment}/statuses",
    ]


def test_a_deploy_costs_the_cli_s_three_requests_and_still_says_what_ships(world: World) -> None:
    world.mention("U2", "status shop")  # the App's token and the config's first read
    world.reply(containing="SHA")
    world.github.reset_requests()
    world.mention("U2", f"deploy shop staging {world.commits[1][:7]}")
    first = world.reply(containing="the first deploy here")
    assert _counted(world) == _the_cli_s_three(world)
    world.set_status(_deployments(world)[-1]["id"], "success", "deployed")
    world.slack.wait_for(lambda: "deployed" in _now(world, first))

    world.github.reset_requests()
    world.mention("U2", "deploy shop staging HEAD")
    message = world.reply(containing="2 commits")
    assert "2 commits: Add checkout; Fix &lt;b&gt;prices&lt;/b&gt; &amp; taxes" in _everything(
        message
    )
    assert _counted(world) == _the_cli_s_three(world)


def test_a_deploy_of_an_older_commit_asks_once_more_to_say_what_it_rolls_back(
    world: World,
) -> None:
    _deploy_and_succeed(world, world.commits[-1][:7])
    world.github.reset_requests()
    world.mention("U2", f"deploy shop staging {world.commits[1][:7]}")
    message = world.reply(containing="rolls back")
    assert "rolls back 2 commits" in _everything(message)
    # the live commit is not among the target's ancestors: the newest commits are read
    cli = _the_cli_s_three(world)
    assert _counted(world) == [cli[0], "POST graphql", *cli[1:]]


def test_socket_mode_answers_and_acks() -> None:
    for world in _world(mode="socket"):
        handler = world.service.socket_mode(world.slack.app_token)
        try:
            world.slack.socket.wait_for_connections(1)
            envelope = world.slack.socket.push_event(
                world.slack.app_mention("U2", "C1", "deploy shop staging HEAD")
            )
            world.slack.socket.wait_for_ack(envelope, timeout=3)
            world.reply(containing="queued")
            assert _deployments(world)[0]["payload"]["requested_by"] == "bob"
        finally:
            handler.close()


def test_without_a_webhook_the_thread_is_polled() -> None:
    for world in _world(webhook=False):
        world.mention("U2", "deploy shop staging HEAD")
        message = world.reply(containing="queued")
        world.set_status(_deployments(world)[0]["id"], "success", "deployed in 3s")
        world.slack.wait_for(
            lambda: "deployed in 3s" in world.slack.message("C1", message.ts).text, timeout=5
        )


def _deploy_and_succeed(world: World, ref: str) -> None:
    before = len(_deployments(world))
    world.mention("U2", f"deploy shop staging {ref}")
    world.slack.wait_for(lambda: len(_deployments(world)) == before + 1)
    deployment = _deployments(world)[-1]
    # the bot's queued status first: a success before it would not be the newest status
    world.slack.wait_for(lambda: world.repo.deployment_statuses(deployment["id"]))
    world.set_status(deployment["id"], "success", "deployed")
    world.github.wait_for_deliveries()


def test_rollback_deploys_the_previous_good_commit_and_says_what_it_undoes(world: World) -> None:
    _deploy_and_succeed(world, world.commits[1][:7])
    _deploy_and_succeed(world, "HEAD")
    world.mention("U2", "rollback shop staging")
    message = world.reply(containing="rolling back")
    rollback = _deployments(world)[-1]
    assert rollback["sha"] == world.commits[1]
    assert rollback["payload"]["rollback_of"] == world.commits[-1]
    assert rollback["payload"]["requested_by"] == "bob"
    assert "rolls back 2 commits" in _everything(message)


def test_reading_commands_answer_with_the_cli_s_tables(world: World) -> None:
    world.mention("U3", "status shop 2")  # anyone may read
    status = world.reply(containing="the 2 newest commits")
    table = _everything(status)
    assert "SHA" in table and "CHECKS" in table and "LIVE IN" in table
    assert "Fix &lt;b&gt;prices&lt;/b&gt; &amp; taxes" in table  # escaped for Slack
    assert "<b>" not in table
    world.mention("U3", "locks shop")
    assert "no locks" in _everything(world.reply(containing="locks"))
    world.mention("U3", "stale shop")
    assert "no stale-after threshold configured" in _everything(
        world.reply(containing="stale-after")
    )


def test_a_direct_message_is_answered_in_the_conversation(world: World) -> None:
    world.slack.add_im("D1", user="U1")
    event = world.slack.im_message("U1", "D1", "help")
    assert world.slack.signed(event).post(f"{world.url}/slack/events")[0] == 200
    assert "status {repo} [limit]" in _everything(world.reply("D1", containing="understand"))


def test_twenty_mentions_at_once_are_all_answered(world: World) -> None:
    threads = [
        threading.Thread(target=world.mention, args=("U1", f"status shop {n % 4 + 1}"))
        for n in range(20)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    world.slack.wait_for(lambda: len(world.slack.bot_messages("C1")) == 20, timeout=30)
    answers = world.slack.bot_messages("C1")
    assert all("newest commit" in _everything(m) for m in answers)
    time.sleep(0.2)
    assert len(world.slack.bot_messages("C1")) == 20  # none lost, none twice


def test_with_a_plain_token_the_deploy_still_records_the_requester() -> None:
    for world in _world(as_app=False):
        world.mention("U2", "deploy shop staging HEAD")
        world.reply(containing="queued")
        (deployment,) = _deployments(world)
        assert deployment["creator"]["login"] == "alice"  # the token's owner
        assert deployment["payload"]["requested_by"] == "bob"  # who asked


def test_a_failed_deploy_shows_the_diagnosis_in_its_thread(world: World) -> None:
    world.mention("U2", "deploy shop staging HEAD")
    message = world.reply(containing="queued")
    (deployment,) = _deployments(world)
    diagnosis = "web: container web is in CrashLoopBackOff (exit 1: <missing DATABASE_URL>)"
    world.set_status(deployment["id"], "failure", diagnosis)
    world.slack.wait_for(lambda: "CrashLoopBackOff" in _now(world, message))
    final = world.slack.message("C1", message.ts)
    assert final.text.startswith(":x: <@U2> failed to deploy `")
    assert "failure: web: container web is in CrashLoopBackOff (exit 1: &lt;missing" in final.text


def test_a_hostile_commit_title_and_description_are_escaped_in_the_thread_s_text(
    world: World,
) -> None:
    """Slack's ``text`` (the notification and the fallback) is mrkdwn too: a commit title or a
    status description holding ``<!channel>`` or a ``<url|label>`` link must not ping the
    channel or make a link there, in the first post or any edit."""
    title = "Ping <!channel> and <https://evil.example|click> & more"
    sha = world.repo.commit(title, files={"evil.txt": "x"})
    world.repo.add_status(sha, context="ci", state="success")
    world.mention("U2", f"deploy shop staging {sha[:7]}")
    message = world.reply(containing="queued")
    (deployment,) = _deployments(world)
    world.set_status(deployment["id"], "failure", "web: <!here> see <https://evil.example|logs>")
    world.slack.wait_for(lambda: ":x:" in world.slack.message("C1", message.ts).text)

    final = world.slack.message("C1", message.ts)
    assert "&lt;!channel&gt; and &lt;https://evil.example|click&gt; &amp; more" in final.text
    assert "web: &lt;!here&gt; see &lt;https://evil.example|logs&gt;" in final.text
    for revision in final.revisions:
        shown = revision.text + json.dumps(revision.blocks or [])
        for raw in ("<!channel>", "<!here>", "<https://evil.example|"):
            assert raw not in shown, (raw, revision.text)


def test_someone_outside_people_is_recorded_as_the_github_login_of_their_public_email(
    world: World,
) -> None:
    world.slack.add_user("U4", "dave", email="dave@acme.test")
    world.github.add_user("dave-gh", name="Dave", email="dave@acme.test")
    world.github.add_user("erin", email="erin@acme.test")
    world.mention("U4", "help")  # no repository yet: nothing is looked up or remembered
    world.reply(containing="deploy {repo} {env}")
    world.mention("U2", "status shop")  # the App's token and the config's first read
    world.reply(containing="SHA")
    world.github.reset_requests()
    world.mention("U4", "deploy shop staging HEAD")
    world.slack.wait_for(lambda: len(_deployments(world)) == 1)
    (deployment,) = _deployments(world)
    assert deployment["payload"]["requested_by"] == "dave-gh"
    assert deployment["creator"]["login"] == "commit-train[bot]"
    # the lookup costs one request, on the search rate limit, beside the CLI's three
    world.slack.wait_for(lambda: len(_counted(world)) >= 4)
    assert _counted(world) == ["GET /api/v3/search/users", *_the_cli_s_three(world)]
    (search,) = [r for r in world.github.requests if r.path.endswith("/search/users")]
    assert search.query == {"q": "dave@acme.test in:email"}

    world.github.reset_requests()
    world.mention("U4", "history shop staging")
    table = _everything(world.reply(containing="STARTED (UTC)"))
    assert " dave-gh " in table
    assert "commit-train[bot]" not in table
    assert "GET /api/v3/search/users" not in _counted(world)  # remembered for U4


def test_without_exactly_one_public_email_the_slack_name_is_recorded_and_teams_refuse(
    world: World,
) -> None:
    world.github.add_user("carol", email="carol@acme.test")  # a team member of acme/sre ...
    world.github.add_user("carol2", email="carol@acme.test")  # ... and one more account
    world.mention("U3", "deploy shop staging HEAD")
    world.slack.wait_for(lambda: len(_deployments(world)) == 1)
    (deployment,) = _deployments(world)
    assert deployment["payload"]["requested_by"] == "carol (Slack)"  # never the bot
    world.mention("U3", "deploy shop production HEAD")
    refused = world.reply(containing="<@U3> :no_entry:")
    assert refused.text.count("\n") == 0
    assert "only @deployers, acme/sre may deploy to production of acme/shop" in refused.text
    assert "I know no GitHub login for you: add it under people: in serve.yml" in refused.text
    assert len(_deployments(world)) == 1


def test_nobody_with_the_public_email_records_the_slack_name(world: World) -> None:
    world.github.add_user("carol", name="Carol")  # her email is private: search cannot see it
    world.mention("U3", "deploy shop staging HEAD")
    world.reply(containing="queued")
    (deployment,) = _deployments(world)
    assert deployment["payload"]["requested_by"] == "carol (Slack)"


def test_a_github_retry_is_one_line_in_the_service_log(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    """The bot says every GitHub retry or wait in its log, as the CLI does on stderr, and the
    answer still arrives."""
    world.mention("U1", "status shop")
    world.reply(containing="SHA")
    world.github.inject(status=503, times=1, path="/api/graphql")
    with caplog.at_level(logging.WARNING, logger="commit_train.serve"):
        world.mention("U1", "status shop 3")
        world.reply(containing="the 3 newest commits")
    lines = [r.getMessage() for r in caplog.records if r.name == "commit_train.serve"]
    assert any(line.startswith("GitHub answered 503; retrying in") for line in lines), lines
