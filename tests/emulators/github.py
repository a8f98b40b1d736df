"""A GitHub emulator: an HTTP server on 127.0.0.1 speaking GitHub's REST and GraphQL protocols.

Point the real PyGithub at it (GitHub Enterprise style base URL)::

    with GitHubEmulator() as emu:
        repo = emu.create_repo("acme/shop")
        sha = repo.commit("Add cart")
        gh = github.Github(base_url=emu.base_url, auth=github.Auth.Token(emu.token))

It answers with GitHub's status codes, error bodies, ``Link`` pagination, ``x-ratelimit-*``
headers and weak ETags (a matching ``If-None-Match`` answers 304 and costs nothing). Every
request is recorded (``requests``) so tests and benchmarks can assert API budgets, and faults
can be injected (5xx, 429, secondary and primary rate limits, slow answers).

The scripting API (everything else is the HTTP protocol):

- lifecycle: ``start()``/``stop()`` or ``with``; ``url``, ``base_url``, ``graphql_url``;
  ``clock`` (a callable answering an aware datetime: every timestamp, token expiry and JWT
  check reads it, so a test can freeze or move time)
- identities: ``token``/``add_user(login, token)``; ``add_team(org, slug, members=[...])``,
  ``add_org_member(org, login)``
- GitHub Apps: ``create_app(slug)`` (an ``App`` with ``id`` and ``private_key_pem``),
  ``install_app(app, account="acme", repositories=[...] or None for all)``,
  ``installation_token(installation)`` (a token without the JWT dance)
- repositories: ``create_repo(full_name)``, ``repo(full_name)``; on an ``EmulatedRepo``:
  ``commit(message, files={path: text})``, ``create_branch``, ``add_status``,
  ``add_check_run``, ``add_deployment``, ``deployments``, ``deployment_statuses``
- webhooks: ``add_webhook(repo, url, secret, events=[...])``, ``deliveries``,
  ``wait_for_deliveries()``, ``webhook_request(hook, event, deployment_id, status_id)``
  (a signed delivery built but not sent)
- request log: ``requests`` (method, path, status, who: ``token_login``, ``token``,
  ``auth``), ``request_count``, ``reset_requests()``
- faults: ``inject``, ``inject_lost_answer``, ``inject_rate_limit``,
  ``inject_secondary_rate_limit``, ``exhaust_rate_limit``, ``restore_rate_limit``;
  ``errors`` (the emulator's own bugs)

State lives in ``github_model``; REST shapes and routes in ``github_rest`` (Apps,
installations and teams in ``github_apps``; "Search users" in ``github_search``); GraphQL in
``github_graphql`` (real execution with graphql-core against ``github_schema.graphql``);
webhooks in ``github_hooks``.
"""

from __future__ import annotations

import hashlib
import json
import re
import sys
import threading
import time
import urllib.parse
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.utils import formatdate
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from . import github_apps, github_hooks, github_rest, github_search  # noqa: F401 (routes)
from .github_hooks import Delivery, Webhook
from .github_model import (
    ApiError,
    App,
    EmulatedRepo,
    Installation,
    InstallationToken,
    Store,
    Team,
    User,
    utcnow,
)

__all__ = [
    "App",
    "Delivery",
    "EmulatedRepo",
    "FaultRule",
    "GitHubEmulator",
    "Installation",
    "RecordedRequest",
    "Webhook",
]

REST_PREFIX = "/api/v3"
GRAPHQL_PATHS = ("/api/graphql", "/graphql")
RATE_LIMIT_DOCS = "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api"
SECONDARY_DOCS = (
    "https://docs.github.com/free-pro-team@latest/rest/overview/"
    "rate-limits-for-the-rest-api#about-secondary-rate-limits"
)
USER_LIMIT = 5000
ANONYMOUS_LIMIT = 60
# "Search" has its own limit, per minute: 30 requests authenticated, 10 anonymous ("Rate
# limits for the REST API"; "Search users"); answers say ``x-ratelimit-resource: search``
SEARCH_LIMIT = 30
ANONYMOUS_SEARCH_LIMIT = 10


def _resource(path: str, is_graphql: bool) -> str:
    """The rate limit a request spends: ``graphql``, ``search`` (``/search/...``) or ``core``."""
    if is_graphql:
        return "graphql"
    return "search" if path.startswith(REST_PREFIX + "/search/") else "core"


