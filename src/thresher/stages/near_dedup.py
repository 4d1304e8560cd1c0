"""``DropNearDuplicates``: MinHash + LSH candidates, verified, clustered by distributed
connected components; one record kept per cluster.

Steps (every label stable):

1. ``ComputeSignatures`` — per document: shingles -> datasketch MinHash signature -> one LSH
   key per band (``thresher.core.minhash``). Emits (band key, node) pairs, the node's keep
   information with its signature, and an index entry.
2. ``GroupByBand`` + ``FindCandidates`` — buckets of node ids only (no signatures): a bucket
   with two or more members (at least one of this run) names its members as candidates.
3. ``JoinSignatures`` + ``GroupCandidates`` + ``LinkBuckets`` — candidates get their signature
   and meet again per bucket, where ``core.components.link_bucket`` verifies pairs against the
   threshold and emits at most n-1 spanning edges per bucket (never a quadratic pair list).
4. ``Components`` — alternating large-star / small-star rounds (Kiveris et al. 2014) unrolled
   ``component_rounds`` times, then a finish that labels star leaves from their centre and
   resolves any unconverged residual with union-find (``residual_edges`` in the stats; 0 when
   the rounds converged). The rounds keep a distributed run from gathering its edges on one
   worker; the labels are the same for any number of rounds. ``auto`` (the default) unrolls
   none on the local runners, where the machine holds every edge anyway (each round cost two
   stages: 0.1-0.25 s of every local pipeline or batch for 12), and ``DISTRIBUTED_ROUNDS``
   elsewhere.
5. ``GroupByComponent`` + ``ChooseKeepers`` — the keep policy picks one member per component;
   the others are decided duplicates of it, with the estimated Jaccard to the kept one.
6. ``ApplyDecisions`` — documents joined with their decision: kept ones go on, the others
   leave with fate ``duplicate``.

Memory per worker: one bucket (its node ids, then its candidates' signatures) or one
component (its members' signatures), never the corpus; the only gathered collection is the
unconverged residual of step 4, empty when the rounds suffice.

Incremental dedup: ``against`` names earlier outputs. Their ``index/`` rows (signatures and
band keys of their kept documents) join steps 2-5 as nodes that always win the keep policy,
so a new record matching an old one leaves as a duplicate naming the old record's id; old
texts are never read again.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import apache_beam as beam
from apache_beam.metrics import Metrics
from apache_beam.options.pipeline_options import StandardOptions
from apache_beam.pvalue import PCollection, TaggedOutput

from thresher import progress
from thresher.config import NearDedupConfig
from thresher.core import components as cc
from thresher.core.minhash import LshParams, MinHasher, jaccard, to_bytes
from thresher.io import dedup_index
from thresher.records import ROLES, TURN_SEPARATOR, Document, IndexEntry, duplicate_fate
from thresher.runners import is_local
from thresher.stages._common import DEAD, FATES, MAIN, STATS, errors_to_dead_letters

STAGE = "near_dedup"
INDEX = "index"  # extra output: PCollection[IndexEntry] of every signed document of this run

_BANDS = "bands"
_INFO = "info"
_CURRENT = "c:"
_PREVIOUS = "p:"


def lsh_params(cfg: NearDedupConfig) -> LshParams:
    return LshParams.build(
        threshold=cfg.threshold,
        num_perm=cfg.num_perm,
        ngram=cfg.ngram,
        shingle=cfg.shingle,
        bands=cfg.bands,
        rows=cfg.rows,
        seed=cfg.seed,
        verify=cfg.verify,
    )


def _record_id(node: str) -> str:
    return node[len(_CURRENT) :]


def _cluster_id(root: str) -> str:
    return "n" + hashlib.blake2b(root.encode("utf-8"), digest_size=8).hexdigest()


@dataclass(frozen=True)
class _Decision:
    duplicate_of: str
    cluster_id: str
    jaccard: float
    cluster_size: int


def compared_text(doc: Document, roles: Sequence[str] | None) -> str:
    """What near dedup compares: a document's text; a conversation's turns of ``roles``
    (``dedup.near.roles``; None: every turn), in order, blank-line separated."""
    if roles is None or not doc.is_chat:
        return doc.text
    return TURN_SEPARATOR.join(seg.text for seg in doc.segments(roles))


class _SignFn(beam.DoFn):
    """Document -> (node, document) on main; (band key, node) and (node, (candidate info,
    signature)) tagged; an ``IndexEntry`` tagged ``index``. No shingles: main only."""

    def __init__(self, params: LshParams, signal: str | None, roles: Sequence[str]) -> None:
        self._hasher = MinHasher(params)
        self._signal = signal
        # None: every turn, i.e. the conversation's text view as it is.
        self._roles = None if set(roles) >= set(ROLES) else tuple(roles)
        self._total = Metrics.counter(STAGE, "total")
        self._empty = Metrics.counter(STAGE, "no_shingles")

    def setup(self) -> None:
        self._hasher.template()  # permutations built once per DoFn instance

    def process(self, doc: Document) -> Iterator[Any]:
        self._total.inc()
        progress.tick(STAGE)
        node = _CURRENT + doc.id
        text = compared_text(doc, self._roles)
        sig = self._hasher.signature(text)
        yield node, doc
        if sig is None:
            self._empty.inc()
            return
        keys = self._hasher.band_keys(sig)
        raw = to_bytes(sig)
        signals = (
            {self._signal: doc.signals[self._signal]}
            if (self._signal and self._signal in doc.signals)
            else None
        )
        info = cc.Candidate(node, len(text), doc.source, doc.position, False, signals)
        yield TaggedOutput(_INFO, (node, (info, raw)))
        for key in keys:
            yield TaggedOutput(_BANDS, (key, node))
        yield TaggedOutput(
            INDEX, IndexEntry(doc.id, doc.source, doc.position, len(text), raw, tuple(keys))
        )


class _ReadIndexFn(beam.DoFn):
    """An earlier output's index shard -> its rows as previous-run nodes, only those sharing a
    band key with this run's documents (the side input): the others can never be candidates,
    so what flows is bounded by this run, not by the earlier outputs."""

    def __init__(self) -> None:
        self._wanted: tuple[int, Any] | None = None

    def process(self, path: str, current: list[bytes]) -> Iterator[Any]:
        import pyarrow as pa

        if self._wanted is None or self._wanted[0] != id(current):
            self._wanted = (id(current), pa.array(sorted(set(current)), type=pa.binary()))
        for e in dedup_index.read_entries(path, self._wanted[1]):
            node = _PREVIOUS + e.id
            info = cc.Candidate(node, e.length, e.source, e.position, True, None)
            yield TaggedOutput(_INFO, (node, (info, e.signature)))
            for key in e.band_keys:
                yield TaggedOutput(_BANDS, (key, node))


def _find_candidates(element: tuple[bytes, Iterable[str]]) -> list[tuple[str, bytes]]:
    """(band key, nodes) -> (node, band key) for each member of a bucket that holds two or more
    distinct nodes, one of them from this run. Holds the bucket's distinct node ids."""
    key, nodes = element
    distinct = set(nodes)
    if len(distinct) < 2 or not any(n.startswith(_CURRENT) for n in distinct):
        return []
    return [(n, key) for n in sorted(distinct)]


