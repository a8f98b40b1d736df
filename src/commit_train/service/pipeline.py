"""One deploy run, in one place: render, apply, wait, diagnose, record, roll back.

Both surfaces call this: the ``apply`` action step (``apply_and_wait`` on the manifests the
render step left) and ``commit-train apply`` (``deploy``: render the commit's tree, apply,
wait, and record every step in the ledger).

::

    deploy(root, config, environment=..., sha=..., ...)
      -> ledger: in_progress                       (when a deployment and a train are given)
      -> render.render(...)                        templates of that commit -> manifests
      -> apply_and_wait(...)                       kube.apply (ApplySet) + kube.wait
           -> on failure: kube.diagnose's lines    (the summary names the cause)
      -> ledger: success | failure | error         never left in_progress, whatever raised
      -> auto-rollback (opt-in per environment) when the rollout failed:
           previous successful deploy of the environment (another commit)
           -> a NEW deployment of that commit, payload {"rollback_of": <failed sha>, "auto": true}
           -> its tree exported from git, rendered, applied, waited for
           -> in_progress, then success | failure on that new deployment

Why a new deployment for the rollback rather than more statuses on the failed one: the
ledger must say what is running. The failed deployment ends ``failure`` (it did fail);
the rollback is a deploy of another commit, by commit-train, with its own result, and when
it succeeds GitHub marks it live (and the older ones inactive), so ``status`` and
``history`` tell the truth without knowing anything about rollbacks.

The kube client is made by a factory the caller passes (``api_client`` with the user's
kubeconfig, or the emulator's in tests) and closed here. Every line handed to ``on_line``
has secret values replaced (``redact``); nothing here prints.
"""

from __future__ import annotations

import contextlib
import dataclasses
import re
import tempfile
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from commit_train import config as config_module
from commit_train.config import Config
from commit_train.core.redact import REDACTED, redact_text
from commit_train.core.text import clip
from commit_train.errors import (
    CommitTrainError,
    ConfigError,
    KubeError,
    RefusedError,
    RenderError,
    SurroundingsError,
    TemporaryError,
)
from commit_train.models import Deployment, DeployState

if TYPE_CHECKING:
    from commit_train.gitrepo import GitRepo
    from commit_train.kube.apply import ObjectResult
    from commit_train.render.templates import Rendered
    from commit_train.service.train import DeployResult, Train

ApiFactory = Callable[[], Any]
"""Makes a ``kubernetes.client.ApiClient``; the pipeline closes it when done."""
Lines = Callable[[str], None]
Group = Callable[[str], AbstractContextManager[None]]

NO_PREVIOUS = "no-previous-deploy"
"""``RefusedError.reason`` when there is no earlier good commit to roll back to."""


def _nothing(_line: str) -> None:
    return None


@contextlib.contextmanager
def _no_group(_title: str) -> Iterator[None]:
    yield


def applyset_name(repository: str) -> str:
    """The ApplySet that holds a service's objects: its repository's name, lower-cased
    and cleaned (``acme/Shop_API`` -> ``shop-api``); the same from Actions and the CLI."""
    name = repository.rpartition("/")[2].lower()
    name = re.sub(r"[^a-z0-9.-]+", "-", name).strip("-.")
    return name or "commit-train"


def failure_state(error: BaseException) -> DeployState:
    """``failure`` when the change itself is wrong (refused, a bad config or template, a
    manifest the cluster refuses, a conflict, a failed rollout), ``error`` when its
    surroundings broke (``SurroundingsError``, ``TemporaryError``: the cluster unreachable,
    GitHub down, credentials refused) or the cause is unknown (a bug). Only ``failure``
    counts in the change failure rate."""
    if isinstance(error, SurroundingsError | TemporaryError):
        return DeployState.ERROR
    if isinstance(error, RefusedError | ConfigError | RenderError | KubeError):
        return DeployState.FAILURE
    return DeployState.ERROR


# ----------------------------------------------------------------------------- results


@dataclass(frozen=True)
class RunResult:
    """One apply and the wait that followed it.

    ``rollout`` is ``complete``, ``skipped`` (dry run), ``failed`` or ``timed-out``.
    ``summary`` is one line of at most 140 characters (the deployment status description);
    ``details`` is everything a person on call reads: the apply's line, the wait's line and
    each unfinished workload's diagnosis.
    """

    environment: str
    namespace: str
    sha: str
    dry_run: bool
    objects: tuple[ObjectResult, ...]
    counts: Mapping[str, int]
    apply_line: str
    rollout: str
    rollout_line: str
    summary: str
    details: tuple[str, ...]

    @property
    def ok(self) -> bool:
        return self.rollout in ("complete", "skipped")

    @property
    def changed(self) -> bool:
        return any(r.action.value != "unchanged" for r in self.objects)


