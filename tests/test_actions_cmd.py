"""``commit-train action NAME`` run as the runner runs it: a subprocess per step, with
``GITHUB_*`` and ``INPUT_*`` variables, against the GitHub and Kubernetes emulators.

``Runner`` plays one job: it keeps what a step appends to ``GITHUB_ENV`` for the later
steps, and reads each step's outputs and summary the way the runner does.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from commit_train.core.text import clip
from tests import actions_events, kube_fixtures
from tests.emulators.github import GitHubEmulator
from tests.shop import CONFIG as SHOP_CONFIG
from tests.shop import TEMPLATE
from tests.test_actions_io import read_outputs

kube = kube_fixtures.kube

CONFIG = SHOP_CONFIG + "checks:\n  ignore: [deploy]\n"

SECRET = "s3cr3t-value-for-tests"


@dataclass
class Step:
    code: int
    stdout: str
    stderr: str
    outputs: dict[str, str]
    summary: str


class Runner:
    """One job on a pretend runner: a workspace, an event, and the job's GITHUB_ENV."""

    def __init__(self, tmp: Path, emu: GitHubEmulator, event: str, payload: Any) -> None:
        self.tmp = tmp
        self.workspace = tmp / "workspace"
        self.workspace.mkdir()
        (self.workspace / ".commit-train.yml").write_text(CONFIG)
        templates = self.workspace / "deploy" / "templates"
        templates.mkdir(parents=True)
        (templates / "web.yaml").write_text(TEMPLATE)
        event_path = tmp / "event.json"
        event_path.write_text(json.dumps(payload))
        self.job_env: dict[str, str] = {}
        self.steps = 0
        self.base = {
            "PATH": os.environ.get("PATH", ""),
            "HOME": str(tmp),
            "GITHUB_ACTIONS": "true",
            "GITHUB_EVENT_NAME": event,
            "GITHUB_EVENT_PATH": str(event_path),
            "GITHUB_REPOSITORY": "acme/shop",
            "GITHUB_API_URL": emu.base_url,
            "GITHUB_SERVER_URL": "https://github.com",
            "GITHUB_RUN_ID": "9001",
            "GITHUB_RUN_ATTEMPT": "1",
            "GITHUB_ACTOR": "octocat",
            "GITHUB_WORKSPACE": str(self.workspace),
            "RUNNER_TEMP": str(tmp / "runner-temp"),
        }

    def run(self, name: str, **inputs: str) -> Step:
        self.steps += 1
        files = {k: self.tmp / f"{k.lower()}-{self.steps}" for k in ("OUTPUT", "SUMMARY", "ENV")}
        for path in files.values():
            path.write_text("")
        env = {
            **self.base,
            **self.job_env,
            "GITHUB_OUTPUT": str(files["OUTPUT"]),
            "GITHUB_STEP_SUMMARY": str(files["SUMMARY"]),
            "GITHUB_ENV": str(files["ENV"]),
        }
        for key, value in inputs.items():
            env["INPUT_" + key.upper()] = value
        done = subprocess.run(
            [sys.executable, "-m", "commit_train.faces.actions.steps", name],
            env=env,
            capture_output=True,
            text=True,
            cwd=self.workspace,
            timeout=120,
        )
        self.job_env.update(read_outputs(files["ENV"]))
        return Step(
            done.returncode,
            done.stdout,
            done.stderr,
            read_outputs(files["OUTPUT"]),
            files["SUMMARY"].read_text(),
        )


@pytest.fixture
def shop(github_emulator: GitHubEmulator) -> tuple[GitHubEmulator, Any, str]:
    repo = github_emulator.create_repo("acme/shop", default_branch="main")
    repo.commit("Initial commit")
    sha = repo.commit("Add the checkout page")
    repo.add_check_run(sha, name="test")
    return github_emulator, repo, sha


def statuses(repo: Any, deployment_id: int) -> list[tuple[str, str, str | None]]:
    return [
        (s["state"], s["description"], s.get("log_url"))
        for s in repo.deployment_statuses(deployment_id)
    ]


RUN_URL = "https://github.com/acme/shop/actions/runs/9001/attempts/1"


