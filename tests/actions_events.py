"""Realistic GitHub event payloads, as an Actions run finds them in ``GITHUB_EVENT_PATH``.

Written by hand after GitHub's webhook documentation; the deployment one is checked against
GitHub's own webhook JSON schema in ``test_actions_io.py``.
"""

from __future__ import annotations

from typing import Any

API = "https://api.github.com"
WEB = "https://github.com"


def user(login: str, uid: int, *, kind: str = "User") -> dict[str, Any]:
    base = f"{API}/users/{login}"
    return {
        "login": login,
        "id": uid,
        "node_id": f"MDQ6VXNlcj{uid}",
        "avatar_url": f"https://avatars.githubusercontent.com/u/{uid}?v=4",
        "gravatar_id": "",
        "url": base,
        "html_url": f"{WEB}/{login}",
        "followers_url": f"{base}/followers",
        "following_url": f"{base}/following{{/other_user}}",
        "gists_url": f"{base}/gists{{/gist_id}}",
        "starred_url": f"{base}/starred{{/owner}}{{/repo}}",
        "subscriptions_url": f"{base}/subscriptions",
        "organizations_url": f"{base}/orgs",
        "repos_url": f"{base}/repos",
        "events_url": f"{base}/events{{/privacy}}",
        "received_events_url": f"{base}/received_events",
        "type": kind,
        "site_admin": False,
    }


def repository(full_name: str = "acme/shop", rid: int = 681234567) -> dict[str, Any]:
    owner, name = full_name.split("/")
    api = f"{API}/repos/{full_name}"
    return {
        "id": rid,
        "node_id": "R_kgDOKJ7x1w",
        "name": name,
        "full_name": full_name,
        "private": True,
        "owner": user(owner, 90210001, kind="Organization"),
        "html_url": f"{WEB}/{full_name}",
        "description": "The shop service",
        "fork": False,
        "url": api,
        "forks_url": f"{api}/forks",
        "keys_url": f"{api}/keys{{/key_id}}",
        "collaborators_url": f"{api}/collaborators{{/collaborator}}",
        "teams_url": f"{api}/teams",
        "hooks_url": f"{api}/hooks",
        "issue_events_url": f"{api}/issues/events{{/number}}",
        "events_url": f"{api}/events",
        "assignees_url": f"{api}/assignees{{/user}}",
        "branches_url": f"{api}/branches{{/branch}}",
        "tags_url": f"{api}/tags",
        "blobs_url": f"{api}/git/blobs{{/sha}}",
        "git_tags_url": f"{api}/git/tags{{/sha}}",
        "git_refs_url": f"{api}/git/refs{{/sha}}",
        "trees_url": f"{api}/git/trees{{/sha}}",
        "statuses_url": f"{api}/statuses/{{sha}}",
        "languages_url": f"{api}/languages",
        "stargazers_url": f"{api}/stargazers",
        "contributors_url": f"{api}/contributors",
        "subscribers_url": f"{api}/subscribers",
        "subscription_url": f"{api}/subscription",
        "commits_url": f"{api}/commits{{/sha}}",
        "git_commits_url": f"{api}/git/commits{{/sha}}",
        "comments_url": f"{api}/comments{{/number}}",
        "issue_comment_url": f"{api}/issues/comments{{/number}}",
        "contents_url": f"{api}/contents/{{+path}}",
        "compare_url": f"{api}/compare/{{base}}...{{head}}",
        "merges_url": f"{api}/merges",
        "archive_url": f"{api}/{{archive_format}}{{/ref}}",
        "downloads_url": f"{api}/downloads",
        "issues_url": f"{api}/issues{{/number}}",
        "pulls_url": f"{api}/pulls{{/number}}",
        "milestones_url": f"{api}/milestones{{/number}}",
        "notifications_url": f"{api}/notifications{{?since,all,participating}}",
        "labels_url": f"{api}/labels{{/name}}",
        "releases_url": f"{api}/releases{{/id}}",
        "deployments_url": f"{api}/deployments",
        "created_at": "2023-09-01T08:12:44Z",
        "updated_at": "2024-05-02T10:01:13Z",
        "pushed_at": "2024-05-02T10:00:58Z",
        "git_url": f"git://github.com/{full_name}.git",
        "ssh_url": f"git@github.com:{full_name}.git",
        "clone_url": f"{WEB}/{full_name}.git",
        "svn_url": f"{WEB}/{full_name}",
        "homepage": None,
        "size": 1843,
        "stargazers_count": 0,
        "watchers_count": 0,
        "language": "Python",
        "has_issues": True,
        "has_projects": False,
        "has_downloads": True,
        "has_wiki": False,
        "has_pages": False,
        "has_discussions": False,
        "forks_count": 0,
        "mirror_url": None,
        "archived": False,
        "disabled": False,
        "open_issues_count": 3,
        "license": None,
        "allow_forking": False,
        "is_template": False,
        "web_commit_signoff_required": False,
        "topics": [],
        "visibility": "private",
        "forks": 0,
        "open_issues": 3,
        "watchers": 0,
        "default_branch": "main",
        "custom_properties": {},
    }


def deployment_created(
    *,
    deployment_id: int = 1374502211,
    sha: str = "6dcb09b5b57875f334f61aebed695e2e4193db5e",
    environment: str = "staging",
    creator: str = "octocat",
    payload: Any = None,
) -> dict[str, Any]:
    """The ``deployment`` event for a deployment created through the REST API by a user."""
    api = f"{API}/repos/acme/shop/deployments/{deployment_id}"
    return {
        "action": "created",
        "deployment": {
            "url": api,
            "id": deployment_id,
            "node_id": "DE_kwDOKJ7x184Rx2pD",
            "sha": sha,
            "ref": sha,
            "task": "deploy",
            "payload": {"requested_by": creator} if payload is None else payload,
            "original_environment": environment,
            "environment": environment,
            "description": f"commit-train: {sha[:7]} to {environment}",
            "creator": user(creator, 583231),
            "created_at": "2024-05-02T10:11:12Z",
            "updated_at": "2024-05-02T10:11:12Z",
            "statuses_url": f"{api}/statuses",
            "repository_url": f"{API}/repos/acme/shop",
            "transient_environment": False,
            "production_environment": environment == "production",
        },
        "workflow": None,
        "workflow_run": None,
        "repository": repository(),
        "sender": user(creator, 583231),
    }


def workflow_dispatch(*, environment: str = "staging", ref: str = "") -> dict[str, Any]:
    return {
        "inputs": {"environment": environment, "ref": ref},
        "ref": "refs/heads/main",
        "repository": repository(),
        "sender": user("octocat", 583231),
        "workflow": ".github/workflows/deploy.yml",
    }


def schedule(cron: str = "17 9 * * 1-5") -> dict[str, Any]:
    return {"schedule": cron, "repository": repository(), "workflow": ".github/workflows/s.yml"}
