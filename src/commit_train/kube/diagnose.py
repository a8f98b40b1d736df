"""Why is this rollout stuck or failed? One line for GitHub, the full story for a person.

``diagnose`` reads a workload, its pods and events (plain dicts, as the API returns them)
and explains a failed or stuck rollout the way the person on call needs it: the most
important cause first, in one ``summary`` line short enough for a GitHub deployment status
description (140 characters), and every finding in ``details`` for the CLI and the job
summary.

What it looks for, most important first:

1. the workload cannot create pods (a Deployment's ``ReplicaFailure`` condition: quota,
   admission policies);
2. containers that cannot pull their image (``ErrImagePull``, ``ImagePullBackOff``,
   ``InvalidImageName``);
3. containers that cannot start (``CreateContainerConfigError``: a missing Secret or
   ConfigMap key; ``CreateContainerError``; ``RunContainerError``);
4. containers in ``CrashLoopBackOff`` (restart count, last exit code and reason, the last
   line of the termination message, or the liveness probe that killed it);
5. containers that exited with an error and will not restart (Job pods);
6. pods that failed (evicted, deadline exceeded);
7. pods that cannot be scheduled (the scheduler's message);
8. pods stuck creating their containers with a warning event (a volume that cannot mount);
9. containers running but not ready (the failing readiness probe's message);
10. otherwise the newest warning event, and otherwise ``kubectl rollout status``'s own line.

Safety: nothing here reads container ``env``, ``envFrom``, volumes or any Secret object, and
events about Secrets are dropped, so no secret value can reach a summary.

Why one module of ~670 lines: the list above is one ranking, and each cause's reading of
pods, containers and events is a few lines beside the others; split, the order of the
causes (the thing a reader checks) would be spread over several files.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from commit_train.core.text import clip
from commit_train.errors import KubeError
from commit_train.kube import rollout
from commit_train.models import parse_time

"""GitHub's limit for a deployment status ``description``."""

_DETAIL_MESSAGE_LIMIT = 300
_PULL_REASONS = frozenset({"ErrImagePull", "ImagePullBackOff", "InvalidImageName"})
_START_REASONS = frozenset(
    {
        "CreateContainerConfigError",
        "CreateContainerError",
        "RunContainerError",
        "PreCreateHookError",
        "PostStartHookError",
        "ErrImageNeverPull",
    }
)
_STARTING_REASONS = frozenset({"ContainerCreating", "PodInitializing"})
_OPERATORS = ("In", "NotIn", "Exists", "DoesNotExist")


@dataclass(frozen=True)
class Diagnosis:
    """``summary``: one line of at most 140 characters, the most important cause first.

    ``details``: every finding, one line each, then the workload's recent warning events,
    newest first.
    """

    summary: str
    details: tuple[str, ...]


@dataclass(frozen=True)
class _Finding:
    """One cause, on one pod. Findings with the same ``key`` on several pods are merged."""

    rank: int
    key: tuple[str, ...]
    container: str | None  # None: the pod (or the workload) is the subject
    state: str
    note: str
    tail: str
    pod: str
    detail: str
    init: bool = False
    weight: int = 0
    workload_level: bool = False

    def phrase(self, pods: int) -> str:
        if self.workload_level:
            text = self.state
        elif self.container is None:
            subject = f"pod {self.pod}" if pods == 1 else f"{pods} pods"
            text = f"{subject} {self.state}"
        else:
            label = "init container" if self.init else "container"
            text = f"{label} {self.container} {self.state}"
            if pods > 1:
                text += f" on {pods} pods"
        if self.note:
            text += f" ({self.note})"
        if self.tail:
            text += f": {self.tail}"
        return text


def selector_matches(selector: Mapping[str, Any] | None, labels: Mapping[str, Any] | None) -> bool:
    """Whether a ``metav1.LabelSelector`` selects an object with these labels.

    Kubernetes semantics: an empty selector (``{}``) selects everything, a missing one
    (``None``) selects nothing. ``matchLabels`` and every ``matchExpressions`` requirement
    must all hold: ``In`` (the label is set to one of ``values``), ``NotIn`` (the label is
    unset or set to none of ``values``), ``Exists``, ``DoesNotExist``. Any other operator
    raises ``KubeError``: the API server would have refused the object.
    """
    if selector is None:
        return False
    labels = labels or {}
    for key, value in (selector.get("matchLabels") or {}).items():
        if key not in labels or labels[key] != value:
            return False
    for requirement in selector.get("matchExpressions") or []:
        key = requirement.get("key")
        operator = requirement.get("operator")
        values = requirement.get("values") or []
        present = key in labels
        if operator == "In":
            ok = present and labels[key] in values
        elif operator == "NotIn":
            ok = not present or labels[key] not in values
        elif operator == "Exists":
            ok = present
        elif operator == "DoesNotExist":
            ok = not present
        else:
            raise KubeError(
                f"unknown label selector operator {operator!r} for key {key!r}",
                fix="use In, NotIn, Exists or DoesNotExist",
            )
        if not ok:
            return False
    return True


