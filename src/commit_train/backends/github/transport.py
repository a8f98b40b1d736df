"""The GitHub backend's HTTP: PyGithub's requester, counted, retried and made to write once.

Why one module of ~660 lines: retrying, rate limits, counting and sending a write once are
one policy wrapped around every request; split, the rules for when a request may be sent
again (the thing a reader checks) would be spread over files.

How requests are made
    PyGithub's ``Requester`` does the authentication, URL building and error bodies. Its
    high-level objects are used only where one call is one request and the answer is
    complete (``Repository.create_deployment``); everything else goes through
    ``Transport.rest`` (``Requester.requestJsonAndCheck``) and ``Transport.graphql`` so the
    number of requests stays visible in the code.

Counting and retrying
    Every HTTP attempt passes through ``_CountingAdapter``, a ``requests`` transport adapter
    mounted on PyGithub's session, so ``request_count`` counts retries too. The adapter
    owns the retry policy (PyGithub's own ``GithubRetry`` is switched off so the two never
    stack): 5xx answers and connection errors are retried with exponential backoff; a
    primary rate limit (403/429 with ``x-ratelimit-remaining: 0``) waits until
    ``x-ratelimit-reset``; a secondary limit (``retry-after``, or GitHub's "secondary rate
    limit" message) waits as asked. Attempts are bounded (``max_attempts``); a wait longer
    than ``max_wait`` raises ``RateLimitError`` at once, and the last failed attempt raises
    ``GitHubUnavailableError``. Which error each answer becomes is ``answers.ANSWERS``.

Writes that must happen once
    A 5xx answer, a timeout or a connection dropped after the request went out leave a
    write's fate unknown: GitHub may have carried it out and lost only the answer. Reads,
    GraphQL queries and the lock writes are replayed as above (a lock ref created twice
    answers 422 "already exists", which ``create_ref`` reads as "held"; a lock commit
    object made twice is an unreferenced duplicate). Creating a deployment is not: each
    one fires its own ``deployment`` event, so a replayed POST would start a second
    pipeline run. ``create_deployment`` therefore sends ``payload["request_id"]`` (a new
    random nonce, the same for every attempt of one request) and, after an ambiguous
    failure, reads the deployments of that commit and environment and adopts the one
    carrying its nonce; only when none does is the POST sent again
    (``Transport.write_once``). A deployment status is treated the same way (each fires a
    ``deployment_status`` event, and the offline replay counts statuses): the deployment's
    statuses are read back and one equal to the status just sent is adopted. A 403 or 429
    rate-limit answer means GitHub did not process the request, so it is simply retried,
    and so is a connection that was never opened.

    How long to look: an answer from GitHub itself (500, 503) comes after its work on the
    request ended, so one read tells. A timeout, a dropped connection or a proxy's 502 or
    504 can come while GitHub is still at work: it cuts a request off only after 10 s, the
    work may go on past the client's 15 s timeout, and a read replica can show a write
    late. Then the look-up is a bounded watch (``SETTLE``): reads 1, 2, 4, 8 and 15 s
    after the failure, 30 s in all, stopping at the first that finds the write. Only
    after the whole watch comes up empty is the write sent again, with the same nonce,
    so whichever of the two GitHub records is found next time. The cost is bounded:
    ``max_attempts`` sends, each followed by at most 5 reads.

Progress
    Every wait before another attempt is told first, as one line, to the ``on_wait``
    callback the face gives (the CLI writes it to stderr, an action to its log; this
    package never prints): "GitHub answered 503; retrying in 4 s (2 of 4)", "GitHub's rate
    limit is spent; waiting 60 s until 12:01:00 UTC (2 of 4)": the attempt to come, of
    ``max_attempts``. A wait that would be too long is not waited: it raises at once.

Pauses
    PyGithub sleeps 0.25 s before every request and 1 s before every write by default.
    Both are 0 here: GitHub asks clients to serialize writes (we do: one thread, each
    request waits for its answer) and to avoid bursts of content-creating requests; a
    whole deploy makes a handful of writes, and should a secondary limit still answer, the
    retry above honours its ``retry-after``. A fixed pause would cost seconds per deploy and
    protect nothing.
"""

