"""Deploying through a GitHub outage: ``deploy --offline`` journals, ``sync`` replays.

A real git clone in a temporary folder holds the same commits (same shas) as the
repository on the GitHub emulator; the CLI runs with ``--repo acme/shop -C CLONE`` against
the emulator while it answers 502s or a spent rate limit, and ``sync`` replays the journal
into it once it answers again.
"""

from __future__ import annotations

import json
import re
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from commit_train.backends.github.backend import GitHubBackend
from commit_train.backends.local.backend import LocalBackend
from commit_train.config import parse
from commit_train.errors import GitHubUnavailableError, RefusedError
from commit_train.faces.cli.main import cli
from commit_train.models import DeployState
from commit_train.service.offline import (
    entries,
    offline_deploy,
    pending,
    recorded_at,
    sync,
    sync_json,
    unreachable,
)
from tests.emulators.github import GitHubEmulator
from tests.emulators.github_model import Commit as EmulatedCommit
from tests.emulators.github_model import EmulatedRepo
from tests.gitrepos import Repo

ENV = {
    "GITHUB_TOKEN": None,
    "GH_TOKEN": None,
    "COMMIT_TRAIN_BACKEND": None,
    "GITHUB_API_URL": None,
    "GITHUB_ACTOR": "carol",
    "NO_COLOR": None,
}
SUGGESTION = '; to deploy anyway, rerun with --offline --reason "why it cannot wait"\n'
STATUSES = r"/deployments/\d+/statuses$"


def mirror(repo: Repo, emu: GitHubEmulator, name: str = "acme/shop") -> EmulatedRepo:
    """``name`` on the emulator with the clone's commits of main, shas and all."""
    gh = emu.create_repo(name, default_branch="main")
    log = repo.git("log", "--reverse", "--format=%H%x1f%P%x1f%s%x1f%an%x1f%ct", "main")
    with emu.store.lock:
        for line in log.splitlines():
            sha, parents, title, author, stamp = line.split("\x1f")
            gh.commits[sha] = EmulatedCommit(
                sha,
                title,
                emu.store.user(author),
                parents.split(),
                datetime.fromtimestamp(int(stamp), UTC),
                "4b825dc642cb6eb9a060e54bf8d69288fbee4904",
            )
            gh.set_ref("refs/heads/main", sha)
    return gh


def said(result: Result) -> str:
    """What the command wrote on stderr, less the emulator's own noise: its server threads
    print a traceback there when a client drops a connection it has not read to the end."""
    noise = ("-" * 40, "Exception occurred during processing of request")
    lines = result.stderr.split("\n")
    if lines and lines[0] in noise[:1]:
        kept = [line for line in lines if line.startswith("error: ")]
        return "".join(f"{line}\n" for line in kept)
    return result.stderr


class Shop:
    def __init__(self, emu: GitHubEmulator, clone: Repo, gh: EmulatedRepo) -> None:
        self.emu, self.clone, self.gh = emu, clone, gh
        self.env = {"GITHUB_API_URL": emu.base_url, "GITHUB_TOKEN": emu.token}

    def run(self, *args: str) -> Result:
        return CliRunner().invoke(
            cli,
            ["-C", str(self.clone.root), "--repo", "acme/shop", *args],
            env={**ENV, **self.env},
            prog_name="commit-train",
        )

    def head(self) -> str:
        return self.clone.git("rev-parse", "HEAD")

    def local(self, **kwargs: object) -> LocalBackend:
        return LocalBackend(self.clone.root, **kwargs)  # type: ignore[arg-type]

    def backend(self) -> GitHubBackend:
        """A client of our own: its ``request_count`` is exact (the emulator records a
        request just after answering it, so its own count may lag behind a command)."""
        return GitHubBackend("acme/shop", token=self.emu.token, base_url=self.emu.base_url)

    def statuses(self, deployment_id: int) -> list[tuple[str, str]]:
        return [(s["state"], s["description"]) for s in self.gh.deployment_statuses(deployment_id)]


@pytest.fixture
def shop(github_emulator: GitHubEmulator, tmp_path: Path) -> Shop:
    clone = Repo(tmp_path / "shop")
    clone.commit("Start the shop service")
    clone.commit("Add a health endpoint", author="bob")
    clone.commit("Add the checkout button")
    gh = mirror(clone, github_emulator)
    for sha in gh.commits:
        gh.add_check_run(sha, name="test")
    return Shop(github_emulator, clone, gh)