def test_a_deployment_event_deploys_end_to_end(shop: Any, kube: Any, tmp_path: Path) -> None:
    emu, repo, sha = shop
    kube.controller.auto_complete(0.05)
    dep_id = repo.add_deployment(sha, environment="staging", creator="alice")
    payload = actions_events.deployment_created(deployment_id=dep_id, sha=sha)
    runner = Runner(tmp_path, emu, "deployment", payload)
    kubeconfig = kube.write_kubeconfig(tmp_path / "kubeconfig").read_text()

    started = runner.run("set-deployment-status", state="in_progress", token=emu.token)
    assert started.code == 0, started.stdout + started.stderr
    assert started.outputs == {"deployment-id": str(dep_id), "state": "in_progress"}

    gate = runner.run("build-gate", token=emu.token)
    assert gate.code == 0, gate.stdout
    assert (gate.outputs["decision"], gate.outputs["reason"]) == ("allow", "ok")
    result = json.loads(gate.outputs["result"])
    assert result == {
        "version": 1,
        "decision": "allow",
        "reason": "ok",
        "message": f"{sha[:7]} can be deployed to staging",
        "environment": "staging",
        "sha": sha,
        "title": "Add the checkout page",
    }
    assert "### Gate: allow" in gate.summary

    render = runner.run("render-manifests", secrets=json.dumps({"API_KEY": SECRET}))
    assert render.code == 0, render.stdout + render.stderr
    first = render.stdout.splitlines()[0]
    assert first == f"::add-mask::{SECRET}", "secrets are masked before anything else"
    assert render.outputs["objects"] == "2"
    folder = Path(render.outputs["manifests-dir"])
    assert oct(folder.stat().st_mode & 0o777) == "0o700"
    assert SECRET not in render.summary

    applied = runner.run("apply", **{"manifests_dir": str(folder), "kubeconfig": kubeconfig})
    assert applied.code == 0, applied.stdout + applied.stderr
    assert applied.outputs["changed"] == "true"
    assert applied.outputs["rollout"] == "complete"
    assert json.loads(applied.outputs["result"])["counts"]["created"] == 2
    deployment = kube.get("Deployment", "default", "web")
    assert deployment["spec"]["template"]["spec"]["containers"][0]["image"] == (
        f"ghcr.io/acme/shop:{sha}"
    )
    annotations = deployment["metadata"]["annotations"]
    assert annotations["commit-train.dev/deployment-id"] == str(dep_id)
    assert SECRET not in applied.stdout

    final = runner.run("set-deployment-status", state="success", token=emu.token)
    assert final.code == 0, final.stdout
    assert statuses(repo, dep_id)[-2:] == [
        ("in_progress", "", RUN_URL),
        ("success", "", RUN_URL),
    ]


def test_a_refused_gate_ends_in_a_failure_status_with_its_reason(shop: Any, tmp_path: Path) -> None:
    emu, repo, _ = shop
    red = repo.commit("Break the build")
    repo.add_check_run(red, name="test", conclusion="failure")
    dep_id = repo.add_deployment(red, environment="staging")
    payload = actions_events.deployment_created(deployment_id=dep_id, sha=red)
    runner = Runner(tmp_path, emu, "deployment", payload)

    gate = runner.run("build-gate", token=emu.token)
    message = f"{red[:7]} has failing checks: test; fix them or deploy a green commit"
    assert gate.code == 1
    assert gate.outputs["decision"] == "deny"
    assert gate.outputs["reason"] == "checks-failing"
    assert f"::error title=commit-train build-gate::{message}" in gate.stdout.splitlines()
    assert f"### commit-train build-gate failed\n\n{message}\n" in gate.summary
    assert "Traceback" not in gate.stdout + gate.stderr
    assert runner.job_env == {
        "COMMIT_TRAIN_FAILURE": message,
        "COMMIT_TRAIN_FAILURE_STATE": "failure",
    }

    final = runner.run("set-deployment-status", state="failure", token=emu.token)
    assert final.code == 0, final.stdout
    assert statuses(repo, dep_id)[-1] == ("failure", message, RUN_URL)


def test_an_infrastructure_failure_is_recorded_as_error(shop: Any, tmp_path: Path) -> None:
    emu, repo, sha = shop
    dep_id = repo.add_deployment(sha, environment="staging")
    payload = actions_events.deployment_created(deployment_id=dep_id, sha=sha)
    runner = Runner(tmp_path, emu, "deployment", payload)
    gate = runner.run("build-gate", token="ghs_wrong")
    assert gate.code == 1
    assert runner.job_env["COMMIT_TRAIN_FAILURE_STATE"] == "error"
    assert "::error title=commit-train build-gate::" in gate.stdout
    final = runner.run("set-deployment-status", state="failure", token=emu.token)
    assert final.code == 0
    state, description, _ = statuses(repo, dep_id)[-1]
    assert state == "error"
    assert description == clip(runner.job_env["COMMIT_TRAIN_FAILURE"])
    assert description.startswith("the token was rejected by GitHub")


