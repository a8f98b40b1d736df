"""What Slack sends an app: Events API and interactivity payloads, signed as Slack signs them.

The builders return the payload dicts Slack delivers, in the shapes of Slack's docs and of the
recorded envelopes in slack-bolt's and python-slack-sdk's own tests
(``tests/adapter_tests/socket_mode/mock_socket_mode_server.py``,
``tests/slack_sdk/socket_mode/mock_socket_mode_server.py``):

- ``app_mention``: an ``event_callback`` wrapping an ``app_mention`` event (Slack docs:
  events/app_mention), text starting with ``<@BOT>``; ``thread_ts`` for a mention in a thread;
- ``im_message``: a ``message`` event in a direct message, ``channel_type: "im"`` (Slack docs:
  events/message.im);
- ``url_verification``: the challenge Slack sends when a Request URL is saved (Slack docs:
  events/url_verification); the app must echo ``challenge``;
- ``block_actions``: a button click (Slack docs: interactivity, block_actions payload), the
  payload Slack posts form-encoded as ``payload=<json>``.

Over HTTP (the Events API's Request URL), Slack signs every request (Slack docs: "Verifying
requests from Slack"): ``X-Slack-Request-Timestamp`` is the Unix time of sending and
``X-Slack-Signature`` is ``v0=`` + hex HMAC-SHA256 of ``v0:{timestamp}:{body}`` keyed with the
app's signing secret; an app must refuse a bad signature or a timestamp more than five minutes
off. ``signed_request`` builds such a request; ``secret=`` a wrong secret or ``age=`` seconds in
the past (``STALE`` is just past five minutes) make the ones an app must refuse::

    request = signed_request(app_mention(user="U1", channel="C1", text="status shop",
                                         bot_user_id="UBOT"), secret=SIGNING_SECRET)
    status, body = request.post("http://127.0.0.1:3000/slack/events")
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from dataclasses import dataclass
from typing import Any

TEAM_ID = "T0EMULATED"
TEAM_DOMAIN = "emulated"
APP_ID = "A0EMULATED"
VERIFICATION_TOKEN = "emulated-verification-token"
STALE = 5 * 60 + 1
"""An age in seconds just past the five minutes within which Slack's requests must arrive."""

_event_ids = itertools.count(1)
_ts_counter = itertools.count(1)


def new_ts() -> str:
    """A Slack message timestamp (``seconds.micros``), unique and increasing in this process."""
    n = next(_ts_counter)
    return f"{int(time.time()) + n // 1_000_000}.{n % 1_000_000:06d}"


def _rich_text(text: str) -> list[dict[str, Any]]:
    return [
        {
            "type": "rich_text",
            "block_id": uuid.uuid4().hex[:5],
            "elements": [
                {"type": "rich_text_section", "elements": [{"type": "text", "text": text}]}
            ],
        }
    ]


def event_callback(event: dict[str, Any], *, bot_user_id: str, team_id: str = TEAM_ID) -> dict:
    """Wrap ``event`` the way the Events API delivers it (Slack docs: Events API, callback)."""
    return {
        "token": VERIFICATION_TOKEN,
        "team_id": team_id,
        "api_app_id": APP_ID,
        "event": event,
        "type": "event_callback",
        "event_id": f"Ev{next(_event_ids):08d}",
        "event_time": int(time.time()),
        "authorizations": [
            {
                "enterprise_id": None,
                "team_id": team_id,
                "user_id": bot_user_id,
                "is_bot": True,
                "is_enterprise_install": False,
            }
        ],
        "is_ext_shared_channel": False,
        "event_context": f"4-{event['type']}-{team_id}-{event.get('channel', '')}",
    }


def app_mention(
    *,
    user: str,
    channel: str,
    text: str,
    bot_user_id: str,
    ts: str | None = None,
    thread_ts: str | None = None,
    team_id: str = TEAM_ID,
) -> dict[str, Any]:
    """``@bot {text}`` said by ``user`` in ``channel``; the text gets the ``<@BOT>`` prefix."""
    ts = ts or new_ts()
    full = f"<@{bot_user_id}> {text}".rstrip()
    event: dict[str, Any] = {
        "client_msg_id": str(uuid.uuid4()),
        "type": "app_mention",
        "text": full,
        "user": user,
        "ts": ts,
        "team": team_id,
        "blocks": _rich_text(full),
        "channel": channel,
        "event_ts": ts,
    }
    if thread_ts:
        event["thread_ts"] = thread_ts
    return event_callback(event, bot_user_id=bot_user_id, team_id=team_id)


