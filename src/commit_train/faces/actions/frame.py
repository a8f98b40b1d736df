"""The frame every action step runs in: the contract (each action's inputs and outputs,
declared once in ``SPECS``), one way to fail, and the reads the steps share.

Failures. Every failure ends the same way: an ``::error title=...::`` annotation with the
one-line reason, a paragraph in the job summary, and exit code 1; never a traceback. A
deploy step (``build-gate``, ``render-manifests``, ``apply``) also leaves the reason and
the state it deserves (``failure`` when the deploy itself is wrong: refused, bad config or
templates, a failed rollout; ``error`` when something around it broke: GitHub, the cluster
connection, an input) in the job environment, so the final ``set-deployment-status`` step,
which runs under ``if: always()``, records it as the deployment status. That keeps the
one status write per deploy in one place and needs a token only there.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING

from commit_train.config import CONFIG_FILE, Config, check_rollout_timeout, parse, parse_duration
from commit_train.core.text import one_line
from commit_train.errors import (
    CommitTrainError,
    ConfigError,
    UsageError,
)
from commit_train.faces.actions.io import (
    JOB_DEPLOYMENT_ID,
    JOB_FAILURE,
    JOB_FAILURE_STATE,
    ActionSpec,
    DeploymentEvent,
    DispatchEvent,
    Input,
    Runtime,
)
from commit_train.models import OwnRun
from commit_train.service.run import (
    failure_state,
)
from commit_train.service.train import Train

if TYPE_CHECKING:
    from commit_train.backends.github.backend import GitHubBackend

CONFIG_DEFAULT = CONFIG_FILE
GATE_POLL_SECONDS = 10.0
DEFAULT_STALE_THRESHOLD = "24h"

# ----------------------------------------------------------------------------- the contract
# One table per action: every input it reads (with action.yml's literal default; a default
# that is an expression there, such as ${{ github.token }}, is None here) and every output.

BUILD_GATE = ActionSpec(
    "build-gate",
    inputs=(
        Input("environment"),
        Input("sha"),
        Input("token"),
        Input("wait-timeout", default="0"),
        Input("config", default=CONFIG_DEFAULT),
    ),
    outputs=("decision", "reason", "result"),
)
RENDER_MANIFESTS = ActionSpec(
    "render-manifests",
    inputs=(
        Input("environment"),
        Input("sha"),
        Input("output-dir"),
        Input("secrets", default="{}"),
        Input("config", default=CONFIG_DEFAULT),
    ),
    outputs=("manifests-dir", "objects"),
)
APPLY = ActionSpec(
    "apply",
    inputs=(
        Input("environment"),
        Input("manifests-dir", required=True),
        Input("kubeconfig"),
        Input("dry-run", default="false"),
        Input("force-conflicts", default="false"),
        Input("timeout", default=""),
        Input("config", default=CONFIG_DEFAULT),
        Input("token"),
        Input("secrets", default="{}"),
    ),
    outputs=("changed", "result", "rollout"),
)
SET_DEPLOYMENT_STATUS = ActionSpec(
    "set-deployment-status",
    inputs=(
        Input("state", required=True),
        Input("description"),
        Input("deployment-id"),
        Input("environment-url"),
        Input("log-url"),
        Input("token"),
        Input("config", default=CONFIG_DEFAULT),
    ),
    outputs=("deployment-id", "state"),
)
CREATE_DEPLOYMENT = ActionSpec(
    "create-deployment",
    inputs=(
        Input("environment", required=True),
        Input("ref", default="HEAD"),
        Input("token"),
        Input("config", default=CONFIG_DEFAULT),
    ),
    outputs=("deployment-id", "sha", "environment"),
)
STALE_COMMIT_NOTIFIER = ActionSpec(
    "stale-commit-notifier",
    inputs=(
        Input("environment", required=True),
        Input("threshold"),
        Input("token"),
        Input("config", default=CONFIG_DEFAULT),
    ),
    outputs=("count", "result"),
)

SPECS: dict[str, ActionSpec] = {
    spec.name: spec
    for spec in (
        BUILD_GATE,
        RENDER_MANIFESTS,
        APPLY,
        SET_DEPLOYMENT_STATUS,
        CREATE_DEPLOYMENT,
        STALE_COMMIT_NOTIFIER,
    )
}

# The steps of a deploy: their failures are recorded for the final deployment status.
DEPLOY_STEPS = frozenset({"build-gate", "render-manifests", "apply", "create-deployment"})


# ----------------------------------------------------------------------------- the frame


def report_failure(rt: Runtime, error: BaseException) -> None:
    name = rt.spec.name
    if isinstance(error, CommitTrainError):
        line = rt.redact(str(error))
    else:  # a bug: say so plainly, still no traceback in the log
        line = rt.redact(f"unexpected {type(error).__name__}: {error}")
        line += "; please report this at the commit-train issue tracker"
    line = one_line(line)
    state = failure_state(error)
    rt.error(
        line,
        title=f"commit-train {name}",
        file=getattr(error, "file", None),
        line=getattr(error, "line", None),
    )
    rt.summary(f"### commit-train {name} failed\n\n{line}\n")
    if name in DEPLOY_STEPS and rt.job_value(JOB_FAILURE) is None:
        rt.export(JOB_FAILURE, line)
        rt.export(JOB_FAILURE_STATE, state.value)


def run_step(spec: ActionSpec, body: Callable[[Runtime], None]) -> None:
    """Run one action's body with the real environment; every failure exits 1."""
    rt = Runtime(spec, env=os.environ, stream=sys.stdout)
    try:
        body(rt)
    except Exception as exc:  # the one place a step turns any error into its report
        report_failure(rt, exc)
        sys.stdout.flush()
        raise SystemExit(1) from None


