"""``diagnose`` explains a stuck rollout the way the person on call needs it.

Every case is a realistic set of API objects (a Deployment or Job, its pods and its events,
as ``kubectl get -o json`` shows them) with the exact one-line summary a GitHub deployment
status would carry.
"""

from __future__ import annotations

import copy
import subprocess
import sys
from datetime import UTC, datetime
from typing import Any

import pytest

from commit_train.core.text import DESCRIPTION_LIMIT
from commit_train.errors import KubeError
from commit_train.kube.diagnose import (
    Diagnosis,
    diagnose,
    pods_of,
    selector_matches,
)

NS = "prod"
IMAGE = "ghcr.io/acme/web:1a2b3c4d5e6f"
SCHEDULER = (
    "0/3 nodes are available: 3 Insufficient cpu. preemption: 0/3 nodes are available: "
    "3 No preemption victims found for incoming pod."
)


def deployment(*, conditions: list[dict[str, Any]] | None = None, **st: Any) -> dict[str, Any]:
    status = {
        "observedGeneration": 4,
        "replicas": 4,
        "updatedReplicas": 3,
        "readyReplicas": 3,
        "availableReplicas": 3,
        "unavailableReplicas": 1,
        "conditions": conditions
        or [
            {
                "type": "Available",
                "status": "True",
                "reason": "MinimumReplicasAvailable",
                "message": "Deployment has minimum availability.",
            },
            {
                "type": "Progressing",
                "status": "True",
                "reason": "ReplicaSetUpdated",
                "message": 'ReplicaSet "web-7d9c6b5f4" is progressing.',
            },
        ],
    }
    status.update(st)
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {
            "name": "web",
            "namespace": NS,
            "generation": 4,
            "annotations": {"deployment.kubernetes.io/revision": "4"},
        },
        "spec": {
            "replicas": 3,
            "selector": {"matchLabels": {"app": "web"}},
            "strategy": {"type": "RollingUpdate"},
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {
                    "containers": [
                        {
                            "name": "app",
                            "image": IMAGE,
                            "env": [{"name": "DB_PASSWORD", "value": "hunter2"}],
                        }
                    ]
                },
            },
        },
        "status": status,
    }


def container_status(
    name: str = "app",
    *,
    state: dict[str, Any] | None = None,
    last: dict[str, Any] | None = None,
    ready: bool = False,
    restarts: int = 0,
    image: str = IMAGE,
) -> dict[str, Any]:
    return {
        "name": name,
        "image": image,
        "imageID": "",
        "ready": ready,
        "started": False,
        "restartCount": restarts,
        "state": state or {"running": {"startedAt": "2024-05-01T10:00:00Z"}},
        "lastState": {"terminated": last} if last else {},
    }


def pod(
    name: str,
    *statuses: dict[str, Any],
    phase: str = "Running",
    init: list[dict[str, Any]] | None = None,
    conditions: list[dict[str, Any]] | None = None,
    labels: dict[str, str] | None = None,
    **extra: Any,
) -> dict[str, Any]:
    status: dict[str, Any] = {"phase": phase, "conditions": conditions or []}
    if statuses:
        status["containerStatuses"] = list(statuses)
    if init:
        status["initContainerStatuses"] = init
    status.update(extra)
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": name,
            "namespace": NS,
            "labels": labels or {"app": "web", "pod-template-hash": "7d9c6b5f4"},
        },
        "spec": {
            "initContainers": [{"name": "wait-db", "image": "busybox:1.36"}],
            "containers": [
                {
                    "name": "app",
                    "image": IMAGE,
                    "env": [{"name": "DB_PASSWORD", "value": "hunter2"}],
                }
            ],
        },
        "status": status,
    }


