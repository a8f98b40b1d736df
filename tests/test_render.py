"""Templates to manifests: the context, values, secrets, every error's location, redaction."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest
import yaml

from commit_train import config
from commit_train.core.redact import REDACTED, redact_text
from commit_train.errors import CommitTrainError, NotFoundError, RenderError
from commit_train.render.manifests import DeploymentInfo, Rendered
from commit_train.render.templates import render
from commit_train.render.values import read_secrets

SHA = "1a2b3c4d5e6f7a8b9c0d1e2f3a4b5c6d7e8f9a0b"
PASSWORD = "s3cr3t-Pa55word!"
TOKEN = "tok_0123456789abcdef"

CONFIG = """\
image: ghcr.io/acme/shop
kubernetes:
  namespace: shop
  version: "1.30"
secrets: [DB_PASSWORD, API_TOKEN]
environments:
  staging: {}
  production:
    namespace: shop-prod
    values: prod-values.yml
"""

DEFAULTS = """\
replicas: 2
db:
  host: db.internal
  port: 5432
features: [a, b]
"""

STAGING = """\
replicas: 1
db:
  host: db.staging
"""

DEPLOYMENT = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  labels:
    environment: {{ environment }}
    commit: {{ short_sha | quote }}
spec:
  replicas: {{ values.replicas }}
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
        - name: web
          image: {{ image }}
          env:
            - name: DB_HOST
              value: {{ values.db.host | quote }}
            - name: DB_PORT
              value: {{ values.db.port | quote }}
"""

SECRET_AND_CONFIGMAP = """\
apiVersion: v1
kind: Secret
metadata:
  name: db
stringData:
  password: {{ secrets.DB_PASSWORD | quote }}
data:
  token: {{ secrets.API_TOKEN | b64encode }}
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: settings
data:
  url: "postgres://app:{{ secrets.DB_PASSWORD }}@{{ values.db.host }}/shop"
"""

SECRET_ENV = {"DB_PASSWORD": PASSWORD, "API_TOKEN": TOKEN}


def make_repo(
    root: Path,
    templates: dict[str, str],
    *,
    config_text: str = CONFIG,
    values: dict[str, str] | None = None,
) -> config.Config:
    (root / ".commit-train.yml").write_text(config_text)
    folder = root / "deploy" / "templates"
    folder.mkdir(parents=True)
    for name, text in templates.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text(text)
    values_folder = root / "deploy" / "values"
    values_folder.mkdir(parents=True)
    for name, text in (values or {"defaults.yml": DEFAULTS, "staging.yml": STAGING}).items():
        (values_folder / name).write_text(text)
    return config.load(root).config


def run(root: Path, cfg: config.Config, environment: str = "staging", **kwargs: object) -> Rendered:
    kwargs.setdefault("env", SECRET_ENV)
    return render(root, cfg, environment=environment, sha=SHA, **kwargs)  # type: ignore[arg-type]


def error_of(root: Path, cfg: config.Config, **kwargs: object) -> str:
    with pytest.raises(RenderError) as caught:
        run(root, cfg, **kwargs)
    return str(caught.value)


CM = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\n"


# --------------------------------------------------------------------------- the context


def test_context_variables(tmp_path: Path) -> None:
    template = (
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: context\ndata:\n"
        "  environment: {{ environment }}\n"
        "  sha: {{ sha | quote }}\n"
        "  short_sha: {{ short_sha | quote }}\n"
        "  image: {{ image }}\n"
        "  namespace: {{ namespace }}\n"
        '  deployment: "{{ deployment.id }} {{ deployment.creator }} {{ deployment.url }}"\n'
    )
    cfg = make_repo(tmp_path, {"context.yaml": template})
    info = DeploymentInfo(id=42, creator="octocat", url="https://github.example/d/42")
    data = run(tmp_path, cfg, deployment=info).objects[0].obj["data"]
    assert data == {
        "environment": "staging",
        "sha": SHA,
        "short_sha": SHA[:7],
        "image": f"ghcr.io/acme/shop:{SHA}",
        "namespace": "shop",
        "deployment": "42 octocat https://github.example/d/42",
    }


def test_deployment_is_optional(tmp_path: Path) -> None:
    template = CM.format(name="x") + "data:\n  id: {{ deployment.id if deployment else 'none' }}\n"
    cfg = make_repo(tmp_path, {"x.yaml": template})
    assert run(tmp_path, cfg).objects[0].obj["data"] == {"id": "none"}


def test_values_merge_deep_with_the_environment_file(tmp_path: Path) -> None:
    cfg = make_repo(tmp_path, {"web.yaml": DEPLOYMENT})
    obj = run(tmp_path, cfg).objects[0].obj
    assert obj["spec"]["replicas"] == 1  # staging overrides
    env = obj["spec"]["template"]["spec"]["containers"][0]["env"]
    assert env == [
        {"name": "DB_HOST", "value": "db.staging"},  # overridden inside a mapping
        {"name": "DB_PORT", "value": "5432"},  # kept from defaults beside it
    ]


