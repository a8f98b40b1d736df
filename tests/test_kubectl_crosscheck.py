"""The real ``kubectl`` is a second client of the Kubernetes emulator, and agrees with it.

Skipped when ``kubectl`` is not on PATH.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from tests import kube_fixtures
from tests.emulators.kube import KubeEmulator

pytestmark = [
    pytest.mark.kubectl,
    pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl is not on PATH"),
]

kube = kube_fixtures.kube

MANIFEST = """\
apiVersion: v1
kind: Namespace
metadata:
  name: shop
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: settings
  namespace: shop
data:
  mode: fast
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: shop
spec:
  replicas: {replicas}
  selector:
    matchLabels: {{app: web}}
  template:
    metadata:
      labels: {{app: web}}
    spec:
      containers:
      - name: web
        image: nginx:1.25
        ports:
        - containerPort: 80
"""


class Kubectl:
    def __init__(self, emu: KubeEmulator, tmp_path: Path) -> None:
        self.emu = emu
        self.tmp_path = tmp_path
        kubeconfig = emu.write_kubeconfig(tmp_path / "kubeconfig", namespace="shop")
        self.env = {
            "PATH": os.environ.get("PATH", ""),
            "HOME": str(tmp_path),  # kubectl's discovery cache goes under $HOME/.kube
            "KUBECONFIG": str(kubeconfig),
        }

    def manifest(self, replicas: int = 2) -> Path:
        path = self.tmp_path / f"app-{replicas}.yaml"
        path.write_text(MANIFEST.format(replicas=replicas))
        return path

    def __call__(self, *args: str, timeout: float = 30) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["kubectl", *args],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )

    def popen(self, *args: str) -> subprocess.Popen[str]:
        return subprocess.Popen(
            ["kubectl", *args],
            env=self.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )


@pytest.fixture
def kubectl(kube: KubeEmulator, tmp_path: Path) -> Kubectl:
    return Kubectl(kube, tmp_path)


def wait_for_watch(emu: KubeEmulator, resource: str) -> None:
    """Block until kubectl has opened its watch (a test sequencing step, not a timing check)."""
    for _ in range(500):
        if any(r.params.get("watch") == "true" and r.path.endswith(resource) for r in emu.requests):
            return
        time.sleep(0.02)
    raise AssertionError("kubectl never started watching")


def test_apply_server_side_creates_what_get_shows(kube: KubeEmulator, kubectl: Kubectl) -> None:
    applied = kubectl("apply", "--server-side", "-f", str(kubectl.manifest()))
    assert applied.returncode == 0, applied.stderr
    assert applied.stdout == (
        "namespace/shop serverside-applied\n"
        "configmap/settings serverside-applied\n"
        "deployment.apps/web serverside-applied\n"
    )
    stored = kube.get("Deployment", "shop", "web")
    assert stored is not None
    (entry,) = stored["metadata"]["managedFields"]
    assert (entry["manager"], entry["operation"]) == ("kubectl", "Apply")
    assert kube.requests[-1].params["fieldValidation"] == "Strict"

    shown = kubectl("get", "deployment", "web", "-o", "json")
    assert shown.returncode == 0, shown.stderr
    seen = json.loads(shown.stdout)
    del stored["metadata"]["managedFields"]  # kubectl hides them unless asked
    assert seen == stored

    again = kubectl("apply", "--server-side", "-f", str(kubectl.manifest()))
    assert again.stdout.splitlines()[-1] == "deployment.apps/web serverside-applied"
    assert (
        kube.get("Deployment", "shop", "web")["metadata"]["resourceVersion"]
        == (stored["metadata"]["resourceVersion"])
    )


def test_a_second_field_manager_conflicts_until_forced(
    kube: KubeEmulator, kubectl: Kubectl
) -> None:
    assert kubectl("apply", "--server-side", "-f", str(kubectl.manifest())).returncode == 0
    other = kubectl.manifest(replicas=5)
    conflict = kubectl("apply", "--server-side", "--field-manager=scaler", "-f", str(other))
    assert conflict.returncode == 1
    assert (
        'error: Apply failed with 1 conflict: conflict with "kubectl": .spec.replicas'
        in conflict.stderr
    )
    assert "Please review the fields above--they currently have other managers." in (
        conflict.stderr
    )
    assert kube.get("Deployment", "shop", "web")["spec"]["replicas"] == 2

    forced = kubectl(
        "apply", "--server-side", "--field-manager=scaler", "--force-conflicts", "-f", str(other)
    )
    assert forced.returncode == 0, forced.stderr
    assert kube.get("Deployment", "shop", "web")["spec"]["replicas"] == 5


def test_dry_run_server_persists_nothing(kube: KubeEmulator, kubectl: Kubectl) -> None:
    kubectl("apply", "--server-side", "-f", str(kubectl.manifest()))
    result = kubectl(
        "apply", "--server-side", "--dry-run=server", "-f", str(kubectl.manifest(replicas=9))
    )
    assert result.returncode == 0, result.stderr
    assert "deployment.apps/web serverside-applied (server dry run)" in result.stdout
    assert kube.get("Deployment", "shop", "web")["spec"]["replicas"] == 2


def rollout_status(kubectl: Kubectl, *args: str) -> subprocess.CompletedProcess[str]:
    return kubectl("rollout", "status", "deployment/web", *args)


def test_rollout_status_messages_follow_the_controller(
    kube: KubeEmulator, kubectl: Kubectl
) -> None:
    kubectl("apply", "--server-side", "-f", str(kubectl.manifest(replicas=3)))
    ctl = kube.controller
    steps: list[tuple[Any, str]] = [
        (lambda: None, "Waiting for deployment spec update to be observed...\n"),
        (
            lambda: ctl.progress("deploy", "shop", "web", updated=1, ready=0),
            'Waiting for deployment "web" rollout to finish: '
            "1 out of 3 new replicas have been updated...\n",
        ),
        (
            lambda: ctl.progress("deploy", "shop", "web", updated=3, ready=3, replicas=4),
            'Waiting for deployment "web" rollout to finish: '
            "1 old replicas are pending termination...\n",
        ),
        (
            lambda: ctl.progress("deploy", "shop", "web", updated=3, ready=2, available=2),
            'Waiting for deployment "web" rollout to finish: '
            "2 of 3 updated replicas are available...\n",
        ),
        (
            lambda: ctl.complete("deploy", "shop", "web"),
            'deployment "web" successfully rolled out\n',
        ),
    ]
    for step, message in steps:
        step()
        result = rollout_status(kubectl, "--watch=false")
        assert (result.returncode, result.stdout) == (0, message), result.stderr

    ctl.exceed_deadline("deploy", "shop", "web")
    result = rollout_status(kubectl, "--watch=false")
    assert result.returncode == 1
    assert result.stderr == 'error: deployment "web" exceeded its progress deadline\n'


def test_rollout_status_watches_until_done(kube: KubeEmulator, kubectl: Kubectl) -> None:
    kubectl("apply", "--server-side", "-f", str(kubectl.manifest()))
    process = kubectl.popen("rollout", "status", "deployment/web", "--timeout=20s")
    try:
        wait_for_watch(kube, "/deployments")
        kube.controller.progress("deploy", "shop", "web", updated=1, ready=0)
        kube.controller.complete("deploy", "shop", "web")
        out, err = process.communicate(timeout=20)
    finally:
        process.kill()
    assert process.returncode == 0, err
    # the controller stamps the revision annotation before it writes status, as the real
    # deployment controller does: one more event with the new generation not yet observed
    assert out.splitlines() == [
        "Waiting for deployment spec update to be observed...",
        "Waiting for deployment spec update to be observed...",
        'Waiting for deployment "web" rollout to finish: 1 out of 2 new replicas have been '
        "updated...",
        'deployment "web" successfully rolled out',
    ]


def test_rollout_status_times_out_on_a_stalled_rollout(
    kube: KubeEmulator, kubectl: Kubectl
) -> None:
    kubectl("apply", "--server-side", "-f", str(kubectl.manifest()))
    kube.controller.stall("deploy", "shop", "web")
    result = rollout_status(kubectl, "--timeout=1s")
    assert result.returncode == 1
    assert result.stdout.splitlines()[0] == (
        'Waiting for deployment "web" rollout to finish: 0 out of 2 new replicas have been '
        "updated..."
    )
    assert result.stderr == "error: timed out waiting for the condition\n"


def test_rollout_status_with_auto_complete(kube: KubeEmulator, kubectl: Kubectl) -> None:
    kube.controller.auto_complete(delay=0.2)
    kubectl("apply", "--server-side", "-f", str(kubectl.manifest()))
    result = rollout_status(kubectl, "--timeout=10s")
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[-1] == 'deployment "web" successfully rolled out'


def test_statefulset_and_daemonset_rollout_status(kube: KubeEmulator, kubectl: Kubectl) -> None:
    kubectl("apply", "--server-side", "-f", str(kubectl.manifest()))
    workloads = kubectl.tmp_path / "workloads.yaml"
    workloads.write_text(
        MANIFEST.split("---\n")[2]
        .format(replicas=2)
        .replace("Deployment", "StatefulSet")
        .replace("name: web\n  namespace", "name: db\n  namespace")
        + "---\n"
        + MANIFEST.split("---\n")[2]
        .format(replicas=2)
        .replace("Deployment", "DaemonSet")
        .replace("  replicas: 2\n", "")
        .replace("name: web\n  namespace", "name: agent\n  namespace")
    )
    applied = kubectl("apply", "--server-side", "-f", str(workloads))
    assert applied.returncode == 0, applied.stderr
    ctl = kube.controller

    def status(target: str) -> str:
        result = kubectl("rollout", "status", target, "--watch=false")
        assert result.returncode == 0, result.stderr
        return result.stdout

    assert status("statefulset/db") == "Waiting for statefulset spec update to be observed...\n"
    ctl.progress("sts", "shop", "db", updated=1, ready=1)
    assert status("statefulset/db") == "Waiting for 1 pods to be ready...\n"
    ctl.complete("sts", "shop", "db")
    assert (
        status("statefulset/db")
        == "partitioned roll out complete: 2 new pods have been updated...\n"
    )

    ctl.progress("ds", "shop", "agent", updated=1, ready=1)
    assert status("daemonset/agent") == (
        'Waiting for daemon set "agent" rollout to finish: 1 out of 3 new pods have been '
        "updated...\n"
    )
    ctl.complete("ds", "shop", "agent")
    assert status("daemonset/agent") == 'daemon set "agent" successfully rolled out\n'


def test_kubectl_sees_controller_events_and_pods(kube: KubeEmulator, kubectl: Kubectl) -> None:
    kubectl("apply", "--server-side", "-f", str(kubectl.manifest(replicas=1)))
    kube.controller.complete("deploy", "shop", "web")
    (pod,) = kube.controller.pods("deploy", "shop", "web")
    name = pod["metadata"]["name"]
    kube.controller.crash_loop("shop", name, restarts=2)
    pods = kubectl("get", "pods", "-l", "app=web", "-o", "json")
    assert pods.returncode == 0, pods.stderr
    (item,) = json.loads(pods.stdout)["items"]
    assert item["status"]["containerStatuses"][0]["state"]["waiting"]["reason"] == (
        "CrashLoopBackOff"
    )
    events = kubectl(
        "get", "events", "--field-selector", f"involvedObject.name={name}", "-o", "json"
    )
    assert events.returncode == 0, events.stderr
    (event,) = json.loads(events.stdout)["items"]
    assert (event["type"], event["reason"], event["count"]) == ("Warning", "BackOff", 2)


def test_kubectl_delete_cascades(kube: KubeEmulator, kubectl: Kubectl) -> None:
    kubectl("apply", "--server-side", "-f", str(kubectl.manifest()))
    kube.controller.complete("deploy", "shop", "web")
    deleted = kubectl("delete", "deployment", "web")
    assert deleted.returncode == 0, deleted.stderr
    assert deleted.stdout == 'deployment.apps "web" deleted\n'
    assert kube.objects("Pod", "shop") == []


def test_watch_from_threads_is_not_blocked_by_kubectl(kube: KubeEmulator, kubectl: Kubectl) -> None:
    """A long kubectl watch and other clients share the server."""
    kubectl("apply", "--server-side", "-f", str(kubectl.manifest()))
    process = kubectl.popen("get", "deployments", "--watch", "--request-timeout=5s", "-o", "name")
    try:
        wait_for_watch(kube, "/deployments")
        results: list[int] = []
        thread = threading.Thread(
            target=lambda: results.append(kubectl("get", "configmaps").returncode)
        )
        thread.start()
        thread.join(timeout=30)
        assert results == [0]
    finally:
        process.kill()
        process.communicate()


def test_applyset_prune_with_a_configmap_parent(kube: KubeEmulator, kubectl: Kubectl) -> None:
    kubectl.env["KUBECTL_APPLYSET"] = "true"
    both = kubectl.tmp_path / "both.yaml"
    both.write_text(
        MANIFEST.split("---\n")[1]
        + "---\n"
        + MANIFEST.split("---\n")[1].replace("name: settings", "name: extra")
    )
    one = kubectl.tmp_path / "one.yaml"
    one.write_text(MANIFEST.split("---\n")[1])
    assert kubectl("create", "namespace", "shop").returncode == 0
    args = ["apply", "--server-side", "--applyset=configmap/release", "--prune", "-n", "shop"]
    first = kubectl(*args, "-f", str(both))
    assert first.returncode == 0, first.stderr
    parent = kube.get("ConfigMap", "shop", "release")
    assert parent["metadata"]["annotations"]["applyset.kubernetes.io/contains-group-kinds"] == (
        "ConfigMap"
    )
    set_id = parent["metadata"]["labels"]["applyset.kubernetes.io/id"]
    extra = kube.get("ConfigMap", "shop", "extra")
    assert extra["metadata"]["labels"]["applyset.kubernetes.io/part-of"] == set_id

    second = kubectl(*args, "-f", str(one))
    assert second.returncode == 0, second.stderr
    assert second.stdout == "configmap/settings serverside-applied\nconfigmap/extra pruned\n"
    assert kube.get("ConfigMap", "shop", "extra") is None


def test_kubectl_create_sends_protobuf_the_emulator_reads(
    kube: KubeEmulator, kubectl: Kubectl
) -> None:
    created = kubectl("create", "namespace", "shop")
    assert (created.returncode, created.stdout) == (0, "namespace/shop created\n"), created.stderr
    assert kube.requests[-1].content_type == "application/vnd.kubernetes.protobuf"
    kubectl("create", "configmap", "settings", "--from-literal=mode=fast")
    kubectl("create", "secret", "generic", "token", "--from-literal=value=s3cret")
    assert kube.get("ConfigMap", "shop", "settings")["data"] == {"mode": "fast"}
    secret = kube.get("Secret", "shop", "token")
    assert (secret["type"], secret["data"]) == ("Opaque", {"value": "czNjcmV0"})
    refused = kubectl("create", "deployment", "web", "--image=nginx")
    assert refused.returncode == 1
    assert "the emulator reads protobuf bodies only for" in refused.stderr


TYPO = MANIFEST.format(replicas=2).split("---\n")[2].replace("  replicas: 2\n", "  replicaz: 3\n")


def test_server_side_apply_of_an_undeclared_field_fails_naming_it(
    kube: KubeEmulator, kubectl: Kubectl
) -> None:
    """kubectl's own line for the API server's 500 (kubernetes/kubernetes#122480)."""
    path = kubectl.tmp_path / "typo.yaml"
    path.write_text(TYPO)

    applied = kubectl("apply", "--server-side", "--validate=strict", "-f", str(path))

    assert applied.returncode == 1
    assert applied.stderr == (
        "Error from server: failed to create typed patch object (shop/web; apps/v1, "
        "Kind=Deployment): .spec.replicaz: field not declared in schema\n"
    )
    assert kube.requests[-1].params["fieldValidation"] == "Strict"
    assert kube.get("Deployment", "shop", "web") is None


def test_server_side_apply_of_exported_managed_fields_is_refused(
    kube: KubeEmulator, kubectl: Kubectl
) -> None:
    path = kubectl.tmp_path / "exported.yaml"
    path.write_text(
        MANIFEST.format(replicas=2)
        .split("---\n")[1]
        .replace(
            "  namespace: shop\n",
            "  namespace: shop\n  managedFields:\n  - manager: kubectl\n    operation: Apply\n",
        )
    )

    applied = kubectl("apply", "--server-side", "-f", str(path))

    assert applied.returncode == 1
    assert applied.stderr == "Error from server (BadRequest): metadata.managedFields must be nil\n"
    assert kube.get("ConfigMap", "shop", "settings") is None


def test_create_follows_the_validate_flag(kube: KubeEmulator, kubectl: Kubectl) -> None:
    path = kubectl.tmp_path / "typo.yaml"
    path.write_text(TYPO)
    assert kubectl("create", "namespace", "shop").returncode == 0

    strict = kubectl("create", "--validate=strict", "-f", str(path))
    assert strict.returncode == 1
    assert strict.stderr == (
        f'Error from server (BadRequest): error when creating "{path}": Deployment in version '
        '"v1" cannot be handled as a Deployment: strict decoding error: unknown field '
        '"spec.replicaz"\n'
    )
    assert kube.get("Deployment", "shop", "web") is None

    warned = kubectl("create", "--validate=warn", "-f", str(path))
    assert warned.returncode == 0, warned.stderr
    assert warned.stderr == 'Warning: unknown field "spec.replicaz"\n'
    assert warned.stdout == "deployment.apps/web created\n"
    assert "replicaz" not in kube.get("Deployment", "shop", "web")["spec"]
