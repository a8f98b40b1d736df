"""A Slack Socket Mode emulator: a WebSocket server on 127.0.0.1 that pushes envelopes.

Socket Mode (Slack docs: "Using Socket Mode", docs.slack.dev/apis/events-api/using-socket-mode)
works like this, and so does this server:

1. the app calls ``apps.connections.open`` with its app-level ``xapp-`` token and gets a
   single-use ``wss://.../link/?ticket=...&app_id=...`` URL (here ``ws://127.0.0.1:PORT/link/...``,
   handed out by the Web API emulator; ``issue_url()`` makes one directly);
2. on connecting, Slack sends ``{"type": "hello", "num_connections": ..., "debug_info": ...,
   "connection_info": {"app_id": ...}}``;
3. Slack pushes envelopes ``{"envelope_id", "type": "events_api" | "interactive" |
   "slash_commands", "payload", "accepts_response_payload"}`` (events also carry
   ``retry_attempt`` and ``retry_reason``), and the app must acknowledge each within three
   seconds by sending back ``{"envelope_id": ...}``, with a ``payload`` when the envelope
   ``accepts_response_payload``;
4. Slack refreshes connections: it sends ``{"type": "disconnect", "reason": "refresh_requested"}``
   (``disconnect()``) and the app opens a new connection; or the connection just closes
   (``drop()``).

The message shapes follow the mock servers in Slack's own test suites: slack-bolt's
``tests/adapter_tests/socket_mode/mock_socket_mode_server.py`` and python-slack-sdk's
``tests/slack_sdk/socket_mode/mock_socket_mode_server.py`` (hello and disconnect messages,
recorded envelopes). Unlike those, which replay a fixed list, a test pushes what it needs and
waits for the ack::

    envelope_id = socket.push_event(payload)           # an event_callback payload
    ack = socket.wait_for_ack(envelope_id, timeout=3)  # AssertionError if none comes in time
    assert ack.seconds < 3

The server runs ``websockets`` in a background thread with its own event loop. Envelopes go to
the newest open connection (as after a refresh). Unknown or reused tickets are refused with
HTTP 403 at the handshake.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
import urllib.parse
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any

from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response

from .slack_events import APP_ID

__all__ = ["Ack", "Envelope", "SocketModeEmulator"]


@dataclass(frozen=True)
class Envelope:
    """One envelope pushed to the app."""

    envelope_id: str
    type: str
    payload: dict[str, Any]
    accepts_response_payload: bool
    connection: int
    pushed_at: float


@dataclass(frozen=True)
class Ack:
    """The app's acknowledgement of an envelope; ``seconds`` from push to ack."""

    envelope_id: str
    payload: dict[str, Any] | None
    connection: int
    seconds: float


