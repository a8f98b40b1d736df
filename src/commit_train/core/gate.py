"""Is this commit deployable to this environment, and if not, exactly why.

A pure function over data: the caller gathers the facts (the config, whether the sha is on
the default branch, its checks) and ``decide`` answers with a ``Decision``. No I/O here, so
the same gate runs in the CLI and again on the runner, and tests need no repository.

``reason`` is a small fixed vocabulary a script may rely on (``REASONS``); ``message`` is one
line for a person that names the fix. The order of the rules is the order a person fixes
things in: the environment name, then the branch, then red checks, then running ones, then
none at all.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from commit_train.config import CONFIG_FILE, Config, add_environment
from commit_train.models import (  # the lock reasons are the lock rules' own
    LOCKED,
    NOT_LOCK_HOLDER,
    Checks,
    CheckState,
    Deployment,
    Lock,
    describe_lock,
    live_and_in_flight,
)

OK = "ok"
UNKNOWN_ENVIRONMENT = "unknown-environment"
NOT_ON_DEFAULT_BRANCH = "not-on-default-branch"
CHECKS_FAILING = "checks-failing"
CHECKS_PENDING = "checks-pending"
NO_CHECKS = "no-checks"
PROMOTION_ORDER = "promotion-order"
# Refusals raised outside ``decide`` (``RefusedError.reason``), kept in the same vocabulary:
CHECKS_UNREADABLE = "checks-unreadable"  # deploy --offline without --reason
GITHUB_ANSWERS = "github-answers"  # deploy --offline while GitHub answers
NO_PREVIOUS_DEPLOY = "no-previous-deploy"  # rollback with nothing to go back to
NOT_CONFIRMED = "not-confirmed"  # confirm: true, and no yes (no terminal, --json, or "n")
ALREADY_DEPLOYED = "already-deployed"  # the commit is already queued or live there

REASONS = (
    OK,
    UNKNOWN_ENVIRONMENT,
    NOT_ON_DEFAULT_BRANCH,
    CHECKS_FAILING,
    CHECKS_PENDING,
    NO_CHECKS,
    LOCKED,
    PROMOTION_ORDER,
    CHECKS_UNREADABLE,
    GITHUB_ANSWERS,
    NOT_LOCK_HOLDER,
    NO_PREVIOUS_DEPLOY,
    NOT_CONFIRMED,
    ALREADY_DEPLOYED,
)


@dataclass(frozen=True)
class Decision:
    """The gate's answer: ``allowed``, a ``reason`` from ``REASONS``, a one-line ``message``."""

    allowed: bool
    reason: str
    message: str


def already_there(environment: str, sha: str, recent: Sequence[Deployment]) -> Decision | None:
    """Whether commit ``sha`` is already queued (or on its way) or live in
    ``environment``, by the environment's newest deployments ``recent``; a refusal saying
    so, or None. A second deploy of the same commit is rarely meant (a double click, a
    retried command), so the caller asks for it on purpose (the CLI's ``--again``)."""
    short = sha[:7]
    live, moving = live_and_in_flight(recent)
    for dep in moving:
        if dep.sha == sha:
            return Decision(
                False,
                ALREADY_DEPLOYED,
                f"{short} is already {dep.state.value} for {environment} (deployment {dep.id})",
            )
    if live is not None and live.sha == sha:
        return Decision(
            False,
            ALREADY_DEPLOYED,
            f"{short} is already live in {environment} (deployment {live.id})",
        )
    return None


def unknown_environment(config: Config, environment: str) -> Decision:
    known = ", ".join(sorted(config.environments)) or "none configured"
    return Decision(
        False,
        UNKNOWN_ENVIRONMENT,
        f"unknown environment {environment!r} (known: {known}); use one of them, "
        f"or {add_environment(environment)}",
    )


def decide(
    *,
    config: Config,
    environment: str,
    sha: str,
    default_branch: str,
    on_default_branch: bool,
    checks: Checks,
    lock: Lock | None = None,
    succeeded_in: frozenset[str] | None = None,
) -> Decision:
    """Whether ``sha`` may be deployed to ``environment``.

    ``checks`` are the commit's checks as the backend reports them; the names in
    ``config.checks.ignore`` (the deploy workflow's own job, say) are left out here. With no
    check left, the deploy is refused unless ``checks.require-some`` is false.

    ``lock`` is the lock that blocks this deployer (the caller leaves out expired locks and
    the deployer's own). ``succeeded_in`` names the environments where this very commit
    once deployed successfully; with it, an environment's ``requires:`` is enforced, except
    for a commit that was live in the environment before (a rollback). None skips the rule.
    """
    short = sha[:7]
    if environment not in config.environments:
        return unknown_environment(config, environment)
    if lock is not None:
        return Decision(
            False,
            LOCKED,
            f"{describe_lock(lock)}; ask {lock.holder} to unlock it, or wait",
        )
    if not on_default_branch:
        return Decision(
            False,
            NOT_ON_DEFAULT_BRANCH,
            f"{short} is not on the default branch {default_branch}; merge it first, "
            f"only commits of {default_branch} can be deployed",
        )
    counted = checks.without(frozenset(config.checks.ignore))
    failing = sorted(counted.named(CheckState.FAILURE))
    if failing:
        return Decision(
            False,
            CHECKS_FAILING,
            f"{short} has failing checks: {', '.join(failing)}; fix them or deploy a green commit",
        )
    pending = sorted(counted.named(CheckState.PENDING))
    if pending:
        return Decision(
            False,
            CHECKS_PENDING,
            f"{short} has checks still running: {', '.join(pending)}; wait for them to finish",
        )
    if not counted.checks and config.checks.require_some:
        return Decision(
            False,
            NO_CHECKS,
            f"{short} has no checks; let CI report on it first, "
            f"or set checks.require-some: false in {CONFIG_FILE}",
        )
    required = config.environments[environment].requires
    if succeeded_in is not None and required and environment not in succeeded_in:
        missing = [env for env in required if env not in succeeded_in]
        if missing:
            steps = ", then ".join(missing)
            return Decision(
                False,
                PROMOTION_ORDER,
                f"{short} has not been deployed successfully to {steps} yet; "
                f"deploy it to {missing[0]} first ({environment} requires "
                f"{', '.join(required)})",
            )
    return Decision(True, OK, f"{short} can be deployed to {environment}")