def event(
    obj: str,
    reason: str,
    message: str,
    *,
    at: str = "2024-05-01T10:05:00Z",
    kind: str = "Pod",
    count: int = 1,
    type_: str = "Warning",
    container: str | None = "app",
    namespace: str = NS,
) -> dict[str, Any]:
    involved = {"kind": kind, "name": obj, "namespace": namespace}
    if kind == "Pod" and container:
        involved["fieldPath"] = f"spec.containers{{{container}}}"
    return {
        "apiVersion": "v1",
        "kind": "Event",
        "metadata": {"name": f"{obj}.17c9a", "namespace": namespace},
        "involvedObject": involved,
        "reason": reason,
        "message": message,
        "type": type_,
        "count": count,
        "firstTimestamp": "2024-05-01T10:00:00Z",
        "lastTimestamp": at,
        "source": {"component": "kubelet"},
    }


def crash(restarts: int = 5, *, exit_code: int = 1, reason: str = "Error", message: str = ""):
    last = {
        "exitCode": exit_code,
        "reason": reason,
        "startedAt": "2024-05-01T10:03:00Z",
        "finishedAt": "2024-05-01T10:03:02Z",
    }
    if message:
        last["message"] = message
    return container_status(
        state={
            "waiting": {
                "reason": "CrashLoopBackOff",
                "message": "back-off 2m40s restarting failed container=app "
                "pod=web-7d9c6b5f4-abcde_prod(0b1c)",
            }
        },
        last=last,
        restarts=restarts,
    )


def waiting(reason: str, message: str = "", name: str = "app") -> dict[str, Any]:
    state: dict[str, Any] = {"reason": reason}
    if message:
        state["message"] = message
    return container_status(name, state={"waiting": state})


HEALTHY = pod("web-7d9c6b5f4-ok111", container_status(ready=True))
UNSCHEDULABLE = [
    {
        "type": "PodScheduled",
        "status": "False",
        "reason": "Unschedulable",
        "message": SCHEDULER,
    }
]

