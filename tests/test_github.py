"""GitHubBackend against the GitHub emulator: the real PyGithub over real HTTP on 127.0.0.1.

Waits are recorded, never slept: every backend here gets ``sleep=waits.append``.
"""

from __future__ import annotations

import socket
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from commit_train.backends.github import mapping, queries
from commit_train.backends.github.backend import GitHubBackend
from commit_train.errors import (
    AmbiguousRefError,
    AuthError,
    GitHubError,
    GitHubUnavailableError,
    NotFoundError,
    RateLimitError,
    UsageError,
)
from commit_train.faces import wiring
from commit_train.models import CheckState, DeployState

SCHEMA = (
    Path(__file__).resolve().parents[2] / "shared" / "reference" / "github-api" / "graphql"
) / "schema.graphql"


@dataclass
class Setup:
    emu: object
    repo: object
    backend: GitHubBackend
    waits: list[float]


def make_backend(emu, name="acme/shop", **kwargs) -> tuple[GitHubBackend, list[float]]:
    waits: list[float] = []
    kwargs.setdefault("token", emu.token)
    backend = GitHubBackend(name, base_url=emu.base_url, sleep=waits.append, **kwargs)
    return backend, waits


@pytest.fixture
def shop(github_emulator) -> Setup:
    repo = github_emulator.create_repo("acme/shop", default_branch="main")
    backend, waits = make_backend(github_emulator)
    yield Setup(github_emulator, repo, backend, waits)
    backend.close()


def seen(emu, backend) -> int:
    """The emulator's request count once it has logged all of ``backend``'s requests.

    The emulator logs a request just after answering it, so its log can trail the client
    by a moment; this waits for the log (not for time to pass) before anything is compared.
    """
    deadline = time.monotonic() + 5
    while emu.request_count < backend.request_count and time.monotonic() < deadline:
        time.sleep(0.002)
    return emu.request_count


# -- construction and configuration -------------------------------------------------------


def test_from_env_reads_the_api_url_and_the_token(github_emulator, monkeypatch):
    github_emulator.create_repo("acme/shop")
    monkeypatch.setenv("GITHUB_API_URL", github_emulator.base_url)
    monkeypatch.delenv("GITHUB_TOKEN", raising=False)
    monkeypatch.setenv("GH_TOKEN", github_emulator.token)
    backend = GitHubBackend.from_env("acme/shop")
    assert backend.api_url == github_emulator.base_url
    assert backend.graphql_url == github_emulator.graphql_url
    assert backend.default_branch() == "main"


def test_github_token_wins_over_gh_token(github_emulator, monkeypatch):
    github_emulator.create_repo("acme/shop")
    monkeypatch.setenv("GITHUB_API_URL", github_emulator.base_url)
    monkeypatch.setenv("GITHUB_TOKEN", github_emulator.token)
    monkeypatch.setenv("GH_TOKEN", "not-a-token")
    assert GitHubBackend.from_env("acme/shop").default_branch() == "main"


def test_no_token_names_the_fix(monkeypatch):
    monkeypatch.delenv("GITHUB_TOKEN", raising=False)
    monkeypatch.delenv("GH_TOKEN", raising=False)
    with pytest.raises(AuthError) as caught:
        GitHubBackend.from_env("acme/shop")
    assert str(caught.value) == "no GitHub token; set GITHUB_TOKEN or GH_TOKEN, or pass --token"


def test_a_repository_name_must_be_owner_slash_name():
    with pytest.raises(UsageError) as caught:
        GitHubBackend("shop", token="t")
    assert str(caught.value) == (
        "repository 'shop' is not owner/name; give it as OWNER/NAME, e.g. acme/shop"
    )


@pytest.mark.parametrize(
    ("api", "graphql", "web"),
    [
        ("https://api.github.com", "https://api.github.com/graphql", "https://github.com"),
        (
            "https://ghe.example.com/api/v3",
            "https://ghe.example.com/api/graphql",
            "https://ghe.example.com",
        ),
        (
            "https://ghe.example.com/api/v3/",
            "https://ghe.example.com/api/graphql",
            "https://ghe.example.com",
        ),
    ],
)
def test_graphql_and_web_addresses_derive_from_the_api_url(api, graphql, web):
    backend = GitHubBackend("acme/shop", token="t", base_url=api)
    assert backend.graphql_url == graphql
    assert backend.progress_url == f"{web}/acme/shop/deployments"
    assert backend.request_count == 0  # nothing is asked of GitHub until a method is called


def test_the_backend_counts_every_request_the_emulator_sees(shop):
    shop.repo.commit("Initial")
    shop.emu.inject(status=502, times=1, path="/commits/")
    shop.backend.default_branch()
    shop.backend.resolve("main")
    shop.backend.checks(shop.backend.resolve("HEAD").sha)
    assert shop.backend.request_count == seen(shop.emu, shop.backend) == 5


# -- default branch, errors on the repository itself ----------------------------------------


def test_default_branch_is_read_once(github_emulator):
    github_emulator.create_repo("acme/shop", default_branch="trunk")
    backend, _ = make_backend(github_emulator)
    assert backend.default_branch() == "trunk"
    assert backend.default_branch() == "trunk"
    assert backend.request_count == seen(github_emulator, backend) == 1


def test_an_unknown_repository_names_the_repo_and_the_token(github_emulator):
    backend, _ = make_backend(github_emulator, "acme/nope")
    with pytest.raises(NotFoundError) as caught:
        backend.default_branch()
    assert str(caught.value) == (
        f"repository acme/nope not found at {github_emulator.base_url}; check the name, and "
        "that the token can read acme/nope (a fine-grained token must list the repository)"
    )
    with pytest.raises(NotFoundError) as caught:
        backend.checks("a" * 40)  # the same through GraphQL
    assert str(caught.value).startswith("repository acme/nope not found at ")


def test_a_rejected_token(github_emulator):
    github_emulator.create_repo("acme/shop")
    backend, waits = make_backend(github_emulator, token="ghp_revoked")
    with pytest.raises(AuthError) as caught:
        backend.default_branch()
    assert str(caught.value) == (
        "the token was rejected by GitHub while trying to read acme/shop (401 Bad credentials); "
        "it may be expired or revoked; set GITHUB_TOKEN or GH_TOKEN, or pass --token "
        "with a valid token"
    )
    assert caught.value.exit_code == 1
    assert waits == []  # a 401 is never retried
    assert backend.request_count == seen(github_emulator, backend) == 1