def test_an_unreachable_cluster_is_recorded_as_error(shop: Any, kube: Any, tmp_path: Path) -> None:
    """The apply step cannot reach the cluster: the surroundings broke, not the change, so
    the final status is ``error`` even though the workflow asks for ``failure``."""
    emu, repo, sha = shop
    dep_id = repo.add_deployment(sha, environment="staging")
    payload = actions_events.deployment_created(deployment_id=dep_id, sha=sha)
    runner = Runner(tmp_path, emu, "deployment", payload)
    kubeconfig = kube.write_kubeconfig(tmp_path / "kubeconfig").read_text()
    address = kube.url.removeprefix("http://")
    kube.stop()  # the kubeconfig still points at its (now closed) port
    render = runner.run("render-manifests", secrets=json.dumps({"API_KEY": SECRET}))
    assert render.code == 0, render.stdout + render.stderr

    applied = runner.run(
        "apply", **{"manifests_dir": render.outputs["manifests-dir"], "kubeconfig": kubeconfig}
    )

    assert applied.code == 1
    assert "Traceback" not in applied.stdout + applied.stderr
    assert runner.job_env["COMMIT_TRAIN_FAILURE_STATE"] == "error"
    assert runner.job_env["COMMIT_TRAIN_FAILURE"].startswith(
        f"cannot reach the Kubernetes API at http://{address}: connection refused"
    )
    final = runner.run("set-deployment-status", state="failure", token=emu.token)
    assert final.code == 0, final.stdout
    state, description, _ = statuses(repo, dep_id)[-1]
    assert (state, description) == ("error", clip(runner.job_env["COMMIT_TRAIN_FAILURE"]))


def test_workflow_dispatch_creates_the_deployment_then_updates_it(
    shop: Any, tmp_path: Path
) -> None:
    emu, repo, sha = shop
    payload = actions_events.workflow_dispatch(environment="staging", ref=sha[:7])
    runner = Runner(tmp_path, emu, "workflow_dispatch", payload)
    created = runner.run("create-deployment", environment="staging", ref=sha[:7], token=emu.token)
    assert created.code == 0, created.stdout + created.stderr
    dep_id = int(created.outputs["deployment-id"])
    assert created.outputs["sha"] == sha
    assert runner.job_env == {"COMMIT_TRAIN_DEPLOYMENT_ID": str(dep_id)}
    started = runner.run("set-deployment-status", state="in_progress", token=emu.token)
    assert started.code == 0, started.stdout
    assert [s[0] for s in statuses(repo, dep_id)] == ["queued", "in_progress"]


def test_a_long_description_is_cut_at_140_characters(shop: Any, tmp_path: Path) -> None:
    emu, repo, sha = shop
    dep_id = repo.add_deployment(sha, environment="staging")
    runner = Runner(
        tmp_path,
        emu,
        "deployment",
        actions_events.deployment_created(deployment_id=dep_id, sha=sha),
    )
    words = " ".join(["rollout"] * 40)
    done = runner.run("set-deployment-status", state="failure", description=words, token=emu.token)
    assert done.code == 0
    _, description, _ = statuses(repo, dep_id)[-1]
    assert len(description) <= 140
    assert description.endswith("rollout…")


@pytest.mark.parametrize(
    ("name", "inputs", "message"),
    [
        (
            "set-deployment-status",
            {},
            "input 'state' is required and was not supplied; "
            "set state under with: in the step that uses set-deployment-status",
        ),
        (
            "set-deployment-status",
            {"state": "done"},
            "input 'state' must be one of queued, pending, in_progress, success, failure, "
            "error, inactive, got 'done'; use GitHub's deployment status states",
        ),
        (
            "apply",
            {"manifests_dir": "x", "dry_run": "yes"},
            "input 'dry-run' must be a boolean, got 'yes'; "
            "write one of true, True, TRUE, false, False, FALSE",
        ),
        (
            "apply",
            {"manifests_dir": "x", "timeout": "0s"},
            "input 'timeout' is too short: a rollout needs at least 1s; "
            "write it like 30s, 10m or 1h",
        ),
        (
            "render-manifests",
            {"secrets": "not json"},
            "input 'secrets' is not a JSON object; pass a JSON object of names and values, "
            "or leave it out and give each secret the config names in the step's env:",
        ),
    ],
)
def test_bad_inputs_fail_with_one_line_naming_the_input(
    github_emulator: GitHubEmulator,
    tmp_path: Path,
    name: str,
    inputs: dict[str, str],
    message: str,
) -> None:
    runner = Runner(tmp_path, github_emulator, "push", {"ref": "refs/heads/main"})
    done = runner.run(name, **inputs)
    assert done.code == 1
    assert done.stdout.splitlines()[-1] == f"::error title=commit-train {name}::{message}"
    assert done.stderr == ""


