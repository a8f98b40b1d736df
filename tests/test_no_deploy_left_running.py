"""No deploy is left ``in_progress``: a stopped run records its stop, a killed one is closed
by the next deploy, by ``commit-train sweep`` and by the scheduled run, and nobody waits on
GitHub in silence.

The real ``commit-train apply`` runs as a subprocess (signals reach it as they would from a
terminal, a supervisor or the runner) against the Kubernetes emulator, whose controller is
left manual so the rollout never finishes, and the GitHub emulator or the local journal.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from commit_train.backends.local.backend import LocalBackend
from commit_train.faces.cli.main import cli
from tests import actions_events, kube_fixtures
from tests.emulators.github import GitHubEmulator
from tests.emulators.kube import KubeEmulator
from tests.test_actions_cmd import SECRET, Runner, read_outputs
from tests.test_deploy_e2e import Shop, deploy_ok, make_shop, mirror

kube = kube_fixtures.kube


def until(condition: Callable[[], Any], what: str, *, seconds: float = 60) -> Any:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        found = condition()
        if found:
            return found
        time.sleep(0.02)
    raise AssertionError(f"never happened: {what}")


def start_apply(shop: Shop, *options: str, env: dict[str, str] | None = None) -> Any:
    """``commit-train [options] apply staging`` in its own process."""
    base = {
        k: v
        for k, v in os.environ.items()
        if k not in ("GITHUB_TOKEN", "GH_TOKEN", "COMMIT_TRAIN_BACKEND", "GITHUB_API_URL")
    }
    wanted = {**shop.env, **(env or {})}
    full = {**base, **{k: v for k, v in wanted.items() if v is not None}}
    return subprocess.Popen(
        [sys.executable, "-m", "commit_train", "-C", str(shop.root), *options, "apply", "staging"],
        env=full,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def watches(kube: KubeEmulator) -> int:
    return sum(1 for r in kube.requests if r.path.endswith("/deployments") and "watch" in r.params)


def gh_states(gh: Any, deployment_id: int) -> list[tuple[str, str]]:
    return [(s["state"], s["description"]) for s in gh.deployment_statuses(deployment_id)]


def waiting_on_github(gh: Any, kube: KubeEmulator, watched: int) -> int:
    """The id of the newest deployment once it is in progress and its run watches."""

    def check() -> int | None:
        deployments = gh.deployments
        if not deployments or watches(kube) <= watched:
            return None
        newest = deployments[-1]
        states = [s for s, _ in gh_states(gh, newest["id"])]
        return int(newest["id"]) if states and states[-1] == "in_progress" else None

    return int(until(check, "a deploy waiting for its rollout"))


def github_shop(
    tmp_path: Path, kube: KubeEmulator, emu: GitHubEmulator
) -> tuple[Shop, Any, dict[str, str]]:
    shop = make_shop(tmp_path, kube)
    sha = shop.commit("Never rolls out")
    gh = mirror(shop.repo, emu)
    gh.add_check_run(sha, name="test")
    env = {"GITHUB_API_URL": emu.base_url, "GITHUB_TOKEN": emu.token}
    return shop, gh, env


def test_sigterm_and_sighup_during_the_wait_record_error_and_exit(
    tmp_path: Path, kube: KubeEmulator, github_emulator: GitHubEmulator
) -> None:
    shop, gh, env = github_shop(tmp_path, kube, github_emulator)
    for number, name in ((signal.SIGTERM, "SIGTERM"), (signal.SIGHUP, "SIGHUP")):
        watched = watches(kube)
        process = start_apply(shop, "--repo", "acme/shop", env=env)
        try:
            deployment_id = waiting_on_github(gh, kube, watched)
            process.send_signal(number)
            _out, err = process.communicate(timeout=30)
        finally:
            process.kill()
        assert process.returncode == 128 + number
        assert err == f"error: stopped by {name}\n"
        assert gh_states(gh, deployment_id)[-1] == ("error", f"stopped by {name}")


def test_a_killed_deploy_is_swept_and_a_live_one_is_left_alone(
    tmp_path: Path, kube: KubeEmulator, github_emulator: GitHubEmulator
) -> None:
    """SIGKILL writes nothing; an hour later (the emulator's clock stamped the dead run's
    statuses an hour ago) ``sweep`` closes it, and leaves the deploy that is waiting right
    now, younger than ``abandon-after`` (3 x 30 s here), in progress."""
    shop, gh, env = github_shop(tmp_path, kube, github_emulator)
    live = start_apply(shop, "--repo", "acme/shop", env=env)
    try:
        live_id = waiting_on_github(gh, kube, 0)
        an_hour_ago = datetime.now(UTC) - timedelta(hours=1)
        github_emulator.clock = lambda: datetime.now(UTC) - timedelta(hours=1)
        dead = start_apply(shop, "--repo", "acme/shop", env=env)
        try:
            dead_id = waiting_on_github(gh, kube, watches(kube))
        finally:
            dead.kill()  # SIGKILL
            dead.communicate(timeout=30)
        github_emulator.clock = lambda: datetime.now(UTC)
        assert gh_states(gh, dead_id)[-1][0] == "in_progress"

        run = [
            "-C",
            str(shop.root),
            "--repo",
            "acme/shop",
        ]
        looked = CliRunner().invoke(cli, [*run, "sweep", "--dry-run", "--json"], env=env)
        assert looked.exit_code == 0, looked.output
        [found] = json.loads(looked.stdout)["abandoned"]
        assert (found["id"], found["closed"]) == (dead_id, False)
        assert gh_states(gh, dead_id)[-1][0] == "in_progress"

        swept = CliRunner().invoke(cli, [*run, "sweep", "staging"], env=env)
        assert swept.exit_code == 0, swept.output
        since = datetime.fromisoformat(found["last_progress"])
        assert abs((since - an_hour_ago).total_seconds()) < 60
        line = f"abandoned: no progress since {since:%Y-%m-%d %H:%M:%S} UTC"
        assert gh_states(gh, dead_id)[-1] == ("error", line)
        assert swept.stdout.splitlines()[0].startswith(f"closed deployment {dead_id} (")
        assert swept.stdout.splitlines()[0].endswith(f"): {line}")
        assert gh_states(gh, live_id)[-1][0] == "in_progress"  # alive: left alone

        again = CliRunner().invoke(cli, [*run, "sweep", "--json"], env=env)
        assert json.loads(again.stdout)["abandoned"] == []
    finally:
        live.send_signal(signal.SIGTERM)
        live.communicate(timeout=30)
    assert gh_states(gh, live_id)[-1] == ("error", "stopped by SIGTERM")


LOCAL_LIMIT = "  rollout-timeout: 30s\n  abandon-after: 1s\n"


def test_on_the_local_journal_the_next_deploy_closes_a_killed_one(
    tmp_path: Path, kube: KubeEmulator
) -> None:
    shop = make_shop(tmp_path, kube)
    config = (shop.root / ".commit-train.yml").read_text()
    (shop.root / ".commit-train.yml").write_text(
        config.replace("  rollout-timeout: 30s\n", LOCAL_LIMIT)
    )
    shop.commit("Never rolls out")

    def newest_in_progress() -> int | None:
        found = LocalBackend(shop.root).deployments(environment="staging", limit=5)
        if found and found[0].state.value == "in_progress" and watches(kube) > 0:
            return found[0].id
        return None

    dead = start_apply(shop)
    try:
        dead_id = int(until(newest_in_progress, "the local deploy waiting"))
    finally:
        dead.kill()
        dead.communicate(timeout=30)
    time.sleep(1.2)  # past abandon-after

    looked = shop.run("sweep", "--dry-run", "--json")
    assert looked.exit_code == 0, looked.output
    assert [d["id"] for d in json.loads(looked.stdout)["abandoned"]] == [dead_id]

    deploy_ok(shop)  # the next deploy to staging
    dead_one = LocalBackend(shop.root).get_deployment(dead_id)
    assert dead_one.state.value == "error"
    since = dead_one.statuses[-2].created_at
    assert dead_one.statuses[-1].description == (
        f"abandoned: no progress since {since:%Y-%m-%d %H:%M:%S} UTC"
    )
    assert json.loads(shop.run("sweep", "--json").stdout)["abandoned"] == []


def test_the_scheduled_run_closes_abandoned_deploys_of_its_environment(
    github_emulator: GitHubEmulator, tmp_path: Path
) -> None:
    repo = github_emulator.create_repo("acme/shop", default_branch="main")
    now = datetime.now(UTC)
    sha = repo.commit("Live one", when=now - timedelta(days=1))
    payload = {"commit_train": 1, "requested_by": "alice"}
    dead_id = repo.add_deployment(
        sha,
        environment="staging",
        payload=payload,
        statuses=["queued", "in_progress"],
        created_at=now - timedelta(hours=2),
    )
    runner = Runner(tmp_path, github_emulator, "schedule", actions_events.schedule())
    done = runner.run("stale-commit-notifier", environment="staging", token=github_emulator.token)
    assert done.code == 0, done.stdout + done.stderr
    assert json.loads(done.outputs["result"])["abandoned"] == [dead_id]
    state, description = gh_states(repo, dead_id)[-1]
    assert state == "error" and description.startswith("abandoned: no progress since ")
    assert f"- deployment {dead_id} (`{sha[:7]}`): abandoned: no progress since" in done.summary


@pytest.fixture
def action_shop(github_emulator: GitHubEmulator) -> tuple[GitHubEmulator, Any, str]:
    """``acme/shop`` with a green commit, as the action tests have it."""
    repo = github_emulator.create_repo("acme/shop", default_branch="main")
    repo.commit("Initial commit")
    sha = repo.commit("Add the checkout page")
    repo.add_check_run(sha, name="test")
    return github_emulator, repo, sha


def start_step(runner: Runner, name: str, **inputs: str) -> tuple[Any, Path]:
    """``Runner.run``, but started and left running: (the process, its GITHUB_ENV file)."""
    runner.steps += 1
    files = {k: runner.tmp / f"{k.lower()}-{runner.steps}" for k in ("OUTPUT", "SUMMARY", "ENV")}
    for path in files.values():
        path.write_text("")
    env = {
        **runner.base,
        **runner.job_env,
        "GITHUB_OUTPUT": str(files["OUTPUT"]),
        "GITHUB_STEP_SUMMARY": str(files["SUMMARY"]),
        "GITHUB_ENV": str(files["ENV"]),
        **{"INPUT_" + key.upper(): value for key, value in inputs.items()},
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "commit_train.faces.actions.steps", name],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=runner.workspace,
    )
    return process, files["ENV"]


def test_the_apply_action_stopped_records_error_once(
    action_shop: Any, kube: KubeEmulator, tmp_path: Path
) -> None:
    """A cancelled run: the apply step gets SIGTERM mid-wait, records ``error`` "stopped by
    SIGTERM" itself (the runner might never run the final step), and the final
    set-deployment-status step, which runs anyway, records nothing a second time."""
    emu, repo, sha = action_shop
    dep_id = repo.add_deployment(sha, environment="staging", payload={"commit_train": 1})
    payload = actions_events.deployment_created(deployment_id=dep_id, sha=sha)
    runner = Runner(tmp_path, emu, "deployment", payload)
    assert runner.run("set-deployment-status", state="in_progress", token=emu.token).code == 0
    render = runner.run("render-manifests", secrets=json.dumps({"API_KEY": SECRET}))
    assert render.code == 0, render.stdout + render.stderr
    kubeconfig = kube.write_kubeconfig(tmp_path / "kubeconfig").read_text()

    process, env_file = start_step(
        runner,
        "apply",
        manifests_dir=render.outputs["manifests-dir"],
        kubeconfig=kubeconfig,
        token=emu.token,
    )
    try:
        until(lambda: watches(kube) > 0, "the apply step waiting")
        process.send_signal(signal.SIGTERM)
        out, _err = process.communicate(timeout=30)
    finally:
        process.kill()
    runner.job_env.update(read_outputs(env_file))
    assert process.returncode == 1
    assert "::error title=commit-train apply::stopped by SIGTERM" in out
    assert gh_states(repo, dep_id)[-1] == ("error", "stopped by SIGTERM")
    count = len(gh_states(repo, dep_id))

    final = runner.run("set-deployment-status", state="failure", token=emu.token)
    assert final.code == 0, final.stdout
    assert final.outputs["state"] == "error"
    assert len(gh_states(repo, dep_id)) == count


# -- progress while waiting ---------------------------------------------------------------


def test_a_503_then_success_says_so_on_stderr_and_json_stays_clean(
    tmp_path: Path, github_emulator: GitHubEmulator
) -> None:
    from tests.gitrepos import Repo

    repo = Repo(tmp_path / "shop")
    repo.commit("first")
    gh = github_emulator.create_repo("acme/shop", default_branch="main")
    gh.commit("Initial commit")
    github_emulator.inject(status=503, times=1)
    env = {"GITHUB_API_URL": github_emulator.base_url, "GITHUB_TOKEN": github_emulator.token}
    result = CliRunner().invoke(
        cli, ["-C", str(repo.root), "--repo", "acme/shop", "status", "--json"], env=env
    )
    assert result.exit_code == 0, result.output
    assert result.stderr == "GitHub answered 503; retrying in 1 s (2 of 4)\n"
    assert json.loads(result.stdout)["repo"] == "acme/shop"


def test_a_spent_rate_limit_is_one_line_per_wait(github_emulator: GitHubEmulator) -> None:
    from commit_train.backends.github.backend import GitHubBackend

    gh = github_emulator.create_repo("acme/shop", default_branch="main")
    sha = gh.commit("Initial commit")
    github_emulator.exhaust_rate_limit(reset_in=30)
    lines: list[str] = []
    backend = GitHubBackend(
        "acme/shop",
        token=github_emulator.token,
        base_url=github_emulator.base_url,
        sleep=lambda _seconds: github_emulator.restore_rate_limit(),
        on_wait=lines.append,
    )
    assert backend.resolve(sha).sha == sha
    [line] = lines
    assert re.fullmatch(
        r"GitHub's rate limit is spent; waiting 3[01] s until \d\d:\d\d:\d\d UTC \(2 of 4\)", line
    ), line
