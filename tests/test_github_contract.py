"""Contract: the GitHub emulator answers in GitHub's own published shapes.

1. Every REST operation of GitHub's OpenAPI subset is called on the emulator and each answer
   is validated against that operation's response schema with ``openapi_schema_validator``'s
   OpenAPI 3.0 validator; ``*_url`` fields must carry the emulator's host.
2. Every bit of ``github_schema.graphql`` (types, fields, arguments, enum values, interfaces)
   exists in GitHub's public GraphQL schema with the same types and defaults.
3. Recorded real answers (PyGithub ReplayData): every key GitHub sent, the emulator sends too.
4. Webhooks: the ``deployment`` and ``deployment_status`` payloads the emulator delivers
   validate against GitHub's webhook JSON schemas (``deployment$created``,
   ``deployment_status$created``) and the subset's ``x-webhooks`` request bodies.
5. The App, contents and team endpoints, which the subset does not have: ``GET /app`` against
   the subset's ``integration`` schema; the rest against the required properties of GitHub's
   REST reference ("Get a repository installation for the authenticated app": ``installation``;
   "Create an installation access token for an app": ``installation-token``; "Get repository
   content": ``content-file``; "Get team membership for a user": ``team-membership``).

The reference data sits beside the checkout (``../shared/reference/github-api``); without it
these tests skip on a developer's machine and fail on CI (``CI=true``), where a skip would
hide a contract nobody checked.
"""

from __future__ import annotations

import ast
import json
import os
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import requests
from graphql import (
    GraphQLEnumType,
    GraphQLInputObjectType,
    GraphQLInterfaceType,
    GraphQLObjectType,
    GraphQLScalarType,
    GraphQLSchema,
    build_schema,
    parse,
    validate,
)
from openapi_schema_validator import OAS30Validator

from tests.emulators.github import GitHubEmulator
from tests.emulators.github_graphql import SCHEMA_PATH

REFERENCE = Path(__file__).resolve().parents[2] / "shared" / "reference" / "github-api"
ON_CI = os.environ.get("CI") == "true"

pytestmark = [
    pytest.mark.shared,
    pytest.mark.skipif(
        not REFERENCE.is_dir() and not ON_CI, reason="GitHub reference data not present"
    ),
]


@pytest.fixture(autouse=True)
def _reference_data() -> None:
    """On CI the reference data must be there: fail, naming what is missing."""
    if not REFERENCE.is_dir():
        pytest.fail(
            "GitHub reference data not found beside the checkout "
            "(shared/reference/github-api); CI must provide it"
        )


T0 = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)


# -- OpenAPI 3.0 validation ---------------------------------------------------------------


def _null_in_nullable_enums(node: Any) -> Any:
    """Let ``null`` into each ``nullable`` enum, the one edit made to GitHub's description.

    OpenAPI 3.0.3 clarified that ``nullable: true`` does not admit ``null`` into an ``enum``
    that does not list it, and the validator follows that; GitHub's description writes
    ``conclusion`` (and others) as nullable enums without ``null`` while GitHub answers
    ``"conclusion": null`` for every unfinished check run (the recorded real answers show it).
    """
    if isinstance(node, list):
        return [_null_in_nullable_enums(item) for item in node]
    if not isinstance(node, dict):
        return node
    out = {key: _null_in_nullable_enums(value) for key, value in node.items()}
    if out.get("nullable") and "enum" in out and None not in out["enum"]:
        out["enum"] = [*out["enum"], None]
    return out


@cache
def _spec() -> dict[str, Any]:
    spec = json.loads((REFERENCE / "github-rest-subset.json").read_text())
    return {**spec, "components": _null_in_nullable_enums(spec["components"])}


def _format_checker() -> jsonschema.FormatChecker:
    checker = jsonschema.FormatChecker(formats=())

    @checker.checks("date-time")
    def is_datetime(value: object) -> bool:
        return not isinstance(value, str) or bool(
            re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)", value)
        )

    @checker.checks("uri")
    def is_uri(value: object) -> bool:
        # GitHub itself answers "" for unset URLs (deployment status target_url, ...)
        return not isinstance(value, str) or value == "" or bool(re.match(r"^[a-z]+://", value))

    return checker