from __future__ import annotations

import json
import threading
import urllib.parse
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any, TypeVar

import github
import requests
import requests.adapters
from github import Auth, GithubException

from commit_train.backends.github.answers import (
    NETWORK_FIX,
    UNAVAILABLE_FIX,
    error_for,
    spent_until,
)
from commit_train.errors import (
    CommitTrainError,
    GitHubError,
    GitHubUnavailableError,
)

DEFAULT_API_URL = "https://api.github.com"
_SECONDARY_MESSAGES = (
    "you have exceeded a secondary rate limit",
    "please retry your request again later.",
    "please wait a few minutes before you try again.",
)
# GitHub's own advice when a secondary limit answers without retry-after: wait a minute.
_SECONDARY_DEFAULT_WAIT = 60.0
# After a failure that may come while GitHub is still at work (see "How long to look"):
# the pauses before each read of the write's look-up, 30 s in all.
SETTLE = (1.0, 2.0, 4.0, 8.0, 15.0)
# Answers GitHub's own servers give once their work on a request is over.
_ANSWERED_BY_GITHUB = frozenset({500, 501, 503, 505})
_T = TypeVar("_T")


def next_link(link_header: str | None) -> str | None:
    """The ``rel="next"`` URL of a ``Link`` header, or None on the last page."""
    if not link_header:
        return None
    for part in link_header.split(","):
        section = part.split(";")
        if len(section) < 2:
            continue
        url = section[0].strip()
        if any(p.strip() == 'rel="next"' for p in section[1:]) and url.startswith("<"):
            return url[1:-1]
    return None


def graphql_url_for(api_url: str) -> str:
    """GraphQL endpoint of a REST base: ``https://HOST/api/v3`` -> ``https://HOST/api/graphql``."""
    parts = urllib.parse.urlsplit(api_url.rstrip("/"))
    path = parts.path
    if path.endswith("/v3"):
        path = path[: -len("/v3")]
    return urllib.parse.urlunsplit(parts._replace(path=path + "/graphql"))


def web_url_for(api_url: str) -> str:
    """The web address behind an API base: api.github.com -> github.com, GHE strips /api/v3."""
    parts = urllib.parse.urlsplit(api_url.rstrip("/"))
    if parts.hostname == "api.github.com":
        return "https://github.com"
    path = parts.path
    for suffix in ("/api/v3", "/api"):
        if path.endswith(suffix):
            path = path[: -len(suffix)]
            break
    return urllib.parse.urlunsplit(parts._replace(path=path))


def _error_message(body: bytes) -> str:
    try:
        data = json.loads(body)
    except ValueError:
        return ""
    return str(data.get("message") or "") if isinstance(data, dict) else ""


class _LostAnswer(GitHubUnavailableError):
    """A write sent once (``_Policy.once``) failed in a way that leaves it unknown whether
    GitHub carried it out: a 5xx answer, a timeout, a connection dropped after sending.
    The adapter raises it at the first such failure instead of replaying the request; the
    backend looks the write up before sending it again. ``settled`` says GitHub's work on
    the request is over (GitHub itself answered), so one look-up tells."""

    settled = False


def _never_sent(exc: BaseException) -> bool:
    """Whether a connection error happened before the request could reach GitHub (no
    connection was opened), so replaying it cannot make a second write."""
    import urllib3.exceptions

    if isinstance(exc, requests.ConnectTimeout):
        return True
    for arg in exc.args:
        reason = getattr(arg, "reason", arg)
        if isinstance(reason, urllib3.exceptions.NewConnectionError):
            return True
    return False


