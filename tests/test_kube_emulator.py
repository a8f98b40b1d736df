"""The Kubernetes emulator answers the real ``kubernetes`` client the way an API server does."""

from __future__ import annotations

import copy
import json
import urllib.request
from typing import Any

import pytest
from kubernetes import client, dynamic, watch
from kubernetes.client.rest import ApiException

from tests import kube_fixtures
from tests.emulators.kube import KubeEmulator

kube = kube_fixtures.kube
kube_client = kube_fixtures.kube_client

DEPLOYMENT: dict[str, Any] = {
    "apiVersion": "apps/v1",
    "kind": "Deployment",
    "metadata": {"name": "web", "namespace": "default", "labels": {"app": "web"}},
    "spec": {
        "replicas": 2,
        "selector": {"matchLabels": {"app": "web"}},
        "template": {
            "metadata": {"labels": {"app": "web"}},
            "spec": {
                "containers": [
                    {"name": "web", "image": "nginx:1.25", "ports": [{"containerPort": 80}]}
                ]
            },
        },
    },
}


def deployment(**spec: Any) -> dict[str, Any]:
    body = copy.deepcopy(DEPLOYMENT)
    body["spec"].update(spec)
    return body


def configmap(name: str, labels: dict[str, str] | None = None, **data: str) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name, "namespace": "default"}
    if labels:
        meta["labels"] = labels
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta, "data": data}


@pytest.fixture
def dyn(kube_client: Any) -> dynamic.DynamicClient:
    return dynamic.DynamicClient(kube_client)


def apply(dyn: dynamic.DynamicClient, body: dict[str, Any], manager: str, **kw: Any) -> dict:
    resource = dyn.resources.get(api_version=body["apiVersion"], kind=body["kind"])
    return dyn.server_side_apply(resource, body=body, field_manager=manager, **kw).to_dict()


