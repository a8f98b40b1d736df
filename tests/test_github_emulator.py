"""The GitHub emulator, driven through the real PyGithub and through raw HTTP."""

from __future__ import annotations

import github
import pytest

from tests.emulators.github import GitHubEmulator


def client(emu: GitHubEmulator, **kwargs: object) -> github.Github:
    return github.Github(
        base_url=emu.base_url,
        auth=github.Auth.Token(emu.token),
        seconds_between_requests=0,
        seconds_between_writes=0,
        **kwargs,  # type: ignore[arg-type]
    )


def test_pygithub_reads_repository_and_commits(github_emulator: GitHubEmulator) -> None:
    repo = github_emulator.create_repo("acme/shop")
    shas = [repo.commit(f"Change {i}") for i in range(3)]
    gh_repo = client(github_emulator).get_repo("acme/shop")
    assert gh_repo.default_branch == "main"
    assert [c.sha for c in gh_repo.get_commits()] == shas[::-1]
    assert gh_repo.url == f"{github_emulator.base_url}/repos/acme/shop"


@pytest.mark.parametrize("unused", [None])
def test_unknown_token_is_bad_credentials(github_emulator: GitHubEmulator, unused: None) -> None:
    github_emulator.create_repo("acme/shop")
    gh = github.Github(base_url=github_emulator.base_url, auth=github.Auth.Token("nope"))
    with pytest.raises(github.BadCredentialsException):
        gh.get_repo("acme/shop")
