"""``backends.github.app.GitHubAccess`` against the GitHub emulator: a GitHub App's installation
found per repository, its tokens kept and renewed before they expire, the config file read with
conditional requests, team membership."""

from __future__ import annotations

from commit_train.backends.github.app import RENEW_BEFORE, GitHubAccess
from tests.emulators.github import GitHubEmulator


def _tokens_made(emu: GitHubEmulator) -> int:
    return sum(1 for r in emu.requests if r.path.endswith("/access_tokens"))


def test_an_installation_token_is_kept_and_renewed_before_it_expires() -> None:
    with GitHubEmulator() as emu:
        emu.create_repo("acme/shop").commit("Initial", files={"README.md": "shop"})
        app = emu.create_app("commit-train")
        emu.install_app(app, "acme")
        now = [1_000_000.0]
        access = GitHubAccess(
            api_url=emu.base_url,
            app_id=str(app.id),
            private_key=str(app.private_key_pem),
            clock=lambda: now[0],
        )
        first = access.token_for("acme/shop")
        assert access.token_for("acme/shop") == first
        assert _tokens_made(emu) == 1
        # the emulator's token lives an hour from the emulator's clock; ours is far behind,
        # so move ours to five minutes (less a second) before the token expires
        expires = access._tokens[next(iter(access._tokens))].expires_at
        now[0] = expires - RENEW_BEFORE - 1
        assert access.token_for("acme/shop") == first
        now[0] = expires - RENEW_BEFORE + 1
        renewed = access.token_for("acme/shop")
        assert renewed != first
        assert _tokens_made(emu) == 2
        assert access.backend("acme/shop").default_branch() == "main"


def test_the_config_is_read_with_conditional_requests() -> None:
    with GitHubEmulator() as emu:
        repo = emu.create_repo("acme/shop")
        repo.commit("Initial", files={".commit-train.yml": "environments: {staging: {}}\n"})
        access = GitHubAccess(api_url=emu.base_url, token=emu.token)
        assert access.read_file("acme/shop", ".commit-train.yml") == "environments: {staging: {}}\n"
        assert access.read_file("acme/shop", ".commit-train.yml") == "environments: {staging: {}}\n"
        statuses = [r.status for r in emu.requests]
        assert statuses == [200, 304]
        repo.commit("Add production", files={".commit-train.yml": "environments: {prod: {}}\n"})
        assert access.read_file("acme/shop", ".commit-train.yml") == "environments: {prod: {}}\n"
        assert access.read_file("acme/shop", "missing.yml") is None


def test_team_membership() -> None:
    with GitHubEmulator() as emu:
        emu.create_repo("acme/shop").commit("Initial")
        emu.add_team("acme", "sre", members=["carol"])
        access = GitHubAccess(api_url=emu.base_url, token=emu.token)
        assert access.team_member("acme", "sre", "carol", repo="acme/shop")
        assert not access.team_member("acme", "sre", "bob", repo="acme/shop")
        assert not access.team_member("acme", "nope", "carol", repo="acme/shop")
