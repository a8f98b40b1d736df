"""What GitHub's answers mean: one table from each error answer to the error commit-train raises.

Every error the GitHub backend raises about an answer is made here, from ``ANSWERS``, so
the class (and with it the branch of the error tree in ``commit_train.errors``) and the
one-line message of each kind of answer are read in one place::

    answer                                   error                   branch
    401                                      AuthError               surroundings (credentials)
    403 without a rate limit                 AuthError               surroundings (a permission)
    403/429 rate limit, wait too long        RateLimitError          temporary
    404                                      NotFoundError           permanent
    409 conflict, 422 and any other 4xx      GitHubRefusedError      permanent
    5xx after the bounded retries            GitHubUnavailableError  temporary
    no connection after the retries          GitHubUnavailableError  temporary
    GraphQL FORBIDDEN, INSUFFICIENT_SCOPES   AuthError               surroundings (a permission)
    GraphQL RATE_LIMITED, wait too long      RateLimitError          temporary
    GraphQL NOT_FOUND                        NotFoundError           permanent
    GraphQL answer without data              GitHubUnavailableError  temporary
    GraphQL UNPROCESSABLE, MAX_NODE_LIMIT... GitHubRefusedError      permanent
    GraphQL any other error                  GitHubUnavailableError  temporary

The branch decides what a deploy that meets the error records: when GitHub is down or
refuses the credentials, the deploy's surroundings broke (``error``); a request GitHub
refuses as made is wrong itself and fails the same way every time. A caller may still
give a 404 its own message (``no commit abc1234 in acme/shop``); the class stays.

Sources: GitHub docs, "Troubleshooting the REST API" and "Rate limits for the REST API"
(401 bad credentials, 403 missing permission or rate limit, 404 for a resource the token
cannot see, 409 conflict, 422 validation failed, 429), and "Rate limits and query limits
for the GraphQL API" (``RATE_LIMITED``, ``MAX_NODE_LIMIT_EXCEEDED``).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from commit_train.errors import (
    AuthError,
    CommitTrainError,
    GitHubError,
    GitHubRefusedError,
    GitHubUnavailableError,
    NotFoundError,
    RateLimitError,
    TemporaryGitHubError,
)

TOKEN_FIX = "set GITHUB_TOKEN or GH_TOKEN, or pass --token"  # noqa: S105 (advice, not a secret)
PERMISSIONS_FIX = (
    "give the token access to {repo} with contents: read, statuses: read, checks: read "
    "and deployments: write (contents: write to take locks)"
)
UNAVAILABLE_FIX = (
    "GitHub may be degraded (see https://www.githubstatus.com); try again in a few minutes"
)
NETWORK_FIX = "check the network and GITHUB_API_URL, then try again"
RATE_LIMIT_FIX = (
    "wait until then and try again, or use another token "
    "(a GitHub App installation token has its own limit)"
)


@dataclass(frozen=True)
class Meaning:
    """What one kind of answer means: the error raised, its message and its fix.

    ``says`` and ``fix`` are ``str.format`` templates over the facts the raiser knows:
    ``action`` (what commit-train was doing), ``status``, ``said`` (GitHub's own message),
    ``repo``, ``method``, ``path``, ``host``, ``attempts``, ``exception``, ``wait``,
    ``until`` (``spent_until``: when a spent rate limit comes back).
    """

    error: type[CommitTrainError]
    says: str
    fix: str = ""


_REFUSED = Meaning(GitHubRefusedError, "GitHub refused to {action}: {status} {said}")
_GRAPHQL_REFUSED = Meaning(GitHubRefusedError, "GitHub's GraphQL API could not {action}: {said}")
_SPENT = Meaning(RateLimitError, "GitHub's rate limit is spent {until}", RATE_LIMIT_FIX)
_GRAPHQL_FORBIDDEN = Meaning(AuthError, "GitHub refused to {action}: {said}", PERMISSIONS_FIX)

# Keys: an HTTP status; "4xx" and "5xx" for the statuses not listed; the other strings name
# answers that are not one status (a rate limit is a 403 or a 429 with its headers, and
# GraphQL answers its errors with 200 and their ``type``).
ANSWERS: Mapping[int | str, Meaning] = {
    401: Meaning(
        AuthError,
        "the token was rejected by GitHub while trying to {action} ({status} {said})",
        "it may be expired or revoked; " + TOKEN_FIX + " with a valid token",
    ),
    403: Meaning(AuthError, "GitHub refused to {action}: {status} {said}", PERMISSIONS_FIX),
    404: Meaning(
        NotFoundError,
        "GitHub answered 404 Not Found to {action}",
        "check that {repo} exists and that the token can read it",
    ),
    409: _REFUSED,
    422: _REFUSED,
    "4xx": _REFUSED,
    "5xx": Meaning(
        GitHubUnavailableError,
        "GitHub answered {status} to {method} {path} {attempts} times",
        UNAVAILABLE_FIX,
    ),
    "no connection": Meaning(
        GitHubUnavailableError,
        "could not reach GitHub at {host} for {method} {path} after {attempts} attempts "
        "({exception})",
        NETWORK_FIX,
    ),
    "secondary limit": Meaning(
        RateLimitError,
        "GitHub's secondary rate limit stopped {method} {path} and asks to wait {wait:g} s",
        RATE_LIMIT_FIX,
    ),
    "secondary limit, no retry-after": Meaning(
        RateLimitError,
        "GitHub's secondary rate limit stopped {method} {path} "
        "and asks to wait at least {wait:g} s",
        RATE_LIMIT_FIX,
    ),
    "primary limit": _SPENT,
    "RATE_LIMITED": _SPENT,  # GraphQL's budget is another hour's, said the same way
    "NOT_FOUND": Meaning(
        NotFoundError,
        "repository {repo} not found at {api_url}",
        "check the name, and that the token can read {repo} "
        "(a fine-grained token must list the repository)",
    ),
    "NOT_FOUND, not the repository": Meaning(
        NotFoundError, "GitHub's GraphQL API could not {action}: {said}"
    ),
    "FORBIDDEN": _GRAPHQL_FORBIDDEN,
    "INSUFFICIENT_SCOPES": _GRAPHQL_FORBIDDEN,
    "UNPROCESSABLE": _GRAPHQL_REFUSED,
    "MAX_NODE_LIMIT_EXCEEDED": _GRAPHQL_REFUSED,
    "EXCESSIVE_PAGINATION": _GRAPHQL_REFUSED,
    "graphql": Meaning(GitHubUnavailableError, "GitHub's GraphQL API could not {action}: {said}"),
    "no data": Meaning(GitHubUnavailableError, "GitHub's GraphQL API gave no {what} to {action}"),
}


def spent_until(reset: float | None, now: float) -> str:
    """When a spent rate limit comes back, as a person reads it: ``until 13:05 UTC (in 57
    min)``, from ``x-ratelimit-reset`` (epoch seconds). The REST and the GraphQL budgets are
    an hour each, so the clock time and the minutes left say it all; both are rounded up,
    never promising the limit back before it is."""
    if reset is None:
        return "for now (GitHub did not say until when)"
    back = datetime.fromtimestamp(math.ceil(reset / 60) * 60, UTC)
    minutes = max(1, math.ceil((reset - now) / 60))
    left = f"{minutes} min" if minutes <= 60 else f"{minutes // 60} h {minutes % 60:02d} min"
    return f"until {back:%H:%M} UTC (in {left})"


class _Facts(dict[str, Any]):
    """Facts for a template; one the raiser did not know reads ``?`` rather than failing."""

    def __missing__(self, key: str) -> str:
        return "?"


def meaning(key: int | str) -> Meaning:
    """The row of ``ANSWERS`` for ``key``: its own, else its hundreds' (``4xx``, ``5xx``)."""
    if key in ANSWERS:
        return ANSWERS[key]
    if isinstance(key, int) and 400 <= key < 500:
        return ANSWERS["4xx"]
    if isinstance(key, int) and key >= 500:
        return ANSWERS["5xx"]
    return ANSWERS["graphql"]


def error_for(
    key: int | str,
    *,
    status: int | None = None,
    delay: float | None = None,
    **facts: Any,
) -> CommitTrainError:
    """The error ``ANSWERS`` gives for ``key``, its message and fix filled from ``facts``.

    ``status`` (the HTTP status, when there is one) is kept on GitHub's errors, and
    ``delay`` (seconds to wait) on the temporary ones.
    """
    row = meaning(key)
    facts.setdefault("status", status if status is not None else "")
    known = _Facts(facts)
    message = row.says.format_map(known).rstrip()
    fix = row.fix.format_map(known) or None
    if issubclass(row.error, TemporaryGitHubError):
        return row.error(message, status=status, delay=delay, fix=fix)
    if issubclass(row.error, GitHubError):
        return row.error(message, status=status, fix=fix)
    return row.error(message, fix=fix)
