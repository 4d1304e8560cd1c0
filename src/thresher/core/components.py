"""Connected components of the near-duplicate graph: the in-memory reference and the per-node
logic of the distributed algorithm that ``thresher.stages.near_dedup`` runs as Beam rounds.

The distributed algorithm is the alternating large-star / small-star of Kiveris et al. 2014,
"Connected Components in MapReduce and Beyond" (SoCC '14): every round groups the edge list by
node, and each node rewrites only its own neighbourhood. Both operations keep connectivity and
shrink the distance to the component minimum; the fixed point is one star per component whose
centre is the component's smallest node. The paper proves O(log^2 n) rounds and reports about
log n in practice. Memory per worker: one node's neighbourhood, which is at most its component.

A round bound is unrolled into the pipeline graph, so the stage also needs a correct answer
when the bound is too small: ``classify_edge`` splits the final edges into finished star edges
(leaf -> centre) and a residual, resolved with the in-memory ``UnionFind`` (correct for any
residual, and empty once the rounds have converged).

Nodes are strings; "smaller" is plain string order, identical on every worker.
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from thresher.errors import ConfigError

Edge = tuple[str, str]  # always (larger, smaller)

# Buckets up to this size are verified exhaustively (n^2/2 signature comparisons, vectorized);
# larger ones, boilerplate shared by thousands of documents, by greedy pivots (below).
EXACT_BUCKET_LIMIT = 1_000
# A bucket in pivot mode compares at most this many pivots against all its members.
PIVOT_LIMIT = 64


class UnionFind:
    """Disjoint sets with path halving and union by size; the reference implementation."""

    def __init__(self) -> None:
        self._parent: dict[Hashable, Hashable] = {}
        self._size: dict[Hashable, int] = {}

    def find(self, x: Hashable) -> Hashable:
        parent = self._parent
        if x not in parent:
            parent[x] = x
            self._size[x] = 1
            return x
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    def union(self, a: Hashable, b: Hashable) -> bool:
        """Join the sets of ``a`` and ``b``; True when they were apart."""
        ra, rb = self.find(a), self.find(b)
        if ra == rb:
            return False
        if self._size[ra] < self._size[rb]:
            ra, rb = rb, ra
        self._parent[rb] = ra
        self._size[ra] += self._size[rb]
        return True

    def labels(self) -> dict[Any, Any]:
        """node -> smallest node of its set, for every node seen."""
        smallest: dict[Hashable, Any] = {}
        for x in self._parent:
            r = self.find(x)
            if r not in smallest or x < smallest[r]:
                smallest[r] = x
        return {x: smallest[self.find(x)] for x in self._parent}


def components(edges: Iterable[tuple[str, str]]) -> dict[str, str]:
    """In memory: node -> smallest node of its connected component (nodes of ``edges`` only)."""
    uf = UnionFind()
    for a, b in edges:
        uf.union(a, b)
    return uf.labels()


def edge(a: str, b: str) -> Edge:
    return (a, b) if a > b else (b, a)


def large_star(node: str, neighbours: Iterable[str]) -> list[Edge]:
    """Large-star at ``node`` (all its neighbours): connect every *larger* neighbour to the
    smallest of the neighbourhood including ``node``. Edges to smaller neighbours are
    re-emitted by those neighbours' own large-star."""
    nb = set(neighbours)
    nb.discard(node)
    if not nb:
        return []
    m = min(min(nb), node)
    return [(v, m) for v in nb if v > node]


def small_star(node: str, smaller: Iterable[str]) -> list[Edge]:
    """Small-star at ``node`` (its neighbours smaller than it): connect ``node`` and every
    smaller neighbour to the smallest of them."""
    nb = {v for v in smaller if v < node}
    if not nb:
        return []
    m = min(nb)
    return [(v, m) for v in nb if v != m] + [(node, m)]


def star_round(edges: Iterable[Edge]) -> set[Edge]:
    """One large-star then one small-star over an edge list, in memory (the same per-node
    functions the Beam rounds call; used by tests and as executable documentation)."""
    adj: dict[str, set[str]] = {}
    for a, b in edges:
        adj.setdefault(a, set()).add(b)
        adj.setdefault(b, set()).add(a)
    large = {e for n, nb in adj.items() for e in large_star(n, nb)}
    smaller: dict[str, set[str]] = {}
    for a, b in large:
        smaller.setdefault(a, set()).add(b)
    return {e for n, nb in smaller.items() for e in small_star(n, nb)}


def node_roles(smaller: Sequence[str], larger: Sequence[str]) -> tuple[bool, bool]:
    """(is_root, is_leaf) of a node from its distinct smaller and larger neighbours.

    A root has no smaller neighbour; a leaf has exactly one neighbour, smaller than it."""
    return (not smaller, len(smaller) == 1 and not larger)


def classify_edge(leaf_end: bool, root_end: bool) -> bool:
    """An edge (v, m) is a finished star edge when v is a leaf and m a root; removing a leaf
    keeps connectivity, so labels = residual components + leaves copied from their root."""
    return leaf_end and root_end


def finish(edges: Iterable[Edge]) -> dict[str, str]:
    """In memory: the finalization the stage runs after its rounds (star edges + residual)."""
    es = {edge(a, b) for a, b in edges if a != b}
    smaller: dict[str, list[str]] = {}
    larger: dict[str, list[str]] = {}
    for a, b in es:
        smaller.setdefault(a, []).append(b)
        larger.setdefault(b, []).append(a)
    nodes = set(smaller) | set(larger)
    roles = {n: node_roles(smaller.get(n, []), larger.get(n, [])) for n in nodes}
    star = {(v, m) for v, m in es if classify_edge(roles[v][1], roles[m][0])}
    residual = components(es - star)
    labels = dict(residual)
    for v, m in star:
        root_label = residual.get(m, m)
        labels[v] = root_label
        labels.setdefault(m, root_label)
    return labels


