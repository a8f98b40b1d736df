"""Loading a kubeconfig: every malformed shape ends in one KubeError line naming the fix."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest

from commit_train.errors import KubeError
from commit_train.kube.client import api_client
from tests.emulators.kube import KubeEmulator


def test_a_good_kubeconfig_reaches_the_cluster(kube: KubeEmulator, tmp_path: Path) -> None:
    path = kube.write_kubeconfig(tmp_path / "config")
    client = api_client(kubeconfig=path, environ={})
    try:
        assert client.configuration.host == kube.url
    finally:
        client.close()


def test_a_base64_encoded_kubeconfig_is_named_as_such(kube: KubeEmulator, tmp_path: Path) -> None:
    good = kube.write_kubeconfig(tmp_path / "config").read_bytes()
    encoded = tmp_path / "encoded"
    encoded.write_bytes(base64.b64encode(good))
    with pytest.raises(KubeError) as info:
        api_client(kubeconfig=encoded, environ={})
    assert str(info.value) == (
        f"the kubeconfig {encoded} is base64-encoded; "
        "pass the decoded file (for example `base64 -d`), not its base64 text"
    )


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("clusters: [\n", "is not valid YAML line 2; check the file with `kubectl config view`"),
        (
            "- just\n- a list\n",
            "is not a kubeconfig (expected a mapping with clusters, users and contexts); "
            "check the file with `kubectl config view`",
        ),
        (
            "clusters: 3\ncontexts: 4\ncurrent-context: x\n",
            "",  # the library's own complaint, wrapped in one line
        ),
    ],
)
def test_malformed_kubeconfigs_end_in_one_line(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "config"
    path.write_text(text)
    with pytest.raises(KubeError) as info:
        api_client(kubeconfig=path, environ={})
    line = str(info.value)
    assert "\n" not in line
    assert str(path) in line
    if message:
        assert line == f"the kubeconfig {path} {message}"
    else:
        assert line.endswith("; check the file with `kubectl config view`")


def test_an_unreachable_cluster_is_one_short_line(tmp_path: Path) -> None:
    import socket

    from commit_train.kube.client import dynamic_client

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
        with pytest.raises(KubeError) as caught, dynamic_client(api):
            pass
    finally:
        api.close()
    assert str(caught.value) == (
        f"cannot reach the Kubernetes API at http://127.0.0.1:{port}: connection refused "
        f"(127.0.0.1:{port}); check the cluster address and credentials in the kubeconfig"
    )
