"""The Slack emulator answers the real slack_sdk and slack-bolt clients as Slack does.

Web API methods through ``slack_sdk.WebClient`` (each method, each error), Events API payloads
signed so that slack_sdk's own ``SignatureVerifier`` accepts them (and refuses a wrong secret
or a stale timestamp), and a slack-bolt ``App`` on Socket Mode (the builtin client) that gets
an envelope, acks it in time, answers through the Web API, and reconnects.
"""

from __future__ import annotations

import json
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from slack_bolt import App
from slack_bolt.adapter.socket_mode import SocketModeHandler
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_handlers import RateLimitErrorRetryHandler
from slack_sdk.signature import SignatureVerifier
from slack_sdk.webhook import WebhookClient
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect as ws_connect

from tests.emulators import slack_events
from tests.emulators.slack import SlackEmulator

# Some tests leave out ``text`` on purpose (Slack's no_text); slack_sdk warns about that.
pytestmark = pytest.mark.filterwarnings("ignore:The top-level `text` argument:UserWarning")

PROXY_VARIABLES = ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy", "ALL_PROXY")


@pytest.fixture
def slack(monkeypatch: pytest.MonkeyPatch) -> Iterator[SlackEmulator]:
    for name in PROXY_VARIABLES:  # WebClient would send 127.0.0.1 through a proxy from env
        monkeypatch.delenv(name, raising=False)
    with SlackEmulator() as emulator:
        emulator.add_user("U1", "alice", email="alice@acme.test", real_name="Alice Liddell")
        emulator.add_user("U2", "bob", email="Bob@Acme.test")
        emulator.add_channel("C1", "deploys")
        emulator.add_channel("C2", "private-ops", is_private=True, members=["U1"])
        emulator.add_channel("C3", "elsewhere", bot_member=False)
        emulator.add_im("D1", user="U1")
        emulator.add_usergroup("S1", "deployers", name="Deployers", users=["U1", "U2"])
        yield emulator


@pytest.fixture
def client(slack: SlackEmulator) -> WebClient:
    return WebClient(token=slack.bot_token, base_url=slack.base_url)


def api_error(call: Any, **kwargs: Any) -> dict[str, Any]:
    """The error body a Web API call answers with (SlackApiError's response)."""
    with pytest.raises(SlackApiError) as raised:
        call(**kwargs)
    assert raised.value.response.status_code == 200  # Slack's errors come with HTTP 200
    data = raised.value.response.data
    assert isinstance(data, dict) and data["ok"] is False
    return data


def section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text}}


def button(text: str = "Deploy", action_id: str = "deploy", **extra: Any) -> dict[str, Any]:
    return {
        "type": "button",
        "text": {"type": "plain_text", "text": text},
        "action_id": action_id,
        **extra,
    }


# -- auth -----------------------------------------------------------------------------------


def test_auth_test_names_the_bot(slack: SlackEmulator, client: WebClient) -> None:
    answer = client.auth_test()
    assert answer["user_id"] == slack.bot_user_id
    assert answer["bot_id"] == slack.bot_id
    assert answer["team_id"] == slack.team_id


def test_tokens_are_checked(slack: SlackEmulator) -> None:
    anonymous = WebClient(base_url=slack.base_url)
    assert api_error(anonymous.auth_test)["error"] == "not_authed"
    wrong = WebClient(token="xoxb-not-ours", base_url=slack.base_url)
    assert api_error(wrong.auth_test)["error"] == "invalid_auth"
    app_level = WebClient(token=slack.app_token, base_url=slack.base_url)
    assert api_error(app_level.auth_test)["error"] == "not_allowed_token_type"


def test_token_in_a_form_body_counts_but_not_in_a_json_body(slack: SlackEmulator) -> None:
    def post(body: bytes, content_type: str) -> dict[str, Any]:
        request = urllib.request.Request(
            slack.base_url + "auth.test", data=body, headers={"Content-Type": content_type}
        )
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        with opener.open(request, timeout=5) as response:
            return dict(json.loads(response.read()))

    form = urllib.parse.urlencode({"token": slack.bot_token}).encode()
    assert post(form, "application/x-www-form-urlencoded")["ok"] is True
    as_json = json.dumps({"token": slack.bot_token}).encode()
    assert post(as_json, "application/json")["error"] == "not_authed"
    assert all(slack.bot_token not in json.dumps(call.args) for call in slack.calls())