CASES = [
    pytest.param(
        deployment(),
        [HEALTHY, pod("web-7d9c6b5f4-abcde", crash())],
        [],
        "web: container app in CrashLoopBackOff (exit 1, 5 restarts)",
        id="crash loop",
    ),
    pytest.param(
        deployment(),
        [
            pod(
                "web-7d9c6b5f4-abcde",
                crash(
                    message="connecting to db\npanic: dial tcp 10.0.0.5:5432: connect: "
                    "connection refused\n\ngoroutine 1 [running]:\nmain.main()"
                ),
            )
        ],
        [],
        "web: container app in CrashLoopBackOff (exit 1, 5 restarts): panic: dial tcp "
        "10.0.0.5:5432: connect: connection refused",
        id="crash loop with a Go panic",
    ),
    pytest.param(
        deployment(),
        [
            pod(
                "web-7d9c6b5f4-abcde",
                crash(
                    message='Traceback (most recent call last):\n  File "app.py", line 3\n'
                    "KeyError: 'DATABASE_URL'\n"
                ),
            )
        ],
        [],
        "web: container app in CrashLoopBackOff (exit 1, 5 restarts): KeyError: 'DATABASE_URL'",
        id="crash loop with a Python traceback",
    ),
    pytest.param(
        deployment(),
        [
            pod("web-7d9c6b5f4-aaaaa", crash(3)),
            pod("web-7d9c6b5f4-bbbbb", crash(7)),
            pod("web-7d9c6b5f4-ccccc", crash(1)),
        ],
        [],
        "web: container app in CrashLoopBackOff on 3 pods (exit 1, 7 restarts)",
        id="crash loop on several pods names the worst",
    ),
    pytest.param(
        deployment(),
        [pod("web-7d9c6b5f4-abcde", crash(1, exit_code=137, reason="OOMKilled"))],
        [],
        "web: container app in CrashLoopBackOff (OOMKilled, exit 137, 1 restart)",
        id="out of memory",
    ),
    pytest.param(
        deployment(),
        [pod("web-7d9c6b5f4-abcde", crash(4, exit_code=137))],
        [
            event(
                "web-7d9c6b5f4-abcde",
                "Unhealthy",
                "Liveness probe failed: HTTP probe failed with statuscode: 500",
                count=12,
            )
        ],
        "web: container app in CrashLoopBackOff (exit 137, 4 restarts): Liveness probe failed: "
        "HTTP probe failed with statuscode: 500",
        id="killed by its liveness probe",
    ),
    pytest.param(
        deployment(),
        [
            pod(
                "web-7d9c6b5f4-abcde",
                waiting("ImagePullBackOff", f'Back-off pulling image "{IMAGE}"'),
            )
        ],
        [
            event(
                "web-7d9c6b5f4-abcde",
                "Failed",
                f'Failed to pull image "{IMAGE}": rpc error: code = NotFound desc = not found',
            )
        ],
        f"web: container app cannot pull image {IMAGE} (ImagePullBackOff)",
        id="image pull back-off",
    ),
    pytest.param(
        deployment(),
        [
            pod(
                "web-7d9c6b5f4-abcde",
                waiting("ErrImagePull", "rpc error: code = Unknown desc = 401 Unauthorized"),
            )
        ],
        [],
        f"web: container app cannot pull image {IMAGE} (ErrImagePull)",
        id="image pull error",
    ),
    pytest.param(
        deployment(),
        [
            pod(
                "web-7d9c6b5f4-abcde",
                waiting("CreateContainerConfigError", 'secret "web-secrets" not found'),
            )
        ],
        [],
        'web: container app cannot start (CreateContainerConfigError): secret "web-secrets" '
        "not found",
        id="missing secret",
    ),
    pytest.param(
        deployment(),
        [
            pod(
                "web-7d9c6b5f4-abcde",
                waiting(
                    "CreateContainerConfigError",
                    "couldn't find key DB_PASSWORD in Secret prod/web-secrets",
                ),
            )
        ],
        [],
        "web: container app cannot start (CreateContainerConfigError): couldn't find key "
        "DB_PASSWORD in Secret prod/web-secrets",
        id="missing secret key",
    ),
    pytest.param(
        deployment(),
        [pod("web-7d9c6b5f4-abcde", phase="Pending", conditions=UNSCHEDULABLE)],
        [
            event(
                "web-7d9c6b5f4-abcde",
                "FailedScheduling",
                SCHEDULER,
                container=None,
            )
        ],
        "web: pod web-7d9c6b5f4-abcde cannot be scheduled: 0/3 nodes are available: 3 "
        "Insufficient cpu. preemption: 0/3 nodes are available: 3 No…",
        id="unschedulable, cut at 140 characters",
    ),
    pytest.param(
        deployment(),
        [
            pod("web-7d9c6b5f4-aaaaa", phase="Pending", conditions=UNSCHEDULABLE),
            pod("web-7d9c6b5f4-bbbbb", phase="Pending", conditions=UNSCHEDULABLE),
        ],
        [],
        "web: 2 pods cannot be scheduled: 0/3 nodes are available: 3 Insufficient cpu. "
        "preemption: 0/3 nodes are available: 3 No preemption victims…",
        id="several pods unschedulable",
    ),
    pytest.param(
        deployment(),
        [
            pod(
                "web-7d9c6b5f4-abcde",
                phase="Pending",
                conditions=[{"type": "PodScheduled", "status": "False", "reason": "Unschedulable"}],
            )
        ],
        [
            event(
                "web-7d9c6b5f4-abcde",
                "FailedScheduling",
                "0/3 nodes are available: 3 node(s) had untolerated taint {dedicated: gpu}.",
                container=None,
            )
        ],
        "web: pod web-7d9c6b5f4-abcde cannot be scheduled: 0/3 nodes are available: 3 node(s) "
        "had untolerated taint {dedicated: gpu}.",
        id="unschedulable, message from the scheduler's event",
    ),
    pytest.param(
        deployment(),
        [HEALTHY, pod("web-7d9c6b5f4-abcde", container_status())],
        [
            event(
                "web-7d9c6b5f4-abcde",
                "Unhealthy",
                "Readiness probe failed: HTTP probe failed with statuscode: 503",
                count=30,
            ),
            event(
                "web-7d9c6b5f4-abcde",
                "Unhealthy",
                'Readiness probe failed: Get "http://10.1.2.3:8080/ready": dial tcp '
                "10.1.2.3:8080: connect: connection refused",
                at="2024-05-01T10:01:00Z",
            ),
        ],
        "web: container app is running but not ready: Readiness probe failed: HTTP probe failed "
        "with statuscode: 503",
        id="failing readiness probe, newest message",
    ),
    pytest.param(
        deployment(
            conditions=[
                {
                    "type": "ReplicaFailure",
                    "status": "True",
                    "reason": "FailedCreate",
                    "message": 'pods "web-7d9c6b5f4-x7k2p" is forbidden: exceeded quota: '
                    "compute, requested: cpu=500m, used: cpu=2, limited: cpu=2",
                }
            ]
        ),
        [HEALTHY],
        [],
        'web: cannot create pods (FailedCreate): pods "web-7d9c6b5f4-x7k2p" is forbidden: '
        "exceeded quota: compute, requested: cpu=500m, used: cpu=2…",
        id="quota exceeded",
    ),
    pytest.param(
        deployment(),
        [pod("web-7d9c6b5f4-abcde", waiting("ContainerCreating"), phase="Pending")],
        [
            event(
                "web-7d9c6b5f4-abcde",
                "FailedMount",
                'MountVolume.SetUp failed for volume "config" : configmap "web-config" not found',
                container=None,
            )
        ],
        "web: pod web-7d9c6b5f4-abcde stuck in ContainerCreating: FailedMount: MountVolume.SetUp "
        'failed for volume "config" : configmap "web-config"…',
        id="volume that cannot mount",
    ),
    pytest.param(
        deployment(),
        [pod("web-7d9c6b5f4-abcde", waiting("ContainerCreating"), phase="Pending")],
        [],
        'web: Waiting for deployment "web" rollout to finish: 1 old replicas are pending '
        "termination...",
        id="nothing wrong yet: kubectl's line",
    ),
    pytest.param(
        deployment(
            conditions=[
                {
                    "type": "Progressing",
                    "status": "False",
                    "reason": "ProgressDeadlineExceeded",
                    "message": 'ReplicaSet "web-7d9c6b5f4" has timed out progressing.',
                }
            ]
        ),
        [HEALTHY],
        [],
        'web: deployment "web" exceeded its progress deadline',
        id="deadline with no other clue",
    ),
    pytest.param(
        deployment(),
        [HEALTHY],
        [
            event(
                "web-7d9c6b5f4",
                "FailedCreate",
                'Error creating: pods "web-7d9c6b5f4-q" is forbidden: violates PodSecurity '
                '"restricted:latest": runAsNonRoot != true',
                kind="ReplicaSet",
            )
        ],
        'web: FailedCreate: Error creating: pods "web-7d9c6b5f4-q" is forbidden: violates '
        'PodSecurity "restricted:latest": runAsNonRoot != true',
        id="replica set warning event",
    ),
    pytest.param(
        deployment(),
        [
            pod(
                "web-7d9c6b5f4-abcde",
                phase="Pending",
                init=[
                    {
                        **crash(4),
                        "name": "wait-db",
                        "image": "busybox:1.36",
                    }
                ],
            )
        ],
        [],
        "web: init container wait-db in CrashLoopBackOff (exit 1, 4 restarts)",
        id="init container crash loop",
    ),
    pytest.param(
        deployment(),
        [
            pod(
                "web-7d9c6b5f4-abcde",
                phase="Failed",
                reason="Evicted",
                message="The node was low on resource: memory. Threshold quantity: 100Mi, "
                "available: 91Mi.",
            )
        ],
        [],
        "web: pod web-7d9c6b5f4-abcde failed (Evicted): The node was low on resource: memory. "
        "Threshold quantity: 100Mi, available: 91Mi.",
        id="evicted pod",
    ),
    pytest.param(
        deployment(),
        [
            pod("web-7d9c6b5f4-aaaaa", phase="Pending", conditions=UNSCHEDULABLE),
            pod("web-7d9c6b5f4-bbbbb", container_status()),
            pod("web-7d9c6b5f4-ccccc", crash(2)),
        ],
        [],
        "web: container app in CrashLoopBackOff (exit 1, 2 restarts); pod web-7d9c6b5f4-aaaaa "
        "cannot be scheduled: 0/3 nodes are available: 3…",
        id="the crash comes before the scheduling, readiness last",
    ),
    pytest.param(
        deployment(),
        [
            pod(
                "web-7d9c6b5f4-abcde",
                waiting("ImagePullBackOff"),
                waiting("CrashLoopBackOff", name="sidecar"),
            )
        ],
        [],
        f"web: container app cannot pull image {IMAGE} (ImagePullBackOff); container sidecar "
        "in CrashLoopBackOff (0 restarts)",
        id="an image that cannot be pulled comes first",
    ),
    pytest.param(
        deployment(),
        [
            pod("other-1", crash(9), labels={"app": "other"}),
            {
                **pod("web-7d9c6b5f4-old11", crash(9)),
                "metadata": {
                    "name": "web-7d9c6b5f4-old11",
                    "namespace": NS,
                    "labels": {"app": "web"},
                    "deletionTimestamp": "2024-05-01T10:04:00Z",
                },
            },
            {
                **pod("web-7d9c6b5f4-elsewhere", crash(9)),
                "metadata": {"name": "web-x", "namespace": "staging", "labels": {"app": "web"}},
            },
        ],
        [],
        'web: Waiting for deployment "web" rollout to finish: 1 old replicas are pending '
        "termination...",
        id="other workloads, terminating pods and other namespaces are ignored",
    ),
]


