"""Deploys end to end through the command line: a real git repository, the Kubernetes
emulator (the real ``kubernetes`` client over HTTP), and the local journal or the GitHub
emulator as the ledger.

The controller is scripted from a second thread while the command waits: it watches the
emulator for the applied Deployment (or the waiter's watch request), then moves the rollout
the way kube-controller-manager and the kubelet would.
"""

from __future__ import annotations

import base64
import contextlib
import json
import re
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from commit_train.backends.local.backend import LocalBackend
from commit_train.faces.cli.main import cli
from tests import kube_fixtures
from tests.emulators.github import GitHubEmulator
from tests.emulators.github_model import Commit as EmulatedCommit
from tests.emulators.kube import KubeEmulator
from tests.gitrepos import Repo
from tests.leaks import HOSTILE_SECRET, decoded, files_under, leaked
from tests.shop import WEB_DEPLOYMENT, WEB_SECRET

kube = kube_fixtures.kube

NS = "shop"
SECRET = "pa55-w0rd-never-shown"
IMAGE = "ghcr.io/acme/shop"

CONFIG = """\
version: 1
image: ghcr.io/acme/shop
secrets: [API_KEY]
kubernetes:
  namespace: shop
  rollout-timeout: 30s
environments:
  staging:
    auto-rollback: {auto}
  production:
    production: true
"""

NAMESPACE = """\
apiVersion: v1
kind: Namespace
metadata:
  name: shop
"""

READS_THE_SECRET = """\
          env:
            - name: API_KEY
              valueFrom:
                secretKeyRef: {name: web, key: API_KEY}
"""

WEB = "---\n".join([NAMESPACE, WEB_DEPLOYMENT + READS_THE_SECRET, WEB_SECRET])

EXTRA = """\
apiVersion: v1
kind: ConfigMap
metadata:
  name: extra
data:
  colour: blue
"""


@dataclass
class Shop:
    """A service's repository, its journal, and the emulator the commands talk to."""

    repo: Repo
    kube: KubeEmulator
    env: dict[str, str | None]

    @property
    def root(self) -> Path:
        return self.repo.root

    def write(self, name: str, text: str) -> None:
        path = self.root / "deploy" / "templates" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)

    def remove(self, name: str) -> None:
        (self.root / "deploy" / "templates" / name).unlink()

    def commit(self, title: str) -> str:
        sha = self.repo.commit(title)
        LocalBackend(self.root).record_check(sha, "test", "success")
        return sha

    def run(self, *args: str, env: dict[str, str | None] | None = None) -> Result:
        return CliRunner().invoke(
            cli, ["-C", str(self.root), *args], env={**self.env, **(env or {})}
        )

    def deployments(self) -> list[Any]:
        return LocalBackend(self.root).deployments(environment="staging", limit=50)

    def image(self) -> str:
        dep = self.kube.get("Deployment", NS, "web")
        assert dep is not None
        return str(dep["spec"]["template"]["spec"]["containers"][0]["image"])


def make_shop(tmp_path: Path, kube: KubeEmulator, *, auto_rollback: bool = False) -> Shop:
    repo = Repo(tmp_path / "shop", config=CONFIG.format(auto=str(auto_rollback).lower()))
    env: dict[str, str | None] = {
        "GITHUB_TOKEN": None,
        "GH_TOKEN": None,
        "COMMIT_TRAIN_BACKEND": None,
        "COMMIT_TRAIN_SECRETS": None,
        "GITHUB_API_URL": None,
        "GITHUB_ACTOR": "carol",
        "NO_COLOR": "1",
        "KUBECONFIG": str(kube.write_kubeconfig(tmp_path / "kubeconfig")),
        "API_KEY": SECRET,
    }
    shop = Shop(repo, kube, env)
    shop.write("web.yaml", WEB)
    return shop


@pytest.fixture
def shop(tmp_path: Path, kube: KubeEmulator) -> Shop:
    return make_shop(tmp_path, kube)


def states(deployment: Any) -> list[str]:
    return [s.state.value for s in deployment.statuses]


def until(condition: Callable[[], Any], what: str) -> Any:
    """Poll the emulator's state (bounded); a scripted controller step waits on this."""
    for _ in range(3000):
        found = condition()
        if found:
            return found
        time.sleep(0.005)
    raise AssertionError(f"never happened: {what}")


