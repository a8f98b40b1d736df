"""What the Kubernetes API's answers mean: one table from an HTTP status to an error class.

Every request commit-train sends to a cluster ends, when it goes wrong, in one of these
(the classes live in ``commit_train.errors``; ``SurroundingsError`` marks those that say the
cluster or its credentials broke rather than the change)::

    answer                                     class                    a deploy ends
    no connection, refused, timed out, TLS     KubeUnreachableError     error
    429 Too Many Requests, 5xx                 KubeUnreachableError     error
    500 "field not declared in schema"         KubeInvalidError         failure
    410 Gone                                   TemporaryKubeError       error
    401 Unauthorized, 403 Forbidden            KubeCredentialsError     error
    404 Not Found                              KubeNotInstalledError    failure
    400 Bad Request, 409 Conflict, 422         KubeInvalidError         failure
    any other 4xx                              KubeInvalidError         failure

The same idea as kopf's ``kopf/_cogs/clients/errors.py`` (``check_response`` picks one
class per status: 401, 403, 404, 409, 422, 429, other 4xx, 5xx), with the deploy's outcome
attached: a ``TemporaryKubeError`` is worth retrying (``delay`` is the server's
``Retry-After``), the others are not. The statuses are the ones the API server documents
for its ``Status`` answers (Kubernetes API concepts: "Response codes"; the ``Status``
object's ``code``, ``reason`` and ``details.causes``).

``api_error`` builds the error for a ``kubernetes.client.exceptions.ApiException`` (one
line: what was being done, the status, the server's message, and the fix);
``unreachable`` the one for a request that reached no server (urllib3's ``HTTPError``).
"""

from __future__ import annotations

import contextlib
import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from commit_train.core.text import one_line
from commit_train.errors import (
    KubeCredentialsError,
    KubeError,
    KubeInvalidError,
    KubeNotInstalledError,
    KubeUnreachableError,
    TemporaryKubeError,
)

_CONFLICT_MANAGER = re.compile(r'conflict with "([^"]*)"')
# The API server's answer to an applied field the kind's schema lacks is a 500 (a plain error
# in structured-merge-diff's conversion; kubernetes/kubernetes#122480): the change is wrong,
# not the cluster. It is how a custom resource's typo surfaces, as render cannot check one.
_UNDECLARED = re.compile(r"(\.\S+): field not declared in schema")


@dataclass(frozen=True)
class Meaning:
    """What one answer means: the class to raise and what the person should do."""

    error: type[KubeError]
    fix: str


ANSWERS: Mapping[int, Meaning] = {
    400: Meaning(KubeInvalidError, "fix the manifest as the message says"),
    401: Meaning(
        KubeCredentialsError,
        "the credentials in the kubeconfig are missing or expired; log in again",
    ),
    403: Meaning(
        KubeCredentialsError,
        "grant the deploy identity this permission (a Role/ClusterRole binding)",
    ),
    404: Meaning(
        KubeNotInstalledError, "check the name and namespace, and that the namespace exists"
    ),
    409: Meaning(KubeInvalidError, "another change raced this one; deploy again"),
    410: Meaning(TemporaryKubeError, "the requested version is gone; deploy again"),
    422: Meaning(KubeInvalidError, "fix the manifest as the message says"),
    429: Meaning(KubeUnreachableError, "the API server is overloaded; deploy again in a minute"),
}
"""The statuses with a meaning of their own; ``meaning`` answers the others by class."""

_CLIENT = Meaning(KubeInvalidError, "check the API server and deploy again")
_SERVER = Meaning(KubeUnreachableError, "check the API server and deploy again")
_OTHER = Meaning(KubeError, "check the API server and deploy again")

UNREACHABLE_FIX = "check the cluster address in the kubeconfig and that the cluster is up"


def meaning(status: int) -> Meaning:
    """The row of ``ANSWERS`` for ``status``; any other 4xx is the change, 5xx the cluster."""
    found = ANSWERS.get(status)
    if found is not None:
        return found
    if 400 <= status < 500:
        return _CLIENT
    if 500 <= status < 600:
        return _SERVER
    return _OTHER


def api_error(doing: str, exc: Any, *, ref: object | None = None) -> KubeError:
    """The error for an ``ApiException``: status, the server's message, and the fix.

    ``ref`` (an object reference, shown as ``Kind namespace/name``) starts the line when
    given. A 409 whose Status names ``FieldManagerConflict`` causes says which fields
    another field manager owns, and the opt-in fix."""
    status = int(getattr(exc, "status", 0) or 0)
    body = _status_body(getattr(exc, "body", None))
    message = one_line(str(body.get("message") or getattr(exc, "reason", "") or ""))
    reason = str(body.get("reason") or getattr(exc, "reason", "") or "")
    subject = str(ref) if ref is not None else ""
    if status == 409:
        conflicts = _conflicts(body)
        if conflicts:
            owned = "; ".join(
                f'{", ".join(fields)} owned by field manager "{manager}"'
                for manager, fields in conflicts.items()
            )
            return KubeInvalidError(
                f"{subject}: apply conflict: {owned}",
                fix="remove those fields from the manifest, or take them over with "
                "--force-conflicts (force: true)",
            )
    undeclared = _UNDECLARED.findall(message)
    if undeclared:
        kind = str(getattr(ref, "kind", "") or "object")
        return KubeInvalidError(
            f"{subject or kind}: the {kind} schema the cluster serves has no "
            + ", ".join(undeclared),
            fix="correct or remove it in the manifest",
        )
    row = meaning(status)
    what = f"{subject}: " if subject else ""
    code = f"{status} {reason}".strip()
    detail = f": {message}" if message else ""
    return _make(row.error, f"{what}cannot {doing} ({code}){detail}", row.fix, exc)