def test_environment_names_its_values_file_and_namespace(tmp_path: Path) -> None:
    values = {"defaults.yml": DEFAULTS, "prod-values.yml": "replicas: 5\n"}
    cfg = make_repo(tmp_path, {"web.yaml": DEPLOYMENT}, values=values)
    manifest = run(tmp_path, cfg, environment="production").objects[0]
    assert manifest.obj["spec"]["replicas"] == 5
    assert manifest.key.namespace == "shop-prod"
    assert manifest.obj["metadata"]["namespace"] == "shop-prod"


def test_templates_are_read_in_sorted_order_and_partials_are_skipped(tmp_path: Path) -> None:
    templates = {
        "b.yml": CM.format(name="b"),
        "a/z.yaml.j2": CM.format(name="az"),
        "c.j2": "{% include '_name.j2' %}",
        "_name.j2": CM.format(name="from-partial"),
        "notes.txt": "not a template",
    }
    cfg = make_repo(tmp_path, templates)
    rendered = run(tmp_path, cfg)
    assert [m.key.name for m in rendered.objects] == ["az", "b", "from-partial"]
    assert [m.source for m in rendered.objects] == [
        "deploy/templates/a/z.yaml.j2",
        "deploy/templates/b.yml",
        "deploy/templates/c.j2",
    ]


def test_manifest_lines_point_into_the_template(tmp_path: Path) -> None:
    template = (
        "{% for name in ['one', 'two'] %}\n"  # 1
        "---\n"  # 2
        "apiVersion: v1\n"  # 3
        "kind: ConfigMap\n"  # 4
        "metadata:\n"  # 5
        "  name: {{ name }}\n"  # 6
        "{% endfor %}\n"  # 7
        "---\n"  # 8
        "# a comment\n"  # 9
        "apiVersion: v1\n"  # 10
        "kind: ConfigMap\n"
        "metadata:\n  name: last\n"
    )
    cfg = make_repo(tmp_path, {"cm.yaml": template})
    rendered = run(tmp_path, cfg)
    assert [(m.key.name, m.line) for m in rendered.objects] == [
        ("one", 3),
        ("two", 3),
        ("last", 10),
    ]
    assert rendered.objects[2].location == "deploy/templates/cm.yaml:10"


def test_filters(tmp_path: Path) -> None:
    template = CM.format(name="f") + (
        "data:\n"
        "  encoded: {{ 'hello' | b64encode }}\n"
        "  decoded: {{ 'aGVsbG8=' | b64decode }}\n"
        "  quoted: {{ 'a: b # c' | quote }}\n"
        "  json: {{ values.db | to_json | quote }}\n"
        "  yaml: |\n    {{ values.db | to_yaml | indent(4) }}\n"
    )
    cfg = make_repo(tmp_path, {"f.yaml": template})
    data = run(tmp_path, cfg).objects[0].obj["data"]
    assert data["encoded"] == "aGVsbG8="
    assert data["decoded"] == "hello"
    assert data["quoted"] == "a: b # c"
    assert json.loads(data["json"]) == {"host": "db.staging", "port": 5432}
    assert yaml.safe_load(data["yaml"]) == {"host": "db.staging", "port": 5432}


def test_static_files_need_no_jinja(tmp_path: Path) -> None:
    cfg = make_repo(tmp_path, {"plain.yaml": CM.format(name="plain") + "data: {a: '1'}\n"})
    assert run(tmp_path, cfg).objects[0].obj["data"] == {"a": "1"}


# --------------------------------------------------------------------------- errors, located


def test_undefined_value_names_file_line_key_and_values_files(tmp_path: Path) -> None:
    template = DEPLOYMENT.replace("values.replicas", "values.replica_count")
    cfg = make_repo(tmp_path, {"web.yaml": template})
    assert error_of(tmp_path, cfg) == (
        "deploy/templates/web.yaml:9: 'values.replica_count' is undefined; add replica_count to "
        "deploy/values/defaults.yml or deploy/values/staging.yml"
    )


def test_undefined_nested_value(tmp_path: Path) -> None:
    template = DEPLOYMENT.replace("values.db.port", "values.db.user")
    cfg = make_repo(tmp_path, {"web.yaml": template})
    assert error_of(tmp_path, cfg).startswith(
        "deploy/templates/web.yaml:23: 'values.db.user' is undefined; add db.user to "
    )


