"""``workflow-templates/deploy.yml`` played end to end, the way the runner plays it.

The steps, their ``if:`` conditions and ``with:`` values come from the template itself and the
composite actions from ``actions/*/action.yml`` (see ``workflow_player``), so the template
cannot drift from what is tested. A real git repository is the workspace, its commits are on
the GitHub emulator under the same shas, the requester asks for the deploy with the real CLI,
and the job talks to the GitHub and Kubernetes emulators. Every test ends by checking that no
deployment in the emulator is left without a final status, that the secret the config names
(handed to the render and apply steps in their ``env:``) never reached a log, a summary or a
status description, and that a secret the config does not name never reached any process.
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from tests import actions_events
from tests.emulators.github import GitHubEmulator
from tests.emulators.github_model import Commit, EmulatedRepo
from tests.emulators.kube import KubeEmulator
from tests.gitrepos import Repo
from tests.leaks import HOSTILE_SECRET, decoded, files_under, leaked, without_mask_commands
from tests.shop import CONFIG, TEMPLATE
from tests.workflow_player import JobRun, StepResult, WorkflowPlayer, preinstall_commit_train

ROOT = Path(__file__).resolve().parents[1]
WORKFLOW = ROOT / "workflow-templates" / "deploy.yml"
FINAL_STATES = {"success", "failure", "error", "inactive"}

# A backslash, both quotes, a newline and non-ASCII: each escapes differently in repr, JSON,
# URLs and workflow commands, so every form of it is searched for in everything written.
SECRET = HOSTILE_SECRET
# An environment secret the shop's config does not list: no step of the deploy may see it.
UNNAMED_SECRET = "other-teams-token-77d2a0"
ENVIRONMENT_URL = "https://staging.shop.example.com"
RUN_ID = 9001  # the player's GITHUB_RUN_ID
RUN_URL = f"https://github.com/acme/shop/actions/runs/{RUN_ID}/attempts/1"
TIP_TITLE = "Add the checkout page"


# ------------------------------------------------------------------------------- the world


def push(git: Repo, remote: EmulatedRepo, emu: GitHubEmulator, branch: str = "main") -> str:
    """``git push``: the branch's commits into the emulator under their real shas."""
    log = git.git("log", "--reverse", "--format=%H%x1f%P%x1f%an%x1f%at%x1f%B%x1e", branch)
    with emu.store.lock:
        for record in filter(None, (r.strip("\n") for r in log.split("\x1e"))):
            sha, parents, author, stamp, message = record.split("\x1f")
            if sha in remote.commits:
                continue
            tree = git.git("rev-parse", f"{sha}^{{tree}}")
            remote.commits[sha] = Commit(
                sha,
                message.strip("\n"),
                emu.store.user(author),
                parents.split(),
                datetime.fromtimestamp(int(stamp), UTC),
                tree,
            )
        tip = git.git("rev-parse", branch)
        remote.set_ref(f"refs/heads/{branch}", tip)
    return tip


