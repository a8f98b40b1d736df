"""Each error answer GitHub gives ends as one error class with one line a person can act on.

Table-driven over ``backends/github/answers.ANSWERS``: the emulator answers a status (with
GitHub's own bodies: GitHub docs, "Troubleshooting the REST API"; the 409 is a recorded
real answer to ``POST /deployments``), the real PyGithub receives it over HTTP, and the
backend must raise the class the table names, in the branch of the error tree that says
what broke. Waits are recorded, never slept.
"""

from __future__ import annotations

import socket
from datetime import UTC, datetime

import pytest

from commit_train.backends.github.answers import ANSWERS, meaning
from commit_train.backends.github.backend import GitHubBackend
from commit_train.errors import (
    AuthError,
    CommitTrainError,
    GitHubRefusedError,
    GitHubUnavailableError,
    NotFoundError,
    PermanentError,
    RateLimitError,
    SurroundingsError,
    TemporaryError,
)
from commit_train.models import DeployState
from commit_train.service.pipeline import failure_state

PERMISSIONS = (
    "give the token access to acme/shop with contents: read, statuses: read, checks: read "
    "and deployments: write (contents: write to take locks)"
)
DEGRADED = "GitHub may be degraded (see https://www.githubstatus.com); try again in a few minutes"
PATH = "/api/v3/repos/acme/shop/deployments/7"

# (status, body GitHub sends, error class, the one line, the branch it belongs to)
REST_ANSWERS = [
    (
        400,
        {"message": "Problems parsing JSON"},
        GitHubRefusedError,
        "GitHub refused to read deployment 7: 400 Problems parsing JSON",
        PermanentError,
    ),
    (
        401,
        {"message": "Bad credentials"},
        AuthError,
        "the token was rejected by GitHub while trying to read deployment 7 (401 Bad "
        "credentials); it may be expired or revoked; set GITHUB_TOKEN or GH_TOKEN, or pass "
        "--token with a valid token",
        SurroundingsError,
    ),
    (
        403,
        {"message": "Resource not accessible by integration"},
        AuthError,
        "GitHub refused to read deployment 7: 403 Resource not accessible by integration; "
        + PERMISSIONS,
        SurroundingsError,
    ),
    (
        404,
        {"message": "Not Found"},
        NotFoundError,
        "no deployment 7 in acme/shop; check the deployment id (commit-train history lists them)",
        PermanentError,
    ),
    (
        409,
        {"message": "Conflict: Commit status checks failed for main."},
        GitHubRefusedError,
        "GitHub refused to read deployment 7: 409 Conflict: Commit status checks failed for main.",
        PermanentError,
    ),
    (
        410,
        {"message": "Gone"},
        GitHubRefusedError,
        "GitHub refused to read deployment 7: 410 Gone",
        PermanentError,
    ),
    (
        422,
        {
            "message": "Validation Failed",
            "errors": [{"resource": "Deployment", "code": "invalid", "field": "environment"}],
        },
        GitHubRefusedError,
        "GitHub refused to read deployment 7: 422 Validation Failed; invalid",
        PermanentError,
    ),
    (
        500,
        None,
        GitHubUnavailableError,
        f"GitHub answered 500 to GET {PATH} 4 times; {DEGRADED}",
        TemporaryError,
    ),
    (
        502,
        None,
        GitHubUnavailableError,
        f"GitHub answered 502 to GET {PATH} 4 times; {DEGRADED}",
        TemporaryError,
    ),
    (
        503,
        None,
        GitHubUnavailableError,
        f"GitHub answered 503 to GET {PATH} 4 times; {DEGRADED}",
        TemporaryError,
    ),
    (
        504,
        None,
        GitHubUnavailableError,
        f"GitHub answered 504 to GET {PATH} 4 times; {DEGRADED}",
        TemporaryError,
    ),
]


def backend_for(emu, **kwargs) -> tuple[GitHubBackend, list[float]]:
    waits: list[float] = []
    kwargs.setdefault("token", emu.token)
    return GitHubBackend("acme/shop", base_url=emu.base_url, sleep=waits.append, **kwargs), waits


def assert_one_line(error: CommitTrainError, line: str) -> None:
    assert str(error) == line
    assert "\n" not in str(error)
    assert "ghs_" not in str(error)  # never the token


@pytest.mark.parametrize(
    ("status", "body", "error", "line", "branch"),
    REST_ANSWERS,
    ids=[str(row[0]) for row in REST_ANSWERS],
)
def test_each_http_status_ends_as_its_error(github_emulator, status, body, error, line, branch):
    github_emulator.create_repo("acme/shop")
    backend, _ = backend_for(github_emulator)
    github_emulator.inject(status=status, times=10, path=r"/deployments/7$", body=body)
    with pytest.raises(CommitTrainError) as caught:
        backend.get_deployment(7)
    assert type(caught.value) is error
    assert meaning(status).error is error  # the table says so, not a branch in the code
    assert isinstance(caught.value, branch)
    assert_one_line(caught.value, line)
    if isinstance(caught.value, GitHubRefusedError | GitHubUnavailableError):
        assert caught.value.status == status


