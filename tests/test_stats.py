"""Deploy statistics over a scripted history with known answers, and their renderings."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from click.testing import CliRunner, Result

from commit_train.backends.github.backend import GitHubBackend
from commit_train.backends.local.backend import LocalBackend
from commit_train.core.text import duration
from commit_train.faces.cli.main import cli
from commit_train.models import Commit, Deployment, DeploymentStatus, DeployState
from commit_train.service.stats import compute, gather, mermaid, render_table, stats_json
from commit_train.service.stats_chart import render_svg
from tests.emulators.github import GitHubEmulator
from tests.gitrepos import Repo

SVG = "{http://www.w3.org/2000/svg}"
ENVIRONMENTS = {"staging": False, "production": True}
SINCE = datetime(2025, 3, 1, tzinfo=UTC)
UNTIL = datetime(2025, 3, 3, 18, 0, tzinfo=UTC)


def at(text: str) -> datetime:
    """``"03-02 13:20"`` -> 2025-03-02 13:20 UTC."""
    return datetime.fromisoformat(f"2025-{text}").replace(tzinfo=UTC)


COMMITS = [  # the default branch, newest first
    Commit("c5" * 20, "Add gift cards", "carol", at("03-03 09:00")),
    Commit("c4" * 20, "Speed up search", "bob", at("03-02 10:00")),
    Commit("c3" * 20, "Add the checkout button", "alice", at("03-01 09:00")),
    Commit("c2" * 20, "Fix the footer", "alice", at("03-01 08:00")),
    Commit("c1" * 20, "Start the shop", "alice", at("02-27 10:00")),
]
SHA = {c.sha[:2]: c.sha for c in COMMITS}


def deploy(
    number: int,
    environment: str,
    commit: str,
    created: str,
    *states: tuple[str, str],
    by: str,
    payload: dict[str, Any] | None = None,
) -> Deployment:
    return Deployment(
        id=number,
        sha=SHA[commit],
        environment=environment,
        creator="deploy-bot",
        created_at=at(created),
        payload={"requested_by": by, **(payload or {})},
        statuses=tuple(DeploymentStatus(DeployState(s), at(t)) for s, t in states),
    )


HISTORY = [
    # before the window: c1 live in production
    deploy(1, "production", "c1", "02-28 12:00", ("success", "02-28 12:10"), by="alice"),
    deploy(
        2,
        "staging",
        "c3",
        "03-01 10:00",
        ("queued", "03-01 10:00"),
        ("success", "03-01 10:05"),
        ("inactive", "03-02 12:10"),
        by="alice",
    ),
    # c2 and c3 go live together: lead times 3h30 and 2h30
    deploy(3, "production", "c3", "03-01 11:00", ("success", "03-01 11:30"), by="alice"),
    deploy(
        4,
        "staging",
        "c4",
        "03-02 11:00",
        ("in_progress", "03-02 11:01"),
        ("failure", "03-02 11:05"),
        by="bob",
    ),
    deploy(5, "staging", "c4", "03-02 12:00", ("success", "03-02 12:10"), by="bob"),
    # production breaks at 13:20 and is restored by a rollback at 13:50 (30 minutes)
    deploy(
        6,
        "production",
        "c4",
        "03-02 13:00",
        ("in_progress", "03-02 13:01"),
        ("failure", "03-02 13:20"),
        by="bob",
    ),
    deploy(7, "production", "c3", "03-02 13:30", ("success", "03-02 13:50"), by="bob"),
    # c4 goes live a day later: lead time 24h30
    deploy(8, "production", "c4", "03-03 10:00", ("success", "03-03 10:30"), by="carol"),
    # superseded by 10 while queued: it never ran, so it is no change (not a failure)
    deploy(
        9,
        "staging",
        "c5",
        "03-03 12:00",
        ("queued", "03-03 12:00"),
        ("error", "03-03 13:01"),
        by="carol",
    ),
    deploy(
        10,
        "staging",
        "c5",
        "03-03 13:00",
        ("queued", "03-03 13:00"),
        ("in_progress", "03-03 13:01"),
        by="carol",
    ),
    # broken again, not restored within the window
    deploy(
        11,
        "production",
        "c5",
        "03-03 14:00",
        ("in_progress", "03-03 14:01"),
        ("failure", "03-03 14:10"),
        by="carol",
    ),
    # recorded offline on the 3rd, copied to GitHub by sync on the 4th
    deploy(
        12,
        "staging",
        "c5",
        "03-04 08:00",
        ("success", "03-04 08:00"),
        by="dave",
        payload={"offline": True, "recorded_at": "2025-03-03T15:00:00Z"},
    ),
    # after the window
    deploy(13, "staging", "c5", "03-03 18:00", ("success", "03-03 18:05"), by="erin"),
]


def scripted() -> Any:
    return compute(
        HISTORY,
        COMMITS,
        environments=ENVIRONMENTS,
        since=SINCE,
        until=UNTIL,
        repo="acme/shop",
    )


def test_known_answers() -> None:
    stats = scripted()
    assert [d.isoformat() for d in stats.days] == ["2025-03-01", "2025-03-02", "2025-03-03"]
    staging, production = stats.environments
    assert staging.per_day == (1, 2, 3)
    assert (staging.succeeded, staging.failed) == (3, 1)  # 9 never ran: not counted
    assert staging.change_failure_rate == 0.25
    assert production.per_day == (1, 2, 2)
    assert (production.succeeded, production.failed) == (3, 2)
    assert production.change_failure_rate == 0.4
    assert stats.deploys == 11
    # c2 3h30, c3 2h30, c4 24h30: the median is 3h30
    assert stats.lead_time.commits == 3
    assert stats.lead_time.median_seconds == 3.5 * 3600
    assert stats.recovery_time.incidents == 2
    assert stats.recovery_time.restored == 1
    assert stats.recovery_time.median_seconds == 30 * 60
    assert [(p.person, p.per_day) for p in stats.people] == [
        ("bob", (0, 4, 0)),
        ("carol", (0, 0, 4)),
        ("alice", (2, 0, 0)),
        ("dave", (0, 0, 1)),
    ]
    # per day over the window's length (2.75 days), not the 3 calendar days it touches
    assert stats.window_days == 2.75
    assert stats.people[0].mean_per_day == 4 / 2.75
    assert staging.deploys_per_day == 6 / 2.75
    assert production.successes_per_day == 3 / 2.75


def test_table() -> None:
    assert render_table(scripted()) == (
        "acme/shop: 11 deploys from 2025-03-01 to 2025-03-03 (2.8 days)\n"
        "\n"
        "ENVIRONMENT  DEPLOYS  PER DAY  SUCCEEDED  FAILED  CHANGE FAILURE RATE\n"
        "staging      6        2.2      3          1/4     25%\n"
        "production   5        1.8      3          2/5     40%\n"
        "\n"
        "deployment frequency, production: 1.1 successful deploys a day\n"
        "lead time for changes, commit to live in production: median 3h 30m over 3 commits\n"
        "failed deployment recovery time, production: median 30m 00s over 1 of 2 incidents "
        "restored\n"
        "\n"
        "PERSON  DEPLOYS  PER DAY  BUSIEST DAY\n"
        "bob     4        1.5      2025-03-02\n"
        "carol   4        1.5      2025-03-03\n"
        "alice   2        0.7      2025-03-01\n"
        "dave    1        0.4      2025-03-03"
    )


def test_json_shape() -> None:
    doc = stats_json(scripted())
    assert doc == {
        "version": 2,
        "repo": "acme/shop",
        "since": "2025-03-01T00:00:00Z",
        "until": "2025-03-03T18:00:00Z",
        "window_days": 2.75,
        "days": ["2025-03-01", "2025-03-02", "2025-03-03"],
        "deploys": 11,
        "environments": [
            {
                "name": "staging",
                "production": False,
                "deploys": 6,
                "deploys_per_day": 6 / 2.75,
                "successes_per_day": 3 / 2.75,
                "per_day": [1, 2, 3],
                "succeeded_per_day": [1, 1, 1],
                "failed_per_day": [0, 1, 0],
                "succeeded": 3,
                "failed": 1,
                "change_failure_rate": 0.25,
            },
            {
                "name": "production",
                "production": True,
                "deploys": 5,
                "deploys_per_day": 5 / 2.75,
                "successes_per_day": 3 / 2.75,
                "per_day": [1, 2, 2],
                "succeeded_per_day": [1, 1, 1],
                "failed_per_day": [0, 1, 1],
                "succeeded": 3,
                "failed": 2,
                "change_failure_rate": 0.4,
            },
        ],
        "lead_time": {"commits": 3, "median_seconds": 12600.0, "clamped": 0},
        "recovery_time": {"incidents": 2, "restored": 1, "median_seconds": 1800.0, "clamped": 0},
        "people": [
            {"person": "bob", "deploys": 4, "per_day": [0, 4, 0], "mean_per_day": 4 / 2.75},
            {"person": "carol", "deploys": 4, "per_day": [0, 0, 4], "mean_per_day": 4 / 2.75},
            {"person": "alice", "deploys": 2, "per_day": [2, 0, 0], "mean_per_day": 2 / 2.75},
            {"person": "dave", "deploys": 1, "per_day": [0, 0, 1], "mean_per_day": 1 / 2.75},
        ],
    }
    json.dumps(doc)  # plain JSON all the way down


def test_empty_history() -> None:
    stats = compute([], [], environments=ENVIRONMENTS, since=SINCE, until=UNTIL)
    assert stats.deploys == 0
    assert [e.per_day for e in stats.environments] == [(0, 0, 0), (0, 0, 0)]
    assert [e.change_failure_rate for e in stats.environments] == [None, None]
    assert stats.lead_time.commits == 0
    assert stats.lead_time.median_seconds is None
    assert stats.recovery_time.median_seconds is None
    assert stats.people == ()
    assert render_table(stats).splitlines()[-3:] == [
        "deployment frequency, production: 0.0 successful deploys a day",
        "lead time for changes, commit to live in production: median - over 0 commits",
        "failed deployment recovery time, production: median - over 0 of 0 incidents restored",
    ]
    doc = stats_json(stats)
    assert doc["lead_time"] == {"commits": 0, "median_seconds": None, "clamped": 0}
    assert doc["people"] == []
    root = ET.fromstring(render_svg(stats))
    assert len(root.findall(f".//{SVG}g[@class='bar']")) == 2 * 3


def bars(root: ET.Element, environment: str) -> list[ET.Element]:
    [panel] = [
        p for p in root.iter(f"{SVG}g") if p.get("class") == "panel"
        and p.get("data-environment") == environment
    ]  # fmt: skip
    return panel.findall(f"{SVG}g[@class='bar']")


def test_svg_stacks_failures_on_successes_one_bar_a_day() -> None:
    root = ET.fromstring(render_svg(scripted()))
    assert root.tag == f"{SVG}svg"
    assert root.findtext(f"{SVG}title") == ("acme/shop: deploys per day, 2025-03-01 to 2025-03-03")
    staging = bars(root, "staging")
    assert [b.get("data-start") for b in staging] == ["2025-03-01", "2025-03-02", "2025-03-03"]
    assert [b.findtext(f"{SVG}title") for b in staging] == [
        "staging, 2025-03-01: 1 deploys (1 succeeded, 0 failed, 0 other)",
        "staging, 2025-03-02: 2 deploys (1 succeeded, 1 failed, 0 other)",
        "staging, 2025-03-03: 3 deploys (1 succeeded, 0 failed, 2 other)",
    ]
    # stacked from the axis up: succeeded, then failed on top of it
    succeeded, failed = staging[1].findall(f"{SVG}rect")
    assert (succeeded.get("class"), failed.get("class")) == ("succeeded", "failed")
    assert float(failed.get("y", "")) + float(failed.get("height", "")) == float(
        succeeded.get("y", "")
    )
    assert succeeded.get("fill") != failed.get("fill")
    legend = [t.get("data-kind") for t in root.findall(f"{SVG}text[@class='legend']")]
    assert legend == ["succeeded", "failed", "other"]


def test_svg_escapes_names() -> None:
    odd = [deploy(1, "a&b<c>", "c1", "03-01 10:00", by='x"y')]
    stats = compute(odd, [], environments={}, since=SINCE, until=UNTIL)
    root = ET.fromstring(render_svg(stats))
    assert len(bars(root, "a&b<c>")) == 3


def window(days: int, per_day: int = 3) -> Any:
    """``days`` days ending 2025-03-03 with ``per_day`` staging deploys each, one failed."""
    until = datetime(2025, 3, 3, 18, 0, tzinfo=UTC)
    history = []
    number = 0
    for back in range(days):
        day = until - timedelta(days=back, hours=1)
        for n in range(per_day):
            number += 1
            states = [("in_progress", day), ("failure" if n == 0 else "success", day)]
            history.append(
                Deployment(
                    number, SHA["c1"], "staging", "bot", day,
                    {"requested_by": "alice"},
                    statuses=tuple(DeploymentStatus(DeployState(s), t) for s, t in states),
                )
            )  # fmt: skip
    since = until - timedelta(days=days)
    return compute(history, [], environments={"staging": False}, since=since, until=until)


def test_svg_at_any_window_has_at_most_60_bars_a_bounded_width_and_a_y_axis() -> None:
    for days, unit, count in ((30, "day", 31), (200, "week", 30), (2000, "quarter", 23)):
        root = ET.fromstring(render_svg(window(days)))
        assert float(root.get("width", "")) <= 1000, days
        title = root.findtext(f"{SVG}text[@class='title']") or ""
        assert title.startswith(f"deploys per {unit}, "), title
        staging = bars(root, "staging")
        assert len(staging) == count <= 60, (days, len(staging))
        assert sum(int(b.get("data-deploys", "")) for b in staging) == 3 * days
        for bar in staging:
            for rect in bar.findall(f"{SVG}rect"):
                assert float(rect.get("x", "")) + float(rect.get("width", "")) <= 800
        ticks = [t.text for t in root.iter(f"{SVG}text") if t.get("class") == "tick"]
        assert len(ticks) >= 4, ticks
        assert ticks[0] == "0"
        labels = [t for t in root.iter(f"{SVG}text") if t.get("class") == "x-label"]
        assert 2 <= len(labels) <= 12


def test_a_30_day_chart_keeps_its_title_in_view_and_labels_its_y_axis() -> None:
    root = ET.fromstring(render_svg(window(30)))
    title = root.find(f"{SVG}text[@class='title']")
    assert title is not None and title.text == "deploys per day, 2025-02-01 to 2025-03-03"
    # 15 px sans-serif: about 8 px a character, well inside the 800 px
    assert float(title.get("x", "")) + 8 * len(title.text) < float(root.get("width", ""))
    ticks = [t.text for t in root.iter(f"{SVG}text") if t.get("class") == "tick"]
    assert ticks == ["0", "1", "2", "3", "4"]


def test_mermaid_exact() -> None:
    small = [
        deploy(1, "staging", "c1", "03-01 10:00", by="alice"),
        deploy(2, "staging", "c1", "03-03 10:00", by="alice"),
        deploy(3, "staging", "c1", "03-03 11:00", by="alice"),
    ]
    stats = compute(small, [], environments={"staging": False}, since=SINCE, until=UNTIL)
    assert mermaid(stats) == (
        "```mermaid\n"
        "xychart-beta\n"
        '    title "staging: deploys per day"\n'
        '    x-axis ["03-01", "03-02", "03-03"]\n'
        '    y-axis "deploys" 0 --> 2\n'
        "    bar [1, 0, 2]\n"
        "```\n"
    )
    two = compute(small, [], environments=ENVIRONMENTS, since=SINCE, until=UNTIL)
    assert mermaid(two).count("xychart-beta") == 2
    assert '    title "production: deploys per day"\n' in mermaid(two)
    assert "    bar [0, 0, 0]\n" in mermaid(two)


def test_durations() -> None:
    assert [duration(s) for s in (None, 45, 720, 7500, 3 * 86400 + 4 * 3600)] == [
        "-",
        "45s",
        "12m 00s",
        "2h 05m",
        "3d 4h",
    ]


# -- the command, on the local journal and against the GitHub emulator -----------------------


ENV = {
    "GITHUB_TOKEN": None,
    "GH_TOKEN": None,
    "COMMIT_TRAIN_BACKEND": None,
    "GITHUB_API_URL": None,
    "GITHUB_ACTOR": "carol",
    "NO_COLOR": None,
}


def run(*args: str, env: dict[str, str | None] | None = None) -> Result:
    return CliRunner().invoke(cli, list(args), env={**ENV, **(env or {})}, prog_name="commit-train")


def ticking(*stamps: str) -> Iterator[datetime]:
    return iter(at(s) for s in stamps)


def test_stats_command_on_the_local_journal(tmp_path: Path) -> None:
    repo = Repo(tmp_path / "shop")
    first = repo.commit("Start the shop")  # committed 2025-03-03 09:0x (fixed dates)
    second = repo.commit("Add the checkout button")
    times = ticking(
        "03-03 10:00", "03-03 10:00", "03-03 10:30", "03-04 09:00", "03-04 09:00", "03-04 09:00"
    )
    local = LocalBackend(repo.root, creator="bot", clock=lambda: next(times))
    one = local.create_deployment(
        sha=first, environment="production", payload={"requested_by": "alice"},
        description="", production=True,
    )  # fmt: skip
    local.add_status(one.id, state=DeployState.QUEUED)
    local.add_status(one.id, state=DeployState.SUCCESS)
    two = local.create_deployment(
        sha=second, environment="staging", payload={"requested_by": "bob"},
        description="", production=False,
    )  # fmt: skip
    local.add_status(two.id, state=DeployState.IN_PROGRESS)
    local.add_status(two.id, state=DeployState.FAILURE)

    chart = tmp_path / "deploys.svg"
    args = ["-C", str(repo.root), "stats", "--since", "2d", "--until", "2025-03-04T12:00:00Z"]
    result = run(*args, "--json", "--chart", str(chart))
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["days"] == ["2025-03-02", "2025-03-03", "2025-03-04"]
    by_name = {e["name"]: e for e in doc["environments"]}
    assert by_name["staging"]["per_day"] == [0, 0, 1]
    assert by_name["staging"]["change_failure_rate"] == 1.0
    assert by_name["production"]["per_day"] == [0, 1, 0]
    assert by_name["production"]["change_failure_rate"] == 0.0
    assert doc["lead_time"]["commits"] == 1
    committed = datetime.fromisoformat(repo.git("show", "-s", "--format=%cI", first))
    assert doc["lead_time"]["median_seconds"] == (at("03-03 10:30") - committed).total_seconds()
    assert [p["person"] for p in doc["people"]] == ["alice", "bob"]
    root = ET.parse(chart).getroot()
    assert len(bars(root, "staging")) == 3

    table = run(*args, "--env", "staging")
    assert table.exit_code == 0, table.output
    assert table.stdout.splitlines()[0] == "shop: 1 deploys from 2025-03-02 to 2025-03-04 (2 days)"
    assert "production" not in table.stdout

    charts = run(*args, "--mermaid", "--env", "production")
    assert charts.exit_code == 0
    assert charts.stdout.startswith("```mermaid\nxychart-beta\n")
    assert '    x-axis ["03-02", "03-03", "03-04"]\n' in charts.stdout


def test_stats_command_usage_errors(tmp_path: Path) -> None:
    repo = Repo(tmp_path / "shop")
    repo.commit("Start")
    base = ["-C", str(repo.root), "stats"]
    png = run(*base, "--chart", str(tmp_path / "deploys.png"))
    assert png.exit_code == 2
    assert png.stderr == (
        "error: PNG charts need a plotting library commit-train does not ship; "
        f"write an SVG instead: --chart {tmp_path / 'deploys.svg'}\n"
    )
    since = run(*base, "--since", "soon")
    assert since.exit_code == 2
    assert since.stderr == (
        "error: --since: 'soon' is not a duration; write it like 30s, 10m, 24h or 7d\n"
    )
    unknown = run(*base, "--env", "qa")
    assert unknown.exit_code == 1
    assert unknown.stderr.startswith("error: unknown environment 'qa'")


def test_stats_command_against_github(github_emulator: GitHubEmulator, tmp_path: Path) -> None:
    emu = github_emulator
    gh = emu.create_repo("acme/shop")
    old = gh.commit("Start the shop", when=at("03-01 08:00"))
    new = gh.commit("Add the checkout button", when=at("03-02 08:00"))
    gh.add_deployment(
        old, environment="production", statuses=["success"], created_at=at("03-01 09:00")
    )
    gh.add_deployment(
        new,
        environment="production",
        creator="bob",
        statuses=["success"],
        created_at=at("03-02 10:00"),
    )
    gh.add_deployment(
        new,
        environment="staging",
        statuses=["in_progress", "failure"],
        created_at=at("03-02 09:00"),
    )
    (tmp_path / ".commit-train.yml").write_text(
        "environments:\n  staging: {}\n  production:\n    production: true\n"
    )
    emu.reset_requests()
    result = run(
        "-C",
        str(tmp_path),
        "--repo",
        "acme/shop",
        "stats",
        "--since",
        "1d",
        "--until",
        "2025-03-02T18:00:00Z",
        "--json",
        env={"GITHUB_API_URL": emu.base_url, "GITHUB_TOKEN": emu.token},
    )
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["repo"] == "acme/shop"
    by_name = {e["name"]: e for e in doc["environments"]}
    assert by_name["production"]["per_day"] == [0, 1]
    assert by_name["staging"]["change_failure_rate"] == 1.0
    assert doc["lead_time"] == {"commits": 1, "median_seconds": 2 * 3600.0, "clamped": 0}
    assert [p["person"] for p in doc["people"]] == ["alice", "bob"]
    # one GraphQL read for both environments' deployments, one for the default branch
    backend = GitHubBackend("acme/shop", token=emu.token, base_url=emu.base_url)
    found = gather(
        backend,
        environments=["staging", "production"],
        since=at("03-01 18:00"),
        production=["production"],
    )
    assert backend.request_count == 2
    assert [c.sha for c in found.commits] == [new, old]
    assert len(found.deployments) == 3


def test_a_deploy_superseded_before_it_ran_is_no_change_and_no_incident() -> None:
    history = [
        deploy(1, "production", "c3", "03-01 10:00", ("success", "03-01 10:05"), by="alice"),
        # queued, then closed as error when 3 started: it never touched the cluster
        deploy(
            2,
            "production",
            "c4",
            "03-02 10:00",
            ("queued", "03-02 10:00"),
            ("error", "03-02 11:01"),
            by="bob",
        ),
        deploy(
            3,
            "production",
            "c5",
            "03-02 11:00",
            ("queued", "03-02 11:00"),
            ("in_progress", "03-02 11:01"),
            ("success", "03-02 11:05"),
            by="bob",
        ),
        # started, then failed: a change that failed
        deploy(
            4,
            "production",
            "c5",
            "03-03 10:00",
            ("in_progress", "03-03 10:01"),
            ("failure", "03-03 10:02"),
            by="carol",
        ),
    ]
    stats = compute(history, COMMITS, environments={"production": True}, since=SINCE, until=UNTIL)
    [production] = stats.environments
    assert production.per_day == (1, 2, 1)
    assert (production.succeeded, production.failed) == (2, 1)
    assert production.change_failure_rate == 1 / 3
    assert (stats.recovery_time.incidents, stats.recovery_time.restored) == (1, 0)


def test_a_deploy_whose_surroundings_broke_is_no_change_and_no_incident() -> None:
    """``error``: the cluster was unreachable (or GitHub down, or credentials refused)
    after the deploy started. The change was not what broke, so it counts in neither the
    change failure rate nor time to restore; a ``failure`` does."""
    history = [
        deploy(1, "production", "c3", "03-01 10:00", ("success", "03-01 10:05"), by="alice"),
        deploy(
            2,
            "production",
            "c4",
            "03-02 10:00",
            ("in_progress", "03-02 10:01"),
            ("error", "03-02 10:02"),
            by="bob",
        ),
        deploy(3, "production", "c4", "03-02 11:00", ("success", "03-02 11:05"), by="bob"),
        deploy(
            4,
            "production",
            "c5",
            "03-03 10:00",
            ("in_progress", "03-03 10:01"),
            ("failure", "03-03 10:02"),
            by="carol",
        ),
    ]
    stats = compute(history, COMMITS, environments={"production": True}, since=SINCE, until=UNTIL)
    [production] = stats.environments
    assert production.per_day == (1, 2, 1)
    assert (production.succeeded, production.failed) == (2, 1)
    assert production.change_failure_rate == 1 / 3
    assert (stats.recovery_time.incidents, stats.recovery_time.restored) == (1, 0)


def test_one_commit_and_one_incident_read_in_the_singular() -> None:
    import dataclasses

    from commit_train.service.stats import LeadTime, RecoveryTime

    stats = compute([], [], environments=ENVIRONMENTS, since=SINCE, until=UNTIL)
    one = dataclasses.replace(
        stats,
        lead_time=LeadTime(commits=1, median_seconds=60.0, clamped=0),
        recovery_time=RecoveryTime(incidents=1, restored=1, median_seconds=120.0, clamped=0),
    )
    assert render_table(one).splitlines()[-2:] == [
        "lead time for changes, commit to live in production: median 1m 00s over 1 commit",
        "failed deployment recovery time, production: median 2m 00s over 1 of 1 incident restored",
    ]
