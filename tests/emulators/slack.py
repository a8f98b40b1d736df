"""A Slack emulator: the Web API over HTTP plus a Socket Mode server, on 127.0.0.1.

The real ``slack_sdk.WebClient`` (and a slack-bolt ``App`` built on it) talks to it unchanged
through its ``base_url``; Socket Mode clients get the emulator's WebSocket URL from
``apps.connections.open``. A test seeds a workspace, lets the app run, then reads what it
posted::

    from slack_sdk import WebClient
    from tests.emulators.slack import SlackEmulator

    with SlackEmulator() as slack:
        slack.add_user("U1", "alice", email="alice@acme.test", real_name="Alice Liddell")
        slack.add_channel("C1", "deploys")
        slack.add_im("D1", user="U1")
        slack.add_usergroup("S1", "deployers", users=["U1"])

        client = WebClient(token=slack.bot_token, base_url=slack.base_url)
        # or a bolt App: App(client=client) + SocketModeHandler(app, slack.app_token)

        # what Slack sends the app: over Socket Mode ...
        envelope_id = slack.socket.push_event(slack.app_mention("U1", "C1", "status shop"))
        slack.socket.wait_for_ack(envelope_id, timeout=3)
        # ... or as a signed HTTP request to the app's Request URL
        status, body = slack.signed(slack.im_message("U1", "D1", "help")).post(app_url)

        reply = slack.wait_for_message("C1", lambda m: m.is_bot)   # blocks until posted
        reply.text, reply.blocks, reply.thread_ts, reply.revisions   # every chat.update kept
        slack.messages("C1")             # the channel, oldest first (users' messages too)
        slack.count("chat.update")       # requests per method; slack.calls() for the full log
        slack.rate_limit("chat.update", times=1, retry_after=1)    # next call answers 429

Web API behaviour, from Slack's method reference (docs.slack.dev/reference/methods/...):

- every answer is HTTP 200 with ``{"ok": true, ...}`` or ``{"ok": false, "error": "..."}``,
  except rate limiting: HTTP 429, ``Retry-After`` seconds, ``error: ratelimited``
  (Slack docs: "Rate limits");
- the token comes as ``Authorization: Bearer`` or, in a form body or query, as ``token``; a JSON
  body's ``token`` is ignored (Slack docs: "Using the Web API", JSON-encoded bodies). No token:
  ``not_authed``; an unknown one: ``invalid_auth``; the app-level ``xapp-`` token works only for
  ``apps.connections.open`` and a bot token never does (``not_allowed_token_type``; for
  ``auth.test`` that is the emulator's choice, Slack does not document it);
- bodies are form-encoded or JSON (``WebClient`` sends both: ``chat.postMessage`` as JSON,
  ``reactions.add`` as a form, ``users.info`` as a GET query);
- ``auth.test``; ``chat.postMessage`` (``channel_not_found``, ``not_in_channel``, ``no_text``,
  ``msg_too_long`` over 40,000 characters, ``invalid_blocks`` with Slack's
  ``response_metadata.messages`` as ``slack_blocks`` explains, ``invalid_blocks_format``;
  ``thread_ts`` replies); ``chat.update`` (the same plus ``message_not_found`` and
  ``cant_update_message`` for a message the bot did not post; omitted ``blocks`` keep the old
  ones); ``chat.postEphemeral`` (``user_not_in_channel``); ``users.info`` (``user_not_found``);
  ``users.lookupByEmail`` (``users_not_found``); ``conversations.info``; ``usergroups.list``
  (``include_users``); ``usergroups.users.list`` (``no_such_subteam``); ``reactions.add``
  (``already_reacted``, ``message_not_found``, ``invalid_name``); ``apps.connections.open``;
  anything else ``unknown_method``;
- ``response_url`` posts (``/actions/...``, handed out in ``block_actions`` payloads):
  ``replace_original`` edits the message, ``delete_original`` deletes it, otherwise a new
  message (``response_type: in_channel``) or an ephemeral one.

Socket Mode with slack-bolt's ``SocketModeHandler`` (the builtin client), as the self-tests do::

    handler = SocketModeHandler(app, app_token=slack.app_token)   # calls apps.connections.open
    handler.connect()
    slack.socket.wait_for_connections(1)
    ...
    slack.socket.close_connections()  # first, or handler.close() waits 3 s on a quiet socket
    handler.close()

``slack.socket.disconnect()`` sends ``refresh_requested`` and the client reconnects at once;
after ``slack.socket.drop()`` the builtin client reconnects at its next session check, every
``ping_interval`` seconds (pass ``ping_interval=1`` to the handler in such a test).

Who clicks what: ``slack.button_click(user, channel, ts, action_id)`` builds the
``block_actions`` payload from the message as the emulator holds it, with a ``response_url``
that leads back to the emulator; push it with ``slack.socket.push_interaction`` or sign it with
``slack.signed``. The emulator sends no events of its own: a bot's post does not come back to it
as a ``message`` event.

``thread_ts`` is not checked: a reply to a ``ts`` the emulator never saw is kept as a reply all
the same (Slack's own answer to an unknown ``thread_ts`` is undocumented), so a test may build
events with the ``slack_events`` functions without seeding the mentioned message first.

The emulator code is in three more modules: ``slack_blocks`` (Block Kit limits),
``slack_events`` (payload builders and request signing), ``slack_socket`` (Socket Mode).
"""