def clock_at(*stamps: str):  # type: ignore[no-untyped-def]
    times = iter(datetime.fromisoformat(s).replace(tzinfo=UTC) for s in stamps)
    return lambda: next(times)


def test_offline_deploy_while_github_answers_502_then_sync(shop: Shop) -> None:
    outage = shop.emu.inject(502, times=1000)
    head = shop.head()

    result = shop.run("deploy", "staging", "HEAD", "--offline", "--reason", "hotfix for INC-7")
    assert result.exit_code == 0, result.output
    assert result.stdout == (
        f"recorded offline deployment 1 (local journal): {head[:7]} to staging; "
        "run commit-train sync once GitHub answers\n"
    )
    assert shop.gh.deployments == []  # nothing reached GitHub

    # the pipeline goes on against the local id; its statuses are journaled
    local = shop.local(
        clock=clock_at("2025-03-03T10:00:05", "2025-03-03T10:01:30"), creator="runner"
    )
    local.add_status(1, state=DeployState.IN_PROGRESS, description="applying")
    local.add_status(1, state=DeployState.SUCCESS, description="rolled out")
    [waiting] = pending(shop.local(), repo="acme/shop")
    journaled = waiting.deployment
    assert journaled.payload["offline"] is True
    assert journaled.payload["requested_by"] == "carol"
    assert journaled.payload["reason"] == "hotfix for INC-7"
    assert journaled.payload["cause"].startswith(
        "GitHub answered 502 to GET /api/v3/repos/acme/shop"
    )
    assert [s.state for s in journaled.statuses] == ["queued", "in_progress", "success"]

    outage.times = 0  # GitHub answers again
    backend = shop.backend()
    report = sync(shop.local(), backend)
    [stored] = shop.gh.deployments
    assert report.summary == "synced 1 offline deploy to acme/shop (3 statuses added)"
    assert [(s.local_id, s.github_id, s.created) for s in report.synced] == [
        (1, stored["id"], True)
    ]
    # one search, one deployment, three statuses
    assert backend.request_count == 5
    assert stored["sha"] == head
    assert stored["environment"] == "staging"
    payload = stored["payload"]
    assert payload["offline"] is True
    assert payload["recorded_at"] == journaled.payload["recorded_at"]
    assert payload["requested_by"] == "carol"
    assert payload["reason"] == "hotfix for INC-7"
    assert payload["journal_id"] == journaled.payload["journal_id"]
    queued_at = journaled.statuses[0].created_at.strftime("%Y-%m-%dT%H:%M:%SZ")
    assert shop.statuses(stored["id"]) == [
        ("queued", f"offline {queued_at}: queued offline by carol via cli: hotfix for INC-7"),
        ("in_progress", "offline 2025-03-03T10:00:05Z: applying"),
        ("success", "offline 2025-03-03T10:01:30Z: rolled out"),
    ]
    assert pending(shop.local()) == []

    # a second sync adds nothing and asks GitHub nothing
    again = shop.run("sync")
    assert again.exit_code == 0, again.output
    assert again.stdout == "nothing to sync: 1 offline deploy already on GitHub\n"
    quiet = shop.backend()
    assert sync(shop.local(), quiet).synced == ()
    assert quiet.request_count == 0
    assert len(shop.gh.deployments) == 1
    assert len(shop.statuses(stored["id"])) == 3


def test_rate_limit_spent_names_the_way_on(shop: Shop) -> None:
    shop.emu.exhaust_rate_limit(reset_in=3600)
    result = shop.run("deploy", "staging", "HEAD")
    assert result.exit_code == 1
    assert result.stdout == ""
    # a spent limit is not an outage: when it comes back, as a clock time and minutes
    line = re.fullmatch(
        r"error: GitHub's rate limit is spent until (\d\d:\d\d) UTC \(in (\d+) min\)"
        + re.escape(SUGGESTION),
        said(result),
    )
    assert line is not None, said(result)
    back = datetime.now(UTC) + timedelta(seconds=3600)
    assert line.group(1) in {f"{back:%H:%M}", f"{back + timedelta(minutes=1):%H:%M}"}
    assert line.group(2) in {"60", "61"}

    offline = shop.run("deploy", "production", "HEAD", "--offline", "--reason", "INC-7", "--json")
    assert offline.exit_code == 0, offline.output
    doc = json.loads(offline.stdout)
    assert doc["version"] == 1
    assert doc["offline"] is True
    assert doc["environment"] == "production"
    assert doc["sha"] == shop.head()
    assert doc["deployment"]["id"] == 1
    assert doc["deployment"]["state"] == "queued"
    assert doc["deployment"]["requested_by"] == "carol"
    assert doc["deployment"]["reason"] == "INC-7"
    assert len(doc["deployment"]["journal_id"]) == 32
    assert doc["cause"].startswith("GitHub's rate limit is spent until ")