def im_message(
    *,
    user: str,
    channel: str,
    text: str,
    bot_user_id: str,
    ts: str | None = None,
    team_id: str = TEAM_ID,
) -> dict[str, Any]:
    """``text`` sent by ``user`` to the bot in the direct message ``channel`` (a ``D...`` id)."""
    ts = ts or new_ts()
    event = {
        "client_msg_id": str(uuid.uuid4()),
        "type": "message",
        "text": text,
        "user": user,
        "ts": ts,
        "team": team_id,
        "blocks": _rich_text(text),
        "channel": channel,
        "event_ts": ts,
        "channel_type": "im",
    }
    return event_callback(event, bot_user_id=bot_user_id, team_id=team_id)


def url_verification(challenge: str | None = None) -> dict[str, Any]:
    """The handshake Slack sends to a new Request URL; the answer must echo ``challenge``."""
    return {
        "token": VERIFICATION_TOKEN,
        "challenge": challenge or uuid.uuid4().hex,
        "type": "url_verification",
    }


def block_actions(
    *,
    user: str,
    user_name: str,
    channel: str,
    channel_name: str,
    message: dict[str, Any],
    action: dict[str, Any],
    block_id: str,
    team_id: str = TEAM_ID,
    response_url: str = "https://hooks.slack.com/actions/T0EMULATED/1/emulated",
) -> dict[str, Any]:
    """A click on the button ``action`` (its Block Kit element) inside ``message``.

    ``message`` is the message as Slack shows it (``ts``, ``text``, ``blocks``, ...), which the
    payload carries back to the app together with the clicked element.
    """
    action_ts = f"{time.time():.6f}"
    clicked = {
        "action_id": action.get("action_id", ""),
        "block_id": block_id,
        "text": {**action.get("text", {}), "emoji": True},
        "type": action.get("type", "button"),
        "action_ts": action_ts,
    }
    if "value" in action:
        clicked["value"] = action["value"]
    if "style" in action:
        clicked["style"] = action["style"]
    return {
        "type": "block_actions",
        "user": {"id": user, "username": user_name, "name": user_name, "team_id": team_id},
        "api_app_id": APP_ID,
        "token": VERIFICATION_TOKEN,
        "container": {
            "type": "message",
            "message_ts": message["ts"],
            "channel_id": channel,
            "is_ephemeral": False,
        },
        "trigger_id": f"{int(time.time())}.{uuid.uuid4().int % 10**10}.{uuid.uuid4().hex}",
        "team": {"id": team_id, "domain": TEAM_DOMAIN},
        "enterprise": None,
        "is_enterprise_install": False,
        "channel": {"id": channel, "name": channel_name},
        "message": message,
        "state": {"values": {}},
        "response_url": response_url,
        "actions": [clicked],
    }


def signature(body: bytes, *, secret: str, timestamp: int | str) -> str:
    """``v0=`` + HMAC-SHA256(secret, ``v0:{timestamp}:{body}``), as Slack computes it."""
    base = b"v0:" + str(timestamp).encode() + b":" + body
    return "v0=" + hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()


@dataclass(frozen=True)
class SignedRequest:
    """One HTTP request as Slack would send it to an app's Request URL."""

    body: bytes
    headers: dict[str, str]

    @property
    def timestamp(self) -> str:
        return self.headers["X-Slack-Request-Timestamp"]

    @property
    def signature(self) -> str:
        return self.headers["X-Slack-Signature"]

    def post(self, url: str, *, timeout: float = 5) -> tuple[int, str]:
        """Send it (never through a proxy); the app's status code and body, errors included."""
        request = urllib.request.Request(url, data=self.body, headers=self.headers, method="POST")
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        try:
            with opener.open(request, timeout=timeout) as response:
                return response.status, response.read().decode()
        except urllib.error.HTTPError as error:
            return error.code, error.read().decode()


def signed_request(
    payload: dict[str, Any],
    *,
    secret: str,
    age: int = 0,
    timestamp: int | None = None,
) -> SignedRequest:
    """``payload`` encoded the way Slack sends it, signed with ``secret``.

    Events (``event_callback``, ``url_verification``) go as a JSON body; interactivity payloads
    (``block_actions`` and the other ``type``s) form-encoded as ``payload=<json>``. ``age`` dates
    the request that many seconds back (``STALE`` for one an app must refuse); ``timestamp`` sets
    it outright.
    """
    ts = int(time.time()) - age if timestamp is None else timestamp
    if payload.get("type") in ("event_callback", "url_verification", "app_rate_limited"):
        body = json.dumps(payload).encode()
        content_type = "application/json"
    else:
        body = urllib.parse.urlencode({"payload": json.dumps(payload)}).encode()
        content_type = "application/x-www-form-urlencoded"
    headers = {
        "Content-Type": content_type,
        "User-Agent": "Slackbot 1.0 (+https://api.slack.com/robots)",
        "X-Slack-Request-Timestamp": str(ts),
        "X-Slack-Signature": signature(body, secret=secret, timestamp=ts),
    }
    return SignedRequest(body=body, headers=headers)
