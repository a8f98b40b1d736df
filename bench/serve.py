"""The deploy service's budgets: GitHub requests per command (against the CLI's), twenty
mentions at once, and how soon a deployment status reaches its thread after the webhook.

The real slack-bolt App (HTTP mode, signed requests) and slack_sdk WebClient against the Slack
emulator, PyGithub as a GitHub App against the GitHub emulator, all on 127.0.0.1.

Usage: ``python bench/serve.py``. The figures are in ``docs/benchmarks.md`` (The deploy service).
"""

from __future__ import annotations

import statistics
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.emulators.slack import Message
from tests.test_serve_e2e import World, _deployments, _now, _world


def _answer(world: World, user: str, text: str) -> Message:
    """Mention the bot and wait for its next message in the channel."""
    before = len(world.slack.bot_messages("C1"))
    world.mention(user, text)
    world.slack.wait_for(lambda: len(world.slack.bot_messages("C1")) > before, timeout=10)
    return world.slack.bot_messages("C1")[before]


def _counts(world: World) -> None:
    _answer(world, "U1", "status shop")  # warm: the App's token, the config's ETag
    print("| command | requests (rate-limited) | GraphQL points | conditional 304s |")
    print("| --- | ---: | ---: | ---: |")
    for user, text in [
        ("U1", "status shop 5"),
        ("U2", "deploy shop staging HEAD"),
        ("U1", "history shop staging"),
        ("U1", "lock shop staging bench"),
        ("U1", "locks shop"),
        ("U1", "unlock shop staging"),
    ]:
        world.github.reset_requests()
        _answer(world, user, text)
        time.sleep(0.2)  # a deploy's message is edited after the deployment is created
        requests = world.github.requests
        counted = sum(r.status != 304 for r in requests)
        points = sum(r.points for r in requests)
        print(f"| `{text}` | {counted} | {points} | {sum(r.status == 304 for r in requests)} |")


def _burst(world: World) -> None:
    before = len(world.slack.bot_messages("C1"))
    start = time.perf_counter()
    threads = [
        threading.Thread(target=world.mention, args=("U1", f"status shop {n % 5 + 1}"))
        for n in range(20)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    world.slack.wait_for(lambda: len(world.slack.bot_messages("C1")) >= before + 20, timeout=60)
    took = time.perf_counter() - start
    answered = len(world.slack.bot_messages("C1")) - before
    print(f"\n20 mentions at once: {answered} answered in {took:.2f} s")


def _to_thread(world: World, n: int) -> float:
    message = _answer(world, "U2", "deploy shop staging HEAD")
    world.slack.wait_for(lambda: "queued" in _now(world, message), timeout=10)
    deployment = _deployments(world)[-1]
    start = time.perf_counter()
    world.set_status(deployment["id"], "success", f"deployed {n}")
    world.slack.wait_for(lambda: f"deployed {n}" in _now(world, message), timeout=10)
    return time.perf_counter() - start


def main() -> None:
    for world in _world():
        _counts(world)
        _burst(world)
        delays = [_to_thread(world, n) for n in range(10)]
        print(
            f"status to thread (webhook delivery + chat.update), 10 deploys: median "
            f"{statistics.median(delays) * 1000:.0f} ms, max {max(delays) * 1000:.0f} ms"
        )


if __name__ == "__main__":
    main()
