"""Near-dedup benchmarks: quality, signature speed, scale, and a datatrove comparison.

    PY=/work/main/.venv/bin/python; export PYTHONPATH=$PWD/src
    $PY benchmarks/bench_near_dedup.py quality --bases 1500
    $PY benchmarks/bench_near_dedup.py speed --docs 1000
    $PY benchmarks/bench_near_dedup.py scale --docs 10000
    $PY benchmarks/bench_near_dedup.py peer --bases 1500 --peer-python /tmp/dt/bin/python

quality: clusters of edited copies (``near_dup_corpus``) through ``DropNearDuplicates`` at
thresholds 0.7/0.8/0.9. Ground truth at threshold t: the connected components of the graph of
pairs whose *exact* Jaccard similarity of word 5-gram shingle sets is >= t (computed within
each generated family, plus every predicted cross-family pair checked exactly). Reported:
pairwise precision/recall/F1 of "same cluster", and document-level F1 of "is removed as a
duplicate" (the number of removed documents per true cluster is size - 1 either way).

speed: signatures/s of the stage's signature code against datasketch's per-shingle
``MinHash.update`` loop and ``update_batch`` (default SHA-1 hash), same documents, same run,
shingling included in every timing.

scale: the real CLI with only near dedup on (normalize and exact dedup off), docs/s from the
manifest's pipeline time and the peak resident memory of the whole process tree (workers
included), against the same run with near dedup off (the pipeline's own cost).
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from near_dup_corpus import clustered_corpus  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
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


def truth_clusters(
    records: list[tuple[str, str, int]], threshold: float, extra_pairs: set[tuple[str, str]]
) -> list[set[str]]:
    from thresher.core.minhash import shingles

    sets = {i: set(shingles(t)) for i, t, _ in records}
    family: dict[int, list[str]] = defaultdict(list)
    for i, _t, f in records:
        family[f].append(i)
    edges = []
    for members in family.values():
        for a, b in itertools.combinations(members, 2):
            if exact_jaccard(sets[a], sets[b]) >= threshold:
                edges.append((a, b))
    for a, b in extra_pairs:
        if exact_jaccard(sets[a], sets[b]) >= threshold:
            edges.append((a, b))
    return clusters_from(edges)


def run_stage(records: list[tuple[str, str, int]], threshold: float) -> tuple[dict, float]:
    """{duplicate id: kept id} from the real stage on FnApiRunner, and its wall seconds."""
    import apache_beam as beam
    from apache_beam.options.pipeline_options import PipelineOptions

    from thresher.config import NearDedupConfig
    from thresher.records import Document
    from thresher.stages.near_dedup import DropNearDuplicates

    docs = [Document(id=i, text=t, source="bench", position=n) for n, (i, t, _) in
            enumerate(records)]
    out_file = Path(tempfile.mkdtemp()) / "dups.jsonl"
    t0 = time.perf_counter()
    with beam.Pipeline(options=PipelineOptions(["--runner=FnApiRunner"])) as p:
        res = p | beam.Create(docs) | DropNearDuplicates(NearDedupConfig(threshold=threshold))
        (
            res["fates"]
            | beam.Map(lambda f: json.dumps([f.id, f.duplicate_of]))
            | beam.combiners.ToList()
            | beam.Map(lambda rows: out_file.write_text("\n".join(rows)))
        )
    secs = time.perf_counter() - t0
    dups = dict(json.loads(x) for x in out_file.read_text().splitlines() if x)
    return dups, secs


def score(records, dups: dict[str, str], threshold: float) -> dict:
    pred_clusters = clusters_from(list(dups.items()))
    pred_pairs = pairs_of(pred_clusters)
    fam = {i: f for i, _t, f in records}
    cross = {p for p in pred_pairs if fam[p[0]] != fam[p[1]]}
    truth = truth_clusters(records, threshold, cross)
    true_pairs = pairs_of(truth)
    p, r, f = prf(pred_pairs, true_pairs)
    # Document level: how many of each true cluster must go (size - 1) vs how many went.
    true_removed = sum(len(c) - 1 for c in truth)
    removed_right = 0
    for c in truth:
        removed_right += min(len(c) - 1, sum(1 for x in c if x in dups))
    dp = removed_right / len(dups) if dups else 1.0
    dr = removed_right / true_removed if true_removed else 1.0
    df = 2 * dp * dr / (dp + dr) if dp + dr else 0.0
    return {
        "threshold": threshold,
        "pair_precision": round(p, 4), "pair_recall": round(r, 4), "pair_f1": round(f, 4),
        "doc_precision": round(dp, 4), "doc_recall": round(dr, 4), "doc_f1": round(df, 4),
        "true_pairs": len(true_pairs), "predicted_pairs": len(pred_pairs),
        "removed": len(dups), "should_remove": true_removed,
    }


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


def cmd_speed(args: argparse.Namespace) -> None:
    from datasketch import MinHash

    from thresher.core.minhash import LshParams, MinHasher, shingles

    records = clustered_corpus(args.seed, args.docs, dup_fraction=0.0)[: args.docs]
    texts = [t for _i, t, _f in records]
    words = sum(len(t.split()) for t in texts) / len(texts)
    print(f"{len(texts)} documents, {words:.0f} words on average, 128 permutations")
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

    results = {}
    for name, fn in [
        ("thresher MinHasher.signature (xxh32, template copy + update_batch)", ours),
        ("thresher MinHasher.signatures (MinHash.bulk, xxh32)", ours_bulk),
        ("datasketch update_batch (sha1)", update_batch),
        ("datasketch per-shingle update loop (sha1)", update_loop),
        ("shingling alone (upper bound)", shingle_only),
    ]:
        t0 = time.perf_counter()
        fn()
        secs = time.perf_counter() - t0
        results[name] = len(texts) / secs
    base_loop = results["datasketch per-shingle update loop (sha1)"]
    base_batch = results["datasketch update_batch (sha1)"]
    for name, rate in results.items():
        print(f"{rate:10,.0f} sig/s  {rate / base_loop:6.1f}x loop  {rate / base_batch:5.2f}x "
              f"update_batch  {name}")


# ---------------------------------------------------------------- scale


def _tree_rss_kb(pid: int) -> int:
    """Resident memory of ``pid`` and all its descendants, from /proc."""
    children: dict[int, list[int]] = defaultdict(list)
    rss: dict[int, int] = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/stat") as fh:
                parts = fh.read().rsplit(")", 1)[1].split()
            children[int(parts[1])].append(int(d))
            with open(f"/proc/{d}/statm") as fh:
                rss[int(d)] = int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") // 1024
        except (OSError, IndexError, ValueError):
            continue
    total, stack = 0, [pid]
    while stack:
        p = stack.pop()
        total += rss.get(p, 0)
        stack.extend(children.get(p, []))
    return total


def run_cli_measured(inp: Path, out: Path, near: bool, workers: int) -> dict:
    exe = Path(sys.executable).with_name("thresher")
    cmd = [
        str(exe), "run", str(ROOT / "pipelines/default.yaml"), "--input", str(inp), "--output",
        str(out), "--overwrite", "--quiet", "--set", "input.id_field=id",
        "--set", "normalize.enabled=false", "--set", "dedup.exact.enabled=false",
        "--set", f"dedup.near.enabled={'true' if near else 'false'}",
    ]
    if workers > 1:
        cmd += ["--direct_num_workers", str(workers), "--direct_running_mode", "multi_processing"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    peak = 0
    stop = threading.Event()

    def sample():
        nonlocal peak
        while not stop.is_set():
            peak = max(peak, _tree_rss_kb(proc.pid))
            time.sleep(0.2)

    th = threading.Thread(target=sample, daemon=True)
    th.start()
    _stdout, stderr = proc.communicate()
    stop.set()
    th.join()
    if proc.returncode != 0:
        raise SystemExit(f"run failed: {stderr[-2000:]}")
    manifest = json.loads((out / "manifest.json").read_text())
    secs = manifest["timings"]["pipeline_seconds"]
    return {
        "docs": manifest["counts"]["input"],
        "duplicates": manifest["counts"]["duplicate"],
        "pipeline_s": secs,
        "docs_per_s": round(manifest["counts"]["input"] / secs, 1),
        "peak_rss_mb": round(peak / 1024, 1),
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
            for i, t, _f in records[k * per : (k + 1) * per]:
                fh.write(json.dumps({"id": i, "text": t}) + "\n")
    words = sum(len(t.split()) for _i, t, _f in records) / len(records)
    print(f"{len(records)} documents, {words:.0f} words on average")
    for workers in args.workers:
        base = run_cli_measured(inp, tmp / f"base{workers}", near=False, workers=workers)
        near = run_cli_measured(inp, tmp / f"near{workers}", near=True, workers=workers)
        print(json.dumps({"workers": workers, "near_dedup_on": near, "near_dedup_off": base}))


# ---------------------------------------------------------------- peer


def cmd_peer(args: argparse.Namespace) -> None:
    records = clustered_corpus(args.seed, args.bases)
    tmp = Path(tempfile.mkdtemp(prefix="near-peer-"))
    corpus = tmp / "corpus.jsonl"
    with open(corpus, "w", encoding="utf-8") as fh:
        for i, t, _f in records:
            fh.write(json.dumps({"id": i, "text": t}) + "\n")
    dups, ours_secs = run_stage(records, 0.8)
    ours = score(records, dups, 0.8)
    peer_script = Path(__file__).resolve().parent / "peer_datatrove.py"
    t0 = time.perf_counter()
    res = subprocess.run(
        [args.peer_python, str(peer_script), str(corpus), str(tmp / "dt")],
        capture_output=True, text=True,
    )
    peer_wall = time.perf_counter() - t0
    if res.returncode != 0:
        raise SystemExit(res.stderr[-3000:])
    peer = json.loads(res.stdout.strip().splitlines()[-1])
    removed = set(peer["removed"])
    # datatrove names no kept record: score its removals at document level, and its pairs
    # by linking each removed record to the other members of its family it could match.
    theirs = score_removed_only(records, removed, 0.8)
    print(json.dumps({"thresher": {**ours, "seconds": round(ours_secs, 1)},
                      "datatrove": {**theirs, "seconds": round(peer["seconds"], 1),
                                    "wall_with_startup": round(peer_wall, 1)}}))
    print(f"F1 ratio (doc level) thresher/datatrove: {ours['doc_f1'] / theirs['doc_f1']:.3f}; "
          f"time ratio thresher/datatrove: {ours_secs / peer['seconds']:.2f}")


def score_removed_only(records, removed: set[str], threshold: float) -> dict:
    truth = truth_clusters(records, threshold, set())
    in_truth = {x for c in truth for x in c}
    true_removed = sum(len(c) - 1 for c in truth)
    right = sum(min(len(c) - 1, sum(1 for x in c if x in removed)) for c in truth)
    p = right / len(removed) if removed else 1.0
    r = right / true_removed if true_removed else 1.0
    f = 2 * p * r / (p + r) if p + r else 0.0
    return {"doc_precision": round(p, 4), "doc_recall": round(r, 4), "doc_f1": round(f, 4),
            "removed": len(removed), "should_remove": true_removed,
            "removed_outside_true_clusters": len(removed - in_truth)}


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
    pe = sub.add_parser("peer")
    pe.add_argument("--bases", type=int, default=1500)
    pe.add_argument("--peer-python", default="/tmp/dt/bin/python")
    for sp in (q, s, c, pe):
        sp.add_argument("--seed", type=int, default=42)
    args = parser.parse_args()
    {"quality": cmd_quality, "speed": cmd_speed, "scale": cmd_scale, "peer": cmd_peer}[args.cmd](
        args
    )


if __name__ == "__main__":
    main()