def managers(obj: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {m["manager"]: m for m in obj["metadata"]["managedFields"]}


# Discovery --------------------------------------------------------------------------------------


def test_discovery_lists_builtin_types_with_their_verbs(kube_client: Any) -> None:
    groups = {g.name for g in client.ApisApi(kube_client).get_api_versions().groups}
    assert {"apps", "batch", "apiextensions.k8s.io"} <= groups
    core = client.CoreV1Api(kube_client).get_api_resources()
    by_name = {r.name: r for r in core.resources}
    assert by_name["configmaps"].kind == "ConfigMap"
    assert by_name["namespaces"].namespaced is False
    assert "patch" in by_name["pods"].verbs
    assert "pods/status" in by_name
    assert client.VersionApi(kube_client).get_code().git_version == "v1.32.0"


def test_a_crd_registers_its_resource_in_discovery(kube: KubeEmulator, dyn: Any) -> None:
    crd = {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": "widgets.example.com"},
        "spec": {
            "group": "example.com",
            "scope": "Namespaced",
            "names": {"plural": "widgets", "singular": "widget", "kind": "Widget"},
            "versions": [
                {
                    "name": "v1",
                    "served": True,
                    "storage": True,
                    # a bare object schema declares no fields: the API server would refuse
                    # the widget's spec below without this
                    "schema": {
                        "openAPIV3Schema": {
                            "type": "object",
                            "x-kubernetes-preserve-unknown-fields": True,
                        }
                    },
                }
            ],
        },
    }
    created = apply(dyn, crd, "ct")
    established = {c["type"]: c["status"] for c in created["status"]["conditions"]}
    assert established["Established"] == "True"
    dyn = dynamic.DynamicClient(dyn.client)
    widget = {
        "apiVersion": "example.com/v1",
        "kind": "Widget",
        "metadata": {"name": "w1", "namespace": "default"},
        "spec": {"size": 3},
    }
    assert apply(dyn, widget, "ct")["spec"] == {"size": 3}
    listed = dyn.resources.get(api_version="example.com/v1", kind="Widget").get(namespace="default")
    assert [item["metadata"]["name"] for item in listed.to_dict()["items"]] == ["w1"]
    # deleting the CRD removes its type and objects
    dyn.resources.get(
        api_version="apiextensions.k8s.io/v1", kind="CustomResourceDefinition"
    ).delete(name="widgets.example.com")
    assert kube.store.registry.lookup("example.com", "v1", "widgets") is None


# Server-side apply --------------------------------------------------------------------------


def test_apply_creates_then_updates_and_records_managed_fields(dyn: Any) -> None:
    created = apply(dyn, deployment(), "commit-train")
    assert created["metadata"]["generation"] == 1
    entry = managers(created)["commit-train"]
    assert entry["operation"] == "Apply"
    assert entry["apiVersion"] == "apps/v1"
    assert entry["fieldsType"] == "FieldsV1"
    fields = entry["fieldsV1"]
    assert fields["f:spec"]["f:replicas"] == {}
    assert fields["f:spec"]["f:selector"] == {}
    container = fields["f:spec"]["f:template"]["f:spec"]["f:containers"]['k:{"name":"web"}']
    assert container["."] == {}
    assert set(container) == {".", "f:image", "f:name", "f:ports"}
    port = container["f:ports"]['k:{"containerPort":80,"protocol":"TCP"}']
    assert port == {".": {}, "f:containerPort": {}}
    # defaulted fields are in the object but owned by nobody
    assert created["spec"]["template"]["spec"]["containers"][0]["imagePullPolicy"] == "IfNotPresent"
    assert "f:imagePullPolicy" not in container

    updated = apply(dyn, deployment(replicas=4), "commit-train")
    assert updated["spec"]["replicas"] == 4
    assert updated["metadata"]["generation"] == 2
    assert int(updated["metadata"]["resourceVersion"]) > int(created["metadata"]["resourceVersion"])


def test_applying_the_same_config_twice_changes_nothing(dyn: Any) -> None:
    first = apply(dyn, deployment(), "commit-train")
    second = apply(dyn, deployment(), "commit-train")
    assert second["metadata"]["resourceVersion"] == first["metadata"]["resourceVersion"]
    assert second["metadata"]["generation"] == 1


def test_a_second_manager_conflicts_with_a_409_naming_the_owner(dyn: Any) -> None:
    apply(dyn, deployment(), "commit-train")
    with pytest.raises(ApiException) as caught:
        apply(dyn, deployment(replicas=5), "hpa-tuner")
    assert caught.value.status == 409
    status = json.loads(caught.value.body)
    assert status["kind"] == "Status"
    assert status["reason"] == "Conflict"
    assert status["message"] == (
        'Apply failed with 1 conflict: conflict with "commit-train": .spec.replicas'
    )
    assert status["details"]["causes"] == [
        {
            "reason": "FieldManagerConflict",
            "message": 'conflict with "commit-train"',
            "field": ".spec.replicas",
        }
    ]


def test_same_values_are_shared_not_conflicting(dyn: Any) -> None:
    apply(dyn, deployment(), "commit-train")
    shared = apply(dyn, deployment(), "someone-else")
    owners = managers(shared)
    assert "f:replicas" in owners["commit-train"]["fieldsV1"]["f:spec"]
    assert "f:replicas" in owners["someone-else"]["fieldsV1"]["f:spec"]


def test_force_takes_ownership(dyn: Any) -> None:
    apply(dyn, deployment(), "commit-train")
    forced = apply(dyn, deployment(replicas=5), "hpa-tuner", force_conflicts=True)
    assert forced["spec"]["replicas"] == 5
    owners = managers(forced)
    assert "f:replicas" in owners["hpa-tuner"]["fieldsV1"]["f:spec"]
    assert "f:replicas" not in owners["commit-train"]["fieldsV1"]["f:spec"]
    # the former owner now applies without conflict and without resetting replicas
    body = deployment()
    del body["spec"]["replicas"]
    again = apply(dyn, body, "commit-train")
    assert again["spec"]["replicas"] == 5


def test_conflicts_with_an_update_manager_name_its_api_version(dyn: Any, kube_client: Any) -> None:
    apply(dyn, deployment(), "commit-train")
    client.AppsV1Api(kube_client).patch_namespaced_deployment(
        "web", "default", {"spec": {"replicas": 7}}, field_manager="kubectl-edit"
    )
    with pytest.raises(ApiException) as caught:
        apply(dyn, deployment(), "commit-train")
    cause = json.loads(caught.value.body)["details"]["causes"][0]
    assert cause["field"] == ".spec.replicas"
    assert cause["message"].startswith('conflict with "kubectl-edit" using apps/v1 at ')


def test_dry_run_answers_as_if_applied_but_persists_nothing(kube: KubeEmulator, dyn: Any) -> None:
    answer = apply(dyn, deployment(), "commit-train", dry_run="All")
    assert answer["spec"]["replicas"] == 2
    assert kube.get("Deployment", "default", "web") is None
    apply(dyn, deployment(), "commit-train")
    before = kube.get("Deployment", "default", "web")
    answer = apply(dyn, deployment(replicas=9), "commit-train", dry_run="All")
    assert answer["spec"]["replicas"] == 9
    assert kube.get("Deployment", "default", "web") == before


def test_apply_without_field_manager_is_refused_with_422(dyn: Any) -> None:
    resource = dyn.resources.get(api_version="apps/v1", kind="Deployment")
    with pytest.raises(ApiException) as caught:
        dyn.patch(resource, body=deployment(), content_type="application/apply-patch+yaml")
    assert caught.value.status == 422
    status = json.loads(caught.value.body)
    assert status["message"] == (
        'PatchOptions.meta.k8s.io "" is invalid: fieldManager: Required value: '
        "is required for apply patch"
    )


def test_fields_dropped_from_the_applied_config_are_removed(dyn: Any) -> None:
    apply(dyn, configmap("settings", a="1", b="2"), "commit-train")
    pruned = apply(dyn, configmap("settings", a="1"), "commit-train")
    assert pruned["data"] == {"a": "1"}
    # a field another manager also owns stays
    apply(dyn, configmap("shared", a="1", b="2"), "commit-train")
    apply(dyn, configmap("shared", b="2"), "other")
    kept = apply(dyn, configmap("shared", a="1"), "commit-train")
    assert kept["data"] == {"a": "1", "b": "2"}
    # dropping replicas lets the default come back
    apply(dyn, deployment(replicas=3), "commit-train")
    body = deployment()
    del body["spec"]["replicas"]
    assert apply(dyn, body, "commit-train")["spec"]["replicas"] == 1


def test_list_items_dropped_from_the_applied_config_go_whole(dyn: Any) -> None:
    body = deployment()
    containers = body["spec"]["template"]["spec"]["containers"]
    containers[0]["env"] = [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}]
    containers.append({"name": "sidecar", "image": "envoy:1"})
    apply(dyn, body, "commit-train")
    del containers[1]
    containers[0]["env"] = [{"name": "B", "value": "3"}]
    spec = apply(dyn, body, "commit-train")["spec"]["template"]["spec"]
    assert [c["name"] for c in spec["containers"]] == ["web"]
    assert spec["containers"][0]["env"] == [{"name": "B", "value": "3"}]