def pods_of(
    workload: Mapping[str, Any], pods: Iterable[Mapping[str, Any]]
) -> list[Mapping[str, Any]]:
    """The pods the workload's ``spec.selector`` selects, in its namespace.

    A workload without ``spec.selector`` (a manifest before the API server filled it in)
    is matched by its pod template's labels instead.
    """
    spec = _map(workload.get("spec"))
    selector = spec.get("selector")
    if selector is None:
        template_labels = _map(_map(_map(spec.get("template")).get("metadata")).get("labels"))
        selector = {"matchLabels": template_labels} if template_labels else None
    namespace = _namespace(workload)
    return [
        pod
        for pod in pods
        if (not namespace or _namespace(pod) in ("", namespace))
        and selector_matches(selector, _map(_map(pod.get("metadata")).get("labels")))
    ]


def diagnose(
    workload: Mapping[str, Any],
    pods: Iterable[Mapping[str, Any]],
    events: Iterable[Mapping[str, Any]],
    *,
    kind: str | None = None,
    since: datetime | None = None,
    max_events: int = 20,
) -> Diagnosis:
    """Explain why ``workload``'s rollout is stuck or failed.

    ``pods`` may be every pod of the namespace: only those the workload selects are read.
    ``events`` may be every event of the namespace: only warnings about the workload, its
    pods and (for a Deployment) its ReplicaSets are kept, deduplicated by reason and
    message, newest first, at most ``max_events``; with ``since``, older ones are dropped
    (a naive ``since`` is taken as UTC, like the API's times). ``kind`` names the workload's
    kind when the dict lacks it.
    """
    if since is not None and since.tzinfo is None:
        since = since.replace(tzinfo=UTC)
    kind = kind or _text(workload.get("kind")) or "Workload"
    name = _text(_map(workload.get("metadata")).get("name")) or "workload"
    namespace = _namespace(workload)
    mine = [pod for pod in pods_of(workload, pods) if not _deleting(pod)]
    pod_names = {_pod_name(pod) for pod in mine}
    warnings = _warnings(
        events, kind=kind, name=name, namespace=namespace, pod_names=pod_names, since=since
    )

    findings = _workload_findings(workload)
    for pod in mine:
        findings.extend(_pod_findings(pod, warnings))
    merged = _merge(findings)

    current = rollout.status(workload, kind=kind)
    where = f"{namespace}/{name}" if namespace else name
    details = [f"{kind} {where}: {current.message}"]
    details.extend(_condition_lines(workload))
    details.extend(
        dict.fromkeys(f.detail for f in sorted(findings, key=_finding_order) if f.detail)
    )
    grouped = _dedup(warnings)
    if grouped:
        details.append("Warning events (newest first):")
        details.extend(f"  {line}" for line, _reason, _message in grouped[:max_events])

    if merged:
        fragments = [finding.phrase(count) for finding, count in merged]
    elif grouped:
        _line, reason, message = grouped[0]
        fragments = [f"{reason}: {message}"]
    else:
        fragments = [current.message]
    summary = clip(f"{name}: " + "; ".join(fragments))
    return Diagnosis(summary=summary, details=tuple(details))


def _workload_findings(workload: Mapping[str, Any]) -> list[_Finding]:
    found = []
    for cond in _list(_map(workload.get("status")).get("conditions")):
        if cond.get("type") == "ReplicaFailure" and cond.get("status") == "True":
            reason = _text(cond.get("reason")) or "ReplicaFailure"
            message = _detail(_text(cond.get("message")))
            found.append(
                _Finding(
                    rank=0,
                    key=("replica-failure",),
                    container=None,
                    state="cannot create pods",
                    note=reason,
                    tail=message,
                    pod="",
                    detail="",  # the condition line already says it
                    workload_level=True,
                )
            )
    return found


