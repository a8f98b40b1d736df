"""What a render produces: the manifests, their keys and order, and their YAML.

``Rendered`` holds the validated objects of one render; ``stream()`` and ``write_dir()``
redact Secret values by default. ``APPLY_ORDER`` puts namespaces and definitions first.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from commit_train.core.redact import redact_object, redact_text
from commit_train.safeyaml import StrictLoader

SECRETS_BLOB = "COMMIT_TRAIN_SECRETS"
TEMPLATE_SUFFIXES = (".yaml", ".yml", ".j2")
DEFAULTS_VALUES = "defaults"
CONTEXT_NAMES = (
    "deployment",
    "environment",
    "image",
    "namespace",
    "secrets",
    "sha",
    "short_sha",
    "values",
)

# Built-in kinds that live outside namespaces (``kubectl api-resources --namespaced=false``).
CLUSTER_SCOPED_KINDS = frozenset(
    """
    APIService CertificateSigningRequest ClusterRole ClusterRoleBinding ClusterTrustBundle
    ComponentStatus CSIDriver CSINode CustomResourceDefinition DeviceClass FlowSchema
    IngressClass IPAddress MutatingAdmissionPolicy MutatingAdmissionPolicyBinding
    MutatingWebhookConfiguration Namespace Node PersistentVolume PodSecurityPolicy
    PriorityClass PriorityLevelConfiguration ResourceSlice RuntimeClass SelfSubjectAccessReview
    SelfSubjectReview SelfSubjectRulesReview ServiceCIDR StorageClass StorageVersion
    StorageVersionMigration SubjectAccessReview TokenReview ValidatingAdmissionPolicy
    ValidatingAdmissionPolicyBinding ValidatingWebhookConfiguration VolumeAttachment
    VolumeAttributesClass
    """.split()  # noqa: SIM905 - a list of names reads better as words
)

# The order in which kinds can be applied one after another without dangling references
# (a Namespace before what lives in it, a CRD before its resources, config before workloads).
APPLY_ORDER = tuple(
    """
    Namespace CustomResourceDefinition PriorityClass NetworkPolicy ResourceQuota LimitRange
    PodDisruptionBudget ServiceAccount Secret ConfigMap StorageClass PersistentVolume
    PersistentVolumeClaim ClusterRole ClusterRoleBinding Role RoleBinding Service DaemonSet Pod
    ReplicationController ReplicaSet Deployment HorizontalPodAutoscaler StatefulSet Job CronJob
    IngressClass Ingress APIService
    """.split()  # noqa: SIM905 - a list of names reads better as words
)
_APPLY_RANK = {kind: rank for rank, kind in enumerate(APPLY_ORDER)}


# --------------------------------------------------------------------------- public values


@dataclass(frozen=True)
class DeploymentInfo:
    """The GitHub Deployment a render is for (``deployment`` in templates)."""

    id: int
    creator: str
    url: str | None = None


@dataclass(frozen=True)
class ObjectKey:
    """Which object a manifest is: its identity on the cluster plus its apiVersion."""

    api_version: str
    kind: str
    namespace: str | None  # None for cluster-scoped kinds
    name: str

    @property
    def group(self) -> str:
        return self.api_version.rpartition("/")[0]

    @property
    def identity(self) -> tuple[str, str, str, str]:
        """Group, kind, namespace, name: two objects with the same identity are one object."""
        return (self.group, self.kind, self.namespace or "", self.name)

    def __str__(self) -> str:
        where = f"{self.namespace}/{self.name}" if self.namespace else self.name
        return f"{self.kind} {where}"


@dataclass(frozen=True)
class Manifest:
    """One rendered object: where it came from, and the object itself (secrets included)."""

    source: str  # the template, relative to the repository root ("deploy/templates/web.yaml")
    line: int  # the template line where the object's document starts (1-based)
    obj: dict[str, Any]
    key: ObjectKey

    @property
    def location(self) -> str:
        return f"{self.source}:{self.line}"


@dataclass(frozen=True)
class Rendered:
    """The manifests of one environment at one commit.

    ``objects`` keep their real values (for applying); everything meant for a person goes
    through ``stream()``/``write_dir()``/``redacted()``, which hide secrets unless told not to.
    """

    environment: str
    sha: str
    objects: tuple[Manifest, ...]
    secret_values: frozenset[str] = frozenset()
    notes: tuple[str, ...] = ()  # things worth knowing that are not errors (skipped schemas)
    kubernetes_version: str | None = None  # the schema version validated against, if any

    def redacted(self, manifest: Manifest) -> dict[str, Any]:
        """A copy of ``manifest.obj`` that is safe to show."""
        return redact_object(manifest.obj, self.secret_values)

    def apply_order(self) -> tuple[Manifest, ...]:
        """The objects sorted so each can be applied after what it needs (stable)."""
        unknown = len(APPLY_ORDER)
        ranked = sorted(
            enumerate(self.objects),
            key=lambda item: (_APPLY_RANK.get(item[1].key.kind, unknown), item[0]),
        )
        return tuple(manifest for _, manifest in ranked)

    def stream(self, redacted: bool = True) -> str:
        """One multi-document YAML stream, each document headed by its source line."""
        parts = []
        for manifest in self.objects:
            obj = self.redacted(manifest) if redacted else manifest.obj
            parts.append(f"---\n# Source: {manifest.location}\n{dump_yaml(obj)}")
        text = "".join(parts)
        return redact_text(text, self.secret_values) if redacted else text

    def write_dir(self, path: Path, *, redacted: bool = True) -> tuple[Path, ...]:
        """One file per object, ``<NN>-<kind>-<namespace>-<name>.yaml``, in apply order.

        The numbers make ``kubectl apply -f DIR`` apply them in a working order; a
        cluster-scoped object's name has no namespace part. Files this method wrote before
        (``NN-*.yaml``) are removed first, so the folder holds exactly this render.
        """
        path.mkdir(parents=True, exist_ok=True)
        for old in path.iterdir():
            if old.is_file() and _WRITTEN_FILE.match(old.name):
                old.unlink()
        ordered = self.apply_order()
        width = max(2, len(str(len(ordered))))
        written = []
        for index, manifest in enumerate(ordered, start=1):
            key = manifest.key
            parts = [key.kind, *([key.namespace] if key.namespace else []), key.name]
            name = "-".join(_file_part(p) for p in parts)
            target = path / f"{index:0{width}d}-{name}.yaml"
            obj = self.redacted(manifest) if redacted else manifest.obj
            text = f"# Source: {manifest.location}\n{dump_yaml(obj)}"
            if redacted:
                text = redact_text(text, self.secret_values)
            target.write_text(text, encoding="utf-8")
            written.append(target)
        return tuple(written)


_WRITTEN_FILE = re.compile(r"^\d{2,}-.+\.yaml$")


def _file_part(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]", "_", text.lower())


# --------------------------------------------------------------------------- YAML


ManifestLoader = StrictLoader  # duplicate keys, alias bombs and deep nesting refused (safeyaml)


class Dumper(yaml.CSafeDumper if yaml.__with_libyaml__ else yaml.SafeDumper):  # type: ignore[misc]
    pass


def _represent_str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style = "|" if "\n" in value and not value.endswith((" ", "\t")) else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


def represent_dict(dumper: yaml.SafeDumper, value: dict[Any, Any]) -> yaml.MappingNode:
    return dumper.represent_dict(value)


Dumper.add_representer(str, _represent_str)


def dump_yaml(obj: Any) -> str:
    """Block-style YAML, keys in their given order, multi-line strings as ``|`` blocks."""
    text: str = yaml.dump(
        obj, Dumper=Dumper, sort_keys=False, default_flow_style=False, allow_unicode=True
    )
    return text
