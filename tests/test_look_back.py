"""No fixed windows: the live deploy and the previous good one are found however many
failed deploys came after them, at a bounded cost (GitHub emulator and local journal)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from commit_train import config
from commit_train.backends.github.backend import GitHubBackend
from commit_train.backends.local.backend import LocalBackend
from commit_train.errors import RefusedError
from commit_train.faces import wiring
from commit_train.faces.tables import render_status
from commit_train.models import LOOK_BACK_DEPLOYMENTS, DeployState
from commit_train.service.rollback import previous_good, rollback_target
from commit_train.service.train import Train
from tests.gitrepos import Repo

CONFIG = config.parse(
    """
version: 1
environments:
  staging: {}
  production:
    production: true
    requires: [staging]
"""
)
T0 = datetime(2026, 11, 1, tzinfo=UTC)


def at(i: int) -> datetime:
    return T0 + timedelta(minutes=i)


@pytest.fixture
def shop(github_emulator):
    repo = github_emulator.create_repo("acme/shop")
    shas = [repo.commit(f"Change {i}") for i in range(3)]
    for sha in shas:
        repo.add_check_run(sha, name="test", conclusion="success")
    return github_emulator, repo, shas


def github_train(emu) -> tuple[Train, GitHubBackend]:
    backend = GitHubBackend("acme/shop", token=emu.token, base_url=emu.base_url, sleep=lambda s: 0)
    return wiring.github(backend).train(CONFIG, actor="alice", source="cli"), backend


def failures(repo, sha: str, environment: str, count: int, start: int) -> None:
    for i in range(count):
        repo.add_deployment(
            sha, environment=environment, statuses=["failure"], created_at=at(start + i)
        )


# -- GitHub ---------------------------------------------------------------------------------


def test_status_shows_the_live_deploy_behind_130_failed_ones(shop) -> None:
    emu, repo, (a, b, _c) = shop
    repo.add_deployment(a, environment="production", statuses=["success"], created_at=at(0))
    failures(repo, b, "production", 130, start=1)
    train, backend = github_train(emu)
    before = backend.request_count
    snapshot = train.status()
    assert snapshot.live["production"].sha == a
    assert backend.request_count - before == 3  # 20, then 100, then 100 deeper
    assert snapshot.looked_back == {}


def test_status_with_a_live_deploy_in_the_first_window_costs_one_request(shop) -> None:
    emu, repo, (a, b, _c) = shop
    repo.add_deployment(a, environment="production", statuses=["success"], created_at=at(0))
    failures(repo, b, "production", 5, start=1)
    train, backend = github_train(emu)
    before = backend.request_count
    assert train.status().live["production"].sha == a
    assert backend.request_count - before == 1


def test_status_gives_up_after_the_cap_and_says_how_far_it_looked(shop) -> None:
    emu, repo, (a, b, _c) = shop
    repo.add_deployment(a, environment="production", statuses=["success"], created_at=at(0))
    failures(repo, b, "production", LOOK_BACK_DEPLOYMENTS + 30, start=1)
    train, backend = github_train(emu)
    before = backend.request_count
    snapshot = train.status()
    assert "production" not in snapshot.live
    assert snapshot.looked_back == {"production": LOOK_BACK_DEPLOYMENTS}
    assert (
        "production: no successful deploy among its newest 1,000 deployments"
        " (commit-train looks no further back)"
    ) in render_status(snapshot)
    assert backend.request_count - before == 11  # the first window, then 10 pages at most


def test_rollback_finds_the_previous_good_deploy_behind_130_failed_ones(shop) -> None:
    emu, repo, (a, b, c) = shop
    repo.add_deployment(a, environment="production", statuses=["success"], created_at=at(0))
    repo.add_deployment(b, environment="production", statuses=["success"], created_at=at(1))
    failures(repo, c, "production", 130, start=2)  # never started: the cluster runs b
    train, backend = github_train(emu)
    before = backend.request_count
    live, target = rollback_target(train, "production")
    assert (live.sha, target.sha) == (b, a)
    assert backend.request_count - before == 2


def test_rollback_after_the_cap_says_how_far_it_looked(shop) -> None:
    emu, repo, (a, _b, c) = shop
    repo.add_deployment(a, environment="production", statuses=["success"], created_at=at(0))
    failures(repo, c, "production", LOOK_BACK_DEPLOYMENTS + 5, start=1)
    train, _backend = github_train(emu)
    with pytest.raises(RefusedError) as refused:
        rollback_target(train, "production")
    assert str(refused.value).startswith(
        "production has no successful deploy among its newest 1,000 deployments"
    )


def test_auto_rollback_finds_the_previous_good_deploy_behind_130_failed_ones(shop) -> None:
    emu, repo, (a, _b, c) = shop
    repo.add_deployment(a, environment="production", statuses=["success"], created_at=at(0))
    failures(repo, c, "production", 130, start=1)
    train, _backend = github_train(emu)
    previous, why_not = previous_good(train.backend, "production", not_sha=c)
    assert previous is not None and previous.sha == a
    assert why_not == ""


def test_the_gate_finds_a_staging_success_behind_130_failed_deploys_of_the_commit(shop) -> None:
    emu, repo, (_a, _b, c) = shop
    repo.add_deployment(c, environment="staging", statuses=["success"], created_at=at(0))
    failures(repo, c, "staging", 130, start=1)
    train, backend = github_train(emu)
    before = backend.request_count
    _commit, decision = train.check("production", c)
    assert decision.allowed, decision.message
    assert backend.request_count - before == 2  # the gate's query (100), then 100 more
    assert [d.sha for d in backend.deployments_of(c, environments=["staging"])][-1] == c
    assert any(d.ever_succeeded for d in backend.deployments_of(c, environments=["staging"]))


def test_the_gate_still_refuses_a_commit_never_good_in_staging_in_one_request(shop) -> None:
    emu, repo, (_a, _b, c) = shop
    failures(repo, c, "staging", 3, start=0)
    train, backend = github_train(emu)
    before = backend.request_count
    _commit, decision = train.check("production", c)
    assert not decision.allowed and decision.reason == "promotion-order"
    assert backend.request_count - before == 1


# -- the local journal ------------------------------------------------------------------------


def local_train(tmp_path: Path) -> tuple[Train, LocalBackend, list[str]]:
    repo = Repo(tmp_path / "shop")
    shas = [repo.commit(f"Change {i}") for i in range(3)]
    backend = LocalBackend(repo.root, creator="alice")
    for sha in shas:
        backend.record_check(sha, "test", "success")
    return wiring.local(backend).train(CONFIG, actor="alice", source="cli"), backend, shas


def record(backend: LocalBackend, sha: str, environment: str, state: DeployState) -> None:
    dep = backend.create_deployment(
        sha=sha, environment=environment, payload={}, description="", production=False
    )
    backend.add_status(dep.id, state=state)


def test_local_rollback_finds_the_previous_good_deploy_behind_130_failed_ones(
    tmp_path: Path,
) -> None:
    train, backend, (a, b, c) = local_train(tmp_path)
    record(backend, a, "production", DeployState.SUCCESS)
    record(backend, b, "production", DeployState.SUCCESS)
    for _ in range(130):
        record(backend, c, "production", DeployState.FAILURE)
    live, target = rollback_target(train, "production")
    assert (live.sha, target.sha) == (b, a)
    previous, _ = previous_good(backend, "production", not_sha=c)
    assert previous is not None and previous.sha == b


def test_local_gate_finds_a_staging_success_behind_130_failed_deploys_of_the_commit(
    tmp_path: Path,
) -> None:
    train, backend, (_a, _b, c) = local_train(tmp_path)
    record(backend, c, "staging", DeployState.SUCCESS)
    for _ in range(130):
        record(backend, c, "staging", DeployState.FAILURE)
    _commit, decision = train.check("production", c)
    assert decision.allowed, decision.message