def _pod_findings(pod: Mapping[str, Any], warnings: Sequence[Mapping[str, Any]]) -> list[_Finding]:
    name = _pod_name(pod)
    spec = _map(pod.get("spec"))
    st = _map(pod.get("status"))
    events = [event for event in warnings if _involved(event) == ("Pod", name)]
    images = {
        _text(c.get("name")): _text(c.get("image"))
        for c in _list(spec.get("initContainers")) + _list(spec.get("containers"))
    }
    found: list[_Finding] = []
    phase = _text(st.get("phase"))
    scheduled = _condition(st, "PodScheduled")
    if (
        phase == "Pending"
        and scheduled is not None
        and scheduled.get("status") == "False"
        and scheduled.get("reason") == "Unschedulable"
    ):
        message = _detail(_text(scheduled.get("message"))) or _newest_message(
            events, "FailedScheduling"
        )
        found.append(
            _Finding(
                rank=7,
                key=("unschedulable", message),
                container=None,
                state="cannot be scheduled",
                note="",
                tail=message,
                pod=name,
                detail=f"Pod {name}: cannot be scheduled" + (f": {message}" if message else ""),
            )
        )
    for init, statuses in (
        (True, st.get("initContainerStatuses")),
        (False, st.get("containerStatuses")),
    ):
        for cs in _list(statuses):
            finding = _container_finding(
                pod=name, phase=phase, cs=cs, init=init, images=images, events=events
            )
            if finding is not None:
                found.append(finding)
    pod_reason = _text(st.get("reason"))
    if phase == "Failed" and (pod_reason or not found):
        reason = pod_reason or "Failed"
        message = _detail(_text(st.get("message")))
        found.append(
            _Finding(
                rank=6,
                key=("pod-failed", reason),
                container=None,
                state="failed",
                note=reason,
                tail=message,
                pod=name,
                detail=f"Pod {name}: failed ({reason})" + (f": {message}" if message else ""),
            )
        )
    return found


def _container_finding(
    *,
    pod: str,
    phase: str,
    cs: Mapping[str, Any],
    init: bool,
    images: Mapping[str, str],
    events: Sequence[Mapping[str, Any]],
) -> _Finding | None:
    container = _text(cs.get("name"))
    label = f"Pod {pod}: {'init container' if init else 'container'} {container}"
    state = _map(cs.get("state"))
    waiting = _map(state.get("waiting"))
    terminated = _map(state.get("terminated"))
    last = _map(_map(cs.get("lastState")).get("terminated"))
    restarts = _int(cs.get("restartCount"))
    reason = _text(waiting.get("reason"))
    message = _detail(_text(waiting.get("message")))
    mine = [event for event in events if _for_container(event, container)]

    if reason in _PULL_REASONS:
        image = _text(cs.get("image")) or images.get(container, "")
        why = message
        if reason != "ErrImagePull":
            why = _newest_message(mine, "Failed") or message
        return _Finding(
            rank=2,
            key=("pull", container, image),
            container=container,
            init=init,
            state=f"cannot pull image {image}" if image else "cannot pull its image",
            note=reason,
            tail="",
            pod=pod,
            detail=f"{label} cannot pull image {image} ({reason})" + (f": {why}" if why else ""),
        )
    if reason in _START_REASONS:
        return _Finding(
            rank=3,
            key=("start", container, reason, message),
            container=container,
            init=init,
            state="cannot start",
            note=reason,
            tail=message,
            pod=pod,
            detail=f"{label} cannot start ({reason})" + (f": {message}" if message else ""),
        )
    if reason == "CrashLoopBackOff":
        exit_code = last.get("exitCode")
        last_reason = _text(last.get("reason"))
        facts = []
        if last_reason and last_reason != "Error":
            facts.append(last_reason)
        if isinstance(exit_code, int):
            facts.append(f"exit {exit_code}")
        facts.append(_plural(restarts, "restart"))
        output = _last_line(_text(last.get("message"))) or _probe_failure(mine, "Liveness")
        finished = _text(last.get("finishedAt"))
        detail = f"{label} in CrashLoopBackOff, {_plural(restarts, 'restart')}"
        if last:
            detail += f"; last exit code {exit_code}"
            if last_reason:
                detail += f" ({last_reason})"
            if finished:
                detail += f" at {finished}"
        full = _detail(_text(last.get("message")))
        if full or output:
            detail += f": {full or output}"
        return _Finding(
            rank=4,
            key=("crash", container),
            container=container,
            init=init,
            state="in CrashLoopBackOff",
            note=", ".join(facts),
            tail=output,
            pod=pod,
            detail=detail,
            weight=restarts,
        )
    if terminated and _int(terminated.get("exitCode")) != 0:
        exit_code = _int(terminated.get("exitCode"))
        term_reason = _text(terminated.get("reason"))
        note = f"exit {exit_code}"
        if term_reason and term_reason != "Error":
            note = f"{term_reason}, {note}"
        output = _last_line(_text(terminated.get("message")))
        full = _detail(_text(terminated.get("message")))
        return _Finding(
            rank=5,
            key=("exited", container, str(exit_code)),
            container=container,
            init=init,
            state="failed",
            note=note,
            tail=output,
            pod=pod,
            detail=f"{label} failed ({note})" + (f": {full}" if full else ""),
        )
    if reason in _STARTING_REASONS or (not reason and not state and phase == "Pending"):
        warning = _newest(events)
        if warning is None:
            return None
        what = f"{_text(warning.get('reason'))}: {_message(warning)}"
        shown = reason or "Pending"
        return _Finding(
            rank=8,
            key=("stuck", shown, what),
            container=None,
            state=f"stuck in {shown}",
            note="",
            tail=what,
            pod=pod,
            detail=f"Pod {pod}: stuck in {shown}: {what}",
        )
    if reason:
        return _Finding(
            rank=10,
            key=("waiting", container, reason),
            container=container,
            init=init,
            state="is waiting",
            note=reason,
            tail=message,
            pod=pod,
            detail=f"{label} is waiting ({reason})" + (f": {message}" if message else ""),
        )
    if "running" in state and cs.get("ready") is False and phase == "Running" and not init:
        probe = _probe_failure(mine, "Readiness")
        return _Finding(
            rank=9,
            key=("unready", container),
            container=container,
            state="is running but not ready",
            note="",
            tail=probe,
            pod=pod,
            detail=f"{label} is running but not ready" + (f": {probe}" if probe else ""),
        )
    return None