def test_undefined_names_the_environment_values_file_the_config_names(tmp_path: Path) -> None:
    values = {"defaults.yml": DEFAULTS, "prod-values.yml": "{}\n"}
    cfg = make_repo(tmp_path, {"x.yaml": "x: {{ values.nope }}\n"}, values=values)
    assert error_of(tmp_path, cfg, environment="production") == (
        "deploy/templates/x.yaml:1: 'values.nope' is undefined; add nope to "
        "deploy/values/defaults.yml or deploy/values/prod-values.yml"
    )


def test_misspelled_context_variable(tmp_path: Path) -> None:
    cfg = make_repo(tmp_path, {"x.yaml": "\n\nimage: {{ imgae }}\n"})
    assert error_of(tmp_path, cfg) == (
        "deploy/templates/x.yaml:3: 'imgae' is undefined; did you mean 'image'?"
    )


def test_image_needs_config(tmp_path: Path) -> None:
    cfg = make_repo(
        tmp_path,
        {"x.yaml": "image: {{ image }}\n"},
        config_text="environments: {staging: {}}\n",
    )
    assert error_of(tmp_path, cfg) == (
        "deploy/templates/x.yaml:1: 'image' is undefined; set image: in .commit-train.yml"
    )


def test_undefined_in_an_included_partial_names_the_partial(tmp_path: Path) -> None:
    cfg = make_repo(
        tmp_path,
        {"x.yaml": "a: 1\n{% include '_p.j2' %}\n", "_p.j2": "b: 2\nc: {{ values.missing }}\n"},
    )
    assert error_of(tmp_path, cfg).startswith(
        "deploy/templates/_p.j2:2: 'values.missing' is undefined"
    )


def test_jinja_syntax_error_location(tmp_path: Path) -> None:
    template = CM.format(name="x") + "data:\n  a: {{ values.replicas }\n"
    cfg = make_repo(tmp_path, {"bad.yaml": template})
    message = error_of(tmp_path, cfg)
    assert message.startswith("deploy/templates/bad.yaml:6: template syntax error: ")


def test_unclosed_block_location(tmp_path: Path) -> None:
    cfg = make_repo(tmp_path, {"bad.yaml": "a: 1\n{% if values.replicas %}\nb: 2\n"})
    message = error_of(tmp_path, cfg)
    assert message.startswith("deploy/templates/bad.yaml:")
    assert "template syntax error: Unexpected end of template" in message


def test_yaml_error_location_maps_back_to_the_template(tmp_path: Path) -> None:
    template = (
        "{% for name in ['one', 'two'] %}\n"  # 1
        "---\n"  # 2
        "apiVersion: v1\n"  # 3
        "kind: ConfigMap\n"  # 4
        "metadata:\n"  # 5
        "  name: {{ name }}\n"  # 6
        "data:\n"  # 7
        "  greeting: hello: world\n"  # 8
        "{% endfor %}\n"
    )
    cfg = make_repo(tmp_path, {"cm.yaml": template})
    assert error_of(tmp_path, cfg).startswith(
        "deploy/templates/cm.yaml:8: invalid YAML after rendering: mapping values are not "
        "allowed in this context; check indentation and quoting there"
    )


def test_duplicate_yaml_key(tmp_path: Path) -> None:
    cfg = make_repo(tmp_path, {"cm.yaml": CM.format(name="x") + "data:\n  a: '1'\n  a: '2'\n"})
    assert error_of(tmp_path, cfg).startswith(
        "deploy/templates/cm.yaml:7: invalid YAML after rendering: duplicate key 'a'"
    )


def test_document_that_is_not_an_object(tmp_path: Path) -> None:
    cfg = make_repo(tmp_path, {"list.yaml": "- a\n- b\n"})
    assert error_of(tmp_path, cfg) == (
        "deploy/templates/list.yaml:1: each YAML document must be one object (a mapping), "
        "not a list; check the indentation, and separate objects with ---"
    )


@pytest.mark.parametrize(
    ("text", "missing"),
    [
        ("kind: ConfigMap\nmetadata: {name: x}\n", "apiVersion"),
        ("apiVersion: v1\nmetadata: {name: x}\n", "kind"),
        ("apiVersion: v1\nkind: ConfigMap\nmetadata: {labels: {a: b}}\n", "metadata.name"),
        ("apiVersion: v1\nkind: ConfigMap\n", "metadata.name"),
        ("metadata: {}\n", "apiVersion or kind or metadata.name"),
    ],
)
def test_object_needs_api_version_kind_and_name(tmp_path: Path, text: str, missing: str) -> None:
    cfg = make_repo(tmp_path, {"ok.yaml": CM.format(name="ok"), "x.yaml": "---\n" + text})
    assert error_of(tmp_path, cfg) == (
        f"deploy/templates/x.yaml:2: the object has no {missing}; "
        "every object needs apiVersion, kind and metadata.name"
    )