class SocketModeEmulator:
    def __init__(self, *, app_id: str = APP_ID) -> None:
        self.app_id = app_id
        self.envelopes: list[Envelope] = []
        self.acks: list[Ack] = []
        self.other_messages: list[str] = []
        """Text frames from the app that are not acks (kept to spot protocol mistakes)."""
        self.connections_opened = 0
        self._tickets: set[str] = set()
        self._open: dict[int, ServerConnection] = {}
        self._retiring: set[int] = set()
        self._cond = threading.Condition()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._server: Server | None = None
        self._thread: threading.Thread | None = None
        self.port = 0

    # -- life cycle -------------------------------------------------------------------------

    def start(self) -> SocketModeEmulator:
        ready = threading.Event()
        failure: list[BaseException] = []

        def run() -> None:
            loop = asyncio.new_event_loop()
            asyncio.set_event_loop(loop)
            self._loop = loop
            try:
                self._server = loop.run_until_complete(self._listen())
                self.port = self._server.sockets[0].getsockname()[1]
            except BaseException as error:  # reported to start()'s caller
                failure.append(error)
                ready.set()
                loop.close()
                return
            ready.set()
            loop.run_forever()
            loop.run_until_complete(self._shutdown())
            loop.close()

        self._thread = threading.Thread(target=run, name="slack-socket-mode", daemon=True)
        self._thread.start()
        ready.wait(10)
        if failure:
            raise failure[0]
        return self

    async def _listen(self) -> Server:
        # websockets' serve() needs a running loop, hence a coroutine.
        return await serve(
            self._handle, "127.0.0.1", 0, process_request=self._check_ticket, close_timeout=1
        )

    async def _shutdown(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    def stop(self) -> None:
        if self._loop is not None and self._thread is not None:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(10)
            self._thread = None

    def __enter__(self) -> SocketModeEmulator:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- connections ------------------------------------------------------------------------

    def issue_url(self) -> str:
        """A new single-use connection URL, as ``apps.connections.open`` returns."""
        ticket = str(uuid.uuid4())
        with self._cond:
            self._tickets.add(ticket)
        query = urllib.parse.urlencode({"ticket": ticket, "app_id": self.app_id})
        return f"ws://127.0.0.1:{self.port}/link/?{query}"

    @property
    def open_connections(self) -> int:
        with self._cond:
            return len(self._open)

    def wait_for_connections(self, count: int, *, timeout: float = 5) -> None:
        """Wait until ``count`` connections in all have been greeted with ``hello``."""
        self._wait(lambda: self.connections_opened >= count, timeout, f"{count} connection(s)")

    def _check_ticket(self, connection: ServerConnection, request: Request) -> Response | None:
        url = urllib.parse.urlsplit(request.path)
        ticket = urllib.parse.parse_qs(url.query).get("ticket", [""])[0]
        with self._cond:
            if url.path.rstrip("/") == "/link" and ticket in self._tickets:
                self._tickets.discard(ticket)
                return None
        return connection.respond(HTTPStatus.FORBIDDEN, "invalid or used ticket\n")

    async def _handle(self, websocket: ServerConnection) -> None:
        with self._cond:
            number = self.connections_opened + 1
            count = len(self._open) + 1
        hello = {
            "type": "hello",
            "num_connections": count,
            "debug_info": {
                "host": "applink-emulated",
                "build_number": 1,
                "approximate_connection_time": 18060,
            },
            "connection_info": {"app_id": self.app_id},
        }
        try:
            await websocket.send(json.dumps(hello))
            with self._cond:
                self.connections_opened = number
                self._open[number] = websocket
                retired = [self._open[n] for n in self._retiring if n in self._open]
                self._retiring.clear()
                self._cond.notify_all()
            for old in retired:
                await old.close(1001, "refreshed")
            async for message in websocket:
                self._received(number, message)
        except ConnectionClosed:
            pass
        finally:
            with self._cond:
                self._open.pop(number, None)
                self._cond.notify_all()

    def _received(self, connection: int, message: str | bytes) -> None:
        text = message.decode() if isinstance(message, bytes) else message
        try:
            data = json.loads(text)
        except ValueError:
            data = None
        with self._cond:
            if isinstance(data, dict) and isinstance(data.get("envelope_id"), str):
                pushed = next(
                    (e for e in self.envelopes if e.envelope_id == data["envelope_id"]), None
                )
                since = time.monotonic() - pushed.pushed_at if pushed else 0.0
                payload = data.get("payload")
                self.acks.append(
                    Ack(
                        envelope_id=data["envelope_id"],
                        payload=payload if isinstance(payload, dict) else None,
                        connection=connection,
                        seconds=since,
                    )
                )
            else:
                self.other_messages.append(text)
            self._cond.notify_all()

    # -- pushing ----------------------------------------------------------------------------

    def push(
        self,
        kind: str,
        payload: dict[str, Any],
        *,
        accepts_response_payload: bool | None = None,
        retry_attempt: int = 0,
        retry_reason: str = "",
        timeout: float = 5,
    ) -> str:
        """Send one envelope to the newest connection (waiting up to ``timeout`` for one).

        Returns its ``envelope_id``. ``accepts_response_payload`` defaults as Slack sets it:
        true for slash commands, false otherwise.
        """
        self._wait(lambda: bool(self._open), timeout, "an open Socket Mode connection")
        envelope_id = str(uuid.uuid4())
        accepts = (
            kind == "slash_commands"
            if accepts_response_payload is None
            else bool(accepts_response_payload)
        )
        message: dict[str, Any] = {
            "envelope_id": envelope_id,
            "payload": payload,
            "type": kind,
            "accepts_response_payload": accepts,
        }
        if kind == "events_api":
            message["retry_attempt"] = retry_attempt
            message["retry_reason"] = retry_reason
        with self._cond:
            number = max(self._open)
            websocket = self._open[number]
            self.envelopes.append(
                Envelope(
                    envelope_id=envelope_id,
                    type=kind,
                    payload=payload,
                    accepts_response_payload=accepts,
                    connection=number,
                    pushed_at=time.monotonic(),
                )
            )
        self._call(websocket.send(json.dumps(message)), timeout)
        return envelope_id

    def push_event(self, payload: dict[str, Any], **options: Any) -> str:
        """An ``events_api`` envelope around an ``event_callback`` payload."""
        return self.push("events_api", payload, **options)

    def push_interaction(self, payload: dict[str, Any], **options: Any) -> str:
        """An ``interactive`` envelope (``block_actions``, ``view_submission``, shortcuts)."""
        return self.push("interactive", payload, **options)

    def push_slash_command(self, payload: dict[str, Any], **options: Any) -> str:
        return self.push("slash_commands", payload, **options)

    def wait_for_ack(self, envelope_id: str, *, timeout: float = 3) -> Ack:
        """The app's ack of ``envelope_id``; AssertionError when none arrives within ``timeout``."""

        def found() -> Ack | None:
            return next((a for a in self.acks if a.envelope_id == envelope_id), None)

        self._wait(lambda: found() is not None, timeout, f"the ack of envelope {envelope_id}")
        with self._cond:
            ack = found()
        assert ack is not None
        return ack

    def disconnect(self, reason: str = "refresh_requested") -> None:
        """Send Slack's ``disconnect`` message on the newest connection; the app should open a
        new one (``wait_for_connections``).

        As Slack does, the emulator then closes the old connection itself (close frame 1001)
        once the new one is open, so a client blocked reading it is released at once.
        """
        message = {
            "type": "disconnect",
            "reason": reason,
            "debug_info": {"host": "applink-emulated"},
        }
        with self._cond:
            number = max(self._open)
            websocket = self._open[number]
            self._retiring.add(number)
        self._call(websocket.send(json.dumps(message)), 5)

    def drop(self, *, abrupt: bool = False) -> None:
        """Close the newest connection: a close frame (1001, going away), or with ``abrupt`` a
        TCP reset with no close frame at all.

        slack_sdk's builtin client notices either at its next session check, every
        ``ping_interval`` seconds (10 by default in slack-bolt's ``SocketModeHandler``), then
        reconnects through ``apps.connections.open``.
        """
        with self._cond:
            websocket = self._open[max(self._open)]
        if abrupt:
            self._loop_call(websocket.transport.abort)
        else:
            assert self._loop is not None
            asyncio.run_coroutine_threadsafe(websocket.close(1001, "going away"), self._loop)

    def close_connections(self) -> None:
        """Close every open connection (close frame 1001) and wait until they are gone.

        Call it before stopping a slack_sdk builtin client: that client's ``close()`` otherwise
        waits for its blocking read to time out (three seconds) on a quiet connection.
        """
        with self._cond:
            sockets = list(self._open.values())
        for websocket in sockets:
            assert self._loop is not None
            asyncio.run_coroutine_threadsafe(websocket.close(1001, "going away"), self._loop)
        self._wait(lambda: not self._open, 5, "closing of every connection")

    # -- helpers ----------------------------------------------------------------------------

    def _wait(self, ready: Callable[[], bool], timeout: float, what: str) -> None:
        with self._cond:
            if not self._cond.wait_for(ready, timeout):
                raise AssertionError(f"Socket Mode emulator: no {what} within {timeout}s")

    def _call(self, coroutine: Any, timeout: float) -> Any:
        assert self._loop is not None, "the Socket Mode emulator is not started"
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result(timeout)

    def _loop_call(self, function: Callable[[], object]) -> None:
        assert self._loop is not None, "the Socket Mode emulator is not started"
        self._loop.call_soon_threadsafe(function)