def _merge(findings: Sequence[_Finding]) -> list[tuple[_Finding, int]]:
    """One entry per key: its worst finding and how many pods share it, most important first."""
    groups: dict[tuple[str, ...], list[_Finding]] = {}
    for finding in sorted(findings, key=_finding_order):
        groups.setdefault(finding.key, []).append(finding)
    merged = [(group[0], len({f.pod for f in group})) for group in groups.values()]
    merged.sort(key=lambda item: (item[0].rank, -item[1]))
    return merged


def _finding_order(finding: _Finding) -> tuple[int, int, str, str]:
    return (finding.rank, -finding.weight, finding.pod, finding.container or "")


def _condition_lines(workload: Mapping[str, Any]) -> list[str]:
    """Workload conditions that say something is wrong (healthy ones are noise)."""
    lines = []
    for cond in _list(_map(workload.get("status")).get("conditions")):
        kind = _text(cond.get("type"))
        state = _text(cond.get("status"))
        bad = (kind in ("ReplicaFailure", "Failed", "FailureTarget") and state == "True") or (
            kind in ("Available", "Progressing") and state == "False"
        )
        if bad:
            reason = _text(cond.get("reason"))
            message = _detail(_text(cond.get("message")))
            line = f"Condition {kind}={state}"
            if reason:
                line += f" ({reason})"
            if message:
                line += f": {message}"
            lines.append(line)
    return lines


def _warnings(
    events: Iterable[Mapping[str, Any]],
    *,
    kind: str,
    name: str,
    namespace: str,
    pod_names: set[str],
    since: datetime | None,
) -> list[Mapping[str, Any]]:
    """Warning events about the workload, its pods or its ReplicaSets, newest first."""
    replica_set = re.compile(re.escape(name) + r"-[a-z0-9]+")
    kept = []
    for event in events:
        if event.get("type") != "Warning":
            continue
        involved = _regarding(event)
        obj_kind = _text(involved.get("kind"))
        obj_name = _text(involved.get("name"))
        obj_namespace = _text(involved.get("namespace")) or _namespace(event)
        if namespace and obj_namespace and obj_namespace != namespace:
            continue
        ours = (
            (obj_kind == kind and obj_name == name)
            or (obj_kind == "Pod" and obj_name in pod_names)
            or (
                kind == "Deployment"
                and obj_kind == "ReplicaSet"
                and replica_set.fullmatch(obj_name) is not None
            )
        )
        if not ours:
            continue
        if since is not None:
            when = _event_time(event)
            if when is not None and when < since:
                continue
        kept.append(event)
    kept.sort(key=_event_sort_key, reverse=True)
    return kept


