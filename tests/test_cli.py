"""The command line, end to end: real git repositories, the local journal, exact output.

Most tests use click's CliRunner (stdout and stderr apart); a few run ``python -m
commit_train`` for real.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from commit_train.backends.local.backend import LocalBackend
from commit_train.faces.cli.main import cli
from commit_train.models import DeployState
from tests.gitrepos import Repo, many_objects

# a clean environment: no token, no backend choice, a fixed actor
ENV = {
    "GITHUB_TOKEN": None,
    "GH_TOKEN": None,
    "COMMIT_TRAIN_BACKEND": None,
    "GITHUB_API_URL": None,
    "GITHUB_ACTOR": "carol",
    "NO_COLOR": None,
    "COLUMNS": None,  # output to a pipe keeps its fixed widths (faces/terminal.py)
}


def run(root: Path | None, *args: str, env: dict[str, str | None] | None = None) -> Result:
    prefix = ["-C", str(root)] if root is not None else []
    return CliRunner().invoke(
        cli, [*prefix, *args], env={**ENV, **(env or {})}, prog_name="commit-train"
    )


@pytest.fixture
def repo(tmp_path: Path) -> Repo:
    repo = Repo(tmp_path / "shop")
    repo.commit("Start the shop service")
    repo.commit("Add a health endpoint", author="bob")
    repo.commit("Add the checkout button")
    return repo


def sha(repo: Repo, ref: str = "HEAD") -> str:
    return repo.git("rev-parse", ref)


def record(repo: Repo, ref: str, **checks: str) -> None:
    for name, state in checks.items():
        assert run(repo.root, "record-check", ref, name, state).exit_code == 0


# -- status ------------------------------------------------------------------------------


def test_status_table(repo: Repo) -> None:
    head, middle, first = sha(repo), sha(repo, "HEAD~1"), sha(repo, "HEAD~2")
    record(repo, head, lint="success", test="success")
    record(repo, middle, lint="success", test="failure")
    record(repo, first, test="pending")
    assert run(repo.root, "deploy", "staging", head[:7]).exit_code == 0
    result = run(repo.root, "status")
    assert result.exit_code == 0, result.output
    assert result.stderr == ""
    assert result.stdout == (
        "shop: the 3 newest commits of main\n"
        "\n"
        "SHA      TITLE                    AUTHOR  CHECKS          LIVE IN\n"
        f"{head[:7]}  Add the checkout button  alice   success         staging (queued)\n"
        f"{middle[:7]}  Add a health endpoint    bob     failure (test)  -\n"
        f"{first[:7]}  Start the shop service   alice   pending (test)  -\n"
    )


def test_status_live_in_shows_one_entry_per_environment(repo: Repo) -> None:
    """Deploys of the same commit that wait (the local backend runs none of them) are
    counted, not listed one by one; ``--json`` keeps every one of them."""
    head, middle = sha(repo), sha(repo, "HEAD~1")
    record(repo, head, test="success")
    record(repo, middle, test="success")
    backend = LocalBackend(repo.root)
    live = json.loads(run(repo.root, "deploy", "staging", "HEAD", "--json").stdout)
    backend.add_status(live["deployment"]["id"], state=DeployState.SUCCESS)
    # deploying a commit already live or queued there is asked for on purpose (--again)
    for args in (["staging", "HEAD"], ["staging", "HEAD"], ["production", "HEAD"]):
        assert run(repo.root, "deploy", *args, "--again").exit_code == 0
    started = json.loads(run(repo.root, "deploy", "staging", middle, "--json").stdout)
    assert run(repo.root, "deploy", "staging", middle, "--again").exit_code == 0
    backend.add_status(started["deployment"]["id"], state=DeployState.IN_PROGRESS)
    result = run(repo.root, "status", "--limit", "2")
    assert result.exit_code == 0, result.output
    assert result.stdout == (
        "shop: the 2 newest commits of main\n"
        "\n"
        "SHA      TITLE                    AUTHOR  CHECKS   LIVE IN\n"
        f"{head[:7]}  Add the checkout button  alice   success  "
        "staging (live, 2 queued), production (queued)\n"
        f"{middle[:7]}  Add a health endpoint    bob     success  "
        "staging (in_progress, queued)\n"
    )
    doc = json.loads(run(repo.root, "status", "--limit", "1", "--json").stdout)
    [row] = doc["commits"]
    assert row["live_in"] == ["staging"]
    assert [(d["environment"], d["state"]) for d in row["in_flight"]] == [
        ("staging", "queued"),
        ("staging", "queued"),
        ("production", "queued"),
    ]


def test_status_live_and_limit(repo: Repo) -> None:
    record(repo, "HEAD", test="success")
    deployed = run(repo.root, "deploy", "production", "HEAD", "--json")
    deployment_id = json.loads(deployed.stdout)["deployment"]["id"]
    LocalBackend(repo.root).add_status(deployment_id, state=DeployState.SUCCESS)
    result = run(repo.root, "status", "--limit", "1")
    assert result.exit_code == 0
    lines = result.stdout.splitlines()
    assert lines[0] == "shop: the newest commit of main"
    assert lines[3].endswith("success  production")
    assert len(lines) == 4


def test_status_json(repo: Repo) -> None:
    record(repo, "HEAD", test="success")
    result = run(repo.root, "status", "--json", "--limit", "2")
    assert result.exit_code == 0
    doc = json.loads(result.stdout)
    assert doc["version"] == 1
    assert doc["repo"] == "shop"
    assert doc["default_branch"] == "main"
    assert doc["live"] == {}
    first = doc["commits"][0]
    assert set(first) == {
        "sha",
        "short_sha",
        "title",
        "author",
        "committed_at",
        "checks",
        "live_in",
        "in_flight",
    }
    assert first["sha"] == sha(repo)
    assert first["checks"] == {
        "state": "success",
        "checks": [
            {"name": "test", "kind": "status", "state": "success", "url": None, "description": None}
        ],
    }
    assert doc["commits"][1]["checks"] == {"state": "none", "checks": []}
    assert len(doc["commits"]) == 2


@pytest.mark.parametrize("limit", ["0", "51"])
def test_status_limit_out_of_range(repo: Repo, limit: str) -> None:
    result = run(repo.root, "status", "--limit", limit)
    assert result.exit_code == 2
    assert result.stdout == ""
    assert result.stderr == (
        f"error: the number of commits must be a whole number from 1 to 50, not {limit}; "
        "pass --limit 1 to 50\n"
    )


def test_outside_a_repository(tmp_path: Path) -> None:
    result = run(tmp_path, "status")
    assert result.exit_code == 1
    assert result.stderr == (
        f"error: {tmp_path} is not inside a git repository; "
        "run it from a checkout or pass -C PATH\n"
    )


def test_repo_with_local_backend_is_a_usage_error(repo: Repo) -> None:
    result = run(repo.root, "--repo", "acme/shop", "--backend", "local", "status")
    assert result.exit_code == 2
    assert result.stderr == (
        "error: --repo names a GitHub repository, but the local backend reads the checkout; "
        "drop --repo, or pass --backend github\n"
    )


def test_backend_from_environment_variable(repo: Repo) -> None:
    result = run(repo.root, "status", env={"COMMIT_TRAIN_BACKEND": "github"})
    assert result.exit_code == 2
    assert result.stderr == (
        "error: the github backend needs a repository, and origin is not a GitHub remote; "
        "pass --repo OWNER/NAME\n"
    )
    result = run(repo.root, "status", env={"COMMIT_TRAIN_BACKEND": "gitlab"})
    assert result.exit_code == 2
    assert "'gitlab' is not one of 'github', 'local'" in result.stderr


def test_github_origin_without_token_stays_local(repo: Repo) -> None:
    repo.git("remote", "add", "origin", "git@github.com:acme/shop.git")
    result = run(repo.root, "status", "--json")
    assert result.exit_code == 0
    assert json.loads(result.stdout)["repo"] == "acme/shop"
    # a forgotten token must not pass for a GitHub repository with no checks and no deploys
    assert result.stderr == (
        "note: no GitHub token, so this is the local journal, not acme/shop on GitHub; set "
        "GITHUB_TOKEN (or GH_TOKEN, or pass --token), or pass --backend local to keep it local\n"
    )
    chosen = run(repo.root, "--backend", "local", "status")
    assert (chosen.exit_code, chosen.stderr) == (0, "")


# -- deploy ------------------------------------------------------------------------------


def test_deploy(repo: Repo) -> None:
    head = sha(repo)
    record(repo, "HEAD", lint="success", test="success")
    result = run(repo.root, "deploy", "staging", head[:7])
    assert result.exit_code == 0, result.output
    assert result.stdout == (
        f"{head[:7]}  Add the checkout button  (alice)\n"
        f"{head[:7]} can be deployed to staging\n"
        f"created deployment 1: {head[:7]} to staging\n"
        f"queued: nothing runs deploys on the local backend; run "
        f"`commit-train apply staging {head[:7]}` to roll it out from this machine\n"
    )
    deployment = LocalBackend(repo.root).get_deployment(1)
    assert deployment.environment == "staging"
    assert deployment.state == DeployState.QUEUED
    assert deployment.payload["requested_by"] == "carol"
    assert deployment.payload["source"] == "cli"


def test_deploy_json(repo: Repo) -> None:
    record(repo, "HEAD", test="success")
    result = run(repo.root, "deploy", "production", "HEAD", "--json")
    assert result.exit_code == 0
    doc = json.loads(result.stdout)
    assert doc["version"] == 1
    assert doc["dry_run"] is False
    assert doc["environment"] == "production"
    assert doc["decision"] == {
        "allowed": True,
        "reason": "ok",
        "message": f"{sha(repo)[:7]} can be deployed to production",
    }
    assert doc["commit"]["sha"] == sha(repo)
    assert doc["deployment"]["id"] == 1
    assert doc["deployment"]["state"] == "queued"
    assert doc["deployment"]["finished"] is False
    assert [s["state"] for s in doc["deployment"]["statuses"]] == ["queued"]


def test_dry_run_writes_nothing(repo: Repo) -> None:
    record(repo, "HEAD", test="success")
    journal = repo.root / ".git" / "commit-train" / "journal.sqlite3"
    before = journal.read_bytes()
    result = run(repo.root, "deploy", "staging", "HEAD", "--dry-run")
    assert result.exit_code == 0
    assert result.stdout.splitlines()[-1] == (
        f"would deploy {sha(repo)[:7]} to staging (dry run: nothing was recorded)"
    )
    doc = json.loads(run(repo.root, "deploy", "staging", "HEAD", "--dry-run", "--json").stdout)
    assert doc["dry_run"] is True and doc["deployment"] is None
    assert journal.read_bytes() == before
    assert LocalBackend(repo.root).deployments() == []


def refusal(repo: Repo, *args: str) -> str:
    result = run(repo.root, "deploy", *args)
    assert result.exit_code == 1
    assert result.stdout == ""
    assert result.stderr.count("\n") == 1
    return result.stderr


def test_refused_unknown_environment(repo: Repo) -> None:
    assert refusal(repo, "prod", "HEAD") == (
        "error: unknown environment 'prod' (known: production, staging); use one of them, "
        "or add 'prod' under environments: in .commit-train.yml\n"
    )


def test_refused_off_the_default_branch(repo: Repo) -> None:
    repo.branch("topic")
    repo.switch("topic")
    off = repo.commit("Try a new layout")
    record(repo, off, test="success")
    assert refusal(repo, "staging", off[:10]) == (
        f"error: {off[:7]} is not on the default branch main; merge it first, "
        "only commits of main can be deployed\n"
    )


def test_refused_failing_checks(repo: Repo) -> None:
    record(repo, "HEAD", test="failure", lint="failure", build="success")
    assert refusal(repo, "staging", "HEAD") == (
        f"error: {sha(repo)[:7]} has failing checks: lint, test; "
        "fix them or deploy a green commit\n"
    )


def test_refused_pending_checks(repo: Repo) -> None:
    record(repo, "HEAD", build="pending", test="success")
    assert refusal(repo, "staging", "HEAD") == (
        f"error: {sha(repo)[:7]} has checks still running: build; wait for them to finish\n"
    )


def test_refused_no_checks(repo: Repo) -> None:
    assert refusal(repo, "staging", "HEAD") == (
        f"error: {sha(repo)[:7]} has no checks; let CI report on it first, "
        "or set checks.require-some: false in .commit-train.yml\n"
    )
    assert not (repo.root / ".git" / "commit-train").exists()


def test_refused_json_names_the_reason(repo: Repo) -> None:
    result = run(repo.root, "deploy", "staging", "HEAD", "--json")
    assert result.exit_code == 1
    assert json.loads(result.stdout) == {
        "version": 1,
        "environment": "staging",
        "ref": "HEAD",
        "dry_run": False,
        "decision": {
            "allowed": False,
            "reason": "no-checks",
            "message": f"{sha(repo)[:7]} has no checks; let CI report on it first, "
            "or set checks.require-some: false in .commit-train.yml",
        },
    }
    assert result.stderr.startswith("error: ")


def test_unknown_ref(repo: Repo) -> None:
    assert refusal(repo, "staging", "abcdef12") == (
        f"error: no commit abcdef12 in {repo.root.resolve()}; "
        "check the sha, or fetch it first (git fetch origin)\n"
    )


def test_ambiguous_short_sha(repo: Repo) -> None:
    many_objects(repo, 1200)
    commits: dict[str, list[str]] = {}
    for line in repo.git("rev-list", "--all").splitlines():
        commits.setdefault(line[:4], []).append(line)
    prefix, shared = next((p, s) for p, s in sorted(commits.items()) if len(s) > 1)
    shown = ", ".join(s[:12] for s in sorted(shared))
    assert refusal(repo, "staging", prefix) == (
        f"error: {prefix} is ambiguous: it matches {len(shared)} commits ({shown}); "
        "pass more characters of the sha\n"
    )


# -- history -----------------------------------------------------------------------------


def test_history_shows_results_and_unfinished(repo: Repo) -> None:
    record(repo, "HEAD", test="success")
    record(repo, "HEAD~1", test="success")
    backend = LocalBackend(repo.root)
    old = json.loads(run(repo.root, "deploy", "staging", "HEAD~1", "--json").stdout)
    backend.add_status(old["deployment"]["id"], state=DeployState.SUCCESS)
    run(repo.root, "deploy", "staging", "HEAD")
    result = run(repo.root, "history")
    assert result.exit_code == 0
    lines = result.stdout.splitlines()
    assert lines[0] == "staging"
    assert lines[1].split() == [
        "ID",
        "RESULT",
        "COMMIT",
        "TITLE",
        "BY",
        "STARTED",
        "(UTC)",
        "DURATION",
    ]
    assert lines[2].startswith(
        f"  2   queued, unfinished  {sha(repo)[:7]}  Add the checkout button"
    )
    assert lines[2].endswith("  -")
    assert lines[3].startswith(f"  1   success             {sha(repo, 'HEAD~1')[:7]}  Add a health")
    assert "  carol  " in lines[3]
    assert lines[5:] == ["production", "  no deploys yet"]

    doc = json.loads(run(repo.root, "history", "staging", "--json", "--limit", "1").stdout)
    assert doc["version"] == 1
    assert [e["name"] for e in doc["environments"]] == ["staging"]
    [entry] = doc["environments"][0]["deployments"]
    assert entry["id"] == 2
    assert entry["state"] == "queued"
    assert entry["finished"] is False
    assert entry["duration_seconds"] is None
    assert entry["title"] == "Add the checkout button"
    assert entry["requested_by"] == "carol"


def test_history_unknown_environment(repo: Repo) -> None:
    result = run(repo.root, "history", "qa")
    assert result.exit_code == 1
    assert result.stderr == (
        "error: unknown environment 'qa' (known: production, staging); use one of them, "
        "or add 'qa' under environments: in .commit-train.yml\n"
    )


def test_unexpected_error_is_one_line(repo: Repo) -> None:
    record(repo, "HEAD", test="success")
    run(repo.root, "deploy", "staging", "HEAD")
    journal = repo.root / ".git" / "commit-train" / "journal.sqlite3"
    with sqlite3.connect(journal) as conn:
        conn.execute("UPDATE deployments SET payload = 'not json'")
    result = run(repo.root, "history")
    assert result.exit_code == 1
    assert result.stderr.startswith("error: unexpected JSONDecodeError: ")
    assert result.stderr.endswith("; rerun with --debug for the traceback and report it\n")
    assert result.stderr.count("\n") == 1
    debug = run(repo.root, "--debug", "history")
    assert debug.exit_code == 1
    assert isinstance(debug.exception, json.JSONDecodeError)


# -- record-check ------------------------------------------------------------------------


def test_record_check(repo: Repo) -> None:
    result = run(repo.root, "record-check", "HEAD", "test", "failure", "--url", "https://ci/1")
    assert result.exit_code == 0
    assert result.stdout == f"recorded test failure on {sha(repo)[:7]} Add the checkout button\n"
    [check] = LocalBackend(repo.root).checks(sha(repo)).checks
    assert check.url == "https://ci/1"


def test_record_check_bad_state(repo: Repo) -> None:
    result = run(repo.root, "record-check", "HEAD", "test", "green")
    assert result.exit_code == 2
    assert "'green' is not one of 'success', 'failure', 'pending'" in result.stderr


# -- help and docs -----------------------------------------------------------------------

COMMANDS = [
    "action",
    "status",
    "deploy",
    "history",
    "help",
    "record-check",
    "demo",
    "sync",
    "stats",
    "render",
    "apply",
    "rollback",
    "lock",
    "unlock",
    "locks",
    "stale",
    "serve",
    "init",
    "completion",
    "sweep",
]


def test_every_command_is_listed_and_has_help() -> None:
    assert sorted(cli.list_commands(None)) == sorted(COMMANDS)  # type: ignore[arg-type]
    for name in COMMANDS:
        result = run(None, name, "--help")
        assert result.exit_code == 0, name
        assert result.stdout.startswith(f"Usage: commit-train {name} ")


def test_help_command_adds_examples() -> None:
    plain = run(None, "--help")
    assert plain.exit_code == 0
    assert "Examples:" not in plain.stdout
    helped = run(None, "help")
    assert helped.exit_code == 0
    assert helped.stdout.startswith(plain.stdout)
    assert "commit-train deploy staging 1a2b3c4" in helped.stdout
    sub = run(None, "help", "deploy")
    assert sub.stdout == run(None, "deploy", "--help").stdout
    bad = run(None, "help", "shipit")
    assert bad.exit_code == 2
    assert bad.stderr == (
        f"error: no command 'shipit' (commands: {', '.join(sorted(COMMANDS))}); "
        "see commit-train help\n"
    )


def test_every_command_is_documented() -> None:
    text = (Path(__file__).resolve().parents[1] / "docs" / "cli.md").read_text()
    for name in COMMANDS:
        assert f"## `commit-train {name}" in text, name
    for option in [
        "--repo",
        "--token",
        "--backend",
        "-C",
        "--json",
        "--dry-run",
        "--limit",
        "--dir",
        "-R",
        "--force",
    ]:
        assert f"`{option}" in text, option
    for variable in ["GITHUB_TOKEN", "GH_TOKEN", "COMMIT_TRAIN_BACKEND", "NO_COLOR"]:
        assert variable in text


# -- real processes ----------------------------------------------------------------------


def _subprocess_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ENV}
    env.update({"GITHUB_ACTOR": "carol", **extra})
    return env


def test_python_dash_m_works_the_same(repo: Repo) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "commit_train", "-C", str(repo.root), "status", "--limit", "51"],
        capture_output=True,
        text=True,
        env=_subprocess_env(),
    )
    assert done.returncode == 2
    assert done.stderr == (
        "error: the number of commits must be a whole number from 1 to 50, not 51; "
        "pass --limit 1 to 50\n"
    )
    done = subprocess.run(
        [sys.executable, "-m", "commit_train", "status", "--limit", "2"],
        capture_output=True,
        text=True,
        cwd=repo.root,
        env=_subprocess_env(),
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[0] == "shop: the 2 newest commits of main"
    assert "\x1b[" not in done.stdout  # not a terminal: no colour


def test_colour_only_on_a_terminal_and_never_with_no_color(repo: Repo) -> None:
    pty = pytest.importorskip("pty")
    record(repo, "HEAD", test="success")

    def on_terminal(**extra: str) -> str:
        main, secondary = pty.openpty()
        with subprocess.Popen(
            [sys.executable, "-m", "commit_train", "-C", str(repo.root), "status"],
            stdout=secondary,
            stderr=subprocess.PIPE,
            env=_subprocess_env(**extra),
        ) as proc:
            os.close(secondary)
            chunks = []
            while True:
                try:
                    chunk = os.read(main, 4096)
                except OSError:
                    break
                if not chunk:
                    break
                chunks.append(chunk)
            proc.wait()
        os.close(main)
        return b"".join(chunks).decode()

    coloured = on_terminal()
    assert "\x1b[32msuccess\x1b[0m" in coloured
    plain = on_terminal(NO_COLOR="1")
    assert "\x1b[" not in plain
    assert "success" in plain


# -- against the GitHub emulator ---------------------------------------------------------


@pytest.fixture
def shop(github_emulator, tmp_path: Path):
    """acme/shop on the emulator: three commits (the middle one red), and a folder holding
    the config (no checkout needed with --repo)."""
    emu = github_emulator
    gh = emu.create_repo("acme/shop", default_branch="main")
    shas = [
        gh.commit("Start the shop service"),
        gh.commit("Speed up product search", author="bob"),
        gh.commit("Add the checkout button"),
    ]
    for sha in shas:
        gh.add_check_run(sha, name="lint")
    gh.add_check_run(shas[1], name="test", conclusion="failure")
    gh.add_check_run(shas[2], name="test")
    gh.add_check_run(shas[2], name="deploy", status="in_progress", conclusion=None)
    (tmp_path / ".commit-train.yml").write_text(
        "checks:\n  ignore: [deploy]\nenvironments:\n  staging: {}\n  production:\n"
        "    production: true\n"
    )
    env = {"GITHUB_API_URL": emu.base_url, "GITHUB_TOKEN": emu.token}
    return emu, gh, shas, tmp_path, env


def gh_run(shop, *args: str) -> Result:
    _emu, _gh, _shas, folder, env = shop
    return run(folder, "--repo", "acme/shop", *args, env=env)


def test_github_status(shop) -> None:
    emu, gh, shas, _folder, _env = shop
    gh.add_deployment(shas[0], environment="production", statuses=["success"])
    emu.reset_requests()
    result = gh_run(shop, "status", "--limit", "50")
    assert result.exit_code == 0, result.output
    assert emu.request_count <= 2
    assert result.stdout.splitlines()[:3] == [
        "acme/shop: the 3 newest commits of main",
        "",
        "SHA      TITLE                    AUTHOR  CHECKS          LIVE IN",
    ]
    rows = [line.split("  ") for line in result.stdout.splitlines()[3:]]
    assert [r[0] for r in rows] == [s[:7] for s in reversed(shas)]
    assert "failure (test)" in result.stdout.splitlines()[4]
    assert result.stdout.splitlines()[5].endswith("production")
    doc = json.loads(gh_run(shop, "status", "--json").stdout)
    assert [c["sha"] for c in doc["commits"]] == list(reversed(shas))
    # the deploy workflow's own check is left out
    assert sorted(c["name"] for c in doc["commits"][0]["checks"]["checks"]) == ["lint", "test"]
    assert doc["live"]["production"]["sha"] == shas[0]


def test_github_status_of_fifty_commits_costs_at_most_two_requests(shop) -> None:
    """The budget, through the CLI: 60 commits, each with statuses and check runs (one re-run),
    deployments in both environments; `status --limit 50` reads it all in at most 2 requests."""
    emu, gh, _shas, _folder, _env = shop
    more = [gh.commit(f"Change {i}", author="bob" if i % 2 else "alice") for i in range(57)]
    for i, sha in enumerate(more):
        gh.add_check_run(sha, name="lint")
        gh.add_check_run(sha, name="test", conclusion="failure" if i == 20 else "success")
        gh.add_status(sha, context="ci/coverage", state="success")
    gh.add_check_run(more[20], name="test")  # the re-run passed
    gh.add_deployment(more[15], environment="production", statuses=["success"])
    gh.add_deployment(more[40], environment="staging", statuses=["success"])
    gh.add_deployment(more[50], environment="staging", statuses=["in_progress"])
    emu.reset_requests()

    doc = json.loads(gh_run(shop, "status", "--limit", "50", "--json").stdout)

    assert emu.request_count <= 2
    commits = doc["commits"]
    assert len(commits) == 50
    assert commits[0]["sha"] == more[-1]
    by_sha = {c["sha"]: c for c in commits}
    assert by_sha[more[20]]["checks"]["state"] == "success"  # newest attempt counts
    assert by_sha[more[15]]["live_in"] == ["production"]
    assert by_sha[more[40]]["live_in"] == ["staging"]
    assert [d["environment"] for d in by_sha[more[50]]["in_flight"]] == ["staging"]
    assert all(c["checks"]["state"] == "success" for c in commits)


def test_github_deploy_and_history(shop) -> None:
    emu, gh, shas, _folder, _env = shop
    result = gh_run(shop, "deploy", "staging", shas[2][:7])
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[-1] == (
        f"follow it at {emu.base_url.removesuffix('/api/v3')}/acme/shop/deployments"
    )
    [stored] = gh.deployments
    assert stored["sha"] == shas[2]
    assert stored["environment"] == "staging"
    # the token's login (alice), never GITHUB_ACTOR (carol) or git's user.name
    assert stored["payload"]["requested_by"] == "alice"
    assert stored["payload"]["commit_train"] == 1
    assert [s["state"] for s in gh.deployment_statuses(stored["id"])] == ["queued"]

    refused = gh_run(shop, "deploy", "staging", shas[1])
    assert refused.exit_code == 1
    assert refused.stderr == (
        f"error: {shas[1][:7]} has failing checks: test; fix them or deploy a green commit\n"
    )
    dry = gh_run(shop, "deploy", "production", shas[2], "--dry-run")
    assert dry.exit_code == 0
    assert len(gh.deployments) == 1

    history = gh_run(shop, "history", "staging", "--json")
    assert history.exit_code == 0, history.output
    [entry] = json.loads(history.stdout)["environments"][0]["deployments"]
    assert entry["id"] == stored["id"]
    assert entry["state"] == "queued"
    assert entry["finished"] is False
    assert entry["title"] == "Add the checkout button"


def test_github_record_check_is_a_usage_error(shop) -> None:
    result = gh_run(shop, "record-check", "HEAD", "test", "success")
    assert result.exit_code == 2
    assert result.stderr == (
        "error: record-check works only with the local backend; on GitHub your CI reports "
        "checks; pass --backend local\n"
    )


def test_github_bad_token(shop) -> None:
    _emu, _gh, _shas, folder, env = shop
    result = run(folder, "--repo", "acme/shop", "status", env={**env, "GITHUB_TOKEN": "nope"})
    assert result.exit_code == 1
    assert result.stderr.startswith("error: ")
    assert result.stderr.count("\n") == 1


def test_github_chosen_from_origin_and_token(shop, tmp_path: Path) -> None:
    emu, _gh, _shas, _folder, env = shop
    checkout = Repo(tmp_path / "checkout")
    checkout.commit("local only")
    host = emu.base_url.split("//")[1].split(":")[0]
    checkout.git("remote", "add", "origin", f"https://{host}/acme/shop.git")
    result = run(checkout.root, "status", "--json", env=env)
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["repo"] == "acme/shop"
    assert len(doc["commits"]) == 3  # GitHub's commits, not the checkout's


def test_hostile_titles_reach_the_terminal_escaped_and_json_exact(tmp_path: Path) -> None:
    """A commit title is anyone's text: on a terminal its controls (OSC title, clear screen,
    carriage return) and bidi overrides show as escapes; ``--json`` keeps it byte for byte;
    a CJK title keeps the columns aligned."""
    repo = Repo(tmp_path / "shop")
    repo.commit("Start the shop service")
    hostile = "\x1b]0;owned\x07Fix\x1b[2J the\rcart \u202etxt.exe"
    repo.commit(hostile)
    repo.commit("日本語のタイトル", author="bob")
    table = run(repo.root, "status")
    assert table.exit_code == 0, table.output
    assert "\x1b" not in table.stdout and "\r" not in table.stdout and "\u202e" not in table.stdout
    # (a carriage return is whitespace: the title cell is one line, so it became a space)
    assert "\\x1b]0;owned\\x07Fix\\x1b[2J the cart \\u202etxt.exe" in table.stdout
    rows = table.stdout.splitlines()[3:]
    author_columns = {len(row.split("alice")[0]) if "alice" in row else None for row in rows}
    cjk = next(row for row in rows if "日本語" in row)
    plain = next(row for row in rows if "Start the shop" in row)
    from commit_train.core.text import width

    assert width(cjk.split("bob")[0]) == width(plain.split("alice")[0]), author_columns
    data = json.loads(run(repo.root, "status", "--json").stdout)
    assert [c["title"] for c in data["commits"]][1] == hostile
