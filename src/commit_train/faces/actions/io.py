"""The GitHub Actions runtime boundary: the one module that reads action inputs and writes
outputs, step summaries and workflow commands.

Everything an action exchanges with the runner goes through a :class:`Runtime`, built from an
environment mapping and an output stream, so a test drives it with a plain ``dict`` and a
``StringIO`` and an end-to-end test runs ``commit-train action NAME`` as a subprocess.

Inputs. A composite action gets no ``INPUT_*`` variables from the runner, so each
``action.yml`` maps every input itself, in its step's ``env:``::

    env:
      INPUT_DEPLOYMENT_ID: ${{ inputs.deployment-id }}

The toolkit (``@actions/core`` ``getInput``) reads ``INPUT_`` plus the name upper-cased with
spaces turned into ``_`` and dashes *kept* (``INPUT_DEPLOYMENT-ID``). A POSIX shell cannot
name such a variable, so commit-train's convention turns dashes into underscores as well
(:func:`input_env_name`); the dashed spelling is still read when the underscored one is
absent, so a step written the toolkit's way works too. Values are stripped of surrounding
whitespace, as the toolkit does.

Each action declares its inputs and outputs in one :class:`ActionSpec`. A :class:`Runtime`
refuses to read an input or write an output its spec does not declare (a ``KeyError``: a
programming error, not a user's), which is what lets a contract test compare every
``action.yml`` with the code.

Edge cases named here once:

- a boolean input accepts only the YAML 1.2 core spellings ``true True TRUE false False
  FALSE``; anything else is a :class:`UsageError` naming the input;
- a required input that is unset or blank is a :class:`UsageError` naming the input;
- ``GITHUB_OUTPUT`` and ``GITHUB_STEP_SUMMARY`` unset (a run outside Actions): outputs and
  summaries are dropped quietly;
- an output value containing its own random delimiter is refused (it would end the value
  early and let the rest forge other outputs);
- a log line that the runner would read as a workflow command is wrapped in
  ``::stop-commands::`` so untrusted text (commit titles, API messages) cannot issue commands.
"""

from __future__ import annotations

import json
import secrets
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from commit_train.errors import UsageError

# Values one step of a job leaves for the later ones, through GITHUB_ENV.
JOB_DEPLOYMENT_ID = "COMMIT_TRAIN_DEPLOYMENT_ID"  # the deployment this job carries out
JOB_FAILURE = "COMMIT_TRAIN_FAILURE"  # the one-line reason of the step that failed
JOB_FAILURE_STATE = "COMMIT_TRAIN_FAILURE_STATE"  # "failure" or "error"
# the deployment whose final status a step already wrote (apply, stopped by a signal)
JOB_FINAL_RECORDED = "COMMIT_TRAIN_FINAL_RECORDED"
JOB_VARIABLES = (JOB_DEPLOYMENT_ID, JOB_FAILURE, JOB_FAILURE_STATE, JOB_FINAL_RECORDED)

TRUE_SPELLINGS = ("true", "True", "TRUE")
FALSE_SPELLINGS = ("false", "False", "FALSE")


# --------------------------------------------------------------------------- the contract


@dataclass(frozen=True)
class Input:
    """One action input as the code reads it; ``default`` mirrors ``action.yml``'s."""

    name: str
    required: bool = False
    default: str | None = None

    @property
    def env_name(self) -> str:
        return input_env_name(self.name)


@dataclass(frozen=True)
class ActionSpec:
    """Every input an action reads and every output it writes, in one table."""

    name: str
    inputs: tuple[Input, ...]
    outputs: tuple[str, ...] = ()

    def input(self, name: str) -> Input:
        for item in self.inputs:
            if item.name == name:
                return item
        raise KeyError(f"action {self.name!r} declares no input {name!r}")


def input_env_name(name: str) -> str:
    """``deployment-id`` -> ``INPUT_DEPLOYMENT_ID`` (commit-train's shell-safe convention)."""
    return "INPUT_" + name.replace(" ", "_").replace("-", "_").upper()


def toolkit_env_name(name: str) -> str:
    """``deployment-id`` -> ``INPUT_DEPLOYMENT-ID``, the name ``@actions/core`` reads."""
    return "INPUT_" + name.replace(" ", "_").upper()


# --------------------------------------------------------------------------- escaping


def escape_data(text: str) -> str:
    """Escape a workflow command's message: ``%``, ``\\r`` and ``\\n``."""
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(text: str) -> str:
    """Escape a workflow command property value: as data, plus ``:`` and ``,``."""
    return escape_data(text).replace(":", "%3A").replace(",", "%2C")