def test_no_connection_is_one_line_too(shop: Shop) -> None:
    backend = GitHubBackend(
        "acme/shop", token=shop.emu.token, base_url=shop.emu.base_url, max_attempts=1
    )
    shop.emu.stop()
    with pytest.raises(GitHubUnavailableError) as down:
        backend.resolve("HEAD")
    line = str(unreachable(down.value))
    assert line.startswith("GitHub is unreachable (could not reach GitHub at 127.0.0.1:")
    assert line.endswith(SUGGESTION.removesuffix("\n"))
    assert "\n" not in line
    assert isinstance(unreachable(down.value), GitHubUnavailableError)


def test_offline_refusals(shop: Shop) -> None:
    shop.emu.inject(502, times=1000)
    no_reason = shop.run("deploy", "staging", "HEAD", "--offline")
    assert no_reason.exit_code == 1
    assert said(no_reason) == (
        f"error: the checks of {shop.head()[:7]} cannot be read while GitHub is unreachable; "
        'to deploy without them, say why with --reason "..." (it is recorded)\n'
    )
    blank = shop.run("deploy", "staging", "HEAD", "--offline", "--reason", "  ")
    assert blank.exit_code == 1
    assert "cannot be read while GitHub is unreachable" in said(blank)

    shop.clone.branch("feature")
    shop.clone.switch("feature")
    side = shop.clone.commit("Try a new checkout")
    shop.clone.switch("main")
    off_branch = shop.run("deploy", "staging", side, "--offline", "--reason", "x")
    assert off_branch.exit_code == 1
    assert said(off_branch) == (
        f"error: {side[:7]} is not on the default branch main of the local clone; "
        "merge it first, or fetch (git fetch origin main) if it was merged on GitHub\n"
    )
    unknown = shop.run("deploy", "qa", "HEAD", "--offline", "--reason", "x")
    assert unknown.exit_code == 1
    assert said(unknown).startswith("error: unknown environment 'qa' (known: production, staging)")

    usage = shop.run("deploy", "staging", "HEAD", "--reason", "x")
    assert usage.exit_code == 2
    assert said(usage) == "error: --reason goes with --offline; add --offline, or drop --reason\n"
    assert entries(shop.local()) == []


def test_offline_refused_while_github_answers(shop: Shop) -> None:
    result = shop.run("deploy", "staging", "HEAD", "--offline", "--reason", "just because")
    assert result.exit_code == 1
    assert said(result) == (
        "error: GitHub answers for acme/shop, so the deploy goes through GitHub and its checks; "
        "deploy without --offline\n"
    )
    assert entries(shop.local()) == []


def _offline(shop: Shop, *states: DeployState) -> None:
    shop.emu.inject(502, times=1)
    assert shop.run("deploy", "staging", "HEAD", "--offline", "--reason", "INC-9").exit_code == 0
    local = shop.local()
    for state in states:
        local.add_status(1, state=state)


def test_sync_interrupted_after_creating_the_deployment(shop: Shop) -> None:
    _offline(shop, DeployState.IN_PROGRESS, DeployState.SUCCESS)
    # GitHub's secondary limit stops the first status, with a wait too long to sit out
    shop.emu.inject(403, times=1, method="POST", path=STATUSES, headers={"retry-after": "3600"})
    first = shop.run("sync")
    assert first.exit_code == 1
    assert said(first).startswith("error: GitHub's secondary rate limit stopped POST ")
    [stored] = shop.gh.deployments
    assert shop.statuses(stored["id"]) == []

    second = shop.run("sync")
    assert second.exit_code == 0, second.output
    assert len(shop.gh.deployments) == 1
    assert [s for s, _ in shop.statuses(stored["id"])] == ["queued", "in_progress", "success"]
    assert shop.run("sync").stdout.startswith("nothing to sync")


