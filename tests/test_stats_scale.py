"""``stats`` at scale against the GitHub emulator: every deployment of the window read, each
page once, no cap; the cache makes a second run cheap and changes no number."""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from commit_train.faces.cli.main import cli
from commit_train.models import Commit, Deployment, DeploymentStatus, DeployState
from commit_train.service.stats import compute
from commit_train.service.stats_cache import StatsCache, cache_path, finished
from tests.emulators.github import GitHubEmulator

UNTIL = datetime(2025, 3, 31, 0, 0, tzinfo=UTC)
CONFIG = "environments:\n  staging: {}\n  production:\n    production: true\n"


def seed(emu: GitHubEmulator, deploys: int, *, days: int = 30) -> tuple[Any, list[str]]:
    """``deploys`` deploys spread evenly over the ``days`` before ``UNTIL``, two in three
    to staging; every tenth fails after starting, every 50th is still queued. Seeded
    through the emulator's model (no HTTP), as the benchmark does."""
    repo = emu.create_repo("acme/shop")
    start = UNTIL - timedelta(days=days)
    shas = [repo.commit(f"Change {i}", when=start + timedelta(hours=i)) for i in range(40)]
    step = timedelta(days=days) / deploys
    for n in range(deploys):
        when = start + step * n + timedelta(seconds=1)
        if n % 50 == 49:
            states = ["queued"]
        elif n % 10 == 3:
            states = ["in_progress", "failure"]
        else:
            states = ["in_progress", "success"]
        repo.add_deployment(
            shas[min(n * 40 // deploys, 39)],
            environment="staging" if n % 3 else "production",
            creator=("alice", "bob", "carol")[n % 3],
            statuses=states,
            created_at=when,
        )
    return repo, shas


def stats(emu: GitHubEmulator, folder: Path, *extra: str) -> dict[str, Any]:
    (folder / ".commit-train.yml").write_text(CONFIG)
    result = CliRunner().invoke(
        cli,
        [
            *("-C", str(folder), "--repo", "acme/shop", "stats", "--since", "30d", "--json"),
            *("--until", "2025-03-31T00:00:00Z", *extra),
        ],
        env={"GITHUB_API_URL": emu.base_url, "GITHUB_TOKEN": emu.token, "GH_TOKEN": None},
    )
    assert result.exit_code == 0, result.output
    doc: dict[str, Any] = json.loads(result.stdout)
    return doc


def test_every_deploy_of_the_window_is_read_once_and_the_second_run_is_cheap(
    github_emulator: GitHubEmulator, tmp_path: Path
) -> None:
    emu = github_emulator
    n = 1234
    seed(emu, n)
    emu.reset_requests()
    first = stats(emu, tmp_path)
    assert first["deploys"] == n  # no cap
    by_name = {e["name"]: e for e in first["environments"]}
    assert by_name["production"]["deploys"] == math.ceil(n / 3)
    # each page of 100 once, and one request for the 40 commits of the default branch
    pages = math.ceil(n / 100)
    assert emu.request_count == pages + 1
    assert emu.graphql_points == pages + 1  # GitHub charges 1 point for each
    assert all(r.graphql for r in emu.requests)

    emu.reset_requests()
    second = stats(emu, tmp_path)
    assert second == first
    # the newest page and the branch's tip; the deploys still queued were overtaken by newer
    # ones that ran (commit-train will never run them), so none is looked up again
    assert emu.request_count == 2 <= 5
    assert emu.graphql_points == 2


def test_the_second_run_sees_what_changed_since_the_first(
    github_emulator: GitHubEmulator, tmp_path: Path
) -> None:
    emu = github_emulator
    repo, shas = seed(emu, 450)
    # production's newest deploy is still running at the first run, then 120 staging ones
    running = repo.add_deployment(
        shas[-1],
        environment="production",
        statuses=["in_progress"],
        created_at=UNTIL - timedelta(hours=3),
    )
    for minute in range(120):
        repo.add_deployment(
            shas[-1],
            environment="staging",
            statuses=["in_progress", "success"],
            created_at=UNTIL - timedelta(hours=2, minutes=-minute),
        )
    before = stats(emu, tmp_path)
    # it fails; two more deploys arrive in staging
    deployment = repo.get_deployment(running)
    with emu.store.lock:
        repo.new_deployment_status(deployment, state="failure", creator=deployment.creator)
    newest = repo.commit("Hotfix", when=UNTIL - timedelta(minutes=50))
    for minutes, state in ((40, "success"), (30, "failure")):
        repo.add_deployment(
            newest,
            environment="staging",
            statuses=["in_progress", state],
            created_at=UNTIL - timedelta(minutes=minutes),
        )
    emu.reset_requests()
    cached = stats(emu, tmp_path)
    # the newest page; the running deploy, 122 deploys back, looked up again; the branch
    assert emu.request_count == 3
    fresh = stats(emu, tmp_path, "--no-cache")
    assert cached == fresh
    assert cached["deploys"] == before["deploys"] + 2 == 450 + 121 + 2
    production = {e["name"]: e for e in cached["environments"]}["production"]
    assert (
        production["failed"]
        == {e["name"]: e for e in before["environments"]}["production"]["failed"] + 1
    )


def test_a_window_reaching_further_back_than_the_cache_reads_it_afresh(
    github_emulator: GitHubEmulator, tmp_path: Path
) -> None:
    emu = github_emulator
    seed(emu, 300, days=60)
    short = stats(emu, tmp_path)  # 30 of the 60 days
    assert short["deploys"] == 150
    (tmp_path / ".commit-train.yml").write_text(CONFIG)
    result = CliRunner().invoke(
        cli,
        [
            *("-C", str(tmp_path), "--repo", "acme/shop", "stats", "--since", "60d", "--json"),
            *("--until", "2025-03-31T00:00:00Z"),
        ],
        env={"GITHUB_API_URL": emu.base_url, "GITHUB_TOKEN": emu.token, "GH_TOKEN": None},
    )
    assert json.loads(result.stdout)["deploys"] == 300


def at(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2025, 3, day, hour, minute, tzinfo=UTC)


def production(number: int, sha: str, created: datetime, *states: tuple[str, datetime]) -> Any:
    return Deployment(
        number, sha, "production", "bot", created, {},
        statuses=tuple(DeploymentStatus(DeployState(s), t) for s, t in states),
    )  # fmt: skip


def test_no_duration_is_negative_and_the_clamped_ones_are_counted() -> None:
    """A committer's clock ahead: the commit is dated after the deploy that made it live."""
    commits = [
        Commit("b" * 40, "From the future", "dave", at(3, 12)),  # live at 10:30
        Commit("a" * 40, "Start", "alice", at(1, 8)),
    ]
    history = [
        production(1, "a" * 40, at(1, 9), ("success", at(1, 9, 5))),
        production(2, "b" * 40, at(3, 10), ("in_progress", at(3, 10)), ("success", at(3, 10, 30))),
    ]
    result = compute(
        history, commits, environments={"production": True}, since=at(2, 0), until=at(4, 0)
    )
    assert result.lead_time.commits == 1
    assert result.lead_time.median_seconds == 0.0
    assert result.lead_time.clamped == 1


def test_recovery_time_is_the_median_not_the_mean() -> None:
    """Three incidents restored after 10 minutes, 20 minutes and 5 hours: DORA's median is
    20 minutes (a mean would say 1h 50m)."""
    history = []
    number = 0
    for day, minutes in ((1, 10), (2, 20), (3, 300)):
        number += 2
        failed = at(day, 10)
        history.append(
            production(number, "a" * 40, failed, ("in_progress", failed), ("failure", failed))
        )
        fixed = failed + timedelta(minutes=minutes)
        history.append(production(number + 1, "a" * 40, fixed, ("success", fixed)))
    result = compute(history, [], environments={"production": True}, since=at(1, 0), until=at(5, 0))
    assert result.recovery_time.restored == 3
    assert result.recovery_time.median_seconds == 20 * 60


def test_only_failure_counts_as_a_failed_change_not_error() -> None:
    history = [
        production(1, "a" * 40, at(1, 9), ("in_progress", at(1, 9)), ("error", at(1, 9, 1))),
        production(2, "a" * 40, at(1, 10), ("in_progress", at(1, 10)), ("failure", at(1, 10, 1))),
        production(3, "a" * 40, at(1, 11), ("in_progress", at(1, 11)), ("success", at(1, 11, 1))),
    ]
    [env] = compute(
        history, [], environments={"production": True}, since=at(1, 0), until=at(2, 0)
    ).environments
    assert (env.failed, env.finished, env.change_failure_rate) == (1, 2, 0.5)


@pytest.mark.parametrize(
    ("states", "done"),
    [
        ((), False),
        (("queued",), False),
        (("queued", "in_progress"), False),
        (("in_progress", "success"), True),
        (("in_progress", "failure"), True),
        (("queued", "error"), True),
        (("queued", "inactive"), True),
    ],
)
def test_what_the_cache_takes_as_finished(states: tuple[str, ...], done: bool) -> None:
    deployment = production(
        1, "a" * 40, at(1, 9), *((s, at(1, 9, i)) for i, s in enumerate(states))
    )
    assert finished(deployment) is done


def test_the_cache_lives_under_xdg_cache_home_per_host_and_repository(tmp_path: Path) -> None:
    path = cache_path(tmp_path, "127.0.0.1:8080/acme/shop")
    assert path == tmp_path / "127.0.0.1_8080" / "acme" / "shop.sqlite3"
    escaping = cache_path(tmp_path, "api.github.com/../../etc")
    assert escaping.resolve().is_relative_to(tmp_path.resolve())
    with StatsCache(path) as cache:
        deployment = production(7, "a" * 40, at(1, 9), ("success", at(1, 9, 5)))
        cache.store([("key7", deployment)])
        assert cache.deployments(["production"]) == [deployment]
        assert cache.unfinished(["production"], since=at(1, 0)) == []