@dataclass(frozen=True)
class RollbackResult:
    """What auto-rollback did after a failed rollout.

    ``sha`` is the commit restored (None when there was none to go back to),
    ``deployment`` the new deployment that records it, ``run`` its apply and wait (None
    when it could not get that far), ``line`` one sentence for a person.
    """

    failed_sha: str
    sha: str | None
    deployment: Deployment | None
    run: RunResult | None
    line: str

    @property
    def ok(self) -> bool:
        return self.run is not None and self.run.ok


@dataclass(frozen=True)
class PipelineResult:
    """A whole deploy run: the rendered object count, the run, and any rollback."""

    environment: str
    sha: str
    deployment: Deployment | None
    rendered: int
    run: RunResult
    rollback: RollbackResult | None = None
    notes: tuple[str, ...] = ()
    warnings: tuple[str, ...] = field(default=())

    @property
    def ok(self) -> bool:
        return self.run.ok

    @property
    def summary(self) -> str:
        return self.run.summary


# ----------------------------------------------------------------------------- apply + wait


def apply_and_wait(
    make_client: ApiFactory,
    objects: Sequence[Mapping[str, Any]],
    *,
    environment: str,
    namespace: str,
    applyset: str,
    sha: str,
    deployment_id: int | str | None,
    run_url: str | None,
    timeout: float,
    dry_run: bool = False,
    force: bool = False,
    on_line: Lines = _nothing,
    group: Group = _no_group,
    secret_values: frozenset[str] = frozenset(),
) -> RunResult:
    """Server-side apply ``objects`` as ApplySet ``applyset`` and wait for the rollouts.

    Every object is annotated with ``sha``, ``deployment_id`` and ``run_url``. A dry run
    applies with ``dryRun=All`` and waits for nothing. Raises ``KubeError`` when the apply
    itself is refused (a conflict names the other field manager) or the cluster cannot be
    reached; a rollout that fails or times out is a ``RunResult`` that is not ``ok``.
    """
    from commit_train.kube.apply import apply, deploy_annotations
    from commit_train.kube.wait import wait_for_rollouts

    def say(line: str) -> None:
        on_line(redact_text(line, secret_values))

    client = make_client()
    try:
        with group(f"Apply {len(objects)} object(s) to {namespace}"):
            result = apply(
                client,
                objects,
                applyset=applyset,
                namespace=namespace,
                annotations=deploy_annotations(
                    sha=sha, deployment_id=deployment_id or "", run_url=run_url
                ),
                force=force,
                dry_run=dry_run,
                secret_values=secret_values,
            )
            objects_done = tuple(
                dataclasses.replace(r, diff=tuple(_safe_diff(d, secret_values) for d in r.diff))
                for r in result.results
            )
            for item in objects_done:
                say(f"{item.ref}: {item.action.value}")
                for line in item.diff:
                    say(f"    {line}")
        diagnosis_lines: list[str] = []
        cause = ""
        if dry_run:
            rollout, wait_line = "skipped", "dry run: no rollout"
        else:
            with group(f"Wait for {len(result.workloads)} rollout(s)"):
                waited = wait_for_rollouts(
                    client, result.workloads, timeout=timeout, on_progress=say
                )
            rollout = "complete" if waited.ok else "timed-out" if waited.timed_out else "failed"
            wait_line = waited.summary_line
            for status in waited.failing:
                diagnosis = waited.diagnoses.get(status.ref)
                if diagnosis is None:
                    continue
                cause = cause or diagnosis.summary
                diagnosis_lines.extend(diagnosis.details)
    finally:
        client.close()
    apply_line = result.summary_line
    if rollout in ("complete", "skipped"):
        summary = f"{apply_line}; {wait_line}"
    else:
        what = "rollout timed out" if rollout == "timed-out" else "rollout failed"
        summary = f"{what}: {cause}" if cause else wait_line
    details = (apply_line, f"rollout {rollout}: {wait_line}", *diagnosis_lines)
    return RunResult(
        environment=environment,
        namespace=namespace,
        sha=sha,
        dry_run=dry_run,
        objects=objects_done,
        counts=result.counts,
        apply_line=apply_line,
        rollout=rollout,
        rollout_line=redact_text(wait_line, secret_values),
        summary=clip(redact_text(summary, secret_values)),
        details=tuple(redact_text(line, secret_values) for line in details),
    )


