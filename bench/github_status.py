"""GitHub request budgets and PyGithub's pauses, measured against the GitHub emulator.

Prints, for a repository of N commits with checks and deployments in three environments:

- requests, GraphQL points (GitHub's formula, computed by the emulator) and time for
  ``snapshot(limit=50)`` (the ``status`` screen; budget: 2 requests),
  next to what the same screen costs asked commit by commit over REST;
- requests for one deploy's GitHub side (the gate's facts in one query, create the
  deployment, queued/in_progress/success statuses);
- the cost of PyGithub's default pauses (0.25 s before every request, 1 s before every
  write) against ``GitHubBackend``'s (none), for the same writes.

    python bench/github_status.py
    python bench/github_status.py --commits 200 --writes 5

Counts come from the emulator; nothing here asserts a time.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import github
from tests.emulators.github import running

from commit_train.backends.github.backend import GitHubBackend
from commit_train.models import DeployState

ENVIRONMENTS = ["production", "staging", "dev"]


def seed(repo, commits: int) -> list[str]:
    shas = [repo.commit(f"Change {i}") for i in range(commits)]
    for i, sha in enumerate(shas):
        repo.add_check_run(sha, name="test", conclusion="success")
        if i % 5 == 0:
            repo.add_status(sha, context="ci/lint", state="success")
    for env, back in zip(ENVIRONMENTS, (10, 3, 0), strict=True):
        repo.add_deployment(shas[-1 - back], environment=env, statuses=["success"])
    return shas


def measure(emu, label: str, action) -> None:
    emu.reset_requests()
    start = time.perf_counter()
    action()
    elapsed = time.perf_counter() - start
    time.sleep(0.05)  # let the emulator finish logging the last answer
    print(
        f"{label:<52} {emu.request_count:>5} requests {emu.graphql_points:>4} points "
        f"{elapsed:>8.3f} s"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--commits", type=int, default=60)
    parser.add_argument("--writes", type=int, default=3)
    args = parser.parse_args()

    with running() as emu:
        repo = emu.create_repo("acme/shop")
        shas = seed(repo, args.commits)
        backend = GitHubBackend("acme/shop", token=emu.token, base_url=emu.base_url)

        measure(
            emu,
            "snapshot(limit=50, 3 environments)",
            lambda: backend.snapshot(limit=50, environments=ENVIRONMENTS),
        )
        measure(
            emu,
            "the same checks, commit by commit over REST",
            lambda: [backend.checks_via_rest(sha) for sha in shas[-50:]],
        )

        fresh = GitHubBackend("acme/shop", token=emu.token, base_url=emu.base_url)

        def deploy() -> None:
            backend = fresh
            commit = backend.gate_facts(shas[-1][:7]).commit  # the gate: one query
            dep = backend.create_deployment(
                sha=commit.sha, environment="staging", payload={}, description="", production=False
            )
            for state in (DeployState.QUEUED, DeployState.IN_PROGRESS, DeployState.SUCCESS):
                backend.add_status(dep.id, state=state)

        measure(emu, "one deploy's GitHub side (fresh backend)", deploy)

        sha = shas[-1]

        def writes_with(client) -> None:
            repository = client.get_repo("acme/shop")
            for i in range(args.writes):
                repository.get_commit(sha).create_status("success", context=f"bench/{i}")

        defaults = github.Github(
            auth=github.Auth.Token(emu.token), base_url=emu.base_url, lazy=True
        )
        measure(
            emu,
            f"{args.writes} statuses, PyGithub default pauses",
            lambda: writes_with(defaults),
        )
        measure(
            emu,
            f"{args.writes} statuses, GitHubBackend (no pauses)",
            lambda: writes_with(backend._http.gh),  # PyGithub as the transport sets it up
        )


if __name__ == "__main__":
    main()
