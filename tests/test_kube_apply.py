"""Server-side apply with ApplySet pruning, against the Kubernetes emulator with the real client."""

from __future__ import annotations

import base64
import copy
import hashlib
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from kubernetes import client as k8s

import commit_train
from commit_train.core import redact
from commit_train.errors import KubeError
from commit_train.kube import apply as kube_apply
from commit_train.kube.apply import Action, ApplyOptions, ObjectRef, apply, deploy_annotations
from commit_train.kube.applyset import (
    GROUP_KINDS_ANNOTATION,
    ID_LABEL,
    PART_OF_LABEL,
    TOOLING_ANNOTATION,
    applyset_id,
)
from commit_train.kube.client import api_client
from commit_train.kube.objects import SHA_ANNOTATION
from tests import kube_fixtures
from tests.emulators.kube import KubeEmulator

kube = kube_fixtures.kube
kube_client = kube_fixtures.kube_client

NS = "shop"
NOTES = deploy_annotations(
    sha="1a2b3c4d5e6f7a8b9c0d1a2b3c4d5e6f7a8b9c0d",
    deployment_id=42,
    run_url="https://github.com/acme/shop/actions/runs/7",
)
LATER = deploy_annotations(
    sha="9f8e7d6c5b4a39281706f5e4d3c2b1a098765432",
    deployment_id=43,
    run_url="https://github.com/acme/shop/actions/runs/8",
)


def namespace(name: str = NS) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}


def config_map(name: str, **data: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": name},
        "data": data or {"key": name},
    }


def secret(name: str, **data: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": name},
        "type": "Opaque",
        "data": {k: base64.b64encode(v.encode()).decode() for k, v in data.items()},
    }


def service(name: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name},
        "spec": {"selector": {"app": name}, "ports": [{"port": 80, "targetPort": 8080}]},
    }


def deployment(name: str, *, replicas: int = 2, image: str = "nginx:1.25") -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {"containers": [{"name": "app", "image": image}]},
            },
        },
    }


def run(api: Any, objects: list[dict[str, Any]], **kwargs: Any) -> kube_apply.ApplyResult:
    kwargs.setdefault("applyset", "shop")
    kwargs.setdefault("namespace", NS)
    kwargs.setdefault("annotations", NOTES)
    return apply(api, objects, ApplyOptions(**kwargs))


def many(count: int) -> list[dict[str, Any]]:
    """``count`` objects of four kinds, plus the namespace they live in."""
    makers = [config_map, service, deployment, lambda n: secret(n, token=f"t-{n}")]
    return [namespace()] + [makers[i % 4](f"obj-{i:03d}") for i in range(count)]


def test_two_hundred_objects_are_created_then_unchanged(kube: KubeEmulator, kube_client: Any):
    objects = many(200)

    first = run(kube_client, objects)

    assert first.counts == {"created": 201, "configured": 0, "unchanged": 0, "pruned": 0}
    assert first.summary_line == "201 objects: 201 created, 0 configured, 0 unchanged, 0 pruned"
    assert len(kube.objects("ConfigMap", NS)) == 50
    assert len(kube.objects("Deployment", NS)) == 50
    web = kube.get("Deployment", NS, "obj-002")
    assert web is not None
    assert web["metadata"]["annotations"]["commit-train.dev/sha"] == NOTES["commit-train.dev/sha"]
    assert web["metadata"]["annotations"]["commit-train.dev/deployment-id"] == "42"
    assert web["metadata"]["labels"][PART_OF_LABEL] == first.applyset_id
    managers = {m["manager"] for m in web["metadata"]["managedFields"]}
    assert "commit-train" in managers
    assert [str(r) for r in first.workloads][:2] == [
        "Deployment shop/obj-002",
        "Deployment shop/obj-006",
    ]

    second = run(kube_client, objects)

    assert second.counts == {"created": 0, "configured": 0, "unchanged": 201, "pruned": 0}


def test_a_changed_object_is_configured_and_the_others_unchanged(kube_client: Any):
    objects = [namespace(), config_map("settings", color="blue"), deployment("web")]
    run(kube_client, objects)
    objects[1] = config_map("settings", color="green")

    result = run(kube_client, objects)

    actions = {str(r.ref): r.action for r in result.results}
    assert actions == {
        "Namespace shop": Action.UNCHANGED,
        "ConfigMap shop/settings": Action.CONFIGURED,
        "Deployment shop/web": Action.UNCHANGED,
    }
    changed = next(r for r in result.results if r.action is Action.CONFIGURED)
    assert changed.diff == ('data.color: "blue" -> "green"',)


