"""One YAML loader for everything a repository gives us: the config, values files, and
rendered templates.

Safe YAML (no Python objects), read as Kubernetes reads it (timestamps stay strings), with
three refusals a plain ``yaml.safe_load`` does not make:

* a duplicate key in a mapping (``staging:`` twice): YAML says keys are unique, and a silent
  "last one wins" hides a typo;
* aliases that would expand a document past :data:`MAX_ALIAS_EXPANSION` values (a
  "billion laughs" alias bomb: 500 bytes that unfold into hundreds of millions of strings,
  which hang whatever walks them later);
* nesting deeper than :data:`MAX_DEPTH` levels (recursion in whatever walks it later), and
  recursive aliases (``&a [*a]``), which never end.

The checks run on the composed node graph, before any object is built, and cost one pass
over the distinct nodes however far the aliases would expand. Each refusal is a
:class:`YamlLimitError` (a ``MarkedYAMLError``, so it carries the line) with a ``fix``.
"""

from __future__ import annotations

from typing import Any

import yaml

MAX_ALIAS_EXPANSION = 100_000
"""How many values aliases may add to a document beyond those written out."""

MAX_DEPTH = 100
"""How deeply mappings and lists may nest."""

_MERGE_TAG = "tag:yaml.org,2002:merge"


class YamlLimitError(yaml.constructor.ConstructorError):
    """A document this loader refuses on purpose; ``problem`` and ``fix`` say why and how."""

    def __init__(self, problem: str, fix: str, mark: Any) -> None:
        super().__init__(None, None, problem, mark)
        self.fix = fix


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.MappingNode):
        return [part for pair in node.value for part in pair]
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    return []


def check_node(root: yaml.Node) -> None:
    """Refuse ``root`` when expanding its aliases would make too many values, when it
    nests too deeply, or when an alias refers to a node that contains it."""
    expanded: dict[int, int] = {}  # id(node) -> values in its full expansion
    depth: dict[int, int] = {}
    on_path: set[int] = {id(root)}
    stack: list[tuple[yaml.Node, list[yaml.Node]]] = [(root, _children(root))]
    while stack:
        node, pending = stack[-1]
        if pending:
            child = pending.pop()
            key = id(child)
            if key in on_path:
                raise YamlLimitError(
                    "an alias refers to a value that contains it",
                    "write the value out instead of a recursive alias",
                    child.start_mark,
                )
            if key in expanded:
                continue
            if len(stack) >= MAX_DEPTH:
                raise YamlLimitError(
                    f"nested more than {MAX_DEPTH} levels deep", "flatten it", child.start_mark
                )
            on_path.add(key)
            stack.append((child, _children(child)))
            continue
        stack.pop()
        on_path.discard(id(node))
        kids = _children(node)
        expanded[id(node)] = 1 + sum(expanded[id(k)] for k in kids)
        depth[id(node)] = 1 + max((depth[id(k)] for k in kids), default=0)
        if depth[id(node)] > MAX_DEPTH:  # reached through an alias: deep only when expanded
            raise YamlLimitError(
                f"nested more than {MAX_DEPTH} levels deep", "flatten it", node.start_mark
            )
        if expanded[id(node)] > len(expanded) + MAX_ALIAS_EXPANSION:
            raise YamlLimitError(
                f"aliases would expand this document to more than {MAX_ALIAS_EXPANSION} values",
                "write the repeated values out, or use fewer aliases (a YAML alias bomb?)",
                node.start_mark,
            )


class StrictLoader(yaml.CSafeLoader if yaml.__with_libyaml__ else yaml.SafeLoader):  # type: ignore[misc]
    """Safe YAML as Kubernetes reads it: timestamps stay strings, duplicate keys are
    errors, and aliases and nesting are bounded (see the module's docstring)."""

    def construct_document(self, node: yaml.Node) -> Any:
        check_node(node)
        return super().construct_document(node)

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        keys = [k.value for k, _ in node.value if isinstance(k, yaml.ScalarNode)]
        if len(set(keys)) != len(keys):
            seen: set[str] = set()
            for key_node, _ in node.value:
                if not isinstance(key_node, yaml.ScalarNode):
                    continue
                if key_node.value in seen and key_node.tag != _MERGE_TAG:
                    raise YamlLimitError(
                        f"duplicate key {key_node.value!r}",
                        "keep one of them",
                        key_node.start_mark,
                    )
                seen.add(key_node.value)
        result: dict[Any, Any] = super().construct_mapping(node, deep=deep)
        return result


StrictLoader.add_constructor("tag:yaml.org,2002:timestamp", yaml.SafeLoader.construct_yaml_str)
StrictLoader.add_constructor("tag:yaml.org,2002:value", yaml.SafeLoader.construct_yaml_str)


def load(text: str) -> Any:
    """The one document in ``text`` (``None`` when empty).

    Raises ``yaml.YAMLError``: a :class:`YamlLimitError` for a refusal above, another
    ``MarkedYAMLError`` for broken syntax, a ``ReaderError`` for a control character; and
    a :class:`YamlLimitError` (without a line) when a pure-Python parser runs out of stack.
    """
    try:
        return yaml.load(text, Loader=StrictLoader)  # noqa: S506 - a SafeLoader
    except RecursionError:
        raise YamlLimitError(
            f"nested more than {MAX_DEPTH} levels deep", "flatten it", None
        ) from None


def reader_problem(exc: yaml.reader.ReaderError, text: str) -> tuple[int, str]:
    """The 1-based line of a ``ReaderError`` in ``text`` and what it found, in words."""
    position = max(0, exc.position)
    if yaml.__with_libyaml__:  # libyaml counts bytes of the UTF-8 text
        line = text.encode("utf-8", "replace")[:position].count(b"\n") + 1
    else:
        line = text.count("\n", 0, position) + 1
    character = exc.character  # an int from libyaml, a one-character str from PyYAML
    code = character if isinstance(character, int) else ord(character)
    return line, f"the control character #x{code:04x}"
