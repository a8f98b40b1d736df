"""The gate in one GitHub request: ``gate_facts`` on both backends, ``Train.check`` and
``commit-train deploy`` request counts against the GitHub emulator, every fallback with the
messages it always had, the query text against GitHub's published schema, and the
emulator's ``Ref.compare``."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import requests
from click.testing import CliRunner

from commit_train import config
from commit_train.backends.github import queries
from commit_train.backends.github.backend import GitHubBackend
from commit_train.backends.local.backend import LocalBackend
from commit_train.errors import AmbiguousRefError, GitHubError, NotFoundError, RefusedError
from commit_train.faces import wiring
from commit_train.faces.cli.main import cli
from commit_train.models import DeployState
from commit_train.service.locks import GitHubLockStore, lock_ref
from commit_train.service.train import Train
from tests.gitrepos import Repo

SCHEMA = (
    Path(__file__).resolve().parents[2] / "shared" / "reference" / "github-api" / "graphql"
) / "schema.graphql"

CONFIG_TEXT = """
version: 1
checks:
  ignore: [deploy]
environments:
  staging: {}
  production:
    production: true
    requires: [staging]
"""
CONFIG = config.parse(CONFIG_TEXT)


def backend_for(emu, login: str = "alice") -> GitHubBackend:
    token = emu.token
    if login != "alice":
        token = f"ghs_token_{login}"
        emu.add_user(login, token)
    return GitHubBackend("acme/shop", token=token, base_url=emu.base_url, sleep=lambda s: None)


def labels(emu) -> list[str]:
    return ["POST graphql" if r.graphql else f"{r.method} {r.path}" for r in emu.requests]


@pytest.fixture
def shop(github_emulator):
    """acme/shop: three commits on main (the middle one with a two-line message), a topic
    branch off the middle one, green checks on everything but the deploy workflow's own."""
    emu = github_emulator
    repo = emu.create_repo("acme/shop", default_branch="main")
    first = repo.commit("Start the shop service")
    middle = repo.commit("Add the cart\n\nA body that is not the title.", author="bob")
    repo.create_branch("topic", middle)
    topic = repo.commit("Unmerged change", branch="topic")
    tip = repo.commit("Fix the footer")
    for sha in (first, middle, topic, tip):
        repo.add_check_run(sha, name="test")
    repo.add_check_run(tip, name="deploy", status="in_progress", conclusion=None)
    repo.add_status(middle, context="lint", state="success")
    backend = backend_for(emu)
    yield emu, repo, backend, {"first": first, "middle": middle, "topic": topic, "tip": tip}
    backend.close()


# -- one request ------------------------------------------------------------------------------


@pytest.mark.parametrize("form", ["full", "short", "HEAD", "branch"])
def test_check_is_one_request_whatever_names_the_commit(shop, form: str) -> None:
    emu, _repo, backend, shas = shop
    ref = {"full": shas["tip"], "short": shas["tip"][:7], "HEAD": "HEAD", "branch": "main"}[form]
    expected = backend_for(emu, "bob").resolve(shas["tip"])
    emu.reset_requests()
    train = wiring.github(backend).train(CONFIG, actor="carol", source="cli")
    commit, decision = train.check("staging", ref)
    assert labels(emu) == ["POST graphql"]
    assert backend.request_count == 1
    assert commit == expected  # the same commit the REST lookup gives
    assert (decision.allowed, decision.message) == (
        True,
        f"{shas['tip'][:7]} can be deployed to staging",
    )


def test_the_facts_are_the_separate_answers_in_one_go(shop) -> None:
    emu, repo, backend, shas = shop
    repo.add_deployment(shas["middle"], environment="staging", statuses=["success"])
    repo.add_deployment(shas["middle"], environment="dev", statuses=["success"])
    other = backend_for(emu, "bob")
    for name in ("middle", "topic"):
        sha = shas[name]
        emu.reset_requests()
        facts = backend.gate_facts(
            sha[:8],
            environments=["staging", "production"],
            refs=[lock_ref("*"), "refs/heads/topic"],
        )
        assert labels(emu) == ["POST graphql"]
        assert facts.commit == other.resolve(sha)
        assert facts.default_branch == other.default_branch() == "main"
        assert facts.on_default_branch is other.on_default_branch(sha) is (name == "middle")
        assert facts.checks == other.checks(sha)
        assert facts.deployments == tuple(
            other.deployments_of(sha, environments=["staging", "production"])
        )
        assert list(facts.refs) == ["refs/heads/topic"]  # only the refs that exist
        assert facts.refs["refs/heads/topic"].sha == shas["topic"]
        assert [d.environment for d in facts.deployments] == (
            ["staging"] if name == "middle" else []
        )
    assert backend.gate_facts(shas["middle"]).commit.title == "Add the cart"