def test_unknown_method(client: WebClient) -> None:
    data = api_error(client.api_call, api_method="deploys.start")
    assert data["error"] == "unknown_method"


# -- chat.postMessage -----------------------------------------------------------------------


def test_post_message_answers_with_channel_ts_and_message(
    slack: SlackEmulator, client: WebClient
) -> None:
    answer = client.chat_postMessage(channel="C1", text="Deploying shop", blocks=[section("*x*")])
    assert answer["channel"] == "C1"
    assert answer["message"]["ts"] == answer["ts"]
    assert answer["message"]["bot_id"] == slack.bot_id
    assert answer["message"]["blocks"] == [section("*x*")]
    [posted] = slack.messages("C1")
    assert (posted.ts, posted.text, posted.is_bot) == (answer["ts"], "Deploying shop", True)


def test_thread_replies_and_the_ways_to_name_a_channel(
    slack: SlackEmulator, client: WebClient
) -> None:
    parent = client.chat_postMessage(channel="#deploys", text="parent")
    assert parent["channel"] == "C1"
    client.chat_postMessage(channel="C1", text="reply", thread_ts=parent["ts"])
    assert [m.text for m in slack.messages("C1", thread_ts=parent["ts"])] == ["parent", "reply"]
    assert slack.messages("C1")[1].thread_ts == parent["ts"]
    to_user = client.chat_postMessage(channel="U1", text="psst")
    assert to_user["channel"] == "D1"  # a user id posts into their IM with the bot


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"channel": "C404", "text": "x"}, "channel_not_found"),
        ({"channel": "C3", "text": "x"}, "not_in_channel"),
        ({"channel": "C1"}, "no_text"),
        ({"channel": "C1", "text": ""}, "no_text"),
        ({"channel": "C1", "text": "x" * 40_001}, "msg_too_long"),
    ],
)
def test_post_message_errors(client: WebClient, kwargs: dict[str, Any], error: str) -> None:
    assert api_error(client.chat_postMessage, **kwargs)["error"] == error


def test_the_longest_text_slack_takes(slack: SlackEmulator, client: WebClient) -> None:
    client.chat_postMessage(channel="C1", text="x" * 40_000)
    assert len(slack.messages("C1")[0].text) == 40_000


def confirm_button(title: str) -> dict[str, Any]:
    """A button asking first, as a deploy to a ``confirm: true`` environment does."""
    confirm = {
        "title": {"type": "plain_text", "text": title},
        "text": {"type": "mrkdwn", "text": "Deploy shop to production?"},
        "confirm": {"type": "plain_text", "text": "Deploy"},
        "deny": {"type": "plain_text", "text": "Cancel"},
    }
    return button(confirm=confirm)


# Each case: blocks at Slack's limit (accepted), one past it (refused), and the pointer named.
LIMIT_CASES = [
    ("50 blocks", [section("x")] * 50, [section("x")] * 51, "/blocks"),
    ("section text", [section("x" * 3000)], [section("x" * 3001)], "/blocks/0/text/text"),
    (
        "header text",
        [{"type": "header", "text": {"type": "plain_text", "text": "h" * 150}}],
        [{"type": "header", "text": {"type": "plain_text", "text": "h" * 151}}],
        "/blocks/0/text/text",
    ),
    (
        "button text",
        [{"type": "actions", "elements": [button("b" * 75)]}],
        [{"type": "actions", "elements": [button("b" * 76)]}],
        "/blocks/0/elements/0/text/text",
    ),
    (
        "action_id",
        [{"type": "actions", "elements": [button(action_id="a" * 255)]}],
        [{"type": "actions", "elements": [button(action_id="a" * 256)]}],
        "/blocks/0/elements/0/action_id",
    ),
    (
        "section fields",
        [{"type": "section", "fields": [{"type": "mrkdwn", "text": "f"}] * 10}],
        [{"type": "section", "fields": [{"type": "mrkdwn", "text": "f"}] * 11}],
        "/blocks/0/fields",
    ),
    (
        "confirm title",
        [{"type": "actions", "elements": [confirm_button("t" * 100)]}],
        [{"type": "actions", "elements": [confirm_button("t" * 101)]}],
        "/blocks/0/elements/0/confirm/title/text",
    ),
]