@pytest.mark.parametrize(("workload", "pods", "events", "summary"), CASES)
def test_summary(
    workload: dict[str, Any], pods: list[dict[str, Any]], events: list[dict[str, Any]], summary: str
) -> None:
    result = diagnose(workload, pods, events)
    assert result.summary == summary
    assert len(result.summary) <= DESCRIPTION_LIMIT
    assert "\n" not in result.summary


def job_pod(name: str, *statuses: dict[str, Any], phase: str = "Failed") -> dict[str, Any]:
    p = pod(name, *statuses, phase=phase, labels={"batch.kubernetes.io/job-name": "migrate"})
    p["metadata"]["labels"]["batch.kubernetes.io/controller-uid"] = "4f1c"
    return p


JOB = {
    "apiVersion": "batch/v1",
    "kind": "Job",
    "metadata": {"name": "migrate", "namespace": NS, "generation": 1},
    "spec": {
        "backoffLimit": 1,
        "completions": 1,
        "selector": {"matchLabels": {"batch.kubernetes.io/controller-uid": "4f1c"}},
    },
    "status": {
        "failed": 2,
        "conditions": [
            {
                "type": "Failed",
                "status": "True",
                "reason": "BackoffLimitExceeded",
                "message": "Job has reached the specified backoff limit",
            }
        ],
    },
}