def test_duplicate_object_names_both_files(tmp_path: Path) -> None:
    cfg = make_repo(
        tmp_path,
        {
            "a.yaml": CM.format(name="settings"),
            "b.yaml": "# the same, with the namespace written out\n"
            + CM.format(name="settings")
            + "  namespace: shop\n",
        },
    )
    assert error_of(tmp_path, cfg) == (
        "deploy/templates/b.yaml:2: ConfigMap shop/settings is defined twice "
        "(first at deploy/templates/a.yaml:1); rename or remove one of them"
    )


def test_same_name_in_other_namespace_or_kind_is_fine(tmp_path: Path) -> None:
    cfg = make_repo(
        tmp_path,
        {
            "a.yaml": CM.format(name="x") + "---\n" + CM.format(name="x") + "  namespace: other\n"
            "---\napiVersion: v1\nkind: Secret\nmetadata: {name: x}\n",
        },
    )
    keys = [str(m.key) for m in run(tmp_path, cfg).objects]
    assert keys == ["ConfigMap shop/x", "ConfigMap other/x", "Secret shop/x"]


def test_schema_error_names_file_line_and_field_path(tmp_path: Path) -> None:
    values = {"defaults.yml": DEFAULTS.replace("replicas: 2", "replicas: three"), "staging.yml": ""}
    cfg = make_repo(tmp_path, {"web.yaml": DEPLOYMENT}, values=values)
    assert error_of(tmp_path, cfg) == (
        "deploy/templates/web.yaml:9: Deployment shop/web: spec.replicas: expected integer, "
        'got string "three"; see the Deployment schema of Kubernetes 1.30'
    )


def test_schema_error_for_an_unknown_field_suggests_the_right_one(tmp_path: Path) -> None:
    template = DEPLOYMENT.replace(
        "          image:", "          imagePullPolicyy: Always\n          image:"
    )
    cfg = make_repo(tmp_path, {"web.yaml": template})
    assert error_of(tmp_path, cfg) == (
        "deploy/templates/web.yaml:18: Deployment shop/web: spec.template.spec.containers[0]: "
        "unknown field 'imagePullPolicyy' (did you mean 'imagePullPolicy'?); "
        "see the Deployment schema of Kubernetes 1.30"
    )


def test_schema_error_for_a_missing_required_field(tmp_path: Path) -> None:
    template = "apiVersion: v1\nkind: Service\nmetadata: {name: web}\nspec:\n  ports:\n  - {}\n"
    cfg = make_repo(tmp_path, {"svc.yaml": template})
    assert error_of(tmp_path, cfg) == (
        "deploy/templates/svc.yaml:6: Service shop/web: spec.ports[0]: missing required field "
        "'port'; see the Service schema of Kubernetes 1.30"
    )


def test_validation_can_be_skipped(tmp_path: Path) -> None:
    values = {"defaults.yml": DEFAULTS.replace("replicas: 2", "replicas: three"), "staging.yml": ""}
    cfg = make_repo(tmp_path, {"web.yaml": DEPLOYMENT}, values=values)
    rendered = run(tmp_path, cfg, validate=False)
    assert rendered.objects[0].obj["spec"]["replicas"] == "three"
    assert rendered.kubernetes_version is None


def test_custom_resources_are_skipped_with_a_note(tmp_path: Path) -> None:
    widget = "apiVersion: example.com/v1\nkind: Widget\nmetadata: {name: w%d}\nspec: {size: huge}\n"
    cfg = make_repo(tmp_path, {"w.yaml": widget % 1 + "---\n" + widget % 2})
    rendered = run(tmp_path, cfg)
    assert rendered.notes == (
        "deploy/templates/w.yaml:1: Widget example.com/v1 is not a built-in kind of "
        "Kubernetes 1.30; not validated (2 objects)",
    )
    assert rendered.kubernetes_version == "1.30"


def test_custom_resource_in_a_builtin_looking_group_is_not_checked_as_builtin(
    tmp_path: Path,
) -> None:
    text = "apiVersion: apps.example.com/v1\nkind: Deployment\nmetadata: {name: d}\nspec: {x: 1}\n"
    cfg = make_repo(tmp_path, {"d.yaml": text})
    rendered = run(tmp_path, cfg)
    assert rendered.notes[0].endswith(
        "Deployment apps.example.com/v1 is not a built-in kind of Kubernetes 1.30; not validated"
    )


def test_newer_kubernetes_than_the_schemas_validates_against_the_newest(tmp_path: Path) -> None:
    cfg = make_repo(
        tmp_path,
        {"cm.yaml": CM.format(name="x")},
        config_text=CONFIG.replace('version: "1.30"', 'version: "1.99"'),
    )
    rendered = run(tmp_path, cfg)
    assert rendered.notes[0].startswith("no schemas for Kubernetes 1.99 in kubernetes-validate; ")


