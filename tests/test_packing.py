"""Bin packing by guarantee: hand-computed cases, node pools, limits that must fit, node shares, and a
property test that no node's guarantees are ever over-committed."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from coursehub.manifest import NodeType
from coursehub.cost.packing import (
    Demand,
    ServerShape,
    node_millicores,
    node_shares,
    pack,
    recommended_share,
    servers_per_node,
    why_not,
)
from coursehub.manifest.effective import CourseSettings

G = 1024**3
M = 1024**2


def node(name="t", memory=4 * G, cpu=2.0, price=1.0, **kw) -> NodeType:
    return NodeType(name=name, memory=memory, cpu=cpu, price_per_hour=price, **kw)


def shape(mem_g, cpu_g=0.0, mem_limit=None, cpu_limit=None, selector=()) -> ServerShape:
    return ServerShape(mem_g, int(round(cpu_g * 1000)), mem_limit, cpu_limit, tuple(selector))


def test_memory_bound_packing_by_hand():
    # 4G / 2 cores nodes, 1G / 0.5 core servers: 4 per node, so 10 servers need 3 nodes (4 + 4 + 2).
    p = pack([Demand("a", 10, shape(G, 0.5))], [node()])
    assert p.counts() == {"t": 3}
    assert [n.servers["a"] for n in p.nodes] == [4, 4, 2]
    assert p.nodes[2].free_mem == 2 * G and p.nodes[2].free_cpu_m == 1000
    assert p.unplaced == {}


def test_cpu_bound_packing_by_hand():
    # 16G / 1 core nodes, 0.3-core servers: 3 per node by CPU (900m), so 7 servers need 3 nodes.
    p = pack([Demand("a", 7, shape(G, 0.3))], [node(memory=16 * G, cpu=1.0)])
    assert [n.servers["a"] for n in p.nodes] == [3, 3, 1]


def test_first_fit_decreasing_mixes_courses():
    # 3 x 2G and 4 x 1G on 4G nodes: 2G first -> [2G 2G] [2G 1G 1G] [1G 1G]: 3 nodes (10G needs >= 3).
    p = pack([Demand("small", 4, shape(G)), Demand("big", 3, shape(2 * G))], [node(cpu=8)])
    assert [n.servers for n in p.nodes] == [{"big": 2}, {"big": 1, "small": 2}, {"small": 2}]
    assert p.placed("small") == {"t": 4} and p.placed("big") == {"t": 3}


def test_opens_the_cheapest_node_per_server_it_will_hold():
    # 1G servers: small (4G, 1.00/h) costs 0.25 a server, big (16G, 3.00/h) 0.1875. 20 servers:
    # one big node (16), then 4 left: a small node holds them for 0.25 each, a big one for 0.75 each.
    small, big = node("small", 4 * G, 4, 1.0), node("big", 16 * G, 16, 3.0)
    p = pack([Demand("a", 20, shape(G, 0.1))], [small, big])
    assert p.counts() == {"big": 1, "small": 1}
    assert [n.type.name for n in p.nodes] == ["big", "small"]


def test_node_pools_and_dedicated_pools():
    user = node("user", labels={"pool": "user"})
    gpu = node("gpu", 8 * G, 4, 5.0, labels={"pool": "gpu"}, dedicated=True)
    plain, wants_gpu = shape(G), shape(G, selector=[("pool", "gpu")])
    assert why_not(plain, gpu) is not None  # dedicated: only courses that select it
    assert why_not(wants_gpu, user) is not None  # selector does not match
    assert why_not(plain, user) is None and why_not(wants_gpu, gpu) is None
    p = pack([Demand("plain", 5, plain), Demand("ml", 3, wants_gpu)], [user, gpu])
    assert p.placed("plain") == {"user": 5} and p.placed("ml") == {"gpu": 3}


def test_limit_larger_than_any_node_is_unplaced_not_dropped():
    huge = shape(G, mem_limit=64 * G)
    assert servers_per_node(huge, node()) == 0
    assert "memory limit" in why_not(huge, node())
    p = pack([Demand("huge", 5, huge), Demand("ok", 2, shape(G))], [node()])
    assert p.unplaced == {"huge": 5} and p.placed("ok") == {"t": 2}
    # A CPU limit above the node's cores is harmless (the server just cannot use more than exists).
    assert servers_per_node(shape(G, 0.5, cpu_limit=64), node()) == 4


def test_max_pods_bounds_servers_without_guarantees():
    p = pack([Demand("a", 25, shape(0, 0))], [node(max_pods=10)])
    assert [n.servers["a"] for n in p.nodes] == [10, 10, 5]


def test_limit_without_guarantee_reserves_the_limit():
    # Kubernetes sets a request equal to the limit when only the limit is given.
    s = CourseSettings("c", "img", "lab", "/lab", None, 2 * G, None, 1.0, None, term=None)
    assert ServerShape.from_settings(s) == ServerShape(2 * G, 1000, 2 * G, 1.0, ())


def test_node_shares_have_guarantee_equal_limit_and_proportional_cpu():
    t = node("n2-highmem-4", 28 * G, 3.8, 0.262)
    shares = node_shares(t)
    assert [s["share"] for s in shares] == ["1/1", "1/2", "1/4", "1/8", "1/16", "1/32"]
    eighth = shares[3]
    assert eighth["memory_guarantee_bytes"] == eighth["memory_limit_bytes"] == 3584 * M  # 28G / 8
    assert eighth["cpu_guarantee"] == 0.475 and eighth["servers_per_node"] == 8
    assert eighth["price_per_server_hour"] == round(0.262 / 8, 4)
    for s in shares:  # n shares of 1/n always fit the node they are cut from
        assert s["servers_per_node"] * s["memory_guarantee_bytes"] <= t.memory
        assert s["servers_per_node"] * round(s["cpu_guarantee"] * 1000) <= node_millicores(t)
    # A 2G limit needs the 1/8 share (3.5G); 1/16 is 1.75G.
    assert recommended_share(shape(512 * M, mem_limit=2 * G), [t])["share"] == "1/8"
    assert recommended_share(shape(G, mem_limit=64 * G), [t]) is None


# --- property: never over-commit, always place what can be placed ----------------------------------

LABELS = st.sampled_from([{}, {"pool": "a"}, {"pool": "b"}])
SELECTORS = st.sampled_from([(), (("pool", "a"),), (("pool", "b"),)])


@st.composite
def node_types(draw):
    n = draw(st.integers(1, 3))
    return [
        NodeType(
            name=f"type{i}",
            memory=draw(st.integers(1, 64)) * G // 2,
            cpu=draw(st.sampled_from([0.5, 1, 2, 3.8, 4, 16])),
            price_per_hour=draw(st.floats(0, 5, allow_nan=False)),
            labels=draw(LABELS),
            dedicated=draw(st.booleans()),
            max_pods=draw(st.integers(1, 110)),
        )
        for i in range(n)
    ]


@st.composite
def demands(draw):
    out = []
    for i in range(draw(st.integers(1, 5))):
        mem_g = draw(st.integers(0, 16)) * G // 4
        limit = draw(st.one_of(st.none(), st.integers(mem_g, 40 * G)))
        cpu_m = draw(st.integers(0, 4000))
        out.append(Demand(f"c{i}", draw(st.integers(0, 300)), ServerShape(mem_g, cpu_m, limit, None, draw(SELECTORS))))
    return out


@pytest.mark.slow
@settings(max_examples=300, deadline=None)
@given(types=node_types(), wanted=demands())
def test_packing_never_overcommits_and_places_every_placeable_server(types, wanted):
    p = pack(wanted, types)
    shapes = {d.key: d.shape for d in wanted}
    for n in p.nodes:
        assert sum(c * shapes[k].mem_guarantee for k, c in n.servers.items()) <= n.type.memory
        assert sum(c * shapes[k].cpu_guarantee_m for k, c in n.servers.items()) <= node_millicores(n.type)
        assert sum(n.servers.values()) <= n.type.max_pods
        assert n.servers, "an opened node holds at least one server"
        for k in n.servers:
            assert why_not(shapes[k], n.type) is None, "placed on a node type it may not use"
    for d in wanted:
        placed = sum(p.placed(d.key).values())
        assert placed + p.unplaced.get(d.key, 0) == d.count
        placeable = any(servers_per_node(d.shape, t) for t in types)
        assert p.unplaced.get(d.key, 0) == (0 if placeable else d.count)


def first_fit_decreasing(demands_, types):
    """The packing rule in its plainest form (every node scanned for every demand): pack()'s oracle."""
    from fractions import Fraction

    from coursehub.cost.packing import Node, _place

    nodes = []
    for d in sorted((d for d in demands_ if d.count), key=lambda d: (-d.shape.mem_guarantee, -d.shape.cpu_guarantee_m, d.key)):
        usable = [t for t in types if servers_per_node(d.shape, t)]
        remaining = d.count
        for n in nodes:
            if remaining and n.type in usable:
                remaining -= _place(n, d.key, d.shape, remaining)
        while remaining and usable:
            best = min(usable, key=lambda t: (Fraction(t.price_per_hour).limit_denominator(10**9) / min(servers_per_node(d.shape, t), remaining), t.price_per_hour, t.name))
            n = Node(best, best.memory, node_millicores(best), best.max_pods)
            nodes.append(n)
            remaining -= _place(n, d.key, d.shape, remaining)
    return [(n.type.name, n.servers) for n in nodes]


@pytest.mark.slow
@settings(max_examples=300, deadline=None)
@given(types=node_types(), wanted=demands(), same=st.booleans())
def test_packing_is_plain_first_fit_decreasing(types, wanted, same):
    # pack() resumes each shape's scan where it stopped; many courses of one shape must pack the same
    if same:
        wanted = [Demand(f"s{i}", d.count, wanted[0].shape) for i, d in enumerate(wanted)]
    assert [(n.type.name, n.servers) for n in pack(wanted, types).nodes] == first_fit_decreasing(wanted, types)