def test_the_token_login_is_asked_once_or_comes_with_the_gate(shop):
    sha = shop.repo.commit("Initial")
    assert shop.backend.viewer_login() == "alice"
    assert shop.backend.viewer_login() == "alice"
    assert shop.backend.request_count == seen(shop.emu, shop.backend) == 1
    shop.emu.add_user("bob", "ghs_token_bob")
    bob, _ = make_backend(shop.emu, token="ghs_token_bob")
    bob.gate_facts(sha)
    assert bob.viewer_login() == "bob"
    assert bob.request_count == 1  # the gate's query read it
    bob.close()


# -- resolve ----------------------------------------------------------------------------------


def test_resolve_head_full_short_and_branch(shop):
    first = shop.repo.commit("Add cart\n\nThe body is not the title.", author="bob")
    tip = shop.repo.commit("Fix checkout")
    head = shop.backend.resolve("HEAD")
    assert (head.sha, head.title) == (tip, "Fix checkout")
    commit = shop.backend.resolve(first)
    assert (commit.sha, commit.title, commit.author) == (first, "Add cart", "bob")
    assert commit.committed_at.tzinfo is not None
    assert shop.backend.resolve(first[:7]).sha == first
    assert shop.backend.resolve(first[:4].upper()).sha == first
    assert shop.backend.resolve("main").sha == tip


def test_resolve_unknown_commits(shop):
    shop.repo.commit("Initial")
    with pytest.raises(NotFoundError) as caught:
        shop.backend.resolve("f" * 40)
    assert str(caught.value) == (
        f"no commit {'f' * 40} in acme/shop; check the sha (git log origin/HEAD), "
        "or push the commit first"
    )
    with pytest.raises(NotFoundError) as caught:
        shop.backend.resolve("no-such-branch")
    assert str(caught.value).startswith("no commit no-such-branch in acme/shop")


def test_resolve_an_unknown_short_sha(shop):
    shas = [shop.repo.commit(f"Change {i}") for i in range(3)]
    prefix = next(
        p for p in ("0000", "ffff", "abcd", "1234") if not any(s.startswith(p) for s in shas)
    )
    with pytest.raises(NotFoundError) as caught:
        shop.backend.resolve(prefix)
    assert not isinstance(caught.value, AmbiguousRefError)
    assert str(caught.value) == (
        f"no commit of the last 500 on main starts with {prefix}; "
        "check the sha, or give the full 40 characters"
    )


def _colliding(repo, width=4, limit=3000):
    """Commit until two commits of the default branch share a ``width``-digit prefix (and no
    third commit, one the fixture made before, shares it too)."""
    taken = {sha[:width] for sha in repo.commits}
    seen: dict[str, tuple[str, str, int]] = {}
    for i in range(limit):
        title = f"Change number {i}"
        sha = repo.commit(title)
        if sha[:width] in taken:
            continue
        # the pair within the newest 500 commits, where the backend looks for candidates
        if sha[:width] in seen and i - seen[sha[:width]][2] < 400:
            old_sha, old_title, _ = seen[sha[:width]]
            return (old_sha, old_title), (sha, title)
        seen[sha[:width]] = (sha, title, i)
    raise AssertionError("no collision")


def test_resolve_an_ambiguous_short_sha_lists_the_candidates(shop):
    (old, old_title), (new, new_title) = _colliding(shop.repo)
    prefix = new[:4]
    with pytest.raises(AmbiguousRefError) as caught:
        shop.backend.resolve(prefix)
    assert caught.value.candidates == (new, old)  # newest first, as in the history
    assert str(caught.value) == (
        f"short sha {prefix} matches 2 commits: {new[:7]} ({new_title}), "
        f"{old[:7]} ({old_title}); give more characters"
    )


def test_candidates_show_enough_digits_to_tell_them_apart():
    shas = [("1a2b3c4d5" + "0" * 31, "one"), ("1a2b3c4d6" + "0" * 31, "two")]
    assert mapping.short_list(shas) == "1a2b3c4d5 (one), 1a2b3c4d6 (two)"


# -- on_default_branch and compare --------------------------------------------------------------


def test_on_default_branch(shop):
    base = shop.repo.commit("Initial")
    merged = shop.repo.commit("Merged change")
    shop.repo.create_branch("topic", merged)
    topic = shop.repo.commit("Unmerged change", branch="topic")
    tip = shop.repo.commit("Another merged change")
    assert shop.backend.on_default_branch(base)
    assert shop.backend.on_default_branch(merged)
    assert shop.backend.on_default_branch(tip)  # identical
    assert not shop.backend.on_default_branch(topic)  # diverged
    comparison = shop.backend.compare("main", topic)
    assert (comparison.status, comparison.ahead_by, comparison.behind_by) == ("diverged", 1, 1)
    assert comparison.merge_base == merged


# -- checks -----------------------------------------------------------------------------------


def test_checks_read_statuses_and_check_runs(shop):
    sha = shop.repo.commit("Add cart")
    shop.repo.add_status(sha, context="ci/lint", state="success", target_url="https://ci/lint")
    shop.repo.add_check_run(sha, name="test", conclusion="success")
    shop.repo.add_check_run(sha, name="docs", conclusion="skipped")
    checks = shop.backend.checks(sha)
    assert checks.sha == sha
    assert sorted((c.name, c.kind, c.state) for c in checks.checks) == [
        ("ci/lint", "status", CheckState.SUCCESS),
        ("docs", "check_run", CheckState.SUCCESS),
        ("test", "check_run", CheckState.SUCCESS),
    ]
    assert next(c for c in checks.checks if c.name == "ci/lint").url == "https://ci/lint"
    assert checks.state == CheckState.SUCCESS
    assert shop.backend.request_count == seen(shop.emu, shop.backend) == 1  # one GraphQL request


