"""GitHub Apps in the GitHub emulator: keys, JWTs, installations, installation tokens, teams.

What GitHub documents, and what PyGithub 2.10 (``Auth.AppAuth``, ``GithubIntegration``,
``Auth.AppInstallationAuth``) relies on:

- An App authenticates as itself with a JWT signed RS256 by its private key: ``iss`` the App
  id (or client id), ``iat`` in the past, ``exp`` at most 10 minutes on ("Generating a JSON
  Web Token (JWT) for a GitHub App"). A JWT is only good for the App endpoints: ``GET /app``,
  ``GET /app/installations[/{id}]``, ``GET /repos/{o}/{r}/installation``,
  ``GET /orgs/{org}/installation``, ``GET /users/{u}/installation`` and
  ``POST /app/installations/{id}/access_tokens``. A bad one is 401 with GitHub's own words
  ("A JSON web token could not be decoded", "'Expiration time' claim ('exp') is too far in
  the future", ...), as reported against GitHub in octokit/auth-app.js#698, probot#942,
  sigmavirus24/github3.py#1050.
- An installation access token ("Generating an installation access token for a GitHub App")
  expires one hour after it is made (``expires_at``); it acts as the App's bot account
  ``{slug}[bot]`` (type ``Bot``) on the installation's repositories only, and answers 401
  "Bad credentials" once expired. ``GET /installation/repositories`` lists what it reaches.
- Org membership and team membership for allow lists ("Get team membership for a user":
  200 with ``state: active``, else 404; "Check organization membership for a user": 204/404).

The routes register themselves with ``github_rest.route``; ``github.py`` imports this module.
"""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta
from typing import Any

from .github_model import (
    ApiError,
    App,
    EmulatedRepo,
    Installation,
    InstallationToken,
    Store,
    Team,
    legacy_node_id,
    stamp,
)
from .github_rest import (
    DOCS,
    R,
    Request,
    Response,
    api,
    paginate,
    render_app,
    render_full_repo,
    render_user,
    route,
)

TOKEN_LIFETIME = timedelta(hours=1)
JWT_MAX_LIFETIME = 600  # seconds: "no more than 10 minutes into the future"
DEFAULT_PERMISSIONS = {
    "contents": "read",
    "deployments": "write",
    "members": "read",
    "metadata": "read",
    "statuses": "read",
    "checks": "read",
}
DEFAULT_EVENTS = ["deployment", "deployment_status"]
DOC_ACCESS_TOKEN = f"{DOCS}/apps/apps#create-an-installation-access-token-for-an-app"
DOC_TEAM_MEMBERSHIP = f"{DOCS}/teams/members#get-team-membership-for-a-user"
DOC_ORG_MEMBER = f"{DOCS}/orgs/members#check-organization-membership-for-a-user"


def generate_key_pair() -> tuple[str, Any]:
    """A fresh 2048-bit RSA key: (the PEM private key GitHub lets you download, public key)."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,  # "BEGIN RSA PRIVATE KEY", as GitHub's
        serialization.NoEncryption(),
    ).decode()
    return pem, key.public_key()


def looks_like_jwt(token: str) -> bool:
    return token.count(".") == 2 and token.startswith("eyJ")


def verify_jwt(store: Store, token: str, now: datetime) -> App:
    """The App a JWT proves, or ApiError(401) with GitHub's message."""
    import jwt

    def refuse(message: str) -> ApiError:
        return ApiError(401, message, documentation_url=DOCS)

    try:
        claims = jwt.decode(token, options={"verify_signature": False})
    except jwt.PyJWTError:
        raise refuse("A JSON web token could not be decoded") from None
    issuer = str(claims.get("iss", ""))
    app = next(
        (
            a
            for a in store.apps.values()
            if a.public_key is not None and issuer in (str(a.id), f"Iv1.{a.id:016x}")
        ),
        None,
    )
    if app is None:
        raise refuse("'Issuer' claim ('iss') must be an Integer")
    try:
        jwt.decode(
            token,
            app.public_key,
            algorithms=["RS256"],
            options={"verify_exp": False, "verify_iat": False, "verify_nbf": False},
        )
    except jwt.PyJWTError:
        raise refuse("A JSON web token could not be decoded") from None
    iat, exp = claims.get("iat"), claims.get("exp")
    moment = int(now.timestamp())
    if not isinstance(iat, int) or iat > moment:
        raise refuse(
            "'Issued at' claim ('iat') must be an Integer representing the time that the "
            "assertion was issued"
        )
    if not isinstance(exp, int) or exp <= moment:
        raise refuse(
            "'Expiration time' claim ('exp') must be a numeric value representing the future "
            "time at which the assertion expires"
        )
    if exp - iat > JWT_MAX_LIFETIME or exp > moment + JWT_MAX_LIFETIME:
        raise refuse("'Expiration time' claim ('exp') is too far in the future")
    return app


