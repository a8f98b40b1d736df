"""The workflow player itself: GitHub's expression rules, and a job played step by step."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest

from tests.workflow_player import (
    ExpressionError,
    PlayerError,
    Status,
    WorkflowPlayer,
    condition,
    evaluate,
    interpolate,
    read_outputs,
    to_string,
)

CTX: dict[str, Any] = {
    "github": {
        "event_name": "deployment",
        "event": {"deployment": {"environment": "staging", "id": 42, "payload": {}}},
        "sha": "abc123",
    },
    "inputs": {},
    "steps": {
        "create": {"outputs": {"sha": "", "deployment-id": "7"}, "outcome": "success"},
        "gate": {"outputs": {"decision": "deny"}, "outcome": "failure"},
    },
    "secrets": {"API_KEY": "k", "github_token": "t"},
    "vars": {},
    "env": {"MODE": "fast"},
    "job": {"status": "success"},
}


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("github.event.deployment.environment", "staging"),
        ("github.event.deployment.environment || inputs.environment", "staging"),
        ("inputs.environment || github.event.deployment.environment", "staging"),
        ("steps.create.outputs.sha || github.sha", "abc123"),  # '' is falsy
        ("github.event.deployment.missing.deeper", None),  # missing: null, no error
        ("github['event']['deployment']['id']", 42),
        ("GITHUB.EVENT_NAME", "deployment"),  # names are case-insensitive
        ("secrets.api_key", "k"),
        ("steps.create.outputs.deployment-id", "7"),  # hyphens in property names
        ("steps.create.outputs.deployment-id != ''", True),
        ("steps.nope.outputs.deployment-id != ''", False),  # null == '' (both 0)
        ("job.status == 'success' && 'success' || 'failure'", "success"),
        ("1 && 'x'", "x"),  # && returns the last operand
        ("0 && 'x'", 0),  # ... or the first falsy one
        ("'' || null", None),
        ("!''", True),
        ("!(1 == 1)", False),
        ("'Staging' == 'staging'", True),  # strings compare ignoring case
        ("'1' == 1", True),  # mixed types compare as numbers
        ("null == 0", True),
        ("true == 1", True),
        ("'abc' == 0", False),  # NaN equals nothing
        ("'abc' != 0", True),
        ("NaN == NaN", False),
        ("0x10 == 16", True),
        ("-1.5 < 0", True),
        ("'it''s'", "it's"),
        ("2 > 1 && 1 >= 1 && 1 <= 2", True),
        ("github.event == github.event", True),  # same object
        ("fromJSON('{\"a\": [1, 2]}').a[1]", 2),
        ("contains('Hello world', 'WORLD')", True),
        ("contains(fromJSON('[\"a\", \"b\"]'), 'B')", True),
        ("contains(fromJSON('[\"a\", \"b\"]'), 'c')", False),
        ("startsWith('refs/heads/main', 'refs/heads/')", True),
        ("endsWith('deploy.yml', '.YML')", True),
        ("format('{0}-{1} {{x}}', 'deploy', 3)", "deploy-3 {x}"),
        ("join(fromJSON('[1, 2, 3]'), '+')", "1+2+3"),
        ('fromJSON(\'{"a": {"n": 1}, "b": {"n": 2}}\').*.n', [1, 2]),
        ("toJSON(secrets)", json.dumps({"API_KEY": "k", "github_token": "t"}, indent=2)),
        ("toJSON('x')", '"x"'),
        ("fromJSON('true')", True),
        ("always()", True),
    ],
)
def test_expressions(expression: str, expected: Any) -> None:
    assert evaluate(expression, CTX) == expected


@pytest.mark.parametrize(
    ("expression", "message"),
    [
        ("gihtub.sha", "unrecognized named-value: 'gihtub'"),
        ("nope(1)", "unrecognized function: 'nope'"),
        ("github.sha ==", "expected more"),
        ("(1", "expected ')'"),
        ("1 2", "unexpected '2'"),
        ("fromJSON('{')", "fromJSON(): not JSON"),
        ("github.sha # x", "unexpected symbol '#'"),
        ("", "empty expression"),
    ],
)
def test_expression_errors(expression: str, message: str) -> None:
    with pytest.raises(ExpressionError, match=message.replace("(", r"\(").replace(")", r"\)")):
        evaluate(expression, CTX)


@pytest.mark.parametrize(
    ("value", "text"),
    [(None, ""), (True, "true"), (3.0, "3"), (1.5, "1.5"), (math.nan, "NaN"), ({}, "Object")],
)
def test_to_string(value: Any, text: str) -> None:
    assert to_string(value) == text


def test_interpolation_keeps_a_lone_value_and_joins_text() -> None:
    assert interpolate("${{ github.event.deployment.id }}", CTX) == 42
    assert interpolate("deploy-${{ github.event.deployment.environment }}", CTX) == "deploy-staging"
    assert interpolate("${{ 'a}}b' }}!", CTX) == "a}}b!"  # }} inside a string
    assert interpolate("x ${{ null }} y", CTX) == "x  y"
    assert interpolate(3, CTX) == 3
    with pytest.raises(ExpressionError, match="unclosed"):
        interpolate("${{ github.sha", CTX)


@pytest.mark.parametrize(
    ("text", "status", "runs"),
    [
        (None, "success", True),  # no if: success()
        (None, "failure", False),
        ("github.event_name == 'deployment'", "success", True),
        ("github.event_name == 'deployment'", "failure", False),  # implicit success() &&
        ("${{ github.event_name == 'workflow_dispatch' }}", "success", False),
        ("always() && steps.create.outputs.deployment-id != ''", "failure", True),
        ("failure()", "failure", True),
        ("failure()", "success", False),
        ("cancelled()", "success", False),
        ("success() || failure()", "failure", True),
        ("${{ false }} ", "success", False),
        ("${{ false }} && x", "success", True),  # text around an expression: a string
        (True, "success", True),
    ],
)
def test_step_conditions(text: Any, status: str, runs: bool) -> None:
    assert condition(text, CTX, Status(status)) is runs


def test_read_outputs_heredoc_and_lines() -> None:
    text = "a=1\nb<<EOF_x\nline one\nline=two\nEOF_x\nc=x=y\n"
    assert read_outputs(text) == {"a": "1", "b": "line one\nline=two", "c": "x=y"}
    with pytest.raises(PlayerError, match="matching delimiter"):
        read_outputs("b<<END\nno end\n")


# ------------------------------------------------------------------------------- a whole job

ACTION = """\
name: echo
description: test action
inputs:
  word:
    description: a word
    required: true
  suffix:
    description: added
    default: ${{ github.event_name }}