@contextlib.contextmanager
def api_errors(doing: str, *, ref: object | None = None) -> Iterator[None]:
    """Turn the client's exceptions raised in the block into one ``KubeError`` line naming
    the fix, its class from ``ANSWERS``; a ``KubeError`` passes through."""
    from kubernetes.client.exceptions import ApiException
    from urllib3.exceptions import HTTPError

    try:
        yield
    except KubeError:
        raise
    except ApiException as exc:
        raise api_error(doing, exc, ref=ref) from exc
    except HTTPError as exc:
        raise unreachable(f"cannot {doing}: the Kubernetes API server did not answer", exc) from exc


def unreachable(message: str, exc: BaseException, *, fix: str = UNREACHABLE_FIX) -> KubeError:
    """The error for a request that reached no server: ``message`` then why
    (``connection_problem``)."""
    return KubeUnreachableError(f"{message} ({connection_problem(exc)})", fix=fix)


def discovery_error(host: str, exc: BaseException) -> KubeError:
    """The error for a cluster whose discovery did not answer (no connection, or an
    ``ApiException``): the address and why, its class from the table."""
    status = int(getattr(exc, "status", 0) or 0)
    cls = meaning(status).error if status else KubeUnreachableError
    return _make(
        cls,
        f"cannot reach the Kubernetes API at {host}: {connection_problem(exc)}",
        "check the cluster address and credentials in the kubeconfig",
        exc,
    )


def connection_problem(exc: BaseException) -> str:
    """Why a request reached no server, short: ``connection refused (127.0.0.1:6443)``,
    ``connection timed out (...)``, ``host not found (...)``, ``TLS failed (...)``; any
    other error as its one line. urllib3 wraps the cause (and repeats the pool and url)."""
    from urllib3.exceptions import HTTPError, MaxRetryError

    if not isinstance(exc, HTTPError):
        return _one_line(exc)
    pool = getattr(exc, "pool", None)
    cause: BaseException | None = exc.reason if isinstance(exc, MaxRetryError) else exc
    text = _one_line(cause) if cause is not None else _one_line(exc)
    lowered = text.lower()
    if "refused" in lowered:
        what = "connection refused"
    elif "timed out" in lowered or "timeout" in lowered:
        what = "connection timed out"
    elif "name or service not known" in lowered or "resolve" in lowered or "nodename" in lowered:
        what = "host not found"
    elif "ssl" in lowered or "certificate" in lowered:
        what = "TLS failed"
    else:
        return text
    host, port = getattr(pool, "host", None), getattr(pool, "port", None)
    return f"{what} ({host}:{port})" if host else what


def _make(cls: type[KubeError], message: str, fix: str, exc: Any) -> KubeError:
    if issubclass(cls, TemporaryKubeError):
        return cls(message, fix=fix, delay=_retry_after(exc))
    return cls(message, fix=fix)


def _retry_after(exc: Any) -> float | None:
    """The ``Retry-After`` header of an answer, in seconds, when it sent one."""
    headers = getattr(exc, "headers", None) or {}
    try:
        value = headers.get("Retry-After")
    except AttributeError:
        return None
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


def _one_line(exc: BaseException) -> str:
    """An exception's message on one line, or its type when it has none."""
    return one_line(str(exc)) or type(exc).__name__


def _status_body(body: Any) -> dict[str, Any]:
    if isinstance(body, bytes):
        body = body.decode("utf-8", "replace")
    if isinstance(body, str):
        try:
            parsed = json.loads(body)
        except ValueError:
            return {"message": body}
        return parsed if isinstance(parsed, dict) else {}
    return {}


def _conflicts(status: Mapping[str, Any]) -> dict[str, list[str]]:
    """``{manager: [field, ...]}`` from a Status's ``FieldManagerConflict`` causes."""
    found: dict[str, list[str]] = {}
    details = status.get("details") or {}
    for cause in details.get("causes") or []:
        # StatusCause's Go field is Type, but its JSON name is "reason".
        if (cause.get("reason") or cause.get("type")) != "FieldManagerConflict":
            continue
        match = _CONFLICT_MANAGER.search(str(cause.get("message", "")))
        manager = match.group(1) if match else "unknown"
        found.setdefault(manager, []).append(str(cause.get("field", "?")))
    return found