@dataclass
class Shop:
    emu: GitHubEmulator
    remote: EmulatedRepo
    kube: KubeEmulator
    git: Repo
    tmp: Path
    green: str  # the tip of main, checks green
    kubeconfig: str
    plays: list[JobRun] = field(default_factory=list)

    def commit(self, title: str, files: dict[str, str], *, branch: str = "main") -> str:
        for name, text in files.items():
            path = self.git.root / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
        sha = self.git.commit(title)
        push(self.git, self.remote, self.emu, branch)
        return sha

    def request_deploy(self, environment: str, ref: str) -> int:
        """The requester's side: ``commit-train deploy`` from a terminal (gate, create, queued)."""
        done = subprocess.run(
            [
                str(Path(sys.executable).parent / "commit-train"),
                "--repo",
                "acme/shop",
                "deploy",
                environment,
                ref,
                "--again",  # some tests ask for the same commit twice on purpose
                "--json",
            ],
            cwd=self.git.root,
            env={
                **os.environ,
                "GITHUB_API_URL": self.emu.base_url,
                "GITHUB_TOKEN": self.emu.token,
                "GITHUB_ACTOR": "alice",
            },
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert done.returncode == 0, done.stdout + done.stderr
        return int(json.loads(done.stdout)["deployment"]["id"])

    def deployment_event(self, deployment_id: int) -> dict[str, Any]:
        """The ``deployment`` event GitHub sends for a stored deployment."""
        [stored] = [d for d in self.remote.deployments if d["id"] == deployment_id]
        event = actions_events.deployment_created(
            deployment_id=deployment_id, sha=stored["sha"], environment=stored["environment"]
        )
        event["deployment"] = stored
        event["sender"] = stored["creator"]
        return event

    def play(
        self,
        event_name: str,
        event: dict[str, Any],
        *,
        sha: str,
        ref: str,
        step_timeout: float = 60.0,
        after_step: Callable[[StepResult], None] | None = None,
        workflow: Path = WORKFLOW,
    ) -> JobRun:
        self.git.git("checkout", "--quiet", "--detach", sha)  # what the runner checks out
        runner_temp = self.tmp / f"runner-temp-{len(self.plays)}"
        preinstall_commit_train(runner_temp, ROOT)
        player = WorkflowPlayer(
            workflow,
            actions_root=ROOT,
            workspace=self.git.root,
            runner_temp=runner_temp,
            event_name=event_name,
            event=event,
            sha=sha,
            ref=ref,
            repository="acme/shop",
            actor="alice",
            token=self.emu.token,
            api_url=self.emu.base_url,
            secrets={
                "API_KEY": SECRET,
                "KUBECONFIG": self.kubeconfig,
                "OTHER_TEAM_TOKEN": UNNAMED_SECRET,
            },
            variables={"ENVIRONMENT_URL": ENVIRONMENT_URL},
            step_timeout=step_timeout,
            after_step=after_step,
        )
        run = player.play()
        self.plays.append(run)
        return run

    def play_deployment(self, deployment_id: int, **kwargs: Any) -> JobRun:
        event = self.deployment_event(deployment_id)
        sha = event["deployment"]["sha"]
        return self.play("deployment", event, sha=sha, ref=event["deployment"]["ref"], **kwargs)

    def statuses(self, deployment_id: int) -> list[tuple[str, str]]:
        return [
            (s["state"], s["description"]) for s in self.remote.deployment_statuses(deployment_id)
        ]


@pytest.fixture
def shop(github_emulator: GitHubEmulator, kube: KubeEmulator, tmp_path: Path) -> Iterator[Shop]:
    git = Repo(tmp_path / "workspace", config=CONFIG)
    (git.root / "deploy" / "templates").mkdir(parents=True)
    (git.root / "deploy" / "templates" / "web.yaml").write_text(TEMPLATE)
    git.commit("Start the shop service")
    remote = github_emulator.create_repo("acme/shop", default_branch="main")
    push(git, remote, github_emulator)
    (git.root / "README.md").write_text("# shop\n")
    tip = git.commit(TIP_TITLE)
    push(git, remote, github_emulator)
    remote.add_check_run(tip, name="test")
    kubeconfig = kube.write_kubeconfig(tmp_path / "kubeconfig").read_text()
    world = Shop(github_emulator, remote, kube, git, tmp_path, tip, kubeconfig)
    yield world
    # whatever the path: every deployment ends final, and the secret never leaked
    written: dict[str, str] = {}
    for deployment in remote.deployments:
        states = [s["state"] for s in remote.deployment_statuses(deployment["id"])]
        assert states and states[-1] in FINAL_STATES, (deployment["id"], states)
        written[f"deployment {deployment['id']}"] = decoded(json.dumps(deployment, default=str))
        for n, status in enumerate(remote.deployment_statuses(deployment["id"])):
            where = f"deployment {deployment['id']} status {n}"
            written[where] = decoded(json.dumps(status, default=str))
    for i, run in enumerate(world.plays):
        assert SECRET in run.masks, "render-manifests masked the secret"
        written[f"run {i} GITHUB_ENV"] = json.dumps(run.env, ensure_ascii=False)
        for step in run.steps:
            for text in (step.printed, step.stderr, step.summary):
                assert github_emulator.token not in text, step.name
            where = f"run {i} step {step.name!r}"
            written[f"{where} stdout"] = without_mask_commands(step.stdout)
            written[f"{where} stderr"] = step.stderr
            written[f"{where} summary"] = step.summary
            for name, value in step.outputs.items():
                written[f"{where} output {name}"] = decoded(value)
            for n, note in enumerate(step.annotations):
                written[f"{where} annotation {n}"] = note.message
            assert not step.warnings, (step.name, step.warnings)
            assert "Traceback" not in step.stdout + step.stderr, step.name
            assert not handed_over(step, UNNAMED_SECRET), f"{step.name} saw an unnamed secret"
    # every file the job wrote (GITHUB_OUTPUT, GITHUB_ENV, summaries, the workspace) but the
    # rendered manifests, which hold the Secret object the cluster is to receive
    written.update(files_under(tmp_path, skip=tmp_path.glob("runner-temp-*/commit-train")))
    assert not leaked(written, SECRET)


def handed_over(step: StepResult, value: str) -> bool:
    """Whether any process of ``step`` had ``value`` anywhere in its environment."""
    return any(value in v for env in step.environments for v in env.values())


def ran(run: JobRun) -> list[str]:
    return [s.id or s.name for s in run.ran]


def deployed_image(kube: KubeEmulator) -> str | None:
    deployment = kube.get("Deployment", "default", "web")
    if deployment is None:
        return None
    return str(deployment["spec"]["template"]["spec"]["containers"][0]["image"])


def when_applied(kube: KubeEmulator, act: Callable[[], object]) -> None:
    """Run ``act`` (in a thread, after a beat) once the apply has created the Deployment."""
    fired = threading.Event()

    def hook(rtype: Any, namespace: str, obj: dict[str, Any] | None) -> None:
        if rtype.kind == "Deployment" and obj is not None and not fired.is_set():
            fired.set()
            threading.Timer(0.2, act).start()

    kube.store.after_commit.append(hook)


# ------------------------------------------------------------------------------- success


def test_a_deployment_event_deploys_the_commit(shop: Shop) -> None:
    shop.kube.controller.auto_complete(0.05)
    dep_id = shop.request_deploy("staging", shop.green[:7])
    assert shop.statuses(dep_id) == [("queued", "queued by alice via cli")]
    shop.emu.reset_requests()

    run = shop.play_deployment(dep_id)

    assert shop.emu.request_count <= 10, "the deploy's budget: in_progress to final status"

    assert run.status == "success", [(s.name, s.log) for s in run.ran]
    assert run.name == "Deploy to staging"
    assert run.environment == "staging"
    assert run.concurrency == "deploy-staging"
    assert ran(run) == [
        "Check out the repository",
        "Set up Python",
        "Mark the deployment in progress",
        "gate",
        "render",
        "apply",
        "Record the result",
    ]
    assert [s.name for s in run.steps if s.skipped] == [
        "Create the deployment (manual runs)",
        "Check out the commit being deployed (manual runs)",
    ]
    assert run.step("gate").outputs["decision"] == "allow"
    assert run.step("render").outputs["objects"] == "2"
    assert run.step("apply").outputs["rollout"] == "complete"
    assert run.step("Record the result").outputs == {
        "deployment-id": str(dep_id),
        "state": "success",
    }
    assert shop.statuses(dep_id) == [
        ("queued", "queued by alice via cli"),
        ("in_progress", ""),
        ("success", ""),
    ]
    statuses = shop.remote.deployment_statuses(dep_id)
    assert [s["log_url"] for s in statuses[1:]] == [RUN_URL, RUN_URL]
    assert statuses[-1]["environment_url"] == ENVIRONMENT_URL
    assert deployed_image(shop.kube) == f"ghcr.io/acme/shop:{shop.green}"
    deployment = shop.kube.get("Deployment", "default", "web")
    assert deployment is not None
    assert deployment["metadata"]["annotations"]["commit-train.dev/deployment-id"] == str(dep_id)
    secret = shop.kube.get("Secret", "default", "web")
    assert secret is not None
    assert base64.b64decode(secret["data"]["API_KEY"]).decode() == SECRET, "the real value"
    escaped = SECRET.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")
    assert f"::add-mask::{escaped}" in run.step("render").stdout.splitlines()
    assert handed_over(run.step("render"), SECRET), "the named secret, through env:"
    assert handed_over(run.step("apply"), SECRET), "auto-rollback may render again"


def test_the_unnamed_secret_check_catches_toJSON_secrets(shop: Shop, tmp_path: Path) -> None:
    """The template as it was (every secret through toJSON) fails the teardown's check."""
    text = WORKFLOW.read_text(encoding="utf-8")
    named = "        env:\n          API_KEY: ${{ secrets.API_KEY }}\n"
    assert named in text
    workflow = tmp_path / "deploy-all-secrets.yml"
    workflow.write_text(
        text.replace(named, "", 1).replace(
            "          sha: ${{ steps.create.outputs.sha || github.event.deployment.sha }}\n",
            "          sha: ${{ steps.create.outputs.sha || github.event.deployment.sha }}\n"
            "          secrets: ${{ toJSON(secrets) }}\n",
        )
    )
    shop.kube.controller.auto_complete(0.05)
    dep_id = shop.request_deploy("staging", shop.green)

    run = shop.play_deployment(dep_id, workflow=workflow)

    assert run.status == "success", run.step("render").log
    assert handed_over(run.step("render"), UNNAMED_SECRET)
    shop.plays.remove(run)  # the teardown would (rightly) fail on it


def test_a_manual_run_creates_the_deployment_and_deploys_it(shop: Shop) -> None:
    shop.kube.controller.auto_complete(0.05)
    old = shop.git.git("rev-parse", "HEAD~1")
    shop.remote.add_check_run(old, name="test")  # a rollback to an older green commit
    event = actions_events.workflow_dispatch(environment="staging", ref=old[:7])

    run = shop.play("workflow_dispatch", event, sha=shop.green, ref="refs/heads/main")

    assert run.status == "success", [(s.name, s.log) for s in run.ran]
    assert run.name == "Deploy to staging"
    assert [s.name for s in run.steps if s.skipped] == []
    created = run.step("create").outputs
    assert created["sha"] == old
    dep_id = int(created["deployment-id"])
    [stored] = shop.remote.deployments
    assert (stored["id"], stored["sha"], stored["environment"]) == (dep_id, old, "staging")
    assert [s for s, _ in shop.statuses(dep_id)] == ["queued", "in_progress", "success"]
    assert shop.git.git("rev-parse", "HEAD") == old, "the second checkout moved to the commit"
    assert deployed_image(shop.kube) == f"ghcr.io/acme/shop:{old}"


def test_an_older_deploy_whose_run_was_cancelled_ends_superseded(shop: Shop) -> None:
    """Runs queue per environment; one GitHub cancels while it waits runs no step, so the
    run that starts after it closes its deployment. Another tool's deployment is left alone."""
    shop.kube.controller.auto_complete(0.05)
    older = shop.request_deploy("staging", shop.green)  # its run is cancelled in the queue
    foreign = shop.remote.add_deployment(
        shop.green, environment="staging", creator="vercel", statuses=["pending"]
    )
    newer = shop.request_deploy("staging", shop.green)
    shop.emu.reset_requests()

    run = shop.play_deployment(newer)

    assert run.status == "success", [(s.name, s.log) for s in run.ran]
    assert shop.statuses(older) == [
        ("queued", "queued by alice via cli"),
        (
            "error",
            f"superseded: deployment {newer} of {shop.green[:7]} started after it; "
            "its run was cancelled",
        ),
    ]
    assert [s for s, _ in shop.statuses(newer)] == ["queued", "in_progress", "success"]
    assert [s for s, _ in shop.statuses(foreign)] == ["pending"], "not commit-train's"
    assert shop.emu.request_count <= 10
    with shop.emu.store.lock:  # its own tool's business
        stored = shop.remote.get_deployment(foreign)
        shop.remote.new_deployment_status(stored, state="inactive", creator=stored.creator)


def test_another_tools_deployment_runs_nothing(shop: Shop) -> None:
    """A deployment commit-train did not create (Vercel's, Heroku's) also fires the event;
    the job's if: skips it, so it gets no status from us and nothing is applied."""
    foreign = shop.remote.add_deployment(
        shop.green,
        environment="staging",
        creator="vercel",
        payload={"app": "shop-preview"},
        statuses=["pending"],
    )
    shop.emu.reset_requests()

    run = shop.play_deployment(foreign)

    assert run.status == "skipped"
    assert run.steps == []
    assert shop.emu.request_count == 0
    assert [s for s, _ in shop.statuses(foreign)] == ["pending"]
    assert deployed_image(shop.kube) is None
    with shop.emu.store.lock:  # its own tool's business
        stored = shop.remote.get_deployment(foreign)
        shop.remote.new_deployment_status(stored, state="success", creator=stored.creator)


def test_a_deploy_replayed_by_sync_runs_nothing(shop: Shop) -> None:
    """`commit-train sync` replays a deploy made during an outage: it already happened, so the
    deployment event it fires must not deploy that commit again hours later."""
    replayed = shop.remote.add_deployment(
        shop.green,
        environment="staging",
        creator="alice",
        payload={"commit_train": 1, "offline": True, "reason": "GitHub was down"},
        statuses=["success"],
    )
    shop.emu.reset_requests()

    run = shop.play_deployment(replayed)

    assert run.status == "skipped"
    assert run.steps == []
    assert shop.emu.request_count == 0
    assert [s for s, _ in shop.statuses(replayed)] == ["success"]
    assert deployed_image(shop.kube) is None


# ------------------------------------------------------------------------------- the gate


def test_checks_that_turned_red_after_the_request_are_refused(shop: Shop) -> None:
    dep_id = shop.request_deploy("staging", shop.green)
    shop.remote.add_check_run(shop.green, name="test", conclusion="failure")  # a re-run fails

    run = shop.play_deployment(dep_id)

    message = f"{shop.green[:7]} has failing checks: test; fix them or deploy a green commit"
    assert run.status == "failure"
    assert run.step("gate").outcome == "failure"
    assert run.step("gate").outputs["reason"] == "checks-failing"
    assert [s.name for s in run.steps if s.skipped] == [
        "Create the deployment (manual runs)",
        "Check out the commit being deployed (manual runs)",
        "Render the manifests",
        "Apply and wait for the rollout",
    ]
    assert shop.statuses(dep_id)[1:] == [("in_progress", ""), ("failure", message)]
    assert deployed_image(shop.kube) is None, "nothing was applied"


@pytest.mark.parametrize("earlier", ["in-progress", "failed-before"])
def test_the_gate_leaves_out_the_deploy_workflows_own_check_runs(shop: Shop, earlier: str) -> None:
    """The deploy job's own check run is in progress while its gate asks; a failed earlier
    run of the deploy workflow must not keep the commit red. Neither is a gate. A check of
    another workflow under the same name still counts (the next test's red one does)."""
    shop.kube.controller.auto_complete(0.05)
    dep_id = shop.request_deploy("staging", shop.green)
    if earlier == "failed-before":  # an earlier deploy of this commit failed its rollout
        shop.remote.add_check_run(
            shop.green,
            name="Deploy to staging",
            conclusion="failure",
            workflow_run=RUN_ID - 1,
            workflow="Deploy",
        )
    # this very job, as GitHub shows it while it runs
    shop.remote.add_check_run(
        shop.green,
        name="Deploy to staging",
        status="in_progress",
        workflow_run=RUN_ID,
        workflow="Deploy",
    )

    run = shop.play_deployment(dep_id)

    assert run.status == "success", [(s.name, s.log) for s in run.ran]
    assert run.step("gate").outputs["decision"] == "allow"
    assert [s for s, _ in shop.statuses(dep_id)] == ["queued", "in_progress", "success"]
    assert deployed_image(shop.kube) == f"ghcr.io/acme/shop:{shop.green}"


def test_a_red_check_of_another_workflow_still_refuses(shop: Shop) -> None:
    dep_id = shop.request_deploy("staging", shop.green)
    shop.remote.add_check_run(
        shop.green, name="e2e", conclusion="failure", workflow_run=RUN_ID - 5, workflow="Build"
    )

    run = shop.play_deployment(dep_id)

    assert run.step("gate").outputs["reason"] == "checks-failing"
    message = f"{shop.green[:7]} has failing checks: e2e; fix them or deploy a green commit"
    assert shop.statuses(dep_id)[-1] == ("failure", message)


def test_a_commit_off_the_default_branch_is_refused(shop: Shop) -> None:
    shop.git.branch("topic")
    shop.git.switch("topic")
    topic = shop.commit("Try something on a branch", {"NOTES.md": "wip\n"}, branch="topic")
    shop.remote.add_check_run(topic, name="test")
    # created straight through the API: the CLI's own gate would have refused it
    dep_id = shop.remote.add_deployment(
        topic, environment="staging", payload={"commit_train": 1}, statuses=["queued"]
    )

    run = shop.play_deployment(dep_id)

    assert run.status == "failure"
    assert run.step("gate").outputs["reason"] == "not-on-default-branch"
    state, description = shop.statuses(dep_id)[-1]
    assert state == "failure"
    assert description == (
        f"{topic[:7]} is not on the default branch main; merge it first, only commits of main "
        "can be deployed"
    )
    assert deployed_image(shop.kube) is None


def test_a_manual_run_for_a_commit_off_the_branch_creates_nothing(shop: Shop) -> None:
    shop.git.branch("topic")
    shop.git.switch("topic")
    topic = shop.commit("Try something on a branch", {"NOTES.md": "wip\n"}, branch="topic")
    shop.remote.add_check_run(topic, name="test")
    event = actions_events.workflow_dispatch(environment="staging", ref=topic)

    run = shop.play("workflow_dispatch", event, sha=shop.green, ref="refs/heads/main")

    assert run.status == "failure"
    create = run.step("create")
    assert create.outcome == "failure"
    [error] = [a for a in create.annotations if a.level == "error"]
    assert error.message == (
        f"{topic[:7]} is not on the default branch main; merge it first, only commits of main "
        "can be deployed"
    )
    assert run.ran[-1].name == "Create the deployment (manual runs)"
    assert run.step("Record the result").skipped, "no deployment to record"
    assert shop.remote.deployments == []


# ------------------------------------------------------------------------------- render, apply


def test_a_broken_template_fails_the_deploy_naming_file_line_and_key(shop: Shop) -> None:
    broken = TEMPLATE.replace("replicas: 1", "replicas: {{ values.replicas }}")
    sha = shop.commit("Read replicas from values", {"deploy/templates/web.yaml": broken})
    shop.remote.add_check_run(sha, name="test")
    dep_id = shop.request_deploy("staging", sha)

    run = shop.play_deployment(dep_id)

    assert run.status == "failure"
    assert run.step("render").outcome == "failure"
    assert run.step("apply").skipped
    state, description = shop.statuses(dep_id)[-1]
    assert state == "failure"
    assert description.startswith(
        "deploy/templates/web.yaml:6: 'values.replicas' is undefined; add replicas to "
        "deploy/values/defaults.yml or deploy/values/staging.yml"
    )
    assert deployed_image(shop.kube) is None


def test_a_rollout_past_its_progress_deadline_fails_the_deploy(shop: Shop) -> None:
    when_applied(
        shop.kube, lambda: shop.kube.controller.exceed_deadline("Deployment", "default", "web")
    )
    dep_id = shop.request_deploy("staging", shop.green)

    run = shop.play_deployment(dep_id)

    assert run.status == "failure"
    apply = run.step("apply")
    assert apply.outcome == "failure"
    assert apply.outputs["rollout"] == "failed"
    state, description = shop.statuses(dep_id)[-1]
    assert state == "failure"
    assert description == 'rollout failed: web: deployment "web" exceeded its progress deadline'
    assert deployed_image(shop.kube) == f"ghcr.io/acme/shop:{shop.green}"


def test_a_crash_looping_rollout_fails_at_the_configured_rollout_timeout(shop: Shop) -> None:
    config = CONFIG + "kubernetes:\n  rollout-timeout: 1s\n"
    sha = shop.commit("Wait at most 1s for rollouts", {".commit-train.yml": config})
    shop.remote.add_check_run(sha, name="test")

    def crash() -> None:
        ctl = shop.kube.controller
        ctl.progress("Deployment", "default", "web", updated=1, ready=0)
        pod = ctl.pods("Deployment", "default", "web")[0]["metadata"]["name"]
        ctl.crash_loop("default", pod, exit_code=1)

    when_applied(shop.kube, crash)
    dep_id = shop.request_deploy("staging", sha)

    run = shop.play_deployment(dep_id, step_timeout=5.0)  # the runner's timeout-minutes

    assert not run.step("apply").timed_out
    assert run.step("apply").outputs["rollout"] == "timed-out"
    state, description = shop.statuses(dep_id)[-1]
    assert state == "failure"
    assert "CrashLoopBackOff" in description


def test_a_rollout_diagnosis_quoting_the_secret_is_written_nowhere(shop: Shop) -> None:
    """A Warning event quoting the secret (as a failing probe or a bad env var may) feeds the
    diagnosis, which reaches the status description, the summary, the outputs and stderr; the
    fixture searches every one of them, and every file, for every form of the secret."""

    def fail() -> None:
        ctl = shop.kube.controller
        ctl.event(
            "Deployment",
            "default",
            "web",
            reason="FailedCreate",
            message=f"env API_KEY={SECRET!r} is not valid; json {json.dumps(SECRET)}",
            type="Warning",
        )
        ctl.exceed_deadline("Deployment", "default", "web")

    when_applied(shop.kube, fail)
    dep_id = shop.request_deploy("staging", shop.green)

    run = shop.play_deployment(dep_id)

    assert run.status == "failure"
    assert run.step("apply").outputs["rollout"] == "failed"
    state, description = shop.statuses(dep_id)[-1]
    assert state == "failure"
    assert description.startswith("rollout failed: web: ")
    shown = run.step("apply").summary + run.step("apply").outputs["result"]
    assert "FailedCreate: env API_KEY='***'" in shown, "the diagnosis was written, redacted"


def test_a_template_error_quoting_the_secret_is_written_nowhere(shop: Shop) -> None:
    """The secret used as a lookup key: Jinja's error quotes the key's repr (backslashes
    doubled, the newline as ``\\n``), which no raw mask matches."""
    lookup = TEMPLATE.replace("replicas: 1", "replicas: {{ values[secrets.API_KEY] }}")
    sha = shop.commit("Look a value up by the key", {"deploy/templates/web.yaml": lookup})
    shop.remote.add_check_run(sha, name="test")
    dep_id = shop.request_deploy("staging", sha)

    run = shop.play_deployment(dep_id)

    assert run.status == "failure"
    assert run.step("render").outcome == "failure"
    state, description = shop.statuses(dep_id)[-1]
    assert state == "failure"
    assert description.startswith("deploy/templates/web.yaml:6: ")
    assert "<redacted>" in description
    assert deployed_image(shop.kube) is None


def test_auto_rollback_on_the_runner_restores_the_previous_image_and_records_it(
    shop: Shop,
) -> None:
    config = CONFIG.replace(
        "    url: https://staging.shop.example.com\n",
        "    url: https://staging.shop.example.com\n    auto-rollback: true\n",
    )
    good = shop.commit("Roll back by itself", {".commit-train.yml": config})
    shop.remote.add_check_run(good, name="test")
    shop.kube.controller.auto_complete(0.05)
    first = shop.request_deploy("staging", good)
    assert shop.play_deployment(first).status == "success"
    shop.kube.controller.manual()
    shop.git.switch("main")  # the run checked out the commit it deployed
    bad = shop.commit("Break the web", {"NOTES.md": "the rollout of this one fails\n"})
    shop.remote.add_check_run(bad, name="test")

    def fail_then_heal(rtype: Any, namespace: str, obj: dict[str, Any] | None) -> None:
        if rtype.kind != "Deployment" or obj is None or fired.is_set():
            return
        if obj["spec"]["template"]["spec"]["containers"][0]["image"].endswith(bad):
            fired.set()

            def act() -> None:
                shop.kube.controller.exceed_deadline("Deployment", "default", "web")
                shop.kube.controller.auto_complete(0.05)  # the rollback's rollout finishes

            threading.Timer(0.2, act).start()

    fired = threading.Event()
    shop.kube.store.after_commit.append(fail_then_heal)
    failed = shop.request_deploy("staging", bad)

    run = shop.play_deployment(failed)

    assert run.status == "failure"
    apply = run.step("apply")
    assert apply.outputs["rollout"] == "failed"
    rollback = json.loads(apply.outputs["result"])["rollback"]
    rollback_id = rollback.pop("deployment_id")
    assert rollback == {
        "rolls_back": bad,
        "sha": good,
        "ok": True,
        "line": f"auto-rollback restored {good[:7]} in staging (deployment {rollback_id})",
        "rollout": "complete",
    }
    assert deployed_image(shop.kube) == f"ghcr.io/acme/shop:{good}", "the previous image"
    restored = shop.kube.get("Deployment", "default", "web")
    assert restored is not None
    annotations = restored["metadata"]["annotations"]
    assert annotations["commit-train.dev/deployment-id"] == str(rollback_id)
    state, description = shop.statuses(failed)[-1]
    assert state == "failure"
    assert description == 'rollout failed: web: deployment "web" exceeded its progress deadline'
    [stored] = [d for d in shop.remote.deployments if d["id"] == rollback_id]
    assert stored["sha"] == good
    assert (stored["payload"]["rollback_of"], stored["payload"]["auto"]) == (bad, True)
    assert [s for s, _ in shop.statuses(rollback_id)] == ["in_progress", "success"]
    assert shop.statuses(rollback_id)[-1][1].startswith(f"rolled back {bad[:7]}: ")


# ------------------------------------------------------------------------------- the root action

ONE_STEP = """\
name: Deploy
on: deployment
permissions:
  contents: read
  deployments: write
  statuses: read
  checks: read
jobs:
  deploy:
    runs-on: ubuntu-latest
    environment: ${{ github.event.deployment.environment }}
    steps:
      - uses: actions/checkout@11bd71901bbe5b1630ceea73d27597364c9af683 # v4.2.2
      - id: deploy
        uses: commit-train/commit-train@v0.1.0
        with:
          kubeconfig: ${{ secrets.KUBECONFIG }}
          environment-url: ${{ vars.ENVIRONMENT_URL }}
        env:
          API_KEY: ${{ secrets.API_KEY }}
"""


@pytest.mark.parametrize("green", [True, False], ids=["success", "red-checks"])
def test_the_root_action_deploys_in_one_step(shop: Shop, tmp_path: Path, green: bool) -> None:
    workflow = tmp_path / "one-step.yml"
    workflow.write_text(ONE_STEP)
    shop.kube.controller.auto_complete(0.05)
    dep_id = shop.request_deploy("staging", shop.green)
    if not green:
        shop.remote.add_check_run(shop.green, name="test", conclusion="failure")

    run = shop.play_deployment(dep_id, workflow=workflow)

    step = run.step("deploy")
    if green:
        assert run.status == "success", step.log
        assert step.outputs == {
            "deployment-id": str(dep_id),
            "decision": "allow",
            "reason": "ok",
            "changed": "true",
            "rollout": "complete",
            "state": "success",
        }
        assert [s for s, _ in shop.statuses(dep_id)] == ["queued", "in_progress", "success"]
        assert shop.remote.deployment_statuses(dep_id)[-1]["environment_url"] == ENVIRONMENT_URL
        assert deployed_image(shop.kube) == f"ghcr.io/acme/shop:{shop.green}"
    else:
        assert run.status == "failure"
        assert step.outputs["decision"] == "deny"
        assert step.outputs["state"] == "failure"
        message = f"{shop.green[:7]} has failing checks: test; fix them or deploy a green commit"
        assert shop.statuses(dep_id)[1:] == [("in_progress", ""), ("failure", message)]
        assert deployed_image(shop.kube) is None
