"""The ``.commit-train.yml`` schema, loaded strictly.

Unknown keys are errors (a typo must never be silently ignored), and every error names the
file, the key path and the fix. The reference for users is ``docs/config.md``; a test keeps
it in step with the models below.

Example::

    version: 1
    image: ghcr.io/acme/shop
    manifests:
      path: deploy/templates
      values: deploy/values
    kubernetes:
      namespace: shop
      rollout-timeout: 10m
    checks:
      ignore: [Deploy to staging, Deploy to production]   # the deploy job's checks
    environments:
      staging: {}
      production:
        production: true
        url: https://shop.example.com
"""

from __future__ import annotations

import difflib
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import yaml
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError

from commit_train import safeyaml
from commit_train.confine import leads_into
from commit_train.errors import ConfigError

CONFIG_FILE = ".commit-train.yml"

_DURATION = re.compile(r"^\s*(\d+)\s*([smhdw]?)\s*$")
_UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_ENV_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,254}")  # used with fullmatch
MAX_DURATION = 3650 * 86400.0  # ten years: longer is a typo, and overflows dates
ROLLOUT_TIMEOUT_RANGE = (1.0, 86400.0)  # a rollout wait: at least 1s, at most 24h


def duration_seconds(text: str | int | float) -> float:
    """A duration to seconds, with no upper bound (callers bound it)."""
    if isinstance(text, bool):
        raise ValueError("a duration such as 30s, 10m, 24h or 7d")
    if isinstance(text, int | float):
        if text < 0:
            raise ValueError("a duration cannot be negative")
        return float(text)
    match = _DURATION.match(str(text))
    if not match:
        raise ValueError(f"{text!r} is not a duration; write it like 30s, 10m, 24h or 7d")
    return float(int(match.group(1)) * _UNITS[match.group(2)])


def parse_duration(text: str | int | float) -> float:
    """``90``, ``"90s"``, ``"10m"``, ``"24h"``, ``"7d"``, ``"1w"`` to seconds (at most ten
    years: a longer one is a typo, and would overflow the dates computed from it)."""
    seconds = duration_seconds(text)
    if seconds > MAX_DURATION:
        raise ValueError(f"{text!r} is too long for a duration; at most 3650d")
    return seconds


def check_rollout_timeout(seconds: float) -> float:
    """``seconds`` when it is a sensible time to wait for a rollout (1s to 24h), else a
    ``ValueError`` saying which way it is wrong: 0 would give up before looking once."""
    shortest, longest = ROLLOUT_TIMEOUT_RANGE
    if seconds < shortest:
        raise ValueError("too short: a rollout needs at least 1s")
    if seconds > longest:
        raise ValueError("too long: at most 24h")
    return seconds


def parse_rollout_timeout(text: str | int | float) -> float:
    """A rollout timeout: a duration (see :func:`parse_duration`) from 1s to 24h."""
    return check_rollout_timeout(duration_seconds(text))


Duration = Annotated[float, BeforeValidator(parse_duration)]

# ``kubernetes.abandon-after`` by default: this many ``rollout-timeout``s without a new status.
ABANDON_FACTOR = 3
ENVIRONMENT_NAME_RULE = "letters, digits, '.', '_' and '-'"


def add_environment(name: str) -> str:
    """How to add the unknown environment ``name``: a name the config would refuse
    (``my env``) is proposed in a form it accepts (``my-env``), or the rule is said."""
    if _ENV_NAME.fullmatch(name):
        return f"add {name!r} under environments: in {CONFIG_FILE}"
    valid = re.sub(r"[^A-Za-z0-9._-]+", "-", name).strip("-._")[:255]
    if valid:
        return (
            f"add {valid!r} under environments: in {CONFIG_FILE} "
            f"(a name is {ENVIRONMENT_NAME_RULE})"
        )
    return f"add it under environments: in {CONFIG_FILE}, named with {ENVIRONMENT_NAME_RULE}"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


NOTIFY_EVENTS = (
    "deploy-requested",
    "deploy-started",
    "deploy-succeeded",
    "deploy-failed",
    "rolled-back",
    "locked",
    "unlocked",
    "stale-commits",
)


def _events(value: Any) -> Any:
    if isinstance(value, str):
        value = [value]
    for event in value or ():
        if event not in NOTIFY_EVENTS:
            raise ValueError(f"unknown event {event!r}; known: {', '.join(NOTIFY_EVENTS)}")
    return value


def _env_var_name(value: Any) -> Any:
    if isinstance(value, str) and (value.startswith(("http://", "https://")) or "/" in value):
        raise ValueError(
            "give the name of the environment variable (a secret) that holds the webhook URL, "
            "never the URL itself"
        )
    return value


