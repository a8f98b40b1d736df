"""Shared pytest fixtures. Keep each fixture small; add new ones below the existing ones."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.emulators.github import GitHubEmulator


@pytest.fixture
def github_emulator() -> Iterator[GitHubEmulator]:
    """A started GitHub emulator (REST under ``base_url``, GraphQL at ``graphql_url``)."""
    with GitHubEmulator() as emu:
        yield emu


from tests.kube_fixtures import kube, kube_client, kubeconfig  # noqa: E402, F401
