"""GitHub requests for one whole deploy: the requester's side (``commit-train deploy``: gate,
create, ``queued``) and the workflow's side (``deploy.yml`` played as the runner would, from
``in_progress`` to the final status), counted by the GitHub emulator, step by step.

    python bench/deploy_requests.py

Budget: at most 10 requests for the whole deploy, requester and workflow together. Times are
indicative; counts are exact.
"""

from __future__ import annotations

import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.emulators.github import RecordedRequest, running
from tests.emulators.kube import KubeEmulator
from tests.gitrepos import Repo
from tests.test_deploy_workflow_e2e import CONFIG, TEMPLATE, TIP_TITLE, Shop, push
from tests.workflow_player import StepResult

BUDGET = 10


def label(request: RecordedRequest) -> str:
    if request.graphql:
        return f"POST graphql ({request.points} point{'s' if request.points != 1 else ''})"
    return f"{request.method} {request.path}"


def points(requests: list[RecordedRequest]) -> int:
    """GraphQL points GitHub would charge (its formula, computed by the emulator)."""
    return sum(r.points for r in requests)


def main() -> None:
    with (
        tempfile.TemporaryDirectory() as scratch,
        running() as emu,
        KubeEmulator() as kube,
    ):
        tmp = Path(scratch)
        git = Repo(tmp / "workspace", config=CONFIG)
        (git.root / "deploy" / "templates").mkdir(parents=True)
        (git.root / "deploy" / "templates" / "web.yaml").write_text(TEMPLATE)
        git.commit("Start the shop service")
        remote = emu.create_repo("acme/shop", default_branch="main")
        push(git, remote, emu)
        (git.root / "README.md").write_text("# shop\n")
        tip = git.commit(TIP_TITLE)
        push(git, remote, emu)
        remote.add_check_run(tip, name="test")
        kubeconfig = kube.write_kubeconfig(tmp / "kubeconfig").read_text()
        kube.controller.auto_complete(0.05)
        shop = Shop(emu, remote, kube, git, tmp, tip, kubeconfig)

        emu.reset_requests()
        started = time.perf_counter()
        dep_id = shop.request_deploy("staging", tip[:7])
        requester_time = time.perf_counter() - started
        requester = emu.requests

        emu.reset_requests()
        per_step: list[tuple[StepResult, list[RecordedRequest]]] = []
        seen = 0

        def after_step(step: StepResult) -> None:
            nonlocal seen
            now = emu.requests
            per_step.append((step, now[seen:]))
            seen = len(now)

        started = time.perf_counter()
        run = shop.play_deployment(dep_id, after_step=after_step)
        workflow_time = time.perf_counter() - started
        workflow = emu.requests

    states = [s for s, _ in shop.statuses(dep_id)]
    if run.status != "success" or states[-1] != "success":
        sys.exit(f"the deploy did not succeed: job {run.status}, statuses {states}")

    print(f"deployment {dep_id}: {' -> '.join(states)}\n")
    print("| part | requests | GraphQL points | time |")
    print("| --- | ---: | ---: | ---: |")
    print(
        f"| requester: `commit-train deploy` (gate, create, queued) | {len(requester)} "
        f"| {points(requester)} | {requester_time:.2f} s |"
    )
    print(
        f"| workflow: deploy.yml, in_progress to final status | **{len(workflow)}** "
        f"| {points(workflow)} | {workflow_time:.2f} s |"
    )
    print()
    print("requester:")
    for request in requester:
        print(f"    {label(request)}")
    print()
    print("workflow, step by step:")
    for step, requests in per_step:
        state = "skipped" if step.skipped else f"{step.outcome}, {step.seconds:.2f} s"
        print(f"  {step.name} ({state}): {len(requests)}")
        for request in requests:
            print(f"    {label(request)}")
    print()
    repeated = {k: n for k, n in Counter(label(r) for r in workflow).items() if n > 1}
    if repeated:
        print("asked more than once in the workflow:")
        for key, count in sorted(repeated.items()):
            print(f"    {count}x {key}")
    whole = len(requester) + len(workflow)
    verdict = "within" if whole <= BUDGET else "OVER"
    print(
        f"\nwhole deploy {whole} ({len(requester)} requester + {len(workflow)} workflow), "
        f"{points(requester) + points(workflow)} GraphQL points: {verdict} the budget of {BUDGET}"
    )


if __name__ == "__main__":
    main()