def test_sandbox_blocks_attribute_tricks(tmp_path: Path) -> None:
    template = "a: {{ ''.__class__.__mro__[1].__subclasses__() }}\n"
    cfg = make_repo(tmp_path, {"evil.yaml": "\n" + template})
    assert error_of(tmp_path, cfg) == (
        "deploy/templates/evil.yaml:2: not allowed in templates: access to attribute "
        "'__class__' of 'str' object is unsafe; templates run in a sandbox"
    )


def test_sandbox_blocks_changing_the_values(tmp_path: Path) -> None:
    cfg = make_repo(tmp_path, {"evil.yaml": "a: {{ values.db.update({'host': 'x'}) }}\n"})
    assert "not allowed in templates: access to attribute 'update'" in error_of(tmp_path, cfg)


def test_include_cannot_leave_the_templates_folder(tmp_path: Path) -> None:
    (tmp_path / "outside.j2").write_text("secret: stuff\n")
    cfg = make_repo(tmp_path, {"x.yaml": "{% include '../../outside.j2' %}\n"})
    assert error_of(tmp_path, cfg) == (
        "deploy/templates/x.yaml:1: template '../../outside.j2' not found in deploy/templates; "
        "include and import take paths relative to the templates folder"
    )


def test_fail_in_a_template(tmp_path: Path) -> None:
    template = "\n{% if values.replicas < 2 %}{{ fail('staging needs 2 replicas') }}{% endif %}\n"
    cfg = make_repo(tmp_path, {"x.yaml": template})
    assert error_of(tmp_path, cfg) == "deploy/templates/x.yaml:2: staging needs 2 replicas"


def test_errors_in_python_expressions_are_located(tmp_path: Path) -> None:
    cfg = make_repo(tmp_path, {"x.yaml": "a: 1\nb: {{ values.replicas / 0 }}\n"})
    assert error_of(tmp_path, cfg) == (
        "deploy/templates/x.yaml:2: ZeroDivisionError: division by zero"
    )


def test_no_templates_folder(tmp_path: Path) -> None:
    (tmp_path / ".commit-train.yml").write_text(CONFIG)
    cfg = config.load(tmp_path).config
    assert error_of(tmp_path, cfg) == (
        "deploy/templates: no such folder of templates; "
        "create it, or set manifests.path in .commit-train.yml"
    )


def test_invalid_values_file(tmp_path: Path) -> None:
    values = {"defaults.yml": "a: 1\nb: [\n", "staging.yml": ""}
    cfg = make_repo(tmp_path, {"x.yaml": CM.format(name="x")}, values=values)
    assert error_of(tmp_path, cfg).startswith("deploy/values/defaults.yml:3: invalid YAML: ")


def test_unknown_environment(tmp_path: Path) -> None:
    cfg = make_repo(tmp_path, {"x.yaml": CM.format(name="x")})
    with pytest.raises(NotFoundError, match="unknown environment 'prod'"):
        run(tmp_path, cfg, environment="prod")


def test_render_needs_a_full_sha(tmp_path: Path) -> None:
    cfg = make_repo(tmp_path, {"x.yaml": CM.format(name="x")})
    with pytest.raises(RenderError, match="'1a2b3c4' is not a full commit sha"):
        render(tmp_path, cfg, environment="staging", sha="1a2b3c4", env=SECRET_ENV)


def test_render_error_carries_file_and_line(tmp_path: Path) -> None:
    cfg = make_repo(tmp_path, {"x.yaml": "a: 1\nb: {{ nope }}\n"})
    with pytest.raises(RenderError) as caught:
        run(tmp_path, cfg)
    assert (caught.value.file, caught.value.line) == ("deploy/templates/x.yaml", 2)
    assert isinstance(caught.value, CommitTrainError)


# --------------------------------------------------------------------------- namespaces


def test_namespace_resolution(tmp_path: Path) -> None:
    templates = {
        "objects.yaml": CM.format(name="defaulted")
        + "---\n"
        + CM.format(name="explicit")
        + "  namespace: elsewhere\n"
        + "---\napiVersion: v1\nkind: Namespace\nmetadata: {name: shop}\n"
        + "---\napiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\n"
        + "metadata: {name: reader}\nrules: []\n"
        + "---\napiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\n"
        + "metadata: {name: gadgets.example.com}\n"
        + "spec:\n  group: example.com\n  scope: Cluster\n"
        + "  names: {kind: Gadget, plural: gadgets, singular: gadget, listKind: GadgetList}\n"
        + "  versions:\n  - name: v1\n    served: true\n    storage: true\n"
        + "    schema: {openAPIV3Schema: {type: object}}\n"
        + "---\napiVersion: example.com/v1\nkind: Gadget\nmetadata: {name: g}\n"
        + "---\napiVersion: example.com/v1\nkind: Widget\nmetadata: {name: w}\n"
    }
    cfg = make_repo(tmp_path, templates)
    staging = {m.key.name: m.key.namespace for m in run(tmp_path, cfg).objects}
    assert staging == {
        "defaulted": "shop",  # kubernetes.namespace
        "explicit": "elsewhere",  # the object's own
        "shop": None,  # cluster-scoped kinds get none
        "reader": None,
        "gadgets.example.com": None,
        "g": None,  # cluster-scoped by the CRD defined beside it
        "w": "shop",  # an unknown custom resource is taken as namespaced
    }
    (tmp_path / "deploy" / "values" / "prod-values.yml").write_text("")
    production = {
        m.key.name: m.key.namespace for m in run(tmp_path, cfg, environment="production").objects
    }
    assert production["defaulted"] == "shop-prod"  # the environment's namespace wins
    assert production["explicit"] == "elsewhere"