@pytest.mark.parametrize(
    ("good", "bad", "pointer"), [c[1:] for c in LIMIT_CASES], ids=[c[0] for c in LIMIT_CASES]
)
def test_block_kit_limits(
    client: WebClient, good: list[dict[str, Any]], bad: list[dict[str, Any]], pointer: str
) -> None:
    assert client.chat_postMessage(channel="C1", text="t", blocks=good)["ok"] is True
    data = api_error(client.chat_postMessage, channel="C1", text="t", blocks=bad)
    assert data["error"] == "invalid_blocks"
    messages = data["response_metadata"]["messages"]
    assert any(m.endswith(f"[json-pointer:{pointer}]") for m in messages), messages


@pytest.mark.parametrize(
    ("blocks", "problem"),
    [
        (
            [{"type": "carousel"}],
            "[ERROR] unsupported type: carousel [json-pointer:/blocks/0/type]",
        ),
        ([{"text": {"type": "mrkdwn", "text": "x"}}], "missing required field: type"),
        ([{"type": "header"}], "missing required field: text"),
        ([{"type": "section"}], "must provide either text or fields"),
        ([{"type": "actions", "elements": [{"type": "button"}]}], "missing required field: text"),
        ([{"type": "actions", "elements": []}], "must provide at least 1 items"),
        ([{"type": "image", "image_url": "https://x.test/a.png"}], "field: alt_text"),
        (
            [{"type": "header", "text": {"type": "mrkdwn", "text": "h"}}],
            "must be plain_text [json-pointer:/blocks/0/text/type]",
        ),
        ([{**section("a"), "block_id": "b"}, {**section("b"), "block_id": "b"}], "duplicate"),
        ([{"type": "actions", "elements": [button(style="green")]}], "primary, danger"),
    ],
)
def test_blocks_slack_refuses(client: WebClient, blocks: list[Any], problem: str) -> None:
    data = api_error(client.chat_postMessage, channel="C1", text="t", blocks=blocks)
    assert data["error"] == "invalid_blocks"
    assert any(problem in m for m in data["response_metadata"]["messages"])


def test_blocks_as_a_form_field(slack: SlackEmulator, client: WebClient) -> None:
    form = {"channel": "C1", "text": "t", "blocks": json.dumps([section("from a form")])}
    client.api_call("chat.postMessage", data=form)
    assert slack.messages("C1")[0].blocks == [section("from a form")]
    form["blocks"] = "[{not json"
    data = api_error(client.api_call, api_method="chat.postMessage", data=form)
    assert data["error"] == "invalid_blocks_format"


# -- chat.update ----------------------------------------------------------------------------


def test_update_keeps_every_revision(slack: SlackEmulator, client: WebClient) -> None:
    posted = client.chat_postMessage(channel="C1", text="queued", blocks=[section("queued")])
    client.chat_update(channel="C1", ts=posted["ts"], text="in progress")
    answer = client.chat_update(
        channel="C1", ts=posted["ts"], text="success", blocks=[section("success")]
    )
    assert (answer["channel"], answer["ts"], answer["text"]) == ("C1", posted["ts"], "success")
    [message] = slack.messages("C1")
    assert [r.text for r in message.revisions] == ["queued", "in progress", "success"]
    assert message.revisions[1].blocks == [section("queued")]  # omitted blocks are kept
    assert message.blocks == [section("success")]
    assert message.edits == 2
    assert [r.via for r in message.revisions] == ["chat.postMessage", "chat.update", "chat.update"]
    assert slack.timeline == [
        ("post", "C1", posted["ts"]),
        ("update", "C1", posted["ts"]),
        ("update", "C1", posted["ts"]),
    ]


