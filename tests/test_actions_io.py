"""The Actions runtime boundary: inputs, outputs, summaries, workflow commands, events."""

from __future__ import annotations

import io
import json
import re
from pathlib import Path

import pytest

from commit_train.errors import UsageError
from commit_train.faces.actions import io as actions_io
from commit_train.faces.actions.io import (
    ActionSpec,
    DeploymentEvent,
    DispatchEvent,
    Input,
    OtherEvent,
    Runtime,
    ScheduleEvent,
)
from tests import actions_events

SHARED = Path(__file__).resolve().parents[2] / "shared"
WEBHOOK_SCHEMA = SHARED / "reference" / "github-api" / "webhooks" / "schema.json"

SPEC = ActionSpec(
    name="sample",
    inputs=(
        Input("environment", required=True),
        Input("deployment-id"),
        Input("dry-run", default="false"),
        Input("wait-timeout", default="10m"),
    ),
    outputs=("decision", "result"),
)


def runtime(env: dict[str, str] | None = None) -> tuple[Runtime, io.StringIO]:
    stream = io.StringIO()
    return Runtime(SPEC, env=env or {}, stream=stream), stream


def read_outputs(path: Path) -> dict[str, str]:
    """Parse GITHUB_OUTPUT the way the runner does (heredoc records and name=value lines)."""
    lines = path.read_text(encoding="utf-8").split("\n")
    values: dict[str, str] = {}
    i = 0
    while i < len(lines):
        line = lines[i]
        if not line:
            i += 1
            continue
        if "<<" in line:
            name, mark = line.split("<<", 1)
            end = lines.index(mark, i + 1)
            values[name] = "\n".join(lines[i + 1 : end])
            i = end + 1
        else:
            name, value = line.split("=", 1)
            values[name] = value
            i += 1
    return values


# ---------------------------------------------------------------- inputs


@pytest.mark.parametrize(
    ("name", "ours", "toolkit"),
    [
        ("environment", "INPUT_ENVIRONMENT", "INPUT_ENVIRONMENT"),
        ("deployment-id", "INPUT_DEPLOYMENT_ID", "INPUT_DEPLOYMENT-ID"),
        ("force conflicts", "INPUT_FORCE_CONFLICTS", "INPUT_FORCE_CONFLICTS"),
    ],
)
def test_input_variable_names(name: str, ours: str, toolkit: str) -> None:
    assert actions_io.input_env_name(name) == ours
    assert actions_io.toolkit_env_name(name) == toolkit


def test_inputs_are_read_from_shell_safe_variables_and_stripped() -> None:
    rt, _ = runtime({"INPUT_ENVIRONMENT": "  staging\n", "INPUT_DEPLOYMENT_ID": "42"})
    assert rt.input("environment") == "staging"
    assert rt.input("deployment-id") == "42"


def test_the_toolkit_spelling_is_read_when_ours_is_absent() -> None:
    rt, _ = runtime({"INPUT_ENVIRONMENT": "x", "INPUT_DEPLOYMENT-ID": "7"})
    assert rt.input("deployment-id") == "7"


def test_defaults_apply_when_unset_or_blank() -> None:
    rt, _ = runtime({"INPUT_ENVIRONMENT": "x", "INPUT_WAIT_TIMEOUT": "  "})
    assert rt.input("wait-timeout") == "10m"
    assert rt.input("deployment-id") == ""
    assert rt.optional("deployment-id") is None


@pytest.mark.parametrize("env", [{}, {"INPUT_ENVIRONMENT": ""}, {"INPUT_ENVIRONMENT": " \n"}])
def test_missing_required_input_names_it(env: dict[str, str]) -> None:
    rt, _ = runtime(env)
    with pytest.raises(UsageError) as info:
        rt.input("environment")
    assert str(info.value) == (
        "input 'environment' is required and was not supplied; "
        "set environment under with: in the step that uses sample"
    )


def test_reading_an_undeclared_input_is_a_programming_error() -> None:
    rt, _ = runtime({"INPUT_TOKEN": "x"})
    with pytest.raises(KeyError, match="declares no input 'token'"):
        rt.input("token")


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("true", True),
        ("True", True),
        ("TRUE", True),
        ("false", False),
        ("False", False),
        ("FALSE", False),
    ],
)
def test_boolean_core_spellings(text: str, value: bool) -> None:
    rt, _ = runtime({"INPUT_DRY_RUN": text})
    assert rt.boolean("dry-run") is value


def test_boolean_default() -> None:
    rt, _ = runtime({})
    assert rt.boolean("dry-run") is False


