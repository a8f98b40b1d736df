"""Where an environment's notifications go: its own route, else the top-level one."""

from __future__ import annotations

from dataclasses import dataclass

from commit_train.config import Config, Notify


@dataclass(frozen=True)
class Route:
    webhook_env: str
    events: frozenset[str]


def routes_for(config: Config, environment: str) -> list[Route]:
    """Where ``environment``'s events go: its own route, else the top-level one.

    The global lock (``*``) goes to the top-level route and every environment's route,
    each webhook once.
    """
    chosen: list[Notify] = []
    if environment == "*":
        chosen = [
            n for n in [config.notify, *(e.notify for e in config.environments.values())] if n
        ]
    else:
        env = config.environments.get(environment)
        own = env.notify if env is not None else None
        if own is not None:
            chosen = [own]
        elif config.notify is not None:
            chosen = [config.notify]
    routes: dict[str, Route] = {}
    for notify in chosen:
        if notify.slack_webhook_env and notify.slack_webhook_env not in routes:
            routes[notify.slack_webhook_env] = Route(
                notify.slack_webhook_env, frozenset(notify.events)
            )
    return list(routes.values())
