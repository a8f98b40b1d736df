"""Play one job of a GitHub Actions workflow file the way the runner does, on this machine.

The point is that a workflow template cannot drift from what its end-to-end test runs: the
steps, their ``if:`` conditions, their ``with:`` and ``env:`` values, and the composite
actions they use are all read from the YAML files themselves and evaluated here.

What is played:

- GitHub's expression language (``evaluate``, ``interpolate``, ``condition``): literals,
  property access on the contexts (``github``, ``inputs``, ``steps``, ``secrets``, ``vars``,
  ``env``, ``job``, ``runner``), ``== != < <= > >= && || !`` and parentheses with GitHub's
  loose typing (case-insensitive string equality, numbers for mixed types, ``&&``/``||``
  returning an operand), ``.*`` filters, and the functions ``always() success() failure()
  cancelled() contains() startsWith() endsWith() format() join() toJSON() fromJSON()``.
  A missing property is null; an unknown context or function is an error, as on GitHub.
- A job's steps in order. A step whose ``if:`` names no status function runs under an
  implicit ``success() && (...)``; after a failing step the job status is ``failure`` and
  later steps without ``always()``/``failure()`` are skipped. ``continue-on-error`` is honoured.
- A job-level ``if:`` (contexts ``github``, ``inputs``, ``vars``, ``needs``; no status
  function means ``success()``, which holds for a job with no ``needs``): when false the job
  is ``skipped`` and runs no step at all.
- ``run:`` steps with ``bash --noprofile --norc -eo pipefail`` in the workspace.
- ``uses:`` of commit-train's own actions (``owner/repo/actions/NAME@ref``, ``owner/repo@ref``,
  ``./actions/NAME``, ``./``), mapped to the local ``action.yml``: inputs resolved (``with:``,
  then defaults, which may be expressions), then each composite step with its own ``if:``,
  ``env:``, ``GITHUB_ACTION_PATH``, and ``github.action_status`` driving ``success()`` inside
  the action, as the runner does for composite steps; the action's ``outputs:`` become the
  step's outputs. An undeclared ``with:`` key or a missing required input is recorded as a
  warning, like the runner's annotation.
- ``actions/checkout`` moves the prepared workspace (a git repository) to ``with.ref`` or
  ``GITHUB_SHA``; ``actions/setup-python`` does nothing. Any other action is refused.
- File commands: fresh ``GITHUB_OUTPUT``, ``GITHUB_STEP_SUMMARY``, ``GITHUB_ENV`` and
  ``GITHUB_PATH`` files per process; ``GITHUB_ENV`` values carry to later steps, ``GITHUB_PATH``
  entries are prepended to ``PATH``. Workflow commands on stdout and stderr: ``::add-mask::``
  (the command line never reaches the log; masked values become ``***`` in ``log``) and the
  ``::error``/``::warning``/``::notice`` annotations.

Not played: matrices, services, containers, ``needs``, artifacts, JavaScript or Docker
actions, ``hashFiles()``.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import yaml

__all__ = [
    "Annotation",
    "ExpressionError",
    "JobRun",
    "PlayerError",
    "StepResult",
    "WorkflowPlayer",
    "condition",
    "evaluate",
    "interpolate",
    "preinstall_commit_train",
    "to_string",
    "truthy",
]


class ExpressionError(Exception):
    """An expression GitHub would reject (syntax, unknown context or function)."""


class PlayerError(Exception):
    """A workflow or action this player cannot play (or one the runner would refuse)."""


# ================================================================================ expressions

CONTEXTS = frozenset(
    {
        "github",
        "inputs",
        "steps",
        "secrets",
        "vars",
        "env",
        "job",
        "runner",
        "matrix",
        "strategy",
        "needs",
    }
)
STATUS_FUNCTIONS = frozenset({"always", "success", "failure", "cancelled"})

_TOKEN = re.compile(
    r"""
    (?P<ws>\s+)
  | (?P<string>'(?:[^']|'')*')
  | (?P<number>-?(?:0x[0-9a-fA-F]+|(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?))
  | (?P<ident>[A-Za-z_][A-Za-z0-9_-]*)
  | (?P<op>==|!=|<=|>=|&&|\|\||[<>!()\[\].,*])
    """,
    re.VERBOSE,
)


def _tokens(text: str) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    pos = 0
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if m is None:
            raise ExpressionError(f"unexpected symbol {text[pos]!r} at {pos} in {text!r}")
        pos = m.end()
        kind = m.lastgroup or ""
        if kind != "ws":
            out.append((kind, m.group()))
    return out


# The tree: ("lit", v) ("ctx", name) ("prop", obj, key-node) ("star", obj) ("call", name, args)
# ("not", x) ("and", a, b) ("or", a, b) ("cmp", op, a, b)
Node = tuple[Any, ...]


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.toks = _tokens(text)
        self.i = 0

    def peek(self) -> tuple[str, str] | None:
        return self.toks[self.i] if self.i < len(self.toks) else None

    def take(self, value: str | None = None) -> tuple[str, str]:
        tok = self.peek()
        if tok is None or (value is not None and tok[1] != value):
            want = repr(value) if value else "more"
            raise ExpressionError(f"expected {want} in {self.text!r}")
        self.i += 1
        return tok

    def at(self, value: str) -> bool:
        tok = self.peek()
        return tok is not None and tok[0] == "op" and tok[1] == value

    def parse(self) -> Node:
        if not self.toks:
            raise ExpressionError("empty expression")
        node = self.or_()
        if self.peek() is not None:
            raise ExpressionError(f"unexpected {self.peek()[1]!r} in {self.text!r}")  # type: ignore[index]
        return node

    def or_(self) -> Node:
        node = self.and_()
        while self.at("||"):
            self.take()
            node = ("or", node, self.and_())
        return node

    def and_(self) -> Node:
        node = self.equality()
        while self.at("&&"):
            self.take()
            node = ("and", node, self.equality())
        return node

    def equality(self) -> Node:
        node = self.comparison()
        while self.at("==") or self.at("!="):
            op = self.take()[1]
            node = ("cmp", op, node, self.comparison())
        return node

    def comparison(self) -> Node:
        node = self.unary()
        while any(self.at(op) for op in ("<", "<=", ">", ">=")):
            op = self.take()[1]
            node = ("cmp", op, node, self.unary())
        return node

    def unary(self) -> Node:
        if self.at("!"):
            self.take()
            return ("not", self.unary())
        return self.postfix()

    def postfix(self) -> Node:
        node = self.primary()
        while True:
            if self.at("."):
                self.take()
                tok = self.take()
                if tok == ("op", "*"):
                    node = ("star", node)
                elif tok[0] == "ident":
                    node = ("prop", node, ("lit", tok[1]))
                else:
                    raise ExpressionError(f"expected a property name after '.' in {self.text!r}")
            elif self.at("["):
                self.take()
                if self.at("*"):
                    self.take()
                    node = ("star", node)
                else:
                    node = ("prop", node, self.or_())
                self.take("]")
            else:
                return node

    def primary(self) -> Node:
        kind, value = self.take()
        if kind == "string":
            return ("lit", value[1:-1].replace("''", "'"))
        if kind == "number":
            return ("lit", _number(value))
        if kind == "op" and value == "(":
            node = self.or_()
            self.take(")")
            return node
        if kind != "ident":
            raise ExpressionError(f"unexpected {value!r} in {self.text!r}")
        keyword = {"true": True, "false": False, "null": None, "NaN": math.nan}
        if value in keyword:
            return ("lit", keyword[value])
        if value == "Infinity":
            return ("lit", math.inf)
        if self.at("("):
            self.take()
            args: list[Node] = []
            if not self.at(")"):
                args.append(self.or_())
                while self.at(","):
                    self.take()
                    args.append(self.or_())
            self.take(")")
            name = value.lower()
            if name not in _FUNCTIONS and name not in STATUS_FUNCTIONS:
                raise ExpressionError(f"unrecognized function: '{value}'")
            return ("call", name, args)
        if value.lower() not in CONTEXTS:
            raise ExpressionError(f"unrecognized named-value: '{value}'")
        return ("ctx", value.lower())


def _number(text: str) -> float:
    negative = text.startswith("-")
    body = text[1:] if negative else text
    value = float(int(body, 16)) if body.lower().startswith("0x") else float(body)
    return -value if negative else value


@cache
def parse(text: str) -> Node:
    return _Parser(text).parse()


def uses_status_function(node: Node) -> bool:
    if node[0] == "call" and node[1] in STATUS_FUNCTIONS:
        return True
    return any(isinstance(part, tuple) and uses_status_function(part) for part in node[1:]) or any(
        isinstance(part, list) and any(uses_status_function(a) for a in part) for part in node[1:]
    )


class _Filtered(list[Any]):
    """The result of ``.*``: a property read on it maps over the items."""


def truthy(value: Any) -> bool:
    if value is None or value is False:
        return False
    if isinstance(value, float | int) and not isinstance(value, bool):
        return not (value == 0 or math.isnan(value))
    if isinstance(value, str):
        return value != ""
    return True


def to_number(value: Any) -> float:
    if value is None:
        return 0.0
    if isinstance(value, bool):
        return 1.0 if value else 0.0
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        text = value.strip()
        if text == "":
            return 0.0
        if re.fullmatch(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?", text):
            return float(text)
        if re.fullmatch(r"0x[0-9a-fA-F]+", text):
            return float(int(text, 16))
        if text in ("Infinity", "-Infinity"):
            return -math.inf if text.startswith("-") else math.inf
    return math.nan


def to_string(value: Any) -> str:
    """How GitHub turns a value into text (an interpolation, an input, an env value)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        if math.isnan(value):
            return "NaN"
        if math.isinf(value):
            return "Infinity" if value > 0 else "-Infinity"
        return str(int(value)) if float(value).is_integer() else repr(float(value))
    if isinstance(value, str):
        return value
    return "Array" if isinstance(value, list) else "Object"


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    return "object"


def _compare(op: str, a: Any, b: Any) -> bool:
    ka, kb = _kind(a), _kind(b)
    if ka == kb == "object":
        if op in ("==", "!="):
            return (a is b) == (op == "==")
        return False
    if ka == kb == "string":
        x: Any = a.casefold()
        y: Any = b.casefold()
    elif ka == kb == "null":
        x = y = 0
    elif ka == kb == "bool":
        x, y = int(a), int(b)
    else:
        x, y = to_number(a), to_number(b)
        if math.isnan(x) or math.isnan(y):
            return op == "!="
    answers: dict[str, bool] = {
        "==": x == y,
        "!=": x != y,
        "<": x < y,
        "<=": x <= y,
        ">": x > y,
        ">=": x >= y,
    }
    return answers[op]


def _get(obj: Any, key: Any) -> Any:
    if isinstance(obj, _Filtered):
        out = _Filtered()
        for item in obj:
            got = _get(item, key)
            if isinstance(got, _Filtered):
                out.extend(got)
            elif got is not None:
                out.append(got)
        return out
    if isinstance(obj, Mapping):
        name = to_string(key)
        if name in obj:
            return obj[name]
        folded = name.casefold()
        for k, v in obj.items():
            if str(k).casefold() == folded:
                return v
        return None
    if isinstance(obj, list) and _kind(key) in ("number", "string"):
        index = to_number(key)
        if not math.isnan(index) and index.is_integer() and 0 <= index < len(obj):
            return obj[int(index)]
    return None


def _format(template: str, args: Sequence[Any]) -> str:
    def one(m: re.Match[str]) -> str:
        if m.group() == "{{":
            return "{"
        if m.group() == "}}":
            return "}"
        index = int(m.group(1))
        if index >= len(args):
            raise ExpressionError(f"format(): no argument {index} for {template!r}")
        return to_string(args[index])

    return re.sub(r"\{\{|\}\}|\{(\d+)\}", one, template)


def _from_json(text: Any) -> Any:
    try:
        return json.loads(to_string(text))
    except json.JSONDecodeError as exc:
        raise ExpressionError(f"fromJSON(): not JSON: {exc}") from None


def _contains(search: Any, item: Any) -> bool:
    if isinstance(search, list):
        return any(_compare("==", x, item) for x in search)
    return to_string(item).casefold() in to_string(search).casefold()


_FUNCTIONS: dict[str, Callable[..., Any]] = {
    "contains": _contains,
    "startswith": lambda s, p: to_string(s).casefold().startswith(to_string(p).casefold()),
    "endswith": lambda s, p: to_string(s).casefold().endswith(to_string(p).casefold()),
    "format": lambda t, *a: _format(to_string(t), a),
    "join": lambda a, sep=",": (
        to_string(sep).join(to_string(x) for x in a) if isinstance(a, list) else to_string(a)
    ),
    "tojson": lambda v: json.dumps(v, indent=2, ensure_ascii=False),
    "fromjson": _from_json,
}


@dataclass(frozen=True)
class Status:
    """What ``success()``, ``failure()`` and ``cancelled()`` read: ``success``, ``failure``
    or ``cancelled`` (the job's status, or the action's inside a composite)."""

    value: str = "success"


def _eval(node: Node, ctx: Mapping[str, Any], status: Status) -> Any:
    kind = node[0]
    if kind == "lit":
        return node[1]
    if kind == "ctx":
        return ctx.get(node[1])
    if kind == "prop":
        return _get(_eval(node[1], ctx, status), _eval(node[2], ctx, status))
    if kind == "star":
        value = _eval(node[1], ctx, status)
        if isinstance(value, Mapping):
            return _Filtered(value.values())
        return _Filtered(value) if isinstance(value, list) else _Filtered()
    if kind == "not":
        return not truthy(_eval(node[1], ctx, status))
    if kind == "and":
        left = _eval(node[1], ctx, status)
        return _eval(node[2], ctx, status) if truthy(left) else left
    if kind == "or":
        left = _eval(node[1], ctx, status)
        return left if truthy(left) else _eval(node[2], ctx, status)
    if kind == "cmp":
        return _compare(node[1], _eval(node[2], ctx, status), _eval(node[3], ctx, status))
    if kind == "call":
        name, args = node[1], node[2]
        if name in STATUS_FUNCTIONS:
            if args:
                raise ExpressionError(f"{name}() takes no arguments")
            return {
                "always": True,
                "success": status.value == "success",
                "failure": status.value == "failure",
                "cancelled": status.value == "cancelled",
            }[name]
        values = [_eval(a, ctx, status) for a in args]
        try:
            return _FUNCTIONS[name](*values)
        except TypeError:
            raise ExpressionError(f"{name}() called with {len(values)} argument(s)") from None
    raise ExpressionError(f"bad node {kind}")  # pragma: no cover


def evaluate(text: str, ctx: Mapping[str, Any], status: Status | None = None) -> Any:
    """Evaluate one expression (the part between ``${{`` and ``}}``)."""
    return _eval(parse(text.strip()), ctx, status or Status())


def _split_template(text: str) -> list[tuple[bool, str]]:
    """Literal text and expressions, in order; ``}}`` inside a quoted string does not end one."""
    parts: list[tuple[bool, str]] = []
    pos = 0
    while True:
        start = text.find("${{", pos)
        if start < 0:
            if pos < len(text):
                parts.append((False, text[pos:]))
            return parts
        if start > pos:
            parts.append((False, text[pos:start]))
        i = start + 3
        quoted = False
        while i < len(text):
            if text[i] == "'":
                quoted = not quoted
            elif not quoted and text.startswith("}}", i):
                break
            i += 1
        else:
            raise ExpressionError(f"unclosed ${{{{ in {text!r}")
        parts.append((True, text[start + 3 : i]))
        pos = i + 2


def interpolate(value: Any, ctx: Mapping[str, Any], status: Status | None = None) -> Any:
    """A YAML value with ``${{ }}`` inside: a lone expression keeps its type, text around
    expressions makes a string. Non-strings (YAML numbers, booleans) pass through."""
    if not isinstance(value, str) or "${{" not in value:
        return value
    parts = _split_template(value)
    if len(parts) == 1 and parts[0][0]:
        return evaluate(parts[0][1], ctx, status)
    return "".join(to_string(evaluate(p, ctx, status)) if expr else p for expr, p in parts)


def interpolate_str(value: Any, ctx: Mapping[str, Any], status: Status | None = None) -> str:
    return to_string(interpolate(value, ctx, status))


def condition(value: Any, ctx: Mapping[str, Any], status: Status) -> bool:
    """A step's ``if:``: with or without ``${{ }}``; without a status function it is
    ``success() && (...)``; absent (None) it is ``success()``."""
    if value is None or value == "":
        return status.value == "success"
    if isinstance(value, bool | int | float):
        return status.value == "success" and truthy(value)
    text = str(value).strip()
    parts = _split_template(text) if "${{" in text else [(True, text)]
    if len(parts) != 1 or not parts[0][0]:
        # text around an expression makes a non-empty string: always true (GitHub's gotcha)
        return status.value == "success" and truthy(interpolate_str(text, ctx, status))
    tree = parse(parts[0][1].strip())
    if not uses_status_function(tree):
        tree = ("and", ("call", "success", []), tree)
    return truthy(_eval(tree, ctx, status))


# ================================================================================ the runner


@dataclass(frozen=True)
class Annotation:
    level: str  # error, warning or notice
    message: str
    title: str | None = None


@dataclass
class StepResult:
    """One step of the job, as its log and the ``steps`` context would show it."""

    index: int
    name: str
    id: str | None
    uses: str | None
    skipped: bool
    exit_code: int | None  # None: skipped, a no-op action, or killed at its timeout
    outcome: str  # success, failure or skipped
    conclusion: str  # as outcome, except success under continue-on-error
    outputs: dict[str, str] = field(default_factory=dict)
    stdout: str = ""  # raw, workflow commands included
    stderr: str = ""
    printed: str = ""  # stdout and stderr without ::add-mask:: lines, unmasked
    log: str = ""  # printed with every masked value as ***: what the log viewer shows
    summary: str = ""
    annotations: list[Annotation] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)  # the runner's own (inputs)
    inputs: dict[str, str] = field(default_factory=dict)
    environments: list[dict[str, str]] = field(default_factory=list)  # each process's, whole
    timed_out: bool = False
    seconds: float = 0.0