def _response_schema(method: str, template: str, status: int) -> dict[str, Any] | None:
    operation = _spec()["paths"][template][method.lower()]
    responses = operation["responses"]
    assert str(status) in responses, f"{method} {template} documents no {status} answer"
    response = responses[str(status)]
    if "$ref" in response:
        response = _spec()["components"]["responses"][response["$ref"].rsplit("/", 1)[1]]
    content = response.get("content", {}).get("application/json")
    return content["schema"] if content else None


def _check_urls(emu: GitHubEmulator, body: Any, where: str = "$") -> None:
    host = emu.url.removeprefix("http://")
    allowed = (emu.url, f"git://{host}/", f"git@{host}:", "https://docs.github.com/")
    if isinstance(body, dict):
        for key, value in body.items():
            if (key == "url" or key.endswith("_url")) and isinstance(value, str) and value:
                assert value.startswith(allowed), f"{where}.{key} = {value!r}"
            _check_urls(emu, value, f"{where}.{key}")
    elif isinstance(body, list):
        for index, item in enumerate(body):
            _check_urls(emu, item, f"{where}[{index}]")


class Caller:
    """Calls the emulator by OpenAPI path template and validates every answer."""

    def __init__(self, emu: GitHubEmulator) -> None:
        self.emu = emu
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"token {emu.token}"
        self.seen: set[tuple[str, str, int]] = set()
        self.bodies: dict[tuple[str, str], Any] = {}

    def __call__(
        self,
        method: str,
        template: str,
        status: int,
        body: Any = None,
        query: dict[str, Any] | None = None,
        **params: Any,
    ) -> Any:
        path = template
        for name, value in {"owner": "acme", "repo": "shop", **params}.items():
            path = path.replace("{" + name + "}", str(value))
        answer = self.session.request(method, f"{self.emu.base_url}{path}", json=body, params=query)
        assert answer.status_code == status, (method, path, answer.status_code, answer.text)
        payload = answer.json() if answer.content else None
        schema = _response_schema(method, template, status)
        if schema is not None:
            # OpenAPI 3.0's dialect (``nullable``, its formats), refs resolved in the spec itself
            validator = OAS30Validator(
                {**schema, "components": _spec()["components"]}, format_checker=_format_checker()
            )
            errors = sorted(validator.iter_errors(payload), key=lambda e: list(e.path))
            assert not errors, "\n".join(
                f"{method} {template} {status}: {list(e.path)}: {e.message[:300]}"
                for e in errors[:10]
            )
        _check_urls(self.emu, payload)
        self.seen.add((method, template, status))
        if status in (200, 201):
            self.bodies.setdefault((method, template), payload)
        return payload


@pytest.fixture
def call(github_emulator: GitHubEmulator) -> Iterator[Caller]:
    github_emulator.clock = lambda: T0
    yield Caller(github_emulator)