def _limit(login: str | None, resource: str) -> int:
    if resource == "search":
        return SEARCH_LIMIT if login else ANONYMOUS_SEARCH_LIMIT
    return USER_LIMIT if login else ANONYMOUS_LIMIT


@dataclass(frozen=True)
class RecordedRequest:
    method: str
    path: str
    query: dict[str, str]
    status: int
    graphql: bool
    token_login: str | None  # the user or bot acting; ``app:<slug>`` for an App's JWT
    token: str | None = None  # the credential sent (user token, installation token or JWT)
    auth: str | None = None  # "user", "installation", "app" or None (anonymous or refused)
    points: int = 0  # GraphQL rate-limit points charged (GitHub's formula; REST: 0)


@dataclass
class FaultRule:
    status: int | None
    times: int
    method: str | None
    path: str | None
    headers: dict[str, str] | None
    body: Any
    delay: float
    kind: str = "custom"
    applied: bool = False  # carry the request out first, then answer the fault
    drop: bool = False  # never answer: close the connection (the client sees no answer)
    unseen_for: int = 0  # with ``drop``: how many later requests the write stays unseen by

    def matches(self, method: str, path: str) -> bool:
        if self.times <= 0:
            return False
        if self.method is not None and self.method.upper() != method:
            return False
        return self.path is None or re.search(self.path, path) is not None


@dataclass
class _Bucket:
    used: int
    reset_at: datetime