def test_a_new_deploy_of_the_same_objects_is_unchanged_and_still_recorded(
    kube: KubeEmulator, kube_client: Any
):
    """commit-train's own annotations change on every deploy; they alone change nothing
    for the user, yet every object is annotated with the latest deploy."""
    objects = [namespace(), config_map("settings"), secret("db", pw="s3cret"), deployment("web")]
    run(kube_client, objects)
    dry_run_notes = deploy_annotations(sha=LATER[SHA_ANNOTATION], deployment_id="", run_url=None)

    dry = run(kube_client, objects, dry_run=True, annotations=dry_run_notes)
    again = run(kube_client, objects, annotations=LATER)

    for result in (dry, again):
        assert {(r.action.value, r.diff) for r in result.results} == {("unchanged", ())}
    assert dry.summary_line == (
        "4 objects: 0 created, 0 configured, 4 unchanged, 0 pruned (dry run, nothing changed)"
    )
    assert again.summary_line == "4 objects: 0 created, 0 configured, 4 unchanged, 0 pruned"
    for kind, name in (("ConfigMap", "settings"), ("Secret", "db"), ("Deployment", "web")):
        notes = kube.get(kind, NS, name)["metadata"]["annotations"]
        assert {k: v for k, v in notes.items() if k.startswith("commit-train.dev/")} == LATER


OLD_SHA = "76e7e14a0c3b9d1e2f4a5b6c7d8e9f0a1b2c3d4e"
NEW_SHA = "c5afef4f9e8d7c6b5a4f3e2d1c0b9a8f7e6d5c4b"
DB_URL = "postgres://shop@db.internal.example.com:5432/shop?sslmode=require&application_name="


def web_deployment(image: str = f"ghcr.io/acme/shop:{OLD_SHA}") -> dict[str, Any]:
    """A Deployment whose lists have named items (containers, env, ports) and plain ones."""
    found = deployment("web", image=image)
    found["spec"]["template"]["spec"]["containers"] = [
        {
            "name": "web",
            "image": image,
            "args": ["--port", "8080"],
            "env": [{"name": "MODE", "value": "live"}, {"name": "DB", "value": DB_URL + "web"}],
            "ports": [{"name": "http", "containerPort": 8080}],
        },
        {"name": "proxy", "image": "envoy:1.30"},
    ]
    return found