def _safe_diff(line: str, secret_values: frozenset[str]) -> str:
    """A dry run's ``path: old -> new`` line with secrets hidden. When one side is a known
    secret, the other side is hidden too: after a rotation the live (old) value is a secret
    this render no longer knows, and it must not show next to the redacted new one."""
    shown = redact_text(line, secret_values)
    if REDACTED in shown and " -> " in shown:
        path = shown.split(": ", 1)[0]
        return f"{path}: {REDACTED} -> {REDACTED}"
    return shown


# ----------------------------------------------------------------------------- a commit's tree


@contextlib.contextmanager
def commit_tree(git: GitRepo, sha: str) -> Iterator[Path]:
    """A temporary folder holding the tree of ``sha`` (removed afterwards)."""
    with tempfile.TemporaryDirectory(prefix="commit-train-tree-") as scratch:
        yield git.export(sha, Path(scratch) / "tree")


def tree_config(root: Path, fallback: Config) -> Config:
    """The commit's own ``.commit-train.yml`` (templates, values, image and namespace of
    that commit), else ``fallback`` when the commit has none."""
    loaded = config_module.load(root)
    return loaded.config if loaded.path is not None else fallback


# ----------------------------------------------------------------------------- previous good


def live_deployment(deployments: Sequence[Deployment], *, environment: str) -> Deployment | None:
    """The live deployment of ``environment``: the newest that ever succeeded (GitHub
    marks the older ones inactive). ``deployments`` is newest first."""
    return next((d for d in deployments if d.environment == environment and d.ever_succeeded), None)


def previous_success(
    deployments: Sequence[Deployment],
    *,
    environment: str,
    not_sha: str,
    older_than: Deployment | None = None,
) -> tuple[Deployment | None, list[str]]:
    """The deployment to go back to, and the shas passed over because they were rolled back.

    The newest deployment of ``environment`` that ever succeeded (and is older than
    ``older_than``, when given) whose commit is neither ``not_sha`` (the live or the failed
    commit: applying it again cannot help) nor one that a newer deployment rolled back from
    (its payload's ``rollback_of``): a commit somebody rolled back is never restored, so
    rolling back twice never returns to the bad commit. ``deployments`` is newest first,
    as the backends answer.
    """
    rolled_back: list[str] = []
    passed: list[str] = []
    reached = older_than is None
    for dep in deployments:
        if dep.environment != environment:
            continue
        if reached and dep.ever_succeeded and dep.sha != not_sha:
            if dep.sha not in rolled_back:
                return dep, passed
            if dep.sha not in passed:
                passed.append(dep.sha)
        if older_than is not None and dep.id == older_than.id:
            reached = True
        rolled = dep.payload.get("rollback_of")
        if isinstance(rolled, str) and rolled not in rolled_back:
            rolled_back.append(rolled)
    return None, passed


def failed_since_live(
    deployments: Sequence[Deployment], *, environment: str, live: Deployment
) -> Deployment | None:
    """The deployment the cluster may run instead of ``live``: the newest finished
    deployment of ``environment`` when it started (reached ``in_progress``), failed
    (``failure`` or ``error``) and was of another commit. A failed rollout stays on the
    cluster until something replaces it; a deploy superseded before it started never
    touched it. ``deployments`` is newest first."""
    newest = next(
        (d for d in deployments if d.environment == environment and d.state.finished), None
    )
    if newest is None or newest.sha == live.sha:
        return None
    if newest.state not in (DeployState.FAILURE, DeployState.ERROR):
        return None
    started = any(s.state == DeployState.IN_PROGRESS for s in newest.statuses)
    return newest if started else None


