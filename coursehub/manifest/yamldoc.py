"""A YAML document read fast and in bounded memory, with the line and column of every value.

libyaml (PyYAML's C parser and composer) builds the node tree, each node carrying its start mark;
plain Python data is then built from the nodes here, so a value's position costs nothing until a
problem needs it (:meth:`YamlDoc.find`). libyaml refuses nesting deeper than 1,000 levels itself;
the builder refuses more than :data:`~coursehub.manifest.files.MAX_DEPTH`, aliases that would
expand the document by more than a budget (a "billion laughs" bomb), recursive aliases, duplicate
keys and tags other than YAML's plain types. Every problem is collected with its position.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

import yaml
from yaml.constructor import ConstructorError, SafeConstructor
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from coursehub.manifest.files import Limits

try:
    from yaml import CSafeLoader as _Loader
except ImportError:  # pragma: no cover - PyYAML without libyaml still works, only slower
    from yaml import SafeLoader as _Loader  # type: ignore[assignment]

Loc = tuple[Any, ...]
_TAG = "tag:yaml.org,2002:"
_SCALAR_TAGS = {_TAG + t for t in ("str", "null", "bool", "int", "float", "timestamp")}
_MERGE = _TAG + "merge"
_STR, _INT, _TIMESTAMP = _TAG + "str", _TAG + "int", _TAG + "timestamp"


@dataclass
class YamlProblem:
    """Something wrong with the YAML itself, at a 1-based line and column."""

    message: str
    line: int | None
    column: int | None
    hint: str = ""
    code: str = "yaml"


def _at(mark) -> tuple[int | None, int | None]:
    return (mark.line + 1, mark.column + 1) if mark is not None else (None, None)


@dataclass
class YamlDoc:
    """Plain data (dicts, lists, scalars) and the node tree it came from, for locating values."""

    data: Any
    root: Node | None
    members: dict[int, dict[str, tuple[Node, Node]]] = field(default_factory=dict)

    def _node(self, loc: Loc) -> tuple[Node | None, tuple[int | None, int | None]]:
        node, pos = self.root, (None, None)
        for part in loc:
            if isinstance(node, MappingNode) and part == "[key]":
                break  # pydantic's marker for a bad mapping key: the key's own position is already in pos
            if isinstance(node, MappingNode) and isinstance(part, str) and part in self.members.get(id(node), {}):
                key, node = self.members[id(node)][part]
                pos = _at(key.start_mark)
            elif isinstance(node, SequenceNode) and isinstance(part, int) and 0 <= part < len(node.value):
                node = node.value[part]
                pos = _at(node.start_mark)
            else:
                break
        return node, pos

    def find(self, loc: Loc) -> tuple[int | None, int | None]:
        """The line and column (1-based) where the value at ``loc`` is written: for a mapping member the
        key's position, for a list item the item's; as deep as ``loc`` can be followed."""
        return self._node(loc)[1]


class _Builder:
    """Turns libyaml's node tree into plain data, checking the bounds as it goes."""

    def __init__(self, limits: Limits):
        self.limits = limits
        self.scalars = SafeConstructor()
        self.objects: dict[int, Any] = {}
        self.sizes: dict[int, int] = {}
        self.members: dict[int, dict[str, tuple[Node, Node]]] = {}
        self.building: set[int] = set()
        self.problems: list[YamlProblem] = []
        self.too_deep = False
        self.distinct = 0  # nodes as written (an alias's target counted once)

    def problem(self, message: str, node: Node, hint: str = "", *, code: str) -> None:
        self.problems.append(YamlProblem(message, *_at(node.start_mark), hint=hint, code=code))

    def build(self, node: Node, depth: int = 1) -> Any:
        if type(node) is ScalarNode:
            self.distinct += 1
            return node.value if node.tag == _STR else self._scalar(node)
        key = id(node)
        if key in self.objects:
            return self.objects[key]  # an alias: the same object, counted by its expanded size
        if key in self.building:
            self.problem("an alias refers to the collection that contains it", node, "YAML recursion is not allowed here", code="yaml-recursive-alias")
            self.sizes[key] = 1
            return None
        if depth > self.limits.depth:
            if not self.too_deep:
                self.too_deep = True
                self.problem(f"the document is nested more than {self.limits.depth} levels deep", node,
                             "a manifest needs fewer than ten; flatten this structure", code="yaml-too-deep")
            self.sizes[key] = 1
            return None
        self.distinct += 1
        self.building.add(key)
        if isinstance(node, SequenceNode):
            self._check_tag(node, _TAG + "seq")
            value = [self.build(item, depth + 1) for item in node.value]
            sizes = self.sizes
            size = 1 + sum(sizes.get(id(item), 1) for item in node.value)
        else:
            self._check_tag(node, _TAG + "map")
            value, size = self._mapping(node, depth)
        self.building.discard(key)
        self.objects[key] = value
        self.sizes[key] = size
        return value

    def _check_tag(self, node: Node, expected: str) -> None:
        if node.tag != expected:
            self.problem(f"the YAML tag {node.tag!r} is not supported", node, "remove the tag", code="yaml-tag")

    def _scalar(self, node: ScalarNode) -> Any:
        tag, value = node.tag, node.value
        if tag == _STR:
            return value
        # The common spellings directly; YAML's others (0x1F, 1_000, 1:30, .inf, timestamps with a
        # time) through PyYAML's own constructors.
        if tag == _TIMESTAMP and len(value) == 10:
            try:
                return dt.date.fromisoformat(value)
            except ValueError:
                return value  # 2026-13-01: validation reports it as "not a date" at this line
        if tag == _INT and value.isdigit() and (value[0] != "0" or value == "0") and len(value) < 1000:
            return int(value)
        if tag not in _SCALAR_TAGS:
            self.problem(f"the YAML tag {tag!r} is not supported", node, "remove the tag; write a plain value", code="yaml-tag")
            return None
        try:
            return self.scalars.yaml_constructors[tag](self.scalars, node)
        except (ValueError, OverflowError, ConstructorError) as exc:
            if tag == _TIMESTAMP:
                return value
            what = "number has too many digits" if "digits" in str(exc) else f"{tag.removeprefix(_TAG)} cannot be read"
            self.problem(f"this {what}", node, "write a plain value", code="yaml-value")
            return None

    def _mapping(self, node: MappingNode, depth: int) -> tuple[dict, int]:
        out: dict[str, Any] = {}
        members: dict[str, tuple[Node, Node]] = {}
        merged: dict[str, tuple[Node, Node]] = {}
        for key_node, value_node in node.value:
            if type(key_node) is not ScalarNode:
                self.problem("a mapping key must be a plain value, not a list or mapping", key_node, code="yaml-complex-key")
                continue
            if key_node.tag == _MERGE:
                for source in self._merge_sources(value_node):
                    self.build(source, depth + 1)
                    for name, pair in self.members.get(id(source), {}).items():
                        merged.setdefault(name, pair)
                continue
            # a key is a name as written: `no:` names an image "no", not False (YAML 1.1's reading)
            name = key_node.value if key_node.tag == _STR or key_node.tag in _SCALAR_TAGS else str(self._scalar(key_node))
            if name in members:
                first = members[name][0].start_mark.line + 1
                self.problem(f"YAML syntax: duplicate key {name!r} (first at line {first})", key_node, "keep one of them", code="yaml-duplicate-key")
                continue
            members[name] = (key_node, value_node)
        for name, pair in merged.items():
            members.setdefault(name, pair)
        size = 1 + 2 * len(members)
        build, sizes = self.build, self.sizes
        for name, (key_node, value_node) in members.items():
            out[name] = build(value_node, depth + 1)
            if type(value_node) is not ScalarNode:
                size += sizes.get(id(value_node), 1) - 1
        self.members[id(node)] = members
        return out, size

    def _merge_sources(self, node: Node) -> list[Node]:
        if isinstance(node, MappingNode):
            return [node]
        if isinstance(node, SequenceNode) and all(isinstance(n, MappingNode) for n in node.value):
            return list(node.value)
        self.problem("a merge (<<) must name a mapping or a list of mappings", node, code="yaml-merge")
        return []