class _Policy:
    """Request counter and retry policy shared by every adapter of one backend."""

    def __init__(
        self,
        *,
        max_wait: float,
        max_attempts: int,
        backoff: float,
        sleep: Callable[[float], None],
        clock: Callable[[], float],
        on_wait: Callable[[str], None] | None = None,
    ) -> None:
        self.max_wait = max_wait
        self.max_attempts = max(1, max_attempts)
        self.backoff = backoff
        self.sleep = sleep
        self.clock = clock
        self.on_wait = on_wait
        self.count = 0
        self._lock = threading.Lock()
        self._local = threading.local()

    @contextmanager
    def once(self) -> Iterator[None]:
        """Within this block, a request whose fate is unknown raises ``_LostAnswer``
        instead of being sent again (see "Writes that must happen once")."""
        self._local.once = True
        try:
            yield
        finally:
            self._local.once = False

    @property
    def sending_once(self) -> bool:
        return bool(getattr(self._local, "once", False))

    def counted(self) -> None:
        with self._lock:
            self.count += 1

    def backoff_wait(self, attempt: int) -> float:
        return float(min(self.backoff * 2 ** (attempt - 1), self.max_wait))

    def pause(self, seconds: float, line: str, *, attempt: int) -> None:
        """Sleep ``seconds`` before attempt ``attempt + 1``, telling ``on_wait`` first:
        ``line`` and "(2 of 4)", the attempt to come of the most there will be."""
        if self.on_wait is not None:
            self.on_wait(f"{line} ({attempt + 1} of {self.max_attempts})")
        self.sleep(seconds)

    def rate_limit_wait(
        self, response: requests.Response
    ) -> tuple[float, str, dict[str, Any]] | None:
        """(seconds to wait, its row of ``ANSWERS``, the facts for its message) when the
        answer is a rate limit, else None."""
        if response.status_code not in (403, 429):
            return None
        headers = response.headers
        method, path = _describe(response.request)
        retry_after = headers.get("retry-after")
        remaining = headers.get("x-ratelimit-remaining")
        message = _error_message(response.content).lower()
        if retry_after is not None:
            try:
                wait = max(float(retry_after), 0.0)
            except ValueError:
                wait = _SECONDARY_DEFAULT_WAIT
            return wait, "secondary limit", {"method": method, "path": path, "wait": wait}
        if remaining == "0" and headers.get("x-ratelimit-reset"):
            reset = float(headers["x-ratelimit-reset"])
            now = self.clock()
            wait = max(reset - now, 0.0) + 1.0
            at = datetime.fromtimestamp(reset, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
            return wait, "primary limit", {"until": spent_until(reset, now), "at": at}
        if (
            response.status_code == 429
            or message.startswith(_SECONDARY_MESSAGES[0])
            or (message.endswith(_SECONDARY_MESSAGES[1:]))
        ):
            return (
                _SECONDARY_DEFAULT_WAIT,
                "secondary limit, no retry-after",
                {"method": method, "path": path, "wait": _SECONDARY_DEFAULT_WAIT},
            )
        return None


def _seconds(seconds: float) -> str:
    """``4 s``, ``0.5 s``, ``60 s``: a wait as a person reads it."""
    return f"{seconds:.0f} s" if seconds >= 1 or seconds == 0 else f"{seconds:.1g} s"


def _limit_line(kind: str, wait: float, facts: dict[str, Any]) -> str:
    """A rate-limit wait as one progress line (``_Policy.pause`` adds the attempt)."""
    if kind == "primary limit":
        clock_time = str(facts.get("at", "")).split(" ")[1:2] or ["?"]
        return f"GitHub's rate limit is spent; waiting {_seconds(wait)} until {clock_time[0]} UTC"
    return f"GitHub's secondary rate limit answered; waiting {_seconds(wait)}"


def _describe(request: requests.PreparedRequest | None) -> tuple[str, str]:
    if request is None:
        return "?", "?"
    path = urllib.parse.urlsplit(request.url or "").path
    return str(request.method), path


class _CountingAdapter(requests.adapters.HTTPAdapter):
    """Counts every attempt and retries by ``_Policy``; raises our errors when it gives up."""

    def __init__(self, policy: _Policy) -> None:
        super().__init__(max_retries=0)
        self._policy = policy

    def send(
        self, request: requests.PreparedRequest, *args: Any, **kwargs: Any
    ) -> requests.Response:
        policy = self._policy
        method, path = _describe(request)
        attempt = 0
        while True:
            attempt += 1
            policy.counted()
            try:
                response = super().send(request, *args, **kwargs)
            except (requests.ConnectionError, requests.Timeout) as exc:
                if policy.sending_once and not _never_sent(exc):
                    raise _LostAnswer(
                        f"the connection to GitHub failed during {method} {path} "
                        f"({type(exc).__name__})",
                        fix=NETWORK_FIX,
                    ) from exc
                if attempt >= policy.max_attempts:
                    raise error_for(
                        "no connection",
                        host=urllib.parse.urlsplit(request.url or "").netloc,
                        method=method,
                        path=path,
                        attempts=attempt,
                        exception=type(exc).__name__,
                    ) from exc
                wait = policy.backoff_wait(attempt)
                policy.pause(
                    wait,
                    f"GitHub did not answer ({type(exc).__name__}); retrying in {_seconds(wait)}",
                    attempt=attempt,
                )
                continue
            limited = policy.rate_limit_wait(response)
            if limited is not None:
                wait, kind, facts = limited
                if wait > policy.max_wait or attempt >= policy.max_attempts:
                    response.close()
                    raise error_for(kind, status=response.status_code, delay=wait, **facts)
                _ = response.content
                response.close()
                policy.pause(wait, _limit_line(kind, wait, facts), attempt=attempt)
                continue
            if response.status_code >= 500:
                if policy.sending_once:
                    response.close()
                    lost = _LostAnswer(
                        f"GitHub answered {response.status_code} to {method} {path}",
                        status=response.status_code,
                        fix=UNAVAILABLE_FIX,
                    )
                    lost.settled = response.status_code in _ANSWERED_BY_GITHUB
                    raise lost
                if attempt >= policy.max_attempts:
                    response.close()
                    raise error_for(
                        response.status_code,
                        status=response.status_code,
                        method=method,
                        path=path,
                        attempts=attempt,
                    )
                _ = response.content
                response.close()
                wait = policy.backoff_wait(attempt)
                policy.pause(
                    wait,
                    f"GitHub answered {response.status_code}; retrying in {_seconds(wait)}",
                    attempt=attempt,
                )
                continue
            return response


def _counting_connection_class(base: type[Any], policy: _Policy) -> type[Any]:
    """PyGithub's connection class, with our adapter mounted on its ``requests`` session."""

    class CountingConnection(base):  # type: ignore[misc]
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            adapter = _CountingAdapter(policy)
            self.session.mount(f"{self.protocol}://", adapter)

    return CountingConnection


# --------------------------------------------------------------------------------------
# The backend.


class Transport:
    """One repository's requests: PyGithub set up with the counting adapter, REST and
    GraphQL calls that turn GitHub's error answers into commit-train's errors, and
    ``write_once`` for the writes that must not be replayed."""

    def __init__(
        self,
        repo: str,
        *,
        token: str,
        api_url: str,
        max_wait: float,
        max_attempts: int,
        backoff: float,
        timeout: int,
        user_agent: str,
        sleep: Callable[[float], None],
        clock: Callable[[], float],
        on_wait: Callable[[str], None] | None = None,
    ) -> None:
        self.repo = repo
        self.owner, _, self.name = repo.partition("/")
        self.api_url = api_url
        self.graphql_url = graphql_url_for(api_url)
        self._policy = _Policy(
            max_wait=max_wait,
            max_attempts=max_attempts,
            backoff=backoff,
            sleep=sleep,
            clock=clock,
            on_wait=on_wait,
        )
        self.gh = github.Github(
            auth=Auth.Token(token),
            base_url=api_url,
            timeout=timeout,
            user_agent=user_agent,
            per_page=100,
            retry=None,  # our adapter retries; two retry layers would multiply the attempts
            seconds_between_requests=0.0,  # see "Pauses" in the module docstring
            seconds_between_writes=0.0,
            lazy=True,
        )
        self._requester = self.gh.requester
        self._install_counter()

    def _install_counter(self) -> None:
        # PyGithub builds its HTTP connection lazily from this (name-mangled) attribute;
        # replacing it on this instance only is the one seam that sees every attempt.
        attribute = "_Requester__connectionClass"
        base = getattr(self._requester, attribute, None)
        if base is None:
            raise GitHubError(
                "this PyGithub version has no connection seam commit-train can count requests on",
                fix="install a supported PyGithub (2.x, tested with 2.10)",
            )
        setattr(self._requester, attribute, _counting_connection_class(base, self._policy))

    @property
    def request_count(self) -> int:
        """HTTP requests made so far, every retry included."""
        return self._policy.count

    def close(self) -> None:
        self.gh.close()

    def path(self, *parts: str) -> str:
        """``/repos/OWNER/NAME/part/part``."""
        return "/repos/" + self.repo + "".join("/" + p for p in parts)

    def deployment_url(self, deployment_id: Any) -> str | None:
        """The API address of a deployment (what REST answers as its ``url``)."""
        if deployment_id is None:
            return None
        return f"{self.api_url}{self.path('deployments', str(deployment_id))}"

    def repo_not_found(self) -> CommitTrainError:
        """The repository itself is not there (or the token cannot see it)."""
        return error_for("NOT_FOUND", repo=self.repo, api_url=self.api_url)

    @contextmanager
    def calling(
        self, action: str, *, not_found: Callable[[], CommitTrainError] | None = None
    ) -> Iterator[None]:
        """Turn PyGithub's exceptions into ours, naming ``action`` and the fix."""
        try:
            yield
        except GithubException as exc:
            raise self._translate(exc, action, not_found) from exc

    def _translate(
        self,
        exc: GithubException,
        action: str,
        not_found: Callable[[], CommitTrainError] | None,
    ) -> CommitTrainError:
        """The error ``ANSWERS`` gives for PyGithub's exception; ``not_found`` (when given)
        words a 404 for what was looked up."""
        status = int(exc.status)
        data = exc.data if isinstance(exc.data, dict) else {}
        message = str(data.get("message") or exc.message or "")
        details = [
            str(e.get("message") or e.get("code"))
            for e in data.get("errors") or []
            if isinstance(e, dict)
        ]
        said = "; ".join([m for m in [message, *details] if m])
        if status == 404 and not_found is not None:
            return not_found()
        return error_for(status, status=status, action=action, said=said, repo=self.repo)

    def rest(
        self,
        verb: str,
        url: str,
        *,
        action: str,
        params: dict[str, Any] | None = None,
        body: Any = None,
        not_found: Callable[[], CommitTrainError] | None = None,
    ) -> tuple[dict[str, Any], Any]:
        with self.calling(action, not_found=not_found):
            headers, data = self._requester.requestJsonAndCheck(
                verb,
                url,
                parameters=params,
                headers={"Accept": "application/vnd.github+json"},
                input=body,
            )
        return headers, data

    def pages(
        self,
        url: str,
        *,
        action: str,
        params: dict[str, Any] | None = None,
        key: str | None = None,
        limit: int | None = None,
        not_found: Callable[[], CommitTrainError] | None = None,
    ) -> Iterator[dict[str, Any]]:
        """Items of a paginated REST list, following ``Link: rel="next"``."""
        seen = 0
        next_url: str | None = url
        query: dict[str, Any] | None = {"per_page": 100, **(params or {})}
        while next_url is not None:
            headers, data = self.rest(
                "GET", next_url, action=action, params=query, not_found=not_found
            )
            items = data.get(key, []) if key is not None else data
            for item in items or []:
                yield item
                seen += 1
                if limit is not None and seen >= limit:
                    return
            next_url = next_link(headers.get("link"))
            query = None  # the next link carries its own query

    def graphql(
        self,
        query: str,
        variables: dict[str, Any],
        *,
        action: str,
        nullable: Sequence[Sequence[str]] = (),
        scoped: bool = True,
    ) -> dict[str, Any]:
        """One GraphQL request; GitHub's ``errors`` become our errors.

        ``scoped`` queries take the repository as ``$owner`` and ``$name``; the others get
        no variables they do not declare.

        GitHub answers a spent GraphQL limit with 200 and a ``RATE_LIMITED`` error, not a
        403, so that case is waited for here by the same rules as the transport's. An error
        whose ``path`` lies under one of ``nullable`` (beside data) only leaves that field
        null: the caller reads the null.
        """
        attempt = 0
        while True:
            attempt += 1
            headers, data = self.rest(
                "POST",
                self.graphql_url,
                action=action,
                body={
                    "query": query,
                    "variables": (
                        {"owner": self.owner, "name": self.name, **variables}
                        if scoped
                        else variables
                    ),
                },
            )
            if not isinstance(data, dict):
                raise error_for("no data", what="JSON object", action=action)
            errors = data.get("errors") or []
            first = errors[0] if errors and isinstance(errors[0], dict) else {}
            if first.get("type") != "RATE_LIMITED":
                break
            reset = headers.get("x-ratelimit-reset")
            now = self._policy.clock()
            wait = max(float(reset) - now, 0.0) + 1.0 if reset else None
            if wait is None or wait > self._policy.max_wait or attempt >= self._policy.max_attempts:
                raise error_for(
                    "RATE_LIMITED",
                    delay=wait,
                    until=spent_until(float(reset) if reset else None, now),
                )
            at = datetime.fromtimestamp(float(str(reset)), UTC).strftime("%H:%M:%S")
            self._policy.pause(
                wait,
                f"GitHub's rate limit is spent; waiting {_seconds(wait)} until {at} UTC",
                attempt=attempt,
            )
        if errors and nullable and isinstance(data.get("data"), dict):
            errors = [e for e in errors if not _under(e, nullable)]
            first = errors[0] if errors and isinstance(errors[0], dict) else {}
        if errors:
            kind = str(first.get("type") or "")
            if kind == "NOT_FOUND" and list(first.get("path") or ["repository"])[:1] != [
                "repository"
            ]:
                kind = "NOT_FOUND, not the repository"
            more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
            raise error_for(
                kind or "graphql",
                action=action,
                said=str(first.get("message") or errors[0]) + more,
                repo=self.repo,
                api_url=self.api_url,
            )
        result = data.get("data")
        if not isinstance(result, dict):
            raise error_for("no data", what="data", action=action)
        if "repository" in result and result["repository"] is None:
            raise self.repo_not_found()
        return result

    def write_once(self, noun: str, send: Callable[[], _T], find: Callable[[], _T | None]) -> _T:
        """``send`` a write that must happen once (see "Writes that must happen once" above).

        When its fate is unknown, ``find`` it: once after the backoff when GitHub itself
        answered, else at each pause of ``SETTLE`` until found; adopt what ``find``
        answers. Only when every look-up answers None is the write sent again, up to
        ``max_attempts`` sends in all.
        """
        policy = self._policy
        attempt = 0
        while True:
            attempt += 1
            try:
                with policy.once():
                    return send()
            except _LostAnswer as lost:
                pauses = (policy.backoff_wait(attempt),) if lost.settled else SETTLE
                for read, pause in enumerate(pauses):
                    again = " again" if read else ""
                    policy.pause(
                        pause,
                        f"{lost.message}; looking{again} whether GitHub recorded the {noun} "
                        f"in {_seconds(pause)}",
                        attempt=attempt,
                    )
                    try:
                        found = find()
                    except CommitTrainError as exc:
                        raise GitHubUnavailableError(
                            f"{lost.message}, and whether GitHub recorded the {noun} is "
                            f"unknown ({exc.message})",
                            status=lost.status,
                            fix="look at commit-train history before trying again",
                        ) from exc
                    if found is not None:
                        return found
                if attempt >= policy.max_attempts:
                    raise GitHubUnavailableError(
                        f"{lost.message} ({attempt} attempts, no {noun} recorded)",
                        status=lost.status,
                        fix=lost.fix,
                    ) from lost


def _under(error: Any, paths: Sequence[Sequence[str]]) -> bool:
    """Whether a GraphQL error's ``path`` starts with one of ``paths``."""
    path = list(error.get("path") or []) if isinstance(error, dict) else []
    return any(path[: len(p)] == list(p) for p in paths)
