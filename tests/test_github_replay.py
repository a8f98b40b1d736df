"""Real GitHub answers, recorded by PyGithub's own test suite, through our parsing functions.

The recordings live beside the checkout (``shared/reference/github-api/replaydata``); the
tests skip when it is absent. Each file holds requests of 11 lines: protocol, verb, host,
port, path, request headers, request body, status, response headers, response body, blank.
"""

from __future__ import annotations

import ast
import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from commit_train.backends.github import mapping, transport
from commit_train.backends.github.backend import GitHubBackend
from commit_train.models import CheckState, DeployState, parse_time

REFERENCE = Path(__file__).resolve().parents[2] / "shared" / "reference" / "github-api"
REPLAY = REFERENCE / "replaydata"

pytestmark = [
    pytest.mark.shared,
    pytest.mark.skipif(not REPLAY.is_dir(), reason="GitHub reference data not beside the checkout"),
]


@dataclass(frozen=True)
class Recorded:
    verb: str
    path: str
    status: int
    headers: dict[str, str]
    body: Any


def recorded(name: str) -> list[Recorded]:
    lines = (REPLAY / name).read_text(encoding="utf-8").split("\n")
    found = []
    i = 0
    while i + 9 < len(lines):
        if not lines[i]:
            i += 1
            continue
        _, verb, _, _, path, _, _, status, headers, body = lines[i : i + 10]
        found.append(
            Recorded(
                verb=verb,
                path=path,
                status=int(status),
                headers={k.lower(): v for k, v in ast.literal_eval(headers)},
                body=json.loads(body) if body else None,
            )
        )
        i += 11
    return found


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def test_check_runs_for_a_ref():
    runs = recorded("CheckRun.testGetCheckRunsForRef.txt")[1].body["check_runs"]
    checks = mapping.checks_from_rest("10a7135a04f71e6101f8b013aded8a662d08fd1f", [], runs)
    assert [(c.name, c.kind, c.state) for c in checks.checks] == [
        ("test (Python 3.8)", "check_run", CheckState.SUCCESS),
        ("test (Python 3.7)", "check_run", CheckState.SUCCESS),
        ("test (Python 3.6)", "check_run", CheckState.FAILURE),
        ("test (Python 3.5)", "check_run", CheckState.SUCCESS),
    ]
    failed = checks.checks[2]
    assert failed.url == "https://github.com/PyGithub/PyGithub/runs/1039891917"
    assert failed.description == "test (Python 3.6)"
    assert checks.state == CheckState.FAILURE
    assert checks.named(CheckState.FAILURE) == ("test (Python 3.6)",)


def test_the_link_header_of_a_first_page_points_at_page_two():
    first = recorded("CheckRun.testGetCheckRunsForRef.txt")[0]
    assert transport.next_link(first.headers["link"]) == (
        "https://api.github.com/repositories/3544490/commits/"
        "10a7135a04f71e6101f8b013aded8a662d08fd1f/check-runs?per_page=1&page=2"
    )
    compare = recorded("Repository.testCompare.txt")[0]
    assert transport.next_link(compare.headers["link"]) is None  # rel="first" only: the last page


def test_combined_status():
    data = recorded("CommitCombinedStatus.setUp.txt")[0].body
    checks = mapping.checks_from_rest(data["sha"], data["statuses"], [])
    assert checks.sha == "74e70119a23fa3ffb3db19d4590eccfebd72b659"
    assert [c.name for c in checks.checks] == [
        "jenkins/js",
        "jenkins/a11y",
        "jenkins/quality",
        "jenkins/bokchoy",
        "jenkins/python",
        "jenkins/lettuce",
    ]
    assert checks.state == CheckState.SUCCESS
    first = checks.checks[0]
    assert first.kind == "status"
    assert first.url == "https://build.testeng.edx.org/job/edx-platform-js-pr/10357/"
    assert first.description == "Build finished."


def test_a_status_without_context_is_the_default_context():
    # From before contexts existed: "build" passed, and a context-less status is pending.
    statuses = recorded("CommitStatus.setUp.txt")[3].body
    checks = mapping.checks_from_rest("1292bf0e22c796e91cc3d6e24b544aece8c21f2a", statuses, [])
    assert [(c.name, c.state) for c in checks.checks] == [
        ("build", CheckState.SUCCESS),
        ("default", CheckState.PENDING),
    ]
    assert checks.state == CheckState.PENDING


def test_raw_statuses_keep_the_newest_per_context():
    older, newer = sorted(recorded("CommitStatus.setUp.txt")[3].body, key=lambda s: s["id"])
    same_context = [dict(older, context="ci"), dict(newer, context="ci")]
    checks = mapping.checks_from_rest("1292bf0e22c796e91cc3d6e24b544aece8c21f2a", same_context, [])
    assert [(c.name, c.state) for c in checks.checks] == [("ci", CheckState.SUCCESS)]


def test_created_commit_status():
    data = recorded("Commit.testCreateStatusWithAllParameters.txt")[0].body
    check = mapping.check_from_rest_status(data)
    assert (check.name, check.state, check.description) == (
        "default",
        CheckState.SUCCESS,
        "Status successfully created by PyGithub",
    )


def test_a_commit():
    data = recorded("CommitStatus.setUp.txt")[2].body
    commit = mapping.commit_from_rest(data)
    assert commit.sha == "1292bf0e22c796e91cc3d6e24b544aece8c21f2a"
    assert commit.author == "jacquev6"
    assert commit.short_sha == "1292bf0"
    assert commit.title == data["commit"]["message"].split("\n")[0]
    assert commit.committed_at == parse_time(data["commit"]["committer"]["date"])
    assert commit.committed_at.tzinfo is not None