def test_cluster_scoped_object_with_a_namespace_is_refused(tmp_path: Path) -> None:
    text = "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: shop\n  namespace: shop\n"
    cfg = make_repo(tmp_path, {"ns.yaml": text})
    assert error_of(tmp_path, cfg) == (
        "deploy/templates/ns.yaml:1: Namespace shop is cluster-scoped but sets "
        "metadata.namespace 'shop'; remove metadata.namespace"
    )


# --------------------------------------------------------------------------- secrets


def test_secrets_from_environment_variables(tmp_path: Path) -> None:
    cfg = make_repo(tmp_path, {"s.yaml": SECRET_AND_CONFIGMAP})
    secret, configmap = run(tmp_path, cfg).objects
    assert secret.obj["stringData"] == {"password": PASSWORD}
    assert base64.b64decode(secret.obj["data"]["token"]).decode() == TOKEN
    assert configmap.obj["data"]["url"] == f"postgres://app:{PASSWORD}@db.staging/shop"


def test_secrets_from_a_json_blob(tmp_path: Path) -> None:
    cfg = make_repo(tmp_path, {"s.yaml": SECRET_AND_CONFIGMAP})
    blob = json.dumps({"DB_PASSWORD": PASSWORD, "API_TOKEN": TOKEN, "OTHER": "x"})
    secret, _ = run(tmp_path, cfg, env={"COMMIT_TRAIN_SECRETS": blob}).objects
    assert secret.obj["stringData"] == {"password": PASSWORD}


def test_environment_variable_wins_over_the_blob_and_empty_counts_as_unset() -> None:
    blob = json.dumps({"A": "from-blob", "B": "blob-b"})
    env = {"A": "from-variable", "B": "", "COMMIT_TRAIN_SECRETS": blob}
    assert read_secrets(("A", "B"), env) == {"A": "from-variable", "B": "blob-b"}


def test_missing_secret_names_it_and_where_it_was_looked_for(tmp_path: Path) -> None:
    cfg = make_repo(tmp_path, {"s.yaml": SECRET_AND_CONFIGMAP})
    on_a_runner = {"DB_PASSWORD": PASSWORD, "GITHUB_ACTIONS": "true"}
    assert error_of(tmp_path, cfg, env=on_a_runner) == (
        "secret 'API_TOKEN' is not set: looked for the environment variable API_TOKEN (unset) "
        "and the key API_TOKEN in COMMIT_TRAIN_SECRETS (unset); pass it to the step as "
        "env: API_TOKEN: ${{ secrets.API_TOKEN }} (and add it to the environment's secrets)"
    )
    # in a terminal: the shell's words, not a workflow's
    assert error_of(tmp_path, cfg, env={"DB_PASSWORD": PASSWORD}) == (
        "secret 'API_TOKEN' is not set: looked for the environment variable API_TOKEN (unset) "
        "and the key API_TOKEN in COMMIT_TRAIN_SECRETS (unset); export API_TOKEN=... in this "
        "shell, or set COMMIT_TRAIN_SECRETS to a JSON object of names and values"
    )
    blob = json.dumps({"DB_PASSWORD": PASSWORD})
    message = error_of(tmp_path, cfg, env={"API_TOKEN": "", "COMMIT_TRAIN_SECRETS": blob})
    assert message.startswith(
        "secret 'API_TOKEN' is not set: looked for the environment variable API_TOKEN (empty) "
        "and the key API_TOKEN in COMMIT_TRAIN_SECRETS (has no such key); "
    )
    assert PASSWORD not in message


def test_bad_secrets_blob_never_echoes_it(tmp_path: Path) -> None:
    cfg = make_repo(tmp_path, {"s.yaml": SECRET_AND_CONFIGMAP})
    bad = '{"DB_PASSWORD": "' + PASSWORD + '",'
    message = error_of(tmp_path, cfg, env={"COMMIT_TRAIN_SECRETS": bad})
    assert message == (
        "COMMIT_TRAIN_SECRETS is not valid JSON; set it to a JSON object of names and values, "
        "such as ${{ toJSON(secrets) }}"
    )
    message = error_of(tmp_path, cfg, env={"COMMIT_TRAIN_SECRETS": json.dumps([PASSWORD])})
    assert PASSWORD not in message