def _scenario(emu: GitHubEmulator, call: Caller) -> None:
    """Walk every operation of the subset (and its documented error answers)."""
    repo = emu.create_repo("acme/shop")
    root = repo.commit("Root")
    repo.create_branch("topic", root)
    topic = repo.commit("Topic work", author="bob", branch="topic")
    sha = repo.commit("Add cart\n\nLonger text.")
    repo.add_status(sha, context="ci/build", state="success", target_url=f"{emu.url}/ci/1")
    repo.add_check_run(sha, name="test", conclusion="failure")
    run_id = repo.add_check_run(sha, name="test", conclusion="success")
    repo.add_check_run(sha, name="lint", status="in_progress", conclusion=None)
    suite_id = repo.check_runs[-1].suite.id
    R = "/repos/{owner}/{repo}"

    call("GET", R, 200)
    call("GET", "/repos/{owner}/{repo}", 404, repo="nope")
    call("GET", R + "/branches/{branch}", 200, branch="main")
    call("GET", R + "/branches/{branch}", 404, branch="nope")
    call("GET", R + "/commits", 200, query={"per_page": 2})
    call("GET", R + "/commits/{ref}", 200, ref=sha)
    call("GET", R + "/commits/{ref}", 422, ref="0000000")
    call("GET", R + "/commits/{ref}/status", 200, ref=sha)
    call("GET", R + "/commits/{ref}/status", 404, ref="nope")
    call("POST", R + "/statuses/{sha}", 201, {"state": "pending", "context": "ci/x"}, sha=sha)
    call("GET", R + "/commits/{ref}/statuses", 200, ref=sha)
    call("GET", R + "/commits/{ref}/check-runs", 200, ref=sha, query={"filter": "all"})
    call("GET", R + "/commits/{ref}/check-suites", 200, ref=sha)
    call("GET", R + "/check-runs/{check_run_id}", 200, check_run_id=run_id)
    call("GET", R + "/check-suites/{check_suite_id}", 200, check_suite_id=suite_id)
    call("GET", R + "/check-suites/{check_suite_id}/check-runs", 200, check_suite_id=suite_id)

    D = R + "/deployments"
    call("POST", D, 422, {"ref": "nope", "auto_merge": False, "required_contexts": []})
    call("POST", D, 409, {"ref": sha, "auto_merge": False})
    call("POST", D, 202, {"ref": "topic", "required_contexts": []})
    older = repo.add_deployment(root, environment="staging", statuses=["success"])
    created = call(
        "POST",
        D,
        201,
        {
            "ref": sha,
            "environment": "staging",
            "auto_merge": False,
            "required_contexts": [],
            "payload": {"image": "shop:1"},
            "description": "Deploy",
        },
    )
    call("GET", D, 200, query={"environment": "staging"})
    call("GET", D + "/{deployment_id}", 200, deployment_id=created["id"])
    call("GET", D + "/{deployment_id}", 404, deployment_id=1)
    S = D + "/{deployment_id}/statuses"
    status = call(
        "POST",
        S,
        201,
        {"state": "success", "log_url": f"{emu.url}/ci/run/1", "environment_url": emu.url},
        deployment_id=created["id"],
    )
    call("POST", S, 422, {"state": "nope"}, deployment_id=created["id"])
    call("GET", S, 200, deployment_id=created["id"])
    call("GET", S + "/{status_id}", 200, deployment_id=created["id"], status_id=status["id"])
    call("GET", S + "/{status_id}", 404, deployment_id=created["id"], status_id=1)
    call("DELETE", D + "/{deployment_id}", 422, deployment_id=created["id"])
    call("DELETE", D + "/{deployment_id}", 204, deployment_id=older)
    call("DELETE", D + "/{deployment_id}", 404, deployment_id=older)

    G = R + "/git"
    call("POST", G + "/refs", 201, {"ref": "refs/locks/staging", "sha": root})
    call("POST", G + "/refs", 422, {"ref": "refs/locks/staging", "sha": root})
    call("GET", G + "/ref/{ref}", 200, ref="locks/staging")
    call("GET", G + "/ref/{ref}", 404, ref="locks/nope")
    call("GET", G + "/matching-refs/{ref}", 200, ref="locks/")
    call("PATCH", G + "/refs/{ref}", 200, {"sha": sha}, ref="locks/staging")
    call("PATCH", G + "/refs/{ref}", 422, {"sha": root}, ref="locks/staging")
    call("DELETE", G + "/refs/{ref}", 204, ref="locks/staging")
    call("DELETE", G + "/refs/{ref}", 422, ref="locks/staging")

    call("GET", R + "/compare/{basehead}", 200, basehead=f"{root}...{sha}")
    call("GET", R + "/compare/{basehead}", 200, basehead=f"main...{topic}")
    call("GET", R + "/compare/{basehead}", 404, basehead="main...nope")
    call("GET", "/rate_limit", 200)


def test_rest_answers_match_githubs_openapi_schemas(
    github_emulator: GitHubEmulator, call: Caller
) -> None:
    _scenario(github_emulator, call)
    operations = {
        (method.upper(), path)
        for path, ops in _spec()["paths"].items()
        for method in ops
        if method != "parameters"
    }
    assert operations <= {(m, t) for m, t, _ in call.seen}
    assert github_emulator.errors == []


