"""Near-dedup benchmarks: quality, signature speed, scale, and a datatrove comparison.

    .venv/bin/python -m benchmarks.bench_near_dedup quality --bases 1500
    .venv/bin/python -m benchmarks.bench_near_dedup speed --docs 1000
    .venv/bin/python -m benchmarks.bench_near_dedup scale --docs 10000
    .venv/bin/python -m benchmarks.bench_near_dedup peer --bases 1500 --peer-python /tmp/dt/bin/python
    .venv/bin/python -m benchmarks.bench_near_dedup recipes

quality: clusters of edited copies (``benchmarks.corpus.clustered_corpus``) through
``DropNearDuplicates`` at thresholds 0.7/0.8/0.9. Ground truth at threshold t: the connected
components of the graph of pairs whose *exact* Jaccard similarity of word 5-gram shingle sets is
>= t (computed within each generated family, plus every predicted cross-family pair checked
exactly). Reported: pairwise precision/recall/F1 of "same cluster", and document-level F1 of "is
removed as a duplicate" (the number of removed documents per true cluster is size - 1 either
way).

speed: signatures/s of the stage's signature code against datasketch's per-shingle
``MinHash.update`` loop and ``update_batch`` (default SHA-1 hash), same documents, same run,
shingling included in every timing.

scale: the real CLI with only near dedup on (normalize and exact dedup off), docs/s from the
manifest's pipeline time and the peak resident memory of the whole process tree (workers
included, ``benchmarks.harness``), against the same run with near dedup off (the pipeline's own
cost).

recipes: the exact Jaccard percentiles of each edit recipe (the basis of the labels).
"""

from __future__ import annotations

import argparse
import itertools
import json
import shutil
import subprocess
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path

from benchmarks.corpus import (
    LIGHT,
    MIDDLE,
    VARIANTS,
    clustered_corpus,
    edit,
    template_document,
)
from benchmarks.harness import ROOT, run_thresher

THRESHOLDS = (0.7, 0.8, 0.9)


# ---------------------------------------------------------------- helpers


def exact_jaccard(a: set[bytes], b: set[bytes]) -> float:
    return len(a & b) / len(a | b) if a or b else 0.0


def pairs_of(clusters: list[set[str]]) -> set[tuple[str, str]]:
    out: set[tuple[str, str]] = set()
    for c in clusters:
        out.update(itertools.combinations(sorted(c), 2))
    return out


def clusters_from(edges: list[tuple[str, str]]) -> list[set[str]]:
    from thresher.core.components import components

    groups: dict[str, set[str]] = defaultdict(set)
    for node, root in components(edges).items():
        groups[root].add(node)
    return list(groups.values())


def prf(pred: set, truth: set) -> tuple[float, float, float]:
    tp = len(pred & truth)
    p = tp / len(pred) if pred else 1.0
    r = tp / len(truth) if truth else 1.0
    f = 2 * p * r / (p + r) if p + r else 0.0
    return p, r, f


def truth_clusters(records, threshold: float, extra_pairs: set[tuple[str, str]]) -> list[set[str]]:
    """Components of the exact-Jaccard >= ``threshold`` graph (pairs within each generated
    family, plus ``extra_pairs`` checked exactly)."""
    from thresher.core.minhash import shingles

    sets = {r[0]: set(shingles(r[1])) for r in records}
    family: dict[int, list[str]] = defaultdict(list)
    for r in records:
        family[r[2]].append(r[0])
    edges = []
    for members in family.values():
        for a, b in itertools.combinations(members, 2):
            if exact_jaccard(sets[a], sets[b]) >= threshold:
                edges.append((a, b))
    for a, b in extra_pairs:
        if exact_jaccard(sets[a], sets[b]) >= threshold:
            edges.append((a, b))
    return clusters_from(edges)


