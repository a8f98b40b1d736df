"""The resource types the Kubernetes emulator serves: discovery documents, defaulting, validation.

Built-in types are declared in ``BUILTIN``; a CustomResourceDefinition adds its own type to a
:class:`Registry` when it is created and removes it when it is deleted, as the real API server does.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

SERVER_VERSION = {
    "major": "1",
    "minor": "32",
    "gitVersion": "v1.32.0",
    "gitCommit": "70d3cc986aa8221cd1dfb1121852688902d3bf53",
    "gitTreeState": "clean",
    "buildDate": "2024-12-11T17:59:15Z",
    "goVersion": "go1.23.3",
    "compiler": "gc",
    "platform": "linux/amd64",
}

_VERBS = ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"]


@dataclass
class ResourceType:
    group: str
    version: str
    plural: str
    kind: str
    namespaced: bool = True
    singular: str = ""
    short_names: list[str] = field(default_factory=list)
    categories: list[str] = field(default_factory=list)
    status_subresource: bool = True
    tracks_generation: bool = False
    custom: bool = False

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def group_resource(self) -> str:
        """``deployments.apps`` / ``configmaps``: how error messages name the type."""
        return f"{self.plural}.{self.group}" if self.group else self.plural

    @property
    def key(self) -> tuple[str, str]:
        return (self.group, self.plural)

    def discovery_entries(self) -> list[dict[str, Any]]:
        entry: dict[str, Any] = {
            "name": self.plural,
            "singularName": self.singular or self.kind.lower(),
            "namespaced": self.namespaced,
            "kind": self.kind,
            "verbs": list(_VERBS),
            "storageVersionHash": hashlib.sha256(self.plural.encode()).hexdigest()[:11],
        }
        if self.short_names:
            entry["shortNames"] = list(self.short_names)
        if self.categories:
            entry["categories"] = list(self.categories)
        entries = [entry]
        if self.status_subresource:
            entries.append(
                {
                    "name": f"{self.plural}/status",
                    "singularName": "",
                    "namespaced": self.namespaced,
                    "kind": self.kind,
                    "verbs": ["get", "patch", "update"],
                }
            )
        return entries


def _t(group: str, version: str, plural: str, kind: str, **kw: Any) -> ResourceType:
    return ResourceType(group=group, version=version, plural=plural, kind=kind, **kw)


BUILTIN: list[ResourceType] = [
    _t("", "v1", "namespaces", "Namespace", namespaced=False, short_names=["ns"]),
    _t("", "v1", "configmaps", "ConfigMap", short_names=["cm"], status_subresource=False),
    _t("", "v1", "secrets", "Secret", status_subresource=False),
    _t("", "v1", "services", "Service", short_names=["svc"], categories=["all"]),
    _t("", "v1", "serviceaccounts", "ServiceAccount", short_names=["sa"], status_subresource=False),
    _t("", "v1", "pods", "Pod", short_names=["po"], categories=["all"]),
    _t("", "v1", "events", "Event", short_names=["ev"], status_subresource=False),
    _t(
        "apps",
        "v1",
        "deployments",
        "Deployment",
        short_names=["deploy"],
        categories=["all"],
        tracks_generation=True,
    ),
    _t(
        "apps",
        "v1",
        "replicasets",
        "ReplicaSet",
        short_names=["rs"],
        categories=["all"],
        tracks_generation=True,
    ),
    _t(
        "apps",
        "v1",
        "statefulsets",
        "StatefulSet",
        short_names=["sts"],
        categories=["all"],
        tracks_generation=True,
    ),
    _t(
        "apps",
        "v1",
        "daemonsets",
        "DaemonSet",
        short_names=["ds"],
        categories=["all"],
        tracks_generation=True,
    ),
    _t("batch", "v1", "jobs", "Job", categories=["all"], tracks_generation=True),
    _t(
        "apiextensions.k8s.io",
        "v1",
        "customresourcedefinitions",
        "CustomResourceDefinition",
        namespaced=False,
        short_names=["crd", "crds"],
        tracks_generation=True,
    ),
]


class Registry:
    """Resource types by (group, plural), in the order discovery lists them."""

    def __init__(self) -> None:
        self.types: dict[tuple[str, str], ResourceType] = {}
        for rtype in BUILTIN:
            self.add(rtype)

    def add(self, rtype: ResourceType) -> None:
        self.types[rtype.key] = rtype

    def remove(self, group: str, plural: str) -> None:
        self.types.pop((group, plural), None)

    def lookup(self, group: str, version: str, plural: str) -> ResourceType | None:
        rtype = self.types.get((group, plural))
        if rtype is None or rtype.version != version:
            return None
        return rtype

    def by_kind(self, kind: str) -> ResourceType:
        """A type by kind (``Deployment``), plural (``deployments``) or ``plural.group``."""
        lowered = kind.lower()
        for rtype in self.types.values():
            names = {rtype.kind.lower(), rtype.plural, rtype.group_resource, *rtype.short_names}
            if lowered in names:
                return rtype
        raise KeyError(f"the emulator serves no resource type {kind!r}")

    def group_versions(self) -> dict[str, list[str]]:
        out: dict[str, list[str]] = {}
        for rtype in self.types.values():
            versions = out.setdefault(rtype.group, [])
            if rtype.version not in versions:
                versions.append(rtype.version)
        return out

    # Discovery documents -------------------------------------------------------------------

    def api_versions(self) -> dict[str, Any]:
        return {
            "kind": "APIVersions",
            "versions": ["v1"],
            "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": ""}],
        }

    def api_group_list(self) -> dict[str, Any]:
        groups = []
        for group, versions in self.group_versions().items():
            if not group:
                continue
            entries = [{"groupVersion": f"{group}/{v}", "version": v} for v in versions]
            groups.append(
                {
                    "name": group,
                    "versions": entries,
                    "preferredVersion": entries[0],
                }
            )
        return {"kind": "APIGroupList", "apiVersion": "v1", "groups": groups}

    def api_group(self, group: str) -> dict[str, Any] | None:
        versions = self.group_versions().get(group)
        if not group or not versions:
            return None
        entries = [{"groupVersion": f"{group}/{v}", "version": v} for v in versions]
        return {
            "kind": "APIGroup",
            "apiVersion": "v1",
            "name": group,
            "versions": entries,
            "preferredVersion": entries[0],
        }

    def resource_list(self, group: str, version: str) -> dict[str, Any] | None:
        resources: list[dict[str, Any]] = []
        for rtype in self.types.values():
            if rtype.group == group and rtype.version == version:
                resources.extend(rtype.discovery_entries())
        if not resources:
            return None
        return {
            "kind": "APIResourceList",
            "apiVersion": "v1",
            "groupVersion": f"{group}/{version}" if group else version,
            "resources": resources,
        }

    # OpenAPI v3: just enough for kubectl to see that the server validates fields itself --------

    def openapi_v3_root(self) -> dict[str, Any]:
        paths = {}
        for group, versions in self.group_versions().items():
            for version in versions:
                name = f"apis/{group}/{version}" if group else f"api/{version}"
                digest = hashlib.sha256(json.dumps(self.openapi_v3(name)).encode()).hexdigest()
                paths[name] = {"serverRelativeURL": f"/openapi/v3/{name}?hash={digest.upper()}"}
        return {"paths": paths}

    def openapi_v3(self, name: str) -> dict[str, Any] | None:
        if name.startswith("api/"):
            group, version = "", name.removeprefix("api/")
        elif name.startswith("apis/") and name.count("/") == 2:
            _, group, version = name.split("/")
        else:
            return None
        paths: dict[str, Any] = {}
        for rtype in self.types.values():
            if rtype.group != group or rtype.version != version:
                continue
            gvk = {"group": group, "version": version, "kind": rtype.kind}
            base = f"/{name}/namespaces/{{namespace}}" if rtype.namespaced else f"/{name}"
            params = [
                {"name": param, "in": "query", "schema": {"type": "string", "uniqueItems": True}}
                for param in ("dryRun", "fieldManager", "fieldValidation", "force")
            ]
            paths[f"{base}/{rtype.plural}/{{name}}"] = {
                "get": {
                    "operationId": f"read{rtype.kind}",
                    "x-kubernetes-action": "get",
                    "x-kubernetes-group-version-kind": gvk,
                },
                "patch": {
                    "operationId": f"patch{rtype.kind}",
                    "parameters": params,
                    "x-kubernetes-action": "patch",
                    "x-kubernetes-group-version-kind": gvk,
                },
            }
        if not paths:
            return None
        return {
            "openapi": "3.0.0",
            "info": {"title": "Kubernetes", "version": SERVER_VERSION["gitVersion"]},
            "paths": paths,
            "components": {"schemas": {}},
        }


def crd_resource_type(crd: dict[str, Any]) -> ResourceType:
    """The type a CustomResourceDefinition registers (its first served version)."""
    spec = crd.get("spec", {})
    names = spec.get("names", {})
    versions = [v for v in spec.get("versions", []) if v.get("served", True)]
    version = next((v for v in versions if v.get("storage")), versions[0] if versions else {})
    return ResourceType(
        group=spec.get("group", ""),
        version=version.get("name", "v1"),
        plural=names.get("plural", ""),
        kind=names.get("kind", ""),
        namespaced=spec.get("scope", "Namespaced") == "Namespaced",
        singular=names.get("singular", ""),
        short_names=list(names.get("shortNames", [])),
        categories=list(names.get("categories", [])),
        status_subresource="status" in (version.get("subresources") or {}),
        tracks_generation=True,
        custom=True,
    )


# Defaulting ---------------------------------------------------------------------------------


def _default_container(container: dict[str, Any]) -> None:
    image = str(container.get("image", ""))
    tag = image.rsplit("/", 1)[-1]
    if "imagePullPolicy" not in container:
        pinned = "@" in tag or (":" in tag and not tag.endswith(":latest"))
        container["imagePullPolicy"] = "IfNotPresent" if pinned else "Always"
    container.setdefault("terminationMessagePath", "/dev/termination-log")
    container.setdefault("terminationMessagePolicy", "File")
    container.setdefault("resources", {})
    for port in container.get("ports", []) or []:
        port.setdefault("protocol", "TCP")
    for probe_name in ("livenessProbe", "readinessProbe", "startupProbe"):
        probe = container.get(probe_name)
        if isinstance(probe, dict):
            probe.setdefault("timeoutSeconds", 1)
            probe.setdefault("periodSeconds", 10)
            probe.setdefault("successThreshold", 1)
            probe.setdefault("failureThreshold", 3)


def default_pod_spec(spec: dict[str, Any]) -> None:
    for name in ("initContainers", "containers"):
        for container in spec.get(name, []) or []:
            if isinstance(container, dict):
                _default_container(container)
    spec.setdefault("restartPolicy", "Always")
    spec.setdefault("terminationGracePeriodSeconds", 30)
    spec.setdefault("dnsPolicy", "ClusterFirst")
    spec.setdefault("securityContext", {})
    spec.setdefault("schedulerName", "default-scheduler")


class DefaultedKey(str):
    """A list-key value the server filled in: it identifies the item, nobody owns the field."""

    __slots__ = ()


def default_apply_keys(obj: dict[str, Any]) -> None:
    """Default the list keys an applied configuration may leave out (port protocols)."""
    spec = obj.get("spec")
    if not isinstance(spec, dict):
        return
    pod_specs = [spec]
    template = spec.get("template")
    if isinstance(template, dict) and isinstance(template.get("spec"), dict):
        pod_specs.append(template["spec"])
    for pod_spec in pod_specs:
        for name in ("initContainers", "containers"):
            for container in pod_spec.get(name, []) or []:
                if isinstance(container, dict):
                    for port in container.get("ports", []) or []:
                        if isinstance(port, dict):
                            port.setdefault("protocol", DefaultedKey("TCP"))
    if obj.get("kind") == "Service":
        for port in spec.get("ports", []) or []:
            if isinstance(port, dict):
                port.setdefault("protocol", DefaultedKey("TCP"))


def _template_spec(spec: dict[str, Any]) -> None:
    template = spec.setdefault("template", {})
    template.setdefault("metadata", {})
    default_pod_spec(template.setdefault("spec", {}))


def apply_defaults(obj: dict[str, Any], *, cluster_ip: str) -> None:
    """Fill in what the real API server's defaulting would (the fields rollout logic reads)."""
    kind = obj.get("kind")
    meta = obj.setdefault("metadata", {})
    spec = obj.get("spec")
    if kind == "Deployment":
        spec = obj.setdefault("spec", {})
        spec.setdefault("replicas", 1)
        strategy = spec.setdefault("strategy", {})
        strategy.setdefault("type", "RollingUpdate")
        if strategy["type"] == "RollingUpdate":
            rolling = strategy.setdefault("rollingUpdate", {})
            rolling.setdefault("maxUnavailable", "25%")
            rolling.setdefault("maxSurge", "25%")
        spec.setdefault("revisionHistoryLimit", 10)
        spec.setdefault("progressDeadlineSeconds", 600)
        _template_spec(spec)
    elif kind == "ReplicaSet":
        spec = obj.setdefault("spec", {})
        spec.setdefault("replicas", 1)
        _template_spec(spec)
    elif kind == "StatefulSet":
        spec = obj.setdefault("spec", {})
        spec.setdefault("replicas", 1)
        strategy = spec.setdefault("updateStrategy", {})
        strategy.setdefault("type", "RollingUpdate")
        if strategy["type"] == "RollingUpdate":
            strategy.setdefault("rollingUpdate", {}).setdefault("partition", 0)
        spec.setdefault("podManagementPolicy", "OrderedReady")
        spec.setdefault("revisionHistoryLimit", 10)
        retention = spec.setdefault("persistentVolumeClaimRetentionPolicy", {})
        retention.setdefault("whenDeleted", "Retain")
        retention.setdefault("whenScaled", "Retain")
        _template_spec(spec)
    elif kind == "DaemonSet":
        spec = obj.setdefault("spec", {})
        strategy = spec.setdefault("updateStrategy", {})
        strategy.setdefault("type", "RollingUpdate")
        if strategy["type"] == "RollingUpdate":
            rolling = strategy.setdefault("rollingUpdate", {})
            rolling.setdefault("maxUnavailable", 1)
            rolling.setdefault("maxSurge", 0)
        spec.setdefault("revisionHistoryLimit", 10)
        _template_spec(spec)
    elif kind == "Job":
        spec = obj.setdefault("spec", {})
        spec.setdefault("parallelism", 1)
        spec.setdefault("completions", 1)
        spec.setdefault("backoffLimit", 6)
        spec.setdefault("completionMode", "NonIndexed")
        spec.setdefault("suspend", False)
        spec.setdefault("podReplacementPolicy", "TerminatingOrFailed")
        uid = meta.get("uid", "")
        if not spec.get("manualSelector"):
            labels = {"batch.kubernetes.io/controller-uid": uid}
            spec.setdefault("selector", {"matchLabels": labels})
            template = spec.setdefault("template", {})
            template_labels = template.setdefault("metadata", {}).setdefault("labels", {})
            template_labels.setdefault("batch.kubernetes.io/controller-uid", uid)
            template_labels.setdefault("batch.kubernetes.io/job-name", meta.get("name", ""))
            template_labels.setdefault("controller-uid", uid)
            template_labels.setdefault("job-name", meta.get("name", ""))
        _template_spec(spec)
    if kind in ("Deployment", "ReplicaSet", "Job"):
        obj.setdefault("status", {})
    elif kind == "StatefulSet":
        obj.setdefault("status", {"replicas": 0, "availableReplicas": 0})
    elif kind == "DaemonSet":
        obj.setdefault(
            "status",
            {
                "currentNumberScheduled": 0,
                "numberMisscheduled": 0,
                "desiredNumberScheduled": 0,
                "numberReady": 0,
            },
        )
    if kind == "Pod":
        default_pod_spec(obj.setdefault("spec", {}))
        obj.setdefault("status", {"phase": "Pending", "qosClass": "BestEffort"})
    elif kind == "Service":
        spec = obj.setdefault("spec", {})
        spec.setdefault("type", "ClusterIP")
        spec.setdefault("sessionAffinity", "None")
        if spec["type"] != "ExternalName":
            spec.setdefault("clusterIP", cluster_ip)
            spec.setdefault("clusterIPs", [spec["clusterIP"]])
            spec.setdefault("ipFamilies", ["IPv4"])
            spec.setdefault("ipFamilyPolicy", "SingleStack")
            spec.setdefault("internalTrafficPolicy", "Cluster")
        for port in spec.get("ports", []) or []:
            port.setdefault("protocol", "TCP")
            port.setdefault("targetPort", port.get("port"))
        obj.setdefault("status", {"loadBalancer": {}})
    elif kind == "Namespace":
        meta.setdefault("labels", {})["kubernetes.io/metadata.name"] = meta.get("name", "")
        obj.setdefault("spec", {"finalizers": ["kubernetes"]})
        obj.setdefault("status", {"phase": "Active"})
    elif kind == "Secret":
        obj.setdefault("type", "Opaque")
    elif kind == "CustomResourceDefinition" and isinstance(spec, dict):
        spec.setdefault("conversion", {"strategy": "None"})
    elif kind == "Event":
        obj.setdefault("type", "Normal")
        obj.setdefault("count", 1)