def test_a_check_that_failed_then_passed_on_rerun_is_green(shop):
    sha = shop.repo.commit("Flaky")
    t0 = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
    shop.repo.add_check_run(sha, name="test", conclusion="failure", started_at=t0)
    shop.repo.add_check_run(
        sha, name="test", conclusion="success", started_at=t0 + timedelta(minutes=5)
    )
    for checks in (shop.backend.checks(sha), shop.backend.checks_via_rest(sha)):
        assert [(c.name, c.state) for c in checks.checks] == [("test", CheckState.SUCCESS)]
        assert checks.state == CheckState.SUCCESS


def test_a_check_of_one_app_never_hides_the_same_name_of_another(shop):
    sha = shop.repo.commit("Two CIs")
    shop.repo.add_check_run(sha, name="test", conclusion="failure", app_slug="circleci")
    shop.repo.add_check_run(sha, name="test", conclusion="success")  # newer, GitHub Actions
    shop.repo.add_check_run(sha, name="lint", conclusion="success")
    for checks in (shop.backend.checks(sha), shop.backend.checks_via_rest(sha)):
        assert sorted((c.name, c.state) for c in checks.checks) == [
            ("lint", CheckState.SUCCESS),  # one app: the name alone
            ("test (circleci)", CheckState.FAILURE),
            ("test (github-actions)", CheckState.SUCCESS),
        ]
        assert checks.state == CheckState.FAILURE


def test_a_rerun_still_queued_is_pending_though_it_has_not_started(shop):
    sha = shop.repo.commit("Re-run")
    t0 = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
    shop.repo.add_check_run(sha, name="test", conclusion="success", started_at=t0)
    shop.repo.add_check_run(sha, name="test", status="queued", conclusion=None)
    runs = shop.emu.repo("acme/shop").check_runs
    assert runs[-1].started_at is None  # GitHub's startedAt is null until it starts
    for checks in (shop.backend.checks(sha), shop.backend.checks_via_rest(sha)):
        assert [(c.name, c.state) for c in checks.checks] == [("test", CheckState.PENDING)]


def test_a_matrix_beyond_one_page_is_read_whole_by_the_gate(shop):
    sha = shop.repo.commit("Big matrix")
    for i in range(130):
        shop.repo.add_check_run(sha, name=f"job {i:03}", conclusion="success")
    shop.repo.add_check_run(sha, name="job 000", conclusion="failure")  # the newest 100 hide
    shop.repo.add_check_run(sha, name="job 001", conclusion="success")  # none of this
    for i in range(2, 30):  # the oldest 28 jobs, which the first page leaves out
        shop.repo.add_check_run(sha, name=f"job {i:03}", conclusion="success")
    shop.repo.add_check_run(sha, name="job 050", conclusion="failure", app_slug="circleci")
    shop.emu.reset_requests()
    checks = shop.backend.checks(sha)
    assert len(checks.checks) == 131
    assert sorted(checks.named(CheckState.FAILURE)) == ["job 000", "job 050 (circleci)"]
    seen(shop.emu, shop.backend)
    assert [(r.method, r.query.get("page")) for r in shop.emu.requests] == [
        ("POST", None),  # the GraphQL read says there is more
        ("GET", None),  # so every check run is read through REST
        ("GET", "2"),
    ]
    facts = shop.backend.gate_facts(sha)
    assert facts.checks.state == CheckState.FAILURE
    assert mapping.UNREAD_CHECKS not in [c.name for c in facts.checks.checks]


def test_a_commit_with_unread_checks_is_never_green(shop):
    shas = []
    for apps in (51, 1):
        sha = shop.repo.commit(f"{apps} apps")
        for i in range(apps):
            shop.repo.add_check_run(sha, name="build", conclusion="success", app_slug=f"ci-{i}")
        shas.append(sha)
    snap = shop.backend.snapshot(limit=2, environments=[])
    states = {row.commit.sha: row.checks for row in snap.commits}
    many = states[shas[0]]
    assert many.state == CheckState.PENDING  # 50 suites read, more exist: not green
    assert many.named(CheckState.PENDING) == (mapping.UNREAD_CHECKS,)
    assert states[shas[1]].state == CheckState.SUCCESS
    whole = shop.backend.checks(shas[0])
    assert whole.state == CheckState.SUCCESS
    assert len(whole.checks) == 51
    assert "build (ci-50)" in [c.name for c in whole.checks]


def test_checks_from_graphql_fails_closed_on_a_partial_page():
    run = {"databaseId": 1, "name": "test", "status": "COMPLETED", "conclusion": "SUCCESS"}
    suite = {"app": {"slug": "github-actions"}, "checkRuns": {"nodes": [run]}}
    for more in (
        {"checkSuites": {"pageInfo": {"hasNextPage": True}, "nodes": [suite]}},
        {
            "checkSuites": {
                "nodes": [
                    {**suite, "checkRuns": {"pageInfo": {"hasNextPage": True}, "nodes": [run]}}
                ]
            }
        },
    ):
        checks = mapping.checks_from_graphql({"oid": "a" * 40, **more})
        assert [(c.name, c.state) for c in checks.checks] == [
            ("test", CheckState.SUCCESS),
            ("(more checks than commit-train reads)", CheckState.PENDING),
        ]
        assert checks.state == CheckState.PENDING


def test_a_running_check_is_pending(shop):
    sha = shop.repo.commit("Slow")
    shop.repo.add_check_run(sha, name="build", conclusion="success")
    shop.repo.add_check_run(sha, name="e2e", status="in_progress", conclusion=None)
    checks = shop.backend.checks(sha)
    assert checks.state == CheckState.PENDING
    assert checks.named(CheckState.PENDING) == ("e2e",)


def test_a_failing_status_makes_green_check_runs_red(shop):
    sha = shop.repo.commit("Broken")
    shop.repo.add_check_run(sha, name="test", conclusion="success")
    shop.repo.add_check_run(sha, name="lint", conclusion="success")
    shop.repo.add_status(sha, context="security/scan", state="pending")
    shop.repo.add_status(sha, context="security/scan", state="failure", description="CVE found")
    checks = shop.backend.checks(sha)
    assert checks.state == CheckState.FAILURE
    assert checks.named(CheckState.FAILURE) == ("security/scan",)
    scan = next(c for c in checks.checks if c.name == "security/scan")
    assert (scan.kind, scan.description) == ("status", "CVE found")