def run_stage(records, threshold: float) -> tuple[dict[str, str], float]:
    """{duplicate id: kept id} from the real stage on FnApiRunner, and its wall seconds."""
    import apache_beam as beam
    from apache_beam.options.pipeline_options import PipelineOptions

    from thresher.config import NearDedupConfig
    from thresher.records import Document
    from thresher.stages.near_dedup import DropNearDuplicates

    docs = [Document(id=r[0], text=r[1], source="bench", position=n) for n, r in enumerate(records)]
    out_file = Path(tempfile.mkdtemp()) / "dups.jsonl"
    t0 = time.perf_counter()
    with beam.Pipeline(options=PipelineOptions(["--runner=FnApiRunner"])) as p:
        res = p | beam.Create(docs) | DropNearDuplicates(NearDedupConfig(threshold=threshold))
        (
            res["fates"]
            | "Pair" >> beam.Map(lambda f: json.dumps([f.id, f.duplicate_of]))
            | "All" >> beam.combiners.ToList()
            | "Save" >> beam.Map(lambda rows: out_file.write_text("\n".join(rows)))
        )
    secs = time.perf_counter() - t0
    dups = dict(json.loads(x) for x in out_file.read_text().splitlines() if x)
    return dups, secs


def estimator_ceiling(records, threshold: float) -> list[set[str]]:
    """What a perfect candidate generator would give with 128-permutation estimates: every
    family pair whose *estimated* Jaccard is >= ``threshold``. The gap between this and the
    exact truth is estimator noise near the threshold, which no LSH setting can remove."""
    from thresher.core.minhash import LshParams, MinHasher, jaccard

    hasher = MinHasher(LshParams.build())
    sigs = {r[0]: hasher.signature(r[1]) for r in records}
    family: dict[int, list[str]] = defaultdict(list)
    for r in records:
        family[r[2]].append(r[0])
    edges = [
        (a, b)
        for members in family.values()
        for a, b in itertools.combinations(members, 2)
        if jaccard(sigs[a], sigs[b]) >= threshold
    ]
    return clusters_from(edges)


def score_clusters(pred_clusters: list[set[str]], truth: list[set[str]], removed: set[str]):
    """Pairwise P/R/F1 of "same cluster", and document-level P/R/F1 of removals: a true
    cluster of n must lose n - 1 members; removals beyond that, or outside true clusters,
    are false positives."""
    pred_pairs, true_pairs = pairs_of(pred_clusters), pairs_of(truth)
    p, r, f = prf(pred_pairs, true_pairs)
    true_removed = sum(len(c) - 1 for c in truth)
    right = sum(min(len(c) - 1, sum(1 for x in c if x in removed)) for c in truth)
    dp = right / len(removed) if removed else 1.0
    dr = right / true_removed if true_removed else 1.0
    df = 2 * dp * dr / (dp + dr) if dp + dr else 0.0
    return {
        "pair_p": round(p, 4),
        "pair_r": round(r, 4),
        "pair_f1": round(f, 4),
        "doc_p": round(dp, 4),
        "doc_r": round(dr, 4),
        "doc_f1": round(df, 4),
        "removed": len(removed),
        "should_remove": true_removed,
    }


def score(records, dups: dict[str, str], threshold: float) -> dict:
    """Exact-Jaccard truth at ``threshold``, the estimator ceiling, and the labelled truth."""
    pred = clusters_from(list(dups.items()))
    fam = {r[0]: r[2] for r in records}
    cross = {p for p in pairs_of(pred) if fam[p[0]] != fam[p[1]]}
    exact = score_clusters(pred, truth_clusters(records, threshold, cross), set(dups))
    ceiling_clusters = estimator_ceiling(records, threshold)
    ceiling_removed = {x for c in ceiling_clusters for x in sorted(c)[1:]}
    ceiling = score_clusters(
        ceiling_clusters, truth_clusters(records, threshold, set()), ceiling_removed
    )
    return {
        "threshold": threshold,
        "exact_truth": exact,
        "estimator_ceiling_pair_f1": ceiling["pair_f1"],
        "estimator_ceiling_doc_f1": ceiling["doc_f1"],
        "labelled_truth": score_labelled(records, set(dups), pred),
    }


def score_labelled(records, removed: set[str], pred: list[set[str]] | None = None) -> dict:
    """Truth from the generator's labels: an original and its LIGHT variants are one cluster;
    HEAVY variants are different documents; families with a MIDDLE variant are left out."""
    unlabelled = {r[2] for r in records if r[3] in MIDDLE}
    scored = {r[0] for r in records if r[2] not in unlabelled}
    groups: dict[int, set[str]] = defaultdict(set)
    for r in records:
        if r[2] not in unlabelled and (r[3] == -1 or r[3] in LIGHT):
            groups[r[2]].add(r[0])
    truth = [g for g in groups.values() if len(g) > 1]
    pred = [c & scored for c in (pred or [])]
    return score_clusters([c for c in pred if len(c) > 1], truth, removed & scored)


