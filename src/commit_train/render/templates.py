"""Templates to validated manifests: the render itself (values, context, schemas and the
produced manifests live in the modules beside this one).

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

import bisect
import os
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml
from jinja2 import (
    FileSystemLoader,
    Template,
    TemplateNotFound,
    TemplateSyntaxError,
    UndefinedError,
    nodes,
)
from jinja2.exceptions import SecurityError

from commit_train import confine
from commit_train.config import CONFIG_FILE, Config, Environment
from commit_train.core.redact import literal_secret_values, secret_forms
from commit_train.core.text import one_line
from commit_train.errors import RenderError
from commit_train.render.context import (
    PathDict,
    TemplateFailure,
    Undefined,
    Where,
    sandbox,
    undefined_fix,
    wrap,
)
from commit_train.render.limits import BudgetExceeded, LimitedSandbox, Meter, RenderBudget
from commit_train.render.manifests import (
    CLUSTER_SCOPED_KINDS,
    TEMPLATE_SUFFIXES,
    DeploymentInfo,
    Manifest,
    ManifestLoader,
    ObjectKey,
    Rendered,
)
from commit_train.render.schemas import JSON_TYPES, describe_schema_error, node_line, schemas_for
from commit_train.render.values import load_values, read_secrets
from commit_train.safeyaml import YamlLimitError, reader_problem

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


def _template_location(exc: BaseException, templates: Path, where: Where) -> tuple[str, int] | None:
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
    exc: Exception, env: LimitedSandbox, templates: Path, source: str, where: Where
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
        return where.error(file, line, problem, undefined_fix(problem, where))
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
    if isinstance(exc, TemplateFailure):
        return where.error(file, line, str(exc))
    return where.error(file, line, f"{type(exc).__name__}: {exc}")


# --------------------------------------------------------------------------- the render


@dataclass
class _Doc:
    source: str
    line: int
    obj: dict[str, Any]
    node: yaml.Node
    line_map: list[int] = field(repr=False)


def _template_names(folder: Path, where: Where) -> list[str]:
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


def _parse_stream(text: str, source: str, line_map: list[int], where: Where) -> Iterator[_Doc]:
    def template_line(rendered_line: int) -> int:
        if not line_map:
            return 1
        return line_map[min(rendered_line, len(line_map) - 1)]

    loader = ManifestLoader(text)
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
                    f"{JSON_TYPES.get(type(obj), type(obj).__name__)}",
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
    doc: _Doc, default_namespace: str, where: Where, cluster_kinds: set[tuple[str, str]]
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
    where = Where(root=root)
    _confine(root, config, environment, env_config)
    secrets = read_secrets(config.secrets, env, missing=missing_secrets)
    # A preview's placeholders hide nothing: its reader should see which secret is missing.
    placeholders = (
        {f"<secret {name}>" for name in config.secrets}
        if missing_secrets == "placeholder"
        else set()
    )
    masks: set[str] = set()
    for value in secrets.values():
        if value not in placeholders:
            masks |= secret_forms(value)
    where.secret_values = frozenset(masks)
    values = load_values(root, config, environment, env_config, where)
    namespace = config.namespace_of(environment)
    context: dict[str, Any] = {
        "environment": environment,
        "sha": sha,
        "short_sha": sha[:7],
        "namespace": namespace,
        "image": f"{config.image}:{sha}"
        if config.image
        else Undefined(hint="'image' is undefined"),
        "values": wrap(values, "values"),
        "secrets": PathDict(secrets, "secrets"),
        "deployment": (
            PathDict(
                {"id": deployment.id, "creator": deployment.creator, "url": deployment.url},
                "deployment",
            )
            if deployment is not None
            else None
        ),
    }

    templates = (root / config.manifests.path).resolve()
    meter = Meter(budget or RenderBudget())
    jinja = sandbox(FileSystemLoader(str(templates), encoding="utf-8"), meter)
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
            if value not in placeholders:
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
        schemas = schemas_for(config.kubernetes.version)
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
                path, problem = describe_schema_error(error)
                rendered_line = node_line(doc.node, path)
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