def test_apply_into_a_missing_namespace_is_404(dyn: Any) -> None:
    body = configmap("x")
    body["metadata"]["namespace"] = "nowhere"
    with pytest.raises(ApiException) as caught:
        apply(dyn, body, "commit-train")
    assert caught.value.status == 404
    assert json.loads(caught.value.body)["message"] == 'namespaces "nowhere" not found'


def test_invalid_deployment_is_refused_with_422(dyn: Any) -> None:
    body = deployment()
    body["spec"]["selector"] = {"matchLabels": {"app": "other"}}
    with pytest.raises(ApiException) as caught:
        apply(dyn, body, "commit-train")
    assert caught.value.status == 422
    status = json.loads(caught.value.body)
    assert status["reason"] == "Invalid"
    assert status["details"]["causes"][0]["field"] == "spec.template.metadata.labels"


def test_managed_fields_can_be_stripped_by_an_update(dyn: Any, kube_client: Any) -> None:
    apply(dyn, configmap("cm", a="1"), "commit-train")
    core = client.CoreV1Api(kube_client)
    untouched = core.patch_namespaced_config_map(
        "cm", "default", {"metadata": {"managedFields": []}}
    )
    assert [m.manager for m in untouched.metadata.managed_fields] == ["commit-train"]
    stripped = core.patch_namespaced_config_map(
        "cm", "default", {"metadata": {"managedFields": [{}]}}
    )
    assert stripped.metadata.managed_fields is None
    # with no owner left, another manager applies a new value without conflict
    assert apply(dyn, configmap("cm", a="2"), "other")["data"] == {"a": "2"}


