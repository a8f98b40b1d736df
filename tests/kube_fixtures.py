"""Pytest fixtures for the Kubernetes emulator (registered from ``conftest.py``)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.emulators.kube import KubeEmulator


@pytest.fixture
def kube() -> Iterator[KubeEmulator]:
    """A started Kubernetes API emulator, stopped after the test."""
    with KubeEmulator() as emu:
        yield emu


@pytest.fixture
def kube_client(kube: KubeEmulator) -> Iterator[Any]:
    """A real ``kubernetes.client.ApiClient`` pointed at the emulator."""
    api = kube.api_client()
    try:
        yield api
    finally:
        api.close()


@pytest.fixture
def kubeconfig(kube: KubeEmulator, tmp_path: Path) -> Path:
    """A kubeconfig file whose current context is the emulator (for kubectl)."""
    return kube.write_kubeconfig(tmp_path / "kubeconfig")
