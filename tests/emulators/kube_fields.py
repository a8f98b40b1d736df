"""Which fields a kind declares, for the emulator's field validation.

The API server knows every built-in kind's fields from its Go types and every custom
resource's from its CustomResourceDefinition's structural schema. The emulator reads the same
declarations from two places:

* built-in kinds: the OpenAPI-derived JSON schemas that ``kubernetes-validate`` ships per
  Kubernetes version (the ones commit-train's render validates against), for the emulator's
  own server version;
* custom resources: the stored CustomResourceDefinition's ``openAPIV3Schema`` for the served
  version, with the structural-schema rules the apiextensions server prunes by
  (``staging/src/k8s.io/apiextensions-apiserver/pkg/apiserver/schema/pruning``): an object
  keeps only its ``properties`` unless ``additionalProperties`` makes it a map or
  ``x-kubernetes-preserve-unknown-fields`` keeps the rest; ``x-kubernetes-embedded-resource``
  adds ``apiVersion``, ``kind`` and ``metadata``; a custom resource's root always has those
  three and its ``metadata`` is an ObjectMeta.

A kind with no schema here is not checked. Type mismatches are another error and are not
reported as unknown fields.

Paths come in the two spellings the server uses: the JSON decoder's
(``spec.template.spec.containers[0].imagez``, in strict decoding errors and warnings) and
structured-merge-diff's (``.spec.template.spec.containers[name="web"].imagez``, in a
server-side apply's "field not declared in schema"), which names an item of a keyed list by
its keys (``x-kubernetes-list-map-keys``).
"""

from __future__ import annotations

import copy
import importlib
import json
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from tests.emulators.kube_resources import SERVER_VERSION, ResourceType

_OBJECT_META = "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"


@dataclass(frozen=True)
class Step:
    """One step into an object: a field name, or a list index with the item's keys."""

    name: str | None = None
    index: int = 0
    keys: tuple[tuple[str, Any], ...] = ()


@dataclass(frozen=True)
class Unknown:
    """A field the kind does not declare."""

    steps: tuple[Step, ...]

    @property
    def dotted(self) -> str:
        """The JSON decoder's spelling: ``spec.template.spec.containers[0].imagez``."""
        text = ""
        for step in self.steps:
            if step.name is not None:
                text += f".{step.name}" if text else step.name
            else:
                text += f"[{step.index}]"
        return text

    @property
    def smd(self) -> str:
        """structured-merge-diff's: ``.spec.template.spec.containers[name="web"].imagez``."""
        text = ""
        for step in self.steps:
            if step.name is not None:
                text += f".{step.name}"
            elif step.keys:
                keys = ",".join(f"{k}={json.dumps(v)}" for k, v in step.keys)
                text += f"[{keys}]"
            else:
                text += f"[{step.index}]"
        return text


class Fields:
    """Finds and drops the fields a kind does not declare."""

    def __init__(self, version: str = f"{SERVER_VERSION['major']}.{SERVER_VERSION['minor']}"):
        self.folder = _schema_folder(version)
        self._definitions: dict[str, Any] | None = None

    @property
    def definitions(self) -> dict[str, Any]:
        if self._definitions is None:
            path = self.folder / "_definitions.json"
            self._definitions = json.loads(path.read_text(encoding="utf-8"))["$defs"]
        return self._definitions

    def schema(self, rtype: ResourceType, crd: dict[str, Any] | None) -> _Node | None:
        """The root schema of ``rtype`` (``crd``: its definition, for a custom resource)."""
        if rtype.custom:
            if crd is None:
                return None
            versions = (crd.get("spec") or {}).get("versions") or []
            version = next((v for v in versions if v.get("name") == rtype.version), None)
            root = ((version or {}).get("schema") or {}).get("openAPIV3Schema")
            if not isinstance(root, dict):
                return None
            return _Node(self, root, crd=True, resource_root=True)
        found = _builtin_schema(self.folder, rtype.api_version, rtype.kind)
        return None if found is None else _Node(self, found, crd=False)

    def unknown(self, obj: Any, root: _Node | None) -> list[Unknown]:
        """Every undeclared field of ``obj``, in document order."""
        if root is None:
            return []
        found: list[Unknown] = []
        root.walk(obj, (), found)
        return found

    def without(self, obj: dict[str, Any], unknown: list[Unknown]) -> dict[str, Any]:
        """``obj`` with the ``unknown`` fields removed, as the decoder drops them."""
        kept = copy.deepcopy(obj)
        for field in unknown:
            target: Any = kept
            for step in field.steps[:-1]:
                target = target[step.name] if step.name is not None else target[step.index]
            target.pop(field.steps[-1].name, None)
        return kept

    def resolve(self, node: dict[str, Any]) -> dict[str, Any]:
        while isinstance(node.get("$ref"), str):
            node = self.definitions[node["$ref"].rsplit("/", 1)[-1]]
        return node


