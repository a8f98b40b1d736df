"""``rollout.status`` answers what ``kubectl rollout status`` answers.

The Deployment, DaemonSet and StatefulSet tables are kubectl's own status viewer test cases
(same inputs, same messages, same done flags), followed by the cases kubectl handles in code
without a table entry (progress deadline, pinned revisions) and our own Job support.
"""

from __future__ import annotations

import copy
import json
import os
import shutil
import subprocess
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlparse

import pytest

from commit_train.errors import UsageError
from commit_train.kube.rollout import RolloutStatus, kind_supported, status


def deployment(
    *, generation: int, spec_replicas: int | None, status_: dict[str, Any], **meta: Any
) -> dict[str, Any]:
    spec: dict[str, Any] = {}
    if spec_replicas is not None:
        spec["replicas"] = spec_replicas
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {
            "namespace": "bar",
            "name": "foo",
            "uid": "8764ae47-9092-11e4-8393-42010af018ff",
            "generation": generation,
            **meta,
        },
        "spec": spec,
        "status": status_,
    }


def daemon_set(
    *, generation: int, status_: dict[str, Any], strategy: str = "RollingUpdate"
) -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "DaemonSet",
        "metadata": {"namespace": "bar", "name": "foo", "generation": generation},
        "spec": {"updateStrategy": {"type": strategy}},
        "status": status_,
    }


def stateful_set(
    *, generation: int, strategy: dict[str, Any], status_: dict[str, Any], replicas: int = 3
) -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "StatefulSet",
        "metadata": {
            "name": "foo",
            "namespace": "default",
            "labels": {"a": "b"},
            "generation": generation,
        },
        "spec": {
            "podManagementPolicy": "OrderedReady",
            "selector": {"matchLabels": {"a": "b"}},
            "template": {
                "metadata": {"labels": {"a": "b"}},
                "spec": {
                    "containers": [
                        {"name": "test", "image": "test_image", "imagePullPolicy": "IfNotPresent"}
                    ],
                    "restartPolicy": "Always",
                    "dnsPolicy": "ClusterFirst",
                },
            },
            "replicas": replicas,
            "updateStrategy": strategy,
        },
        "status": status_,
    }


# kubectl TestDeploymentStatusViewerStatus
DEPLOYMENT_CASES = [
    pytest.param(
        0,
        1,
        {"observedGeneration": 1, "replicas": 1, "updatedReplicas": 0, "availableReplicas": 1},
        'Waiting for deployment "foo" rollout to finish: 0 out of 1 new replicas have been '
        "updated...",
        False,
        id="test1",
    ),
    pytest.param(
        1,
        1,
        {"observedGeneration": 1, "replicas": 2, "updatedReplicas": 1, "availableReplicas": 2},
        'Waiting for deployment "foo" rollout to finish: 1 old replicas are pending termination...',
        False,
        id="test2",
    ),
    pytest.param(
        1,
        2,
        {
            "observedGeneration": 1,
            "replicas": 2,
            "updatedReplicas": 2,
            "availableReplicas": 1,
            "unavailableReplicas": 1,
        },
        'Waiting for deployment "foo" rollout to finish: 1 of 2 updated replicas are available...',
        False,
        id="test3",
    ),
    pytest.param(
        1,
        2,
        {"observedGeneration": 1, "replicas": 2, "updatedReplicas": 2, "availableReplicas": 2},
        'deployment "foo" successfully rolled out',
        True,
        id="test4",
    ),
    pytest.param(
        2,
        2,
        {"observedGeneration": 1, "replicas": 2, "updatedReplicas": 2, "availableReplicas": 2},
        "Waiting for deployment spec update to be observed...",
        False,
        id="test5",
    ),
]


