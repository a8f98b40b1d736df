"""The Kubernetes answers table (``commit_train.kube.errors``) through the real client.

The emulator answers a request with the ``Status`` the API server sends for each code
(Kubernetes API concepts: "Response codes"); the apply turns it into one error whose class
decides the deploy's outcome: ``error`` when the cluster or its credentials broke,
``failure`` when the change did.
"""

from __future__ import annotations

import socket
from pathlib import Path
from typing import Any

import pytest

from commit_train.errors import (
    KubeCredentialsError,
    KubeError,
    KubeInvalidError,
    KubeNotInstalledError,
    KubeUnreachableError,
    TemporaryError,
)
from commit_train.kube.apply import ApplyOptions, apply
from commit_train.kube.client import api_client
from commit_train.service.pipeline import failure_state
from tests import kube_fixtures
from tests.emulators.kube import KubeEmulator

kube = kube_fixtures.kube
kube_client = kube_fixtures.kube_client

NS = "shop"


def objects() -> list[dict[str, Any]]:
    return [
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NS}},
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "a"}, "data": {"k": "v"}},
    ]


def run(api: Any) -> None:
    apply(api, objects(), ApplyOptions(applyset="shop", namespace=NS))


@pytest.mark.parametrize(
    ("code", "reason", "cls", "state"),
    [
        (401, "Unauthorized", KubeCredentialsError, "error"),
        (403, "Forbidden", KubeCredentialsError, "error"),
        (429, "TooManyRequests", KubeUnreachableError, "error"),
        (500, "InternalError", KubeUnreachableError, "error"),
        (503, "ServiceUnavailable", KubeUnreachableError, "error"),
        (404, "NotFound", KubeNotInstalledError, "failure"),
        (409, "Conflict", KubeInvalidError, "failure"),
        (422, "Invalid", KubeInvalidError, "failure"),
        (400, "BadRequest", KubeInvalidError, "failure"),
    ],
)
def test_each_answer_has_one_class_and_one_outcome(
    kube: KubeEmulator, kube_client: Any, code: int, reason: str, cls: type, state: str
) -> None:
    kube.fail_next(code, method="PATCH", path_contains="/configmaps/a", reason=reason, message="no")

    with pytest.raises(KubeError) as caught:
        run(kube_client)

    assert type(caught.value) is cls
    assert str(caught.value).startswith(f"ConfigMap shop/a: cannot apply ConfigMap shop/a ({code}")
    assert failure_state(caught.value).value == state


def test_an_unreachable_cluster_is_temporary_and_ends_error(tmp_path: Path) -> None:
    with socket.socket() as probe:  # a port nothing listens on once it is closed
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(
        "apiVersion: v1\nkind: Config\ncurrent-context: gone\n"
        f"clusters: [{{name: gone, cluster: {{server: 'http://127.0.0.1:{port}'}}}}]\n"
        "users: [{name: u, user: {token: t}}]\n"
        "contexts: [{name: gone, context: {cluster: gone, user: u}}]\n"
    )
    api = api_client(kubeconfig=kubeconfig)
    try:
        with pytest.raises(KubeUnreachableError) as caught:
            run(api)
    finally:
        api.close()
    assert isinstance(caught.value, TemporaryError)
    assert f"connection refused (127.0.0.1:{port})" in str(caught.value)
    assert failure_state(caught.value).value == "error"


def test_a_kind_the_cluster_does_not_serve_is_the_changes_failure(kube_client: Any) -> None:
    widget = {"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"}}

    with pytest.raises(KubeNotInstalledError) as caught:
        apply(kube_client, [*objects(), widget], ApplyOptions(applyset="shop", namespace=NS))

    assert "the cluster serves no kind Widget in example.com/v1" in str(caught.value)
    assert failure_state(caught.value).value == "failure"


def test_a_missing_kubeconfig_is_the_surroundings(tmp_path: Path) -> None:
    with pytest.raises(KubeCredentialsError) as caught:
        api_client(environ={"KUBECONFIG": str(tmp_path / "missing"), "HOME": str(tmp_path)})

    assert failure_state(caught.value).value == "error"