def format_command(command: str, message: str = "", **properties: str | int | None) -> str:
    """One workflow command line, e.g. ``::error title=Gate%3A refused::message``.

    Properties whose value is ``None`` or empty are left out, as the toolkit does.
    """
    props = ",".join(
        f"{key}={escape_property(str(value))}"
        for key, value in properties.items()
        if value is not None and str(value) != ""
    )
    return f"::{command}{' ' + props if props else ''}::{escape_data(message)}"


def format_output(name: str, value: str, *, delimiter: str | None = None) -> str:
    """One ``GITHUB_OUTPUT`` record in heredoc form, ending with a newline.

    The delimiter is random per record; a name or value that contains it is refused.
    """
    mark = delimiter or f"ghadelimiter_{uuid.uuid4()}"
    if mark in name:
        raise ValueError(f"output name {name!r} contains its delimiter")
    if mark in value:
        raise ValueError(f"the value of output {name!r} contains its delimiter; refusing it")
    return f"{name}<<{mark}\n{value}\n{mark}\n"


def _looks_like_command(line: str) -> bool:
    return line.lstrip().startswith("::")


# --------------------------------------------------------------------------- events


@dataclass(frozen=True)
class DeploymentEvent:
    """``on: deployment``: the deployment that this run carries out."""

    deployment_id: int
    sha: str
    ref: str
    environment: str
    creator: str
    payload: Mapping[str, Any] = field(default_factory=dict)
    task: str = "deploy"
    description: str = ""
    production_environment: bool = False


@dataclass(frozen=True)
class DispatchEvent:
    """``on: workflow_dispatch``: a manual run; ``environment`` and ``ref`` come from inputs."""

    ref: str  # the branch the workflow ran from
    inputs: Mapping[str, str] = field(default_factory=dict)

    @property
    def environment(self) -> str | None:
        value = self.inputs.get("environment")
        return value or None

    @property
    def deploy_ref(self) -> str | None:
        """The ``ref`` input (what to deploy), not the branch the workflow file came from."""
        value = self.inputs.get("ref")
        return value or None


@dataclass(frozen=True)
class ScheduleEvent:
    """``on: schedule``: ``cron`` is the schedule that fired."""

    cron: str


@dataclass(frozen=True)
class OtherEvent:
    """Any event commit-train does not read into fields (push, pull_request, ...)."""

    name: str
    payload: Mapping[str, Any] = field(default_factory=dict)


Event = DeploymentEvent | DispatchEvent | ScheduleEvent | OtherEvent


def _event_error(path: str, what: str) -> UsageError:
    return UsageError(
        f"the event payload {path} {what}",
        fix="run this action from a workflow triggered by deployment, workflow_dispatch "
        "or schedule",
    )


def parse_event(name: str, payload: Mapping[str, Any], *, source: str = "event") -> Event:
    """Read the fields commit-train uses from an event payload, by event name."""
    if name == "deployment":
        raw = payload.get("deployment")
        if not isinstance(raw, Mapping):
            raise _event_error(source, "has no deployment object")
        dep_id = raw.get("id")
        sha = raw.get("sha")
        environment = raw.get("environment")
        if not isinstance(dep_id, int) or isinstance(dep_id, bool):
            raise _event_error(source, "has no deployment.id")
        if not isinstance(sha, str) or not sha:
            raise _event_error(source, "has no deployment.sha")
        if not isinstance(environment, str) or not environment:
            raise _event_error(source, "has no deployment.environment")
        creator = raw.get("creator")
        login = creator.get("login") if isinstance(creator, Mapping) else None
        body = raw.get("payload")
        if isinstance(body, str):  # the API accepts a JSON string as payload too
            try:
                body = json.loads(body) if body.strip() else {}
            except json.JSONDecodeError:
                body = {}
        return DeploymentEvent(
            deployment_id=dep_id,
            sha=sha,
            ref=str(raw.get("ref") or sha),
            environment=environment,
            creator=str(login or ""),
            payload=dict(body) if isinstance(body, Mapping) else {},
            task=str(raw.get("task") or "deploy"),
            description=str(raw.get("description") or ""),
            production_environment=bool(raw.get("production_environment", False)),
        )
    if name == "workflow_dispatch":
        inputs = payload.get("inputs") or {}
        if not isinstance(inputs, Mapping):
            raise _event_error(source, "has inputs that are not an object")
        return DispatchEvent(
            ref=str(payload.get("ref") or ""),
            inputs={str(k): "" if v is None else str(v) for k, v in inputs.items()},
        )
    if name == "schedule":
        return ScheduleEvent(cron=str(payload.get("schedule") or ""))
    return OtherEvent(name=name, payload=dict(payload))


# --------------------------------------------------------------------------- run context


