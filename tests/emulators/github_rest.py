"""The REST front end of the GitHub emulator: GitHub's JSON shapes, routes and error bodies.

Shapes follow GitHub's OpenAPI description (every required property, with the right type);
every ``*_url`` carries the emulator's own host and port. Lists are paginated with GitHub's
``Link`` header, built on ``/repositories/{id}/...`` URLs the way github.com writes them.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass, field
from email.utils import formatdate
from typing import Any

from .github_model import (
    COMMIT_STATUS_STATES,
    DEPLOYMENT_STATUS_STATES,
    ApiError,
    App,
    CheckRun,
    CheckSuite,
    Commit,
    Deployment,
    DeploymentStatus,
    EmulatedRepo,
    Installation,
    Status,
    Store,
    User,
    combined_state,
    git_blob_sha,
    git_tree_sha,
    legacy_node_id,
    stamp,
)

DOCS = "https://docs.github.com/rest"
DOC_CREATE_DEPLOYMENT = f"{DOCS}/deployments/deployments#create-a-deployment"
DOC_DELETE_DEPLOYMENT = f"{DOCS}/deployments/deployments#delete-a-deployment"
DOC_CREATE_DEPLOYMENT_STATUS = f"{DOCS}/deployments/statuses#create-a-deployment-status"
DOC_CREATE_REF = f"{DOCS}/git/refs#create-a-reference"
DOC_CREATE_COMMIT = f"{DOCS}/git/commits#create-a-commit"
DOC_CREATE_TREE = f"{DOCS}/git/trees#create-a-tree"
DOC_GET_TREE = f"{DOCS}/git/trees#get-a-tree"
DOC_UPDATE_REF = f"{DOCS}/git/refs#update-a-reference"
DOC_DELETE_REF = f"{DOCS}/git/refs#delete-a-reference"
DOC_GET_COMMIT = f"{DOCS}/commits/commits#get-a-commit"
DOC_CREATE_STATUS = f"{DOCS}/commits/statuses#create-a-commit-status"
DOC_CHECK_RUNS = f"{DOCS}/checks/runs#list-check-runs-for-a-git-reference"


@dataclass
class Request:
    method: str
    path: str  # below /api/v3, e.g. /repos/acme/shop
    query: list[tuple[str, str]]
    body: Any
    user: User | None
    store: Store
    app: App | None = None  # authenticated as this App (a JWT)
    installation: Installation | None = None  # an installation token of this installation

    def arg(self, name: str, default: str | None = None) -> str | None:
        for key, value in self.query:
            if key == name:
                return value
        return default


@dataclass
class Response:
    status: int
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)


# -- URL helpers ----------------------------------------------------------------------------


def api(store: Store) -> str:
    return f"{store.base_url}/api/v3"


def repo_api(store: Store, repo: EmulatedRepo) -> str:
    return f"{api(store)}/repos/{repo.full_name}"


def repo_html(store: Store, repo: EmulatedRepo) -> str:
    return f"{store.base_url}/{repo.full_name}"


# -- renderers ------------------------------------------------------------------------------


def render_user(store: Store, user: User) -> dict[str, Any]:
    base = f"{api(store)}/users/{user.login}"
    return {
        "login": user.login,
        "id": user.id,
        "node_id": legacy_node_id(user.type, user.id),
        "avatar_url": f"{store.base_url}/avatars/u/{user.id}?v=4",
        "gravatar_id": "",
        "url": base,
        "html_url": f"{store.base_url}/{user.login}",
        "followers_url": f"{base}/followers",
        "following_url": f"{base}/following{{/other_user}}",
        "gists_url": f"{base}/gists{{/gist_id}}",
        "starred_url": f"{base}/starred{{/owner}}{{/repo}}",
        "subscriptions_url": f"{base}/subscriptions",
        "organizations_url": f"{base}/orgs",
        "repos_url": f"{base}/repos",
        "events_url": f"{base}/events{{/privacy}}",
        "received_events_url": f"{base}/received_events",
        "type": user.type,
        "user_view_type": "public",
        "site_admin": False,
    }


def render_private_user(store: Store, user: User) -> dict[str, Any]:
    out = render_user(store, user)
    out.update(
        {
            "name": user.name,
            "company": None,
            "blog": "",
            "location": None,
            "email": user.public_email,
            "hireable": None,
            "bio": None,
            "twitter_username": None,
            "notification_email": None,
            "public_repos": sum(1 for r in store.repos.values() if r.owner is user),
            "public_gists": 0,
            "followers": 0,
            "following": 0,
            "created_at": stamp(user.created_at),
            "updated_at": stamp(user.created_at),
        }
    )
    return out


def render_minimal_repo(store: Store, repo: EmulatedRepo) -> dict[str, Any]:
    a = repo_api(store, repo)
    return {
        "id": repo.id,
        "node_id": legacy_node_id("Repository", repo.id),
        "name": repo.name,
        "full_name": repo.full_name,
        "private": False,
        "owner": render_user(store, repo.owner),
        "html_url": repo_html(store, repo),
        "description": None,
        "fork": False,
        "url": a,
        "forks_url": f"{a}/forks",
        "keys_url": f"{a}/keys{{/key_id}}",
        "collaborators_url": f"{a}/collaborators{{/collaborator}}",
        "teams_url": f"{a}/teams",
        "hooks_url": f"{a}/hooks",
        "issue_events_url": f"{a}/issues/events{{/number}}",
        "events_url": f"{a}/events",
        "assignees_url": f"{a}/assignees{{/user}}",
        "branches_url": f"{a}/branches{{/branch}}",
        "tags_url": f"{a}/tags",
        "blobs_url": f"{a}/git/blobs{{/sha}}",
        "git_tags_url": f"{a}/git/tags{{/sha}}",
        "git_refs_url": f"{a}/git/refs{{/sha}}",
        "trees_url": f"{a}/git/trees{{/sha}}",
        "statuses_url": f"{a}/statuses/{{sha}}",
        "languages_url": f"{a}/languages",
        "stargazers_url": f"{a}/stargazers",
        "contributors_url": f"{a}/contributors",
        "subscribers_url": f"{a}/subscribers",
        "subscription_url": f"{a}/subscription",
        "commits_url": f"{a}/commits{{/sha}}",
        "git_commits_url": f"{a}/git/commits{{/sha}}",
        "comments_url": f"{a}/comments{{/number}}",
        "issue_comment_url": f"{a}/issues/comments{{/number}}",
        "contents_url": f"{a}/contents/{{+path}}",
        "compare_url": f"{a}/compare/{{base}}...{{head}}",
        "merges_url": f"{a}/merges",
        "archive_url": f"{a}/{{archive_format}}{{/ref}}",
        "downloads_url": f"{a}/downloads",
        "issues_url": f"{a}/issues{{/number}}",
        "pulls_url": f"{a}/pulls{{/number}}",
        "milestones_url": f"{a}/milestones{{/number}}",
        "notifications_url": f"{a}/notifications{{?since,all,participating}}",
        "labels_url": f"{a}/labels{{/name}}",
        "releases_url": f"{a}/releases{{/id}}",
        "deployments_url": f"{a}/deployments",
    }


def render_full_repo(store: Store, repo: EmulatedRepo) -> dict[str, Any]:
    out = render_minimal_repo(store, repo)
    host = store.base_url.removeprefix("http://")
    tip = repo.get_ref(f"refs/heads/{repo.default_branch}")
    pushed = repo.commits[tip].when if tip else repo.created_at
    out.update(
        {
            "created_at": stamp(repo.created_at),
            "updated_at": stamp(repo.created_at),
            "pushed_at": stamp(pushed),
            "git_url": f"git://{host}/{repo.full_name}.git",
            "ssh_url": f"git@{host}:{repo.full_name}.git",
            "clone_url": f"{repo_html(store, repo)}.git",
            "svn_url": repo_html(store, repo),
            "homepage": None,
            "size": 0,
            "stargazers_count": 0,
            "watchers_count": 0,
            "language": None,
            "has_issues": True,
            "has_projects": True,
            "has_downloads": True,
            "has_wiki": True,
            "has_pages": False,
            "has_discussions": False,
            "forks_count": 0,
            "mirror_url": None,
            "archived": False,
            "disabled": False,
            "open_issues_count": 0,
            "license": None,
            "allow_forking": True,
            "is_template": False,
            "web_commit_signoff_required": False,
            "topics": [],
            "visibility": "public",
            "forks": 0,
            "open_issues": 0,
            "watchers": 0,
            "default_branch": repo.default_branch,
            "permissions": {
                "admin": True,
                "maintain": True,
                "push": True,
                "triage": True,
                "pull": True,
            },
            "temp_clone_token": "",
            "network_count": 0,
            "subscribers_count": 0,
        }
    )
    if repo.owner.type == "Organization":
        out["organization"] = render_user(store, repo.owner)
    return out


def _git_user(commit: Commit) -> dict[str, Any]:
    return {"name": commit.author.name, "email": commit.author.email, "date": stamp(commit.when)}


def render_commit(
    store: Store, repo: EmulatedRepo, commit: Commit, *, detail: bool = False
) -> dict[str, Any]:
    a = repo_api(store, repo)
    html = repo_html(store, repo)
    out: dict[str, Any] = {
        "sha": commit.sha,
        "node_id": legacy_node_id("Commit", f"{repo.id}:{commit.sha}"),
        "commit": {
            "author": _git_user(commit),
            "committer": _git_user(commit),
            "message": commit.message,
            "tree": {"sha": commit.tree, "url": f"{a}/git/trees/{commit.tree}"},
            "url": f"{a}/git/commits/{commit.sha}",
            "comment_count": 0,
            "verification": {
                "verified": False,
                "reason": "unsigned",
                "signature": None,
                "payload": None,
                "verified_at": None,
            },
        },
        "url": f"{a}/commits/{commit.sha}",
        "html_url": f"{html}/commit/{commit.sha}",
        "comments_url": f"{a}/commits/{commit.sha}/comments",
        "author": render_user(store, commit.author),
        "committer": render_user(store, commit.author),
        "parents": [
            {"sha": p, "url": f"{a}/commits/{p}", "html_url": f"{html}/commit/{p}"}
            for p in commit.parents
        ],
    }
    if detail:
        out["stats"] = {"total": 0, "additions": 0, "deletions": 0}
        out["files"] = []
    return out


def render_status(store: Store, repo: EmulatedRepo, status: Status) -> dict[str, Any]:
    return {
        "url": f"{repo_api(store, repo)}/statuses/{status.sha}",
        "avatar_url": f"{store.base_url}/avatars/u/{status.creator.id}?v=4",
        "id": status.id,
        "node_id": legacy_node_id("StatusContext", status.id),
        "state": status.state,
        "description": status.description,
        "target_url": status.target_url,
        "context": status.context,
        "created_at": stamp(status.created_at),
        "updated_at": stamp(status.created_at),
        "creator": render_user(store, status.creator),
    }


def render_simple_status(store: Store, repo: EmulatedRepo, status: Status) -> dict[str, Any]:
    out = render_status(store, repo, status)
    del out["creator"]
    out["required"] = False
    return out


def render_combined_status(store: Store, repo: EmulatedRepo, sha: str) -> dict[str, Any]:
    latest = repo.latest_statuses(sha)
    a = repo_api(store, repo)
    return {
        "state": combined_state(s.state for s in latest),
        "statuses": [render_simple_status(store, repo, s) for s in latest],
        "sha": sha,
        "total_count": len(latest),
        "repository": render_minimal_repo(store, repo),
        "commit_url": f"{a}/commits/{sha}",
        "url": f"{a}/commits/{sha}/status",
    }


def render_app(store: Store, app: App) -> dict[str, Any]:
    return {
        "id": app.id,
        "slug": app.slug,
        "client_id": f"Iv1.{app.id:016x}",
        "node_id": legacy_node_id("App", app.id),
        "owner": render_user(store, app.owner),
        "name": app.name,
        "description": f"{app.name} (emulated)",
        "external_url": f"{store.base_url}/apps/{app.slug}",
        "html_url": f"{store.base_url}/apps/{app.slug}",
        "created_at": stamp(app.created_at),
        "updated_at": stamp(app.created_at),
        "permissions": dict(app.permissions),
        "events": list(app.events),
    }


def render_check_run(store: Store, repo: EmulatedRepo, run: CheckRun) -> dict[str, Any]:
    a = repo_api(store, repo)
    html = repo_html(store, repo)
    return {
        "id": run.id,
        "name": run.name,
        "node_id": legacy_node_id("CheckRun", run.id),
        "head_sha": run.sha,
        "external_id": "",
        "url": f"{a}/check-runs/{run.id}",
        "html_url": f"{html}/runs/{run.id}",
        "details_url": f"{html}/actions/runs/{run.suite.workflow_run or run.suite.id}/job/{run.id}",
        "status": run.status,
        "conclusion": run.conclusion,
        "started_at": stamp(run.started_at) if run.started_at else None,
        "completed_at": stamp(run.completed_at) if run.completed_at else None,
        "output": {
            "title": None,
            "summary": None,
            "text": None,
            "annotations_count": 0,
            "annotations_url": f"{a}/check-runs/{run.id}/annotations",
        },
        "check_suite": {"id": run.suite.id},
        "app": render_app(store, run.suite.app),
        "pull_requests": [],
    }


def render_check_suite(store: Store, repo: EmulatedRepo, suite: CheckSuite) -> dict[str, Any]:
    a = repo_api(store, repo)
    commit = repo.commits[suite.sha]
    status, conclusion = repo.suite_state(suite)
    author = {"name": commit.author.name, "email": commit.author.email}
    return {
        "id": suite.id,
        "node_id": legacy_node_id("CheckSuite", suite.id),
        "head_branch": suite.head_branch,
        "head_sha": suite.sha,
        "status": status,
        "conclusion": conclusion,
        "url": f"{a}/check-suites/{suite.id}",
        "before": commit.parents[0] if commit.parents else "0" * 40,
        "after": suite.sha,
        "pull_requests": [],
        "app": render_app(store, suite.app),
        "repository": render_minimal_repo(store, repo),
        "created_at": stamp(suite.created_at),
        "updated_at": stamp(suite.updated_at),
        "rerequestable": True,
        "runs_rerequestable": True,
        "latest_check_runs_count": len(repo.suite_runs(suite, latest=True)),
        "check_runs_url": f"{a}/check-suites/{suite.id}/check-runs",
        "head_commit": {
            "id": commit.sha,
            "tree_id": commit.tree,
            "message": commit.message,
            "timestamp": stamp(commit.when),
            "author": author,
            "committer": author,
        },
    }


def render_deployment(store: Store, repo: EmulatedRepo, d: Deployment) -> dict[str, Any]:
    a = repo_api(store, repo)
    return {
        "url": f"{a}/deployments/{d.id}",
        "id": d.id,
        "node_id": legacy_node_id("Deployment", d.id),
        "sha": d.sha,
        "ref": d.ref,
        "task": d.task,
        "payload": d.payload,
        "original_environment": d.original_environment,
        "environment": d.environment,
        "description": d.description,
        "creator": render_user(store, d.creator),
        "created_at": stamp(d.created_at),
        "updated_at": stamp(d.updated_at),
        "statuses_url": f"{a}/deployments/{d.id}/statuses",
        "repository_url": a,
        "transient_environment": d.transient_environment,
        "production_environment": d.production_environment,
        "performed_via_github_app": render_app(store, d.performed_via) if d.performed_via else None,
    }


def render_deployment_status(
    store: Store, repo: EmulatedRepo, s: DeploymentStatus
) -> dict[str, Any]:
    a = repo_api(store, repo)
    return {
        "url": f"{a}/deployments/{s.deployment_id}/statuses/{s.id}",
        "id": s.id,
        "node_id": legacy_node_id("DeploymentStatus", s.id),
        "state": s.state,
        "creator": render_user(store, s.creator),
        "description": s.description,
        "environment": s.environment,
        "target_url": s.log_url,
        "created_at": stamp(s.created_at),
        "updated_at": stamp(s.created_at),
        "deployment_url": f"{a}/deployments/{s.deployment_id}",
        "repository_url": a,
        "environment_url": s.environment_url,
        "log_url": s.log_url,
        "performed_via_github_app": None,
    }


def render_ref(store: Store, repo: EmulatedRepo, ref: str, sha: str) -> dict[str, Any]:
    a = repo_api(store, repo)
    return {
        "ref": ref,
        "node_id": legacy_node_id("Ref", f"{repo.id}:{ref}"),
        "url": f"{a}/git/{ref}",
        "object": {"sha": sha, "type": "commit", "url": f"{a}/git/commits/{sha}"},
    }


def render_rate(limit: int, used: int, reset: int) -> dict[str, int]:
    return {"limit": limit, "used": used, "remaining": max(limit - used, 0), "reset": reset}


# -- pagination -----------------------------------------------------------------------------


def paginate(req: Request, items: list[Any], link_path: str) -> tuple[list[Any], dict[str, str]]:
    """Slice ``items`` by ``page``/``per_page`` and build GitHub's ``Link`` header.

    ``link_path`` is the path (below /api/v3) the links point at. Query parameters keep the
    client's order; ``page`` is replaced in place or appended. Link order is GitHub's:
    prev, next, last, first.
    """
    per_page = _int_arg(req, "per_page", 30)
    per_page = 30 if per_page < 1 else min(per_page, 100)
    page = max(_int_arg(req, "page", 1), 1)
    last = max((len(items) + per_page - 1) // per_page, 1)
    chunk = items[(page - 1) * per_page : page * per_page]

    def url(n: int) -> str:
        pairs: list[tuple[str, str]] = []
        replaced = False
        for key, value in req.query:
            if key == "page":
                if not replaced:
                    pairs.append(("page", str(n)))
                    replaced = True
            else:
                pairs.append((key, value))
        if not replaced:
            pairs.append(("page", str(n)))
        query = urllib.parse.urlencode(pairs, safe=",:/")
        return f"{api(req.store)}{link_path}?{query}"

    links = []
    if page > 1:
        links.append(f'<{url(min(page - 1, last))}>; rel="prev"')
    if page < last:
        links.append(f'<{url(page + 1)}>; rel="next"')
        links.append(f'<{url(last)}>; rel="last"')
    if page > 1:
        links.append(f'<{url(1)}>; rel="first"')
    headers = {"Link": ", ".join(links)} if links else {}
    return chunk, headers


def _int_arg(req: Request, name: str, default: int) -> int:
    value = req.arg(name)
    if value is None or value == "":
        return default
    try:
        return int(value)
    except ValueError:
        raise ApiError(400, f"Invalid value for {name}") from None


# -- routes ---------------------------------------------------------------------------------

Handler = Callable[..., Response]
ROUTES: list[tuple[str, re.Pattern[str], Handler]] = []
JWT_ROUTES: set[Handler] = set()  # the App endpoints: a JWT and nothing else authenticates them


def route(method: str, pattern: str, *, jwt: bool = False) -> Callable[[Handler], Handler]:
    def register(fn: Handler) -> Handler:
        ROUTES.append((method, re.compile(f"^{pattern}$"), fn))
        if jwt:
            JWT_ROUTES.add(fn)
        return fn

    return register


R = r"/repos/(?P<owner>[^/]+)/(?P<name>[^/]+)"


def dispatch(req: Request) -> Response:
    path = req.path
    match = re.match(r"^/repositories/(\d+)(/.*)?$", path)
    if match:
        repo = req.store.repo_by_id(int(match.group(1)))
        if repo is None:
            raise ApiError(404, "Not Found")
        path = f"/repos/{repo.full_name}{match.group(2) or ''}"
    allowed = False
    for method, pattern, fn in ROUTES:
        m = pattern.match(path)
        if not m:
            continue
        allowed = True
        if method != req.method:
            continue
        # An App's JWT opens the App endpoints only, and only a JWT opens them (GitHub:
        # "A JSON web token could not be decoded" for a token there; a JWT elsewhere is not
        # a credential GitHub knows, so "Bad credentials").
        if fn in JWT_ROUTES and req.app is None:
            raise ApiError(401, "A JSON web token could not be decoded", documentation_url=DOCS)
        if fn not in JWT_ROUTES and req.app is not None:
            raise ApiError(401, "Bad credentials", documentation_url=DOCS)
        params = {k: urllib.parse.unquote(v) for k, v in m.groupdict().items()}
        if "owner" in params:
            repo = req.store.repos.get(f"{params.pop('owner')}/{params.pop('name')}")
            if repo is None:
                raise ApiError(404, "Not Found")
            # an installation token reaches its installation's repositories only; the others
            # answer as if they did not exist, as every inaccessible repository does
            if req.installation is not None and not req.installation.covers(repo):
                raise ApiError(404, "Not Found")
            params["repo"] = repo
        return fn(req, **params)
    if allowed:
        raise ApiError(404, "Not Found")
    raise ApiError(404, "Not Found")


def _require_user(req: Request) -> User:
    if req.user is None:
        raise ApiError(401, "Requires authentication")
    return req.user


def _body(req: Request) -> dict[str, Any]:
    if not isinstance(req.body, dict):
        raise ApiError(400, "Problems parsing JSON")
    return req.body


def _commit_or_422(repo: EmulatedRepo, ref: str) -> str:
    sha = repo.resolve(ref)
    if sha is None:
        raise ApiError(422, f"No commit found for SHA: {ref}", documentation_url=DOC_GET_COMMIT)
    return sha


@route("GET", "/user")
def get_user(req: Request) -> Response:
    if req.installation is not None:  # an installation token is no user
        raise ApiError(
            403,
            "Resource not accessible by integration",
            documentation_url=f"{DOCS}/users/users#get-the-authenticated-user",
        )
    return Response(200, render_private_user(req.store, _require_user(req)))


@route("GET", R)
def get_repo(req: Request, repo: EmulatedRepo) -> Response:
    return Response(200, render_full_repo(req.store, repo))


@route("GET", R + r"/branches/(?P<branch>.+)")
def get_branch(req: Request, repo: EmulatedRepo, branch: str) -> Response:
    sha = repo.get_ref(f"refs/heads/{branch}")
    if sha is None:
        raise ApiError(
            404, "Branch not found", documentation_url=f"{DOCS}/branches/branches#get-a-branch"
        )
    a = repo_api(req.store, repo)
    return Response(
        200,
        {
            "name": branch,
            "commit": render_commit(req.store, repo, repo.commits[sha]),
            "_links": {
                "self": f"{a}/branches/{branch}",
                "html": f"{repo_html(req.store, repo)}/tree/{branch}",
            },
            "protected": False,
            "protection": {
                "enabled": False,
                "required_status_checks": {
                    "enforcement_level": "off",
                    "contexts": [],
                    "checks": [],
                },
            },
            "protection_url": f"{a}/branches/{branch}/protection",
        },
    )


@route("GET", R + r"/commits")
def list_commits(req: Request, repo: EmulatedRepo) -> Response:
    start = req.arg("sha") or repo.default_branch
    sha = repo.resolve(start)
    if sha is None:
        if not repo.commits:
            raise ApiError(409, "Git Repository is empty.")
        raise ApiError(404, "Not Found")
    history = repo.first_parent_history(sha)
    chunk, headers = paginate(req, history, f"/repositories/{repo.id}/commits")
    return Response(200, [render_commit(req.store, repo, c) for c in chunk], headers)


@route("GET", R + r"/commits/(?P<ref>.+)/status")
def combined_status(req: Request, repo: EmulatedRepo, ref: str) -> Response:
    sha = repo.resolve(ref)
    if sha is None:
        raise ApiError(404, "Not Found")
    return Response(200, render_combined_status(req.store, repo, sha))


@route("GET", R + r"/commits/(?P<ref>.+)/statuses")
def list_statuses(req: Request, repo: EmulatedRepo, ref: str) -> Response:
    sha = repo.resolve(ref)
    if sha is None:
        raise ApiError(404, "Not Found")
    statuses = sorted((s for s in repo.statuses if s.sha == sha), key=lambda s: -s.id)
    chunk, headers = paginate(req, statuses, f"/repositories/{repo.id}/commits/{ref}/statuses")
    return Response(200, [render_status(req.store, repo, s) for s in chunk], headers)


@route("GET", R + r"/statuses/(?P<ref>[^/]+)")
def list_statuses_legacy(req: Request, repo: EmulatedRepo, ref: str) -> Response:
    return list_statuses(req, repo, ref)


@route("POST", R + r"/statuses/(?P<sha>[^/]+)")
def create_status(req: Request, repo: EmulatedRepo, sha: str) -> Response:
    user = _require_user(req)
    body = _body(req)
    resolved = sha.lower() if sha.lower() in repo.commits else None
    if resolved is None:
        raise ApiError(422, f"No commit found for SHA: {sha}", documentation_url=DOC_CREATE_STATUS)
    state = body.get("state")
    if state not in COMMIT_STATUS_STATES:
        raise ApiError(
            422,
            "Validation Failed",
            errors=[
                {
                    "resource": "Status",
                    "code": "custom",
                    "field": "state",
                    "message": "state is not included in the list",
                }
            ],
            documentation_url=DOC_CREATE_STATUS,
        )
    status_id = repo.add_status(
        resolved,
        context=body.get("context") or "default",
        state=state,
        description=body.get("description"),
        target_url=body.get("target_url"),
        creator=user.login,
    )
    status = next(s for s in repo.statuses if s.id == status_id)
    return Response(
        201,
        render_status(req.store, repo, status),
        {"Location": f"{repo_api(req.store, repo)}/statuses/{resolved}"},
    )


@route("GET", R + r"/commits/(?P<ref>.+)/check-runs")
def list_check_runs(req: Request, repo: EmulatedRepo, ref: str) -> Response:
    sha = repo.resolve(ref)
    if sha is None:
        raise ApiError(422, f"No commit found for SHA: {ref}", documentation_url=DOC_CHECK_RUNS)
    runs = _filter_runs(req, repo.runs_for(sha, latest=req.arg("filter", "latest") != "all"))
    chunk, headers = paginate(req, runs, f"/repositories/{repo.id}/commits/{ref}/check-runs")
    return Response(
        200,
        {
            "total_count": len(runs),
            "check_runs": [render_check_run(req.store, repo, r) for r in chunk],
        },
        headers,
    )


def _filter_runs(req: Request, runs: list[CheckRun]) -> list[CheckRun]:
    name = req.arg("check_name")
    status = req.arg("status")
    app_id = req.arg("app_id")
    return [
        r
        for r in runs
        if (name is None or r.name == name)
        and (status is None or r.status == status)
        and (app_id is None or str(r.suite.app.id) == app_id)
    ]


@route("GET", R + r"/commits/(?P<ref>.+)/check-suites")
def list_check_suites(req: Request, repo: EmulatedRepo, ref: str) -> Response:
    sha = repo.resolve(ref)
    if sha is None:
        raise ApiError(422, f"No commit found for SHA: {ref}")
    suites = [s for s in repo.check_suites if s.sha == sha]
    app_id = req.arg("app_id")
    if app_id is not None:
        suites = [s for s in suites if str(s.app.id) == app_id]
    chunk, headers = paginate(req, suites, f"/repositories/{repo.id}/commits/{ref}/check-suites")
    return Response(
        200,
        {
            "total_count": len(suites),
            "check_suites": [render_check_suite(req.store, repo, s) for s in chunk],
        },
        headers,
    )


@route("GET", R + r"/check-runs/(?P<run_id>\d+)")
def get_check_run(req: Request, repo: EmulatedRepo, run_id: str) -> Response:
    run = next((r for r in repo.check_runs if r.id == int(run_id)), None)
    if run is None:
        raise ApiError(404, "Not Found")
    return Response(200, render_check_run(req.store, repo, run))


@route("GET", R + r"/check-suites/(?P<suite_id>\d+)")
def get_check_suite(req: Request, repo: EmulatedRepo, suite_id: str) -> Response:
    suite = next((s for s in repo.check_suites if s.id == int(suite_id)), None)
    if suite is None:
        raise ApiError(404, "Not Found")
    return Response(200, render_check_suite(req.store, repo, suite))


@route("GET", R + r"/check-suites/(?P<suite_id>\d+)/check-runs")
def list_suite_runs(req: Request, repo: EmulatedRepo, suite_id: str) -> Response:
    suite = next((s for s in repo.check_suites if s.id == int(suite_id)), None)
    if suite is None:
        raise ApiError(404, "Not Found")
    runs = _filter_runs(req, repo.suite_runs(suite, latest=req.arg("filter", "latest") != "all"))
    chunk, headers = paginate(
        req, runs, f"/repositories/{repo.id}/check-suites/{suite_id}/check-runs"
    )
    return Response(
        200,
        {
            "total_count": len(runs),
            "check_runs": [render_check_run(req.store, repo, r) for r in chunk],
        },
        headers,
    )


@route("GET", R + r"/commits/(?P<ref>.+)")
def get_commit(req: Request, repo: EmulatedRepo, ref: str) -> Response:
    sha = _commit_or_422(repo, ref)
    return Response(200, render_commit(req.store, repo, repo.commits[sha], detail=True))


# -- contents -------------------------------------------------------------------------------

DOC_CONTENTS = f"{DOCS}/repos/contents#get-repository-content"


def github_base64(data: bytes) -> str:
    """Base64 the way GitHub sends file contents: a newline after every 60 characters
    (Ruby's ``Base64.encode64``), the last line ended too."""
    text = base64.b64encode(data).decode()
    return "".join(f"{text[i : i + 60]}\n" for i in range(0, len(text), 60))


def _content_item(
    store: Store, repo: EmulatedRepo, ref: str, path: str, kind: str, sha: str, size: int
) -> dict[str, Any]:
    a = repo_api(store, repo)
    quoted = urllib.parse.quote(path)
    self_url = f"{a}/contents/{quoted}?ref={urllib.parse.quote(ref, safe='')}"
    git_url = f"{a}/git/{'blobs' if kind == 'file' else 'trees'}/{sha}"
    html_url = f"{repo_html(store, repo)}/{'blob' if kind == 'file' else 'tree'}/{ref}/{quoted}"
    return {
        "name": path.rsplit("/", 1)[-1],
        "path": path,
        "sha": sha,
        "size": size,
        "url": self_url,
        "html_url": html_url,
        "git_url": git_url,
        "download_url": (
            f"{store.base_url}/{repo.full_name}/raw/{ref}/{quoted}" if kind == "file" else None
        ),
        "type": kind,
        "_links": {"self": self_url, "git": git_url, "html": html_url},
    }


@route("GET", R + r"/contents/?(?P<path>.*)")
def get_contents(req: Request, repo: EmulatedRepo, path: str) -> Response:
    """A file (base64 ``content``, git blob ``sha``) or a directory's entries.

    GitHub docs: "Get repository content"; the ETag is a strong one, so a client's
    ``If-None-Match`` gets 304 while the file is unchanged (and 304s cost no rate limit)."""
    if not repo.commits:
        raise ApiError(404, "This repository is empty.", documentation_url=DOC_CONTENTS)
    ref = req.arg("ref") or repo.default_branch
    sha = repo.resolve(ref)
    if sha is None:
        raise ApiError(404, f"No commit found for the ref {ref}", documentation_url=DOC_CONTENTS)
    files = repo.commits[sha].files
    path = path.strip("/")
    if path in files:
        data = files[path]
        body = _content_item(req.store, repo, ref, path, "file", git_blob_sha(data), len(data))
        body["content"] = github_base64(data)
        body["encoding"] = "base64"
    else:
        prefix = f"{path}/" if path else ""
        below = {p[len(prefix) :]: d for p, d in files.items() if p.startswith(prefix)}
        if not below:
            raise ApiError(404, "Not Found", documentation_url=DOC_CONTENTS)
        entries: dict[str, dict[str, Any]] = {}
        for rest, data in sorted(below.items()):
            head, _, deeper = rest.partition("/")
            full = prefix + head
            if deeper:
                subtree = {
                    p[len(full) + 1 :]: d for p, d in files.items() if p.startswith(full + "/")
                }
                entries.setdefault(
                    head, _content_item(req.store, repo, ref, full, "dir", git_tree_sha(subtree), 0)
                )
            else:
                entries[head] = _content_item(
                    req.store, repo, ref, full, "file", git_blob_sha(data), len(data)
                )
        body = [entries[name] for name in sorted(entries)]
    digest = hashlib.sha1(json.dumps(body, sort_keys=True).encode()).hexdigest()
    return Response(200, body, {"ETag": f'"{digest}"', "Last-Modified": _http_date(repo, sha)})


def _http_date(repo: EmulatedRepo, sha: str) -> str:
    return formatdate(repo.commits[sha].when.timestamp(), usegmt=True)


# -- deployments ----------------------------------------------------------------------------


@route("GET", R + r"/deployments")
def list_deployments(req: Request, repo: EmulatedRepo) -> Response:
    wanted = {k: req.arg(k) for k in ("sha", "ref", "task", "environment")}
    deployments = [
        d
        for d in reversed(repo.deployment_objects)
        if all(v is None or getattr(d, k) == v for k, v in wanted.items())
    ]
    chunk, headers = paginate(req, deployments, f"/repositories/{repo.id}/deployments")
    return Response(200, [render_deployment(req.store, repo, d) for d in chunk], headers)


@route("POST", R + r"/deployments")
def create_deployment(req: Request, repo: EmulatedRepo) -> Response:
    user = _require_user(req)
    body = _body(req)
    ref = body.get("ref")
    if not isinstance(ref, str) or not ref:
        raise ApiError(
            422,
            'Invalid request.\n\n"ref" wasn\'t supplied.',
            documentation_url=DOC_CREATE_DEPLOYMENT,
        )
    sha = repo.resolve(ref)
    if sha is None:
        raise ApiError(422, f"No ref found for: {ref}", documentation_url=DOC_CREATE_DEPLOYMENT)
    auto_merge = body.get("auto_merge", True)
    branch = ref.removeprefix("refs/heads/")
    default_tip = repo.get_ref(f"refs/heads/{repo.default_branch}")
    if (
        auto_merge
        and repo.is_branch(ref)
        and branch != repo.default_branch
        and default_tip is not None
        and default_tip not in repo.ancestors(sha)
    ):
        repo.commit(
            f"Merge branch '{repo.default_branch}' into {branch}",
            author=user.login,
            branch=branch,
            parents=[sha, default_tip],
        )
        return Response(
            202, {"message": f"Auto-merged {repo.default_branch} into {branch} on deployment."}
        )
    required = body.get("required_contexts")
    contexts = _context_states(repo, sha)
    if required is None:
        failing = any(state != "success" for _, state in contexts)
    else:
        states = dict(contexts)
        failing = any(states.get(c) != "success" for c in required)
    if failing:
        raise ApiError(
            409,
            f"Conflict: Commit status checks failed for {ref}.",
            errors=[
                {
                    "contexts": [{"context": c, "state": s} for c, s in contexts],
                    "resource": "Deployment",
                    "field": "required_contexts",
                    "code": "invalid",
                }
            ],
            documentation_url=DOC_CREATE_DEPLOYMENT,
        )
    environment = body.get("environment") or "production"
    payload = body.get("payload", {})
    if isinstance(payload, str) and payload:
        try:
            payload = json.loads(payload)
        except ValueError:
            pass
    deployment = repo.new_deployment(
        sha=sha,
        ref=ref,
        task=body.get("task") or "deploy",
        payload=payload if payload != "" else {},
        environment=environment,
        description=body.get("description", ""),
        creator=user,
        transient_environment=bool(body.get("transient_environment", False)),
        production_environment=bool(
            body.get("production_environment", environment == "production")
        ),
        performed_via=req.installation.app if req.installation else None,
    )
    rendered = render_deployment(req.store, repo, deployment)
    return Response(201, rendered, {"Location": rendered["url"]})


def _context_states(repo: EmulatedRepo, sha: str) -> list[tuple[str, str]]:
    """Every commit status context and check run of ``sha`` with GitHub's state word."""
    out = [(s.context, s.state) for s in repo.latest_statuses(sha)]
    for run in sorted(repo.runs_for(sha, latest=True), key=lambda r: r.id):
        if run.status != "completed":
            out.append((run.name, "pending"))
        elif run.conclusion in ("success", "neutral", "skipped"):
            out.append((run.name, "success"))
        else:
            out.append((run.name, run.conclusion or "failure"))
    return out


@route("GET", R + r"/deployments/(?P<deployment_id>\d+)")
def get_deployment(req: Request, repo: EmulatedRepo, deployment_id: str) -> Response:
    deployment = repo.get_deployment(int(deployment_id))
    return Response(200, render_deployment(req.store, repo, deployment))


@route("DELETE", R + r"/deployments/(?P<deployment_id>\d+)")
def delete_deployment(req: Request, repo: EmulatedRepo, deployment_id: str) -> Response:
    _require_user(req)
    deployment = repo.get_deployment(int(deployment_id))
    same_env = [d for d in repo.deployment_objects if d.environment == deployment.environment]
    if deployment.latest_state != "inactive" and len(same_env) > 1:
        raise ApiError(
            422,
            "We cannot delete an active deployment unless it is the only deployment in a "
            "given environment.",
            documentation_url=DOC_DELETE_DEPLOYMENT,
        )
    repo.deployment_objects.remove(deployment)
    return Response(204)


@route("GET", R + r"/deployments/(?P<deployment_id>\d+)/statuses")
def list_deployment_statuses(req: Request, repo: EmulatedRepo, deployment_id: str) -> Response:
    deployment = repo.get_deployment(int(deployment_id))
    statuses = list(reversed(deployment.statuses))
    chunk, headers = paginate(
        req, statuses, f"/repositories/{repo.id}/deployments/{deployment_id}/statuses"
    )
    return Response(200, [render_deployment_status(req.store, repo, s) for s in chunk], headers)


@route("GET", R + r"/deployments/(?P<deployment_id>\d+)/statuses/(?P<status_id>\d+)")
def get_deployment_status(
    req: Request, repo: EmulatedRepo, deployment_id: str, status_id: str
) -> Response:
    deployment = repo.get_deployment(int(deployment_id))
    status = next((s for s in deployment.statuses if s.id == int(status_id)), None)
    if status is None:
        raise ApiError(404, "Not Found")
    return Response(200, render_deployment_status(req.store, repo, status))


@route("POST", R + r"/deployments/(?P<deployment_id>\d+)/statuses")
def create_deployment_status(req: Request, repo: EmulatedRepo, deployment_id: str) -> Response:
    user = _require_user(req)
    body = _body(req)
    deployment = repo.get_deployment(int(deployment_id))
    state = body.get("state")
    if state not in DEPLOYMENT_STATUS_STATES:
        raise ApiError(
            422,
            "Validation Failed",
            errors=[
                {
                    "resource": "DeploymentStatus",
                    "code": "custom",
                    "field": "state",
                    "message": "state is not included in the list",
                }
            ],
            documentation_url=DOC_CREATE_DEPLOYMENT_STATUS,
        )
    description = body.get("description") or ""
    if len(description) > 140:
        raise ApiError(
            422,
            "Validation Failed",
            errors=[
                {
                    "resource": "DeploymentStatus",
                    "code": "custom",
                    "field": "description",
                    "message": "description is too long (maximum is 140 characters)",
                }
            ],
            documentation_url=DOC_CREATE_DEPLOYMENT_STATUS,
        )
    status = repo.new_deployment_status(
        deployment,
        state=state,
        creator=user,
        description=description,
        log_url=body.get("log_url") or body.get("target_url") or "",
        environment_url=body.get("environment_url") or "",
        environment=body.get("environment"),
        auto_inactive=body.get("auto_inactive", True) is not False,
    )
    rendered = render_deployment_status(req.store, repo, status)
    return Response(201, rendered, {"Location": rendered["url"]})


# -- git refs -------------------------------------------------------------------------------


@route("POST", R + r"/git/refs")
def create_ref(req: Request, repo: EmulatedRepo) -> Response:
    _require_user(req)
    body = _body(req)
    ref, sha = body.get("ref"), body.get("sha")
    if not isinstance(ref, str) or not ref.startswith("refs/") or ref.count("/") < 2:
        raise ApiError(
            422,
            "Reference name must contain at least three slash-separated components.",
            documentation_url=DOC_CREATE_REF,
        )
    if not isinstance(sha, str) or sha not in repo.commits:
        raise ApiError(422, "Object does not exist", documentation_url=DOC_CREATE_REF)
    if repo.get_ref(ref) is not None:
        raise ApiError(422, "Reference already exists", documentation_url=DOC_CREATE_REF)
    repo.set_ref(ref, sha)
    rendered = render_ref(req.store, repo, ref, sha)
    return Response(201, rendered, {"Location": rendered["url"]})


EMPTY_TREE = "4b825dc642cb6eb9a060e54bf8d69288fbee4904"


@route("POST", R + r"/git/commits")
def create_git_commit(req: Request, repo: EmulatedRepo) -> Response:
    """A commit object from a message, a tree and parents; no ref moves."""
    user = _require_user(req)
    body = _body(req)
    message, tree, parents = body.get("message"), body.get("tree"), body.get("parents", [])
    if not isinstance(message, str) or not isinstance(tree, str):
        raise ApiError(
            422,
            'Invalid request.\n\n"message", "tree" weren\'t supplied.',
            documentation_url=DOC_CREATE_COMMIT,
        )
    refused = tree == EMPTY_TREE and req.store.refuse_empty_tree
    if refused or repo.tree_files(tree) is None:
        raise ApiError(422, "Tree SHA does not exist", documentation_url=DOC_CREATE_COMMIT)
    if not isinstance(parents, list) or any(p not in repo.commits for p in parents):
        raise ApiError(
            422,
            "Parent SHA does not exist or is not a commit object",
            documentation_url=DOC_CREATE_COMMIT,
        )
    sha = repo.create_git_commit(message, tree=tree, parents=parents, author=user.login)
    rendered = _render_git_commit(req.store, repo, sha)
    return Response(201, rendered, {"Location": rendered["url"]})


@route("GET", R + r"/git/commits/(?P<sha>[0-9a-f]{40})")
def get_git_commit(req: Request, repo: EmulatedRepo, sha: str) -> Response:
    """GitHub docs, Git commits, "Get a commit object"."""
    if sha not in repo.commits:
        raise ApiError(
            404, "Not Found", documentation_url=f"{DOCS}/git/commits#get-a-commit-object"
        )
    return Response(200, _render_git_commit(req.store, repo, sha))


def _render_git_commit(store: Store, repo: EmulatedRepo, sha: str) -> dict[str, Any]:
    commit = repo.commits[sha]
    message, tree, parents = commit.message, commit.tree, commit.parents
    a = repo_api(store, repo)
    rendered = {
        "sha": sha,
        "node_id": legacy_node_id("Commit", f"{repo.id}:{sha}"),
        "url": f"{a}/git/commits/{sha}",
        "html_url": f"{repo_html(store, repo)}/commit/{sha}",
        "author": _git_user(commit),
        "committer": _git_user(commit),
        "message": message,
        "tree": {"sha": tree, "url": f"{a}/git/trees/{tree}"},
        "parents": [
            {
                "sha": p,
                "url": f"{a}/git/commits/{p}",
                "html_url": f"{repo_html(store, repo)}/commit/{p}",
            }
            for p in parents
        ],
        "verification": {
            "verified": False,
            "reason": "unsigned",
            "signature": None,
            "payload": None,
        },
    }
    return rendered


@route("POST", R + r"/git/trees")
def create_tree(req: Request, repo: EmulatedRepo) -> Response:
    """GitHub docs, Git trees, "Create a tree": entries (``path``, ``mode``, ``type`` and
    ``content`` or ``sha``) laid over ``base_tree`` (or nothing); ``sha: null`` deletes a
    path. The emulator holds file contents only: it takes ``100644`` blobs given by
    ``content`` and deletions, and answers 422 for anything else."""
    _require_user(req)
    body = _body(req)
    entries, base = body.get("tree"), body.get("base_tree")
    if not isinstance(entries, list):
        raise ApiError(
            422, 'Invalid request.\n\n"tree" wasn\'t supplied.', documentation_url=DOC_CREATE_TREE
        )
    files: dict[str, bytes] = {}
    if base is not None:
        found = repo.tree_files(str(base)) if isinstance(base, str) else None
        if found is None:
            raise ApiError(422, "GitRPC::BadObjectState", documentation_url=DOC_CREATE_TREE)
        files = found
    for entry in entries:
        path = entry.get("path") if isinstance(entry, dict) else None
        if not isinstance(path, str) or not path or path.startswith("/"):
            raise ApiError(
                422,
                "tree.path contains a malformed path component",
                documentation_url=DOC_CREATE_TREE,
            )
        if "sha" in entry and entry["sha"] is None:
            if path not in files:
                raise ApiError(422, "GitRPC::BadObjectState", documentation_url=DOC_CREATE_TREE)
            del files[path]
            continue
        content = entry.get("content")
        if (entry.get("mode"), entry.get("type")) != ("100644", "blob") or not isinstance(
            content, str
        ):
            raise ApiError(
                422,
                "emulator: only 100644 blobs given by content, or deletions, are supported",
                documentation_url=DOC_CREATE_TREE,
            )
        files[path] = content.encode()
    sha = repo.create_tree(files)
    rendered = _render_tree(req.store, repo, sha, files)
    return Response(201, rendered, {"Location": rendered["url"]})


@route("GET", R + r"/git/trees/(?P<sha>[0-9a-f]{40})")
def get_tree(req: Request, repo: EmulatedRepo, sha: str) -> Response:
    """GitHub docs, Git trees, "Get a tree" (top level only; ``recursive`` is not emulated)."""
    files = repo.tree_files(sha)
    if files is None:
        raise ApiError(404, "Not Found", documentation_url=DOC_GET_TREE)
    return Response(200, _render_tree(req.store, repo, sha, files))


def _render_tree(store: Store, repo: EmulatedRepo, sha: str, files: dict[str, bytes]) -> dict:
    a = repo_api(store, repo)
    blobs = {path: data for path, data in files.items() if "/" not in path}
    folders: dict[str, dict[str, bytes]] = {}
    for path, data in files.items():
        head, _, rest = path.partition("/")
        if rest:
            folders.setdefault(head, {})[rest] = data
    items: list[tuple[str, dict[str, Any]]] = []
    for name, data in blobs.items():
        blob = git_blob_sha(data)
        entry = {"path": name, "mode": "100644", "type": "blob", "sha": blob, "size": len(data)}
        items.append((name, {**entry, "url": f"{a}/git/blobs/{blob}"}))
    for name, inner in folders.items():
        tree = git_tree_sha(inner)
        entry = {"path": name, "mode": "040000", "type": "tree", "sha": tree}
        items.append((name + "/", {**entry, "url": f"{a}/git/trees/{tree}"}))
    return {
        "sha": sha,
        "url": f"{a}/git/trees/{sha}",
        "tree": [entry for _, entry in sorted(items, key=lambda item: item[0])],
        "truncated": False,
    }


@route("GET", R + r"/git/refs")
def list_refs(req: Request, repo: EmulatedRepo) -> Response:
    refs = repo.ref_items()
    chunk, headers = paginate(req, refs, f"/repositories/{repo.id}/git/refs")
    return Response(200, [render_ref(req.store, repo, r, s) for r, s in chunk], headers)


@route("GET", R + r"/git/ref/(?P<ref>.+)")
def get_ref(req: Request, repo: EmulatedRepo, ref: str) -> Response:
    full = f"refs/{ref}"
    sha = repo.get_ref(full)
    if sha is None:
        raise ApiError(404, "Not Found", documentation_url=f"{DOCS}/git/refs#get-a-reference")
    return Response(200, render_ref(req.store, repo, full, sha))


@route("GET", R + r"/git/refs/(?P<ref>.+)")
def get_refs_legacy(req: Request, repo: EmulatedRepo, ref: str) -> Response:
    """The old form: an exact ref answers one object, a prefix answers the matching list."""
    full = f"refs/{ref}"
    sha = repo.get_ref(full)
    if sha is not None:
        return Response(200, render_ref(req.store, repo, full, sha))
    matches = [(r, s) for r, s in repo.ref_items() if r.startswith(full + "/")]
    if not matches:
        raise ApiError(404, "Not Found")
    return Response(200, [render_ref(req.store, repo, r, s) for r, s in matches])


@route("GET", R + r"/git/matching-refs/(?P<ref>.*)")
def matching_refs(req: Request, repo: EmulatedRepo, ref: str) -> Response:
    prefix = f"refs/{ref}"
    matches = [(r, s) for r, s in repo.ref_items() if r.startswith(prefix)]
    return Response(200, [render_ref(req.store, repo, r, s) for r, s in matches])


@route("PATCH", R + r"/git/refs/(?P<ref>.+)")
def update_ref(req: Request, repo: EmulatedRepo, ref: str) -> Response:
    _require_user(req)
    body = _body(req)
    full = f"refs/{ref}"
    current = repo.get_ref(full)
    if current is None:
        raise ApiError(422, "Reference does not exist", documentation_url=DOC_UPDATE_REF)
    sha = body.get("sha")
    if not isinstance(sha, str) or sha not in repo.commits:
        raise ApiError(422, "Object does not exist", documentation_url=DOC_UPDATE_REF)
    if not body.get("force", False) and current not in repo.ancestors(sha):
        raise ApiError(422, "Update is not a fast forward", documentation_url=DOC_UPDATE_REF)
    repo.set_ref(full, sha)
    return Response(200, render_ref(req.store, repo, full, sha))


@route("DELETE", R + r"/git/refs/(?P<ref>.+)")
def delete_ref(req: Request, repo: EmulatedRepo, ref: str) -> Response:
    _require_user(req)
    full = f"refs/{ref}"
    if repo.get_ref(full) is None:
        raise ApiError(422, "Reference does not exist", documentation_url=DOC_DELETE_REF)
    repo.delete_ref(full)
    return Response(204)


# -- compare and rate limit -----------------------------------------------------------------


@route("GET", R + r"/compare/(?P<basehead>.+)")
def compare(req: Request, repo: EmulatedRepo, basehead: str) -> Response:
    if "..." not in basehead:
        raise ApiError(404, "Not Found")
    base_ref, head_ref = basehead.split("...", 1)
    base, head = repo.resolve(base_ref), repo.resolve(head_ref)
    if base is None or head is None:
        raise ApiError(404, "Not Found")
    merge_base = repo.merge_base(base, head)
    compared = repo.compare(base, head)
    if merge_base is None or compared is None:
        raise ApiError(404, f"No common ancestor between {base_ref} and {head_ref}.")
    status, ahead, behind = compared
    ahead_commits = sorted(
        (repo.commits[c] for c in ahead), key=lambda c: (c.when, _depth(repo, c.sha))
    )
    a = repo_api(req.store, repo)
    html = repo_html(req.store, repo)
    owner = repo.owner.login
    return Response(
        200,
        {
            "url": f"{a}/compare/{basehead}",
            "html_url": f"{html}/compare/{basehead}",
            "permalink_url": f"{html}/compare/{owner}:{base}...{owner}:{head}",
            "diff_url": f"{html}/compare/{basehead}.diff",
            "patch_url": f"{html}/compare/{basehead}.patch",
            "base_commit": render_commit(req.store, repo, repo.commits[base]),
            "merge_base_commit": render_commit(req.store, repo, repo.commits[merge_base]),
            "status": status,
            "ahead_by": len(ahead),
            "behind_by": len(behind),
            "total_commits": len(ahead),
            "commits": [render_commit(req.store, repo, c) for c in ahead_commits[:250]],
            "files": [],
        },
    )


def _depth(repo: EmulatedRepo, sha: str) -> int:
    return len(repo.ancestors(sha))