def test_promotion_order_and_its_deployments_in_the_same_request(shop) -> None:
    emu, _repo, backend, shas = shop
    train = wiring.github(backend).train(CONFIG, actor="carol", source="cli")
    emu.reset_requests()
    with pytest.raises(RefusedError) as refused:
        train.deploy("production", shas["tip"][:7])
    assert labels(emu) == ["POST graphql"]
    assert refused.value.reason == "promotion-order"
    assert str(refused.value) == (
        f"{shas['tip'][:7]} has not been deployed successfully to staging yet; deploy it to "
        "staging first (production requires staging)"
    )
    staged = train.deploy("staging", shas["tip"]).deployment
    assert staged is not None
    train.set_status(staged.id, DeployState.SUCCESS)
    emu.reset_requests()
    _commit, decision = train.check("production", shas["tip"])
    assert decision.allowed
    assert emu.request_count == 1


def test_off_the_default_branch_is_refused_in_one_request(shop) -> None:
    emu, _repo, backend, shas = shop
    train = wiring.github(backend).train(CONFIG, actor="carol", source="cli")
    emu.reset_requests()
    _commit, decision = train.check("staging", "topic")
    assert emu.request_count == 1
    assert (decision.reason, decision.message) == (
        "not-on-default-branch",
        f"{shas['topic'][:7]} is not on the default branch main; merge it first, "
        "only commits of main can be deployed",
    )


def test_locks_come_with_the_facts(shop) -> None:
    emu, _repo, backend, shas = shop
    now = [datetime.now(UTC)]
    alice = wiring.github(backend, clock=lambda: now[0]).train(CONFIG, actor="alice", source="cli")
    bob = wiring.github(backend_for(emu, "bob"), clock=lambda: now[0]).train(
        CONFIG, actor="bob", source="cli"
    )
    alice.lock("staging", reason="db migration", ttl=3600)
    emu.reset_requests()
    _commit, decision = bob.check("staging", shas["tip"])
    assert emu.request_count == 1
    assert decision.reason == "locked"
    assert decision.message.startswith("staging is locked by alice since ")
    assert decision.message.endswith(": db migration; ask alice to unlock it, or wait")
    assert alice.check("staging", shas["tip"])[1].allowed  # the holder may deploy
    assert bob.check("production", shas["tip"])[1].reason == "promotion-order"
    now[0] += timedelta(hours=1)  # expired: no longer blocks
    assert bob.check("staging", shas["tip"])[1].allowed
    alice.lock(None, reason="release freeze")
    _commit, decision = bob.check("production", shas["tip"])
    assert decision.message.startswith("all environments are locked by alice")


def test_a_lock_store_elsewhere_is_read_on_its_own(shop) -> None:
    emu, _repo, backend, shas = shop
    holder = backend_for(emu, "bob")
    GitHubLockStore(holder).acquire("staging", holder="bob", reason="load test")
    train = Train(backend, CONFIG, actor="carol", source="cli", locks=GitHubLockStore(holder))
    before = holder.request_count
    _commit, decision = train.check("staging", shas["tip"])
    assert decision.reason == "locked"
    assert backend.request_count == 1
    assert holder.request_count - before == 1


# -- the fallbacks, with the messages they always had -------------------------------------------


def test_an_unknown_full_sha_costs_a_second_request_and_says_what_resolve_says(shop) -> None:
    emu, _repo, backend, _shas = shop
    emu.reset_requests()
    with pytest.raises(NotFoundError) as caught:
        wiring.github(backend).train(CONFIG, actor="carol", source="cli").check("staging", "f" * 40)
    assert labels(emu) == ["POST graphql", f"GET /api/v3/repos/acme/shop/commits/{'f' * 40}"]
    assert str(caught.value) == (
        f"no commit {'f' * 40} in acme/shop; check the sha (git log origin/HEAD), "
        "or push the commit first"
    )