outputs:
  said:
    description: what was said
    value: ${{ steps.say.outputs.said }}
  second:
    description: the second step's outcome
    value: ${{ steps.after.outcome }}
runs:
  using: composite
  steps:
    - id: say
      shell: bash
      env:
        WORD: ${{ inputs.word }}-${{ inputs.suffix }}
      run: |
        echo "said=$WORD" >> "$GITHUB_OUTPUT"
        echo "::add-mask::$WORD"
        echo "I said $WORD"
        test "$WORD" != "fail-push"
    - id: after
      shell: bash
      run: echo "after ran"
    - id: cleanup
      if: always()
      shell: bash
      run: echo "status ${{ github.action_status }}"
"""

WORKFLOW = """\
name: Test
on:
  push:
env:
  LEVEL: workflow
jobs:
  only:
    name: Only ${{ github.event_name }}
    runs-on: ubuntu-latest
    concurrency: group-${{ github.sha }}
    env:
      LEVEL2: job-${{ env.LEVEL }}
    steps:
      - uses: actions/checkout@0000000000000000000000000000000000000000
      - id: first
        run: |
          echo "FROM_FIRST=carried" >> "$GITHUB_ENV"
          echo "### hello" >> "$GITHUB_STEP_SUMMARY"
          echo "::warning title=careful::watch out"
          echo "level=$LEVEL/$LEVEL2" >> "$GITHUB_OUTPUT"
      - id: second
        env:
          STEP: ${{ steps.first.outputs.level }}
        run: echo "$FROM_FIRST $STEP ${{ env.FROM_FIRST }}"
      - id: echo
        uses: ./actions/echo
        with:
          word: ${{ github.event.word }}
          extra: nobody reads this
      - id: tolerated
        continue-on-error: true
        run: exit 3
      - id: failing
        run: exit 4
      - id: skipped
        run: echo never
      - id: cleanup
        if: always()
        run: echo "job ${{ job.status }} ${{ steps.failing.outcome }}"
      - id: on-failure
        if: failure()
        run: echo handled
