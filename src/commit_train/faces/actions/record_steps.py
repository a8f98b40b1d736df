"""The steps that record and remind: ``set-deployment-status`` (the one final status of a
deploy, and its notification), ``create-deployment`` and ``stale-commit-notifier`` (with the
sweep of abandoned deploys).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from commit_train.config import Config, parse_duration
from commit_train.core.text import plural
from commit_train.errors import (
    CommitTrainError,
    ConfigError,
    UsageError,
)
from commit_train.faces.actions.frame import (
    DEFAULT_STALE_THRESHOLD,
    duration_input,
    event_environment,
    github_backend,
    load_config,
    make_train,
    resolve_deployment_id,
    summary_row,
    warn_all,
    workspace,
)
from commit_train.faces.actions.io import (
    JOB_DEPLOYMENT_ID,
    JOB_FAILURE,
    JOB_FAILURE_STATE,
    JOB_FINAL_RECORDED,
    DeploymentEvent,
    Runtime,
)
from commit_train.models import Deployment, DeployState, utc_now
from commit_train.service.train import Train

if TYPE_CHECKING:
    pass

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
        summary_row("commit", "title", "author", "waiting", "reminded"),
        "| --- | --- | --- | --- | --- |",
    ]
    lines += [
        summary_row(
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
        rt.log(f"{environment}: {plural(len(unsent), 'stale commit')} to remind, not sent")
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
