from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from commit_train.faces.cli.main import cli
from commit_train.faces.demo import STATS_SINCE, STATS_UNTIL, run_demo
from commit_train.faces.tables import render_history, render_status
from commit_train.gitrepo import GitRepo
from commit_train.models import DeployState

ENV = {
    "GITHUB_TOKEN": None,
    "GH_TOKEN": None,
    "COMMIT_TRAIN_BACKEND": None,
    "NO_COLOR": None,
    "COLUMNS": None,
}


def test_demo_runs_the_whole_job(tmp_path: Path) -> None:
    result = run_demo(tmp_path / "demo")
    shas = [c.commit.sha for c in result.status.commits]  # newest first
    titles = [c.commit.title for c in result.status.commits]
    assert titles == [
        "Fix the footer typo",
        "Speed up product search",
        "Add the checkout button",
        "Add the cart",
        "Fix the cache key",
    ]
    assert [c.commit.author for c in result.status.commits] == [
        "alice",
        "bob",
        "alice",
        "alice",
        "bob",
    ]
    assert [c.checks.state.value for c in result.status.commits] == [
        "success",
        "failure",
        "success",
        "success",
        "success",
    ]
    assert [c.live_in for c in result.status.commits] == [
        ("staging",),
        (),
        ("production",),
        (),
        (),
    ]
    refused = [s for s in result.steps if s.command.startswith("commit-train deploy") and not s.ok]
    assert [s.outcome for s in refused] == [
        f"created deployment 8: {result.history.environments[1].entries[2].deployment.sha[:7]} "
        "to production; the pipeline: in_progress, then failure",
        f"created deployment 12: {shas[2][:7]} to staging; the pipeline: in_progress, then failure",
        f"refused (checks-failing): {shas[1][:7]} has failing checks: test; "
        "fix them or deploy a green commit",
    ]
    staging, production = result.history.environments
    assert [(e.deployment.id, e.result) for e in staging.entries] == [
        (15, DeployState.SUCCESS),
        (13, DeployState.INACTIVE),
        (12, DeployState.FAILURE),
    ]
    assert [(e.deployment.id, e.result) for e in production.entries] == [
        (14, DeployState.SUCCESS),
        (10, DeployState.SUCCESS),
        (8, DeployState.FAILURE),
    ]
    statuses = [s.state for s in production.entries[0].deployment.statuses]
    assert statuses == [DeployState.QUEUED, DeployState.IN_PROGRESS, DeployState.SUCCESS]
    assert production.entries[0].duration_seconds == 90.0


def test_stats_and_its_chart_can_be_tried_on_the_demo(tmp_path: Path) -> None:
    root = run_demo(tmp_path / "shop").root
    chart = tmp_path / "deploys.svg"
    until = f"{STATS_UNTIL:%Y-%m-%dT%H:%M:%SZ}"
    args = ["-C", str(root), "stats", "--since", STATS_SINCE, "--until", until]
    shown = CliRunner().invoke(cli, [*args, "--chart", str(chart)], env=ENV)
    assert shown.exit_code == 0, shown.output
    assert shown.stdout.endswith(f"chart written to {chart}\n")
    assert chart.read_text().count("<svg ") == 1
    document = json.loads(CliRunner().invoke(cli, [*args, "--json"], env=ENV).stdout)
    environments = {e["name"]: e for e in document["environments"]}
    assert (environments["staging"]["deploys"], environments["staging"]["failed"]) == (10, 1)
    assert (environments["production"]["deploys"], environments["production"]["failed"]) == (5, 1)
    # two working weeks: deploys on seven days, a bar for each in the chart
    days = [sum(day) for day in zip(*(e["per_day"] for e in environments.values()), strict=True)]
    assert sum(1 for deploys in days if deploys) == 7
    assert chart.read_text().count("<title>") >= 7


def test_demo_is_deterministic(tmp_path: Path) -> None:
    one = run_demo(tmp_path / "one")
    two = run_demo(tmp_path / "two")
    assert one.status.commits == two.status.commits
    assert GitRepo(one.root).resolve("HEAD").sha == GitRepo(two.root).resolve("HEAD").sha


def test_demo_command(tmp_path: Path) -> None:
    target = tmp_path / "scratch"
    # no git identity anywhere: the demo must not need one
    env = {
        **ENV,
        "GIT_CONFIG_GLOBAL": "/dev/null",
        "GIT_CONFIG_NOSYSTEM": "1",
        "HOME": str(tmp_path),
    }
    result = CliRunner().invoke(
        cli, ["demo", "--dir", str(target)], env=env, prog_name="commit-train"
    )
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert out.startswith(f"$ git init {target.resolve()}\n")
    assert "$ commit-train status\nscratch: the 5 newest commits of main\n" in out
    assert "failure (test)" in out
    assert "✗ refused (checks-failing): " in out
    assert "\n$ commit-train history --limit 3\nstaging\n" in out
    assert out.endswith(
        f"The scratch repository is {target.resolve()}; try:\n"
        f"  commit-train -C {target.resolve()} status\n"
        f"  commit-train -C {target.resolve()} render staging\n"
        f"  commit-train -C {target.resolve()} stale --dry-run\n"
        f"  commit-train -C {target.resolve()} stats --since 14d --until 2025-03-14T00:00:00Z "
        f"--chart {target.resolve() / 'deploys.svg'}\n"
    )
    # the scratch repository is a real one the other commands read
    again = CliRunner().invoke(cli, ["-C", str(target), "history", "production"], env=env)
    assert again.exit_code == 0
    assert again.stdout.splitlines()[2].split()[:2] == ["14", "success"]


