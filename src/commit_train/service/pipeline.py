"""One deploy run, in one place: render, apply, wait, diagnose, record, roll back.

``commit-train apply`` calls ``apply_ref`` (the gate, a deployment, then the run);
``commit-train rollback --apply`` calls ``carry_out``; both end in ``deploy``. The
``apply`` action step runs ``service.run.apply_and_wait`` on the manifests the render step
left, and ``service.rollback.restore_previous`` when that rollout failed.

::

    deploy(DeployRun(sha, environment, config, make_client, applyset, root, ...), train, git)
      -> ledger: in_progress                       (when a deployment and a train are given)
      -> render.render(...)                        templates of that commit -> manifests
      -> apply_and_wait(...)                       kube.apply (ApplySet) + kube.wait
           -> on failure: kube.diagnose's lines    (the summary names the cause)
      -> ledger: success | failure | error         never left in_progress, whatever raised
      -> auto-rollback (opt-in per environment) when the rollout failed (service.rollback)

The run's parameters are one ``DeployRun`` (what, where, how; ``service.run``); the faces
build its ``RunOptions`` once. The kube client is made by the factory the caller passes
(``api_client`` with the user's kubeconfig, or the emulator's in tests) and closed after
each apply and wait. The results and their JSON shapes are in ``service.results``.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from typing import TYPE_CHECKING

from commit_train.config import Config
from commit_train.core.redact import redact_text
from commit_train.errors import CommitTrainError, RefusedError, RenderError, Stopped
from commit_train.models import Deployment, DeployState
from commit_train.service.results import PipelineResult
from commit_train.service.rollback import restore_previous
from commit_train.service.run import (
    ApiFactory,
    DeployRun,
    Recorder,
    RunOptions,
    applyset_name,
    commit_tree,
    failure_state,
    render_and_apply,
    tree_config,
)

if TYPE_CHECKING:
    from commit_train.gitrepo import GitRepo
    from commit_train.render.manifests import Rendered
    from commit_train.service.train import Train


def deploy(
    run: DeployRun, *, train: Train | None = None, git: GitRepo | None = None
) -> PipelineResult:
    """Render ``run.root``'s templates for its environment at its sha, apply them, wait.

    With a ``train`` and a deployment, every step is recorded on that deployment
    (``in_progress``, then ``success``/``failure``/``error`` with the one-line summary),
    whatever happens, and notifications go to the environment's route. Auto-rollback
    (``run.rolls_back``) needs ``train`` (to find and record) and ``git`` (to read the
    previous commit's tree). Raises the render's or the apply's error (after recording it:
    ``failure_state`` picks ``failure`` or ``error``); a failed rollout is a result that is
    not ``ok``.
    """
    from commit_train.models import Event

    how = run.how
    environment, sha, deployment = run.environment, run.sha, run.deployment
    env_config = run.config.environment(environment)
    recorder = Recorder(train, None if how.dry_run else deployment, how.run_url, frozenset())
    warnings: list[str] = []
    recorder.status(DeployState.IN_PROGRESS, f"applying {sha[:7]} to {environment}")
    if recorder.active and train is not None and deployment is not None:
        warnings += train.notify_deploy(deployment, Event.DEPLOY_STARTED, run_url=how.run_url)
        warnings += _supersede(train, deployment)
    try:
        rendered, result = render_and_apply(run, recorder, announce=True)
    except CommitTrainError as exc:
        line = redact_text(str(exc), recorder.secret_values)
        recorder.settle(failure_state(exc), line)
        if recorder.active and train is not None and deployment is not None:
            warnings += train.notify_deploy(deployment, Event.DEPLOY_FAILED, detail=line)
        raise
    except Stopped as stopped:  # a signal: record it quickly, tell nobody, and go
        recorder.settle(DeployState.ERROR, str(stopped), within=stopped.grace)
        raise
    except BaseException as exc:
        recorder.settle(DeployState.ERROR, f"unexpected {type(exc).__name__}: {exc}")
        raise
    if result.ok:
        recorder.status(DeployState.SUCCESS, result.summary, environment_url=env_config.url)
        if recorder.active and train is not None and deployment is not None:
            warnings += train.notify_deploy(deployment, Event.DEPLOY_SUCCEEDED, run_url=how.run_url)
        return PipelineResult(
            environment=environment,
            sha=sha,
            deployment=deployment,
            rendered=len(rendered.objects),
            run=result,
            notes=rendered.notes,
            warnings=tuple(warnings),
        )
    recorder.status(DeployState.FAILURE, result.summary)
    if recorder.active and train is not None and deployment is not None:
        warnings += train.notify_deploy(deployment, Event.DEPLOY_FAILED, detail=result.summary)
    rollback = None
    if run.rolls_back:
        rollback = restore_previous(run, train=train, git=git)
        if rollback.deployment is not None and train is not None:
            warnings += train.notify_deploy(
                rollback.deployment, Event.ROLLED_BACK, run_url=how.run_url, detail=rollback.line
            )
    return PipelineResult(
        environment=environment,
        sha=sha,
        deployment=deployment,
        rendered=len(rendered.objects),
        run=result,
        rollback=rollback,
        notes=rendered.notes,
        warnings=tuple(warnings),
    )


def _supersede(train: Train, deployment: Deployment) -> list[str]:
    """``Train.supersede`` once ``deployment`` started; a failure is a warning."""
    try:
        train.supersede(deployment.id, environment=deployment.environment, sha=deployment.sha)
    except CommitTrainError as exc:
        return [f"could not close older queued deploys: {exc}"]
    return []


# ----------------------------------------------------------------------------- from a checkout


def render_ref(
    git: GitRepo,
    config: Config,
    *,
    environment: str,
    ref: str | None,
    env: Mapping[str, str] | None = None,
) -> Rendered:
    """Render for a person to read (``commit-train render``): ``ref``'s tree with its own
    config, or with no ``ref`` the working tree (uncommitted edits included) at ``HEAD``'s
    sha. Secrets missing here render as ``<secret NAME>`` placeholders."""
    import os

    from commit_train.render.templates import render

    environ = os.environ if env is None else env
    if ref is None:
        sha = git.resolve("HEAD").sha
        return render(
            git.root,
            config,
            environment=environment,
            sha=sha,
            env=environ,
            missing_secrets="placeholder",
        )
    sha = git.resolve(ref).sha
    with commit_tree(git, sha) as tree:
        committed = tree_config(tree, config)
        folder = committed.manifests.path.strip("/")
        if not (tree / folder).is_dir():
            raise RenderError(
                f"{folder} is not in commit {sha[:7]}",
                fix="commit it, or render the working tree without REF",
            )
        return render(
            tree,
            committed,
            environment=environment,
            sha=sha,
            env=environ,
            missing_secrets="placeholder",
        )


def carry_out(
    train: Train,
    git: GitRepo,
    *,
    environment: str,
    sha: str,
    deployment: Deployment | None,
    make_client: ApiFactory,
    how: RunOptions,
) -> PipelineResult:
    """Run the pipeline from this machine for ``deployment`` (None: a dry run), rendering
    ``sha``'s tree from the local repository with that commit's own config."""
    recorder = Recorder(None if how.dry_run else train, deployment, None, frozenset())
    with contextlib.ExitStack() as stack:
        try:  # before deploy() records anything: a commit missing here, a bad config in it
            tree = stack.enter_context(commit_tree(git, sha))
            config = tree_config(tree, train.config)
        except CommitTrainError as exc:
            recorder.settle(failure_state(exc), str(exc))
            raise
        run = DeployRun(
            sha=sha,
            environment=environment,
            config=config,
            make_client=make_client,
            applyset=applyset_name(train.backend.repo),
            root=tree,
            deployment=deployment,
            how=how,
        )
        return deploy(run, train=train, git=git)


def preflight(
    train: Train,
    git: GitRepo,
    *,
    environment: str,
    sha: str,
    make_client: ApiFactory,
    env: Mapping[str, str] | None = None,
) -> None:
    """Check what can be checked before a deployment is recorded: the Kubernetes client
    can be built (a kubeconfig, its context) and ``sha``'s tree renders for
    ``environment`` with every secret set. Raises the error the run would raise."""
    import os

    from commit_train.render.manifests import DeploymentInfo
    from commit_train.render.templates import render

    make_client().close()
    with commit_tree(git, sha) as tree:
        render(
            tree,
            tree_config(tree, train.config),
            environment=environment,
            sha=sha,
            deployment=DeploymentInfo(0, train.actor),
            env=os.environ if env is None else env,
        )


def apply_ref(
    train: Train,
    git: GitRepo,
    *,
    environment: str,
    ref: str,
    make_client: ApiFactory,
    how: RunOptions,
) -> PipelineResult:
    """``commit-train apply``: the gate, a deployment (none in a dry run), then the run.

    Mistakes that show before anything runs (no kubeconfig, an unknown context, an unset
    secret, a template error) raise before the deployment is created (``preflight``), so
    they record nothing and supersede nothing."""
    # ``apply`` deploys on purpose (and re-applies a live commit): no "already there" rule
    commit, decision = train.check(environment, ref, again=True)
    if not decision.allowed:
        raise RefusedError(decision.message, reason=decision.reason)
    if how.dry_run:
        sha, deployment = commit.sha, None
    else:
        preflight(
            train,
            git,
            environment=environment,
            sha=commit.sha,
            make_client=make_client,
            env=how.env,
        )
        requested = train.deploy(environment, commit.sha, again=True)
        deployment = requested.deployment
        sha = requested.commit.sha
        how.on_line(requested.action)
    return carry_out(
        train,
        git,
        environment=environment,
        sha=sha,
        deployment=deployment,
        make_client=make_client,
        how=how,
    )
