"""Is a rollout finished? The same answer, word for word, as ``kubectl rollout status``.

``status`` looks at one object as the API returns it (a plain dict: a watch event's object,
or a GET answer) and says whether its rollout is done, still going, or has failed. The rules
and messages are kubectl's status viewers for Deployments, DaemonSets and StatefulSets, so a
person who knows kubectl reads the same lines in our logs and can check them with kubectl
against the same cluster. kubectl's errors (a progress deadline exceeded, a strategy that has
no rollout status, a pinned revision that is no longer running) become ``failed=True`` with
kubectl's error text as the message.

Jobs are ours, not kubectl's: a Job is done when its ``Complete`` condition is true and has
failed when its ``Failed`` (or ``FailureTarget``) condition is true.

Edge cases kept on purpose, because kubectl has them too:

- Defaults are not applied. A StatefulSet or DaemonSet without ``spec.updateStrategy.type``
  is refused; a Deployment without ``spec.replicas`` skips the "new replicas" check.
  Objects read back from an API server always carry the defaults.
- A StatefulSet whose ``spec.updateStrategy.rollingUpdate`` is present at all (API servers
  default it to ``{partition: 0}``) reports "partitioned roll out complete" when done.
- On a kubectl error ``done`` is kubectl's value too: true for an unsupported strategy, false
  otherwise. Check ``failed`` first.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from commit_train.errors import UsageError

REVISION_ANNOTATION = "deployment.kubernetes.io/revision"
TIMED_OUT_REASON = "ProgressDeadlineExceeded"

# (group, kind) pairs kubectl has a status viewer for, plus batch Jobs for our own waiter.
_VIEWERS: dict[tuple[str, str], str] = {
    ("apps", "Deployment"): "Deployment",
    ("extensions", "Deployment"): "Deployment",
    ("apps", "DaemonSet"): "DaemonSet",
    ("extensions", "DaemonSet"): "DaemonSet",
    ("apps", "StatefulSet"): "StatefulSet",
    ("batch", "Job"): "Job",
}
SUPPORTED_KINDS: frozenset[str] = frozenset(_VIEWERS.values())

_INT64_MAX = 2**63 - 1
_GO_INT = re.compile(r"[+-]?[0-9]+")


@dataclass(frozen=True)
class RolloutStatus:
    """One look at a rollout.

    ``message`` is kubectl's line without its trailing newline (or kubectl's error text when
    ``failed``). Stop waiting when ``failed`` or ``done``.
    """

    done: bool
    message: str
    failed: bool = False


class _Unreadable(Exception):
    """A field has a type the API would never send; becomes a failed status."""


def kind_supported(kind: str) -> bool:
    """Whether ``status`` can follow a rollout of this kind (``Deployment``, ``Job``, ...)."""
    return kind in SUPPORTED_KINDS


def status(obj: Mapping[str, Any], revision: int = 0, *, kind: str | None = None) -> RolloutStatus:
    """Answer what ``kubectl rollout status`` answers for ``obj`` right now.

    ``revision`` pins a Deployment to one revision, like ``kubectl rollout status
    --revision``: if another revision is running the rollout has failed. It is ignored for
    other kinds, as kubectl does. ``kind`` names the kind when ``obj`` lacks one (items of a
    list answer carry no ``kind``). A negative revision raises ``UsageError``.
    """
    if revision < 0:
        raise UsageError(f"revision must be a positive integer: {revision}")
    kind = kind or _text(obj.get("kind"))
    if not kind:
        return RolloutStatus(
            done=False,
            failed=True,
            message="cannot tell the rollout status of an object without a kind; "
            "pass the object as the API returns it",
        )
    group = _group(obj.get("apiVersion"))
    viewer = _VIEWERS.get((group, kind)) if group is not None else _by_kind(kind)
    if viewer is None:
        shown = f"{kind}.{group}" if group else kind
        return RolloutStatus(
            done=False,
            failed=True,
            message=f"no status viewer has been implemented for {shown}; commit-train "
            "follows rollouts of Deployment, StatefulSet, DaemonSet and Job objects",
        )
    try:
        if viewer == "Deployment":
            return _deployment(obj, revision)
        if viewer == "DaemonSet":
            return _daemon_set(obj)
        if viewer == "StatefulSet":
            return _stateful_set(obj)
        return _job(obj)
    except _Unreadable as exc:
        name = _quote(_name(obj))
        return RolloutStatus(
            done=False, failed=True, message=f"cannot read {kind.lower()} {name}: {exc}"
        )


def _by_kind(kind: str) -> str | None:
    return kind if kind in SUPPORTED_KINDS else None


def _deployment(obj: Mapping[str, Any], revision: int) -> RolloutStatus:
    name = _quote(_name(obj))
    spec = _section(obj, "spec")
    st = _section(obj, "status")
    generation = _int(_section(obj, "metadata"), "metadata", "generation")
    observed = _int(st, "status", "observedGeneration")
    wanted = _optional_int(spec, "spec", "replicas")
    updated = _int(st, "status", "updatedReplicas")
    replicas = _int(st, "status", "replicas")
    available = _int(st, "status", "availableReplicas")
    progressing = _condition(st, "Progressing")
    if revision > 0:
        running = _revision(obj)
        if isinstance(running, str):
            return _failed(f"cannot get the revision of deployment {name}: {running}")
        if running != revision:
            return _failed(
                f"desired revision ({revision}) is different from the running revision ({running})"
            )
    if generation > observed:
        return _waiting("Waiting for deployment spec update to be observed...")
    if progressing is not None and progressing.get("reason") == TIMED_OUT_REASON:
        return _failed(f"deployment {name} exceeded its progress deadline")
    prefix = f"Waiting for deployment {name} rollout to finish"
    if wanted is not None and updated < wanted:
        return _waiting(f"{prefix}: {updated} out of {wanted} new replicas have been updated...")
    if replicas > updated:
        return _waiting(f"{prefix}: {replicas - updated} old replicas are pending termination...")
    if available < updated:
        return _waiting(f"{prefix}: {available} of {updated} updated replicas are available...")
    return RolloutStatus(done=True, message=f"deployment {name} successfully rolled out")


def _daemon_set(obj: Mapping[str, Any]) -> RolloutStatus:
    name = _quote(_name(obj))
    spec = _section(obj, "spec")
    st = _section(obj, "status")
    generation = _int(_section(obj, "metadata"), "metadata", "generation")
    observed = _int(st, "status", "observedGeneration")
    desired = _int(st, "status", "desiredNumberScheduled")
    updated = _int(st, "status", "updatedNumberScheduled")
    available = _int(st, "status", "numberAvailable")
    if _strategy_type(spec) != "RollingUpdate":
        return _not_rolling()
    if generation > observed:
        return _waiting("Waiting for daemon set spec update to be observed...")
    prefix = f"Waiting for daemon set {name} rollout to finish"
    if updated < desired:
        return _waiting(f"{prefix}: {updated} out of {desired} new pods have been updated...")
    if available < desired:
        return _waiting(f"{prefix}: {available} of {desired} updated pods are available...")
    return RolloutStatus(done=True, message=f"daemon set {name} successfully rolled out")


def _stateful_set(obj: Mapping[str, Any]) -> RolloutStatus:
    spec = _section(obj, "spec")
    st = _section(obj, "status")
    generation = _int(_section(obj, "metadata"), "metadata", "generation")
    observed = _int(st, "status", "observedGeneration")
    wanted = _optional_int(spec, "spec", "replicas")
    ready = _int(st, "status", "readyReplicas")
    updated = _int(st, "status", "updatedReplicas")
    current = _int(st, "status", "currentReplicas")
    update_revision = _text(st.get("updateRevision"))
    current_revision = _text(st.get("currentRevision"))
    rolling = _section(spec, "updateStrategy").get("rollingUpdate")
    partition: int | None = None
    if rolling is not None:
        if not isinstance(rolling, Mapping):
            raise _Unreadable(f"spec.updateStrategy.rollingUpdate is {rolling!r}, not an object")
        partition = _optional_int(rolling, "spec.updateStrategy.rollingUpdate", "partition")
    if _strategy_type(spec) != "RollingUpdate":
        return _not_rolling()
    if observed == 0 or generation > observed:
        return _waiting("Waiting for statefulset spec update to be observed...")
    if wanted is not None and ready < wanted:
        return _waiting(f"Waiting for {wanted - ready} pods to be ready...")
    if rolling is not None:
        if wanted is not None and partition is not None and updated < wanted - partition:
            return _waiting(
                "Waiting for partitioned roll out to finish: "
                f"{updated} out of {wanted - partition} new pods have been updated..."
            )
        return RolloutStatus(
            done=True,
            message=f"partitioned roll out complete: {updated} new pods have been updated...",
        )
    if update_revision != current_revision:
        return _waiting(
            f"waiting for statefulset rolling update to complete {updated} pods at revision "
            f"{update_revision}..."
        )
    return RolloutStatus(
        done=True,
        message=f"statefulset rolling update complete {current} pods at revision "
        f"{current_revision}...",
    )


def _job(obj: Mapping[str, Any]) -> RolloutStatus:
    name = _quote(_name(obj))
    spec = _section(obj, "spec")
    st = _section(obj, "status")
    succeeded = _int(st, "status", "succeeded")
    active = _int(st, "status", "active")
    failed = _int(st, "status", "failed")
    completions = _optional_int(spec, "spec", "completions")
    for kind in ("Failed", "FailureTarget"):
        cond = _condition(st, kind)
        if cond is not None and cond.get("status") == "True":
            why = ": ".join(
                text for text in (_text(cond.get("reason")), _text(cond.get("message"))) if text
            )
            return RolloutStatus(
                done=True,
                failed=True,
                message=f"job {name} failed: {why}" if why else f"job {name} failed",
            )
    complete = _condition(st, "Complete")
    if complete is not None and complete.get("status") == "True":
        return RolloutStatus(done=True, message=f"job {name} successfully completed")
    if spec.get("suspend") is True:
        return _waiting(f"Waiting for job {name}: the job is suspended...")
    if completions is None:
        return _waiting(
            f"Waiting for job {name} to complete: {active} active, {succeeded} succeeded, "
            f"{failed} failed..."
        )
    return _waiting(
        f"Waiting for job {name} to complete: {succeeded} of {completions} completions "
        f"succeeded ({active} active, {failed} failed)..."
    )


def _waiting(message: str) -> RolloutStatus:
    return RolloutStatus(done=False, message=message)


def _failed(message: str) -> RolloutStatus:
    return RolloutStatus(done=False, failed=True, message=message)


def _not_rolling() -> RolloutStatus:
    # kubectl answers done=true with this error: there is nothing to wait for.
    return RolloutStatus(
        done=True,
        failed=True,
        message="rollout status is only available for RollingUpdate strategy type",
    )


def _revision(obj: Mapping[str, Any]) -> int | str:
    """The Deployment's revision annotation; 0 when absent, Go's parse error text when bad."""
    annotations = _section(_section(obj, "metadata"), "annotations")
    value = annotations.get(REVISION_ANNOTATION)
    if value is None:
        return 0
    text = str(value)
    if not _GO_INT.fullmatch(text):
        return f'strconv.ParseInt: parsing "{text}": invalid syntax'
    number = int(text)
    if not -_INT64_MAX - 1 <= number <= _INT64_MAX:
        return f'strconv.ParseInt: parsing "{text}": value out of range'
    return number


def _group(api_version: object) -> str | None:
    if not isinstance(api_version, str) or not api_version:
        return None
    group, _, _version = api_version.rpartition("/")
    return group


def _condition(st: Mapping[str, Any], kind: str) -> Mapping[str, Any] | None:
    conditions = st.get("conditions") or []
    if not isinstance(conditions, list):
        raise _Unreadable(f"status.conditions is {conditions!r}, not a list")
    for cond in conditions:
        if isinstance(cond, Mapping) and cond.get("type") == kind:
            return cond
    return None


def _strategy_type(spec: Mapping[str, Any]) -> str:
    return _text(_section(spec, "updateStrategy").get("type"))


def _name(obj: Mapping[str, Any]) -> str:
    meta = obj.get("metadata")
    return _text(meta.get("name")) if isinstance(meta, Mapping) else ""


def _section(obj: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    value = obj.get(key)
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise _Unreadable(f"{key} is {value!r}, not an object")
    return value


def _optional_int(section: Mapping[str, Any], where: str, key: str) -> int | None:
    value = section.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _Unreadable(f"{where}.{key} is {value!r}, not an integer")
    if isinstance(value, float):
        if not value.is_integer():
            raise _Unreadable(f"{where}.{key} is {value!r}, not an integer")
        return int(value)
    return value


def _int(section: Mapping[str, Any], where: str, key: str) -> int:
    value = _optional_int(section, where, key)
    return 0 if value is None else value


def _text(value: object) -> str:
    return value if isinstance(value, str) else ""


def _quote(text: str) -> str:
    """Go's ``%q`` for the names Kubernetes allows (and a safe answer for any other)."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'