@dataclass
class JobRun:
    job: str
    name: str
    environment: str | None
    concurrency: str | None
    status: str
    steps: list[StepResult]
    env: dict[str, str]  # everything GITHUB_ENV set, at the end
    masks: list[str]

    def step(self, key: str) -> StepResult:
        """A step by id or by name."""
        for step in self.steps:
            if key in (step.id, step.name):
                return step
        raise KeyError(key)

    @property
    def ran(self) -> list[StepResult]:
        return [s for s in self.steps if not s.skipped]


_ACTION_REF = re.compile(r"^(?P<owner>[\w.-]+)/(?P<repo>[\w.-]+)(?:/(?P<path>[^@]+))?@(?P<ref>.+)$")
NOOP_ACTIONS = frozenset({"actions/checkout", "actions/setup-python"})


def read_outputs(text: str) -> dict[str, str]:
    """Records of a ``GITHUB_OUTPUT``/``GITHUB_ENV`` file: ``name<<DELIM`` heredocs and
    ``name=value`` lines, the way the runner reads them."""
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    values: dict[str, str] = {}
    i = 0
    while i < len(lines):
        line = lines[i].rstrip("\r")
        i += 1
        if not line:
            continue
        eq, heredoc = line.find("="), line.find("<<")
        if heredoc >= 0 and (eq < 0 or heredoc < eq):
            name, delimiter = line[:heredoc], line[heredoc + 2 :]
            body: list[str] = []
            while i < len(lines) and lines[i].rstrip("\r") != delimiter:
                body.append(lines[i].rstrip("\r"))
                i += 1
            if i >= len(lines):
                raise PlayerError(f"matching delimiter not found: {delimiter!r}")
            i += 1
            values[name] = "\n".join(body)
        elif eq > 0:
            values[line[:eq]] = line[eq + 1 :]
        else:
            raise PlayerError(f"invalid file command line: {line!r}")
    return values