# Other writes --------------------------------------------------------------------------------


def test_create_put_patches_and_delete_with_the_typed_client(
    kube: KubeEmulator, kube_client: Any
) -> None:
    core = client.CoreV1Api(kube_client)
    created = core.create_namespaced_config_map("default", configmap("cm", a="1"))
    assert created.metadata.managed_fields[0].manager == "OpenAPI-Generator"
    assert created.metadata.managed_fields[0].operation == "Update"
    with pytest.raises(ApiException) as caught:
        core.create_namespaced_config_map("default", configmap("cm"))
    assert caught.value.status == 409
    assert json.loads(caught.value.body)["message"] == 'configmaps "cm" already exists'

    created.data = {"a": "2"}
    replaced = core.replace_namespaced_config_map("cm", "default", created)
    assert replaced.data == {"a": "2"}
    stale = copy.deepcopy(created)
    stale.data = {"a": "3"}
    with pytest.raises(ApiException) as caught:
        core.replace_namespaced_config_map("cm", "default", stale)
    assert caught.value.status == 409

    merged = core.patch_namespaced_config_map("cm", "default", {"data": {"b": "x", "a": None}})
    assert merged.data == {"b": "x"}
    patched = core.patch_namespaced_config_map(
        "cm", "default", [{"op": "add", "path": "/data/c", "value": "y"}]
    )
    assert patched.data == {"b": "x", "c": "y"}

    core.delete_namespaced_config_map("cm", "default")
    assert kube.get("ConfigMap", "default", "cm") is None
    with pytest.raises(ApiException) as caught:
        core.read_namespaced_config_map("cm", "default")
    assert caught.value.status == 404
    assert json.loads(caught.value.body)["message"] == 'configmaps "cm" not found'


def test_strategic_merge_patch_merges_containers_by_name(dyn: Any, kube_client: Any) -> None:
    body = deployment()
    body["spec"]["template"]["spec"]["containers"].append({"name": "sidecar", "image": "envoy:1"})
    apply(dyn, body, "commit-train")
    patched = client.AppsV1Api(kube_client).patch_namespaced_deployment(
        "web",
        "default",
        {"spec": {"template": {"spec": {"containers": [{"name": "web", "image": "nginx:1.26"}]}}}},
    )
    images = {c.name: c.image for c in patched.spec.template.spec.containers}
    assert images == {"web": "nginx:1.26", "sidecar": "envoy:1"}
    assert patched.metadata.generation == 2


def test_deleting_a_deployment_removes_its_replica_sets_and_pods(
    kube: KubeEmulator, dyn: Any, kube_client: Any
) -> None:
    apply(dyn, deployment(), "commit-train")
    kube.controller.complete("Deployment", "default", "web")
    assert len(kube.objects("ReplicaSet")) == 1
    assert len(kube.objects("Pod")) == 2
    client.AppsV1Api(kube_client).delete_namespaced_deployment("web", "default")
    assert kube.objects("ReplicaSet") == []
    assert kube.objects("Pod") == []


# Defaulting, generation, status ----------------------------------------------------------------


def test_api_defaulting_of_workloads(dyn: Any) -> None:
    body = deployment()
    del body["spec"]["replicas"]
    spec = apply(dyn, body, "ct")["spec"]
    assert spec["replicas"] == 1
    assert spec["strategy"] == {
        "type": "RollingUpdate",
        "rollingUpdate": {"maxUnavailable": "25%", "maxSurge": "25%"},
    }
    assert spec["progressDeadlineSeconds"] == 600
    assert spec["revisionHistoryLimit"] == 10
    container = spec["template"]["spec"]["containers"][0]
    assert container["terminationMessagePath"] == "/dev/termination-log"
    assert container["ports"][0]["protocol"] == "TCP"

    sts = copy.deepcopy(DEPLOYMENT)
    sts["kind"] = "StatefulSet"
    sts["spec"]["template"]["spec"]["containers"][0]["image"] = "postgres"
    sts_spec = apply(dyn, sts, "ct")["spec"]
    assert sts_spec["updateStrategy"] == {
        "type": "RollingUpdate",
        "rollingUpdate": {"partition": 0},
    }
    assert sts_spec["podManagementPolicy"] == "OrderedReady"
    assert sts_spec["template"]["spec"]["containers"][0]["imagePullPolicy"] == "Always"

    ds = copy.deepcopy(DEPLOYMENT)
    ds["kind"] = "DaemonSet"
    del ds["spec"]["replicas"]
    ds_spec = apply(dyn, ds, "ct")["spec"]
    assert ds_spec["updateStrategy"]["rollingUpdate"]["maxUnavailable"] == 1