def test_a_commit_nothing_reported_on_has_no_checks(shop):
    sha = shop.repo.commit("Quiet")
    assert shop.backend.checks(sha).state == CheckState.NONE


def test_checks_of_an_unknown_commit(shop):
    shop.repo.commit("Initial")
    with pytest.raises(NotFoundError) as caught:
        shop.backend.checks("e" * 40)
    assert str(caught.value) == f"no commit {'e' * 40} in acme/shop; check the sha"


@pytest.mark.parametrize(
    ("status", "conclusion", "expected"),
    [
        ("queued", None, CheckState.PENDING),
        ("in_progress", None, CheckState.PENDING),
        ("completed", "success", CheckState.SUCCESS),
        ("completed", "neutral", CheckState.SUCCESS),
        ("completed", "skipped", CheckState.SUCCESS),
        ("completed", "failure", CheckState.FAILURE),
        ("completed", "cancelled", CheckState.FAILURE),
        ("completed", "timed_out", CheckState.FAILURE),
        ("completed", "action_required", CheckState.FAILURE),
        ("completed", "startup_failure", CheckState.FAILURE),
        ("completed", "stale", CheckState.FAILURE),
    ],
)
def test_check_run_states(shop, status, conclusion, expected):
    sha = shop.repo.commit("Checked")
    shop.repo.add_check_run(sha, name="job", status=status, conclusion=conclusion)
    assert mapping.check_run_state(status, conclusion) == expected
    assert mapping.check_run_state(status.upper(), conclusion and conclusion.upper()) == expected
    assert shop.backend.checks(sha).state == expected
    assert shop.backend.checks_via_rest(sha).state == expected


@pytest.mark.parametrize(
    ("state", "expected"),
    [
        ("success", CheckState.SUCCESS),
        ("failure", CheckState.FAILURE),
        ("error", CheckState.FAILURE),
        ("pending", CheckState.PENDING),
    ],
)
def test_commit_status_states(shop, state, expected):
    sha = shop.repo.commit("Checked")
    shop.repo.add_status(sha, context="ci", state=state)
    assert mapping.status_state(state) == mapping.status_state(state.upper()) == expected
    assert shop.backend.checks(sha).state == expected
    assert shop.backend.checks_via_rest(sha).state == expected


def test_rest_checks_follow_pages_past_100(shop):
    sha = shop.repo.commit("Many jobs")
    for i in range(130):
        shop.repo.add_check_run(sha, name=f"job {i:03}", conclusion="success")
    shop.repo.add_check_run(sha, name="job 129", conclusion="failure")  # a re-run, newest
    checks = shop.backend.checks_via_rest(sha)
    assert len(checks.checks) == 130
    assert checks.named(CheckState.FAILURE) == ("job 129",)
    assert shop.backend.request_count == seen(shop.emu, shop.backend) == 3
    check_run_requests = [r for r in shop.emu.requests if r.path.endswith("/check-runs")]
    assert [r.query.get("page") for r in check_run_requests] == [None, "2"]
    assert shop.backend.checks(sha).named(CheckState.FAILURE) == ("job 129",)


# -- snapshot ---------------------------------------------------------------------------------


def test_snapshot_of_fifty_commits_and_three_environments_in_two_requests(shop):
    repo = shop.repo
    shas = [repo.commit(f"Change {i}") for i in range(60)]  # oldest first
    for i, sha in enumerate(shas[-50:]):
        if i % 3 == 0:
            repo.add_check_run(sha, name="test", conclusion="success")
        if i % 7 == 0:
            repo.add_status(sha, context="ci/lint", state="failure" if i % 2 else "success")
        if i % 11 == 0:
            repo.add_check_run(sha, name="e2e", status="in_progress", conclusion=None)
    t0 = datetime(2024, 5, 1, tzinfo=UTC)
    repo.add_deployment(shas[50], environment="production", statuses=["success"], created_at=t0)
    repo.add_deployment(
        shas[55], environment="production", statuses=["failure"], created_at=t0 + timedelta(hours=1)
    )
    repo.add_deployment(shas[58], environment="staging", statuses=["success"], created_at=t0)
    flying = repo.add_deployment(
        shas[59],
        environment="staging",
        statuses=["queued", "in_progress"],
        created_at=t0 + timedelta(hours=2),
    )
    repo.add_deployment(shas[57], environment="dev", statuses=["success"], created_at=t0)
    repo.add_deployment(
        shas[59], environment="dev", statuses=["success"], created_at=t0 + timedelta(hours=1)
    )
    snap = shop.backend.snapshot(limit=50, environments=["production", "staging", "dev"])

    assert shop.backend.request_count <= 2
    assert seen(shop.emu, shop.backend) == shop.backend.request_count
    assert snap.repo == "acme/shop"
    assert snap.default_branch == "main"
    assert [row.commit.sha for row in snap.commits] == shas[::-1][:50]
    assert {env: dep.sha for env, dep in snap.live.items()} == {
        "production": shas[50],
        "staging": shas[58],
        "dev": shas[59],
    }
    live_in = {row.commit.short_sha: row.live_in for row in snap.commits if row.live_in}
    assert live_in == {
        shas[59][:7]: ("dev",),
        shas[58][:7]: ("staging",),
        shas[50][:7]: ("production",),
    }
    tip = snap.commits[0]
    assert [d.id for d in tip.in_flight] == [flying]
    assert tip.in_flight[0].state == DeployState.IN_PROGRESS
    assert all(not row.in_flight for row in snap.commits[1:])

    # The one-request reading agrees with asking commit by commit over REST.
    for row in snap.commits:
        rest = shop.backend.checks_via_rest(row.commit.sha)
        assert sorted(row.checks.checks, key=repr) == sorted(rest.checks, key=repr)
        assert row.checks.state == rest.state
    assert {row.checks.state for row in snap.commits} == {
        CheckState.SUCCESS,
        CheckState.FAILURE,
        CheckState.PENDING,
        CheckState.NONE,
    }
    for row in snap.commits[:5]:
        assert row.commit == shop.backend.resolve(row.commit.sha)