def token_for(store: Store, token: str, now: datetime) -> InstallationToken | None:
    """The live installation token ``token``; None when unknown or expired."""
    found = store.installation_tokens.get(token)
    if found is None or now >= found.expires_at:
        return None
    return found


# -- renderers ------------------------------------------------------------------------------


def render_installation(store: Store, installation: Installation) -> dict[str, Any]:
    """GitHub's ``installation`` (OpenAPI ``installation``; what PyGithub's Installation reads)."""
    app = installation.app
    account = installation.account
    return {
        "id": installation.id,
        "account": render_user(store, account),
        "repository_selection": installation.repository_selection,
        "access_tokens_url": f"{api(store)}/app/installations/{installation.id}/access_tokens",
        "repositories_url": f"{api(store)}/installation/repositories",
        "html_url": (
            f"{store.base_url}/organizations/{account.login}/settings/installations/"
            f"{installation.id}"
            if account.type == "Organization"
            else f"{store.base_url}/settings/installations/{installation.id}"
        ),
        "app_id": app.id,
        "app_slug": app.slug,
        "client_id": f"Iv1.{app.id:016x}",
        "target_id": account.id,
        "target_type": account.type,
        "permissions": dict(app.permissions),
        "events": list(app.events),
        "created_at": stamp(installation.created_at),
        "updated_at": stamp(installation.created_at),
        "single_file_name": None,
        "has_multiple_single_files": False,
        "single_file_paths": [],
        "suspended_by": None,
        "suspended_at": None,
    }


def render_installation_lite(installation: Installation) -> dict[str, Any]:
    """The ``installation`` of a webhook payload: id and node id."""
    return {
        "id": installation.id,
        "node_id": legacy_node_id("Integration::Installation", installation.id),
    }


# -- routes: the App itself (JWT) -----------------------------------------------------------


def _app(req: Request) -> App:
    assert req.app is not None  # the dispatcher lets only JWTs in here
    return req.app


@route("GET", "/app", jwt=True)
def get_app(req: Request) -> Response:
    app = _app(req)
    body = render_app(req.store, app)
    body["installations_count"] = sum(1 for i in req.store.installations.values() if i.app is app)
    return Response(200, body)


@route("GET", "/app/installations", jwt=True)
def list_installations(req: Request) -> Response:
    app = _app(req)
    mine = [i for i in req.store.installations.values() if i.app is app]
    chunk, headers = paginate(req, mine, "/app/installations")
    return Response(200, [render_installation(req.store, i) for i in chunk], headers)


def _installation(req: Request, installation_id: str) -> Installation:
    installation = req.store.installations.get(int(installation_id))
    if installation is None or installation.app is not _app(req):
        raise ApiError(
            404,
            "Not Found",
            documentation_url=f"{DOCS}/apps/apps#get-an-installation-for-the-authenticated-app",
        )
    return installation


@route("GET", r"/app/installations/(?P<installation_id>\d+)", jwt=True)
def get_installation(req: Request, installation_id: str) -> Response:
    return Response(200, render_installation(req.store, _installation(req, installation_id)))


@route("POST", r"/app/installations/(?P<installation_id>\d+)/access_tokens", jwt=True)
def create_access_token(req: Request, installation_id: str) -> Response:
    """A new token for one hour. ``permissions`` may narrow the App's, never widen them
    (422 "The permissions requested are not granted to this installation.")."""
    installation = _installation(req, installation_id)
    body = req.body if isinstance(req.body, dict) else {}
    granted = installation.app.permissions
    wanted = body.get("permissions") or {}
    rank = {"read": 1, "write": 2, "admin": 3}
    if not isinstance(wanted, dict) or any(
        rank.get(str(level), 99) > rank.get(granted.get(name, ""), 0)
        for name, level in wanted.items()
    ):
        raise ApiError(
            422,
            "The permissions requested are not granted to this installation.",
            documentation_url=DOC_ACCESS_TOKEN,
        )
    permissions = dict(wanted) if wanted else dict(granted)
    now = req.store.now()
    token = InstallationToken(
        token=f"ghs_{secrets.token_urlsafe(27)[:36]}",
        installation=installation,
        expires_at=now + TOKEN_LIFETIME,
        permissions=permissions,
    )
    req.store.installation_tokens[token.token] = token
    out: dict[str, Any] = {
        "token": token.token,
        "expires_at": stamp(token.expires_at),
        "permissions": permissions,
        "repository_selection": installation.repository_selection,
    }
    if installation.repository_selection == "selected":
        out["repositories"] = [
            render_full_repo(req.store, req.store.repos[name])
            for name in installation.repositories
            if name in req.store.repos
        ]
    return Response(201, out)