def test_a_deployment():
    data = recorded("Deployment.setUp.txt")[2].body
    dep = mapping.deployment_from_rest(data)
    assert dep.id == 263877258
    assert dep.sha == "743f5a58b0bce91c4eab744ff7e39dfca9e6e8a5"
    assert dep.environment == "test"
    assert dep.creator == "jacquev6"
    assert dep.created_at == at("2020-08-26T11:44:53")
    assert dict(dep.payload) == {"test": True}
    assert dep.description == "Test deployment"
    assert dep.url == "https://api.github.com/repos/jacquev6/PyGithub/deployments/263877258"
    assert dep.state == DeployState.NONE
    assert dep.state.in_flight


def test_a_created_deployment_carries_its_creator():
    data = recorded("Repository.testCreateDeployment.txt")[0].body
    dep = mapping.deployment_from_rest(data)
    assert (dep.id, dep.creator, dep.environment) == (263877258, "pascal-hofmann", "test")
    assert dep.created_at == at("2020-08-31T07:21:10")


def test_a_deployment_list():
    listed = recorded("Repository.testGetDeployments.txt")[0].body
    deps = [mapping.deployment_from_rest(d) for d in listed]
    assert [(d.id, d.environment, d.description, dict(d.payload)) for d in deps] == [
        (263877258, "test", "Test deployment", {"test": True}),
        (262350588, "production", "", {}),
    ]


def test_deployment_statuses_come_back_oldest_first():
    deployment = recorded("Deployment.setUp.txt")[2].body
    statuses = recorded("DeploymentStatus.testGetStatuses.txt")[0].body  # newest first
    dep = mapping.deployment_from_rest(deployment, statuses)
    assert [s.created_at for s in dep.statuses] == [
        at("2020-08-26T13:55:06"),
        at("2020-08-26T13:56:31"),
        at("2020-08-26T14:32:51"),
    ]
    newest = dep.statuses[-1]
    assert newest.state == DeployState.QUEUED
    assert newest.creator == "jacquev6"
    assert newest.description == "Deployment queued"
    assert newest.log_url == "https://example.com/deployment.log"
    assert newest.environment_url == "https://example.com/environment"
    assert dep.state == DeployState.QUEUED
    assert dep.finished_at is None


def test_a_created_status_without_log_url_falls_back_to_target_url():
    data = recorded("DeploymentStatus.testCreate.txt")[0].body
    status = mapping.deployment_status_from_rest(data)
    assert status.state == DeployState.QUEUED
    assert status.log_url == "https://example.com/deployment.log"
    assert status.environment_url is None
    assert status.created_at == at("2020-08-26T14:32:51")


def test_refs():
    created = recorded("Repository.testCreateGitRef.txt")[0].body
    assert mapping.ref_sha_from_rest(created) == "4303c5b90e2216d927155e9609436ccb8984c495"
    got = recorded("Repository.testGetGitRef.txt")[0].body
    assert mapping.ref_sha_from_rest(got) == "31110327ec45f3138e58ed247b2cf420fee481ec"


def test_compare_ahead_means_head_is_not_contained_in_base():
    comparison = mapping.comparison_from_rest(recorded("Repository.testCompare.txt")[0].body)
    assert comparison == mapping.Comparison(
        status="ahead",
        ahead_by=4,
        behind_by=0,
        merge_base="4303c5b90e2216d927155e9609436ccb8984c495",
    )
    assert not comparison.head_contained_in_base  # v0.7 has 4 commits v0.6 lacks


def test_graphql_endpoint_of_the_recorded_request():
    # PyGithub posted its GraphQL query to /graphql on api.github.com.
    request = recorded("GraphQl.testQuery.txt")[0]
    assert request.path == "/graphql"
    assert transport.graphql_url_for("https://api.github.com") == "https://api.github.com/graphql"


@pytest.fixture
def replay_server() -> Iterator[tuple[str, list[Recorded], list[str]]]:
    """Serve one recording's answers in order on 127.0.0.1; yields (base URL, queue, log)."""
    queue: list[Recorded] = []
    log: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            log.append(f"{self.command} {self.path}")
            answer = queue.pop(0)
            assert (answer.verb, answer.path) == (self.command, self.path)
            body = json.dumps(answer.body).encode()
            self.send_response(answer.status)
            for name in ("x-ratelimit-limit", "x-ratelimit-remaining", "x-ratelimit-reset"):
                if name in answer.headers:
                    self.send_header(name, answer.headers[name])
            self.send_header("content-type", "application/json; charset=utf-8")
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", queue, log
    finally:
        server.shutdown()
        server.server_close()


def test_a_recorded_500_is_retried_and_the_repository_read(replay_server):
    base_url, queue, log = replay_server
    queue.extend(recorded("Retry.testReturnsRepoAfter1Retry.txt"))
    waits: list[float] = []
    backend = GitHubBackend("PyGithub/PyGithub", token="t", base_url=base_url, sleep=waits.append)
    assert backend.default_branch() == "master"
    assert log == ["GET /repos/PyGithub/PyGithub", "GET /repos/PyGithub/PyGithub"]
    assert backend.request_count == 2
    assert waits == [1.0]
    assert backend.default_branch() == "master"  # cached: no third request
    assert backend.request_count == 2
