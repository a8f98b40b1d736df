from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from commit_train.faces.cli.main import cli
from commit_train.faces.demo import run_demo
from commit_train.gitrepo import GitRepo
from commit_train.models import DeployState

ENV = {"GITHUB_TOKEN": None, "GH_TOKEN": None, "COMMIT_TRAIN_BACKEND": None, "NO_COLOR": None}


def test_demo_runs_the_whole_job(tmp_path: Path) -> None:
    result = run_demo(tmp_path / "demo")
    shas = [c.commit.sha for c in result.status.commits]  # newest first
    titles = [c.commit.title for c in result.status.commits]
    assert titles == [
        "Fix the footer typo",
        "Speed up product search",
        "Add the checkout button",
        "Add a health endpoint",
        "Start the shop service",
    ]
    assert [c.commit.author for c in result.status.commits] == [
        "alice",
        "bob",
        "alice",
        "bob",
        "alice",
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
        f"refused (checks-failing): {shas[1][:7]} has failing checks: test; "
        "fix them or deploy a green commit"
    ]
    staging, production = result.history.environments
    assert [(e.deployment.id, e.result) for e in staging.entries] == [
        (3, DeployState.SUCCESS),
        (1, DeployState.INACTIVE),
    ]
    assert [(e.deployment.id, e.result) for e in production.entries] == [(2, DeployState.SUCCESS)]
    statuses = [s.state for s in production.entries[0].deployment.statuses]
    assert statuses == [DeployState.QUEUED, DeployState.IN_PROGRESS, DeployState.SUCCESS]
    assert production.entries[0].duration_seconds == 90.0


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
    assert "\n$ commit-train history\nstaging\n" in out
    assert out.endswith(f"try: commit-train -C {target.resolve()} status\n")
    # the scratch repository is a real one the other commands read
    again = CliRunner().invoke(cli, ["-C", str(target), "history", "production"], env=env)
    assert again.exit_code == 0
    assert again.stdout.splitlines()[2].split()[:2] == ["2", "success"]


def test_demo_refuses_a_folder_in_use(tmp_path: Path) -> None:
    (tmp_path / "keep.txt").write_text("mine")
    result = CliRunner().invoke(cli, ["demo", "--dir", str(tmp_path)], env=ENV)
    assert result.exit_code == 2
    assert result.stderr == (
        f"error: {tmp_path} is not an empty folder; pass --dir with a new or empty folder\n"
    )
    assert [p.name for p in tmp_path.iterdir()] == ["keep.txt"]
