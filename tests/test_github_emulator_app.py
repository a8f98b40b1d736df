"""The GitHub emulator as a GitHub App sees GitHub, through the real PyGithub.

PyGithub 2.10's ``Auth.AppAuth`` signs the JWT (RS256, ``iat`` 60 s back, ``exp`` 5 min on),
``GithubIntegration`` finds installations and makes tokens, and ``Auth.AppInstallationAuth``
keeps one token until it is within 20 seconds of ``expires_at``, then makes a new one: the
behaviour the deploy service relies on. Also the contents API (``.commit-train.yml`` read
with conditional requests), teams for allow lists and signed webhooks.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import subprocess
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import github
import jwt
import pytest
import requests
import time_machine

from tests.emulators.github import App, GitHubEmulator, Installation
from tests.emulators.github_apps import generate_key_pair

CONFIG = "environments:\n  staging: {}\n  production:\n    confirm: true\n"


@pytest.fixture
def app_setup(github_emulator: GitHubEmulator) -> tuple[GitHubEmulator, App, Installation]:
    emu = github_emulator
    shop = emu.create_repo("acme/shop")
    shop.commit("Root", files={".commit-train.yml": CONFIG})
    emu.create_repo("acme/billing").commit("Root")
    app = emu.create_app("commit-train")
    installation = emu.install_app(app, account="acme", repositories=["shop"])
    return emu, app, installation


def _integration(emu: GitHubEmulator, app: App) -> github.GithubIntegration:
    assert app.private_key_pem is not None
    return github.GithubIntegration(
        base_url=emu.base_url, auth=github.Auth.AppAuth(app.id, app.private_key_pem)
    )


def _jwt(app: App, *, iat: int, exp: int, key: str | None = None) -> str:
    return jwt.encode(
        {"iat": iat, "exp": exp, "iss": str(app.id)}, key or app.private_key_pem, algorithm="RS256"
    )


# -- the App and its installations ----------------------------------------------------------


def test_integration_finds_the_installation_and_its_token_reads_the_repo(
    app_setup: tuple[GitHubEmulator, App, Installation],
) -> None:
    emu, app, installation = app_setup
    integration = _integration(emu, app)

    assert integration.get_app().slug == "commit-train"
    found = integration.get_repo_installation("acme", "shop")
    assert found.id == installation.id
    assert found.app_id == app.id
    assert integration.get_org_installation("acme").id == installation.id
    assert [i.id for i in integration.get_installations()] == [installation.id]

    access = integration.get_access_token(installation.id)
    assert access.token.startswith("ghs_")
    assert access.expires_at - datetime.now(UTC) > timedelta(minutes=59)
    assert access.repository_selection == "selected"
    assert access.permissions["deployments"] == "write"

    gh = github.Github(base_url=emu.base_url, auth=github.Auth.Token(access.token))
    assert gh.get_repo("acme/shop").default_branch == "main"
    repos = requests.get(
        f"{emu.base_url}/installation/repositories",
        headers={"Authorization": f"token {access.token}"},
    ).json()
    assert repos["total_count"] == 1
    assert [r["full_name"] for r in repos["repositories"]] == ["acme/shop"]


def test_an_installation_token_deploys_as_the_apps_bot(
    app_setup: tuple[GitHubEmulator, App, Installation],
) -> None:
    emu, app, installation = app_setup
    gh = _integration(emu, app).get_github_for_installation(installation.id)
    repo = gh.get_repo("acme/shop")
    deployment = repo.create_deployment(
        ref="main", environment="staging", required_contexts=[], auto_merge=False
    )

    assert deployment.creator.login == "commit-train[bot]"
    assert deployment.creator.type == "Bot"
    assert deployment.raw_data["performed_via_github_app"]["slug"] == "commit-train"
    status = deployment.create_status("success")
    assert status.creator.login == "commit-train[bot]"


def test_a_repository_outside_the_installation_is_not_found(
    app_setup: tuple[GitHubEmulator, App, Installation],
) -> None:
    emu, app, installation = app_setup
    integration = _integration(emu, app)
    gh = integration.get_github_for_installation(installation.id)

    with pytest.raises(github.UnknownObjectException):
        gh.get_repo("acme/billing")
    with pytest.raises(github.UnknownObjectException):
        integration.get_repo_installation("acme", "billing")
    token = integration.get_access_token(installation.id).token
    answer = requests.post(
        emu.graphql_url,
        headers={"Authorization": f"bearer {token}"},
        json={"query": '{ repository(owner: "acme", name: "billing") { name } }'},
    ).json()
    assert answer["errors"][0]["type"] == "NOT_FOUND"
    # the user's own token still sees it
    assert github.Github(base_url=emu.base_url, auth=github.Auth.Token(emu.token)).get_repo(
        "acme/billing"
    )


def test_bad_and_expired_jwts_get_githubs_401(
    app_setup: tuple[GitHubEmulator, App, Installation],
) -> None:
    emu, app, _ = app_setup
    now = int(time.time())
    other_key, _ = generate_key_pair()

    def get_app(token: str) -> requests.Response:
        return requests.get(f"{emu.base_url}/app", headers={"Authorization": f"Bearer {token}"})

    assert get_app(_jwt(app, iat=now - 60, exp=now + 540)).status_code == 200
    cases = {
        _jwt(app, iat=now - 60, exp=now + 300, key=other_key): "could not be decoded",
        _jwt(app, iat=now - 700, exp=now - 60): "'Expiration time' claim ('exp') must be",
        _jwt(app, iat=now - 60, exp=now + 700): "is too far in the future",
        _jwt(app, iat=now + 120, exp=now + 300): "'Issued at' claim ('iat')",
        "eyJnot.a.jwt": "could not be decoded",
    }
    for token, message in cases.items():
        answer = get_app(token)
        assert answer.status_code == 401, message
        assert message in answer.json()["message"]
        assert answer.json()["documentation_url"] == "https://docs.github.com/rest"

    # PyGithub with the wrong key: a 401 GithubException carrying GitHub's message
    wrong = github.GithubIntegration(
        base_url=emu.base_url, auth=github.Auth.AppAuth(app.id, other_key)
    )
    with pytest.raises(github.GithubException) as refused:
        wrong.get_app()
    assert refused.value.status == 401
    assert refused.value.data["message"] == "A JSON web token could not be decoded"
    # a user token is no JWT; a JWT is no user token
    answer = requests.get(f"{emu.base_url}/app", headers={"Authorization": f"token {emu.token}"})
    assert answer.status_code == 401
    jwt_token = _jwt(app, iat=now - 60, exp=now + 300)
    answer = requests.get(
        f"{emu.base_url}/repos/acme/shop", headers={"Authorization": f"Bearer {jwt_token}"}
    )
    assert answer.status_code == 401


def test_an_installation_token_stops_working_at_expires_at(
    app_setup: tuple[GitHubEmulator, App, Installation],
) -> None:
    emu, app, installation = app_setup
    token = _integration(emu, app).get_access_token(installation.id).token
    headers = {"Authorization": f"token {token}"}
    assert requests.get(f"{emu.base_url}/repos/acme/shop", headers=headers).status_code == 200

    later = datetime.now(UTC) + timedelta(hours=1, seconds=1)
    emu.clock = lambda: later
    answer = requests.get(f"{emu.base_url}/repos/acme/shop", headers=headers)
    assert answer.status_code == 401
    assert answer.json()["message"] == "Bad credentials"


def test_pygithub_reuses_the_token_and_renews_it_near_expiry(
    app_setup: tuple[GitHubEmulator, App, Installation],
) -> None:
    """The process clock moves (time-machine), so PyGithub and the emulator agree on it."""
    emu, app, installation = app_setup
    gh = _integration(emu, app).get_github_for_installation(installation.id)
    mint = f"/api/v3/app/installations/{installation.id}/access_tokens"

    def tokens_used() -> list[str | None]:
        return [r.token for r in emu.requests if r.path == "/api/v3/repos/acme/shop"]

    with time_machine.travel(datetime.now(UTC), tick=True) as traveller:
        gh.get_repo("acme/shop")
        gh.get_repo("acme/shop")
        assert [r.path for r in emu.requests].count(mint) == 1
        first = tokens_used()
        assert first[0] == first[1]

        traveller.shift(timedelta(minutes=59, seconds=45))  # 15 s left: PyGithub renews
        assert gh.get_repo("acme/shop").full_name == "acme/shop"
        assert [r.path for r in emu.requests].count(mint) == 2
        renewed = tokens_used()[-1]
        assert renewed != first[0]

        traveller.shift(timedelta(seconds=30))  # the first token is now dead, the new one not
        old = requests.get(
            f"{emu.base_url}/repos/acme/shop", headers={"Authorization": f"token {first[0]}"}
        )
        assert old.status_code == 401
        assert gh.get_repo("acme/shop").full_name == "acme/shop"
        assert tokens_used()[-1] == renewed
    reads = [r for r in emu.requests if r.path.endswith("acme/shop") and r.status == 200]
    assert {r.auth for r in reads} == {"installation"}
    assert {r.auth for r in emu.requests if r.path == mint} == {"app"}


# -- contents -------------------------------------------------------------------------------


def test_contents_api_serves_committed_files_like_github(
    app_setup: tuple[GitHubEmulator, App, Installation], tmp_path: Path
) -> None:
    emu, _, _ = app_setup
    shop = emu.repo("acme/shop")
    first = shop.commits[shop.refs["refs/heads/main"]]
    long_config = CONFIG + "".join(f"# note {i}: {'x' * 50}\n" for i in range(5))
    sha = shop.commit(
        "Tune config",
        files={".commit-train.yml": long_config, "k8s/app.yaml": "a", "k8s.yaml": "b"},
    )
    gh = github.Github(base_url=emu.base_url, auth=github.Auth.Token(emu.token))
    repo = gh.get_repo("acme/shop")

    content = repo.get_contents(".commit-train.yml")
    assert content.decoded_content.decode() == long_config
    assert content.type == "file" and content.encoding == "base64"
    assert content.size == len(long_config.encode())
    lines = content.raw_data["content"].split("\n")
    assert lines[-1] == "" and all(len(line) == 60 for line in lines[:-2])
    old = repo.get_contents(".commit-train.yml", ref=first.sha)
    assert old.decoded_content.decode() == CONFIG
    assert [c.path for c in repo.get_contents("k8s")] == ["k8s/app.yaml"]
    with pytest.raises(github.UnknownObjectException):
        repo.get_contents("missing.yml")

    # git agrees on the blob and the tree
    work = tmp_path / "shop"
    (work / "k8s").mkdir(parents=True)
    (work / ".commit-train.yml").write_text(long_config)
    (work / "k8s" / "app.yaml").write_text("a")
    (work / "k8s.yaml").write_text("b")
    git = ["git", "-C", str(work)]
    subprocess.run([*git, "init", "-q"], check=True)
    subprocess.run([*git, "add", "-A"], check=True)
    tree = subprocess.run([*git, "write-tree"], check=True, capture_output=True, text=True)
    blob = subprocess.run(
        [*git, "hash-object", ".commit-train.yml"], check=True, capture_output=True, text=True
    )
    assert content.sha == blob.stdout.strip()
    assert shop.commits[sha].tree == tree.stdout.strip()


def test_contents_etag_answers_304_free_until_the_file_changes(
    app_setup: tuple[GitHubEmulator, App, Installation],
) -> None:
    emu, _, _ = app_setup
    url = f"{emu.base_url}/repos/acme/shop/contents/.commit-train.yml"
    session = requests.Session()
    session.headers["Authorization"] = f"token {emu.token}"

    first = session.get(url)
    etag = first.headers["ETag"]
    assert first.status_code == 200 and not etag.startswith("W/")
    again = session.get(url, headers={"If-None-Match": etag})
    assert again.status_code == 304
    assert again.headers["X-RateLimit-Remaining"] == first.headers["X-RateLimit-Remaining"]

    emu.repo("acme/shop").commit("Change", files={".commit-train.yml": "environments: {}\n"})
    changed = session.get(url, headers={"If-None-Match": etag})
    assert changed.status_code == 200
    assert changed.headers["ETag"] != etag


# -- teams ----------------------------------------------------------------------------------


def test_team_and_org_membership_answer_for_allow_lists(
    app_setup: tuple[GitHubEmulator, App, Installation],
) -> None:
    emu, _, installation = app_setup
    emu.add_team("acme", "deployers", members=["bob"])
    emu.add_org_member("acme", "carol")
    token = emu.installation_token(installation)

    def get(path: str) -> requests.Response:
        return requests.get(f"{emu.base_url}{path}", headers={"Authorization": f"token {token}"})

    member = get("/orgs/acme/teams/deployers/memberships/bob")
    assert member.status_code == 200
    assert member.json()["state"] == "active"
    assert get("/orgs/acme/teams/deployers/memberships/carol").status_code == 404
    assert get("/orgs/acme/teams/nope/memberships/bob").status_code == 404
    assert get("/orgs/acme/members/bob").status_code == 204
    assert get("/orgs/acme/members/carol").status_code == 204
    assert get("/orgs/acme/members/dave").status_code == 404


# -- webhooks -------------------------------------------------------------------------------


class _Receiver:
    """A webhook receiver on 127.0.0.1 that records what it got; ``gate`` holds answers."""

    def __init__(self) -> None:
        self.got: list[tuple[Message, bytes]] = []
        self.gate = threading.Event()
        self.gate.set()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.got.append((self.headers, body))
                receiver.gate.wait(10)
                self.send_response(202)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/github/webhook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@pytest.fixture
def receiver() -> Iterator[_Receiver]:
    r = _Receiver()
    yield r
    r.gate.set()
    r.server.shutdown()
    r.server.server_close()


def test_deployment_webhooks_are_delivered_signed_without_holding_up_the_api(
    app_setup: tuple[GitHubEmulator, App, Installation], receiver: _Receiver
) -> None:
    emu, app, installation = app_setup
    secret = "s3cret-hook"
    emu.add_webhook("acme/shop", receiver.url, secret)
    gh = _integration(emu, app).get_github_for_installation(installation.id)
    repo = gh.get_repo("acme/shop")

    receiver.gate.clear()  # the receiver hangs: the API must still answer
    deployment = repo.create_deployment(
        ref="main", environment="staging", required_contexts=[], auto_merge=False
    )
    deployment.create_status("in_progress")
    assert [d.status for d in emu.deliveries] == [None, None]
    receiver.gate.set()
    deliveries = emu.wait_for_deliveries()

    assert [(d.event, d.status) for d in deliveries] == [
        ("deployment", 202),
        ("deployment_status", 202),
    ]
    assert len(receiver.got) == 2
    for headers, body in receiver.got:
        expected = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
        assert hmac.compare_digest(headers["X-Hub-Signature-256"], expected)
        assert headers["User-Agent"].startswith("GitHub-Hookshot/")
        assert headers["Content-Type"] == "application/json"
        assert headers["X-GitHub-Delivery"]
        assert {"X-GitHub-Event", "X-Hub-Signature-256"} <= set(headers.keys())  # GitHub's case
    first = json.loads(receiver.got[0][1])
    assert receiver.got[0][0]["X-GitHub-Event"] == "deployment"
    assert first["deployment"]["id"] == deployment.id
    assert first["sender"]["login"] == "commit-train[bot]"
    assert first["installation"]["id"] == installation.id
    second = json.loads(receiver.got[1][1])
    assert second["deployment_status"]["state"] == "in_progress"


def test_a_webhook_request_can_be_built_without_delivering_it(
    app_setup: tuple[GitHubEmulator, App, Installation],
) -> None:
    emu, _, _ = app_setup
    shop = emu.repo("acme/shop")
    hook = emu.add_webhook(shop, "http://127.0.0.1:9/unused", "k")
    deployment_id = shop.add_deployment(shop.refs["refs/heads/main"], environment="staging")
    emu.wait_for_deliveries()  # the scripted deployment went out (and failed: nobody there)
    before = len(emu.deliveries)
    assert emu.deliveries[-1].status is None and emu.deliveries[-1].error

    headers, body = emu.webhook_request(hook, "deployment", deployment_id)
    assert len(emu.deliveries) == before
    expected = "sha256=" + hmac.new(b"k", body, hashlib.sha256).hexdigest()
    assert hmac.compare_digest(headers["X-Hub-Signature-256"], expected)
    assert json.loads(body)["deployment"]["id"] == deployment_id


def test_an_all_repositories_installation_lists_them_page_by_page(
    github_emulator: GitHubEmulator,
) -> None:
    emu = github_emulator
    for name in ("alice/one", "alice/two", "alice/three", "acme/other"):
        emu.create_repo(name).commit("Root")
    app = emu.create_app("commit-train", owner="alice")
    installation = emu.install_app(app, account="alice")  # a user account, every repository
    integration = _integration(emu, app)
    assert integration.get_user_installation("alice").id == installation.id
    with pytest.raises(github.UnknownObjectException):
        integration.get_user_installation("bob")

    # PyGithub's Installation lists its repositories with an installation token it makes
    found = integration.get_app_installation(installation.id)
    assert sorted(r.full_name for r in found.get_repos()) == [
        "alice/one",
        "alice/three",
        "alice/two",
    ]
    token = emu.installation_token(installation)
    first = requests.get(
        f"{emu.base_url}/installation/repositories",
        params={"per_page": 2},
        headers={"Authorization": f"token {token}"},
    )
    assert first.json()["total_count"] == 3
    assert len(first.json()["repositories"]) == 2
    assert 'rel="next"' in first.headers["Link"]
    second = requests.get(first.links["next"]["url"], headers={"Authorization": f"token {token}"})
    names = [r["full_name"] for r in first.json()["repositories"] + second.json()["repositories"]]
    assert sorted(names) == ["alice/one", "alice/three", "alice/two"]