def _attach_signature(element: tuple[str, dict[str, list[Any]]]) -> list[Any]:
    """(node, {info, bucket}) -> (bucket key, (node, signature)) per bucket, plus the node's
    info tagged for the component step (candidates only)."""
    node, joined = element
    infos = joined[_INFO]
    buckets = joined["bucket"]
    if not buckets or not infos:
        return []
    # Two records sharing an id share a node; the first by (source, position) speaks for it.
    info, raw = min(infos, key=lambda x: (x[0].source, x[0].position))
    return [TaggedOutput(_INFO, (node, (info, raw)))] + [
        (key, (node, raw)) for key in sorted(set(buckets))
    ]


class _LinkFn(beam.DoFn):
    def __init__(self, threshold: float, verify: bool) -> None:
        self._threshold = threshold
        self._verify = verify
        self._buckets = Metrics.counter(STAGE, "candidate_buckets")
        self._comparisons = Metrics.counter(STAGE, "comparisons")
        self._edges = Metrics.counter(STAGE, "edges")
        self._unlinked = Metrics.counter(STAGE, "bucket_unlinked")
        self._size = Metrics.distribution(STAGE, "bucket_size")

    def process(self, element: tuple[bytes, Iterable[tuple[str, bytes]]]) -> Iterator[Any]:
        _key, members = element
        links = cc.link_bucket(members, self._threshold, self._verify)
        self._buckets.inc()
        self._size.update(links.members)
        self._comparisons.inc(links.comparisons)
        self._edges.inc(len(links.edges))
        if links.unlinked:
            self._unlinked.inc(links.unlinked)
            yield TaggedOutput(STATS, ("near_dedup.bucket_unlinked", links.unlinked))
        for a, b, _sim in links.edges:
            yield cc.edge(a, b)


def _both_ways(e: tuple[str, str]) -> list[tuple[str, str]]:
    return [(e[0], e[1]), (e[1], e[0])]