# ---------------------------------------------------------------- quality


def cmd_quality(args: argparse.Namespace) -> None:
    records = clustered_corpus(args.seed, args.bases)
    print(f"corpus: {len(records)} documents from {args.bases} originals")
    for t in THRESHOLDS:
        dups, secs = run_stage(records, t)
        row = score(records, dups, t)
        row["seconds"] = round(secs, 1)
        print(json.dumps(row))


# ---------------------------------------------------------------- speed


def cmd_recipes(args: argparse.Namespace) -> None:
    """Exact Jaccard percentiles of each variant recipe (the basis of the labels)."""
    import random

    import numpy as np

    from thresher.core.minhash import shingles

    rng = random.Random(args.seed)
    for k, e in enumerate(VARIANTS):
        js = []
        for _ in range(60):
            t = template_document(rng)
            a, b = set(shingles(t)), set(shingles(edit(rng, t, e)))
            js.append(exact_jaccard(a, b))
        print(k, np.percentile(js, [5, 50, 95]).round(3).tolist(), e)


def _signature_contenders(texts: list[str]) -> list[tuple[str, Callable[[], None]]]:
    """The implementations ``speed`` times, each a call that signs every text once."""
    from datasketch import MinHash

    from thresher.core.minhash import LshParams, MinHasher, shingles

    hasher = MinHasher(LshParams.build())
    hasher.template()

    def ours():
        for t in texts:
            hasher.signature(t)

    def ours_bulk():
        hasher.signatures(texts)

    def update_loop():
        for t in texts:
            m = MinHash(num_perm=128, seed=1)
            for s in shingles(t):
                m.update(s)

    def update_batch():
        for t in texts:
            m = MinHash(num_perm=128, seed=1)
            m.update_batch(shingles(t))

    def shingle_only():
        for t in texts:
            shingles(t)

    return [
        ("thresher MinHasher.signature (xxh32, template copy + update_batch)", ours),
        ("thresher MinHasher.signatures (MinHash.bulk, xxh32)", ours_bulk),
        ("datasketch update_batch (sha1)", update_batch),
        ("datasketch per-shingle update loop (sha1)", update_loop),
        ("shingling alone (upper bound)", shingle_only),
    ]


def cmd_speed(args: argparse.Namespace) -> None:
    records = clustered_corpus(args.seed, args.docs, dup_fraction=0.0)[: args.docs]
    texts = [r[1] for r in records]
    words = sum(len(t.split()) for t in texts) / len(texts)
    print(f"{len(texts)} documents, {words:.0f} words on average, 128 permutations")
    results = {}
    for name, fn in _signature_contenders(texts):
        t0 = time.perf_counter()
        fn()
        secs = time.perf_counter() - t0
        results[name] = len(texts) / secs
    base_loop = results["datasketch per-shingle update loop (sha1)"]
    base_batch = results["datasketch update_batch (sha1)"]
    for name, rate in results.items():
        print(
            f"{rate:10,.0f} sig/s  {rate / base_loop:6.1f}x loop  {rate / base_batch:5.2f}x "
            f"update_batch  {name}"
        )


# ---------------------------------------------------------------- scale


def run_cli_measured(inp: Path, out: Path, near: bool, workers: int) -> dict:
    """The CLI with only near dedup on (or nothing on): docs/s and the peak RSS of the whole
    process tree (the sum over launcher and workers at one sample)."""
    overrides = [
        "input.id_field=id",
        "normalize.enabled=false",
        "dedup.exact.enabled=false",
        f"dedup.near.enabled={'true' if near else 'false'}",
    ]
    run = run_thresher(inp, out, overrides=overrides, workers=workers)
    manifest = run.manifest
    secs = manifest["timings"]["pipeline_seconds"]
    return {
        "docs": manifest["counts"]["input"],
        "duplicates": manifest["counts"]["duplicate"],
        "pipeline_s": secs,
        "docs_per_s": round(manifest["counts"]["input"] / secs, 1),
        "peak_rss_mb": round(run.memory.tree_peak_mb, 1),
        "residual_edges": manifest["stats"].get("near_dedup.residual_edges", 0),
    }