@contextlib.contextmanager
def scripted(step: Callable[[], None]) -> Iterator[None]:
    """Run ``step`` in a thread while the body runs the command; its failure fails the test."""
    errors: list[BaseException] = []

    def target() -> None:
        try:
            step()
        except BaseException as exc:  # handed to the test's thread below
            errors.append(exc)

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    yield
    thread.join(timeout=30)
    if errors:
        raise errors[0]


def web_with(kube: KubeEmulator, image_sha: str) -> Callable[[], Any]:
    """A condition: the Deployment exists and asks for the image tagged ``image_sha``."""

    def check() -> Any:
        dep = kube.get("Deployment", NS, "web")
        if dep is None:
            return None
        image = dep["spec"]["template"]["spec"]["containers"][0]["image"]
        return dep if image == f"{IMAGE}:{image_sha}" else None

    return check


def watching(kube: KubeEmulator) -> Callable[[], bool]:
    return lambda: any(
        r.path.endswith("/deployments") and "watch" in r.params for r in kube.requests
    )


def crash_loop(kube: KubeEmulator, sha: str) -> Callable[[], None]:
    def step() -> None:
        until(web_with(kube, sha), "the Deployment applied")
        kube.controller.progress("Deployment", NS, "web", updated=1, ready=0)
        pod = kube.controller.pods("Deployment", NS, "web")[0]["metadata"]["name"]
        kube.controller.crash_loop(NS, pod, container="web", exit_code=1)

    return step


def exceed_deadline(kube: KubeEmulator, sha: str, *, then_auto: bool = False) -> Callable[[], None]:
    def step() -> None:
        until(web_with(kube, sha), "the Deployment applied")
        until(watching(kube), "the waiter's watch")
        kube.controller.exceed_deadline("Deployment", NS, "web")
        if then_auto:  # the next rollout (the rollback's) finishes by itself
            kube.controller.auto_complete(0.05)

    return step


def deploy_ok(shop: Shop, ref: str = "HEAD") -> Result:
    shop.kube.controller.auto_complete(0.02)
    try:
        result = shop.run("apply", "staging", ref)
    finally:
        shop.kube.controller.manual()
    assert result.exit_code == 0, result.output
    return result


# -- apply ---------------------------------------------------------------------------------


def test_two_hundred_objects_are_applied_and_recorded(shop: Shop) -> None:
    shop.write(
        "settings.yaml",
        "{% for i in range(197) %}---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n"
        '  name: settings-{{ i }}\ndata:\n  index: "{{ i }}"\n{% endfor %}',
    )
    sha = shop.commit("Two hundred objects")

    result = deploy_ok(shop)

    assert len(shop.kube.objects("ConfigMap", NS)) == 197
    assert shop.image() == f"{IMAGE}:{sha}"
    lines = result.stdout.splitlines()
    assert lines[0].startswith(f"created deployment 1: {sha[:7]} to staging")
    assert f"rendered 200 objects for staging at {sha[:7]}" in lines
    assert "ConfigMap shop/settings-196: created" in lines
    assert lines[-1].startswith(
        "200 objects: 200 created, 0 configured, 0 unchanged, 0 pruned; 1 rollout finished in "
    )
    [dep] = shop.deployments()
    assert states(dep) == ["queued", "in_progress", "success"]
    assert dep.statuses[-1].description == lines[-1]
    annotations = shop.kube.get("ConfigMap", NS, "settings-0")["metadata"]["annotations"]
    assert annotations["commit-train.dev/sha"] == sha
    assert annotations["commit-train.dev/deployment-id"] == str(dep.id)


def test_a_finished_rollout_is_noticed_through_the_watch(shop: Shop) -> None:
    sha = shop.commit("Ship it")

    def finish() -> None:
        until(watching(shop.kube), "the waiter's watch")
        shop.kube.controller.complete("Deployment", NS, "web")

    with scripted(finish):
        result = shop.run("apply", "staging", "--json")

    assert result.exit_code == 0, result.output
    progress = result.stderr.splitlines()
    assert progress[-2:] == [
        "Deployment shop/web: Waiting for deployment spec update to be observed...",
        'Deployment shop/web: deployment "web" successfully rolled out',
    ]
    doc = json.loads(result.stdout)
    assert doc["ok"] is True
    assert doc["rollout"] == "complete"
    assert doc["sha"] == sha
    assert doc["counts"] == {"created": 3, "configured": 0, "unchanged": 0, "pruned": 0}
    lists = [
        r
        for r in shop.kube.requests
        if r.method == "GET"
        and r.path.endswith("/deployments")
        and "watch" not in r.params
        and "labelSelector" not in r.params  # the apply's own list of ApplySet members
    ]
    assert len(lists) == 1  # the finish arrived as a watch event, not by asking again


