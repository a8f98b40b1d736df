"""Values and secrets: per-environment values files deep-merged over the defaults, and the
secrets the config names read from the environment (or one JSON blob), never printed.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

import yaml

from commit_train.config import CONFIG_FILE, Config, Environment
from commit_train.errors import RenderError
from commit_train.render.context import Where
from commit_train.render.manifests import DEFAULTS_VALUES, SECRETS_BLOB, ManifestLoader
from commit_train.safeyaml import YamlLimitError, reader_problem

# --------------------------------------------------------------------------- values and secrets


def _deep_merge(base: Mapping[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    """Mappings merge key by key; anything else (lists included) in ``override`` replaces."""
    merged = dict(base)
    for key, value in override.items():
        current = merged.get(key)
        if isinstance(current, Mapping) and isinstance(value, Mapping):
            merged[key] = _deep_merge(current, value)
        else:
            merged[key] = value
    return merged


def _values_file(folder: Path, stem: str) -> Path:
    """``stem.yml`` or ``stem.yaml`` (the one that exists; ``.yml`` when neither does)."""
    candidates = [folder / f"{stem}.yml", folder / f"{stem}.yaml"]
    existing = [c for c in candidates if c.is_file()]
    if len(existing) > 1:
        raise RenderError(
            f"both {candidates[0].name} and {candidates[1].name} exist in {folder.name}",
            fix="keep one of them",
        )
    return existing[0] if existing else candidates[0]


def _read_values(path: Path, where: Where) -> dict[str, Any]:
    rel = where.rel(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise where.error(rel, None, f"cannot be read ({exc.strerror})") from None
    except UnicodeDecodeError:
        raise where.error(rel, None, "is not UTF-8 text") from None
    try:
        data = yaml.load(text, Loader=ManifestLoader)  # noqa: S506 - ManifestLoader is a SafeLoader
    except YamlLimitError as exc:  # a duplicate key, an alias bomb, too deep
        line = exc.problem_mark.line + 1 if exc.problem_mark is not None else None
        raise where.error(rel, line, str(exc.problem), exc.fix) from None
    except yaml.MarkedYAMLError as exc:
        line = exc.problem_mark.line + 1 if exc.problem_mark is not None else None
        raise where.error(rel, line, f"invalid YAML: {exc.problem}", "fix the syntax") from None
    except yaml.reader.ReaderError as exc:
        line, what = reader_problem(exc, text)
        raise where.error(
            rel,
            line,
            f"holds {what}, which YAML does not allow",
            "remove it, or write it as \\0 in a double-quoted string",
        ) from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise where.error(rel, 1, "a values file must be a mapping of names to values")
    return data


def load_values(
    root: Path, config: Config, environment: str, env_config: Environment, where: Where
) -> dict[str, Any]:
    folder = root / config.manifests.values
    defaults_path = _values_file(folder, DEFAULTS_VALUES)
    if env_config.values:
        env_path = folder / env_config.values
        if not env_path.is_file():
            raise RenderError(
                f"{where.rel(env_path)}: values file of environment {environment!r} not found",
                fix=f"create it, or fix environments.{environment}.values in {CONFIG_FILE}",
            )
    else:
        env_path = _values_file(folder, environment)
    where.values_files = (where.rel(defaults_path), where.rel(env_path))
    values: dict[str, Any] = {}
    for path in (defaults_path, env_path):
        if path.is_file():
            values = _deep_merge(values, _read_values(path, where))
    return values


def read_secrets(
    names: tuple[str, ...],
    env: Mapping[str, str],
    *,
    missing: Literal["error", "placeholder"] = "error",
) -> dict[str, str]:
    """Each named secret from the variable of that name, else from the JSON object in
    ``COMMIT_TRAIN_SECRETS`` (the shape of Actions' ``toJSON(secrets)``).

    An empty variable counts as unset: Actions passes ``${{ secrets.X }}`` as an empty string
    when the secret does not exist. No message ever contains a value.
    """
    blob: dict[str, Any] | None = None
    blob_state = "unset"
    raw_blob = env.get(SECRETS_BLOB) if names else None
    if raw_blob:
        try:
            parsed = json.loads(raw_blob)
        except ValueError:
            raise RenderError(
                f"{SECRETS_BLOB} is not valid JSON",
                fix="set it to a JSON object of names and values, such as ${{ toJSON(secrets) }}",
            ) from None
        if not isinstance(parsed, dict):
            raise RenderError(
                f"{SECRETS_BLOB} must hold a JSON object of names and values",
                fix="set it to ${{ toJSON(secrets) }}",
            )
        blob = parsed
        blob_state = "set"
    found: dict[str, str] = {}
    for name in names:
        value = env.get(name)
        if not value and blob is not None:
            from_blob = blob.get(name)
            if from_blob is not None and not isinstance(from_blob, str):
                raise RenderError(
                    f"secret {name!r} in {SECRETS_BLOB} is not a string",
                    fix="give every secret a string value",
                )
            value = from_blob
        if value:
            found[name] = value
            continue
        if missing == "placeholder":
            found[name] = f"<secret {name}>"
            continue
        variable = "empty" if name in env else "unset"
        in_blob = "has no such key" if blob is not None else blob_state
        if env.get("GITHUB_ACTIONS") == "true":  # a workflow step: say it in workflow terms
            fix = (
                f"pass it to the step as env: {name}: ${{{{ secrets.{name} }}}} "
                f"(and add it to the environment's secrets)"
            )
        else:
            fix = (
                f"export {name}=... in this shell, or set {SECRETS_BLOB} to a JSON object "
                "of names and values"
            )
        raise RenderError(
            f"secret {name!r} is not set: looked for the environment variable {name} "
            f"({variable}) and the key {name} in {SECRETS_BLOB} ({in_blob})",
            fix=fix,
        )
    return found
