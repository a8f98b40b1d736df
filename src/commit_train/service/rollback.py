"""Rolling back: which deploy to go back to, and auto-rollback after a failed rollout.

``rollback_target`` and ``request_rollback`` serve ``commit-train rollback``: the
deployment to roll back from and the earlier good one to go back to (never a commit that
was rolled back before). ``restore_previous`` is auto-rollback, for ``apply`` here and for
the ``apply`` action on the runner::

    failed rollout of sha B (auto-rollback on for the environment)
      -> previous successful deploy of the environment (another commit, A)
      -> a NEW deployment of A, payload {"rollback_of": B, "auto": true}
      -> A's tree exported from git, rendered with A's own config, applied, waited for
      -> in_progress, then success | failure on that new deployment

Why a new deployment for the rollback rather than more statuses on the failed one: the
ledger must say what is running. The failed deployment ends ``failure`` (it did fail);
the rollback is a deploy of another commit, by commit-train, with its own result, and when
it succeeds GitHub marks it live (and the older ones inactive), so ``status`` and
``history`` tell the truth without knowing anything about rollbacks.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from commit_train.core.redact import redact_text
from commit_train.errors import CommitTrainError, RefusedError, Stopped
from commit_train.models import (
    LOOK_BACK_DEPLOYMENTS,
    LOOK_BACK_PAGE,
    Deployment,
    DeployState,
    looked_back_phrase,
)
from commit_train.service.results import RollbackResult
from commit_train.service.run import (
    DeployRun,
    Recorder,
    commit_tree,
    failure_state,
    render_and_apply,
    tree_config,
)

if TYPE_CHECKING:
    from commit_train.gitrepo import GitRepo
    from commit_train.ports import Backend
    from commit_train.service.train import DeployResult, Train

NO_PREVIOUS = "no-previous-deploy"
"""``RefusedError.reason`` when there is no earlier good commit to roll back to."""


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


def look_back(
    backend: Backend, environment: str, settled: Callable[[list[Deployment]], bool]
) -> tuple[list[Deployment], bool]:
    """``environment``'s deployments, newest first, read a page (``LOOK_BACK_PAGE``) at a
    time until ``settled`` says the answer is among them, the deployments run out, or
    ``LOOK_BACK_DEPLOYMENTS`` were read; and whether the search was whole (False: it
    stopped at the cap with ``settled`` still unsatisfied). The first page costs what the
    fixed window did (one request on GitHub); the others only come when needed."""
    history: list[Deployment] = []
    for dep in backend.walk_deployments(environment=environment):
        history.append(dep)
        if len(history) % LOOK_BACK_PAGE == 0:
            if settled(history):
                return history, True
            if len(history) >= LOOK_BACK_DEPLOYMENTS:
                return history, False
    return history, True


def _rollback_settled(history: list[Deployment], environment: str) -> bool:
    live = live_deployment(history, environment=environment)
    if live is None:
        return False
    if failed_since_live(history, environment=environment, live=live) is not None:
        return True
    target, _ = previous_success(
        history, environment=environment, not_sha=live.sha, older_than=live
    )
    return target is not None


def rollback_target(train: Train, environment: str) -> tuple[Deployment, Deployment]:
    """For ``commit-train rollback``: the deployment to roll back from and the one to go
    back to. When the newest finished deploy failed after it started on another commit
    (``failed_since_live``: it may still run on the cluster), that one is rolled back to
    the live commit; otherwise the live one is rolled back to ``previous_success`` (an
    earlier good commit, never one rolled back before). ``RefusedError`` (reason
    ``no-previous-deploy``) when there is no live deploy or nothing to go back to, among
    however many deployments (``look_back``: up to ``LOOK_BACK_DEPLOYMENTS``, and then the
    message says how far it looked)."""
    train.config.environment(environment)  # NotFoundError naming the known ones
    history, whole = look_back(
        train.backend, environment, lambda h: _rollback_settled(h, environment)
    )
    how_far = "" if whole else " " + looked_back_phrase(len(history))
    live = live_deployment(history, environment=environment)
    if live is None:
        raise RefusedError(
            f"{environment} has no successful deploy{how_far}, so there is nothing to roll back",
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
            + how_far
            + ", so there is nothing to roll back to",
            reason=NO_PREVIOUS,
            fix="deploy the commit you want with commit-train deploy",
        )
    return live, target


def previous_good(
    backend: Backend, environment: str, *, not_sha: str
) -> tuple[Deployment | None, str]:
    """Auto-rollback's question: the newest deployment of ``environment`` to restore
    after a failed rollout of ``not_sha`` (``previous_success``), looked for however far
    back (``look_back``); when there is none, why not, as words after the environment's
    name ("has no earlier successful deploy to restore")."""
    history, whole = look_back(
        backend,
        environment,
        lambda h: previous_success(h, environment=environment, not_sha=not_sha)[0] is not None,
    )
    previous, _passed = previous_success(history, environment=environment, not_sha=not_sha)
    if previous is not None:
        return previous, ""
    how_far = "" if whole else " " + looked_back_phrase(len(history))
    return None, f"has no earlier successful deploy{how_far} to restore"


def request_rollback(
    train: Train, environment: str, *, dry_run: bool = False
) -> tuple[DeployResult, Deployment]:
    """Deploy the previous good commit of ``environment`` through the normal path
    (``Train.deploy``: the gate, then a deployment with a ``queued`` status) whose payload
    says which commit it rolls back. Answers the deploy and the live deployment it rolls
    back."""
    live, target = rollback_target(train, environment)
    return train.deploy(environment, target.sha, dry_run=dry_run, rollback_of=live), live


def restore_previous(
    failed: DeployRun, *, train: Train | None, git: GitRepo | None
) -> RollbackResult:
    """Re-apply the last good commit's manifests after ``failed``'s rollout failed:
    auto-rollback, for ``deploy`` here and for the ``apply`` action on the runner. The
    previous successful deployment of the environment (another commit) comes from the
    ledger (``train``); its tree, from ``git`` (a full clone: ``fetch-depth: 0`` in
    Actions), is rendered with that commit's own config (else ``failed.config``) and
    applied as a new deployment, to the same cluster and ApplySet, the same way
    (``failed.how``, never a dry run or forced)."""
    environment, failed_sha, on_line = failed.environment, failed.sha, failed.say
    if train is None or git is None:
        line = (
            "auto-rollback skipped: it needs the deploy ledger and the repository's history "
            "(run commit-train apply, or roll back with commit-train rollback)"
        )
        on_line(line)
        return RollbackResult(failed_sha, None, None, None, line)
    previous, why_not = previous_good(train.backend, environment, not_sha=failed_sha)
    if previous is None:
        line = f"auto-rollback skipped: {environment} {why_not}"
        on_line(line)
        return RollbackResult(failed_sha, None, None, None, line)
    sha = previous.sha
    on_line(f"auto-rollback: restoring {sha[:7]} in {environment} (rolls back {failed_sha[:7]})")
    title = str(previous.payload.get("title") or previous.description or "")
    deployment = train.record_rollback(environment, sha, title, failed_sha, auto=True)
    recorder = Recorder(train, deployment, failed.how.run_url, frozenset())
    recorder.status(DeployState.IN_PROGRESS, f"auto-rollback of {failed_sha[:7]} to {sha[:7]}")
    how = dataclasses.replace(
        failed.how, timeout=failed.timeout, dry_run=False, force=False, auto_rollback=False
    )
    try:
        with commit_tree(git, sha) as tree:
            _rendered, run = render_and_apply(
                dataclasses.replace(
                    failed,
                    sha=sha,
                    root=tree,
                    config=tree_config(tree, failed.config),
                    deployment=deployment,
                    deployment_id=None,
                    how=how,
                ),
                recorder,
            )
    except CommitTrainError as exc:
        text = redact_text(str(exc), recorder.secret_values)
        recorder.settle(failure_state(exc), f"auto-rollback failed: {text}")
        line = f"auto-rollback to {sha[:7]} failed: {text}"
        on_line(line)
        return RollbackResult(failed_sha, sha, deployment, None, line)
    except Stopped as stopped:
        recorder.settle(DeployState.ERROR, str(stopped), within=stopped.grace)
        raise
    except BaseException as exc:
        recorder.settle(DeployState.ERROR, f"unexpected {type(exc).__name__}: {exc}")
        raise
    if run.ok:
        recorder.status(
            DeployState.SUCCESS,
            f"rolled back {failed_sha[:7]}: {run.summary}",
            environment_url=failed.config.environment(environment).url,
        )
        line = f"auto-rollback restored {sha[:7]} in {environment} (deployment {deployment.id})"
    else:
        recorder.status(DeployState.FAILURE, f"auto-rollback failed: {run.summary}")
        line = f"auto-rollback to {sha[:7]} failed too: {run.summary}"
    on_line(line)
    return RollbackResult(failed_sha, sha, deployment, run, line)