def test_missing_secrets_as_placeholders_for_a_preview(tmp_path: Path) -> None:
    cfg = make_repo(tmp_path, {"s.yaml": SECRET_AND_CONFIGMAP})
    secret, _ = run(tmp_path, cfg, env={}, missing_secrets="placeholder").objects
    assert secret.obj["stringData"] == {"password": "<secret DB_PASSWORD>"}


def test_a_preview_shows_which_secret_is_missing_outside_secret_objects(tmp_path: Path) -> None:
    """A placeholder is no secret: the reader of ``render`` sees which one this shell lacks."""
    cfg = make_repo(tmp_path, {"s.yaml": SECRET_AND_CONFIGMAP})
    rendered = run(tmp_path, cfg, env={"API_TOKEN": TOKEN}, missing_secrets="placeholder")
    documents = [d for d in yaml.safe_load_all(rendered.stream()) if d]
    assert documents[1]["data"]["url"] == "postgres://app:<secret DB_PASSWORD>@db.staging/shop"
    assert documents[0]["stringData"] == {"password": REDACTED}  # Secret objects: always
    assert TOKEN not in rendered.stream()


def test_undeclared_secret(tmp_path: Path) -> None:
    cfg = make_repo(tmp_path, {"s.yaml": "a: {{ secrets.STRIPE_KEY }}\n"})
    assert error_of(tmp_path, cfg) == (
        "deploy/templates/s.yaml:1: 'secrets.STRIPE_KEY' is undefined; list STRIPE_KEY under "
        "secrets: in .commit-train.yml and provide it to the deploy step (an environment "
        "variable STRIPE_KEY, or COMMIT_TRAIN_SECRETS)"
    )


# --------------------------------------------------------------------------- redaction


def test_stream_redacts_secret_data_and_values_elsewhere(tmp_path: Path) -> None:
    cfg = make_repo(tmp_path, {"s.yaml": SECRET_AND_CONFIGMAP})
    rendered = run(tmp_path, cfg)
    text = rendered.stream()
    documents = [d for d in yaml.safe_load_all(text) if d]
    assert documents[0]["stringData"] == {"password": REDACTED}
    assert documents[0]["data"] == {"token": REDACTED}
    assert documents[1]["data"]["url"] == f"postgres://app:{REDACTED}@db.staging/shop"
    assert text.startswith("---\n# Source: deploy/templates/s.yaml:1\napiVersion: v1\n")
    # the objects themselves keep the real values, for applying
    assert rendered.objects[0].obj["stringData"] == {"password": PASSWORD}
    raw = rendered.stream(redacted=False)
    assert PASSWORD in raw
    assert [d for d in yaml.safe_load_all(raw) if d] == [m.obj for m in rendered.objects]


def test_write_dir_redacts_and_names_files(tmp_path: Path) -> None:
    templates = {
        "a.yaml": SECRET_AND_CONFIGMAP,
        "b.yaml": DEPLOYMENT + "---\napiVersion: v1\nkind: Namespace\nmetadata: {name: shop}\n",
    }
    cfg = make_repo(tmp_path, templates)
    rendered = run(tmp_path, cfg)
    out = tmp_path / "out"
    out.mkdir()
    (out / "99-stale-leftover.yaml").write_text("old")
    (out / "README").write_text("kept")
    written = rendered.write_dir(out)
    assert [p.name for p in written] == [
        "01-namespace-shop.yaml",
        "02-secret-shop-db.yaml",
        "03-configmap-shop-settings.yaml",
        "04-deployment-shop-web.yaml",
    ]
    assert sorted(p.name for p in out.iterdir()) == sorted([*(p.name for p in written), "README"])
    secret = yaml.safe_load((out / "02-secret-shop-db.yaml").read_text())
    assert secret["stringData"] == {"password": REDACTED}
    raw_dir = tmp_path / "raw"
    rendered.write_dir(raw_dir, redacted=False)
    raw = yaml.safe_load((raw_dir / "02-secret-shop-db.yaml").read_text())
    assert raw["stringData"] == {"password": PASSWORD}
    # deterministic: the same render writes the same bytes
    again = tmp_path / "again"
    run(tmp_path, cfg).write_dir(again)
    assert {p.name: p.read_bytes() for p in out.iterdir() if p.name != "README"} == {
        p.name: p.read_bytes() for p in again.iterdir()
    }


