"""A Kubernetes API server emulator for tests: the real clients talk to it over HTTP.

``KubeEmulator`` serves the REST protocol on 127.0.0.1 (a random port) so that the real
``kubernetes`` Python client and the real ``kubectl`` work against it unchanged: discovery,
OpenAPI v3 (as much as kubectl needs to trust the server's own field validation), CRUD,
server-side apply with managed fields and conflicts, the other patch types, list with label and
field selectors and pages, watch streams (bookmarks, 410 Gone, timeouts), status subresources,
defaulting, and a scriptable :class:`~tests.emulators.kube_controller.Controller`.

Usage::

    with KubeEmulator() as emu:
        api = kubernetes.client.AppsV1Api(emu.api_client())
        emu.write_kubeconfig(tmp_path / "kubeconfig")   # for kubectl
        emu.controller.complete("Deployment", "default", "web")
"""

from __future__ import annotations

import base64
import json
import socket
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import yaml

from tests.emulators import kube_protobuf
from tests.emulators.kube_controller import Clock, Controller
from tests.emulators.kube_fields import Fields, Unknown
from tests.emulators.kube_resources import SERVER_VERSION, ResourceType
from tests.emulators.kube_selectors import SelectorError, field_selector, label_selector
from tests.emulators.kube_store import ApiError, Store

__all__ = ["ApiError", "Clock", "KubeEmulator", "RecordedRequest"]

_PATCH_TYPES = {
    "application/apply-patch+yaml": "apply",
    "application/apply-patch+cbor": "apply",
    "application/merge-patch+json": "merge",
    "application/strategic-merge-patch+json": "strategic",
    "application/json-patch+json": "json",
}
_SYSTEM_NAMESPACES = ("default", "kube-system", "kube-public", "kube-node-lease")


@dataclass
class RecordedRequest:
    """One request the emulator answered."""

    method: str
    path: str
    query: dict[str, list[str]]
    content_type: str
    user_agent: str
    status: int = 0
    body: bytes = field(default=b"", repr=False)
    warnings: list[str] = field(default_factory=list)

    @property
    def params(self) -> dict[str, str]:
        return {k: v[-1] for k, v in self.query.items()}