def cmd_scale(args: argparse.Namespace) -> None:
    tmp = Path(tempfile.mkdtemp(prefix="near-scale-"))
    bases = int(args.docs / 1.5)
    records = clustered_corpus(args.seed, bases, dup_fraction=0.25, max_variants=3)[: args.docs]
    inp = tmp / "in"
    inp.mkdir()
    per = -(-len(records) // 8)
    for k in range(8):
        with open(inp / f"part-{k}.jsonl", "w", encoding="utf-8") as fh:
            for i, t, *_r in records[k * per : (k + 1) * per]:
                fh.write(json.dumps({"id": i, "text": t}) + "\n")
    words = sum(len(r[1].split()) for r in records) / len(records)
    print(f"{len(records)} documents, {words:.0f} words on average")
    try:
        for workers in args.workers:
            base = run_cli_measured(inp, tmp / f"base{workers}", near=False, workers=workers)
            near = run_cli_measured(inp, tmp / f"near{workers}", near=True, workers=workers)
            print(json.dumps({"workers": workers, "near_dedup_on": near, "near_dedup_off": base}))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


# ---------------------------------------------------------------- peer


def cmd_peer(args: argparse.Namespace) -> None:
    records = clustered_corpus(args.seed, args.bases)
    tmp = Path(tempfile.mkdtemp(prefix="near-peer-"))
    corpus = tmp / "corpus.jsonl"
    with open(corpus, "w", encoding="utf-8") as fh:
        for i, t, *_r in records:
            fh.write(json.dumps({"id": i, "text": t}) + "\n")
    dups, ours_secs = run_stage(records, 0.8)
    ours = score(records, dups, 0.8)
    t0 = time.perf_counter()
    res = subprocess.run(
        [args.peer_python, "-m", "benchmarks.peer_datatrove", str(corpus), str(tmp / "dt")],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    peer_wall = time.perf_counter() - t0
    shutil.rmtree(tmp, ignore_errors=True)
    if res.returncode != 0:
        raise SystemExit(res.stderr[-3000:])
    peer = json.loads(res.stdout.strip().splitlines()[-1])
    removed = set(peer["removed"])
    # datatrove names no kept record: both tools are scored on their removals (document level).
    theirs = score_removed_only(records, removed, 0.8)
    print(
        json.dumps(
            {
                "thresher": {**ours, "seconds": round(ours_secs, 1)},
                "datatrove": {
                    **theirs,
                    "seconds": round(peer["seconds"], 1),
                    "wall_with_startup": round(peer_wall, 1),
                },
            }
        )
    )
    for truth in ("exact_truth", "labelled_truth"):
        a, b = ours[truth]["doc_f1"], theirs[truth]["doc_f1"]
        print(f"{truth}: doc F1 thresher {a:.4f} datatrove {b:.4f} ratio {a / b:.3f}")
    print(
        f"time thresher {ours_secs:.1f}s datatrove {peer['seconds']:.1f}s "
        f"ratio {ours_secs / peer['seconds']:.2f}"
    )


def score_removed_only(records, removed: set[str], threshold: float) -> dict:
    """Document-level scores for a tool that reports removals but not what they match."""
    truth = truth_clusters(records, threshold, set())
    exact = score_clusters([], truth, removed)
    labelled = score_labelled(records, removed)
    return {
        "exact_truth": {k: v for k, v in exact.items() if not k.startswith("pair")},
        "labelled_truth": {k: v for k, v in labelled.items() if not k.startswith("pair")},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="cmd", required=True)
    q = sub.add_parser("quality")
    q.add_argument("--bases", type=int, default=1500)
    s = sub.add_parser("speed")
    s.add_argument("--docs", type=int, default=1000)
    c = sub.add_parser("scale")
    c.add_argument("--docs", type=int, default=10_000)
    c.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    rc = sub.add_parser("recipes")
    pe = sub.add_parser("peer")
    pe.add_argument("--bases", type=int, default=1500)
    pe.add_argument("--peer-python", default="/tmp/dt/bin/python")
    for sp in (q, s, c, pe, rc):
        sp.add_argument("--seed", type=int, default=42)
    args = parser.parse_args()
    commands = {
        "quality": cmd_quality,
        "speed": cmd_speed,
        "scale": cmd_scale,
        "peer": cmd_peer,
        "recipes": cmd_recipes,
    }
    commands[args.cmd](args)


if __name__ == "__main__":
    main()