# -- recorded real answers --------------------------------------------------------------------


def _recordings() -> Iterator[tuple[str, str, str, int, Any]]:
    for file in sorted((REFERENCE / "replaydata").glob("*.txt")):
        lines = file.read_text().split("\n")
        for start in range(0, len(lines) - 10, 11):
            block = lines[start : start + 11]
            method, path, status, body = block[1], block[4], int(block[7]), block[9]
            if body.strip() and status < 300:
                yield file.name, method, path.split("?")[0], status, json.loads(body)


# Keys that depend on the recorded data, not on the shape: obsolete (``master_branch``),
# fork-only (``parent``, ``source``), or free-form (a payload's or an app's permission keys).
_SKIPPED = {"master_branch", "parent", "source"}
_OPAQUE = {"payload", "permissions"}


def _missing_keys(recorded: Any, ours: Any, where: str = "$") -> list[str]:
    if isinstance(recorded, dict) and isinstance(ours, dict):
        out = []
        for key, value in recorded.items():
            if key in _SKIPPED:
                continue
            if key not in ours:
                out.append(f"{where}.{key}")
            elif ours[key] is not None and key not in _OPAQUE:
                out.extend(_missing_keys(value, ours[key], f"{where}.{key}"))
        return out
    if isinstance(recorded, list) and isinstance(ours, list) and recorded and ours:
        return _missing_keys(recorded[0], ours[0], f"{where}[0]")
    return []


_RECORDED_TEMPLATES = [
    ("GET", r"/repos/[^/]+/[^/]+/commits/[^/]+/check-runs", "/commits/{ref}/check-runs"),
    ("GET", r"/repos/[^/]+/[^/]+/commits/[^/]+/check-suites", "/commits/{ref}/check-suites"),
    ("GET", r"/repos/[^/]+/[^/]+/commits/[^/]+/status", "/commits/{ref}/status"),
    ("GET", r"/repos/[^/]+/[^/]+/commits/[^/]+", "/commits/{ref}"),
    ("POST", r"/repos/[^/]+/[^/]+/statuses/[^/]+", "/statuses/{sha}"),
    (
        "GET",
        r"/repos/[^/]+/[^/]+/deployments/\d+/statuses",
        "/deployments/{deployment_id}/statuses",
    ),
    (
        "POST",
        r"/repos/[^/]+/[^/]+/deployments/\d+/statuses",
        "/deployments/{deployment_id}/statuses",
    ),
    ("GET", r"/repos/[^/]+/[^/]+/deployments/\d+", "/deployments/{deployment_id}"),
    ("GET", r"/repos/[^/]+/[^/]+/deployments", "/deployments"),
    ("POST", r"/repos/[^/]+/[^/]+/deployments", "/deployments"),
    ("POST", r"/repos/[^/]+/[^/]+/git/refs", "/git/refs"),
    ("GET", r"/repos/[^/]+/[^/]+/git/ref/.+", "/git/ref/{ref}"),
    ("GET", r"/repos/[^/]+/[^/]+/compare/.+", "/compare/{basehead}"),
    ("GET", r"/repos/[^/]+/[^/]+", ""),
]


def test_emulator_sends_every_key_of_recorded_real_answers(
    github_emulator: GitHubEmulator, call: Caller
) -> None:
    _scenario(github_emulator, call)
    problems = []
    checked = 0
    for name, method, path, _, recorded in _recordings():
        for verb, pattern, suffix in _RECORDED_TEMPLATES:
            if verb == method and re.fullmatch(pattern, path):
                ours = call.bodies[(method, "/repos/{owner}/{repo}" + suffix)]
                missing = _missing_keys(recorded, ours)
                problems.extend(f"{name} {method} {path}: {m}" for m in missing)
                checked += 1
                break
    assert checked >= 12
    assert problems == []


# -- GraphQL subset ---------------------------------------------------------------------------