def containers(obj: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {c["name"]: c for c in obj["spec"]["template"]["spec"]["containers"]}


def new_image(obj: dict[str, Any]) -> None:
    containers(obj)["web"]["image"] = f"ghcr.io/acme/shop:{NEW_SHA}"


def env_added(obj: dict[str, Any]) -> None:
    containers(obj)["web"]["env"].insert(1, {"name": "LOG_LEVEL", "value": "debug"})


def env_removed(obj: dict[str, Any]) -> None:
    containers(obj)["web"]["env"].pop(0)


def port_changed(obj: dict[str, Any]) -> None:
    containers(obj)["web"]["ports"][0]["containerPort"] = 9090


def args_grown(obj: dict[str, Any]) -> None:
    containers(obj)["web"]["args"].append("--verbose")


def container_added(obj: dict[str, Any]) -> None:
    obj["spec"]["template"]["spec"]["containers"].insert(
        0, {"name": "migrate", "image": "ghcr.io/acme/migrate:3"}
    )


def long_value_changed(obj: dict[str, Any]) -> None:
    containers(obj)["web"]["env"][1]["value"] = DB_URL + "api"


def db_port_changed(obj: dict[str, Any]) -> None:
    env = containers(obj)["web"]["env"][1]
    env["value"] = env["value"].replace(":5432/", ":6432/")


WEB = "spec.template.spec.containers[web]"
DIFF_CASES = [
    (new_image, [f'{WEB}.image: "ghcr.io/acme/shop:{OLD_SHA}" -> "ghcr.io/acme/shop:{NEW_SHA}"']),
    (env_added, [f'{WEB}.env[LOG_LEVEL]: (added) {{"name": "LOG_LEVEL", "value": "debug"}}']),
    (env_removed, [f"{WEB}.env[MODE]: (removed)"]),
    (port_changed, [f"{WEB}.ports[http].containerPort: 8080 -> 9090"]),
    (args_grown, [f'{WEB}.args[2]: (added) "--verbose"']),
    (
        container_added,
        [
            # the server's defaults count: the value is cut at 60 characters
            "spec.template.spec.containers[migrate]: (added) "
            '{"image": "ghcr.io/acme/migrate:3", "imagePullPolicy": "I...'
        ],
    ),
    (
        long_value_changed,
        [
            # too long to show whole: both sides cut around where they differ
            f'{WEB}.env[DB].value: ...ample.com:5432/shop?sslmode=require&application_name=web"'
            ' -> ...ample.com:5432/shop?sslmode=require&application_name=api"'
        ],
    ),
    (
        db_port_changed,
        [
            f"{WEB}.env[DB].value: ...rnal.example.com:5432/shop?sslmode=require&application..."
            " -> ...rnal.example.com:6432/shop?sslmode=require&application..."
        ],
    ),
]


@pytest.mark.parametrize(
    ("change", "lines"), DIFF_CASES, ids=[change.__name__ for change, _ in DIFF_CASES]
)
def test_the_diff_names_the_changed_field_inside_lists(
    kube_client: Any, change: Any, lines: list[str]
) -> None:
    run(kube_client, [namespace(), web_deployment()])
    changed = web_deployment()
    change(changed)

    dry = run(kube_client, [namespace(), changed], dry_run=True, annotations=LATER)
    applied = run(kube_client, [namespace(), changed], annotations=LATER)

    for result in (dry, applied):
        assert [(str(r.ref), r.action.value, list(r.diff)) for r in result.results] == [
            ("Namespace shop", "unchanged", []),
            ("Deployment shop/web", "configured", lines),
        ]


def test_a_known_secret_value_never_shows_in_a_diff_not_even_in_part(kube_client: Any):
    """A long value is cut around its first difference: right where a rotated password
    sits. The new password is a known secret value; the old one (no longer rendered) is not,
    so both sides are hidden."""
    old_password, new_password = "correct-horse-battery-staple-1", "correct-horse-battery-staple-2"
    before, after = web_deployment(), web_deployment()
    containers(before)["web"]["env"][1]["value"] = f"postgres://shop:{old_password}@db:5432/shop"
    containers(after)["web"]["env"][1]["value"] = f"postgres://shop:{new_password}@db:5432/shop"
    run(kube_client, [namespace(), before])

    result = run(
        kube_client,
        [namespace(), after],
        dry_run=True,
        secret_values=redact.secret_forms(new_password),
    )

    assert result.results[1].diff == (f"{WEB}.env[DB].value: <redacted> -> <redacted>",)
    assert "staple" not in str(result.results)


def test_the_applyset_parent_follows_the_kep(kube: KubeEmulator, kube_client: Any):
    result = run(kube_client, [namespace(), config_map("a"), deployment("web")])

    parent = kube.get("Secret", NS, "shop")
    assert parent is not None
    digest = hashlib.sha256(b"shop.shop.Secret.").digest()
    expected = "applyset-" + base64.urlsafe_b64encode(digest).decode().rstrip("=") + "-v1"
    assert result.applyset_id == expected == applyset_id("shop", NS)
    assert parent["metadata"]["labels"] == {ID_LABEL: expected}
    notes = parent["metadata"]["annotations"]
    assert notes[TOOLING_ANNOTATION] == f"commit-train/{commit_train.__version__}"
    assert notes[GROUP_KINDS_ANNOTATION] == "ConfigMap,Deployment.apps,Namespace"


def test_a_conflict_names_the_other_field_manager_and_force_takes_over(
    kube: KubeEmulator, kube_client: Any
):
    run(kube_client, [namespace(), deployment("web", replicas=2)])
    apps = k8s.AppsV1Api(kube_client)
    apps.patch_namespaced_deployment(
        "web",
        NS,
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": "web"},
            "spec": {"replicas": 5},
        },
        field_manager="hpa-tuner",
        force=True,
        _content_type="application/apply-patch+yaml",
    )
    wanted = [namespace(), deployment("web", replicas=3)]

    with pytest.raises(KubeError) as caught:
        run(kube_client, wanted)

    assert str(caught.value) == (
        'Deployment shop/web: apply conflict: .spec.replicas owned by field manager "hpa-tuner"; '
        "remove those fields from the manifest, or take them over with --force-conflicts "
        "(force: true)"
    )
    assert kube.get("Deployment", NS, "web")["spec"]["replicas"] == 5

    forced = run(kube_client, wanted, force=True)

    assert {str(r.ref): r.action for r in forced.results}["Deployment shop/web"] == "configured"
    assert kube.get("Deployment", NS, "web")["spec"]["replicas"] == 3