def test_a_secondary_limit_too_long_to_wait_is_a_rate_limit(github_emulator):
    github_emulator.create_repo("acme/shop")
    backend, waits = backend_for(github_emulator, max_wait=30)
    github_emulator.inject_rate_limit(times=1, retry_after=120)
    with pytest.raises(RateLimitError) as caught:
        backend.get_deployment(7)
    assert isinstance(caught.value, TemporaryError)
    assert (caught.value.status, caught.value.delay, waits) == (429, 120, [])
    assert_one_line(
        caught.value,
        f"GitHub's secondary rate limit stopped GET {PATH} and asks to wait 120 s; wait until "
        "then and try again, or use another token (a GitHub App installation token has its "
        "own limit)",
    )


def test_a_spent_primary_limit_is_a_rate_limit(github_emulator):
    now = datetime(2024, 5, 1, 12, 0, 0, tzinfo=UTC)
    github_emulator.clock = lambda: now
    github_emulator.create_repo("acme/shop")
    backend, _ = backend_for(github_emulator, clock=lambda: now.timestamp())
    github_emulator.exhaust_rate_limit(reset_in=3600)
    with pytest.raises(RateLimitError) as caught:
        backend.get_deployment(7)
    assert isinstance(caught.value, TemporaryError)
    assert caught.value.status == 403
    assert str(caught.value).startswith(
        "GitHub's rate limit is spent until 13:00 UTC (in 60 min); "
    )


def test_no_connection_is_github_unavailable():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    backend = GitHubBackend(
        "acme/shop", token="t", base_url=f"http://127.0.0.1:{port}/api/v3", sleep=lambda _: None
    )
    with pytest.raises(GitHubUnavailableError) as caught:
        backend.get_deployment(7)
    assert isinstance(caught.value, TemporaryError)
    assert_one_line(
        caught.value,
        f"could not reach GitHub at 127.0.0.1:{port} for GET {PATH} after 4 attempts "
        "(ConnectionError); check the network and GITHUB_API_URL, then try again",
    )


# (GraphQL error type, its message, error class, the one line, the branch)
GRAPHQL_ANSWERS = [
    (
        "FORBIDDEN",
        "Resource not accessible by integration",
        AuthError,
        f"GitHub refused to read the checks of {'a' * 40}: Resource not accessible by "
        f"integration; {PERMISSIONS}",
        SurroundingsError,
    ),
    (
        "INSUFFICIENT_SCOPES",
        "Your token has not been granted the required scopes to execute this query.",
        AuthError,
        f"GitHub refused to read the checks of {'a' * 40}: Your token has not been granted "
        f"the required scopes to execute this query.; {PERMISSIONS}",
        SurroundingsError,
    ),
    (
        "MAX_NODE_LIMIT_EXCEEDED",
        "This query requests up to 600,000 possible nodes which exceeds the maximum limit.",
        GitHubRefusedError,
        f"GitHub's GraphQL API could not read the checks of {'a' * 40}: This query requests "
        "up to 600,000 possible nodes which exceeds the maximum limit.",
        PermanentError,
    ),
    (
        None,
        "Something went wrong while executing your query. This may be the result of a timeout.",
        GitHubUnavailableError,
        f"GitHub's GraphQL API could not read the checks of {'a' * 40}: Something went wrong "
        "while executing your query. This may be the result of a timeout.",
        TemporaryError,
    ),
]


@pytest.mark.parametrize(
    ("kind", "message", "error", "line", "branch"),
    GRAPHQL_ANSWERS,
    ids=[str(row[0]) for row in GRAPHQL_ANSWERS],
)
def test_each_graphql_error_ends_as_its_error(github_emulator, kind, message, error, line, branch):
    github_emulator.create_repo("acme/shop")
    backend, _ = backend_for(github_emulator)
    found = {"message": message, **({"type": kind} if kind else {})}
    github_emulator.inject(status=200, path="graphql", body={"data": None, "errors": [found]})
    with pytest.raises(CommitTrainError) as caught:
        backend.checks("a" * 40)
    assert type(caught.value) is error
    assert meaning(kind or "graphql").error is error
    assert isinstance(caught.value, branch)
    assert_one_line(caught.value, line)


def test_every_row_of_the_table_is_in_one_branch():
    for key, row in ANSWERS.items():
        branches = [b for b in (PermanentError, SurroundingsError) if issubclass(row.error, b)]
        assert len(branches) == 1, key


@pytest.mark.parametrize(
    ("error", "state"),
    [
        (AuthError("the token was rejected"), DeployState.ERROR),
        (GitHubUnavailableError("GitHub answered 503"), DeployState.ERROR),
        (RateLimitError("GitHub's secondary rate limit"), DeployState.ERROR),
    ],
)
def test_a_deploy_that_meets_github_down_or_refused_credentials_ends_error(error, state):
    assert failure_state(error) == state
