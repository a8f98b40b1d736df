from __future__ import annotations

from pathlib import Path

import pytest

from commit_train import config
from commit_train.backends.local.backend import LocalBackend
from commit_train.errors import AmbiguousRefError, NotFoundError, RefusedError, UsageError
from commit_train.faces import wiring
from commit_train.models import DeployState
from commit_train.service.train import Train
from tests.gitrepos import Repo


@pytest.fixture
def repo(tmp_path: Path) -> Repo:
    repo = Repo(tmp_path / "shop")
    for title, author in [("one", "alice"), ("two", "bob"), ("three", "alice")]:
        repo.commit(title, author=author)
    return repo


@pytest.fixture
def train(repo: Repo) -> Train:
    backend = LocalBackend(repo.root, creator="alice")
    return wiring.local(backend).train(config.load(repo.root).config, actor="carol", source="cli")


def green(train: Train, ref: str) -> str:
    backend = train.backend
    assert isinstance(backend, LocalBackend)
    sha = backend.resolve(ref).sha
    backend.record_check(sha, "test", "success")
    return sha


def test_deploy_creates_a_queued_deployment(train: Train, repo: Repo) -> None:
    sha = green(train, "HEAD")
    result = train.deploy("staging", sha[:7])
    assert result.decision.allowed
    assert result.action == f"created deployment 1: {sha[:7]} to staging"
    deployment = result.deployment
    assert deployment is not None
    assert deployment.sha == sha
    assert deployment.state == DeployState.QUEUED
    stored = train.backend.get_deployment(deployment.id)
    assert stored.payload == {
        "commit_train": 1,
        "requested_by": "carol",
        "source": "cli",
        "title": "three",
        "short_sha": sha[:7],
    }
    assert stored.description == f"{sha[:7]} three"
    assert [s.state for s in stored.statuses] == [DeployState.QUEUED]
    assert stored.statuses[0].description == "queued by carol via cli"


def test_dry_run_writes_nothing(train: Train, repo: Repo) -> None:
    sha = green(train, "HEAD")
    journal = repo.root / ".git" / "commit-train" / "journal.sqlite3"
    before = journal.read_bytes()
    result = train.deploy("production", "HEAD", dry_run=True)
    assert result.deployment is None and result.dry_run
    assert result.commit.sha == sha
    assert result.action == f"would deploy {sha[:7]} to production (dry run: nothing was recorded)"
    assert train.backend.deployments() == []
    assert journal.read_bytes() == before


def test_refusals_carry_the_reason(train: Train, repo: Repo) -> None:
    with pytest.raises(RefusedError) as caught:
        train.deploy("prod", "HEAD")
    assert caught.value.reason == "unknown-environment"
    assert str(caught.value) == (
        "unknown environment 'prod' (known: production, staging); use one of them, "
        "or add 'prod' under environments: in .commit-train.yml"
    )
    with pytest.raises(RefusedError) as caught:
        train.deploy("staging", "HEAD", dry_run=True)
    assert caught.value.reason == "no-checks"
    assert train.backend.deployments() == []


def test_off_branch_commit_is_refused(train: Train, repo: Repo) -> None:
    repo.branch("topic")
    repo.switch("topic")
    off = repo.commit("experiment")
    green(train, off)
    with pytest.raises(RefusedError) as caught:
        train.deploy("staging", off)
    assert caught.value.reason == "not-on-default-branch"
    assert str(caught.value) == (
        f"{off[:7]} is not on the default branch main; merge it first, "
        "only commits of main can be deployed"
    )


def test_unknown_ref(train: Train) -> None:
    with pytest.raises(NotFoundError) as caught:
        train.deploy("staging", "abcdef0")
    assert not isinstance(caught.value, AmbiguousRefError)
    assert str(caught.value).startswith("no commit abcdef0 in ")


@pytest.mark.parametrize("limit", [0, 51, -1])
def test_status_limit(train: Train, limit: int) -> None:
    with pytest.raises(UsageError) as caught:
        train.status(limit=limit)
    assert str(caught.value) == (
        f"the number of commits must be a whole number from 1 to 50, not {limit}; "
        "pass --limit 1 to 50"
    )
    assert caught.value.exit_code == 2


def test_status_hides_ignored_checks(repo: Repo) -> None:
    cfg = config.parse("checks:\n  ignore: [deploy]\nenvironments:\n  staging: {}\n")
    backend = LocalBackend(repo.root)
    backend.record_check("HEAD", "deploy", "failure")
    backend.record_check("HEAD", "test", "success")
    snap = wiring.local(backend).train(cfg, actor="a", source="cli").status(limit=50)
    assert [c.commit.title for c in snap.commits] == ["three", "two", "one"]
    assert [c.name for c in snap.commits[0].checks.checks] == ["test"]


def test_history_newest_first_with_unfinished(train: Train, repo: Repo) -> None:
    sha = green(train, "HEAD")
    first = train.deploy("staging", sha).deployment
    assert first is not None
    train.set_status(first.id, "in_progress")
    train.set_status(first.id, "success", "live")
    second = train.deploy("staging", sha, again=True).deployment
    assert second is not None
    train.set_status(second.id, DeployState.IN_PROGRESS)
    found = train.history()
    assert [e.environment for e in found.environments] == ["staging", "production"]
    staging = found.environments[0].entries
    assert [e.deployment.id for e in staging] == [second.id, first.id]
    assert staging[0].result == DeployState.IN_PROGRESS
    assert not staging[0].finished and staging[0].duration_seconds is None
    assert staging[1].result == DeployState.SUCCESS and staging[1].finished
    assert staging[1].duration_seconds is not None and staging[1].duration_seconds >= 0
    assert staging[0].title == "three"
    assert found.environments[1].entries == ()
    assert len(train.history("staging", limit=1).environments[0].entries) == 1
    with pytest.raises(NotFoundError, match=r"unknown environment 'qa' \(known: production"):
        train.history("qa")