@dataclass(frozen=True)
class RunContext:
    """The ``GITHUB_*`` variables a step sees, read once."""

    event_name: str
    repository: str
    sha: str
    ref: str
    actor: str
    server_url: str
    api_url: str
    graphql_url: str
    run_id: str
    run_attempt: str
    workflow: str
    job: str

    @property
    def run_url(self) -> str | None:
        """This run's page (and attempt), or ``None`` outside Actions."""
        if not (self.repository and self.run_id):
            return None
        url = f"{self.server_url}/{self.repository}/actions/runs/{self.run_id}"
        return f"{url}/attempts/{self.run_attempt}" if self.run_attempt else url

    @property
    def repository_url(self) -> str | None:
        return f"{self.server_url}/{self.repository}" if self.repository else None


def read_context(env: Mapping[str, str]) -> RunContext:
    server = env.get("GITHUB_SERVER_URL", "").rstrip("/") or "https://github.com"
    return RunContext(
        event_name=env.get("GITHUB_EVENT_NAME", ""),
        repository=env.get("GITHUB_REPOSITORY", ""),
        sha=env.get("GITHUB_SHA", ""),
        ref=env.get("GITHUB_REF", ""),
        actor=env.get("GITHUB_ACTOR", ""),
        server_url=server,
        api_url=env.get("GITHUB_API_URL", "").rstrip("/") or "https://api.github.com",
        graphql_url=env.get("GITHUB_GRAPHQL_URL", "") or "https://api.github.com/graphql",
        run_id=env.get("GITHUB_RUN_ID", ""),
        run_attempt=env.get("GITHUB_RUN_ATTEMPT", ""),
        workflow=env.get("GITHUB_WORKFLOW", ""),
        job=env.get("GITHUB_JOB", ""),
    )


# --------------------------------------------------------------------------- the runtime


