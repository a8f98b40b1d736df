"""``commit-train stats`` at our users' scale: 90,000 deploys in a quarter, GitHub emulator.

Seeds a repository straight into the emulator's model (no HTTP: 1,000 deploys a day for
90 days over three environments, a commit every half hour), then runs ``stats --since 90d``
twice through the CLI with an empty cache directory, and prints for each run the GitHub
requests, the GraphQL points GitHub would charge (its formula, computed by the emulator)
and the time. The two runs' JSON must be identical.

    python bench/stats_scale.py
    python bench/stats_scale.py --deploys 10000 --days 10

Counts come from the emulator; nothing here asserts a time.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from click.testing import CliRunner
from tests.emulators.github import running
from tests.emulators.github_model import Deployment, DeploymentStatus

from commit_train.faces.cli.main import cli

UNTIL = datetime(2025, 3, 31, tzinfo=UTC)
ENVIRONMENTS = ("dev", "staging", "production")
CONFIG = "environments:\n  dev: {}\n  staging: {}\n  production:\n    production: true\n"


def seed(emu, repo, deploys: int, days: int) -> None:
    """Deployments built straight into the model's list: ``add_deployment`` applies GitHub's
    ``auto_inactive`` by scanning every older deployment, quadratic at 90,000. The same
    rule is applied here as it goes: a new success marks the environment's previous live
    deploy ``inactive`` (production ones keep theirs, as on GitHub)."""
    store = emu.store
    start = UNTIL - timedelta(days=days)
    commits = days * 48
    shas = [
        repo.commit(f"Change {i}", when=start + timedelta(minutes=30 * i)) for i in range(commits)
    ]
    people = [store.user(login) for login in ("alice", "bob", "carol", "dave")]
    live: dict[str, Deployment] = {}
    step = timedelta(days=days) / deploys
    for n in range(deploys):
        when = start + step * n + timedelta(seconds=1)
        environment = ENVIRONMENTS[n % 3]
        if n % 97 == 0:
            states = ["queued"]  # still waiting, or never started
        elif n % 10 == 3:
            states = ["in_progress", "failure"]
        else:
            states = ["in_progress", "success"]
        creator = people[n % 4]
        deployment = Deployment(
            id=store.next_id(),
            sha=shas[min(int((when - start) / timedelta(minutes=30)), commits - 1)],
            ref="main",
            task="deploy",
            payload={"requested_by": creator.login},
            environment=environment,
            original_environment=environment,
            description="",
            creator=creator,
            created_at=when,
            updated_at=when,
            transient_environment=False,
            production_environment=environment == "production",
        )
        for offset, state in enumerate(states):
            deployment.statuses.append(status(store, deployment, state, when, offset))
        if states[-1] == "success" and environment != "production":
            previous = live.get(environment)
            if previous is not None:
                previous.statuses.append(status(store, previous, "inactive", when, 2))
            live[environment] = deployment
        repo.deployment_objects.append(deployment)


def status(store, deployment: Deployment, state: str, when: datetime, offset: int):
    return DeploymentStatus(
        id=store.next_id(),
        deployment_id=deployment.id,
        state=state,
        description="",
        environment=deployment.environment,
        log_url="",
        environment_url="",
        creator=deployment.creator,
        created_at=when + timedelta(minutes=3 * offset),
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--deploys", type=int, default=90_000)
    parser.add_argument("--days", type=int, default=90)
    args = parser.parse_args()

    with running() as emu, tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        (folder / ".commit-train.yml").write_text(CONFIG)
        os.environ["XDG_CACHE_HOME"] = str(folder / "cache")
        took = time.perf_counter()
        seed(emu, emu.create_repo("acme/shop"), args.deploys, args.days)
        print(f"seeded {args.deploys:,} deploys in {time.perf_counter() - took:.1f} s\n")
        command = [
            *("-C", str(folder), "--repo", "acme/shop", "stats", "--json"),
            *("--since", f"{args.days}d", "--until", UNTIL.strftime("%Y-%m-%dT%H:%M:%SZ")),
        ]
        env = {"GITHUB_API_URL": emu.base_url, "GITHUB_TOKEN": emu.token, "GH_TOKEN": None}
        print("| run | requests | GraphQL points | time |")
        print("| --- | ---: | ---: | ---: |")
        answers = []
        for run in ("first (empty cache)", "second (cached)"):
            emu.reset_requests()
            start = time.perf_counter()
            result = CliRunner().invoke(cli, command, env=env)
            elapsed = time.perf_counter() - start
            time.sleep(0.05)  # let the emulator finish logging the last answer
            assert result.exit_code == 0, result.output
            answers.append(json.loads(result.stdout))
            print(f"| {run} | {emu.request_count:,} | {emu.graphql_points:,} | {elapsed:.1f} s |")
        assert answers[0] == answers[1], "the cached run answered differently"
        doc = answers[0]
        print(
            f"\n{doc['deploys']:,} deploys; lead time over {doc['lead_time']['commits']:,} "
            f"commits; the same JSON both runs"
        )


if __name__ == "__main__":
    main()