def _large_star(kv: tuple[str, Iterable[str]]) -> list[tuple[str, str]]:
    return cc.large_star(kv[0], kv[1])


def _small_star(kv: tuple[str, Iterable[str]]) -> list[tuple[str, str]]:
    return cc.small_star(kv[0], kv[1])


def _tag_ends(e: tuple[str, str]) -> list[tuple[str, tuple[str, str]]]:
    big, small = e
    return [(big, ("s", small)), (small, ("l", big))]


def _edge_roles(kv: tuple[str, Iterable[tuple[str, str]]]) -> Iterator[Any]:
    """One node's neighbourhood -> for each of its edges, this end's role."""
    node, tagged = kv
    smaller = sorted({n for t, n in tagged if t == "s"})
    larger = sorted({n for t, n in tagged if t == "l"})
    is_root, is_leaf = cc.node_roles(smaller, larger)
    for m in smaller:
        yield (node, m), ("leaf", is_leaf)
    for v in larger:
        yield (v, node), ("root", is_root)


def _classify(kv: tuple[tuple[str, str], Iterable[tuple[str, bool]]]) -> Iterator[Any]:
    e, roles = kv
    flags = dict(roles)
    if cc.classify_edge(flags.get("leaf", False), flags.get("root", False)):
        yield e[1], e[0]  # star edge keyed by its centre: (centre, leaf)
    else:
        yield TaggedOutput("residual", e)


def _resolve_residual(kv: tuple[int, Iterable[tuple[str, str]]]) -> Iterator[Any]:
    labels = cc.components(kv[1])
    yield TaggedOutput(STATS, ("near_dedup.residual_nodes", len(labels)))
    yield from sorted(labels.items())


def _label_stars(element: tuple[str, dict[str, list[Any]]]) -> list[tuple[str, str]]:
    centre, joined = element
    leaves = sorted(set(joined["leaf"]))
    if not leaves:
        return []  # a residual node that is no star centre: labelled by the residual step
    if joined["label"]:
        return [(leaf, joined["label"][0]) for leaf in leaves]
    return [(centre, centre)] + [(leaf, centre) for leaf in leaves]


# ``component_rounds: auto`` on runners that are not local.
DISTRIBUTED_ROUNDS = 12


def component_rounds(setting: int | str, runner: Any) -> int:
    """The rounds to unroll for the recipe's ``component_rounds`` on ``runner`` (a
    ``--runner`` value)."""
    if isinstance(setting, int):
        return setting
    return 0 if is_local(runner) else DISTRIBUTED_ROUNDS


class ConnectedComponents(beam.PTransform):
    """PCollection[(larger, smaller)] edges -> {"labels": (node, smallest node of its
    component), "stats": residual counts}. See ``thresher.core.components``.

    Cost: each round is two GroupByKeys over the current edge list (about one edge per
    non-root node once stars form); ``rounds`` rounds are always run (a pipeline graph cannot
    loop), rounds after convergence only pass stars through. A node's neighbourhood, at most
    its component, is the largest thing one worker holds.
    """

    def __init__(self, rounds: int) -> None:
        super().__init__()
        self._rounds = rounds

    def expand(self, edges: PCollection) -> dict[str, PCollection]:
        es = edges
        for r in range(self._rounds):
            es = (
                es
                | f"Round{r:02d}BothWays" >> beam.FlatMap(_both_ways)
                | f"Round{r:02d}GroupNeighbours" >> beam.GroupByKey()
                | f"Round{r:02d}LargeStar" >> beam.FlatMap(_large_star)
                | f"Round{r:02d}GroupSmaller" >> beam.GroupByKey()
                | f"Round{r:02d}SmallStar" >> beam.FlatMap(_small_star)
            )
        classified = (
            es
            | "TagEnds" >> beam.FlatMap(_tag_ends)
            | "GroupEnds" >> beam.GroupByKey()
            | "EdgeRoles" >> beam.FlatMap(_edge_roles)
            | "GroupByEdge" >> beam.GroupByKey()
            | "ClassifyEdges" >> beam.FlatMap(_classify).with_outputs("residual", main="star")
        )
        resolved = (
            classified["residual"]
            | "KeyResidual" >> beam.Map(lambda e: (0, e))
            | "GatherResidual" >> beam.GroupByKey()
            | "ResolveResidual"
            >> beam.FlatMap(_resolve_residual).with_outputs(STATS, main="labels")
        )
        residual_edges = classified["residual"] | "CountResidual" >> beam.Map(
            lambda _: ("near_dedup.residual_edges", 1)
        )
        stars = (
            {"leaf": classified["star"], "label": resolved["labels"]}
            | "JoinStarCentres" >> beam.CoGroupByKey()
            | "LabelStars" >> beam.FlatMap(_label_stars)
        )
        labels = (stars, resolved["labels"]) | "AllLabels" >> beam.Flatten()
        stats = (resolved[STATS], residual_edges) | "ComponentStats" >> beam.Flatten()
        return {"labels": labels, STATS: stats}


