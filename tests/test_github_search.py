"""The GitHub emulator's "Search users" through the real PyGithub (``Github.search_users``)
and plain requests: ``in:email`` finds a PUBLIC email only, the answer's shape, the 422 for
no ``q`` and the search rate limit's own bucket (``x-ratelimit-resource: search``)."""

from __future__ import annotations

import github
import requests

from tests.emulators.github import GitHubEmulator


def _gh(emu: GitHubEmulator) -> github.Github:
    return github.Github(base_url=emu.base_url, auth=github.Auth.Token(emu.token))


def test_in_email_finds_the_one_public_address(github_emulator: GitHubEmulator) -> None:
    emu = github_emulator
    emu.add_user("dave", email="dave@acme.test")
    emu.add_user("erin", name="Erin")  # keeps her email private
    emu.add_user("mallory", email="mallory@acme.test")
    found = _gh(emu).search_users("dave@acme.test in:email")
    assert found.totalCount == 1
    assert [u.login for u in found] == ["dave"]
    assert list(_gh(emu).search_users("erin@acme.test in:email")) == []
    # in:email searches the email alone, not the login
    assert list(_gh(emu).search_users("erin in:email")) == []
    assert [u.login for u in _gh(emu).search_users("erin in:login")] == ["erin"]


def test_the_answer_is_github_s_shape_and_spends_the_search_limit(
    github_emulator: GitHubEmulator,
) -> None:
    emu = github_emulator
    emu.add_user("dave", email="dave@acme.test")
    emu.add_user("dana", email="dave@acme.test")  # two accounts may show one address
    headers = {"Authorization": f"Bearer {emu.token}"}
    answer = requests.get(
        f"{emu.base_url}/search/users",
        params={"q": "dave@acme.test in:email"},
        headers=headers,
        timeout=5,
    )
    assert answer.status_code == 200
    body = answer.json()
    assert body["total_count"] == 2
    assert body["incomplete_results"] is False
    assert {item["login"] for item in body["items"]} == {"dave", "dana"}
    assert all(item["type"] == "User" and "score" in item for item in body["items"])
    assert answer.headers["x-ratelimit-resource"] == "search"
    assert answer.headers["x-ratelimit-limit"] == "30"
    assert answer.headers["x-ratelimit-used"] == "1"
    core = requests.get(f"{emu.base_url}/user", headers=headers, timeout=5)
    assert core.headers["x-ratelimit-resource"] == "core"
    assert core.headers["x-ratelimit-limit"] == "5000"

    missing = requests.get(f"{emu.base_url}/search/users", headers=headers, timeout=5)
    assert missing.status_code == 422
    assert missing.json()["errors"] == [{"resource": "Search", "field": "q", "code": "missing"}]
    assert missing.headers["x-ratelimit-used"] == "2"


def test_the_authenticated_user_shows_the_public_email(github_emulator: GitHubEmulator) -> None:
    emu = github_emulator
    emu.add_user("dave", "ghp_dave", email="dave@acme.test")
    me = github.Github(base_url=emu.base_url, auth=github.Auth.Token("ghp_dave")).get_user()
    assert me.email == "dave@acme.test"