class GitHubEmulator:
    """One emulated GitHub server. Start it (``start()`` or ``with``), script it, stop it."""

    def __init__(self, *, token: str = "ghs_test_token_for_alice", login: str = "alice") -> None:
        self.clock: Callable[[], datetime] = utcnow
        self._store = Store(lambda: self.clock())
        self.token = token
        self.add_user(login, token)
        self._requests: list[RecordedRequest] = []
        self._charged = 0  # points of the GraphQL request being answered
        self.errors: list[Exception] = []  # unexpected exceptions raised while answering
        self._faults: list[FaultRule] = []
        # writes of ``inject_lost_answer`` not carried out yet: [requests still to pass, do it]
        self._late_writes: list[list[Any]] = []
        self._buckets: dict[tuple[str | None, str], _Bucket] = {}
        self._exhausted_until: datetime | None = None
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.port = 0
        self._hooks = github_hooks.Deliverer(self._store)
        self._store.listeners.append(self._hooks.on_event)

    @property
    def refuse_empty_tree(self) -> bool:
        """Whether ``POST /git/commits`` answers git's empty tree with 422 "Tree SHA does
        not exist", as for any tree the repository does not hold (a GitHub that has not
        stored the empty tree object would)."""
        return self._store.refuse_empty_tree

    @refuse_empty_tree.setter
    def refuse_empty_tree(self, refuse: bool) -> None:
        self._store.refuse_empty_tree = refuse

    # -- lifecycle --------------------------------------------------------------------------

    def start(self) -> GitHubEmulator:
        emulator = self

        class Handler(_Handler):
            emu = emulator

        self._server = _Server(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        self._store.base_url = f"http://127.0.0.1:{self.port}"
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"github-emulator-{self.port}",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self._hooks.stop()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> GitHubEmulator:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        """``http://127.0.0.1:PORT`` (the web UI host; html_url fields start with it)."""
        return self._store.base_url

    @property
    def base_url(self) -> str:
        return f"{self._store.base_url}{REST_PREFIX}"

    @property
    def graphql_url(self) -> str:
        return f"{self._store.base_url}/api/graphql"

    # -- identities and repositories -----------------------------------------------------------

    def add_user(
        self,
        login: str,
        token: str | None = None,
        *,
        name: str | None = None,
        email: str | None = None,
    ) -> None:
        """Another identity; requests with ``token`` act as ``login``. ``email`` is the
        profile's public email (what "Search users" finds with ``in:email``); an existing
        user keeps their id and gains it."""
        with self._store.lock:
            self._store.user(login, name=name, email=email)
            if token is not None:
                self._store.tokens[token] = login

    def create_repo(self, full_name: str, *, default_branch: str = "main") -> EmulatedRepo:
        owner_login, name = full_name.split("/", 1)
        with self._store.lock:
            if full_name in self._store.repos:
                raise ValueError(f"repository {full_name} already exists")
            kind = None if owner_login in self._store.users else "Organization"
            owner = self._store.user(owner_login, type=kind)
            repo = EmulatedRepo(
                self._store,
                owner=owner,
                name=name,
                default_branch=default_branch,
                id=self._store.next_id(),
            )
            self._store.repos[full_name] = repo
            return repo

    def repo(self, full_name: str) -> EmulatedRepo:
        return self._store.repos[full_name]

    # -- GitHub Apps, teams ----------------------------------------------------------------

    def create_app(
        self,
        slug: str = "commit-train",
        *,
        name: str | None = None,
        owner: str = "acme",
        permissions: dict[str, str] | None = None,
        events: list[str] | None = None,
    ) -> App:
        """A GitHub App with a fresh RSA key pair: ``app.id`` and ``app.private_key_pem`` are
        what its settings page shows (the ``GITHUB_APP_ID``/``GITHUB_APP_PRIVATE_KEY`` a
        service is given); its bot account ``{slug}[bot]`` is made too."""
        pem, public_key = github_apps.generate_key_pair()
        with self._store.lock:
            if slug in self._store.apps:
                raise ValueError(f"an App named {slug} already exists")
            app = App(
                slug=slug,
                id=self._store.next_id(),
                name=name or slug,
                owner=self._store.user(
                    owner, type=None if owner in self._store.users else "Organization"
                ),
                created_at=self._store.now(),
                private_key_pem=pem,
                public_key=public_key,
                permissions=dict(permissions or github_apps.DEFAULT_PERMISSIONS),
                events=list(events if events is not None else github_apps.DEFAULT_EVENTS),
            )
            self._store.apps[slug] = app
            self._store.user(app.bot_login, type="Bot")
            return app

    def install_app(
        self, app: App, account: str = "acme", repositories: list[str] | None = None
    ) -> Installation:
        """Install ``app`` on ``account``: on every repository of it (``repositories=None``,
        GitHub's "All repositories") or on the named ones (``"shop"`` or ``"acme/shop"``)."""
        with self._store.lock:
            if any(
                i.app is app and i.account.login == account
                for i in self._store.installations.values()
            ):
                raise ValueError(f"{app.slug} is already installed on {account}")
            kind = None if account in self._store.users else "Organization"
            owner = self._store.user(account, type=kind)
            names = [r if "/" in r else f"{account}/{r}" for r in repositories or []]
            installation = Installation(
                id=self._store.next_id(),
                app=app,
                account=owner,
                repository_selection="all" if repositories is None else "selected",
                repositories=names,
                created_at=self._store.now(),
            )
            self._store.installations[installation.id] = installation
            return installation

    def installation_token(self, installation: Installation) -> str:
        """A fresh installation token (what ``POST .../access_tokens`` would give)."""
        with self._store.lock:
            token = InstallationToken(
                token=f"ghs_{uuid.uuid4().hex}{uuid.uuid4().hex[:4]}",
                installation=installation,
                expires_at=self._store.now() + github_apps.TOKEN_LIFETIME,
                permissions=dict(installation.app.permissions),
            )
            self._store.installation_tokens[token.token] = token
            return token.token

    def add_team(
        self, org: str, slug: str, *, members: Sequence[str] = (), name: str | None = None
    ) -> Team:
        """A team of ``org`` whose (active) members are ``members``; they join the org too."""
        with self._store.lock:
            return github_apps.add_team(self._store, org, slug, list(members), name)

    def add_org_member(self, org: str, login: str) -> None:
        with self._store.lock:
            self._store.user(org, type="Organization")
            self._store.user(login)
            self._store.org_members.setdefault(org.lower(), set()).add(login.lower())

    # -- webhooks -------------------------------------------------------------------------

    def add_webhook(
        self,
        repo: EmulatedRepo | str,
        url: str,
        secret: str,
        events: list[str] | None = None,
        *,
        app: App | None = None,
    ) -> Webhook:
        """Deliver ``events`` (default deployment and deployment_status) of ``repo`` to
        ``url``, signed with ``secret``. ``app`` makes it that App's webhook (the payload's
        ``installation`` is then its installation)."""
        with self._store.lock:
            target = self.repo(repo) if isinstance(repo, str) else repo
            wanted = list(events if events is not None else ["deployment", "deployment_status"])
            hook = Webhook(self._store.next_id(), target, url, secret, wanted, app)
            self._hooks.hooks.append(hook)
            return hook

    @property
    def deliveries(self) -> list[Delivery]:
        """Every delivery made, oldest first (``status`` is the receiver's answer)."""
        with self._store.lock:
            return list(self._hooks.deliveries)

    def wait_for_deliveries(self, timeout: float = 10.0) -> list[Delivery]:
        """Wait until every delivery made so far was attempted; answer them all."""
        if not self._hooks.wait(timeout):
            raise TimeoutError("webhook deliveries still pending")
        return self.deliveries

    def webhook_request(
        self,
        hook: Webhook,
        event: str,
        deployment_id: int,
        status_id: int | None = None,
    ) -> tuple[dict[str, str], bytes]:
        """The signed headers and body ``hook`` would get for a deployment (or one of its
        statuses), built and not sent: for feeding a webhook receiver directly."""
        with self._store.lock:
            deployment = hook.repo.get_deployment(deployment_id)
            status = None
            if status_id is not None:
                status = next(s for s in deployment.statuses if s.id == status_id)
            payload = github_hooks.build_payload(
                self._store, event, hook.repo, deployment, status, app=hook.app
            )
            return github_hooks.signed_request(hook, event, payload)

    @property
    def store(self) -> Store:
        return self._store

    # -- request log ------------------------------------------------------------------------

    @property
    def requests(self) -> list[RecordedRequest]:
        with self._store.lock:
            return list(self._requests)

    @property
    def request_count(self) -> int:
        with self._store.lock:
            return len(self._requests)

    @property
    def graphql_points(self) -> int:
        """GraphQL rate-limit points charged for the requests logged since the last reset."""
        with self._store.lock:
            return sum(r.points for r in self._requests)

    def reset_requests(self) -> None:
        with self._store.lock:
            self._requests.clear()

    # -- faults -----------------------------------------------------------------------------

    def inject(
        self,
        status: int | None = 502,
        times: int = 1,
        method: str | None = None,
        path: str | None = None,
        headers: dict[str, str] | None = None,
        body: Any = None,
        delay: float = 0.0,
        applied: bool = False,
    ) -> FaultRule:
        """Answer the next ``times`` matching requests with ``status`` (after ``delay`` s).

        ``status=None`` (or a 2xx/3xx status with no body) only delays: the request is then
        answered normally. ``path`` is a regular expression searched in the request path.
        ``applied=True`` carries the request out before answering the fault: a write that
        took effect but whose answer was lost (a proxy's 502), so the client retries it.
        """
        rule = FaultRule(status, times, method, path, headers, body, delay, applied=applied)
        with self._store.lock:
            self._faults.append(rule)
        return rule

    def inject_lost_answer(
        self,
        method: str | None = None,
        path: str | None = None,
        *,
        times: int = 1,
        delay: float = 0.0,
        unseen_for: int = 0,
    ) -> FaultRule:
        """GitHub receives the next ``times`` matching requests and carries them out, but
        the client never gets an answer: after ``delay`` s the connection is closed
        unanswered (with a client timeout shorter than ``delay`` the client has given up
        first: a read timeout, as PyGithub's 15 s timeout against a slow GitHub).

        ``unseen_for=N``: the write is carried out only once N more requests have reached
        the emulator (those N do not see it; the one after does), as a write GitHub
        finishes after the client stopped waiting, or one its read replicas show late.
        GitHub documents both: requests that take over 10 s are cut off while their work
        may go on ("Troubleshooting the REST API: Timeouts"), and a write may not show at
        once in the reads that follow ("Best practices for using the REST API").
        The request is logged with status 0 (no answer).
        """
        rule = FaultRule(None, times, method, path, None, None, delay, kind="lost")
        rule.drop = True
        rule.unseen_for = unseen_for
        with self._store.lock:
            self._faults.append(rule)
        return rule

    def inject_rate_limit(self, times: int = 1, retry_after: int = 1) -> FaultRule:
        """429 with ``retry-after`` and GitHub's secondary-limit body."""
        rule = self.inject(
            status=429,
            times=times,
            headers={"retry-after": str(retry_after)},
            body=None,
        )
        rule.kind = "secondary"
        return rule

    def inject_secondary_rate_limit(self, times: int = 1, retry_after: int = 1) -> FaultRule:
        """403 "You have exceeded a secondary rate limit..." with ``retry-after``."""
        rule = self.inject(
            status=403,
            times=times,
            headers={"retry-after": str(retry_after)},
            body=None,
        )
        rule.kind = "secondary"
        return rule

    def exhaust_rate_limit(self, reset_in: int = 60) -> None:
        """Spend the primary limit: 403 with ``x-ratelimit-remaining: 0`` until the reset time
        (``clock() + reset_in``) passes. GraphQL answers 200 with a ``RATE_LIMITED`` error."""
        with self._store.lock:
            self._exhausted_until = self._store.now() + timedelta(seconds=reset_in)

    def restore_rate_limit(self) -> None:
        with self._store.lock:
            self._exhausted_until = None
            self._buckets.clear()

    # -- rate limit accounting -----------------------------------------------------------------

    def _bucket(self, login: str | None, resource: str) -> _Bucket:
        now = self._store.now()
        key = (login, resource)
        bucket = self._buckets.get(key)
        if bucket is None or now >= bucket.reset_at:
            window = timedelta(minutes=1) if resource == "search" else timedelta(hours=1)
            bucket = _Bucket(0, now + window)
            self._buckets[key] = bucket
        return bucket

    def _exhausted(self) -> bool:
        if self._exhausted_until is None:
            return False
        if self._store.now() >= self._exhausted_until:
            self._exhausted_until = None
            return False
        return True

    def _rate_headers(self, login: str | None, resource: str) -> dict[str, str]:
        limit = _limit(login, resource)
        bucket = self._bucket(login, resource)
        used, reset = bucket.used, bucket.reset_at
        if self._exhausted():
            assert self._exhausted_until is not None
            used, reset = limit, self._exhausted_until
        return {
            "X-RateLimit-Limit": str(limit),
            "X-RateLimit-Remaining": str(max(limit - used, 0)),
            "X-RateLimit-Reset": str(int(reset.timestamp())),
            "X-RateLimit-Used": str(used),
            "X-RateLimit-Resource": resource,
        }

    def rate_limit_overview(self, login: str | None) -> dict[str, Any]:
        limit = USER_LIMIT if login else ANONYMOUS_LIMIT
        resources = {}
        for resource, res_limit in (
            ("core", limit),
            ("search", _limit(login, "search")),
            ("graphql", limit),
        ):
            headers = self._rate_headers(login, resource)
            used = int(headers["X-RateLimit-Used"])
            resources[resource] = github_rest.render_rate(
                res_limit, used, int(headers["X-RateLimit-Reset"])
            )
        return {"resources": resources, "rate": resources["core"]}

    def charge_graphql(self, login: str | None, cost: int) -> dict[str, Any]:
        """Charge ``cost`` points and answer the ``rateLimit`` object for this query."""
        bucket = self._bucket(login, "graphql")
        bucket.used += cost
        self._charged = cost  # logged with this request (``RecordedRequest.points``)
        limit = USER_LIMIT if login else ANONYMOUS_LIMIT
        return {
            "cost": cost,
            "limit": limit,
            "remaining": max(limit - bucket.used, 0),
            "used": bucket.used,
            "resetAt": bucket.reset_at.strftime("%Y-%m-%dT%H:%M:%SZ"),
        }

    # -- request handling ---------------------------------------------------------------------

    def _handle(self, h: _Handler) -> None:
        parsed = urllib.parse.urlsplit(h.path)
        path = parsed.path
        query = urllib.parse.parse_qsl(parsed.query, keep_blank_values=True)
        length = int(h.headers.get("Content-Length") or 0)
        raw_body = h.rfile.read(length) if length else b""
        method = h.command
        is_graphql = path in GRAPHQL_PATHS
        request_id = uuid.uuid4().hex[:20].upper()
        login: str | None = None
        token: str | None = None
        caller = _Caller()
        status = 500
        recorded = False

        def send(status: int, body: Any, headers: dict[str, str]) -> None:
            # Logged before the first byte leaves: a client that has its answer must find
            # its request already counted.
            nonlocal recorded
            self._record(
                method, path, query, status, is_graphql, login, token, caller.kind, self._charged
            )
            self._charged = 0
            recorded = True
            self._send(h, status, body, headers, request_id)

        try:
            rule = self._take_fault(method, path)
            self._late_writes_now()
            if rule is not None and rule.drop:
                self._lose_answer(rule, h, method, path, query, raw_body)
                status = 0
                return
            if rule is not None and rule.delay:
                time.sleep(rule.delay)
            with self._store.lock:
                auth = h.headers.get("Authorization")
                token = _token(auth)
                if auth is not None:
                    try:
                        caller = self._authenticate(token or "")
                    except ApiError as err:
                        status = err.status
                        send(err.status, err.body, {})
                        return
                    login = caller.login
                resource = _resource(path, is_graphql)
                if rule is not None and _answers(rule):
                    if rule.applied:
                        try:
                            self._answer(method, path, query, raw_body, caller, is_graphql, h)
                        except Exception as err:  # an emulator bug: keep it for the test
                            self.errors.append(err)
                    status = rule.status or 500
                    body = rule.body if rule.body is not None else _fault_body(rule, request_id)
                    headers = self._rate_headers(login, resource)
                    headers.update(rule.headers or {})
                    send(status, body, headers)
                    return
                try:
                    status, body, headers = self._answer(
                        method, path, query, raw_body, caller, is_graphql, h
                    )
                except Exception as err:  # an emulator bug: answer 500, keep it for the test
                    self.errors.append(err)
                    status, body, headers = 500, _error_body(500, f"emulator error: {err!r}"), {}
                send(status, body, headers)
        finally:
            if not recorded:
                self._record(method, path, query, status, is_graphql, login, token, caller.kind)

    def _lose_answer(
        self,
        rule: FaultRule,
        h: _Handler,
        method: str,
        path: str,
        query: list[tuple[str, str]],
        raw_body: bytes,
    ) -> None:
        """``inject_lost_answer``: carry the request out (now, or once ``unseen_for`` more
        requests came), then close the connection without an answer."""
        with self._store.lock:
            caller = self._authenticate(_token(h.headers.get("Authorization")) or "")
            is_graphql = path in GRAPHQL_PATHS

            def carry_out() -> None:
                try:
                    self._answer(method, path, query, raw_body, caller, is_graphql, h)
                except Exception as err:  # an emulator bug: keep it for the test
                    self.errors.append(err)

            # counted from the request's arrival, so the client's reads during the delay count
            self._late_writes.append([rule.unseen_for, carry_out])
            if rule.unseen_for == 0 and not rule.delay:
                self._late_writes_now()
        if rule.delay:
            time.sleep(rule.delay)
            with self._store.lock:
                self._late_writes = [w for w in self._late_writes if not _due_now(w)]
        h.close_connection = True

    def _late_writes_now(self) -> None:
        """Carry out the lost-answer writes whose time has come (one more request seen)."""
        with self._store.lock:
            waiting = []
            for write in self._late_writes:
                if write[0] <= 0:
                    write[1]()
                else:
                    write[0] -= 1
                    waiting.append(write)
            self._late_writes = waiting

    def _authenticate(self, token: str) -> _Caller:
        """Who a token is: a user, an App installation (live token) or an App (valid JWT).

        An unknown or expired token is 401 "Bad credentials"; a bad JWT is 401 with
        GitHub's JWT message (see ``github_apps``)."""
        now = self._store.now()
        login = self._store.tokens.get(token)
        if login is not None:
            return _Caller(login, "user")
        if token in self._store.installation_tokens:
            live = github_apps.token_for(self._store, token, now)
            if live is None:
                raise ApiError(401, "Bad credentials")
            installation = live.installation
            return _Caller(installation.app.bot_login, "installation", installation=installation)
        if github_apps.looks_like_jwt(token):
            app = github_apps.verify_jwt(self._store, token, now)
            return _Caller(f"app:{app.slug}", "app", app=app)
        raise ApiError(401, "Bad credentials")

    def _record(
        self,
        method: str,
        path: str,
        query: list[tuple[str, str]],
        status: int,
        graphql: bool,
        login: str | None,
        token: str | None = None,
        auth: str | None = None,
        points: int = 0,
    ) -> None:
        with self._store.lock:
            self._requests.append(
                RecordedRequest(
                    method=method,
                    path=path,
                    query=dict(query),
                    status=status,
                    graphql=graphql,
                    token_login=login,
                    token=token,
                    auth=auth if login is not None else None,
                    points=points,
                )
            )

    def _take_fault(self, method: str, path: str) -> FaultRule | None:
        with self._store.lock:
            for rule in self._faults:
                if rule.matches(method, path):
                    rule.times -= 1
                    return rule
            self._faults = [r for r in self._faults if r.times > 0]
        return None

    def _answer(
        self,
        method: str,
        path: str,
        query: list[tuple[str, str]],
        raw_body: bytes,
        caller: _Caller,
        is_graphql: bool,
        h: _Handler,
    ) -> tuple[int, Any, dict[str, str]]:
        resource = _resource(path, is_graphql)
        login = caller.login
        user = self._store.users.get(login) if login else None
        if is_graphql:
            return self._answer_graphql(method, raw_body, user, caller.installation)
        if not path.startswith(REST_PREFIX + "/") and path != REST_PREFIX:
            return 404, _error_body(404, "Not Found"), self._rate_headers(login, resource)
        sub = path[len(REST_PREFIX) :] or "/"
        if sub == "/rate_limit" and method == "GET":
            body = self.rate_limit_overview(login)
            return self._finish_get(h, 200, body, {}, login, resource, charge=False)
        if self._exhausted():
            user_id = user.id if user else 0
            message = f"API rate limit exceeded for user ID {user_id}."
            body = _error_body(403, message, RATE_LIMIT_DOCS)
            return 403, body, self._rate_headers(login, resource)
        try:
            body_obj = json.loads(raw_body) if raw_body else None
        except ValueError:
            body_obj = None
            if method in ("POST", "PATCH", "PUT"):
                return (
                    400,
                    _error_body(400, "Problems parsing JSON"),
                    self._rate_headers(login, resource),
                )
        request = github_rest.Request(
            method,
            sub,
            query,
            body_obj,
            user,
            self._store,
            app=caller.app,
            installation=caller.installation,
        )
        try:
            response = github_rest.dispatch(request)
        except ApiError as err:
            self._bucket(login, resource).used += 1
            headers = self._rate_headers(login, resource)
            headers.update(err.headers)
            return err.status, err.body, headers
        if method == "GET" and response.status == 200:
            return self._finish_get(
                h, response.status, response.body, response.headers, login, resource
            )
        self._bucket(login, resource).used += 1
        headers = self._rate_headers(login, resource)
        headers.update(response.headers)
        return response.status, response.body, headers

    def _finish_get(
        self,
        h: _Handler,
        status: int,
        body: Any,
        extra: dict[str, str],
        login: str | None,
        resource: str,
        *,
        charge: bool = True,
    ) -> tuple[int, Any, dict[str, str]]:
        digest = hashlib.md5(
            json.dumps([body, login], sort_keys=True).encode(), usedforsecurity=False
        ).hexdigest()
        etag = f'W/"{digest}"'
        if "ETag" in extra:  # the route's own (strong) validator, e.g. a file's contents
            etag = extra["ETag"]
            digest = etag.removeprefix("W/").strip('"')
        wanted = h.headers.get("If-None-Match")
        if wanted is not None and _etag_matches(wanted, digest):
            headers = self._rate_headers(login, resource)
            headers["ETag"] = etag
            return 304, None, headers
        if charge:
            self._bucket(login, resource).used += 1
        headers = self._rate_headers(login, resource)
        headers["ETag"] = etag
        headers.update(extra)
        return status, body, headers

    def _answer_graphql(
        self,
        method: str,
        raw_body: bytes,
        user: User | None,
        installation: Installation | None = None,
    ) -> tuple[int, Any, dict[str, str]]:
        from . import github_graphql

        login = user.login if user else None
        if user is None:
            body = {
                "message": "This endpoint requires you to be authenticated.",
                "documentation_url": "https://docs.github.com/graphql/guides/"
                "forming-calls-with-graphql#authenticating-with-graphql",
            }
            return 401, body, self._rate_headers(None, "graphql")
        if method != "POST":
            return 404, _error_body(404, "Not Found"), self._rate_headers(login, "graphql")
        if self._exhausted():
            message = f"API rate limit exceeded for user ID {user.id}."
            body = {"errors": [{"type": "RATE_LIMITED", "message": message}]}
            return 200, body, self._rate_headers(login, "graphql")
        try:
            payload = json.loads(raw_body or b"null")
        except ValueError:
            payload = None
        if not isinstance(payload, dict) or not isinstance(payload.get("query"), str):
            body = {
                "errors": [{"message": "A query attribute must be specified and must be a string."}]
            }
            return 200, body, self._rate_headers(login, "graphql")
        result = github_graphql.execute(
            self,
            user,
            payload["query"],
            payload.get("variables") or {},
            payload.get("operationName"),
            installation=installation,
        )
        headers = self._rate_headers(login, "graphql")
        headers["X-GitHub-Media-Type"] = "github.v4; format=json"
        return 200, result, headers

    def _send(
        self,
        h: _Handler,
        status: int,
        body: Any,
        headers: dict[str, str],
        request_id: str,
    ) -> None:
        data = b"" if body is None or status in (204, 304) else json.dumps(body).encode()
        h.send_response(
            status, HTTPStatus(status).phrase if status in HTTPStatus._value2member_map_ else ""
        )
        h.send_header("Server", "GitHub.com")
        h.send_header("Date", formatdate(usegmt=True))
        if status not in (204, 304):
            h.send_header("Content-Type", "application/json; charset=utf-8")
        h.send_header("Cache-Control", "private, max-age=60, s-maxage=60")
        h.send_header("Vary", "Accept, Authorization, Cookie, X-GitHub-OTP")
        lower = {k.lower() for k in headers}
        if "x-github-media-type" not in lower:
            h.send_header("X-GitHub-Media-Type", "github.v3; format=json")
        h.send_header("X-GitHub-Api-Version-Selected", "2022-11-28")
        h.send_header(
            "Access-Control-Expose-Headers",
            "ETag, Link, Location, Retry-After, X-GitHub-OTP, X-RateLimit-Limit, "
            "X-RateLimit-Remaining, X-RateLimit-Used, X-RateLimit-Resource, X-RateLimit-Reset, "
            "X-OAuth-Scopes, X-Accepted-OAuth-Scopes, X-Poll-Interval, X-GitHub-Media-Type, "
            "X-GitHub-SSO, X-GitHub-Request-Id, Deprecation, Sunset",
        )
        for key, value in headers.items():
            h.send_header(key, value)
        h.send_header("X-GitHub-Request-Id", request_id)
        if status != 304:
            h.send_header("Content-Length", str(len(data)))
        h.end_headers()
        if data:
            h.wfile.write(data)


@dataclass(frozen=True)
class _Caller:
    """Who sent a request: nobody (anonymous), a user, an installation or an App."""

    login: str | None = None
    kind: str | None = None
    app: App | None = None
    installation: Installation | None = None


class _Server(ThreadingHTTPServer):
    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that hangs up without reading the answer (a retrying client giving up)
        is ordinary here; anything else is an emulator bug and is printed as usual."""
        if isinstance(sys.exc_info()[1], ConnectionError):
            return
        super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers and body go out in separate writes; without TCP_NODELAY the second waits for
    # the client's delayed ACK (~40 ms a request), which would swamp every measurement.
    disable_nagle_algorithm = True
    emu: GitHubEmulator

    def _dispatch(self) -> None:
        self.emu._handle(self)

    do_GET = do_POST = do_PATCH = do_PUT = do_DELETE = _dispatch

    def log_message(self, format: str, *args: Any) -> None:
        pass


def _token(header: str | None) -> str | None:
    if header is None:
        return None
    scheme, _, value = header.partition(" ")
    if scheme.lower() in ("token", "bearer"):
        return value.strip()
    return None


def _due_now(write: list[Any]) -> bool:
    """A late write with no requests left to wait for is carried out now (and dropped)."""
    if write[0] <= 0:
        write[1]()
        return True
    return False


def _answers(rule: FaultRule) -> bool:
    if rule.status is None:
        return False
    return not (rule.status < 400 and rule.body is None)


def _error_body(
    status: int, message: str, docs: str = "https://docs.github.com/rest"
) -> dict[str, Any]:
    return {"message": message, "documentation_url": docs, "status": str(status)}


def _fault_body(rule: FaultRule, request_id: str) -> dict[str, Any]:
    if rule.kind == "secondary":
        message = (
            "You have exceeded a secondary rate limit. Please wait a few minutes before you try "
            "again. If you reach out to GitHub Support for help, please include the request ID "
            f"{request_id}."
        )
        return _error_body(rule.status or 403, message, SECONDARY_DOCS)
    status = rule.status or 500
    phrase = HTTPStatus(status).phrase if status in HTTPStatus._value2member_map_ else "Error"
    return _error_body(status, phrase if status < 500 else "Server Error")


def _etag_matches(header: str, digest: str) -> bool:
    for candidate in header.split(","):
        candidate = candidate.strip().removeprefix("W/").strip('"')
        if candidate in (digest, "*"):
            return True
    return False


@contextmanager
def running(**kwargs: Any) -> Iterator[GitHubEmulator]:
    """``with running() as emu:`` - a started emulator, stopped afterwards."""
    emu = GitHubEmulator(**kwargs)
    emu.start()
    try:
        yield emu
    finally:
        emu.stop()