def _to_component(element: tuple[str, dict[str, list[Any]]]) -> list[Any]:
    _node, joined = element
    if joined["label"] and joined[_INFO]:
        return [(joined["label"][0], joined[_INFO][0])]
    return []


class _ChooseKeeperFn(beam.DoFn):
    """(component root, [(candidate info, signature)]) -> (node, decision) for every member of
    this run that is not the kept one. Holds one component."""

    def __init__(self, policy: str) -> None:
        self._policy = policy
        self._sizes = Metrics.distribution(STAGE, "cluster_size")
        self._previous = Metrics.counter(STAGE, "previous_matches")

    def process(self, element: tuple[str, Iterable[tuple[cc.Candidate, bytes]]]) -> Iterator[Any]:
        root, members = element
        sigs = {info.node: (info, raw) for info, raw in members}
        keeper = cc.choose_keeper((info for info, _ in sigs.values()), self._policy)
        keeper_sig = sigs[keeper.node][1]
        cluster = _cluster_id(root)
        size = len(sigs)
        self._sizes.update(size)
        yield TaggedOutput(STATS, ("near_dedup.components", 1))
        if keeper.previous:
            self._previous.inc()
        for node, (info, raw) in sorted(sigs.items()):
            if node == keeper.node or info.previous:
                continue
            yield (
                node,
                _Decision(
                    duplicate_of=_record_id(keeper.node),
                    cluster_id=cluster,
                    jaccard=round(jaccard(raw, keeper_sig), 4),
                    cluster_size=size,
                ),
            )


class _ApplyFn(beam.DoFn):
    """(node, {doc, decision}) -> the documents, or their duplicate fates."""

    def __init__(self) -> None:
        self._dups = Metrics.counter(STAGE, "duplicate")

    def process(self, element: tuple[str, dict[str, list[Any]]]) -> Iterator[Any]:
        _node, joined = element
        decisions = joined["decision"]
        for doc in joined["doc"]:
            if not decisions:
                yield doc
                continue
            d: _Decision = decisions[0]
            self._dups.inc()
            details = {"jaccard_estimate": d.jaccard, "cluster_size": d.cluster_size}
            yield TaggedOutput(
                FATES,
                duplicate_fate(doc, STAGE, "near_duplicate", d.duplicate_of, d.cluster_id, details),
            )
        if decisions and joined["doc"]:
            yield TaggedOutput(STATS, ("near_dedup.duplicates", len(joined["doc"])))


def _joined_docs(bad: Any) -> Any:
    """A failed (node, {doc, decision}) element as (node, documents) for dead-lettering."""
    (node, joined), error = bad
    return (node, list(joined.get("doc", []))), error


