"""Unit tests of near-dedup's core: shingles, signatures, band keys, bucket linking, the
per-round logic of the distributed components, keep policies, and index deletion."""

from __future__ import annotations

import functools
import random

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import xxhash
from datasketch import MinHash
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.conftest import fresh_python
from thresher.core import components as cc
from thresher.core.minhash import (
    LshParams,
    MinHasher,
    candidate_probability,
    jaccard,
    optimal_bands,
    shingles,
    to_bytes,
)
from thresher.errors import ConfigError
from thresher.io import dedup_index
from thresher.records import IndexEntry
from thresher.schema import index_row, index_schema

# ---------------------------------------------------------------- shingles


@pytest.mark.parametrize(
    ("text", "ngram", "kind", "expected"),
    [
        (
            "The cat sat on the mat",
            3,
            "word",
            [b"the cat sat", b"cat sat on", b"sat on the", b"on the mat"],
        ),
        ("The CAT, sat!", 2, "word", [b"the cat", b"cat sat"]),
        ("one two", 5, "word", [b"one two"]),  # shorter than ngram: one shingle of all
        ("...  !!", 5, "word", []),  # no word characters: no shingles
        ("", 5, "word", []),
        (
            "东京都の天気",
            3,
            "char",
            ["东京都".encode(), "京都の".encode(), "都の天".encode(), "の天気".encode()],
        ),
        ("ab cd", 3, "char", [b"ab ", b"b c", b" cd"]),
        ("ab", 3, "char", [b"ab"]),
    ],
)
def test_shingles(text, ngram, kind, expected):
    assert shingles(text, ngram, kind) == expected


def test_shingles_ignore_case_punctuation_and_spacing():
    assert shingles("Hello,   World - again!", 2) == shingles("hello world again", 2)
    assert shingles("hello world again", 2) != shingles("hello word again", 2)


# ---------------------------------------------------------------- parameters


@pytest.mark.parametrize(
    ("threshold", "verify", "expected"),
    [(0.8, False, (9, 13)), (0.9, False, (5, 25)), (0.8, True, (14, 9)), (0.9, True, (8, 16))],
)
def test_optimal_bands_from_datasketch(threshold, verify, expected):
    assert optimal_bands(threshold, 128, verify) == expected
    params = LshParams.build(threshold=threshold, num_perm=128, verify=verify)
    assert (params.bands, params.rows) == expected


def test_scipy_integrators_load_only_for_the_optimizer():
    """Importing the module (as a worker or the warm server does) leaves SciPy's integrators
    unloaded; the optimizer's first call loads them, and its answers are those of datasketch
    imported with the real module in place (another fresh process)."""
    probe = (
        "import json, sys; import thresher.core.minhash as m; "
        "before = 'scipy.integrate' in sys.modules; "
        "got = [m.optimal_bands(t, n, v) for t in (0.5, 0.8, 0.95) for n in (64, 128) "
        "for v in (False, True)]; "
        "real = sys.modules['scipy.integrate'].quad.__module__; "
        "print(json.dumps([before, got, real]))"
    )
    reference = (
        "import json, scipy.integrate; from datasketch.lsh import _optimal_param; "
        "print(json.dumps([_optimal_param(t, n, *w) for t in (0.5, 0.8, 0.95) for n in (64, 128) "
        "for w in ((0.5, 0.5), (0.1, 0.9))]))"
    )
    (before, got, real), want = fresh_python(probe, reference)
    assert before is False
    assert real.startswith("scipy.integrate")
    assert got == want


def test_explicit_bands_and_rows_win():
    assert LshParams.build(bands=16, rows=8).as_dict()["bands"] == 16


@pytest.mark.parametrize(
    ("kwargs", "names"),
    [
        ({"bands": 4}, "dedup.near.rows"),
        ({"rows": 4}, "dedup.near.bands"),
        ({"bands": 20, "rows": 10, "num_perm": 128}, "dedup.near.num_perm=128"),
    ],
)
def test_bad_band_parameters_name_the_keys(kwargs, names):
    with pytest.raises(ConfigError, match=names):
        LshParams.build(**kwargs)


def test_candidate_probability_is_an_s_curve():
    assert candidate_probability(0.95, 9, 13) > 0.99
    assert candidate_probability(0.5, 9, 13) < 0.01


# ---------------------------------------------------------------- signatures

TEXT = " ".join(f"word{i % 97} filler{i % 13}" for i in range(300))


def test_signature_is_datasketch_minhash_with_seeded_xxhash():
    hasher = MinHasher(LshParams.build(seed=7))
    sig = hasher.signature(TEXT)
    ref = MinHash(num_perm=128, seed=7, hashfunc=functools.partial(xxhash.xxh32_intdigest, seed=7))
    ref.update_batch(shingles(TEXT))
    assert sig is not None and sig.dtype == np.dtype("<u4")
    assert np.array_equal(sig, ref.hashvalues)
    assert hasher.lean(sig).jaccard(hasher.lean(sig)) == 1.0