@pytest.mark.parametrize(("generation", "spec_replicas", "st", "message", "done"), DEPLOYMENT_CASES)
def test_deployment_matches_kubectl(
    generation: int, spec_replicas: int, st: dict[str, Any], message: str, done: bool
) -> None:
    obj = deployment(generation=generation, spec_replicas=spec_replicas, status_=st)
    assert status(obj) == RolloutStatus(done=done, message=message, failed=False)


# kubectl TestDaemonSetStatusViewerStatus
DAEMON_SET_CASES = [
    pytest.param(
        0,
        {
            "observedGeneration": 1,
            "updatedNumberScheduled": 0,
            "desiredNumberScheduled": 1,
            "numberAvailable": 0,
        },
        'Waiting for daemon set "foo" rollout to finish: 0 out of 1 new pods have been updated...',
        False,
        id="test1",
    ),
    pytest.param(
        1,
        {
            "observedGeneration": 1,
            "updatedNumberScheduled": 2,
            "desiredNumberScheduled": 2,
            "numberAvailable": 1,
        },
        'Waiting for daemon set "foo" rollout to finish: 1 of 2 updated pods are available...',
        False,
        id="test2",
    ),
    pytest.param(
        1,
        {
            "observedGeneration": 1,
            "updatedNumberScheduled": 2,
            "desiredNumberScheduled": 2,
            "numberAvailable": 2,
        },
        'daemon set "foo" successfully rolled out',
        True,
        id="test3",
    ),
    pytest.param(
        2,
        {
            "observedGeneration": 1,
            "updatedNumberScheduled": 2,
            "desiredNumberScheduled": 2,
            "numberAvailable": 2,
        },
        "Waiting for daemon set spec update to be observed...",
        False,
        id="test4",
    ),
]


@pytest.mark.parametrize(("generation", "st", "message", "done"), DAEMON_SET_CASES)
def test_daemon_set_matches_kubectl(
    generation: int, st: dict[str, Any], message: str, done: bool
) -> None:
    obj = daemon_set(generation=generation, status_=st)
    assert status(obj) == RolloutStatus(done=done, message=message, failed=False)


# kubectl TestDaemonSetStatusViewerStatusWithWrongUpdateStrategyType
def test_daemon_set_on_delete_is_refused_like_kubectl() -> None:
    obj = daemon_set(generation=0, status_={}, strategy="OnDelete")
    assert status(obj) == RolloutStatus(
        done=True,
        failed=True,
        message="rollout status is only available for RollingUpdate strategy type",
    )


ROLLING = {"type": "RollingUpdate"}
PARTITIONED = {"type": "RollingUpdate", "rollingUpdate": {"partition": 2}}

# kubectl TestStatefulSetStatusViewerStatus. kubectl's table lists done=true for the
# "in progress" partition case but only checks that done is not true when false is wanted;
# its viewer answers done=false there, and so do we.
STATEFUL_SET_CASES = [
    pytest.param(
        1,
        {"type": "OnDelete"},
        {"observedGeneration": 1, "replicas": 0, "readyReplicas": 1},
        "rollout status is only available for RollingUpdate strategy type",
        True,
        True,
        id="on delete returns an error",
    ),
    pytest.param(
        2,
        ROLLING,
        {"observedGeneration": 1, "replicas": 3, "readyReplicas": 3, "currentReplicas": 3},
        "Waiting for statefulset spec update to be observed...",
        False,
        False,
        id="unobserved update is not complete",
    ),
    pytest.param(
        1,
        ROLLING,
        {"observedGeneration": 2, "replicas": 3, "readyReplicas": 2, "currentReplicas": 3},
        "Waiting for 1 pods to be ready...",
        False,
        False,
        id="if all pods are not ready the update is not complete",
    ),
    pytest.param(
        1,
        PARTITIONED,
        {
            "observedGeneration": 2,
            "replicas": 3,
            "readyReplicas": 3,
            "currentReplicas": 2,
            "updatedReplicas": 1,
        },
        "partitioned roll out complete: 1 new pods have been updated...",
        True,
        False,
        id="partition update completes when all replicas above the partition are updated",
    ),
    pytest.param(
        1,
        PARTITIONED,
        {
            "observedGeneration": 2,
            "replicas": 3,
            "readyReplicas": 3,
            "currentReplicas": 3,
            "updatedReplicas": 0,
        },
        "Waiting for partitioned roll out to finish: 0 out of 1 new pods have been updated...",
        False,
        False,
        id="partition update is in progress if all pods above the partition have not been updated",
    ),
    pytest.param(
        1,
        ROLLING,
        {
            "observedGeneration": 2,
            "replicas": 3,
            "readyReplicas": 3,
            "currentReplicas": 3,
            "updatedReplicas": 3,
            "currentRevision": "foo",
            "updateRevision": "foo",
        },
        "statefulset rolling update complete 3 pods at revision foo...",
        True,
        False,
        id="update completes when all replicas are current",
    ),
]


