"""Never two deploys for one request: lost and late answers, half-recorded deploys, two
``sync`` runs at once, and deploying what is already there.

GitHub here is the emulator, reached by the real PyGithub over HTTP. A lost answer is
``inject_lost_answer``: GitHub carries the write out but the client never hears back, and
with ``unseen_for`` the write shows only after the client's next reads (GitHub still at
work after the client's timeout, or a read replica behind). Waits are recorded, never
slept, except where a real client timeout is the point.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from commit_train.backends.github.backend import GitHubBackend
from commit_train.backends.local.backend import LocalBackend
from commit_train.config import parse
from commit_train.errors import NotQueuedError
from commit_train.faces.cli.main import cli
from commit_train.models import DeployState
from commit_train.service.offline import SyncReport, sync
from commit_train.service.train import Train
from tests.emulators.github import GitHubEmulator
from tests.emulators.github_model import EmulatedRepo
from tests.gitrepos import Repo
from tests.test_offline_sync import Shop, mirror

STATUSES = r"/deployments/\d+/statuses$"
CONFIG = parse(
    """
environments:
  staging: {}
  production:
    production: true
"""
)


def backend_for(emu: GitHubEmulator, waits: list[float], **kwargs: object) -> GitHubBackend:
    return GitHubBackend(
        "acme/shop",
        token=emu.token,
        base_url=emu.base_url,
        sleep=waits.append,
        **kwargs,  # type: ignore[arg-type]
    )


@pytest.fixture
def gh(github_emulator: GitHubEmulator) -> EmulatedRepo:
    repo = github_emulator.create_repo("acme/shop", default_branch="main")
    repo.commit("Start the shop")
    return repo


def ours(repo: EmulatedRepo) -> list[dict[str, object]]:
    return [d for d in repo.deployments if "request_id" in d["payload"]]


# -- 1. a deployment GitHub records after the client stopped waiting -----------------------


def test_a_deployment_github_records_after_the_client_timed_out_is_created_once(
    github_emulator: GitHubEmulator, gh: EmulatedRepo
) -> None:
    sha = gh.commit("Add cart")
    waits: list[float] = []
    backend = backend_for(github_emulator, waits, timeout=1)
    # GitHub answers nothing within the client's timeout, and its work shows only after
    # the client's next two reads: the third read finds it.
    github_emulator.inject_lost_answer(
        method="POST", path=r"/deployments$", delay=1.5, unseen_for=2
    )
    dep = backend.create_deployment(
        sha=sha, environment="staging", payload={}, description="", production=False
    )
    backend.default_branch()  # any late write has shown by now
    assert [d["id"] for d in gh.deployments] == [dep.id]  # one deployment: one workflow run
    assert dep.payload["request_id"] == gh.deployments[0]["payload"]["request_id"]
    assert waits == [1.0, 2.0, 4.0]  # read, read, read (found): never a second POST
    assert backend.request_count == 5  # the POST, three reads and the one above


def test_a_deployment_never_recorded_is_sent_again_only_after_the_watch(
    github_emulator: GitHubEmulator, gh: EmulatedRepo
) -> None:
    sha = gh.commit("Add cart")
    waits: list[float] = []
    backend = backend_for(github_emulator, waits)
    # a proxy's 504 for a request GitHub never recorded: watched for 30 s, then resent
    github_emulator.inject(504, method="POST", path=r"/deployments$")
    dep = backend.create_deployment(
        sha=sha, environment="staging", payload={}, description="", production=False
    )
    assert [d["id"] for d in gh.deployments] == [dep.id]
    assert waits == [1.0, 2.0, 4.0, 8.0, 15.0]  # 30 s of reads before the second POST
    assert backend.request_count == 7  # POST, 5 reads, POST


def test_each_read_of_the_watch_is_one_progress_line(
    github_emulator: GitHubEmulator, gh: EmulatedRepo
) -> None:
    sha = gh.commit("Add cart")
    lines: list[str] = []
    backend = backend_for(github_emulator, [], on_wait=lines.append)
    github_emulator.inject(504, method="POST", path=r"/deployments$")
    backend.create_deployment(
        sha=sha, environment="staging", payload={}, description="", production=False
    )
    said = "GitHub answered 504 to POST /api/v3/repos/acme/shop/deployments"
    assert lines == [
        f"{said}; looking whether GitHub recorded the deployment in 1 s (2 of 4)",
        *(
            f"{said}; looking again whether GitHub recorded the deployment in {n} s (2 of 4)"
            for n in (2, 4, 8, 15)
        ),
    ]


def test_a_queued_status_github_records_late_is_written_once(
    github_emulator: GitHubEmulator, gh: EmulatedRepo
) -> None:
    sha = gh.commit("Add cart")
    waits: list[float] = []
    backend = backend_for(github_emulator, waits)
    dep = backend.create_deployment(
        sha=sha, environment="staging", payload={}, description="", production=False
    )
    github_emulator.inject_lost_answer(method="POST", path=STATUSES, unseen_for=1)
    status = backend.add_status(dep.id, state=DeployState.QUEUED, description="queued by carol")
    assert status.state == DeployState.QUEUED
    assert [s["state"] for s in gh.deployment_statuses(dep.id)] == ["queued"]
    assert waits == [1.0, 2.0]


def test_a_status_found_behind_a_newer_one_is_not_written_again(
    github_emulator: GitHubEmulator, gh: EmulatedRepo
) -> None:
    """The pipeline's in_progress lands while our queued status's answer is lost: reading
    only the newest status would miss ours and write queued again, after in_progress."""
    sha = gh.commit("Add cart")
    pipeline = backend_for(github_emulator, [])
    waits: list[float] = []

    def pause(seconds: float) -> None:
        if not waits:  # while we wait, the deploy workflow reports progress
            pipeline.add_status(dep.id, state=DeployState.IN_PROGRESS, description="applying")
        waits.append(seconds)

    backend = GitHubBackend(
        "acme/shop", token=github_emulator.token, base_url=github_emulator.base_url, sleep=pause
    )
    dep = backend.create_deployment(
        sha=sha, environment="staging", payload={}, description="", production=False
    )
    github_emulator.inject_lost_answer(method="POST", path=STATUSES)
    backend.add_status(dep.id, state=DeployState.QUEUED, description="queued by carol")
    assert [s["state"] for s in gh.deployment_statuses(dep.id)] == ["queued", "in_progress"]
    assert waits == [1.0]


# -- 1. a deploy whose queued status cannot be written ------------------------------------


def test_a_deploy_whose_queued_status_fails_says_the_deployment_exists(
    github_emulator: GitHubEmulator, gh: EmulatedRepo
) -> None:
    sha = gh.commit("Add cart")
    gh.add_check_run(sha, name="test")
    waits: list[float] = []
    train = Train(backend_for(github_emulator, waits), CONFIG, actor="carol", source="cli")
    github_emulator.inject(503, times=100, method="POST", path=STATUSES)
    with pytest.raises(NotQueuedError) as caught:
        train.deploy("staging", sha)
    [dep] = gh.deployments
    assert str(caught.value) == (
        f"deployment {dep['id']} created; its queued status is not recorded: GitHub answered "
        f"503 to POST /api/v3/repos/acme/shop/deployments/{dep['id']}/statuses (4 attempts, "
        "no deployment status recorded); the deployment stands without it; follow it at "
        f"{github_emulator.url}/acme/shop/deployments and do not deploy it again"
    )
    assert caught.value.exit_code == 3
    assert "offline" not in str(caught.value)


def run(emu: GitHubEmulator, clone: Path, *args: str) -> Result:
    return CliRunner().invoke(
        cli,
        ["-C", str(clone), "--repo", "acme/shop", *args],
        env={
            "GITHUB_API_URL": emu.base_url,
            "GITHUB_TOKEN": emu.token,
            "GH_TOKEN": None,
            "COMMIT_TRAIN_BACKEND": None,
            "GITHUB_ACTOR": "carol",
            "NO_COLOR": None,
        },
        prog_name="commit-train",
    )


@pytest.fixture
def clone(github_emulator: GitHubEmulator, tmp_path: Path) -> tuple[Repo, EmulatedRepo]:
    repo = Repo(tmp_path / "shop")
    repo.commit("Start the shop service")
    repo.commit("Add the checkout button")
    mirrored = mirror(repo, github_emulator)
    for sha in mirrored.commits:
        mirrored.add_check_run(sha, name="test")
    return repo, mirrored


def test_deploy_says_its_deployment_exists_and_never_advises_offline(
    github_emulator: GitHubEmulator, clone: tuple[Repo, EmulatedRepo]
) -> None:
    repo, mirrored = clone
    # the queued status meets a secondary limit too long to sit out
    github_emulator.inject(
        403, times=5, method="POST", path=STATUSES, headers={"retry-after": "3600"}
    )
    result = run(github_emulator, repo.root, "deploy", "staging", "HEAD")
    [dep] = mirrored.deployments
    assert result.exit_code == 3
    assert result.stdout == ""
    assert result.stderr.startswith(
        f"error: deployment {dep['id']} created; its queued status is not recorded: "
        "GitHub's secondary rate limit stopped POST "
    )
    assert result.stderr.endswith(
        f"; the deployment stands without it; follow it at {github_emulator.url}/acme/shop/"
        "deployments and do not deploy it again\n"
    )
    assert "offline" not in result.stderr


# -- 2. sync: claimed entries, and earlier replays found however far back -------------------


@pytest.fixture
def shop(github_emulator: GitHubEmulator, clone: tuple[Repo, EmulatedRepo]) -> Shop:
    repo, mirrored = clone
    return Shop(github_emulator, repo, mirrored)


def offline_deploys(shop: Shop, count: int) -> None:
    outage = shop.emu.inject(502, times=1000)
    for n in range(count):
        result = shop.run("deploy", "staging", "HEAD", "--offline", "--reason", f"INC-{n}")
        assert result.exit_code == 0, result.output
    outage.times = 0


def test_two_syncs_at_once_replay_each_offline_deploy_once(shop: Shop) -> None:
    offline_deploys(shop, 3)
    # each run's first search is slow, so both have listed the journal and searched
    # GitHub before either creates anything
    shop.emu.inject(None, times=2, method="POST", path=r"/graphql$", delay=0.5)
    reports: list[SyncReport] = []
    start = threading.Barrier(2)

    def one_run() -> None:
        start.wait()
        reports.append(sync(shop.local(), shop.backend()))

    runs = [threading.Thread(target=one_run) for _ in range(2)]
    for t in runs:
        t.start()
    for t in runs:
        t.join(timeout=60)
    assert len(shop.gh.deployments) == 3
    journal_ids = {d["payload"]["journal_id"] for d in shop.gh.deployments}
    assert len(journal_ids) == 3
    assert sorted(len(r.synced) for r in reports) in ([0, 3], [1, 2])
    assert sum(len(r.synced) for r in reports) == 3
    assert sync(shop.local(), shop.backend()).summary == (
        "nothing to sync: 3 offline deploys already on GitHub"
    )


def test_a_claim_held_by_another_run_is_left_to_it(shop: Shop) -> None:
    offline_deploys(shop, 2)
    other = shop.local()
    assert other.claim_sync(1, by="another run") is not None
    report = sync(shop.local(), shop.backend())
    assert report.summary == (
        "synced 1 offline deploy to acme/shop (1 status added); "
        "1 being replayed by another sync run, left to it"
    )
    assert len(shop.gh.deployments) == 1
    other.release_sync(1, by="another run")
    assert sync(shop.local(), shop.backend()).summary.startswith("synced 1 offline deploy")
    assert len(shop.gh.deployments) == 2


def test_sync_finds_its_replay_behind_150_newer_deployments(shop: Shop) -> None:
    offline_deploys(shop, 1)
    assert shop.run("sync").exit_code == 0
    [replayed] = shop.gh.deployments
    # the journal's note is lost (a run died before writing it), and 150 deploys of
    # other commits to staging came since
    with sqlite3.connect(shop.local().journal_path) as conn:
        conn.execute("DELETE FROM journal_sync")
    conn.close()
    first = next(iter(shop.gh.commits))
    for _ in range(150):
        shop.gh.add_deployment(first, environment="staging", statuses=["failure"])
    shop.local().add_status(1, state=DeployState.IN_PROGRESS, description="applying")
    backend = shop.backend()
    report = sync(shop.local(), backend)
    assert [(s.github_id, s.created, s.statuses_added) for s in report.synced] == [
        (replayed["id"], False, 1)
    ]
    replays = [d for d in shop.gh.deployments if "journal_id" in d["payload"]]
    assert len(replays) == 1
    # the environment's newest 100, then the deployments of that commit, then the status
    assert backend.request_count == 3


# -- 3. deploying what is already there -----------------------------------------------------


def test_deploying_a_commit_already_queued_or_live_asks_for_again_on_github(shop: Shop) -> None:
    head = shop.head()
    first = shop.run("deploy", "staging", "HEAD")
    assert first.exit_code == 0, first.output
    [dep] = shop.gh.deployments
    again = shop.run("deploy", "staging", "HEAD")
    assert again.exit_code == 1
    assert again.stderr == (
        f"error: {head[:7]} is already queued for staging (deployment {dep['id']}); "
        "pass --again to deploy it anyway\n"
    )
    refused = shop.run("deploy", "staging", "HEAD", "--json")
    assert refused.exit_code == 1
    assert json.loads(refused.stdout)["decision"] == {
        "allowed": False,
        "reason": "already-deployed",
        "message": f"{head[:7]} is already queued for staging (deployment {dep['id']}); "
        "pass --again to deploy it anyway",
    }
    assert len(shop.gh.deployments) == 1
    # live now: still refused, then deployed on purpose
    shop.backend().add_status(dep["id"], state=DeployState.SUCCESS)
    live = shop.run("deploy", "staging", "HEAD")
    assert live.stderr.startswith(f"error: {head[:7]} is already live in staging (deployment ")
    assert shop.run("deploy", "staging", "HEAD", "--again").exit_code == 0
    assert len(shop.gh.deployments) == 2
    # another environment, or another commit, is not asked about
    assert shop.run("deploy", "production", "HEAD").exit_code == 0


def test_a_normal_deploy_still_costs_three_requests(shop: Shop) -> None:
    backend = shop.backend()
    train = Train(backend, CONFIG, actor="carol", source="cli")
    train.deploy("staging", shop.head())
    assert backend.request_count == 3  # the gate's one query, the deployment, its status


def test_deploying_a_commit_already_queued_asks_for_again_locally(tmp_path: Path) -> None:
    repo = Repo(tmp_path / "shop")
    head = repo.commit("Start the shop service")
    record = CliRunner().invoke(
        cli,
        ["-C", str(repo.root), "--backend", "local", "record-check", head, "test", "success"],
        env={"COMMIT_TRAIN_BACKEND": None, "GITHUB_TOKEN": None, "GH_TOKEN": None},
    )
    assert record.exit_code == 0, record.output

    def local(*args: str) -> Result:
        return CliRunner().invoke(
            cli,
            ["-C", str(repo.root), "--backend", "local", *args],
            env={"COMMIT_TRAIN_BACKEND": None, "GITHUB_TOKEN": None, "GH_TOKEN": None},
        )

    assert local("deploy", "staging", "HEAD").exit_code == 0
    second = local("deploy", "staging", "HEAD")
    assert second.exit_code == 1
    assert second.stderr == (
        f"error: {head[:7]} is already queued for staging (deployment 1); "
        "pass --again to deploy it anyway\n"
    )
    assert local("deploy", "staging", "HEAD", "--again").exit_code == 0
    assert [d.id for d in LocalBackend(repo.root).deployments(environment="staging")] == [2, 1]