def test_snapshot_looks_deeper_once_for_a_live_deployment_behind_many_failures(shop):
    good, bad = shop.repo.commit("Good"), shop.repo.commit("Bad")
    t0 = datetime(2024, 5, 1, tzinfo=UTC)
    live = shop.repo.add_deployment(
        good, environment="production", statuses=["success"], created_at=t0
    )
    for i in range(1, 26):
        shop.repo.add_deployment(
            bad,
            environment="production",
            statuses=["failure"],
            created_at=t0 + timedelta(minutes=i),
        )
    shop.repo.add_deployment(bad, environment="staging", statuses=["success"], created_at=t0)
    snap = shop.backend.snapshot(limit=5, environments=["production", "staging"])
    assert shop.backend.request_count == seen(shop.emu, shop.backend) == 2
    assert snap.live["production"].id == live
    assert [(row.commit.sha, row.live_in) for row in snap.commits] == [
        (bad, ("staging",)),
        (good, ("production",)),
    ]


def test_snapshot_limit_is_bounded(shop):
    with pytest.raises(UsageError) as caught:
        shop.backend.snapshot(limit=0, environments=[])
    assert str(caught.value) == "limit 0 is out of range; give a limit from 1 to 100"


def test_snapshot_without_environments(shop):
    sha = shop.repo.commit("Only")
    snap = shop.backend.snapshot(limit=5, environments=[])
    assert [row.commit.sha for row in snap.commits] == [sha]
    assert snap.live == {}


# -- deployments ------------------------------------------------------------------------------


def test_create_deployment_skips_github_own_status_gate(shop):
    sha = shop.repo.commit("Add cart")
    # GitHub would refuse (409) with required_contexts omitted: this context is red.
    shop.repo.add_status(sha, context="ci/legacy", state="failure")
    dep = shop.backend.create_deployment(
        sha=sha,
        environment="staging",
        payload={"requested_by": "carol", "image": "shop:abc"},
        description="deploy 1a2b to staging",
        production=False,
    )
    assert dep.id > 0
    assert (dep.sha, dep.environment, dep.creator) == (sha, "staging", "alice")
    nonce = dep.payload["request_id"]  # a new one for every deployment
    assert len(nonce) == 32
    assert dict(dep.payload) == {"requested_by": "carol", "image": "shop:abc", "request_id": nonce}
    assert dep.requested_by == "carol"
    assert dep.state == DeployState.NONE
    stored = shop.repo.deployments[-1]
    assert stored["id"] == dep.id
    assert stored["production_environment"] is False
    assert stored["transient_environment"] is False
    assert shop.backend.request_count == seen(shop.emu, shop.backend) == 1
    assert [r.method for r in shop.emu.requests] == ["POST"]


def test_create_deployment_of_an_unknown_sha(shop):
    shop.repo.commit("Initial")
    with pytest.raises(NotFoundError) as caught:
        shop.backend.create_deployment(
            sha="d" * 40, environment="dev", payload={}, description="", production=False
        )
    assert str(caught.value) == f"no commit {'d' * 40} in acme/shop; push the commit first"


def test_a_202_auto_merge_answer_is_an_error_not_a_deployment(shop):
    sha = shop.repo.commit("Add cart")
    message = "Auto-merged main into topic on deployment."
    shop.emu.inject(status=202, method="POST", path=r"/deployments$", body={"message": message})
    with pytest.raises(GitHubError) as caught:
        shop.backend.create_deployment(
            sha=sha, environment="dev", payload={}, description="", production=False
        )
    assert caught.value.status == 202
    assert str(caught.value) == (
        f"GitHub did not create a deployment of {sha[:7]} to dev: it answered 202 {message!r}; "
        "GitHub merged instead of deploying (auto_merge); deploy a commit sha of the "
        "default branch, not a branch name"
    )
    assert shop.repo.deployments == []


def test_statuses_carry_log_url_and_success_retires_older_deployments(shop):
    sha = shop.repo.commit("Add cart")
    older = shop.repo.add_deployment(sha, environment="production", statuses=["success"])
    dep = shop.backend.create_deployment(
        sha=sha, environment="production", payload={}, description="", production=True
    )
    queued = shop.backend.add_status(dep.id, state=DeployState.QUEUED, description="queued")
    assert queued.state == DeployState.QUEUED
    status = shop.backend.add_status(
        dep.id,
        state=DeployState.SUCCESS,
        description="rolled out",
        log_url="https://ci.example/run/1",
        environment_url="https://shop.example",
    )
    assert (status.state, status.description, status.creator) == (
        DeployState.SUCCESS,
        "rolled out",
        "alice",
    )
    assert status.log_url == "https://ci.example/run/1"
    assert status.environment_url == "https://shop.example"
    stored = shop.repo.deployment_statuses(dep.id)[-1]
    assert stored["log_url"] == "https://ci.example/run/1"
    assert stored["environment_url"] == "https://shop.example"
    # GitHub's auto_inactive spares production deployments: the older one keeps success
    assert shop.backend.get_deployment(older).state == DeployState.SUCCESS
    got = shop.backend.get_deployment(dep.id)
    assert [s.state for s in got.statuses] == [DeployState.QUEUED, DeployState.SUCCESS]
    assert got.finished_at == got.statuses[-1].created_at
    assert got.url is not None and got.url.startswith(shop.emu.base_url)


def test_success_retires_older_non_production_deployments_only(shop):
    sha = shop.repo.commit("Add cart")
    kinds = {
        "staging": shop.repo.add_deployment(sha, environment="staging", statuses=["success"]),
        "transient": shop.repo.add_deployment(
            sha, environment="staging", statuses=["success"], transient=True
        ),
        "production-flagged": shop.repo.add_deployment(
            sha, environment="staging", statuses=["success"], production=True
        ),
        "failed": shop.repo.add_deployment(sha, environment="staging", statuses=["failure"]),
        "elsewhere": shop.repo.add_deployment(sha, environment="dev", statuses=["success"]),
    }
    newer = create(shop, sha, environment="staging")
    shop.backend.add_status(newer.id, state=DeployState.SUCCESS)
    assert {kind: shop.backend.get_deployment(i).state for kind, i in kinds.items()} == {
        "staging": DeployState.INACTIVE,
        "transient": DeployState.SUCCESS,
        "production-flagged": DeployState.SUCCESS,
        "failed": DeployState.FAILURE,
        "elsewhere": DeployState.SUCCESS,
    }