def test_dry_run_reports_changes_persists_nothing_and_hides_secret_values(
    kube: KubeEmulator, kube_client: Any
):
    run(kube_client, [namespace(), config_map("settings", color="blue"), secret("db", pw="s3cret")])
    version = kube.resource_version
    changed = [
        namespace(),
        config_map("settings", color="green"),
        secret("db", pw="n3w-s3cret"),
        service("web"),
    ]

    result = run(kube_client, changed, dry_run=True)

    assert result.dry_run
    actions = {str(r.ref): (r.action.value, r.diff) for r in result.results}
    assert actions == {
        "Namespace shop": ("unchanged", ()),
        "ConfigMap shop/settings": ("configured", ('data.color: "blue" -> "green"',)),
        "Secret shop/db": ("configured", ("data.pw: <redacted> -> <redacted>",)),
        "Service shop/web": ("created", ()),
    }
    assert result.summary_line == (
        "4 objects: 1 created, 2 configured, 1 unchanged, 0 pruned (dry run, nothing changed)"
    )
    assert kube.resource_version == version
    assert kube.get("Service", NS, "web") is None
    assert kube.get("ConfigMap", NS, "settings")["data"] == {"color": "blue"}
    assert next(r for r in result.results if r.ref.kind == "Secret").obj["data"] == {
        "pw": "<redacted>"
    }
    shown = str([(r, r.obj) for r in result.results])
    for value in ("s3cret", "n3w-s3cret"):
        assert value not in shown
        assert base64.b64encode(value.encode()).decode() not in shown


def test_dry_run_lists_what_would_be_pruned_and_keeps_it(kube: KubeEmulator, kube_client: Any):
    run(kube_client, [namespace(), config_map("a"), config_map("b")])

    result = run(kube_client, [namespace(), config_map("a")], dry_run=True)

    assert [str(r.ref) for r in result.pruned] == ["ConfigMap shop/b"]
    assert kube.get("ConfigMap", NS, "b") is not None


CRD = {
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
                        "x-kubernetes-preserve-unknown-fields": True,
                    }
                },
            }
        ],
    },
}


def test_namespace_crd_and_custom_resource_in_one_apply(kube: KubeEmulator, kube_client: Any):
    widget = {
        "apiVersion": "example.com/v1",
        "kind": "Widget",
        "metadata": {"name": "gear", "namespace": "fresh"},
        "spec": {"teeth": 12},
    }
    objects = [widget, copy.deepcopy(CRD), namespace("fresh")]

    result = run(kube_client, objects, namespace="fresh", applyset="widgets")

    assert result.counts["created"] == 3
    assert kube.get("Widget", "fresh", "gear")["spec"] == {"teeth": 12}
    parent = kube.get("Secret", "fresh", "widgets")
    assert parent["metadata"]["annotations"][GROUP_KINDS_ANNOTATION] == (
        "CustomResourceDefinition.apiextensions.k8s.io,Namespace,Widget.example.com"
    )
    assert run(kube_client, objects, namespace="fresh", applyset="widgets").counts["unchanged"] == 3