def rollback_target(train: Train, environment: str) -> tuple[Deployment, Deployment]:
    """For ``commit-train rollback``: the deployment to roll back from and the one to go
    back to. When the newest finished deploy failed after it started on another commit
    (``failed_since_live``: it may still run on the cluster), that one is rolled back to
    the live commit; otherwise the live one is rolled back to ``previous_success`` (an
    earlier good commit, never one rolled back before). ``RefusedError`` (reason
    ``no-previous-deploy``) when there is no live deploy or nothing to go back to."""
    from commit_train.service.train import HISTORY_LIMIT_MAX

    train.config.environment(environment)  # NotFoundError naming the known ones
    history = train.backend.deployments(environment=environment, limit=HISTORY_LIMIT_MAX)
    live = live_deployment(history, environment=environment)
    if live is None:
        raise RefusedError(
            f"{environment} has no successful deploy, so there is nothing to roll back",
            reason=NO_PREVIOUS,
            fix="deploy a commit with commit-train deploy",
        )
    failed = failed_since_live(history, environment=environment, live=live)
    if failed is not None:
        return failed, live
    target, passed = previous_success(
        history, environment=environment, not_sha=live.sha, older_than=live
    )
    if target is None:
        skipped = ", ".join(sha[:7] for sha in passed)
        raise RefusedError(
            f"{environment} has no successful deploy of a commit before {live.short_sha}"
            + (f" other than {skipped} (rolled back before)" if passed else "")
            + ", so there is nothing to roll back to",
            reason=NO_PREVIOUS,
            fix="deploy the commit you want with commit-train deploy",
        )
    return live, target


def request_rollback(
    train: Train, environment: str, *, dry_run: bool = False
) -> tuple[DeployResult, Deployment]:
    """Deploy the previous good commit of ``environment`` through the normal path
    (``Train.deploy``: the gate, then a deployment with a ``queued`` status) whose payload
    says which commit it rolls back. Answers the deploy and the live deployment it rolls
    back."""
    live, target = rollback_target(train, environment)
    return train.deploy(environment, target.sha, dry_run=dry_run, rollback_of=live), live


# ----------------------------------------------------------------------------- the run


@dataclass
class _Recorder:
    """Statuses of one deployment; ``close`` makes sure it never stays in progress."""

    train: Train | None
    deployment: Deployment | None
    log_url: str | None
    secret_values: frozenset[str]
    finished: bool = False

    @property
    def active(self) -> bool:
        return self.train is not None and self.deployment is not None

    def settle(self, state: DeployState, description: str) -> str | None:
        """Record a final status on a failure path: a recording error must not hide the
        failure being recorded, so it is answered as a warning instead of raised."""
        try:
            self.status(state, description)
        except Exception as exc:  # the original error is the one to raise
            return f"could not record {state.value} on deployment: {exc}"
        return None

    def status(
        self, state: DeployState, description: str, *, environment_url: str | None = None
    ) -> None:
        if self.train is None or self.deployment is None:
            return
        self.train.set_status(
            self.deployment.id,
            state,
            description=clip(redact_text(description, self.secret_values)),
            log_url=self.log_url,
            environment_url=environment_url,
        )
        if state.finished:
            self.finished = True