class _Node:
    def __init__(
        self, fields: Fields, node: dict[str, Any], *, crd: bool, resource_root: bool = False
    ) -> None:
        self.fields = fields
        self.node = node if crd else fields.resolve(node)
        self.crd = crd
        self.resource_root = resource_root

    def child(self, node: Any) -> _Node | None:
        if node is True:  # additionalProperties: true
            return None
        return _Node(self.fields, node, crd=self.crd) if isinstance(node, dict) else None

    def walk(self, value: Any, path: tuple[Step, ...], found: list[Unknown]) -> None:
        node = self.node
        if isinstance(value, dict):
            self._walk_object(value, path, found)
        elif isinstance(value, list) and isinstance(node.get("items"), dict):
            item = self.child(node["items"])
            keys = [str(k) for k in node.get("x-kubernetes-list-map-keys") or []]
            for index, element in enumerate(value):
                named = tuple(
                    (k, element[k]) for k in keys if isinstance(element, dict) and k in element
                )
                if item is not None:
                    item.walk(element, (*path, Step(index=index, keys=named)), found)

    def _walk_object(
        self, value: dict[str, Any], path: tuple[Step, ...], found: list[Unknown]
    ) -> None:
        node = self.node
        properties = node.get("properties")
        extra = node.get("additionalProperties")
        if not self.crd and not isinstance(properties, dict) and not isinstance(extra, dict):
            return  # opaque (RawExtension, FieldsV1, JSON): anything goes
        if self.crd and node.get("x-kubernetes-int-or-string"):
            return
        declared = dict(properties) if isinstance(properties, dict) else {}
        meta = {"$ref": f"#/$defs/{_OBJECT_META}"}
        if self.crd and (self.resource_root or node.get("x-kubernetes-embedded-resource")):
            declared.setdefault("apiVersion", {"type": "string"})
            declared.setdefault("kind", {"type": "string"})
        keeps_rest = bool(node.get("x-kubernetes-preserve-unknown-fields")) or extra is True
        for key, sub in value.items():
            here = (*path, Step(name=str(key)))
            if (
                self.crd
                and key == "metadata"
                and (self.resource_root or node.get("x-kubernetes-embedded-resource"))
            ):
                _Node(self.fields, meta, crd=False).walk(sub, here, found)
            elif key in declared:
                child = self.child(declared[key])
                if child is not None:
                    child.walk(sub, here, found)
            elif isinstance(extra, dict):
                child = self.child(extra)
                if child is not None:
                    child.walk(sub, here, found)
            elif not keeps_rest:
                found.append(Unknown(here))


@cache
def _schema_folder(version: str) -> Path:
    """``kubernetes-validate``'s strict schemas for ``version`` (else the newest older one)."""
    package = importlib.import_module("kubernetes_validate")
    base = Path(str(package.__file__)).parent / "kubernetes-json-schema"
    versions: dict[tuple[int, int], Path] = {}
    for entry in base.iterdir():
        match = re.fullmatch(r"v(\d+)\.(\d+)\.\d+-local-strict", entry.name)
        if match:
            versions[(int(match.group(1)), int(match.group(2)))] = entry
    major, minor = (int(part) for part in version.split(".")[:2])
    older = [v for v in versions if v <= (major, minor)]
    return versions[max(older) if older else min(versions)]


@cache
def _builtin_schema(folder: Path, api_version: str, kind: str) -> dict[str, Any] | None:
    short = re.sub(r"^([^./]*)(?:\.[^/]*)?/", r"\1-", api_version)
    path = folder / f"{kind.lower()}-{short}.json"
    if not path.is_file():
        return None
    schema: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    group, _, version = api_version.rpartition("/")
    for gvk in schema.get("x-kubernetes-group-version-kind") or []:
        if (gvk.get("group", ""), gvk.get("version"), gvk.get("kind")) == (group, version, kind):
            return schema
    return None
