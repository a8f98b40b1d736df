"""Wait for applied workloads to finish rolling out, by watching them (no sleep loop).

``wait_for_rollouts`` follows every Deployment, StatefulSet, DaemonSet and Job at once. For
each kind and namespace one thread lists the objects, then watches from the list's
``resourceVersion`` (with bookmarks, so a quiet stream still moves its version forward) and
hands every object it sees to the caller's thread through one queue. The caller's thread
evaluates ``rollout.status`` (kubectl's own rules) on each, and:

- reports a progress line whenever a workload's message changes;
- returns as soon as every workload is done, or one has failed (``ProgressDeadlineExceeded``,
  a failed Job, a workload deleted while we wait), or the timeout passes.

A watch that answers 410 Gone (the version is too old), or a stream that the server closes
(its ``timeoutSeconds``) or that drops, is followed by a fresh list and a new watch: events
lost in between are covered by the list. Connection errors back off briefly and retry until
the deadline.

On failure or timeout, the pods of each unfinished workload (by its selector) and the events
of its namespace are read once, and ``diagnose`` says why in words (a crash-looping
container, an image that cannot be pulled, ...).
"""

from __future__ import annotations

import contextlib
import json
import queue
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from commit_train.errors import KubeError, KubeNotInstalledError
from commit_train.kube import rollout
from commit_train.kube.client import dynamic_client
from commit_train.kube.errors import api_error
from commit_train.kube.objects import ObjectRef

WATCH_SECONDS = 240
"""How long one watch request lasts before the server closes it and we list again."""
NOT_ROLLING = "rollout status is only available for RollingUpdate strategy type"
"""kubectl's answer for OnDelete strategies: nothing to wait for, and not a failure."""


@dataclass(frozen=True)
class WorkloadStatus:
    """Where one workload's rollout ended (or stood when we stopped waiting)."""

    ref: ObjectRef
    done: bool
    failed: bool
    message: str


@dataclass(frozen=True)
class WaitResult:
    """The end of a wait: ``ok`` when every rollout finished and none failed."""

    ok: bool
    statuses: tuple[WorkloadStatus, ...]
    diagnoses: Mapping[ObjectRef, Any] = field(default_factory=dict)
    summary_line: str = ""
    timed_out: bool = False

    @property
    def failing(self) -> tuple[WorkloadStatus, ...]:
        return tuple(s for s in self.statuses if s.failed or not s.done)


@dataclass
class _Group:
    """The workloads of one kind in one namespace, followed by one list+watch thread."""

    api_version: str
    kind: str
    namespace: str
    names: set[str]
    resource: Any = None
    stream: Any = None  # the open watch response, cut by stop()
    lists: int = 0


# Messages from the watch threads to the waiting thread.
_Seen = tuple[str, str, str, Mapping[str, Any]]  # ("seen", kind, namespace, object)
_Listed = tuple[str, str, str, frozenset[str]]  # ("listed", kind, namespace, names present)


def wait_for_rollouts(
    api_client: Any,
    workloads: Sequence[ObjectRef],
    *,
    timeout: float,
    on_progress: Callable[[str], None] | None = None,
    clock: Callable[[], float] = time.monotonic,
) -> WaitResult:
    """Follow ``workloads`` until all are rolled out, one fails, or ``timeout`` seconds pass.

    Kinds without a rollout (Services, ConfigMaps, ...) are ignored. ``on_progress`` gets
    one line each time a workload's status message changes. ``clock`` measures the timeout
    (inject a fake one in tests). Raises ``KubeError`` only when the API cannot be reached
    at all; a failed or unfinished rollout is a ``WaitResult`` with ``ok=False``.
    """
    refs = list(dict.fromkeys(r for r in workloads if rollout.kind_supported(r.kind)))
    if not refs:
        return WaitResult(ok=True, statuses=(), summary_line="no rollouts to wait for")
    start = clock()
    deadline = start + max(0.0, timeout)
    with dynamic_client(api_client) as dyn:
        waiter = _Waiter(dyn, refs, on_progress or (lambda _line: None))
        waiter.start()
        try:
            timed_out = waiter.wait(deadline, clock)
        finally:
            waiter.stop()
        statuses = tuple(waiter.statuses[r] for r in refs)
        unfinished = [s for s in statuses if s.failed or not s.done]
        diagnoses = {s.ref: waiter.diagnose(s) for s in unfinished}
    elapsed = clock() - start
    return WaitResult(
        ok=not unfinished,
        statuses=statuses,
        diagnoses=diagnoses,
        summary_line=_summary(statuses, diagnoses, timed_out=timed_out, elapsed=elapsed),
        timed_out=timed_out,
    )