def _truthy(value: str | None) -> bool:
    return (value or "").lower() in ("true", "1", "t", "yes")


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    block_on_close = False

    def __init__(self, emu: KubeEmulator) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.emu = emu
        self.connections: set[socket.socket] = set()
        self.connections_lock = threading.Lock()

    def process_request(self, request: Any, client_address: Any) -> None:
        with self.connections_lock:
            self.connections.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self.connections_lock:
            self.connections.discard(request)
        super().shutdown_request(request)

    def close_connections(self) -> None:
        with self.connections_lock:
            for sock in list(self.connections):
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def setup(self) -> None:
        super().setup()
        # headers and body go out as separate writes: without this, delayed ACKs cost 40 ms
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def log_message(self, format: str, *args: Any) -> None:
        return

    def do_GET(self) -> None:
        self._handle("GET")

    def do_POST(self) -> None:
        self._handle("POST")

    def do_PUT(self) -> None:
        self._handle("PUT")

    def do_PATCH(self) -> None:
        self._handle("PATCH")

    def do_DELETE(self) -> None:
        self._handle("DELETE")

    def _read_body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks = []
            while True:
                size = int(self.rfile.readline().strip() or b"0", 16)
                if size == 0:
                    self.rfile.readline()
                    break
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
            return b"".join(chunks)
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _handle(self, method: str) -> None:
        emu = self.server.emu
        url = urlsplit(self.path)
        body = self._read_body()
        record = RecordedRequest(
            method=method,
            path=url.path,
            query=parse_qs(url.query, keep_blank_values=True),
            content_type=(self.headers.get("Content-Type") or "").split(";")[0].strip(),
            user_agent=self.headers.get("User-Agent") or "",
            body=body,
        )
        emu._record(record)
        try:
            fault = emu._take_fault(method, url.path)
            if fault is not None:
                raise fault
            result = emu._route(self, method, url.path, record, body)
        except ApiError as error:
            result = (error.code, error.status())
        except Exception as exc:  # an emulator bug must answer, not hang the client
            result = (500, ApiError(500, "InternalError", f"emulator error: {exc!r}").status())
        if result is None:  # a watch stream already answered
            return
        status, payload = result
        record.status = status
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Cache-Control", "no-cache, private")
        for text in record.warnings:
            self.send_header("Warning", _warning_header(text))
        self.end_headers()
        self.wfile.write(data)

    # Watch streams --------------------------------------------------------------------------

    def start_stream(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Transfer-Encoding", "chunked")
        self.send_header("Cache-Control", "no-cache, private")
        self.end_headers()
        self.wfile.flush()

    def send_event(self, event: dict[str, Any]) -> None:
        data = json.dumps(event).encode() + b"\n"
        self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
        self.wfile.flush()

    def end_stream(self) -> None:
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()


class KubeEmulator:
    """A Kubernetes API server on 127.0.0.1 for tests (see the module docstring)."""

    def __init__(
        self,
        *,
        clock: Clock | None = None,
        history_size: int = 1000,
        bookmark_interval: float = 1.0,
        namespaces: tuple[str, ...] = _SYSTEM_NAMESPACES,
    ) -> None:
        self.clock = clock or Clock()
        self.store = Store(now=self.clock.timestamp, history_size=history_size)
        self.bookmark_interval = bookmark_interval
        self.controller = Controller(self)
        self.fields = Fields()
        self.requests: list[RecordedRequest] = []
        self._requests_lock = threading.Lock()
        self._faults: list[tuple[str | None, str | None, ApiError, list[int]]] = []
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        ns_type = self.store.registry.by_kind("Namespace")
        for name in namespaces:
            self.store.create(
                ns_type,
                "",
                {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}},
                manager="kube-apiserver",
                api_version="v1",
            )
        self.reset_requests()

    # Lifecycle ------------------------------------------------------------------------------

    def start(self) -> KubeEmulator:
        if self._server is None:
            self._server = _Server(self)
            self._thread = threading.Thread(
                target=self._server.serve_forever,
                kwargs={"poll_interval": 0.02},
                name="kube-emulator",
                daemon=True,
            )
            self._thread.start()
        return self

    def stop(self) -> None:
        self.controller.stop()
        with self.store.cond:
            self.store.closed = True
            self.store.cond.notify_all()
        if self._server is not None:
            self._server.shutdown()
            self._server.close_connections()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> KubeEmulator:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        if self._server is None:
            raise RuntimeError("the emulator is not started: call start() first")
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    # Clients --------------------------------------------------------------------------------

    def write_kubeconfig(self, path: str | Path, *, namespace: str = "default") -> Path:
        """A kubeconfig whose current context points at this emulator."""
        target = Path(path)
        config = {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{"name": "emulator", "cluster": {"server": self.url}}],
            "users": [{"name": "emulator", "user": {}}],
            "contexts": [
                {
                    "name": "emulator",
                    "context": {"cluster": "emulator", "user": "emulator", "namespace": namespace},
                }
            ],
            "current-context": "emulator",
            "preferences": {},
        }
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(yaml.safe_dump(config, sort_keys=False))
        return target

    def api_client(self) -> Any:
        """A ``kubernetes.client.ApiClient`` configured for this emulator."""
        from kubernetes import client

        configuration = client.Configuration(host=self.url)
        return client.ApiClient(configuration)

    # Test-side access -----------------------------------------------------------------------

    def rtype(self, kind: str) -> ResourceType:
        return self.store.registry.by_kind(kind)

    def get(self, kind: str, namespace: str | None, name: str) -> dict[str, Any] | None:
        """The stored object (as the API would answer it), or None."""
        return self.store.get(self.rtype(kind), namespace or "", name)

    def objects(self, kind: str, namespace: str | None = None) -> list[dict[str, Any]]:
        return self.store.list(self.rtype(kind), namespace)

    def compact(self, *, expire_watches: bool = True) -> None:
        """Drop the watch history: watches from any earlier resourceVersion get 410 Gone.

        Open watch streams end with a 410 ERROR event too, unless ``expire_watches=False``
        (then a watch that is caught up keeps streaming, as it would over an etcd compaction).
        """
        self.store.compact(expire_watches=expire_watches)

    @property
    def resource_version(self) -> int:
        return self.store.rv

    @property
    def request_count(self) -> int:
        return len(self.requests)

    def reset_requests(self) -> None:
        with self._requests_lock:
            self.requests = []

    def _record(self, record: RecordedRequest) -> None:
        with self._requests_lock:
            self.requests.append(record)

    def fail_next(
        self,
        code: int,
        *,
        method: str | None = None,
        path_contains: str | None = None,
        times: int = 1,
        message: str = "injected fault",
        reason: str = "InternalError",
    ) -> None:
        """Answer the next ``times`` matching requests with an error Status of ``code``."""
        self._faults.append((method, path_contains, ApiError(code, reason, message), [times]))

    def _take_fault(self, method: str, path: str) -> ApiError | None:
        with self._requests_lock:
            for want_method, want_path, error, left in self._faults:
                if left[0] <= 0:
                    continue
                if want_method is not None and want_method != method:
                    continue
                if want_path is not None and want_path not in path:
                    continue
                left[0] -= 1
                return error
        return None

    # Routing --------------------------------------------------------------------------------

    def _route(
        self,
        handler: _Handler,
        method: str,
        path: str,
        record: RecordedRequest,
        body: bytes,
    ) -> tuple[int, Any] | None:
        registry = self.store.registry
        path = path.rstrip("/") or "/"
        parts = [p for p in path.split("/") if p]
        accept = handler.headers.get("Accept") or ""
        if method == "GET":
            if path == "/version":
                return 200, SERVER_VERSION
            if path in ("/healthz", "/readyz", "/livez"):
                return 200, "ok"
            if path == "/api":
                return 200, registry.api_versions()
            if path == "/apis":
                return 200, registry.api_group_list()
            if path == "/openapi/v3":
                return 200, registry.openapi_v3_root()
            if parts[:2] == ["openapi", "v3"]:
                doc = registry.openapi_v3("/".join(parts[2:]))
                if doc is not None:
                    return 200, doc
            if path == "/api/v1":
                return 200, registry.resource_list("", "v1")
            if len(parts) == 2 and parts[0] == "apis":
                group = registry.api_group(parts[1])
                if group is not None:
                    return 200, group
            if len(parts) == 3 and parts[0] == "apis":
                resources = registry.resource_list(parts[1], parts[2])
                if resources is not None:
                    return 200, resources
        if parts[:2] == ["api", "v1"]:
            group, version, rest = "", "v1", parts[2:]
        elif len(parts) >= 3 and parts[0] == "apis":
            group, version, rest = parts[1], parts[2], parts[3:]
        else:
            raise _page_not_found()
        watch_path = bool(rest) and rest[0] == "watch"
        if watch_path:
            rest = rest[1:]
        namespace: str | None = None
        if len(rest) >= 3 and rest[0] == "namespaces" and rest[2] not in ("status", "finalize"):
            namespace, rest = rest[1], rest[2:]
        if not rest:
            raise _page_not_found()
        rtype = registry.lookup(group, version, rest[0])
        if rtype is None or (namespace is not None and not rtype.namespaced):
            raise _page_not_found()
        name = rest[1] if len(rest) > 1 else None
        subresource = rest[2] if len(rest) > 2 else ""
        if len(rest) > 3 or (subresource and subresource != "status"):
            raise _page_not_found()
        if subresource == "status" and not rtype.status_subresource:
            raise _page_not_found()
        params = record.params
        api_version = rtype.api_version
        if name is None:
            if method == "GET":
                if watch_path or _truthy(params.get("watch")):
                    self._watch(handler, rtype, namespace, params, record)
                    return None
                return 200, self._list(rtype, namespace, params, accept)
            if method == "POST":
                if rtype.namespaced and namespace is None:
                    raise ApiError(405, "MethodNotAllowed", "the server does not allow this method")
                obj = self._decoded(rtype, _decode(body), record, options="CreateOptions")
                manager = params.get("fieldManager") or _default_manager(record.user_agent)
                created = self.store.create(
                    rtype,
                    namespace or "",
                    obj,
                    manager=manager,
                    api_version=api_version,
                    dry_run=params.get("dryRun") == "All",
                )
                return 201, _present(rtype, created)
            if method == "DELETE":
                return 200, self._delete_collection(rtype, namespace, params)
            raise ApiError(405, "MethodNotAllowed", "the server does not allow this method")
        if rtype.namespaced and namespace is None:
            raise _page_not_found()
        ns = namespace or ""
        dry_run = params.get("dryRun") == "All"
        if "dryRun" in params and params["dryRun"] not in ("All", ""):
            raise ApiError(400, "BadRequest", f'unsupported dry run option: "{params["dryRun"]}"')
        if method == "GET":
            obj = self.store.get(rtype, ns, name)
            if obj is None:
                from tests.emulators.kube_store import not_found

                raise not_found(rtype, name)
            if "as=Table" in accept:
                return 200, _table(rtype, [obj], obj["metadata"]["resourceVersion"], self.clock)
            return 200, _present(rtype, obj)
        if method == "PUT":
            manager = params.get("fieldManager") or _default_manager(record.user_agent)
            updated = self.store.replace(
                rtype,
                ns,
                name,
                self._decoded(rtype, _decode(body), record, options="UpdateOptions"),
                manager=manager,
                api_version=api_version,
                dry_run=dry_run,
                subresource=subresource,
            )
            return 200, _present(rtype, updated)
        if method == "PATCH":
            kind = _PATCH_TYPES.get(record.content_type)
            if kind is None:
                raise ApiError(
                    415,
                    "UnsupportedMediaType",
                    f"the body of the request was in an unknown format - accepted media types "
                    f"include: {', '.join(_PATCH_TYPES)}",
                )
            directive = _field_validation(params, "PatchOptions")
            if kind == "apply":
                manager = params.get("fieldManager", "")
                if not manager:
                    raise ApiError(
                        422,
                        "Invalid",
                        'PatchOptions.meta.k8s.io "" is invalid: fieldManager: Required value: '
                        "is required for apply patch",
                        details={
                            "group": "meta.k8s.io",
                            "kind": "PatchOptions",
                            "causes": [
                                {
                                    "reason": "FieldValueRequired",
                                    "message": "Required value: is required for apply patch",
                                    "field": "fieldManager",
                                }
                            ],
                        },
                    )
                try:
                    applied = yaml.safe_load(body.decode() or "{}")
                except yaml.YAMLError as exc:
                    raise ApiError(400, "BadRequest", f"error decoding YAML: {exc}") from exc
                # The real API server answers 201 when an apply creates the object.
                existed = self.store.get(rtype, ns, name) is not None
                applied_obj = self.store.apply(
                    rtype,
                    ns,
                    name,
                    applied,
                    manager=manager,
                    force=_truthy(params.get("force")),
                    api_version=api_version,
                    dry_run=dry_run,
                    subresource=subresource,
                    check=lambda applied: self._check_applied(rtype, applied),
                )
                return (200 if existed else 201), _present(rtype, applied_obj)
            if "force" in params:
                raise ApiError(
                    422,
                    "Invalid",
                    'PatchOptions.meta.k8s.io "" is invalid: force: Forbidden: may not be '
                    "specified for non-apply patch",
                )
            manager = params.get("fieldManager") or _default_manager(record.user_agent)
            patched = self.store.patch(
                rtype,
                ns,
                name,
                _decode(body, allow_list=True),
                patch_type=kind,
                manager=manager,
                api_version=api_version,
                dry_run=dry_run,
                subresource=subresource,
                check=lambda patched: self._patched(rtype, patched, record, directive),
            )
            return 200, _present(rtype, patched)
        if method == "DELETE":
            options = _decode(body) if body.strip() else {}
            propagation = params.get("propagationPolicy") or options.get(
                "propagationPolicy", "Background"
            )
            if _truthy(params.get("orphanDependents")):
                propagation = "Orphan"
            deleted = self.store.delete(rtype, ns, name, propagation=propagation, dry_run=dry_run)
            return 200, {
                "kind": "Status",
                "apiVersion": "v1",
                "metadata": {},
                "status": "Success",
                "details": {
                    "name": name,
                    "group": rtype.group,
                    "kind": rtype.plural,
                    "uid": deleted["metadata"]["uid"],
                },
            }
        raise ApiError(405, "MethodNotAllowed", "the server does not allow this method")

    # Field validation (see kube_fields and tests/test_kube_field_validation.py) -------------

    def _schema(self, rtype: ResourceType) -> Any:
        crd = None
        if rtype.custom:
            crd_type = self.store.registry.by_kind("CustomResourceDefinition")
            crd = self.store.get(crd_type, "", f"{rtype.plural}.{rtype.group}")
        return self.fields.schema(rtype, crd)

    def _decoded(
        self, rtype: ResourceType, obj: Any, record: RecordedRequest, *, options: str
    ) -> Any:
        """A create or update body as the server decodes it (``handlers/create.go``,
        ``update.go``): ``Strict`` refuses unknown fields with a 400 naming them all
        (``transformDecodeError``), ``Warn`` (the default) drops them with a warning each,
        ``Ignore`` drops them silently."""
        directive = _field_validation(record.params, options)
        if not isinstance(obj, dict):
            return obj
        unknown = self.fields.unknown(obj, self._schema(rtype))
        if not unknown:
            return obj
        if directive == "Strict":
            api_version = str(obj.get("apiVersion") or rtype.api_version)
            kind = str(obj.get("kind") or rtype.kind)
            raise ApiError(
                400,
                "BadRequest",
                f'{kind} in version "{api_version.rpartition("/")[2]}" cannot be handled as a '
                f"{rtype.kind}: {_strict_decoding(unknown)}",
            )
        if directive == "Warn":
            record.warnings.extend(f'unknown field "{u.dotted}"' for u in unknown)
        return self.fields.without(obj, unknown)

    def _patched(
        self, rtype: ResourceType, patched: Any, record: RecordedRequest, directive: str
    ) -> Any:
        """A merge, strategic or JSON patch's result as the server decodes it
        (``handlers/patch.go``): ``Strict`` is a 422 Invalid on the field ``patch``."""
        if not isinstance(patched, dict):
            return patched
        unknown = sorted(self.fields.unknown(patched, self._schema(rtype)), key=lambda u: u.dotted)
        if not unknown:
            return patched
        if directive == "Strict":
            shown = json.dumps(json.dumps(patched, separators=(",", ":")))
            body = f"Invalid value: {shown}: {_strict_decoding(unknown)}"
            raise ApiError(
                422,
                "Invalid",
                f' "" is invalid: patch: {body}',
                details={
                    "causes": [{"reason": "FieldValueInvalid", "message": body, "field": "patch"}]
                },
            )
        if directive == "Warn":
            record.warnings.extend(f'unknown field "{u.dotted}"' for u in unknown)
        return self.fields.without(patched, unknown)

    def _check_applied(self, rtype: ResourceType, applied: dict[str, Any]) -> None:
        """An applied configuration as structured-merge-diff converts it
        (``managedfields/internal/structuredmerge.go``, ``Apply``), whatever
        ``fieldValidation`` says: managed fields are a 400; an undeclared field fails the
        typed conversion, a plain error the server answers as a 500 with no reason."""
        meta = applied.get("metadata")
        meta = meta if isinstance(meta, dict) else {}
        if isinstance(meta.get("managedFields"), list):
            raise ApiError(400, "BadRequest", "metadata.managedFields must be nil")
        unknown = sorted(self.fields.unknown(applied, self._schema(rtype)), key=lambda u: u.smd)
        if not unknown:
            return
        errors = [f"{u.smd}: field not declared in schema" for u in unknown]
        text = errors[0] if len(errors) == 1 else "\n  ".join(["errors:", *errors])
        group, _, version = str(applied.get("apiVersion")).rpartition("/")
        where = f"{meta.get('namespace') or ''}/{meta.get('name') or ''}"
        raise ApiError(
            500,
            "",
            f"failed to create typed patch object ({where}; {group}/{version}, "
            f"Kind={applied.get('kind')}): {text}",
        )

    def _matchers(self, rtype: ResourceType, params: dict[str, str]) -> tuple[Any, Any]:
        try:
            return (
                label_selector(params.get("labelSelector", "")),
                field_selector(params.get("fieldSelector", ""), rtype.kind),
            )
        except SelectorError as exc:
            raise ApiError(400, "BadRequest", str(exc)) from exc

    def _list(
        self, rtype: ResourceType, namespace: str | None, params: dict[str, str], accept: str
    ) -> dict[str, Any]:
        labels, fields = self._matchers(rtype, params)
        with self.store.cond:
            items = [
                obj for obj in self.store.list(rtype, namespace) if labels(obj) and fields(obj)
            ]
            rv = str(self.store.rv)
        start = 0
        token = params.get("continue")
        if token:
            try:
                state = json.loads(base64.urlsafe_b64decode(token.encode()))
                rv, start = state["rv"], int(state["start"])
            except (ValueError, KeyError) as exc:
                raise ApiError(400, "BadRequest", "continue key is not valid") from exc
        meta: dict[str, Any] = {"resourceVersion": rv}
        limit = int(params.get("limit") or 0)
        if limit > 0 and start + limit < len(items):
            page = items[start : start + limit]
            state = {"rv": rv, "start": start + limit}
            meta["continue"] = base64.urlsafe_b64encode(json.dumps(state).encode()).decode()
            meta["remainingItemCount"] = len(items) - start - limit
        else:
            page = items[start:]
        if "as=Table" in accept:
            return _table(rtype, page, rv, self.clock)
        return {
            "kind": f"{rtype.kind}List",
            "apiVersion": rtype.api_version,
            "metadata": meta,
            "items": [_present(rtype, obj, in_list=True) for obj in page],
        }

    def _delete_collection(
        self, rtype: ResourceType, namespace: str | None, params: dict[str, str]
    ) -> dict[str, Any]:
        labels, fields = self._matchers(rtype, params)
        deleted = []
        for obj in self.store.list(rtype, namespace):
            if labels(obj) and fields(obj):
                meta = obj["metadata"]
                deleted.append(self.store.delete(rtype, meta.get("namespace", ""), meta["name"]))
        return {
            "kind": f"{rtype.kind}List",
            "apiVersion": rtype.api_version,
            "metadata": {"resourceVersion": str(self.store.rv)},
            "items": [_present(rtype, obj, in_list=True) for obj in deleted],
        }

    def _watch(
        self,
        handler: _Handler,
        rtype: ResourceType,
        namespace: str | None,
        params: dict[str, str],
        record: RecordedRequest,
    ) -> None:
        labels, fields = self._matchers(rtype, params)
        store = self.store
        timeout = float(params.get("timeoutSeconds") or 1800)
        bookmarks = _truthy(params.get("allowWatchBookmarks"))
        initial_events = _truthy(params.get("sendInitialEvents"))
        requested = params.get("resourceVersion", "")

        def wanted(obj: dict[str, Any]) -> bool:
            if namespace is not None and obj["metadata"].get("namespace") != namespace:
                return False
            return bool(labels(obj) and fields(obj))

        def bookmark(rv: int, *, initial_end: bool = False) -> dict[str, Any]:
            meta: dict[str, Any] = {"resourceVersion": str(rv)}
            if initial_end:
                meta["annotations"] = {"k8s.io/initial-events-end": "true"}
            return {
                "type": "BOOKMARK",
                "object": {"kind": rtype.kind, "apiVersion": rtype.api_version, "metadata": meta},
            }

        def gone(version: object, oldest: int) -> dict[str, Any]:
            return {
                "type": "ERROR",
                "object": {
                    "kind": "Status",
                    "apiVersion": "v1",
                    "metadata": {},
                    "status": "Failure",
                    "message": f"too old resource version: {version} ({oldest})",
                    "reason": "Expired",
                    "code": 410,
                },
            }

        record.status = 200
        try:
            with store.cond:
                epoch = store.epoch
                if requested in ("", "0") or initial_events:
                    position = store.rv
                    first = [
                        {"type": "ADDED", "object": obj}
                        for obj in store.list(rtype, namespace)
                        if wanted(obj)
                    ]
                    expired = None
                else:
                    try:
                        position = int(requested)
                    except ValueError:
                        position = -1
                    first = []
                    expired = position < store.compacted_rv
                    oldest = store.history[0].rv if store.history else store.rv + 1
            handler.start_stream()  # after the starting point is fixed: no event is lost
            if expired:
                handler.send_event(gone(requested, oldest - 1))
                handler.end_stream()
                return
            for event in first:
                handler.send_event(event)
            if initial_events and bookmarks:
                handler.send_event(bookmark(position, initial_end=True))
            deadline = time.monotonic() + timeout
            next_bookmark = time.monotonic() + self.bookmark_interval
            while True:
                now = time.monotonic()
                if now >= deadline:
                    break
                with store.cond:
                    if position < store.compacted_rv or store.epoch != epoch:
                        events = None
                        oldest_now = store.compacted_rv
                    else:
                        events = [
                            (kind, e.obj)
                            for e in store.history
                            if e.rv > position and e.key == rtype.key
                            for kind in [_seen_as(e.type, e.obj, e.prev, wanted)]
                            if kind is not None
                        ]
                        if store.history:
                            position = max(position, store.history[-1].rv)
                    if events == [] and not store.closed:
                        store.cond.wait(max(0.0, min(deadline, next_bookmark) - now))
                    closed = store.closed
                if events is None:
                    handler.send_event(gone(position, oldest_now))
                    handler.end_stream()
                    return
                for kind, obj in events:
                    handler.send_event({"type": kind, "object": obj})
                if closed:
                    break
                if bookmarks and time.monotonic() >= next_bookmark:
                    handler.send_event(bookmark(position))
                    next_bookmark = time.monotonic() + self.bookmark_interval
            if bookmarks and not store.closed:
                handler.send_event(bookmark(position))
            handler.end_stream()
        except (BrokenPipeError, ConnectionResetError, OSError):
            handler.close_connection = True