def test_sync_finds_its_deployment_when_the_journal_note_was_lost(shop: Shop) -> None:
    """A run that died between GitHub's answers and the journal's note."""
    _offline(shop, DeployState.IN_PROGRESS)
    assert shop.run("sync").exit_code == 0
    [stored] = shop.gh.deployments
    journal = shop.local().journal_path
    with sqlite3.connect(journal) as conn:
        conn.execute("DELETE FROM journal_sync")
    conn.close()
    shop.local().add_status(1, state=DeployState.SUCCESS, description="rolled out")

    backend = shop.backend()
    assert sync_json(sync(shop.local(), backend)) == {
        "version": 1,
        "repo": "acme/shop",
        "synced": [
            {
                "local_id": 1,
                "github_id": stored["id"],
                "environment": "staging",
                "sha": shop.head(),
                "created": False,
                "statuses_added": 1,
            }
        ],
        "up_to_date": 0,
        "busy": 0,
    }
    assert backend.request_count == 2  # the search, the one missing status
    assert len(shop.gh.deployments) == 1
    assert [s for s, _ in shop.statuses(stored["id"])] == ["queued", "in_progress", "success"]


def test_statuses_journaled_after_a_sync_follow_on_the_next(shop: Shop) -> None:
    _offline(shop)
    assert shop.run("sync").exit_code == 0
    [stored] = shop.gh.deployments
    local = shop.local()
    local.add_status(1, state=DeployState.IN_PROGRESS)
    local.add_status(1, state=DeployState.FAILURE, description="rollout stalled")
    backend = shop.backend()
    report = sync(local, backend)
    assert report.summary == "synced 1 offline deploy to acme/shop (2 statuses added)"
    # the deployment and its statuses read once (to count what arrived), two statuses sent
    assert backend.request_count == 4
    local.add_status(1, state=DeployState.SUCCESS, description="fixed by hand")
    result = shop.run("sync")
    assert result.exit_code == 0, result.output
    assert result.stdout == (
        f"local deployment 1 -> GitHub deployment {stored['id']}: {shop.head()[:7]} to staging "
        "(already on GitHub, 1 status added)\n"
        "synced 1 offline deploy to acme/shop (1 status added)\n"
    )
    assert [s for s, _ in shop.statuses(stored["id"])] == [
        "queued",
        "in_progress",
        "failure",
        "success",
    ]


def test_a_newer_github_deploy_stays_live(shop: Shop) -> None:
    _offline(shop, DeployState.IN_PROGRESS, DeployState.SUCCESS)
    recorded = recorded_at(entries(shop.local())[0].deployment)
    later = shop.gh.add_deployment(
        shop.head(),
        environment="staging",
        statuses=["success"],
        created_at=recorded + timedelta(minutes=5),
    )
    synced = shop.run("sync")
    assert synced.exit_code == 0, synced.output
    replayed = [d for d in shop.gh.deployments if d["id"] != later]
    [replay] = replayed
    assert synced.stdout == (
        f"local deployment 1 -> GitHub deployment {replay['id']}: {shop.head()[:7]} to staging "
        "(created, 3 statuses added)\n"
        "synced 1 offline deploy to acme/shop (3 statuses added)\n"
    )
    states = shop.statuses(replay["id"])
    assert [s for s, _ in states] == ["queued", "in_progress", "inactive"]
    assert states[-1][1].endswith(f": succeeded offline; replaced since by deployment {later}")
    assert [s for s, _ in shop.statuses(later)] == ["success"]


def test_library_offline_deploy_and_sync_of_another_repo(shop: Shop, tmp_path: Path) -> None:
    config = parse("environments:\n  staging: {}\n")
    local = shop.local(creator="dave")
    made = offline_deploy(
        local,
        config,
        "staging",
        "HEAD~1",
        actor="dave",
        reason="outage",
        repo="acme/other",
        clock=lambda: datetime(2025, 3, 3, 12, 0, tzinfo=UTC),
    )
    assert made.deployment.payload["recorded_at"] == "2025-03-03T12:00:00Z"
    assert made.commit.title == "Add a health endpoint"
    with pytest.raises(RefusedError) as refused:
        offline_deploy(local, config, "staging", "HEAD", actor="d", reason=None, repo="acme/x")
    assert refused.value.reason == "checks-unreadable"

    report = sync(local, shop.backend())  # the entry belongs to acme/other: left alone
    assert report.synced == ()
    assert report.up_to_date == 0
    assert shop.gh.deployments == []
    assert len(pending(local, repo="acme/other")) == 1