class Runtime:
    """One action's view of the runner: its declared inputs, outputs, summary and log.

    ``env`` is the process environment (or a test's dict); ``stream`` is where workflow
    commands and log lines go (stdout in a real run).
    """

    def __init__(self, spec: ActionSpec, *, env: Mapping[str, str], stream: TextIO) -> None:
        self.spec = spec
        self._env = env
        self._stream = stream
        self._masked: set[str] = set()
        self.context = read_context(env)

    # ---- inputs

    def _raw(self, name: str) -> str | None:
        item = self.spec.input(name)
        for key in (item.env_name, toolkit_env_name(name)):
            if key in self._env:
                return self._env[key].strip()
        return None

    def input(self, name: str) -> str:
        """The input's value, its default when unset or blank, or ``""``.

        A required input that is unset or blank raises ``UsageError`` naming it.
        """
        item = self.spec.input(name)
        value = self._raw(name)
        if value:
            return value
        if item.required:
            raise UsageError(
                f"input {name!r} is required and was not supplied",
                fix=f"set {name} under with: in the step that uses {self.spec.name}",
            )
        return item.default or ""

    def optional(self, name: str) -> str | None:
        """The input's value, or ``None`` when it is unset, blank and has no default."""
        return self.input(name) or None

    def boolean(self, name: str) -> bool:
        """A YAML 1.2 core boolean: ``true True TRUE false False FALSE`` and nothing else."""
        value = self.input(name)
        if value in TRUE_SPELLINGS:
            return True
        if value in FALSE_SPELLINGS:
            return False
        shown = repr(value) if value else "nothing"
        raise UsageError(
            f"input {name!r} must be a boolean, got {shown}",
            fix="write one of true, True, TRUE, false, False, FALSE",
        )

    # ---- outputs and summary

    def set_output(self, name: str, value: str | int | bool) -> None:
        """Append one output to ``GITHUB_OUTPUT``; dropped quietly when it is unset."""
        if name not in self.spec.outputs:
            raise KeyError(f"action {self.spec.name!r} declares no output {name!r}")
        text = ("true" if value else "false") if isinstance(value, bool) else str(value)
        record = format_output(name, self.redact(text))
        path = self._env.get("GITHUB_OUTPUT")
        if path:
            with Path(path).open("a", encoding="utf-8") as fh:
                fh.write(record)

    def set_json_output(self, name: str, value: Mapping[str, Any]) -> None:
        """A versioned JSON output: ``{"version": 1, ...}``, keys in a stable order.

        Each string is redacted before encoding: once encoded, a secret's escaped form (its
        ``repr`` inside a message, say) is escaped a second time, and no mask matches that.
        """
        document = self._redact_strings({"version": 1, **value})
        self.set_output(name, json.dumps(document, sort_keys=False))

    def _redact_strings(self, value: Any) -> Any:
        if isinstance(value, str):
            return self.redact(value)
        if isinstance(value, Mapping):
            return {self.redact(str(k)): self._redact_strings(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [self._redact_strings(item) for item in value]
        return value

    def export(self, name: str, value: str) -> None:
        """Leave a value for the job's later steps (``GITHUB_ENV``); quiet when unset.

        Only the ``JOB_*`` names above: these are the only job-wide values commit-train's
        steps pass each other, so the list of them is the whole protocol.
        """
        if name not in JOB_VARIABLES:
            raise KeyError(f"{name!r} is not one of commit-train's job variables")
        path = self._env.get("GITHUB_ENV")
        if path:
            with Path(path).open("a", encoding="utf-8") as fh:
                fh.write(format_output(name, self.redact(value)))

    def job_value(self, name: str) -> str | None:
        """A value an earlier step of this job exported, or ``None``."""
        if name not in JOB_VARIABLES:
            raise KeyError(f"{name!r} is not one of commit-train's job variables")
        return self._env.get(name, "").strip() or None

    def summary(self, markdown: str) -> None:
        """Append Markdown to the job summary; nothing at all when it is unset."""
        path = self._env.get("GITHUB_STEP_SUMMARY")
        if not path:
            return
        text = self.redact(markdown if markdown.endswith("\n") else markdown + "\n")
        with Path(path).open("a", encoding="utf-8") as fh:
            fh.write(text)

    # ---- workflow commands and the log

    def _emit(self, line: str) -> None:
        self._stream.write(line + "\n")
        self._stream.flush()

    @property
    def environ(self) -> Mapping[str, str]:
        """The step's whole environment (secrets a workflow passes by name live here)."""
        return self._env

    def error(
        self,
        message: str,
        *,
        title: str | None = None,
        file: str | None = None,
        line: int | None = None,
    ) -> None:
        """An error annotation; with ``file`` and ``line`` it sits on that line of the diff."""
        title = self.redact(title) if title else title
        self._emit(format_command("error", self.redact(message), title=title, file=file, line=line))

    def warning(self, message: str, *, title: str | None = None) -> None:
        title = self.redact(title) if title else title
        self._emit(format_command("warning", self.redact(message), title=title))

    def notice(self, message: str, *, title: str | None = None) -> None:
        title = self.redact(title) if title else title
        self._emit(format_command("notice", self.redact(message), title=title))

    def mask(self, value: str) -> None:
        """Register a secret with the runner: the whole value, each line of it, and each of
        its encoded forms (``redact.secret_forms``: base64, JSON- and repr-escaped,
        URL-encoded), so that the value quoted in an error or a JSON output is masked too.

        The runner matches masks line by line, so a multi-line secret (a key file) is also
        registered one line at a time. Blank values are skipped: masking "" would do nothing.
        Everything this runtime writes (outputs, ``GITHUB_ENV``, the summary, annotations,
        the log) is redacted with the same values, because the runner masks only its log.
        """
        from commit_train.core.redact import secret_forms

        candidates = [value, *value.splitlines(), *sorted(secret_forms(value))]
        for item in candidates:
            item = item.strip()
            if item and item not in self._masked:
                self._masked.add(item)
                self._emit(format_command("add-mask", item))

    def redact(self, text: str) -> str:
        """``text`` with every masked value replaced by ``***`` (for files the runner won't see).

        Values shorter than ``redact.MIN_MASK_LENGTH`` are left alone here: replacing every
        ``1`` of a deployment id would hide everything and protect nothing.
        """
        from commit_train.core.redact import MIN_MASK_LENGTH

        for value in sorted(self._masked, key=len, reverse=True):
            if len(value) >= MIN_MASK_LENGTH:
                text = text.replace(value, "***")
        return text

    @contextmanager
    def group(self, title: str) -> Iterator[None]:
        """A collapsible group in the log; closed even when the body raises."""
        self._emit(format_command("group", title))
        try:
            yield
        finally:
            self._emit(format_command("endgroup"))

    def log(self, text: str) -> None:
        """Plain log text; lines the runner would read as commands are neutralised."""
        lines = self.redact(text).splitlines() or [""]
        if any(_looks_like_command(line) for line in lines):
            token = secrets.token_hex(16)
            self._emit(format_command("stop-commands", token))
            for line in lines:
                self._emit(line)
            self._emit(f"::{token}::")
        else:
            for line in lines:
                self._emit(line)

    # ---- the event

    def event(self) -> Event:
        """The triggering event, from ``GITHUB_EVENT_NAME`` and ``GITHUB_EVENT_PATH``.

        Outside Actions (no event path) this is an ``OtherEvent`` with an empty payload.
        """
        name = self.context.event_name
        path = self._env.get("GITHUB_EVENT_PATH")
        if not path:
            return OtherEvent(name=name or "none")
        try:
            payload = json.loads(Path(path).read_text(encoding="utf-8"))
        except OSError as exc:
            raise _event_error(path, f"cannot be read ({exc.strerror})") from None
        except json.JSONDecodeError:
            raise _event_error(path, "is not valid JSON") from None
        if not isinstance(payload, Mapping):
            raise _event_error(path, "is not a JSON object")
        return parse_event(name, payload, source=path)