def _dedup(warnings: Sequence[Mapping[str, Any]]) -> list[tuple[str, str, str]]:
    """Newest-first lines, one per (reason, message), with repeat counts and object counts."""
    groups: dict[tuple[str, str], list[Mapping[str, Any]]] = {}
    for event in warnings:
        groups.setdefault((_text(event.get("reason")), _message(event)), []).append(event)
    lines = []
    for (reason, message), group in groups.items():
        newest = group[0]
        kind, obj = _involved(newest)
        objects = {_involved(event) for event in group}
        count = sum(_event_count(event) for event in group)
        when = _event_time(newest)
        stamp = when.strftime("%Y-%m-%dT%H:%M:%SZ") if when else "-"
        line = f"{stamp} {kind}/{obj}"
        if len(objects) > 1:
            line += f" (+{len(objects) - 1} more)"
        line += f" {reason}: {_detail(message)}"
        if count > 1:
            line += f" (x{count})"
        lines.append((line, reason, message))
    return lines


def _probe_failure(events: Sequence[Mapping[str, Any]], probe: str) -> str:
    for event in events:
        message = _message(event)
        if event.get("reason") == "Unhealthy" and message.startswith(f"{probe} probe"):
            return message
    return ""


def _newest_message(events: Sequence[Mapping[str, Any]], reason: str) -> str:
    for event in events:
        if event.get("reason") == reason:
            return _message(event)
    return ""


def _newest(events: Sequence[Mapping[str, Any]]) -> Mapping[str, Any] | None:
    return events[0] if events else None


def _for_container(event: Mapping[str, Any], container: str) -> bool:
    path = _text(_regarding(event).get("fieldPath"))
    return not path or path.endswith(f"{{{container}}}")


def _regarding(event: Mapping[str, Any]) -> Mapping[str, Any]:
    """core/v1 events name their object ``involvedObject``; events.k8s.io/v1 ``regarding``."""
    return _map(event.get("involvedObject") or event.get("regarding"))


def _involved(event: Mapping[str, Any]) -> tuple[str, str]:
    involved = _regarding(event)
    return _text(involved.get("kind")), _text(involved.get("name"))


def _message(event: Mapping[str, Any]) -> str:
    return _detail(_text(event.get("message")) or _text(event.get("note")))


def _event_count(event: Mapping[str, Any]) -> int:
    series = _map(event.get("series"))
    count = (
        _int(series.get("count")) or _int(event.get("count")) or _int(event.get("deprecatedCount"))
    )
    return max(1, count)


def _event_time(event: Mapping[str, Any]) -> datetime | None:
    for value in (
        event.get("lastTimestamp"),
        _map(event.get("series")).get("lastObservedTime"),
        event.get("eventTime"),
        event.get("deprecatedLastTimestamp"),
        event.get("firstTimestamp"),
        _map(event.get("metadata")).get("creationTimestamp"),
    ):
        if isinstance(value, str) and value:
            try:
                return parse_time(value)
            except ValueError:
                continue  # not a time: try the next field
    return None


def _event_sort_key(event: Mapping[str, Any]) -> datetime:
    return _event_time(event) or datetime.min.replace(tzinfo=UTC)


def _condition(st: Mapping[str, Any], kind: str) -> Mapping[str, Any] | None:
    for cond in _list(st.get("conditions")):
        if cond.get("type") == kind:
            return cond
    return None


def _deleting(pod: Mapping[str, Any]) -> bool:
    return bool(_map(pod.get("metadata")).get("deletionTimestamp"))


def _pod_name(pod: Mapping[str, Any]) -> str:
    return _text(_map(pod.get("metadata")).get("name"))


def _namespace(obj: Mapping[str, Any]) -> str:
    return _text(_map(obj.get("metadata")).get("namespace"))


def _last_line(text: str) -> str:
    """The line of a termination message most likely to name the error.

    Go panics put it first (``panic: ...``) and tracebacks last; take a ``panic:`` line if
    there is one, else the last non-empty line.
    """
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    for line in lines:
        if line.startswith("panic: "):
            return _detail(line)
    return _detail(lines[-1]) if lines else ""


def _detail(text: str) -> str:
    """A message from the cluster in a detail line: one line, ``_DETAIL_MESSAGE_LIMIT`` long."""
    return clip(text, _DETAIL_MESSAGE_LIMIT)


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


def _map(value: object) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _list(value: object) -> list[Mapping[str, Any]]:
    if not isinstance(value, list):
        return []
    return [item for item in value if isinstance(item, Mapping)]


def _int(value: object) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def _text(value: object) -> str:
    return value if isinstance(value, str) else ""