from __future__ import annotations

import json
import re
import threading
import time
import traceback
import urllib.parse
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from . import slack_events
from .slack_blocks import block_problems
from .slack_events import APP_ID, TEAM_DOMAIN, TEAM_ID, SignedRequest, new_ts, signed_request
from .slack_socket import SocketModeEmulator

__all__ = [
    "Channel",
    "Message",
    "RecordedCall",
    "Revision",
    "SlackEmulator",
    "User",
    "Usergroup",
]

MAX_TEXT = 40_000
"""Slack docs, chat.postMessage: text over 40,000 characters is truncated, and the method lists
``msg_too_long``. The emulator refuses such text, so a test notices a message that would lose
its end."""

# Plainly fake tokens: Slack's prefixes (the bot checks none), but not the shape of a real
# token, so no secret scanner takes them for a leaked one.
BOT_TOKEN = "xoxb-emulated-bot"
APP_TOKEN = "xapp-emulated-app"
SIGNING_SECRET = "8f742231b10e8888abcd99yyyzzz85a5"


@dataclass(frozen=True)
class User:
    id: str
    name: str
    email: str | None = None
    real_name: str = ""
    is_bot: bool = False
    deleted: bool = False
    tz: str = "Europe/London"

    def as_slack(self) -> dict[str, Any]:
        """The ``user`` object of ``users.info`` (Slack docs: users.info, user type)."""
        real_name = self.real_name or self.name
        profile: dict[str, Any] = {
            "real_name": real_name,
            "real_name_normalized": real_name,
            "display_name": self.name,
            "display_name_normalized": self.name,
            "team": TEAM_ID,
        }
        if self.email:
            profile["email"] = self.email
        return {
            "id": self.id,
            "team_id": TEAM_ID,
            "name": self.name,
            "deleted": self.deleted,
            "real_name": real_name,
            "tz": self.tz,
            "is_admin": False,
            "is_owner": False,
            "is_bot": self.is_bot,
            "is_app_user": False,
            "updated": 1700000000,
            "profile": profile,
        }


@dataclass(frozen=True)
class Channel:
    id: str
    name: str | None
    is_private: bool = False
    im_user: str | None = None
    bot_member: bool = True
    members: tuple[str, ...] = ()

    @property
    def is_im(self) -> bool:
        return self.im_user is not None

    def as_slack(self) -> dict[str, Any]:
        """The ``channel`` object of ``conversations.info`` (Slack docs: conversation type)."""
        if self.is_im:
            return {
                "id": self.id,
                "created": 1700000000,
                "is_im": True,
                "is_org_shared": False,
                "user": self.im_user,
                "is_user_deleted": False,
                "priority": 0,
            }
        return {
            "id": self.id,
            "name": self.name,
            "is_channel": not self.is_private,
            "is_group": self.is_private,
            "is_im": False,
            "is_mpim": False,
            "is_private": self.is_private,
            "is_archived": False,
            "is_general": False,
            "is_shared": False,
            "is_org_shared": False,
            "is_member": self.bot_member,
            "created": 1700000000,
            "creator": "U0000ADMIN",
            "name_normalized": self.name,
            "topic": {"value": "", "creator": "", "last_set": 0},
            "purpose": {"value": "", "creator": "", "last_set": 0},
        }