def test_update_errors(slack: SlackEmulator, client: WebClient) -> None:
    ts = client.chat_postMessage(channel="C1", text="mine")["ts"]
    theirs = slack.post_as_user("U1", "C1", "not yours").ts
    cases: list[tuple[dict[str, Any], str]] = [
        ({"channel": "C404", "ts": ts, "text": "x"}, "channel_not_found"),
        ({"channel": "C1", "ts": "1.000000", "text": "x"}, "message_not_found"),
        ({"channel": "C1", "ts": theirs, "text": "x"}, "cant_update_message"),
        ({"channel": "C1", "ts": ts}, "no_text"),
        ({"channel": "C1", "ts": ts, "text": "x" * 40_001}, "msg_too_long"),
        ({"channel": "C1", "ts": ts, "text": "x", "blocks": [section("")]}, "invalid_blocks"),
    ]
    for kwargs, error in cases:
        assert api_error(client.chat_update, **kwargs)["error"] == error, kwargs
    assert slack.message("C1", ts).edits == 0


# -- the other methods ----------------------------------------------------------------------


def test_post_ephemeral(slack: SlackEmulator, client: WebClient) -> None:
    answer = client.chat_postEphemeral(channel="C1", user="U1", text="only you")
    [ephemeral] = slack.ephemerals("C1")
    assert (ephemeral.ts, ephemeral.ephemeral_to, ephemeral.text) == (
        answer["message_ts"],
        "U1",
        "only you",
    )
    assert slack.messages("C1") == []
    error = api_error(client.chat_postEphemeral, channel="C1", user="U404", text="x")
    assert error["error"] == "user_not_found"
    error = api_error(client.chat_postEphemeral, channel="C2", user="U2", text="x")
    assert error["error"] == "user_not_in_channel"


def test_users(client: WebClient) -> None:
    user = client.users_info(user="U1")["user"]
    assert (user["name"], user["real_name"]) == ("alice", "Alice Liddell")
    assert user["profile"]["email"] == "alice@acme.test"
    assert api_error(client.users_info, user="U404")["error"] == "user_not_found"
    assert client.users_lookupByEmail(email="bob@acme.test")["user"]["id"] == "U2"
    error = api_error(client.users_lookupByEmail, email="carol@acme.test")
    assert error["error"] == "users_not_found"


def test_conversations_info(client: WebClient) -> None:
    channel = client.conversations_info(channel="C1")["channel"]
    assert (channel["name"], channel["is_im"], channel["is_member"]) == ("deploys", False, True)
    assert client.conversations_info(channel="C2")["channel"]["is_private"] is True
    im = client.conversations_info(channel="D1")["channel"]
    assert (im["is_im"], im["user"]) == (True, "U1")
    assert api_error(client.conversations_info, channel="C404")["error"] == "channel_not_found"


def test_usergroups(client: WebClient) -> None:
    [group] = client.usergroups_list()["usergroups"]
    assert (group["id"], group["handle"], group["user_count"]) == ("S1", "deployers", 2)
    assert "users" not in group
    [group] = client.usergroups_list(include_users=True)["usergroups"]
    assert group["users"] == ["U1", "U2"]
    assert client.usergroups_users_list(usergroup="S1")["users"] == ["U1", "U2"]
    error = api_error(client.usergroups_users_list, usergroup="S404")
    assert error["error"] == "no_such_subteam"


def test_reactions_add(slack: SlackEmulator, client: WebClient) -> None:
    ts = slack.post_as_user("U1", "C1", "deploy shop").ts
    client.reactions_add(channel="C1", timestamp=ts, name="eyes")
    assert slack.message("C1", ts).reactions == {"eyes": (slack.bot_user_id,)}
    error = api_error(client.reactions_add, channel="C1", timestamp=ts, name="eyes")
    assert error["error"] == "already_reacted"
    error = api_error(client.reactions_add, channel="C1", timestamp="1.000000", name="eyes")
    assert error["error"] == "message_not_found"
    error = api_error(client.reactions_add, channel="C1", timestamp=ts, name="no spaces")
    assert error["error"] == "invalid_name"


def test_apps_connections_open_wants_the_app_token(slack: SlackEmulator, client: WebClient) -> None:
    url = client.apps_connections_open(app_token=slack.app_token)["url"]
    assert url.startswith(f"ws://127.0.0.1:{slack.socket.port}/link/?ticket=")
    app_level = WebClient(base_url=slack.base_url)
    assert app_level.apps_connections_open(app_token=slack.app_token)["ok"] is True
    error = api_error(client.apps_connections_open, app_token=slack.bot_token)
    assert error["error"] == "not_allowed_token_type"


