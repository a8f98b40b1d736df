"""Shared pytest fixtures. Keep each fixture small; add new ones below the existing ones."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.emulators.github import GitHubEmulator


@pytest.fixture
def github_emulator() -> Iterator[GitHubEmulator]:
    """A started GitHub emulator (REST under ``base_url``, GraphQL at ``graphql_url``)."""
    with GitHubEmulator() as emu:
        yield emu


from tests.kube_fixtures import kube, kube_client, kubeconfig  # noqa: E402, F401


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[Any]:
    """Under CI (``CI=true``) a test that needs the reference data beside the checkout
    (marked ``shared``) fails instead of skipping when the data is missing: a contract
    that was never checked must not pass as green."""
    outcome = yield
    report = outcome.get_result()
    if report.skipped and os.environ.get("CI") == "true" and item.get_closest_marker("shared"):
        report.outcome = "failed"
        report.longrepr = (
            f"{item.nodeid}: the GitHub reference data (../shared/reference/github-api beside "
            "the checkout) is missing, and under CI=true a contract test may not skip"
        )


@pytest.fixture(autouse=True)
def _own_cache_dir(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each test its own ``XDG_CACHE_HOME``: ``stats`` caches what it read there, and a
    test must neither write into the user's cache nor see another test's. uv and pip keep
    their own caches where they were (a test that builds a wheel offline reads setuptools
    from uv's cache)."""
    home = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    monkeypatch.setenv("UV_CACHE_DIR", os.environ.get("UV_CACHE_DIR") or str(home / "uv"))
    monkeypatch.setenv("PIP_CACHE_DIR", os.environ.get("PIP_CACHE_DIR") or str(home / "pip"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path_factory.mktemp("cache")))