class Notify(_Strict):
    """Where an environment's notifications go (the webhook URL comes from a secret)."""

    slack_webhook_env: Annotated[str | None, BeforeValidator(_env_var_name)] = Field(
        default=None, alias="slack-webhook-env"
    )
    events: Annotated[tuple[str, ...], BeforeValidator(_events)] = NOTIFY_EVENTS


class Environment(_Strict):
    """One deploy target."""

    production: bool = False
    url: str | None = None
    dashboard: str | None = None  # where people watch it (the chat bot links it; default url)
    namespace: str | None = None
    requires: tuple[str, ...] = ()
    stale_after: Duration | None = Field(default=None, alias="stale-after")
    auto_rollback: bool = Field(default=False, alias="auto-rollback")
    values: str | None = None  # values file, relative to manifests.values
    notify: Notify | None = None  # this environment's route; default: the top-level notify
    confirm: bool = False  # deploy, rollback and apply ask first (the CLI and the chat bot)


class Manifests(_Strict):
    path: str = "deploy/templates"
    values: str = "deploy/values"


class Kubernetes(_Strict):
    namespace: str = "default"
    version: str = "1.30"
    rollout_timeout: Annotated[float, BeforeValidator(parse_rollout_timeout)] = Field(
        default=600.0, alias="rollout-timeout"
    )
    abandon_after: Duration | None = Field(default=None, alias="abandon-after")

    @property
    def abandon_seconds(self) -> float:
        """How long an ``in_progress`` deploy may go without a new status before it is
        taken for dead (``abandon-after``, default ``ABANDON_FACTOR`` rollout timeouts):
        a live run writes ``in_progress`` once, then waits up to ``rollout-timeout``."""
        if self.abandon_after is not None:
            return self.abandon_after
        return ABANDON_FACTOR * self.rollout_timeout


class Checks(_Strict):
    """Which checks the gate reads."""

    ignore: tuple[str, ...] = ()  # check names left out (the deploy workflow's own job)
    require_some: bool = Field(default=True, alias="require-some")


class Config(_Strict):
    version: int = 1
    image: str | None = None
    default_branch: str | None = Field(default=None, alias="default-branch")
    manifests: Manifests = Manifests()
    kubernetes: Kubernetes = Kubernetes()
    checks: Checks = Checks()
    secrets: tuple[str, ...] = ()
    environments: dict[str, Environment] = Field(default_factory=dict)
    notify: Notify | None = None  # the route of environments without their own

    def environment(self, name: str) -> Environment:
        from commit_train.errors import NotFoundError

        try:
            return self.environments[name]
        except KeyError:
            known = ", ".join(sorted(self.environments)) or "none configured"
            raise NotFoundError(
                f"unknown environment {name!r} (known: {known})",
                fix=f"use one of them, or {add_environment(name)}",
            ) from None

    def namespace_of(self, environment: str) -> str:
        """Where ``environment``'s objects (and its ApplySet parent) live: its own
        ``namespace``, else ``kubernetes.namespace``."""
        return self.environment(environment).namespace or self.kubernetes.namespace


@dataclass(frozen=True)
class LoadedConfig:
    config: Config
    path: Path | None  # None when no file exists and the defaults apply


def _key_path(loc: tuple[int | str, ...]) -> str:
    parts: list[str] = []
    for item in loc:
        if isinstance(item, int):
            parts.append(f"[{item}]")
        else:
            parts.append(("." if parts else "") + str(item))
    return "".join(parts) or "(top level)"


def _known_keys(model: type[BaseModel], loc: tuple[int | str, ...]) -> list[str]:
    """The keys allowed at ``loc``'s parent, following the models (for "did you mean")."""
    current: Any = model
    for item in loc[:-1]:
        if isinstance(item, int) or current is None:
            continue
        if isinstance(current, type) and issubclass(current, BaseModel):
            field_info = next(
                (f for n, f in current.model_fields.items() if item in (n, f.alias)), None
            )
            if field_info is None:
                current = None
                continue
            annotation = field_info.annotation
            args: tuple[Any, ...] = getattr(annotation, "__args__", ())
            if getattr(annotation, "__origin__", None) is dict and len(args) == 2:
                current = ("dict", args[1])
            else:
                current = annotation
        elif isinstance(current, tuple):  # inside a dict: the key is a name, next is the value
            current = current[-1]
    if isinstance(current, type) and issubclass(current, BaseModel):
        return [f.alias or n for n, f in current.model_fields.items()]
    return []


