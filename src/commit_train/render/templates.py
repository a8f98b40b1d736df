"""Templates to validated manifests.

``render()`` reads every template under ``manifests.path`` (``*.yaml``, ``*.yml``, ``*.j2``,
in sorted order; names starting with ``_`` or ``.`` are partials for ``include``/``import``
only), renders each in Jinja2's immutable sandbox with strict undefined, parses the result as
a YAML stream, and checks every object:

* ``apiVersion``, ``kind`` and ``metadata.name`` are present;
* the namespace is resolved (the object's own, else the environment's, else
  ``kubernetes.namespace``; cluster-scoped kinds get none) and written into the object;
* no two objects share group, kind, namespace and name;
* built-in kinds validate against the Kubernetes OpenAPI schemas of
  ``kubernetes.version``, shipped by the ``kubernetes-validate`` package (strict: an unknown
  field is an error, as with ``kubectl apply``). Kinds it does not know (custom resources)
  are skipped with a note.

Every problem is a :class:`~commit_train.errors.RenderError` whose message starts with
``file:line:`` pointing into the template. Lines come from two places: Jinja's own traceback
for errors raised while rendering, and a map from each rendered line back to the template
line that produced it (built while the template's generator runs) for YAML and schema errors.

Secret values never reach the user: ``Rendered.stream()`` and ``write_dir()`` redact by
default (see :mod:`commit_train.core.redact`), and every error message is passed through
:func:`~commit_train.core.redact.redact_text`.
"""

from __future__ import annotations

import base64
import bisect
import difflib
import importlib
import json
import os
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, NoReturn

import yaml
from jinja2 import (
    FileSystemLoader,
    StrictUndefined,
    Template,
    TemplateNotFound,
    TemplateSyntaxError,
    UndefinedError,
    nodes,
)
from jinja2.exceptions import SecurityError

from commit_train import confine
from commit_train.config import CONFIG_FILE, Config, Environment
from commit_train.core.redact import literal_secret_values, redact_object, redact_text, secret_forms
from commit_train.core.text import one_line
from commit_train.errors import RenderError
from commit_train.render.limits import BudgetExceeded, LimitedSandbox, Meter, RenderBudget
from commit_train.safeyaml import StrictLoader, YamlLimitError, reader_problem

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


_Loader = StrictLoader  # duplicate keys, alias bombs and deep nesting refused (safeyaml)


class _Dumper(yaml.CSafeDumper if yaml.__with_libyaml__ else yaml.SafeDumper):  # type: ignore[misc]
    pass


def _represent_str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style = "|" if "\n" in value and not value.endswith((" ", "\t")) else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


def _represent_dict(dumper: yaml.SafeDumper, value: dict[Any, Any]) -> yaml.MappingNode:
    return dumper.represent_dict(value)


_Dumper.add_representer(str, _represent_str)


def dump_yaml(obj: Any) -> str:
    """Block-style YAML, keys in their given order, multi-line strings as ``|`` blocks."""
    text: str = yaml.dump(
        obj, Dumper=_Dumper, sort_keys=False, default_flow_style=False, allow_unicode=True
    )
    return text


# --------------------------------------------------------------------------- template context


class _PathDict(dict[str, Any]):
    """A dict that knows where it sits in the context, so a missing key is named in full."""

    __slots__ = ("_ct_path",)

    def __init__(self, items: Mapping[str, Any], path: str) -> None:
        super().__init__(items)
        self._ct_path = path


_Dumper.add_representer(_PathDict, _represent_dict)


def _join_path(path: str, key: Any) -> str:
    if isinstance(key, str) and re.fullmatch(r"[A-Za-z_][A-Za-z0-9_-]*", key):
        return f"{path}.{key}"
    return f"{path}[{key!r}]"


def _wrap(value: Any, path: str) -> Any:
    if isinstance(value, Mapping):
        return _PathDict({k: _wrap(v, _join_path(path, k)) for k, v in value.items()}, path)
    if isinstance(value, list):
        return [_wrap(item, f"{path}[{i}]") for i, item in enumerate(value)]
    return value


