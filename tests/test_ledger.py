from __future__ import annotations

import sqlite3
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from commit_train.backends.local.backend import LocalBackend
from commit_train.backends.local.journal import SCHEMA_VERSION
from commit_train.errors import LedgerError, NotFoundError, UsageError
from commit_train.faces import wiring
from commit_train.models import CheckState, DeployState
from tests.gitrepos import Repo


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2025, 3, 3, 10, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        self.now += timedelta(seconds=10)
        return self.now


@pytest.fixture
def repo(tmp_path: Path) -> Repo:
    repo = Repo(tmp_path / "shop")
    repo.commit("first")
    repo.commit("second", author="bob")
    return repo


@pytest.fixture
def backend(repo: Repo) -> LocalBackend:
    return LocalBackend(repo.root, creator="alice", clock=Clock())


def deploy(backend: LocalBackend, sha: str, environment: str = "staging") -> int:
    return backend.create_deployment(
        sha=sha, environment=environment, payload={"k": 1}, description="d", production=False
    ).id


def test_reads_never_create_the_journal(backend: LocalBackend, repo: Repo) -> None:
    journal = repo.root / ".git" / "commit-train" / "journal.sqlite3"
    assert backend.journal_path == journal.resolve()
    assert backend.deployments() == []
    assert backend.checks(repo.git("rev-parse", "HEAD")).checks == ()
    snap = backend.snapshot(limit=5, environments=["staging"])
    assert [c.commit.title for c in snap.commits] == ["second", "first"]
    assert snap.live == {}
    assert not journal.exists()


def test_schema_is_versioned(backend: LocalBackend, repo: Repo) -> None:
    deploy(backend, repo.git("rev-parse", "HEAD"))
    with sqlite3.connect(backend.journal_path) as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        conn.execute("PRAGMA user_version = 99")
    with pytest.raises(LedgerError) as caught:
        backend.deployments()
    assert str(caught.value) == (
        f"the deploy journal {backend.journal_path} has schema version 99, newer than this "
        f"commit-train understands ({SCHEMA_VERSION}); upgrade commit-train"
    )


def test_checks_newest_attempt_wins(backend: LocalBackend, repo: Repo) -> None:
    sha = repo.git("rev-parse", "HEAD")
    backend.record_check(sha[:7], "test", "failure")
    backend.record_check(sha, "lint", "success", description="clean", url="https://ci/1")
    backend.record_check(sha, "test", "success")  # a re-run
    found = backend.checks(sha)
    assert [(c.name, c.state) for c in found.checks] == [
        ("lint", CheckState.SUCCESS),
        ("test", CheckState.SUCCESS),
    ]
    assert found.checks[0].description == "clean"
    assert found.state == CheckState.SUCCESS
    other = repo.git("rev-parse", "HEAD~1")
    assert backend.checks(other).state == CheckState.NONE


def test_bad_check_state(backend: LocalBackend) -> None:
    with pytest.raises(UsageError) as caught:
        backend.record_check("HEAD", "test", "green")
    assert str(caught.value) == "unknown check state 'green'; use one of: success, failure, pending"


def test_deployments_and_statuses(backend: LocalBackend, repo: Repo) -> None:
    sha = repo.git("rev-parse", "HEAD")
    created = backend.create_deployment(
        sha=sha[:7],
        environment="staging",
        payload={"commit_train": 1, "requested_by": "carol"},
        description="second",
        production=False,
    )
    assert created.sha == sha
    assert created.requested_by == "carol"
    assert created.state == DeployState.NONE
    backend.add_status(created.id, state=DeployState.QUEUED)
    backend.add_status(
        created.id,
        state=DeployState.SUCCESS,
        description="live",
        log_url="https://ci/run/1",
        environment_url="https://staging.example",
    )
    got = backend.get_deployment(created.id)
    assert [s.state for s in got.statuses] == [DeployState.QUEUED, DeployState.SUCCESS]
    assert got.statuses[-1].log_url == "https://ci/run/1"
    assert got.statuses[-1].environment_url == "https://staging.example"
    assert got.duration_seconds == 20.0
    assert got.payload == {"commit_train": 1, "requested_by": "carol"}
    assert got.creator == "alice"