def test_stale_commit_notifier_lists_commits_waiting_too_long(
    github_emulator: GitHubEmulator, tmp_path: Path
) -> None:
    """The action is ``Train.stale``: ages read as the CLI and Slack write them (``1d 0h``),
    and a commit is reminded (Slack, then the warning) once, not on every scheduled run:
    a run with no route says so and keeps the reminder due; once the route is there the
    next run reminds, and the run after it still lists and counts the commit, but warns no
    more."""
    from tests.slack_server import SlackWebhookServer

    repo = github_emulator.create_repo("acme/shop", default_branch="main")
    now = datetime.now(UTC)
    live = repo.commit("Live one", when=now - timedelta(days=5))
    repo.add_deployment(live, environment="staging", statuses=["success"])
    old = repo.commit("Waiting for days", when=now - timedelta(days=3))
    repo.commit("Fresh", when=now - timedelta(hours=1))
    runner = Runner(tmp_path, github_emulator, "schedule", actions_events.schedule())

    unrouted = runner.run(
        "stale-commit-notifier", environment="staging", token=github_emulator.token
    )
    assert unrouted.code == 0, unrouted.stdout + unrouted.stderr
    result = json.loads(unrouted.outputs["result"])
    assert (result["due"], result["reminded"]) == ([old], [])
    assert f"| `{old[:7]}` | Waiting for days | alice | 3d 0h | not sent |" in unrouted.summary
    assert (
        "::warning title=commit-train stale-commit-notifier::no notification route for "
        "staging: add notify: under it in .commit-train.yml; its reminder was not sent"
    ) in unrouted.stdout
    assert "stale commits::" not in unrouted.stdout

    (runner.workspace / ".commit-train.yml").write_text(NOTIFY_CONFIG)
    with SlackWebhookServer() as slack:
        runner.job_env["SLACK_TEST_HOOK"] = slack.url
        github_emulator.reset_requests()
        done = runner.run(
            "stale-commit-notifier", environment="staging", token=github_emulator.token
        )
        assert done.code == 0, done.stdout + done.stderr
        # the scan, the mark, and one read of the environment's deploys for abandoned ones
        assert github_emulator.request_count <= 3
        assert done.outputs["count"] == "1"
        result = json.loads(done.outputs["result"])
        assert [s["sha"] for s in result["stale"]] == [old]
        assert (result["reminded"], result["quiet"], result["live"]) == ([old], None, live)
        assert f"| `{old[:7]}` | Waiting for days | alice | 3d 0h | now |" in done.summary
        warning = (
            "::warning title=commit-train%3A stale commits::1 commit has waited more than "
            "1d 0h for staging"
        )
        assert warning in done.stdout

        again = runner.run(
            "stale-commit-notifier", environment="staging", token=github_emulator.token
        )
        assert again.code == 0, again.stdout + again.stderr
        assert again.outputs["count"] == "1"
        assert json.loads(again.outputs["result"])["reminded"] == []
        assert f"| `{old[:7]}` | Waiting for days | alice | 3d 0h | before |" in again.summary
        assert "::warning" not in again.stdout
        assert len(slack.received) == 1


def test_stale_commit_notifier_is_quiet_while_the_environment_is_locked(
    github_emulator: GitHubEmulator, tmp_path: Path
) -> None:
    from commit_train.backends.github.backend import GitHubBackend
    from commit_train.service.locks import GitHubLockStore

    repo = github_emulator.create_repo("acme/shop", default_branch="main")
    now = datetime.now(UTC)
    live = repo.commit("Live one", when=now - timedelta(days=5))
    repo.add_deployment(live, environment="staging", statuses=["success"])
    repo.commit("Waiting for days", when=now - timedelta(days=3))
    backend = GitHubBackend(
        "acme/shop", token=github_emulator.token, base_url=github_emulator.base_url
    )
    GitHubLockStore(backend).acquire("staging", holder="alice", reason="load test")
    runner = Runner(tmp_path, github_emulator, "schedule", actions_events.schedule())
    done = runner.run("stale-commit-notifier", environment="staging", token=github_emulator.token)
    assert done.code == 0, done.stdout + done.stderr
    assert json.loads(done.outputs["result"])["quiet"] == "locked"
    assert "Quiet while locked: staging is locked by alice since " in done.summary
    assert "::warning" not in done.stdout