def test_set_status_clips_the_description(train: Train) -> None:
    sha = green(train, "HEAD")
    deployment = train.deploy("staging", sha).deployment
    assert deployment is not None
    long = "rollout failed: " + "deployment/web is waiting for pods to become ready " * 5
    status = train.set_status(deployment.id, "failure", long)
    assert len(status.description) <= 140
    assert status.description.endswith("…")
    assert status.description.startswith("rollout failed: deployment/web is waiting")
    with pytest.raises(UsageError, match="unknown deployment state 'done'; use one of: queued"):
        train.set_status(deployment.id, "done")


def test_rolling_back_twice_goes_further_back_and_never_to_a_rolled_back_commit(
    train: Train, repo: Repo
) -> None:
    from commit_train.service.rollback import request_rollback

    one, two, three = (green(train, ref) for ref in ("HEAD~2", "HEAD~1", "HEAD"))

    def succeed(deployment_id: int) -> None:
        train.set_status(deployment_id, DeployState.SUCCESS)

    for sha in (one, two, three):
        deployment = train.deploy("staging", sha).deployment
        assert deployment is not None
        succeed(deployment.id)

    first, live = request_rollback(train, "staging")
    assert (live.sha, first.commit.sha) == (three, two)
    assert first.deployment is not None
    assert first.action == (
        f"created deployment {first.deployment.id}: roll back staging from {three[:7]} "
        f"to {two[:7]} two"
    )
    stored = train.backend.get_deployment(first.deployment.id)
    assert (stored.payload["rollback_of"], stored.payload["auto"]) == (three, False)
    assert stored.description == f"rollback of {three[:7]} to {two[:7]} two"
    assert stored.statuses[0].description == "rollback queued by carol via cli"
    succeed(first.deployment.id)

    # the live commit is now two; three was rolled back from, so one it is
    second, live = request_rollback(train, "staging")
    assert (live.sha, second.commit.sha) == (two, one)
    assert second.deployment is not None
    succeed(second.deployment.id)

    # one is live; two and three were both rolled back from: nothing good is left
    with pytest.raises(RefusedError) as caught:
        request_rollback(train, "staging", dry_run=True)
    assert caught.value.reason == "no-previous-deploy"
    assert str(caught.value) == (
        f"staging has no successful deploy of a commit before {one[:7]} other than "
        f"{two[:7]}, {three[:7]} (rolled back before), so there is nothing to roll back to; "
        "deploy the commit you want with commit-train deploy"
    )


def test_rollback_after_a_failed_rollout_restores_the_live_commit(train: Train, repo: Repo) -> None:
    from commit_train.service.rollback import request_rollback

    one, two, three = (green(train, ref) for ref in ("HEAD~2", "HEAD~1", "HEAD"))

    def run(sha: str, *states: DeployState) -> int:
        deployment = train.deploy("staging", sha).deployment
        assert deployment is not None
        for state in states:
            train.set_status(deployment.id, state)
        return deployment.id

    run(one, DeployState.IN_PROGRESS, DeployState.SUCCESS)
    run(two, DeployState.IN_PROGRESS, DeployState.SUCCESS)
    # three started and failed: it is what the cluster runs, so two is the way back
    failed = run(three, DeployState.IN_PROGRESS, DeployState.FAILURE)

    dry, rolled = request_rollback(train, "staging", dry_run=True)
    assert (rolled.id, rolled.sha, dry.commit.sha) == (failed, three, two)
    assert dry.action == (
        f"would roll back staging from {three[:7]} to {two[:7]} two (dry run: nothing was recorded)"
    )
    real, _ = request_rollback(train, "staging")
    assert real.deployment is not None
    assert train.backend.get_deployment(real.deployment.id).payload["rollback_of"] == three
    train.set_status(real.deployment.id, DeployState.IN_PROGRESS)
    train.set_status(real.deployment.id, DeployState.SUCCESS)

    # two is live again and three was rolled back from: the next rollback goes to one
    dry, rolled = request_rollback(train, "staging", dry_run=True)
    assert (rolled.sha, dry.commit.sha) == (two, one)


def test_rollback_ignores_a_failed_deploy_that_never_started(train: Train, repo: Repo) -> None:
    from commit_train.service.rollback import request_rollback

    one, two, three = (green(train, ref) for ref in ("HEAD~2", "HEAD~1", "HEAD"))
    for sha in (one, two):
        deployment = train.deploy("staging", sha).deployment
        assert deployment is not None
        train.set_status(deployment.id, DeployState.SUCCESS)
    # superseded (error) before it reached in_progress: the cluster still runs two
    never = train.deploy("staging", three).deployment
    assert never is not None
    train.set_status(never.id, DeployState.ERROR)

    dry, live = request_rollback(train, "staging", dry_run=True)
    assert (live.sha, dry.commit.sha) == (two, one)