def test_generation_moves_on_spec_changes_only(kube: KubeEmulator, dyn: Any) -> None:
    assert apply(dyn, deployment(), "ct")["metadata"]["generation"] == 1
    labelled = deployment()
    labelled["metadata"]["labels"]["team"] = "pay"
    assert apply(dyn, labelled, "ct")["metadata"]["generation"] == 1
    assert apply(dyn, deployment(replicas=3), "ct")["metadata"]["generation"] == 2
    observed = kube.controller.observe("Deployment", "default", "web")
    assert observed["status"]["observedGeneration"] == 2
    assert observed["metadata"]["generation"] == 2


def test_status_subresource_splits_spec_and_status(kube_client: Any, dyn: Any) -> None:
    apply(dyn, deployment(), "ct")
    apps = client.AppsV1Api(kube_client)
    # a write to the main resource ignores status
    main = apps.patch_namespaced_deployment(
        "web", "default", {"spec": {"replicas": 3}, "status": {"replicas": 99}}
    )
    assert main.spec.replicas == 3
    assert main.status.replicas is None
    # a write to /status ignores spec
    status = apps.patch_namespaced_deployment_status(
        "web", "default", {"spec": {"replicas": 8}, "status": {"replicas": 99}}
    )
    assert status.status.replicas == 99
    assert status.spec.replicas == 3


# Lists and selectors ---------------------------------------------------------------------------


def test_label_selectors(dyn: Any, kube_client: Any) -> None:
    apply(dyn, configmap("a", {"tier": "web", "env": "prod"}), "ct")
    apply(dyn, configmap("b", {"tier": "db", "env": "prod"}), "ct")
    apply(dyn, configmap("c", {"tier": "web"}), "ct")
    core = client.CoreV1Api(kube_client)

    def names(selector: str) -> list[str]:
        items = core.list_namespaced_config_map("default", label_selector=selector).items
        return [i.metadata.name for i in items]

    assert names("tier=web") == ["a", "c"]
    assert names("tier==web") == ["a", "c"]
    assert names("tier!=web") == ["b"]
    assert names("tier in (db, web),env") == ["a", "b"]
    assert names("tier notin (web)") == ["b"]
    assert names("!env") == ["c"]
    with pytest.raises(ApiException) as caught:
        names("tier in web")
    assert caught.value.status == 400


def test_field_selectors_and_list_metadata(kube: KubeEmulator, dyn: Any, kube_client: Any) -> None:
    apply(dyn, configmap("a"), "ct")
    apply(dyn, configmap("b"), "ct")
    core = client.CoreV1Api(kube_client)
    listed = core.list_config_map_for_all_namespaces(field_selector="metadata.name=b")
    assert [i.metadata.name for i in listed.items] == ["b"]
    assert listed.metadata.resource_version == str(kube.resource_version)
    other = core.list_namespaced_config_map("default", field_selector="metadata.name!=b")
    assert [i.metadata.name for i in other.items] == ["a"]

    apply(dyn, deployment(), "ct")
    kube.controller.event(
        "Deployment", "default", "web", reason="ScalingReplicaSet", message="Scaled up"
    )
    events = core.list_namespaced_event(
        "default", field_selector="involvedObject.kind=Deployment,involvedObject.name=web"
    ).items
    assert [(e.reason, e.message, e.count) for e in events] == [
        ("ScalingReplicaSet", "Scaled up", 1)
    ]
    with pytest.raises(ApiException) as caught:
        core.list_namespaced_config_map("default", field_selector="spec.foo=x")
    assert caught.value.status == 400


def test_list_pages_with_limit_and_continue(dyn: Any, kube_client: Any) -> None:
    for name in ("a", "b", "c"):
        apply(dyn, configmap(name), "ct")
    core = client.CoreV1Api(kube_client)
    first = core.list_namespaced_config_map("default", limit=2)
    assert [i.metadata.name for i in first.items] == ["a", "b"]
    rest = core.list_namespaced_config_map("default", limit=2, _continue=first.metadata._continue)
    assert [i.metadata.name for i in rest.items] == ["c"]
    assert rest.metadata._continue is None


