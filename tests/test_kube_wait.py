"""The rollout waiter, against the Kubernetes emulator: watch events, not sleeps, end the wait."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from commit_train.kube.apply import ApplyOptions, ObjectRef, apply
from commit_train.kube.wait import WaitResult, wait_for_rollouts
from tests import kube_fixtures
from tests.emulators.kube import Clock, KubeEmulator
from tests.test_kube_apply import NOTES, deployment, namespace

kube = kube_fixtures.kube
kube_client = kube_fixtures.kube_client

NS = "shop"


@pytest.fixture
def frozen() -> Iterator[KubeEmulator]:
    """An emulator whose clock moves only when the test says so."""
    with KubeEmulator(clock=Clock(frozen=True)) as emu:
        yield emu


def stateful_set(name: str) -> dict[str, Any]:
    body = deployment(name, replicas=2)
    body["kind"] = "StatefulSet"
    body["spec"]["serviceName"] = name
    return body


def daemon_set(name: str) -> dict[str, Any]:
    body = deployment(name)
    body["kind"] = "DaemonSet"
    del body["spec"]["replicas"]
    return body


def job(name: str) -> dict[str, Any]:
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": name},
        "spec": {
            "template": {
                "spec": {
                    "restartPolicy": "Never",
                    "containers": [{"name": "migrate", "image": "shop:1"}],
                }
            }
        },
    }


def deploy(api: Any, *objects: dict[str, Any]) -> tuple[ObjectRef, ...]:
    result = apply(
        api, [namespace(), *objects], ApplyOptions(applyset="shop", namespace=NS, annotations=NOTES)
    )
    return result.workloads


def lists(emu: KubeEmulator, plural: str) -> int:
    """List requests (not watches) the waiter made for one resource."""
    return sum(
        1
        for r in emu.requests
        if r.method == "GET" and r.path.endswith(f"/{plural}") and "watch" not in r.params
    )


def watches(emu: KubeEmulator, plural: str) -> int:
    return sum(1 for r in emu.requests if r.path.endswith(f"/{plural}") and "watch" in r.params)


def wait_in_background(
    api: Any, refs: tuple[ObjectRef, ...], *, on_line: Callable[[str, list[str]], None], **kw: Any
) -> tuple[threading.Thread, list[str], list[WaitResult]]:
    """Run the waiter in a thread; ``on_line`` sees each progress line as it comes."""
    lines: list[str] = []
    out: list[WaitResult] = []

    def progress(line: str) -> None:
        lines.append(line)
        on_line(line, lines)

    def target() -> None:
        out.append(wait_for_rollouts(api, refs, on_progress=progress, **kw))

    thread = threading.Thread(target=target)
    thread.start()
    return thread, lines, out


def test_a_finished_rollout_ends_the_wait_through_a_watch_event(
    kube: KubeEmulator, kube_client: Any
):
    refs = deploy(kube_client, deployment("web"))
    kube.reset_requests()

    def on_line(line: str, lines: list[str]) -> None:
        if len(lines) == 1:  # listed: the rollout has not started
            kube.controller.complete("Deployment", NS, "web")

    thread, lines, out = wait_in_background(kube_client, refs, on_line=on_line, timeout=60)
    thread.join(timeout=30)

    result = out[0]
    assert result.ok
    assert lines == [
        "Deployment shop/web: Waiting for deployment spec update to be observed...",
        'Deployment shop/web: deployment "web" successfully rolled out',
    ]
    assert result.summary_line.startswith("1 rollout finished in ")
    assert [(s.done, s.failed) for s in result.statuses] == [(True, False)]
    assert lists(kube, "deployments") == 1  # every change after the list came by the watch
    assert watches(kube, "deployments") == 1


def test_progress_lines_follow_each_change_of_message(kube: KubeEmulator, kube_client: Any):
    refs = deploy(kube_client, deployment("web", replicas=3))
    steps = iter(
        [
            lambda: kube.controller.progress("Deployment", NS, "web", updated=1, ready=0),
            lambda: kube.controller.progress("Deployment", NS, "web", updated=3, ready=2),
            lambda: kube.controller.complete("Deployment", NS, "web"),
        ]
    )

    def on_line(line: str, lines: list[str]) -> None:
        step = next(steps, None)
        if step is not None:
            step()

    thread, lines, out = wait_in_background(kube_client, refs, on_line=on_line, timeout=60)
    thread.join(timeout=30)

    assert out[0].ok
    prefix = 'Deployment shop/web: Waiting for deployment "web" rollout to finish: '
    assert lines == [
        "Deployment shop/web: Waiting for deployment spec update to be observed...",
        prefix + "1 out of 3 new replicas have been updated...",
        prefix + "2 of 3 updated replicas are available...",
        'Deployment shop/web: deployment "web" successfully rolled out',
    ]


def test_every_kind_is_followed_at_once(kube: KubeEmulator, kube_client: Any):
    kube.controller.auto_complete(delay=0.05)
    refs = deploy(
        kube_client, deployment("web"), stateful_set("db"), daemon_set("agent"), job("mig")
    )

    result = wait_for_rollouts(kube_client, refs, timeout=60, on_progress=None)

    assert result.ok, result.summary_line
    assert [s.message for s in result.statuses] == [
        'deployment "web" successfully rolled out',
        "partitioned roll out complete: 2 new pods have been updated...",
        'daemon set "agent" successfully rolled out',
        'job "mig" successfully completed',
    ]


def test_a_crash_looping_rollout_times_out_with_a_diagnosis(
    frozen: KubeEmulator,
):
    api = frozen.api_client()
    refs = deploy(api, deployment("web", replicas=1))

    def on_line(line: str, lines: list[str]) -> None:
        if len(lines) == 1:
            frozen.controller.progress("Deployment", NS, "web", updated=1, ready=0)
            pod = frozen.controller.pods("Deployment", NS, "web")[0]["metadata"]["name"]
            frozen.controller.crash_loop(NS, pod, container="app", exit_code=137)
        elif len(lines) == 2:
            frozen.clock.advance(301)  # the waiter's clock below reads this one

    thread, _lines, out = wait_in_background(
        api, refs, on_line=on_line, timeout=300, clock=lambda: frozen.clock.now().timestamp()
    )
    thread.join(timeout=30)

    result = out[0]
    assert not result.ok
    assert result.timed_out
    diagnosis = result.diagnoses[refs[0]]
    assert "app" in diagnosis.summary
    assert "CrashLoopBackOff" in diagnosis.summary
    assert result.summary_line == (
        'rollout timed out after 301s: Deployment shop/web: Waiting for deployment "web" rollout '
        "to finish: 0 of 1 updated replicas are available... "
        "(web: container app in CrashLoopBackOff (exit 137, 3 restarts))"
    )


def test_progress_deadline_exceeded_ends_the_wait_as_a_failure(
    kube: KubeEmulator, kube_client: Any
):
    refs = deploy(kube_client, deployment("web"))

    def on_line(line: str, lines: list[str]) -> None:
        if len(lines) == 1:
            kube.controller.exceed_deadline("Deployment", NS, "web")

    thread, _lines, out = wait_in_background(kube_client, refs, on_line=on_line, timeout=60)
    thread.join(timeout=30)

    result = out[0]
    assert not result.ok
    assert not result.timed_out
    assert result.statuses[0].failed
    assert result.statuses[0].message == 'deployment "web" exceeded its progress deadline'
    assert result.summary_line.startswith(
        'rollout failed: Deployment shop/web: deployment "web" exceeded its progress deadline ('
    )
    assert refs[0] in result.diagnoses


def test_a_failed_job_ends_the_wait(kube: KubeEmulator, kube_client: Any):
    refs = deploy(kube_client, job("migrate"))

    def on_line(line: str, lines: list[str]) -> None:
        if len(lines) == 1:
            kube.controller.fail("Job", NS, "migrate")

    thread, _lines, out = wait_in_background(kube_client, refs, on_line=on_line, timeout=60)
    thread.join(timeout=30)

    assert not out[0].ok
    assert out[0].statuses[0].message == (
        'job "migrate" failed: BackoffLimitExceeded: Job has reached the specified backoff limit'
    )


def test_a_gone_watch_lists_again_and_still_finishes(kube: KubeEmulator, kube_client: Any):
    refs = deploy(kube_client, deployment("web"))
    kube.reset_requests()

    def on_line(line: str, lines: list[str]) -> None:
        if len(lines) != 1:
            return
        for _ in range(1000):  # the watch request has arrived (bounded: at most ~10 s)
            if watches(kube, "deployments"):
                break
            time.sleep(0.01)
        # Holding the store's lock, change the object and forget the history: the open watch
        # (or the one about to open) is now behind the oldest version the server remembers,
        # so it gets 410 Gone or is closed, and the waiter must list again to see the change.
        with kube.store.cond:
            kube.controller.progress("Deployment", NS, "web", updated=1)
            kube.controller.complete("Deployment", NS, "web")
            kube.compact()

    thread, _lines, out = wait_in_background(kube_client, refs, on_line=on_line, timeout=60)
    thread.join(timeout=30)

    assert out[0].ok
    assert lists(kube, "deployments") == 2


def test_a_failing_list_is_retried(kube: KubeEmulator, kube_client: Any):
    refs = deploy(kube_client, deployment("web"))
    kube.controller.complete("Deployment", NS, "web")
    kube.reset_requests()
    kube.fail_next(503, method="GET", path_contains="/deployments", reason="ServiceUnavailable")

    result = wait_for_rollouts(kube_client, refs, timeout=60, on_progress=None)

    assert result.ok
    assert lists(kube, "deployments") == 2


def test_a_workload_deleted_while_waiting_fails(kube: KubeEmulator, kube_client: Any):
    refs = deploy(kube_client, deployment("web"))

    def on_line(line: str, lines: list[str]) -> None:
        if len(lines) == 1:
            kube.store.delete(kube.rtype("Deployment"), NS, "web")

    thread, _lines, out = wait_in_background(kube_client, refs, on_line=on_line, timeout=60)
    thread.join(timeout=30)

    assert not out[0].ok
    assert out[0].statuses[0].message == "Deployment shop/web was deleted"


def test_nothing_to_wait_for(kube: KubeEmulator, kube_client: Any):
    kube.reset_requests()
    refs = (ObjectRef("v1", "ConfigMap", "settings", NS),)

    result = wait_for_rollouts(kube_client, refs, timeout=1, on_progress=None)

    assert result.ok
    assert result.summary_line == "no rollouts to wait for"
    assert kube.request_count == 0