@pytest.mark.parametrize("text", ["yes", "on", "1", "tRue", "y"])
def test_boolean_other_spellings_are_errors_naming_the_input(text: str) -> None:
    rt, _ = runtime({"INPUT_DRY_RUN": text})
    with pytest.raises(UsageError) as info:
        rt.boolean("dry-run")
    assert str(info.value) == (
        f"input 'dry-run' must be a boolean, got {text!r}; "
        "write one of true, True, TRUE, false, False, FALSE"
    )


# ---------------------------------------------------------------- outputs and summary


def test_outputs_are_heredoc_records_with_random_delimiters(tmp_path: Path) -> None:
    out = tmp_path / "output"
    out.write_text("earlier=1\n")
    rt, stream = runtime({"GITHUB_OUTPUT": str(out)})
    rt.set_output("decision", "allow")
    rt.set_output("result", 'line one\nline two "quoted" %0A')
    text = out.read_text()
    delimiters = re.findall(r"^\w+<<(ghadelimiter_[0-9a-f-]{36})$", text, re.M)
    assert len(delimiters) == 2 and delimiters[0] != delimiters[1]
    assert read_outputs(out) == {
        "earlier": "1",
        "decision": "allow",
        "result": 'line one\nline two "quoted" %0A',
    }
    assert stream.getvalue() == ""


def test_booleans_and_json_outputs(tmp_path: Path) -> None:
    out = tmp_path / "output"
    spec = ActionSpec("x", (), outputs=("changed", "result"))
    rt = Runtime(spec, env={"GITHUB_OUTPUT": str(out)}, stream=io.StringIO())
    rt.set_output("changed", True)
    rt.set_json_output("result", {"decision": "deny"})
    assert read_outputs(out) == {"changed": "true", "result": '{"version": 1, "decision": "deny"}'}


def test_a_value_containing_its_delimiter_is_refused() -> None:
    with pytest.raises(ValueError, match="contains its delimiter"):
        actions_io.format_output("x", "a\nEOF_1\nforged=1", delimiter="EOF_1")
    assert actions_io.format_output("x", "v", delimiter="D") == "x<<D\nv\nD\n"


def test_writing_an_undeclared_output_is_a_programming_error(tmp_path: Path) -> None:
    rt, _ = runtime({"GITHUB_OUTPUT": str(tmp_path / "o")})
    with pytest.raises(KeyError, match="declares no output 'changed'"):
        rt.set_output("changed", "true")


def test_outputs_and_summary_without_the_runner_files_do_nothing(tmp_path: Path) -> None:
    rt, stream = runtime({})
    rt.set_output("decision", "allow")
    rt.summary("# hello")
    assert stream.getvalue() == ""
    assert list(tmp_path.iterdir()) == []


def test_summary_is_appended_markdown(tmp_path: Path) -> None:
    summary = tmp_path / "summary.md"
    rt, _ = runtime({"GITHUB_STEP_SUMMARY": str(summary)})
    rt.summary("## Gate\n")
    rt.summary("allowed")
    assert summary.read_text() == "## Gate\nallowed\n"


# ---------------------------------------------------------------- workflow commands


def test_escaping_rules() -> None:
    assert actions_io.escape_data("100% done\r\nnext: a, b") == "100%25 done%0D%0Anext: a, b"
    assert actions_io.escape_property("a: b, c%\n") == "a%3A b%2C c%25%0A"


def test_annotations_with_titles() -> None:
    rt, stream = runtime()
    rt.error("checks failed:\n- lint", title="Gate: refused, red")
    rt.warning("slow")
    rt.notice("ok", title="")
    assert stream.getvalue().splitlines() == [
        "::error title=Gate%3A refused%2C red::checks failed:%0A- lint",
        "::warning::slow",
        "::notice::ok",
    ]


def test_masking_registers_the_value_and_each_line_once() -> None:
    rt, stream = runtime()
    rt.mask("-----BEGIN KEY-----\nabc123\n-----END KEY-----")
    first = stream.getvalue().splitlines()
    rt.mask("abc123")
    rt.mask("")
    assert stream.getvalue().splitlines()[:4] == [
        "::add-mask::-----BEGIN KEY-----%0Aabc123%0A-----END KEY-----",
        "::add-mask::-----BEGIN KEY-----",
        "::add-mask::abc123",
        "::add-mask::-----END KEY-----",
    ]
    # then the encoded forms (base64, JSON/repr-escaped, URL-encoded), each once
    assert len(first) == len(set(first))
    added = stream.getvalue().splitlines()[len(first) :]
    assert "::add-mask::YWJjMTIz" in added  # base64 of abc123, registered with it
    assert rt.redact("token abc123 here") == "token *** here"


