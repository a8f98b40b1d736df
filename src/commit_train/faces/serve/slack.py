"""The Slack bot and the HTTP endpoints of ``commit-train serve``, on slack-bolt.

One process, one port (the stdlib ``wsgiref`` server, one thread per request):

- ``POST /slack/events``: Slack's Events API and interactivity (HTTP mode), through bolt's
  WSGI adapter, which checks every request's signature with ``SLACK_SIGNING_SECRET`` and the
  five-minute timestamp window and answers 401, doing nothing, when either is wrong;
- ``POST /github/webhook``: GitHub's ``deployment_status`` events, the ``X-Hub-Signature-256``
  HMAC checked with ``GITHUB_WEBHOOK_SECRET`` (``hmac.compare_digest``), 401 when wrong;
- ``GET /healthz``: ``ok``.

In Socket Mode (the default when ``SLACK_APP_TOKEN`` is set) the events come over bolt's
builtin Socket Mode client instead, and the port serves the other two.

A command is acknowledged at once (bolt acks events before its listener runs, in its thread
pool, so no command waits for another) and answered in the channel, tagging the requester. A
deploy's answer is its thread: a message posted first, whose channel and ``ts`` go into the
deployment's payload, then edited in place (``chat.update``) by every ``deployment_status``
webhook (or, with no webhook secret, by a bounded poll). Nothing is kept between requests that
another replica would need: the webhook carries the payload, a button carries its request.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import socketserver
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from slack_bolt import App
from slack_bolt.adapter.wsgi import SlackRequestHandler
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from commit_train.backends.github.app import GitHubAccess
from commit_train.errors import CommitTrainError, UsageError
from commit_train.faces.serve.commands import parse
from commit_train.faces.serve.dispatch import Dispatcher, Requester, Thread
from commit_train.faces.serve.github import GitHubRepos
from commit_train.faces.serve.replies import CONFIRM_ACTION, Reply, ThreadInfo, deploy_message
from commit_train.faces.serve.settings import LoadedServeConfig, ServeConfig

log = logging.getLogger("commit_train.serve")


class _TokenNoise(logging.Filter):
    """bolt reads ``SLACK_BOT_TOKEN`` itself and warns that the client we hand it (the one
    whose ``base_url`` is ``SLACK_API_URL``) takes precedence: true, expected, and noise."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "`token` will be unused" not in record.getMessage()


log.addFilter(_TokenNoise())

SLACK_API_URL = "https://slack.com/api/"
USER_CACHE_SECONDS = 600.0
DRAWN_KEPT = 10_000  # deploys whose newest drawn status is remembered (out-of-order webhooks)


@dataclass(frozen=True)
class Poll:
    """The fallback when no webhook is configured: ask GitHub every ``interval`` seconds,
    for at most ``limit`` seconds, then leave the message as it is."""

    interval: float = 5.0
    limit: float = 1800.0


class Members:
    """Slack user groups (``usergroups.users.list``) and GitHub teams (team membership)."""

    def __init__(self, client: WebClient, access: GitHubAccess) -> None:
        self.client = client
        self.access = access

    def in_usergroup(self, group: str, user: str) -> bool:
        group_id = group
        if group.startswith("@"):
            answer = self.client.usergroups_list()
            handle = group[1:].lower()
            found = [
                g["id"] for g in answer.get("usergroups") or [] if g.get("handle", "") == handle
            ]
            if not found:
                return False
            group_id = found[0]
        try:
            members = self.client.usergroups_users_list(usergroup=group_id).get("users") or []
        except SlackApiError:
            return False
        return user in members

    def in_team(self, team: str, login: str, *, repo: str) -> bool:
        org, _, slug = team.partition("/")
        return self.access.team_member(org, slug, login, repo=repo)


