"""GitHub requests for lock, unlock, a refused lock, reading the locks, a deploy's lock
check, and a stale-commit scan, counted by the GitHub emulator.

    python bench/locks_stale.py

Requests and the GraphQL points GitHub would charge for them (its formula, computed by the
emulator). Counts, not times: nothing here asserts a duration.
"""

from __future__ import annotations

import contextlib
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.emulators.github import running
from tests.slack_server import SlackWebhookServer

from commit_train import config
from commit_train.backends.github.backend import GitHubBackend
from commit_train.errors import RefusedError
from commit_train.faces import wiring
from commit_train.models import DeployState
from commit_train.service.locks import GitHubLockStore
from commit_train.service.train import Train

CONFIG = config.parse(
    """
version: 1
notify: {slack-webhook-env: SLACK_BENCH_HOOK}
environments:
  dev: {stale-after: 4h}
  staging: {stale-after: 12h}
  production: {production: true, requires: [staging], stale-after: 24h}
"""
)


_EMULATOR: list[Any] = []  # the running emulator, which counts GraphQL points


def counted(backend: GitHubBackend, action) -> tuple[int, int]:  # type: ignore[no-untyped-def]
    """(requests ``backend`` made, GraphQL points GitHub would charge for them)."""
    emu = _EMULATOR[0]
    before, seen = backend.request_count, len(emu.requests)
    action()
    time.sleep(0.05)  # let the emulator finish logging the last answer
    return backend.request_count - before, sum(r.points for r in emu.requests[seen:])


def main() -> None:
    now = datetime.now(UTC)
    rows: list[tuple[str, tuple[int, int]]] = []
    with running() as emu, SlackWebhookServer() as slack:
        _EMULATOR.append(emu)
        emu.add_user("bob", "ghs_bob")
        repo = emu.create_repo("acme/shop")
        live = repo.commit("Live", when=now - timedelta(days=5))
        for i in range(60):
            repo.commit(f"Change {i}", author=f"dev{i % 4}", when=now - timedelta(hours=60 - i))
        alice = GitHubBackend("acme/shop", token=emu.token, base_url=emu.base_url)
        bob = GitHubBackend("acme/shop", token="ghs_bob", base_url=emu.base_url)
        store, other = GitHubLockStore(alice), GitHubLockStore(bob)
        rows.append(
            (
                "lock (first time: read, commit, create ref)",
                counted(alice, lambda: store.acquire("production", holder="alice", reason="x")),
            )
        )

        def refused() -> None:
            with contextlib.suppress(RefusedError):
                other.acquire("production", holder="bob", reason="y")

        rows.append(("lock refused (held by someone else)", counted(bob, refused)))
        rows.append(
            (
                "unlock (read, commit, move ref)",
                counted(alice, lambda: store.release("production", by="alice")),
            )
        )
        rows.append(
            (
                "lock again (read, commit, move ref)",
                counted(alice, lambda: store.acquire("production", holder="alice", reason="x")),
            )
        )
        rows.append(
            (
                "locks (every environment and the global lock)",
                counted(alice, lambda: store.current(list(CONFIG.environments))),
            )
        )
        store.release("production", by="alice")
        # a mark moves only once a reminder is delivered: the webhook is a local stand-in
        notifier = wiring.notifier(CONFIG, {"SLACK_BENCH_HOOK": slack.url})
        train = wiring.github(alice).train(CONFIG, actor="alice", source="bench", notifier=notifier)
        for env in CONFIG.environments:
            dep = alice.create_deployment(
                sha=live, environment=env, payload={}, description="", production=False
            )
            alice.add_status(dep.id, state=DeployState.SUCCESS)
        rows.append(
            (
                "deploy's lock check (train.blocking_lock)",
                counted(alice, lambda: train.blocking_lock("production")),
            )
        )
        rows.append(
            (
                "stale scan, 3 environments, first run (reminds in all 3)",
                counted(alice, lambda: train.stale()),
            )
        )
        rows.append(
            ("stale scan, 3 environments, second run (nothing new)", counted(alice, train.stale))
        )
        rows.append(
            (
                "stale scan, production only, first run after new commits",
                counted(alice, lambda: _new_commits_then_scan(repo, now, train)),
            )
        )
        rows.append(
            (
                "stale scan, production only, second run",
                counted(alice, lambda: train.stale("production")),
            )
        )
    width = max(len(name) for name, _ in rows)
    print(f"{'operation'.ljust(width)}  requests  points")
    for name, (count, points) in rows:
        print(f"{name.ljust(width)}  {count:>8}  {points:>6}")


def _new_commits_then_scan(repo, now: datetime, train: Train) -> None:  # type: ignore[no-untyped-def]
    # commits made directly in the emulator cost no request; only the scan is counted
    repo.commit("Late change", when=now - timedelta(hours=30))
    train.stale("production")


if __name__ == "__main__":
    main()
