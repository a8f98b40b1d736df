"""The templates' world: Jinja2's immutable sandbox with strict undefined, the filters a
template may call, and where an error points (file, line, the missing key and its fix).
"""

from __future__ import annotations

import base64
import difflib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn

from jinja2 import (
    FileSystemLoader,
    StrictUndefined,
)

from commit_train.config import CONFIG_FILE
from commit_train.core.redact import redact_text
from commit_train.core.text import one_line
from commit_train.errors import RenderError
from commit_train.render.limits import LimitedSandbox, Meter
from commit_train.render.manifests import (
    CONTEXT_NAMES,
    SECRETS_BLOB,
    Dumper,
    dump_yaml,
    represent_dict,
)

# --------------------------------------------------------------------------- template context


class PathDict(dict[str, Any]):
    """A dict that knows where it sits in the context, so a missing key is named in full."""

    __slots__ = ("_ct_path",)

    def __init__(self, items: Mapping[str, Any], path: str) -> None:
        super().__init__(items)
        self._ct_path = path


Dumper.add_representer(PathDict, represent_dict)


def _join_path(path: str, key: Any) -> str:
    if isinstance(key, str) and re.fullmatch(r"[A-Za-z_][A-Za-z0-9_-]*", key):
        return f"{path}.{key}"
    return f"{path}[{key!r}]"


def wrap(value: Any, path: str) -> Any:
    if isinstance(value, Mapping):
        return PathDict({k: wrap(v, _join_path(path, k)) for k, v in value.items()}, path)
    if isinstance(value, list):
        return [wrap(item, f"{path}[{i}]") for i, item in enumerate(value)]
    return value


class Undefined(StrictUndefined):
    """Strict undefined whose message names the whole path: ``'values.db.host' is undefined``."""

    __slots__ = ()

    @property
    def _undefined_message(self) -> str:
        owner = self._undefined_obj
        if self._undefined_hint is None and isinstance(owner, PathDict):
            # quoted, not repr'd: the path already holds a key's repr, and a second repr would
            # escape a secret used as the key past every form redaction knows
            return f"'{_join_path(owner._ct_path, self._undefined_name)}' is undefined"
        message: str = super()._undefined_message
        return message


class TemplateFailure(Exception):
    """Raised by ``fail("...")`` in a template."""


def _fail(message: str) -> NoReturn:
    raise TemplateFailure(str(message))


def _b64encode(value: Any) -> str:
    data = value if isinstance(value, bytes) else str(value).encode("utf-8")
    return base64.b64encode(data).decode("ascii")


def _b64decode(value: Any) -> str:
    return base64.b64decode(str(value)).decode("utf-8")


def _to_yaml(value: Any) -> str:
    return dump_yaml(value).rstrip("\n")


def _to_json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


def _quote(value: Any) -> str:
    """A double-quoted scalar that YAML reads back as exactly this string."""
    return json.dumps("" if value is None else str(value), ensure_ascii=False)


def _finalize(value: Any) -> Any:
    return "" if value is None else value


def sandbox(loader: FileSystemLoader, meter: Meter) -> LimitedSandbox:
    env = LimitedSandbox(
        meter=meter,
        loader=loader,
        undefined=Undefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        autoescape=False,
        finalize=_finalize,
    )
    env.filters.update(
        b64encode=_b64encode,
        b64decode=_b64decode,
        to_yaml=_to_yaml,
        to_json=_to_json,
        quote=_quote,
    )
    env.globals["fail"] = _fail
    return env


# --------------------------------------------------------------------------- errors


@dataclass
class Where:
    """How to name places in messages, and what to hide from them."""

    root: Path
    secret_values: frozenset[str] = frozenset()
    values_files: tuple[str, str] = ("", "")

    def rel(self, path: Path | str) -> str:
        p = Path(path)
        try:
            return p.resolve().relative_to(self.root.resolve()).as_posix()
        except ValueError:
            return p.as_posix()

    def error(
        self, file: str | None, line: int | None, problem: str, fix: str | None = None
    ) -> RenderError:
        problem = one_line(redact_text(problem, self.secret_values))
        fix = one_line(redact_text(fix, self.secret_values)) if fix else fix
        prefix = f"{file}:{line}: " if file and line else f"{file}: " if file else ""
        return RenderError(prefix + problem, fix=fix, file=file, line=line)


def undefined_fix(problem: str, where: Where) -> str | None:
    match = re.match(r"^'(values|secrets)[.\[](.+)' is undefined$", problem)
    if match and match.group(1) == "values":
        key = match.group(2).rstrip("]")
        defaults, env_file = where.values_files
        return f"add {key} to {defaults} or {env_file}"
    if match:
        name = match.group(2).strip("'\"[]")
        return (
            f"list {name} under secrets: in {CONFIG_FILE} and provide it to the deploy step "
            f"(an environment variable {name}, or {SECRETS_BLOB})"
        )
    if problem == "'image' is undefined":
        return f"set image: in {CONFIG_FILE}"
    top = re.match(r"^'([A-Za-z_][A-Za-z0-9_]*)' is undefined$", problem)
    if top:
        guess = difflib.get_close_matches(top.group(1), CONTEXT_NAMES, n=1)
        if guess:
            return f"did you mean {guess[0]!r}?"
        return f"templates can use {', '.join(CONTEXT_NAMES)}"
    return None
