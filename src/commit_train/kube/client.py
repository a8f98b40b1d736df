"""Build a configured ``kubernetes.client.ApiClient`` the way ``kubectl`` finds its cluster.

Where the credentials come from, first match wins:

1. an explicit kubeconfig path (``--kubeconfig``), with an optional context;
2. the ``KUBECONFIG`` environment variable (several files joined by ``os.pathsep`` are merged);
3. ``~/.kube/config`` when it exists;
4. the in-cluster service account (``KUBERNETES_SERVICE_HOST`` set inside a pod).

The client library reads ``KUBECONFIG`` once, when it is first imported; we read it on every
call instead, so a test or a long-lived process that changes it is honoured. Nothing here
rewrites the user's kubeconfig (``persist_config=False``).

The connection pool is sized for the apply pool plus the rollout watches: a pool smaller
than the number of threads makes urllib3 drop and reopen connections on every request.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from commit_train.core.text import one_line
from commit_train.errors import KubeCredentialsError
from commit_train.kube.errors import discovery_error

DEFAULT_POOL_SIZE = 16
"""Connections kept open: the default apply concurrency (8) plus room for the watches."""


def api_client(
    *,
    kubeconfig: str | os.PathLike[str] | None = None,
    context: str | None = None,
    pool_size: int = DEFAULT_POOL_SIZE,
    environ: Mapping[str, str] | None = None,
) -> Any:
    """A ``kubernetes.client.ApiClient`` for the cluster the user means.

    ``environ`` defaults to ``os.environ``; pass a mapping to resolve against another
    environment. Raises ``KubeCredentialsError`` naming the fix when no configuration is found, the
    file is unreadable or invalid, or the context does not exist.
    """
    import kubernetes.client
    import kubernetes.config
    from kubernetes.config.config_exception import ConfigException

    # The library is untyped; hold its modules as Any so mypy strict accepts the calls.
    client: Any = kubernetes.client
    config: Any = kubernetes.config
    env = os.environ if environ is None else environ
    configuration = client.Configuration()
    source: str | None = None
    try:
        source = _kubeconfig_source(kubeconfig, env)
        if source is not None:
            for path in source.split(os.pathsep):
                _check_kubeconfig_file(path)
            _check_context(source, context)
            config.load_kube_config(
                config_file=source,
                context=context,
                client_configuration=configuration,
                persist_config=False,
            )
        elif env.get("KUBERNETES_SERVICE_HOST"):
            if context:
                raise KubeCredentialsError(
                    f"context {context!r} was asked for, but there is no kubeconfig "
                    "(running with the in-cluster service account)",
                    fix="set KUBECONFIG or pass --kubeconfig to choose a context",
                )
            config.load_incluster_config(client_configuration=configuration)
        else:
            raise KubeCredentialsError(
                "no Kubernetes configuration found (no --kubeconfig, KUBECONFIG unset, "
                "no ~/.kube/config, not running inside a cluster)",
                fix="set KUBECONFIG to your kubeconfig file or pass --kubeconfig",
            )
    except ConfigException as exc:
        where = f" from {source}" if source else ""
        raise KubeCredentialsError(
            f"cannot load the Kubernetes configuration{where}: {_one_line(exc)}",
            fix="check the file with `kubectl config view` and `kubectl config get-contexts`",
        ) from exc
    except OSError as exc:
        raise KubeCredentialsError(
            f"cannot read the kubeconfig: {_one_line(exc)}",
            fix="check the path in --kubeconfig or KUBECONFIG",
        ) from exc
    except (TypeError, ValueError, KeyError, AttributeError) as exc:
        # The library indexes into whatever the file holds; a malformed file surfaces as
        # these, never as ConfigException.
        where = f" {source}" if source else ""
        raise KubeCredentialsError(
            f"the kubeconfig{where} is malformed ({type(exc).__name__}: {_one_line(exc)})",
            fix="check the file with `kubectl config view`",
        ) from exc
    configuration.connection_pool_maxsize = max(1, pool_size)
    return client.ApiClient(configuration=configuration)


def _kubeconfig_source(
    explicit: str | os.PathLike[str] | None, env: Mapping[str, str]
) -> str | None:
    """The kubeconfig file (or ``os.pathsep``-joined files) to load, or ``None`` for in-cluster."""
    if explicit is not None:
        path = Path(explicit).expanduser()
        if not path.is_file():
            raise KubeCredentialsError(
                f"kubeconfig {str(explicit)!r} does not exist",
                fix="pass the path of an existing kubeconfig file to --kubeconfig",
            )
        return str(path)
    value = env.get("KUBECONFIG", "")
    if value.strip():
        paths = [Path(p).expanduser() for p in value.split(os.pathsep) if p.strip()]
        existing = [str(p) for p in paths if p.is_file()]
        if not existing:
            raise KubeCredentialsError(
                f"KUBECONFIG names {value!r}, but no such file exists",
                fix="point KUBECONFIG at your kubeconfig file, or unset it",
            )
        return os.pathsep.join(existing)
    home = Path(env.get("HOME") or Path.home()) / ".kube" / "config"
    return str(home) if home.is_file() else None


def _check_kubeconfig_file(path: str) -> None:
    """Refuse, with the fix, the shapes a kubeconfig secret commonly goes wrong in: not YAML,
    not a mapping, or the whole file base64-encoded (as some secret stores hand it out)."""
    import base64
    import binascii

    import yaml

    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise KubeCredentialsError(
            f"cannot read the kubeconfig {path}: {_one_line(exc)}",
            fix="check the path in --kubeconfig or KUBECONFIG",
        ) from exc
    try:
        loaded = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f" line {mark.line + 1}" if mark is not None else ""
        raise KubeCredentialsError(
            f"the kubeconfig {path} is not valid YAML{line}",
            fix="check the file with `kubectl config view`",
        ) from None
    if isinstance(loaded, dict) or loaded is None:
        return
    if isinstance(loaded, str):
        try:
            decoded = yaml.safe_load(base64.b64decode(loaded.strip(), validate=True))
        except (binascii.Error, ValueError, yaml.YAMLError):
            decoded = None
        if isinstance(decoded, dict):
            raise KubeCredentialsError(
                f"the kubeconfig {path} is base64-encoded",
                fix="pass the decoded file (for example `base64 -d`), not its base64 text",
            )
    raise KubeCredentialsError(
        f"the kubeconfig {path} is not a kubeconfig (expected a mapping with clusters, "
        "users and contexts)",
        fix="check the file with `kubectl config view`",
    )


def _check_context(source: str, context: str | None) -> None:
    """Fail early, listing the contexts that exist, instead of the library's KeyError."""
    if context is None:
        return
    import kubernetes.config

    config: Any = kubernetes.config
    contexts, _current = config.list_kube_config_contexts(config_file=source)
    names = sorted(str(c.get("name")) for c in contexts or [])
    if context not in names:
        known = ", ".join(names) or "none"
        raise KubeCredentialsError(
            f"context {context!r} is not in the kubeconfig {source} (contexts: {known})",
            fix="pass one of those to --context, or add the context to the kubeconfig",
        )