def test_failed_job_names_its_container_error() -> None:
    exited = container_status(
        "migrate",
        state={
            "terminated": {
                "exitCode": 2,
                "reason": "Error",
                "message": 'ERROR: relation "users" does not exist\n',
                "finishedAt": "2024-05-01T10:02:00Z",
            }
        },
    )
    result = diagnose(JOB, [job_pod("migrate-abcde", exited), job_pod("migrate-fghij", exited)], [])
    assert result == Diagnosis(
        summary='migrate: container migrate failed on 2 pods (exit 2): ERROR: relation "users" '
        "does not exist",
        details=(
            'Job prod/migrate: job "migrate" failed: BackoffLimitExceeded: Job has reached the '
            "specified backoff limit",
            "Condition Failed=True (BackoffLimitExceeded): Job has reached the specified backoff "
            "limit",
            'Pod migrate-abcde: container migrate failed (exit 2): ERROR: relation "users" does '
            "not exist",
            'Pod migrate-fghij: container migrate failed (exit 2): ERROR: relation "users" does '
            "not exist",
        ),
    )


def test_failed_job_without_pods_uses_its_condition() -> None:
    assert diagnose(JOB, [], []).summary == (
        'migrate: job "migrate" failed: BackoffLimitExceeded: Job has reached the specified '
        "backoff limit"
    )