def describe_error(error: Any, source: str, model: type[BaseModel] | None = None) -> str:
    """One pydantic error of a strict YAML file in the words of the YAML a person writes:
    the file, the key path, what was wrong and the fix (``model``: the file's schema, the
    config's by default; the deploy service's own config uses it too)."""
    loc = tuple(error["loc"])
    where = f"{source}: {_key_path(loc)}"
    if error["type"] == "extra_forbidden":
        known = _known_keys(model or Config, loc)
        guess = difflib.get_close_matches(str(loc[-1]), known, n=1)
        fix = f"did you mean {guess[0]!r}?" if guess else f"allowed keys: {', '.join(known)}"
        return f"{where}: unknown key; {fix}"
    expected = _EXPECTED.get(error["type"])
    if expected is not None:
        got = error.get("input")
        shown = (
            "nothing" if got is None else repr(got) if isinstance(got, str) else type(got).__name__
        )
        return f"{where}: expected {expected[0]}, got {shown}; {expected[1]}"
    message = str(error["msg"]).removeprefix("Value error, ")
    return f"{where}: {message}"


# pydantic's error types, in the words of the YAML a person writes, each with the fix.
_EXPECTED: dict[str, tuple[str, str]] = {
    "bool_type": ("true or false", "write true or false"),
    "bool_parsing": ("true or false", "write true or false"),
    "tuple_type": ("a list", "write it as a list, like [a, b] or one '- item' a line"),
    "list_type": ("a list", "write it as a list, like [a, b] or one '- item' a line"),
    "dict_type": ("a mapping", "write it as keys under this one, or {} for none"),
    "model_type": ("a mapping", "write it as keys under this one, or {} for none"),
    "model_attributes_type": ("a mapping", "write it as keys under this one, or {} for none"),
    "string_type": ("a string", "quote it if YAML reads it as something else"),
    "int_type": ("a whole number", "write a number such as 1"),
    "int_parsing": ("a whole number", "write a number such as 1"),
}


def parse(text: str, *, source: str = CONFIG_FILE) -> Config:
    """Parse and validate config text; ``source`` names the file in every error."""
    try:
        raw = safeyaml.load(text)
    except safeyaml.YamlLimitError as exc:  # a duplicate key, an alias bomb, too deep
        mark = exc.problem_mark
        at = f" line {mark.line + 1}:" if mark is not None else ""
        raise ConfigError(f"{source}:{at} {exc.problem}", fix=exc.fix) from None
    except yaml.reader.ReaderError as exc:
        number, what = safeyaml.reader_problem(exc, text)
        raise ConfigError(
            f"{source}: line {number}: holds {what}, which YAML does not allow",
            fix="remove it (is this a text file?)",
        ) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        # An unclosed bracket is found at the end of the stream: name the last line there is.
        last = max(1, len(text.rstrip("\n").splitlines()))
        line = f" line {min(mark.line + 1, last)}" if mark is not None else ""
        raise ConfigError(f"{source}:{line} is not valid YAML", fix="fix the syntax") from None
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise ConfigError(
            f"{source}: expected a mapping at the top level",
            fix="start the file with keys such as environments:",
        )
    try:
        config = Config.model_validate(raw)
    except ValidationError as exc:
        errors = exc.errors()
        first = describe_error(errors[0], source)
        more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
        raise ConfigError(first + more) from None
    for name, env in config.environments.items():
        if not _ENV_NAME.fullmatch(name):
            raise ConfigError(
                f"{source}: environments: {name!r} is not a valid environment name",
                fix=f"use {ENVIRONMENT_NAME_RULE}",
            )
        for required in env.requires:
            if required not in config.environments:
                raise ConfigError(
                    f"{source}: environments.{name}.requires: unknown environment {required!r}",
                    fix=f"define {required!r} under environments: or remove it",
                )
    if config.version != 1:
        raise ConfigError(
            f"{source}: version: {config.version} is not supported", fix="write version: 1"
        )
    return config


def load(root: Path) -> LoadedConfig:
    """Read ``.commit-train.yml`` from a repository root; defaults apply when it is absent."""
    path = root / CONFIG_FILE
    if path.is_symlink() and not leads_into(path, root):
        raise ConfigError(
            f"{path}: a symbolic link that leaves the repository (to {os.readlink(path)})",
            fix="commit the file itself there instead of a link",
        )
    if not path.exists():
        return LoadedConfig(Config(), None)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{path}: cannot be read ({exc.strerror})") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: is not UTF-8 text", fix="save it as UTF-8 YAML") from None
    return LoadedConfig(parse(text, source=str(path)), path)