class Service:
    """The bot: a bolt ``App`` over the dispatcher, and the webhook receiver."""

    def __init__(
        self,
        *,
        settings: LoadedServeConfig,
        access: GitHubAccess,
        client: WebClient,
        signing_secret: str | None,
        webhook_secret: str | None,
        poll: Poll | None = None,
    ) -> None:
        self.settings: ServeConfig = settings.config
        self.warnings = settings.warnings
        self.access = access
        if access.on_wait is None:  # every GitHub retry or rate-limit wait, one line in the log
            access.on_wait = log.warning
        self.client = client
        self.webhook_secret = webhook_secret
        self.poll = poll or Poll()
        self.repos = GitHubRepos(access)
        self.dispatcher = Dispatcher(
            self.settings,
            self.repos,
            Members(client, access),
            on_deployed=None if webhook_secret else self._watch,
        )
        self._users: dict[str, tuple[float, Requester]] = {}
        # deployment id -> the newest status id drawn (the newest DRAWN_KEPT deployments)
        self._newest: OrderedDict[int, int] = OrderedDict()
        self._lock = threading.Lock()
        self.app = App(
            client=client,
            signing_secret=signing_secret or "",
            request_verification_enabled=bool(signing_secret),
            token_verification_enabled=False,
            logger=log,
        )
        self.app.event("app_mention")(self._on_mention)
        self.app.event("message")(self._on_message)
        self.app.action(CONFIRM_ACTION)(self._on_confirm)
        self._slack_http = SlackRequestHandler(self.app)

    # -- Slack ----------------------------------------------------------------------------

    def _on_mention(self, event: dict[str, Any]) -> None:
        self.command(
            user=str(event.get("user") or ""),
            channel=str(event.get("channel") or ""),
            text=str(event.get("text") or ""),
            thread_ts=event.get("thread_ts"),
        )

    def _on_message(self, event: dict[str, Any]) -> None:
        """A direct message to the bot (``message.im``); anything else is not for us."""
        if event.get("channel_type") != "im" or event.get("subtype") or event.get("bot_id"):
            return
        self.command(
            user=str(event.get("user") or ""),
            channel=str(event.get("channel") or ""),
            text=str(event.get("text") or ""),
            thread_ts=event.get("thread_ts"),
        )

    def command(self, *, user: str, channel: str, text: str, thread_ts: Any = None) -> None:
        """Answer one command in ``channel`` (in its thread when it was asked in one)."""
        command = parse(text)
        who = self.requester(user, repo=command.repo)
        if command.name in ("deploy", "rollback"):
            first = self._post(
                channel,
                Reply(text=f"<@{user}> :hourglass_flowing_sand: {command.name} ..."),
                thread_ts=thread_ts,
            )
            if first is None:
                return
            reply = self.dispatcher.handle(command, who, thread=Thread(channel, first))
            self._draw_started(channel, first, reply)
            return
        reply = self.dispatcher.handle(command, who)
        self._post(channel, reply, thread_ts=thread_ts)

    def _on_confirm(self, ack: Callable[[], None], body: dict[str, Any]) -> None:
        ack()
        user = str((body.get("user") or {}).get("id") or "")
        channel = str((body.get("channel") or {}).get("id") or "")
        message = body.get("message") or {}
        ts = str(message.get("ts") or (body.get("container") or {}).get("message_ts") or "")
        actions = body.get("actions") or [{}]
        value = str(actions[0].get("value") or "")
        try:
            request = json.loads(value)
        except ValueError:
            request = {}
        if not isinstance(request, dict):
            request = {}
        requester_id = str(request.get("user") or "")
        repo = str(request.get("repo") or "") or None
        who = self.requester(user, repo=repo)
        reply = self.dispatcher.confirm(value, who, thread=Thread(channel, ts))
        if user != requester_id or reply.deployment_id is None:
            self._post(channel, reply, thread_ts=ts)  # a refusal: in the thread
        else:
            self._draw_started(channel, ts, reply)

    def _draw_started(self, channel: str, ts: str, reply: Reply) -> None:
        """The deploy's first drawing, unless a webhook of this deploy was drawn already
        (GitHub may deliver the first statuses before the reply is ready)."""
        if reply.deployment_id is not None:
            with self._lock:
                if reply.deployment_id in self._newest:
                    return
        self._update(channel, ts, reply)

    def requester(self, user: str, *, repo: str | None) -> Requester:
        """The Slack user and their GitHub login: ``people:`` in the config, else the GitHub
        account whose public email is the Slack profile's (``users.info``)."""
        now = time.monotonic()
        with self._lock:
            cached = self._users.get(user)
        if cached is not None and now - cached[0] < USER_CACHE_SECONDS:
            return cached[1]
        login = self.settings.people.get(user)
        name = ""
        email = None
        final = True  # kept for USER_CACHE_SECONDS unless a lookup failed or could not be made
        try:
            profile = self.client.users_info(user=user).get("user") or {}
            name = str(
                (profile.get("profile") or {}).get("display_name")
                or profile.get("real_name")
                or profile.get("name")
                or ""
            )
            email = (profile.get("profile") or {}).get("email")
        except SlackApiError as exc:
            final = False
            log.warning("users.info %s: %s", user, exc.response.get("error"))
        full = self.settings.full_name(repo) if repo else None
        if login is None and email and full:
            try:
                login = self.access.login_for_email(str(email), repo=full)
            except CommitTrainError as exc:
                final = False
                log.warning("no GitHub login for %s: %s", user, exc)
        elif login is None and email:
            final = False  # no repository to ask GitHub with yet (help, a bad command)
        who = Requester(user=user, login=login, name=name)
        if final:
            with self._lock:
                self._users[user] = (now, who)
        return who

    def _post(self, channel: str, reply: Reply, *, thread_ts: Any = None) -> str | None:
        try:
            answer = self.client.chat_postMessage(
                channel=channel,
                text=reply.text,
                blocks=reply.blocks_json() or None,
                thread_ts=thread_ts,
                unfurl_links=False,
            )
        except SlackApiError as exc:
            log.error("chat.postMessage to %s: %s", channel, exc.response.get("error"))
            return None
        return str(answer.get("ts") or "")

    def _update(self, channel: str, ts: str, reply: Reply) -> None:
        try:
            self.client.chat_update(
                channel=channel, ts=ts, text=reply.text, blocks=reply.blocks_json() or []
            )
        except SlackApiError as exc:
            log.error("chat.update %s/%s: %s", channel, ts, exc.response.get("error"))

    # -- a deploy's progress --------------------------------------------------------------

    def show_status(
        self,
        info: ThreadInfo,
        *,
        status_id: int,
        state: str,
        description: str,
        log_url: str | None,
    ) -> bool:
        """Draw ``state`` in the deploy's thread and in the routes that hear it; False when
        it is older than what was drawn already (webhooks may arrive out of order)."""
        with self._lock:
            if self._newest.get(info.deployment_id, -1) >= status_id:
                return False
            self._newest[info.deployment_id] = status_id
            self._newest.move_to_end(info.deployment_id)
            while len(self._newest) > DRAWN_KEPT:
                self._newest.popitem(last=False)
        reply = deploy_message(info, state=state, description=description, log_url=log_url)
        if info.channel and info.ts:
            self._update(info.channel, info.ts, reply)
        for channel in self.settings.routes_for(info.environment, state):
            if channel != info.channel:
                self._post(channel, reply)
        return True

    def _watch(self, info: ThreadInfo) -> None:
        threading.Thread(target=self._poll, args=(info,), daemon=True).start()

    def _poll(self, info: ThreadInfo) -> None:
        """The bounded poll: one request every ``interval`` until the deploy finishes."""
        deadline = time.monotonic() + self.poll.limit
        seen = 0
        while time.monotonic() < deadline:
            time.sleep(self.poll.interval)
            try:
                deployment = self.access.backend(info.repo).get_deployment(info.deployment_id)
            except CommitTrainError as exc:
                log.warning("polling deployment %s: %s", info.deployment_id, exc)
                continue
            if len(deployment.statuses) > seen:
                seen = len(deployment.statuses)
                newest = deployment.statuses[-1]
                self.show_status(
                    info,
                    status_id=seen,
                    state=newest.state.value,
                    description=newest.description,
                    log_url=newest.log_url,
                )
                if newest.state.finished:
                    return

    # -- GitHub's webhook -----------------------------------------------------------------

    def github_webhook(self, headers: Mapping[str, str], body: bytes) -> tuple[int, str]:
        """(HTTP status, text) for one webhook delivery."""
        if not self.webhook_secret:
            return 404, "no GITHUB_WEBHOOK_SECRET is set, so webhooks are not accepted"
        sent = headers.get("x-hub-signature-256", "")
        digest = hmac.new(self.webhook_secret.encode(), body, hashlib.sha256).hexdigest()
        if not hmac.compare_digest(sent.encode(), f"sha256={digest}".encode()):
            return 401, "bad signature"
        event = headers.get("x-github-event", "")
        if event != "deployment_status":
            return 200, f"ignored {event or 'unnamed'} event"
        try:
            payload = json.loads(body)
            deployment = payload["deployment"]
            status = payload["deployment_status"]
            repo = str(payload["repository"]["full_name"])
        except (ValueError, KeyError, TypeError):
            return 400, "not a deployment_status payload"
        if self.settings.full_name(repo) is None:
            return 200, f"ignored: {repo} is not served"
        info = ThreadInfo.from_deployment(
            repo=repo,
            deployment_id=int(deployment["id"]),
            environment=str(deployment.get("environment") or ""),
            sha=str(deployment.get("sha") or ""),
            payload=deployment.get("payload") or {},
        )
        if info is None:  # a deployment the bot did not ask for: the routes only
            info = ThreadInfo(
                repo=repo,
                environment=str(deployment.get("environment") or ""),
                deployment_id=int(deployment["id"]),
                sha=str(deployment.get("sha") or ""),
                title=str((deployment.get("payload") or {}).get("title") or ""),
                requested_by=str(
                    (deployment.get("payload") or {}).get("requested_by")
                    or (deployment.get("creator") or {}).get("login")
                    or ""
                ),
                user="",
                channel="",
                ts="",
            )
        self.show_status(
            info,
            status_id=int(status.get("id") or 0),
            state=str(status.get("state") or ""),
            description=str(status.get("description") or ""),
            log_url=status.get("log_url") or status.get("target_url") or None,
        )
        return 200, "ok"

    # -- HTTP -------------------------------------------------------------------------------

    def wsgi(self, *, slack_events: bool) -> Callable[..., Iterable[bytes]]:
        """The one WSGI application: the Slack events (HTTP mode), the webhook, health."""

        def application(environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
            path = environ.get("PATH_INFO", "")
            method = environ.get("REQUEST_METHOD", "GET")
            if path == "/healthz" and method in ("GET", "HEAD"):
                return _text(start_response, 200, "ok")
            if path == "/slack/events" and method == "POST" and slack_events:
                return self._slack_http(environ, start_response)
            if path == "/github/webhook" and method == "POST":
                length = int(environ.get("CONTENT_LENGTH") or 0)
                body = environ["wsgi.input"].read(length) if length else b""
                headers = {
                    key[5:].replace("_", "-").lower(): str(value)
                    for key, value in environ.items()
                    if key.startswith("HTTP_")
                }
                status, text = self.github_webhook(headers, body)
                return _text(start_response, status, text)
            return _text(start_response, 404, "not found")

        return application

    def socket_mode(self, app_token: str) -> Any:
        """Connect to Slack over Socket Mode (bolt's builtin client); answers the handler,
        whose ``close()`` disconnects."""
        from slack_bolt.adapter.socket_mode import SocketModeHandler

        handler = SocketModeHandler(self.app, app_token, web_client=self.client)
        handler.connect()  # type: ignore[no-untyped-call]
        return handler

    def http_server(self, *, host: str, port: int, slack_events: bool) -> WSGIServer:
        return make_server(
            host,
            port,
            self.wsgi(slack_events=slack_events),
            server_class=_ThreadingWSGIServer,
            handler_class=_QuietHandler,
        )


_REASONS = {200: "OK", 400: "Bad Request", 401: "Unauthorized", 404: "Not Found"}


def _text(start_response: Callable[..., Any], status: int, text: str) -> list[bytes]:
    body = (text + "\n").encode()
    start_response(
        f"{status} {_REASONS.get(status, 'Error')}",
        [("Content-Type", "text/plain; charset=utf-8"), ("Content-Length", str(len(body)))],
    )
    return [body]


class _ThreadingWSGIServer(socketserver.ThreadingMixIn, WSGIServer):
    daemon_threads = True


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        log.debug("%s " + format, self.address_string(), *args)


# -- start-up ------------------------------------------------------------------------------


def build(
    *,
    environ: Mapping[str, str],
    settings: LoadedServeConfig,
    mode: str,
    poll: Poll | None = None,
) -> Service:
    """The service from the environment's variables; a missing one is one ``UsageError``."""
    token = environ.get("SLACK_BOT_TOKEN")
    if not token:
        raise UsageError(
            "SLACK_BOT_TOKEN is not set", fix="export the bot token (xoxb-...) of the Slack app"
        )
    signing_secret = environ.get("SLACK_SIGNING_SECRET") or None
    if mode == "http" and not signing_secret:
        raise UsageError(
            "HTTP mode needs SLACK_SIGNING_SECRET to check that requests come from Slack",
            fix="export it from the Slack app's Basic Information page, or use Socket Mode "
            "(SLACK_APP_TOKEN)",
        )
    if mode == "socket" and not environ.get("SLACK_APP_TOKEN"):
        raise UsageError(
            "Socket Mode needs SLACK_APP_TOKEN (an app-level token, xapp-...)",
            fix="export it, or pass --slack-mode http with SLACK_SIGNING_SECRET",
        )
    base_url = environ.get("SLACK_API_URL") or SLACK_API_URL
    if not base_url.endswith("/"):
        base_url += "/"
    client = WebClient(token=token, base_url=base_url)
    return Service(
        settings=settings,
        access=GitHubAccess.from_env(environ),
        client=client,
        signing_secret=signing_secret,
        webhook_secret=environ.get("GITHUB_WEBHOOK_SECRET") or None,
        poll=poll,
    )


def choose_mode(mode: str | None, environ: Mapping[str, str]) -> str:
    if mode is not None:
        return mode
    return "socket" if environ.get("SLACK_APP_TOKEN") else "http"


def run(
    *,
    environ: Mapping[str, str],
    settings: LoadedServeConfig,
    mode: str | None,
    host: str,
    port: int,
    say: Callable[[str], None],
) -> None:
    """Serve until interrupted."""
    chosen = choose_mode(mode, environ)
    service = build(environ=environ, settings=settings, mode=chosen)
    for warning in service.warnings:
        say(f"warning: {warning}")
    if not service.webhook_secret:
        say(
            "warning: no GITHUB_WEBHOOK_SECRET: deploy threads are updated by polling GitHub "
            f"every {service.poll.interval:g} s (set it and add the webhook for instant updates)"
        )
    server = service.http_server(host=host, port=port, slack_events=chosen == "http")
    handler = service.socket_mode(environ["SLACK_APP_TOKEN"]) if chosen == "socket" else None
    where = f"http://{host}:{server.server_address[1]}"
    slack = "Socket Mode" if chosen == "socket" else f"{where}/slack/events"
    say(f"commit-train serve: Slack over {slack}; GitHub webhook at {where}/github/webhook")
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
        if handler is not None:
            handler.close()