def test_details_tell_the_whole_story() -> None:
    workload = deployment(
        conditions=[
            {"type": "Available", "status": "True", "reason": "MinimumReplicasAvailable"},
            {
                "type": "Progressing",
                "status": "False",
                "reason": "ProgressDeadlineExceeded",
                "message": 'ReplicaSet "web-7d9c6b5f4" has timed out progressing.',
            },
        ]
    )
    pods = [
        HEALTHY,
        pod("web-7d9c6b5f4-aaaaa", crash(6, message="fatal: config.yaml: no such file")),
        pod("web-7d9c6b5f4-bbbbb", waiting("ErrImagePull", "manifest unknown")),
    ]
    events = [
        event(
            "web-7d9c6b5f4-aaaaa",
            "BackOff",
            "Back-off restarting failed container app in pod web-7d9c6b5f4-aaaaa_prod(0b1c)",
            at="2024-05-01T10:06:00Z",
            count=14,
        ),
        event("web-7d9c6b5f4-bbbbb", "Failed", "Error: ErrImagePull", at="2024-05-01T10:04:00Z"),
        event("web-7d9c6b5f4-aaaaa", "Started", "Started container app", type_="Normal"),
        event("web", "ScalingReplicaSet", "Scaled up", kind="Deployment", type_="Normal"),
    ]
    result = diagnose(workload, pods, events)
    assert result.summary == (
        f"web: container app cannot pull image {IMAGE} (ErrImagePull); container app in "
        "CrashLoopBackOff (exit 1, 6 restarts)…"
    )
    assert result.details == (
        'Deployment prod/web: deployment "web" exceeded its progress deadline',
        'Condition Progressing=False (ProgressDeadlineExceeded): ReplicaSet "web-7d9c6b5f4" has '
        "timed out progressing.",
        f"Pod web-7d9c6b5f4-bbbbb: container app cannot pull image {IMAGE} (ErrImagePull): "
        "manifest unknown",
        "Pod web-7d9c6b5f4-aaaaa: container app in CrashLoopBackOff, 6 restarts; last exit code "
        "1 (Error) at 2024-05-01T10:03:02Z: fatal: config.yaml: no such file",
        "Warning events (newest first):",
        "  2024-05-01T10:06:00Z Pod/web-7d9c6b5f4-aaaaa BackOff: Back-off restarting failed "
        "container app in pod web-7d9c6b5f4-aaaaa_prod(0b1c) (x14)",
        "  2024-05-01T10:04:00Z Pod/web-7d9c6b5f4-bbbbb Failed: Error: ErrImagePull",
    )


def unhealthy(pod_name: str, at: str, count: int) -> dict[str, Any]:
    return event(
        pod_name,
        "Unhealthy",
        "Readiness probe failed: HTTP probe failed with statuscode: 503",
        at=at,
        count=count,
    )