def test_no_secret_value_in_any_user_facing_output(tmp_path: Path) -> None:
    """Search everything a person may see: stream, files, redacted objects, notes, errors."""
    tricky = 'it\'s a "quoted" pa$$word\\with: colons'
    env = {"DB_PASSWORD": tricky, "API_TOKEN": TOKEN}
    templates = {
        "s.yaml": SECRET_AND_CONFIGMAP.replace(
            '"postgres://app:{{ secrets.DB_PASSWORD }}@{{ values.db.host }}/shop"',
            '{{ ("postgres://app:" ~ secrets.DB_PASSWORD ~ "@db") | quote }}',
        ),
        "more.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: more\n  annotations:\n"
        "    token: {{ secrets.API_TOKEN | quote }}\n"
        "    encoded: {{ secrets.API_TOKEN | b64encode }}\n"
        "    json: {{ {'p': secrets.DB_PASSWORD} | to_json | quote }}\n"
        "data:\n  quoted: {{ secrets.DB_PASSWORD | quote }}\n"
        "  literal-from-secret: a-literal-secret-value\n"
        "---\napiVersion: v1\nkind: Secret\nmetadata: {name: literal}\n"
        "stringData: {key: a-literal-secret-value}\n"
        "---\napiVersion: example.com/v1\nkind: Widget\nmetadata:\n"
        "  name: w\nspec: {token: {{ secrets.API_TOKEN | quote }}}\n",
    }
    cfg = make_repo(tmp_path, templates)
    rendered = run(tmp_path, cfg, env=env)
    out = tmp_path / "out"
    rendered.write_dir(out)
    shown = [
        rendered.stream(),
        *(p.read_text() for p in out.iterdir()),
        *(json.dumps(rendered.redacted(m)) for m in rendered.objects),
        *rendered.notes,
    ]
    forbidden = [
        tricky,
        TOKEN,
        base64.b64encode(TOKEN.encode()).decode(),
        json.dumps(tricky)[1:-1],
        "a-literal-secret-value",
    ]
    for text in shown:
        for value in forbidden:
            assert value not in text
    # ... and the real values are still there for applying
    more = next(m for m in rendered.objects if m.key.name == "more")
    assert more.obj["metadata"]["annotations"]["token"] == TOKEN

    # an error message that would quote a secret value hides it too
    bad = {
        "x.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n"
        "data:\n  t: [{{ secrets.API_TOKEN | quote }}]\n"
    }
    other = tmp_path / "other"
    other.mkdir()
    cfg = make_repo(other, bad)
    message = error_of(other, cfg, env=env)
    assert TOKEN not in message
    assert message == (
        "deploy/templates/x.yaml:5: ConfigMap shop/x: data.t: expected string, got list "
        '["<redacted>"]; see the ConfigMap schema of Kubernetes 1.30'
    )


def test_redact_text_for_other_modules() -> None:
    assert redact_text("token=abcdef and abcdefgh", {"abcdef", "abcdefgh"}) == (
        f"token={REDACTED} and {REDACTED}"
    )
    assert redact_text("nothing here", set()) == "nothing here"
    assert redact_text("a b", {"a"}) == "a b"  # too short to mask in free text


def test_a_list_is_unpacked_into_its_items(tmp_path: Path) -> None:
    text = (
        "apiVersion: v1\nkind: List\nitems:\n"
        "- apiVersion: v1\n  kind: ConfigMap\n  metadata: {name: a}\n"
        "- apiVersion: v1\n  kind: ConfigMap\n  metadata: {name: b}\n"
    )
    cfg = make_repo(tmp_path, {"list.yaml": text})
    assert [(m.key.name, m.line) for m in run(tmp_path, cfg).objects] == [("a", 4), ("b", 7)]


def test_the_complete_example_in_the_docs_renders(tmp_path: Path) -> None:
    doc = (Path(__file__).resolve().parents[1] / "docs" / "templates.md").read_text()
    example = doc.split("## A complete example", 1)[1]
    files = {}
    for block in example.split("```yaml\n")[1:]:
        text = block.split("```", 1)[0]
        first, _, body = text.partition("\n")
        files[first.removeprefix("# ").strip()] = body
    cfg = make_repo(
        tmp_path,
        {"web.yaml": files["deploy/templates/web.yaml"]},
        values={k.rsplit("/", 1)[1]: v for k, v in files.items() if "/values/" in k},
        config_text=CONFIG.replace("    values: prod-values.yml\n", ""),
    )
    info = DeploymentInfo(id=7, creator="octocat")
    rendered = run(tmp_path, cfg, environment="production", deployment=info)
    web, secret = rendered.objects
    assert web.obj["spec"]["replicas"] == 6
    assert web.obj["metadata"]["annotations"] == {
        "commit-train/deployment": "7",
        "commit-train/deployed-by": "octocat",
    }
    assert secret.obj["stringData"] == {"password": PASSWORD}
    assert "<redacted>" in rendered.stream()
    # a preview (no deployment) has no annotations at all, rather than `annotations: null`
    preview, _ = run(tmp_path, cfg, environment="production").objects
    assert "annotations" not in preview.obj["metadata"]