def _seen_as(kind: str, obj: dict[str, Any], prev: dict[str, Any] | None, wanted: Any) -> Any:
    """How a filtered watch reports a change: an object that stops matching is DELETED for it,
    one that starts matching is ADDED (as the API server's watch cache does)."""
    now = wanted(obj)
    if kind != "MODIFIED" or prev is None:
        return kind if now else None
    before = wanted(prev)
    if before and now:
        return "MODIFIED"
    if before:
        return "DELETED"
    return "ADDED" if now else None


def _page_not_found() -> ApiError:
    return ApiError(
        404,
        "NotFound",
        "the server could not find the requested resource",
        details={
            "causes": [{"reason": "UnexpectedServerResponse", "message": "404 page not found"}]
        },
    )


def _decode(body: bytes, *, allow_list: bool = False) -> Any:
    if body.startswith(kube_protobuf.MAGIC):
        try:
            return kube_protobuf.decode(body)
        except kube_protobuf.ProtobufError as exc:
            raise ApiError(415, "UnsupportedMediaType", str(exc)) from exc
    try:
        value = json.loads(body.decode() or "null")
    except ValueError:
        try:
            value = yaml.safe_load(body.decode())
        except yaml.YAMLError as exc:
            raise ApiError(400, "BadRequest", f"error decoding request body: {exc}") from exc
    if isinstance(value, list) and allow_list:
        return value
    if not isinstance(value, dict):
        raise ApiError(400, "BadRequest", "the request body must be a JSON object")
    return value