def test_two_runs_print_the_same(tmp_path: Path) -> None:
    """Fixed dates, identities and clock: the same shas and tables on every run (the scratch
    folder's name aside)."""
    printed = []
    for name in ("one", "two"):
        target = tmp_path / name / "shop"
        done = CliRunner().invoke(cli, ["demo", "--dir", str(target)], env=ENV)
        assert done.exit_code == 0, done.output
        printed.append(done.stdout.replace(str(target.resolve()), "SCRATCH"))
    assert printed[0] == printed[1]
    assert "$ commit-train deploy production " in printed[0]


def test_demo_refuses_a_folder_in_use(tmp_path: Path) -> None:
    (tmp_path / "keep.txt").write_text("mine")
    result = CliRunner().invoke(cli, ["demo", "--dir", str(tmp_path)], env=ENV)
    assert result.exit_code == 2
    assert result.stderr == (
        f"error: {tmp_path} is not an empty folder; pass --dir with a new or empty folder\n"
    )
    assert [p.name for p in tmp_path.iterdir()] == ["keep.txt"]


ROOT = Path(__file__).resolve().parents[1]
PROGRAM = Path(sys.executable).with_name("commit-train")


def test_the_readme_shows_what_the_demo_prints(tmp_path: Path) -> None:
    """README's two tables are the demo's, character for character (its folder is "shop")."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    shown = re.search(
        r"\$ commit-train status\n(.*?)\n\n\$ commit-train history --limit 3\n(.*?)\n```",
        readme,
        re.S,
    )
    assert shown is not None, "README lost the demo's output"
    result = run_demo(tmp_path / "shop")
    assert shown.group(1) == render_status(result.status, colour=False)
    assert shown.group(2) == render_history(result.history, colour=False)


def test_render_and_stale_can_be_tried_on_the_demo(tmp_path: Path) -> None:
    root = run_demo(tmp_path / "shop").root
    env = {**ENV, "GITHUB_ACTOR": "alice"}
    rendered = CliRunner().invoke(cli, ["-C", str(root), "render", "staging"], env=env)
    assert rendered.exit_code == 0, rendered.output
    head = GitRepo(root).resolve("HEAD").sha
    assert f"image: ghcr.io/acme/shop:{head}" in rendered.stdout
    assert "kind: Service" in rendered.stdout
    stale = CliRunner().invoke(cli, ["-C", str(root), "stale", "--dry-run", "--json"], env=env)
    assert stale.exit_code == 0, stale.output
    production = {e["environment"]: e for e in json.loads(stale.stdout)["environments"]}[
        "production"
    ]
    titles = [c["title"] for c in production["stale"]]
    assert "Fix the footer typo" in titles  # live in staging only, a year and more ago


def test_the_hint_of_make_demo_works_in_a_new_shell(tmp_path: Path) -> None:
    """``make demo`` runs .venv/bin/commit-train, which a new shell's PATH does not have: each
    command the hint prints must work pasted there, as printed."""
    bash = shutil.which("bash")
    if bash is None or not PROGRAM.exists():
        pytest.skip("needs bash and the installed commit-train script")
    fresh = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "GIT_CONFIG_NOSYSTEM": "1"}
    done = subprocess.run(
        [str(PROGRAM), "demo", "--dir", str(tmp_path / "shop")],
        capture_output=True,
        text=True,
        env=fresh,
    )
    assert done.returncode == 0, done.stderr
    hint = done.stdout.split("The scratch repository is ", 1)[1].splitlines()
    commands = [line.strip() for line in hint[1:] if line.startswith("  ")]
    assert len(commands) == 4
    assert commands[0] == f"{PROGRAM} -C {tmp_path / 'shop'} status"
    assert hint[-1].startswith("To type just commit-train, install it: pipx install commit-train")
    for command in commands:
        pasted = subprocess.run(
            [bash, "--norc", "--noprofile", "-c", command],
            capture_output=True,
            text=True,
            env={**fresh, "NO_COLOR": "1"},
            cwd=tmp_path,
        )
        assert pasted.returncode == 0, (command, pasted.stderr)
        assert "command not found" not in pasted.stderr
    assert (tmp_path / "shop" / "deploys.svg").read_text().count("<svg ") == 1
    assert os.access(PROGRAM, os.X_OK)


def test_the_readme_starts_with_the_demo_and_tells_how_to_install() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    first = readme.split("```sh\n", 1)[1].split("```", 1)[0].splitlines()
    assert [line.split("#")[0].strip() for line in first] == ["make demo", "make test"]
    for line in (
        "pipx install commit-train",
        "uv tool install commit-train",
        "pipx install .",
        "uv tool install .",
    ):
        assert line in readme, line