class _Undefined(StrictUndefined):
    """Strict undefined whose message names the whole path: ``'values.db.host' is undefined``."""

    __slots__ = ()

    @property
    def _undefined_message(self) -> str:
        owner = self._undefined_obj
        if self._undefined_hint is None and isinstance(owner, _PathDict):
            return f"{_join_path(owner._ct_path, self._undefined_name)!r} is undefined"
        message: str = super()._undefined_message
        return message


class _TemplateFailure(Exception):
    """Raised by ``fail("...")`` in a template."""


def _fail(message: str) -> NoReturn:
    raise _TemplateFailure(str(message))


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


def _environment(loader: FileSystemLoader, meter: Meter) -> LimitedSandbox:
    env = LimitedSandbox(
        meter=meter,
        loader=loader,
        undefined=_Undefined,
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
class _Where:
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
        prefix = f"{file}:{line}: " if file and line else f"{file}: " if file else ""
        return RenderError(prefix + problem, fix=fix, file=file, line=line)


def _undefined_fix(problem: str, where: _Where) -> str | None:
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


def _read_values(path: Path, where: _Where) -> dict[str, Any]:
    rel = where.rel(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise where.error(rel, None, f"cannot be read ({exc.strerror})") from None
    except UnicodeDecodeError:
        raise where.error(rel, None, "is not UTF-8 text") from None
    try:
        data = yaml.load(text, Loader=_Loader)  # noqa: S506 - _Loader is a SafeLoader
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


def _load_values(
    root: Path, config: Config, environment: str, env_config: Environment, where: _Where
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


# --------------------------------------------------------------------------- rendering one file


@dataclass
class _LineInfo:
    """Per template: the data between tags, by text, with the lines where it starts."""

    literal_lines: dict[str, list[int]]
    code_lines: list[int]
    template_lines: list[int]
    constants: frozenset[str]


def _compile(env: LimitedSandbox, folder: Path, name: str) -> tuple[Template, _LineInfo]:
    """Compile one template, keeping from its syntax tree where each piece of literal text is.

    This is what ``env.get_template`` does, with the tree kept instead of thrown away.
    """
    path = folder / name
    source = path.read_text(encoding="utf-8")
    tree = env.parse(source, name, str(path))
    literal_lines: dict[str, list[int]] = {}
    for data in tree.find_all(nodes.TemplateData):
        literal_lines.setdefault(data.data, []).append(data.lineno)
    code = env.compile(tree, name, str(path))
    template = env.template_class.from_code(env, code, env.make_globals(None))
    pairs = sorted((code_line, line) for line, code_line in template.debug_info)
    render_code = template.root_render_func.__code__
    info = _LineInfo(
        literal_lines={k: sorted(v) for k, v in literal_lines.items()},
        code_lines=[c for c, _ in pairs],
        template_lines=[t for _, t in pairs],
        constants=frozenset(c for c in render_code.co_consts if isinstance(c, str)),
    )
    return template, info


def _render_lines(
    template: Template, info: _LineInfo, context: dict[str, Any], meter: Meter
) -> tuple[str, list[int]]:
    """The rendered text and, for each of its lines, the template line that produced it.

    The template's generator yields text in pieces; after each, the generator's frame says
    which compiled line yielded it, and Jinja's debug info maps that back to the template.
    Literal text between tags is located exactly by its own line in the lexed source.
    """
    gen: Any = template.root_render_func(template.new_context(context))
    parts: list[str] = []
    line_map: list[int] = []
    at_line_start = True
    code_lines, template_lines = info.code_lines, info.template_lines
    for chunk in gen:
        if not chunk:
            continue
        meter.add_output(len(chunk))
        parts.append(chunk)
        frame = gen.gi_frame
        index = bisect.bisect_right(code_lines, frame.f_lineno) - 1 if frame else -1
        approx = template_lines[index] if index >= 0 else 1
        step = 0
        start = approx
        if type(chunk) is str and chunk in info.constants:
            candidates = info.literal_lines.get(chunk)
            if candidates:
                pos = bisect.bisect_left(candidates, approx)
                start = candidates[pos] if pos < len(candidates) else candidates[-1]
            step = 1
        if at_line_start:
            line_map.append(start)
        newlines = chunk.count("\n")
        if newlines:
            ends_with_newline = chunk.endswith("\n")
            for k in range(1, newlines + (0 if ends_with_newline else 1)):
                line_map.append(start + step * k)
            at_line_start = ends_with_newline
        else:
            at_line_start = False
    return "".join(parts), line_map


_JINJA_MARKS = re.compile(r"\{[{%#]")


def _static_text(path: Path) -> str | None:
    """The file's text if it holds no Jinja syntax at all, else None."""
    text = path.read_text(encoding="utf-8")
    if _JINJA_MARKS.search(text):
        return None
    return text.replace("\r\n", "\n").replace("\r", "\n")


def _template_location(
    exc: BaseException, templates: Path, where: _Where
) -> tuple[str, int] | None:
    """The innermost template frame of a (Jinja-rewritten) traceback."""
    found: tuple[str, int] | None = None
    folder = str(templates)
    tb = exc.__traceback__
    while tb is not None:
        filename = tb.tb_frame.f_code.co_filename
        if filename.startswith(folder):
            found = (where.rel(filename), tb.tb_lineno)
        tb = tb.tb_next
    return found


def _rendering_error(
    exc: Exception, env: LimitedSandbox, templates: Path, source: str, where: _Where
) -> RenderError:
    """Turn anything raised while rendering into one located RenderError."""
    if isinstance(exc, TemplateSyntaxError):
        file = where.rel(exc.filename) if exc.filename else source
        return where.error(file, exc.lineno, f"template syntax error: {exc.message}")
    if isinstance(exc, BudgetExceeded):  # where it stopped says little: name the template
        return where.error(source, None, exc.problem, exc.fix)
    located = None
    try:
        env.handle_exception()  # re-raises with the traceback pointing at template lines
    except Exception as rewritten:  # the same exception, rewritten
        located = _template_location(rewritten, templates, where)
    file, line = located if located else (source, None)
    if isinstance(exc, UndefinedError):
        problem = exc.message or "undefined value"
        return where.error(file, line, problem, _undefined_fix(problem, where))
    if isinstance(exc, SecurityError):
        return where.error(
            file,
            line,
            f"not allowed in templates: {str(exc).rstrip('.')}",
            "templates run in a sandbox",
        )
    if isinstance(exc, TemplateNotFound):
        return where.error(
            file,
            line,
            f"template {exc.name!r} not found in {where.rel(templates)}",
            "include and import take paths relative to the templates folder",
        )
    if isinstance(exc, _TemplateFailure):
        return where.error(file, line, str(exc))
    return where.error(file, line, f"{type(exc).__name__}: {exc}")


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


def _schemas(version: str) -> _Schemas:
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


_JSON_TYPES = {
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


def _describe_schema_error(error: Any) -> tuple[list[Any], str]:
    """A path (to find the line) and a short description of one jsonschema error."""
    path = list(error.absolute_path)
    dotted = ".".join(str(p) if not isinstance(p, int) else f"[{p}]" for p in path)
    dotted = dotted.replace(".[", "[") or "(top level)"
    kind = error.validator
    if kind == "type":
        expected = error.validator_value
        names = [expected] if isinstance(expected, str) else list(expected)
        names = [_SCHEMA_TYPE_NAMES.get(n, n) for n in names if n != "null"] or names
        got = _JSON_TYPES.get(type(error.instance), type(error.instance).__name__)
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


def _node_line(node: yaml.Node, path: list[Any]) -> int:
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


# --------------------------------------------------------------------------- the render


@dataclass
class _Doc:
    source: str
    line: int
    obj: dict[str, Any]
    node: yaml.Node
    line_map: list[int] = field(repr=False)


def _template_names(folder: Path, where: _Where) -> list[str]:
    if not folder.is_dir():
        raise RenderError(
            f"{where.rel(folder)}: no such folder of templates",
            fix=f"create it, or set manifests.path in {CONFIG_FILE}",
        )
    names = []
    for path in folder.rglob("*"):
        rel = path.relative_to(folder)
        if any(part.startswith(("_", ".")) for part in rel.parts):
            continue
        if path.is_file() and path.name.endswith(TEMPLATE_SUFFIXES):
            names.append(rel.as_posix())
    if not names:
        raise RenderError(
            f"{where.rel(folder)}: no templates (*.yaml, *.yml, *.j2)",
            fix="add the manifests to deploy there",
        )
    return sorted(names)


def _parse_stream(text: str, source: str, line_map: list[int], where: _Where) -> Iterator[_Doc]:
    def template_line(rendered_line: int) -> int:
        if not line_map:
            return 1
        return line_map[min(rendered_line, len(line_map) - 1)]

    loader = _Loader(text)
    try:
        while loader.check_node():
            node = loader.get_node()
            if node is None:
                continue
            obj = loader.construct_document(node)
            if obj is None:
                continue
            line = template_line(node.start_mark.line)
            if not isinstance(obj, dict):
                raise where.error(
                    source,
                    line,
                    f"each YAML document must be one object (a mapping), not a "
                    f"{_JSON_TYPES.get(type(obj), type(obj).__name__)}",
                    "check the indentation, and separate objects with ---",
                )
            if obj.get("kind") == "List" and isinstance(obj.get("items"), list):
                for index, item in enumerate(obj["items"]):
                    item_node = _node_at(node, ["items", index])
                    item_line = template_line(item_node.start_mark.line)
                    if not isinstance(item, dict):
                        raise where.error(
                            source, item_line, "each item of a List must be an object"
                        )
                    yield _Doc(source, item_line, item, item_node, line_map)
                continue
            yield _Doc(source, line, obj, node, line_map)
    except YamlLimitError as exc:
        if not str(exc.problem).startswith("duplicate key"):  # an alias bomb, too deep
            mark = exc.problem_mark
            error_line = template_line(mark.line) if mark is not None else None
            raise where.error(source, error_line, str(exc.problem), exc.fix) from None
        raise where.error(
            source,
            template_line(exc.problem_mark.line) if exc.problem_mark is not None else None,
            f"invalid YAML after rendering: {exc.problem}",
            "check indentation and quoting there (the quote filter makes any value a safe "
            "string); `commit-train render` shows the rendered text",
        ) from None
    except yaml.reader.ReaderError as exc:
        line, what = reader_problem(exc, text)
        raise where.error(
            source,
            template_line(line - 1),
            f"the rendered text holds {what}, which YAML does not allow",
            "use the quote or b64encode filter for such a value",
        ) from None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        error_line = template_line(mark.line) if mark is not None else None
        problem = exc.problem or "invalid YAML"
        if exc.context and "duplicate key" not in problem:
            problem = f"{exc.context}: {problem}"
        raise where.error(
            source,
            error_line,
            f"invalid YAML after rendering: {problem}",
            "check indentation and quoting there (the quote filter makes any value a safe "
            "string); `commit-train render` shows the rendered text",
        ) from None
    finally:
        loader.dispose()


def _node_at(node: yaml.Node, path: list[Any]) -> yaml.Node:
    current = node
    for part in path:
        if isinstance(current, yaml.MappingNode):
            current = next(v for k, v in current.value if k.value == part)
        elif isinstance(current, yaml.SequenceNode):
            current = current.value[part]
    return current


def _checked(
    doc: _Doc, default_namespace: str, where: _Where, cluster_kinds: set[tuple[str, str]]
) -> ObjectKey:
    obj = doc.obj
    missing = [
        name
        for name, value in (
            ("apiVersion", obj.get("apiVersion")),
            ("kind", obj.get("kind")),
            (
                "metadata.name",
                (obj.get("metadata") or {}).get("name")
                if isinstance(obj.get("metadata"), dict)
                else None,
            ),
        )
        if not isinstance(value, str) or not value
    ]
    if missing:
        raise where.error(
            doc.source,
            doc.line,
            f"the object has no {' or '.join(missing)}",
            "every object needs apiVersion, kind and metadata.name",
        )
    api_version: str = obj["apiVersion"]
    kind: str = obj["kind"]
    metadata: dict[str, Any] = obj["metadata"]
    group = api_version.rpartition("/")[0]
    name: str = metadata["name"]
    namespace = metadata.get("namespace")
    if kind in CLUSTER_SCOPED_KINDS or (group, kind) in cluster_kinds:
        if namespace:
            raise where.error(
                doc.source,
                doc.line,
                f"{kind} {name} is cluster-scoped but sets metadata.namespace {namespace!r}",
                "remove metadata.namespace",
            )
        return ObjectKey(api_version, kind, None, name)
    if namespace is None or namespace == "":
        namespace = default_namespace
        metadata["namespace"] = namespace
    if not isinstance(namespace, str):
        raise where.error(doc.source, doc.line, "metadata.namespace must be a string")
    return ObjectKey(api_version, kind, namespace, name)


def _custom_cluster_kinds(docs: list[_Doc]) -> set[tuple[str, str]]:
    """(group, kind) of cluster-scoped custom resources defined by CRDs in this very render."""
    found = set()
    for doc in docs:
        obj = doc.obj
        if obj.get("kind") != "CustomResourceDefinition":
            continue
        spec = obj.get("spec")
        if isinstance(spec, dict) and spec.get("scope") == "Cluster":
            names = spec.get("names")
            if isinstance(names, dict) and isinstance(names.get("kind"), str):
                found.add((str(spec.get("group", "")), names["kind"]))
    return found


def _shown(path: Path, root: Path) -> str:
    """``path`` relative to ``root`` by name, without following links."""
    return Path(os.path.relpath(path, root)).as_posix()


def _link_error(link: Path, target: str, root: Path, folder: str) -> RenderError:
    what = "folder" if link.is_dir() else "file"
    return RenderError(
        f"{_shown(link, root)}: a symbolic link that leaves {folder} (to {one_line(target)})",
        fix=f"commit the {what} itself there instead of a link",
    )


def _confine_folder(root: Path, setting: str, value: str) -> Path:
    """``root / value`` when neither its name nor a link on the way leads out of ``root``;
    then no link inside it may lead out of it either."""
    folder = root / value
    if not confine.lexically_inside(folder, root):
        raise RenderError(
            f"{setting} {value!r} leads out of the repository",
            fix="give a folder inside the repository",
        )
    escape = confine.first_link_leaving(folder, root)
    if escape is not None:
        raise _link_error(*escape, root, "the repository")
    if folder.is_dir():
        for link, target in confine.links_leaving(folder):
            raise _link_error(link, target, root, _shown(folder, root))
    return folder


def _confine(root: Path, config: Config, environment: str, env_config: Environment) -> None:
    """Refuse templates or values that are, or lead through, a symbolic link out of their
    folder (``x.j2 -> /proc/self/environ`` would render the deploy step's environment),
    before anything is read. Links that stay inside their folder are followed as usual."""
    _confine_folder(root, "manifests.path", config.manifests.path)
    values = _confine_folder(root, "manifests.values", config.manifests.values)
    if env_config.values and not confine.lexically_inside(values / env_config.values, values):
        shown = _shown(values, root)
        raise RenderError(
            f"environments.{environment}.values {env_config.values!r} leads out of {shown}",
            fix=f"name a file inside {shown}",
        )


def render(
    root: Path,
    config: Config,
    *,
    environment: str,
    sha: str,
    deployment: DeploymentInfo | None = None,
    env: Mapping[str, str] = os.environ,
    validate: bool = True,
    missing_secrets: Literal["error", "placeholder"] = "error",
    budget: RenderBudget | None = None,
) -> Rendered:
    """Render the manifests of ``environment`` at commit ``sha`` from the templates in ``root``.

    ``env`` is where secrets are read (see :func:`read_secrets`); ``missing_secrets=
    "placeholder"`` renders ``<secret NAME>`` instead of failing, for a local preview.
    ``validate=False`` skips the schema check (the other checks always run). ``budget``
    bounds the time and output of the templates (see :mod:`commit_train.render_limits`).
    Raises :class:`RenderError` (or ``NotFoundError`` for an unknown environment).
    """
    if not re.fullmatch(r"[0-9a-f]{40}|[0-9a-f]{64}", sha):
        raise RenderError(
            f"{sha!r} is not a full commit sha", fix="resolve the ref to its 40-character sha"
        )
    env_config = config.environment(environment)
    where = _Where(root=root)
    _confine(root, config, environment, env_config)
    secrets = read_secrets(config.secrets, env, missing=missing_secrets)
    masks: set[str] = set()
    for value in secrets.values():
        masks |= secret_forms(value)
    where.secret_values = frozenset(masks)
    values = _load_values(root, config, environment, env_config, where)
    namespace = config.namespace_of(environment)
    context: dict[str, Any] = {
        "environment": environment,
        "sha": sha,
        "short_sha": sha[:7],
        "namespace": namespace,
        "image": f"{config.image}:{sha}"
        if config.image
        else _Undefined(hint="'image' is undefined"),
        "values": _wrap(values, "values"),
        "secrets": _PathDict(secrets, "secrets"),
        "deployment": (
            _PathDict(
                {"id": deployment.id, "creator": deployment.creator, "url": deployment.url},
                "deployment",
            )
            if deployment is not None
            else None
        ),
    }

    templates = (root / config.manifests.path).resolve()
    meter = Meter(budget or RenderBudget())
    jinja = _environment(FileSystemLoader(str(templates), encoding="utf-8"), meter)
    docs: list[_Doc] = []
    for name in _template_names(templates, where):
        source = where.rel(templates / name)
        try:
            with meter.alarm():
                static = _static_text(templates / name)
                if static is not None:  # no Jinja syntax at all: nothing to compile
                    meter.add_output(len(static))
                    text, line_map = static, list(range(1, static.count("\n") + 2))
                else:
                    template, info = _compile(jinja, templates, name)
                    text, line_map = _render_lines(template, info, context, meter)
        except Exception as exc:  # every failure: one located RenderError
            raise _rendering_error(exc, jinja, templates, source, where) from None
        docs.extend(_parse_stream(text, source, line_map, where))

    for doc in docs:
        for value in literal_secret_values(doc.obj):
            masks |= secret_forms(value)
    where.secret_values = frozenset(masks)

    cluster_kinds = _custom_cluster_kinds(docs)
    seen: dict[tuple[str, str, str, str], _Doc] = {}
    manifests: list[Manifest] = []
    for doc in docs:
        key = _checked(doc, namespace, where, cluster_kinds)
        first = seen.get(key.identity)
        if first is not None:
            raise where.error(
                doc.source,
                doc.line,
                f"{key} is defined twice (first at {first.source}:{first.line})",
                "rename or remove one of them",
            )
        seen[key.identity] = doc
        manifests.append(Manifest(source=doc.source, line=doc.line, obj=doc.obj, key=key))

    notes: list[str] = []
    version: str | None = None
    if validate:
        schemas = _schemas(config.kubernetes.version)
        version = schemas.version
        notes.extend(schemas.notes)
        skipped: dict[tuple[str, str], list[Manifest]] = {}
        for doc, manifest in zip(docs, manifests, strict=True):
            validator = schemas.validator(manifest.key.api_version, manifest.key.kind)
            if validator is None:
                skipped.setdefault((manifest.key.api_version, manifest.key.kind), []).append(
                    manifest
                )
                continue
            error = schemas.problem(validator, doc.obj)
            if error is not None:
                path, problem = _describe_schema_error(error)
                rendered_line = _node_line(doc.node, path)
                line = (
                    doc.line_map[min(rendered_line, len(doc.line_map) - 1)]
                    if doc.line_map
                    else doc.line
                )
                raise where.error(
                    doc.source,
                    line,
                    f"{manifest.key}: {problem}",
                    f"see the {manifest.key.kind} schema of Kubernetes {version}",
                )
        for (api_version, kind), group in sorted(skipped.items()):
            count = f" ({len(group)} objects)" if len(group) > 1 else ""
            notes.append(
                f"{group[0].location}: {kind} {api_version} is not a built-in kind of "
                f"Kubernetes {version}; not validated{count}"
            )

    return Rendered(
        environment=environment,
        sha=sha,
        objects=tuple(manifests),
        secret_values=frozenset(masks),
        notes=tuple(notes),
        kubernetes_version=version,
    )