def _field_validation(params: dict[str, str], options: str) -> str:
    """The ``fieldValidation`` directive; absent is ``Warn``, the API server's default since
    1.25 (``handlers/rest.go``, ``fieldValidation``); any other value is refused as
    ``ValidateFieldValidation`` refuses it."""
    value = params.get("fieldValidation", "")
    if value not in ("", "Ignore", "Warn", "Strict"):
        message = f'Unsupported value: "{value}": supported values: "", "Ignore", "Strict", "Warn"'
        raise ApiError(
            422,
            "Invalid",
            f'{options}.meta.k8s.io "" is invalid: fieldValidation: {message}',
            details={
                "group": "meta.k8s.io",
                "kind": options,
                "causes": [
                    {
                        "reason": "FieldValueNotSupported",
                        "message": message,
                        "field": "fieldValidation",
                    }
                ],
            },
        )
    return value or "Warn"


def _strict_decoding(unknown: list[Unknown]) -> str:
    return "strict decoding error: " + ", ".join(f'unknown field "{u.dotted}"' for u in unknown)


def _warning_header(text: str) -> str:
    """A ``Warning`` header value as the API server writes one (RFC 7234 code 299, agent
    ``-``; ``k8s.io/apimachinery/pkg/util/net``, ``NewWarningHeader``)."""
    quoted = text.replace("\\", "\\\\").replace('"', '\\"')
    return f'299 - "{quoted}"'


