"""Webhooks of the GitHub emulator: ``deployment`` and ``deployment_status`` deliveries.

As GitHub documents them ("Webhook events and payloads", "Validating webhook deliveries"):
a POST of the JSON payload with ``X-GitHub-Event``, ``X-GitHub-Delivery`` (a GUID),
``X-GitHub-Hook-ID``, ``X-GitHub-Hook-Installation-Target-ID``/``-Type``,
``X-Hub-Signature`` (HMAC-SHA1, legacy) and ``X-Hub-Signature-256: sha256=<HMAC-SHA256 hex of
the body keyed by the secret>``, ``User-Agent: GitHub-Hookshot/<id>`` and
``Content-Type: application/json``. Payloads have the shapes of GitHub's webhook schemas
(``deployment$created``, ``deployment_status$created``): action, deployment,
deployment_status, repository, sender, organization (an org's repository) and installation
(when an App is installed on the repository). Deliveries happen on a background thread, so
the API answer that caused them is not held up; each is recorded with the answer's status.
"""

from __future__ import annotations

import hashlib
import hmac
import http.client
import json
import queue
import threading
import urllib.parse
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from .github_apps import render_installation_lite
from .github_model import App, Deployment, DeploymentStatus, EmulatedRepo, Store, User
from .github_rest import (
    api,
    render_app,
    render_deployment,
    render_deployment_status,
    render_full_repo,
    render_user,
)

HOOKSHOT = "GitHub-Hookshot/7c2d4e1"


@dataclass
class Webhook:
    id: int
    repo: EmulatedRepo
    url: str
    secret: str
    events: list[str]
    app: App | None = None


@dataclass
class Delivery:
    guid: str
    hook: Webhook
    event: str
    action: str
    payload: dict[str, Any]
    headers: dict[str, str]
    body: bytes
    status: int | None = None  # the receiver's answer; None when it could not be reached
    error: str | None = None
    delivered_at: datetime | None = None
    done: threading.Event = field(default_factory=threading.Event, repr=False)


def signature_256(secret: str, body: bytes) -> str:
    """``X-Hub-Signature-256``'s value: ``sha256=`` and the HMAC-SHA256 hex digest."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def _webhook_user(store: Store, user: User) -> dict[str, Any]:
    out = render_user(store, user)
    out.pop("user_view_type", None)  # the REST answer has it; webhook payloads do not
    return out


def _webhook_repository(store: Store, repo: EmulatedRepo) -> dict[str, Any]:
    out = render_full_repo(store, repo)
    for key in ("temp_clone_token", "network_count", "subscribers_count", "organization"):
        out.pop(key, None)
    out["owner"] = _webhook_user(store, repo.owner)
    out["custom_properties"] = {}
    return out


def _webhook_app(store: Store, app: App) -> dict[str, Any]:
    out = render_app(store, app)
    out.pop("client_id", None)
    out["owner"] = _webhook_user(store, app.owner)
    return out


def _webhook_deployment(store: Store, repo: EmulatedRepo, d: Deployment) -> dict[str, Any]:
    out = render_deployment(store, repo, d)
    out["creator"] = _webhook_user(store, d.creator)
    if d.performed_via is not None:
        out["performed_via_github_app"] = _webhook_app(store, d.performed_via)
    if not isinstance(out["payload"], dict):
        out["payload"] = {}
    return out


def _organization(store: Store, org: User) -> dict[str, Any]:
    base = f"{api(store)}/orgs/{org.login}"
    return {
        "login": org.login,
        "id": org.id,
        "node_id": render_user(store, org)["node_id"],
        "url": base,
        "repos_url": f"{base}/repos",
        "events_url": f"{base}/events",
        "hooks_url": f"{base}/hooks",
        "issues_url": f"{base}/issues",
        "members_url": f"{base}/members{{/member}}",
        "public_members_url": f"{base}/public_members{{/member}}",
        "avatar_url": f"{store.base_url}/avatars/u/{org.id}?v=4",
        "description": None,
    }


def build_payload(
    store: Store,
    event: str,
    repo: EmulatedRepo,
    deployment: Deployment,
    status: DeploymentStatus | None = None,
    *,
    app: App | None = None,
) -> dict[str, Any]:
    """The payload GitHub sends for ``event`` ("deployment" or "deployment_status")."""
    payload: dict[str, Any] = {"action": "created"}
    if event == "deployment_status":
        assert status is not None
        rendered = render_deployment_status(store, repo, status)
        rendered["creator"] = _webhook_user(store, status.creator)
        if deployment.performed_via is not None:
            rendered["performed_via_github_app"] = _webhook_app(store, deployment.performed_via)
        payload["deployment_status"] = rendered
        payload["deployment"] = _webhook_deployment(store, repo, deployment)
        sender = status.creator
    elif event == "deployment":
        payload["deployment"] = _webhook_deployment(store, repo, deployment)
        payload["workflow"] = None
        payload["workflow_run"] = None
        sender = deployment.creator
    else:
        raise ValueError(f"the emulator sends no {event!r} webhooks")
    payload["repository"] = _webhook_repository(store, repo)
    if repo.owner.type == "Organization":
        payload["organization"] = _organization(store, repo.owner)
    payload["sender"] = _webhook_user(store, sender)
    installation = store.installation_for(repo, app)
    if installation is not None:
        payload["installation"] = render_installation_lite(installation)
    return payload


def signed_request(
    hook: Webhook, event: str, payload: dict[str, Any]
) -> tuple[dict[str, str], bytes]:
    """The headers and body GitHub would POST for ``payload``, signed with the hook's secret."""
    body = json.dumps(payload, separators=(",", ":")).encode()
    headers = {
        "Accept": "*/*",
        "Content-Type": "application/json",
        "User-Agent": HOOKSHOT,
        "X-GitHub-Delivery": str(uuid.uuid4()),
        "X-GitHub-Event": event,
        "X-GitHub-Hook-ID": str(hook.id),
        "X-GitHub-Hook-Installation-Target-ID": str(hook.repo.id),
        "X-GitHub-Hook-Installation-Target-Type": "repository",
        "X-Hub-Signature": "sha1=" + hmac.new(hook.secret.encode(), body, hashlib.sha1).hexdigest(),
        "X-Hub-Signature-256": signature_256(hook.secret, body),
    }
    return headers, body


