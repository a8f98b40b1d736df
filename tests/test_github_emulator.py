"""The GitHub emulator, driven through the real PyGithub and through raw HTTP (requests)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import github
import pytest
import requests
from github.GithubRetry import GithubRetry

from tests.emulators.github import GitHubEmulator
from tests.emulators.github_model import EmulatedRepo

TRAIN_QUERY = """
query TrainStatus($owner: String!, $name: String!, $limit: Int!) {
  rateLimit { cost remaining resetAt }
  repository(owner: $owner, name: $name) {
    nameWithOwner
    defaultBranchRef { name target { ... on Commit {
      history(first: $limit) { nodes {
        oid messageHeadline committedDate author { name user { login } }
        status { contexts { context state description targetUrl } }
        checkSuites(first: 20) { nodes { checkRuns(first: 50, filterBy: {checkType: LATEST}) {
          nodes { databaseId name status conclusion startedAt completedAt detailsUrl } } } }
      } }
    } } }
    env_0: deployments(first: 20, environments: ["staging"],
                       orderBy: {field: CREATED_AT, direction: DESC}) {
      nodes { databaseId environment createdAt payload description commitOid creator { login }
              latestStatus { state createdAt description logUrl environmentUrl } } }
  }
}
"""

T0 = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)


def client(emu: GitHubEmulator, **kwargs: Any) -> github.Github:
    return github.Github(
        base_url=emu.base_url,
        auth=github.Auth.Token(emu.token),
        seconds_between_requests=0,
        seconds_between_writes=0,
        **kwargs,
    )


class Raw:
    """Plain HTTP against the emulator, to see exact status codes, headers and bodies."""

    def __init__(self, emu: GitHubEmulator) -> None:
        self.emu = emu
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"token {emu.token}"

    def get(self, path: str, **kwargs: Any) -> requests.Response:
        return self.session.get(self._url(path), **kwargs)

    def post(self, path: str, body: Any) -> requests.Response:
        return self.session.post(self._url(path), json=body)

    def patch(self, path: str, body: Any) -> requests.Response:
        return self.session.patch(self._url(path), json=body)

    def delete(self, path: str) -> requests.Response:
        return self.session.delete(self._url(path))

    def _url(self, path: str) -> str:
        return path if path.startswith("http") else f"{self.emu.base_url}{path}"


@pytest.fixture
def shop(github_emulator: GitHubEmulator) -> EmulatedRepo:
    github_emulator.clock = lambda: T0
    return github_emulator.create_repo("acme/shop")


@pytest.fixture
def raw(github_emulator: GitHubEmulator) -> Raw:
    return Raw(github_emulator)


# -- commits and pagination -----------------------------------------------------------------


def test_commit_pages_past_100_carry_githubs_link_header(
    github_emulator: GitHubEmulator, shop: EmulatedRepo, raw: Raw
) -> None:
    shas = [shop.commit(f"Change {i}") for i in range(150)]
    base = f"{github_emulator.base_url}/repositories/{shop.id}/commits"

    first = raw.get("/repos/acme/shop/commits", params={"sha": "main", "per_page": 100})
    assert first.status_code == 200
    assert [c["sha"] for c in first.json()] == shas[::-1][:100]
    assert first.headers["Link"] == (
        f'<{base}?sha=main&per_page=100&page=2>; rel="next", '
        f'<{base}?sha=main&per_page=100&page=2>; rel="last"'
    )

    second = raw.get(first.links["next"]["url"])
    assert [c["sha"] for c in second.json()] == shas[::-1][100:]
    assert second.headers["Link"] == (
        f'<{base}?sha=main&per_page=100&page=1>; rel="prev", '
        f'<{base}?sha=main&per_page=100&page=1>; rel="first"'
    )

    middle = raw.get("/repos/acme/shop/commits", params={"per_page": 50, "page": 2})
    assert middle.headers["Link"] == (
        f'<{base}?per_page=50&page=1>; rel="prev", '
        f'<{base}?per_page=50&page=3>; rel="next", '
        f'<{base}?per_page=50&page=3>; rel="last", '
        f'<{base}?per_page=50&page=1>; rel="first"'
    )


def test_pygithub_walks_all_commit_pages(
    github_emulator: GitHubEmulator, shop: EmulatedRepo
) -> None:
    shas = [shop.commit(f"Change {i}") for i in range(150)]
    gh_repo = client(github_emulator, per_page=100).get_repo("acme/shop")
    github_emulator.reset_requests()
    assert [c.sha for c in gh_repo.get_commits(sha="main")] == shas[::-1]
    assert [(r.path, r.query.get("page")) for r in github_emulator.requests] == [
        ("/api/v3/repos/acme/shop/commits", None),
        (f"/api/v3/repositories/{shop.id}/commits", "2"),
    ]


def test_history_follows_first_parents_and_branches(shop: EmulatedRepo, raw: Raw) -> None:
    root = shop.commit("Root")
    shop.create_branch("topic", root)
    topic = shop.commit("Topic work", branch="topic")
    main = shop.commit("Main work")
    merge = shop.commit("Merge topic", parents=[main, topic])
    listed = [c["sha"] for c in raw.get("/repos/acme/shop/commits").json()]
    assert listed == [merge, main, root]
    assert [c["sha"] for c in raw.get("/repos/acme/shop/commits?sha=topic").json()] == [
        topic,
        root,
    ]
    assert shop.refs == {"refs/heads/main": merge, "refs/heads/topic": topic}


def test_get_commit_by_full_short_sha_and_branch(shop: EmulatedRepo, raw: Raw) -> None:
    sha = shop.commit("Add cart\n\nWith a long body.", author="bob")
    for ref in (sha, sha[:7], sha[:4], "main"):
        answer = raw.get(f"/repos/acme/shop/commits/{ref}")
        assert answer.status_code == 200, ref
        assert answer.json()["sha"] == sha
        assert answer.json()["commit"]["message"] == "Add cart\n\nWith a long body."
        assert answer.json()["author"]["login"] == "bob"
    missing = raw.get("/repos/acme/shop/commits/deadbeef")
    assert missing.status_code == 422
    assert missing.json()["message"] == "No commit found for SHA: deadbeef"
    assert raw.get("/repos/acme/nope").json()["message"] == "Not Found"


def test_commit_timestamps_use_the_clock(github_emulator: GitHubEmulator, raw: Raw) -> None:
    github_emulator.clock = lambda: T0
    repo = github_emulator.create_repo("acme/clock")
    sha = repo.commit("First")
    later = repo.commit("Second", when=T0 + timedelta(hours=1))
    assert raw.get(f"/repos/acme/clock/commits/{sha}").json()["commit"]["author"]["date"] == (
        "2024-05-01T12:00:00Z"
    )
    assert raw.get(f"/repos/acme/clock/commits/{later}").json()["commit"]["committer"]["date"] == (
        "2024-05-01T13:00:00Z"
    )


# -- statuses and checks --------------------------------------------------------------------


def test_combined_status_takes_the_latest_per_context(
    github_emulator: GitHubEmulator, shop: EmulatedRepo
) -> None:
    sha = shop.commit("Add cart")
    shop.add_status(sha, context="ci/build", state="pending")
    shop.add_status(sha, context="ci/build", state="success", target_url="http://ci/1")
    shop.add_status(sha, context="ci/lint", state="success", description="clean")
    commit = client(github_emulator).get_repo("acme/shop").get_commit(sha)
    combined = commit.get_combined_status()
    assert combined.state == "success"
    assert combined.total_count == 2
    assert [(s.context, s.state, s.target_url) for s in combined.statuses] == [
        ("ci/build", "success", "http://ci/1"),
        ("ci/lint", "success", None),
    ]
    shop.add_status(sha, context="ci/lint", state="error")
    assert commit.get_combined_status().state == "failure"
    assert [s.state for s in commit.get_statuses()] == ["error", "success", "success", "pending"]


def test_combined_status_without_statuses_is_pending(shop: EmulatedRepo, raw: Raw) -> None:
    sha = shop.commit("Add cart")
    body = raw.get(f"/repos/acme/shop/commits/{sha}/status").json()
    assert (body["state"], body["total_count"], body["statuses"]) == ("pending", 0, [])


def test_create_status_through_pygithub(
    github_emulator: GitHubEmulator, shop: EmulatedRepo
) -> None:
    sha = shop.commit("Add cart")
    commit = client(github_emulator).get_repo("acme/shop").get_commit(sha)
    created = commit.create_status("failure", "http://ci/9", "2 tests failed", "ci/test")
    assert (created.state, created.context, created.creator.login) == (
        "failure",
        "ci/test",
        "alice",
    )
    assert [s.context for s in shop.latest_statuses(sha)] == ["ci/test"]


def test_check_run_attempts_latest_and_all(
    github_emulator: GitHubEmulator, shop: EmulatedRepo, raw: Raw
) -> None:
    sha = shop.commit("Add cart")
    first = shop.add_check_run(sha, name="test", conclusion="failure")
    rerun = shop.add_check_run(sha, name="test", conclusion="success")
    lint = shop.add_check_run(sha, name="lint", status="in_progress", conclusion=None)
    commit = client(github_emulator).get_repo("acme/shop").get_commit(sha)

    latest = commit.get_check_runs()
    assert latest.totalCount == 2
    assert sorted((r.id, r.name, r.status, r.conclusion) for r in latest) == [
        (rerun, "test", "completed", "success"),
        (lint, "lint", "in_progress", None),
    ]
    everything = commit.get_check_runs(filter="all")
    assert sorted(r.id for r in everything) == [first, rerun, lint]
    assert [r.id for r in commit.get_check_runs(check_name="test", filter="all")] == [
        rerun,
        first,
    ]

    body = raw.get(f"/repos/acme/shop/commits/{sha}/check-runs?filter=latest").json()
    assert body["total_count"] == 2
    suites = raw.get(f"/repos/acme/shop/commits/{sha}/check-suites").json()
    assert suites["total_count"] == 1
    suite = suites["check_suites"][0]
    assert (suite["status"], suite["conclusion"], suite["app"]["slug"]) == (
        "in_progress",
        None,
        "github-actions",
    )
    assert suite["latest_check_runs_count"] == 2


def test_check_runs_of_unknown_ref_is_422(shop: EmulatedRepo, raw: Raw) -> None:
    shop.commit("Add cart")
    answer = raw.get("/repos/acme/shop/commits/0000000/check-runs")
    assert answer.status_code == 422
    assert answer.json()["message"] == "No commit found for SHA: 0000000"


# -- deployments ----------------------------------------------------------------------------


def test_create_deployment_unknown_ref_is_422(
    github_emulator: GitHubEmulator, shop: EmulatedRepo
) -> None:
    shop.commit("Add cart")
    gh_repo = client(github_emulator).get_repo("acme/shop")
    with pytest.raises(github.GithubException) as caught:
        gh_repo.create_deployment("nope", auto_merge=False, required_contexts=[])
    assert caught.value.status == 422
    assert caught.value.data["message"] == "No ref found for: nope"


def test_create_deployment_checks_contexts_when_not_told_otherwise(
    github_emulator: GitHubEmulator, shop: EmulatedRepo
) -> None:
    sha = shop.commit("Add cart")
    shop.add_status(sha, context="ci/build", state="success")
    shop.add_check_run(sha, name="test", status="in_progress", conclusion=None)
    gh_repo = client(github_emulator).get_repo("acme/shop")
    with pytest.raises(github.GithubException) as caught:
        gh_repo.create_deployment(sha, environment="staging", auto_merge=False)
    assert caught.value.status == 409
    assert caught.value.data["message"] == f"Conflict: Commit status checks failed for {sha}."
    assert caught.value.data["errors"][0]["contexts"] == [
        {"context": "ci/build", "state": "success"},
        {"context": "test", "state": "pending"},
    ]
    with pytest.raises(github.GithubException) as named:
        gh_repo.create_deployment(sha, auto_merge=False, required_contexts=["test"])
    assert named.value.status == 409
    ok = gh_repo.create_deployment(sha, auto_merge=False, required_contexts=["ci/build"])
    assert ok.sha == sha


def test_create_deployment_201(github_emulator: GitHubEmulator, shop: EmulatedRepo) -> None:
    sha = shop.commit("Add cart")
    shop.add_status(sha, context="ci/build", state="failure")
    gh_repo = client(github_emulator).get_repo("acme/shop")
    created = gh_repo.create_deployment(
        sha,
        environment="staging",
        auto_merge=False,
        required_contexts=[],
        payload={"image": "shop:abc"},
        description="Deploy Add cart",
    )
    assert (created.sha, created.ref, created.environment, created.task) == (
        sha,
        sha,
        "staging",
        "deploy",
    )
    assert created.payload == {"image": "shop:abc"}
    assert created.creator.login == "alice"
    assert created.created_at == T0
    assert created.url == f"{github_emulator.base_url}/repos/acme/shop/deployments/{created.id}"
    assert shop.deployments[0]["production_environment"] is False
    listed = gh_repo.get_deployments(environment="staging")
    assert [d.id for d in listed] == [created.id]
    assert list(gh_repo.get_deployments(environment="production")) == []


def test_auto_merge_of_a_branch_behind_answers_202(shop: EmulatedRepo, raw: Raw) -> None:
    root = shop.commit("Root")
    shop.create_branch("topic", root)
    shop.commit("Topic work", branch="topic")
    shop.commit("Main moves on")
    answer = raw.post("/repos/acme/shop/deployments", {"ref": "topic", "required_contexts": []})
    assert answer.status_code == 202
    assert answer.json() == {"message": "Auto-merged main into topic on deployment."}
    assert shop.deployments == []
    merged = raw.get("/repos/acme/shop/commits/topic").json()
    assert len(merged["parents"]) == 2


def test_deployment_statuses_and_auto_inactive(
    github_emulator: GitHubEmulator, shop: EmulatedRepo, raw: Raw
) -> None:
    old, failed, new = (shop.commit(f"Change {i}") for i in range(3))
    first = shop.add_deployment(old, environment="staging", statuses=["success"])
    broken = shop.add_deployment(failed, environment="staging", statuses=["failure"])
    other = shop.add_deployment(old, environment="production", statuses=["success"])
    gh_repo = client(github_emulator).get_repo("acme/shop")
    deployment = gh_repo.get_deployment(shop.add_deployment(new, environment="staging"))
    deployment.create_status("in_progress")
    deployment.create_status("success", description="Rolled out", environment_url="http://s")
    assert [s.state for s in deployment.get_statuses()] == ["success", "in_progress"]
    assert [s["state"] for s in shop.deployment_statuses(first)] == ["success", "inactive"]
    assert [s["state"] for s in shop.deployment_statuses(broken)] == ["failure"]
    assert [s["state"] for s in shop.deployment_statuses(other)] == ["success"]

    again = shop.add_deployment(new, environment="staging")
    keep = raw.post(
        f"/repos/acme/shop/deployments/{again}/statuses",
        {"state": "success", "auto_inactive": False, "log_url": "http://ci/run/7"},
    )
    assert keep.status_code == 201
    assert (keep.json()["log_url"], keep.json()["target_url"]) == (
        "http://ci/run/7",
        "http://ci/run/7",
    )
    assert shop.deployment_statuses(deployment.id)[-1]["state"] == "success"

    bad = raw.post(f"/repos/acme/shop/deployments/{again}/statuses", {"state": "done"})
    assert bad.status_code == 422
    assert bad.json()["message"] == "Validation Failed"


def test_delete_deployment_only_when_inactive(shop: EmulatedRepo, raw: Raw) -> None:
    sha = shop.commit("Add cart")
    first = shop.add_deployment(sha, environment="staging", statuses=["success"])
    shop.add_deployment(sha, environment="staging", statuses=["success"])
    assert raw.delete(f"/repos/acme/shop/deployments/{first}").status_code == 204
    active = shop.deployments[0]["id"]
    shop.add_deployment(sha, environment="staging", statuses=["failure"])
    refused = raw.delete(f"/repos/acme/shop/deployments/{active}")
    assert refused.status_code == 422
    assert refused.json()["message"].startswith("We cannot delete an active deployment")
    assert raw.get(f"/repos/acme/shop/deployments/{first}").status_code == 404


# -- refs and compare -----------------------------------------------------------------------


def test_refs_create_conflict_update_and_delete(
    github_emulator: GitHubEmulator, shop: EmulatedRepo, raw: Raw
) -> None:
    one = shop.commit("One")
    two = shop.commit("Two")
    gh_repo = client(github_emulator).get_repo("acme/shop")
    lock = gh_repo.create_git_ref("refs/locks/staging", one)
    assert (lock.ref, lock.object.sha) == ("refs/locks/staging", one)
    with pytest.raises(github.GithubException) as caught:
        gh_repo.create_git_ref("refs/locks/staging", two)
    assert caught.value.status == 422
    assert caught.value.data["message"] == "Reference already exists"
    assert gh_repo.get_git_ref("locks/staging").object.sha == one
    lock.edit(two)
    assert shop.refs["refs/locks/staging"] == two
    refused = raw.patch("/repos/acme/shop/git/refs/locks/staging", {"sha": one})
    assert (refused.status_code, refused.json()["message"]) == (
        422,
        "Update is not a fast forward",
    )
    assert [r.ref for r in gh_repo.get_git_matching_refs("locks/")] == ["refs/locks/staging"]
    lock.delete()
    assert "refs/locks/staging" not in shop.refs
    with pytest.raises(github.UnknownObjectException):
        gh_repo.get_git_ref("locks/staging")
    gone = raw.delete("/repos/acme/shop/git/refs/locks/staging")
    assert (gone.status_code, gone.json()["message"]) == (422, "Reference does not exist")
    bad = raw.post("/repos/acme/shop/git/refs", {"ref": "refs/x", "sha": one})
    assert bad.status_code == 422


EMPTY_TREE = "4b825dc642cb6eb9a060e54bf8d69288fbee4904"


def test_trees_and_commits_through_pygithub(
    github_emulator: GitHubEmulator, shop: EmulatedRepo, raw: Raw
) -> None:
    """GitHub docs: Git trees "Create a tree" and "Get a tree", Git commits "Create a commit"."""
    first = shop.commit("First")
    gh_repo = client(github_emulator).get_repo("acme/shop")

    tree = gh_repo.create_git_tree(
        [github.InputGitTreeElement("notes/message", "100644", "blob", content="hello\n")]
    )

    # the sha git itself gives that tree (git mktree of notes/ holding one blob)
    assert tree.sha == "50b8b2063b67c9fcbfc9ec3162317c5d8e10c594"
    [notes] = tree.tree
    assert (notes.path, notes.mode, notes.type, notes.sha) == (
        "notes", "040000", "tree", "94ede69c6c10896bbcdd3af9452ddfecc2f593ee"
    )  # fmt: skip
    assert tree.url == f"{github_emulator.base_url}/repos/acme/shop/git/trees/{tree.sha}"
    again = gh_repo.get_git_tree(notes.sha)
    [message] = again.tree
    assert (message.path, message.mode, message.type, message.size) == (
        "message", "100644", "blob", 6
    )  # fmt: skip
    assert message.sha == "ce013625030ba8dba906f756967f9e9ca394464a"  # git hash-object of it

    commit = gh_repo.create_git_commit("Notes", tree, [gh_repo.get_git_commit(first)])
    assert commit.tree.sha == tree.sha
    assert shop.commits[commit.sha].files == {"notes/message": b"hello\n"}

    empty = raw.post("/repos/acme/shop/git/commits", {"message": "m", "tree": EMPTY_TREE})
    assert empty.status_code == 201
    github_emulator.refuse_empty_tree = True
    refused = raw.post("/repos/acme/shop/git/commits", {"message": "m", "tree": EMPTY_TREE})
    assert refused.status_code == 422
    assert refused.json() == {
        "message": "Tree SHA does not exist",
        "documentation_url": "https://docs.github.com/rest/git/commits#create-a-commit",
        "status": "422",
    }
    missing = raw.post("/repos/acme/shop/git/trees", {"base_tree": first})
    assert (missing.status_code, missing.json()["message"]) == (
        422,
        'Invalid request.\n\n"tree" wasn\'t supplied.',
    )
    unknown = raw.get(f"/repos/acme/shop/git/trees/{'0' * 40}")
    assert unknown.status_code == 404


def test_compare(github_emulator: GitHubEmulator, shop: EmulatedRepo) -> None:
    root = shop.commit("Root")
    shop.create_branch("topic", root)
    topic = shop.commit("Topic", branch="topic")
    a = shop.commit("A")
    b = shop.commit("B")
    gh_repo = client(github_emulator).get_repo("acme/shop")
    ahead = gh_repo.compare(root, b)
    assert (ahead.status, ahead.ahead_by, ahead.behind_by) == ("ahead", 2, 0)
    assert [c.sha for c in ahead.commits] == [a, b]
    assert ahead.merge_base_commit.sha == root
    assert gh_repo.compare(b, root).status == "behind"
    assert gh_repo.compare(b, b).status == "identical"
    diverged = gh_repo.compare("main", "topic")
    assert (diverged.status, diverged.ahead_by, diverged.behind_by) == ("diverged", 1, 2)
    assert diverged.commits[0].sha == topic


def test_branch_and_user(github_emulator: GitHubEmulator, shop: EmulatedRepo) -> None:
    sha = shop.commit("Root")
    gh = client(github_emulator)
    branch = gh.get_repo("acme/shop").get_branch("main")
    assert (branch.name, branch.commit.sha, branch.protected) == ("main", sha, False)
    assert gh.get_user().login == "alice"
    github_emulator.add_user("bob", "ghs_bob")
    bob = github.Github(base_url=github_emulator.base_url, auth=github.Auth.Token("ghs_bob"))
    assert bob.get_user().login == "bob"
    assert github_emulator.requests[-1].token_login == "bob"


# -- rate limits, ETags, faults -------------------------------------------------------------


def test_rate_limit_headers_and_etag_304(shop: EmulatedRepo, raw: Raw) -> None:
    shop.commit("Root")
    first = raw.get("/repos/acme/shop")
    assert first.headers["X-RateLimit-Limit"] == "5000"
    assert first.headers["X-RateLimit-Remaining"] == "4999"
    assert first.headers["X-RateLimit-Used"] == "1"
    assert first.headers["X-RateLimit-Resource"] == "core"
    assert first.headers["X-RateLimit-Reset"] == str(int((T0 + timedelta(hours=1)).timestamp()))
    assert first.headers["X-GitHub-Request-Id"]
    etag = first.headers["ETag"]
    assert etag.startswith('W/"')
    cached = raw.get("/repos/acme/shop", headers={"If-None-Match": etag})
    assert cached.status_code == 304
    assert cached.content == b""
    assert cached.headers["X-RateLimit-Remaining"] == "4999"
    assert cached.headers["ETag"] == etag
    shop.commit("Changed", when=T0 + timedelta(minutes=1))  # moves pushed_at
    assert raw.get("/repos/acme/shop", headers={"If-None-Match": etag}).status_code == 200
    statuses = [r.status for r in raw.emu.requests]
    assert statuses == [200, 304, 200]
    limits = raw.get("/rate_limit").json()
    assert limits["resources"]["core"]["used"] == 2
    assert limits["rate"]["remaining"] == 4998


def test_pygithub_conditional_request(github_emulator: GitHubEmulator, shop: EmulatedRepo) -> None:
    shop.commit("Root")
    gh_repo = client(github_emulator).get_repo("acme/shop")
    assert gh_repo.update() is False
    assert github_emulator.requests[-1].status == 304


def test_unknown_token_is_bad_credentials(
    github_emulator: GitHubEmulator, shop: EmulatedRepo
) -> None:
    gh = github.Github(base_url=github_emulator.base_url, auth=github.Auth.Token("nope"))
    with pytest.raises(github.BadCredentialsException) as caught:
        gh.get_repo("acme/shop")
    assert caught.value.status == 401
    assert caught.value.data["message"] == "Bad credentials"
    assert github_emulator.requests[-1].status == 401
    assert github_emulator.requests[-1].token_login is None


def test_5xx_is_retried_by_pygithub(github_emulator: GitHubEmulator, shop: EmulatedRepo) -> None:
    github_emulator.inject(status=502, times=2, path=r"/repos/acme/shop$")
    assert client(github_emulator).get_repo("acme/shop").name == "shop"
    assert [r.status for r in github_emulator.requests] == [502, 502, 200]


def test_injected_fault_with_body_headers_and_method(shop: EmulatedRepo, raw: Raw) -> None:
    sha = shop.commit("Root")
    raw.emu.inject(
        status=422,
        method="POST",
        path="/git/refs",
        body={"message": "Reference update failed"},
        headers={"X-Test": "yes"},
    )
    assert raw.get("/repos/acme/shop").status_code == 200
    failed = raw.post("/repos/acme/shop/git/refs", {"ref": "refs/locks/x", "sha": sha})
    assert (failed.status_code, failed.json(), failed.headers["X-Test"]) == (
        422,
        {"message": "Reference update failed"},
        "yes",
    )
    assert raw.post("/repos/acme/shop/git/refs", {"ref": "refs/locks/x", "sha": sha}).ok


def test_slow_answer_is_still_answered(shop: EmulatedRepo, raw: Raw) -> None:
    raw.emu.inject(status=None, delay=0.2)
    answer = raw.get("/repos/acme/shop")
    assert answer.status_code == 200
    with pytest.raises(requests.Timeout):
        raw.emu.inject(status=None, delay=1.0)
        raw.get("/repos/acme/shop", timeout=0.1)


def test_429_with_retry_after(
    github_emulator: GitHubEmulator, shop: EmulatedRepo, raw: Raw
) -> None:
    github_emulator.inject_rate_limit(retry_after=0)
    limited = raw.get("/repos/acme/shop")
    assert limited.status_code == 429
    assert limited.headers["retry-after"] == "0"
    assert limited.json()["message"].startswith("You have exceeded a secondary rate limit.")
    github_emulator.inject_rate_limit(retry_after=0)
    assert client(github_emulator).get_repo("acme/shop").name == "shop"
    assert [r.status for r in github_emulator.requests][-2:] == [429, 200]


def test_secondary_rate_limit_is_retried_by_pygithub(
    github_emulator: GitHubEmulator, shop: EmulatedRepo
) -> None:
    github_emulator.inject_secondary_rate_limit(retry_after=1)
    assert client(github_emulator).get_repo("acme/shop").name == "shop"
    assert [r.status for r in github_emulator.requests] == [403, 200]
    github_emulator.inject_secondary_rate_limit(retry_after=1)
    with pytest.raises(github.RateLimitExceededException) as caught:
        client(github_emulator, retry=None).get_repo("acme/shop")
    assert caught.value.status == 403
    assert caught.value.headers["retry-after"] == "1"


def test_primary_rate_limit_exhausted_until_reset(
    github_emulator: GitHubEmulator, shop: EmulatedRepo, raw: Raw
) -> None:
    start = datetime.now(UTC).replace(microsecond=0)  # PyGithub compares the reset to real time
    now = [start]
    github_emulator.clock = lambda: now[0]
    github_emulator.exhaust_rate_limit(reset_in=60)
    spent = raw.get("/repos/acme/shop")
    assert spent.status_code == 403
    assert spent.headers["X-RateLimit-Remaining"] == "0"
    assert spent.headers["X-RateLimit-Reset"] == str(int(start.timestamp()) + 60)
    assert spent.json()["message"].startswith("API rate limit exceeded for user ID ")
    with pytest.raises(github.RateLimitExceededException):
        client(github_emulator, retry=GithubRetry(max_rate_limit_wait=0)).get_repo("acme/shop")
    graphql = raw.session.post(github_emulator.graphql_url, json={"query": "{ viewer { login } }"})
    assert graphql.json()["errors"][0]["type"] == "RATE_LIMITED"
    now[0] = start + timedelta(seconds=61)
    assert raw.get("/repos/acme/shop").status_code == 200


# -- GraphQL --------------------------------------------------------------------------------


def test_graphql_train_query(github_emulator: GitHubEmulator, shop: EmulatedRepo) -> None:
    github_emulator.add_user("bob", "ghs_bob", name="Bob Builder")
    old = shop.commit("Old change")
    new = shop.commit("New change\n\nDetails", author="bob", when=T0 + timedelta(minutes=5))
    shop.add_status(new, context="ci/build", state="pending")
    shop.add_status(new, context="ci/build", state="success", target_url="http://ci/1")
    shop.add_check_run(new, name="test", conclusion="failure")
    rerun = shop.add_check_run(new, name="test", conclusion="success")
    first = shop.add_deployment(old, environment="staging", statuses=["success"])
    second = shop.add_deployment(
        new,
        environment="staging",
        statuses=["in_progress"],
        payload={"image": "x"},
        created_at=T0 + timedelta(minutes=10),
        description="Deploy new",
    )
    shop.add_deployment(new, environment="production")
    github_emulator.reset_requests()

    gh = client(github_emulator)
    _, data = gh.requester.graphql_query(TRAIN_QUERY, {"owner": "acme", "name": "shop", "limit": 5})
    assert github_emulator.request_count == 1
    assert github_emulator.requests[0].graphql is True
    assert github_emulator.requests[0].path == "/api/graphql"
    result = data["data"]
    assert result["rateLimit"]["cost"] == 1
    assert result["rateLimit"]["remaining"] == 4999
    repo = result["repository"]
    assert repo["nameWithOwner"] == "acme/shop"
    assert repo["defaultBranchRef"]["name"] == "main"
    nodes = repo["defaultBranchRef"]["target"]["history"]["nodes"]
    assert [n["oid"] for n in nodes] == [new, old]
    head = nodes[0]
    assert head["messageHeadline"] == "New change"
    assert head["committedDate"] == "2024-05-01T12:05:00Z"
    assert head["author"] == {"name": "Bob Builder", "user": {"login": "bob"}}
    assert head["status"]["contexts"] == [
        {
            "context": "ci/build",
            "state": "SUCCESS",
            "description": None,
            "targetUrl": "http://ci/1",
        }
    ]
    runs = head["checkSuites"]["nodes"][0]["checkRuns"]["nodes"]
    assert [(r["databaseId"], r["name"], r["status"], r["conclusion"]) for r in runs] == [
        (rerun, "test", "COMPLETED", "SUCCESS")
    ]
    assert runs[0]["detailsUrl"].startswith(github_emulator.url)
    assert nodes[1]["status"] is None
    deployments = repo["env_0"]["nodes"]
    assert [d["databaseId"] for d in deployments] == [second, first]
    assert deployments[0] == {
        "databaseId": second,
        "environment": "staging",
        "createdAt": "2024-05-01T12:10:00Z",
        "payload": '{"image": "x"}',
        "description": "Deploy new",
        "commitOid": new,
        "creator": {"login": "alice"},
        "latestStatus": {
            "state": "IN_PROGRESS",
            "createdAt": "2024-05-01T12:10:00Z",
            "description": "",
            "logUrl": None,
            "environmentUrl": None,
        },
    }
    assert deployments[1]["latestStatus"]["state"] == "SUCCESS"


def test_graphql_all_attempts_object_and_statuses(
    github_emulator: GitHubEmulator, shop: EmulatedRepo, raw: Raw
) -> None:
    sha = shop.commit("Change")
    shop.add_check_run(sha, name="test", conclusion="failure")
    shop.add_check_run(sha, name="test", conclusion="success")
    deployment = shop.add_deployment(sha, environment="qa", statuses=["queued", "success"])
    query = """query($sha: String!) { repository(owner: "acme", name: "shop") {
      object(expression: $sha) { ... on Commit { oid abbreviatedOid
        checkSuites(first: 5) { totalCount nodes { app { slug } status conclusion
          checkRuns(first: 10, filterBy: {checkType: ALL}) {
            totalCount nodes { conclusion } } } } } }
      deployments(first: 1) { totalCount pageInfo { hasNextPage endCursor }
        nodes { databaseId state commit { oid } statuses(first: 5) { nodes { state } } } } } }"""
    answer = raw.session.post(
        github_emulator.graphql_url, json={"query": query, "variables": {"sha": sha[:8]}}
    )
    assert answer.status_code == 200
    assert answer.headers["X-RateLimit-Resource"] == "graphql"
    repo = answer.json()["data"]["repository"]
    commit = repo["object"]
    assert (commit["oid"], commit["abbreviatedOid"]) == (sha, sha[:7])
    suite = commit["checkSuites"]["nodes"][0]
    assert (suite["app"]["slug"], suite["status"], suite["conclusion"]) == (
        "github-actions",
        "COMPLETED",
        "SUCCESS",
    )
    assert [r["conclusion"] for r in suite["checkRuns"]["nodes"]] == ["SUCCESS", "FAILURE"]
    deployments = repo["deployments"]
    assert deployments["totalCount"] == 1
    assert deployments["pageInfo"]["hasNextPage"] is False
    node = deployments["nodes"][0]
    assert (node["databaseId"], node["state"], node["commit"]["oid"]) == (
        deployment,
        "ACTIVE",
        sha,
    )
    assert [s["state"] for s in node["statuses"]["nodes"]] == ["SUCCESS", "QUEUED"]


def test_graphql_errors(github_emulator: GitHubEmulator, shop: EmulatedRepo, raw: Raw) -> None:
    def post(query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        answer = raw.session.post(
            github_emulator.graphql_url, json={"query": query, "variables": variables or {}}
        )
        assert answer.status_code == 200
        return json.loads(answer.content)

    invalid = post('{ repository(owner: "acme", name: "shop") { nope } }')
    assert "data" not in invalid
    assert "nope" in invalid["errors"][0]["message"]
    assert post("{ viewer { ")["errors"][0]["message"].startswith("Syntax Error")
    missing = post('{ repository(owner: "acme", name: "gone") { nameWithOwner } }')
    assert missing["data"] == {"repository": None}
    assert missing["errors"][0]["type"] == "NOT_FOUND"
    assert missing["errors"][0]["message"] == (
        "Could not resolve to a Repository with the name 'acme/gone'."
    )
    unpaged = post('{ repository(owner: "acme", name: "shop") { deployments { totalCount } } }')
    assert unpaged["errors"][0]["message"] == (
        "You must provide a `first` or `last` value to properly paginate the `deployments` "
        "connection."
    )
    gh = client(github_emulator)
    with pytest.raises(github.UnknownObjectException):
        gh.requester.graphql_query(
            'query { repository(owner: "acme", name: "gone") { nameWithOwner } }', {}
        )
    anonymous = requests.post(github_emulator.graphql_url, json={"query": "{ viewer { login } }"})
    assert anonymous.status_code == 401


def test_graphql_cost_follows_githubs_formula(
    github_emulator: GitHubEmulator, shop: EmulatedRepo
) -> None:
    shop.commit("Change")
    gh = client(github_emulator)
    _, data = gh.requester.graphql_query(
        TRAIN_QUERY, {"owner": "acme", "name": "shop", "limit": 50}
    )
    # 1 history + 50 checkSuites + 50 * 20 checkRuns + 1 deployments = 1052 requests -> 11
    assert data["data"]["rateLimit"]["cost"] == 11
    assert data["data"]["rateLimit"]["remaining"] == 5000 - 11


def test_graphql_points_are_charged_the_way_github_computes_them(
    github_emulator: GitHubEmulator,
) -> None:
    """GitHub docs, "Rate limits and query limits for the GraphQL API": add up the requests
    needed to fill each connection (a nested one once per parent node, as if every
    connection were full), divide by 100, round, at least 1. ``status --limit 50`` over
    three environments: 1 (history) + 50 (check suites) + 50 x 50 (check runs) + 3 x (1 +
    20) (deployments and their statuses) = 2,614 requests: 26 points."""
    from commit_train.backends.github.backend import GitHubBackend
    from commit_train.backends.github.queries import LEDGER_NODES_QUERY, LEDGER_PAGE_QUERY

    emu = github_emulator
    repo = emu.create_repo("acme/shop")
    sha = repo.commit("Start")
    ids = [repo.add_deployment(sha, environment="staging", statuses=["success"]) for _ in range(3)]
    backend = GitHubBackend("acme/shop", token=emu.token, base_url=emu.base_url)
    emu.reset_requests()
    backend.snapshot(limit=50, environments=["production", "staging", "dev"])
    assert [r.points for r in emu.requests] == [26]
    emu.reset_requests()
    page = emu_graphql(emu, LEDGER_PAGE_QUERY, {"owner": "acme", "name": "shop"})
    # 1 for the page + 100 for the statuses of its (up to) 100 deployments: 101 / 100
    assert page["data"]["rateLimit"] == {"cost": 1}
    nodes = [n["id"] for n in page["data"]["repository"]["deployments"]["nodes"]]
    assert len(nodes) == 3
    looked_up = emu_graphql(emu, LEDGER_NODES_QUERY, {"ids": [*nodes, "MDEwOkRlcGxveW1lbnQ5OTk="]})
    assert [n and n["databaseId"] for n in looked_up["data"]["nodes"]] == [*reversed(ids), None]
    assert emu.graphql_points == 2
    big = emu_graphql(
        emu,
        "query($ids: [ID!]!) { nodes(ids: $ids) { ... on Deployment { "
        "statuses(first: 100) { nodes { state } } } } }",
        {"ids": nodes * 100},
    )
    assert big["errors"][0]["message"] == "You may not request more than 100 ids at once."


def emu_graphql(emu: GitHubEmulator, query: str, variables: dict[str, Any]) -> Any:
    import urllib.request

    request = urllib.request.Request(
        emu.graphql_url,
        data=json.dumps({"query": query, "variables": variables}).encode(),
        headers={"Authorization": f"bearer {emu.token}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=10) as answer:
        return json.loads(answer.read())