def test_a_production_history_of_three_successes(shop):
    from commit_train import config
    from commit_train.service.rollback import rollback_target

    shas = [shop.repo.commit(title) for title in ("One", "Two", "Three", "Four")]
    ids = []
    for sha in shas[:3]:
        dep = shop.backend.create_deployment(
            sha=sha, environment="production", payload={}, description="", production=True
        )
        shop.backend.add_status(dep.id, state=DeployState.SUCCESS)
        ids.append(dep.id)
    queued = create(shop, shas[3], environment="production")
    shop.backend.add_status(queued.id, state=DeployState.QUEUED)
    history = shop.backend.deployments(environment="production", limit=10)
    assert [(d.id, d.state) for d in history] == [
        (queued.id, DeployState.QUEUED),
        (ids[2], DeployState.SUCCESS),
        (ids[1], DeployState.SUCCESS),  # production keeps its successes
        (ids[0], DeployState.SUCCESS),
    ]
    snap = shop.backend.snapshot(limit=4, environments=["production"])
    assert snap.live["production"].id == ids[2]  # the newest success is the live one
    rows = {row.commit.sha: row for row in snap.commits}
    assert [sha for sha in shas if rows[sha].live_in] == [shas[2]]
    assert [d.id for d in rows[shas[3]].in_flight] == [queued.id]
    assert all(not rows[sha].in_flight for sha in shas[:3])
    state = shop.backend.branch_state(environments=["production"], refs=[])
    assert state.live["production"].id == ids[2]
    train = wiring.github(shop.backend).train(
        config.parse("version: 1\nenvironments:\n  production: {production: true}\n"),
        actor="alice",
        source="cli",
    )
    live, target = rollback_target(train, "production")
    assert (live.id, target.id) == (ids[2], ids[1])


def test_unknown_deployment(shop):
    shop.repo.commit("Initial")
    with pytest.raises(NotFoundError) as caught:
        shop.backend.get_deployment(999999)
    assert str(caught.value) == (
        "no deployment 999999 in acme/shop; "
        "check the deployment id (commit-train history lists them)"
    )
    with pytest.raises(NotFoundError):
        shop.backend.add_status(999999, state=DeployState.FAILURE)


def test_deployments_history_newest_first_with_statuses(shop):
    a = shop.repo.commit("A")
    b = shop.repo.commit("B")
    t0 = datetime(2024, 5, 1, tzinfo=UTC)
    first = shop.repo.add_deployment(
        a, environment="staging", statuses=["queued", "success"], created_at=t0
    )
    prod = shop.repo.add_deployment(
        a, environment="production", statuses=["failure"], created_at=t0 + timedelta(minutes=1)
    )
    second = shop.repo.add_deployment(
        b,
        environment="staging",
        statuses=["queued", "in_progress", "success"],
        created_at=t0 + timedelta(minutes=2),
        creator="bob",
    )
    staging = shop.backend.deployments(environment="staging", limit=10)
    assert shop.backend.request_count == seen(shop.emu, shop.backend) == 1
    assert [d.id for d in staging] == [second, first]
    assert [s.state for s in staging[0].statuses] == [
        DeployState.QUEUED,
        DeployState.IN_PROGRESS,
        DeployState.SUCCESS,
    ]
    assert staging[0].creator == "bob"
    assert [s.state for s in staging[1].statuses] == [
        DeployState.QUEUED,
        DeployState.SUCCESS,
        DeployState.INACTIVE,  # retired by the newer success
    ]
    everything = shop.backend.deployments(limit=10)
    assert [d.id for d in everything] == [second, prod, first]
    assert [d.id for d in shop.backend.deployments(limit=2)] == [second, prod]


def test_deployments_page_past_100(shop):
    sha = shop.repo.commit("A")
    t0 = datetime(2024, 5, 1, tzinfo=UTC)
    ids = [
        shop.repo.add_deployment(
            sha, environment="dev", statuses=["success"], created_at=t0 + timedelta(minutes=i)
        )
        for i in range(120)
    ]
    got = shop.backend.deployments(environment="dev", limit=150)
    assert [d.id for d in got] == ids[::-1]
    assert shop.backend.request_count == seen(shop.emu, shop.backend) == 2
    assert got[0].state == DeployState.SUCCESS
    assert all(d.state == DeployState.INACTIVE for d in got[1:])


# -- refs (for locks) ---------------------------------------------------------------------------


def test_refs(shop):
    sha = shop.repo.commit("A")
    other = shop.repo.commit("B")
    assert shop.backend.get_ref("refs/locks/production") is None
    assert shop.backend.create_ref("refs/locks/production", sha) is True
    assert shop.backend.create_ref("refs/locks/production", other) is False
    assert shop.backend.get_ref("refs/locks/production") == sha
    assert shop.repo.refs["refs/locks/production"] == sha
    assert shop.backend.get_ref("refs/heads/main") == other
    assert shop.backend.delete_ref("refs/locks/production") is True
    assert shop.backend.delete_ref("refs/locks/production") is False
    assert shop.backend.get_ref("locks/production") is None


# -- retries and rate limits ------------------------------------------------------------------


def test_a_5xx_then_success_is_retried_with_backoff(shop):
    shop.emu.inject(status=502, times=2)
    assert shop.backend.default_branch() == "main"
    assert shop.waits == [1.0, 2.0]
    assert shop.backend.request_count == seen(shop.emu, shop.backend) == 3


def test_a_persistent_5xx_gives_up_after_the_last_attempt(shop):
    shop.emu.inject(status=503, times=10)
    with pytest.raises(GitHubUnavailableError) as caught:
        shop.backend.default_branch()
    assert str(caught.value) == (
        "GitHub answered 503 to GET /api/v3/repos/acme/shop 4 times; GitHub may be degraded "
        "(see https://www.githubstatus.com); try again in a few minutes"
    )
    assert shop.waits == [1.0, 2.0, 4.0]
    assert shop.backend.request_count == seen(shop.emu, shop.backend) == 4