def test_group_is_closed_when_the_body_fails() -> None:
    rt, stream = runtime()
    with pytest.raises(RuntimeError), rt.group("Apply: 3 objects"):
        rt.log("applying")
        raise RuntimeError("boom")
    assert stream.getvalue().splitlines() == [
        "::group::Apply: 3 objects",
        "applying",
        "::endgroup::",
    ]


def test_log_lines_that_look_like_commands_cannot_issue_them() -> None:
    rt, stream = runtime()
    rt.log("Merge: ::add-mask::x\n::set-env name=PATH::/tmp")
    lines = stream.getvalue().splitlines()
    token = lines[0].removeprefix("::stop-commands::")
    assert re.fullmatch(r"[0-9a-f]{32}", token)
    assert lines[1:] == ["Merge: ::add-mask::x", "::set-env name=PATH::/tmp", f"::{token}::"]


def test_plain_log_lines_pass_through() -> None:
    rt, stream = runtime()
    rt.log("gate: allow (green)")
    assert stream.getvalue() == "gate: allow (green)\n"


# ---------------------------------------------------------------- events and context


def _event_env(tmp_path: Path, name: str, payload: object) -> dict[str, str]:
    path = tmp_path / "event.json"
    path.write_text(json.dumps(payload))
    return {"GITHUB_EVENT_NAME": name, "GITHUB_EVENT_PATH": str(path)}


def test_deployment_event(tmp_path: Path) -> None:
    payload = actions_events.deployment_created(payload={"requested_by": "bob", "x": 1})
    rt, _ = runtime(_event_env(tmp_path, "deployment", payload))
    assert rt.event() == DeploymentEvent(
        deployment_id=1374502211,
        sha="6dcb09b5b57875f334f61aebed695e2e4193db5e",
        ref="6dcb09b5b57875f334f61aebed695e2e4193db5e",
        environment="staging",
        creator="octocat",
        payload={"requested_by": "bob", "x": 1},
        task="deploy",
        description="commit-train: 6dcb09b to staging",
        production_environment=False,
    )


def test_deployment_payload_given_as_a_json_string(tmp_path: Path) -> None:
    payload = actions_events.deployment_created(payload='{"requested_by": "bob"}')
    rt, _ = runtime(_event_env(tmp_path, "deployment", payload))
    event = rt.event()
    assert isinstance(event, DeploymentEvent)
    assert event.payload == {"requested_by": "bob"}


@pytest.mark.shared
def test_the_deployment_fixture_matches_githubs_webhook_schema() -> None:
    if not WEBHOOK_SCHEMA.exists():
        pytest.skip("GitHub's webhook schema is not beside the checkout")
    import jsonschema

    schema = json.loads(WEBHOOK_SCHEMA.read_text(encoding="utf-8"))
    root = {**schema, "$ref": "#/definitions/deployment$created"}
    validator = jsonschema.Draft7Validator(root, format_checker=jsonschema.FormatChecker())
    errors = [e.message for e in validator.iter_errors(actions_events.deployment_created())]
    assert errors == []
    broken = actions_events.deployment_created()
    del broken["deployment"]["sha"]
    assert any("'sha' is a required property" in e.message for e in validator.iter_errors(broken))
    dispatch_root = {**schema, "$ref": "#/definitions/workflow_dispatch$event"}
    dispatch = jsonschema.Draft7Validator(dispatch_root)
    assert [e.message for e in dispatch.iter_errors(actions_events.workflow_dispatch())] == []


def test_workflow_dispatch_event(tmp_path: Path) -> None:
    payload = actions_events.workflow_dispatch(environment="production", ref="1a2b3c4")
    rt, _ = runtime(_event_env(tmp_path, "workflow_dispatch", payload))
    event = rt.event()
    assert event == DispatchEvent(
        ref="refs/heads/main", inputs={"environment": "production", "ref": "1a2b3c4"}
    )
    assert isinstance(event, DispatchEvent)
    assert (event.environment, event.deploy_ref) == ("production", "1a2b3c4")


def test_workflow_dispatch_with_blank_ref(tmp_path: Path) -> None:
    rt, _ = runtime(_event_env(tmp_path, "workflow_dispatch", actions_events.workflow_dispatch()))
    event = rt.event()
    assert isinstance(event, DispatchEvent)
    assert event.deploy_ref is None