def test_rate_limit(slack: SlackEmulator, client: WebClient) -> None:
    slack.rate_limit("chat.postMessage", times=1, retry_after=7)
    with pytest.raises(SlackApiError) as raised:
        client.chat_postMessage(channel="C1", text="x")
    response = raised.value.response
    assert response.status_code == 429
    assert response.headers["Retry-After"] == "7"
    assert response.data["error"] == "ratelimited"
    assert client.chat_postMessage(channel="C1", text="x")["ok"] is True  # only once


def test_rate_limit_is_retried_by_slack_sdk(slack: SlackEmulator) -> None:
    slack.rate_limit("chat.update", times=1, retry_after=0)
    retrying = WebClient(
        token=slack.bot_token,
        base_url=slack.base_url,
        retry_handlers=[RateLimitErrorRetryHandler(max_retry_count=1)],
    )
    ts = retrying.chat_postMessage(channel="C1", text="a")["ts"]
    assert retrying.chat_update(channel="C1", ts=ts, text="b")["ok"] is True
    assert [c.status for c in slack.calls("chat.update")] == [429, 200]


def test_request_log(slack: SlackEmulator, client: WebClient) -> None:
    client.auth_test()
    ts = client.chat_postMessage(channel="C1", text="a")["ts"]
    client.chat_update(channel="C1", ts=ts, text="b")
    with pytest.raises(SlackApiError):
        client.chat_update(channel="C1", ts="1.000000", text="c")
    assert slack.counts() == {"auth.test": 1, "chat.postMessage": 1, "chat.update": 2}
    failed = slack.calls("chat.update")[-1]
    assert (failed.ok, failed.error, failed.token_kind) == (False, "message_not_found", "bot")
    assert failed.args["ts"] == "1.000000"


def test_response_url_replaces_or_adds_messages(slack: SlackEmulator, client: WebClient) -> None:
    blocks = [{"type": "actions", "elements": [button()]}]
    ts = client.chat_postMessage(channel="C1", text="Deploy?", blocks=blocks)["ts"]
    response_url = slack.button_click("U2", "C1", ts, "deploy")["response_url"]
    assert response_url.startswith(f"http://127.0.0.1:{slack.port}/")
    webhook = WebhookClient(response_url)
    assert webhook.send(text="Only <@U1> may confirm this deploy.").status_code == 200
    [refusal] = slack.ephemerals("C1")
    assert (refusal.text, refusal.ephemeral_to) == ("Only <@U1> may confirm this deploy.", "U2")
    assert webhook.send(text="Deploying", replace_original=True).status_code == 200
    message = slack.message("C1", ts)
    assert (message.text, message.blocks, message.revisions[-1].via) == (
        "Deploying",
        None,
        "response_url",
    )
    assert webhook.send(text="x" * 40_001, replace_original=True).status_code == 400
    assert len(slack.response_posts) == 3


# -- signed requests ------------------------------------------------------------------------


def payloads(slack: SlackEmulator) -> list[dict[str, Any]]:
    ts = slack_events.new_ts()
    message = {"type": "message", "ts": ts, "text": "Deploy?", "blocks": []}
    return [
        slack_events.app_mention(user="U1", channel="C1", text="help", bot_user_id="U0BOT"),
        slack_events.im_message(user="U1", channel="D1", text="help", bot_user_id="U0BOT"),
        slack_events.url_verification("3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P"),
        slack_events.block_actions(
            user="U1",
            user_name="alice",
            channel="C1",
            channel_name="deploys",
            message=message,
            action=button(value="shop:production"),
            block_id="confirm",
        ),
    ]