def validate(obj: dict[str, Any], rtype: ResourceType) -> list[dict[str, str]]:
    """Field errors the real API server reports for the object, as Status causes."""
    causes: list[dict[str, str]] = []
    meta = obj.get("metadata", {})
    name = meta.get("name", "")
    if not name:
        causes.append(
            {
                "reason": "FieldValueRequired",
                "message": "Required value: name or generateName is required",
                "field": "metadata.name",
            }
        )
    if rtype.kind in {"Deployment", "ReplicaSet", "StatefulSet", "DaemonSet"}:
        spec = obj.get("spec", {})
        selector = spec.get("selector")
        template_labels = spec.get("template", {}).get("metadata", {}).get("labels") or {}
        if not selector:
            causes.append(
                {
                    "reason": "FieldValueRequired",
                    "message": "Required value",
                    "field": "spec.selector",
                }
            )
        else:
            match = selector.get("matchLabels") or {}
            if any(template_labels.get(k) != v for k, v in match.items()):
                rendered = ", ".join(f'"{k}":"{v}"' for k, v in sorted(template_labels.items()))
                causes.append(
                    {
                        "reason": "FieldValueInvalid",
                        "message": (
                            f"Invalid value: map[string]string{{{rendered}}}: "
                            "`selector` does not match template `labels`"
                        ),
                        "field": "spec.template.metadata.labels",
                    }
                )
        containers = spec.get("template", {}).get("spec", {}).get("containers")
        if not containers:
            causes.append(
                {
                    "reason": "FieldValueRequired",
                    "message": "Required value",
                    "field": "spec.template.spec.containers",
                }
            )
    return causes