def test_a_crash_looping_rollout_times_out_naming_the_container_on_github(
    tmp_path: Path, kube: KubeEmulator, github_emulator: GitHubEmulator
) -> None:
    shop = make_shop(tmp_path, kube)
    sha = shop.commit("Crash on start")
    gh = mirror(shop.repo, github_emulator)
    gh.add_check_run(sha, name="test")
    env = {"GITHUB_API_URL": github_emulator.base_url, "GITHUB_TOKEN": github_emulator.token}

    with scripted(crash_loop(kube, sha)):
        result = shop.run("--repo", "acme/shop", "apply", "staging", "--timeout", "2s", env=env)

    cause = "web: container web in CrashLoopBackOff (exit 1, 3 restarts)"
    assert result.exit_code == 1, result.output
    assert result.stderr == f"error: rollout timed out: {cause}\n"
    assert f"rollout timed out: {cause}" not in result.stdout  # said once, as the error
    assert "Warning events (newest first):" in result.stdout
    [stored] = gh.deployments
    assert stored["sha"] == sha
    assert stored["payload"]["requested_by"] == "alice"  # the token's login, not GITHUB_ACTOR
    recorded = gh.deployment_statuses(stored["id"])
    assert [s["state"] for s in recorded] == ["queued", "in_progress", "failure"]
    assert recorded[-1]["description"] == f"rollout timed out: {cause}"


def test_progress_deadline_exceeded_ends_as_failure(shop: Shop) -> None:
    sha = shop.commit("Never becomes ready")

    with scripted(exceed_deadline(shop.kube, sha)):
        result = shop.run("apply", "staging")

    assert result.exit_code == 1
    assert result.stderr.startswith("error: rollout failed: web: ")
    assert 'Deployment shop/web: deployment "web" exceeded its progress deadline' in result.stdout
    [dep] = shop.deployments()
    assert states(dep) == ["queued", "in_progress", "failure"]
    assert dep.statuses[-1].description.startswith("rollout failed: web: ")
    assert len(dep.statuses[-1].description) <= 140


def test_a_conflict_names_the_other_field_manager(shop: Shop) -> None:
    shop.commit("First")
    deploy_ok(shop)
    api = shop.kube.api_client()
    try:
        import kubernetes.client as k8s

        k8s.AppsV1Api(api).patch_namespaced_deployment(
            "web",
            NS,
            {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
             "spec": {"replicas": 5}},
            field_manager="hpa-tuner",
            force=True,
            _content_type="application/apply-patch+yaml",
        )  # fmt: skip
    finally:
        api.close()
    shop.commit("Second")

    result = shop.run("apply", "staging")

    message = (
        'Deployment shop/web: apply conflict: .spec.replicas owned by field manager "hpa-tuner"; '
        "remove those fields from the manifest, or take them over with --force-conflicts "
        "(force: true)"
    )
    assert result.exit_code == 1
    assert result.stderr == f"error: {message}\n"
    second = shop.deployments()[0]
    assert states(second) == ["queued", "in_progress", "failure"]
    assert 'field manager "hpa-tuner"' in second.statuses[-1].description
    assert shop.kube.get("Deployment", NS, "web")["spec"]["replicas"] == 5

    forced = shop.run("apply", "staging", "--force-conflicts", "--dry-run")
    assert forced.exit_code == 0, forced.output
    assert forced.stdout.splitlines()[-1].endswith(
        "(dry run, nothing changed); dry run: no rollout"
    )
    assert len(shop.deployments()) == 2  # a dry run records nothing


WIDGETS = """\
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: widgets.example.com
spec:
  group: example.com
  scope: Namespaced
  names: {plural: widgets, singular: widget, kind: Widget}
  versions:
    - name: v1
      served: true
      storage: true
      schema:
        openAPIV3Schema:
          type: object
          properties:
            spec:
              type: object
              properties:
                replicas: {type: integer}
---
apiVersion: example.com/v1
kind: Widget
metadata:
  name: gear
spec:
  replicaz: 3
"""