class _Waiter:
    def __init__(
        self, dyn: Any, refs: Sequence[ObjectRef], on_progress: Callable[[str], None]
    ) -> None:
        self.dyn = dyn
        self.refs = refs
        self.on_progress = on_progress
        self.events: queue.Queue[_Seen | _Listed | tuple[str, KubeError]] = queue.Queue()
        self.stopping = threading.Event()
        self.lock = threading.Lock()
        self.threads: list[threading.Thread] = []
        self.groups: dict[tuple[str, str, str], _Group] = {}
        for ref in refs:
            key = (ref.api_version, ref.kind, ref.namespace)
            group = self.groups.setdefault(key, _Group(*key, names=set()))
            group.names.add(ref.name)
        self.by_name = {(r.kind, r.namespace, r.name): r for r in refs}
        self.statuses = {
            r: WorkloadStatus(r, False, False, f"Waiting for {r} to be created...") for r in refs
        }
        self.objects: dict[ObjectRef, Mapping[str, Any]] = {}

    # --- threads ---------------------------------------------------------------------

    def start(self) -> None:
        from kubernetes.dynamic.exceptions import ResourceNotFoundError

        for group in self.groups.values():
            try:
                group.resource = self.dyn.resources.get(
                    api_version=group.api_version, kind=group.kind
                )
            except ResourceNotFoundError as exc:
                raise KubeNotInstalledError(
                    f"the cluster serves no {group.kind} in {group.api_version}",
                    fix="check the workload's apiVersion",
                ) from exc
        for group in self.groups.values():
            thread = threading.Thread(
                target=self._follow,
                args=(group,),
                name=f"commit-train-watch-{group.kind}-{group.namespace}",
                daemon=True,
            )
            self.threads.append(thread)
            thread.start()

    def stop(self) -> None:
        """Stop every thread now: set the flag, then cut the open watch streams."""
        with self.lock:
            self.stopping.set()
            streams = [g.stream for g in self.groups.values() if g.stream is not None]
        for stream in streams:
            _cut(stream)
        for thread in self.threads:
            thread.join(timeout=5)

    def _follow(self, group: _Group) -> None:
        """List, then watch from the list's version; again after 410, a drop or a timeout."""
        from kubernetes.client.exceptions import ApiException

        delay = 0.1
        while not self.stopping.is_set():
            try:
                version = self._list(group)
                self._watch(group, version)
                delay = 0.1
            except ApiException as exc:
                if self.stopping.is_set():
                    return
                if exc.status == 410:
                    continue  # our version is too old: list again
                if exc.status in (401, 403, 404):
                    self.events.put(("error", api_error(f"watch {group.kind}", exc)))
                    return
                self.stopping.wait(delay)
                delay = min(delay * 2, 2.0)
            except Exception:
                # A dropped connection or a garbled stream: list again after a short pause.
                if self.stopping.is_set():
                    return
                self.stopping.wait(delay)
                delay = min(delay * 2, 2.0)

    def _watch(self, group: _Group, version: str) -> None:
        """One watch request, until the server ends it; raises ApiException(410) on Gone."""
        from kubernetes.client.exceptions import ApiException

        stream = group.resource.get(
            namespace=group.namespace or None,
            watch=True,
            resource_version=version,
            allow_watch_bookmarks=True,
            timeout_seconds=WATCH_SECONDS,
            _request_timeout=(10, WATCH_SECONDS + 30),
            serialize=False,
        )
        with self.lock:
            if self.stopping.is_set():
                _cut(stream)
                return
            group.stream = stream
        try:
            for line in _lines(stream):
                if self.stopping.is_set():
                    return
                if not line.strip():
                    continue
                event = json.loads(line)
                if event.get("type") == "ERROR":
                    status = event.get("object") or {}
                    raise ApiException(
                        status=int(status.get("code") or 500),
                        reason=f"{status.get('reason')}: {status.get('message')}",
                    )
                self._event(group, event)
        finally:
            with self.lock:
                group.stream = None
            _cut(stream)

    def _list(self, group: _Group) -> str:
        response = group.resource.get(namespace=group.namespace or None, serialize=False)
        answer = _read(response)
        group.lists += 1
        present = set()
        for obj in answer.get("items") or []:
            obj.setdefault("kind", group.kind)
            obj.setdefault("apiVersion", group.api_version)
            name = (obj.get("metadata") or {}).get("name")
            if name in group.names:
                present.add(name)
                self.events.put(("seen", group.kind, group.namespace, obj))
        self.events.put(("listed", group.kind, group.namespace, frozenset(present)))
        return str((answer.get("metadata") or {}).get("resourceVersion") or "")

    def _event(self, group: _Group, event: Mapping[str, Any]) -> None:
        kind = event.get("type")
        obj = event.get("object") or {}
        if kind == "BOOKMARK" or not isinstance(obj, dict):
            return
        name = (obj.get("metadata") or {}).get("name")
        if name not in group.names:
            return
        obj.setdefault("kind", group.kind)
        obj.setdefault("apiVersion", group.api_version)
        if kind == "DELETED":
            obj = {**obj, "__deleted__": True}
        self.events.put(("seen", group.kind, group.namespace, obj))

    # --- the waiting thread ----------------------------------------------------------

    def wait(self, deadline: float, clock: Callable[[], float]) -> bool:
        """Consume events until all done or one failed (False), or the deadline (True)."""
        real_clock = clock is time.monotonic
        while True:
            if self._finished():
                return False
            remaining = deadline - clock()
            if remaining <= 0:
                return True
            # With an injected clock, wake up now and then to read it again.
            try:
                message = self.events.get(timeout=remaining if real_clock else min(remaining, 0.05))
            except queue.Empty:
                continue
            self._take(message)

    def _finished(self) -> bool:
        statuses = self.statuses.values()
        return all(s.done for s in statuses) or any(s.failed for s in statuses)

    def _take(self, message: Any) -> None:
        if message[0] == "error":
            raise message[1]
        if message[0] == "listed":
            _, kind, namespace, present = message
            for ref in self.refs:
                gone = ref.name not in present and ref in self.objects  # it existed before
                if ref.kind == kind and ref.namespace == namespace and gone:
                    self._set(ref, WorkloadStatus(ref, False, True, f"{ref} was deleted"))
            return
        _, kind, namespace, obj = message
        name = str((obj.get("metadata") or {}).get("name") or "")
        found_ref = self.by_name.get((kind, namespace, name))
        if found_ref is None:
            return
        ref = found_ref
        if obj.get("__deleted__"):
            self._set(ref, WorkloadStatus(ref, False, True, f"{ref} was deleted"))
            return
        self.objects[ref] = obj
        found = rollout.status(obj)
        if found.failed and found.message == NOT_ROLLING:
            self._set(ref, WorkloadStatus(ref, True, False, f"{ref}: {NOT_ROLLING}"))
            return
        self._set(
            ref, WorkloadStatus(ref, found.done and not found.failed, found.failed, found.message)
        )

    def _set(self, ref: ObjectRef, status: WorkloadStatus) -> None:
        before = self.statuses[ref]
        self.statuses[ref] = status
        if status.message != before.message:
            self.on_progress(f"{ref}: {status.message}")

    # --- diagnosis -------------------------------------------------------------------

    def diagnose(self, status: WorkloadStatus) -> Any:
        """Why ``status``'s workload did not finish, from its pods and its namespace's events."""
        from commit_train.kube.diagnose import diagnose

        ref = status.ref
        obj = self.objects.get(ref) or {
            "apiVersion": ref.api_version,
            "kind": ref.kind,
            "metadata": {"name": ref.name, "namespace": ref.namespace},
        }
        selector = (obj.get("spec") or {}).get("selector") or {}
        match_labels = selector.get("matchLabels") or {}
        narrow = ",".join(f"{k}={v}" for k, v in sorted(match_labels.items())) or None
        pods: list[Any] = []
        events: list[Any] = []
        # Best effort: a diagnosis that cannot read pods or events still names the status.
        with contextlib.suppress(Exception):
            pods = self._items("Pod", ref.namespace, narrow)
        with contextlib.suppress(Exception):
            events = self._items("Event", ref.namespace, None)
        return diagnose(obj, pods, events, kind=ref.kind)

    def _items(self, kind: str, namespace: str, selector: str | None) -> list[Any]:
        resource = self.dyn.resources.get(api_version="v1", kind=kind)
        response = resource.get(namespace=namespace, label_selector=selector, serialize=False)
        return list(_read(response).get("items") or [])


