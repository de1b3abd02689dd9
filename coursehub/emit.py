"""Serialising generated data deterministically: the same data always gives the same bytes.

Config is data: generators build dicts and lists and hand them to these functions; nothing pastes
manifest strings into YAML, JSON or Python text.
"""

from __future__ import annotations

import csv
import io
import json
import math
import re
import secrets
from typing import Any

import yaml as pyyaml
from ruamel.yaml import YAML
from ruamel.yaml.emitter import Emitter
from ruamel.yaml.representer import SafeRepresenter

from coursehub.escape import csv_cell


def to_json(data: Any) -> bytes:
    """Indented JSON with sorted keys: exactly ``json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False)``.

    With an indent, json's C encoder is not used and the pure-Python one yields every bracket and
    comma separately (a second for a university's hub files); :func:`_json` writes the same text with
    one join per container and leaves each scalar to json's C string encoder.
    """
    try:
        text = _json(data, "\n")
    except _Unsupported:
        text = json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False)
    return (text + "\n").encode("utf-8")


_json_str = json.encoder.encode_basestring  # the C function when available, as json.dumps uses


def _json(node: Any, newline: str) -> str:
    """``node`` as :func:`to_json` writes it, ``newline`` being a line break and the current indent."""
    if type(node) is str:
        return _json_str(node)
    if type(node) is dict:
        if not node:
            return "{}"
        inner = newline + "  "
        if not all(type(k) is str for k in node):  # json's key coercion and sorting of other types
            raise _Unsupported(node)
        return "{" + ",".join([f"{inner}{_json_str(k)}: {_json(node[k], inner)}" for k in sorted(node)]) + newline + "}"
    if type(node) is list:
        if not node:
            return "[]"
        inner = newline + "  "
        return "[" + ",".join([inner + _json(v, inner) for v in node]) + newline + "]"
    if node is None:
        return "null"
    if node is True:
        return "true"
    if node is False:
        return "false"
    if type(node) is int:
        return int.__repr__(node)
    if type(node) is float and math.isfinite(node):
        return float.__repr__(node)
    raise _Unsupported(node)  # NaN, tuples, subclasses: json.dumps decides


#: YAML 1.1's implicit types, as PyYAML (coursehub's own manifest reader) and Helm read them: they
#: also take ``yes``/``no``/``on``/``off``, ``1:30`` and ``1_000`` for booleans and numbers, which
#: YAML 1.2 (ruamel's dump) writes unquoted as strings.
_YAML11 = pyyaml.resolver.Resolver()


def _yaml11_str(value: str) -> bool:
    """Whether a YAML 1.1 reader reads ``value``, written plain, as a string."""
    return _YAML11.resolve(pyyaml.ScalarNode, value, (True, False)) == _STR_TAG


#: Characters YAML 1.1 reads as line breaks besides \n and \r (NEL, line and paragraph separators).
_OTHER_BREAKS = re.compile("[\x85\u2028\u2029]")


class _Representer(SafeRepresenter):
    """ruamel's representer, writing what a YAML 1.1 reader reads back as the same value: a string it
    would read as another type is quoted, and a float gets the ``.0`` 1.1 needs before an exponent."""

    def represent_str(self, data: str):
        if _OTHER_BREAKS.search(data):
            # ruamel writes these as line breaks, which a reader folds into a blank: escaped instead
            return self.represent_scalar(_STR_TAG, data, style='"')
        if not _yaml11_str(data):
            return self.represent_scalar(_STR_TAG, data, style="'")
        return super().represent_str(data)

    def represent_float(self, data: float):
        node = super().represent_float(data)
        if "e" in node.value and "." not in node.value:  # 1e-05: a string to YAML 1.1; 1.0e-05 a float
            node.value = node.value.replace("e", ".0e", 1)
        return node


_Representer.add_representer(str, _Representer.represent_str)
_Representer.add_representer(float, _Representer.represent_float)


def _yaml() -> YAML:
    yaml = YAML(typ="safe", pure=True)
    yaml.Representer = _Representer
    yaml.default_flow_style = False
    yaml.width = 4096  # never fold long strings: folded scalars are harder to diff
    yaml.allow_unicode = True
    yaml.sort_base_mapping_type_on_output = True  # type: ignore[attr-defined]
    return yaml


