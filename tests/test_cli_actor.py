"""Who acts on the github backend: the token's login, never a name anyone can set.

The CLI against the GitHub emulator, in a real git checkout whose ``user.name`` and the
``GITHUB_ACTOR`` variable both try to claim someone else's name.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from commit_train.faces.cli.main import cli
from commit_train.service.locks import lock_ref
from tests.gitrepos import Repo

CONFIG = "version: 1\nenvironments:\n  staging: {}\n"


@pytest.fixture
def shop(github_emulator, tmp_path: Path):
    emu = github_emulator
    gh = emu.create_repo("acme/shop", default_branch="main")
    tip = gh.commit("Add the cart")
    gh.add_check_run(tip, name="test")
    checkout = Repo(tmp_path / "shop", config=CONFIG)
    checkout.commit("Add the cart")
    for login in ("bob", "github-actions[bot]"):
        emu.add_user(login, f"ghs_token_{login}")
    return emu, gh, checkout


def as_(shop, token: str, *args: str, **env: str | None) -> Result:
    emu, _gh, checkout = shop
    environ: dict[str, str | None] = {
        "GITHUB_API_URL": emu.base_url,
        "GITHUB_TOKEN": token,
        "GH_TOKEN": None,
        "COMMIT_TRAIN_BACKEND": None,
        "GITHUB_ACTIONS": None,
        "GITHUB_ACTOR": None,
        **env,
    }
    return CliRunner().invoke(
        cli,
        ["-C", str(checkout.root), "--repo", "acme/shop", *args],
        env=environ,
        prog_name="commit-train",
    )


def labels(emu) -> list[str]:
    return [
        "POST graphql" if r.graphql else f"{r.method} {r.path.removeprefix('/api/v3/repos')}"
        for r in emu.requests
    ]


def test_a_deploy_is_requested_by_the_token_login_in_three_requests(shop) -> None:
    emu, gh, checkout = shop
    checkout.git("config", "user.name", "Carol Someone")
    emu.reset_requests()
    result = as_(shop, emu.token, "deploy", "staging", "HEAD", GITHUB_ACTOR="carol")
    assert result.exit_code == 0, result.output
    [stored] = gh.deployments
    assert stored["payload"]["requested_by"] == "alice"
    assert gh.deployment_statuses(stored["id"])[0]["description"] == "queued by alice via cli"
    assert labels(emu) == [  # the gate's query brings the login along
        "POST graphql",
        "POST /acme/shop/deployments",
        f"POST /acme/shop/deployments/{stored['id']}/statuses",
    ]


def test_nobody_passes_someone_elses_lock_by_taking_their_name(shop) -> None:
    emu, gh, checkout = shop
    emu.reset_requests()
    locked = as_(shop, "ghs_token_bob", "lock", "staging", "--reason", "db migration")
    assert locked.exit_code == 0, locked.output
    assert locked.stdout.startswith("staging is locked by bob since ")
    assert labels(emu) == [
        "POST graphql",  # who the token belongs to: one request more than the lock itself
        "POST graphql",  # the lock ref
        "POST /acme/shop/git/commits",
        "POST /acme/shop/git/refs",
    ]
    checkout.git("config", "user.name", "bob")
    refused = as_(shop, emu.token, "deploy", "staging", "HEAD", GITHUB_ACTOR="bob")
    assert refused.exit_code == 1
    assert refused.stderr.startswith("error: staging is locked by bob since ")
    assert gh.deployments == []
    not_theirs = as_(shop, emu.token, "unlock", "staging", GITHUB_ACTOR="bob")
    assert not_theirs.exit_code == 1
    assert "only bob can unlock it" in not_theirs.stderr
    own = as_(shop, "ghs_token_bob", "deploy", "staging", "HEAD")
    assert own.exit_code == 0, own.output
    assert gh.deployments[-1]["payload"]["requested_by"] == "bob"


@pytest.mark.parametrize(
    ("token", "actions", "expected"),
    [
        # a workflow step with the workflow's token acts for whoever started the run
        ("ghs_token_github-actions[bot]", "true", "carol"),
        # the same token outside Actions: the bot itself
        ("ghs_token_github-actions[bot]", None, "github-actions[bot]"),
        # a person's own token, even inside Actions: that person
        ("ghs_test_token_for_alice", "true", "alice"),
    ],
)
def test_github_actor_counts_only_for_a_workflow_token_in_actions(
    shop, token: str, actions: str | None, expected: str
) -> None:
    _emu, gh, _checkout = shop
    result = as_(
        shop, token, "deploy", "staging", "HEAD", GITHUB_ACTOR="carol", GITHUB_ACTIONS=actions
    )
    assert result.exit_code == 0, result.output
    assert gh.deployments[-1]["payload"]["requested_by"] == expected


def test_the_local_backend_still_takes_the_git_name(tmp_path: Path) -> None:
    checkout = Repo(tmp_path / "shop", config=CONFIG)
    sha = checkout.commit("Add the cart")
    checkout.git("config", "user.name", "Carol Someone")
    env = {"GITHUB_TOKEN": None, "GH_TOKEN": None, "GITHUB_ACTOR": None}
    runner = CliRunner()
    base = ["-C", str(checkout.root), "--backend", "local"]
    recorded = runner.invoke(cli, [*base, "record-check", sha, "test", "success"], env=env)
    assert recorded.exit_code == 0, recorded.output
    result = runner.invoke(cli, [*base, "deploy", "staging", "HEAD", "--json"], env=env)
    assert result.exit_code == 0, result.output
    assert '"requested_by": "Carol Someone"' in result.stdout


def test_lock_locks_and_unlock_work_where_github_refuses_the_empty_tree(shop) -> None:
    """Lock commits point at git's empty tree; a GitHub that answers 422 "Tree SHA does not
    exist" for it gets a one-file tree made first, and nothing else changes."""
    emu, gh, _checkout = shop
    emu.refuse_empty_tree = True
    emu.reset_requests()

    locked = as_(shop, emu.token, "lock", "staging", "--reason", "db migration")

    assert locked.exit_code == 0, locked.output
    assert locked.stdout.startswith("staging is locked by alice since ")
    assert labels(emu) == [
        "POST graphql",
        "POST graphql",
        "POST /acme/shop/git/commits",  # 422: the empty tree
        "POST /acme/shop/git/trees",
        "POST /acme/shop/git/commits",
        "POST /acme/shop/git/refs",
    ]
    assert [r.status for r in emu.requests][2:] == [422, 201, 201, 201]
    lock_commit = gh.commits[gh.refs[lock_ref("staging")]]
    assert lock_commit.tree != "4b825dc642cb6eb9a060e54bf8d69288fbee4904"
    assert lock_commit.files == {"message": lock_commit.message.encode()}

    listed = as_(shop, emu.token, "locks")
    assert listed.exit_code == 0, listed.output
    [row] = listed.stdout.splitlines()[1:]
    assert row.split()[:2] == ["staging", "alice"] and row.endswith("db migration")

    unlocked = as_(shop, emu.token, "unlock", "staging")
    assert (unlocked.exit_code, unlocked.stdout) == (0, "unlocked staging (db migration)\n")
    assert as_(shop, emu.token, "locks").stdout == "no locks\n"
    record = gh.commits[gh.refs[lock_ref("staging")]]
    assert record.message.startswith("commit-train unlock: staging")
    assert record.parents == [lock_commit.sha]
    after = as_(shop, emu.token, "deploy", "staging", "HEAD")
    assert after.exit_code == 0, after.output
