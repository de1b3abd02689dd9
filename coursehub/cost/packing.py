"""Packing student servers onto nodes by their guarantees, the way the Kubernetes scheduler does.

The scheduler places a pod on a node only if the node's unreserved memory and CPU cover the pod's
*requests* (JupyterHub's guarantees); limits are not reserved. So the nodes a hub needs are found by
bin packing the guarantees. Here that is first-fit decreasing over the node types a course may use:

- a course runs only on node types whose ``labels`` include its ``node_selector``; a ``dedicated``
  (tainted) pool takes only courses that select it;
- a course's memory limit must fit the node: a server allowed more memory than the node has would be
  killed by the node, not by its own limit. (A CPU limit above the node's cores is harmless: the
  server simply cannot use more than the node has, so it does not restrict placement.)

Memory is counted in bytes and CPU in whole millicores, so "never over-commit" is exact integer
arithmetic, not float comparisons.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from fractions import Fraction

from coursehub.manifest import NodeType
from coursehub.manifest.effective import CourseSettings


def millicores(cores: float | None) -> int:
    """Cores as whole millicores (Kubernetes' CPU unit); ``None`` is 0."""
    return 0 if cores is None else int(round(cores * 1000))


@dataclass(frozen=True)
class ServerShape:
    """What one server of a course reserves (guarantees) and may use (limits)."""

    mem_guarantee: int  # bytes
    cpu_guarantee_m: int  # millicores
    mem_limit: int | None = None  # bytes; None: no limit
    cpu_limit: float | None = None  # cores; None: no limit
    node_selector: tuple[tuple[str, str], ...] = ()

    @classmethod
    def from_settings(cls, s: CourseSettings) -> ServerShape:
        """The shape of one of the course's servers.

        Kubernetes sets a container's request to its limit when only the limit is given, so a course
        with a limit and no guarantee reserves its limit.
        """
        mem_g = s.mem_guarantee if s.mem_guarantee is not None else (s.mem_limit or 0)
        cpu_g = s.cpu_guarantee if s.cpu_guarantee is not None else s.cpu_limit
        return cls(
            mem_guarantee=mem_g,
            cpu_guarantee_m=millicores(cpu_g),
            mem_limit=s.mem_limit,
            cpu_limit=s.cpu_limit,
            node_selector=tuple(sorted(s.node_selector.items())),
        )


@dataclass(frozen=True)
class Demand:
    """``count`` servers of one shape, belonging to ``key`` (a course id)."""

    key: str
    count: int
    shape: ServerShape


def node_millicores(node_type: NodeType) -> int:
    # Round down: a node with 3.8 cores never offers 3801m.
    return int(math.floor(node_type.cpu * 1000 + 1e-9))


def why_not(shape: ServerShape, node_type: NodeType) -> str | None:
    """Why a server of ``shape`` can never run on ``node_type`` (``None`` if it can)."""
    labels = node_type.labels
    selector = dict(shape.node_selector)
    missing = {k: v for k, v in selector.items() if labels.get(k) != v}
    if missing:
        return f"its node_selector {missing} does not match the labels of {node_type.name}"
    if node_type.dedicated and not selector:
        return f"{node_type.name} is a dedicated pool and the course does not select it"
    if shape.mem_limit is not None and shape.mem_limit > node_type.memory:
        return f"its memory limit is larger than {node_type.name}'s allocatable memory"
    if shape.mem_guarantee > node_type.memory:
        return f"its memory guarantee is larger than {node_type.name}'s allocatable memory"
    if shape.cpu_guarantee_m > node_millicores(node_type):
        return f"its CPU guarantee is larger than {node_type.name}'s allocatable cores"
    return None


def servers_per_node(shape: ServerShape, node_type: NodeType) -> int:
    """How many servers of ``shape`` an empty node of ``node_type`` holds (0 if none)."""
    if why_not(shape, node_type) is not None:
        return 0
    return _fit(shape, node_type.memory, node_millicores(node_type), node_type.max_pods)


def _fit(shape: ServerShape, free_mem: int, free_cpu_m: int, free_pods: int) -> int:
    n = free_pods
    if shape.mem_guarantee:
        n = min(n, free_mem // shape.mem_guarantee)
    if shape.cpu_guarantee_m:
        n = min(n, free_cpu_m // shape.cpu_guarantee_m)
    return max(n, 0)


def share_of_node(shape: ServerShape, node_type: NodeType) -> Fraction:
    """The part of a node one server takes up: its dominant guarantee (memory, CPU or a pod slot)."""
    return max(
        Fraction(shape.mem_guarantee, node_type.memory) if node_type.memory else Fraction(0),
        Fraction(shape.cpu_guarantee_m, node_millicores(node_type) or 1),
        Fraction(1, node_type.max_pods),
    )


@dataclass
class Node:
    """One node of a packing and what is placed on it."""

    type: NodeType
    free_mem: int
    free_cpu_m: int
    free_pods: int
    servers: dict[str, int] = field(default_factory=dict)


@dataclass
class Packing:
    """The result of :func:`pack`: nodes in the order they were opened, and servers that fit nowhere."""

    nodes: list[Node]
    unplaced: dict[str, int]

    def counts(self) -> dict[str, int]:
        """Nodes used, by node type name (sorted)."""
        out: dict[str, int] = {}
        for node in self.nodes:
            out[node.type.name] = out.get(node.type.name, 0) + 1
        return dict(sorted(out.items()))

    def placed(self, key: str) -> dict[str, int]:
        """How many of ``key``'s servers landed on each node type."""
        out: dict[str, int] = {}
        for node in self.nodes:
            if key in node.servers:
                out[node.type.name] = out.get(node.type.name, 0) + node.servers[key]
        return dict(sorted(out.items()))


def pack(
    demands: Iterable[Demand],
    node_types: list[NodeType],
    *,
    price: Callable[[NodeType], float] = lambda t: t.price_per_hour,
) -> Packing:
    """Place every server on as few (cheap) nodes as first-fit decreasing finds.

    Largest guarantees go first. A server goes on the first open node it may use that still has room
    for its guarantees; when none has, a node of the type with the lowest price per server it would
    actually hold is opened. Servers no node type can take are returned in ``unplaced``.
    """
    ordered = sorted(
        (d for d in demands if d.count > 0),
        key=lambda d: (-d.shape.mem_guarantee, -d.shape.cpu_guarantee_m, d.key),
    )
    nodes: list[Node] = []
    unplaced: dict[str, int] = {}
    # Nodes only ever fill up, so a node with no room for a shape never has room for it again: each
    # shape's first-fit scan starts where its last one ended (a university's courses share a few shapes).
    start: dict[ServerShape, int] = {}
    usable_by_shape: dict[ServerShape, tuple[set[str], dict[str, int]]] = {}
    prices = {t.name: (Fraction(price(t)).limit_denominator(10**9), price(t)) for t in node_types}
    for demand in ordered:
        shape, remaining = demand.shape, demand.count
        if shape not in usable_by_shape:
            per_node = {t.name: servers_per_node(shape, t) for t in node_types}
            usable_by_shape[shape] = ({name for name, n in per_node.items() if n > 0}, per_node)
        usable, per_node = usable_by_shape[shape]
        i = start.get(shape, 0)
        while remaining and i < len(nodes):
            node = nodes[i]
            if node.type.name in usable:
                remaining -= _place(node, demand.key, shape, remaining)
            if remaining:
                i += 1  # this node is full for the shape (or may not take it)
        while remaining > 0:
            choice = _cheapest(node_types, usable, per_node, remaining, prices)
            if choice is None:
                unplaced[demand.key] = unplaced.get(demand.key, 0) + remaining
                break
            node = Node(choice, choice.memory, node_millicores(choice), choice.max_pods)
            nodes.append(node)
            remaining -= _place(node, demand.key, shape, remaining)
            if remaining:
                i = len(nodes)
        start[shape] = i
    return Packing(nodes=nodes, unplaced=dict(sorted(unplaced.items())))


def _place(node: Node, key: str, shape: ServerShape, wanted: int) -> int:
    n = min(wanted, _fit(shape, node.free_mem, node.free_cpu_m, node.free_pods))
    if n:
        node.free_mem -= n * shape.mem_guarantee
        node.free_cpu_m -= n * shape.cpu_guarantee_m
        node.free_pods -= n
        node.servers[key] = node.servers.get(key, 0) + n
    return n


def _cheapest(node_types, usable, per_node, remaining, prices) -> NodeType | None:
    """The usable type with the lowest exact price per server held (then price, then name)."""
    best, best_key = None, None
    for t in node_types:
        if t.name not in usable:
            continue
        held = min(per_node[t.name], remaining)
        exact, plain = prices[t.name]
        # exact / held compared as integers: p/q/held < p2/q2/held2  <=>  p * q2 * held2 < p2 * q * held
        key = (exact.numerator, exact.denominator * held, plain, t.name)
        if best_key is None or _before(key, best_key):
            best, best_key = t, key
    return best


def _before(a: tuple, b: tuple) -> bool:
    left, right = a[0] * b[1], b[0] * a[1]
    return left < right or (left == right and a[2:] < b[2:])


# --- node-share choices ----------------------------------------------------------------------------

#: Shares of a node offered as resource choices: a whole node down to a 32nd.
SHARE_DENOMINATORS = (1, 2, 4, 8, 16, 32)
#: Below this a notebook server with the scientific Python stack does not start reliably.
MIN_SHARE_MEMORY = 512 * 1024**2


def node_shares(node_type: NodeType) -> list[dict]:
    """Resource choices sized to a node, like the better hosted providers offer.

    Each choice is a fraction of the node's allocatable memory with guarantee = limit, so a server
    always has the memory it was promised and is never killed because its neighbours grew; CPU is
    guaranteed in the same proportion and may burst to the whole node (idle neighbours leave cores free).
    """
    out = []
    for den in SHARE_DENOMINATORS:
        if den > node_type.max_pods:
            break
        # Whole MiB, rounded down, so den shares always fit the node.
        memory = (node_type.memory // den) // 1024**2 * 1024**2
        if memory < MIN_SHARE_MEMORY:
            break
        out.append(
            {
                "node_type": node_type.name,
                "share": f"1/{den}",
                "memory_guarantee_bytes": memory,
                "memory_limit_bytes": memory,
                "cpu_guarantee": round(math.floor(node_type.cpu * 1000 / den) / 1000, 3),
                "cpu_limit": node_type.cpu,
                "servers_per_node": den,
                "price_per_server_hour": round(node_type.price_per_hour / den, 4),
            }
        )
    return out


def recommended_share(shape: ServerShape, node_types: list[NodeType]) -> dict | None:
    """The cheapest node share that gives a course its memory limit as a guarantee (``None`` if none does)."""
    wanted = shape.mem_limit if shape.mem_limit is not None else shape.mem_guarantee
    best = None
    for t in node_types:
        if why_not(ServerShape(0, 0, None, None, shape.node_selector), t) is not None:
            continue
        for choice in node_shares(t):
            if choice["memory_guarantee_bytes"] >= wanted:
                key = (choice["price_per_server_hour"], choice["memory_guarantee_bytes"], t.name)
                if best is None or key < best[0]:
                    best = (key, choice)
    return None if best is None else best[1]