def test_signatures_verify_with_slack_sdk(slack: SlackEmulator) -> None:
    verifier = SignatureVerifier(slack.signing_secret)
    for payload in payloads(slack):
        request = slack.signed(payload)
        assert verifier.is_valid_request(request.body, request.headers), payload["type"]
        assert not SignatureVerifier("wrong").is_valid_request(request.body, request.headers)
        wrong = slack.signed(payload, secret="not-the-signing-secret")
        assert not verifier.is_valid_request(wrong.body, wrong.headers)
        stale = slack.signed(payload, age=slack_events.STALE)
        assert int(stale.timestamp) <= time.time() - 5 * 60
        assert not verifier.is_valid_request(stale.body, stale.headers)
        assert verifier.is_valid_request(*_(slack.signed(payload, age=60)))


def _(request: slack_events.SignedRequest) -> tuple[bytes, dict[str, str]]:
    return request.body, request.headers


def test_bodies_are_encoded_as_slack_sends_them(slack: SlackEmulator) -> None:
    mention, im, challenge, click = payloads(slack)
    event = json.loads(slack.signed(mention).body)["event"]
    assert (event["type"], event["text"], event["channel"]) == (
        "app_mention",
        "<@U0BOT> help",
        "C1",
    )
    event = json.loads(slack.signed(im).body)["event"]
    assert (event["type"], event["channel_type"]) == ("message", "im")
    assert json.loads(slack.signed(challenge).body)["type"] == "url_verification"
    request = slack.signed(click)
    assert request.headers["Content-Type"] == "application/x-www-form-urlencoded"
    [encoded] = urllib.parse.parse_qs(request.body.decode())["payload"]
    action = json.loads(encoded)["actions"][0]
    assert (action["type"], action["action_id"], action["value"]) == (
        "button",
        "deploy",
        "shop:production",
    )


def test_signed_request_post_reaches_an_app_that_checks_signatures(slack: SlackEmulator) -> None:
    verifier = SignatureVerifier(slack.signing_secret)

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            ok = verifier.is_valid_request(body, dict(self.headers))
            self.send_response(200 if ok else 401)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, args=(0.02,), daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/slack/events"
        mention = slack.app_mention("U1", "C1", "status shop")
        assert slack.signed(mention).post(url)[0] == 200
        assert slack.signed(mention, secret="wrong").post(url)[0] == 401
        assert slack.signed(mention, age=slack_events.STALE).post(url)[0] == 401
    finally:
        server.shutdown()
        server.server_close()


# -- Socket Mode ----------------------------------------------------------------------------


def test_socket_mode_protocol_with_a_plain_websocket(
    slack: SlackEmulator, client: WebClient
) -> None:
    url = client.apps_connections_open(app_token=slack.app_token)["url"]
    with ws_connect(url) as websocket:
        hello = json.loads(websocket.recv(timeout=5))
        assert hello["type"] == "hello"
        assert hello["connection_info"]["app_id"] == slack_events.APP_ID
        envelope_id = slack.socket.push_slash_command({"command": "/deploy", "text": "shop"})
        envelope = json.loads(websocket.recv(timeout=5))
        assert envelope["envelope_id"] == envelope_id
        assert (envelope["type"], envelope["accepts_response_payload"]) == ("slash_commands", True)
        with pytest.raises(AssertionError, match="no the ack"):
            slack.socket.wait_for_ack(envelope_id, timeout=0.05)
        websocket.send(json.dumps({"envelope_id": envelope_id, "payload": {"text": "ok"}}))
        ack = slack.socket.wait_for_ack(envelope_id)
        assert ack.payload == {"text": "ok"}
    with pytest.raises(InvalidStatus):  # tickets are single use
        ws_connect(url).close()


def connect_bolt(slack: SlackEmulator, app: App, **options: Any) -> SocketModeHandler:
    handler = SocketModeHandler(app, app_token=slack.app_token, **options)
    handler.connect()
    slack.socket.wait_for_connections(1)
    return handler


def disconnect_bolt(slack: SlackEmulator, handler: SocketModeHandler) -> None:
    slack.socket.close_connections()
    handler.close()