def test_success_marks_older_successes_inactive(backend: LocalBackend, repo: Repo) -> None:
    first, second = repo.git("rev-parse", "HEAD~1"), repo.git("rev-parse", "HEAD")
    old = deploy(backend, first)
    backend.add_status(old, state=DeployState.SUCCESS)
    stuck = deploy(backend, first)
    backend.add_status(stuck, state=DeployState.IN_PROGRESS)
    other_env = deploy(backend, first, "production")
    backend.add_status(other_env, state=DeployState.SUCCESS)
    new = deploy(backend, second)
    assert new > stuck > old  # ids only grow
    backend.add_status(new, state=DeployState.SUCCESS)
    assert backend.get_deployment(old).state == DeployState.INACTIVE
    assert backend.get_deployment(old).ever_succeeded
    # a deploy that never finished keeps its state; other environments are untouched
    assert backend.get_deployment(stuck).state == DeployState.IN_PROGRESS
    assert backend.get_deployment(other_env).state == DeployState.SUCCESS
    assert [d.id for d in backend.deployments(environment="staging")] == [new, stuck, old]
    assert [d.id for d in backend.deployments(limit=2)] == [new, other_env]

    snap = backend.snapshot(limit=5, environments=["staging", "production"])
    assert snap.live["staging"].id == new
    assert snap.live["production"].id == other_env
    assert [(c.commit.title, c.live_in) for c in snap.commits] == [
        ("second", ("staging",)),
        ("first", ("production",)),
    ]
    # the stuck deploy is older than the live one: no longer "in flight"
    assert all(c.in_flight == () for c in snap.commits)


def test_a_production_history_of_three_successes(backend: LocalBackend, repo: Repo) -> None:
    # GitHub's auto_inactive spares production deployments; the journal does the same,
    # by the production flag each deployment was created with
    from commit_train import config
    from commit_train.service.rollback import rollback_target

    shas = [repo.commit(title) for title in ("third", "fourth", "fifth")]
    ids = []
    for sha in shas:
        dep = backend.create_deployment(
            sha=sha, environment="production", payload={}, description="", production=True
        )
        backend.add_status(dep.id, state=DeployState.SUCCESS)
        ids.append(dep.id)
    queued = deploy(backend, repo.git("rev-parse", "HEAD~3"), "production")
    backend.add_status(queued, state=DeployState.QUEUED)
    history = backend.deployments(environment="production")
    assert [(d.id, d.state) for d in history] == [
        (queued, DeployState.QUEUED),
        (ids[2], DeployState.SUCCESS),
        (ids[1], DeployState.SUCCESS),
        (ids[0], DeployState.SUCCESS),
    ]
    snap = backend.snapshot(limit=5, environments=["production"])
    assert snap.live["production"].id == ids[2]
    assert [(c.commit.title, c.live_in) for c in snap.commits if c.live_in] == [
        ("fifth", ("production",))
    ]
    assert [(c.commit.title, [d.id for d in c.in_flight]) for c in snap.commits if c.in_flight] == [
        ("second", [queued])
    ]
    train = wiring.local(backend).train(
        config.parse("version: 1\nenvironments:\n  production: {production: true}\n"),
        actor="alice",
        source="cli",
    )
    live, target = rollback_target(train, "production")
    assert (live.id, target.id) == (ids[2], ids[1])


def test_in_flight_deploys_show_in_the_snapshot(backend: LocalBackend, repo: Repo) -> None:
    sha = repo.git("rev-parse", "HEAD")
    queued = deploy(backend, sha)
    backend.add_status(queued, state=DeployState.QUEUED)
    snap = backend.snapshot(limit=1, environments=["staging"])
    assert [d.id for d in snap.commits[0].in_flight] == [queued]
    assert snap.commits[0].live_in == ()


def test_unknown_deployment(backend: LocalBackend) -> None:
    with pytest.raises(NotFoundError) as caught:
        backend.add_status(42, state=DeployState.SUCCESS)
    assert str(caught.value) == (
        "no deployment 42 in the local journal; list them with commit-train history"
    )
    with pytest.raises(NotFoundError):
        backend.get_deployment(42)


