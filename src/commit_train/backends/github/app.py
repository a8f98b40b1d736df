"""How a long-running service reaches GitHub: a plain token, or a GitHub App's installations.

``GitHubAccess`` hands out a ``GitHubBackend`` per repository (a new one per command, as the
CLI builds one per run, so each command's requests are counted on their own), and answers the
few questions the deploy service asks beside the train's:

- a repository's file on its default branch (``read_file``: the contents API, with the ETag
  of the last answer sent as ``If-None-Match``, so an unchanged file answers 304, which GitHub
  does not count against the rate limit; "Best practices for using the REST API");
- whether a person is in a team (``team_member``: "Get team membership for a user", 200 with
  ``state: active``; 404 otherwise);
- whose public email an address is (``login_for_email``: "Search users", ``in:email``).

As a GitHub App (``GITHUB_APP_ID`` and ``GITHUB_APP_PRIVATE_KEY``) the App authenticates with a
JWT (PyGithub's ``Auth.AppAuth`` through ``GithubIntegration``), finds the installation of each
repository (``GET /repos/{owner}/{repo}/installation``, remembered) and makes an installation
token for it (``POST /app/installations/{id}/access_tokens``). A token lives an hour; it is kept
and used until ``RENEW_BEFORE`` seconds before it expires, then a new one is made. Nothing is
written anywhere: a restarted or second replica simply makes its own tokens.
"""

from __future__ import annotations

import base64
import threading
import time
import urllib.parse
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import requests
from github import Auth, GithubException, GithubIntegration

from commit_train import __version__
from commit_train.backends.github.backend import GitHubBackend
from commit_train.backends.github.transport import DEFAULT_API_URL
from commit_train.errors import AuthError, GitHubError, NotFoundError, UsageError

RENEW_BEFORE = 300.0  # seconds: an installation token is renewed five minutes before it expires
APP_FIX = (
    "install the GitHub App on the repository's account (with contents read and deployments "
    "write), or check GITHUB_APP_ID and GITHUB_APP_PRIVATE_KEY"
)


@dataclass
class _Token:
    value: str
    expires_at: float  # epoch seconds; inf for a plain token


@dataclass
class _Cached:
    etag: str
    text: str | None


