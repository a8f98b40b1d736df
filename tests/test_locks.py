"""Locks on GitHub refs (against the emulator) and in the local journal, and what the gate
does with them; promotion order (requires:)."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from commit_train import config
from commit_train.backends.github.backend import GitHubBackend
from commit_train.backends.local.backend import LocalBackend
from commit_train.backends.local.locks import LocalLockStore
from commit_train.errors import NotFoundError, RefusedError, UsageError
from commit_train.faces import wiring
from commit_train.models import DeployState
from commit_train.service.locks import GitHubLockStore, lock_ref
from commit_train.service.train import Train
from tests.gitrepos import Repo

T0 = datetime(2026, 11, 25, 10, 0, tzinfo=UTC)

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


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now


def backend_for(emu, login: str = "alice") -> GitHubBackend:
    token = f"ghs_token_{login}"
    if login != "alice":
        emu.add_user(login, token)
    else:
        token = emu.token
    return GitHubBackend("acme/shop", token=token, base_url=emu.base_url, sleep=lambda s: None)


@pytest.fixture
def shop(github_emulator):
    repo = github_emulator.create_repo("acme/shop")
    repo.commit("First")
    return github_emulator


# -- GitHub ---------------------------------------------------------------------------------


def test_twenty_concurrent_lockers_on_github_exactly_one_wins(shop) -> None:
    backends = [backend_for(shop, f"user{i}") for i in range(20)]
    barrier = threading.Barrier(20)
    won: list[str] = []
    refused: list[str] = []

    def take(i: int) -> None:
        store = GitHubLockStore(backends[i])
        barrier.wait()
        try:
            store.acquire("production", holder=f"user{i}", reason=f"reason {i}")
            won.append(f"user{i}")
        except RefusedError as exc:
            assert exc.reason == "locked"
            refused.append(str(exc))

    threads = [threading.Thread(target=take, args=(i,)) for i in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(won) == 1
    assert len(refused) == 19
    winner = won[0]
    assert all(f"production is locked by {winner} since" in line for line in refused)
    locks = GitHubLockStore(backends[0]).current(["production"])
    assert [(lk.environment, lk.holder) for lk in locks] == [("production", winner)]


def test_lock_and_unlock_cost_three_requests_each_and_leave_an_audit_trail(shop) -> None:
    backend = backend_for(shop)
    store = GitHubLockStore(backend)
    before = backend.request_count
    lock = store.acquire("production", holder="alice", reason="db migration", ttl=7200)
    assert backend.request_count - before == 3
    assert lock.holder == "alice" and lock.reason == "db migration"
    assert shop.repo("acme/shop").refs[lock_ref("production")] == lock.token
    before = backend.request_count
    done = store.release("production", by="alice")
    assert backend.request_count - before == 3
    assert not done.forced
    assert store.current(["production"]) == []
    # the ref now holds the unlock record, whose parent is the lock commit
    repo = shop.repo("acme/shop")
    record = repo.commits[repo.refs[lock_ref("production")]]
    assert record.message.startswith("commit-train unlock: production")
    assert record.parents == [lock.token]
    # and a new lock takes the ref over
    again = store.acquire("production", holder="bob", reason="next")
    assert again.holder == "bob"


def test_a_retried_create_whose_first_attempt_succeeded_is_our_own_lock(shop) -> None:
    backend = backend_for(shop)
    shop.inject(status=502, times=1, method="POST", path=r"/git/refs$", applied=True)
    lock = GitHubLockStore(backend).acquire("staging", holder="alice", reason="load test")
    assert lock.holder == "alice"
    posts = [r for r in shop.requests if r.method == "POST" and r.path.endswith("/git/refs")]
    assert [r.status for r in posts] == [502, 422]  # the retry was told "already exists"
    assert shop.repo("acme/shop").refs[lock_ref("staging")] == lock.token


def test_only_the_holder_unlocks_unless_forced_with_a_reason(shop) -> None:
    alice = GitHubLockStore(backend_for(shop))
    bob = GitHubLockStore(backend_for(shop, "bob"))
    alice.acquire("production", holder="alice", reason="incident 42")
    with pytest.raises(RefusedError) as refused:
        bob.release("production", by="bob")
    assert refused.value.reason == "not-lock-holder"
    assert "only alice can unlock it" in str(refused.value)
    with pytest.raises(UsageError, match="breaking alice's lock needs a reason"):
        bob.release("production", by="bob", force=True)
    done = bob.release("production", by="bob", force=True, reason="alice is on holiday")
    assert done.forced and done.lock.holder == "alice"
    repo = shop.repo("acme/shop")
    record = repo.commits[repo.refs[lock_ref("production")]].message
    assert '"forced": true' in record and "alice is on holiday" in record
    with pytest.raises(NotFoundError, match="production is not locked"):
        alice.release("production", by="alice")


def test_an_expired_lock_stops_blocking_and_is_replaced(shop) -> None:
    clock = Clock()
    alice = GitHubLockStore(backend_for(shop), clock=clock)
    bob = GitHubLockStore(backend_for(shop, "bob"), clock=clock)
    alice.acquire("production", holder="alice", reason="short", ttl=3600)
    clock.now = T0 + timedelta(minutes=59)
    with pytest.raises(RefusedError, match="until 2026-11-25 11:00 UTC: short"):
        bob.acquire("production", holder="bob", reason="mine now")
    clock.now = T0 + timedelta(hours=1)
    lock = bob.acquire("production", holder="bob", reason="mine now")
    assert lock.holder == "bob"
    assert [lk.holder for lk in alice.current(["production"])] == ["bob"]


# -- local journal ----------------------------------------------------------------------------


def test_twenty_concurrent_lockers_in_the_local_journal_exactly_one_wins(tmp_path: Path) -> None:
    journal = tmp_path / "journal.sqlite3"
    barrier = threading.Barrier(20)
    won: list[str] = []
    refused: list[str] = []

    def take(i: int) -> None:
        store = LocalLockStore(journal)
        barrier.wait()
        try:
            store.acquire("production", holder=f"user{i}", reason="x")
            won.append(f"user{i}")
        except RefusedError:
            refused.append(f"user{i}")

    threads = [threading.Thread(target=take, args=(i,)) for i in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(won) == 1 and len(refused) == 19
    assert [lk.holder for lk in LocalLockStore(journal).current(["production"])] == won


def test_local_locks_expire_and_only_the_holder_unlocks(tmp_path: Path) -> None:
    clock = Clock()
    store = LocalLockStore(tmp_path / "j.sqlite3", clock=clock)
    store.acquire("*", holder="alice", reason="freeze", ttl=600)
    with pytest.raises(RefusedError, match="all environments are locked by alice"):
        store.acquire("*", holder="bob", reason="x")
    with pytest.raises(RefusedError, match="only alice can unlock it"):
        store.release("*", by="bob")
    clock.now = T0 + timedelta(minutes=10)
    assert store.acquire("*", holder="bob", reason="mine").holder == "bob"
    assert store.release("*", by="alice", force=True, reason="done").forced


# -- the gate -------------------------------------------------------------------------------


def _green_repo(tmp_path: Path) -> tuple[Repo, str]:
    repo = Repo(tmp_path / "shop")
    sha = repo.commit("Add cart")
    return repo, sha


def _train(repo: Repo, actor: str) -> Train:
    backend = LocalBackend(repo.root, creator=actor)
    return wiring.local(backend).train(CONFIG, actor=actor, source="cli")


def test_a_locked_environment_refuses_another_persons_deploy_and_allows_the_holders(
    tmp_path: Path,
) -> None:
    repo, sha = _green_repo(tmp_path)
    alice, bob = _train(repo, "alice"), _train(repo, "bob")
    alice.backend.record_check(sha, "test", "success")  # type: ignore[attr-defined]
    _lock, warnings = alice.lock("staging", reason="db migration")
    assert warnings == []
    with pytest.raises(RefusedError) as refused:
        bob.deploy("staging", sha)
    assert refused.value.reason == "locked"
    assert str(refused.value).startswith("staging is locked by alice since ")
    assert "db migration" in str(refused.value)
    assert alice.deploy("staging", sha).deployment is not None
    # the global lock blocks every environment
    alice.unlock("staging")
    alice.lock(None, reason="release freeze")
    with pytest.raises(RefusedError, match="all environments are locked by alice"):
        bob.deploy("staging", sha)


def test_production_is_refused_before_staging_and_allowed_after(tmp_path: Path) -> None:
    repo, sha = _green_repo(tmp_path)
    train = _train(repo, "alice")
    train.backend.record_check(sha, "test", "success")  # type: ignore[attr-defined]
    with pytest.raises(RefusedError) as refused:
        train.deploy("production", sha)
    assert refused.value.reason == "promotion-order"
    assert str(refused.value) == (
        f"{sha[:7]} has not been deployed successfully to staging yet; deploy it to staging "
        "first (production requires staging)"
    )
    staged = train.deploy("staging", sha).deployment
    assert staged is not None
    with pytest.raises(RefusedError, match="has not been deployed successfully to staging"):
        train.deploy("production", sha)  # queued is not success
    train.set_status(staged.id, DeployState.SUCCESS)
    assert train.deploy("production", sha).deployment is not None


def test_rollback_to_a_commit_live_before_is_allowed(tmp_path: Path) -> None:
    repo, old = _green_repo(tmp_path)
    train = _train(repo, "alice")
    backend = train.backend
    backend.record_check(old, "test", "success")  # type: ignore[attr-defined]
    # live in production before staging was required of it
    dep = backend.create_deployment(
        sha=old, environment="production", payload={}, description="", production=True
    )
    backend.add_status(dep.id, state=DeployState.SUCCESS)
    new = repo.commit("Newer")
    backend.record_check(new, "test", "success")  # type: ignore[attr-defined]
    # a fresh commit must pass staging first; the old one may come back at once
    with pytest.raises(RefusedError, match="staging"):
        train.deploy("production", new)
    _commit, decision = train.check("production", old, again=True)
    assert decision.allowed, decision.message


def test_promotion_order_on_github_reads_the_commits_deployments_in_one_request(shop) -> None:
    repo = shop.repo("acme/shop")
    sha = repo.commit("Add cart")
    repo.add_status(sha, context="test", state="success")
    backend = backend_for(shop)
    train = wiring.github(backend).train(CONFIG, actor="alice", source="cli")
    with pytest.raises(RefusedError, match="deploy it to staging first"):
        train.deploy("production", sha)
    staged = train.deploy("staging", sha).deployment
    assert staged is not None
    train.set_status(staged.id, DeployState.SUCCESS)
    assert train.deploy("production", sha).deployment is not None