@dataclass(frozen=True)
class Usergroup:
    id: str
    handle: str
    name: str
    users: tuple[str, ...] = ()

    def as_slack(self, *, include_users: bool) -> dict[str, Any]:
        """A ``usergroup`` object (Slack docs: usergroups.list)."""
        group: dict[str, Any] = {
            "id": self.id,
            "team_id": TEAM_ID,
            "is_usergroup": True,
            "name": self.name,
            "description": "",
            "handle": self.handle,
            "is_external": False,
            "date_create": 1700000000,
            "date_update": 1700000000,
            "date_delete": 0,
            "auto_type": None,
            "created_by": "U0000ADMIN",
            "updated_by": "U0000ADMIN",
            "deleted_by": None,
            "prefs": {"channels": [], "groups": []},
            "user_count": len(self.users),
        }
        if include_users:
            group["users"] = list(self.users)
        return group


@dataclass(frozen=True)
class Revision:
    """One version of a message: as posted, then after each ``chat.update``."""

    text: str
    blocks: list[dict[str, Any]] | None
    at: float
    via: str
    """``chat.postMessage``, ``chat.update``, ``response_url`` or ``user`` (seeded by a test)."""


@dataclass(frozen=True)
class Message:
    """A message as it stands now, with every revision (``revisions[0]`` as first posted)."""

    channel: str
    ts: str
    user: str
    bot_id: str | None
    text: str
    blocks: list[dict[str, Any]] | None
    thread_ts: str | None
    revisions: tuple[Revision, ...]
    reactions: dict[str, tuple[str, ...]]
    deleted: bool = False
    ephemeral_to: str | None = None

    @property
    def is_bot(self) -> bool:
        return self.bot_id is not None

    @property
    def edits(self) -> int:
        return len(self.revisions) - 1

    def as_slack(self) -> dict[str, Any]:
        """The ``message`` object Slack returns for it (Slack docs: chat.postMessage)."""
        data: dict[str, Any] = {"type": "message", "text": self.text, "user": self.user}
        data["ts"] = self.ts
        data["team"] = TEAM_ID
        if self.bot_id:
            data["bot_id"] = self.bot_id
            data["app_id"] = APP_ID
            data["bot_profile"] = {
                "id": self.bot_id,
                "app_id": APP_ID,
                "name": "commit-train",
                "deleted": False,
                "team_id": TEAM_ID,
            }
        if self.blocks is not None:
            data["blocks"] = self.blocks
        if self.thread_ts:
            data["thread_ts"] = self.thread_ts
        if self.edits:
            data["edited"] = {"user": self.user, "ts": f"{self.revisions[-1].at:.6f}"}
        return data


@dataclass(frozen=True)
class RecordedCall:
    """One Web API request: the method, its arguments (token removed) and the answer."""

    method: str
    args: dict[str, Any]
    status: int
    ok: bool
    error: str | None
    token_kind: str | None  # "bot", "app", "unknown" or None


class _ApiError(Exception):
    def __init__(self, error: str, **extra: Any) -> None:
        super().__init__(error)
        self.error = error
        self.extra = extra


@dataclass
class _RateLimit:
    times: int
    retry_after: int


@dataclass
class _Store:
    users: dict[str, User] = field(default_factory=dict)
    channels: dict[str, Channel] = field(default_factory=dict)
    usergroups: dict[str, Usergroup] = field(default_factory=dict)
    messages: list[Message] = field(default_factory=list)
    ephemerals: list[Message] = field(default_factory=list)
    timeline: list[tuple[str, str, str]] = field(default_factory=list)
    calls: list[RecordedCall] = field(default_factory=list)
    rate_limits: dict[str, _RateLimit] = field(default_factory=dict)
    response_posts: list[dict[str, Any]] = field(default_factory=list)