@cache
def _github_schema() -> GraphQLSchema:
    # GitHub's published SDL repeats two fields and deprecates some interface implementations
    # only; graphql-core rejects both, so build it as-is and skip its schema self-check.
    schema = build_schema(
        (REFERENCE / "graphql" / "schema.graphql").read_text(), assume_valid_sdl=True
    )
    schema._validation_errors = []  # type: ignore[attr-defined]
    return schema


def _default(arg: Any) -> Any:
    return arg.default_value


def test_graphql_subset_matches_githubs_schema() -> None:
    ours = build_schema(SCHEMA_PATH.read_text())
    theirs = _github_schema()
    problems: list[str] = []
    for name, our_type in ours.type_map.items():
        if name.startswith("__") or name in ("String", "Int", "Float", "Boolean", "ID"):
            continue
        their_type = theirs.type_map.get(name)
        if their_type is None or type(their_type) is not type(our_type):
            problems.append(f"{name}: missing or a different kind")
            continue
        if isinstance(our_type, GraphQLEnumType):
            assert isinstance(their_type, GraphQLEnumType)
            if set(our_type.values) != set(their_type.values):
                problems.append(f"{name}: enum values differ")
        elif isinstance(our_type, GraphQLInputObjectType):
            assert isinstance(their_type, GraphQLInputObjectType)
            for field_name, field in our_type.fields.items():
                theirs_field = their_type.fields.get(field_name)
                if theirs_field is None or str(theirs_field.type) != str(field.type):
                    problems.append(f"{name}.{field_name}: missing or a different type")
            for field_name, field in their_type.fields.items():
                required = str(field.type).endswith("!") and field.default_value is None
                if required and field_name not in our_type.fields:
                    problems.append(f"{name}.{field_name}: required by GitHub, missing here")
        elif isinstance(our_type, GraphQLObjectType | GraphQLInterfaceType):
            assert isinstance(their_type, GraphQLObjectType | GraphQLInterfaceType)
            their_interfaces = {i.name for i in their_type.interfaces}
            for interface in our_type.interfaces:
                if interface.name not in their_interfaces:
                    problems.append(f"{name}: GitHub's type does not implement {interface.name}")
            for field_name, field in our_type.fields.items():
                their_field = their_type.fields.get(field_name)
                if their_field is None:
                    problems.append(f"{name}.{field_name}: not in GitHub's schema")
                    continue
                if str(their_field.type) != str(field.type):
                    problems.append(
                        f"{name}.{field_name}: {field.type} here, {their_field.type} at GitHub"
                    )
                for arg_name, arg in field.args.items():
                    their_arg = their_field.args.get(arg_name)
                    if their_arg is None:
                        problems.append(f"{name}.{field_name}({arg_name}): not at GitHub")
                    elif str(their_arg.type) != str(arg.type):
                        problems.append(f"{name}.{field_name}({arg_name}): type differs")
                    elif _default(their_arg) != _default(arg):
                        problems.append(f"{name}.{field_name}({arg_name}): default differs")
                for arg_name, arg in their_field.args.items():
                    required = str(arg.type).endswith("!") and arg.default_value is None
                    if required and arg_name not in field.args:
                        problems.append(f"{name}.{field_name}({arg_name}): required, missing")
        elif not isinstance(our_type, GraphQLScalarType):
            problems.append(f"{name}: unexpected kind")
    assert problems == []


def test_train_query_is_valid_against_githubs_schema() -> None:
    from tests.test_github_emulator import TRAIN_QUERY

    assert validate(_github_schema(), parse(TRAIN_QUERY)) == []


_PROTOCOL_HEADERS = {
    "x-ratelimit-limit",
    "x-ratelimit-remaining",
    "x-ratelimit-reset",
    "x-ratelimit-used",
    "x-ratelimit-resource",
    "etag",
    "x-github-request-id",
    "x-github-media-type",
    "content-type",
    "cache-control",
    "vary",
    "access-control-expose-headers",
}