class Deliverer:
    """Sends deliveries one after another on a daemon thread, in the order they were made."""

    def __init__(self, store: Store, timeout: float = 10.0) -> None:
        self._store = store
        self._timeout = timeout
        self._queue: queue.Queue[Delivery | None] = queue.Queue()
        self.hooks: list[Webhook] = []
        self.deliveries: list[Delivery] = []
        self._thread: threading.Thread | None = None

    def on_event(
        self,
        event: str,
        repo: EmulatedRepo,
        deployment: Deployment,
        status: DeploymentStatus | None,
    ) -> None:
        """A store listener (called under the store's lock): queue a delivery per hook."""
        if status is not None and status.state == "inactive":
            return  # GitHub's deployment_status webhook schema has no "inactive" state
        for hook in self.hooks:
            if hook.repo is not repo or event not in hook.events:
                continue
            payload = build_payload(self._store, event, repo, deployment, status, app=hook.app)
            headers, body = signed_request(hook, event, payload)
            delivery = Delivery(
                guid=headers["X-GitHub-Delivery"],
                hook=hook,
                event=event,
                action=payload["action"],
                payload=payload,
                headers=headers,
                body=body,
            )
            self.deliveries.append(delivery)
            self._ensure_thread()
            self._queue.put(delivery)

    def _ensure_thread(self) -> None:
        if self._thread is None or not self._thread.is_alive():
            self._thread = threading.Thread(target=self._run, name="github-webhooks", daemon=True)
            self._thread.start()

    def _run(self) -> None:
        while True:
            delivery = self._queue.get()
            if delivery is None:
                return
            try:
                self._send(delivery)
            finally:
                delivery.done.set()

    def _send(self, delivery: Delivery) -> None:
        # http.client keeps header names as written (urllib.request would send
        # "X-github-event"); the receiver reads them case-blind anyway, as HTTP says.
        url = urllib.parse.urlsplit(delivery.hook.url)
        try:
            if url.scheme != "http" or not url.hostname:
                raise ValueError(f"cannot deliver to {delivery.hook.url}")
            conn = http.client.HTTPConnection(url.hostname, url.port or 80, timeout=self._timeout)
            try:
                target = url.path or "/"
                conn.request(
                    "POST",
                    f"{target}?{url.query}" if url.query else target,
                    body=delivery.body,
                    headers=delivery.headers,
                )
                answer = conn.getresponse()
                answer.read()
                delivery.status = answer.status
            finally:
                conn.close()
        except (OSError, ValueError, http.client.HTTPException) as err:
            delivery.error = str(err) or type(err).__name__
        delivery.delivered_at = self._store.now()

    def wait(self, timeout: float = 10.0) -> bool:
        """Wait until every delivery made so far has been attempted; False on timeout."""
        return all(d.done.wait(timeout) for d in list(self.deliveries))

    def stop(self) -> None:
        if self._thread is not None and self._thread.is_alive():
            self._queue.put(None)
