"""The Kubernetes emulator checks fields the way the API server does.

What the real server answers, by request kind (kubernetes/kubernetes, read at the source):

* **Server-side apply**: the applied configuration is converted to a typed object against the
  kind's schema before anything else (``staging/src/k8s.io/apimachinery/pkg/util/
  managedfields/internal/structuredmerge.go``, ``Apply``). A field the schema does not declare
  fails that conversion whatever ``fieldValidation`` says ("even prior to server-side
  validation, unknown fields were treated as errors in apply-patch":
  ``test/integration/apiserver/field_validation_test.go``). The error is a plain Go error, so
  the answer is a 500 Status with no reason (kubernetes/kubernetes#122480 and #139253, both
  open): ``failed to create typed patch object (ns/name; apps/v1, Kind=Deployment):
  .spec.replicaz: field not declared in schema``. An applied configuration that carries
  ``metadata.managedFields`` is a 400 BadRequest ``metadata.managedFields must be nil``
  (same file).
* **Create and update** (POST, PUT): ``Strict`` is a 400 BadRequest ``Deployment in version
  "v1" cannot be handled as a Deployment: strict decoding error: unknown field
  "spec.replicaz"`` (``handlers/create.go``, ``transformDecodeError``); ``Warn``, the default
  since 1.25, stores the object without the field and answers a ``Warning: 299 - "unknown
  field \\"spec.replicaz\\""`` header per field; ``Ignore`` drops the fields silently.
* **Merge and strategic merge patches**: ``Strict`` is a 422 Invalid on the field ``patch``
  (``handlers/patch.go``, ``applyPatchToObject``); ``Warn`` and ``Ignore`` as above.

Custom resources are checked against their CustomResourceDefinition's structural schema, and
``x-kubernetes-preserve-unknown-fields`` keeps what it covers.
"""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
from kubernetes import client, dynamic
from kubernetes.client.rest import ApiException

from tests import kube_fixtures
from tests.emulators.kube import KubeEmulator

kube = kube_fixtures.kube
kube_client = kube_fixtures.kube_client

APPLY = "application/apply-patch+yaml"

TYPO: dict[str, Any] = {
    "apiVersion": "apps/v1",
    "kind": "Deployment",
    "metadata": {"name": "web", "namespace": "default"},
    "spec": {
        "replicaz": 3,
        "selector": {"matchLabels": {"app": "web"}},
        "template": {
            "metadata": {"labels": {"app": "web"}},
            "spec": {"containers": [{"name": "web", "image": "nginx:1.25", "imagez": "x"}]},
        },
    },
}

UNDECLARED = (
    "failed to create typed patch object (default/web; apps/v1, Kind=Deployment): errors:\n"
    "  .spec.replicaz: field not declared in schema\n"
    '  .spec.template.spec.containers[name="web"].imagez: field not declared in schema'
)

CRD: dict[str, Any] = {
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
                "schema": {
                    "openAPIV3Schema": {
                        "type": "object",
                        "properties": {
                            "spec": {
                                "type": "object",
                                "properties": {
                                    "replicas": {"type": "integer"},
                                    "extra": {
                                        "type": "object",
                                        "x-kubernetes-preserve-unknown-fields": True,
                                    },
                                },
                            }
                        },
                    }
                },
            }
        ],
    },
}


def status_of(exc: Any) -> dict[str, Any]:
    return dict(json.loads(exc.body))


def warnings_of(headers: Any) -> list[str]:
    found = headers.get("Warning")
    return [] if found is None else [found]


@pytest.fixture
def apps(kube_client: Any) -> client.AppsV1Api:
    return client.AppsV1Api(kube_client)


@pytest.fixture
def deployments(kube_client: Any) -> Any:
    """The dynamic client: the typed one refuses unknown fields before sending them."""
    return dynamic.DynamicClient(kube_client).resources.get(
        api_version="apps/v1", kind="Deployment"
    )


def write(resource: Any, verb: str, body: dict[str, Any], validation: str | None) -> Any:
    """POST (``create``) or PUT (``replace``) ``body``; the raw response (status, headers)."""
    query = [("fieldValidation", validation)] if validation else []
    method = getattr(resource.client, verb)
    return method(resource, body=body, namespace="default", query_params=query, serialize=False)


def apply(apps: client.AppsV1Api, body: dict[str, Any], **kw: Any) -> Any:
    return apps.patch_namespaced_deployment(
        body["metadata"]["name"],
        body["metadata"]["namespace"],
        body,
        field_manager="tester",
        _content_type=APPLY,
        **kw,
    )


@pytest.mark.parametrize("validation", ["Strict", "Warn", "Ignore", None])
def test_an_applied_undeclared_field_is_refused_whatever_the_validation(
    kube: KubeEmulator, apps: client.AppsV1Api, validation: str | None
) -> None:
    extra = {"field_validation": validation} if validation else {}
    with pytest.raises(ApiException) as refused:
        apply(apps, TYPO, **extra)

    assert refused.value.status == 500
    assert status_of(refused.value) == {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": UNDECLARED,
        "code": 500,
    }
    assert kube.get("Deployment", "default", "web") is None