def test_a_typo_in_a_custom_resource_is_refused_by_the_server_naming_it(shop: Shop) -> None:
    """Render cannot check a custom resource; the API server does, against the CRD's schema."""
    shop.write("widgets.yaml", WIDGETS)
    shop.commit("Add a gear")

    result = shop.run("apply", "staging")

    assert result.exit_code == 1
    line = (
        "Widget shop/gear: the Widget schema the cluster serves has no .spec.replicaz; "
        "correct or remove it in the manifest"
    )
    assert result.stderr == f"error: {line}\n"
    [dep] = shop.deployments()
    assert states(dep) == ["queued", "in_progress", "failure"]
    assert dep.statuses[-1].description == line
    assert shop.kube.get("Widget", NS, "gear") is None
    applies = [r for r in shop.kube.requests if r.content_type == "application/apply-patch+yaml"]
    assert applies
    assert {r.params.get("fieldValidation") for r in applies} == {"Strict"}


def test_a_removed_manifest_is_pruned_and_an_unrelated_object_is_not(shop: Shop) -> None:
    shop.write("extra.yaml", EXTRA)
    shop.commit("With extra")
    deploy_ok(shop)
    api = shop.kube.api_client()
    try:
        import kubernetes.client as k8s

        k8s.CoreV1Api(api).create_namespaced_config_map(
            NS, {"metadata": {"name": "someone-elses"}, "data": {"a": "b"}}
        )
    finally:
        api.close()
    shop.remove("extra.yaml")
    shop.commit("Without extra")

    result = deploy_ok(shop)

    assert "ConfigMap shop/extra: pruned" in result.stdout.splitlines()
    assert shop.kube.get("ConfigMap", NS, "extra") is None
    assert shop.kube.get("ConfigMap", NS, "someone-elses") is not None


def test_a_template_error_names_file_and_line(shop: Shop) -> None:
    shop.write(
        "broken.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ values.nope }}\n"
    )
    shop.commit("Broken template")

    result = shop.run("apply", "staging")

    assert result.exit_code == 1
    assert result.stderr.startswith("error: deploy/templates/broken.yaml:4: ")
    assert "nope" in result.stderr
    assert shop.deployments() == []  # caught before anything was recorded
    assert shop.kube.get("Deployment", NS, "web") is None  # nothing applied

    preview = shop.run("render", "staging")
    assert preview.exit_code == 1
    assert preview.stderr.startswith("error: deploy/templates/broken.yaml:4: ")


def test_render_of_a_commit_without_templates_names_the_commit(shop: Shop) -> None:
    shop.remove("web.yaml")
    bare = shop.commit("Before the manifests")
    shop.write("web.yaml", WEB)  # in the working tree only

    result = shop.run("render", "staging", bare)

    assert result.exit_code == 1
    assert result.stderr == (
        f"error: deploy/templates is not in commit {bare[:7]}; "
        "commit it, or render the working tree without REF\n"
    )
    assert shop.run("render", "staging").exit_code == 0


def test_a_missing_kubeconfig_records_nothing(shop: Shop) -> None:
    shop.commit("Nowhere to go")

    result = shop.run("apply", "staging", env={"KUBECONFIG": str(shop.root / "missing")})

    message = f"KUBECONFIG names '{shop.root / 'missing'}', but no such file exists"
    assert result.exit_code == 1
    assert result.stderr.startswith(f"error: {message}; ")
    assert result.stderr.count("\n") == 1
    assert shop.deployments() == []


def test_an_unreachable_cluster_ends_error_not_failure(shop: Shop) -> None:
    """The cluster broke, not the change: the deploy ends ``error`` (which the change
    failure rate does not count), naming the address and what to check."""
    shop.commit("Nothing wrong with it")
    address = shop.kube.url.removeprefix("http://")
    shop.kube.stop()  # the kubeconfig still points at its (now closed) port

    result = shop.run("apply", "staging")

    assert result.exit_code == 1
    assert result.stderr == (
        f"error: cannot reach the Kubernetes API at http://{address}: connection refused "
        f"({address}); check the cluster address and credentials in the kubeconfig\n"
    )
    [dep] = shop.deployments()
    assert states(dep) == ["queued", "in_progress", "error"]
    assert dep.statuses[-1].description.startswith("cannot reach the Kubernetes API at ")