def _one_line(exc: BaseException) -> str:
    """An exception's message on one line, or its type when it has none."""
    return one_line(str(exc)) or type(exc).__name__


@contextlib.contextmanager
def dynamic_client(api: Any) -> Iterator[Any]:
    """A ``kubernetes.dynamic.DynamicClient`` over ``api`` with its own discovery cache.

    The library's default cache file is shared by every client of the same host and port
    (in the system temp folder), so a stale one could name kinds this server does not serve
    and hide ones it does. Each use gets a private file, removed afterwards. Raises
    ``KubeError`` when the server does not answer discovery (its class from the table in
    ``kube.errors``: unreachable, or credentials refused).
    """
    import kubernetes.dynamic
    from kubernetes.client.exceptions import ApiException
    from urllib3.exceptions import HTTPError

    folder = tempfile.mkdtemp(prefix="commit-train-discovery-")
    try:
        try:
            dynamic: Any = kubernetes.dynamic
            dyn = dynamic.DynamicClient(api, cache_file=str(Path(folder) / "discovery.json"))
        except (ApiException, HTTPError) as exc:
            host = getattr(getattr(api, "configuration", None), "host", "?")
            raise discovery_error(host, exc) from exc
        yield dyn
    finally:
        shutil.rmtree(folder, ignore_errors=True)
