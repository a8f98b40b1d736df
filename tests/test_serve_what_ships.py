"""What a deploy ships, from the gate's own facts (``faces.serve.dispatch.ships_from_facts``):
the cases it answers without a request, and the ones it leaves to one more read."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from commit_train.faces.serve.dispatch import ships_from_facts
from commit_train.models import (
    ANCESTORS,
    RECENT_DEPLOYMENTS,
    Checks,
    Commit,
    Deployment,
    DeploymentStatus,
    DeployState,
    GateFacts,
)

T0 = datetime(2024, 5, 1, tzinfo=UTC)
# the default branch, newest first: c40 ... c1
BRANCH = [
    Commit(sha=f"{n:040x}", title=f"Change {n}", author="ann", committed_at=T0 + timedelta(n))
    for n in range(40, 0, -1)
]


def _deployment(n: int, sha: str, state: DeployState) -> Deployment:
    at = T0 + timedelta(hours=n)
    return Deployment(
        id=n,
        sha=sha,
        environment="staging",
        creator="ann",
        created_at=at,
        statuses=(DeploymentStatus(state, at),),
    )


def _facts(target: int, recent: list[Deployment]) -> GateFacts:
    """The facts of deploying ``Change {target}``, as the backends answer them."""
    at = 40 - target
    return GateFacts(
        commit=BRANCH[at],
        default_branch="main",
        on_default_branch=True,
        checks=Checks(BRANCH[at].sha, ()),
        recent=tuple(reversed(recent)),  # newest first
        ancestors=tuple(BRANCH[at : at + ANCESTORS]),
    )


def _sha(n: int) -> str:
    return BRANCH[40 - n].sha


def test_a_forward_deploy_lists_the_commits_since_the_live_one() -> None:
    recent = [
        _deployment(1, _sha(30), DeployState.SUCCESS),
        _deployment(2, _sha(33), DeployState.FAILURE),  # not live: what ships is since c30
    ]
    assert ships_from_facts(_facts(33, recent)) == "3 commits: Change 33; Change 32; Change 31"
    assert ships_from_facts(_facts(30, recent)) == "already live"  # deploy ... again


def test_no_deploy_yet_is_the_first_one_when_every_deployment_was_read() -> None:
    assert ships_from_facts(_facts(40, [])) == "the first deploy here"
    failed = [_deployment(1, _sha(12), DeployState.FAILURE)]
    assert ships_from_facts(_facts(40, failed)) == "the first deploy here"
    # the newest deployments read all failed, and there may be older ones: ask GitHub
    many = [_deployment(n, _sha(12), DeployState.FAILURE) for n in range(RECENT_DEPLOYMENTS)]
    assert ships_from_facts(_facts(40, many)) is None


def test_what_the_ancestors_cannot_tell_is_left_to_one_more_read() -> None:
    rollback = [_deployment(1, _sha(35), DeployState.SUCCESS)]
    assert ships_from_facts(_facts(34, rollback)) is None  # an older commit than the live one
    far = [_deployment(1, _sha(10), DeployState.SUCCESS)]
    assert ships_from_facts(_facts(40, far)) is None  # 30 back; the window holds c40..c11
    edge = [_deployment(1, _sha(11), DeployState.SUCCESS)]
    assert ships_from_facts(_facts(40, edge)) == (
        "29 commits: Change 40; Change 39; Change 38; Change 37; Change 36; and 24 more"
    )