def _unescape_data(text: str) -> str:
    return text.replace("%0D", "\r").replace("%0A", "\n").replace("%25", "%")


def _unescape_property(text: str) -> str:
    return _unescape_data(text).replace("%3A", ":").replace("%2C", ",")


_COMMAND = re.compile(r"^::(?P<name>[a-z-]+)(?: (?P<props>[^:]*))?::(?P<message>.*)$")


def _value_string(value: Any) -> str:
    """A YAML scalar as the runner passes it to env and inputs."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return to_string(value)


class WorkflowPlayer:
    """One job of one workflow file, played against whatever the environment points at.

    ``actions_root`` is the repository holding ``action.yml`` and ``actions/NAME/action.yml``:
    every ``uses:`` that is not ``actions/*`` plays those files. ``workspace`` is prepared by
    the caller (a git repository holding the commit, for ``actions/checkout``).
    """

    def __init__(
        self,
        workflow: Path,
        *,
        actions_root: Path,
        workspace: Path,
        runner_temp: Path,
        event_name: str,
        event: Mapping[str, Any],
        sha: str,
        ref: str,
        repository: str = "acme/shop",
        actor: str = "octocat",
        token: str = "",
        api_url: str = "https://api.github.com",
        server_url: str = "https://github.com",
        secrets: Mapping[str, str] | None = None,
        variables: Mapping[str, str] | None = None,
        run_id: int = 9001,
        base_env: Mapping[str, str] | None = None,
        step_timeout: float = 120.0,
        after_step: Callable[[StepResult], None] | None = None,
    ) -> None:
        self.workflow_path = workflow
        self.workflow = self._load(workflow)
        self.actions_root = actions_root.resolve()
        self.workspace = workspace
        self.runner_temp = runner_temp
        runner_temp.mkdir(parents=True, exist_ok=True)
        self.event_name = event_name
        self.event = json.loads(json.dumps(event))
        self.sha, self.ref = sha, ref
        self.repository, self.actor, self.token = repository, actor, token
        self.api_url, self.server_url = api_url.rstrip("/"), server_url.rstrip("/")
        self.secrets = {"github_token": token, **(secrets or {})}
        self.variables = dict(variables or {})
        self.run_id = run_id
        self.step_timeout = step_timeout
        self.after_step = after_step
        self.base_env = dict(
            base_env
            if base_env is not None
            else {"PATH": os.environ.get("PATH", ""), "LANG": "C.UTF-8"}
        )
        self.base_env.setdefault("HOME", str(runner_temp / "home"))
        (runner_temp / "home").mkdir(exist_ok=True)
        self._files = 0
        self.masks: list[str] = [v for v in self.secrets.values() if v]
        self.job_env: dict[str, str] = {}  # GITHUB_ENV, carried across steps
        self.path_entries: list[str] = []  # GITHUB_PATH
        event_path = runner_temp / "_github_workflow" / "event.json"
        event_path.parent.mkdir(parents=True, exist_ok=True)
        event_path.write_text(json.dumps(self.event, indent=2))
        self.event_path = event_path

    # -- the workflow file ----------------------------------------------------------------

    @staticmethod
    def _load(path: Path) -> dict[str, Any]:
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
        if not isinstance(doc, dict):
            raise PlayerError(f"{path}: not a workflow")
        if True in doc and "on" not in doc:  # YAML 1.1: the key `on` reads as the boolean true
            doc["on"] = doc.pop(True)
        return doc

    def triggers(self) -> dict[str, Any]:
        on = self.workflow.get("on")
        if isinstance(on, str):
            return {on: None}
        if isinstance(on, list):
            return {name: None for name in on}
        return dict(on or {})

    def _inputs_context(self) -> dict[str, Any]:
        """``inputs``: workflow_dispatch inputs with their declared defaults and types."""
        if self.event_name != "workflow_dispatch":
            return {}
        spec = (self.triggers().get("workflow_dispatch") or {}).get("inputs") or {}
        given = self.event.get("inputs") or {}
        out: dict[str, Any] = {}
        for name, decl in spec.items():
            decl = decl or {}
            raw = given.get(name)
            if raw is None or raw == "":
                raw = decl.get("default", "")
            if decl.get("type") == "boolean":
                out[name] = raw if isinstance(raw, bool) else str(raw).lower() == "true"
            elif decl.get("type") == "number" and raw != "":
                out[name] = to_number(raw)
            else:
                out[name] = _value_string(raw)
        return out

    # -- contexts -----------------------------------------------------------------------

    def _github_context(self, job: str) -> dict[str, Any]:
        ref = self.ref
        return {
            "event_name": self.event_name,
            "event": self.event,
            "event_path": str(self.event_path),
            "sha": self.sha,
            "ref": ref,
            "ref_name": ref.rpartition("/")[2] if ref.startswith("refs/") else ref,
            "ref_type": "tag" if ref.startswith("refs/tags/") else "branch",
            "repository": self.repository,
            "repository_owner": self.repository.partition("/")[0],
            "actor": self.actor,
            "triggering_actor": self.actor,
            "token": self.token,
            "workflow": self.workflow.get("name") or str(self.workflow_path),
            "job": job,
            "run_id": str(self.run_id),
            "run_number": "1",
            "run_attempt": "1",
            "workspace": str(self.workspace),
            "api_url": self.api_url,
            "server_url": self.server_url,
            "graphql_url": self.api_url.removesuffix("/v3") + "/graphql",
            "action_status": "",
            "action_path": "",
        }

    def _runner_env(self, job: str) -> dict[str, str]:
        github = self._github_context(job)
        return {
            "CI": "true",
            "GITHUB_ACTIONS": "true",
            "GITHUB_EVENT_NAME": self.event_name,
            "GITHUB_EVENT_PATH": str(self.event_path),
            "GITHUB_REPOSITORY": self.repository,
            "GITHUB_REPOSITORY_OWNER": github["repository_owner"],
            "GITHUB_SHA": self.sha,
            "GITHUB_REF": self.ref,
            "GITHUB_REF_NAME": github["ref_name"],
            "GITHUB_REF_TYPE": github["ref_type"],
            "GITHUB_ACTOR": self.actor,
            "GITHUB_TRIGGERING_ACTOR": self.actor,
            "GITHUB_WORKFLOW": github["workflow"],
            "GITHUB_JOB": job,
            "GITHUB_RUN_ID": str(self.run_id),
            "GITHUB_RUN_NUMBER": "1",
            "GITHUB_RUN_ATTEMPT": "1",
            "GITHUB_WORKSPACE": str(self.workspace),
            "GITHUB_API_URL": self.api_url,
            "GITHUB_SERVER_URL": self.server_url,
            "GITHUB_GRAPHQL_URL": github["graphql_url"],
            "RUNNER_TEMP": str(self.runner_temp),
            "RUNNER_OS": "Linux",
            "RUNNER_ARCH": "X64",
            "RUNNER_NAME": "workflow-player",
        }

    # -- playing --------------------------------------------------------------------------

    def play(self, job: str | None = None) -> JobRun:
        jobs = self.workflow.get("jobs") or {}
        if job is None:
            if len(jobs) != 1:
                raise PlayerError(f"name the job to play: {', '.join(jobs)}")
            job = next(iter(jobs))
        spec = jobs[job]
        github = self._github_context(job)
        base_ctx: dict[str, Any] = {
            "github": github,
            "inputs": self._inputs_context(),
            "vars": self.variables,
            "secrets": self.secrets,
            "runner": {"os": "Linux", "arch": "X64", "temp": str(self.runner_temp)},
        }
        name_ctx = {k: base_ctx[k] for k in ("github", "inputs", "vars")}
        name = interpolate_str(spec.get("name", job), name_ctx)
        environment = spec.get("environment")
        if isinstance(environment, Mapping):
            environment = environment.get("name")
        concurrency = spec.get("concurrency", self.workflow.get("concurrency"))
        if isinstance(concurrency, Mapping):
            concurrency = concurrency.get("group")
        if not condition(spec.get("if"), {**name_ctx, "needs": {}}, Status("success")):
            return JobRun(
                job=job,
                name=name,
                environment=interpolate_str(environment, name_ctx) if environment else None,
                concurrency=interpolate_str(concurrency, name_ctx) if concurrency else None,
                status="skipped",
                steps=[],
                env={},
                masks=list(self.masks),
            )
        wf_env = {
            k: _value_string(interpolate(v, {**base_ctx, "env": {}}))
            for k, v in (self.workflow.get("env") or {}).items()
        }
        job_env = {
            **wf_env,
            **{
                k: _value_string(interpolate(v, {**base_ctx, "env": wf_env}))
                for k, v in (spec.get("env") or {}).items()
            },
        }
        steps_ctx: dict[str, Any] = {}
        status = "success"
        results: list[StepResult] = []
        runner_env = self._runner_env(job)
        for index, step in enumerate(spec.get("steps") or [], start=1):
            env_ctx = {**job_env, **self.job_env}
            ctx = {
                **base_ctx,
                "steps": steps_ctx,
                "env": env_ctx,
                "job": {"status": status},
            }
            if_ctx = {k: v for k, v in ctx.items() if k != "secrets"}  # not allowed in if:
            if step.get("name"):
                label = interpolate_str(step["name"], ctx)
            else:
                label = step.get("uses") or "Run " + str(step.get("run", "")).partition("\n")[0]
            result = StepResult(index, label, step.get("id"), step.get("uses"), False, None, "", "")
            if not condition(step.get("if"), if_ctx, Status(status)):
                result.skipped = True
                result.outcome = result.conclusion = "skipped"
            else:
                started = time.monotonic()
                step_env = {
                    **env_ctx,
                    **{
                        k: _value_string(interpolate(v, ctx))
                        for k, v in (step.get("env") or {}).items()
                    },
                }
                ctx["env"] = step_env
                ok = self._run_step(step, ctx, step_env, runner_env, result, status)
                result.outcome = "success" if ok else "failure"
                keep_going = truthy(interpolate(step.get("continue-on-error", False), ctx))
                result.conclusion = "success" if ok or keep_going else "failure"
                result.seconds = time.monotonic() - started
                if result.conclusion == "failure":
                    status = "failure"
            self._finish_logs(result)
            if step.get("id"):
                steps_ctx[step["id"]] = {
                    "outputs": dict(result.outputs),
                    "outcome": result.outcome,
                    "conclusion": result.conclusion,
                }
            results.append(result)
            if self.after_step is not None:
                self.after_step(result)
        return JobRun(
            job=job,
            name=name,
            environment=interpolate_str(environment, name_ctx) if environment else None,
            concurrency=interpolate_str(concurrency, name_ctx) if concurrency else None,
            status=status,
            steps=results,
            env=dict(self.job_env),
            masks=list(self.masks),
        )

    def _run_step(
        self,
        step: Mapping[str, Any],
        ctx: dict[str, Any],
        env: dict[str, str],
        runner_env: dict[str, str],
        result: StepResult,
        job_status: str,
    ) -> bool:
        if "run" in step:
            script = interpolate_str(step["run"], ctx)
            code = self._process(script, env, runner_env, result, action_path=None)
            return code == 0
        uses = str(step.get("uses") or "")
        with_ = {k: _value_string(interpolate(v, ctx)) for k, v in (step.get("with") or {}).items()}
        match = _ACTION_REF.match(uses)
        owner_repo = f"{match['owner']}/{match['repo']}" if match else ""
        if owner_repo in NOOP_ACTIONS:
            result.inputs = with_
            if owner_repo == "actions/checkout":
                return self._checkout(with_.get("ref") or self.sha, result)
            return True
        action_dir = self._action_dir(uses, match)
        return self._composite(action_dir, with_, ctx, env, runner_env, result, job_status)

    def _action_dir(self, uses: str, match: re.Match[str] | None) -> Path:
        if uses.startswith("./"):
            folder = self.actions_root / uses[2:]
        elif match and not match["owner"].startswith("actions"):
            folder = self.actions_root / (match["path"] or "")
        else:
            raise PlayerError(f"cannot play uses: {uses}")
        if not (folder / "action.yml").is_file():
            raise PlayerError(f"uses: {uses}: no action.yml in {folder}")
        return folder.resolve()

    def _checkout(self, ref: str, result: StepResult) -> bool:
        if not (self.workspace / ".git").exists():
            return True
        done = subprocess.run(
            ["git", "-C", str(self.workspace), "checkout", "--quiet", "--detach", ref],
            capture_output=True,
            text=True,
        )
        result.exit_code = done.returncode
        result.stdout += done.stdout
        result.stderr += done.stderr
        return done.returncode == 0

    def _composite(
        self,
        folder: Path,
        with_: Mapping[str, str],
        outer_ctx: Mapping[str, Any],
        outer_env: Mapping[str, str],
        runner_env: Mapping[str, str],
        result: StepResult,
        job_status: str,
    ) -> bool:
        action = yaml.safe_load((folder / "action.yml").read_text(encoding="utf-8"))
        runs = action.get("runs") or {}
        if runs.get("using") != "composite":
            raise PlayerError(f"{folder}: only composite actions are played")
        declared = action.get("inputs") or {}
        github = {**outer_ctx["github"], "action_path": str(folder), "action_status": "success"}
        default_ctx = {"github": github, "job": outer_ctx["job"], "runner": outer_ctx["runner"]}
        unexpected = sorted(set(with_) - set(declared))
        if unexpected:
            result.warnings.append(
                f"Unexpected input(s) {', '.join(repr(u) for u in unexpected)}, "
                f"valid inputs are {sorted(declared)}"
            )
        inputs: dict[str, str] = {}
        for name, decl in declared.items():
            decl = decl or {}
            if name in with_:
                inputs[name] = with_[name]
            elif "default" in decl:
                inputs[name] = _value_string(interpolate(decl["default"], default_ctx))
            else:
                inputs[name] = ""
                if decl.get("required"):
                    result.warnings.append(f"Input required and not supplied: {name}")
        result.inputs = inputs
        steps_ctx: dict[str, Any] = {}
        status = "success"
        codes: list[int | None] = []
        for step in runs.get("steps") or []:
            ctx = {
                "github": {**github, "action_status": status},
                "inputs": inputs,
                "steps": steps_ctx,
                "env": dict(outer_env) | self.job_env,
                "job": outer_ctx["job"],
                "runner": outer_ctx["runner"],
            }
            if not condition(step.get("if"), ctx, Status(status)):
                if step.get("id"):
                    steps_ctx[step["id"]] = {"outputs": {}, "outcome": "skipped"}
                    steps_ctx[step["id"]]["conclusion"] = "skipped"
                continue
            env = {
                **outer_env,
                **self.job_env,
                **{
                    k: _value_string(interpolate(v, ctx))
                    for k, v in (step.get("env") or {}).items()
                },
            }
            if "uses" in step:
                raise PlayerError(f"{folder}: nested uses: {step['uses']} is not played")
            if step.get("shell") not in ("bash", None):
                raise PlayerError(f"{folder}: shell {step.get('shell')} is not played")
            outputs: dict[str, str] = {}
            code = self._process(
                interpolate_str(step.get("run", ""), ctx),
                env,
                runner_env,
                result,
                action_path=folder,
                outputs=outputs,
            )
            codes.append(code)
            outcome = "success" if code == 0 else "failure"
            if step.get("id"):
                steps_ctx[step["id"]] = {
                    "outputs": outputs,
                    "outcome": outcome,
                    "conclusion": outcome,
                }
            if code != 0:
                status = "failure"
        final_ctx = {"github": github, "inputs": inputs, "steps": steps_ctx, "job": {}}
        for name, decl in (action.get("outputs") or {}).items():
            result.outputs[name] = interpolate_str((decl or {}).get("value", ""), final_ctx)
        failed = [c for c in codes if c != 0]
        result.exit_code = failed[0] if failed else (codes[-1] if codes else 0)
        return status == "success"

    def _process(
        self,
        script: str,
        env: Mapping[str, str],
        runner_env: Mapping[str, str],
        result: StepResult,
        *,
        action_path: Path | None,
        outputs: dict[str, str] | None = None,
    ) -> int | None:
        """One ``bash`` process with fresh file-command files; their effects applied after."""
        self._files += 1
        n = self._files
        files = {
            name: self.runner_temp / "_runner_file_commands" / f"{name.lower()}_{n}"
            for name in ("GITHUB_OUTPUT", "GITHUB_STEP_SUMMARY", "GITHUB_ENV", "GITHUB_PATH")
        }
        files["GITHUB_OUTPUT"].parent.mkdir(exist_ok=True)
        for path in files.values():
            path.write_text("")
        script_path = self.runner_temp / f"step_{n}.sh"
        script_path.write_text(script)
        full = {**self.base_env, **runner_env, **env}
        if self.path_entries:
            full["PATH"] = os.pathsep.join([*reversed(self.path_entries), full.get("PATH", "")])
        full.update({name: str(path) for name, path in files.items()})
        if action_path is not None:
            full["GITHUB_ACTION_PATH"] = str(action_path)
            full["GITHUB_ACTION_REPOSITORY"] = ""
        result.environments.append(dict(full))
        proc = subprocess.Popen(
            ["bash", "--noprofile", "--norc", "-eo", "pipefail", str(script_path)],
            env=full,
            cwd=self.workspace,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,  # a timeout ends the whole tree, as the runner does
        )
        code: int | None
        try:
            stdout, stderr = proc.communicate(timeout=self.step_timeout)
            code = proc.returncode
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            stdout, stderr = proc.communicate()
            code = None
            result.timed_out = True
        result.stdout += stdout
        result.stderr += stderr
        produced = read_outputs(files["GITHUB_OUTPUT"].read_text(encoding="utf-8"))
        (outputs if outputs is not None else result.outputs).update(produced)
        result.summary += files["GITHUB_STEP_SUMMARY"].read_text(encoding="utf-8")
        self.job_env.update(read_outputs(files["GITHUB_ENV"].read_text(encoding="utf-8")))
        for line in files["GITHUB_PATH"].read_text(encoding="utf-8").splitlines():
            if line.strip():
                self.path_entries.append(line.strip())
        self._commands(stdout + stderr, result)
        if result.exit_code is None or code != 0:
            result.exit_code = code
        return code

    def _commands(self, text: str, result: StepResult) -> None:
        for line in text.splitlines():
            m = _COMMAND.match(line)
            if m is None:
                continue
            name, message = m["name"], _unescape_data(m["message"])
            props: dict[str, str] = {}
            for pair in (m["props"] or "").split(","):
                if "=" in pair:
                    key, _, value = pair.partition("=")
                    props[key.strip()] = _unescape_property(value)
            if name == "add-mask" and message:
                self.masks.append(message)
            elif name in ("error", "warning", "notice"):
                result.annotations.append(Annotation(name, message, props.get("title")))

    def _finish_logs(self, result: StepResult) -> None:
        kept = [
            line
            for line in (result.stdout + result.stderr).splitlines()
            if not line.startswith("::add-mask::")
        ]
        result.printed = "\n".join(kept)
        log = result.printed
        for mask in sorted(set(self.masks), key=len, reverse=True):
            log = log.replace(mask, "***")
        result.log = log


# ================================================================================ install.sh


@cache
def _cli_has_action_group(exe: str) -> bool:
    done = subprocess.run([exe, "action", "--help"], capture_output=True, text=True)
    return done.returncode == 0


def preinstall_commit_train(runner_temp: Path, actions_root: Path) -> Path:
    """Seed the folder ``actions/install.sh`` installs into, so it returns at once with the
    test environment's commit-train (no install during a test). Returns the executable.

    While the CLI lacks the ``action`` group, the seeded executable is a small wrapper that
    runs ``python -m commit_train.faces.actions.steps`` for ``action NAME``.
    """
    root = str(actions_root.resolve())
    key = hashlib.sha256(root.encode()).hexdigest()[:16]
    venv = runner_temp / f"commit-train-{key}"
    exe = venv / "bin" / "commit-train"
    exe.parent.mkdir(parents=True, exist_ok=True)
    real = Path(sys.executable).parent / "commit-train"
    if _cli_has_action_group(str(real)):
        if not exe.exists():
            exe.symlink_to(real)
    else:
        exe.write_text(
            "#!/bin/sh\n"
            "# commit-train without the action group yet: run it from its module\n"
            'if [ "$1" = action ]; then\n'
            "  shift\n"
            f'  exec "{sys.executable}" -m commit_train.faces.actions.steps "$@"\n'
            "fi\n"
            f'exec "{real}" "$@"\n'
        )
        exe.chmod(0o755)
    (venv / ".installed-from").write_text(root)
    done = subprocess.run(
        ["bash", str(actions_root / "actions" / "install.sh")],
        env={**os.environ, "RUNNER_TEMP": str(runner_temp)},
        capture_output=True,
        text=True,
        timeout=10,
    )
    if done.stdout.strip() != str(exe):
        raise PlayerError(f"install.sh would install instead of using {exe}: {done.stderr}")
    return exe