def _alias_overflow(text: str, budget: int) -> tuple[int | None, int | None]:
    """Where the aliases of ``text`` first add more than ``budget`` nodes (an event scan, no expansion)."""
    sizes: dict[str, int] = {}
    stack: list[list] = []
    extra = 0
    for event in yaml.parse(text, Loader=_Loader):
        if isinstance(event, (yaml.SequenceStartEvent, yaml.MappingStartEvent)):
            stack.append([1, event.anchor])
            continue
        if isinstance(event, (yaml.SequenceEndEvent, yaml.MappingEndEvent)):
            n, anchor = stack.pop()
        elif isinstance(event, yaml.ScalarEvent):
            n, anchor = 1, event.anchor
        elif isinstance(event, yaml.AliasEvent):
            n, anchor = sizes.get(event.anchor, 1), None
            extra += n
            if extra > budget:
                return _at(event.start_mark)
        else:
            continue
        if anchor:
            sizes[anchor] = n
        if stack:
            stack[-1][0] += n
    return (1, 1)


def parse(text: str, *, limits: Limits) -> tuple[YamlDoc | None, list[YamlProblem]]:
    """Parse one YAML document. Returns the document (``None`` if unusable) and its problems."""
    loader = _Loader(text)
    try:
        root = loader.get_single_node()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        what = str(exc.problem or exc.context)
        if "maximum nesting depth" in what:
            return None, [YamlProblem(f"the document is nested more than {limits.depth} levels deep", *_at(mark),
                                      hint="a manifest needs fewer than ten; flatten this structure", code="yaml-too-deep")]
        if "another document" in what:
            return None, [YamlProblem("YAML syntax: the file holds a second document (after `---`)", *_at(mark),
                                      hint="a manifest is one document; remove the second one", code="yaml-second-document")]
        return None, [YamlProblem(f"YAML syntax: {what}", *_at(mark), hint="check indentation and quoting near here", code="yaml-syntax")]
    except yaml.YAMLError as exc:
        return None, [YamlProblem(f"YAML: {exc}", None, None)]
    finally:
        loader.dispose()
    if root is None:
        return YamlDoc(None, None), []
    builder = _Builder(limits)
    data = builder.build(root)
    if not builder.problems:
        added = builder.sizes.get(id(root), 1) - builder.distinct
        if added > limits.alias_nodes:
            return None, [YamlProblem(
                f"aliases (*name) would expand the document by more than {limits.alias_nodes:,} values",
                *_alias_overflow(text, limits.alias_nodes),
                hint="this looks like a YAML alias bomb; write the values out or share fewer of them",
                code="yaml-alias-bomb",
            )]
    if builder.problems:
        return None, builder.problems
    return YamlDoc(data, root, builder.members), []