def _default_manager(user_agent: str) -> str:
    """The API server's default field manager: the User-Agent up to its first slash."""
    return (user_agent.split("/", 1)[0] or "unknown")[:128]


def _present(rtype: ResourceType, obj: dict[str, Any], *, in_list: bool = False) -> dict:
    """The object as the wire shows it (list items of built-in types carry no kind)."""
    if in_list and not rtype.custom:
        return {k: v for k, v in obj.items() if k not in ("kind", "apiVersion")}
    return obj


def _age(created: str, clock: Clock) -> str:
    from tests.emulators.kube_controller import parse_time

    seconds = int((clock.now() - parse_time(created)).total_seconds())
    if seconds < 120:
        return f"{max(seconds, 0)}s"
    if seconds < 7200:
        return f"{seconds // 60}m"
    return f"{seconds // 3600}h"


def _table(
    rtype: ResourceType, objs: list[dict[str, Any]], rv: str, clock: Clock
) -> dict[str, Any]:
    """A ``meta.k8s.io/v1`` Table: what kubectl's human-readable ``get`` asks for."""
    columns = [
        {"name": "Name", "type": "string", "format": "name", "description": "Name", "priority": 0},
        {"name": "Age", "type": "string", "format": "", "description": "Age", "priority": 0},
    ]
    extra: list[tuple[str, Any]] = []
    if rtype.kind == "Deployment":
        extra = [
            (
                "Ready",
                lambda o: (
                    f"{o.get('status', {}).get('readyReplicas', 0)}/{o['spec'].get('replicas', 0)}"
                ),
            ),
            ("Up-to-date", lambda o: o.get("status", {}).get("updatedReplicas", 0)),
            ("Available", lambda o: o.get("status", {}).get("availableReplicas", 0)),
        ]
    elif rtype.kind == "Pod":
        extra = [("Status", lambda o: o.get("status", {}).get("phase", ""))]
    for title, _ in extra:
        columns.insert(
            -1,
            {"name": title, "type": "string", "format": "", "description": title, "priority": 0},
        )
    rows = []
    for obj in objs:
        cells = [obj["metadata"]["name"]]
        cells.extend(fn(obj) for _, fn in extra)
        cells.append(_age(obj["metadata"]["creationTimestamp"], clock))
        rows.append(
            {
                "cells": cells,
                "object": {
                    "kind": "PartialObjectMetadata",
                    "apiVersion": "meta.k8s.io/v1",
                    "metadata": obj["metadata"],
                },
            }
        )
    return {
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": {"resourceVersion": rv},
        "columnDefinitions": columns,
        "rows": rows,
    }