def test_an_applied_configuration_carrying_managed_fields_is_refused(
    kube: KubeEmulator, apps: client.AppsV1Api
) -> None:
    body = copy.deepcopy(TYPO)
    body["spec"].pop("replicaz")
    body["spec"]["template"]["spec"]["containers"][0].pop("imagez")
    body["metadata"]["managedFields"] = []

    with pytest.raises(ApiException) as refused:
        apply(apps, body, field_validation="Strict")

    assert refused.value.status == 400
    found = status_of(refused.value)
    assert (found["reason"], found["message"]) == (
        "BadRequest",
        "metadata.managedFields must be nil",
    )
    assert kube.get("Deployment", "default", "web") is None

    del body["metadata"]["managedFields"]
    apply(apps, body, field_validation="Strict")
    assert kube.get("Deployment", "default", "web") is not None


def test_a_strict_create_names_every_unknown_field(kube: KubeEmulator, deployments: Any) -> None:
    with pytest.raises(dynamic.exceptions.BadRequestError) as refused:
        write(deployments, "create", TYPO, "Strict")

    assert refused.value.status == 400
    found = status_of(refused.value)
    assert found["reason"] == "BadRequest"
    assert found["message"] == (
        'Deployment in version "v1" cannot be handled as a Deployment: strict decoding error: '
        'unknown field "spec.replicaz", '
        'unknown field "spec.template.spec.containers[0].imagez"'
    )
    assert kube.get("Deployment", "default", "web") is None


@pytest.mark.parametrize("validation", ["Warn", None])
def test_a_create_that_warns_drops_the_fields_and_says_so(
    kube: KubeEmulator, deployments: Any, validation: str | None
) -> None:
    created = write(deployments, "create", TYPO, validation)

    assert created.status == 201
    assert warnings_of(created.headers) == [
        '299 - "unknown field \\"spec.replicaz\\"", '
        '299 - "unknown field \\"spec.template.spec.containers[0].imagez\\""'
    ]
    stored = kube.get("Deployment", "default", "web")
    assert "replicaz" not in stored["spec"]
    assert "imagez" not in stored["spec"]["template"]["spec"]["containers"][0]


def test_an_ignoring_update_drops_the_fields_silently(kube: KubeEmulator, deployments: Any) -> None:
    body = copy.deepcopy(TYPO)
    first = write(deployments, "create", body, "Ignore")
    body["spec"]["paused"] = True
    replaced = write(deployments, "replace", body, "Ignore")

    assert replaced.status == 200
    assert warnings_of(first.headers) == warnings_of(replaced.headers) == []
    stored = kube.get("Deployment", "default", "web")
    assert stored["spec"]["paused"] is True
    assert "replicaz" not in stored["spec"]


def test_a_strict_merge_patch_is_invalid(
    kube: KubeEmulator, apps: client.AppsV1Api, deployments: Any
) -> None:
    write(deployments, "create", TYPO, "Ignore")

    with pytest.raises(ApiException) as refused:
        apps.patch_namespaced_deployment(
            "web",
            "default",
            {"spec": {"replicaz": 4}},
            field_validation="Strict",
            _content_type="application/merge-patch+json",
        )

    assert refused.value.status == 422
    found = status_of(refused.value)
    assert found["reason"] == "Invalid"
    assert found["message"].endswith('strict decoding error: unknown field "spec.replicaz"')
    [cause] = found["details"]["causes"]
    assert (cause["reason"], cause["field"]) == ("FieldValueInvalid", "patch")


def test_a_custom_resource_is_checked_against_its_structural_schema(
    kube: KubeEmulator, kube_client: Any
) -> None:
    client.ApiextensionsV1Api(kube_client).create_custom_resource_definition(CRD)
    custom = client.CustomObjectsApi(kube_client)

    def widget(spec: dict[str, Any]) -> Any:
        return custom.patch_namespaced_custom_object(
            "example.com",
            "v1",
            "default",
            "widgets",
            "gear",
            {
                "apiVersion": "example.com/v1",
                "kind": "Widget",
                "metadata": {"name": "gear"},
                "spec": spec,
            },
            field_manager="tester",
            field_validation="Strict",
            _content_type=APPLY,
        )

    with pytest.raises(ApiException) as refused:
        widget({"replicaz": 3})
    assert refused.value.status == 500
    # the namespace shown is the applied configuration's own, and this one names none
    assert status_of(refused.value)["message"] == (
        "failed to create typed patch object (/gear; example.com/v1, Kind=Widget): "
        ".spec.replicaz: field not declared in schema"
    )

    widget({"replicas": 3, "extra": {"anything": {"goes": True}}})
    stored = kube.get("Widget", "default", "gear")
    assert stored["spec"] == {"replicas": 3, "extra": {"anything": {"goes": True}}}