class DropNearDuplicates(beam.PTransform):
    """Remove near duplicates: one document kept per cluster of estimated Jaccard similarity
    >= ``threshold`` over word (or character) n-gram shingles.

    Input ``PCollection[Document]``; output ``{"main", "fates", "dead_letter", "stats",
    "index"}``. A removed document leaves with fate ``duplicate``, reason ``near_duplicate``,
    ``duplicate_of`` = the kept document's id (an id of an earlier output in incremental runs),
    ``cluster_id`` = ``n`` + 16 hex digits of the component, and ``details`` =
    ``{"jaccard_estimate", "cluster_size"}``. Documents without word characters have no
    shingles and pass untouched. ``index`` holds an ``IndexEntry`` for every signed document
    (the pipeline writes those of kept documents to ``DIR/index/``).

    Deterministic: signatures are seeded from the recipe, candidates and components are sorted
    by node id, and the keep policy (``longest`` text, then smallest id, by default) is a
    total order, so every runner, worker count and bundle order removes the same records.
    Output can hold raw PII. Metrics (namespace ``near_dedup``): ``total``, ``no_shingles``,
    ``candidate_buckets``, ``bucket_size``, ``comparisons``, ``edges``, ``bucket_unlinked``,
    ``cluster_size``, ``previous_matches``, ``duplicate``, ``dead_letter``. Stats:
    ``near_dedup.duplicates``, ``.components``, ``.residual_edges``, ``.residual_nodes``,
    ``.bucket_unlinked``.

    Example::

        out = docs | "DropNearDuplicates" >> DropNearDuplicates(config.dedup.near)
        kept, fates = out["main"], out["fates"]
    """

    def __init__(self, cfg: NearDedupConfig, previous_index: Sequence[str] = ()) -> None:
        super().__init__()
        self._cfg = cfg
        self._params = lsh_params(cfg)
        cc.keep_rank(cfg.keep)  # unknown policies fail here, before any data moves
        self._previous_files: list[str] = []
        for directory in cfg.against:
            files = dedup_index.index_files(directory)
            dedup_index.check_compatible(directory, files, self._params.as_dict())
            self._previous_files.extend(files)
        # Batched runs: the index shards of earlier batches (same recipe, same parameters).
        self._previous_files.extend(previous_index)

    @property
    def params(self) -> LshParams:
        return self._params

    def expand(self, docs: PCollection) -> dict[str, PCollection]:
        cfg = self._cfg
        signal = cfg.keep.split(":", 1)[1] if cfg.keep.startswith("signal:") else None
        signed = docs | "ComputeSignatures" >> beam.ParDo(
            _SignFn(self._params, signal, self._cfg.roles)
        ).with_outputs(_BANDS, _INFO, INDEX, main=MAIN).with_exception_handling(
            dead_letter_tag="failed"
        )
        sign_failures = signed["failed"] | "SignatureFailures" >> beam.FlatMap(
            errors_to_dead_letters(STAGE)
        )
        bands: Sequence[PCollection] = [signed[_BANDS]]
        infos: Sequence[PCollection] = [signed[_INFO]]
        if self._previous_files:
            current = signed[_BANDS] | "CurrentBandKeys" >> beam.Map(lambda kv: kv[0])
            previous = (
                docs.pipeline
                | "PreviousIndexFiles" >> beam.Create(sorted(self._previous_files))
                | "ReadPreviousIndex"
                >> beam.ParDo(_ReadIndexFn(), beam.pvalue.AsList(current)).with_outputs(
                    _BANDS, _INFO, main="unused"
                )
            )
            bands = [*bands, previous[_BANDS]]
            infos = [*infos, previous[_INFO]]
        all_bands = tuple(bands) | "AllBandKeys" >> beam.Flatten()
        all_infos = tuple(infos) | "AllSignatures" >> beam.Flatten()

        candidates = (
            all_bands
            | "GroupByBand" >> beam.GroupByKey()
            | "FindCandidates" >> beam.FlatMap(_find_candidates)
        )
        attached = (
            {_INFO: all_infos, "bucket": candidates}
            | "JoinSignatures" >> beam.CoGroupByKey()
            | "AttachSignatures" >> beam.FlatMap(_attach_signature).with_outputs(_INFO, main="sig")
        )
        linked = (
            attached["sig"]
            | "GroupCandidates" >> beam.GroupByKey()
            | "LinkBuckets"
            >> beam.ParDo(_LinkFn(cfg.threshold, cfg.verify)).with_outputs(STATS, main="edges")
        )
        runner = docs.pipeline.options.view_as(StandardOptions).runner
        rounds = component_rounds(cfg.component_rounds, runner)
        comps = linked["edges"] | "Components" >> ConnectedComponents(rounds)
        decided = (
            {"label": comps["labels"], _INFO: attached[_INFO]}
            | "JoinLabels" >> beam.CoGroupByKey()
            | "ToComponents" >> beam.FlatMap(_to_component)
            | "GroupByComponent" >> beam.GroupByKey()
            | "ChooseKeepers"
            >> beam.ParDo(_ChooseKeeperFn(cfg.keep)).with_outputs(STATS, main="decisions")
        )
        applied = (
            {"doc": signed[MAIN], "decision": decided["decisions"]}
            | "JoinDecisions" >> beam.CoGroupByKey()
            | "ApplyDecisions"
            >> beam.ParDo(_ApplyFn())
            .with_outputs(FATES, STATS, main=MAIN)
            .with_exception_handling(dead_letter_tag="failed")
        )
        apply_failures = (
            applied["failed"]
            | "ApplyFailuresAsDocs" >> beam.Map(_joined_docs)
            | "ApplyFailures" >> beam.FlatMap(errors_to_dead_letters(STAGE))
        )
        dead = (sign_failures, apply_failures) | "DeadLetters" >> beam.Flatten()
        stats = (
            linked[STATS],
            comps[STATS],
            decided[STATS],
            applied[STATS],
        ) | "Stats" >> beam.Flatten()
        return {
            MAIN: applied[MAIN],
            FATES: applied[FATES],
            DEAD: dead,
            STATS: stats,
            INDEX: signed[INDEX],
        }
