"""A controller the tests drive step by step, standing in for kube-controller-manager and kubelet.

Each method moves one object to a state the real controllers would put it in, writing through the
``/status`` path of the store (so watchers see MODIFIED events and managed fields record
``kube-controller-manager``). Timestamps and progress deadlines use the emulator's clock, which
tests advance by hand. :meth:`Controller.auto_complete` finishes every workload rollout a short
while after each spec change, for end-to-end tests that run unattended.
"""

from __future__ import annotations

import copy
import datetime as dt
import hashlib
import json
import secrets
import threading
from typing import TYPE_CHECKING, Any

from tests.emulators.kube_resources import ResourceType

if TYPE_CHECKING:
    from tests.emulators.kube import KubeEmulator

WORKLOADS = {"Deployment", "StatefulSet", "DaemonSet", "Job"}
_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"
_MANAGER = "kube-controller-manager"


class Clock:
    """The emulator's notion of now: real time plus an offset tests can advance (or frozen)."""

    def __init__(self, start: dt.datetime | None = None, *, frozen: bool = False) -> None:
        self._lock = threading.Lock()
        self._frozen = frozen
        self._start = start or dt.datetime.now(dt.UTC).replace(microsecond=0)
        self._offset = dt.timedelta()
        self._real_start = dt.datetime.now(dt.UTC)

    def now(self) -> dt.datetime:
        with self._lock:
            elapsed = dt.timedelta() if self._frozen else dt.datetime.now(dt.UTC) - self._real_start
            return self._start + elapsed + self._offset

    def advance(self, seconds: float) -> None:
        with self._lock:
            self._offset += dt.timedelta(seconds=seconds)

    def timestamp(self) -> str:
        return self.now().strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_time(text: str) -> dt.datetime:
    return dt.datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=dt.UTC)


def template_hash(template: dict[str, Any]) -> str:
    """A pod-template-hash in the real alphabet (stable for equal templates)."""
    clean = copy.deepcopy(template)
    clean.get("metadata", {}).get("labels", {}).pop("pod-template-hash", None)
    digest = hashlib.sha256(json.dumps(clean, sort_keys=True).encode()).hexdigest()
    number = str(int(digest[:8], 16))
    return "".join(_ALPHABET[int(c) % len(_ALPHABET)] for c in number)[:10]


def _prune_zero(status: dict[str, Any]) -> dict[str, Any]:
    """Drop zero counters, as the API's ``omitempty`` does."""
    return {k: v for k, v in status.items() if v not in (0, None)}


