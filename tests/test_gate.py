from __future__ import annotations

import pytest

from commit_train import config
from commit_train.core.gate import REASONS, Decision, decide
from commit_train.models import Check, Checks, CheckState

SHA = "1a2b3c4d5e6f7a8b9c0d1a2b3c4d5e6f7a8b9c0d"
CONFIG = config.parse(
    "checks:\n  ignore: [deploy]\nenvironments:\n  staging: {}\n  production: {production: true}\n"
)


def checks(**states: str) -> Checks:
    return Checks(SHA, tuple(Check(n, "check_run", CheckState(s)) for n, s in states.items()))


def ask(
    environment: str = "staging",
    *,
    on_branch: bool = True,
    found: Checks | None = None,
    cfg: config.Config = CONFIG,
) -> Decision:
    return decide(
        config=cfg,
        environment=environment,
        sha=SHA,
        default_branch="main",
        on_default_branch=on_branch,
        checks=found if found is not None else checks(lint="success", test="success"),
    )


def test_green_commit_on_main_is_allowed() -> None:
    assert ask() == Decision(True, "ok", "1a2b3c4 can be deployed to staging")


@pytest.mark.parametrize(
    ("kwargs", "reason", "message"),
    [
        (
            {"environment": "prod"},
            "unknown-environment",
            "unknown environment 'prod' (known: production, staging); use one of them, "
            "or add 'prod' under environments: in .commit-train.yml",
        ),
        (
            {"on_branch": False},
            "not-on-default-branch",
            "1a2b3c4 is not on the default branch main; merge it first, "
            "only commits of main can be deployed",
        ),
        (
            {"found": checks(test="failure", lint="failure", build="success")},
            "checks-failing",
            "1a2b3c4 has failing checks: lint, test; fix them or deploy a green commit",
        ),
        (
            {"found": checks(build="pending", lint="success")},
            "checks-pending",
            "1a2b3c4 has checks still running: build; wait for them to finish",
        ),
        (
            {"found": checks()},
            "no-checks",
            "1a2b3c4 has no checks; let CI report on it first, "
            "or set checks.require-some: false in .commit-train.yml",
        ),
        (
            {"found": checks(deploy="success")},  # only the ignored check: nothing counts
            "no-checks",
            "1a2b3c4 has no checks; let CI report on it first, "
            "or set checks.require-some: false in .commit-train.yml",
        ),
    ],
)
def test_refusals(kwargs: dict, reason: str, message: str) -> None:
    decision = ask(**kwargs)
    assert decision == Decision(False, reason, message)
    assert reason in REASONS


def test_rules_apply_in_order() -> None:
    # off the branch and red: the branch is named first (it must be fixed first)
    assert ask(on_branch=False, found=checks(test="failure")).reason == "not-on-default-branch"
    # red and running: red first
    assert ask(found=checks(test="failure", build="pending")).reason == "checks-failing"


def test_ignored_checks_do_not_block() -> None:
    # the deploy workflow's own check is still running while it deploys
    assert ask(found=checks(deploy="pending", test="success")).allowed
    assert ask(found=checks(deploy="failure", test="success")).allowed


def test_no_checks_allowed_when_not_required() -> None:
    relaxed = config.parse("checks:\n  require-some: false\nenvironments:\n  staging: {}\n")
    assert ask(found=checks(), cfg=relaxed) == Decision(
        True, "ok", "1a2b3c4 can be deployed to staging"
    )


def test_no_environments_configured() -> None:
    decision = ask(cfg=config.Config())
    assert decision.reason == "unknown-environment"
    assert "(known: none configured)" in decision.message


def test_decision_is_frozen() -> None:
    with pytest.raises(AttributeError):
        ask().allowed = False  # type: ignore[misc]