#: Strings ruamel writes as plain scalars anywhere in block style (the resolver is asked too): a word
#: character first, no blank, no ``: `` or `` #``, no trailing ``:``.
_PLAIN = re.compile(r"[A-Za-z0-9_](?:[A-Za-z0-9_.@/=+-]|[:!](?=[A-Za-z0-9_.@/=+-]))*\Z")
_STR_TAG = "tag:yaml.org,2002:str"
#: Text ruamel's write_double_quoted writes unescaped (printable, unicode allowed, no quote or backslash).
_DOUBLE_SAFE = re.compile(r"[\x20\x21\x23-\x5b\x5d-\x7e\xa0-\u2027\u202a-\ud7ff\ue000-\ufefe\uff00-\ufffd\U00010000-\U0010ffff]*\Z")


def to_yaml(data: Any) -> bytes:
    """Block-style YAML with sorted keys: the same data always gives the same bytes.

    ruamel's pure-Python emitter costs ~50 us a node: seconds for a university's hub values (group
    members, roles, course settings by the ten thousand). :class:`_Block` writes the subtrees whose
    every scalar it can write exactly as ruamel would (plain words, numbers, single-quoted one-line
    text), and ruamel writes the rest of the document around a placeholder for each, so the result is
    byte for byte what ruamel alone writes (tests/test_emit.py holds it to that on random data).
    """
    yaml = _yaml()
    block = _Block(yaml)
    writable: dict[int, bool] = {}
    if isinstance(data, dict) and data and block.writable(data, writable):
        return ("\n".join(block.mapping(data, 0)) + "\n").encode("utf-8")
    nonce = f"coursehub-{secrets.token_hex(8)}-subtree"
    parts: list[list[str]] = []

    def cut(node: Any) -> Any:
        if isinstance(node, dict):
            out = {}
            for key, value in node.items():
                if not (isinstance(value, (dict, list)) and value):
                    out[key] = value
                elif writable.get(id(value)) and block.writable(key, writable, key=True):
                    # (a complex key, `? key`, has no `key: value` line to replace)
                    out[key] = f"{nonce}{len(parts)}"
                    parts.append(block.mapping(value, 0) if isinstance(value, dict) else block.sequence(value, 0))
                else:
                    out[key] = cut(value)
            return out
        if isinstance(node, list):
            return [cut(v) for v in node]
        return node

    skeleton = _ruamel(yaml, cut(data)).decode("utf-8")

    def expand(match: re.Match) -> str:
        lines = parts[int(match.group(3))]
        # a mapping's keys go two further in; a sequence's dashes stay at the key's column
        pad = " " * (len(match.group(1)) + (2 if not lines[0].startswith("- ") else 0))
        return f"{match.group(1)}{match.group(2)}:\n" + "\n".join(pad + line for line in lines)

    text, count = re.subn(rf"^([ -]*)([A-Za-z0-9_]\S*): {nonce}(\d+)$", expand, skeleton, flags=re.MULTILINE)
    if count != len(parts):  # a layout this shortcut does not know: let ruamel write everything
        return _ruamel(_yaml(), data)
    return text.encode("utf-8")


def _ruamel(yaml: YAML, data: Any) -> bytes:
    buf = io.StringIO()
    yaml.dump(data, buf)
    return buf.getvalue().encode("utf-8")


class _Unsupported(Exception):
    """A value :class:`_Block` does not write itself (ruamel writes it)."""