def test_bolt_acks_a_mention_and_replies_in_its_thread(
    slack: SlackEmulator, client: WebClient
) -> None:
    app = App(client=client)

    @app.event("app_mention")
    def on_mention(event: dict[str, Any], say: Any) -> None:
        say(text=f"<@{event['user']}> pong", thread_ts=event["ts"])

    handler = connect_bolt(slack, app)
    try:
        started = time.monotonic()
        mention = slack.app_mention("U1", "C1", "ping")
        ack = slack.socket.wait_for_ack(slack.socket.push_event(mention), timeout=3)
        assert ack.seconds < 3 and time.monotonic() - started < 3
        reply = slack.wait_for_message("C1", lambda m: m.is_bot)
        assert reply.text == "<@U1> pong"
        assert reply.thread_ts == mention["event"]["ts"]
        assert slack.count("chat.postMessage") == 1
    finally:
        disconnect_bolt(slack, handler)


def test_twenty_mentions_at_once_are_all_acked_and_answered(
    slack: SlackEmulator, client: WebClient
) -> None:
    app = App(client=client)

    @app.event("app_mention")
    def on_mention(event: dict[str, Any], say: Any) -> None:
        say(text=f"answer to {event['text'].split()[-1]}", thread_ts=event["ts"])

    handler = connect_bolt(slack, app)
    try:
        mentions = [slack.app_mention("U1", "C1", f"n{n}") for n in range(20)]
        envelope_ids = [slack.socket.push_event(m) for m in mentions]
        assert all(slack.socket.wait_for_ack(e, timeout=3) for e in envelope_ids)
        slack.wait_for(lambda: len(slack.bot_messages("C1")) == 20)
        answers = sorted(m.text for m in slack.bot_messages("C1"))
        assert answers == sorted(f"answer to n{n}" for n in range(20))
    finally:
        disconnect_bolt(slack, handler)


def test_bolt_gets_a_button_click_and_edits_the_message(
    slack: SlackEmulator, client: WebClient
) -> None:
    app = App(client=client)

    @app.action("deploy")
    def on_click(ack: Any, body: dict[str, Any], client: WebClient) -> None:
        ack()
        client.chat_update(
            channel=body["channel"]["id"],
            ts=body["container"]["message_ts"],
            text=f"deploying for <@{body['user']['id']}>: {body['actions'][0]['value']}",
            blocks=[],
        )

    blocks = [section("Deploy shop to production?"), {"type": "actions", "elements": []}]
    blocks[1]["elements"] = [button(value="shop:production", style="primary")]
    ts = client.chat_postMessage(channel="C1", text="Deploy?", blocks=blocks)["ts"]
    handler = connect_bolt(slack, app)
    try:
        envelope_id = slack.socket.push_interaction(slack.button_click("U1", "C1", ts, "deploy"))
        slack.socket.wait_for_ack(envelope_id, timeout=3)
        slack.wait_for(lambda: slack.message("C1", ts).edits == 1)
        assert slack.message("C1", ts).text == "deploying for <@U1>: shop:production"
        assert slack.message("C1", ts).revisions[0].blocks == blocks
    finally:
        disconnect_bolt(slack, handler)
    with pytest.raises(ValueError, match="no element 'cancel'"):
        slack.button_click("U1", "C1", ts, "cancel")


def test_bolt_reconnects_after_a_refresh_and_after_a_drop(
    slack: SlackEmulator, client: WebClient
) -> None:
    app = App(client=client)
    seen: list[str] = []

    @app.event("app_mention")
    def on_mention(event: dict[str, Any]) -> None:
        seen.append(event["text"])

    handler = connect_bolt(slack, app, ping_interval=1)
    try:
        slack.socket.disconnect(reason="refresh_requested")
        slack.socket.wait_for_connections(2)
        envelope_id = slack.socket.push_event(slack.app_mention("U1", "C1", "after refresh"))
        assert slack.socket.wait_for_ack(envelope_id, timeout=3).connection == 2
        slack.wait_for(lambda: slack.socket.open_connections == 1)  # the old one is closed

        slack.socket.drop()
        slack.socket.wait_for_connections(3, timeout=10)
        envelope_id = slack.socket.push_event(slack.app_mention("U1", "C1", "after drop"))
        assert slack.socket.wait_for_ack(envelope_id, timeout=3).connection == 3
        assert slack.count("apps.connections.open") == 3
        slack.wait_for(lambda: len(seen) == 2)
    finally:
        disconnect_bolt(slack, handler)
    assert seen == ["<@U0BOT> after refresh", "<@U0BOT> after drop"]