def test_events_are_deduplicated_newest_first_and_filtered() -> None:
    pods = [pod(f"web-7d9c6b5f4-{n}", container_status()) for n in ("aaaaa", "bbbbb", "ccccc")]
    events = [
        unhealthy("web-7d9c6b5f4-aaaaa", "2024-05-01T10:01:00Z", 4),
        unhealthy("web-7d9c6b5f4-bbbbb", "2024-05-01T10:03:00Z", 5),
        unhealthy("web-7d9c6b5f4-ccccc", "2024-05-01T10:02:00Z", 6),
        unhealthy("web-7d9c6b5f4-ccccc", "2024-05-01T10:02:00Z", 6) | {"type": "Normal"},
        event("web", "FailedCreate", "quota", kind="Deployment", at="2024-05-01T10:04:00Z"),
        event("api-6f5d", "FailedCreate", "not ours", kind="ReplicaSet"),
        event("web-7d9c6b5f4-zzzzz", "BackOff", "a pod that is not selected"),
        event("web", "FailedCreate", "another namespace", kind="Deployment", namespace="dev"),
        event("web-secrets", "FailedSync", "value hunter2", kind="Secret"),
        {
            "apiVersion": "events.k8s.io/v1",
            "kind": "Event",
            "metadata": {"name": "web.1", "namespace": NS},
            "regarding": {"kind": "Deployment", "name": "web", "namespace": NS},
            "reason": "SelectorOverlap",
            "note": "new style event",
            "type": "Warning",
            "eventTime": "2024-05-01T10:05:00.123456Z",
            "series": {"count": 3, "lastObservedTime": "2024-05-01T10:07:00.000000Z"},
        },
    ]
    result = diagnose(deployment(), pods, events)
    start = result.details.index("Warning events (newest first):")
    assert result.details[start + 1 :] == (
        "  2024-05-01T10:07:00Z Deployment/web SelectorOverlap: new style event (x3)",
        "  2024-05-01T10:04:00Z Deployment/web FailedCreate: quota",
        "  2024-05-01T10:03:00Z Pod/web-7d9c6b5f4-bbbbb (+2 more) Unhealthy: Readiness probe "
        "failed: HTTP probe failed with statuscode: 503 (x15)",
    )
    assert result.summary == (
        "web: container app is running but not ready on 3 pods: Readiness probe failed: HTTP "
        "probe failed with statuscode: 503"
    )

    recent = diagnose(deployment(), pods, events, since=datetime(2024, 5, 1, 10, 3, 30, tzinfo=UTC))
    assert recent.details[recent.details.index("Warning events (newest first):") + 1 :] == (
        "  2024-05-01T10:07:00Z Deployment/web SelectorOverlap: new style event (x3)",
        "  2024-05-01T10:04:00Z Deployment/web FailedCreate: quota",
    )
    naive = diagnose(deployment(), pods, events, since=datetime(2024, 5, 1, 10, 3, 30))
    assert naive.details == recent.details
    capped = diagnose(deployment(), pods, events, max_events=1)
    assert capped.details[-2:] == (
        "Warning events (newest first):",
        "  2024-05-01T10:07:00Z Deployment/web SelectorOverlap: new style event (x3)",
    )


def test_no_secret_value_ever_appears() -> None:
    pods = [pod("web-7d9c6b5f4-abcde", waiting("CreateContainerConfigError", "secret missing"))]
    events = [
        event("web-secrets", "FailedSync", "DB_PASSWORD=hunter2", kind="Secret"),
        event("web-7d9c6b5f4-abcde", "Failed", "Error: secret missing"),
    ]
    result = diagnose(deployment(), pods, events)
    text = "\n".join((result.summary, *result.details))
    assert "hunter2" not in text
    assert "DB_PASSWORD" not in text


def test_long_messages_stay_short_in_details() -> None:
    trace = "\n".join(f"  at frame{i} (app.js:{i})" for i in range(200)) + "\nError: boom"
    result = diagnose(deployment(), [pod("web-7d9c6b5f4-abcde", crash(message=trace))], [])
    assert (
        result.summary == "web: container app in CrashLoopBackOff (exit 1, 5 restarts): Error: boom"
    )
    crash_line = next(line for line in result.details if "CrashLoopBackOff" in line)
    assert crash_line.endswith("…")
    assert len(crash_line) < 450


def test_workload_kind_given_for_a_list_item() -> None:
    item = copy.deepcopy(deployment())
    del item["kind"], item["apiVersion"]
    result = diagnose(item, [pod("web-7d9c6b5f4-abcde", crash())], [], kind="Deployment")
    assert result.details[0].startswith('Deployment prod/web: Waiting for deployment "web"')