class SlackEmulator:
    """The Slack Web API (``base_url``) and Socket Mode (``socket``) on 127.0.0.1."""

    def __init__(
        self,
        *,
        bot_user_id: str = "U0BOT",
        bot_id: str = "B0BOT",
        bot_name: str = "commit-train",
        bot_token: str = BOT_TOKEN,
        app_token: str = APP_TOKEN,
        signing_secret: str = SIGNING_SECRET,
        socket_mode: bool = True,
    ) -> None:
        self.bot_user_id = bot_user_id
        self.bot_id = bot_id
        self.bot_name = bot_name
        self.bot_token = bot_token
        self.app_token = app_token
        self.signing_secret = signing_secret
        self.team_id = TEAM_ID
        self.socket = SocketModeEmulator()
        self._socket_mode = socket_mode
        self._store = _Store()
        self._cond = threading.Condition()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.add_user(bot_user_id, bot_name, real_name=bot_name, is_bot=True)

    # -- life cycle -------------------------------------------------------------------------

    def start(self) -> SlackEmulator:
        emulator = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:
                emulator._serve(self)

            def do_POST(self) -> None:
                emulator._serve(self)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.02},  # shutdown() waits up to one poll
            name="slack-web-api",
            daemon=True,
        )
        self._thread.start()
        if self._socket_mode:
            self.socket.start()
        return self

    def stop(self) -> None:
        if self._socket_mode:
            self.socket.stop()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> SlackEmulator:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        assert self._server is not None, "the Slack emulator is not started"
        return int(self._server.server_address[1])

    @property
    def base_url(self) -> str:
        """For ``WebClient(base_url=...)``: ends with ``/api/`` as Slack's does."""
        return f"http://127.0.0.1:{self.port}/api/"

    # -- seeding ----------------------------------------------------------------------------

    def add_user(
        self,
        user_id: str,
        name: str,
        *,
        email: str | None = None,
        real_name: str = "",
        is_bot: bool = False,
        deleted: bool = False,
    ) -> User:
        user = User(user_id, name, email, real_name, is_bot, deleted)
        with self._cond:
            self._store.users[user_id] = user
        return user

    def add_channel(
        self,
        channel_id: str,
        name: str,
        *,
        is_private: bool = False,
        bot_member: bool = True,
        members: list[str] | None = None,
    ) -> Channel:
        """A channel; ``bot_member=False`` for one the bot was never invited to
        (``chat.postMessage`` answers ``not_in_channel``). ``members`` limit who may receive
        ephemeral messages there (everyone when not given)."""
        channel = Channel(channel_id, name, is_private, None, bot_member, tuple(members or ()))
        with self._cond:
            self._store.channels[channel_id] = channel
        return channel

    def add_im(self, channel_id: str, *, user: str) -> Channel:
        """The direct-message conversation between ``user`` and the bot."""
        channel = Channel(channel_id, None, True, user, True, (user, self.bot_user_id))
        with self._cond:
            self._store.channels[channel_id] = channel
        return channel

    def add_usergroup(
        self, group_id: str, handle: str, *, name: str = "", users: list[str] | None = None
    ) -> Usergroup:
        group = Usergroup(group_id, handle, name or handle, tuple(users or ()))
        with self._cond:
            self._store.usergroups[group_id] = group
        return group

    def post_as_user(
        self, user: str, channel: str, text: str, *, thread_ts: str | None = None
    ) -> Message:
        """A message a person wrote (the bot cannot edit it: ``cant_update_message``)."""
        with self._cond:
            if channel not in self._store.channels or user not in self._store.users:
                raise ValueError(f"seed user {user} and channel {channel} first")
            return self._record(
                channel=channel,
                user=user,
                bot=False,
                text=text,
                blocks=None,
                thread_ts=thread_ts,
                via="user",
            )

    # -- what Slack sends the app -----------------------------------------------------------

    def app_mention(
        self, user: str, channel: str, text: str, *, thread_ts: str | None = None
    ) -> dict[str, Any]:
        """An ``app_mention`` event callback, also kept as ``user``'s message in ``channel``."""
        said = self.post_as_user(
            user, channel, f"<@{self.bot_user_id}> {text}", thread_ts=thread_ts
        )
        return slack_events.app_mention(
            user=user,
            channel=channel,
            text=text,
            bot_user_id=self.bot_user_id,
            ts=said.ts,
            thread_ts=thread_ts,
        )

    def im_message(self, user: str, channel: str, text: str) -> dict[str, Any]:
        """A ``message`` event (``channel_type: im``), also kept as ``user``'s message."""
        said = self.post_as_user(user, channel, text)
        return slack_events.im_message(
            user=user, channel=channel, text=text, bot_user_id=self.bot_user_id, ts=said.ts
        )

    def button_click(
        self, user: str, channel: str, message_ts: str, action_id: str
    ) -> dict[str, Any]:
        """A ``block_actions`` payload: ``user`` clicks the button ``action_id`` of a message
        the emulator holds (its block, text and value taken from the message as it is now)."""
        message = self.message(channel, message_ts)
        for block in message.blocks or []:
            elements = block.get("elements", []) if block.get("type") == "actions" else []
            accessory = block.get("accessory")
            for element in [*elements, *([accessory] if accessory else [])]:
                if element.get("action_id") == action_id:
                    actions = f"http://127.0.0.1:{self.port}/actions"
                    with self._cond:
                        clicker = self._store.users[user]
                        channel_name = self._store.channels[channel].name or ""
                    return slack_events.block_actions(
                        user=user,
                        user_name=clicker.name,
                        channel=channel,
                        channel_name=channel_name,
                        message=message.as_slack(),
                        action=element,
                        block_id=block.get("block_id", ""),
                        response_url=f"{actions}/{channel}/{message_ts}/{user}",
                    )
        raise ValueError(f"message {message_ts} in {channel} has no element {action_id!r}")

    def signed(
        self, payload: dict[str, Any], *, secret: str | None = None, age: int = 0
    ) -> SignedRequest:
        """``payload`` as Slack would POST it, signed with the app's secret (or ``secret``)."""
        return signed_request(payload, secret=secret or self.signing_secret, age=age)

    # -- reading ----------------------------------------------------------------------------

    def messages(
        self, channel: str | None = None, *, thread_ts: str | None = None
    ) -> list[Message]:
        """Messages (not deleted), oldest first; in one ``channel`` and/or one thread
        (``thread_ts``: the parent and its replies)."""
        with self._cond:
            found = [m for m in self._store.messages if not m.deleted]
        if channel is not None:
            found = [m for m in found if m.channel == channel]
        if thread_ts is not None:
            found = [m for m in found if thread_ts in (m.ts, m.thread_ts)]
        return found

    def bot_messages(self, channel: str | None = None) -> list[Message]:
        return [m for m in self.messages(channel) if m.is_bot]

    def message(self, channel: str, ts: str) -> Message:
        with self._cond:
            for message in self._store.messages:
                if message.channel == channel and message.ts == ts:
                    return message
        raise KeyError(f"no message {ts} in {channel}")

    def ephemerals(self, channel: str | None = None) -> list[Message]:
        with self._cond:
            found = list(self._store.ephemerals)
        return [m for m in found if channel is None or m.channel == channel]

    @property
    def timeline(self) -> list[tuple[str, str, str]]:
        """Every change in order: ``(kind, channel, ts)``, kind ``post``, ``update``,
        ``delete``, ``ephemeral`` or ``reaction``."""
        with self._cond:
            return list(self._store.timeline)

    @property
    def response_posts(self) -> list[dict[str, Any]]:
        """Bodies the app posted to ``response_url``s, in order."""
        with self._cond:
            return list(self._store.response_posts)

    def calls(self, method: str | None = None) -> list[RecordedCall]:
        with self._cond:
            calls = list(self._store.calls)
        return [c for c in calls if method is None or c.method == method]

    def count(self, method: str) -> int:
        return len(self.calls(method))

    def counts(self) -> dict[str, int]:
        return dict(Counter(c.method for c in self.calls()))

    def wait_for_message(
        self,
        channel: str,
        predicate: Callable[[Message], bool] | None = None,
        *,
        timeout: float = 5,
    ) -> Message:
        """The first message in ``channel`` (by the bot unless ``predicate`` says otherwise)
        that ``predicate`` accepts, waiting up to ``timeout`` for it; AssertionError if none."""
        accept = predicate or (lambda m: m.is_bot)
        return self.wait_for(
            lambda: next((m for m in self.messages(channel) if accept(m)), None),
            timeout=timeout,
            what=f"a matching message in {channel}",
        )

    def wait_for(
        self, probe: Callable[[], Any], *, timeout: float = 5, what: str = "the condition"
    ) -> Any:
        """Wait until ``probe()`` returns something truthy (re-checked on every change)."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                result = probe()
                if result:
                    return result
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    got = [(m.channel, m.text[:80]) for m in self._store.messages]
                    raise AssertionError(f"Slack emulator: no {what} within {timeout}s; {got}")
                # Polls too: some probes read state this emulator is not notified about.
                self._cond.wait(min(remaining, 0.02))

    # -- faults -----------------------------------------------------------------------------

    def rate_limit(self, method: str, *, times: int = 1, retry_after: int = 1) -> None:
        """The next ``times`` calls of ``method`` answer HTTP 429 with ``Retry-After``."""
        with self._cond:
            self._store.rate_limits[method] = _RateLimit(times, retry_after)

    # -- HTTP -------------------------------------------------------------------------------

    def _serve(self, request: BaseHTTPRequestHandler) -> None:
        url = urllib.parse.urlsplit(request.path)
        length = int(request.headers.get("Content-Length") or 0)
        raw = request.rfile.read(length) if length else b""
        if url.path.startswith("/actions/"):
            status, body, headers = self._response_url(url.path, raw)
        elif url.path.startswith("/api/"):
            status, body, headers = self._api(url.path[len("/api/") :], url.query, request, raw)
        else:
            status, body, headers = 404, {"ok": False, "error": "not_found"}, {}
        data = json.dumps(body).encode()
        request.send_response(status)
        request.send_header("Content-Type", "application/json; charset=utf-8")
        request.send_header("Content-Length", str(len(data)))
        for name, value in headers.items():
            request.send_header(name, value)
        request.end_headers()
        request.wfile.write(data)

    def _api(
        self, method: str, query: str, request: BaseHTTPRequestHandler, raw: bytes
    ) -> tuple[int, dict[str, Any], dict[str, str]]:
        args: dict[str, Any] = {k: v[-1] for k, v in urllib.parse.parse_qs(query).items()}
        content_type = (request.headers.get("Content-Type") or "").split(";")[0].strip()
        body_token: str | None = args.pop("token", None)
        if raw and content_type == "application/json":
            try:
                parsed = json.loads(raw)
            except ValueError:
                parsed = None
            if not isinstance(parsed, dict):
                return self._log(method, args, None, 200, {"ok": False, "error": "invalid_json"})
            parsed.pop("token", None)  # Slack ignores a token in a JSON body
            args.update(parsed)
        elif raw:
            form = urllib.parse.parse_qs(raw.decode(), keep_blank_values=True)
            args.update({k: v[-1] for k, v in form.items()})
            body_token = args.pop("token", body_token)
        authorization = request.headers.get("Authorization") or ""
        token = authorization[7:].strip() if authorization.startswith("Bearer ") else body_token
        token_kind = None
        if token:
            token_kind = {self.bot_token: "bot", self.app_token: "app"}.get(token, "unknown")

        with self._cond:
            limit = self._store.rate_limits.get(method)
            if limit and limit.times > 0:
                limit.times -= 1
                headers = {"Retry-After": str(limit.retry_after)}
                body = {"ok": False, "error": "ratelimited"}
                return self._log(method, args, token_kind, 429, body, headers)
        handler = self._methods().get(method)
        try:
            if handler is None:
                raise _ApiError("unknown_method", req_method=method)
            if token_kind is None:
                raise _ApiError("not_authed")
            if token_kind == "unknown":
                raise _ApiError("invalid_auth")
            if (token_kind == "app") != (method == "apps.connections.open"):
                raise _ApiError("not_allowed_token_type")
            with self._cond:
                result = handler(args)
                self._cond.notify_all()
            body = {"ok": True, **result}
        except _ApiError as error:
            body = {"ok": False, "error": error.error, **error.extra}
        except Exception:  # an emulator bug: loud in the test output, an error to the client
            traceback.print_exc()
            return self._log(method, args, token_kind, 500, {"ok": False, "error": "fatal_error"})
        return self._log(method, args, token_kind, 200, body)

    def _log(
        self,
        method: str,
        args: dict[str, Any],
        token_kind: str | None,
        status: int,
        body: dict[str, Any],
        headers: dict[str, str] | None = None,
    ) -> tuple[int, dict[str, Any], dict[str, str]]:
        call = RecordedCall(method, args, status, body["ok"], body.get("error"), token_kind)
        with self._cond:
            self._store.calls.append(call)
            self._cond.notify_all()
        return status, body, headers or {}

    def _methods(self) -> dict[str, Callable[[dict[str, Any]], dict[str, Any]]]:
        return {
            "auth.test": self._auth_test,
            "chat.postMessage": self._chat_post_message,
            "chat.update": self._chat_update,
            "chat.postEphemeral": self._chat_post_ephemeral,
            "users.info": self._users_info,
            "users.lookupByEmail": self._users_lookup_by_email,
            "conversations.info": self._conversations_info,
            "usergroups.list": self._usergroups_list,
            "usergroups.users.list": self._usergroups_users_list,
            "reactions.add": self._reactions_add,
            "apps.connections.open": self._apps_connections_open,
        }

    # -- methods (called with the lock held) ------------------------------------------------

    def _auth_test(self, args: dict[str, Any]) -> dict[str, Any]:
        return {
            "url": f"https://{TEAM_DOMAIN}.slack.com/",
            "team": "Emulated",
            "user": self.bot_name,
            "team_id": TEAM_ID,
            "user_id": self.bot_user_id,
            "bot_id": self.bot_id,
            "is_enterprise_install": False,
        }

    def _channel(self, value: Any) -> Channel:
        """A channel by id, ``#name``, or a user id (their IM with the bot), as Slack accepts."""
        channels = self._store.channels
        if isinstance(value, str) and value:
            if value in channels:
                return channels[value]
            name = value.lstrip("#")
            for channel in channels.values():
                if channel.name == name or (channel.im_user == value):
                    return channel
        raise _ApiError("channel_not_found")

    def _content(
        self, args: dict[str, Any], *, previous: Message | None = None
    ) -> tuple[str, list[dict[str, Any]] | None]:
        """Text and blocks of a post or update, checked as Slack checks them."""
        text = args.get("text")
        blocks: Any = args.get("blocks")
        if isinstance(blocks, str):
            try:
                blocks = json.loads(blocks) if blocks.strip() else None
            except ValueError:
                raise _ApiError("invalid_blocks_format") from None
        if blocks is not None and not isinstance(blocks, list):
            raise _ApiError("invalid_blocks_format")
        has_attachments = bool(args.get("attachments"))
        if not text and not blocks and not has_attachments:
            if previous is None or "blocks" not in args:
                raise _ApiError("no_text")
        if text is not None and not isinstance(text, str):
            text = str(text)
        if text and len(text) > MAX_TEXT:
            raise _ApiError("msg_too_long")
        if blocks:
            problems = block_problems(blocks)
            if problems:
                raise _ApiError("invalid_blocks", response_metadata={"messages": problems})
        if previous is not None:
            if text is None:
                text = previous.text
            if "blocks" not in args:
                blocks = previous.blocks
        return text or "", blocks

    def _chat_post_message(self, args: dict[str, Any]) -> dict[str, Any]:
        channel = self._channel(args.get("channel"))
        if not channel.bot_member:
            raise _ApiError("not_in_channel")
        text, blocks = self._content(args)
        message = self._record(
            channel=channel.id,
            user=self.bot_user_id,
            bot=True,
            text=text,
            blocks=blocks,
            thread_ts=args.get("thread_ts") or None,
            via="chat.postMessage",
        )
        return {"channel": channel.id, "ts": message.ts, "message": message.as_slack()}

    def _chat_update(self, args: dict[str, Any]) -> dict[str, Any]:
        channel = self._channel(args.get("channel"))
        index = self._find(channel.id, args.get("ts"))
        previous = self._store.messages[index]
        if not previous.is_bot or previous.user != self.bot_user_id:
            raise _ApiError("cant_update_message")
        text, blocks = self._content(args, previous=previous)
        updated = self._revise(index, text, blocks, via="chat.update")
        return {
            "channel": channel.id,
            "ts": updated.ts,
            "text": updated.text,
            "message": updated.as_slack(),
        }

    def _chat_post_ephemeral(self, args: dict[str, Any]) -> dict[str, Any]:
        channel = self._channel(args.get("channel"))
        user = args.get("user")
        if user not in self._store.users:
            raise _ApiError("user_not_found")
        if channel.members and user not in channel.members:
            raise _ApiError("user_not_in_channel")
        text, blocks = self._content(args)
        ts = new_ts()
        message = Message(
            channel=channel.id,
            ts=ts,
            user=self.bot_user_id,
            bot_id=self.bot_id,
            text=text,
            blocks=blocks,
            thread_ts=args.get("thread_ts") or None,
            revisions=(Revision(text, blocks, time.time(), "chat.postEphemeral"),),
            reactions={},
            ephemeral_to=user,
        )
        self._store.ephemerals.append(message)
        self._store.timeline.append(("ephemeral", channel.id, ts))
        return {"message_ts": ts}

    def _users_info(self, args: dict[str, Any]) -> dict[str, Any]:
        user = self._store.users.get(args.get("user") or "")
        if user is None:
            raise _ApiError("user_not_found")
        return {"user": user.as_slack()}

    def _users_lookup_by_email(self, args: dict[str, Any]) -> dict[str, Any]:
        email = (args.get("email") or "").lower()
        for user in self._store.users.values():
            if user.email and user.email.lower() == email:
                return {"user": user.as_slack()}
        raise _ApiError("users_not_found")

    def _conversations_info(self, args: dict[str, Any]) -> dict[str, Any]:
        channel = self._store.channels.get(args.get("channel") or "")
        if channel is None:
            raise _ApiError("channel_not_found")
        return {"channel": channel.as_slack()}

    def _usergroups_list(self, args: dict[str, Any]) -> dict[str, Any]:
        include = str(args.get("include_users", "")).lower() in ("1", "true")
        groups = [g.as_slack(include_users=include) for g in self._store.usergroups.values()]
        return {"usergroups": groups}

    def _usergroups_users_list(self, args: dict[str, Any]) -> dict[str, Any]:
        group = self._store.usergroups.get(args.get("usergroup") or "")
        if group is None:
            raise _ApiError("no_such_subteam")
        return {"users": list(group.users)}

    def _reactions_add(self, args: dict[str, Any]) -> dict[str, Any]:
        channel = self._channel(args.get("channel"))
        index = self._find(channel.id, args.get("timestamp"))
        name = str(args.get("name") or "").strip(":")
        if not re.fullmatch(r"[a-z0-9_+\-']+(::skin-tone-[2-6])?", name):
            raise _ApiError("invalid_name")
        message = self._store.messages[index]
        reactors = message.reactions.get(name, ())
        if self.bot_user_id in reactors:
            raise _ApiError("already_reacted")
        reactions = {**message.reactions, name: (*reactors, self.bot_user_id)}
        self._store.messages[index] = replace(message, reactions=reactions)
        self._store.timeline.append(("reaction", channel.id, message.ts))
        return {}

    def _apps_connections_open(self, args: dict[str, Any]) -> dict[str, Any]:
        if not self._socket_mode:
            raise _ApiError("forbidden_team")
        return {"url": self.socket.issue_url()}

    # -- response_url -----------------------------------------------------------------------

    def _response_url(self, path: str, raw: bytes) -> tuple[int, dict[str, Any], dict[str, str]]:
        """Slack docs: "Handling user interaction", responding with ``response_url``."""
        parts = path.split("/")
        if len(parts) != 5:
            return 404, {"ok": False, "error": "not_found"}, {}
        channel_id, message_ts, clicker = parts[2:]
        try:
            body = json.loads(raw or b"{}")
        except ValueError:
            return 400, {"ok": False, "error": "invalid_json"}, {}
        try:
            with self._cond:
                self._store.response_posts.append(body)
                index = self._find(channel_id, message_ts)
                if body.get("delete_original"):
                    message = self._store.messages[index]
                    self._store.messages[index] = replace(message, deleted=True)
                    self._store.timeline.append(("delete", channel_id, message_ts))
                elif body.get("replace_original"):
                    text, blocks = self._content(body)  # the whole message is replaced
                    self._revise(index, text, blocks, via="response_url")
                elif body.get("response_type") == "in_channel":
                    text, blocks = self._content(body)
                    self._record(
                        channel=channel_id,
                        user=self.bot_user_id,
                        bot=True,
                        text=text,
                        blocks=blocks,
                        thread_ts=body.get("thread_ts"),
                        via="response_url",
                    )
                else:
                    text, blocks = self._content(body)
                    self._store.ephemerals.append(
                        Message(
                            channel=channel_id,
                            ts=new_ts(),
                            user=self.bot_user_id,
                            bot_id=self.bot_id,
                            text=text,
                            blocks=blocks,
                            thread_ts=None,
                            revisions=(Revision(text, blocks, time.time(), "response_url"),),
                            reactions={},
                            ephemeral_to=clicker,
                        )
                    )
                self._cond.notify_all()
        except _ApiError as error:
            return 400, {"ok": False, "error": error.error, **error.extra}, {}
        return 200, {"ok": True}, {}

    # -- store (lock held) ------------------------------------------------------------------

    def _find(self, channel: str, ts: Any) -> int:
        for index, message in enumerate(self._store.messages):
            if message.channel == channel and message.ts == ts and not message.deleted:
                return index
        raise _ApiError("message_not_found")

    def _record(
        self,
        *,
        channel: str,
        user: str,
        bot: bool,
        text: str,
        blocks: list[dict[str, Any]] | None,
        thread_ts: str | None,
        via: str,
    ) -> Message:
        ts = new_ts()
        message = Message(
            channel=channel,
            ts=ts,
            user=user,
            bot_id=self.bot_id if bot else None,
            text=text,
            blocks=blocks,
            thread_ts=thread_ts,
            revisions=(Revision(text, blocks, time.time(), via),),
            reactions={},
        )
        self._store.messages.append(message)
        self._store.timeline.append(("post", channel, ts))
        self._cond.notify_all()
        return message

    def _revise(
        self, index: int, text: str, blocks: list[dict[str, Any]] | None, *, via: str
    ) -> Message:
        previous = self._store.messages[index]
        revision = Revision(text, blocks, time.time(), via)
        updated = replace(
            previous, text=text, blocks=blocks, revisions=(*previous.revisions, revision)
        )
        self._store.messages[index] = updated
        self._store.timeline.append(("update", updated.channel, updated.ts))
        return updated