def test_schedule_and_other_events(tmp_path: Path) -> None:
    rt, _ = runtime(_event_env(tmp_path, "schedule", actions_events.schedule("0 9 * * *")))
    assert rt.event() == ScheduleEvent(cron="0 9 * * *")
    rt, _ = runtime(_event_env(tmp_path, "push", {"ref": "refs/heads/main"}))
    assert rt.event() == OtherEvent(name="push", payload={"ref": "refs/heads/main"})
    rt, _ = runtime({})
    assert rt.event() == OtherEvent(name="none")


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        ({"action": "created"}, "has no deployment object"),
        ({"deployment": {"sha": "abc", "environment": "s"}}, "has no deployment.id"),
        ({"deployment": {"id": 1, "environment": "s"}}, "has no deployment.sha"),
        ({"deployment": {"id": 1, "sha": "abc"}}, "has no deployment.environment"),
    ],
)
def test_malformed_deployment_events(tmp_path: Path, payload: object, message: str) -> None:
    env = _event_env(tmp_path, "deployment", payload)
    rt, _ = runtime(env)
    with pytest.raises(UsageError) as info:
        rt.event()
    assert str(info.value) == (
        f"the event payload {env['GITHUB_EVENT_PATH']} {message}; run this action from a "
        "workflow triggered by deployment, workflow_dispatch or schedule"
    )


def test_unreadable_event_file(tmp_path: Path) -> None:
    (tmp_path / "event.json").write_text("{not json")
    rt, _ = runtime(
        {"GITHUB_EVENT_NAME": "deployment", "GITHUB_EVENT_PATH": str(tmp_path / "event.json")}
    )
    with pytest.raises(UsageError, match="is not valid JSON"):
        rt.event()


def test_run_url() -> None:
    env = {
        "GITHUB_SERVER_URL": "https://github.example.com/",
        "GITHUB_REPOSITORY": "acme/shop",
        "GITHUB_RUN_ID": "9001",
        "GITHUB_RUN_ATTEMPT": "2",
    }
    rt, _ = runtime(env)
    assert rt.context.run_url == "https://github.example.com/acme/shop/actions/runs/9001/attempts/2"
    del env["GITHUB_RUN_ATTEMPT"]
    del env["GITHUB_SERVER_URL"]
    rt, _ = runtime(env)
    assert rt.context.run_url == "https://github.com/acme/shop/actions/runs/9001"
    rt, _ = runtime({})
    assert rt.context.run_url is None


HOSTILE = "k\\ey\"with'quotes\nand-ключ-é"


def test_every_encoded_form_of_a_secret_is_masked_in_everything_written(tmp_path: Path) -> None:
    """A secret holding a backslash, both quotes, a newline and non-ASCII text leaks in no
    form: raw, repr-escaped (an error quoting a lookup key), JSON-escaped with and without
    ``\\u`` escapes (a JSON output), URL-encoded or base64, in the outputs, GITHUB_ENV, the
    summary, annotations or the log."""
    from commit_train.core.redact import secret_forms

    out, env, summary = tmp_path / "out", tmp_path / "env", tmp_path / "summary"
    rt, stream = runtime(
        {"GITHUB_OUTPUT": str(out), "GITHUB_ENV": str(env), "GITHUB_STEP_SUMMARY": str(summary)}
    )
    rt.mask(HOSTILE)
    registered = stream.getvalue()
    stream.seek(0)
    stream.truncate()
    forms = {
        "raw": HOSTILE,
        "repr": repr(HOSTILE)[1:-1],
        "json": json.dumps(HOSTILE)[1:-1],
        "json-utf8": json.dumps(HOSTILE, ensure_ascii=False)[1:-1],
        "url": __import__("urllib.parse").parse.quote(HOSTILE, safe=""),
        "base64": __import__("base64").b64encode(HOSTILE.encode()).decode(),
    }
    assert set(forms.values()) <= secret_forms(HOSTILE)
    for name, form in forms.items():
        rt.set_output("result", f"{name}: {form}")
        rt.set_json_output("decision", {"message": f"unknown key {form!r}"})
        rt.export("COMMIT_TRAIN_FAILURE", f"{name}: {form}")
        rt.summary(f"{name}: {form}")
        rt.error(f"no value for {form}", title=f"lookup {form}")
        rt.warning(f"{form}")
        rt.log(f"{name} {form}")
    written = stream.getvalue() + out.read_text() + env.read_text() + summary.read_text()
    for name, form in forms.items():
        for line in form.splitlines():
            if len(line) >= 3:
                assert line not in written, f"the {name} form leaked"
    assert "***" in written
    assert "::add-mask::" in registered