def test_emulator_sends_the_protocol_headers_github_sends(
    github_emulator: GitHubEmulator,
) -> None:
    recorded: set[str] = set()
    for file in (REFERENCE / "replaydata").glob("*.txt"):
        lines = file.read_text().split("\n")
        for start in range(0, len(lines) - 10, 11):
            if lines[start + 1] == "GET" and lines[start + 7] == "200":
                recorded |= {k.lower() for k, _ in ast.literal_eval(lines[start + 8])}
    github_emulator.create_repo("acme/shop").commit("Root")
    answer = requests.get(
        f"{github_emulator.base_url}/repos/acme/shop",
        headers={"Authorization": f"token {github_emulator.token}"},
    )
    sent = {k.lower() for k in answer.headers}
    assert recorded & _PROTOCOL_HEADERS <= sent


# -- webhooks ---------------------------------------------------------------------------------


@cache
def _webhook_schemas() -> dict[str, Any]:
    return json.loads((REFERENCE / "webhooks" / "schema.json").read_text())


def _webhook_errors(definition: str, payload: Any) -> list[str]:
    root = {**_webhook_schemas(), "$ref": f"#/definitions/{definition}"}
    validator = jsonschema.Draft7Validator(root, format_checker=_format_checker())
    return [f"{list(e.path)}: {e.message[:300]}" for e in validator.iter_errors(payload)]


def _x_webhook_errors(name: str, payload: Any) -> list[str]:
    body = _spec()["x-webhooks"][name]["post"]["requestBody"]["content"]["application/json"]
    validator = OAS30Validator(
        {**body["schema"], "components": _spec()["components"]}, format_checker=_format_checker()
    )
    return [f"{list(e.path)}: {e.message[:300]}" for e in validator.iter_errors(payload)]


def test_webhook_payloads_match_githubs_webhook_schemas(
    github_emulator: GitHubEmulator, call: Caller
) -> None:
    emu = github_emulator
    repo = emu.create_repo("acme/shop")
    sha = repo.commit("Root", files={".commit-train.yml": "environments: {}\n"})
    app = emu.create_app("commit-train")
    installation = emu.install_app(app, account="acme")
    bot = Caller(emu)
    bot.session.headers["Authorization"] = f"token {emu.installation_token(installation)}"
    # the hook's receiver is not there: deliveries fail, payloads are recorded all the same
    hook = emu.add_webhook(repo, "http://127.0.0.1:9/hook", "secret")
    D = "/repos/{owner}/{repo}/deployments"
    by_user = call("POST", D, 201, {"ref": sha, "environment": "staging", "required_contexts": []})
    by_app = bot(
        "POST", D, 201, {"ref": "main", "environment": "production", "required_contexts": []}
    )
    assert by_app["performed_via_github_app"]["slug"] == "commit-train"
    for deployment in (by_user, by_app):
        for state in ("queued", "in_progress", "success"):
            bot(
                "POST",
                D + "/{deployment_id}/statuses",
                201,
                {"state": state, "log_url": f"{emu.url}/ci/1", "environment_url": emu.url},
                deployment_id=deployment["id"],
            )
    deliveries = emu.wait_for_deliveries()
    assert [d.event for d in deliveries].count("deployment") == 2
    assert [d.event for d in deliveries].count("deployment_status") == 6
    status_id = repo.deployment_statuses(by_app["id"])[-1]["id"]
    built = [
        ("deployment", json.loads(emu.webhook_request(hook, "deployment", by_app["id"])[1])),
        (
            "deployment_status",
            json.loads(emu.webhook_request(hook, "deployment_status", by_app["id"], status_id)[1]),
        ),
    ]
    problems = []
    for event, payload in [(d.event, d.payload) for d in deliveries] + built:
        definition = "deployment$created" if event == "deployment" else "deployment_status$created"
        x_name = "deployment-created" if event == "deployment" else "deployment-status-created"
        problems += [f"{event} (webhook schema): {e}" for e in _webhook_errors(definition, payload)]
        problems += [f"{event} (x-webhooks): {e}" for e in _x_webhook_errors(x_name, payload)]
        _check_urls(emu, payload)
        assert payload["installation"]["id"] == installation.id
    assert problems == []