def create(shop, sha, environment="dev"):
    return shop.backend.create_deployment(
        sha=sha, environment=environment, payload={}, description="", production=False
    )


def labels(emu) -> list[str]:
    return [
        f"{r.method} {r.path.removeprefix('/api/v3/repos/acme/shop')} {r.status}"
        for r in emu.requests
    ]


def test_a_deployment_whose_answer_was_lost_is_created_once(shop):
    sha = shop.repo.commit("A")
    shop.repo.add_deployment(sha, environment="dev", payload={"request_id": "someone else"})
    # GitHub created it, then a proxy lost the answer: the retry must not create a second.
    shop.emu.inject(status=502, method="POST", path=r"/deployments$", applied=True)
    dep = create(shop, sha)
    created = [d for d in shop.repo.deployments if d["payload"].get("request_id") != "someone else"]
    assert [d["id"] for d in created] == [dep.id]
    assert dep.payload["request_id"] == created[0]["payload"]["request_id"]
    assert (dep.sha, dep.environment) == (sha, "dev")
    assert shop.waits == [1.0]
    seen(shop.emu, shop.backend)
    assert labels(shop.emu) == [
        "POST /deployments 502",
        "GET /deployments 200",  # that commit's deployments to dev: the nonce is there
    ]
    assert shop.emu.requests[1].query == {"sha": sha, "environment": "dev", "per_page": "100"}


def test_a_deployment_that_failed_before_github_recorded_it_is_sent_again(shop):
    sha = shop.repo.commit("A")
    shop.emu.inject(status=500, times=1, method="POST")
    dep = create(shop, sha)
    assert [d["id"] for d in shop.repo.deployments] == [dep.id]
    assert shop.waits == [1.0]
    seen(shop.emu, shop.backend)
    assert labels(shop.emu) == [
        "POST /deployments 500",
        "GET /deployments 200",  # not there: only now is it sent again
        "POST /deployments 201",
    ]


def test_a_rate_limited_deployment_is_simply_retried(shop):
    sha = shop.repo.commit("A")
    shop.emu.inject_rate_limit(times=1, retry_after=2)
    dep = create(shop, sha)
    assert [d["id"] for d in shop.repo.deployments] == [dep.id]
    assert shop.waits == [2.0]
    seen(shop.emu, shop.backend)
    assert labels(shop.emu) == ["POST /deployments 429", "POST /deployments 201"]


def test_a_deployment_github_never_records_ends_after_the_last_attempt(shop):
    sha = shop.repo.commit("A")
    shop.emu.inject(status=503, times=10, method="POST")
    with pytest.raises(GitHubUnavailableError) as caught:
        create(shop, sha)
    assert str(caught.value) == (
        "GitHub answered 503 to POST /api/v3/repos/acme/shop/deployments (4 attempts, no "
        "deployment recorded); GitHub may be degraded (see https://www.githubstatus.com); "
        "try again in a few minutes"
    )
    assert shop.repo.deployments == []
    assert shop.waits == [1.0, 2.0, 4.0, 8.0]
    assert shop.backend.request_count == seen(shop.emu, shop.backend) == 8  # 4 POST + 4 GET


def test_a_lost_deployment_that_cannot_be_looked_up_says_so(shop):
    sha = shop.repo.commit("A")
    shop.emu.inject(status=502, method="POST", path=r"/deployments$", applied=True)
    shop.emu.inject(status=502, times=10, method="GET", path=r"/deployments$")
    with pytest.raises(GitHubUnavailableError) as caught:
        create(shop, sha)
    assert str(caught.value) == (
        "GitHub answered 502 to POST /api/v3/repos/acme/shop/deployments, and whether GitHub "
        "recorded the deployment is unknown (GitHub answered 502 to GET "
        "/api/v3/repos/acme/shop/deployments 4 times); "
        "look at commit-train history before trying again"
    )
    assert len(shop.repo.deployments) == 1  # it was created: never a second one


def test_a_deployment_status_whose_answer_was_lost_is_recorded_once(shop):
    sha = shop.repo.commit("A")
    dep = create(shop, sha)
    shop.emu.reset_requests()
    shop.emu.inject(status=502, method="POST", path=r"/statuses$", applied=True)
    status = shop.backend.add_status(
        dep.id, state=DeployState.IN_PROGRESS, description="applying", log_url="https://ci/1"
    )
    assert (status.state, status.description, status.log_url) == (
        DeployState.IN_PROGRESS,
        "applying",
        "https://ci/1",
    )
    assert [s["state"] for s in shop.repo.deployment_statuses(dep.id)] == ["in_progress"]
    seen(shop.emu, shop.backend)
    assert labels(shop.emu) == [
        f"POST /deployments/{dep.id}/statuses 502",
        f"GET /deployments/{dep.id}/statuses 200",
    ]
    # not recorded: sent again; the newest status then differs from the one asked for
    shop.emu.inject(status=500, method="POST", path=r"/statuses$")
    shop.backend.add_status(dep.id, state=DeployState.SUCCESS, description="rolled out")
    assert [s["state"] for s in shop.repo.deployment_statuses(dep.id)] == [
        "in_progress",
        "success",
    ]


def test_no_connection(github_emulator):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    waits: list[float] = []
    backend = GitHubBackend(
        "acme/shop", token="t", base_url=f"http://127.0.0.1:{port}/api/v3", sleep=waits.append
    )
    with pytest.raises(GitHubUnavailableError) as caught:
        backend.default_branch()
    assert str(caught.value) == (
        f"could not reach GitHub at 127.0.0.1:{port} for GET /api/v3/repos/acme/shop after "
        "4 attempts (ConnectionError); check the network and GITHUB_API_URL, then try again"
    )
    assert waits == [1.0, 2.0, 4.0]
    assert backend.request_count == 4


def test_429_with_retry_after_waits_as_asked(shop):
    shop.emu.inject_rate_limit(times=1, retry_after=7)
    assert shop.backend.default_branch() == "main"
    assert shop.waits == [7.0]
    assert shop.backend.request_count == seen(shop.emu, shop.backend) == 2


def test_secondary_rate_limit_waits_as_asked(shop):
    shop.repo.commit("A")
    shop.emu.inject_secondary_rate_limit(times=2, retry_after=3)
    assert shop.backend.resolve("main").title == "A"
    assert shop.waits == [3.0, 3.0]


