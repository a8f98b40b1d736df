"""Schema validation of built-in kinds against the Kubernetes OpenAPI schemas of the
configured version (shipped by ``kubernetes-validate``), with errors that name the field and
the template line that wrote it.
"""

from __future__ import annotations

import difflib
import importlib
import json
import re
from pathlib import Path
from typing import Any

import yaml

from commit_train.config import CONFIG_FILE
from commit_train.errors import RenderError

# --------------------------------------------------------------------------- schemas


class _Schemas:
    """Validators for one Kubernetes version, built once per (apiVersion, kind) and reused.

    ``kubernetes_validate.validate()`` re-reads and re-parses the schema files on every call
    (several milliseconds per object); building each validator once makes a thousand objects
    cost a fraction of a second. The schema files and their naming are the package's own.
    """

    def __init__(self, requested: str) -> None:
        self.notes: list[str] = []
        self._jsonschema = importlib.import_module("jsonschema")
        self._referencing = importlib.import_module("referencing")
        package = importlib.import_module("kubernetes_validate")
        base = Path(str(package.__file__)).parent / "kubernetes-json-schema"
        versions = {}
        for entry in base.iterdir():
            match = re.fullmatch(r"v(\d+)\.(\d+)\.\d+-local-strict", entry.name)
            if match:
                versions[(int(match.group(1)), int(match.group(2)))] = entry
        if not versions:  # pragma: no cover - a broken install
            raise RenderError("kubernetes-validate ships no schemas", fix="reinstall it")
        wanted = _version_tuple(requested)
        older = [v for v in versions if v <= wanted]
        chosen = max(older) if older else min(versions)
        if chosen != wanted:
            self.notes.append(
                f"no schemas for Kubernetes {requested} in kubernetes-validate; "
                f"validated against {chosen[0]}.{chosen[1]}"
            )
        self.version = f"{chosen[0]}.{chosen[1]}"
        self._folder = versions[chosen]
        self._registry: Any = None
        self._validators: dict[tuple[str, str], Any] = {}

    def validator(self, api_version: str, kind: str) -> Any | None:
        key = (api_version, kind)
        if key in self._validators:
            return self._validators[key]
        self._validators[key] = validator = self._build(api_version, kind)
        return validator

    def _build(self, api_version: str, kind: str) -> Any | None:
        short = re.sub(r"^([^./]*)(?:\.[^/]*)?/", r"\1-", api_version)
        path = self._folder / f"{kind.lower()}-{short}.json"
        if not path.is_file():
            return None
        schema = json.loads(path.read_text(encoding="utf-8"))
        group, _, version = api_version.rpartition("/")
        gvks = schema.get("x-kubernetes-group-version-kind") or []
        if not any(
            g.get("group", "") == group and g.get("version") == version and g.get("kind") == kind
            for g in gvks
        ):
            return None  # e.g. a custom resource whose group merely starts like a built-in one
        if self._registry is None:
            definitions = json.loads(
                (self._folder / "_definitions.json").read_text(encoding="utf-8")
            )
            self._registry = self._referencing.Resource.from_contents(definitions) @ (
                self._referencing.Registry()
            )
        registry = self._referencing.Resource.from_contents(schema) @ self._registry
        return self._jsonschema.Draft202012Validator(schema, registry=registry)

    def problem(self, validator: Any, obj: dict[str, Any]) -> Any | None:
        errors = validator.iter_errors(obj)
        return self._jsonschema.exceptions.best_match(errors)


_SCHEMAS: dict[str, _Schemas] = {}


def schemas_for(version: str) -> _Schemas:
    """One set of validators per Kubernetes version per process (they hold no state)."""
    if version not in _SCHEMAS:
        _SCHEMAS[version] = _Schemas(version)
    return _SCHEMAS[version]


def _version_tuple(text: str) -> tuple[int, int]:
    match = re.match(r"^v?(\d+)\.(\d+)", str(text).strip())
    if not match:
        raise RenderError(
            f"kubernetes.version {text!r} is not a Kubernetes version",
            fix=f"write it like 1.30 in {CONFIG_FILE}",
        )
    return int(match.group(1)), int(match.group(2))


JSON_TYPES = {
    str: "string",
    bool: "boolean",
    int: "integer",
    float: "number",
    dict: "mapping",
    list: "list",
    type(None): "null",
}


_SCHEMA_TYPE_NAMES = {"object": "mapping", "array": "list"}


def _short(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= 60 else text[:57] + "..."


def describe_schema_error(error: Any) -> tuple[list[Any], str]:
    """A path (to find the line) and a short description of one jsonschema error."""
    path = list(error.absolute_path)
    dotted = ".".join(str(p) if not isinstance(p, int) else f"[{p}]" for p in path)
    dotted = dotted.replace(".[", "[") or "(top level)"
    kind = error.validator
    if kind == "type":
        expected = error.validator_value
        names = [expected] if isinstance(expected, str) else list(expected)
        names = [_SCHEMA_TYPE_NAMES.get(n, n) for n in names if n != "null"] or names
        got = JSON_TYPES.get(type(error.instance), type(error.instance).__name__)
        return path, f"{dotted}: expected {' or '.join(names)}, got {got} {_short(error.instance)}"
    if kind == "additionalProperties" and isinstance(error.instance, dict):
        allowed = list((error.schema.get("properties") or {}).keys())
        extra = [k for k in error.instance if k not in allowed]
        if extra:
            guess = difflib.get_close_matches(str(extra[0]), allowed, n=1)
            hint = f" (did you mean {guess[0]!r}?)" if guess else ""
            return [*path, extra[0]], f"{dotted}: unknown field {extra[0]!r}{hint}"
    if kind == "required":
        missing = re.match(r"^'(.+)' is a required property$", error.message)
        name = missing.group(1) if missing else error.message
        return path, f"{dotted}: missing required field {name!r}"
    if kind == "enum":
        options = ", ".join(_short(v) for v in error.validator_value if v is not None)
        return path, f"{dotted}: {_short(error.instance)} is not one of {options}"
    message = error.message if len(error.message) <= 160 else error.message[:157] + "..."
    return path, f"{dotted}: {message}"


def node_line(node: yaml.Node, path: list[Any]) -> int:
    """The 0-based rendered line of the value at ``path`` (or of its deepest existing parent)."""
    current = node
    for index, part in enumerate(path):
        if isinstance(current, yaml.MappingNode):
            for key_node, value_node in current.value:
                if isinstance(key_node, yaml.ScalarNode) and key_node.value == str(part):
                    # the last step points at the key: that is the line where the field is written
                    current = key_node if index == len(path) - 1 else value_node
                    break
            else:
                break
        elif isinstance(current, yaml.SequenceNode) and isinstance(part, int):
            if part >= len(current.value):
                break
            current = current.value[part]
        else:
            break
    line: int = current.start_mark.line
    return line