def distributed_components(edges: Iterable[tuple[str, str]], rounds: int) -> dict[str, str]:
    """The whole distributed algorithm in memory: ``rounds`` star rounds, then ``finish``.

    Equal to ``components`` for every ``rounds >= 0`` (fewer rounds, larger residual)."""
    es = {edge(a, b) for a, b in edges if a != b}
    for _ in range(rounds):
        es = star_round(es)
    return finish(es)


def default_rounds(max_nodes: int) -> int:
    """A round bound that converges in practice: about log2(n) star rounds plus slack."""
    return max(4, math.ceil(math.log2(max(2, max_nodes))) + 2)


@dataclass(frozen=True)
class BucketLinks:
    """What linking one LSH bucket produced: spanning edges (a, b, estimated Jaccard or None
    when unverified), distinct members, signature comparisons made, members left unlinked by
    the pivot cap."""

    edges: list[tuple[str, str, float | None]]
    members: int = 0
    comparisons: int = 0
    unlinked: int = 0


def link_bucket(
    members: Iterable[tuple[str, bytes | np.ndarray]],
    threshold: float,
    verify: bool = True,
    exact_limit: int = EXACT_BUCKET_LIMIT,
    pivot_limit: int = PIVOT_LIMIT,
) -> BucketLinks:
    """Candidate edges inside one bucket of (node, signature) members, never more than n-1.

    ``verify=False``: a star from the smallest node to every other (LSH candidates taken as
    is). ``verify=True``: only pairs with estimated Jaccard >= ``threshold`` link, and only the
    edges of a spanning forest of those pairs are emitted (connectivity is all the components
    need). Up to ``exact_limit`` members every pair is compared; beyond, greedy pivots: the
    smallest unassigned member is compared with all members and absorbs those above the
    threshold, at most ``pivot_limit`` times (members never reached stay unlinked here and
    are counted; other bands may still link them). Deterministic: members are sorted.
    """
    by_node: dict[str, bytes | np.ndarray] = {}
    for node, sig in members:
        by_node.setdefault(node, sig)
    nodes = sorted(by_node)
    n = len(nodes)
    if n < 2:
        return BucketLinks([], n)
    if not verify:
        return BucketLinks([(v, nodes[0], None) for v in nodes[1:]], n)
    matrix = np.stack(
        [
            np.frombuffer(s, dtype="<u4") if isinstance(s, bytes) else s
            for s in (by_node[x] for x in nodes)
        ]
    )
    uf = UnionFind()
    out: list[tuple[str, str, float | None]] = []
    comparisons = 0
    if n <= exact_limit:
        for i in range(n - 1):
            sims = (matrix[i + 1 :] == matrix[i]).mean(axis=1)
            comparisons += n - 1 - i
            for j in np.flatnonzero(sims >= threshold):
                k: int = i + 1 + int(j)
                if uf.union(nodes[i], nodes[k]):
                    out.append((nodes[k], nodes[i], float(sims[j])))
        return BucketLinks(out, n, comparisons)
    assigned = np.zeros(n, dtype=bool)
    for _ in range(pivot_limit):
        free = np.flatnonzero(~assigned)
        if len(free) == 0:
            break
        i = int(free[0])
        sims = (matrix == matrix[i]).mean(axis=1)
        comparisons += n - 1
        hits = np.flatnonzero(sims >= threshold)
        for hit in hits.tolist():
            if hit != i and uf.union(nodes[i], nodes[hit]):
                a, b = edge(nodes[i], nodes[hit])
                out.append((a, b, float(sims[hit])))
        assigned[hits] = True
        assigned[i] = True
    return BucketLinks(out, n, comparisons, int(np.count_nonzero(~assigned)))


@dataclass(frozen=True)
class Candidate:
    """What the keep policy sees of one component member (never its text)."""

    node: str
    length: int
    source: str = ""
    position: int = 0
    previous: bool = False  # from an earlier output (incremental dedup): always wins
    signals: Mapping[str, float] | None = None


def keep_rank(policy: str):
    """Sort key for ``policy``; the smallest key is kept. Earlier outputs always come first
    (their records are already published). Policies:

    - ``longest``: most characters, then smallest node id (the default);
    - ``smallest_id``: smallest node id;
    - ``first``: smallest (source, position), then node id;
    - ``signal:NAME``: highest ``signals[NAME]`` (missing = lowest), then longest, then id.
    """
    if policy == "longest":
        return lambda c: (not c.previous, -c.length, c.node)
    if policy == "smallest_id":
        return lambda c: (not c.previous, c.node)
    if policy == "first":
        return lambda c: (not c.previous, c.source, c.position, c.node)
    if policy.startswith("signal:"):
        name = policy.split(":", 1)[1]

        def by_signal(c: Candidate) -> tuple[Any, ...]:
            value = (c.signals or {}).get(name)
            missing = value is None or value != value  # NaN counts as missing
            return (
                not c.previous,
                missing,
                -(value or 0.0) if not missing else 0.0,
                -c.length,
                c.node,
            )

        return by_signal
    raise ConfigError(
        f"dedup.near.keep={policy!r} is not a keep policy; use longest, smallest_id, first or "
        "signal:NAME"
    )


def choose_keeper(members: Iterable[Candidate], policy: str) -> Candidate:
    return min(members, key=keep_rank(policy))