def _read(response: Any) -> dict[str, Any]:
    try:
        data = response.data
    finally:
        response.release_conn()
    answer = json.loads(data or b"{}")
    return answer if isinstance(answer, dict) else {}


def _lines(stream: Any) -> Iterator[bytes]:
    """The newline-terminated lines of a streaming response, as they arrive."""
    buffer = b""
    for chunk in stream.stream(amt=None, decode_content=True):
        buffer += chunk
        *lines, buffer = buffer.split(b"\n")
        yield from lines
    if buffer:
        yield buffer


def _cut(stream: Any) -> None:
    """Close a streaming response from any thread; a blocked read returns at once."""
    with contextlib.suppress(Exception):
        stream.shutdown()
    with contextlib.suppress(Exception):
        stream.release_conn()


def _summary(
    statuses: Sequence[WorkloadStatus],
    diagnoses: Mapping[ObjectRef, Any],
    *,
    timed_out: bool,
    elapsed: float,
) -> str:
    failed = [s for s in statuses if s.failed]
    if failed:
        first = failed[0]
        why = _why(diagnoses.get(first.ref))
        return f"rollout failed: {first.ref}: {first.message}{why}"
    unfinished = [s for s in statuses if not s.done]
    if unfinished:
        first = unfinished[0]
        why = _why(diagnoses.get(first.ref))
        more = f" (and {len(unfinished) - 1} more)" if len(unfinished) > 1 else ""
        after = f"timed out after {elapsed:.0f}s" if timed_out else "stopped"
        return f"rollout {after}: {first.ref}: {first.message}{why}{more}"
    plural = "s" if len(statuses) != 1 else ""
    return f"{len(statuses)} rollout{plural} finished in {elapsed:.1f}s"


def _why(diagnosis: Any) -> str:
    summary = getattr(diagnosis, "summary", "") if diagnosis is not None else ""
    return f" ({summary})" if summary else ""