NOTIFY_CONFIG = CONFIG + "notify: {slack-webhook-env: SLACK_TEST_HOOK}\n"


def test_set_deployment_status_tells_the_route_started_and_succeeded(
    shop: Any, tmp_path: Path
) -> None:
    """The apply action keeps no ledger, so on the runner set-deployment-status is where a
    deploy's start and end are known: it tells the route, from the event, with no request
    more than recording the status."""
    from tests.slack_server import SlackWebhookServer

    emu, repo, sha = shop
    dep_id = repo.add_deployment(sha, environment="staging", creator="alice")
    payload = actions_events.deployment_created(
        deployment_id=dep_id,
        sha=sha,
        payload={"requested_by": "alice", "title": "Add the checkout page"},
    )
    runner = Runner(tmp_path, emu, "deployment", payload)
    (runner.workspace / ".commit-train.yml").write_text(NOTIFY_CONFIG)
    with SlackWebhookServer() as slack:
        runner.job_env["SLACK_TEST_HOOK"] = slack.url
        started = runner.run("set-deployment-status", state="in_progress", token=emu.token)
        assert started.code == 0, started.stdout + started.stderr
        emu.reset_requests()
        failed = runner.run(
            "set-deployment-status",
            state="failure",
            description="rollout of web timed out",
            token=emu.token,
        )
        assert failed.code == 0, failed.stdout + failed.stderr
        assert emu.request_count == 1, "the status only: the event names the deployment"
        assert "::warning" not in started.stdout + failed.stdout
        texts = [m["text"] for m in slack.received]
    assert texts == [
        f":rocket: alice is deploying {sha[:7]} Add the checkout page to staging",
        f":x: alice failed to deploy {sha[:7]} Add the checkout page to staging: "
        "rollout of web timed out",
    ]


def test_a_dead_webhook_never_fails_set_deployment_status(shop: Any, tmp_path: Path) -> None:
    emu, repo, sha = shop
    dep_id = repo.add_deployment(sha, environment="staging", creator="alice")
    payload = actions_events.deployment_created(deployment_id=dep_id, sha=sha)
    runner = Runner(tmp_path, emu, "deployment", payload)
    (runner.workspace / ".commit-train.yml").write_text(NOTIFY_CONFIG)
    runner.job_env["SLACK_TEST_HOOK"] = "http://127.0.0.1:9/services/T000/B000/XXXXXXXX"
    done = runner.run("set-deployment-status", state="success", token=emu.token)
    assert done.code == 0, done.stdout + done.stderr
    assert statuses(repo, dep_id)[-1][0] == "success"
    assert (
        "::warning title=commit-train set-deployment-status::notification deploy-succeeded "
        "for staging not sent to SLACK_TEST_HOOK: the webhook could not be reached (URLError)"
    ) in done.stdout.splitlines()
    assert "127.0.0.1:9" not in done.stdout


def test_the_own_run_rule_reads_rest_check_runs_by_their_details_url() -> None:
    """REST check runs carry no workflow run; their details URL names it
    (``/actions/runs/<run id>/job/<job id>``), so the gate's own-run rule holds there too."""
    from commit_train.backends.github.mapping import checks_from_rest
    from commit_train.faces.actions.frame import own_run
    from commit_train.faces.actions.io import Runtime
    from commit_train.models import OwnRun

    def run(name: str, run_id: int, status: str = "completed") -> dict[str, Any]:
        return {
            "id": run_id * 10,
            "name": name,
            "status": status,
            "conclusion": None if status != "completed" else "success",
            "started_at": "2024-05-02T10:00:00Z",
            "details_url": f"https://github.com/acme/shop/actions/runs/{run_id}/job/{run_id}7",
        }

    checks = checks_from_rest(
        "a" * 40, [], [run("test", 90010), run("Deploy to staging", 9001, "in_progress")]
    )
    assert [c.name for c in checks.without_run(OwnRun(run_id=9001)).checks] == ["test"]
    assert checks.without_run(OwnRun(run_id=900)).checks == checks.checks, "900 is not 9001"

    from commit_train.faces.actions.steps import SPECS

    spec = SPECS["build-gate"]
    env = {"GITHUB_RUN_ID": "9001", "GITHUB_WORKFLOW": "Deploy"}
    rt = Runtime(spec, env=env, stream=sys.stdout)
    assert own_run(rt) == OwnRun(run_id=9001, workflow="Deploy")
    assert own_run(Runtime(spec, env={}, stream=sys.stdout)) is None