@pytest.mark.parametrize(
    ("args", "env", "expected"),
    [
        (["--context", "nope"], {}, "nope"),
        (["--kubeconfig", "absent.yaml"], {}, "absent.yaml"),
        ([], {"API_KEY": None}, "API_KEY"),
    ],
    ids=["unknown-context", "nonexistent-kubeconfig", "unset-secret"],
)
def test_mistakes_caught_before_the_deploy_record_nothing_and_supersede_nothing(
    shop: Shop, args: list[str], env: dict[str, str | None], expected: str
) -> None:
    older = shop.commit("Older")
    queued = shop.run("deploy", "staging", older)
    assert queued.exit_code == 0, queued.output
    shop.commit("Newer")

    result = shop.run("apply", "staging", "HEAD", *args, env=env)

    assert result.exit_code == 1
    assert result.stdout == ""
    assert result.stderr.startswith("error: ")
    assert result.stderr.count("\n") == 1
    assert expected in result.stderr
    [dep] = shop.deployments()  # only the older deploy, still queued
    assert (dep.sha, states(dep)) == (older, ["queued"])


def test_rollback_apply_with_an_unknown_context_records_nothing(shop: Shop) -> None:
    from commit_train.models import DeployState

    journal = LocalBackend(shop.root)
    for title in ("Good", "Newer"):
        sha = shop.commit(title)
        dep = journal.create_deployment(
            sha=sha, environment="staging", payload={}, description="", production=False
        )
        journal.add_status(dep.id, state=DeployState.SUCCESS)

    result = shop.run("rollback", "staging", "--apply", "--context", "nope")

    assert result.exit_code == 1
    assert result.stdout == ""
    assert result.stderr.startswith("error: context 'nope' is not in the kubeconfig ")
    assert len(shop.deployments()) == 2  # no rollback recorded


def test_a_commit_missing_from_the_checkout_records_nothing(
    tmp_path: Path, kube: KubeEmulator, github_emulator: GitHubEmulator
) -> None:
    shop = make_shop(tmp_path, kube)
    shop.commit("Here")
    gh = mirror(shop.repo, github_emulator)
    remote = gh.commit("Pushed from elsewhere")
    gh.add_check_run(remote, name="test")
    env = {"GITHUB_API_URL": github_emulator.base_url, "GITHUB_TOKEN": github_emulator.token}

    result = shop.run("--repo", "acme/shop", "apply", "staging", env=env)

    assert result.exit_code == 1
    assert result.stderr == (
        f"error: commit {remote[:12]} is not in the local repository {shop.root}; "
        "fetch it first (git fetch origin)\n"
    )
    assert gh.deployments == []


# -- rollback ------------------------------------------------------------------------------


def test_auto_rollback_restores_the_previous_image_and_records_it(
    tmp_path: Path, kube: KubeEmulator
) -> None:
    shop = make_shop(tmp_path, kube, auto_rollback=True)
    good = shop.commit("Good")
    deploy_ok(shop)
    bad = shop.commit("Bad")

    with scripted(exceed_deadline(kube, bad, then_auto=True)):
        result = shop.run("apply", "staging")
    kube.controller.manual()

    assert result.exit_code == 1, result.output
    assert shop.image() == f"{IMAGE}:{good}"
    restored = f"auto-rollback restored {good[:7]} in staging (deployment 3)"
    assert restored in result.stdout.splitlines()
    assert result.stderr.startswith("error: rollout failed: web: ")
    assert result.stderr.endswith(f"; {restored}\n")
    rollback, failed, first = shop.deployments()
    assert (first.sha, states(first)) == (good, ["queued", "in_progress", "success", "inactive"])
    assert (failed.sha, states(failed)) == (bad, ["queued", "in_progress", "failure"])
    assert rollback.sha == good
    assert rollback.payload["rollback_of"] == bad
    assert rollback.payload["auto"] is True
    assert states(rollback) == ["in_progress", "success"]
    assert rollback.statuses[-1].description.startswith(f"rolled back {bad[:7]}: ")
    annotations = kube.get("Deployment", NS, "web")["metadata"]["annotations"]
    assert annotations["commit-train.dev/deployment-id"] == str(rollback.id)