# -- App, contents and team endpoints ---------------------------------------------------------

# The required properties of GitHub's REST reference schemas for the endpoints the subset lacks.
_INSTALLATION = {
    "id", "account", "repository_selection", "access_tokens_url", "repositories_url",
    "html_url", "app_id", "target_id", "target_type", "permissions", "events", "created_at",
    "updated_at", "single_file_name", "app_slug",
}  # fmt: skip
_INSTALLATION_TOKEN = {"token", "expires_at"}
_CONTENT_FILE = {
    "type", "encoding", "size", "name", "path", "content", "sha", "url", "git_url",
    "html_url", "download_url", "_links",
}  # fmt: skip
_TEAM_MEMBERSHIP = {"url", "role", "state"}


def _validate(schema_name: str, payload: Any) -> list[str]:
    validator = OAS30Validator(
        {"$ref": f"#/components/schemas/{schema_name}", "components": _spec()["components"]},
        format_checker=_format_checker(),
    )
    return [f"{list(e.path)}: {e.message[:300]}" for e in validator.iter_errors(payload)]


def test_app_contents_and_team_answers_have_githubs_documented_shapes(
    github_emulator: GitHubEmulator,
) -> None:
    import jwt

    emu = github_emulator
    repo = emu.create_repo("acme/shop")
    repo.commit("Root", files={".commit-train.yml": "environments: {}\n", "k8s/a.yaml": "a"})
    app = emu.create_app("commit-train")
    installation = emu.install_app(app, account="acme", repositories=["shop"])
    emu.add_team("acme", "deployers", members=["bob"])
    now = int(datetime.now(UTC).timestamp())
    token = jwt.encode(
        {"iat": now - 60, "exp": now + 300, "iss": str(app.id)},
        app.private_key_pem,
        algorithm="RS256",
    )
    as_app = requests.Session()
    as_app.headers["Authorization"] = f"Bearer {token}"
    api = emu.base_url

    got_app = as_app.get(f"{api}/app").json()
    assert _validate("integration", got_app) == []
    for path in ("/repos/acme/shop/installation", "/orgs/acme/installation"):
        body = as_app.get(f"{api}{path}").json()
        assert _INSTALLATION <= body.keys(), path
        assert body["account"]["login"] == "acme" and body["target_type"] == "Organization"
    listed = as_app.get(f"{api}/app/installations").json()
    assert [i["id"] for i in listed] == [installation.id]
    minted = as_app.post(f"{api}/app/installations/{installation.id}/access_tokens", json={})
    assert minted.status_code == 201
    access = minted.json()
    assert _INSTALLATION_TOKEN <= access.keys()
    assert datetime.fromisoformat(access["expires_at"]) > datetime.now(UTC)
    assert [r["full_name"] for r in access["repositories"]] == ["acme/shop"]

    as_bot = requests.Session()
    as_bot.headers["Authorization"] = f"token {access['token']}"
    content = as_bot.get(f"{api}/repos/acme/shop/contents/.commit-train.yml").json()
    assert _CONTENT_FILE <= content.keys()
    assert content["_links"].keys() == {"self", "git", "html"}
    listing = as_bot.get(f"{api}/repos/acme/shop/contents/").json()
    assert [(c["name"], c["type"]) for c in listing] == [
        (".commit-train.yml", "file"),
        ("k8s", "dir"),
    ]
    missing = as_bot.get(f"{api}/repos/acme/shop/contents/nope.yml")
    assert missing.status_code == 404 and missing.json()["message"] == "Not Found"
    membership = as_bot.get(f"{api}/orgs/acme/teams/deployers/memberships/bob").json()
    assert _TEAM_MEMBERSHIP <= membership.keys()
    assert (membership["role"], membership["state"]) == ("member", "active")
    repos = as_bot.get(f"{api}/installation/repositories").json()
    assert {"total_count", "repositories"} <= repos.keys()
    for body in (got_app, access, content, listing, membership, repos):
        _check_urls(emu, body)
    assert emu.errors == []