def test_dry_run_of_a_new_crd_reports_its_resources_as_created(
    kube: KubeEmulator, kube_client: Any
):
    widget = {"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "gear"}}

    result = run(kube_client, [namespace(), copy.deepcopy(CRD), widget], dry_run=True)

    assert result.counts["created"] == 3
    assert kube.get("CustomResourceDefinition", None, "widgets.example.com") is None


def test_a_removed_manifest_is_pruned_and_nothing_else(kube: KubeEmulator, kube_client: Any):
    run(kube_client, [namespace(), config_map("keep"), config_map("gone"), deployment("old")])
    core = k8s.CoreV1Api(kube_client)
    core.create_namespaced_config_map(NS, {"metadata": {"name": "hand-made"}})
    foreign_id = applyset_id("other", NS)
    core.create_namespaced_config_map(
        NS, {"metadata": {"name": "other-set", "labels": {PART_OF_LABEL: foreign_id}}}
    )

    result = run(kube_client, [namespace(), config_map("keep")])

    assert sorted(str(r.ref) for r in result.pruned) == [
        "ConfigMap shop/gone",
        "Deployment shop/old",
    ]
    assert result.counts == {"created": 0, "configured": 0, "unchanged": 2, "pruned": 2}
    assert kube.get("ConfigMap", NS, "gone") is None
    assert kube.get("Deployment", NS, "old") is None
    assert kube.get("ConfigMap", NS, "keep") is not None
    assert kube.get("ConfigMap", NS, "hand-made") is not None
    assert kube.get("ConfigMap", NS, "other-set") is not None
    notes = kube.get("Secret", NS, "shop")["metadata"]["annotations"]
    assert notes[GROUP_KINDS_ANNOTATION] == "ConfigMap,Namespace"


def test_prune_false_keeps_removed_objects(kube: KubeEmulator, kube_client: Any):
    run(kube_client, [namespace(), config_map("a"), config_map("b")])

    result = run(kube_client, [namespace(), config_map("a")], prune=False)

    assert result.pruned == ()
    assert kube.get("ConfigMap", NS, "b") is not None


def test_the_namespace_holding_the_parent_is_never_pruned(kube: KubeEmulator, kube_client: Any):
    run(kube_client, [namespace(), config_map("a")])

    result = run(kube_client, [config_map("a")])

    assert result.pruned == ()
    assert kube.get("Namespace", None, NS) is not None


def test_a_parent_owned_by_another_tool_is_refused(kube: KubeEmulator, kube_client: Any):
    run(kube_client, [namespace(), config_map("a")])
    k8s.CoreV1Api(kube_client).create_namespaced_secret(
        NS,
        {
            "metadata": {
                "name": "kubectl-set",
                "labels": {ID_LABEL: applyset_id("kubectl-set", NS)},
                "annotations": {TOOLING_ANNOTATION: "kubectl/v1.32"},
            }
        },
    )

    with pytest.raises(KubeError) as caught:
        run(kube_client, [config_map("b")], applyset="kubectl-set")

    assert str(caught.value) == (
        "secret shop/kubectl-set exists but is not an ApplySet of commit-train "
        "(applyset.kubernetes.io/tooling names kubectl); choose another applyset name, "
        "or delete that Secret if it is left over"
    )


@pytest.mark.parametrize(
    ("objects", "message"),
    [
        (
            [{"apiVersion": "example.com/v1", "kind": "Gadget", "metadata": {"name": "g"}}],
            "Gadget g: the cluster serves no kind Gadget in example.com/v1; fix apiVersion/kind, "
            "or add the CustomResourceDefinition that defines it",
        ),
        (
            [{"kind": "ConfigMap", "metadata": {"name": "x"}}],
            "ConfigMap x has no apiVersion; every manifest needs apiVersion, kind and "
            "metadata.name",
        ),
        (
            [config_map("twice"), config_map("twice")],
            "ConfigMap shop/twice appears twice in the manifests (#1 and #2); keep one of them; "
            "the later one would silently replace the first",
        ),
    ],
)
def test_bad_manifests_fail_before_anything_is_sent(
    kube: KubeEmulator, kube_client: Any, objects: list[dict[str, Any]], message: str
):
    before = kube.resource_version

    with pytest.raises(KubeError) as caught:
        run(kube_client, objects)

    assert str(caught.value) == message
    assert kube.resource_version == before


def test_a_refused_object_names_the_status_and_the_servers_message(
    kube: KubeEmulator, kube_client: Any
):
    kube.fail_next(
        403,
        method="PATCH",
        path_contains="/configmaps/a",
        reason="Forbidden",
        message='configmaps "a" is forbidden: User "ci" cannot patch resource',
    )

    with pytest.raises(KubeError) as caught:
        run(kube_client, [namespace(), config_map("a")])

    assert str(caught.value) == (
        'ConfigMap shop/a: cannot apply ConfigMap shop/a (403 Forbidden): configmaps "a" is '
        'forbidden: User "ci" cannot patch resource; grant the deploy identity this permission '
        "(a Role/ClusterRole binding)"
    )


def test_workloads_are_what_the_waiter_follows(kube_client: Any):
    objects = [namespace(), config_map("a"), deployment("web")]

    result = run(kube_client, objects)

    assert result.workloads == (ObjectRef("apps/v1", "Deployment", "web", NS),)


def test_the_client_is_built_from_an_explicit_kubeconfig(kube: KubeEmulator, tmp_path: Path):
    path = kube.write_kubeconfig(tmp_path / "config")

    api = api_client(kubeconfig=path, context="emulator", environ={})
    result = run(api, [namespace(), config_map("a")])

    assert result.counts["created"] == 2
    assert api.configuration.host == kube.url


def test_the_client_is_built_from_kubeconfig_env(kube: KubeEmulator, tmp_path: Path):
    path = kube.write_kubeconfig(tmp_path / "config")

    api = api_client(environ={"KUBECONFIG": str(path), "HOME": str(tmp_path)}, pool_size=3)

    assert api.configuration.host == kube.url
    assert api.configuration.connection_pool_maxsize == 3


@pytest.mark.parametrize(
    ("kwargs", "environ", "message"),
    [
        (
            {"kubeconfig": "missing.yaml"},
            {},
            "kubeconfig 'missing.yaml' does not exist; pass the path of an existing kubeconfig "
            "file to --kubeconfig",
        ),
        (
            {},
            {"KUBECONFIG": "nowhere.yaml"},
            "KUBECONFIG names 'nowhere.yaml', but no such file exists; point KUBECONFIG at your "
            "kubeconfig file, or unset it",
        ),
        (
            {},
            {"HOME": "."},
            "no Kubernetes configuration found (no --kubeconfig, KUBECONFIG unset, no "
            "~/.kube/config, not running inside a cluster); set KUBECONFIG to your kubeconfig "
            "file or pass --kubeconfig",
        ),
    ],
)
def test_client_errors_name_the_fix(kwargs: dict[str, Any], environ: dict[str, str], message: str):
    with pytest.raises(KubeError) as caught:
        api_client(environ=environ, **kwargs)

    assert str(caught.value) == message


def test_an_unknown_context_lists_the_known_ones(kube: KubeEmulator, tmp_path: Path):
    path = kube.write_kubeconfig(tmp_path / "config")

    with pytest.raises(KubeError) as caught:
        api_client(kubeconfig=path, context="prod")

    assert str(caught.value) == (
        f"context 'prod' is not in the kubeconfig {path} (contexts: emulator); "
        "pass one of those to --context, or add the context to the kubeconfig"
    )


@pytest.mark.kubectl
@pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl is not on PATH")
def test_kubectl_computes_the_same_applyset_id_and_kinds(
    kube: KubeEmulator, kube_client: Any, tmp_path: Path
):
    """The real kubectl, given the same parent, labels it exactly as commit-train does."""
    run(kube_client, [namespace("kshop")], namespace="kshop", applyset="ours")
    manifest = tmp_path / "objects.yaml"
    manifest.write_text(
        yaml.safe_dump_all(
            [{**config_map("a"), "metadata": {"name": "a", "namespace": "kshop"}}, deployment("w")]
        )
    )
    env = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": str(tmp_path),
        "KUBECONFIG": str(kube.write_kubeconfig(tmp_path / "kubeconfig", namespace="kshop")),
        "KUBECTL_APPLYSET": "true",
    }
    done = subprocess.run(
        [
            "kubectl",
            "apply",
            "--server-side",
            "--applyset=theirs",
            "--prune",
            "-n",
            "kshop",
            "-f",
            str(manifest),
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr

    theirs = kube.get("Secret", "kshop", "theirs")
    assert theirs["metadata"]["labels"][ID_LABEL] == applyset_id("theirs", "kshop")
    ours = run(
        kube_client,
        [config_map("a2"), deployment("w2")],
        namespace="kshop",
        applyset="theirs-twin",
    )
    twin = kube.get("Secret", "kshop", "theirs-twin")["metadata"]["annotations"]
    assert twin[GROUP_KINDS_ANNOTATION] == theirs["metadata"]["annotations"][GROUP_KINDS_ANNOTATION]
    assert ours.applyset_id == applyset_id("theirs-twin", "kshop")


def test_fields_a_custom_resource_schema_lacks_are_named_in_one_line(
    kube: KubeEmulator, kube_client: Any
):
    crd = copy.deepcopy(CRD)
    crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"] = {
        "type": "object",
        "properties": {"spec": {"type": "object", "properties": {"teeth": {"type": "integer"}}}},
    }
    widget = {
        "apiVersion": "example.com/v1",
        "kind": "Widget",
        "metadata": {"name": "gear"},
        "spec": {"teeth": 12, "toothz": 3, "colour": "red"},
    }

    with pytest.raises(KubeError) as refused:
        run(kube_client, [namespace(), crd, widget])

    assert str(refused.value) == (
        "Widget shop/gear: the Widget schema the cluster serves has no .spec.colour, "
        ".spec.toothz; correct or remove it in the manifest"
    )
    assert kube.get("Widget", NS, "gear") is None
    sent = [r for r in kube.requests if r.content_type == "application/apply-patch+yaml"]
    assert {r.params.get("fieldValidation") for r in sent} == {"Strict"}
