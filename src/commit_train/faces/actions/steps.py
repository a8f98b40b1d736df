"""``commit-train action NAME``: the commands behind the composite actions in ``actions/``.

Each command reads its inputs through :mod:`commit_train.faces.actions.io`, calls the library and
writes its outputs; its inputs and outputs are declared once, in ``SPECS``, and a contract
test checks that every ``action.yml`` declares and maps exactly those.

Failures. Every failure ends the same way: an ``::error title=...::`` annotation with the
one-line reason, a paragraph in the job summary, and exit code 1; never a traceback. A
deploy step (``build-gate``, ``render-manifests``, ``apply``) also leaves the reason and
the state it deserves (``failure`` when the deploy itself is wrong: refused, bad config or
templates, a failed rollout; ``error`` when something around it broke: GitHub, the cluster
connection, an input) in the job environment, so the final ``set-deployment-status`` step,
which runs under ``if: always()``, records it as the deployment status. That keeps the
one status write per deploy in one place and needs a token only there.

Every command runs as a plain subprocess given ``GITHUB_*`` variables and ``INPUT_*``
variables, so a test plays a workflow step by step against the emulators.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from commit_train.config import CONFIG_FILE, Config, check_rollout_timeout, parse, parse_duration
from commit_train.core.gate import CHECKS_PENDING, Decision
from commit_train.core.text import one_line, plural
from commit_train.errors import (
    CommitTrainError,
    ConfigError,
    KubeError,
    RefusedError,
    RolloutError,
    Stopped,
    UsageError,
)
from commit_train.faces.actions.io import (
    JOB_DEPLOYMENT_ID,
    JOB_FAILURE,
    JOB_FAILURE_STATE,
    JOB_FINAL_RECORDED,
    ActionSpec,
    DeploymentEvent,
    DispatchEvent,
    Input,
    Runtime,
)
from commit_train.faces.signals import stopping_on_signals
from commit_train.models import Commit, Deployment, DeployState, OwnRun, utc_now
from commit_train.service.results import RollbackResult, rollback_json, run_json
from commit_train.service.rollback import restore_previous
from commit_train.service.run import (
    DeployRun,
    RunOptions,
    apply_and_wait,
    applyset_name,
    failure_state,
    within_seconds,
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


def _report(rt: Runtime, error: BaseException) -> None:
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
        _report(rt, exc)
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


def _row(*cells: str) -> str:
    return "| " + " | ".join(c.replace("|", "\\|").replace("\n", " ") for c in cells) + " |"


# ----------------------------------------------------------------------------- build-gate


@dataclass(frozen=True)
class GateAnswer:
    decision: Decision
    commit: Commit | None


def ask_gate(train: Train, environment: str, sha: str) -> GateAnswer:
    """One gate question; an unknown environment is a refusal with its reason, not a crash."""
    try:
        # on the runner the deployment being run is itself queued there: not a second deploy
        commit, decision = train.check(environment, sha, again=True)
    except RefusedError as exc:
        return GateAnswer(Decision(False, exc.reason, str(exc)), None)
    return GateAnswer(decision, commit)


def build_gate(rt: Runtime, *, sleep: Callable[[float], None] = time.sleep) -> None:
    environment = resolve_environment(rt)
    sha = resolve_sha(rt)
    wait = duration_input(rt, "wait-timeout")
    config = load_config(rt)
    with github_backend(rt) as backend:
        train = make_train(rt, backend, config)
        deadline = time.monotonic() + wait
        answer = ask_gate(train, environment, sha)
        while answer.decision.reason == CHECKS_PENDING and time.monotonic() < deadline:
            rt.log(f"gate: {answer.decision.message} (waiting up to {rt.input('wait-timeout')})")
            sleep(min(GATE_POLL_SECONDS, max(0.0, deadline - time.monotonic())))
            answer = ask_gate(train, environment, sha)
    decision, commit = answer.decision, answer.commit
    full_sha = commit.sha if commit else sha
    verdict = "allow" if decision.allowed else "deny"
    rt.set_output("decision", verdict)
    rt.set_output("reason", decision.reason)
    rt.set_json_output(
        "result",
        {
            "decision": verdict,
            "reason": decision.reason,
            "message": decision.message,
            "environment": environment,
            "sha": full_sha,
            "title": commit.title if commit else None,
        },
    )
    title = f" {commit.title}" if commit else ""
    rt.summary(
        f"### Gate: {verdict}\n\n"
        + _row("environment", "commit", "reason")
        + "\n| --- | --- | --- |\n"
        + _row(environment, f"`{full_sha[:7]}`{title}", decision.reason)
        + f"\n\n{decision.message}\n"
    )
    rt.log(f"gate: {verdict} ({decision.reason}): {decision.message}")
    if not decision.allowed:
        raise RefusedError(decision.message, reason=decision.reason)


# ----------------------------------------------------------------------------- render

RENDER_RECORD = "render.json"  # what render-manifests leaves beside the manifests for apply


def mask_secrets(rt: Runtime, blob: str) -> dict[str, Any]:
    """Parse the ``secrets`` input and mask every value (and its encoded forms) at once."""
    from commit_train.core.redact import secret_forms

    try:
        secrets = json.loads(blob) if blob.strip() else {}
    except json.JSONDecodeError:
        secrets = None
    if not isinstance(secrets, dict):
        raise UsageError(
            "input 'secrets' is not a JSON object",
            fix="pass a JSON object of names and values, or leave it out and give each secret "
            "the config names in the step's env:",
        )
    for value in secrets.values():
        text = value if isinstance(value, str) else json.dumps(value)
        rt.mask(text)
        for form in sorted(secret_forms(text)):
            rt.mask(form)
    return secrets


def mask_named_secrets(rt: Runtime, config: Config) -> None:
    """Mask the secrets the config names that the step's ``env:`` hands over one by one
    (the templates' way: only those names, never ``toJSON(secrets)``), before any render;
    ``rt.mask`` registers each encoded form too."""
    for name in config.secrets:
        value = rt.environ.get(name)
        if value:
            rt.mask(value)


def deployment_id_if_any(rt: Runtime) -> int | None:
    text = rt.job_value(JOB_DEPLOYMENT_ID)
    if text and text.isdigit():
        return int(text)
    event = rt.event()
    return event.deployment_id if isinstance(event, DeploymentEvent) else None


def render_manifests(rt: Runtime) -> None:
    secrets = mask_secrets(rt, rt.input("secrets"))  # before anything else can log them
    from commit_train.render.manifests import SECRETS_BLOB, DeploymentInfo
    from commit_train.render.templates import render

    environment = resolve_environment(rt)
    sha = resolve_sha(rt)
    config = load_config(rt)
    mask_named_secrets(rt, config)
    dep_id = deployment_id_if_any(rt)
    event = rt.event()
    creator = event.creator if isinstance(event, DeploymentEvent) else rt.context.actor
    deployment = DeploymentInfo(dep_id, creator) if dep_id is not None else None
    env = dict(rt.environ)
    env[SECRETS_BLOB] = json.dumps(secrets)
    rendered = render(
        workspace(rt), config, environment=environment, sha=sha, deployment=deployment, env=env
    )
    for value in sorted(rendered.secret_values):
        rt.mask(value)
    target = Path(rt.input("output-dir")) if rt.input("output-dir") else None
    if target is None:
        base = rt.environ.get("RUNNER_TEMP") or tempfile.gettempdir()
        target = Path(base) / "commit-train" / environment
    target.mkdir(parents=True, exist_ok=True)
    target.chmod(0o700)  # real secret values: for the apply step, no one else
    written = rendered.write_dir(target, redacted=False)
    for path in written:
        path.chmod(0o600)
    record = {
        "version": 1,
        "environment": environment,
        "sha": sha,
        "deployment_id": dep_id,
        "objects": len(rendered.objects),
    }
    (target / RENDER_RECORD).write_text(json.dumps(record) + "\n", encoding="utf-8")
    rt.set_output("manifests-dir", str(target))
    rt.set_output("objects", str(len(rendered.objects)))
    for note in rendered.notes:
        rt.notice(note, title="commit-train render-manifests")
    rows = [
        _row(m.key.kind, m.key.namespace or "", m.key.name, f"`{m.location}`")
        for m in rendered.apply_order()
    ]
    rt.summary(
        f"### Rendered {plural(len(rendered.objects), 'object')} for {environment} "
        f"at `{sha[:7]}`\n\n"
        + _row("kind", "namespace", "name", "template")
        + "\n| --- | --- | --- | --- |\n"
        + "\n".join(rows)
        + "\n"
    )
    rt.log(f"rendered {plural(len(rendered.objects), 'object')} for {environment} into {target}")


# ----------------------------------------------------------------------------- apply


def read_manifests(folder: Path) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """The objects of every ``*.yaml`` in ``folder`` (sorted by name), and render's record."""
    import yaml

    if not folder.is_dir():
        raise UsageError(
            f"manifests-dir {folder} is not a folder",
            fix="pass the manifests-dir output of render-manifests",
        )
    objects: list[dict[str, Any]] = []
    for path in sorted(folder.glob("*.yaml")):
        try:
            docs = list(yaml.safe_load_all(path.read_text(encoding="utf-8")))
        except yaml.YAMLError:
            raise KubeError(f"{path.name} is not valid YAML", fix="render it again") from None
        objects.extend(d for d in docs if isinstance(d, dict))
    if not objects:
        raise UsageError(
            f"manifests-dir {folder} holds no manifests",
            fix="run render-manifests first and pass its manifests-dir output",
        )
    record_path = folder / RENDER_RECORD
    record: dict[str, Any] = {}
    if record_path.is_file():
        loaded = json.loads(record_path.read_text(encoding="utf-8"))
        record = loaded if isinstance(loaded, dict) else {}
    return objects, record


def apply_manifests(rt: Runtime) -> None:
    secrets = mask_secrets(rt, rt.input("secrets"))  # only an auto-rollback renders again
    folder = Path(rt.input("manifests-dir"))
    dry_run = rt.boolean("dry-run")
    force = rt.boolean("force-conflicts")
    # an empty timeout means the config's kubernetes.rollout-timeout
    timeout = rollout_timeout_input(rt) if rt.input("timeout") else None
    objects, record = read_manifests(folder)
    environment = rt.input("environment") or str(record.get("environment") or "")
    if not environment:
        environment = resolve_environment(rt)
    config = load_config(rt)
    mask_named_secrets(rt, config)
    config.environment(environment)  # NotFoundError naming the known ones
    sha = str(record.get("sha") or "")
    dep_id = record.get("deployment_id") or deployment_id_if_any(rt) or ""

    from commit_train.kube.client import api_client

    with tempfile.TemporaryDirectory(prefix="commit-train-kube-") as scratch:
        kubeconfig: Path | None = None
        if rt.input("kubeconfig"):
            kubeconfig = Path(scratch) / "kubeconfig"
            kubeconfig.touch(mode=0o600)
            kubeconfig.write_text(rt.input("kubeconfig"), encoding="utf-8")

        def make_client() -> Any:
            return api_client(kubeconfig=kubeconfig, environ=rt.environ)

        deploy_run = DeployRun(
            sha=sha,
            environment=environment,
            config=config,
            make_client=make_client,
            applyset=applyset_name(rt.context.repository),
            deployment_id=dep_id,
            how=RunOptions(
                timeout=timeout,
                dry_run=dry_run,
                force=force,
                run_url=rt.context.run_url,
                on_line=lambda line: rt.log(rt.redact(line)),
                group=rt.group,
            ),
        )
        with stopping_on_signals():
            try:
                run = apply_and_wait(deploy_run, objects)
                rollback = None
                if not run.ok and deploy_run.rolls_back:
                    rollback = roll_back(rt, deploy_run, secrets=secrets)
            except Stopped as stopped:
                record_stopped(rt, dep_id, stopped)
                raise
    rt.set_output("changed", run.changed)
    rt.set_output("rollout", run.rollout)
    rt.set_json_output(
        "result",
        {
            "environment": environment,
            "dry_run": dry_run,
            **run_json(run, brief=True),
            "rollback": rollback_json(rollback),
        },
    )
    rows = [_row(r.ref.kind, r.ref.namespace, r.ref.name, r.action.value) for r in run.objects]
    diagnosis = ""
    if not run.ok and len(run.details) > 2:
        diagnosis = "\n```\n" + "\n".join(run.details[2:]) + "\n```\n"
    rt.summary(
        f"### Apply to {environment}: {run.apply_line}\n\n"
        + _row("kind", "namespace", "name", "action")
        + "\n| --- | --- | --- | --- |\n"
        + "\n".join(rows)
        + f"\n\nRollout: **{run.rollout}**: {run.rollout_line}\n"
        + diagnosis
        + (f"\n{rt.redact(rollback.line)}\n" if rollback is not None else "")
    )
    rt.log(f"{run.apply_line}; rollout {run.rollout}: {run.rollout_line}")
    if not run.ok:
        for line in run.details[2:]:
            rt.log(line)
        raise RolloutError(run.summary)  # the cause first, the same line the CLI prints


def record_stopped(rt: Runtime, deployment_id: object, stopped: Stopped) -> None:
    """A signal stopped the apply step (a cancelled run: SIGINT, then SIGTERM; a runner
    shutting down): record ``error`` "stopped by SIGTERM" on the deployment now, within
    the signal's grace, since the runner may never run the final step. The final
    set-deployment-status step then records nothing again (``JOB_FINAL_RECORDED``); the
    step's own report still leaves the reason for it. No token or no deployment: only that
    report."""
    text = str(deployment_id or "")
    if not rt.input("token") or not text.isdigit():
        return
    try:
        backend = github_backend(rt)
        within_seconds(
            stopped.grace,
            lambda: backend.add_status(
                int(text),
                state=DeployState.ERROR,
                description=str(stopped),
                log_url=rt.context.run_url or None,
            ),
        )
    except Exception as exc:  # the stop is what the step reports; this is a warning
        rt.warning(rt.redact(f"could not record error on deployment {text}: {exc}"))
        return
    rt.export(JOB_FINAL_RECORDED, text)
    rt.log(f"deployment {text}: error {stopped}")


def roll_back(
    rt: Runtime, failed: DeployRun, *, secrets: Mapping[str, Any]
) -> RollbackResult | None:
    """Auto-rollback on the runner, the CLI's way (``rollback.restore_previous``): the
    previous successful deploy of the environment, from the ledger (the ``token`` input),
    its tree from the checkout (``fetch-depth: 0``), rendered with the ``secrets`` input
    and applied as a new deployment with its own statuses. The failed deployment itself
    ends ``failure`` in the final set-deployment-status step. No token: a warning."""
    import dataclasses

    from commit_train.gitrepo import GitRepo
    from commit_train.models import Event
    from commit_train.render.manifests import SECRETS_BLOB

    environment, config = failed.environment, failed.config
    if not rt.input("token"):
        rt.warning(
            f"auto-rollback is on for {environment}, but the token input is empty; roll "
            "back with commit-train rollback",
            title="commit-train apply",
        )
        return None
    with github_backend(rt) as backend:
        train = make_train(rt, backend, config)
        env = {**rt.environ, SECRETS_BLOB: json.dumps(secrets)}
        rollback = restore_previous(
            dataclasses.replace(failed, how=dataclasses.replace(failed.how, env=env)),
            train=train,
            git=GitRepo(workspace(rt)),
        )
        if rollback.deployment is not None:
            warn_all(
                rt,
                train.notify_deploy(
                    rollback.deployment,
                    Event.ROLLED_BACK,
                    run_url=rt.context.run_url,
                    detail=rollback.line,
                ),
            )
    if not rollback.ok:
        rt.warning(rt.redact(rollback.line), title="commit-train apply: auto-rollback")
    return rollback


# ----------------------------------------------------------------------------- statuses


def set_deployment_status(rt: Runtime) -> None:
    requested = rt.input("state")
    states = [s.value for s in DeployState if s != DeployState.NONE]
    if requested not in states:
        raise UsageError(
            f"input 'state' must be one of {', '.join(states)}, got {requested!r}",
            fix="use GitHub's deployment status states",
        )
    state = DeployState(requested)
    description = rt.input("description")
    if state in (DeployState.FAILURE, DeployState.ERROR):
        recorded = rt.job_value(JOB_FAILURE)
        if rt.job_value(JOB_FAILURE_STATE) == DeployState.ERROR.value:
            state = DeployState.ERROR  # the failing step knew better than "the job failed"
        description = description or recorded or "the deploy failed; see the run log"
    deployment_id = resolve_deployment_id(rt)
    log_url = rt.input("log-url") or rt.context.run_url
    environment_url = rt.optional("environment-url")
    if state.finished and rt.job_value(JOB_FINAL_RECORDED) == str(deployment_id):
        # a step stopped by a signal recorded the deployment's end itself (record_stopped)
        rt.set_output("deployment-id", str(deployment_id))
        rt.set_output("state", DeployState.ERROR.value)
        rt.log(f"deployment {deployment_id}: its final status is already recorded")
        return
    config = notify_config(rt)
    backend = github_backend(rt)
    with backend:
        train = make_train(rt, backend, config)
        status = train.set_status(
            deployment_id,
            state,
            description=description,
            log_url=log_url,
            environment_url=environment_url,
        )
        notify_status(rt, train, deployment_id, status.state, status.description, log_url)
        if status.state == DeployState.IN_PROGRESS:
            supersede_older(rt, train, deployment_id)
    rt.set_output("deployment-id", str(deployment_id))
    rt.set_output("state", status.state.value)
    rt.log(f"deployment {deployment_id}: {status.state.value} {status.description}".rstrip())
    rt.summary(
        f"### Deployment {deployment_id}: {status.state.value}\n\n{status.description}\n"
        + (f"\n[Run log]({log_url})\n" if log_url else "")
    )


def supersede_older(rt: Runtime, train: Train, deployment_id: int) -> None:
    """Once a deploy started, close the older ones of its environment that never will
    (``Train.supersede``: their runs were cancelled while queued). Housekeeping: a failure
    here is a warning, the in_progress status is already recorded."""
    event = rt.event()
    sha = event.sha if isinstance(event, DeploymentEvent) else ""
    try:
        closed = train.supersede(deployment_id, environment=event_environment(rt), sha=sha)
    except CommitTrainError as exc:
        rt.warning(
            rt.redact(f"could not close older queued deploys: {exc}"),
            title=f"commit-train {rt.spec.name}",
        )
        return
    for dep in closed:
        rt.log(f"deployment {dep.id} ({dep.short_sha}): error {dep.statuses[-1].description}")


# What each recorded state tells the environment's route (the apply action keeps no ledger,
# so on the runner this step is where a deploy's start and end are known).
STATE_EVENTS = {
    DeployState.IN_PROGRESS: "deploy-started",
    DeployState.SUCCESS: "deploy-succeeded",
    DeployState.FAILURE: "deploy-failed",
    DeployState.ERROR: "deploy-failed",
}


def notify_config(rt: Runtime) -> Config:
    """The config for notifications only: none when the file is not checked out (this step
    also runs when the job failed early), and a bad one is a warning: recording the status
    matters more than telling about it."""
    name = rt.input("config")
    path = Path(name) if Path(name).is_absolute() else workspace(rt) / name
    if not path.exists():
        return Config()
    try:
        return load_config(rt)
    except ConfigError as exc:
        rt.warning(rt.redact(f"no notifications: {exc}"), title=f"commit-train {rt.spec.name}")
        return Config()


def notify_status(
    rt: Runtime,
    train: Train,
    deployment_id: int,
    state: DeployState,
    description: str,
    log_url: str | None,
) -> None:
    """Tell the environment's route that the deploy started, succeeded or failed.

    No request when no route wants the event; the deployment comes from the event when it
    is this run's, else one read."""
    from commit_train.core.routes import routes_for
    from commit_train.models import Event

    name = STATE_EVENTS.get(state)
    if name is None:
        return
    event = Event(name)

    def wanted(environment: str) -> bool:
        return any(event.value in r.events for r in routes_for(train.config, environment))

    known = event_environment(rt)
    if known is not None and not wanted(known):
        return
    if known is None and not any(wanted(e) for e in train.config.environments):
        return
    deployment = deployment_from_event(rt, deployment_id)
    if deployment is None:
        deployment = train.backend.get_deployment(deployment_id)
    if not wanted(deployment.environment):
        return
    detail = description if event == Event.DEPLOY_FAILED else ""
    warn_all(rt, train.notify_deploy(deployment, event, run_url=log_url, detail=detail))


def deployment_from_event(rt: Runtime, deployment_id: int) -> Deployment | None:
    """The deployment the ``deployment`` event carries, when it is ``deployment_id``."""
    event = rt.event()
    if not isinstance(event, DeploymentEvent) or event.deployment_id != deployment_id:
        return None
    return Deployment(
        id=event.deployment_id,
        sha=event.sha,
        environment=event.environment,
        creator=event.creator,
        created_at=utc_now(),
        payload=event.payload,
        description=event.description,
    )


def create_deployment(rt: Runtime) -> None:
    """For ``workflow_dispatch``: GitHub runs no workflow for a deployment made with the
    job's own token, so the run creates it and carries it out itself."""
    environment = rt.input("environment")
    ref = rt.input("ref")
    config = load_config(rt)
    with github_backend(rt) as backend:
        result = make_train(rt, backend, config).deploy(environment, ref)
    warn_all(rt, result.warnings)
    deployment = result.deployment
    if deployment is None:  # only a dry run returns no deployment, and this is none
        raise UsageError(f"no deployment was created for {environment}")
    rt.export(JOB_DEPLOYMENT_ID, str(deployment.id))
    rt.set_output("deployment-id", str(deployment.id))
    rt.set_output("sha", deployment.sha)
    rt.set_output("environment", deployment.environment)
    rt.log(result.action)
    rt.summary(f"### Deployment {deployment.id}\n\n{result.action}\n")


# ----------------------------------------------------------------------------- stale commits


def with_threshold(config: Config, environment: str, seconds: float) -> Config:
    """``config`` with ``environment``'s ``stale-after`` set to ``seconds`` (the action's
    ``threshold`` input, or its default), adding the environment when it is not there."""
    from commit_train.config import Environment

    env = config.environments.get(environment) or Environment()
    environments = {
        **config.environments,
        environment: env.model_copy(update={"stale_after": seconds}),
    }
    return config.model_copy(update={"environments": environments})


def stale_commit_notifier(rt: Runtime) -> None:
    """``Train.stale`` for one environment: every stale commit in the outputs and the job
    summary; the ones not reminded before (a mark per environment, kept in the repository)
    to the environment's notification route and, once delivered there, as one
    ``::warning::``; a reminder not delivered (no route, a failing webhook) is a warning
    and stays due for the next run; quiet while locked.
    """
    from commit_train.core.text import duration
    from commit_train.models import describe_lock

    environment = rt.input("environment")
    config = load_config(rt)
    if rt.input("threshold"):
        threshold = duration_input(rt, "threshold")
    else:
        env = config.environments.get(environment)
        configured = env.stale_after if env is not None else None
        threshold = configured or parse_duration(DEFAULT_STALE_THRESHOLD)
    config = with_threshold(config, environment, threshold)
    with github_backend(rt) as backend:
        train = make_train(rt, backend, config)
        report, warnings = train.stale(environment)
        closed = sweep_abandoned(rt, train, environment)
    warn_all(rt, warnings)
    [found] = report.environments
    stale, reminded = found.stale, {c.sha for c in found.reminded}
    unsent = {c.sha for c in found.remind} - reminded
    rt.set_output("count", str(len(stale)))
    rt.set_json_output(
        "result",
        {
            "environment": environment,
            "abandoned": [d.id for d in closed],
            "live": found.live_sha,
            "threshold_seconds": threshold,
            "quiet": found.quiet,
            "stale": [
                {
                    "sha": c.sha,
                    "title": c.title,
                    "author": c.author,
                    "age_seconds": c.age_seconds,
                }
                for c in stale
            ],
            "due": [c.sha for c in found.remind],
            "reminded": [c.sha for c in found.reminded],
        },
    )
    if closed:
        rt.summary(
            f"### Abandoned deploys closed in {environment}\n\n"
            + "\n".join(
                f"- deployment {d.id} (`{d.short_sha}`): {d.statuses[-1].description}"
                for d in closed
            )
            + "\n"
        )
    after = duration(threshold)
    heading = f"### Commits waiting for {environment}"
    if found.quiet == "locked" and found.lock is not None:
        rt.summary(f"{heading}\n\nQuiet while locked: {describe_lock(found.lock)}.\n")
        rt.log(f"{environment}: quiet while locked ({plural(len(stale), 'stale commit')})")
        return
    if found.quiet == "never-deployed":
        rt.summary(f"{heading}\n\n{environment} has never been deployed: nothing to compare.\n")
        rt.log(f"{environment}: never deployed, no stale commits")
        return
    if not stale:
        rt.summary(f"{heading}\n\nNothing older than {after} is waiting.\n")
        rt.log(f"{environment}: no stale commits")
        return
    lines = [
        heading,
        "",
        f"{plural(len(stale), 'commit')} merged more than {after} ago "
        f"{'is' if len(stale) == 1 else 'are'} not live in "
        f"{environment} (live: `{(found.live_sha or '')[:7]}`); "
        f"{len(reminded)} reminded by this run.",
        "",
        _row("commit", "title", "author", "waiting", "reminded"),
        "| --- | --- | --- | --- | --- |",
    ]
    lines += [
        _row(
            f"`{c.sha[:7]}`",
            c.title,
            c.author,
            c.age,
            "now" if c.sha in reminded else "not sent" if c.sha in unsent else "before",
        )
        for c in stale
    ]
    rt.summary("\n".join(lines) + "\n")
    if reminded:
        rt.warning(
            f"{plural(len(reminded), 'commit')} {'has' if len(reminded) == 1 else 'have'} "
            f"waited more than {after} for {environment}",
            title="commit-train: stale commits",
        )
    elif unsent:
        rt.log(f"{environment}: {len(unsent)} stale commit(s) to remind, not sent")
    else:
        rt.log(f"{environment}: {plural(len(stale), 'stale commit')}, all reminded before")


def sweep_abandoned(rt: Runtime, train: Train, environment: str) -> list[Deployment]:
    """The scheduled run also closes the environment's deploys whose process died
    (``service.abandon``). Housekeeping: without ``deployments: write`` (a template from
    before this step swept) or with GitHub failing, a warning, and the scan still counts."""
    from commit_train.service.abandon import sweep

    try:
        report = sweep(train, environment)
    except CommitTrainError as exc:
        rt.warning(
            rt.redact(
                f"could not close abandoned deploys in {environment}: {exc}; "
                "give the job deployments: write"
            ),
            title=f"commit-train {rt.spec.name}",
        )
        return []
    for dep in report.abandoned:
        rt.log(f"deployment {dep.id} ({dep.short_sha}): error {dep.statuses[-1].description}")
    return list(report.abandoned)


# ----------------------------------------------------------------------------- the commands


BODIES: Mapping[str, Callable[[Runtime], None]] = {
    "build-gate": build_gate,
    "render-manifests": render_manifests,
    "apply": apply_manifests,
    "set-deployment-status": set_deployment_status,
    "create-deployment": create_deployment,
    "stale-commit-notifier": stale_commit_notifier,
}


@click.group("action")
def action() -> None:
    """The steps of commit-train's GitHub Actions (inputs come from INPUT_* variables)."""


def _command(name: str) -> click.Command:
    spec = SPECS[name]
    body = BODIES[name]

    @click.command(name, help=f"Run the {name} action step (see docs/actions/{name}.md).")
    def command() -> None:
        run_step(spec, body)

    return command


for _name in BODIES:
    action.add_command(_command(_name))


if (
    __name__ == "__main__"
):  # python -m commit_train.faces.actions.steps NAME (before the CLI has it)
    action()