def deploy(
    root: Path,
    config: Config,
    *,
    environment: str,
    sha: str,
    make_client: ApiFactory,
    applyset: str,
    deployment: Deployment | None = None,
    train: Train | None = None,
    git: GitRepo | None = None,
    run_url: str | None = None,
    env: Mapping[str, str] | None = None,
    dry_run: bool = False,
    force: bool = False,
    timeout: float | None = None,
    on_line: Lines = _nothing,
    group: Group = _no_group,
    auto_rollback: bool | None = None,
) -> PipelineResult:
    """Render ``root``'s templates for ``environment`` at ``sha``, apply them, wait.

    With a ``train`` and a ``deployment``, every step is recorded on that deployment
    (``in_progress``, then ``success``/``failure``/``error`` with the one-line summary),
    whatever happens, and notifications go to the environment's route. ``timeout``
    defaults to the config's ``rollout-timeout``; ``auto_rollback`` to the environment's
    ``auto-rollback``, which needs ``train`` (to find and record) and ``git`` (to read the
    previous commit's tree). Raises the render's or the apply's error (after recording it);
    a failed rollout is a result that is not ``ok``.
    """
    import os

    from commit_train.models import Event

    env_config = config.environment(environment)
    wait_for = config.kubernetes.rollout_timeout if timeout is None else timeout
    environ = os.environ if env is None else env
    recorder = _Recorder(train, None if dry_run else deployment, run_url, frozenset())
    warnings: list[str] = []
    recorder.status(DeployState.IN_PROGRESS, f"applying {sha[:7]} to {environment}")
    if recorder.active and train is not None and deployment is not None:
        warnings += train.notify_deploy(deployment, Event.DEPLOY_STARTED, run_url=run_url)
        warnings += _supersede(train, deployment)
    try:
        rendered, run = _render_and_apply(
            root,
            config,
            environment=environment,
            sha=sha,
            deployment=deployment,
            recorder=recorder,
            make_client=make_client,
            applyset=applyset,
            run_url=run_url,
            env=environ,
            timeout=wait_for,
            dry_run=dry_run,
            force=force,
            on_line=on_line,
            group=group,
            announce=True,
        )
    except CommitTrainError as exc:
        line = redact_text(str(exc), recorder.secret_values)
        recorder.settle(failure_state(exc), line)
        if recorder.active and train is not None and deployment is not None:
            warnings += train.notify_deploy(deployment, Event.DEPLOY_FAILED, detail=line)
        raise
    except BaseException as exc:
        recorder.settle(DeployState.ERROR, f"unexpected {type(exc).__name__}: {exc}")
        raise
    if run.ok:
        recorder.status(DeployState.SUCCESS, run.summary, environment_url=env_config.url)
        if recorder.active and train is not None and deployment is not None:
            warnings += train.notify_deploy(deployment, Event.DEPLOY_SUCCEEDED, run_url=run_url)
        return PipelineResult(
            environment=environment,
            sha=sha,
            deployment=deployment,
            rendered=len(rendered.objects),
            run=run,
            notes=rendered.notes,
            warnings=tuple(warnings),
        )
    recorder.status(DeployState.FAILURE, run.summary)
    if recorder.active and train is not None and deployment is not None:
        warnings += train.notify_deploy(deployment, Event.DEPLOY_FAILED, detail=run.summary)
    rollback = None
    wanted = env_config.auto_rollback if auto_rollback is None else auto_rollback
    if wanted and not dry_run:
        rollback = restore_previous(
            train=train,
            git=git,
            fallback=config,
            environment=environment,
            failed_sha=sha,
            make_client=make_client,
            applyset=applyset,
            run_url=run_url,
            env=environ,
            timeout=wait_for,
            on_line=on_line,
            group=group,
        )
        if rollback.deployment is not None and train is not None:
            warnings += train.notify_deploy(
                rollback.deployment, Event.ROLLED_BACK, run_url=run_url, detail=rollback.line
            )
    return PipelineResult(
        environment=environment,
        sha=sha,
        deployment=deployment,
        rendered=len(rendered.objects),
        run=run,
        rollback=rollback,
        notes=rendered.notes,
        warnings=tuple(warnings),
    )


def _render_and_apply(
    root: Path,
    config: Config,
    *,
    environment: str,
    sha: str,
    deployment: Deployment | None,
    recorder: _Recorder,
    make_client: ApiFactory,
    applyset: str,
    run_url: str | None,
    env: Mapping[str, str],
    timeout: float,
    on_line: Lines,
    group: Group,
    dry_run: bool = False,
    force: bool = False,
    announce: bool = False,
) -> tuple[Rendered, RunResult]:
    """The step a deploy and an auto-rollback share: render ``root``'s templates with
    ``config`` for ``deployment`` (its id and requester reach the templates), then apply
    and wait. ``recorder`` learns the secret values as soon as they are known, so whatever
    fails afterwards is recorded redacted. ``announce`` tells ``on_line`` the render's
    notes and object count first."""
    from commit_train.render.templates import DeploymentInfo, render

    info = (
        DeploymentInfo(deployment.id, deployment.requested_by, deployment.url)
        if deployment is not None
        else None
    )
    rendered = render(root, config, environment=environment, sha=sha, deployment=info, env=env)
    recorder.secret_values = rendered.secret_values
    if announce:
        for note in rendered.notes:
            on_line(f"note: {note}")
        on_line(f"rendered {len(rendered.objects)} object(s) for {environment} at {sha[:7]}")
    run = apply_and_wait(
        make_client,
        [m.obj for m in rendered.apply_order()],
        environment=environment,
        namespace=config.namespace_of(environment),
        applyset=applyset,
        sha=sha,
        deployment_id=deployment.id if deployment is not None else None,
        run_url=run_url,
        timeout=timeout,
        dry_run=dry_run,
        force=force,
        on_line=on_line,
        group=group,
        secret_values=rendered.secret_values,
    )
    return rendered, run