def test_signature_deterministic_bulk_equal_and_seeded():
    texts = [TEXT, TEXT + " and a tail", "!!!", "short text"]
    a = MinHasher(LshParams.build(seed=1))
    b = MinHasher(LshParams.build(seed=1))
    bulk = a.signatures(texts)
    for text, from_bulk in zip(texts, bulk, strict=True):
        one = b.signature(text)
        assert (one is None) == (from_bulk is None)
        if one is not None:
            assert np.array_equal(one, from_bulk)
    other_seed = MinHasher(LshParams.build(seed=2)).signature(TEXT)
    assert not np.array_equal(a.signature(TEXT), other_seed)
    assert a.signature("!!! ...") is None


def test_jaccard_estimate_tracks_similarity():
    rng = random.Random(0)
    words = [f"w{rng.randrange(5000)}" for _ in range(400)]
    edited = list(words)
    for i in rng.sample(range(400), 8):
        edited[i] = "changed"
    hasher = MinHasher(LshParams.build())
    s1, s2 = hasher.signature(" ".join(words)), hasher.signature(" ".join(edited))
    unrelated = hasher.signature(" ".join(f"v{rng.randrange(5000)}" for _ in range(400)))
    assert jaccard(s1, s2) > 0.8
    assert jaccard(to_bytes(s1), to_bytes(s2)) == jaccard(s1, s2)
    assert jaccard(s1, unrelated) < 0.1


def test_band_keys_one_per_band_and_local_to_their_band():
    hasher = MinHasher(LshParams.build())
    sig = hasher.signature(TEXT)
    keys = hasher.band_keys(sig)
    assert len(keys) == 14 and len(set(keys)) == 14
    assert all(len(k) == 10 for k in keys)
    changed = sig.copy()
    changed[0] ^= 1  # first row of band 0
    other = hasher.band_keys(changed)
    assert other[0] != keys[0] and other[1:] == keys[1:]


# ---------------------------------------------------------------- bucket linking


def _sig(value: int, n: int = 128) -> bytes:
    return np.full(n, value, dtype="<u4").tobytes()


def test_huge_bucket_gives_linear_edges_not_quadratic_pairs():
    members = [(f"c:{i:05d}", _sig(7)) for i in range(2000)]
    links = cc.link_bucket(members, 0.8, verify=True)
    assert len(links.edges) == 1999  # a spanning tree, not 2000*1999/2 pairs
    assert links.unlinked == 0 and links.members == 2000
    assert cc.components((a, b) for a, b, _ in links.edges) == {n: "c:00000" for n, _ in members}
    star = cc.link_bucket(members, 0.8, verify=False)
    assert len(star.edges) == 1999
    assert {b for _a, b, _ in star.edges} == {"c:00000"}


def test_bucket_verification_drops_false_positives():
    a = np.arange(128, dtype="<u4")
    near = a.copy()
    near[:10] += 1000  # 118/128 = 0.92 equal
    far = a.copy()
    far[:60] += 1000  # 68/128 = 0.53 equal
    links = cc.link_bucket([("x", a.tobytes()), ("y", near.tobytes()), ("z", far.tobytes())], 0.8)
    assert [(e[0], e[1]) for e in links.edges] == [("y", "x")]
    assert links.edges[0][2] == pytest.approx(118 / 128)
    assert links.comparisons == 3
    assert cc.link_bucket([("x", a.tobytes())], 0.8).edges == []


def test_pivot_mode_links_groups_and_counts_unreached():
    members = [(f"n{i:03d}", _sig(i % 3)) for i in range(30)]
    links = cc.link_bucket(members, 0.8, exact_limit=10, pivot_limit=2)
    labels = cc.components((a, b) for a, b, _ in links.edges)
    assert len(links.edges) == 18  # two groups of ten linked, the third group unreached
    assert len(set(labels.values())) == 2
    assert links.unlinked == 10
    full = cc.link_bucket(members, 0.8, exact_limit=10, pivot_limit=64)
    assert full.unlinked == 0 and len(full.edges) == 27


# ---------------------------------------------------------------- components


@pytest.mark.parametrize(
    ("node", "neighbours", "expected"),
    [
        ("c", ["a", "d", "e"], [("d", "a"), ("e", "a")]),
        ("a", ["b", "c"], [("b", "a"), ("c", "a")]),
        ("e", ["a", "b"], []),  # no larger neighbour: nothing to emit
        ("a", [], []),
    ],
)
def test_large_star(node, neighbours, expected):
    assert sorted(cc.large_star(node, neighbours)) == expected


@pytest.mark.parametrize(
    ("node", "smaller", "expected"),
    [
        ("e", ["b", "c"], [("c", "b"), ("e", "b")]),
        ("e", ["b"], [("e", "b")]),
        ("b", [], []),
    ],
)
def test_small_star(node, smaller, expected):
    assert sorted(cc.small_star(node, smaller)) == expected