def test_an_unknown_short_sha_says_what_resolve_says(shop) -> None:
    _emu, _repo, backend, shas = shop
    prefix = next(
        p for p in ("0000", "ffff", "abcd", "1234") if not any(s.startswith(p) for s in shas)
    )
    with pytest.raises(NotFoundError) as caught:
        backend.gate_facts(prefix)
    assert not isinstance(caught.value, AmbiguousRefError)
    assert str(caught.value) == (
        f"no commit of the last 500 on main starts with {prefix}; "
        "check the sha, or give the full 40 characters"
    )


def test_an_ambiguous_short_sha_lists_the_candidates_as_before(shop) -> None:
    emu, repo, backend, _shas = shop
    taken = {sha[:4] for sha in repo.commits}  # the fixture's commits must not share it
    seen: dict[str, str] = {}
    for i in range(2000):
        sha = repo.commit(f"Change number {i}")
        if sha[:4] in taken:
            continue
        if sha[:4] in seen:
            break
        seen[sha[:4]] = sha
    prefix = sha[:4]
    with pytest.raises(AmbiguousRefError) as expected:
        backend_for(emu, "bob").resolve(prefix)
    emu.reset_requests()
    with pytest.raises(AmbiguousRefError) as caught:
        backend.gate_facts(prefix)
    assert labels(emu)[:2] == ["POST graphql", f"GET /api/v3/repos/acme/shop/commits/{prefix}"]
    assert str(caught.value) == str(expected.value)
    assert caught.value.candidates == (sha, seen[prefix])


def test_a_commit_sharing_no_history_asks_the_rest_compare_as_before(shop) -> None:
    emu, repo, backend, _shas = shop
    orphan = repo.commit("Unrelated root", branch="orphan", parents=[])
    emu.reset_requests()
    with pytest.raises(NotFoundError) as caught:
        backend.gate_facts(orphan)
    assert labels(emu) == [
        "POST graphql",
        f"GET /api/v3/repos/acme/shop/compare/main...{orphan}",
    ]
    assert str(caught.value) == (
        f"cannot compare {orphan} with main in acme/shop: one of them does not exist; "
        "check the sha or branch name"
    )


def test_errors_beside_data_on_the_nullable_fields_take_the_fallback(shop) -> None:
    emu, _repo, backend, shas = shop
    emu.inject(
        status=200,
        path="graphql",
        body={
            "data": {"repository": {"defaultBranchRef": {"name": "main"}, "object": None}},
            "errors": [
                {
                    "type": "NOT_FOUND",
                    "path": ["repository", "object"],
                    "message": "Could not resolve to a Git object.",
                }
            ],
        },
    )
    emu.reset_requests()
    facts = backend.gate_facts(shas["tip"])
    assert labels(emu) == [
        "POST graphql",
        f"GET /api/v3/repos/acme/shop/commits/{shas['tip']}",
        "POST graphql",
    ]
    assert facts.commit.sha == shas["tip"] and facts.on_default_branch
    # an error anywhere else is still an error
    emu.inject(
        status=200,
        path="graphql",
        body={
            "data": {"repository": None},
            "errors": [{"path": ["repository", "ref0"], "message": "Something went wrong"}],
        },
    )
    with pytest.raises(GitHubError) as caught:
        backend.gate_facts(shas["tip"], refs=[lock_ref("*")])
    assert str(caught.value) == (
        f"GitHub's GraphQL API could not read commit {shas['tip']} and its checks: "
        "Something went wrong"
    )


# -- the CLI: one deploy's requester side ---------------------------------------------------------


def test_cli_deploy_asks_github_three_times(shop, tmp_path: Path) -> None:
    emu, repo, _backend, shas = shop
    (tmp_path / ".commit-train.yml").write_text(CONFIG_TEXT)
    env = {
        "GITHUB_API_URL": emu.base_url,
        "GITHUB_TOKEN": emu.token,
        "GH_TOKEN": None,
        "COMMIT_TRAIN_BACKEND": None,
        "GITHUB_ACTOR": "carol",
    }

    def deploy(*args: str):
        return CliRunner().invoke(
            cli,
            ["-C", str(tmp_path), "--repo", "acme/shop", "deploy", *args],
            env=env,
            prog_name="commit-train",
        )

    emu.reset_requests()
    result = deploy("staging", shas["tip"][:7])
    assert result.exit_code == 0, result.output
    assert labels(emu) == [
        "POST graphql",  # the gate: commit, branch, checks, locks
        "POST /api/v3/repos/acme/shop/deployments",
        f"POST /api/v3/repos/acme/shop/deployments/{repo.deployments[-1]['id']}/statuses",
    ]
    emu.reset_requests()
    refused = deploy("production", shas["tip"][:7])
    assert refused.exit_code == 1
    assert "has not been deployed successfully to staging yet" in refused.stderr
    assert emu.request_count == 1