# Watch -----------------------------------------------------------------------------------------


def test_watch_streams_events_in_order_and_closes_after_timeout(
    kube: KubeEmulator, dyn: Any, kube_client: Any
) -> None:
    start = str(kube.resource_version)
    apply(dyn, configmap("w", a="1"), "ct")
    apply(dyn, configmap("w", a="2"), "ct")
    apply(dyn, configmap("other"), "ct")
    client.CoreV1Api(kube_client).delete_namespaced_config_map("w", "default")
    stream = watch.Watch().stream(
        client.CoreV1Api(kube_client).list_namespaced_config_map,
        "default",
        field_selector="metadata.name=w",
        resource_version=start,
        timeout_seconds=1,
    )
    seen = [(e["type"], e["object"].data) for e in stream]  # ends when the server closes it
    assert seen == [("ADDED", {"a": "1"}), ("MODIFIED", {"a": "2"}), ("DELETED", {"a": "2"})]


def test_watch_without_a_version_starts_with_the_current_objects(
    dyn: Any, kube_client: Any
) -> None:
    apply(dyn, configmap("x"), "ct")
    stream = watch.Watch().stream(
        client.CoreV1Api(kube_client).list_namespaced_config_map, "default", timeout_seconds=1
    )
    assert [(e["type"], e["object"].metadata.name) for e in stream] == [("ADDED", "x")]


def test_filtered_watch_sees_objects_enter_and_leave_the_selection(
    kube: KubeEmulator, kube_client: Any
) -> None:
    core = client.CoreV1Api(kube_client)
    start = str(kube.resource_version)
    core.create_namespaced_config_map("default", configmap("x", {"tier": "web"}))
    core.patch_namespaced_config_map("x", "default", {"metadata": {"labels": {"tier": "db"}}})
    core.patch_namespaced_config_map("x", "default", {"data": {"ignored": "1"}})
    core.patch_namespaced_config_map("x", "default", {"metadata": {"labels": {"tier": "web"}}})
    stream = watch.Watch().stream(
        core.list_namespaced_config_map,
        "default",
        label_selector="tier=web",
        resource_version=start,
        timeout_seconds=1,
    )
    seen = [(e["type"], e["object"].metadata.labels["tier"]) for e in stream]
    assert seen == [("ADDED", "web"), ("DELETED", "db"), ("ADDED", "web")]


def test_watch_bookmarks(kube: KubeEmulator, kube_client: Any) -> None:
    kube.bookmark_interval = 0.2
    rv = str(kube.resource_version)
    stream = watch.Watch().stream(
        client.CoreV1Api(kube_client).list_namespaced_config_map,
        "default",
        resource_version=rv,
        allow_watch_bookmarks=True,
        timeout_seconds=1,
    )
    events = list(stream)
    assert events
    assert {e["type"] for e in events} == {"BOOKMARK"}
    assert events[-1]["raw_object"]["metadata"]["resourceVersion"] == rv


def test_watch_from_a_compacted_version_is_410_gone(
    kube: KubeEmulator, dyn: Any, kube_client: Any
) -> None:
    old = str(kube.resource_version)
    apply(dyn, configmap("x"), "ct")
    kube.compact()
    with pytest.raises(ApiException) as caught:
        list(
            watch.Watch().stream(
                client.CoreV1Api(kube_client).list_namespaced_config_map,
                "default",
                resource_version=old,
                timeout_seconds=1,
            )
        )
    assert caught.value.status == 410
    assert "Expired: too old resource version" in caught.value.reason


def test_a_bounded_history_expires_old_versions() -> None:
    with KubeEmulator(history_size=2) as small:
        api = small.api_client()
        old = small.resource_version
        for name in ("a", "b", "c"):
            client.CoreV1Api(api).create_namespaced_config_map("default", configmap(name))
        api.close()
        url = f"{small.url}/api/v1/namespaces/default/configmaps?watch=1&resourceVersion={old}"
        with urllib.request.urlopen(url) as response:
            assert response.status == 200
            event = json.loads(response.readline())
    assert event["type"] == "ERROR"
    assert event["object"]["code"] == 410
    assert event["object"]["reason"] == "Expired"
    assert event["object"]["message"].startswith(f"too old resource version: {old} (")


