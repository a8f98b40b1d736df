"""A local stand-in for Slack's incoming-webhook endpoint, on 127.0.0.1 (random port).

It answers the way Slack documents for incoming webhooks: ``200 ok`` for a good payload,
``400 invalid_payload`` for a body that is not a JSON object, ``400 no_text`` when there is
neither ``text`` nor ``blocks``, ``400 invalid_blocks`` for blocks that break Block Kit's
documented shape (types, text objects, the 3000-character section text and the 50-block
limits), and ``404 no_service`` for an unknown hook path. It keeps every good payload in
``received``; ``fail_with(status, body)`` makes the next answers fail, like an outage or a
revoked hook.
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

HOOK_PATH = "/services/T000/B000/XXXXXXXX"
TEXT_TYPES = {"mrkdwn", "plain_text"}
BLOCK_TYPES = {"section", "context", "header", "divider", "actions", "image", "rich_text"}


def _text_object(obj: Any, *, limit: int) -> str | None:
    if not isinstance(obj, dict) or obj.get("type") not in TEXT_TYPES:
        return "a text object needs type mrkdwn or plain_text"
    text = obj.get("text")
    if not isinstance(text, str) or not text or len(text) > limit:
        return f"a text object needs 1 to {limit} characters of text"
    return None


def problems(payload: Any) -> str | None:
    """Why Slack would refuse ``payload`` (its error code), or None when it is good."""
    if not isinstance(payload, dict):
        return "invalid_payload"
    text, blocks = payload.get("text"), payload.get("blocks")
    if not text and not blocks:
        return "no_text"
    if text is not None and not isinstance(text, str):
        return "invalid_payload"
    if blocks is None:
        return None
    if not isinstance(blocks, list) or not 1 <= len(blocks) <= 50:
        return "invalid_blocks"
    for block in blocks:
        if not isinstance(block, dict) or block.get("type") not in BLOCK_TYPES:
            return "invalid_blocks"
        if block["type"] == "section":
            if "text" not in block and "fields" not in block:
                return "invalid_blocks"
            if "text" in block and _text_object(block["text"], limit=3000):
                return "invalid_blocks"
        if block["type"] == "context":
            elements = block.get("elements")
            if not isinstance(elements, list) or not 1 <= len(elements) <= 10:
                return "invalid_blocks"
            if any(_text_object(e, limit=3000) for e in elements):
                return "invalid_blocks"
    return None


class SlackWebhookServer:
    def __init__(self) -> None:
        self.received: list[dict[str, Any]] = []
        self._fail: tuple[int, str] | None = None
        self._lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length)
                status, body = server._answer(self.path, self.headers.get("Content-Type"), raw)
                data = body.encode()
                self.send_response(status)
                self.send_header("Content-Type", "text/html")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def _answer(self, path: str, content_type: str | None, raw: bytes) -> tuple[int, str]:
        with self._lock:
            if self._fail is not None:
                return self._fail
        if path != HOOK_PATH:
            return 404, "no_service"
        if not (content_type or "").startswith("application/json"):
            return 400, "invalid_payload"
        try:
            payload = json.loads(raw)
        except ValueError:
            return 400, "invalid_payload"
        problem = problems(payload)
        if problem is not None:
            return 400, problem
        with self._lock:
            self.received.append(payload)
        return 200, "ok"

    def fail_with(self, status: int, body: str) -> None:
        with self._lock:
            self._fail = (status, body)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}{HOOK_PATH}"

    def __enter__(self) -> SlackWebhookServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