def test_a_secondary_limit_longer_than_max_wait_fails_at_once(github_emulator):
    github_emulator.create_repo("acme/shop")
    backend, waits = make_backend(github_emulator, max_wait=30)
    github_emulator.inject_secondary_rate_limit(times=1, retry_after=120)
    with pytest.raises(RateLimitError) as caught:
        backend.default_branch()
    assert caught.value.delay == 120
    assert str(caught.value) == (
        "GitHub's secondary rate limit stopped GET /api/v3/repos/acme/shop and asks to wait "
        "120 s; wait until then and try again, or use another token "
        "(a GitHub App installation token has its own limit)"
    )
    assert waits == []
    assert backend.request_count == seen(github_emulator, backend) == 1


def test_a_rate_limit_that_outlasts_the_attempts_is_a_rate_limit_error(shop):
    shop.emu.inject_rate_limit(times=10, retry_after=1)
    with pytest.raises(RateLimitError):
        shop.backend.default_branch()
    assert shop.waits == [1.0, 1.0, 1.0]
    assert shop.backend.request_count == seen(shop.emu, shop.backend) == 4


def test_primary_limit_far_from_reset_fails_at_once_saying_when(github_emulator):
    now = datetime(2024, 5, 1, 12, 0, 0, tzinfo=UTC)
    github_emulator.clock = lambda: now
    github_emulator.create_repo("acme/shop")
    backend, waits = make_backend(github_emulator, clock=lambda: now.timestamp())
    github_emulator.exhaust_rate_limit(reset_in=3600)
    with pytest.raises(RateLimitError) as caught:
        backend.default_branch()
    assert str(caught.value) == (
        "GitHub's rate limit is spent until 13:00 UTC (in 60 min); "
        "wait until then and try again, or use another "
        "token (a GitHub App installation token has its own limit)"
    )
    assert caught.value.delay == 3601
    assert waits == []
    with pytest.raises(RateLimitError) as caught:
        backend.checks("a" * 40)  # GraphQL says so with a 200 and a RATE_LIMITED error
    assert str(caught.value).startswith(
        "GitHub's rate limit is spent until 13:00 UTC (in 60 min); "
    )


def test_primary_limit_close_to_reset_is_waited_for(github_emulator):
    clock = [datetime(2024, 5, 1, 12, 0, 0, tzinfo=UTC)]
    github_emulator.clock = lambda: clock[0]
    github_emulator.create_repo("acme/shop")
    waits: list[float] = []

    def sleep(seconds: float) -> None:
        waits.append(seconds)
        clock[0] += timedelta(seconds=seconds)

    backend = GitHubBackend(
        "acme/shop",
        token=github_emulator.token,
        base_url=github_emulator.base_url,
        sleep=sleep,
        clock=lambda: clock[0].timestamp(),
    )
    github_emulator.exhaust_rate_limit(reset_in=20)
    assert backend.default_branch() == "main"
    assert waits == [21.0]
    github_emulator.exhaust_rate_limit(reset_in=10)
    github_emulator.repo("acme/shop").commit("A")
    assert backend.checks(backend.resolve("main").sha).state == CheckState.NONE
    assert waits == [21.0, 11.0]


def test_a_permission_refusal_is_an_auth_error(shop):
    shop.emu.inject(
        status=403,
        body={"message": "Resource not accessible by integration"},
        method="POST",
    )
    sha = shop.repo.commit("A")
    with pytest.raises(AuthError) as caught:
        shop.backend.create_deployment(
            sha=sha, environment="dev", payload={}, description="", production=False
        )
    assert str(caught.value) == (
        f"GitHub refused to create a deployment of {sha[:7]} to dev: 403 Resource not accessible "
        "by integration; give the token access to acme/shop with contents: read, statuses: read, "
        "checks: read and deployments: write (contents: write to take locks)"
    )
    assert shop.waits == []


def test_graphql_errors_are_github_errors(shop):
    shop.emu.inject(
        status=200, path="graphql", body={"errors": [{"message": "Something went wrong"}]}
    )
    with pytest.raises(GitHubError) as caught:
        shop.backend.checks("a" * 40)
    assert str(caught.value) == (
        f"GitHub's GraphQL API could not read the checks of {'a' * 40}: Something went wrong"
    )


# -- the query text against GitHub's real schema -------------------------------------------------


@pytest.fixture(scope="module")
def github_schema():
    if not SCHEMA.is_file():
        pytest.skip("GitHub's GraphQL schema is not beside the checkout")
    graphql = pytest.importorskip("graphql")
    # GitHub's published SDL repeats a few fields and deprecates some interface fields in
    # implementations only; graphql-core rejects both, neither matters to our queries.
    schema = graphql.build_schema(SCHEMA.read_text(encoding="utf-8"), assume_valid_sdl=True)
    schema._validation_errors = []
    return schema


@pytest.mark.shared
@pytest.mark.parametrize(
    "query",
    [
        queries.CHECKS_QUERY,
        queries.HEAD_QUERY,
        queries.HISTORY_QUERY,
        queries.DEPLOYMENTS_QUERY,
        queries.snapshot_query(0),
        queries.snapshot_query(1),
        queries.snapshot_query(3),
        queries.live_query(2),
        queries.VIEWER_QUERY,
        queries.gate_query(head=False, promotion=True, ref_count=1),
        queries.gate_query(head=True, promotion=True, ref_count=1, target=True),
        queries.branch_state_query(1, 1),
        queries.COMMIT_DEPLOYMENTS_QUERY,
        queries.LEDGER_PAGE_QUERY,
        queries.LEDGER_NODES_QUERY,
    ],
    ids=[
        "checks",
        "head",
        "history",
        "deployments",
        "snapshot-0",
        "snapshot-1",
        "snapshot-3",
        "live-2",
        "viewer",
        "gate",
        "gate-recent",
        "branch-state",
        "commit-deployments",
        "ledger-page",
        "ledger-nodes",
    ],
)
def test_queries_are_valid_against_githubs_schema(github_schema, query):
    import graphql

    assert graphql.validate(github_schema, graphql.parse(query)) == []
