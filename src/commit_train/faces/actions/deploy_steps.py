"""The deploy's steps on the runner: ``build-gate`` (the gate again, where the deploy
happens), ``render-manifests`` and ``apply`` (server-side apply, the rollout wait, the
auto-rollback).
"""

from __future__ import annotations

import json
import tempfile
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from commit_train.config import Config
from commit_train.core.gate import CHECKS_PENDING, Decision
from commit_train.core.text import plural
from commit_train.errors import (
    KubeError,
    RefusedError,
    RolloutError,
    Stopped,
    UsageError,
)
from commit_train.faces.actions.frame import (
    GATE_POLL_SECONDS,
    duration_input,
    github_backend,
    load_config,
    make_train,
    resolve_environment,
    resolve_sha,
    rollout_timeout_input,
    summary_row,
    warn_all,
    workspace,
)
from commit_train.faces.actions.io import (
    JOB_DEPLOYMENT_ID,
    JOB_FINAL_RECORDED,
    DeploymentEvent,
    Runtime,
)
from commit_train.faces.signals import stopping_on_signals
from commit_train.models import Commit, DeployState
from commit_train.service.results import RollbackResult, rollback_json, run_json
from commit_train.service.rollback import restore_previous
from commit_train.service.run import (
    DeployRun,
    RunOptions,
    apply_and_wait,
    applyset_name,
    within_seconds,
)
from commit_train.service.train import Train

if TYPE_CHECKING:
    pass

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
        + summary_row("environment", "commit", "reason")
        + "\n| --- | --- | --- |\n"
        + summary_row(environment, f"`{full_sha[:7]}`{title}", decision.reason)
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
        summary_row(m.key.kind, m.key.namespace or "", m.key.name, f"`{m.location}`")
        for m in rendered.apply_order()
    ]
    rt.summary(
        f"### Rendered {plural(len(rendered.objects), 'object')} for {environment} "
        f"at `{sha[:7]}`\n\n"
        + summary_row("kind", "namespace", "name", "template")
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
    rows = [
        summary_row(r.ref.kind, r.ref.namespace, r.ref.name, r.action.value) for r in run.objects
    ]
    diagnosis = ""
    if not run.ok and len(run.details) > 2:
        diagnosis = "\n```\n" + "\n".join(run.details[2:]) + "\n```\n"
    rt.summary(
        f"### Apply to {environment}: {run.apply_line}\n\n"
        + summary_row("kind", "namespace", "name", "action")
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
