"""emit.to_yaml writes large documents itself where it can: its bytes must stay exactly ruamel's."""

from __future__ import annotations

import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from coursehub import emit

# words that look like other types, indicators, quotes, blanks, line breaks, unicode, long text
TRICKY = [
    "yes", "no", "On", "OFF", "y", "1:30", "190:20:30.15", "0b101", "017", "null", "Null", "~", "true", "False", "1", "1.5", "1e3", "0x1f", "0o17", "1_000", ".inf", ".nan",
    "2026-08-26", "2026-08-26T10:00:00", "=", "<<", "-", "-x", "- x", "x:", "a: b", "a:b", "x #y", "#x", "@x", "!x",
    "a!b", "'q'", "it's", '"', "a\nb", " lead", "trail ", "", "é café", "data-c8-fa26", "read:users!group=g",
    "Course 1: Data", "students' work: read", "'", "''", "a''b", "x'", "it's # not", "it's [a] \\ \"q\" \u2028 \ufeff", "x" * 1200, "a b " * 300, "\t", "%x", "&a", "*a", "|", ">", "[a]", "{a}", "a,b", "?", "?x",
]
scalars = st.one_of(
    st.none(), st.booleans(), st.integers(-10**20, 10**20), st.floats(allow_nan=False), st.sampled_from(TRICKY),
    st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=30),
    st.from_regex(r"[a-z][a-z0-9.:!=/-]{0,20}", fullmatch=True),
)
keys = st.one_of(st.sampled_from(TRICKY), st.from_regex(r"[a-z][a-z0-9_.-]{0,12}", fullmatch=True), st.text(max_size=8))
documents = st.recursive(
    scalars,
    lambda children: st.one_of(st.lists(children, max_size=5), st.dictionaries(keys, children, max_size=5)),
    max_leaves=60,
)


def ruamel(data) -> bytes:
    return emit._ruamel(emit._yaml(), data)


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(keys, documents, min_size=1, max_size=6))
def test_yaml_is_ruamels_bytes(data):
    assert emit.to_yaml(data) == ruamel(data)


def test_large_hub_values_are_ruamels_bytes(example_manifest):
    from coursehub.hub import z2jh

    from coursehub.hub.data import course_data

    values = z2jh.values(course_data(example_manifest))
    # the example's values take both paths: the runtime's source is left to ruamel, the rest is written here
    big = {"custom": values["custom"], "lists": {f"g{i}": {"users": [f"user{j}.x" for j in range(40)]} for i in range(300)}}
    assert emit.to_yaml(values) == ruamel(values)
    assert emit.to_yaml(big) == ruamel(big)


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(keys, documents, min_size=1, max_size=6))
def test_yaml_11_readers_read_back_the_same_data(data):
    """PyYAML (which reads manifests here) and Helm read YAML 1.1, where yes/no/on/off, 1:30 and 1_000
    are not strings: a string like those is quoted, so an image named `no` stays a name."""
    assert yaml.load(emit.to_yaml(data), Loader=yaml.CSafeLoader) == data


json_documents = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(-10**20, 10**20), st.floats(), st.text(max_size=20), st.sampled_from(TRICKY)),
    lambda children: st.one_of(
        st.lists(children, max_size=5),
        st.tuples(children, children),
        st.dictionaries(st.text(max_size=8), children, max_size=5),
        st.dictionaries(st.integers(0, 9), children, max_size=3),
    ),
    max_leaves=60,
)


@settings(max_examples=300, deadline=None)
@given(json_documents)
def test_json_is_json_dumps(data):
    import json

    try:
        expected = json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
    except (TypeError, ValueError):
        return  # json.dumps refuses it (a key type it cannot sort); to_json may too
    assert emit.to_json(data) == expected.encode("utf-8")