@pytest.mark.parametrize(
    ("selector", "labels", "matches"),
    [
        ({"matchLabels": {"app": "web"}}, {"app": "web", "tier": "front"}, True),
        ({"matchLabels": {"app": "web"}}, {"app": "api"}, False),
        ({"matchLabels": {"app": "web"}}, {}, False),
        ({"matchLabels": {"app": "web"}}, None, False),
        ({"matchLabels": {"app": "web", "tier": "front"}}, {"app": "web"}, False),
        ({}, {"anything": "x"}, True),
        ({}, {}, True),
        (None, {"app": "web"}, False),
        (
            _in := {"matchExpressions": [{"key": "env", "operator": "In", "values": ["a", "b"]}]},
            {"env": "b"},
            True,
        ),
        (_in, {"env": "c"}, False),
        (_in, {}, False),
        (
            _notin := {"matchExpressions": [{"key": "env", "operator": "NotIn", "values": ["a"]}]},
            {"env": "b"},
            True,
        ),
        (_notin, {"env": "a"}, False),
        (_notin, {}, True),
        (
            _exists := {"matchExpressions": [{"key": "canary", "operator": "Exists"}]},
            {"canary": ""},
            True,
        ),
        (_exists, {"app": "web"}, False),
        (
            _absent := {"matchExpressions": [{"key": "canary", "operator": "DoesNotExist"}]},
            {"app": "web"},
            True,
        ),
        (_absent, {"canary": "true"}, False),
        (
            {
                "matchLabels": {"app": "web"},
                "matchExpressions": [
                    {"key": "track", "operator": "In", "values": ["stable"]},
                    {"key": "canary", "operator": "DoesNotExist"},
                ],
            },
            {"app": "web", "track": "stable"},
            True,
        ),
        (
            {
                "matchLabels": {"app": "web"},
                "matchExpressions": [
                    {"key": "track", "operator": "In", "values": ["stable"]},
                    {"key": "canary", "operator": "DoesNotExist"},
                ],
            },
            {"app": "web", "track": "stable", "canary": "1"},
            False,
        ),
        (
            {"matchExpressions": [{"key": "env", "operator": "In", "values": []}]},
            {"env": ""},
            False,
        ),
    ],
)
def test_selector_matches(selector: Any, labels: Any, matches: bool) -> None:
    assert selector_matches(selector, labels) is matches


def test_unknown_selector_operator_is_an_error() -> None:
    selector = {"matchExpressions": [{"key": "env", "operator": "Gt", "values": ["1"]}]}
    with pytest.raises(KubeError) as caught:
        selector_matches(selector, {"env": "2"})
    assert str(caught.value) == (
        "unknown label selector operator 'Gt' for key 'env'; use In, NotIn, Exists or DoesNotExist"
    )


def test_pods_of_uses_the_template_labels_without_a_selector() -> None:
    workload = deployment()
    del workload["spec"]["selector"]
    mine = pod("web-1", container_status())
    other = pod("api-1", container_status(), labels={"app": "api"})
    assert pods_of(workload, [mine, other]) == [mine]


def test_quota_failure_details_say_it_once() -> None:
    workload = deployment(
        conditions=[
            {
                "type": "ReplicaFailure",
                "status": "True",
                "reason": "FailedCreate",
                "message": 'pods "web-7d9c6b5f4-x7k2p" is forbidden: exceeded quota: compute',
            }
        ]
    )
    assert diagnose(workload, [], []).details == (
        'Deployment prod/web: Waiting for deployment "web" rollout to finish: 1 old replicas '
        "are pending termination...",
        'Condition ReplicaFailure=True (FailedCreate): pods "web-7d9c6b5f4-x7k2p" is forbidden: '
        "exceeded quota: compute",
    )


def test_rollout_and_diagnose_do_not_load_the_kubernetes_client() -> None:
    code = (
        "import sys, commit_train.kube.rollout, commit_train.kube.diagnose; "
        "print(sorted(m for m in sys.modules if m.split('.')[0] == 'kubernetes'))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout == "[]\n"