# ----------------------------------------------------------------------------- shared reads


def workspace(rt: Runtime) -> Path:
    return Path(rt.environ.get("GITHUB_WORKSPACE") or ".")


def load_config(rt: Runtime) -> Config:
    """The config file named by the ``config`` input, relative to the workspace."""
    name = rt.input("config")
    path = Path(name) if Path(name).is_absolute() else workspace(rt) / name
    if not path.exists():
        raise ConfigError(
            f"{name}: no such file in the workspace",
            fix="check out the repository first (actions/checkout) or set the config input",
        )
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{name}: cannot be read ({exc.strerror})") from None
    return parse(text, source=name)


def event_environment(rt: Runtime) -> str | None:
    event = rt.event()
    if isinstance(event, DeploymentEvent):
        return event.environment
    if isinstance(event, DispatchEvent):
        return event.environment
    return None


def resolve_environment(rt: Runtime) -> str:
    """The ``environment`` input, else the event's (deployment or workflow_dispatch)."""
    value = rt.input("environment") or event_environment(rt)
    if not value:
        raise UsageError(
            "no environment: the environment input is empty and the event names none",
            fix=f"set environment under with: in the step that uses {rt.spec.name}",
        )
    return value


def resolve_sha(rt: Runtime) -> str:
    """The ``sha`` input, else the deployment event's sha."""
    value = rt.input("sha")
    if value:
        return value
    event = rt.event()
    if isinstance(event, DeploymentEvent):
        return event.sha
    raise UsageError(
        "no sha: the sha input is empty and the event is not a deployment",
        fix=f"set sha under with: in the step that uses {rt.spec.name}",
    )


def resolve_deployment_id(rt: Runtime) -> int:
    """The ``deployment-id`` input, else the one this job created, else the event's."""
    text = rt.input("deployment-id") or rt.job_value(JOB_DEPLOYMENT_ID)
    if not text:
        event = rt.event()
        if isinstance(event, DeploymentEvent):
            return event.deployment_id
        raise UsageError(
            "no deployment: the deployment-id input is empty, no earlier step created one "
            "and the event is not a deployment",
            fix="run this in a workflow triggered by deployment, or pass deployment-id",
        )
    if not text.isdigit():
        raise UsageError(
            f"input 'deployment-id' must be a number, got {text!r}",
            fix="pass the id GitHub gave the deployment",
        )
    return int(text)


def rollout_timeout_input(rt: Runtime) -> float:
    """Input ``timeout``: a duration from 1s to 24h (0 would give up before looking)."""
    seconds = duration_input(rt, "timeout")
    try:
        return check_rollout_timeout(seconds)
    except ValueError as exc:
        raise UsageError(f"input 'timeout' is {exc}", fix="write it like 30s, 10m or 1h") from None


def duration_input(rt: Runtime, name: str) -> float:
    text = rt.input(name)
    try:
        return parse_duration(text)
    except ValueError:
        raise UsageError(
            f"input {name!r} must be a duration, got {text!r}",
            fix="write it like 30s, 10m or 1h",
        ) from None


def github_backend(rt: Runtime) -> GitHubBackend:
    """A ``GitHubBackend`` for this run's repository and API (``GITHUB_API_URL``)."""
    from commit_train.faces import wiring  # PyGithub only when a step talks to GitHub

    token = rt.input("token")
    if not token:
        raise UsageError(
            f"input 'token' is empty; {rt.spec.name} needs a token to talk to GitHub",
            fix="pass token: ${{ github.token }} or a GitHub App token",
        )
    rt.mask(token)
    repository = rt.context.repository
    if not repository:
        raise UsageError(
            "GITHUB_REPOSITORY is not set",
            fix="run this inside GitHub Actions, or set GITHUB_REPOSITORY=owner/name",
        )
    return wiring.actions_github(
        repository,
        token=token,
        api_url=rt.context.api_url,
        on_wait=rt.log,  # one line per retry or rate-limit wait
    )


def own_run(rt: Runtime) -> OwnRun | None:
    """This workflow run and its workflow, whose check runs the gate leaves out: the deploy
    job is in progress while it asks, and a failed run of the deploy workflow must not make
    the commit red for the next deploy. None outside Actions."""
    run_id = rt.context.run_id
    workflow = rt.context.workflow or None
    if not run_id.isdigit() and workflow is None:
        return None
    return OwnRun(run_id=int(run_id) if run_id.isdigit() else None, workflow=workflow)


def make_train(rt: Runtime, backend: GitHubBackend, config: Config) -> Train:
    """The train of this run: the run's actor, notifications to the config's routes
    (webhook URLs from the step's environment, where the workflow puts its secrets), and
    this run's own checks left out of the gate."""
    from commit_train.faces import wiring

    return wiring.github(backend).train(
        config,
        actor=rt.context.actor or "github-actions",
        source="actions",
        notifier=wiring.notifier(config, rt.environ),
        own_run=own_run(rt),
    )


def warn_all(rt: Runtime, warnings: Iterable[str]) -> None:
    """Notification failures: ``::warning::`` annotations that never fail the step."""
    for line in warnings:
        rt.warning(rt.redact(line), title=f"commit-train {rt.spec.name}")


def summary_row(*cells: str) -> str:
    return "| " + " | ".join(c.replace("|", "\\|").replace("\n", " ") for c in cells) + " |"