def _account_installation(req: Request, login: str, doc: str) -> Response:
    app = _app(req)
    installation = next(
        (
            i
            for i in req.store.installations.values()
            if i.app is app and i.account.login.lower() == login.lower()
        ),
        None,
    )
    if installation is None:
        raise ApiError(404, "Not Found", documentation_url=f"{DOCS}/apps/apps#{doc}")
    return Response(200, render_installation(req.store, installation))


@route("GET", R + r"/installation", jwt=True)
def get_repo_installation(req: Request, repo: EmulatedRepo) -> Response:
    installation = req.store.installation_for(repo, _app(req))
    if installation is None:
        raise ApiError(
            404,
            "Not Found",
            documentation_url=f"{DOCS}/apps/apps#get-a-repository-installation-for-the-authenticated-app",
        )
    return Response(200, render_installation(req.store, installation))


@route("GET", r"/orgs/(?P<org>[^/]+)/installation", jwt=True)
def get_org_installation(req: Request, org: str) -> Response:
    return _account_installation(
        req, org, "get-an-organization-installation-for-the-authenticated-app"
    )


@route("GET", r"/users/(?P<username>[^/]+)/installation", jwt=True)
def get_user_installation(req: Request, username: str) -> Response:
    return _account_installation(req, username, "get-a-user-installation-for-the-authenticated-app")


# -- routes: as the installation --------------------------------------------------------------


@route("GET", "/installation/repositories")
def list_installation_repositories(req: Request) -> Response:
    if req.installation is None:
        raise ApiError(
            403,
            "You must authenticate with an installation access token in order to list "
            "repositories for an installation.",
            documentation_url=f"{DOCS}/apps/installations#list-repositories-accessible-to-the-app-installation",
        )
    repos = sorted(
        (r for r in req.store.repos.values() if req.installation.covers(r)), key=lambda r: r.id
    )
    chunk, headers = paginate(req, repos, "/installation/repositories")
    body = {
        "total_count": len(repos),
        "repository_selection": req.installation.repository_selection,
        "repositories": [render_full_repo(req.store, r) for r in chunk],
    }
    return Response(200, body, headers)


# -- routes: org members and teams ----------------------------------------------------------


def _org_visible(req: Request, org: str) -> None:
    if req.user is None:
        raise ApiError(401, "Requires authentication")
    if req.installation is not None and req.installation.account.login.lower() != org.lower():
        raise ApiError(404, "Not Found")


@route("GET", r"/orgs/(?P<org>[^/]+)/teams/(?P<team_slug>[^/]+)/memberships/(?P<username>[^/]+)")
def get_team_membership(req: Request, org: str, team_slug: str, username: str) -> Response:
    _org_visible(req, org)
    team = req.store.teams.get((org.lower(), team_slug.lower()))
    if team is None or username.lower() not in (m.lower() for m in team.members):
        raise ApiError(404, "Not Found", documentation_url=DOC_TEAM_MEMBERSHIP)
    return Response(
        200,
        {
            "url": f"{api(req.store)}/teams/{team.id}/memberships/{username}",
            "role": "member",
            "state": "active",
        },
    )


@route("GET", r"/orgs/(?P<org>[^/]+)/members/(?P<username>[^/]+)")
def check_org_member(req: Request, org: str, username: str) -> Response:
    _org_visible(req, org)
    members = req.store.org_members.get(org.lower(), set())
    if username.lower() not in members:
        raise ApiError(404, "Not Found", documentation_url=DOC_ORG_MEMBER)
    return Response(204)


def add_team(store: Store, org: str, slug: str, members: list[str], name: str | None) -> Team:
    owner = store.user(org, type="Organization")
    team = Team(
        id=store.next_id(),
        org=owner,
        slug=slug,
        name=name or slug,
        members=list(members),
        created_at=store.now(),
    )
    store.teams[(org.lower(), slug.lower())] = team
    store.org_members.setdefault(org.lower(), set()).update(m.lower() for m in members)
    for member in members:
        store.user(member)
    return team
