"""The deploy service's own config (``commit-train serve --config serve.yml``), loaded strictly.

What is the organisation's, not a repository's: the default owner (so ``shop`` means
``acme/shop``), which repositories are served, which channel hears which deployment events,
who is who (Slack user id to GitHub login) and who may deploy where. Each repository's
own ``.commit-train.yml`` still says what its environments are; it is read from GitHub.

Unknown keys are errors naming the key path and the fix, like ``.commit-train.yml``'s.
Example::

    owner: acme
    repositories: [shop, billing]        # or ["*"]: every repository the credentials read
    routes:
      - channel: C0DEPLOYS               # a channel id
        environments: [production]       # default: every environment
        states: [success, failure, error]  # default: every state
    people:
      U012ABCDEF: alice                  # Slack user id: GitHub login
    environments:
      production:
        allow: ["@deployers", acme/sre]  # Slack user groups (@handle or S-id), GitHub teams
        confirm: true                    # ask with a button before deploying
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from commit_train import safeyaml
from commit_train.config import describe_error
from commit_train.errors import ConfigError

DEPLOY_STATES = ("queued", "pending", "in_progress", "success", "failure", "error", "inactive")
_NAME = re.compile(r"^[A-Za-z0-9_.-]+$")
_FULL_NAME = re.compile(r"^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$")
_USERGROUP_ID = re.compile(r"^S[A-Z0-9]+$")
_SLACK_USER = re.compile(r"^[UW][A-Z0-9]+$")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class Route(_Strict):
    """A channel and the deployment events it hears."""

    channel: str
    environments: tuple[str, ...] = ()  # none: every environment
    states: tuple[str, ...] = ()  # none: every state

    @field_validator("states")
    @classmethod
    def _known_states(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for state in value:
            if state not in DEPLOY_STATES:
                raise ValueError(f"unknown state {state!r}; known: {', '.join(DEPLOY_STATES)}")
        return value

    def hears(self, environment: str, state: str) -> bool:
        return (not self.environments or environment in self.environments) and (
            not self.states or state in self.states
        )


class EnvironmentPolicy(_Strict):
    """Who may change an environment (``allow``: empty means anyone), and whether a deploy
    asks first."""

    allow: tuple[str, ...] = ()
    confirm: bool = False

    @field_validator("allow")
    @classmethod
    def _entries(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for entry in value:
            if not (
                entry.startswith("@")
                or _USERGROUP_ID.match(entry)
                or _FULL_NAME.match(entry)
                or _SLACK_USER.match(entry)
            ):
                raise ValueError(
                    f"{entry!r} is neither a Slack user group (@handle or S-id), a Slack user "
                    "(U-id) nor a GitHub team (org/team)"
                )
        return value


class ServeConfig(_Strict):
    owner: str | None = None
    repositories: tuple[str, ...] = ("*",)
    routes: tuple[Route, ...] = ()
    people: dict[str, str] = Field(default_factory=dict)
    environments: dict[str, EnvironmentPolicy] = Field(default_factory=dict)

    def full_name(self, name: str) -> str | None:
        """``shop`` as ``acme/shop`` (with an owner), a full name as it is; None when the
        name is not one this service serves."""
        name = name.strip().strip("<>")
        if "/" not in name:
            if self.owner is None or not _NAME.match(name):
                return None
            name = f"{self.owner}/{name}"
        if not _FULL_NAME.match(name):
            return None
        if "*" in self.repositories:
            return name
        served = {r if "/" in r else f"{self.owner}/{r}" for r in self.repositories}
        return name if name.lower() in {s.lower() for s in served} else None

    def policy(self, environment: str) -> EnvironmentPolicy:
        return self.environments.get(environment, EnvironmentPolicy())

    def routes_for(self, environment: str, state: str) -> list[str]:
        """The channels that hear ``state`` of a deploy to ``environment``, each once."""
        seen: dict[str, None] = {}
        for route in self.routes:
            if route.hears(environment, state):
                seen.setdefault(route.channel, None)
        return list(seen)


@dataclass(frozen=True)
class LoadedServeConfig:
    config: ServeConfig
    path: Path | None  # None: no --config, the open defaults
    warnings: tuple[str, ...] = ()


OPEN_WARNING = (
    "no --config: serving every repository the credentials can read (by full name, "
    "owner/name) and letting anyone in the workspace deploy anywhere; "
    "pass --config serve.yml to set an owner and who may deploy (see docs/chatops.md)"
)


def _describe(error: Any, source: str) -> str:
    return describe_error(error, source, ServeConfig)


def parse(text: str, *, source: str = "serve.yml") -> ServeConfig:
    """Parse and validate the service config; every error names ``source`` and the key."""
    try:
        raw = safeyaml.load(text)
    except safeyaml.YamlLimitError as exc:  # a duplicate key, an alias bomb, too deep
        mark = exc.problem_mark
        at = f" line {mark.line + 1}:" if mark is not None else ""
        raise ConfigError(f"{source}:{at} {exc.problem}", fix=exc.fix) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f" line {mark.line + 1}" if mark is not None else ""
        raise ConfigError(f"{source}:{line} is not valid YAML", fix="fix the syntax") from None
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise ConfigError(
            f"{source}: expected a mapping at the top level",
            fix="start the file with keys such as owner: and repositories:",
        )
    if isinstance(raw.get("repositories"), str):
        raw["repositories"] = [raw["repositories"]]
    try:
        config = ServeConfig.model_validate(raw)
    except ValidationError as exc:
        errors = exc.errors()
        more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
        raise ConfigError(_describe(errors[0], source) + more) from None
    if config.owner is not None and not _NAME.match(config.owner):
        raise ConfigError(
            f"{source}: owner: {config.owner!r} is not a GitHub account name",
            fix="write the organisation's login, like acme",
        )
    for index, repo in enumerate(config.repositories):
        if repo == "*":
            continue
        if "/" not in repo and config.owner is None:
            raise ConfigError(
                f"{source}: repositories[{index}]: {repo!r} has no owner",
                fix=f"write it as OWNER/{repo}, or set owner:",
            )
        if not (_FULL_NAME.match(repo) or _NAME.match(repo)):
            raise ConfigError(
                f"{source}: repositories[{index}]: {repo!r} is not a repository name",
                fix="write it like shop or acme/shop, or '*' for every one",
            )
    for user in config.people:
        if not _SLACK_USER.match(user):
            raise ConfigError(
                f"{source}: people.{user}: not a Slack user id",
                fix="key people: by Slack user id (U0123ABCD: github-login); "
                "find it in the person's Slack profile, under 'Copy member ID'",
            )
    return config


def load(path: Path | None) -> LoadedServeConfig:
    """The config at ``path``, or the open defaults (with a warning) when there is none."""
    if path is None:
        return LoadedServeConfig(ServeConfig(), None, (OPEN_WARNING,))
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(
            f"{path}: cannot be read ({exc.strerror})", fix="pass the path of serve.yml"
        ) from None
    return LoadedServeConfig(parse(text, source=str(path)), path)