# -- the local backend gives the same facts -------------------------------------------------------


def test_local_gate_facts_are_the_separate_answers(tmp_path: Path) -> None:
    repo = Repo(tmp_path / "shop")
    repo.commit("Start the shop service")
    sha = repo.commit("Add the cart")
    backend = LocalBackend(repo.root, creator="alice")
    backend.record_check(sha, "test", "success")
    deployment = backend.create_deployment(
        sha=sha, environment="staging", payload={}, description="", production=False
    )
    facts = backend.gate_facts(sha[:7], environments=["staging"], refs=[lock_ref("*")])
    assert facts.commit == backend.resolve(sha)
    assert (facts.default_branch, facts.on_default_branch) == (backend.default_branch(), True)
    assert facts.checks == backend.checks(sha)
    assert [d.id for d in facts.deployments] == [deployment.id]
    assert facts.refs == {}  # local locks live in the journal
    assert backend.gate_facts("HEAD").deployments == ()


# -- the query text --------------------------------------------------------------------------------

GATE_QUERIES = [
    queries.gate_query(head=head, promotion=promotion, ref_count=refs, target=target)
    for head in (False, True)
    for promotion in (False, True)
    for refs in (0, 2)
    for target in (False, True)
]


@pytest.mark.shared
def test_gate_queries_are_valid_against_githubs_schema() -> None:
    if not SCHEMA.is_file():
        pytest.skip("GitHub's GraphQL schema is not beside the checkout")
    graphql = pytest.importorskip("graphql")
    # GitHub's SDL repeats a few fields; graphql-core rejects that, our queries never mind
    schema = graphql.build_schema(SCHEMA.read_text(encoding="utf-8"), assume_valid_sdl=True)
    schema._validation_errors = []
    for query in GATE_QUERIES:
        assert graphql.validate(schema, graphql.parse(query)) == [], query


# -- the emulator's Ref.compare --------------------------------------------------------------------

COMPARE = """
query($owner: String!, $name: String!, $head: String!) {
  repository(owner: $owner, name: $name) {
    defaultBranchRef {
      compare(headRef: $head) {
        status aheadBy behindBy baseTarget { oid } headTarget { oid }
      }
    }
  }
}
"""


def test_the_emulator_compares_refs_as_github_does(shop) -> None:
    emu, repo, _backend, shas = shop

    def compare(head: str):
        answer = requests.post(
            emu.graphql_url,
            json={"query": COMPARE, "variables": {"owner": "acme", "name": "shop", "head": head}},
            headers={"Authorization": f"bearer {emu.token}"},
            timeout=10,
        )
        assert answer.status_code == 200, answer.text
        return answer.json()["data"]["repository"]["defaultBranchRef"]["compare"]

    def rest(head: str):
        answer = requests.get(
            f"{emu.base_url}/repos/acme/shop/compare/main...{head}",
            headers={"Authorization": f"token {emu.token}"},
            timeout=10,
        )
        data = answer.json()
        return data["status"].upper(), data["ahead_by"], data["behind_by"]

    found = compare(shas["first"][:7])
    assert found == {
        "status": "BEHIND",
        "aheadBy": 0,
        "behindBy": 2,
        "baseTarget": {"oid": shas["tip"]},
        "headTarget": {"oid": shas["first"]},
    }
    assert compare("main")["status"] == "IDENTICAL"
    assert compare("topic")["status"] == "DIVERGED"
    ahead = repo.commit("On top of main", branch="next", parents=[shas["tip"]])
    assert (compare("next")["status"], compare("next")["aheadBy"]) == ("AHEAD", 1)
    for head in (shas["first"], "main", "topic", ahead):
        mine = compare(head)
        assert (mine["status"], mine["aheadBy"], mine["behindBy"]) == rest(head)
    assert compare("no-such-branch") is None
    orphan = repo.commit("Unrelated root", branch="orphan", parents=[])
    assert compare(orphan) is None