class GitHubAccess:
    """A plain token for every repository, or a GitHub App's installation tokens."""

    def __init__(
        self,
        *,
        api_url: str = DEFAULT_API_URL,
        token: str | None = None,
        app_id: str | None = None,
        private_key: str | None = None,
        clock: Callable[[], float] = time.time,
        timeout: float = 15.0,
    ) -> None:
        if not token and not (app_id and private_key):
            raise AuthError(
                "no GitHub credentials",
                fix="set GITHUB_APP_ID and GITHUB_APP_PRIVATE_KEY (a GitHub App), or GITHUB_TOKEN",
            )
        self.api_url = api_url.rstrip("/")
        self._token = token
        self._clock = clock
        self._timeout = timeout
        self._lock = threading.Lock()
        self._installations: dict[str, int] = {}
        self._tokens: dict[int, _Token] = {}
        self._files: dict[tuple[str, str], _Cached] = {}
        self._session = requests.Session()
        self._session.headers["User-Agent"] = f"commit-train/{__version__}"
        self.request_count = 0  # requests made here (the backends count their own)
        # hears of every retry and rate-limit wait of the backends handed out (the service
        # logs them, as the CLI writes them to stderr)
        self.on_wait: Callable[[str], None] | None = None
        self._integration: GithubIntegration | None = None
        if not token and app_id and private_key:
            self._integration = GithubIntegration(
                auth=Auth.AppAuth(app_id, private_key),
                base_url=self.api_url,
                timeout=int(timeout),
            )

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> GitHubAccess:
        """From ``GITHUB_APP_ID`` + ``GITHUB_APP_PRIVATE_KEY`` (the key's PEM text), else
        ``GITHUB_TOKEN`` / ``GH_TOKEN``; ``GITHUB_API_URL`` for GitHub Enterprise."""
        key = environ.get("GITHUB_APP_PRIVATE_KEY") or None
        if key is not None and "\\n" in key and "\n" not in key:
            key = key.replace("\\n", "\n")  # a key pasted into one line of an env file
        return cls(
            api_url=environ.get("GITHUB_API_URL") or DEFAULT_API_URL,
            token=environ.get("GITHUB_TOKEN") or environ.get("GH_TOKEN") or None,
            app_id=environ.get("GITHUB_APP_ID") or None,
            private_key=key,
        )

    @property
    def as_app(self) -> bool:
        return self._integration is not None

    # -- tokens ---------------------------------------------------------------------------

    def token_for(self, repo: str) -> str:
        """A token that reads and deploys ``repo``: the plain one, or its installation's."""
        if self._integration is None:
            return str(self._token)
        with self._lock:
            installation = self._installations.get(repo.lower())
        if installation is None:
            installation = self._find_installation(repo)
        with self._lock:
            cached = self._tokens.get(installation)
            if cached is not None and cached.expires_at - RENEW_BEFORE > self._clock():
                return cached.value
        made = self._make_token(installation)
        with self._lock:
            self._tokens[installation] = made
        return made.value

    def _find_installation(self, repo: str) -> int:
        owner, _, name = repo.partition("/")
        integration = self._integration
        if integration is None:  # pragma: no cover - only called as an App
            raise UsageError("not a GitHub App")
        try:
            self.request_count += 1
            found = integration.get_repo_installation(owner, name)
            installation = int(found.id)
        except GithubException as exc:
            if exc.status == 404:
                raise NotFoundError(
                    f"the GitHub App is not installed on {repo} (or it does not exist)",
                    fix=APP_FIX,
                ) from None
            raise self._app_error(exc, f"find the installation of {repo}") from None
        with self._lock:
            self._installations[repo.lower()] = installation
        return installation

    def _make_token(self, installation: int) -> _Token:
        integration = self._integration
        if integration is None:  # pragma: no cover
            raise UsageError("not a GitHub App")
        try:
            self.request_count += 1
            answer = integration.get_access_token(installation)
        except GithubException as exc:
            raise self._app_error(exc, f"make a token for installation {installation}") from None
        expires = answer.expires_at
        expires_at = expires.timestamp() if isinstance(expires, datetime) else self._clock() + 3600
        return _Token(str(answer.token), expires_at)

    @staticmethod
    def _app_error(exc: GithubException, action: str) -> GitHubError:
        data = exc.data if isinstance(exc.data, dict) else {}
        said = str(data.get("message") or exc.message or "")
        if exc.status in (401, 403):
            return AuthError(
                f"GitHub refused the App to {action}: {exc.status} {said}", fix=APP_FIX
            )
        return GitHubError(f"GitHub could not {action}: {exc.status} {said}", status=exc.status)

    # -- the train's backend --------------------------------------------------------------

    def backend(self, repo: str) -> GitHubBackend:
        """A fresh backend for ``repo`` with a live token (one per command)."""
        return GitHubBackend(
            repo, token=self.token_for(repo), base_url=self.api_url, on_wait=self.on_wait
        )

    # -- plain requests -------------------------------------------------------------------

    def _get(
        self, repo: str, path: str, *, headers: Mapping[str, str] | None = None
    ) -> requests.Response:
        url = self.api_url + path
        sent = {
            "Accept": "application/vnd.github+json",
            "Authorization": f"Bearer {self.token_for(repo)}",
            **(headers or {}),
        }
        self.request_count += 1
        try:
            response = self._session.get(url, headers=sent, timeout=self._timeout)
        except requests.RequestException as exc:
            host = urllib.parse.urlsplit(url).netloc
            raise GitHubError(
                f"could not reach GitHub at {host} ({type(exc).__name__})",
                fix="check the network and GITHUB_API_URL",
            ) from None
        if response.status_code == 401:
            raise AuthError(
                f"GitHub rejected the token for GET {urllib.parse.urlsplit(url).path} (401)",
                fix="check GITHUB_TOKEN, or the GitHub App's key",
            )
        return response

    def read_file(self, repo: str, path: str) -> str | None:
        """The text of ``path`` on ``repo``'s default branch; None when it is not there.

        A conditional request: an unchanged file answers 304 and the text kept from the last
        answer is used."""
        key = (repo.lower(), path)
        with self._lock:
            cached = self._files.get(key)
        quoted = urllib.parse.quote(path)
        response = self._get(
            repo,
            f"/repos/{repo}/contents/{quoted}",
            headers={"If-None-Match": cached.etag} if cached is not None else None,
        )
        if response.status_code == 304 and cached is not None:
            return cached.text
        if response.status_code == 404:
            text = None
        elif response.status_code == 200:
            data: Any = response.json()
            if not isinstance(data, dict) or data.get("type") != "file":
                raise GitHubError(f"{path} in {repo} is not a file", fix=f"make {path} a file")
            text = base64.b64decode(str(data.get("content") or "")).decode("utf-8")
        elif response.status_code == 403:
            raise AuthError(
                f"GitHub refused to read {path} of {repo} (403)",
                fix="give the token or the App contents: read on the repository",
            )
        else:
            raise GitHubError(
                f"GitHub answered {response.status_code} to reading {path} of {repo}",
                status=response.status_code,
            )
        etag = response.headers.get("ETag")
        if etag:
            with self._lock:
                self._files[key] = _Cached(etag, text)
        return text

    def team_member(self, org: str, team: str, login: str, *, repo: str) -> bool:
        """Whether ``login`` is an active member of ``org/team`` (asked with ``repo``'s
        token: an App reads teams with the members permission of that installation)."""
        path = (
            f"/orgs/{urllib.parse.quote(org)}/teams/{urllib.parse.quote(team)}"
            f"/memberships/{urllib.parse.quote(login)}"
        )
        response = self._get(repo, path)
        if response.status_code != 200:
            return False
        data = response.json()
        return isinstance(data, dict) and data.get("state") == "active"

    def login_for_email(self, email: str, *, repo: str) -> str | None:
        """The GitHub login whose public email is ``email``, if exactly one is (None when
        none or several are); a GitHubError when GitHub did not answer (e.g. the search
        rate limit), so that the caller does not remember a failure as "nobody"."""
        query = urllib.parse.quote(f"{email} in:email")
        response = self._get(repo, f"/search/users?q={query}")
        if response.status_code != 200:
            raise GitHubError(
                f"GitHub answered {response.status_code} to Search users",
                status=response.status_code,
            )
        items = (response.json() or {}).get("items") or []
        return str(items[0]["login"]) if len(items) == 1 else None