def test_head_means_the_default_branch_tip(backend: LocalBackend, repo: Repo) -> None:
    tip = repo.git("rev-parse", "HEAD")
    repo.branch("topic")
    repo.switch("topic")
    repo.commit("elsewhere")
    assert backend.resolve("HEAD").sha == tip
    assert backend.on_default_branch(tip)
    assert not backend.on_default_branch(repo.git("rev-parse", "HEAD"))


def test_repo_name(repo: Repo) -> None:
    assert LocalBackend(repo.root).repo == "shop"
    repo.git("remote", "add", "origin", "https://github.com/acme/shop.git")
    assert LocalBackend(repo.root).repo == "acme/shop"


WRITER = """
import sys
from pathlib import Path
from commit_train.backends.local.backend import LocalBackend
from commit_train.models import DeployState
backend = LocalBackend(Path(sys.argv[1]), creator=sys.argv[2])
def create():
    return backend.create_deployment(sha=sys.argv[3], environment="staging", payload={},
                                     description="", production=False).id
for _ in range(12):
    older, newer = create(), create()
    # the newer one succeeds first: the older one's success, recorded later, must not
    # make it inactive
    backend.add_status(newer, state=DeployState.SUCCESS)
    backend.add_status(older, state=DeployState.SUCCESS)
"""


def expected_statuses(successes: list[int]) -> dict[int, list[tuple[str, str]]]:
    """What GitHub's auto_inactive leaves, given the deployments in the order their
    ``success`` was recorded: a success makes inactive every deployment created before it
    (a lower id) whose latest state is still ``success``; later-created ones keep theirs."""
    found: dict[int, list[tuple[str, str]]] = {}
    for dep in successes:
        for older, statuses in found.items():
            if older < dep and statuses[-1][0] == "success":
                statuses.append(("inactive", f"replaced by deployment {dep}"))
        found[dep] = [("success", "")]
    return found


def success_order(journal: Path) -> list[int]:
    """Deployment ids in the order their ``success`` status was written to the journal."""
    with sqlite3.connect(journal) as conn:
        rows = conn.execute(
            "SELECT deployment_id FROM deployment_statuses WHERE state = 'success' ORDER BY id"
        ).fetchall()
    return [dep for (dep,) in rows]


def test_a_success_recorded_late_leaves_newer_successes_alone(
    backend: LocalBackend, repo: Repo
) -> None:
    sha = repo.git("rev-parse", "HEAD")
    first, second, third = (deploy(backend, sha) for _ in range(3))
    backend.add_status(second, state=DeployState.SUCCESS)
    backend.add_status(first, state=DeployState.SUCCESS)  # older: leaves second alone

    assert backend.get_deployment(second).state == DeployState.SUCCESS
    assert backend.get_deployment(first).state == DeployState.SUCCESS

    backend.add_status(third, state=DeployState.SUCCESS)

    assert [(s.state, s.description) for s in backend.get_deployment(first).statuses] == [
        (DeployState.SUCCESS, ""),
        (DeployState.INACTIVE, f"replaced by deployment {third}"),
    ]
    assert backend.get_deployment(second).state == DeployState.INACTIVE
    assert backend.snapshot(limit=1, environments=["staging"]).live["staging"].id == third


def test_concurrent_processes(backend: LocalBackend, repo: Repo) -> None:
    sha = repo.git("rev-parse", "HEAD")
    writers = [
        subprocess.Popen([sys.executable, "-c", WRITER, str(repo.root), who, sha])
        for who in ("alice", "bob")
    ]
    assert [w.wait(timeout=60) for w in writers] == [0, 0]
    found = backend.deployments(limit=100)
    assert len(found) == 48
    assert len({d.id for d in found}) == 48
    assert {d.creator for d in found} == {"alice", "bob"}
    # However the two writers interleaved, the journal holds exactly what auto_inactive
    # leaves for the order in which the successes were recorded: a deployment is still
    # ``success`` only if no later-created one succeeded after it.
    order = success_order(backend.journal_path)
    assert sorted(order) == sorted(d.id for d in found)
    expected = expected_statuses(order)
    actual = {d.id: [(s.state.value, s.description) for s in d.statuses] for d in found}
    assert actual == expected
    # the newest deployment and the last one to succeed (the older of a pair) are both live
    assert sum(d.state == DeployState.SUCCESS for d in found) >= 2