def test_rollback_deploys_the_previous_good_commit(shop: Shop) -> None:
    refused = shop.run("rollback", "staging")
    assert refused.exit_code == 1
    assert refused.stderr == (
        "error: staging has no successful deploy, so there is nothing to roll back; "
        "deploy a commit with commit-train deploy\n"
    )
    first = shop.commit("First")
    deploy_ok(shop)
    only_one = shop.run("rollback", "staging")
    assert only_one.exit_code == 1
    assert "no successful deploy of a commit before" in only_one.stderr
    second = shop.commit("Second")
    deploy_ok(shop)

    dry = shop.run("rollback", "staging", "--dry-run")
    assert dry.exit_code == 0, dry.output
    assert dry.stdout == (
        f"would roll back staging from {second[:7]} to {first[:7]} First "
        "(dry run: nothing was recorded)\n"
    )
    shop.kube.controller.auto_complete(0.02)
    done = shop.run("rollback", "staging", "--apply", "--json")
    shop.kube.controller.manual()

    assert done.exit_code == 0, done.output
    doc = json.loads(done.stdout)
    assert (doc["sha"], doc["ok"], doc["rollout"]) == (first, True, "complete")
    assert shop.image() == f"{IMAGE}:{first}"
    newest = shop.deployments()[0]
    assert newest.id == doc["deployment_id"]
    assert newest.payload["rollback_of"] == second
    assert newest.payload["auto"] is False
    assert states(newest) == ["queued", "in_progress", "success"]


# -- secrets -------------------------------------------------------------------------------


def test_a_secret_value_never_appears_in_any_output(tmp_path: Path, kube: KubeEmulator) -> None:
    shop = make_shop(tmp_path, kube)
    shop.write("echo.yaml", EXTRA.replace("colour: blue", "key: {{ secrets.API_KEY | quote }}"))
    sha = shop.commit("Secret everywhere")
    outputs: list[str] = []

    def keep(result: Result) -> Result:
        outputs.extend([result.stdout, result.stderr])
        return result

    keep(shop.run("render", "staging"))
    keep(shop.run("render", "staging", "HEAD", "--json"))
    keep(shop.run("render", "staging", "--out", str(tmp_path / "out")))
    outputs.extend(p.read_text() for p in (tmp_path / "out").iterdir())
    keep(shop.run("apply", "staging", "--dry-run"))
    keep(deploy_ok(shop))
    keep(shop.run("apply", "staging", "--dry-run", env={"API_KEY": SECRET + "-rotated"}))
    with scripted(crash_loop(kube, sha)):
        keep(shop.run("apply", "staging", "--timeout", "1s", "--json"))
    keep(shop.run("history", "staging", "--json"))
    for dep in shop.deployments():
        outputs.append(json.dumps(dict(dep.payload)))
        outputs.extend(s.description for s in dep.statuses)

    text = "\n".join(outputs)
    assert "<redacted>" in text
    assert "rollout timed out" in text  # the failing run is in there too
    for form in (SECRET, base64.b64encode(SECRET.encode()).decode(), SECRET + "-rotated"):
        assert form not in text
    # and it did reach the cluster, where it belongs
    stored = kube.get("Secret", NS, "web")
    assert base64.b64decode(stored["data"]["API_KEY"]).decode() == SECRET