class _Block:
    """Writes block collections in ruamel's layout (indent 2, sequences in mappings not indented, sorted keys).

    Scalars: None, booleans, ints, floats (ruamel's own representer), and strings ruamel would write
    plain or single-quoted on one line (ruamel's own analysis decides). Anything else raises
    :class:`_Unsupported`.
    """

    def __init__(self, yaml: YAML):
        # ruamel's implicit resolvers for the dump's YAML version, by first character (its resolve()
        # without the per-call version lookup, which is most of its cost)
        table = yaml.resolver.versioned_resolver
        self._resolvers = {first: list(rules) + list(table.get(None, [])) for first, rules in table.items()}
        self._fallback = list(table.get(None, []))
        emitter = Emitter(io.StringIO(), allow_unicode=True)
        emitter.use_version = None  # what analyze_scalar reads from the serializer: YAML 1.2, as the dump
        self._analyze = emitter.analyze_scalar
        self._float = _Representer().represent_float
        self._strings: dict[str, str | None] = {}
        self._keys: set[str] = set()

    def _implicit_str(self, value: str) -> bool:
        """Whether ``value`` written plain reads back as a string, in YAML 1.2 (ruamel) and 1.1 (PyYAML, Helm)."""
        for tag, regexp in self._resolvers.get(value[0] if value else "", self._fallback):
            if regexp.match(value):
                return tag == _STR_TAG and _yaml11_str(value)
        return _yaml11_str(value)  # ruamel's default scalar tag is str

    def writable(self, node: Any, memo: dict[int, bool], *, key: bool = False) -> bool:
        """Whether this class can write ``node`` (a key, with ``key``); every container's answer goes in ``memo``."""
        if isinstance(node, dict):
            ok = all([self.writable(k, memo, key=True) for k in node] + [self.writable(v, memo) for v in node.values()])
            try:
                sorted(node)
            except TypeError:
                ok = False
            memo[id(node)] = ok
            return ok
        if isinstance(node, list):
            ok = all([self.writable(v, memo) for v in node])
            memo[id(node)] = ok
            return ok
        try:
            self.key(node) if key else self.scalar(node)
        except _Unsupported:
            return False
        return True

    def key(self, key: Any) -> str:
        if key in self._keys:
            return key
        if isinstance(key, str) and len(key) < 128 and _PLAIN.match(key) and self._implicit_str(key):
            self._keys.add(key)
            return key
        raise _Unsupported(key)

    def scalar(self, value: Any) -> str:
        if value is None:
            return "null"
        if value is True or value is False:
            return "true" if value else "false"
        if type(value) is int:
            return str(value)
        if type(value) is float:
            return self._float(value).value
        if type(value) is not str:
            raise _Unsupported(value)
        text = self._strings.get(value, "")
        if text == "":
            text = self._strings[value] = self._string(value)
        if text is None:
            raise _Unsupported(value)
        return text

    def _string(self, value: str) -> str | None:
        if _PLAIN.match(value):
            # a word that reads as another type (a date, a number, null) is quoted to stay a string
            return value if self._implicit_str(value) else f"'{value}'"
        # long lines may be folded at the width; line breaks take another style
        if not value or len(value) > 1000 or "\n" in value or _OTHER_BREAKS.search(value):
            return None
        analysis = self._analyze(value)
        if analysis.multiline:
            return None
        if analysis.allow_block_plain and self._implicit_str(value):
            return value
        if "'" in value:
            # ruamel double-quotes text with an apostrophe; written here only when nothing needs escaping
            return f'"{value}"' if analysis.allow_double_quoted and _DOUBLE_SAFE.match(value) else None
        return f"'{value}'" if analysis.allow_single_quoted else None

    def mapping(self, node: dict, indent: int, first: str | None = None) -> list[str]:
        lines: list[str] = []
        pad = " " * indent
        try:
            keys = sorted(node)
        except TypeError:
            raise _Unsupported(node) from None
        for i, key in enumerate(keys):
            head = (first if i == 0 and first is not None else pad) + self.key(key)
            value = node[key]
            if isinstance(value, dict) and value:
                lines.append(head + ":")
                lines += self.mapping(value, indent + 2)
            elif isinstance(value, list) and value:
                lines.append(head + ":")
                lines += self.sequence(value, indent)
            else:
                lines.append(f"{head}: {self._empty_or_scalar(value)}")
        return lines

    def sequence(self, node: list, indent: int, first: str | None = None) -> list[str]:
        lines: list[str] = []
        pad = " " * indent
        for i, item in enumerate(node):
            dash = (first if i == 0 and first is not None else pad) + "- "
            if isinstance(item, dict) and item:
                lines += self.mapping(item, indent + 2, first=dash)
            elif isinstance(item, list) and item:
                lines += self.sequence(item, indent + 2, first=dash)
            else:
                lines.append(dash + self._empty_or_scalar(item))
        return lines

    def _empty_or_scalar(self, value: Any) -> str:
        if isinstance(value, dict):
            return "{}"
        if isinstance(value, list):
            return "[]"
        return self.scalar(value)


def to_csv(header: list[str], rows: list[list[Any]]) -> bytes:
    """CSV with every cell (the header too) made safe to open in a spreadsheet (:func:`coursehub.escape.csv_cell`)."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow([csv_cell(c) for c in header])
    writer.writerows([csv_cell(c) for c in row] for row in rows)
    return buf.getvalue().encode("utf-8")


def load_yaml_text(text: str) -> Any:
    return YAML(typ="safe", pure=True).load(text)