def test_compaction_ends_open_watches_with_410(kube: KubeEmulator) -> None:
    url = f"{kube.url}/api/v1/namespaces/default/configmaps?watch=true&timeoutSeconds=10"
    with urllib.request.urlopen(url) as response:  # headers arrive once the watch is set up
        kube.compact()
        event = json.loads(response.readline())
        assert response.readline() == b""  # and the stream ends
    assert (event["type"], event["object"]["code"]) == ("ERROR", 410)


# Controller --------------------------------------------------------------------------------


def test_controller_rollout_steps(kube: KubeEmulator, dyn: Any) -> None:
    apply(dyn, deployment(replicas=3), "ct")
    ctl = kube.controller
    dep = ctl.progress("Deployment", "default", "web", updated=1, ready=1, available=1)
    assert dep["status"]["updatedReplicas"] == 1
    progressing = {c["type"]: c for c in dep["status"]["conditions"]}["Progressing"]
    assert progressing["reason"] == "ReplicaSetUpdated"
    done = ctl.complete("Deployment", "default", "web")
    status = done["status"]
    assert (status["replicas"], status["updatedReplicas"], status["availableReplicas"]) == (3, 3, 3)
    conditions = {c["type"]: (c["status"], c["reason"]) for c in status["conditions"]}
    assert conditions == {
        "Available": ("True", "MinimumReplicasAvailable"),
        "Progressing": ("True", "NewReplicaSetAvailable"),
    }
    assert done["metadata"]["annotations"]["deployment.kubernetes.io/revision"] == "1"
    (rs,) = kube.objects("ReplicaSet")
    assert rs["metadata"]["annotations"]["deployment.kubernetes.io/revision"] == "1"

    # a new template: a second ReplicaSet at revision 2, the old one scaled to zero
    body = deployment(replicas=3)
    body["spec"]["template"]["spec"]["containers"][0]["image"] = "nginx:1.26"
    apply(dyn, body, "ct")
    ctl.complete("Deployment", "default", "web")
    sets = {
        r["metadata"]["annotations"]["deployment.kubernetes.io/revision"]: r["spec"]["replicas"]
        for r in kube.objects("ReplicaSet")
    }
    assert sets == {"1": 0, "2": 3}
    assert len(ctl.pods("Deployment", "default", "web")) == 3
    scaling = [
        e["message"] for e in kube.objects("Event", "default") if e["reason"] == "ScalingReplicaSet"
    ]
    new_rs = next(r for r in kube.objects("ReplicaSet") if r["spec"]["replicas"] == 3)
    assert f"Scaled up replica set {new_rs['metadata']['name']} from 0 to 3" in scaling


def test_progress_deadline_on_the_injected_clock(kube: KubeEmulator, dyn: Any) -> None:
    apply(dyn, deployment(progressDeadlineSeconds=60), "ct")
    kube.controller.stall("Deployment", "default", "web")
    assert kube.controller.tick() == []
    kube.clock.advance(61)
    assert kube.controller.tick() == ["default/web"]
    progressing = {
        c["type"]: c for c in kube.get("Deployment", "default", "web")["status"]["conditions"]
    }["Progressing"]
    assert (progressing["status"], progressing["reason"]) == ("False", "ProgressDeadlineExceeded")


def test_statefulset_daemonset_and_job_states(kube: KubeEmulator, dyn: Any) -> None:
    sts = copy.deepcopy(DEPLOYMENT)
    sts["kind"] = "StatefulSet"
    apply(dyn, sts, "ct")
    status = kube.controller.complete("StatefulSet", "default", "web")["status"]
    assert status["currentRevision"] == status["updateRevision"]
    assert status["readyReplicas"] == 2
    assert sorted(p["metadata"]["name"] for p in kube.objects("Pod")) == ["web-0", "web-1"]

    ds = copy.deepcopy(DEPLOYMENT)
    ds["kind"] = "DaemonSet"
    ds["metadata"]["name"] = "agent"
    del ds["spec"]["replicas"]
    apply(dyn, ds, "ct")
    ds_status = kube.controller.progress("DaemonSet", "default", "agent", updated=1)["status"]
    assert (ds_status["desiredNumberScheduled"], ds_status["updatedNumberScheduled"]) == (3, 1)

    job = {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": "migrate", "namespace": "default"},
        "spec": {
            "template": {
                "spec": {"restartPolicy": "Never", "containers": [{"name": "m", "image": "m:1"}]}
            }
        },
    }
    apply(dyn, job, "ct")
    failed = kube.controller.fail("Job", "default", "migrate")["status"]
    assert {c["type"]: c["reason"] for c in failed["conditions"]}[
        "Failed"
    ] == "BackoffLimitExceeded"