def test_a_hostile_secret_is_written_nowhere_by_apply_rollback_or_a_failure(
    tmp_path: Path, kube: KubeEmulator
) -> None:
    """A secret holding a backslash, both quotes, a newline and non-ASCII, through render,
    ``apply`` (success, a failed rollout whose Warning event quotes it, the auto-rollback
    after it) and a template that uses it as a lookup key: no form of it (raw, each line,
    repr, JSON, URL-encoded, base64) in any output, status, payload or file written."""
    shop = make_shop(tmp_path, kube, auto_rollback=True)
    shop.env["API_KEY"] = HOSTILE_SECRET
    shop.write("echo.yaml", EXTRA.replace("colour: blue", "key: {{ secrets.API_KEY | quote }}"))
    good = shop.commit("Secret everywhere")
    written: dict[str, str] = {}

    def keep(name: str, result: Result) -> Result:
        written[f"{name} stdout"] = decoded(result.stdout)
        written[f"{name} stderr"] = result.stderr
        return result

    keep("render", shop.run("render", "staging"))
    keep("render --json", shop.run("render", "staging", "HEAD", "--json"))
    keep("apply --dry-run", shop.run("apply", "staging", "--dry-run"))
    keep("apply", deploy_ok(shop))
    bad = shop.commit("Break the web")

    def warn_then_fail() -> None:
        until(web_with(kube, bad), "the Deployment applied")
        until(watching(kube), "the waiter's watch")
        message = f"env API_KEY={HOSTILE_SECRET!r} is not valid; json {json.dumps(HOSTILE_SECRET)}"
        kube.controller.event(
            "Deployment", NS, "web", reason="FailedCreate", message=message, type="Warning"
        )
        kube.controller.exceed_deadline("Deployment", NS, "web")
        kube.controller.auto_complete(0.05)  # the rollback's rollout finishes

    with scripted(warn_then_fail):
        failed = keep("apply, failed", shop.run("apply", "staging", "--json"))
    kube.controller.manual()
    assert failed.exit_code == 1, failed.output
    assert json.loads(failed.stdout)["rollback"]["ok"] is True, "auto-rollback ran"
    assert "FailedCreate: env API_KEY='<redacted>'" in failed.stdout + failed.stderr
    assert shop.image() == f"{IMAGE}:{good}"

    shop.write("web.yaml", WEB.replace("replicas: 1", "replicas: {{ values[secrets.API_KEY] }}"))
    shop.commit("Look a value up by the key")
    refused = keep("apply, render error", shop.run("apply", "staging"))
    assert refused.exit_code == 1
    assert refused.stderr.startswith("error: deploy/templates/web.yaml:")
    assert "<redacted>" in refused.stderr
    keep("history --json", shop.run("history", "staging", "--json"))
    keep("status --json", shop.run("status", "--json"))
    for dep in shop.deployments():
        written[f"deployment {dep.id}"] = decoded(json.dumps(dict(dep.payload)))
        for n, status in enumerate(dep.statuses):
            written[f"deployment {dep.id} status {n}"] = status.description

    written.update(files_under(tmp_path))  # the journal, the checkout, the kubeconfig
    assert not leaked(written)
    stored = kube.get("Secret", NS, "web")
    assert base64.b64decode(stored["data"]["API_KEY"]).decode() == HOSTILE_SECRET


# -- the GitHub emulator holds the same commits as the checkout -----------------------------


def mirror(repo: Repo, emu: GitHubEmulator) -> Any:
    """``acme/shop`` on the GitHub emulator with exactly the local commits (same shas), so
    the github backend gates and records while the checkout provides the trees."""
    from datetime import UTC, datetime

    gh = emu.create_repo("acme/shop", default_branch="main")
    log = repo.git("log", "--reverse", "--format=%H%x1f%P%x1f%an%x1f%ct%x1f%s", "main")
    for line in log.splitlines():
        sha, parents, author, when, title = line.split("\x1f")
        gh.commits[sha] = EmulatedCommit(
            sha,
            title,
            emu.store.user(author),
            parents.split(),
            datetime.fromtimestamp(int(when), UTC),
            repo.git("rev-parse", f"{sha}^{{tree}}"),
        )
        gh.set_ref("refs/heads/main", sha)
    return gh


def test_a_local_deploy_says_what_rolls_it_out_and_that_command_does(shop: Shop) -> None:
    """The local backend runs no deploy workflow: ``deploy`` queues and names the command
    that rolls it out; run as printed, that command does, and LIVE IN stops counting the
    queued request."""
    sha = shop.commit("Add the checkout page")
    queued = shop.run("deploy", "staging", "HEAD")
    assert queued.exit_code == 0, queued.output
    hint = queued.stdout.splitlines()[-1]
    assert hint == (
        "queued: nothing runs deploys on the local backend; run "
        f"`commit-train apply staging {sha[:7]}` to roll it out from this machine"
    )
    assert shop.run("status", "--limit", "1").stdout.splitlines()[-1].endswith("staging (queued)")
    command = re.search(r"`commit-train (.+?)`", hint)
    assert command is not None
    shop.kube.controller.auto_complete(0.02)
    try:
        applied = shop.run(*command.group(1).split())
    finally:
        shop.kube.controller.manual()
    assert applied.exit_code == 0, applied.output
    assert shop.image() == f"{IMAGE}:{sha}"
    assert shop.run("status", "--limit", "1").stdout.splitlines()[-1].endswith("  staging")
    first, second = reversed(shop.deployments())
    assert (first.state.value, second.state.value) == ("error", "success")
    assert first.statuses[-1].description.startswith("superseded: ")