def _supersede(train: Train, deployment: Deployment) -> list[str]:
    """``Train.supersede`` once ``deployment`` started; a failure is a warning."""
    try:
        train.supersede(deployment.id, environment=deployment.environment, sha=deployment.sha)
    except CommitTrainError as exc:
        return [f"could not close older queued deploys: {exc}"]
    return []


def restore_previous(
    *,
    train: Train | None,
    git: GitRepo | None,
    fallback: Config,
    environment: str,
    failed_sha: str,
    make_client: ApiFactory,
    applyset: str,
    run_url: str | None,
    env: Mapping[str, str],
    timeout: float,
    on_line: Lines,
    group: Group,
) -> RollbackResult:
    """Re-apply the last good commit's manifests after ``failed_sha``'s rollout failed:
    auto-rollback, for ``deploy`` here and for the ``apply`` action on the runner. The
    previous successful deployment of ``environment`` (another commit) comes from the
    ledger; its tree, from ``git`` (a full clone: ``fetch-depth: 0`` in Actions), is
    rendered with that commit's own config and applied as a new deployment."""
    from commit_train.service.train import HISTORY_LIMIT_MAX

    if train is None or git is None:
        line = (
            "auto-rollback skipped: it needs the deploy ledger and the repository's history "
            "(run commit-train apply, or roll back with commit-train rollback)"
        )
        on_line(line)
        return RollbackResult(failed_sha, None, None, None, line)
    history = train.backend.deployments(environment=environment, limit=HISTORY_LIMIT_MAX)
    previous, _passed = previous_success(history, environment=environment, not_sha=failed_sha)
    if previous is None:
        line = f"auto-rollback skipped: {environment} has no earlier successful deploy to restore"
        on_line(line)
        return RollbackResult(failed_sha, None, None, None, line)
    sha = previous.sha
    on_line(f"auto-rollback: restoring {sha[:7]} in {environment} (rolls back {failed_sha[:7]})")
    title = str(previous.payload.get("title") or previous.description or "")
    deployment = train.record_rollback(environment, sha, title, failed_sha, auto=True)
    recorder = _Recorder(train, deployment, run_url, frozenset())
    recorder.status(DeployState.IN_PROGRESS, f"auto-rollback of {failed_sha[:7]} to {sha[:7]}")
    try:
        with commit_tree(git, sha) as tree:
            _rendered, run = _render_and_apply(
                tree,
                tree_config(tree, fallback),
                environment=environment,
                sha=sha,
                deployment=deployment,
                recorder=recorder,
                make_client=make_client,
                applyset=applyset,
                run_url=run_url,
                env=env,
                timeout=timeout,
                on_line=on_line,
                group=group,
            )
    except CommitTrainError as exc:
        text = redact_text(str(exc), recorder.secret_values)
        recorder.settle(failure_state(exc), f"auto-rollback failed: {text}")
        line = f"auto-rollback to {sha[:7]} failed: {text}"
        on_line(line)
        return RollbackResult(failed_sha, sha, deployment, None, line)
    except BaseException as exc:
        recorder.settle(DeployState.ERROR, f"unexpected {type(exc).__name__}: {exc}")
        raise
    if run.ok:
        recorder.status(
            DeployState.SUCCESS,
            f"rolled back {failed_sha[:7]}: {run.summary}",
            environment_url=fallback.environment(environment).url,
        )
        line = f"auto-rollback restored {sha[:7]} in {environment} (deployment {deployment.id})"
    else:
        recorder.status(DeployState.FAILURE, f"auto-rollback failed: {run.summary}")
        line = f"auto-rollback to {sha[:7]} failed too: {run.summary}"
    on_line(line)
    return RollbackResult(failed_sha, sha, deployment, run, line)


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
    dry_run: bool = False,
    force: bool = False,
    timeout: float | None = None,
    on_line: Lines = _nothing,
    env: Mapping[str, str] | None = None,
) -> PipelineResult:
    """Run the pipeline from this machine for ``deployment`` (None: a dry run), rendering
    ``sha``'s tree from the local repository with that commit's own config."""
    recorder = _Recorder(None if dry_run else train, deployment, None, frozenset())
    with contextlib.ExitStack() as stack:
        try:  # before deploy() records anything: a commit missing here, a bad config in it
            tree = stack.enter_context(commit_tree(git, sha))
            config = tree_config(tree, train.config)
        except CommitTrainError as exc:
            recorder.settle(failure_state(exc), str(exc))
            raise
        return deploy(
            tree,
            config,
            environment=environment,
            sha=sha,
            make_client=make_client,
            applyset=applyset_name(train.backend.repo),
            deployment=deployment,
            train=train,
            git=git,
            env=env,
            dry_run=dry_run,
            force=force,
            timeout=timeout,
            on_line=on_line,
        )


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

    from commit_train.render.templates import DeploymentInfo, render

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
    dry_run: bool = False,
    force: bool = False,
    timeout: float | None = None,
    on_line: Lines = _nothing,
    env: Mapping[str, str] | None = None,
) -> PipelineResult:
    """``commit-train apply``: the gate, a deployment (none in a dry run), then the run.

    Mistakes that show before anything runs (no kubeconfig, an unknown context, an unset
    secret, a template error) raise before the deployment is created (``preflight``), so
    they record nothing and supersede nothing."""
    commit, decision = train.check(environment, ref)
    if not decision.allowed:
        raise RefusedError(decision.message, reason=decision.reason)
    if dry_run:
        sha, deployment = commit.sha, None
    else:
        preflight(
            train, git, environment=environment, sha=commit.sha, make_client=make_client, env=env
        )
        requested = train.deploy(environment, commit.sha)
        deployment = requested.deployment
        sha = requested.commit.sha
        on_line(requested.action)
    return carry_out(
        train,
        git,
        environment=environment,
        sha=sha,
        deployment=deployment,
        make_client=make_client,
        dry_run=dry_run,
        force=force,
        timeout=timeout,
        on_line=on_line,
        env=env,
    )


