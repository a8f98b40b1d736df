"""The deploy service's budgets: GitHub requests per command (against the CLI's), twenty
mentions at once, and how soon a deployment status reaches its thread after the webhook.

The real slack-bolt App (HTTP mode, signed requests) and slack_sdk WebClient against the Slack
emulator, PyGithub as a GitHub App against the GitHub emulator, all on 127.0.0.1.

Usage: ``python bench/serve.py``. The figures are in ``docs/benchmarks.md`` (The deploy service).
"""

from __future__ import annotations

import re
import statistics
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.emulators.slack import Message
from tests.test_serve_e2e import World, _deployments, _now, _world

SHIPS = re.compile(r"the first deploy here|already live|rolls back \d+ commits?|\d+ commits?")


def _answer(world: World, user: str, text: str) -> Message:
    """Mention the bot and wait for its next message in the channel."""
    before = len(world.slack.bot_messages("C1"))
    world.mention(user, text)
    world.slack.wait_for(lambda: len(world.slack.bot_messages("C1")) > before, timeout=10)
    return world.slack.bot_messages("C1")[before]


def _succeed(world: World) -> None:
    """The newest deployment ends ``success``, as the deploy workflow would end it."""
    world.set_status(_deployments(world)[-1]["id"], "success", "deployed")
    world.github.wait_for_deliveries()


def _counts(world: World) -> None:
    _answer(world, "U1", "status shop")  # warm: the App's token, the config's ETag
    older, live = world.commits[0][:7], world.commits[1][:7]
    print("| command | what ships | requests (rate-limited) | GraphQL points | conditional 304s |")
    print("| --- | --- | ---: | ---: | ---: |")
    for user, text, then in [
        ("U1", "status shop 5", None),
        ("U2", f"deploy shop staging {live}", _succeed),  # the first deploy here
        ("U2", "deploy shop staging HEAD", _succeed),  # forward from the live commit
        ("U2", "rollback shop staging", _succeed),  # back to the previous good commit
        ("U2", f"deploy shop staging {older}", None),  # an older commit than the live one
        ("U1", "history shop staging", None),
        ("U1", "lock shop staging bench", None),
        ("U1", "locks shop", None),
        ("U1", "unlock shop staging", None),
    ]:
        world.github.reset_requests()
        message = _answer(world, user, text)
        time.sleep(0.2)  # a deploy's message is edited after the deployment is created
        requests = world.github.requests
        counted = sum(r.status != 304 for r in requests)
        points = sum(r.points for r in requests)
        said = SHIPS.search(_now(world, message)) if text.startswith(("deploy", "roll")) else None
        ships = said.group(0) if said else ""
        shown = text.replace(live, "<live>").replace(older, "<older>")
        print(
            f"| `{shown}` | {ships} | {counted} | {points} | "
            f"{sum(r.status == 304 for r in requests)} |"
        )
        if then is not None:
            then(world)


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
    message = _answer(world, "U2", "deploy shop staging HEAD again")
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