"""


def play(tmp_path: Path, word: str) -> Any:
    root = tmp_path / "repo"
    (root / "actions" / "echo").mkdir(parents=True)
    (root / "actions" / "echo" / "action.yml").write_text(ACTION)
    workflow = tmp_path / "wf.yml"
    workflow.write_text(WORKFLOW)
    workspace = tmp_path / "ws"
    workspace.mkdir()
    player = WorkflowPlayer(
        workflow,
        actions_root=root,
        workspace=workspace,
        runner_temp=tmp_path / "temp",
        event_name="push",
        event={"word": word},
        sha="abc",
        ref="refs/heads/main",
    )
    return player.play()


def test_a_job_is_played_step_by_step(tmp_path: Path) -> None:
    run = play(tmp_path, "hello")
    assert run.name == "Only push"
    assert run.concurrency == "group-abc"
    assert run.status == "failure"
    assert [(s.id, s.outcome, s.conclusion) for s in run.steps] == [
        (None, "success", "success"),
        ("first", "success", "success"),
        ("second", "success", "success"),
        ("echo", "success", "success"),
        ("tolerated", "failure", "success"),
        ("failing", "failure", "failure"),
        ("skipped", "skipped", "skipped"),
        ("cleanup", "success", "success"),
        ("on-failure", "success", "success"),
    ]
    first = run.step("first")
    assert first.outputs == {"level": "workflow/job-workflow"}
    assert first.summary == "### hello\n"
    assert [(a.level, a.title, a.message) for a in first.annotations] == [
        ("warning", "careful", "watch out")
    ]
    assert run.step("second").stdout == "carried workflow/job-workflow carried\n"
    echo = run.step("echo")
    assert echo.inputs == {"word": "hello", "suffix": "push"}
    assert echo.outputs == {"said": "hello-push", "second": "success"}
    assert echo.warnings == ["Unexpected input(s) 'extra', valid inputs are ['suffix', 'word']"]
    assert "::add-mask::hello-push" in echo.stdout
    assert "add-mask" not in echo.printed
    assert "I said hello-push" in echo.printed
    assert "I said ***" in echo.log
    assert "status success" in echo.stdout
    assert run.step("failing").exit_code == 4
    assert run.step("cleanup").stdout == "job failure failure\n"
    assert run.env == {"FROM_FIRST": "carried"}


def test_a_failing_composite_step_skips_the_rest_of_the_action(tmp_path: Path) -> None:
    run = play(tmp_path, "fail")
    echo = run.step("echo")
    assert echo.outcome == "failure"
    assert echo.exit_code == 1
    assert "after ran" not in echo.stdout
    assert "status failure" in echo.stdout  # if: always() inside the action still runs
    assert echo.outputs == {"said": "fail-push", "second": "skipped"}
    assert run.step("tolerated").skipped


def player_for(tmp_path: Path, steps: str) -> WorkflowPlayer:
    root = tmp_path / "repo"
    (root / "actions" / "echo").mkdir(parents=True, exist_ok=True)
    (root / "actions" / "echo" / "action.yml").write_text(ACTION)
    workflow = tmp_path / "wf.yml"
    workflow.write_text("on: push\njobs:\n  a:\n    steps:\n" + steps)
    return WorkflowPlayer(
        workflow,
        actions_root=root,
        workspace=tmp_path,
        runner_temp=tmp_path / "temp",
        event_name="push",
        event={},
        sha="abc",
        ref="refs/heads/main",
    )


def test_a_missing_required_input_is_a_warning_as_on_the_runner(tmp_path: Path) -> None:
    player = player_for(tmp_path, "      - uses: acme/tools/actions/echo@v1\n")
    assert player.triggers() == {"push": None}  # `on` read as True by YAML 1.1, mapped back
    run = player.play()
    [step] = run.steps
    assert step.warnings == ["Input required and not supplied: word"]
    assert step.inputs == {"word": "", "suffix": "push"}
    assert step.outputs["said"] == "-push"


def test_an_action_it_cannot_play_is_refused(tmp_path: Path) -> None:
    player = player_for(tmp_path, "      - uses: someone/else@v2\n")
    with pytest.raises(PlayerError, match=r"uses: someone/else@v2: no action\.yml"):
        player.play()
    player = player_for(tmp_path, "      - uses: actions/cache@v4\n")
    with pytest.raises(PlayerError, match=r"cannot play uses: actions/cache@v4"):
        player.play()