# ----------------------------------------------------------------------------- JSON shapes


def run_json(run: RunResult, *, brief: bool = False) -> dict[str, Any]:
    """One apply and its wait as JSON. ``brief`` (the ``apply`` action's ``result``
    output) leaves out each object's diff and the summary and details lines: the step
    summary and the log carry those."""
    objects = []
    for r in run.objects:
        obj: dict[str, Any] = {
            "kind": r.ref.kind,
            "namespace": r.ref.namespace,
            "name": r.ref.name,
            "action": r.action.value,
        }
        if not brief:
            obj["diff"] = list(r.diff)
        objects.append(obj)
    shape: dict[str, Any] = {
        "namespace": run.namespace,
        "changed": run.changed,
        "counts": dict(run.counts),
        "objects": objects,
        "rollout": run.rollout,
        "rollout_summary": run.rollout_line,
    }
    if not brief:
        shape["summary"] = run.summary
        shape["details"] = list(run.details)
    return shape


def rollback_json(rollback: RollbackResult | None) -> dict[str, Any] | None:
    """What auto-rollback did, as ``apply --json`` and the ``apply`` action show it."""
    if rollback is None:
        return None
    return {
        "rolls_back": rollback.failed_sha,
        "sha": rollback.sha,
        "deployment_id": rollback.deployment.id if rollback.deployment else None,
        "ok": rollback.ok,
        "line": rollback.line,
        "rollout": rollback.run.rollout if rollback.run else None,
    }


def result_json(result: PipelineResult) -> dict[str, Any]:
    """``commit-train apply --json`` (and ``rollback --apply --json``), version 1."""
    return {
        "version": 1,
        "environment": result.environment,
        "sha": result.sha,
        "deployment_id": result.deployment.id if result.deployment is not None else None,
        "dry_run": result.run.dry_run,
        "ok": result.ok,
        "rendered": result.rendered,
        **run_json(result.run),
        "rollback": rollback_json(result.rollback),
        "notes": list(result.notes),
        "warnings": list(result.warnings),
    }


def rendered_json(rendered: Rendered) -> dict[str, Any]:
    """``commit-train render --json``, version 1: every object redacted."""
    return {
        "version": 1,
        "environment": rendered.environment,
        "sha": rendered.sha,
        "kubernetes_version": rendered.kubernetes_version,
        "notes": list(rendered.notes),
        "objects": [
            {
                "api_version": m.key.api_version,
                "kind": m.key.kind,
                "namespace": m.key.namespace,
                "name": m.key.name,
                "source": m.location,
                "object": rendered.redacted(m),
            }
            for m in rendered.apply_order()
        ],
    }