def test_rounds_converge_to_stars_on_a_path():
    nodes = [f"{i:03d}" for i in range(64)]
    random.Random(5).shuffle(nodes)
    es = {cc.edge(nodes[i], nodes[i + 1]) for i in range(63)}
    for _ in range(12):
        es = cc.star_round(es)
    assert es == {(n, "000") for n in nodes if n != "000"}


graphs = st.lists(st.tuples(st.integers(0, 25), st.integers(0, 25)), min_size=0, max_size=40).map(
    lambda es: [(f"{a:02d}", f"{b:02d}") for a, b in es]
)


@settings(max_examples=200, deadline=None)
@given(graphs, st.integers(0, 6))
def test_distributed_logic_equals_union_find_for_any_round_count(edges, rounds):
    expected = cc.components((a, b) for a, b in edges if a != b)
    assert cc.distributed_components(edges, rounds) == expected


def test_union_find_labels_are_component_minima():
    uf = cc.UnionFind()
    for a, b in [("d", "b"), ("b", "e"), ("x", "y")]:
        uf.union(a, b)
    assert uf.labels() == {"b": "b", "d": "b", "e": "b", "x": "x", "y": "x"}
    assert not uf.union("d", "e")


# ---------------------------------------------------------------- keep policy

MEMBERS = [
    cc.Candidate("c:b", 100, "s1", 5, signals={"q": 0.2}),
    cc.Candidate("c:a", 100, "s2", 1, signals={"q": 0.9}),
    cc.Candidate("c:c", 120, "s1", 9),
]


@pytest.mark.parametrize(
    ("policy", "expected"),
    [
        ("longest", "c:c"),
        ("smallest_id", "c:a"),
        ("first", "c:b"),
        ("signal:q", "c:a"),
        ("signal:missing", "c:c"),  # nobody has it: longest decides
    ],
)
def test_keep_policies(policy, expected):
    assert cc.choose_keeper(MEMBERS, policy).node == expected
    assert cc.choose_keeper(reversed(MEMBERS), policy).node == expected


def test_longest_ties_break_on_smallest_id_and_previous_runs_win():
    tie = [cc.Candidate("c:z", 10), cc.Candidate("c:y", 10)]
    assert cc.choose_keeper(tie, "longest").node == "c:y"
    old = cc.Candidate("p:old", 1, previous=True)
    assert cc.choose_keeper([*MEMBERS, old], "longest").node == "p:old"


def test_unknown_keep_policy_names_the_key():
    with pytest.raises(ConfigError, match=r"dedup\.near\.keep"):
        cc.keep_rank("random")


# ---------------------------------------------------------------- index deletion


def _write_index(out, shards):
    (out / "index").mkdir(parents=True)
    (out / "manifest.json").write_text("{}")
    params = LshParams.build().as_dict()
    for i, ids in enumerate(shards):
        rows = [
            index_row(IndexEntry(x, "src", n, 10, _sig(n), (b"k" * 10,))) for n, x in enumerate(ids)
        ]
        table = pa.Table.from_pylist(rows, schema=index_schema(params))
        pq.write_table(table, out / "index" / f"part-{i:05d}-of-{len(shards):05d}.parquet")
    return params


def test_delete_from_index_removes_only_named_ids_and_keeps_parameters(tmp_path):
    params = _write_index(tmp_path, [["a", "b", "c"], ["d", "e"]])
    assert dedup_index.delete_from_index(str(tmp_path), ["b", "e", "not-there"]) == 2
    files = dedup_index.index_files(str(tmp_path))
    ids = [e.id for f in files for e in dedup_index.read_entries(f)]
    assert ids == ["a", "c", "d"]
    for f in files:
        assert dedup_index.read_params(f) == params
    assert dedup_index.delete_from_index(str(tmp_path), ["zzz"]) == 0
    assert dedup_index.delete_from_index(str(tmp_path), []) == 0
    assert not list((tmp_path / "index").glob("*.inprogress"))


def test_index_parameters_must_match(tmp_path):
    params = _write_index(tmp_path, [["a"]])
    files = dedup_index.index_files(str(tmp_path))
    dedup_index.check_compatible(str(tmp_path), files, params)
    with pytest.raises(ConfigError, match="seed"):
        dedup_index.check_compatible(str(tmp_path), files, {**params, "seed": 2})


def test_against_a_directory_without_index_names_the_key(tmp_path):
    with pytest.raises(ConfigError, match=r"dedup\.near\.against.*no manifest"):
        dedup_index.index_files(str(tmp_path))
    (tmp_path / "manifest.json").write_text("{}")
    with pytest.raises(ConfigError, match="no index/"):
        dedup_index.index_files(str(tmp_path))