class Controller:
    """Scriptable stand-in for the workload controllers and the kubelet."""

    def __init__(self, emu: KubeEmulator) -> None:
        self.emu = emu
        self.store = emu.store
        self.nodes = 3
        self._auto_delay: float | None = None
        self._timers: list[threading.Timer] = []
        self._scheduled: set[tuple[str, str, str, str, int]] = set()
        self._lock = threading.Lock()
        self.store.after_commit.append(self._on_commit)

    # Plumbing -----------------------------------------------------------------------------

    def _now(self) -> str:
        return self.emu.clock.timestamp()

    def _rtype(self, kind: str) -> ResourceType:
        return self.store.registry.by_kind(kind)

    def _obj(self, kind: str, namespace: str, name: str) -> dict[str, Any]:
        obj = self.store.get(self._rtype(kind), namespace, name)
        if obj is None:
            raise KeyError(f"{kind} {namespace}/{name} does not exist in the emulator")
        return obj

    def _write_status(self, obj: dict[str, Any], status: dict[str, Any]) -> dict[str, Any]:
        rtype = self._rtype(obj["kind"])
        namespace = obj["metadata"].get("namespace", "")
        with self.store.cond:
            old = self.store.get(rtype, namespace, obj["metadata"]["name"])
            if old is None:
                raise KeyError(f"{obj['kind']} {obj['metadata']['name']} was deleted")
            new = copy.deepcopy(old)
            new["status"] = status
            return self.store._update_and_commit(
                rtype,
                namespace,
                old,
                new,
                manager=_MANAGER,
                api_version=rtype.api_version,
                dry_run=False,
                subresource="status",
            )

    def _write_meta(self, obj: dict[str, Any], mutate: Any) -> dict[str, Any]:
        rtype = self._rtype(obj["kind"])
        namespace = obj["metadata"].get("namespace", "")
        with self.store.cond:
            old = self.store.get(rtype, namespace, obj["metadata"]["name"])
            if old is None:
                raise KeyError(f"{obj['kind']} {obj['metadata']['name']} was deleted")
            new = copy.deepcopy(old)
            mutate(new)
            return self.store._update_and_commit(
                rtype,
                namespace,
                old,
                new,
                manager=_MANAGER,
                api_version=rtype.api_version,
                dry_run=False,
                subresource="",
            )

    def _create(self, body: dict[str, Any], *, status: dict[str, Any] | None = None) -> dict:
        rtype = self._rtype(body["kind"])
        namespace = body["metadata"].get("namespace", "")
        created = self.store.create(
            rtype, namespace, body, manager=_MANAGER, api_version=rtype.api_version
        )
        if status is not None:
            created = self._write_status(created, status)
        return created

    def _owned(self, kind: str, owner: dict[str, Any]) -> list[dict[str, Any]]:
        uid = owner["metadata"]["uid"]
        namespace = owner["metadata"].get("namespace", "")
        return [
            obj
            for obj in self.store.list(self._rtype(kind), namespace)
            if any(ref.get("uid") == uid for ref in obj["metadata"].get("ownerReferences") or [])
        ]

    @staticmethod
    def _owner_ref(owner: dict[str, Any]) -> dict[str, Any]:
        return {
            "apiVersion": owner["apiVersion"],
            "kind": owner["kind"],
            "name": owner["metadata"]["name"],
            "uid": owner["metadata"]["uid"],
            "controller": True,
            "blockOwnerDeletion": True,
        }

    def _condition(
        self,
        status: dict[str, Any],
        ctype: str,
        value: str,
        reason: str,
        message: str,
        *,
        touch: bool = True,
    ) -> None:
        now = self._now()
        conditions = status.setdefault("conditions", [])
        for cond in conditions:
            if cond["type"] == ctype:
                if cond["status"] != value:
                    cond["lastTransitionTime"] = now
                if touch or cond["status"] != value or cond.get("reason") != reason:
                    cond["lastUpdateTime"] = now
                cond.update(status=value, reason=reason, message=message)
                return
        conditions.append(
            {
                "type": ctype,
                "status": value,
                "lastUpdateTime": now,
                "lastTransitionTime": now,
                "reason": reason,
                "message": message,
            }
        )

    # Pods -----------------------------------------------------------------------------------

    def _running_pod_status(self, pod: dict[str, Any], *, ready: bool = True) -> dict[str, Any]:
        now = self._now()
        flag = "True" if ready else "False"
        statuses = [
            {
                "name": c["name"],
                "image": c.get("image", ""),
                "imageID": f"docker.io/library/{c.get('image', '')}@sha256:{'0' * 64}",
                "containerID": f"containerd://{secrets.token_hex(32)}",
                "ready": ready,
                "started": True,
                "restartCount": 0,
                "state": {"running": {"startedAt": now}},
            }
            for c in pod["spec"].get("containers", [])
        ]
        conditions = [
            {"type": t, "status": s, "lastProbeTime": None, "lastTransitionTime": now}
            for t, s in (
                ("PodReadyToStartContainers", "True"),
                ("Initialized", "True"),
                ("Ready", flag),
                ("ContainersReady", flag),
                ("PodScheduled", "True"),
            )
        ]
        return {
            "phase": "Running",
            "conditions": conditions,
            "hostIP": "10.0.0.10",
            "podIP": f"10.244.0.{secrets.randbelow(250) + 2}",
            "startTime": now,
            "containerStatuses": statuses,
            "qosClass": "BestEffort",
        }

    def _make_pod(
        self, owner: dict[str, Any], template: dict[str, Any], name: str, labels: dict[str, str]
    ) -> dict[str, Any]:
        meta = template.get("metadata", {})
        body = {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {
                "name": name,
                "namespace": owner["metadata"]["namespace"],
                "labels": {**(meta.get("labels") or {}), **labels},
                "ownerReferences": [self._owner_ref(owner)],
            },
            "spec": {**copy.deepcopy(template.get("spec", {})), "nodeName": "node-1"},
        }
        if meta.get("annotations"):
            body["metadata"]["annotations"] = copy.deepcopy(meta["annotations"])
        pod = self._create(body)
        return self._write_status(pod, self._running_pod_status(pod))

    def _scale_pods(
        self,
        owner: dict[str, Any],
        count: int,
        *,
        template: dict[str, Any],
        labels: dict[str, str],
        ordinal: bool = False,
    ) -> None:
        pods = self._owned("Pod", owner)
        rtype = self._rtype("Pod")
        for pod in pods[count:]:
            self.store.delete(rtype, pod["metadata"]["namespace"], pod["metadata"]["name"])
        for index in range(len(pods), count):
            if ordinal:
                name = f"{owner['metadata']['name']}-{index}"
            else:
                suffix = "".join(secrets.choice(_ALPHABET) for _ in range(5))
                name = f"{owner['metadata']['name']}-{suffix}"
            self._make_pod(owner, template, name, labels)

    def pods(self, kind: str, namespace: str, name: str) -> list[dict[str, Any]]:
        """The pods a workload owns (through its ReplicaSets for a Deployment)."""
        owner = self._obj(kind, namespace, name)
        if kind.lower() in ("deployment", "deployments", "deploy"):
            out = []
            for rs in self._owned("ReplicaSet", owner):
                out.extend(self._owned("Pod", rs))
            return out
        return self._owned("Pod", owner)

    def _container_state(
        self,
        namespace: str,
        pod_name: str,
        container: str | None,
        *,
        state: dict[str, Any],
        phase: str,
        ready: bool = False,
        last_state: dict[str, Any] | None = None,
        restarts: int | None = None,
    ) -> dict[str, Any]:
        pod = self._obj("Pod", namespace, pod_name)
        status = copy.deepcopy(pod.get("status") or {})
        if not status.get("containerStatuses"):
            status = self._running_pod_status(pod)
        names = [c["name"] for c in status["containerStatuses"]]
        target = container or names[0]
        if target not in names:
            raise KeyError(f"pod {pod_name} has no container {target!r}")
        for cstatus in status["containerStatuses"]:
            if cstatus["name"] != target:
                continue
            cstatus["state"] = state
            cstatus["ready"] = ready
            cstatus["started"] = "running" in state
            if last_state is not None:
                cstatus["lastState"] = last_state
            if restarts is not None:
                cstatus["restartCount"] = restarts
        unready = [c["name"] for c in status["containerStatuses"] if not c["ready"]]
        flag = "False" if unready else "True"
        for cond in status.get("conditions", []):
            if cond["type"] in ("Ready", "ContainersReady"):
                cond["status"] = flag
                if unready:
                    cond["reason"] = "ContainersNotReady"
                    cond["message"] = f"containers with unready status: [{' '.join(unready)}]"
                else:
                    cond.pop("reason", None)
                    cond.pop("message", None)
        status["phase"] = phase
        self._write_status(pod, status)
        return pod

    def crash_loop(
        self,
        namespace: str,
        pod: str,
        *,
        container: str | None = None,
        exit_code: int = 1,
        reason: str = "Error",
        restarts: int = 3,
    ) -> None:
        """The container keeps exiting: waiting in CrashLoopBackOff, last state terminated."""
        obj = self._obj("Pod", namespace, pod)
        target = container or obj["spec"]["containers"][0]["name"]
        uid = obj["metadata"]["uid"]
        now = self._now()
        self._container_state(
            namespace,
            pod,
            target,
            state={
                "waiting": {
                    "reason": "CrashLoopBackOff",
                    "message": (
                        f"back-off 40s restarting failed container={target} "
                        f"pod={pod}_{namespace}({uid})"
                    ),
                }
            },
            last_state={
                "terminated": {
                    "exitCode": exit_code,
                    "reason": reason,
                    "startedAt": now,
                    "finishedAt": now,
                    "containerID": f"containerd://{secrets.token_hex(32)}",
                }
            },
            restarts=restarts,
            phase="Running",
        )
        self.event(
            "Pod",
            namespace,
            pod,
            reason="BackOff",
            message=(
                f"Back-off restarting failed container {target} in pod {pod}_{namespace}({uid})"
            ),
            type="Warning",
            component="kubelet",
            count=restarts,
        )

    def image_pull_backoff(self, namespace: str, pod: str, *, container: str | None = None) -> None:
        """The image cannot be pulled: waiting in ImagePullBackOff."""
        obj = self._obj("Pod", namespace, pod)
        spec = next(
            c for c in obj["spec"]["containers"] if container is None or c["name"] == container
        )
        image = spec.get("image", "")
        self._container_state(
            namespace,
            pod,
            spec["name"],
            state={
                "waiting": {
                    "reason": "ImagePullBackOff",
                    "message": f'Back-off pulling image "{image}"',
                }
            },
            phase="Pending",
        )
        self.event(
            "Pod",
            namespace,
            pod,
            reason="BackOff",
            message=f'Back-off pulling image "{image}"',
            component="kubelet",
        )
        self.event(
            "Pod",
            namespace,
            pod,
            reason="Failed",
            message="Error: ImagePullBackOff",
            type="Warning",
            component="kubelet",
        )

    def create_container_config_error(
        self,
        namespace: str,
        pod: str,
        *,
        message: str = 'secret "app-secrets" not found',
        container: str | None = None,
    ) -> None:
        """The container cannot be configured (a missing Secret or ConfigMap key)."""
        self._container_state(
            namespace,
            pod,
            container,
            state={"waiting": {"reason": "CreateContainerConfigError", "message": message}},
            phase="Pending",
        )
        self.event(
            "Pod",
            namespace,
            pod,
            reason="Failed",
            message=f"Error: {message}",
            type="Warning",
            component="kubelet",
        )

    def not_ready(
        self,
        namespace: str,
        pod: str,
        *,
        container: str | None = None,
        message: str = "Readiness probe failed: HTTP probe failed with statuscode: 503",
    ) -> None:
        """The container runs but its readiness probe fails."""
        now = self._now()
        self._container_state(
            namespace,
            pod,
            container,
            state={"running": {"startedAt": now}},
            phase="Running",
        )
        self.event(
            "Pod",
            namespace,
            pod,
            reason="Unhealthy",
            message=message,
            type="Warning",
            component="kubelet",
        )

    # Events ---------------------------------------------------------------------------------

    def event(
        self,
        kind: str,
        namespace: str,
        name: str,
        *,
        reason: str,
        message: str,
        type: str = "Normal",
        component: str = "deployment-controller",
        count: int | None = None,
    ) -> dict[str, Any]:
        """Record a core/v1 Event about an object (a repeat bumps ``count``)."""
        obj = self._obj(kind, namespace, name)
        ns = obj["metadata"].get("namespace", "default")
        rtype = self._rtype("Event")
        now = self._now()
        involved = {
            "kind": obj["kind"],
            "namespace": ns,
            "name": obj["metadata"]["name"],
            "uid": obj["metadata"]["uid"],
            "apiVersion": obj["apiVersion"],
            "resourceVersion": obj["metadata"]["resourceVersion"],
        }
        with self.store.cond:
            for existing in self.store.list(rtype, ns):
                same = existing.get("involvedObject", {}).get("uid") == involved["uid"]
                if same and existing["reason"] == reason and existing["message"] == message:
                    updated = copy.deepcopy(existing)
                    updated["count"] = count or existing.get("count", 1) + 1
                    updated["lastTimestamp"] = now
                    return self.store._update_and_commit(
                        rtype,
                        ns,
                        existing,
                        updated,
                        manager=component,
                        api_version="v1",
                        dry_run=False,
                        subresource="",
                    )
            body = {
                "apiVersion": "v1",
                "kind": "Event",
                "metadata": {"name": f"{name}.{secrets.token_hex(8)}", "namespace": ns},
                "involvedObject": involved,
                "reason": reason,
                "message": message,
                "source": {"component": component},
                "firstTimestamp": now,
                "lastTimestamp": now,
                "count": count or 1,
                "type": type,
                "eventTime": None,
                "reportingComponent": component,
                "reportingInstance": "",
            }
            return self.store.create(rtype, ns, body, manager=component, api_version="v1")

    # Rollouts -------------------------------------------------------------------------------

    def observe(self, kind: str, namespace: str, name: str) -> dict[str, Any]:
        """The controller has seen the latest spec: ``observedGeneration = generation``."""
        obj = self._obj(kind, namespace, name)
        status = copy.deepcopy(obj.get("status") or {})
        status["observedGeneration"] = obj["metadata"]["generation"]
        return self._write_status(obj, status)

    def _new_replica_set(self, dep: dict[str, Any]) -> tuple[dict[str, Any], list[dict]]:
        """The ReplicaSet for the Deployment's current template (made if absent), and the rest."""
        template = dep["spec"]["template"]
        digest = template_hash(template)
        sets = self._owned("ReplicaSet", dep)
        new = next(
            (
                rs
                for rs in sets
                if rs["metadata"].get("labels", {}).get("pod-template-hash") == digest
            ),
            None,
        )
        old = [rs for rs in sets if rs is not new]
        revisions = [
            int(rs["metadata"].get("annotations", {}).get("deployment.kubernetes.io/revision", 0))
            for rs in sets
        ]
        if new is None:
            revision = str(max(revisions, default=0) + 1)
            labels = {
                **(template.get("metadata", {}).get("labels") or {}),
                "pod-template-hash": digest,
            }
            rs_template = copy.deepcopy(template)
            rs_template.setdefault("metadata", {})["labels"] = labels
            selector = copy.deepcopy(dep["spec"]["selector"])
            selector.setdefault("matchLabels", {})["pod-template-hash"] = digest
            new = self._create(
                {
                    "apiVersion": "apps/v1",
                    "kind": "ReplicaSet",
                    "metadata": {
                        "name": f"{dep['metadata']['name']}-{digest}",
                        "namespace": dep["metadata"]["namespace"],
                        "labels": labels,
                        "annotations": {
                            "deployment.kubernetes.io/desired-replicas": str(
                                dep["spec"]["replicas"]
                            ),
                            "deployment.kubernetes.io/max-replicas": str(
                                dep["spec"]["replicas"] + 1
                            ),
                            "deployment.kubernetes.io/revision": revision,
                        },
                        "ownerReferences": [self._owner_ref(dep)],
                    },
                    "spec": {"replicas": 0, "selector": selector, "template": rs_template},
                }
            )
        revision = new["metadata"]["annotations"]["deployment.kubernetes.io/revision"]
        if (
            dep["metadata"].get("annotations", {}).get("deployment.kubernetes.io/revision")
            != revision
        ):

            def set_revision(obj: dict[str, Any]) -> None:
                annotations = obj["metadata"].setdefault("annotations", {})
                annotations["deployment.kubernetes.io/revision"] = revision

            self._write_meta(dep, set_revision)
        return new, old

    def _scale_replica_set(self, rs: dict[str, Any], replicas: int, ready: int) -> dict:
        def set_replicas(obj: dict[str, Any]) -> None:
            obj["spec"]["replicas"] = replicas

        before = rs["spec"].get("replicas", 0)
        rs = self._write_meta(rs, set_replicas)
        owner = next(
            (r for r in rs["metadata"].get("ownerReferences", []) if r["kind"] == "Deployment"),
            None,
        )
        if owner is not None and before != replicas:
            direction = "up" if replicas > before else "down"
            self.event(
                "Deployment",
                rs["metadata"]["namespace"],
                owner["name"],
                reason="ScalingReplicaSet",
                message=(
                    f"Scaled {direction} replica set {rs['metadata']['name']} "
                    f"from {before} to {replicas}"
                ),
            )
        labels = rs["spec"]["template"]["metadata"].get("labels", {})
        self._scale_pods(rs, replicas, template=rs["spec"]["template"], labels=labels)
        status = _prune_zero(
            {
                "replicas": replicas,
                "fullyLabeledReplicas": replicas,
                "readyReplicas": ready,
                "availableReplicas": ready,
                "observedGeneration": rs["metadata"]["generation"],
            }
        )
        status["replicas"] = replicas
        return self._write_status(rs, status)

    def _deployment(
        self,
        namespace: str,
        name: str,
        *,
        updated: int,
        ready: int,
        available: int,
        replicas: int | None,
        done: bool,
    ) -> dict[str, Any]:
        dep = self._obj("Deployment", namespace, name)
        new_rs, old_sets = self._new_replica_set(dep)
        dep = self._obj("Deployment", namespace, name)
        desired = dep["spec"]["replicas"]
        self._scale_replica_set(new_rs, updated, min(ready, updated))
        old_total = 0
        for index, rs in enumerate(old_sets):
            keep = 0 if done else (max(0, (replicas or desired) - updated) if index == 0 else 0)
            old_total += keep
            if rs["spec"].get("replicas", 0) != keep or done:
                self._scale_replica_set(rs, keep, keep)
        total = replicas if replicas is not None else updated + old_total
        status = copy.deepcopy(dep.get("status") or {})
        status.update(
            observedGeneration=dep["metadata"]["generation"],
            replicas=total,
            updatedReplicas=updated,
            readyReplicas=ready,
            availableReplicas=available,
            unavailableReplicas=max(0, total - available),
        )
        if done:
            status["unavailableReplicas"] = 0
        max_unavailable = (
            dep["spec"].get("strategy", {}).get("rollingUpdate", {}).get("maxUnavailable", 0)
        )
        if isinstance(max_unavailable, str):
            max_unavailable = desired * int(max_unavailable.rstrip("%")) // 100
        if available >= desired - max_unavailable:
            self._condition(
                status,
                "Available",
                "True",
                "MinimumReplicasAvailable",
                "Deployment has minimum availability.",
            )
        else:
            self._condition(
                status,
                "Available",
                "False",
                "MinimumReplicasUnavailable",
                "Deployment does not have minimum availability.",
            )
        rs_name = new_rs["metadata"]["name"]
        if done:
            self._condition(
                status,
                "Progressing",
                "True",
                "NewReplicaSetAvailable",
                f'ReplicaSet "{rs_name}" has successfully progressed.',
            )
        else:
            self._condition(
                status,
                "Progressing",
                "True",
                "ReplicaSetUpdated",
                f'ReplicaSet "{rs_name}" is progressing.',
            )
        status = _prune_zero(status)
        return self._write_status(dep, status)

    def progress(
        self,
        kind: str,
        namespace: str,
        name: str,
        *,
        updated: int | None = None,
        ready: int | None = None,
        available: int | None = None,
        replicas: int | None = None,
    ) -> dict[str, Any]:
        """A rollout part-way: ``updated`` pods run the new template, ``ready``/``available``."""
        kind = self._rtype(kind).kind
        updated = updated or 0
        ready = updated if ready is None else ready
        available = ready if available is None else available
        if kind == "Deployment":
            return self._deployment(
                namespace,
                name,
                updated=updated,
                ready=ready,
                available=available,
                replicas=replicas,
                done=False,
            )
        if kind == "StatefulSet":
            return self._stateful_set(namespace, name, updated=updated, ready=ready, done=False)
        if kind == "DaemonSet":
            return self._daemon_set(
                namespace, name, updated=updated, ready=ready, available=available
            )
        if kind == "Job":
            obj = self._obj("Job", namespace, name)
            status = copy.deepcopy(obj.get("status") or {})
            status.setdefault("startTime", self._now())
            status.update(active=updated, ready=ready, observedGeneration=None)
            status.pop("observedGeneration")
            return self._write_status(obj, _prune_zero(status) | {"ready": ready})
        raise KeyError(f"the controller does not roll out {kind}")

    def complete(self, kind: str, namespace: str, name: str) -> dict[str, Any]:
        """Finish the rollout: every replica updated, ready and available; Jobs succeed."""
        kind = self._rtype(kind).kind
        obj = self._obj(kind, namespace, name)
        if kind == "Deployment":
            n = obj["spec"]["replicas"]
            return self._deployment(
                namespace, name, updated=n, ready=n, available=n, replicas=n, done=True
            )
        if kind == "StatefulSet":
            n = obj["spec"]["replicas"]
            return self._stateful_set(namespace, name, updated=n, ready=n, done=True)
        if kind == "DaemonSet":
            n = self.nodes
            return self._daemon_set(namespace, name, updated=n, ready=n, available=n)
        if kind == "Job":
            now = self._now()
            status = copy.deepcopy(obj.get("status") or {})
            status.setdefault("startTime", now)
            status.pop("active", None)
            status.update(
                completionTime=now,
                succeeded=obj["spec"].get("completions", 1),
                ready=0,
                terminating=0,
                uncountedTerminatedPods={},
            )
            self._condition(
                status,
                "SuccessCriteriaMet",
                "True",
                "CompletionsReached",
                "Reached expected number of succeeded pods",
            )
            self._condition(
                status,
                "Complete",
                "True",
                "CompletionsReached",
                "Reached expected number of succeeded pods",
            )
            for cond in status["conditions"]:
                cond["lastProbeTime"] = cond.pop("lastUpdateTime")
            return self._write_status(obj, status)
        raise KeyError(f"the controller does not roll out {kind}")

    def fail(
        self,
        kind: str,
        namespace: str,
        name: str,
        *,
        reason: str = "BackoffLimitExceeded",
        message: str = "Job has reached the specified backoff limit",
    ) -> dict[str, Any]:
        """A Job fails (its Failed condition); other kinds get ProgressDeadlineExceeded."""
        kind = self._rtype(kind).kind
        if kind != "Job":
            return self.exceed_deadline(kind, namespace, name)
        obj = self._obj(kind, namespace, name)
        status = copy.deepcopy(obj.get("status") or {})
        status.setdefault("startTime", self._now())
        status.pop("active", None)
        status.update(failed=obj["spec"].get("backoffLimit", 6) + 1, ready=0, terminating=0)
        status["uncountedTerminatedPods"] = {}
        self._condition(status, "FailureTarget", "True", reason, message)
        self._condition(status, "Failed", "True", reason, message)
        for cond in status["conditions"]:
            cond["lastProbeTime"] = cond.pop("lastUpdateTime")
        self.event(
            kind,
            namespace,
            name,
            reason=reason,
            message=message,
            type="Warning",
            component="job-controller",
        )
        return self._write_status(obj, status)

    def stall(self, kind: str, namespace: str, name: str) -> dict[str, Any]:
        """The rollout is observed but stops moving; :meth:`tick` later trips the deadline."""
        kind = self._rtype(kind).kind
        obj = self._obj(kind, namespace, name)
        if kind != "Deployment":
            return self.observe(kind, namespace, name)
        status = copy.deepcopy(obj.get("status") or {})
        updated = status.get("updatedReplicas", 0)
        if status.get("observedGeneration") != obj["metadata"]["generation"]:
            updated = 0
        return self._deployment(
            namespace,
            name,
            updated=updated,
            ready=min(updated, status.get("readyReplicas", 0)),
            available=min(updated, status.get("availableReplicas", 0)),
            replicas=None,
            done=False,
        )

    def exceed_deadline(self, kind: str, namespace: str, name: str) -> dict[str, Any]:
        """Progressing=False, reason ProgressDeadlineExceeded (Deployments)."""
        obj = self._obj(kind, namespace, name)
        if obj["kind"] != "Deployment":
            raise KeyError("only Deployments have a progress deadline")
        new_rs, _ = self._new_replica_set(obj)
        obj = self._obj(kind, namespace, name)
        status = copy.deepcopy(obj.get("status") or {})
        status["observedGeneration"] = obj["metadata"]["generation"]
        self._condition(
            status,
            "Progressing",
            "False",
            "ProgressDeadlineExceeded",
            f'ReplicaSet "{new_rs["metadata"]["name"]}" has timed out progressing.',
        )
        return self._write_status(obj, status)

    def tick(self) -> list[str]:
        """Trip the progress deadline of Deployments that stopped moving; names the ones tripped."""
        tripped = []
        now = self.emu.clock.now()
        for dep in self.store.list(self._rtype("Deployment"), None):
            deadline = dep["spec"].get("progressDeadlineSeconds")
            status = dep.get("status") or {}
            cond = next(
                (c for c in status.get("conditions", []) if c["type"] == "Progressing"), None
            )
            if deadline is None or cond is None or cond["status"] != "True":
                continue
            if cond["reason"] == "NewReplicaSetAvailable":
                continue
            if now - parse_time(cond["lastUpdateTime"]) > dt.timedelta(seconds=deadline):
                ns, name = dep["metadata"]["namespace"], dep["metadata"]["name"]
                self.exceed_deadline("Deployment", ns, name)
                tripped.append(f"{ns}/{name}")
        return tripped

    def _stateful_set(
        self, namespace: str, name: str, *, updated: int, ready: int, done: bool
    ) -> dict[str, Any]:
        sts = self._obj("StatefulSet", namespace, name)
        replicas = sts["spec"]["replicas"]
        revision = f"{name}-{template_hash(sts['spec']['template'])}"
        status = copy.deepcopy(sts.get("status") or {})
        current = status.get("currentRevision") or revision
        if done:
            current = revision
        labels = {
            **(sts["spec"]["template"].get("metadata", {}).get("labels") or {}),
            "controller-revision-hash": revision,
        }
        self._scale_pods(
            sts, replicas, template=sts["spec"]["template"], labels=labels, ordinal=True
        )
        status = {
            "observedGeneration": sts["metadata"]["generation"],
            "replicas": replicas,
            "readyReplicas": ready,
            "currentReplicas": replicas if done else replicas - updated,
            "updatedReplicas": updated,
            "availableReplicas": ready,
            "currentRevision": current,
            "updateRevision": revision,
            "collisionCount": 0,
        }
        pruned = _prune_zero(status)
        pruned["replicas"] = replicas
        pruned["availableReplicas"] = ready
        pruned["collisionCount"] = 0
        return self._write_status(sts, pruned)

    def _daemon_set(
        self, namespace: str, name: str, *, updated: int, ready: int, available: int
    ) -> dict[str, Any]:
        ds = self._obj("DaemonSet", namespace, name)
        status = {
            "observedGeneration": ds["metadata"]["generation"],
            "currentNumberScheduled": self.nodes,
            "desiredNumberScheduled": self.nodes,
            "numberMisscheduled": 0,
            "numberReady": ready,
            "numberAvailable": available,
            "numberUnavailable": self.nodes - available,
            "updatedNumberScheduled": updated,
        }
        pruned = _prune_zero(status)
        for key in ("currentNumberScheduled", "desiredNumberScheduled", "numberMisscheduled"):
            pruned[key] = status[key]
        pruned["numberReady"] = ready
        return self._write_status(ds, pruned)

    # Auto mode ------------------------------------------------------------------------------

    def auto_complete(self, delay: float = 0.1) -> None:
        """From now on, finish each workload's rollout ``delay`` seconds after a spec change."""
        self._auto_delay = delay

    def manual(self) -> None:
        """Stop finishing rollouts by themselves."""
        self._auto_delay = None

    def _on_commit(self, rtype: ResourceType, namespace: str, obj: dict[str, Any] | None) -> None:
        if self._auto_delay is None or obj is None or rtype.kind not in WORKLOADS:
            return
        generation = obj["metadata"].get("generation", 0)
        status = obj.get("status") or {}
        if rtype.kind == "Job":
            if status.get("conditions") or status.get("startTime"):
                return
        elif status.get("observedGeneration", 0) >= generation:
            return
        name = obj["metadata"]["name"]
        key = (rtype.kind, namespace, name, obj["metadata"]["uid"], generation)
        with self._lock:
            if key in self._scheduled:
                return
            self._scheduled.add(key)

        def run() -> None:
            try:
                self.complete(rtype.kind, namespace, name)
            except KeyError:
                pass  # deleted (or its type removed) before the rollout finished

        timer = threading.Timer(self._auto_delay, run)
        timer.daemon = True
        self._timers.append(timer)
        timer.start()

    def stop(self) -> None:
        self._auto_delay = None
        for timer in self._timers:
            timer.cancel()