@pytest.mark.parametrize(
    ("generation", "strategy", "st", "message", "done", "failed"), STATEFUL_SET_CASES
)
def test_stateful_set_matches_kubectl(
    generation: int,
    strategy: dict[str, Any],
    st: dict[str, Any],
    message: str,
    done: bool,
    failed: bool,
) -> None:
    obj = stateful_set(generation=generation, strategy=strategy, status_=st)
    assert status(obj) == RolloutStatus(done=done, message=message, failed=failed)


# Paths of kubectl's viewers that its test tables do not cover.
def _progress(reason: str) -> dict[str, Any]:
    return {
        "type": "Progressing",
        "status": "False" if reason == "ProgressDeadlineExceeded" else "True",
        "reason": reason,
        "message": 'ReplicaSet "foo-5d4f" has timed out progressing.',
    }


MORE_CASES = [
    pytest.param(
        deployment(
            generation=3,
            spec_replicas=3,
            status_={
                "observedGeneration": 3,
                "replicas": 4,
                "updatedReplicas": 1,
                "availableReplicas": 3,
                "conditions": [
                    {"type": "Available", "status": "True", "reason": "MinimumReplicasAvailable"},
                    _progress("ProgressDeadlineExceeded"),
                ],
            },
        ),
        0,
        RolloutStatus(
            done=False, failed=True, message='deployment "foo" exceeded its progress deadline'
        ),
        id="deployment progress deadline exceeded",
    ),
    pytest.param(
        deployment(
            generation=4,
            spec_replicas=3,
            status_={
                "observedGeneration": 3,
                "conditions": [_progress("ProgressDeadlineExceeded")],
            },
        ),
        0,
        RolloutStatus(done=False, message="Waiting for deployment spec update to be observed..."),
        id="a new generation is waited for even after a deadline",
    ),
    pytest.param(
        deployment(
            generation=1,
            spec_replicas=3,
            status_={
                "observedGeneration": 1,
                "replicas": 3,
                "updatedReplicas": 3,
                "availableReplicas": 3,
                "conditions": [_progress("NewReplicaSetAvailable")],
            },
        ),
        0,
        RolloutStatus(done=True, message='deployment "foo" successfully rolled out'),
        id="deployment progressing condition that is not a deadline",
    ),
    pytest.param(
        deployment(
            generation=1,
            spec_replicas=None,
            status_={"observedGeneration": 1, "replicas": 0},
        ),
        0,
        RolloutStatus(done=True, message='deployment "foo" successfully rolled out'),
        id="deployment without spec.replicas skips the new replicas check",
    ),
    pytest.param(
        deployment(
            generation=1,
            spec_replicas=0,
            status_={"observedGeneration": 1},
        ),
        0,
        RolloutStatus(done=True, message='deployment "foo" successfully rolled out'),
        id="deployment scaled to zero",
    ),
    pytest.param(
        deployment(
            generation=2,
            spec_replicas=1,
            status_={"observedGeneration": 2, "replicas": 1, "updatedReplicas": 1},
            annotations={"deployment.kubernetes.io/revision": "7"},
        ),
        7,
        RolloutStatus(
            done=False,
            message='Waiting for deployment "foo" rollout to finish: 0 of 1 updated replicas '
            "are available...",
        ),
        id="pinned revision that is running",
    ),
    pytest.param(
        deployment(
            generation=2,
            spec_replicas=1,
            status_={"observedGeneration": 2},
            annotations={"deployment.kubernetes.io/revision": "8"},
        ),
        7,
        RolloutStatus(
            done=False,
            failed=True,
            message="desired revision (7) is different from the running revision (8)",
        ),
        id="pinned revision rolled over by another",
    ),
    pytest.param(
        deployment(generation=2, spec_replicas=1, status_={"observedGeneration": 2}),
        3,
        RolloutStatus(
            done=False,
            failed=True,
            message="desired revision (3) is different from the running revision (0)",
        ),
        id="pinned revision without a revision annotation",
    ),
    pytest.param(
        deployment(
            generation=2,
            spec_replicas=1,
            status_={"observedGeneration": 2},
            annotations={"deployment.kubernetes.io/revision": "seven"},
        ),
        7,
        RolloutStatus(
            done=False,
            failed=True,
            message='cannot get the revision of deployment "foo": strconv.ParseInt: parsing '
            '"seven": invalid syntax',
        ),
        id="unreadable revision annotation",
    ),
    pytest.param(
        daemon_set(
            generation=5,
            status_={
                "observedGeneration": 5,
                "desiredNumberScheduled": 3,
                "updatedNumberScheduled": 3,
                "numberAvailable": 3,
            },
        ),
        9,
        RolloutStatus(done=True, message='daemon set "foo" successfully rolled out'),
        id="daemon set ignores the revision",
    ),
    pytest.param(
        {**daemon_set(generation=1, status_={}), "spec": {}},
        0,
        RolloutStatus(
            done=True,
            failed=True,
            message="rollout status is only available for RollingUpdate strategy type",
        ),
        id="daemon set without a strategy type (no defaults applied)",
    ),
    pytest.param(
        stateful_set(
            generation=1,
            strategy=ROLLING,
            status_={"observedGeneration": 0, "readyReplicas": 3},
        ),
        0,
        RolloutStatus(done=False, message="Waiting for statefulset spec update to be observed..."),
        id="statefulset never observed",
    ),
    pytest.param(
        stateful_set(
            generation=2,
            strategy=ROLLING,
            status_={
                "observedGeneration": 2,
                "readyReplicas": 3,
                "currentReplicas": 2,
                "updatedReplicas": 1,
                "currentRevision": "foo-6c9f",
                "updateRevision": "foo-7b8d",
            },
        ),
        0,
        RolloutStatus(
            done=False,
            message="waiting for statefulset rolling update to complete 1 pods at revision "
            "foo-7b8d...",
        ),
        id="statefulset revisions differ",
    ),
    pytest.param(
        stateful_set(
            generation=2,
            strategy={"type": "RollingUpdate", "rollingUpdate": {"partition": 0}},
            status_={
                "observedGeneration": 2,
                "readyReplicas": 3,
                "currentReplicas": 2,
                "updatedReplicas": 1,
                "currentRevision": "foo-6c9f",
                "updateRevision": "foo-7b8d",
            },
        ),
        0,
        RolloutStatus(
            done=False,
            message="Waiting for partitioned roll out to finish: 1 out of 3 new pods have been "
            "updated...",
        ),
        id="statefulset with the API's default partition 0",
    ),
    pytest.param(
        stateful_set(
            generation=2,
            strategy={"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 1}},
            status_={
                "observedGeneration": 2,
                "readyReplicas": 3,
                "updatedReplicas": 1,
                "currentRevision": "a",
                "updateRevision": "b",
            },
        ),
        0,
        RolloutStatus(
            done=True, message="partitioned roll out complete: 1 new pods have been updated..."
        ),
        id="statefulset rollingUpdate without a partition is complete once ready",
    ),
]


@pytest.mark.parametrize(("obj", "revision", "expected"), MORE_CASES)
def test_other_kubectl_paths(obj: dict[str, Any], revision: int, expected: RolloutStatus) -> None:
    assert status(obj, revision) == expected


def job(st: dict[str, Any], **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": "migrate", "namespace": "prod", "generation": 1},
        "spec": {"backoffLimit": 2, **spec},
        "status": st,
    }


JOB_CASES = [
    pytest.param(
        job({"active": 1, "startTime": "2024-05-01T10:00:00Z"}, completions=1),
        RolloutStatus(
            done=False,
            message='Waiting for job "migrate" to complete: 0 of 1 completions succeeded '
            "(1 active, 0 failed)...",
        ),
        id="running",
    ),
    pytest.param(
        job({"active": 2, "succeeded": 1, "failed": 1}),
        RolloutStatus(
            done=False,
            message='Waiting for job "migrate" to complete: 2 active, 1 succeeded, 1 failed...',
        ),
        id="running without completions",
    ),
    pytest.param(
        job({}, completions=1, suspend=True),
        RolloutStatus(done=False, message='Waiting for job "migrate": the job is suspended...'),
        id="suspended",
    ),
    pytest.param(
        job(
            {
                "succeeded": 1,
                "conditions": [
                    {"type": "SuccessCriteriaMet", "status": "True"},
                    {"type": "Complete", "status": "True"},
                ],
            },
            completions=1,
        ),
        RolloutStatus(done=True, message='job "migrate" successfully completed'),
        id="complete",
    ),
    pytest.param(
        job(
            {"succeeded": 1, "conditions": [{"type": "Complete", "status": "False"}]},
            completions=1,
        ),
        RolloutStatus(
            done=False,
            message='Waiting for job "migrate" to complete: 1 of 1 completions succeeded '
            "(0 active, 0 failed)...",
        ),
        id="complete condition not true",
    ),
    pytest.param(
        job(
            {
                "failed": 3,
                "conditions": [
                    {
                        "type": "Failed",
                        "status": "True",
                        "reason": "BackoffLimitExceeded",
                        "message": "Job has reached the specified backoff limit",
                    }
                ],
            },
            completions=1,
        ),
        RolloutStatus(
            done=True,
            failed=True,
            message='job "migrate" failed: BackoffLimitExceeded: Job has reached the specified '
            "backoff limit",
        ),
        id="failed",
    ),
    pytest.param(
        job(
            {
                "failed": 1,
                "conditions": [
                    {"type": "FailureTarget", "status": "True", "reason": "DeadlineExceeded"}
                ],
            }
        ),
        RolloutStatus(done=True, failed=True, message='job "migrate" failed: DeadlineExceeded'),
        id="failure target set before the failed condition",
    ),
]


@pytest.mark.parametrize(("obj", "expected"), JOB_CASES)
def test_job(obj: dict[str, Any], expected: RolloutStatus) -> None:
    assert status(obj) == expected


@pytest.mark.parametrize(
    ("obj", "message"),
    [
        (
            {"apiVersion": "batch/v1", "kind": "CronJob", "metadata": {"name": "x"}},
            "no status viewer has been implemented for CronJob.batch; commit-train follows "
            "rollouts of Deployment, StatefulSet, DaemonSet and Job objects",
        ),
        (
            {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x"}},
            "no status viewer has been implemented for ConfigMap; commit-train follows "
            "rollouts of Deployment, StatefulSet, DaemonSet and Job objects",
        ),
        (
            {"apiVersion": "example.com/v1", "kind": "Deployment", "metadata": {"name": "x"}},
            "no status viewer has been implemented for Deployment.example.com; commit-train "
            "follows rollouts of Deployment, StatefulSet, DaemonSet and Job objects",
        ),
        (
            {"metadata": {"name": "x"}},
            "cannot tell the rollout status of an object without a kind; pass the object as "
            "the API returns it",
        ),
        (
            deployment(generation=1, spec_replicas=3, status_={"replicas": "three"}),
            "cannot read deployment \"foo\": status.replicas is 'three', not an integer",
        ),
        (
            {**deployment(generation=1, spec_replicas=3, status_={}), "status": ["nope"]},
            "cannot read deployment \"foo\": status is ['nope'], not an object",
        ),
    ],
    ids=["cronjob", "core kind", "custom group", "no kind", "bad number", "bad section"],
)
def test_unsupported_or_unreadable(obj: dict[str, Any], message: str) -> None:
    assert status(obj) == RolloutStatus(done=False, failed=True, message=message)


def test_kind_given_for_list_items_without_kind() -> None:
    item = deployment(generation=1, spec_replicas=1, status_={"observedGeneration": 1})
    del item["kind"], item["apiVersion"]
    assert status(item, kind="Deployment") == RolloutStatus(
        done=False,
        message='Waiting for deployment "foo" rollout to finish: 0 out of 1 new replicas have '
        "been updated...",
    )


def test_extensions_group_is_accepted_like_kubectl() -> None:
    obj = daemon_set(generation=1, status_={"observedGeneration": 1})
    obj["apiVersion"] = "extensions/v1beta1"
    assert status(obj).message == 'daemon set "foo" successfully rolled out'


def test_negative_revision_is_a_usage_error() -> None:
    with pytest.raises(UsageError, match=r"^revision must be a positive integer: -1$"):
        status(deployment(generation=1, spec_replicas=1, status_={}), -1)


@pytest.mark.parametrize(
    ("kind", "supported"),
    [
        ("Deployment", True),
        ("StatefulSet", True),
        ("DaemonSet", True),
        ("Job", True),
        ("CronJob", False),
        ("ReplicaSet", False),
        ("deployment", False),
        ("Service", False),
    ],
)
def test_kind_supported(kind: str, supported: bool) -> None:
    assert kind_supported(kind) is supported


# The real kubectl, on the same objects. A read-only API stub serves the one object (with just
# enough discovery for kubectl to find it); kubectl's --watch=false prints its first verdict,
# and that line (or its "error: ..." line) must be ours word for word.
def _kubectl_cases() -> Iterator[Any]:
    for case in DEPLOYMENT_CASES:
        generation, spec_replicas, st, _message, _done = case.values
        obj = deployment(generation=generation, spec_replicas=spec_replicas, status_=st)
        yield pytest.param(obj, 0, id=f"deployment {case.id}")
    for case in DAEMON_SET_CASES:
        generation, st, _message, _done = case.values
        yield pytest.param(daemon_set(generation=generation, status_=st), 0, id=f"ds {case.id}")
    yield pytest.param(
        daemon_set(generation=0, status_={}, strategy="OnDelete"), 0, id="ds on delete"
    )
    for case in STATEFUL_SET_CASES:
        generation, strategy, st, *_rest = case.values
        obj = stateful_set(generation=generation, strategy=strategy, status_=st)
        yield pytest.param(obj, 0, id=f"sts {case.id}")
    for case in MORE_CASES:
        obj, revision, _expected = case.values
        yield pytest.param(obj, revision, id=case.id)


_RESOURCES = {"Deployment": "deployments", "DaemonSet": "daemonsets", "StatefulSet": "statefulsets"}


class _Stub(BaseHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _send(self, code: int, body: dict[str, Any]) -> None:
        data = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        url = urlparse(self.path)
        obj = self.server.served  # type: ignore[attr-defined]
        group_version = {"groupVersion": "apps/v1", "version": "v1"}
        apps = {"name": "apps", "versions": [group_version], "preferredVersion": group_version}
        resources = [
            {
                "name": plural,
                "singularName": kind.lower(),
                "namespaced": True,
                "kind": kind,
                "verbs": ["get", "list", "watch"],
            }
            for kind, plural in _RESOURCES.items()
        ]
        meta = obj["metadata"]
        collection = f"/apis/apps/v1/namespaces/{meta['namespace']}/{_RESOURCES[obj['kind']]}"
        if url.path == "/api":
            self._send(200, {"kind": "APIVersions", "versions": ["v1"]})
        elif url.path == "/apis":
            self._send(200, {"kind": "APIGroupList", "apiVersion": "v1", "groups": [apps]})
        elif url.path == "/api/v1":
            self._send(200, {"kind": "APIResourceList", "groupVersion": "v1", "resources": []})
        elif url.path == "/apis/apps/v1":
            self._send(
                200,
                {
                    "kind": "APIResourceList",
                    "apiVersion": "v1",
                    "groupVersion": "apps/v1",
                    "resources": resources,
                },
            )
        elif url.path == f"{collection}/{meta['name']}":
            self._send(200, obj)
        elif url.path == collection and "watch" in parse_qs(url.query):
            # An open watch that never sends an event, until the test ends.
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.flush()
            self.server.stopping.wait()  # type: ignore[attr-defined]
        elif url.path == collection:
            listing = {
                "kind": f"{obj['kind']}List",
                "apiVersion": "apps/v1",
                "metadata": {"resourceVersion": "5"},
                "items": [obj],
            }
            self._send(200, listing)
        else:
            self._send(
                404,
                {
                    "kind": "Status",
                    "apiVersion": "v1",
                    "status": "Failure",
                    "reason": "NotFound",
                    "code": 404,
                },
            )


@pytest.fixture(scope="module")
def kubectl_against(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    tmp_path = tmp_path_factory.mktemp("kubectl")
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Stub)
    server.stopping = threading.Event()  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(
        json.dumps(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [
                    {
                        "name": "stub",
                        "cluster": {"server": f"http://127.0.0.1:{server.server_port}"},
                    }
                ],
                "contexts": [{"name": "stub", "context": {"cluster": "stub"}}],
                "current-context": "stub",
                "users": [{"name": "stub", "user": {}}],
            }
        )
    )
    env = {key: value for key, value in os.environ.items() if key != "KUBECONFIG"}
    env["HOME"] = str(tmp_path)

    def run(obj: dict[str, Any], revision: int) -> subprocess.CompletedProcess[str]:
        served = copy.deepcopy(obj)
        served["metadata"].setdefault("namespace", "default")
        served["metadata"]["resourceVersion"] = "5"
        server.served = served  # type: ignore[attr-defined]
        meta = served["metadata"]
        return subprocess.run(
            [
                "kubectl",
                "--kubeconfig",
                str(kubeconfig),
                "--cache-dir",
                str(tmp_path / "cache"),
                "rollout",
                "status",
                f"{served['kind'].lower()}/{meta['name']}",
                "-n",
                meta["namespace"],
                "--watch=false",
                f"--revision={revision}",
            ],
            capture_output=True,
            text=True,
            timeout=60,
            env=env,
        )

    yield run
    server.stopping.set()  # type: ignore[attr-defined]
    server.shutdown()
    server.server_close()


@pytest.mark.kubectl
@pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl is not on PATH")
@pytest.mark.parametrize(("obj", "revision"), list(_kubectl_cases()))
def test_kubectl_says_the_same(obj: dict[str, Any], revision: int, kubectl_against: Any) -> None:
    ours = status(obj, revision)
    theirs = kubectl_against(obj, revision)
    if ours.failed:
        assert (theirs.returncode, theirs.stdout, theirs.stderr) == (
            1,
            "",
            f"error: {ours.message}\n",
        )
    else:
        assert (theirs.returncode, theirs.stdout, theirs.stderr) == (0, ours.message + "\n", "")