def test_pod_container_states_and_events(kube: KubeEmulator, dyn: Any, kube_client: Any) -> None:
    apply(dyn, deployment(replicas=1), "ct")
    kube.controller.complete("Deployment", "default", "web")
    (pod,) = kube.controller.pods("Deployment", "default", "web")
    name = pod["metadata"]["name"]
    kube.controller.crash_loop("default", name, exit_code=137, reason="OOMKilled", restarts=4)
    read = client.CoreV1Api(kube_client).read_namespaced_pod(name, "default")
    cstatus = read.status.container_statuses[0]
    assert cstatus.state.waiting.reason == "CrashLoopBackOff"
    assert cstatus.last_state.terminated.exit_code == 137
    assert cstatus.last_state.terminated.reason == "OOMKilled"
    assert cstatus.restart_count == 4
    assert cstatus.ready is False
    events = (
        client.CoreV1Api(kube_client)
        .list_namespaced_event("default", field_selector=f"involvedObject.name={name}")
        .items
    )
    assert [(e.type, e.reason, e.count) for e in events] == [("Warning", "BackOff", 4)]

    kube.controller.image_pull_backoff("default", name)
    waiting = client.CoreV1Api(kube_client).read_namespaced_pod(name, "default")
    assert waiting.status.container_statuses[0].state.waiting.message == (
        'Back-off pulling image "nginx:1.25"'
    )
    kube.controller.create_container_config_error("default", name, message='secret "db" not found')
    config = kube.get("Pod", "default", name)["status"]["containerStatuses"][0]["state"]
    assert config == {
        "waiting": {"reason": "CreateContainerConfigError", "message": 'secret "db" not found'}
    }


def test_auto_complete_finishes_each_rollout(
    kube: KubeEmulator, dyn: Any, kube_client: Any
) -> None:
    kube.controller.auto_complete(delay=0.05)
    start = str(kube.resource_version)
    apply(dyn, deployment(), "ct")
    stream = watch.Watch().stream(
        client.AppsV1Api(kube_client).list_namespaced_deployment,
        "default",
        resource_version=start,
        timeout_seconds=5,
    )
    for event in stream:
        conditions = event["object"].status.conditions or []
        if any(c.reason == "NewReplicaSetAvailable" for c in conditions):
            break
    else:
        pytest.fail("the rollout never completed")
    assert kube.get("Deployment", "default", "web")["status"]["availableReplicas"] == 2


def test_request_log_and_injected_faults(kube: KubeEmulator, kube_client: Any) -> None:
    core = client.CoreV1Api(kube_client)
    kube.reset_requests()
    core.list_namespaced_config_map("default", label_selector="a=b")
    assert kube.request_count == 1
    (request,) = kube.requests
    assert (request.method, request.path, request.status) == (
        "GET",
        "/api/v1/namespaces/default/configmaps",
        200,
    )
    assert request.params["labelSelector"] == "a=b"
    kube.fail_next(503, method="GET", message="etcd is sad")
    with pytest.raises(ApiException) as caught:
        core.list_namespaced_config_map("default")
    assert caught.value.status == 503
    core.list_namespaced_config_map("default")


def test_apply_answers_201_when_it_creates_and_200_when_it_updates(kube: KubeEmulator) -> None:
    url = f"{kube.url}/api/v1/namespaces/default/configmaps/settings?fieldManager=commit-train"
    body = b"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\ndata:\n  a: '1'\n"

    def apply() -> int:
        request = urllib.request.Request(
            url,
            data=body,
            method="PATCH",
            headers={"Content-Type": "application/apply-patch+yaml"},
        )
        with urllib.request.urlopen(request) as answer:
            return int(answer.status)

    assert apply() == 201
    assert apply() == 200
